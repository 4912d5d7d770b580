import Crypto
import Foundation
import Storage

/// What a caller of the vault may do.
public enum VaultPermission: String, Sendable, CaseIterable {
    case tokenize
    /// Decrypt a card number: only the payment processor path holds it.
    case reveal
    case admin
}

/// Who is calling the vault, as recorded in the reveal audit.
public struct VaultCaller: Sendable, Hashable {
    public var id: String
    public var permissions: Set<VaultPermission>

    public init(id: String, permissions: Set<VaultPermission>) {
        self.id = id
        self.permissions = permissions
    }
}

/// A tokenized card as everyone but the processor adapter sees it: BIN and last four at most.
public struct CardRecord: Sendable, Hashable, CustomStringConvertible {
    public var token: Token
    public var brand: CardBrand
    public var bin: String
    public var lastFour: String
    public var expiry: CardExpiry
    /// Keyed (HMAC) fingerprint: the same card gives the same fingerprint in this vault, nothing outside it.
    public var fingerprint: String
    public var keyVersion: Int
    public var created: Date
    public var expires: Date?

    public var description: String { "\(token) \(brand.rawValue) \(bin)…\(lastFour) exp \(expiry.month)/\(expiry.year)" }
}

/// A card number decrypted for the processor adapter. Only the vault creates one, and only through an audited
/// reveal; its description stays masked.
public struct RevealedCard: Sendable, CustomStringConvertible {
    public let token: Token
    public let number: CardNumber
    public let expiry: CardExpiry
    /// The security code given at tokenization, if it was still held; it is released to one authorization only.
    public let securityCode: String?

    /// The digits, for the processor's wire format only.
    public var digitsForProcessor: String { String(decoding: number.asciiBytes, as: UTF8.self) }

    public var description: String { "revealed \(number)" }
}

/// Why the vault refused. No case carries a card number or security code.
public enum VaultError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidCard(CardValidationError)
    case unknownToken
    case permissionDenied(caller: String, needs: VaultPermission)
    case keyVersionRetired(Int)
    case unknownKeyVersion(Int)
    case decryptionFailed
    case masterKeyMismatch
    case storage(String)
    /// A stored row that cannot be read as what it should hold: reported, never replaced by a default.
    case corrupt(String)

    public var description: String {
        switch self {
        case .invalidCard(let error): "invalid card: \(error)"
        case .unknownToken: "no such token"
        case .permissionDenied(let caller, let needs): "\(caller) lacks the \(needs.rawValue) permission"
        case .keyVersionRetired(let v): "key version \(v) is below the minimum decryption version"
        case .unknownKeyVersion(let v): "key version \(v) is not in this vault"
        case .decryptionFailed: "the ciphertext does not authenticate for this token (altered or moved)"
        case .masterKeyMismatch: "the master key does not match this vault"
        case .storage(let message): "vault storage: \(message)"
        case .corrupt(let message): "a stored vault record cannot be read: \(message)"
        }
    }
}

