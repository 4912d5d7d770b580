import Crypto
import Foundation
import HTTPTypes
import JSONInput
import Storage

/// Idempotency records for POSTs that create something: the first request with a key runs and its response is
/// kept; a retry with the same key and the same body gets that response again; the same key with a different body
/// (or on another route) is refused. Keys belong to the API key that sent them, so clients cannot collide or probe.
/// A key is stored in its `storedForm`: as sent, unless it could hold a card number.
public struct IdempotencyStore: Sendable {
    public enum Begin: Sendable, Equatable {
        /// The key is new: run the request, then `finish` or `abandon`.
        case proceed
        /// The same request already ran: its stored response.
        case replay(status: Int, body: [UInt8])
        /// The key was used with a different body or route.
        case conflict
        /// The first request with this key is still running.
        case inProgress
    }

    public let database: any SQLDatabase
    public let schema: String
    /// How long responses are kept for retries; older records are purged (they may hold personal data).
    public let lifetime: TimeInterval
    /// A record still pending after this long belongs to a request that died; a retry may take it over.
    public let abandonAfter: TimeInterval
    let now: @Sendable () -> Date
    /// Keys `storedForm`'s digests (derived from the master key; never stored).
    let digestKey: [UInt8]

    public init(database: any SQLDatabase, schema: String = "api", lifetime: TimeInterval = 86_400, abandonAfter: TimeInterval = 60,
                digestKey: [UInt8], now: @escaping @Sendable () -> Date = { Date() }) {
        self.database = database
        self.schema = schema
        self.digestKey = digestKey
        self.lifetime = lifetime
        self.abandonAfter = abandonAfter
        self.now = now
    }

    public var table: String { database.dialect.render("{schema}idempotency", schema: schema) }

    /// How a client's key is stored, here and with the order or refund it made. A key holding a run of twelve or
    /// more digits (`CardNumberMask`'s test: a client that put a card number in it) is stored as a keyed digest
    /// (HMAC-SHA256), so that no card number lands outside the vault; any other key as sent, readable for support.
    /// The digest is the same for every retry, so retries still find their record.
    public func storedForm(_ clientKey: String) -> String {
        guard CardNumberMask.masked(clientKey) != clientKey else { return clientKey }
        return Self.keyedPrefix + hexString(HMAC<SHA256>.authenticationCode(for: Array(clientKey.utf8), using: SymmetricKey(data: digestKey)))
    }

    /// A digest of what identifies a request: the route and the exact body bytes, keyed (HMAC-SHA256 with the digest
    /// key): a body can hold a card number and its security code (`POST /v1/tokens`), and an unkeyed hash of so
    /// little unknown text is undone by trying every candidate (probe #6 recovered both in 16 seconds).
    public func requestHash(route: String, body: [UInt8]) -> String {
        var mac = HMAC<SHA256>(key: SymmetricKey(data: digestKey))
        mac.update(data: Array(route.utf8))
        mac.update(data: [0])
        mac.update(data: body)
        return Self.keyedPrefix + hexString(mac.finalize())
    }

    static let keyedPrefix = "hmac-sha256:"

    /// The unkeyed digest versions before 2026-12-05 stored, recomputed only to recognise a retry of a request one of
    /// them recorded (records live a day); never stored.
    public static func unkeyedRequestHash(route: String, body: [UInt8]) -> String {
        var hasher = SHA256()
        hasher.update(data: Array(route.utf8))
        hasher.update(data: [0])
        hasher.update(data: body)
        return hexString(hasher.finalize())
    }

    /// Whether a stored request digest is this request's: the keyed form, or the unkeyed one an older record holds.
    func sameRequest(_ stored: String?, _ requestHash: String, unkeyed: String?) -> Bool {
        guard let stored else { return false }
        if stored == requestHash { return true }
        guard let unkeyed, !stored.hasPrefix(Self.keyedPrefix) else { return false }
        return stored == unkeyed
    }

