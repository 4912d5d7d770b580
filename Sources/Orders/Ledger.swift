import Crypto
import Storage

/// One immutable tax-ledger entry: a line's tax in one jurisdiction, positive for a sale, negative for a refund.
public struct LedgerEntry: Sendable, Hashable {
    public var seq: Int = 0
    public var orderID: String
    public var refundID: String?
    public var kind: String
    public var line: Int
    public var jurisdictionCode: String
    public var level: String
    public var rate: String
    public var taxable: Int64
    public var tax: Int64
    public var taxDate: String
    public var tableVersion: String
    public var at: String
    public var previousHash: String = ""
    public var hash: String = ""

    init(orderID: String, refundID: String?, kind: String, line: Int, jurisdictionCode: String, level: String, rate: String,
         taxable: Int64, tax: Int64, taxDate: String, tableVersion: String, at: String) {
        self.orderID = orderID
        self.refundID = refundID
        self.kind = kind
        self.line = line
        self.jurisdictionCode = jurisdictionCode
        self.level = level
        self.rate = rate
        self.taxable = taxable
        self.tax = tax
        self.taxDate = taxDate
        self.tableVersion = tableVersion
        self.at = at
    }

    /// SHA-256 over the previous hash and every field, length-prefixed.
    func computeHash(previous: String) -> String {
        let fields = [previous, String(seq), orderID, refundID ?? "", kind, String(line), jurisdictionCode, level, rate, String(taxable),
                      String(tax), taxDate, tableVersion, at]
        let text = fields.map { "\($0.utf8.count):\($0)" }.joined()
        return SHA256.hash(data: Array(text.utf8)).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}

/// The tax ledger's hash chain: entries are only appended; each hash covers the previous one, and the newest
/// `seq:hash` is kept as the head (in the same transaction), so an edit, a deletion (also at the end) or a
/// reordering breaks verification.
public struct Ledger: Sendable {
    public struct Verification: Sendable, Equatable, CustomStringConvertible {
        public var entries: Int
        public var brokenAt: Int?
        public var reason: String?

        public var description: String {
            brokenAt.map { "ledger broken at entry \($0): \(reason ?? "")" } ?? "ledger verifies: \(entries) entries"
        }
    }

    let table: String
    let meta: String
    let dialect: SQLDialect

    static let genesis = String(repeating: "0", count: 64)

    func append(_ entries: [LedgerEntry], in tx: any SQLExecutor) async throws {
        guard !entries.isEmpty else { return }
        // Lock the head (PostgreSQL) so concurrent appends take turns; SQLite's transaction already holds the file.
        let head = try await tx.query("SELECT value FROM \(meta) WHERE name = 'ledger_head'" + (dialect == .postgres ? " FOR UPDATE" : ""))
            .first?.text("value") ?? ""
        var seq = 0
        var previous = Self.genesis
        if let colon = head.firstIndex(of: ":") {
            seq = Int(head[..<colon]) ?? 0
            previous = String(head[head.index(after: colon)...])
        }
        for var entry in entries {
            seq += 1
            entry.seq = seq
            entry.hash = entry.computeHash(previous: previous)
            try await tx.execute("""
                INSERT INTO \(table) (seq, order_id, refund_id, kind, line_no, jurisdiction_code, level, rate, taxable, tax, tax_date,
                  table_version, at, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
                """, [.integer(Int64(seq)), .text(entry.orderID), entry.refundID.map { .text($0) } ?? .null, .text(entry.kind),
                      .integer(Int64(entry.line)), .text(entry.jurisdictionCode), .text(entry.level), .text(entry.rate), .integer(entry.taxable),
                      .integer(entry.tax), .text(entry.taxDate), .text(entry.tableVersion), .text(entry.at), .text(previous), .text(entry.hash)])
            previous = entry.hash
        }
        try await tx.execute("UPDATE \(meta) SET value = $1 WHERE name = 'ledger_head'", [.text("\(seq):\(previous)")])
    }

    func entries(in database: any SQLDatabase, after seq: Int = 0, limit: Int? = nil) async throws -> [LedgerEntry] {
        let page = limit.map { " LIMIT \($0)" } ?? ""
        return try await database.query("SELECT * FROM \(table) WHERE seq > $1 ORDER BY seq" + page, [.integer(Int64(seq))]).map { row in
            var entry = LedgerEntry(orderID: row.text("order_id")!, refundID: row.text("refund_id"), kind: row.text("kind")!,
                                    line: Int(row.integer("line_no")!), jurisdictionCode: row.text("jurisdiction_code")!, level: row.text("level")!,
                                    rate: row.text("rate")!, taxable: row.integer("taxable")!, tax: row.integer("tax")!,
                                    taxDate: row.text("tax_date")!, tableVersion: row.text("table_version")!, at: row.text("at")!)
            entry.seq = Int(row.integer("seq")!)
            entry.previousHash = row.text("prev_hash")!
            entry.hash = row.text("hash")!
            return entry
        }
    }

    func verify(in database: any SQLDatabase) async throws -> Verification {
        let all = try await entries(in: database)
        var previous = Self.genesis
        for (i, entry) in all.enumerated() {
            if entry.seq != i + 1 { return Verification(entries: all.count, brokenAt: entry.seq, reason: "expected entry \(i + 1) (deleted or reordered)") }
            if entry.previousHash != previous { return Verification(entries: all.count, brokenAt: entry.seq, reason: "does not continue the previous hash") }
            if entry.computeHash(previous: previous) != entry.hash { return Verification(entries: all.count, brokenAt: entry.seq, reason: "contents do not match the hash (edited)") }
            previous = entry.hash
        }
        let head = try await database.query("SELECT value FROM \(meta) WHERE name = 'ledger_head'", []).first?.text("value") ?? ""
        let expected = all.last.map { "\($0.seq):\($0.hash)" } ?? ""
        if head != expected {
            return Verification(entries: all.count, brokenAt: all.count + 1, reason: "the head \(head.isEmpty ? "(none)" : head) is not the last entry (entries removed from the end)")
        }
        return Verification(entries: all.count, brokenAt: nil, reason: nil)
    }
}
