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

/// Reads the movements of a period from the ledger in windows of sequence numbers, joined with their orders and
/// refunds. Nothing grows with the ledger: one window of entries is in memory at a time. A movement's entries are
/// contiguous in the ledger (one transaction writes them), so only the last movement of a window can continue in
/// the next; it is held back until the next window shows where it ends.
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

    /// The movements whose entries lie in (after, after + window], completed; and where to continue from. The
    /// returned cursor is the sequence number before the first entry of the movement held back (or the window's end).
    /// With `holdLast` false the window's last movement is returned as read, possibly partial: the caller adds up
    /// partial movements itself (the reconciler does, in its checkpoint store).
    public func page(after cursor: Int64, held: PaymentMovement?, holdLast: Bool = true) async throws -> (movements: [PaymentMovement], held: PaymentMovement?, cursor: Int64) {
        let end = min(cursor + window, lastSeq)
        guard cursor < end else { return (held.map { [$0] } ?? [], nil, lastSeq) }
        // Group the window's entries first, then look each movement's order and refund up once.
        let groups = try await service.database.query("""
            SELECT g.order_id, g.refund_id, g.kind, g.tax, g.at, g.first, o.currency, o.total_amount, o.total_tax, o.capture_id, o.tax_date,
              r.amount AS refund_amount, r.tax AS refund_tax, r.processor_refund_id
            FROM (SELECT order_id, refund_id, kind, SUM(tax) AS tax, MIN(at) AS at, MIN(seq) AS first FROM \(service.table("ledger"))
                  WHERE seq > $1 AND seq <= $2 AND at >= $3 AND at < $4 GROUP BY order_id, refund_id, kind) g
            JOIN \(service.table("orders")) o ON o.id = g.order_id
            LEFT JOIN \(service.table("refunds")) r ON r.id = g.refund_id
            ORDER BY g.first
            """, [.integer(cursor), .integer(end), .text(from), .text(until)])
        var movements = try await details(groups)
        if var first = movements.first, let held {
            if first.kind == held.kind, first.key == held.key {
                first.ledgerTax += held.ledgerTax
                first.at = min(first.at, held.at)
                first.firstSeq = held.firstSeq
                movements[0] = first
            } else {
                movements.insert(held, at: 0)
            }
        } else if let held {
            movements.insert(held, at: 0)
        }
        // The window's last movement may go on past `end`: hold it back, unless this is the last window.
        if holdLast, end < lastSeq, let last = movements.popLast() {
            return (movements, last, end)
        }
        return (movements, nil, end)
    }

    /// Movements from ledger groups joined with their orders and refunds.
    private func details(_ groups: [SQLRow]) async throws -> [PaymentMovement] {
        groups.compactMap { group in
            guard let orderID = group.text("order_id") else { return nil }
            let currency = group.text("currency") ?? ""
            let taxDate = group.text("tax_date") ?? ""
            let at = group.text("at") ?? ""
            let tax = group.integer("tax") ?? 0
            let first = group.integer("first") ?? 0
            if group.text("kind") == "refund", let refundID = group.text("refund_id") {
                let refundTax = group.integer("refund_tax") ?? 0
                return PaymentMovement(kind: .refund, orderID: orderID, refundID: refundID, processorID: group.text("processor_refund_id"),
                                       amount: -((group.integer("refund_amount") ?? 0) + refundTax), currency: currency, at: at, taxDate: taxDate,
                                       ledgerTax: tax, recordedTax: -refundTax, firstSeq: first)
            }
            let capture = group.text("capture_id")
            return PaymentMovement(kind: .sale, orderID: orderID, refundID: nil,
                                   processorID: capture == OrderService.captureWithoutProcessor ? nil : capture,
                                   amount: (group.integer("total_amount") ?? 0) + (group.integer("total_tax") ?? 0), currency: currency,
                                   at: at, taxDate: taxDate, ledgerTax: tax, recordedTax: group.integer("total_tax") ?? 0, firstSeq: first)
        }
    }
}

extension Array {
    func chunked(_ size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}