/// The card vault: validates and tokenizes card numbers, keeps them AES-256-GCM encrypted under numbered data
/// keys wrapped by the master key, and reveals them only to a caller with the reveal permission, recording every
/// attempt in a hash-chained audit log. See docs/vault.md.
public actor Vault {
    public struct Configuration: Sendable {
        /// The vault's own SQLite file, used when no database is given to `open`.
        public var databasePath: String
        /// The vault's namespace: a PostgreSQL schema, or a table-name prefix in SQLite.
        public var schema: String
        public var masterKey: MasterKey
        /// How long a token lives before `purgeExpired` removes it; nil keeps tokens until deleted.
        public var tokenLifetime: TimeInterval?
        public var securityCodeLifetime: TimeInterval
        public var now: @Sendable () -> Date

        public init(databasePath: String = "", schema: String = "vault", masterKey: MasterKey, tokenLifetime: TimeInterval? = nil,
                    securityCodeLifetime: TimeInterval = 900, now: @escaping @Sendable () -> Date = { Date() }) {
            self.databasePath = databasePath
            self.schema = schema
            self.masterKey = masterKey
            self.tokenLifetime = tokenLifetime
            self.securityCodeLifetime = securityCodeLifetime
            self.now = now
        }
    }

    let database: any SQLDatabase
    let configuration: Configuration
    let wrappingKey: SymmetricKey
    let fingerprintKey: SymmetricKey
    let audit: RevealAudit
    let securityCodes: SecurityCodeStore
    var dataKeys: [Int: SymmetricKey] = [:]
    var currentVersion = 0
    var minimumDecryptionVersion = 1

    public static func migrations(schema: String) -> Migrations {
        Migrations(schema: schema, [
            .init(version: 1, name: "vault", statements: [
                "CREATE TABLE {schema}settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
                "CREATE TABLE {schema}key_versions (version {bigint} PRIMARY KEY, wrapped_key {blob} NOT NULL, created_at TEXT NOT NULL)",
                """
                CREATE TABLE {schema}tokens (token TEXT PRIMARY KEY, key_version {bigint} NOT NULL REFERENCES {schema}key_versions(version),
                  ciphertext {blob} NOT NULL, fingerprint TEXT NOT NULL, brand TEXT NOT NULL, bin TEXT NOT NULL, last4 TEXT NOT NULL,
                  exp_month {bigint} NOT NULL, exp_year {bigint} NOT NULL, created_at TEXT NOT NULL, expires_at TEXT)
                """,
                "CREATE INDEX {index}tokens_fingerprint ON {schema}tokens (fingerprint)",
                """
                CREATE TABLE {schema}reveal_audit (seq {bigint} PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, token TEXT NOT NULL,
                  outcome TEXT NOT NULL, purpose TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)
                """,
            ]),
            // Security codes shared by every process (SecurityCodeStore), each sealed under a short-lived key.
            .init(version: 2, name: "security codes under short-lived keys", statements: [
                """
                CREATE TABLE {schema}security_code_keys (id TEXT PRIMARY KEY, wrapped_key {blob} NOT NULL, created_at TEXT NOT NULL,
                  use_until TEXT NOT NULL, delete_after TEXT NOT NULL)
                """,
                """
                CREATE TABLE {schema}security_codes (token TEXT PRIMARY KEY, key_id TEXT NOT NULL, ciphertext {blob} NOT NULL,
                  expires_at TEXT NOT NULL)
                """,
                "CREATE INDEX {index}security_codes_expires ON {schema}security_codes (expires_at)",
            ]),
        ])
    }

    /// Opens (creating if needed) the vault: its own SQLite file (`databasePath`), or its own schema in the given
    /// database. Checks the master key against the vault and unwraps the data keys; a new vault gets key version 1.
    public static func open(_ configuration: Configuration, database: (any SQLDatabase)? = nil) async throws -> Vault {
        let db: any SQLDatabase
        if let database { db = database } else {
            do { db = try SQLiteDatabase(path: configuration.databasePath) } catch { throw VaultError.storage(error.description) }
        }
        do { try await migrations(schema: configuration.schema).apply(to: db, now: configuration.now()) } catch {
            throw VaultError.storage(StoreErrorText.describe(error))
        }
        let vault = Vault(configuration, database: db)
        try await vault.load()
        return vault
    }

    private init(_ configuration: Configuration, database: any SQLDatabase) {
        self.configuration = configuration
        self.database = database
        wrappingKey = configuration.masterKey.derived("data-key-wrapping-v1")
        fingerprintKey = configuration.masterKey.derived("card-fingerprint-v1")
        audit = RevealAudit(database: database, schema: configuration.schema, key: configuration.masterKey.derived("reveal-audit-v1"))
        securityCodes = SecurityCodeStore(database: database, schema: configuration.schema, masterKey: configuration.masterKey,
                                          lifetime: configuration.securityCodeLifetime, now: configuration.now)
    }

    private func load() async throws {
        // A check value tells a wrong master key from a damaged vault.
        let check = Self.hex(HMAC<SHA256>.authenticationCode(for: Array("levy-vault-master-key-check".utf8),
                                                             using: configuration.masterKey.derived("key-check-v1")))
        let stored = try await setting("master_key_check")
        if let stored, stored != check { throw VaultError.masterKeyMismatch }
        if stored == nil { try await setSetting("master_key_check", check) }
        minimumDecryptionVersion = Int(try await setting("min_decrypt_version") ?? "1") ?? 1
        try await loadKeyVersions()
        if currentVersion == 0 { try await addKeyVersion(onlyIfNone: true) }
    }

    /// Reads and unwraps every data-key version in the store (another process may have added one since).
    private func loadKeyVersions() async throws {
        for row in try await rows("SELECT version, wrapped_key FROM \(table("key_versions")) ORDER BY version") {
            let version: Int
            let wrapped: [UInt8]
            do {
                version = try row.decode("version")
                wrapped = try row.decode("wrapped_key")
            } catch { throw VaultError.corrupt("\(error)") }
            if dataKeys[version] == nil {
                do {
                    let box = try AES.GCM.SealedBox(combined: wrapped)
                    let key = try AES.GCM.open(box, using: wrappingKey, authenticating: Array("levy-data-key-v\(version)".utf8))
                    dataKeys[version] = SymmetricKey(data: key)
                } catch {
                    throw VaultError.masterKeyMismatch
                }
            }
            currentVersion = max(currentVersion, version)
        }
    }

    /// Another vault in this one's store, under its own namespace and data keys (a merchant's own vault: its tokens
    /// are nobody else's).
    public nonisolated func sibling(schema: String) async throws -> Vault {
        var other = configuration
        other.schema = schema
        return try await Vault.open(other, database: database)
    }

    /// The dialect's name of one of the vault's tables.
    nonisolated func table(_ name: String) -> String { database.dialect.render("{schema}\(name)", schema: configuration.schema) }

    // MARK: - Tokenize and read

    /// Validates and tokenizes a card. The security code, if given, is held sealed for one authorization (SecurityCodeStore).
    public func tokenize(number: String, expiry month: Int, _ year: Int, securityCode: String? = nil,
                         caller: VaultCaller) async throws -> CardRecord {
        guard caller.permissions.contains(.tokenize) else { throw VaultError.permissionDenied(caller: caller.id, needs: .tokenize) }
        let card: CardNumber
        let expiry: CardExpiry
        do {
            card = try CardNumber(number)
            expiry = try CardExpiry(month: month, year: year)
            let today = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: configuration.now())
            if expiry.isExpired(asOf: today.year!, month: today.month!) { throw CardValidationError.expired }
            if let securityCode, !(3...4).contains(securityCode.utf8.count) || !securityCode.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) {
                throw CardValidationError.invalidCVV
            }
        } catch let error as CardValidationError {
            throw VaultError.invalidCard(error)
        }
        let token = Token.random()
        let now = configuration.now()
        // Sealed under the store's newest version: `levy vault rotate` runs in a process of its own, and a server that
        // kept the version it opened with sealed new cards under it until `retire` made them unusable (probe #17).
        let newest = try await rows("SELECT MAX(version) AS v FROM \(table("key_versions"))").first?.integer("v").map(Int.init) ?? currentVersion
        if newest > currentVersion { try await loadKeyVersions() }
        let version = currentVersion
        let record = CardRecord(token: token, brand: card.brand, bin: card.bin, lastFour: card.lastFour, expiry: expiry,
                                fingerprint: fingerprint(card), keyVersion: version, created: now,
                                expires: configuration.tokenLifetime.map { now.addingTimeInterval($0) })
        let ciphertext = try encrypt(card, token: token, version: version)
        _ = try await rows("""
            INSERT INTO \(table("tokens")) (token, key_version, ciphertext, fingerprint, brand, bin, last4, exp_month, exp_year, created_at, expires_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
            """, [.text(token.value), .integer(Int64(version)), .blob(ciphertext), .text(record.fingerprint),
                  .text(card.brand.rawValue), .text(card.bin), .text(card.lastFour), .integer(Int64(month)), .integer(Int64(year)),
                  .text(Timestamp.string(now)), record.expires.map { .text(Timestamp.string($0)) } ?? .null])
        if let securityCode { try await securityCodes.put(Array(securityCode.utf8), for: token) }
        return record
    }

    /// The masked record of a token: no permission beyond knowing the token is needed to see BIN and last four.
    public func card(_ token: Token) async throws -> CardRecord {
        guard let row = try await rows("SELECT * FROM \(table("tokens")) WHERE token = $1", [.text(token.value)]).first else {
            throw VaultError.unknownToken
        }
        return try Self.record(row)
    }

    /// Tokens whose card has this fingerprint (the same card tokenized more than once).
    public func tokens(withFingerprint fingerprint: String) async throws -> [Token] {
        try await rows("SELECT token FROM \(table("tokens")) WHERE fingerprint = $1 ORDER BY created_at", [.text(fingerprint)])
            .compactMap { $0.text("token").flatMap(Token.init) }
    }

    /// Decrypts a card for the payment processor path. Every attempt, allowed or denied, is appended to the audit.
    func reveal(_ token: Token, caller: VaultCaller, purpose: String) async throws -> RevealedCard {
        guard caller.permissions.contains(.reveal) else {
            try await audit.append(actor: caller.id, token: token, outcome: "denied", purpose: purpose, at: configuration.now())
            throw VaultError.permissionDenied(caller: caller.id, needs: .reveal)
        }
        let record: CardRecord
        let number: CardNumber
        do {
            record = try await card(token)
            number = try await decrypt(token)
        } catch {
            try await audit.append(actor: caller.id, token: token, outcome: "failed: \(error)", purpose: purpose, at: configuration.now())
            throw error
        }
        try await audit.append(actor: caller.id, token: token, outcome: "allowed", purpose: purpose, at: configuration.now())
        let code = try await securityCodes.take(token).map { String(decoding: $0, as: UTF8.self) }
        return RevealedCard(token: token, number: number, expiry: record.expiry, securityCode: code)
    }

    /// Records a reveal attempt that the API refused before it reached the vault (no key, or a key without the
    /// reveal permission). The token is recorded only if it has a token's shape: whatever else a caller put in the
    /// path (a card number, say) is never written.
    public func auditRefusedReveal(tokenText: String, actor: String, outcome: String) async throws {
        let token = Token(tokenText) ?? Token(unchecked: "(not a token)")
        try await audit.append(actor: String(actor.prefix(64)), token: token, outcome: outcome, purpose: "", at: configuration.now())
    }

    /// Decrypts a card for a payment processor adapter outside Levy (the HTTP API's vault-reveal scope). The caller
    /// must hold the reveal permission; the attempt is audited like every reveal.
    public func revealForProcessor(_ token: Token, caller: VaultCaller, purpose: String) async throws -> RevealedCard {
        try await reveal(token, caller: caller, purpose: purpose)
    }

    /// Whether a security code is still held for the token (sealed, for one authorization).
    public func holdsSecurityCode(_ token: Token) async throws -> Bool { try await securityCodes.contains(token) }

    /// Deletes expired security codes and the short-lived keys no code needs any more; returns how many codes went.
    @discardableResult
    public func purgeExpiredSecurityCodes() async throws -> Int { try await securityCodes.purge() }

    // MARK: - Keys

    /// Adds a key version; new tokens use it. Returns its number.
    @discardableResult
    public func rotate() async throws -> Int {
        try await addKeyVersion()
        return currentVersion
    }

    /// Re-encrypts every token under the newest key version; returns how many were rewritten.
    @discardableResult
    public func rewrap() async throws -> Int {
        let old = try await rows("SELECT token FROM \(table("tokens")) WHERE key_version < $1", [.integer(Int64(currentVersion))])
        for row in old {
            let token: Token
            do { token = Token(unchecked: try row.decode("token")) } catch { throw VaultError.corrupt("\(error)") }
            let ciphertext = try encrypt(try await decrypt(token), token: token, version: currentVersion)
            _ = try await rows("UPDATE \(table("tokens")) SET key_version = $1, ciphertext = $2 WHERE token = $3",
                               [.integer(Int64(currentVersion)), .blob(ciphertext), .text(token.value)])
        }
        return old.count
    }

    /// Refuses to decrypt under key versions below `version` (retiring them).
    public func setMinimumDecryptionVersion(_ version: Int) async throws {
        guard dataKeys[version] != nil else { throw VaultError.unknownKeyVersion(version) }
        minimumDecryptionVersion = version
        try await setSetting("min_decrypt_version", String(version))
    }

    public var keyVersions: (current: Int, minimumDecryption: Int, all: [Int]) {
        (currentVersion, minimumDecryptionVersion, dataKeys.keys.sorted())
    }

    // MARK: - Retention

    /// Removes tokens past their lifetime; returns how many.
    @discardableResult
    public func purgeExpired() async throws -> Int {
        let now = Timestamp.string(configuration.now())
        let expired = try await rows("SELECT token FROM \(table("tokens")) WHERE expires_at IS NOT NULL AND expires_at <= $1", [.text(now)])
        _ = try await rows("DELETE FROM \(table("tokens")) WHERE expires_at IS NOT NULL AND expires_at <= $1", [.text(now)])
        return expired.count
    }

    /// Makes a token unrecoverable: its row (and ciphertext) is deleted (overwritten on disk in SQLite).
    public func delete(_ token: Token) async throws {
        _ = try await card(token)
        _ = try await rows("DELETE FROM \(table("tokens")) WHERE token = $1", [.text(token.value)])
        _ = try await securityCodes.take(token)
    }

    /// Checks the reveal audit's hash chain.
    public func verifyAudit() async throws -> RevealAudit.Verification { try await audit.verify() }

    /// Every audit entry, oldest first.
    public func auditEntries() async throws -> [RevealAudit.Entry] { try await audit.entries() }

    // MARK: - Crypto

    func fingerprint(_ card: CardNumber) -> String {
        Self.hex(HMAC<SHA256>.authenticationCode(for: card.asciiBytes, using: fingerprintKey))
    }

    /// AES-256-GCM with the token and key version as associated data: a ciphertext moved to another row fails.
    func encrypt(_ card: CardNumber, token: Token, version: Int) throws -> [UInt8] {
        guard let key = dataKeys[version] else { throw VaultError.unknownKeyVersion(version) }
        do {
            let sealed = try AES.GCM.seal(card.asciiBytes, using: key, authenticating: Array("\(token.value)|v\(version)".utf8))
            return [UInt8](sealed.combined!)
        } catch { throw VaultError.decryptionFailed }
    }

    func decrypt(_ token: Token) async throws -> CardNumber {
        // The minimum decryption version is read with the row: an operator may have retired versions since this
        // process started (`levy vault retire` runs in a process of its own).
        guard let row = try await rows("""
            SELECT key_version, ciphertext, (SELECT value FROM \(table("settings")) WHERE name = 'min_decrypt_version') AS min_version
            FROM \(table("tokens")) WHERE token = $1
            """, [.text(token.value)]).first,
              let version = row.integer("key_version").map(Int.init), let ciphertext = row.blob("ciphertext") else {
            throw VaultError.unknownToken
        }
        if let stored = row.text("min_version"), let minimum = Int(stored) { minimumDecryptionVersion = minimum }
        guard version >= minimumDecryptionVersion else { throw VaultError.keyVersionRetired(version) }
        // A version this process has not seen was added by another one (a rotation, then a rewrap).
        if dataKeys[version] == nil { try await loadKeyVersions() }
        guard let key = dataKeys[version] else { throw VaultError.unknownKeyVersion(version) }
        let plain: Data
        do {
            plain = try AES.GCM.open(try AES.GCM.SealedBox(combined: ciphertext), using: key,
                                     authenticating: Array("\(token.value)|v\(version)".utf8))
        } catch { throw VaultError.decryptionFailed }
        do { return try CardNumber(String(decoding: plain, as: UTF8.self)) } catch { throw VaultError.decryptionFailed }
    }

    /// Adds the next data-key version. The number comes from the store under a lock, so that processes opening a
    /// new vault together, or rotating at once, add one version each rather than colliding on one number; a vault
    /// opening finds the version another process just added and adds none.
    func addKeyVersion(onlyIfNone: Bool = false) async throws {
        let key = SymmetricKey(size: .bits256)
        let keyBytes = key.withUnsafeBytes { [UInt8]($0) }
        let lock = database.dialect.transactionLock(table("key_versions"))
        let versions = table("key_versions")
        let wrappingBytes = wrappingKey.withUnsafeBytes { [UInt8]($0) }
        let now = Timestamp.string(configuration.now())
        let added: Int?
        do {
            added = try await database.transaction { tx -> Int? in
                if let lock { try await tx.execute(lock.sql, lock.binds) }
                let last = try await tx.query("SELECT MAX(version) AS v FROM \(versions)").first?.integer("v") ?? 0
                if onlyIfNone && last > 0 { return nil }
                let version = Int(last) + 1
                let wrapped = try AES.GCM.seal(keyBytes, using: SymmetricKey(data: wrappingBytes),
                                               authenticating: Array("levy-data-key-v\(version)".utf8))
                try await tx.execute("INSERT INTO \(versions) (version, wrapped_key, created_at) VALUES ($1, $2, $3)",
                                     [.integer(Int64(version)), .blob([UInt8](wrapped.combined!)), .text(now)])
                return version
            }
        } catch { throw VaultError.storage(StoreErrorText.describe(error)) }
        if let added { dataKeys[added] = key }
        try await loadKeyVersions()
        if let added { currentVersion = max(currentVersion, added) }
    }

    // MARK: - Storage helpers

    func rows(_ sql: String, _ binds: [SQLValue] = []) async throws -> [SQLRow] {
        do { return try await database.query(sql, binds) } catch { throw VaultError.storage(StoreErrorText.describe(error)) }
    }

    func setting(_ name: String) async throws -> String? {
        try await rows("SELECT value FROM \(table("settings")) WHERE name = $1", [.text(name)]).first?.text("value")
    }

    func setSetting(_ name: String, _ value: String) async throws {
        _ = try await rows("INSERT INTO \(table("settings")) (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                           [.text(name), .text(value)])
    }

    /// A token's metadata as stored. Every column is checked: an unreadable brand or expiry is an error, never
    /// quietly read as some default card.
    static func record(_ row: SQLRow) throws(VaultError) -> CardRecord {
        do {
            let brand = try row.decode("brand", as: CardBrand.self)
            let expiry: CardExpiry
            do { expiry = try CardExpiry(month: try row.decode("exp_month"), year: try row.decode("exp_year")) } catch let error as RowDecodingError {
                throw error
            } catch {
                throw RowDecodingError(column: "exp_month", expected: "a card expiry", found: "an impossible month or year")
            }
            return CardRecord(token: Token(unchecked: try row.decode("token")), brand: brand, bin: try row.decode("bin"),
                              lastFour: try row.decode("last4"), expiry: expiry, fingerprint: try row.decode("fingerprint"),
                              keyVersion: try row.decode("key_version"),
                              created: try row.decode("created_at", expected: "a UTC timestamp", Timestamp.date),
                              expires: try row.decodeIfPresent("expires_at", as: String.self).flatMap { text in Timestamp.date(text) })
        } catch let error as RowDecodingError {
            throw .corrupt("\(error)")
        } catch {
            throw .corrupt("\(error)")
        }
    }

    static func hex<D: Sequence>(_ bytes: D) -> String where D.Element == UInt8 {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}
