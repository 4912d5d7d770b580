import Storage

/// One movement of money Levy recorded: a captured sale or a refund, with the tax the ledger holds for it.
public struct PaymentMovement: Sendable, Hashable {
    public enum Kind: String, Sendable { case sale, refund }

    public var kind: Kind
    public var orderID: String
    /// Set for refunds.
    public var refundID: String?
    /// The processor's id of the capture or refund, when a processor took the payment.
    public var processorID: String?
    /// What the customer's payment card paid (sale, positive) or got back (refund, negative), tax included, in minor
    /// units: the money the processor moved. What gift cards paid or got back is not in it (no processor moves it).
    public var amount: Int64
    public var currency: String
    /// When the ledger recorded it (capture or refund time, `YYYY-MM-DDTHH:MM:SSZ`).
    public var at: String
    public var taxDate: String
    /// The sum of the movement's ledger entries (negative for refunds) and the tax the order or refund recorded.
    public var ledgerTax: Int64
    public var recordedTax: Int64
    /// The first ledger sequence number of the movement.
    public var firstSeq: Int64

    public init(kind: Kind, orderID: String, refundID: String?, processorID: String?, amount: Int64, currency: String, at: String, taxDate: String,
                ledgerTax: Int64, recordedTax: Int64, firstSeq: Int64) {
        self.kind = kind
        self.orderID = orderID
        self.refundID = refundID
        self.processorID = processorID
        self.amount = amount
        self.currency = currency
        self.at = at
        self.taxDate = taxDate
        self.ledgerTax = ledgerTax
        self.recordedTax = recordedTax
        self.firstSeq = firstSeq
    }

    /// The key settlement lines are matched on: the order for a sale, the refund for a refund.
    public var key: String { kind == .sale ? orderID : refundID ?? "" }
}

/// Reads the movements of a period from the ledger in windows of sequence numbers, then looks their orders and
/// refunds up in one query per window. Nothing grows with the ledger: one window of entries is in memory at a time.
/// A movement's entries are contiguous in the ledger (one transaction appends them while holding the ledger head),
/// so only the last movement of a window can continue past it: it is left for the next window, which reads it again
/// from its first entry. Entries are added up in sequence order, which is how the ledger already stores them, so
/// the store only scans a range of its primary key (no sorting or grouping per window).
public struct PaymentMovementReader: Sendable {
    public let orders: OrderReader
    public let from: String
    public let until: String
    /// The last sequence number read: movements written after the reader started belong to the next run.
    public let lastSeq: Int64
    public var window: Int64 = 20_000

    /// `from` and `until` are timestamps (`until` exclusive).
    public init(orders: OrderReader, from: String, until: String, lastSeq: Int64) {
        self.orders = orders
        self.from = from
        self.until = until
        self.lastSeq = lastSeq
    }

    /// The ledger's last sequence number now (0 when it is empty).
    public static func head(_ orders: OrderReader) async throws -> Int64 {
        try await orders.rows("SELECT MAX(seq) AS seq FROM \(orders.table("ledger"))").first?.integer("seq") ?? 0
    }

    /// The first sequence number at or after `from` (one scan, so windows need not start from the beginning).
    public func firstSeq() async throws -> Int64 {
        let rows = try await orders.rows("SELECT MIN(seq) AS seq FROM \(orders.table("ledger")) WHERE at >= $1 AND at < $2",
                                         [.text(from), .text(until)])
        return rows.first?.integer("seq") ?? (lastSeq + 1)
    }

