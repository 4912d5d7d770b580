import Crypto
import Foundation
import JSONInput
import Merchants
import Orders
import Storage
import Synchronization

/// What an API key may do. Each endpoint needs exactly one scope; a key may hold several.
public enum Scope: String, CaseIterable, Sendable, Comparable {
    /// Storefronts and apps: tokenize, customers, quotes, orders, refunds, vouchers, entitlements.
    case checkout
    /// Read-only views of tables and the ledger for accountants.
    case accountant
    /// The batch reconciliation job: the ledger and orders, read-only.
    case reconciler
    /// Operators: keys, customer data export and erasure, token deletion.
    case admin
    /// Decrypting a card for an external payment processor adapter. Checkout never needs it.
    case vaultReveal = "vault-reveal"
    /// A platform that runs Levy for many merchants: creates merchants and their first admin key, lists them. Only
    /// the operator (the CLI) or another platform key can make a platform key.
    case platform

    public static func < (lhs: Scope, rhs: Scope) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// An API key as stored: never the secret itself, only its SHA-256.
public struct APIKey: Sendable, Hashable {
    public var id: String
    public var label: String
    public var scopes: Set<Scope>
    public var created: Date
    public var revoked: Date?
    /// The merchant whose records the key reads and writes; nil is the home merchant (the store's own tables, and
    /// every key made before there were several merchants).
    public var merchant: MerchantID?
}

/// A key just created: the only moment its secret exists outside the caller's hands.
public struct IssuedAPIKey: Sendable {
    public var key: APIKey
    /// `lvk_<id>_<secret>`: what clients send as `Authorization: Bearer …`.
    public var secret: String
}

public enum APIKeyError: Error, Equatable, Sendable, CustomStringConvertible {
    case noScopes
    /// The label is empty, longer than 100 bytes, holds control characters or what looks like a card number.
    case invalidLabel(String)
    case unknownKey(String)
    /// A stored key row that is not what Levy writes (never trusted: such a key authenticates nothing).
    case corrupt(String)

    public var description: String {
        switch self {
        case .noScopes: "a key needs at least one scope (\(Scope.allCases.map(\.rawValue).joined(separator: ", ")))"
        case .invalidLabel(let why): "label: \(why)"
        case .unknownKey(let id): "no API key \(id)"
        case .corrupt(let detail): "a stored API key is unreadable: \(detail)"
        }
    }
}

/// API keys in the `api` schema. Secrets carry 160 random bits, so one SHA-256 is enough to store them: there is
/// nothing to brute-force that a slow password hash would protect. Verified keys are cached for a few seconds so
/// that a request costs one hash, not a query; a revocation takes effect within that time in every process.
public final class APIKeyStore: Sendable {
    public let database: any SQLDatabase
    public let schema: String
    let now: @Sendable () -> Date
    let cacheLifetime: TimeInterval
    private let cache = Mutex<[String: (key: APIKey, until: Date)]>([:])
    /// Digests of secrets that authenticated in this process in the last `recentLifetime`, with when they last did:
    /// an address throttled for failed attempts still gets its known keys looked up (see `LevyAPI.verifyKey`).
    private let recent = Mutex<[String: Date]>([:])
    static let recentLifetime: TimeInterval = 3_600, maxRecent = 10_000

    public init(database: any SQLDatabase, schema: String = "api", cacheLifetime: TimeInterval = 5,
                now: @escaping @Sendable () -> Date = { Date() }) {
        self.database = database
        self.schema = schema
        self.cacheLifetime = cacheLifetime
        self.now = now
    }

