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

    public static let columns = [
        "ledger_seq", "document_type", "document_number", "document_date", "tax_date", "order_id", "customer_id", "bill_to", "ship_to",
        "service_location", "sourcing_rule", "sourced_to", "state", "line_number", "product_code", "fulfilment", "quantity", "line_amount",
        "line_exempt", "exempt_reason", "certificate", "tax_type", "not_collecting", "jurisdiction_code", "jurisdiction_level",
        "jurisdiction_name", "rate", "taxable", "tax", "table_version", "ledger_hash",
    ]

    /// The fields in `columns` order, amounts as decimal strings.
    public var fields: [String] {
        [String(ledgerSeq), documentType, documentNumber, documentDate, taxDate, orderID, customerID, billTo, shipTo, serviceLocation,
         sourcingRule, sourcedTo, state, String(lineNumber), productCode, fulfilment, String(quantity), Money(minorUnits: lineAmount).decimalString,
         Money(minorUnits: lineExempt).decimalString, exemptReason, certificate, taxType, notCollecting, jurisdictionCode, jurisdictionLevel,
         jurisdictionName, rate, Money(minorUnits: taxable).decimalString, Money(minorUnits: tax).decimalString, tableVersion, ledgerHash]
    }
}

/// Reads detail rows from the ledger in sequence order, a page at a time: memory stays the same for any period.
public struct DetailReader: Sendable {
    public let database: any SQLDatabase
    public let ordersSchema: String
    public let scope: ExportScope
    /// Keys the pseudonyms of a run without personal data; random per run, so runs cannot be linked.
    let pseudonymKey: SymmetricKeyBytes
    public var pageSize = 5_000
    /// The last ledger entry to read (the head when the export began); later entries belong to a later export.
    public var throughSeq: Int64

    public init(database: any SQLDatabase, ordersSchema: String = "orders", scope: ExportScope, throughSeq: Int64 = .max) {
        self.database = database
        self.ordersSchema = ordersSchema
        self.scope = scope
        self.throughSeq = throughSeq
        pseudonymKey = SymmetricKeyBytes.random()
    }

    func table(_ name: String) -> String { database.dialect.render("{schema}\(name)", schema: ordersSchema) }

    /// Calls `body` with every row of the scope, in ledger order.
    public func forEach(_ body: (DetailRow) throws -> Void) async throws {
        var after: Int64 = 0
        let sql = """
            SELECT l.seq, l.order_id, l.refund_id, l.kind, l.line_no, l.jurisdiction_code, l.level, l.rate, l.taxable AS j_taxable, l.tax,
              l.tax_date, l.table_version, l.at, l.hash, o.created_at, o.customer_id, o.origin_address, o.destination_address,
              o.billing_address, ol.code, ol.quantity, ol.amount, ol.exempt, ol.sourcing_rule, ol.sourced_to, ol.certificate,
              ol.fulfilment, ol.tax_type, ol.exempt_reason, ol.not_collecting, ot.name AS j_name, rl.quantity AS r_quantity,
              rl.amount AS r_amount
            FROM \(table("ledger")) l
            JOIN \(table("orders")) o ON o.id = l.order_id
            JOIN \(table("order_lines")) ol ON ol.order_id = l.order_id AND ol.line_no = l.line_no
            LEFT JOIN \(table("order_taxes")) ot ON ot.order_id = l.order_id AND ot.line_no = l.line_no AND ot.jurisdiction_code = l.jurisdiction_code
            LEFT JOIN \(table("refund_lines")) rl ON rl.refund_id = l.refund_id AND rl.line_no = l.line_no
            WHERE l.seq > $1 AND l.seq <= $4 AND ((l.kind <> 'refund' AND l.tax_date >= $2 AND l.tax_date <= $3)
              OR (l.kind = 'refund' AND substr(l.at, 1, 10) >= $2 AND substr(l.at, 1, 10) <= $3))
            ORDER BY l.seq LIMIT \(pageSize)
            """
        // An order's rows are consecutive: its customer pseudonym and addresses are worked out once per order.
        var cache = OrderCache()
        while true {
            let rows = try await database.query(sql, [.integer(after), .text(scope.from.iso), .text(scope.through.iso), .integer(throughSeq)])
            for row in rows { try body(self.row(row, cache: &cache)) }
            guard rows.count == pageSize, let last = rows.last?.integer("seq") else { return }
            after = last
        }
    }

    struct OrderCache {
        var orderID = ""
        var customer = "", billTo = "", shipTo = "", origin = ""
    }

    func row(_ row: SQLRow, cache: inout OrderCache) -> DetailRow {
        let orderID = row.text("order_id") ?? ""
        if orderID != cache.orderID {
            cache.orderID = orderID
            cache.customer = row.text("customer_id").map { scope.personalData ? $0 : pseudonym($0) } ?? "guest"
            cache.billTo = address(row.text("billing_address"))
            cache.shipTo = address(row.text("destination_address"))
            cache.origin = address(row.text("origin_address"))
        }
        let refund = row.text("kind") == "refund"
        let lineAmount = row.integer("amount") ?? 0
        let refundAmount = row.integer("r_amount") ?? 0
        let exempt = row.integer("exempt") ?? 0
        let sourcedTo = row.text("sourced_to") ?? ""
        let fulfilment = row.text("fulfilment") ?? ""
        return DetailRow(
            ledgerSeq: row.integer("seq") ?? 0,
            documentType: refund ? "refund" : "sale",
            documentNumber: refund ? (row.text("refund_id") ?? "") : (row.text("order_id") ?? ""),
            documentDate: String((refund ? row.text("at") : row.text("created_at"))?.prefix(10) ?? ""),
            taxDate: row.text("tax_date") ?? "",
            orderID: orderID,
            customerID: cache.customer,
            billTo: cache.billTo,
            shipTo: fulfilment == "in_person" ? "" : cache.shipTo,
            serviceLocation: fulfilment == "in_person" ? cache.origin : "",
            sourcingRule: row.text("sourcing_rule") ?? "",
            sourcedTo: sourcedTo,
            state: String(sourcedTo.prefix(2)),
            lineNumber: row.integer("line_no") ?? 0,
            productCode: row.text("code") ?? "",
            fulfilment: fulfilment,
            quantity: refund ? -(row.integer("r_quantity") ?? 0) : (row.integer("quantity") ?? 0),
            lineAmount: refund ? -refundAmount : lineAmount,
            // A refund gives back the exempt part in proportion to the amount refunded (half up to the cent).
            lineExempt: refund ? -RefundMath.share(exempt, refundAmount, lineAmount) : exempt,
            exemptReason: row.text("exempt_reason") ?? "",
            certificate: row.text("certificate") ?? "",
            taxType: row.text("tax_type") ?? "",
            notCollecting: row.text("not_collecting") ?? "",
            jurisdictionCode: row.text("jurisdiction_code") ?? "",
            jurisdictionLevel: row.text("level") ?? "",
            jurisdictionName: row.text("j_name") ?? (row.text("jurisdiction_code") == "none" ? "not collecting" : ""),
            rate: row.text("rate") ?? "",
            taxable: row.integer("j_taxable") ?? 0,
            tax: row.integer("tax") ?? 0,
            tableVersion: row.text("table_version") ?? "",
            ledgerHash: row.text("hash") ?? "")
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