    /// The complete movements of the period whose entries lie after `cursor`, in ledger order, and the cursor to
    /// continue from: the sequence number before the first entry of a movement that runs past the window (or the
    /// window's end). A movement longer than the window widens it until the movement fits.
    public func page(after cursor: Int64) async throws -> (movements: [PaymentMovement], cursor: Int64) {
        var size = max(window, 1)
        while true {
            let end = min(cursor + size, lastSeq)
            guard cursor < end else { return ([], max(cursor, lastSeq)) }
            // Strings are made only where a movement starts; its other entries are compared in place.
            var runs: [Run] = []
            try await orders.database.forEachRow("""
                SELECT seq, order_id, refund_id, kind, tax, at FROM \(orders.table("ledger"))
                WHERE seq > $1 AND seq <= $2 AND at >= $3 AND at < $4 ORDER BY seq
                """, [.integer(cursor), .integer(end), .text(from), .text(until)]) { entry in
                let tax = entry.integer(4) ?? 0
                if let last = runs.indices.last, entry.text(1, equals: runs[last].orderID), entry.text(2, equals: runs[last].refundID),
                   entry.text(3, equals: runs[last].kind) {
                    runs[last].tax += tax
                    if !entry.text(5, equals: runs[last].at), let at = entry.text(5), at < runs[last].at { runs[last].at = at }
                } else {
                    runs.append(Run(orderID: entry.text(1) ?? "", refundID: entry.text(2), kind: entry.text(3) ?? "", tax: tax,
                                    at: entry.text(5) ?? "", firstSeq: entry.integer(0) ?? 0))
                }
            }
            var next = end
            if end < lastSeq, let last = runs.last {
                if runs.count == 1 {
                    size *= 2
                    continue
                }
                runs.removeLast()
                next = last.firstSeq - 1
            }
            return (try await details(runs), next)
        }
    }

    /// The entries of one movement, added up.
    struct Run {
        var orderID: String
        var refundID: String?
        var kind: String
        var tax: Int64
        var at: String
        var firstSeq: Int64
    }

    /// Movements from runs of entries, with their orders and refunds (one query each per window). A stored value of
    /// the wrong type is `OrderError.corrupt`, never read as zero.
    private func details(_ runs: [Run]) async throws -> [PaymentMovement] {
        guard !runs.isEmpty else { return [] }
        struct Sale { var currency: String, amount: Int64, tax: Int64, giftCards: Int64, capture: String?, taxDate: String }
        struct Given { var amount: Int64, tax: Int64, giftCards: Int64, processorID: String? }
        let saleRows = try await orders.rows(of: "orders", columns: "id, currency, total_amount, total_tax, gift_card_amount, capture_id, tax_date",
                                             where: "id", in: Set(runs.map(\.orderID)))
        let sales = Dictionary(try orders.decode(saleRows) { row throws(RowDecodingError) in
            (try row.decode("id", as: String.self),
             Sale(currency: try row.decode("currency"), amount: try OrderService.money(row, "total_amount"), tax: try OrderService.money(row, "total_tax"),
                  giftCards: try OrderService.money(row, "gift_card_amount"), capture: try row.decodeIfPresent("capture_id"), taxDate: try row.decode("tax_date")))
        }, uniquingKeysWith: { first, _ in first })
        let refundRows = try await orders.rows(of: "refunds", columns: "id, amount, tax, gift_card_amount, processor_refund_id", where: "id",
                                               in: Set(runs.compactMap { $0.kind == "refund" ? $0.refundID : nil }))
        let refunds = Dictionary(try orders.decode(refundRows) { row throws(RowDecodingError) in
            (try row.decode("id", as: String.self),
             Given(amount: try OrderService.money(row, "amount"), tax: try OrderService.money(row, "tax"),
                   giftCards: try OrderService.money(row, "gift_card_amount"), processorID: try row.decodeIfPresent("processor_refund_id")))
        }, uniquingKeysWith: { first, _ in first })
        return runs.compactMap { run in
            guard let sale = sales[run.orderID] else { return nil }
            if run.kind == "refund", let refundID = run.refundID {
                // A refund entry without its refund row reconciles as a refund of nothing: the ledger's tax then differs.
                let refund = refunds[refundID]
                let refundTax = refund?.tax ?? 0
                return PaymentMovement(kind: .refund, orderID: run.orderID, refundID: refundID, processorID: refund?.processorID,
                                       amount: -((refund?.amount ?? 0) + refundTax - (refund?.giftCards ?? 0)), currency: sale.currency, at: run.at, taxDate: sale.taxDate,
                                       ledgerTax: run.tax, recordedTax: -refundTax, firstSeq: run.firstSeq)
            }
            return PaymentMovement(kind: .sale, orderID: run.orderID, refundID: nil,
                                   processorID: sale.capture == OrderService.captureWithoutProcessor ? nil : sale.capture,
                                   amount: sale.amount + sale.tax - sale.giftCards, currency: sale.currency,
                                   at: run.at, taxDate: sale.taxDate, ledgerTax: run.tax, recordedTax: sale.tax, firstSeq: run.firstSeq)
        }
    }
}

