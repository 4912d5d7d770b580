import Crypto
import Storage
import Vault

/// One immutable tax-ledger entry: a line's tax in one jurisdiction, positive for a sale, negative for a refund.
/// What a ledger entry records: a captured sale's tax, or a refund giving tax back.
public enum LedgerEntryKind: String, Sendable, Hashable {
    case sale, refund
}

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

    /// Every field after the previous hash, length-prefixed, so no two different entries serialize the same.
    func chainText(previous: String) -> [UInt8] {
        let fields = [previous, String(seq), orderID, refundID ?? "", kind, String(line), jurisdictionCode, level, rate, String(taxable),
                      String(tax), taxDate, tableVersion, at]
        return Array(fields.map { "\($0.utf8.count):\($0)" }.joined().utf8)
    }

    /// The keyed link: HMAC-SHA256 under the ledger key over the previous hash and every field.
    func computeHash(previous: String, key: LedgerKey) -> String {
        hexString(HMAC<SHA256>.authenticationCode(for: chainText(previous: previous), using: key.symmetric))
    }

    /// The unkeyed link of ledgers written before migration 7 (plain SHA-256), for re-chaining them once.
    func legacyHash(previous: String) -> String { hexString(SHA256.hash(data: chainText(previous: previous))) }

    /// Reads a stored entry; a value of the wrong type or form is an error naming the column, never a crash.
    init(row: SQLRow) throws(RowDecodingError) {
        self.init(orderID: try row.decode("order_id"), refundID: try row.decodeIfPresent("refund_id"), kind: try row.decode("kind"),
                  line: try row.decode("line_no"), jurisdictionCode: try row.decode("jurisdiction_code"), level: try row.decode("level"),
                  rate: try row.decode("rate"), taxable: try row.decode("taxable"), tax: try row.decode("tax"), taxDate: try row.decode("tax_date"),
                  tableVersion: try row.decode("table_version"), at: try row.decode("at"))
        seq = try row.decode("seq")
        previousHash = try row.decode("prev_hash")
        hash = try row.decode("hash")
    }
}

/// The keys derived from the vault's master key, each under its own label and never stored: the ledger chain's, the
/// gift card codes', and those the API uses (idempotency-key digests, console sign-in tokens).
public struct OrderKeys: Sendable {
    public let ledger: LedgerKey
    public let giftCards: GiftCardKey
    /// Keys the console's customer pseudonyms (HKDF label `customer-pseudonym-v1`).
    let pseudonyms: [UInt8]
    /// Keys the digests that stand for clients' idempotency keys holding card-number-like digits (HKDF label
    /// `idempotency-key-v1`).
    public let idempotencyDigests: [UInt8]
    /// Signs the console's sign-in form tokens (HKDF label `console-sign-in-v1`).
    public let consoleSignIn: [UInt8]

    public init(masterKey: MasterKey) {
        ledger = LedgerKey(masterKey: masterKey)
        giftCards = GiftCardKey(masterKey: masterKey)
        pseudonyms = masterKey.derivedKeyBytes(purpose: "customer-pseudonym-v1")
        idempotencyDigests = masterKey.derivedKeyBytes(purpose: "idempotency-key-v1")
        consoleSignIn = masterKey.derivedKeyBytes(purpose: "console-sign-in-v1")
    }

    /// A customer id's pseudonym: 12 bytes of HMAC-SHA256 in hex, stable for this installation, not linkable to the
    /// id without the master key.
    public func pseudonym(_ customerID: String) -> String {
        hexString(HMAC<SHA256>.authenticationCode(for: Array(customerID.utf8), using: SymmetricKey(data: pseudonyms)).prefix(12))
    }
}

/// The key of the ledger's hash chain. It never sits in the database: it is derived from the vault's master key
/// (HKDF, its own label), so whoever can write the database but does not hold the master key cannot re-seal a
/// rewritten chain.
public struct LedgerKey: Sendable {
    let bytes: [UInt8]
    var symmetric: SymmetricKey { SymmetricKey(data: bytes) }