    /// `legacyKey` is the key as the client sent it, when `key` is its digest (`storedForm`): a finished record
    /// kept under the key as sent (by a version that stored every key so) answers a retry all the same.
    /// `unkeyedHash` is the request's digest as older versions stored it (`unkeyedRequestHash`), for their records.
    public func begin(principal: String, key: String, legacyKey: String? = nil, route: String, requestHash: String,
                      unkeyedHash: String? = nil) async throws -> Begin {
        if let legacyKey, legacyKey != key,
           let row = try await database.query("SELECT * FROM \(table) WHERE principal = $1 AND key = $2 AND status <> 0",
                                              [.text(principal), .text(legacyKey)]).first {
            guard sameRequest(row.text("request_hash"), requestHash, unkeyed: unkeyedHash), row.text("route") == route else { return .conflict }
            return .replay(status: Int(row.integer("status") ?? 0), body: row.blob("body") ?? [])
        }
        let instant = now()
        let inserted = try await database.query("""
            INSERT INTO \(table) (principal, key, route, request_hash, status, created_at) VALUES ($1, $2, $3, $4, 0, $5)
            ON CONFLICT DO NOTHING RETURNING key
            """, [.text(principal), .text(key), .text(route), .text(requestHash), .text(Timestamp.string(instant))])
        if !inserted.isEmpty { return .proceed }
        guard let row = try await database.query("SELECT * FROM \(table) WHERE principal = $1 AND key = $2",
                                                 [.text(principal), .text(key)]).first else {
            // Purged between the two statements: try once more.
            return try await begin(principal: principal, key: key, legacyKey: legacyKey, route: route, requestHash: requestHash,
                                   unkeyedHash: unkeyedHash)
        }
        guard sameRequest(row.text("request_hash"), requestHash, unkeyed: unkeyedHash), row.text("route") == route else { return .conflict }
        let status = Int(row.integer("status") ?? 0)
        if status != 0 { return .replay(status: status, body: row.blob("body") ?? []) }
        let started = row.text("created_at").flatMap(Timestamp.date) ?? instant
        guard instant.timeIntervalSince(started) > abandonAfter else { return .inProgress }
        // Take over an abandoned record, unless another retry already did.
        let taken = try await database.query("""
            UPDATE \(table) SET created_at = $1 WHERE principal = $2 AND key = $3 AND status = 0 AND created_at = $4 RETURNING key
            """, [.text(Timestamp.string(instant)), .text(principal), .text(key), .text(row.text("created_at") ?? "")])
        return taken.isEmpty ? .inProgress : .proceed
    }

    /// Keeps the response for retries. `resource` names what it holds (a customer id), so erasure can find it.
    public func finish(principal: String, key: String, status: Int, body: [UInt8], resource: String?) async throws {
        try await database.execute("""
            UPDATE \(table) SET status = $1, body = $2, resource = $3 WHERE principal = $4 AND key = $5
            """, [.integer(Int64(status)), .blob(body), resource.map { .text($0) } ?? .null, .text(principal), .text(key)])
    }

    /// Forgets a request that failed without a definite answer (a server error): the retry runs it again.
    public func abandon(principal: String, key: String) async throws {
        try await database.execute("DELETE FROM \(table) WHERE principal = $1 AND key = $2 AND status = 0", [.text(principal), .text(key)])
    }

    /// Replaces the stored responses that concern a resource (used when a customer's personal data is erased) with
    /// a `410 customer_erased`: the details go, the key stays used, so a retry of the request that created the
    /// customer is told so instead of creating the person again.
    public func forget(resource: String) async throws {
        try await database.execute("UPDATE \(table) SET status = $1, body = $2 WHERE resource = $3",
                                   [.integer(410), .blob(Self.erased.body(requestID: "")), .text(resource)])
        try? await database.discardOverwrittenCopies()
    }

    /// The answer a retry gets once its customer was erased (its request id filled in when it is given).
    static let erased = APIError(.gone, "customer_erased", "the customer this request concerned was erased; its stored response is gone",
                                 field: "customer_id")

    /// A stored body as a retry gets it: an erased customer's answer carries the retry's request id, not the empty
    /// one it was stored with.
    public static func replayed(status: Int, body: [UInt8], requestID: String) -> [UInt8] {
        status == 410 && body == erased.body(requestID: "") ? erased.body(requestID: requestID) : body
    }

    /// Deletes records older than the lifetime. Returns how many.
    @discardableResult
    public func purgeExpired() async throws -> Int {
        let cutoff = Timestamp.string(now().addingTimeInterval(-lifetime))
        return try await database.query("DELETE FROM \(table) WHERE created_at < $1 RETURNING key", [.text(cutoff)]).count
    }
}
