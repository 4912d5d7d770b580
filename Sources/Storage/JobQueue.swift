import Foundation
import Synchronization

/// What runs the jobs of one queue: `runNext` claims the oldest queued job and runs it.
public protocol JobRunner: Sendable {
    /// Runs the oldest queued job, if there is one; false when none was queued.
    func runNext() async throws -> Bool
}

extension JobRunner {
    /// Claims and runs queued jobs until none is left. Returns how many it ran.
    @discardableResult
    public func runQueued() async throws -> Int {
        var ran = 0
        while try await runNext() { ran += 1 }
        return ran
    }
}

/// A bounded queue of background jobs in one table, shared by any number of server processes: a job is claimed by
/// one conditional update, a running job renews a heartbeat, and a job whose heartbeat stopped (its process was
/// killed or restarted) is marked failed. What a job asks for and what it produced are JSON text owned by the
/// component that runs it (export jobs, reconciliation runs); the queue only moves them through their states.
public struct JobQueue: Sendable {
    public enum Status: String, Sendable, Codable {
        case queued, running, succeeded, failed
    }

    public struct Record: Sendable, Equatable {
        public var id: String
        public var kind: String
        public var parameters: String
        public var status: Status
        /// How far it got (rows written), renewed with the heartbeat.
        public var progress: Int64
        public var created: String
        public var started: String?
        public var finished: String?
        public var error: String?
        /// The API key that asked for it.
        public var requestedKey: String
        public var result: String?
    }

    public enum QueueError: Error, Equatable, CustomStringConvertible {
        case full(Int)
        case unknownJob
        public var description: String {
            switch self {
            case .full(let limit): "\(limit) jobs are already queued or running; try again when one has finished"
            case .unknownJob: "no such job"
            }
        }
    }

    public let database: any SQLDatabase
    /// The table, rendered for the dialect (`schema.jobs`, `schema_jobs`).
    let table: String
    /// How many jobs this process has queued here: a runner that sees the count change looks at the queue at once.
    public let queuedHere = Counter()
    let limit: Int
    let heartbeatTimeout: TimeInterval
    let now: @Sendable () -> Date

    public init(database: any SQLDatabase, schema: String, table name: String, limit: Int, heartbeatTimeout: TimeInterval = 120,
                now: @escaping @Sendable () -> Date = { Date() }) {
        self.database = database
        table = database.dialect.render("{schema}\(name)", schema: schema)
        self.limit = limit
        self.heartbeatTimeout = heartbeatTimeout
        self.now = now
    }

    /// The migration that creates a queue's table (in its owner's schema and migration list).
    public static func migration(version: Int, name: String, table: String) -> Migrations.Migration {
        Migrations.Migration(version: version, name: name, statements: [
            """
            CREATE TABLE {schema}\(table) (id TEXT PRIMARY KEY, kind TEXT NOT NULL, parameters TEXT NOT NULL, status TEXT NOT NULL,
              progress {bigint} NOT NULL, created_at TEXT NOT NULL, queued_us {bigint} NOT NULL, started_at TEXT, finished_at TEXT,
              heartbeat_at TEXT, error TEXT, requested_key TEXT NOT NULL, result TEXT)
            """,
            "CREATE INDEX {index}\(table)_status ON {schema}\(table) (status, queued_us)",
        ])
    }

    /// Queues a job with id `prefix` and 24 hex digits, unless `limit` jobs are queued or running: counted in the
    /// same statement, under a lock that makes every process's enqueues take turns (under PostgreSQL's read committed
    /// two concurrent statements each counted the other's row as absent and both went past the limit).
    public func enqueue(kind: String, parameters: String, key: String, idPrefix: String) async throws -> Record {
        var generator = SystemRandomNumberGenerator()
        let id = idPrefix + hexString((0..<12).map { _ in UInt8.random(in: 0...255, using: &generator) })
        let clock = now()
        let created = Timestamp.string(clock)
        // Microseconds since 1970 order the queue (two jobs in one second keep their order).
        let queued = Int64(clock.timeIntervalSince1970 * 1_000_000)
        let (table, lock) = (table, database.dialect.transactionLock(table + ".enqueue"))
        let inserted = try await database.transaction { tx in
            if let lock { try await tx.execute(lock.sql, lock.binds) }
            return try await tx.query("""
                INSERT INTO \(table) (id, kind, parameters, status, progress, created_at, queued_us, requested_key)
                SELECT $1, $2, $3, 'queued', 0, $4, $7, $5 WHERE (SELECT COUNT(*) FROM \(table) WHERE status IN ('queued', 'running')) < $6
                RETURNING id
                """, [.text(id), .text(kind), .text(parameters), .text(created), .text(key), .integer(Int64(limit)), .integer(queued)])
        }
        guard !inserted.isEmpty else { throw QueueError.full(limit) }
        queuedHere.increment()
        return Record(id: id, kind: kind, parameters: parameters, status: .queued, progress: 0, created: created, requestedKey: key)
    }