    public init(masterKey: MasterKey) {
        bytes = masterKey.derivedKeyBytes(purpose: "ledger-chain-v1")
    }
}

/// The tax ledger's hash chain: entries are only appended; each hash is an HMAC (keyed by `LedgerKey`) over the
/// previous hash and the entry, and the newest `seq:hash` is kept as the head (in the same transaction). An edit, a
/// deletion (also at the end), a reordering, or a rewrite of the whole chain without the key breaks verification;
/// a rewrite with the key is still caught by the heads anchored in signed exports (`verifyAnchors`).
public struct Ledger: Sendable {
    public struct Verification: Sendable, Equatable, CustomStringConvertible {
        public var entries: Int
        public var brokenAt: Int?
        public var reason: String?

        public var description: String {
            brokenAt.map { "ledger broken at entry \($0): \(reason ?? "")" } ?? "ledger verifies: \(entries) entries"
        }
    }

    /// What comparing an export's anchored head with the ledger found.
    public struct AnchorCheck: Sendable, Equatable {
        public var anchor: String
        public var matches: Bool
        public var reason: String
    }

    let table: String
    let meta: String
    let dialect: SQLDialect
    let key: LedgerKey

    static let genesis = String(repeating: "0", count: 64)
    /// The chain's form, kept in `meta` as `ledger_chain`.
    static let chainForm = "hmac-sha256-v1"
    static let page = 10_000

    func append(_ entries: [LedgerEntry], in tx: any SQLExecutor) async throws {
        guard !entries.isEmpty else { return }
        for statement in appendStatements(entries, after: try await lockHead(in: tx)) { try await tx.execute(statement.sql, statement.binds) }
    }

    /// Reads the head, locking it (PostgreSQL) so that concurrent appends take turns until this transaction ends;
    /// SQLite's write transaction already holds the file.
    func lockHead(in tx: any SQLExecutor) async throws -> (seq: Int, hash: String) {
        try await head(in: tx, locking: true)
    }

    /// Reads the head; `locking` holds it (PostgreSQL) until the transaction ends. An optimistic writer reads it
    /// unlocked and appends with `commitTogether`: the entry numbers it computed collide with any appended since.
    func head(in executor: any SQLExecutor, locking: Bool) async throws -> (seq: Int, hash: String) {
        let head: String = try await executor.query("SELECT value FROM \(meta) WHERE name = 'ledger_head'" + (locking && dialect == .postgres ? " FOR UPDATE" : ""))
            .first?.decode("value") ?? ""
        guard let colon = head.firstIndex(of: ":") else { return (0, Self.genesis) }
        guard let number = Int(head[..<colon]) else { throw RowDecodingError(column: "ledger_head", expected: "seq:hash", found: "text of another form") }
        return (number, String(head[head.index(after: colon)...]))
    }

    /// The statements that append `entries` after `head` (locked by `lockHead` in the same transaction) and move
    /// the head: the entries as one multi-row insert on PostgreSQL, then the new head.
    func appendStatements(_ entries: [LedgerEntry], after head: (seq: Int, hash: String)) -> [SQLStatement] {
        guard !entries.isEmpty else { return [] }
        var seq = head.seq
        var previous = head.hash
        var rows: [[SQLValue]] = []
        rows.reserveCapacity(entries.count)
        for var entry in entries {
            seq += 1
            entry.seq = seq
            entry.hash = entry.computeHash(previous: previous, key: key)
            rows.append([.integer(Int64(seq)), .text(entry.orderID), entry.refundID.map { .text($0) } ?? .null, .text(entry.kind),
                         .integer(Int64(entry.line)), .text(entry.jurisdictionCode), .text(entry.level), .text(entry.rate), .integer(entry.taxable),
                         .integer(entry.tax), .text(entry.taxDate), .text(entry.tableVersion), .text(entry.at), .text(previous), .text(entry.hash)])
            previous = entry.hash
        }
        let insert = SQLInsert(table: table, columns: ["seq", "order_id", "refund_id", "kind", "line_no", "jurisdiction_code", "level", "rate",
                                                      "taxable", "tax", "tax_date", "table_version", "at", "prev_hash", "hash"], rows: rows)
        return insert.statements(dialect: dialect) + [SQLStatement("UPDATE \(meta) SET value = $1 WHERE name = 'ledger_head'", [.text("\(seq):\(previous)")])]
    }

