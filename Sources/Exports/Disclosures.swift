import Foundation
import Storage
import TaxCore

/// Every export is logged; the ones that hold personal data are disclosures: who asked, why and on what legal
/// basis, the scope and the files. The record is written before the files, so even a failed attempt is on record.
public struct DisclosureLog: Sendable {
    public struct Record: Sendable, Equatable {
        public var id: String
        public var at: String
        public var kind: String
        public var requestedBy: String
        public var reason: String
        public var periodFrom: String
        public var periodThrough: String
        public var personalData: Bool
        public var directory: String
        public var status: String
        public var files: String
        public var manifestSHA256: String
    }

    public let database: any SQLDatabase
    public let schema: String
    let now: @Sendable () -> Date

    public init(database: any SQLDatabase, schema: String = "exports", now: @escaping @Sendable () -> Date = { Date() }) {
        self.database = database
        self.schema = schema
        self.now = now
    }

    public static func migrations(schema: String) -> Migrations {
        Migrations(schema: schema, [
            .init(version: 1, name: "export log and disclosures", statements: [
                """
                CREATE TABLE {schema}export_log (id TEXT PRIMARY KEY, at TEXT NOT NULL, kind TEXT NOT NULL, requested_by TEXT NOT NULL,
                  reason TEXT NOT NULL, period_from TEXT NOT NULL, period_through TEXT NOT NULL, personal_data {bigint} NOT NULL,
                  directory TEXT NOT NULL, status TEXT NOT NULL, files TEXT NOT NULL, manifest_sha256 TEXT NOT NULL)
                """,
            ]),
            ExportJobStore.migration,
            LiabilityRollup.migration,
            ExportJobStore.withdrawalMigration,
            LiabilityRollup.resumMigration,
        ])
    }

    public func migrate() async throws { try await Self.migrations(schema: schema).apply(to: database, now: now()) }

    var table: String { database.dialect.render("{schema}export_log", schema: schema) }

    /// A record id: `exp_` and 80 random bits in hex.
    static func newID() -> String {
        var generator = SystemRandomNumberGenerator()
        return "exp_" + hexString((0..<10).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    /// Records an export about to be written; returns its id.
    func begin(kind: String, requestedBy: String, reason: String, scope: ExportScope, directory: String) async throws -> String {
        let id = Self.newID()
        try await database.execute("""
            INSERT INTO \(table) (id, at, kind, requested_by, reason, period_from, period_through, personal_data, directory, status, files, manifest_sha256)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'started', '', '')
            """, [.text(id), .text(Timestamp.string(now())), .text(kind), .text(requestedBy), .text(reason), .text(scope.from.iso),
                  .text(scope.through.iso), .integer(scope.personalData ? 1 : 0), .text(directory)])
        return id
    }

    /// Records a view of personal data outside an export (a console page showing an order's addresses and
    /// customer): who saw it, why, on what day, and what was shown. Returns the record's id.
    public func recordView(by requester: String, reason: String, shown: String) async throws -> String {
        let id = Self.newID()
        let at = Timestamp.string(now())
        try await database.execute("""
            INSERT INTO \(table) (id, at, kind, requested_by, reason, period_from, period_through, personal_data, directory, status, files, manifest_sha256)
            VALUES ($1, $2, 'console_view', $3, $4, $5, $5, 1, '', 'viewed', $6, '')
            """, [.text(id), .text(at), .text(requester), .text(reason), .text(String(at.prefix(10))), .text(shown)])
        return id
    }

    func finish(_ id: String, files: [String], manifestSHA256: String) async throws {
        try await database.execute("UPDATE \(table) SET status = 'completed', files = $1, manifest_sha256 = $2 WHERE id = $3",
                                   [.text(files.joined(separator: " ")), .text(manifestSHA256), .text(id)])
    }

    func fail(_ id: String) async throws {
        try await database.execute("UPDATE \(table) SET status = 'failed' WHERE id = $1", [.text(id)])
    }

    /// The log, oldest first; only disclosures (exports with personal data) unless `all`.
    public func list(all: Bool = false) async throws -> [Record] {
        let rows = try await database.query("SELECT * FROM \(table)" + (all ? "" : " WHERE personal_data = 1") + " ORDER BY at, id")
        do {
            return try rows.map { row throws(RowDecodingError) in
                Record(id: try row.decode("id"), at: try row.decode("at"), kind: try row.decode("kind"), requestedBy: try row.decode("requested_by"),
                       reason: try row.decode("reason"), periodFrom: try row.decode("period_from"), periodThrough: try row.decode("period_through"),
                       personalData: try row.decode("personal_data", as: Int64.self) != 0, directory: try row.decode("directory"),
                       status: try row.decode("status"), files: try row.decode("files"), manifestSHA256: try row.decode("manifest_sha256"))
            }
        } catch {
            throw ExportError.corruptRecord("export log: \(error)")
        }
    }
}
