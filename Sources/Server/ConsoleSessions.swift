import Crypto
import Foundation
import Storage

/// Console sessions (table `console_sessions` in the API's schema): a sign-in with an API key gives the browser a
/// random session id in an `HttpOnly`, `SameSite=Strict` cookie; the key itself never reaches the browser again.
/// The store keeps the SHA-256 of the id (a stolen database row cannot be replayed as a cookie), the key it was
/// opened with, a CSRF token for its forms, and when it was opened and last used. A session ends after 30 idle
/// minutes, 8 hours in all, at sign-out, or when its key is revoked.
public struct ConsoleSessionStore: Sendable {
    public let database: any SQLDatabase
    public let schema: String
    /// Signs sign-in form tokens: the sign-in form has no session yet, so its token is one the server can recognize
    /// as its own, not merely a cookie that equals a form field (anyone able to set a cookie could choose both).
    let signInKey: [UInt8]
    let now: @Sendable () -> Date

    public static let idleLifetime: TimeInterval = 30 * 60
    public static let absoluteLifetime: TimeInterval = 8 * 3_600

    public struct Session: Sendable, Equatable {
        public var keyID: String
        public var csrf: String
        public var created: Date
    }

    public init(database: any SQLDatabase, schema: String = "api", signInKey: [UInt8], now: @escaping @Sendable () -> Date = { Date() }) {
        self.database = database
        self.schema = schema
        self.signInKey = signInKey
        self.now = now
    }

    /// How long a sign-in form's token is accepted.
    public static let signInLifetime: TimeInterval = 15 * 60

    /// A token for the sign-in form: random bits, when it was issued, and an HMAC over both under `signInKey`.
    func signInToken() -> String {
        let body = Self.randomToken() + "." + String(Int(now().timeIntervalSince1970))
        return body + "." + signInMAC(body)
    }

    /// Whether `token` is one `signInToken` issued within `signInLifetime`.
    func isSignInToken(_ token: String) -> Bool {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].utf8.count == 43, let issued = Int(parts[1]) else { return false }
        let age = now().timeIntervalSince1970 - Double(issued)
        guard age >= -60, age <= Self.signInLifetime else { return false }
        return APIKeyStore.constantTimeEqual(signInMAC(parts[0] + "." + parts[1]), String(parts[2]))
    }

    private func signInMAC(_ body: String) -> String {
        hexString(HMAC<SHA256>.authenticationCode(for: Array(("console-sign-in:" + body).utf8), using: SymmetricKey(data: signInKey)))
    }

    static let migration = Migrations.Migration(version: 2, name: "console sessions", statements: [
        """
        CREATE TABLE {schema}console_sessions (id_hash TEXT PRIMARY KEY, key_id TEXT NOT NULL, csrf TEXT NOT NULL, created_at TEXT NOT NULL,
          last_seen_at TEXT NOT NULL)
        """,
        "CREATE INDEX {index}console_sessions_seen ON {schema}console_sessions (last_seen_at)",
    ])

    var table: String { database.dialect.render("{schema}console_sessions", schema: schema) }

    /// 256 random bits, base64url: a session id or a CSRF token.
    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func digest(_ id: String) -> String { hexString(SHA256.hash(data: Array(id.utf8))) }

    /// Opens a session for a key; returns the id for the cookie (stored only as its hash) and the session.
    public func open(keyID: String) async throws -> (id: String, session: Session) {
        let id = Self.randomToken()
        let session = Session(keyID: keyID, csrf: Self.randomToken(), created: now())
        let at = Timestamp.string(session.created)
        try await database.execute("INSERT INTO \(table) (id_hash, key_id, csrf, created_at, last_seen_at) VALUES ($1, $2, $3, $4, $4)",
                                   [.text(Self.digest(id)), .text(keyID), .text(session.csrf), .text(at)])
        return (id, session)
    }

    /// The live session for a cookie's id, its last use moved to now (at most once a minute); nil when unknown,
    /// idle too long or too old (an expired session is deleted).
    public func session(_ id: String) async throws -> Session? {
        guard id.utf8.count == 43, id.utf8.allSatisfy({ $0 == 45 || $0 == 95 || (48...57).contains($0) || (65...90).contains($0) || (97...122).contains($0) })
        else { return nil }
        let hash = Self.digest(id)
        guard let row = try await database.query("SELECT * FROM \(table) WHERE id_hash = $1", [.text(hash)]).first else { return nil }
        let created: Date, seen: Date, session: Session
        do {
            created = try row.decode("created_at", expected: "a UTC timestamp", Timestamp.date)
            seen = try row.decode("last_seen_at", expected: "a UTC timestamp", Timestamp.date)
            session = Session(keyID: try row.decode("key_id"), csrf: try row.decode("csrf"), created: created)
        } catch { return nil }
        let instant = now()
        guard instant.timeIntervalSince(seen) < Self.idleLifetime, instant.timeIntervalSince(created) < Self.absoluteLifetime else {
            try await close(id)
            return nil
        }
        if instant.timeIntervalSince(seen) > 60 {
            try await database.execute("UPDATE \(table) SET last_seen_at = $1 WHERE id_hash = $2", [.text(Timestamp.string(instant)), .text(hash)])
        }
        return session
    }

    public func close(_ id: String) async throws {
        try await database.execute("DELETE FROM \(table) WHERE id_hash = $1", [.text(Self.digest(id))])
    }

    /// Deletes sessions idle past their lifetime (the server's hourly maintenance).
    @discardableResult
    public func purgeExpired() async throws -> Int {
        let cutoff = Timestamp.string(now().addingTimeInterval(-Self.idleLifetime))
        return try await database.query("DELETE FROM \(table) WHERE last_seen_at < $1 RETURNING id_hash", [.text(cutoff)]).count
    }
}