    func entries(in database: any SQLExecutor, after seq: Int = 0, limit: Int? = nil) async throws -> [LedgerEntry] {
        let page = limit.map { " LIMIT \($0)" } ?? ""
        return try await database.query("SELECT * FROM \(table) WHERE seq > $1 ORDER BY seq" + page, [.integer(Int64(seq))]).map { row throws in
            try LedgerEntry(row: row)
        }
    }

    /// Walks the chain in pages, once at a time per ledger: a caller that asks while a walk of the same ledger runs
    /// shares its answer (`LedgerWalks`). A row that cannot be read (a value of the wrong type, say) is reported as
    /// altered at its place in the chain, like an edited value.
    func verify(in database: any SQLDatabase) async throws -> Verification {
        try await LedgerWalks.shared.verify("\(ObjectIdentifier(database as AnyObject)) \(table)") { try await walk(in: database) }
    }

    func walk(in database: any SQLDatabase) async throws -> Verification {
        var previous = Self.genesis
        var position = 0
        var after = Int64(0)
        while true {
            let rows = try await database.query("SELECT * FROM \(table) WHERE seq > $1 ORDER BY seq LIMIT \(Self.page)", [.integer(after)])
            for row in rows {
                position += 1
                let entry: LedgerEntry
                do { entry = try LedgerEntry(row: row) } catch {
                    return Verification(entries: position, brokenAt: position, reason: "altered: \(error)")
                }
                if entry.seq != position {
                    return Verification(entries: position, brokenAt: entry.seq, reason: "expected entry \(position) (deleted or reordered)")
                }
                if entry.previousHash != previous {
                    return Verification(entries: position, brokenAt: entry.seq, reason: "does not continue the previous hash")
                }
                if entry.computeHash(previous: previous, key: key) != entry.hash {
                    return Verification(entries: position, brokenAt: entry.seq, reason: "contents do not match the keyed hash (edited or re-chained without the key)")
                }
                previous = entry.hash
                after = Int64(entry.seq)
            }
            if rows.count < Self.page { break }
        }
        let head: String = try await database.query("SELECT value FROM \(meta) WHERE name = 'ledger_head'", []).first?.decode("value") ?? ""
        let expected = position == 0 ? "" : "\(position):\(previous)"
        if head != expected {
            return Verification(entries: position, brokenAt: position + 1,
                                reason: "the head \(head.isEmpty ? "(none)" : head) is not the last entry (entries removed from the end)")
        }
        return Verification(entries: position, brokenAt: nil, reason: nil)
    }

    /// Compares heads anchored elsewhere (`seq:hash`, as each signed export manifest records it) with the ledger:
    /// the entry at that sequence must still have that hash. A chain rewritten after an export, even by someone who
    /// holds the key, no longer matches the export's anchor.
    func verifyAnchors(_ anchors: [String], in database: any SQLDatabase) async throws -> [AnchorCheck] {
        var results: [AnchorCheck] = []
        for anchor in anchors {
            if anchor.isEmpty {
                results.append(AnchorCheck(anchor: anchor, matches: true, reason: "the export was made from an empty ledger"))
                continue
            }
            guard let colon = anchor.firstIndex(of: ":"), let seq = Int64(anchor[..<colon]) else {
                results.append(AnchorCheck(anchor: anchor, matches: false, reason: "not a seq:hash anchor"))
                continue
            }
            let hash = String(anchor[anchor.index(after: colon)...])
            guard let row = try await database.query("SELECT hash FROM \(table) WHERE seq = $1", [.integer(seq)]).first else {
                results.append(AnchorCheck(anchor: anchor, matches: false, reason: "entry \(seq) is missing from the ledger"))
                continue
            }
            let stored: String
            do { stored = try row.decode("hash") } catch {
                results.append(AnchorCheck(anchor: anchor, matches: false, reason: "entry \(seq) is altered: \(error)"))
                continue
            }
            results.append(stored == hash
                ? AnchorCheck(anchor: anchor, matches: true, reason: "entry \(seq) still has the anchored hash")
                : AnchorCheck(anchor: anchor, matches: false, reason: "entry \(seq) has another hash than the export anchored (rewritten since)"))
        }
        return results
    }

