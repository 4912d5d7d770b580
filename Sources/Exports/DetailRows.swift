import Crypto
import Foundation
import Orders
import Storage
import TaxCore

/// What an export covers: sales with tax dates from `from` through `through`, and refunds given on those days (a
/// refund reduces the liability of the period it is given in), with or without personal data.
public struct ExportScope: Sendable, Equatable {
    public var from: TaxDate
    public var through: TaxDate
    /// Without personal data, customer ids are replaced by pseudonyms and street and city are left out.
    public var personalData: Bool

    public init(from: TaxDate, through: TaxDate, personalData: Bool) {
        self.from = from
        self.through = through
        self.personalData = personalData
    }
}

/// One row of the transaction detail: one sale or refund line in one jurisdiction, as the tax ledger recorded it,
/// with the order's frozen evidence. Amounts are signed minor units (refunds negative).
public struct DetailRow: Sendable, Equatable {
    public var ledgerSeq: Int64
    public var documentType: String          // sale | refund
    public var documentNumber: String        // order id or refund id
    public var documentDate: String          // YYYY-MM-DD
    public var taxDate: String
    public var orderID: String
    public var customerID: String
    public var billTo: String
    public var shipTo: String
    public var serviceLocation: String
    public var sourcingRule: String
    public var sourcedTo: String
    public var state: String
    public var lineNumber: Int64
    public var productCode: String
    public var fulfilment: String
    public var quantity: Int64
    public var lineAmount: Int64
    public var lineExempt: Int64
    public var exemptReason: String
    public var certificate: String
    public var taxType: String
    public var notCollecting: String
    public var jurisdictionCode: String
    public var jurisdictionLevel: String
    public var jurisdictionName: String
    public var rate: String
    public var taxable: Int64
    public var tax: Int64
    public var tableVersion: String
    public var ledgerHash: String
    /// The line's taxable amount at every level together (the last column, added after the others); with
    /// `lineExempt` it tells what a jurisdiction's own base leaves out.
    public var lineTaxable: Int64 = 0

    /// The consideration a third party paid for the line (a manufacturer's coupon) that the state taxes although the
    /// buyer did not pay it: the line's base above its net amount. Part of the seller's gross receipts (probe #19:
    /// left out, a coupon made taxable sales exceed gross less exempt). Sales rows only.
    public var thirdPartyTaxed: Int64 { documentType == "refund" ? 0 : max(0, lineTaxable + lineExempt - lineAmount) }

    /// The line's gross sales as a jurisdiction reports them: its net amount and any third-party consideration taxed.
    public var jurisdictionGross: Int64 { lineAmount + thirdPartyTaxed }

    /// What this jurisdiction does not tax of a sale that is not exempt: above a cap, or a line taxed by another
    /// level only (a tax of the locality alone, such as New York City's on personal services or Chicago's amusement
    /// tax, or of the state alone). Reported as `not_taxed_by_jurisdiction` so that each jurisdiction's gross sales
    /// are its exempt and taxable sales (probe #19: the state's rows left it in neither).
    public var notTaxedByJurisdiction: Int64 {
        guard documentType != "refund", jurisdictionCode != "none" else { return 0 }
        return max(0, jurisdictionGross - lineExempt - taxable)
    }

    public static let columns = [
        "ledger_seq", "document_type", "document_number", "document_date", "tax_date", "order_id", "customer_id", "bill_to", "ship_to",
        "service_location", "sourcing_rule", "sourced_to", "state", "line_number", "product_code", "fulfilment", "quantity", "line_amount",
        "line_exempt", "exempt_reason", "certificate", "tax_type", "not_collecting", "jurisdiction_code", "jurisdiction_level",
        "jurisdiction_name", "rate", "taxable", "tax", "table_version", "ledger_hash", "line_taxable",
    ]

    /// The fields in `columns` order, amounts as decimal strings.
    public var fields: [String] {
        [String(ledgerSeq), documentType, documentNumber, documentDate, taxDate, orderID, customerID, billTo, shipTo, serviceLocation,
         sourcingRule, sourcedTo, state, String(lineNumber), productCode, fulfilment, String(quantity), Money(minorUnits: lineAmount).decimalString,
         Money(minorUnits: lineExempt).decimalString, exemptReason, certificate, taxType, notCollecting, jurisdictionCode, jurisdictionLevel,
         jurisdictionName, rate, Money(minorUnits: taxable).decimalString, Money(minorUnits: tax).decimalString, tableVersion, ledgerHash,
         Money(minorUnits: lineTaxable).decimalString]
    }
}

/// Reads detail rows from the ledger in sequence order, a page at a time: memory stays the same for any period.
public struct DetailReader: Sendable {
    public let orders: OrderReader
    public let scope: ExportScope
    /// Keys the pseudonyms of a run without personal data; random per run, so runs cannot be linked.
    let pseudonymKey: SymmetricKeyBytes
    public var pageSize = 5_000
    /// The last ledger entry to read (the head when the export began); later entries belong to a later export.
    public var throughSeq: Int64

