import Storage
import TaxCore

/// What the console shows of orders: a search over them and one order's evidence (each line's sourcing, taxability
/// and exemption as frozen at placement, and its ledger entries with their hashes). Read-only, like the exports.
extension OrderReader {
    /// Which orders to find. Every condition given must hold; none given finds the newest orders.
    public struct OrderSearch: Sendable, Equatable {
        /// An order id or the start of one.
        public var idPrefix: String?
        public var from: String?
        public var through: String?
        /// A state a line was sourced to.
        public var state: String?
        /// A jurisdiction code one of its taxes went to.
        public var jurisdiction: String?
        public var customerID: String?

        public init(idPrefix: String? = nil, from: String? = nil, through: String? = nil, state: String? = nil, jurisdiction: String? = nil,
                    customerID: String? = nil) {
            (self.idPrefix, self.from, self.through, self.state, self.jurisdiction, self.customerID) = (idPrefix, from, through, state, jurisdiction, customerID)
        }
    }

    public struct OrderSummary: Sendable, Equatable {
        public var id: OrderID
        public var taxDate: String
        public var status: String
        public var totalAmount: Int64
        public var totalTax: Int64
        public var customerID: String?
        public var refunds: Int64
    }

    /// The newest orders (by tax date, then id) that match, at most `limit`.
    public func searchOrders(_ search: OrderSearch, limit: Int) async throws -> [OrderSummary] {
        var conditions: [String] = []
        var binds: [SQLValue] = []
        func bind(_ value: String) -> String { binds.append(.text(value)); return "$\(binds.count)" }
        if let prefix = search.idPrefix, !prefix.isEmpty {
            conditions.append("substr(o.id, 1, \(prefix.utf8.count)) = \(bind(prefix))")
        }
        if let from = search.from { conditions.append("o.tax_date >= \(bind(from))") }
        if let through = search.through { conditions.append("o.tax_date <= \(bind(through))") }
        if let customer = search.customerID { conditions.append("o.customer_id = \(bind(customer))") }
        if let state = search.state {
            conditions.append("EXISTS (SELECT 1 FROM \(table("order_lines")) l WHERE l.order_id = o.id AND substr(l.sourced_to, 1, 2) = \(bind(state)))")
        }
        if let code = search.jurisdiction {
            conditions.append("EXISTS (SELECT 1 FROM \(table("order_taxes")) t WHERE t.order_id = o.id AND t.jurisdiction_code = \(bind(code)))")
        }
        let rows = try await rows("""
            SELECT o.id, o.tax_date, o.status, o.dispute_status, o.total_amount, o.total_tax, o.customer_id,
              (SELECT COUNT(*) FROM \(table("refunds")) r WHERE r.order_id = o.id AND r.state = 'completed') AS refunds
            FROM \(table("orders")) o \(conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND "))
            ORDER BY o.tax_date DESC, o.id DESC LIMIT \(max(1, min(limit, 500)))
            """, binds)
        return try decode(rows) { row throws(RowDecodingError) in
            let status: String = try row.decode("status")
            let dispute: String? = try row.decodeIfPresent("dispute_status")
            return OrderSummary(id: OrderID(try row.decode("id")), taxDate: try row.decode("tax_date"), status: dispute == "open" ? "disputed" : status,
                                totalAmount: try OrderService.money(row, "total_amount"), totalTax: try OrderService.money(row, "total_tax"),
                                customerID: try row.decodeIfPresent("customer_id"), refunds: try row.decode("refunds"))
        }
    }

    /// A line's evidence as frozen when the order was placed.
    public struct LineEvidence: Sendable, Equatable {
        public var number: Int64
        public var code: ProductTaxCode
        public var fulfilment: Fulfilment
        public var quantity: Int64
        public var amount: Int64
        public var discount: Int64
        public var taxable: Int64
        public var exempt: Int64
        public var tax: Int64
        public var sourcingRule: SourcingRule
        public var sourcedTo: String
        public var certificate: String?
        /// `sales` or `use`.
        public var taxType: String?
        /// The taxability entry that decided the line (its rule and source).
        public var taxabilityRule: String?
        public var exemptReason: String?
        public var notCollecting: String?
    }

    /// The order's addresses as frozen (`AddressText`), the registrations it was quoted with, and its lines.
    public struct OrderEvidence: Sendable, Equatable {
        public var origin: String?
        public var destination: String?
        public var billing: String?
        /// An address obtained during the sale (the payment instrument's), when the order was quoted with one.
        public var payment: String? = nil
        public var registrations: String?
        /// The remote-seller programs the order was quoted with (none: empty).
        public var elections: [RemoteSellerElection] = []
        public var lines: [LineEvidence]
    }

    public func evidence(of id: OrderID) async throws -> OrderEvidence? {
        let order = try await rows("""
            SELECT origin_address, destination_address, billing_address, payment_address, registrations, elections FROM \(table("orders")) WHERE id = $1
            """, [.text(id.value)])
        guard let head = try decode(order, { row throws(RowDecodingError) in
            (try row.decodeIfPresent("origin_address", as: String.self), try row.decodeIfPresent("destination_address", as: String.self),
             try row.decodeIfPresent("billing_address", as: String.self), try row.decodeIfPresent("payment_address", as: String.self),
             try row.decodeIfPresent("registrations", as: String.self),
             try row.decodeIfPresent("elections", as: String.self).map { text throws(RowDecodingError) -> [RemoteSellerElection] in
                 guard let elections = ElectionsText.parse(text) else {
                     throw RowDecodingError(column: "elections", expected: "remote-seller elections (ST:type, comma-separated)", found: "text of another form")
                 }
                 return elections
             } ?? [])
        }).first else { return nil }
        let lines = try decode(try await rows("""
            SELECT line_no, code, fulfilment, quantity, amount, discount, taxable, exempt, tax, sourcing_rule, sourced_to, certificate, tax_type,
              taxability_rule, exempt_reason, not_collecting
            FROM \(table("order_lines")) WHERE order_id = $1 ORDER BY line_no
            """, [.text(id.value)])) { row throws(RowDecodingError) in
            LineEvidence(number: try row.decode("line_no"), code: try row.decode("code", as: ProductTaxCode.self),
                         fulfilment: try row.decode("fulfilment", as: Fulfilment.self), quantity: try row.decode("quantity"),
                         amount: try OrderService.money(row, "amount"), discount: try row.decodeIfPresent("discount") ?? 0,
                         taxable: try OrderService.money(row, "taxable"), exempt: try OrderService.money(row, "exempt"), tax: try OrderService.money(row, "tax"),
                         sourcingRule: try row.decode("sourcing_rule", as: SourcingRule.self), sourcedTo: try row.decode("sourced_to"),
                         certificate: try row.decodeIfPresent("certificate"), taxType: try row.decodeIfPresent("tax_type"),
                         taxabilityRule: try row.decodeIfPresent("taxability_rule"), exemptReason: try row.decodeIfPresent("exempt_reason"),
                         notCollecting: try row.decodeIfPresent("not_collecting"))
        }
        return OrderEvidence(origin: head.0, destination: head.1, billing: head.2, payment: head.3, registrations: head.4, elections: head.5, lines: lines)
    }

    /// The order's ledger entries (its sale and its refunds), in ledger order, with their hashes.
    public func ledgerEntries(of id: OrderID) async throws -> [LedgerEntry] {
        let rows = try await rows("SELECT * FROM \(table("ledger")) WHERE order_id = $1 ORDER BY seq", [.text(id.value)])
        do { return try rows.map { try LedgerEntry(row: $0) } } catch { throw OrderError.corrupt("\(error)") }
    }
}
