import Foundation
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
                CREATE TABLE IF NOT EXISTS movement (kind TEXT NOT NULL, key TEXT NOT NULL, order_id TEXT NOT NULL, refund_id TEXT NOT NULL,
                  processor_id TEXT NOT NULL, amount INTEGER NOT NULL, currency TEXT NOT NULL, at TEXT NOT NULL, tax_date TEXT NOT NULL,
                  ledger_tax INTEGER NOT NULL, recorded_tax INTEGER NOT NULL, first_seq INTEGER NOT NULL, PRIMARY KEY (kind, key))
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

    /// Inserts rows of `columns` values, many rows per statement.
    static func insert(_ table: String, columns: [String], rows: [[SQLValue]], in tx: any SQLExecutor, suffix: String = "") async throws {
        let perStatement = max(1, 900 / columns.count)
        var start = 0
        while start < rows.count {
            let chunk = rows[start..<min(start + perStatement, rows.count)]
            var placeholders: [String] = []
            var n = 0
            for _ in chunk {
                placeholders.append("(" + columns.indices.map { _ in n += 1; return "$\(n)" }.joined(separator: ", ") + ")")
            }
            try await tx.execute("INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES \(placeholders.joined(separator: ", ")) \(suffix)",
                                 chunk.flatMap { $0 })
            start += perStatement
        }
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

    /// A movement split across two ledger windows arrives in two parts: the second adds its ledger tax to the first.
    func upsertMovements(_ movements: [PaymentMovement], checkpoint: [String: String]) async throws {
        let rows: [[SQLValue]] = movements.map { m in
            [.text(m.kind.rawValue), .text(m.key), .text(m.orderID), .text(m.refundID ?? ""), .text(m.processorID ?? ""), .integer(m.amount),
             .text(m.currency), .text(m.at), .text(m.taxDate), .integer(m.ledgerTax), .integer(m.recordedTax), .integer(m.firstSeq)]
        }
        try await database.transaction { tx in
            try await Self.insert("movement", columns: ["kind", "key", "order_id", "refund_id", "processor_id", "amount", "currency", "at", "tax_date",
                                                       "ledger_tax", "recorded_tax", "first_seq"], rows: rows, in: tx,
                                  suffix: "ON CONFLICT (kind, key) DO UPDATE SET ledger_tax = movement.ledger_tax + excluded.ledger_tax, at = MIN(movement.at, excluded.at)")
            try await Self.set(checkpoint, in: tx)
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
            try await tx.execute("CREATE INDEX IF NOT EXISTS settlement_key ON settlement (kind, key, line)")
            try await tx.execute("CREATE INDEX IF NOT EXISTS movement_processor ON movement (processor_id)")
            try await tx.execute("""
                UPDATE settlement SET key = (SELECT m.key FROM movement m WHERE m.kind = settlement.kind AND m.processor_id = settlement.processor_id)
                WHERE key = '' AND processor_id <> '' AND kind IN ('sale', 'refund')
                  AND EXISTS (SELECT 1 FROM movement m WHERE m.kind = settlement.kind AND m.processor_id = settlement.processor_id)
                """)
        }
    }

    struct MatchedLine {
        var line: SettlementLine
        /// The first line settling the same key (this line when it is the first).
        var firstLine: Int
        var movement: PaymentMovement?
    }

    /// Sale and refund lines after `line`, each with the first line of its key and its movement, if any. (`+s.kind`
    /// keeps SQLite on the line range: through the key index it sorted every line of the file for every page.)
    func linesWithMovements(after line: Int, limit: Int) async throws -> [MatchedLine] {
        let rows = try await database.query("""
            SELECT s.*, CASE WHEN s.key = '' THEN s.line ELSE (SELECT MIN(d.line) FROM settlement d WHERE d.kind = s.kind AND d.key = s.key) END AS first_line,
              m.kind AS m_kind, m.order_id AS m_order, m.refund_id AS m_refund, m.processor_id AS m_processor, m.amount AS m_amount,
              m.currency AS m_currency, m.at AS m_at, m.tax_date AS m_tax_date, m.ledger_tax AS m_ledger_tax, m.recorded_tax AS m_recorded_tax,
              m.first_seq AS m_first_seq
            FROM settlement s LEFT JOIN movement m ON m.kind = s.kind AND m.key = s.key AND s.key <> ''
            WHERE s.line > $1 AND +s.kind IN ('sale', 'refund') ORDER BY s.line LIMIT \(limit)
            """, [.integer(Int64(line))])
        return rows.map { row in
            let line = Self.line(row)
            var movement: PaymentMovement?
            if let kind = row.text("m_kind").flatMap(PaymentMovement.Kind.init(rawValue:)) {
                let refund = row.text("m_refund") ?? ""
                let processor = row.text("m_processor") ?? ""
                movement = PaymentMovement(kind: kind, orderID: row.text("m_order") ?? "", refundID: refund.isEmpty ? nil : refund,
                                           processorID: processor.isEmpty ? nil : processor, amount: row.integer("m_amount") ?? 0,
                                           currency: row.text("m_currency") ?? "", at: row.text("m_at") ?? "", taxDate: row.text("m_tax_date") ?? "",
                                           ledgerTax: row.integer("m_ledger_tax") ?? 0, recordedTax: row.integer("m_recorded_tax") ?? 0,
                                           firstSeq: row.integer("m_first_seq") ?? 0)
            }
            return MatchedLine(line: line, firstLine: Int(row.integer("first_line") ?? Int64(line.line)), movement: movement)
        }
    }

    static func line(_ row: SQLRow) -> SettlementLine {
        SettlementLine(line: Int(row.integer("line") ?? 0), lineID: row.text("line_id") ?? "",
                       kind: row.text("kind").flatMap(SettlementLine.Kind.init(rawValue:)) ?? .other, type: row.text("type") ?? "",
                       orderID: row.text("order_id") ?? "", refundID: row.text("refund_id") ?? "", processorID: row.text("processor_id") ?? "",
                       amount: row.integer("amount") ?? 0, fee: row.integer("fee") ?? 0, net: row.integer("net") ?? 0,
                       currency: row.text("currency") ?? "", created: row.text("created") ?? "", settled: row.text("settled") ?? "")
    }

    /// Movements no settlement line settles.
    func recordMissingSettlements() async throws {
        var cursor: Int64 = 0
        while true {
            let rows = try await database.query("""
                SELECT rowid AS r, * FROM movement m WHERE rowid > $1
                  AND NOT EXISTS (SELECT 1 FROM settlement s WHERE s.kind = m.kind AND s.key = m.key)
                ORDER BY rowid LIMIT 10000
                """, [.integer(cursor)])
            guard let last = rows.last?.integer("r") else { return }
            cursor = last
            var result: [Difference] = []
            for row in rows {
                let kind = row.text("kind") ?? ""
                result.append(Difference(reason: .missingSettlement, orderID: row.text("order_id") ?? "", refundID: row.text("refund_id") ?? "",
                                         processorID: row.text("processor_id") ?? "", expected: row.integer("amount"), currency: row.text("currency") ?? "",
                                         detail: "\(kind == "sale" ? "captured" : "refunded") \(row.text("at") ?? ""); no settlement line"))
            }
            try await append(result)
        }
    }

    /// Movements whose ledger entries do not add up to the tax the order or refund recorded, and the recomputation's
    /// differences.
    func recordLedgerDifferences() async throws {
        var result: [Difference] = []
        for row in try await database.query("SELECT * FROM movement WHERE ledger_tax <> recorded_tax ORDER BY kind, key") {
            result.append(Difference(reason: .taxMismatch, orderID: row.text("order_id") ?? "", refundID: row.text("refund_id") ?? "",
                                     expected: row.integer("recorded_tax"), actual: row.integer("ledger_tax"), currency: row.text("currency") ?? "",
                                     detail: "the ledger holds \(MoneyText.format(row.integer("ledger_tax") ?? 0)), the \(row.text("kind") == "sale" ? "order" : "refund") recorded \(MoneyText.format(row.integer("recorded_tax") ?? 0))"))
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
