import Storage
import TaxCore

/// The quote request an order was taxed on, rebuilt from what the order keeps, so that its tax can be recomputed
/// with any table set (reconciliation recomputes it with the tables in force on the tax date).
public struct ReplayedOrder: Sendable {
    public var id: String
    public var request: QuoteRequest
    /// The tax the order recorded at placement, in total and per line (minor units).
    public var recordedTax: Int64
    public var lineTaxes: [Int64]
    /// What the rebuild had to assume, for the reader of a difference (empty when the order kept everything).
    public var assumptions: [String]
}

extension OrderService {
    /// Rebuilds the requests of the given orders (unknown ids, and orders that keep no origin address, are left out). Orders placed before the replay evidence
    /// was kept (migration 6) replay as registered in every state with each line's stored amount; the assumption is
    /// listed with the order. Exemptions are rebuilt from the certificates the lines applied: a certificate that did
    /// not apply changed nothing, so it is not needed to recompute.
    public func replay(_ ids: [String]) async throws -> [ReplayedOrder] {
        guard !ids.isEmpty else { return [] }
        let (placeholders, binds) = SQLValue.inList(ids)
        let orders = try await rows("""
            SELECT id, tax_date, rounding, currency, total_tax, origin_address, destination_address, billing_address, registrations, engagement
            FROM \(table("orders")) WHERE id IN (\(placeholders))
            """, binds)
        let lines = try await rows("""
            SELECT order_id, line_no, line_id, code, quantity, amount, tax, fulfilment, request_amount, tax_included, location_address,
              certificate, exempt_reason, sourced_to, discount, third_party_discount
            FROM \(table("order_lines")) WHERE order_id IN (\(placeholders)) ORDER BY order_id, line_no
            """, binds)
        var linesByOrder: [String: [SQLRow]] = [:]
        for line in lines { linesByOrder[line.text("order_id") ?? "", default: []].append(line) }

        var result: [ReplayedOrder] = []
        result.reserveCapacity(orders.count)
        for order in orders {
            let id = order.text("id") ?? ""
            var assumptions: [String] = []
            guard let date = order.text("tax_date").flatMap(TaxDate.init(iso:)),
                  let origin = order.text("origin_address").flatMap(AddressText.parse),
                  order.text("currency") == Currency.usd.code else { continue }
            var registrations: Set<StateCode>?
            if let list = order.text("registrations") {
                registrations = Set(list.split(separator: ",").compactMap { StateCode(String($0)) })
            }
            var exemptions: [ExemptionCertificate] = []
            var quoteLines: [QuoteLine] = []
            var lineTaxes: [Int64] = []
            for line in linesByOrder[id] ?? [] {
                let stored = line.integer("amount") ?? 0
                if line.integer("request_amount") == nil, !assumptions.contains("placed before migration 6") {
                    assumptions.append("placed before migration 6")
                }
                guard let code = line.text("code").flatMap(ProductTaxCode.init(rawValue:)),
                      let fulfilment = line.text("fulfilment").flatMap(Fulfilment.init(rawValue:)) else { continue }
                lineTaxes.append(line.integer("tax") ?? 0)
                quoteLines.append(QuoteLine(id: line.text("line_id") ?? "", code: code,
                                            amount: Money(minorUnits: line.integer("request_amount") ?? stored),
                                            quantity: line.integer("quantity") ?? 1, fulfilment: fulfilment,
                                            taxIncluded: line.integer("tax_included") == 1,
                                            location: line.text("location_address").flatMap(AddressText.parse),
                                            discount: line.integer("discount") ?? 0, thirdPartyDiscount: line.integer("third_party_discount") ?? 0))
                if let number = line.text("certificate"), let reasonText = line.text("exempt_reason"), reasonText.hasPrefix("certificate_"),
                   let reason = ExemptionReason(text: String(reasonText.dropFirst("certificate_".count))),
                   let state = line.text("sourced_to").flatMap({ StateCode(String($0.prefix(2))) }),
                   !exemptions.contains(where: { $0.state == state && $0.number == number }) {
                    exemptions.append(ExemptionCertificate(state: state, reason: reason, number: number, expires: nil))
                }
            }
            let request = QuoteRequest(date: date, origin: origin, destination: order.text("destination_address").flatMap(AddressText.parse),
                                       billing: order.text("billing_address").flatMap(AddressText.parse), registrations: registrations,
                                       exemptions: exemptions, lines: quoteLines,
                                       rounding: order.text("rounding").flatMap(RoundingMode.init(rawValue:)) ?? .sst,
                                       engagement: order.text("engagement").flatMap(EngagementText.parse) ?? .originOnly)
            result.append(ReplayedOrder(id: id, request: request, recordedTax: order.integer("total_tax") ?? 0, lineTaxes: lineTaxes,
                                        assumptions: assumptions))
        }
        return result
    }
}

extension AddressText {
    /// Reads `line1|city|ST|ZIP` back; nil when the state or ZIP is not valid.
    public static func parse(_ text: String) -> Address? {
        let parts = text.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 4, let state = StateCode(parts[2]), let zip = ZipCode(parts[3]) else { return nil }
        return Address(line1: parts[0], city: parts[1], state: state, zip: zip)
    }
}