    /// Once per store: a ledger chained with plain SHA-256 (before migration 7) is checked as it was, then chained
    /// again under the key, and its old head is kept in `meta` as `ledger_unkeyed_head` for the record. A broken
    /// unkeyed chain is not re-sealed: the migration stops and says where it breaks.
    func upgradeChain(in database: any SQLDatabase) async throws {
        let form: String? = try await database.query("SELECT value FROM \(meta) WHERE name = 'ledger_chain'").first?.decode("value")
        if form == Self.chainForm { return }
        try await database.transaction { [self] tx in
            let oldHead: String = try await tx.query("SELECT value FROM \(meta) WHERE name = 'ledger_head'" + (dialect == .postgres ? " FOR UPDATE" : ""))
                .first?.decode("value") ?? ""
            var legacyPrevious = Self.genesis
            var previous = Self.genesis
            var after = 0
            var count = 0
            while true {
                let page = try await entries(in: tx, after: after, limit: Self.page)
                for var entry in page {
                    count += 1
                    guard entry.seq == count, entry.previousHash == legacyPrevious, entry.legacyHash(previous: legacyPrevious) == entry.hash else {
                        throw LedgerMigrationError(seq: entry.seq)
                    }
                    legacyPrevious = entry.hash
                    entry.hash = entry.computeHash(previous: previous, key: key)
                    try await tx.execute("UPDATE \(table) SET prev_hash = $1, hash = $2 WHERE seq = $3",
                                         [.text(previous), .text(entry.hash), .integer(Int64(entry.seq))])
                    previous = entry.hash
                }
                if page.count < Self.page { break }
                after = page.last?.seq ?? after
            }
            let legacyHead = count == 0 ? "" : "\(count):\(legacyPrevious)"
            guard oldHead == legacyHead else { throw LedgerMigrationError(seq: count + 1) }
            try await tx.execute("UPDATE \(meta) SET value = $1 WHERE name = 'ledger_head'", [.text(count == 0 ? "" : "\(count):\(previous)")])
            let upsert = "INSERT INTO \(meta) (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value"
            try await tx.execute(upsert, [.text("ledger_unkeyed_head"), .text(oldHead)])
            try await tx.execute(upsert, [.text("ledger_chain"), .text(Self.chainForm)])
        }
    }
}

/// The unkeyed ledger of an older store does not verify, so it is not re-chained under the key.
public struct LedgerMigrationError: Error, Sendable, CustomStringConvertible {
    public var seq: Int
    public var description: String {
        "the ledger's unkeyed chain breaks at entry \(seq); it was not re-chained under the key (investigate before migrating)"
    }
}

/// The ledger verifications running in this process, one per ledger: a verification reads every entry (hundreds of
/// thousands), so callers that ask while one runs wait for its answer instead of starting another; concurrent
/// requests to `GET /v1/ledger/verification` otherwise each read the whole ledger and together held every core.
actor LedgerWalks {
    static let shared = LedgerWalks()
    private var running: [String: Task<Ledger.Verification, any Error>] = [:]
    /// How many walks were started and how many callers shared one, by ledger (for tests).
    private(set) var started: [String: Int] = [:], shared: [String: Int] = [:]

    func verify(_ ledger: String, _ walk: @escaping @Sendable () async throws -> Ledger.Verification) async throws -> Ledger.Verification {
        if let task = running[ledger] {
            shared[ledger, default: 0] += 1
            return try await task.value
        }
        // Unstructured: a caller that goes away (a closed connection) does not cancel the others' answer.
        let task = Task { try await walk() }
        running[ledger] = task
        started[ledger, default: 0] += 1
        defer { running[ledger] = nil }
        return try await task.value
    }
}