extension OrderReader {
    /// Orders' status by id, for the given ids.
    public func statuses(ofOrders ids: Set<String>) async throws -> [String: String] {
        var status: [String: String] = [:]
        let rows = try await rows(of: "orders", columns: "id, status", where: "id", in: ids)
        let pairs = try decode(rows) { row throws(RowDecodingError) in
            (try row.decode("id", as: String.self), try row.decode("status", as: String.self))
        }
        for (id, value) in pairs { status[id] = value }
        return status
    }

    /// The orders (id and status) whose capture has one of the processor's ids.
    public func orders(capturedAs processorIDs: Set<String>) async throws -> [String: (orderID: String, status: String)] {
        var found: [String: (orderID: String, status: String)] = [:]
        let rows = try await rows(of: "orders", columns: "id, status, capture_id", where: "capture_id", in: processorIDs)
        let triples = try decode(rows) { row throws(RowDecodingError) in
            (try row.decode("capture_id", as: String.self), try row.decode("id", as: String.self), try row.decode("status", as: String.self))
        }
        for (capture, id, status) in triples { found[capture] = (id, status) }
        return found
    }

    /// Which of the given refund ids, or processor refund ids, name a refund Levy recorded.
    /// Only refunds whose reversal is in the tax ledger count: a refund recorded without its ledger entries is not a
    /// movement Levy can account for, and reconciliation reports its settlement line.
    public func knownRefunds(ids: Set<String>, processorIDs: Set<String>) async throws -> Set<String> {
        let inLedger = "AND EXISTS (SELECT 1 FROM \(table("ledger")) l WHERE l.refund_id = r.id)"
        var known = Set(try decode(try await rows(of: "refunds r", columns: "r.id", where: "r.id", in: ids, and: inLedger)) { row throws(RowDecodingError) in
            try row.decode("id", as: String.self)
        })
        let byProcessor = try await rows(of: "refunds r", columns: "r.processor_refund_id", where: "r.processor_refund_id", in: processorIDs, and: inLedger)
        known.formUnion(try decode(byProcessor) { row throws(RowDecodingError) in try row.decode("processor_refund_id", as: String.self) })
        return known
    }

    /// Which of these orders have their sale in the tax ledger (at any time). A captured order always has: every line
    /// of a capture writes at least one entry.
    public func ordersWithSales(_ orderIDs: Set<String>) async throws -> Set<String> {
        Set(try decode(try await rows(of: "ledger", columns: "DISTINCT order_id", where: "order_id", in: orderIDs, and: "AND kind = 'sale'")) {
            row throws(RowDecodingError) in try row.decode("order_id", as: String.self)
        })
    }

    /// The rows of one of the order store's tables (`name alias` allowed) whose `column` holds one of `values`, read
    /// through `IN` lists of at most 1,024 values each, with an optional further condition.
    func rows(of table: String, columns: String, where column: String, in values: Set<String>, and condition: String = "") async throws -> [SQLRow] {
        let values = Array(values)
        let parts = table.split(separator: " ")
        let from = self.table(String(parts[0])) + (parts.count > 1 ? " " + parts[1] : "")
        var rows: [SQLRow] = []
        for start in stride(from: 0, to: values.count, by: 1_024) {
            let list = SQLValue.inList(Array(values[start..<min(start + 1_024, values.count)]))
            rows += try await self.rows("SELECT \(columns) FROM \(from) WHERE \(column) IN (\(list.placeholders)) \(condition)", list.binds)
        }
        return rows
    }
}
