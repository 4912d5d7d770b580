import Foundation
import Orders
import Storage

/// A run's own SQLite file (`checkpoint.sqlite` in the output folder): the settlement lines as read, Levy's
/// movements of the period, the tax differences found, the matching's differences, and the checkpoints. Every batch
/// is written in one transaction with the checkpoint that says it is done, so a killed run neither loses nor
/// repeats a batch.
struct WorkStore {
    let database: SQLiteDatabase
    let stopAfter: Int?
    private let checkpoints = CheckpointCount()

    init(path: String, stopAfter: Int? = nil) throws {
        database = try SQLiteDatabase(path: path)
        self.stopAfter = stopAfter
    }

    /// Counts a checkpoint written; with `stopAfter`, stops the run there (a drill of a killed process).
    /// Returns how many checkpoints this process has written.
    func checkpointed() throws -> Int {
        let count = checkpoints.increment()
        if let stopAfter, count >= stopAfter { throw ReconcileError.state("stopped after \(count) checkpoints (drill)") }
        return count
    }

    func create() async throws {
        // A bounded page cache (16 MiB) instead of a read system call per page; NORMAL sync, since WAL keeps a
        // checkpoint whole when the process is killed (a power cut may lose the last batches, which are then redone).
        _ = try await database.query("PRAGMA cache_size = -16384")
        _ = try await database.query("PRAGMA synchronous = NORMAL")
        _ = try await database.query("PRAGMA secure_delete = OFF")
        try await database.transaction { tx in
            try await tx.execute("CREATE TABLE IF NOT EXISTS run (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
            try await tx.execute("""
                CREATE TABLE IF NOT EXISTS settlement (line INTEGER PRIMARY KEY, line_id TEXT NOT NULL, kind TEXT NOT NULL, type TEXT NOT NULL,
                  order_id TEXT NOT NULL, refund_id TEXT NOT NULL, processor_id TEXT NOT NULL, amount INTEGER NOT NULL, fee INTEGER NOT NULL,
                  net INTEGER NOT NULL, currency TEXT NOT NULL, created TEXT NOT NULL, settled TEXT NOT NULL, key TEXT NOT NULL)
                """)
            try await tx.execute("""
                CREATE TABLE IF NOT EXISTS movement (first_seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, key TEXT NOT NULL, order_id TEXT NOT NULL,
                  refund_id TEXT NOT NULL, processor_id TEXT NOT NULL, amount INTEGER NOT NULL, currency TEXT NOT NULL, at TEXT NOT NULL,
                  tax_date TEXT NOT NULL, ledger_tax INTEGER NOT NULL, recorded_tax INTEGER NOT NULL)
                """)
            try await tx.execute("""
                CREATE TABLE IF NOT EXISTS tax_difference (order_id TEXT PRIMARY KEY, expected INTEGER, actual INTEGER, detail TEXT NOT NULL)
                """)
            try await tx.execute("""
                CREATE TABLE IF NOT EXISTS difference (reason_order INTEGER NOT NULL, reason TEXT NOT NULL, order_id TEXT NOT NULL,
                  refund_id TEXT NOT NULL, line INTEGER NOT NULL, settlement_id TEXT NOT NULL, processor_id TEXT NOT NULL, expected INTEGER,
                  actual INTEGER, currency TEXT NOT NULL, detail TEXT NOT NULL)
                """)
        }
    }

    // MARK: - Checkpoints

    func value(_ name: String) async throws -> String? {
        try await database.query("SELECT value FROM run WHERE name = $1", [.text(name)]).first?.text("value")
    }

    func set(_ values: [String: String]) async throws {
        try await database.transaction { tx in try await Self.set(values, in: tx) }
    }

    static func set(_ values: [String: String], in tx: any SQLExecutor) async throws {
        for (name, value) in values.sorted(by: { $0.key < $1.key }) {
            try await tx.execute("INSERT INTO run (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                                 [.text(name), .text(value)])
        }
    }

    /// Inserts rows of `columns` values through one prepared single-row statement, run once per row.
    static func insert(_ table: String, columns: [String], rows: [[SQLValue]], in tx: any SQLExecutor) async throws {
        let sql = "INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES (\((1...columns.count).map { "$\($0)" }.joined(separator: ", ")))"
        for row in rows { try await tx.execute(sql, row) }
    }

    // MARK: - Phases

    func insertSettlements(_ lines: [SettlementLine], checkpoint: [String: String]) async throws {
        let rows: [[SQLValue]] = lines.map { line in
            let key = line.kind == .sale ? line.orderID : line.kind == .refund ? line.refundID : ""
            return [.integer(Int64(line.line)), .text(line.lineID), .text(line.kind.rawValue), .text(line.type), .text(line.orderID),
                    .text(line.refundID), .text(line.processorID), .integer(line.amount), .integer(line.fee), .integer(line.net),
                    .text(line.currency), .text(line.created), .text(line.settled), .text(key)]
        }
        try await database.transaction { tx in
            try await Self.insert("settlement", columns: ["line", "line_id", "kind", "type", "order_id", "refund_id", "processor_id", "amount", "fee",
                                                         "net", "currency", "created", "settled", "key"], rows: rows, in: tx)
            try await Self.set(checkpoint, in: tx)
        }
    }

    /// Movements arrive whole and in ledger order, so they are appended by their first sequence number (cheap for
    /// SQLite); the index on (kind, key) that matching needs is built once, when the phase ends (`finishMovements`).
    func insertMovements(_ movements: [PaymentMovement], checkpoint: [String: String]) async throws {
        let rows: [[SQLValue]] = movements.map { m in
            [.integer(m.firstSeq), .text(m.kind.rawValue), .text(m.key), .text(m.orderID), .text(m.refundID ?? ""), .text(m.processorID ?? ""),
             .integer(m.amount), .text(m.currency), .text(m.at), .text(m.taxDate), .integer(m.ledgerTax), .integer(m.recordedTax)]
        }
        try await database.transaction { tx in
            try await Self.insert("movement", columns: ["first_seq", "kind", "key", "order_id", "refund_id", "processor_id", "amount", "currency", "at",
                                                       "tax_date", "ledger_tax", "recorded_tax"], rows: rows, in: tx)
            try await Self.set(checkpoint, in: tx)
        }
    }

    /// Indexes the movements by what settlement lines match on. A capture or refund is one movement: a second one
    /// with the same key would mean the ledger holds its entries apart, which its append lock rules out.
    func finishMovements() async throws {
        do {
            try await database.transaction { tx in
                try await tx.execute("CREATE UNIQUE INDEX IF NOT EXISTS movement_key ON movement (kind, key)")
                try await Self.set(["movements_done": "yes"], in: tx)
            }
        } catch {
            throw ReconcileError.state("the ledger holds the entries of one capture or refund apart (\(error)); run levy ledger verify")
        }
    }

    func insertTaxDifferences(_ differences: [Difference], checkpoint: [String: String]) async throws {
        let rows: [[SQLValue]] = differences.map {
            [.text($0.orderID), $0.expected.map { .integer($0) } ?? .null, $0.actual.map { .integer($0) } ?? .null, .text($0.detail)]
        }
        try await database.transaction { tx in
            try await Self.insert("tax_difference", columns: ["order_id", "expected", "actual", "detail"], rows: rows, in: tx)
            try await Self.set(checkpoint, in: tx)
        }
    }

    /// Lines that name only the processor's id take the key of the movement with that id.
    func resolveProcessorIDs() async throws {
        try await database.transaction { tx in
            // Lines are matched in key order; the table is in file order. Holding every column the matching reads, the
            // index is walked from end to end without a lookup in the table per line.
            try await tx.execute("""
                CREATE INDEX IF NOT EXISTS settlement_key ON settlement (kind, key, line, line_id, type, order_id, refund_id, processor_id, amount, fee,
                  net, currency, created, settled)
                """)
            try await tx.execute("CREATE INDEX IF NOT EXISTS movement_processor ON movement (processor_id)")
            // Movements are read in key order too: an index holding every column the matching reads spares it a lookup
            // in the table (which is in ledger order) for each line (4.3 s -> 1.6 s for a million lines).
            try await tx.execute("""
                CREATE INDEX IF NOT EXISTS movement_match ON movement (kind, key, order_id, refund_id, processor_id, amount, currency, at,
                  tax_date, ledger_tax, recorded_tax)
                """)
            try await tx.execute("""
                UPDATE settlement SET key = (SELECT m.key FROM movement m WHERE m.kind = settlement.kind AND m.processor_id = settlement.processor_id)
                WHERE key = '' AND processor_id <> '' AND kind IN ('sale', 'refund')
                  AND EXISTS (SELECT 1 FROM movement m WHERE m.kind = settlement.kind AND m.processor_id = settlement.processor_id)
                """)
        }
    }

    /// A value of the run's work file, which this code wrote: NULL or another type means the file was damaged.
    static func present<T>(_ value: T?, _ column: Int) throws(ReconcileError) -> T {
        guard let value else { throw damaged(column) }
        return value
    }

    static func damaged(_ column: Int) -> ReconcileError {
        .state("the run's work file is damaged (column \(column + 1) of a row); rerun with --restart")
    }

    static func decode<T: SQLCellDecodable>(_ row: SQLRow, _ column: String, as type: T.Type = T.self) throws(ReconcileError) -> T {
        do { return try row.decode(column, as: type) } catch {
            throw .state("the run's work file is damaged (\(error)); rerun with --restart")
        }
    }

    struct MatchedLine {
        var line: SettlementLine
        /// What the line matches on: the order or refund id it names, or the one its processor id resolved to.
        var key: String
        var movement: PaymentMovement?
    }

    /// Lines of one kind after (`key`, `line`) in the order of what they match on, each with its movement, if any.
    func linesWithMovements(kind: SettlementLine.Kind, after: (key: String, line: Int), limit: Int) async throws -> [MatchedLine] {
        var page: [MatchedLine] = []
        page.reserveCapacity(limit)
        try await database.forEachRow("""
            SELECT s.line, s.line_id, s.type, s.order_id, s.refund_id, s.processor_id, s.amount, s.fee, s.net, s.currency, s.created, s.settled, s.key,
              m.kind, m.order_id, m.refund_id, m.processor_id, m.amount, m.currency, m.at, m.tax_date, m.ledger_tax, m.recorded_tax, m.first_seq
            FROM settlement s LEFT JOIN movement m INDEXED BY movement_match ON m.kind = s.kind AND m.key = s.key AND s.key <> ''
            WHERE s.kind = $1 AND (s.key, s.line) > ($2, $3) ORDER BY s.key, s.line LIMIT \(limit)
            """, [.text(kind.rawValue), .text(after.key), .integer(Int64(after.line))]) { row in
            // The run's own file, written by this code: a missing value means the file was damaged, never a default.
            func text(_ i: Int) throws -> String { try Self.present(row.text(i), i) }
            func integer(_ i: Int) throws -> Int64 { try Self.present(row.integer(i), i) }
            let line = SettlementLine(line: Int(try integer(0)), lineID: try text(1), kind: kind, type: try text(2),
                                      orderID: try text(3), refundID: try text(4), processorID: try text(5),
                                      amount: try integer(6), fee: try integer(7), net: try integer(8), currency: try text(9),
                                      created: try text(10), settled: try text(11))
            var movement: PaymentMovement?
            if let kindText = row.text(13) {
                guard let movementKind = PaymentMovement.Kind(rawValue: kindText) else { throw Self.damaged(13) }
                let refund = try text(15)
                let processor = try text(16)
                movement = PaymentMovement(kind: movementKind, orderID: try text(14), refundID: refund.isEmpty ? nil : refund,
                                           processorID: processor.isEmpty ? nil : processor, amount: try integer(17),
                                           currency: try text(18), at: try text(19), taxDate: try text(20),
                                           ledgerTax: try integer(21), recordedTax: try integer(22), firstSeq: try integer(23))
            }
            page.append(MatchedLine(line: line, key: try text(12), movement: movement))
        }
        return page
    }

    /// Movements no settlement line settles, read in key order (the order of both indexes the check walks). A movement
    /// of nothing (an order paid wholly by gift card, a refund given back wholly to one) has nothing to settle.
    func recordMissingSettlements() async throws {
        for kind in [PaymentMovement.Kind.refund, .sale] {
            var cursor = ""
            while true {
                let rows = try await database.query("""
                    SELECT * FROM movement m WHERE m.kind = $1 AND m.key > $2 AND m.amount <> 0
                      AND NOT EXISTS (SELECT 1 FROM settlement s WHERE s.kind = m.kind AND s.key = m.key)
                    ORDER BY m.key LIMIT 10000
                    """, [.text(kind.rawValue), .text(cursor)])
                guard let last = rows.last?.text("key") else { break }
                cursor = last
                let result = try rows.map { row in
                    Difference(reason: .missingSettlement, orderID: try Self.decode(row, "order_id"), refundID: try Self.decode(row, "refund_id"),
                               processorID: try Self.decode(row, "processor_id"), expected: try Self.decode(row, "amount", as: Int64.self),
                               currency: try Self.decode(row, "currency"),
                               detail: "\(kind == .sale ? "captured" : "refunded") \(try Self.decode(row, "at", as: String.self)); no settlement line")
                }
                try await append(result)
            }
        }
    }

    /// Movements whose ledger entries do not add up to the tax the order or refund recorded, and the recomputation's
    /// differences.
    func recordLedgerDifferences() async throws {
        var result: [Difference] = []
        // No ORDER BY: the report sorts, and walking an index in key order would look every movement up in the table.
        for row in try await database.query("SELECT * FROM movement WHERE ledger_tax <> recorded_tax") {
            let (ledger, recorded): (Int64, Int64) = (try Self.decode(row, "ledger_tax"), try Self.decode(row, "recorded_tax"))
            let kind: String = try Self.decode(row, "kind")
            result.append(Difference(reason: .taxMismatch, orderID: try Self.decode(row, "order_id"), refundID: try Self.decode(row, "refund_id"),
                                     expected: recorded, actual: ledger, currency: try Self.decode(row, "currency"),
                                     detail: "the ledger holds \(MoneyText.format(ledger)), the \(kind == "sale" ? "order" : "refund") recorded \(MoneyText.format(recorded))"))
        }
        try await append(result)
        try await database.execute("""
            INSERT INTO difference (reason_order, reason, order_id, refund_id, line, settlement_id, processor_id, expected, actual, currency, detail)
            SELECT $1, $2, order_id, '', 0, '', '', expected, actual, 'USD', detail FROM tax_difference
            """, [.integer(Int64(DifferenceReason.taxMismatch.order)), .text(DifferenceReason.taxMismatch.rawValue)])
    }

    func clearDifferences() async throws {
        try await database.execute("DELETE FROM difference")
    }

    func append(_ differences: [Difference]) async throws {
        guard !differences.isEmpty else { return }
        let rows: [[SQLValue]] = differences.map {
            [.integer(Int64($0.reason.order)), .text($0.reason.rawValue), .text($0.orderID), .text($0.refundID), .integer(Int64($0.line)),
             .text($0.settlementID), .text($0.processorID), $0.expected.map { .integer($0) } ?? .null, $0.actual.map { .integer($0) } ?? .null,
             .text($0.currency), .text($0.detail)]
        }
        try await database.transaction { tx in
            try await Self.insert("difference", columns: ["reason_order", "reason", "order_id", "refund_id", "line", "settlement_id", "processor_id",
                                                         "expected", "actual", "currency", "detail"], rows: rows, in: tx)
        }
    }
}

final class CheckpointCount: @unchecked Sendable {
    private var count = 0
    private let lock = NSLock()
    func increment() -> Int { lock.withLock { count += 1; return count } }
}
