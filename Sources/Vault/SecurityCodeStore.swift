import Crypto
import Foundation
import Storage

/// Security codes (CVV/CVC) between tokenization and the one authorization that uses them, shared by every process
/// on the vault's store: a code given to one `levy serve` can be used by an authorization in another.
///
/// PCI DSS 3.3.2 allows sensitive authentication data to be kept before authorization only when it is encrypted
/// with strong cryptography. Here each code is sealed with AES-256-GCM under a *short-lived* key (the token and the
/// key's id as associated data). A key seals new codes for one code lifetime (15 minutes by default); it is stored
/// wrapped under a key derived from the master key and deleted one lifetime after its last use, so a code outlives
/// neither its own expiry nor its key. A code is read and deleted in one statement (`DELETE … RETURNING`): one
/// authorization uses it, never two. Expired codes and keys are deleted as processes tokenize and authorize.
actor SecurityCodeStore {
    private let database: any SQLDatabase
    private let codes: String
    private let keys: String
    private let wrappingKey: SymmetricKey
    private let lifetime: TimeInterval
    private let now: @Sendable () -> Date
    /// The key this process seals new codes with, until `useUntil`.
    private var current: (id: String, key: SymmetricKey, useUntil: Date)?
    /// Keys unwrapped so far, by id (each lives at most two lifetimes, so the cache stays small).
    private var unwrapped: [String: (key: SymmetricKey, deleteAfter: Date)] = [:]
    private var lastPurge = Date.distantPast

    init(database: any SQLDatabase, schema: String, masterKey: MasterKey, lifetime: TimeInterval, now: @escaping @Sendable () -> Date) {
        self.database = database
        codes = database.dialect.render("{schema}security_codes", schema: schema)
        keys = database.dialect.render("{schema}security_code_keys", schema: schema)
        wrappingKey = masterKey.derived("security-code-key-wrapping-v1")
        self.lifetime = lifetime
        self.now = now
    }

    /// Holds `digits` for `token` until they are taken or expire (a second code for the same token replaces the first).
    func put(_ digits: [UInt8], for token: Token) async throws {
        let at = now()
        try await purgeIfDue(at)
        let key = try await sealingKey(at)
        let sealed: [UInt8]
        do {
            sealed = [UInt8](try AES.GCM.seal(digits, using: key.key, authenticating: Self.associatedData(token, keyID: key.id)).combined!)
        } catch { throw VaultError.decryptionFailed }
        try await run("""
            INSERT INTO \(codes) (token, key_id, ciphertext, expires_at) VALUES ($1, $2, $3, $4)
            ON CONFLICT (token) DO UPDATE SET key_id = excluded.key_id, ciphertext = excluded.ciphertext, expires_at = excluded.expires_at
            """, [.text(token.value), .text(key.id), .blob(sealed), .text(Timestamp.string(at.addingTimeInterval(lifetime)))])
    }

    /// The code for `token`, deleted as it is read; nil when there is none, it has expired, or its key is gone.
    func take(_ token: Token) async throws -> [UInt8]? {
        let at = now()
        let rows = try await run("DELETE FROM \(codes) WHERE token = $1 RETURNING key_id, ciphertext, expires_at", [.text(token.value)])
        guard let row = rows.first else { return nil }
        let keyID: String
        let ciphertext: [UInt8]
        let expires: Date
        do {
            keyID = try row.decode("key_id")
            ciphertext = try row.decode("ciphertext")
            expires = try row.decode("expires_at", expected: "a UTC timestamp", Timestamp.date)
        } catch { throw VaultError.corrupt("security code of a token: \(error)") }
        guard expires > at, let key = try await key(keyID, at) else { return nil }
        do {
            let plain = try AES.GCM.open(try AES.GCM.SealedBox(combined: ciphertext), using: key,
                                         authenticating: Self.associatedData(token, keyID: keyID))
            return [UInt8](plain)
        } catch { throw VaultError.decryptionFailed }
    }

    /// Whether an unexpired code is held for `token`.
    func contains(_ token: Token) async throws -> Bool {
        try await !run("SELECT 1 AS held FROM \(codes) WHERE token = $1 AND expires_at > $2",
                       [.text(token.value), .text(Timestamp.string(now()))]).isEmpty
    }

    /// Deletes expired codes, and keys no code can still need; returns how many codes went.
    @discardableResult
    func purge() async throws -> Int {
        let at = Timestamp.string(now())
        let expired = try await run("DELETE FROM \(codes) WHERE expires_at <= $1 RETURNING token", [.text(at)]).count
        try await run("DELETE FROM \(keys) WHERE delete_after <= $1", [.text(at)])
        unwrapped = unwrapped.filter { $0.value.deleteAfter > now() }
        lastPurge = now()
        return expired
    }

    // MARK: - Keys

    /// The key to seal with now: this process's current one, else one another process made that is still in use,
    /// else a new one. Two processes making one each at the same moment is harmless: each code names its key.
    private func sealingKey(_ at: Date) async throws -> (id: String, key: SymmetricKey) {
        if let current, current.useUntil > at { return (current.id, current.key) }
        let found = try await run("SELECT id, wrapped_key, use_until, delete_after FROM \(keys) WHERE use_until > $1 ORDER BY use_until DESC LIMIT 1",
                                  [.text(Timestamp.string(at))])
        if let row = found.first {
            let id: String
            let useUntil: Date
            do {
                id = try row.decode("id")
                useUntil = try row.decode("use_until", expected: "a UTC timestamp", Timestamp.date)
            } catch { throw VaultError.corrupt("security code key: \(error)") }
            if let key = try unwrap(row) {
                current = (id, key, useUntil)
                return (id, key)
            }
        }
        let id = "sck_" + hexString((0..<12).map { _ in UInt8.random(in: 0...255) })
        let key = SymmetricKey(size: .bits256)
        let useUntil = at.addingTimeInterval(lifetime)
        // Codes sealed up to `useUntil` live one lifetime more; the key goes after that.
        let deleteAfter = useUntil.addingTimeInterval(lifetime)
        let wrapped: [UInt8]
        do {
            wrapped = [UInt8](try AES.GCM.seal(key.withUnsafeBytes { [UInt8]($0) }, using: wrappingKey,
                                               authenticating: Array("levy-security-code-key|\(id)".utf8)).combined!)
        } catch { throw VaultError.decryptionFailed }
        try await run("INSERT INTO \(keys) (id, wrapped_key, created_at, use_until, delete_after) VALUES ($1, $2, $3, $4, $5)",
                      [.text(id), .blob(wrapped), .text(Timestamp.string(at)), .text(Timestamp.string(useUntil)),
                       .text(Timestamp.string(deleteAfter))])
        current = (id, key, useUntil)
        unwrapped[id] = (key, deleteAfter)
        return (id, key)
    }

    /// The key `id`, from this process's cache or the store; nil when it has been deleted.
    private func key(_ id: String, _ at: Date) async throws -> SymmetricKey? {
        if let cached = unwrapped[id], cached.deleteAfter > at { return cached.key }
        guard let row = try await run("SELECT id, wrapped_key, use_until, delete_after FROM \(keys) WHERE id = $1 AND delete_after > $2",
                                      [.text(id), .text(Timestamp.string(at))]).first else { return nil }
        return try unwrap(row)
    }

    private func unwrap(_ row: SQLRow) throws -> SymmetricKey? {
        let id: String
        let wrapped: [UInt8]
        let deleteAfter: Date
        do {
            id = try row.decode("id")
            wrapped = try row.decode("wrapped_key")
            deleteAfter = try row.decode("delete_after", expected: "a UTC timestamp", Timestamp.date)
        } catch { throw VaultError.corrupt("security code key: \(error)") }
        let key: SymmetricKey
        do {
            key = SymmetricKey(data: try AES.GCM.open(try AES.GCM.SealedBox(combined: wrapped), using: wrappingKey,
                                                      authenticating: Array("levy-security-code-key|\(id)".utf8)))
        } catch { throw VaultError.masterKeyMismatch }
        unwrapped[id] = (key, deleteAfter)
        return key
    }

    private func purgeIfDue(_ at: Date) async throws {
        if at.timeIntervalSince(lastPurge) >= 60 { try await purge() }
    }

    private static func associatedData(_ token: Token, keyID: String) -> [UInt8] { Array("levy-security-code|\(token.value)|\(keyID)".utf8) }

    @discardableResult
    private func run(_ sql: String, _ binds: [SQLValue] = []) async throws -> [SQLRow] {
        do { return try await database.query(sql, binds) } catch { throw VaultError.storage("\(error)") }
    }
}
