import Orders
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
    /// What the customer paid (sale, positive) or got back (refund, negative), tax included, in minor units.
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
    public let service: OrderService
    public let from: String
    public let until: String
    /// The last sequence number read: movements written after the reader started belong to the next run.
    public let lastSeq: Int64
    public var window: Int64 = 20_000

    /// `from` and `until` are timestamps (`until` exclusive).
    public init(service: OrderService, from: String, until: String, lastSeq: Int64) {
        self.service = service
        self.from = from
        self.until = until
        self.lastSeq = lastSeq
    }

    /// The ledger's last sequence number now (0 when it is empty).
    public static func head(_ service: OrderService) async throws -> Int64 {
        try await service.database.query("SELECT MAX(seq) AS seq FROM \(service.table("ledger"))").first?.integer("seq") ?? 0
    }

    /// The first sequence number at or after `from` (one scan, so windows need not start from the beginning).
    public func firstSeq() async throws -> Int64 {
        let rows = try await service.database.query("SELECT MIN(seq) AS seq FROM \(service.table("ledger")) WHERE at >= $1 AND at < $2",
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
            try await service.database.forEachRow("""
                SELECT seq, order_id, refund_id, kind, tax, at FROM \(service.table("ledger"))
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

    /// Movements from runs of entries, with their orders and refunds (one query each per window).
    private func details(_ runs: [Run]) async throws -> [PaymentMovement] {
        guard !runs.isEmpty else { return [] }
        let orders = Dictionary(try await service.rows(of: "orders", columns: "id, currency, total_amount, total_tax, capture_id, tax_date",
                                                       where: "id", in: Set(runs.map(\.orderID))).map { ($0.text("id") ?? "", $0) },
                                uniquingKeysWith: { first, _ in first })
        let refunds = Dictionary(try await service.rows(of: "refunds", columns: "id, amount, tax, processor_refund_id", where: "id",
                                                        in: Set(runs.compactMap { $0.kind == "refund" ? $0.refundID : nil })).map { ($0.text("id") ?? "", $0) },
                                 uniquingKeysWith: { first, _ in first })
        return runs.compactMap { run in
            guard let order = orders[run.orderID] else { return nil }
            let currency = order.text("currency") ?? ""
            let taxDate = order.text("tax_date") ?? ""
            if run.kind == "refund", let refundID = run.refundID {
                // A refund entry without its refund row reconciles as a refund of nothing: the ledger's tax then differs.
                let refund = refunds[refundID]
                let refundTax = refund?.integer("tax") ?? 0
                return PaymentMovement(kind: .refund, orderID: run.orderID, refundID: refundID, processorID: refund?.text("processor_refund_id"),
                                       amount: -((refund?.integer("amount") ?? 0) + refundTax), currency: currency, at: run.at, taxDate: taxDate,
                                       ledgerTax: run.tax, recordedTax: -refundTax, firstSeq: run.firstSeq)
            }
            let capture = order.text("capture_id")
            let totalTax = order.integer("total_tax") ?? 0
            return PaymentMovement(kind: .sale, orderID: run.orderID, refundID: nil,
                                   processorID: capture == OrderService.captureWithoutProcessor ? nil : capture,
                                   amount: (order.integer("total_amount") ?? 0) + totalTax, currency: currency,
                                   at: run.at, taxDate: taxDate, ledgerTax: run.tax, recordedTax: totalTax, firstSeq: run.firstSeq)
        }
    }
}

extension OrderService {
    /// The rows of one of the order store's tables whose `column` holds one of `values`, read through `IN` lists of at
    /// most 1,024 values each.
    func rows(of table: String, columns: String, where column: String, in values: Set<String>) async throws -> [SQLRow] {
        let values = Array(values)
        var rows: [SQLRow] = []
        for start in stride(from: 0, to: values.count, by: 1_024) {
            let list = SQLValue.inList(Array(values[start..<min(start + 1_024, values.count)]))
            rows += try await database.query("SELECT \(columns) FROM \(self.table(table)) WHERE \(column) IN (\(list.placeholders))", list.binds)
        }
        return rows
    }
}