    /// The API's tables: keys and idempotency records.
    public static func migrations(schema: String) -> Migrations {
        Migrations(schema: schema, [
            .init(version: 1, name: "api keys and idempotency", statements: [
                """
                CREATE TABLE {schema}api_keys (id TEXT PRIMARY KEY, label TEXT NOT NULL, secret_hash TEXT NOT NULL, scopes TEXT NOT NULL,
                  created_at TEXT NOT NULL, revoked_at TEXT)
                """,
                """
                CREATE TABLE {schema}idempotency (principal TEXT NOT NULL, key TEXT NOT NULL, route TEXT NOT NULL, request_hash TEXT NOT NULL,
                  status {bigint} NOT NULL, body {blob}, resource TEXT, created_at TEXT NOT NULL, PRIMARY KEY (principal, key))
                """,
                "CREATE INDEX {index}idempotency_resource ON {schema}idempotency (resource)",
                "CREATE INDEX {index}idempotency_created ON {schema}idempotency (created_at)",
            ]),
            ConsoleSessionStore.migration,
            // A key belongs to one merchant; existing keys (NULL) to the home merchant.
            .init(version: 3, name: "the merchant of a key", statements: [
                "ALTER TABLE {schema}api_keys ADD COLUMN merchant_id TEXT",
                "CREATE INDEX {index}api_keys_merchant ON {schema}api_keys (merchant_id, created_at)",
            ]),
        ])
    }

    public func migrate() async throws { try await Self.migrations(schema: schema).apply(to: database, now: now()) }

    func table(_ name: String) -> String { database.dialect.render("{schema}\(name)", schema: schema) }

    /// Creates a key with the given scopes for a merchant (nil: the home merchant) and returns its secret, which is
    /// not stored.
    public func create(label: String, scopes: Set<Scope>, merchant: MerchantID? = nil) async throws -> IssuedAPIKey {
        guard !scopes.isEmpty else { throw APIKeyError.noScopes }
        // The same rules however the key is made (the API checks them first, the CLI here): the label is shown in
        // the console, audits and logs.
        if label.trimmingCharacters(in: .whitespaces).isEmpty { throw APIKeyError.invalidLabel("say who or what the key is for") }
        if label.utf8.count > 100 { throw APIKeyError.invalidLabel("at most 100 bytes") }
        if label.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            throw APIKeyError.invalidLabel("control characters are not allowed")
        }
        if CardNumberMask.containsCardNumber(label) { throw APIKeyError.invalidLabel(CardNumberMask.refusal) }
        let id = RandomID.make(bytes: 8)
        let secret = RandomID.make(bytes: 20)
        let full = "lvk_\(id)_\(secret)"
        let key = APIKey(id: id, label: label, scopes: scopes, created: now(), revoked: nil, merchant: merchant)
        try await database.execute("""
            INSERT INTO \(table("api_keys")) (id, label, secret_hash, scopes, created_at, merchant_id) VALUES ($1, $2, $3, $4, $5, $6)
            """, [.text(id), .text(label), .text(Self.digest(full)), .text(scopes.sorted().map(\.rawValue).joined(separator: " ")),
                  .text(Timestamp.string(key.created)), merchant.map { .text($0.value) } ?? .null])
        return IssuedAPIKey(key: key, secret: full)
    }

    /// Every key, or with `merchant` given only that merchant's (`.some(nil)`: the home merchant's).
    public func list(merchant: MerchantID?? = nil) async throws -> [APIKey] {
        switch merchant {
        case .none: try await database.query("SELECT * FROM \(table("api_keys")) ORDER BY created_at, id").map { try Self.key($0) }
        case .some(.none):
            try await database.query("SELECT * FROM \(table("api_keys")) WHERE merchant_id IS NULL ORDER BY created_at, id").map { try Self.key($0) }
        case .some(.some(let id)):
            try await database.query("SELECT * FROM \(table("api_keys")) WHERE merchant_id = $1 ORDER BY created_at, id", [.text(id.value)])
                .map { try Self.key($0) }
        }
    }

    public func key(_ id: String) async throws -> APIKey {
        guard let row = try await database.query("SELECT * FROM \(table("api_keys")) WHERE id = $1", [.text(id)]).first else {
            throw APIKeyError.unknownKey(id)
        }
        return try Self.key(row)
    }

    /// Revokes a key for good. Returns the key as revoked.
    @discardableResult
    public func revoke(_ id: String) async throws -> APIKey {
        var key = try await key(id)
        if key.revoked == nil {
            let at = now()
            try await database.execute("UPDATE \(table("api_keys")) SET revoked_at = $1 WHERE id = $2", [.text(Timestamp.string(at)), .text(id)])
            key.revoked = at
        }
        cache.withLock { $0 = $0.filter { $0.value.key.id != id } }
        return key
    }