    /// Claims the oldest queued job, or nil when none waits.
    public func claimNext() async throws -> Record? {
        let at = Timestamp.string(now())
        let rows = try await database.query("""
            UPDATE \(table) SET status = 'running', started_at = $1, heartbeat_at = $1
            WHERE id = (SELECT id FROM \(table) WHERE status = 'queued' ORDER BY queued_us, id LIMIT 1) AND status = 'queued'
            RETURNING *
            """, [.text(at)])
        return try rows.first.map(Self.record)
    }

    /// Renews a running job's heartbeat and records how far it got.
    public func progress(_ id: String, _ progress: Int) async throws {
        try await database.execute("UPDATE \(table) SET progress = $1, heartbeat_at = $2 WHERE id = $3 AND status = 'running'",
                                   [.integer(Int64(progress)), .text(Timestamp.string(now())), .text(id)])
    }

    public func succeed(_ id: String, result: String, progress: Int64) async throws {
        try await database.execute("""
            UPDATE \(table) SET status = 'succeeded', finished_at = $1, result = $2, progress = $3 WHERE id = $4 AND status = 'running'
            """, [.text(Timestamp.string(now())), .text(result), .integer(progress), .text(id)])
    }

    /// Marks a job failed with `error` (its first 500 characters, control characters written out as `\u{…}`: a
    /// message may quote an uploaded cell, and PostgreSQL refuses text with a NUL, which left a run `running` until
    /// its heartbeat expired and then called it interrupted; probe #11).
    public func fail(_ id: String, error: String) async throws {
        try await database.execute("UPDATE \(table) SET status = 'failed', finished_at = $1, error = $2 WHERE id = $3 AND status IN ('queued', 'running')",
                                   [.text(Timestamp.string(now())), .text(Self.storable(String(error.prefix(500)))), .text(id)])
    }

    /// `text` with its control characters (other than tab and line feed) written out, so that any store keeps it.
    public static func storable(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: Self.isWrittenOut) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            if Self.isWrittenOut(scalar) { out += "\\u{\(String(scalar.value, radix: 16))}" } else { out.unicodeScalars.append(scalar) }
        }
        return out
    }

    static func isWrittenOut(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.generalCategory == .control && scalar != "\t" && scalar != "\n"
    }

    /// Marks failed the running jobs whose heartbeat stopped more than `heartbeatTimeout` ago; returns their ids.
    @discardableResult
    public func failAbandoned() async throws -> [String] {
        let cutoff = Timestamp.string(now().addingTimeInterval(-heartbeatTimeout))
        let rows = try await database.query("""
            UPDATE \(table) SET status = 'failed', finished_at = $1, error = 'interrupted (the server stopped while it ran); start it again'
            WHERE status = 'running' AND (heartbeat_at IS NULL OR heartbeat_at < $2) RETURNING id
            """, [.text(Timestamp.string(now())), .text(cutoff)])
        do { return try rows.map { row throws(RowDecodingError) in try row.decode("id", as: String.self) } } catch { throw error }
    }

    public func record(_ id: String) async throws -> Record {
        guard let row = try await database.query("SELECT * FROM \(table) WHERE id = $1", [.text(id)]).first else { throw QueueError.unknownJob }
        return try Self.record(row)
    }

    /// The newest jobs first.
    public func list(limit: Int = 50) async throws -> [Record] {
        try await database.query("SELECT * FROM \(table) ORDER BY queued_us DESC, id DESC LIMIT \(max(1, min(limit, 500)))").map(Self.record)
    }

    static func record(_ row: SQLRow) throws(RowDecodingError) -> Record {
        Record(id: try row.decode("id"), kind: try row.decode("kind"), parameters: try row.decode("parameters"),
               status: try row.decode("status", as: Status.self), progress: try row.decode("progress"), created: try row.decode("created_at"),
               started: try row.decodeIfPresent("started_at"), finished: try row.decodeIfPresent("finished_at"), error: try row.decodeIfPresent("error"),
               requestedKey: try row.decode("requested_key"), result: try row.decodeIfPresent("result"))
    }
}

/// A count shared by the copies of the value that holds it.
public final class Counter: Sendable {
    private let count = Atomic<Int>(0)
    public init() {}
    public var value: Int { count.load(ordering: .relaxed) }
    public func increment() { count.add(1, ordering: .relaxed) }
}