    public init(orders: OrderReader, scope: ExportScope, throughSeq: Int64 = .max) {
        self.orders = orders
        self.scope = scope
        self.throughSeq = throughSeq
        pseudonymKey = SymmetricKeyBytes.random()
    }

    var period: OrderReader.Period { OrderReader.Period(from: scope.from.iso, through: scope.through.iso, throughSeq: throughSeq) }

    /// Calls `body` with every row of the scope, in ledger order.
    public func forEach(_ body: (DetailRow) throws -> Void) async throws {
        var after: Int64 = 0
        // An order's rows are consecutive: its customer pseudonym and addresses are worked out once per order.
        var cache = OrderCache()
        while true {
            let entries = try await orders.ledgerDetail(period, after: after, limit: pageSize)
            for entry in entries { try body(row(entry, cache: &cache)) }
            guard entries.count == pageSize, let last = entries.last?.seq else { return }
            after = last
        }
    }

    struct OrderCache {
        var orderID = ""
        var customer = "", billTo = "", shipTo = "", origin = ""
    }

    func row(_ entry: OrderReader.LedgerDetail, cache: inout OrderCache) -> DetailRow {
        if entry.orderID.value != cache.orderID {
            cache.orderID = entry.orderID.value
            cache.customer = entry.customerID.map { scope.personalData ? $0 : pseudonym($0) } ?? "guest"
            cache.billTo = address(entry.billingAddress)
            cache.shipTo = address(entry.destinationAddress)
            cache.origin = address(entry.originAddress)
        }
        let refund = entry.kind == .refund
        let refundAmount = entry.refundedAmount ?? 0
        let inPerson = entry.fulfilment == .inPerson
        return DetailRow(
            ledgerSeq: entry.seq,
            documentType: refund ? "refund" : "sale",
            documentNumber: refund ? (entry.refundID?.value ?? "") : entry.orderID.value,
            documentDate: String((refund ? entry.at : entry.orderCreatedAt).prefix(10)),
            taxDate: entry.taxDate,
            orderID: entry.orderID.value,
            customerID: cache.customer,
            billTo: cache.billTo,
            shipTo: inPerson ? "" : cache.shipTo,
            serviceLocation: inPerson ? cache.origin : "",
            sourcingRule: entry.sourcingRule.rawValue,
            sourcedTo: entry.sourcedTo,
            state: String(entry.sourcedTo.prefix(2)),
            lineNumber: entry.line,
            productCode: entry.code.rawValue,
            fulfilment: entry.fulfilment.rawValue,
            quantity: refund ? -(entry.refundedQuantity ?? 0) : entry.quantity,
            lineAmount: refund ? -refundAmount : entry.amount,
            // A refund gives back the exempt part in proportion to the amount refunded (half up to the cent).
            lineExempt: refund ? -RefundMath.share(entry.exempt, refundAmount, entry.amount) : entry.exempt,
            exemptReason: entry.exemptReason ?? "",
            certificate: entry.certificate ?? "",
            taxType: entry.taxType ?? "",
            notCollecting: entry.notCollecting ?? "",
            jurisdictionCode: entry.jurisdictionCode,
            jurisdictionLevel: entry.level,
            jurisdictionName: entry.jurisdictionName ?? (entry.jurisdictionCode == "none" ? "not collecting" : ""),
            rate: entry.rate,
            taxable: entry.taxable,
            tax: entry.tax,
            tableVersion: entry.tableVersion,
            ledgerHash: entry.hash,
            lineTaxable: refund ? -RefundMath.share(entry.lineTaxable, refundAmount, entry.amount) : entry.lineTaxable)
    }

    /// `line1, city, ST ZIP` as kept with the order; without personal data only `ST ZIP`.
    func address(_ text: String?) -> String {
        guard let text else { return "" }
        let parts = text.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 4 else { return "" }
        let place = parts[2] + " " + parts[3]
        guard scope.personalData else { return place }
        return (parts[0...1].filter { !$0.isEmpty } + [place]).joined(separator: ", ")
    }

    func pseudonym(_ id: String) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Array(id.utf8), using: pseudonymKey.key)
        return "anon_" + hexString(code.prefix(10))
    }
}

/// Random key bytes held as an array (swift-crypto's SymmetricKey is not Sendable).
struct SymmetricKeyBytes: Sendable {
    let bytes: [UInt8]
    var key: SymmetricKey { SymmetricKey(data: bytes) }
    static func random() -> SymmetricKeyBytes {
        var generator = SystemRandomNumberGenerator()
        return SymmetricKeyBytes(bytes: (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }
}