    /// The live key a presented secret belongs to, or nil (unknown, malformed or revoked).
    public func authenticate(_ presented: String) async throws -> APIKey? {
        let digest = Self.digest(presented)
        let instant = now()
        if let hit = cache.withLock({ $0[digest] }), hit.until > instant { return hit.key }
        let parts = presented.split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "lvk", parts[1].utf8.count == 13, parts[2].utf8.count == 32 else { return nil }
        guard let row = try await database.query("SELECT * FROM \(table("api_keys")) WHERE id = $1", [.text(String(parts[1]))]).first,
              let stored = row.text("secret_hash"), Self.constantTimeEqual(stored, digest) else { return nil }
        let key = try Self.key(row)
        guard key.revoked == nil else { return nil }
        cache.withLock { $0[digest] = (key, instant.addingTimeInterval(cacheLifetime)) }
        recent.withLock { recent in
            recent[digest] = instant
            if recent.count > Self.maxRecent { recent = recent.filter { instant.timeIntervalSince($0.value) < Self.recentLifetime } }
            if recent.count > Self.maxRecent { recent = [digest: instant] }
        }
        return key
    }

    /// Whether this secret authenticated here within the last hour. Only a right secret can be in the set, so
    /// answering for it gives a guesser nothing; it lets a key keep working from an address that someone else
    /// (a stale key behind the same NAT, a test harness on loopback) made fail too often.
    public func recentlyAuthenticated(_ presented: String) -> Bool {
        let digest = Self.digest(presented), instant = now()
        return recent.withLock { $0[digest].map { instant.timeIntervalSince($0) < Self.recentLifetime } ?? false }
    }

    /// The key id inside a presented secret (`lvk_<id>_<secret>`), if it has that shape; for per-key throttling.
    static func keyID(ofSecret presented: String) -> String? {
        let parts = presented.split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "lvk", parts[1].utf8.count == 13,
              parts[1].utf8.allSatisfy({ ($0 >= 97 && $0 <= 122) || ($0 >= 50 && $0 <= 55) }) else { return nil }
        return String(parts[1])
    }

    static func digest(_ text: String) -> String { hexString(SHA256.hash(data: Array(text.utf8))) }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for i in x.indices { difference |= x[i] ^ y[i] }
        return difference == 0
    }

    /// A stored key, decoded with errors: a row with an unknown scope, no scope or an unreadable date is corrupt
    /// (a scope is never widened or dropped by a default).
    static func key(_ row: SQLRow) throws(APIKeyError) -> APIKey {
        do {
            let id: String = try row.decode("id")
            let scopeNames: String = try row.decode("scopes")
            var scopes = Set<Scope>()
            for name in scopeNames.split(separator: " ") {
                guard let scope = Scope(rawValue: String(name)) else { throw APIKeyError.corrupt("key \(id): scopes holds an unknown scope") }
                scopes.insert(scope)
            }
            guard !scopes.isEmpty else { throw APIKeyError.corrupt("key \(id): no scope") }
            guard let created = Timestamp.date(try row.decode("created_at")) else { throw APIKeyError.corrupt("key \(id): created_at is not a timestamp") }
            var revoked: Date?
            if let text = try row.decodeIfPresent("revoked_at", as: String.self) {
                guard let date = Timestamp.date(text) else { throw APIKeyError.corrupt("key \(id): revoked_at is not a timestamp") }
                revoked = date
            }
            var merchant: MerchantID?
            if let text = try row.decodeIfPresent("merchant_id", as: String.self) {
                guard MerchantService.isMerchantID(text) else { throw APIKeyError.corrupt("key \(id): merchant_id is not a merchant id") }
                merchant = MerchantID(text)
            }
            return APIKey(id: id, label: try row.decode("label"), scopes: scopes, created: created, revoked: revoked, merchant: merchant)
        } catch let error as APIKeyError {
            throw error
        } catch {
            throw .corrupt("\(error)")
        }
    }
}
