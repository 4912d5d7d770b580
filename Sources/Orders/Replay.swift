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
            SELECT id, tax_date, rounding, currency, total_tax, origin_address, destination_address, billing_address, payment_address, registrations,
              engagement, pinned, elections
            FROM \(table("orders")) WHERE id IN (\(placeholders))
            """, binds)
        let lines = try await rows("""
            SELECT order_id, line_no, line_id, code, quantity, amount, tax, fulfilment, request_amount, tax_included, location_address,
              certificate, exempt_reason, sourced_to, discount, third_party_discount
            FROM \(table("order_lines")) WHERE order_id IN (\(placeholders)) ORDER BY order_id, line_no
            """, binds)
        do {
            var linesByOrder: [String: [SQLRow]] = [:]
            for line in lines { linesByOrder[try line.decode("order_id", as: String.self), default: []].append(line) }
            var result: [ReplayedOrder] = []
            result.reserveCapacity(orders.count)
            for order in orders {
                guard let replayed = try Self.replayed(order, lines: linesByOrder[try order.decode("id", as: String.self)] ?? []) else { continue }
                result.append(replayed)
            }
            return result
        } catch {
            throw OrderError.corrupt("\(error)")
        }
    }

    /// One order's request from its stored row and lines, every value decoded with errors (a value Levy never
    /// writes is a `RowDecodingError`, never a default); nil for an order that keeps no origin address.
    static func replayed(_ order: SQLRow, lines: [SQLRow]) throws(RowDecodingError) -> ReplayedOrder? {
        func parsed<T>(_ row: SQLRow, _ column: String, _ expected: String, _ parse: (String) -> T?) throws(RowDecodingError) -> T? {
            guard let text = try row.decodeIfPresent(column, as: String.self) else { return nil }
            guard let value = parse(text) else { throw RowDecodingError(column: column, expected: expected, found: "text of another form") }
            return value
        }
        let id: String = try order.decode("id")
        guard let origin = try parsed(order, "origin_address", "an address (line1|city|ST|ZIP)", AddressText.parse) else { return nil }
        guard let date = try parsed(order, "tax_date", "a date (YYYY-MM-DD)", TaxDate.init(iso:)) else {
            throw RowDecodingError(column: "tax_date", expected: "a date (YYYY-MM-DD)", found: "NULL")
        }
        guard try order.decode("currency", as: String.self) == Currency.usd.code else {
            throw RowDecodingError(column: "currency", expected: Currency.usd.code, found: "another currency")
        }
        let registrations = try parsed(order, "registrations", "state codes separated by commas") { list -> Set<StateCode>? in
            var states = Set<StateCode>()
            for part in list.split(separator: ",") {
                guard let state = StateCode(String(part)) else { return nil }
                states.insert(state)
            }
            return states
        }
        var assumptions: [String] = []
        var exemptions: [ExemptionCertificate] = []
        var quoteLines: [QuoteLine] = []
        var lineTaxes: [Int64] = []
        for line in lines {
            let stored = try OrderService.money(line, "amount")
            let requested: Int64? = try line.decodeIfPresent("request_amount")
            if requested == nil, !assumptions.contains("placed before migration 6") { assumptions.append("placed before migration 6") }
            if let requested, requested.magnitude > UInt64(OrderService.maxStoredMoney) {
                throw RowDecodingError(column: "request_amount", expected: "an amount within 10^15 minor units", found: "an out-of-range integer")
            }
            lineTaxes.append(try OrderService.money(line, "tax"))
            quoteLines.append(QuoteLine(id: try line.decode("line_id"), code: try line.decode("code", as: ProductTaxCode.self),
                                        amount: Money(minorUnits: requested ?? stored), quantity: try line.decode("quantity"),
                                        fulfilment: try line.decode("fulfilment", as: Fulfilment.self),
                                        taxIncluded: try line.decodeIfPresent("tax_included", as: Int64.self) == 1,
                                        location: try parsed(line, "location_address", "an address (line1|city|ST|ZIP)", AddressText.parse),
                                        discount: try line.decodeIfPresent("discount") ?? 0,
                                        thirdPartyDiscount: try line.decodeIfPresent("third_party_discount") ?? 0))
            if let number = try line.decodeIfPresent("certificate", as: String.self),
               let reasonText = try line.decodeIfPresent("exempt_reason", as: String.self), reasonText.hasPrefix("certificate_"),
               let reason = ExemptionReason(text: String(reasonText.dropFirst("certificate_".count))),
               let state = StateCode(String(try line.decode("sourced_to", as: String.self).prefix(2))),
               !exemptions.contains(where: { $0.state == state && $0.number == number }) {
                exemptions.append(ExemptionCertificate(state: state, reason: reason, number: number, expires: nil))
            }
        }
        let request = QuoteRequest(date: date, origin: origin,
                                   destination: try parsed(order, "destination_address", "an address (line1|city|ST|ZIP)", AddressText.parse),
                                   billing: try parsed(order, "billing_address", "an address (line1|city|ST|ZIP)", AddressText.parse),
                                   payment: try parsed(order, "payment_address", "an address (line1|city|ST|ZIP)", AddressText.parse),
                                   registrations: registrations, exemptions: exemptions, lines: quoteLines,
                                   rounding: try parsed(order, "rounding", "a rounding mode", RoundingMode.init(rawValue:)) ?? .sst,
                                   engagement: try parsed(order, "engagement", "a seller engagement", EngagementText.parse) ?? .originOnly)
        var replayed = request
        replayed.pinned = try parsed(order, "pinned", "pinned jurisdictions (address, tab, codes per line)", PinnedText.parse) ?? [:]
        replayed.elections = try parsed(order, "elections", "remote-seller elections (ST:type, comma-separated)", ElectionsText.parse) ?? []
        return ReplayedOrder(id: id, request: replayed, recordedTax: try OrderService.money(order, "total_tax"), lineTaxes: lineTaxes,
                             assumptions: assumptions)
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
