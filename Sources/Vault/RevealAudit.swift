import Crypto
import Foundation
import Storage

/// The append-only log of every reveal attempt. Each entry's hash is an HMAC (with a key derived from the master
/// key) over the previous hash and the entry, and the newest hash is kept apart as the head: editing, deleting,
/// reordering or truncating entries breaks the chain, and cannot be re-sealed without the master key.
/// Entries hold the token, never the card number.
public final class RevealAudit: Sendable {
    public struct Entry: Sendable, Hashable {
        public var seq: Int
        public var at: String
        public var actor: String
        public var token: String
        public var outcome: String
        public var purpose: String
        public var previousHash: String
        public var hash: String
    }

    public struct Verification: Sendable, Equatable, CustomStringConvertible {
        public var entries: Int
        /// The first entry that does not verify, and why; nil when the whole chain verifies.
        public var failure: (seq: Int, reason: String)?

        public static func == (a: Verification, b: Verification) -> Bool {
            a.entries == b.entries && a.failure?.seq == b.failure?.seq && a.failure?.reason == b.failure?.reason
        }

        public var description: String {
            failure.map { "audit chain broken at entry \($0.seq): \($0.reason)" } ?? "audit chain verifies: \(entries) entries"
        }
    }

    let database: any SQLDatabase
    let keyBytes: [UInt8]
    let log: String
    let settings: String

    init(database: any SQLDatabase, schema: String, key: SymmetricKey) {
        self.database = database
        keyBytes = key.withUnsafeBytes { [UInt8]($0) }
        log = database.dialect.render("{schema}reveal_audit", schema: schema)
        settings = database.dialect.render("{schema}settings", schema: schema)
    }

    static let genesis = String(repeating: "0", count: 64)

    func hash(previous: String, seq: Int, at: String, actor: String, token: String, outcome: String, purpose: String) -> String {
        // Fields are length-prefixed so no two different entries serialize the same.
        let fields = [previous, String(seq), at, actor, token, outcome, purpose].map { "\($0.utf8.count):\($0)" }.joined()
        return Vault.hex(HMAC<SHA256>.authenticationCode(for: Array(fields.utf8), using: SymmetricKey(data: keyBytes)))
    }

    func append(actor: String, token: Token, outcome: String, purpose: String, at date: Date) async throws {
        let at = Timestamp.string(date)
        let lock = database.dialect.transactionLock(log)
        do {
            try await database.transaction { tx in
                // Appends from every process take turns (the first one too, when no head row exists to lock).
                if let lock { try await tx.execute(lock.sql, lock.binds) }
                let last = try await tx.query("SELECT seq, hash FROM \(self.log) ORDER BY seq DESC LIMIT 1").first
                let seq = Int(last?.integer("seq") ?? 0) + 1
                let previous = last?.text("hash") ?? Self.genesis
                let hash = self.hash(previous: previous, seq: seq, at: at, actor: actor, token: token.value, outcome: outcome, purpose: purpose)
                try await tx.execute("""
                    INSERT INTO \(self.log) (seq, at, actor, token, outcome, purpose, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                    """, [.integer(Int64(seq)), .text(at), .text(actor), .text(token.value), .text(outcome), .text(purpose),
                          .text(previous), .text(hash)])
                try await tx.execute("INSERT INTO \(self.settings) (name, value) VALUES ('audit_head', $1) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                                     [.text("\(seq):\(hash)")])
            }
        } catch { throw StoreUnavailable.classify(error) ?? VaultError.storage(StoreErrorText.describe(error)) }
    }

    public func entries() async throws -> [Entry] {
        let rows: [SQLRow]
        do { rows = try await database.query("SELECT * FROM \(log) ORDER BY seq", []) } catch { throw VaultError.storage(StoreErrorText.describe(error)) }
        do {
            return try rows.map { row throws(RowDecodingError) in try Self.entry(row) }
        } catch { throw VaultError.corrupt("\(error)") }
    }

    static func entry(_ row: SQLRow) throws(RowDecodingError) -> Entry {
        Entry(seq: try row.decode("seq"), at: try row.decode("at"), actor: try row.decode("actor"), token: try row.decode("token"),
              outcome: try row.decode("outcome"), purpose: try row.decode("purpose"), previousHash: try row.decode("prev_hash"),
              hash: try row.decode("hash"))
    }

    public func verify() async throws -> Verification {
        let all: [Entry]
        do { all = try await entries() } catch VaultError.corrupt(let why) {
            return Verification(entries: 0, failure: (0, "an entry is altered: \(why)"))
        }
        var previous = Self.genesis
        for (i, entry) in all.enumerated() {
            if entry.seq != i + 1 { return Verification(entries: all.count, failure: (entry.seq, "expected entry \(i + 1) here (an entry was deleted or reordered)")) }
            if entry.previousHash != previous { return Verification(entries: all.count, failure: (entry.seq, "does not continue the previous entry's hash")) }
            let expected = hash(previous: previous, seq: entry.seq, at: entry.at, actor: entry.actor, token: entry.token,
                                outcome: entry.outcome, purpose: entry.purpose)
            if entry.hash != expected { return Verification(entries: all.count, failure: (entry.seq, "its contents do not match its hash (edited)")) }
            previous = entry.hash
        }
        let head: String?
        do { head = try await database.query("SELECT value FROM \(settings) WHERE name = 'audit_head'", []).first?.text("value") } catch {
            throw VaultError.storage(StoreErrorText.describe(error))
        }
        let expectedHead = all.last.map { "\($0.seq):\($0.hash)" }
        if head != expectedHead {
            return Verification(entries: all.count, failure: (all.count + 1, "the recorded head \(head ?? "none") is not the last entry (entries were removed from the end)"))
        }
        return Verification(entries: all.count, failure: nil)
    }
}
