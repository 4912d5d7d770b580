import Foundation
import Storage
import TaxCore

/// An export asked for over the API and run in the background: what was asked, where it stands, and, once done,
/// its signed manifest. Its files live in a folder of its own named by its id.
public struct ExportJob: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable, Codable {
        case detail, liability, saft, report
    }

    public enum Status: String, Sendable, Codable {
        case queued, running, succeeded, failed
    }

    /// What the export is to hold: the same choices as `levy export …` and `levy report html`.
    public struct Parameters: Sendable, Equatable, Codable {
        public var from: String
        public var through: String
        public var personalData: Bool
        public var requestedBy: String?
        public var reason: String?
        /// detail and liability: csv or pipe.
        public var format: String?
        /// liability: month or quarter.
        public var period: String?
        /// saft: the header's company, resolved from the request and the merchant profile when the job was made.
        public var company: Company?
        /// report: the title's merchant name.
        public var merchant: String?

        public struct Company: Sendable, Equatable, Codable {
            public var name, registration, street, city, state, zip, contactFirstName, contactLastName, telephone: String
            public init(name: String, registration: String, street: String, city: String, state: String, zip: String, contactFirstName: String,
                        contactLastName: String, telephone: String) {
                (self.name, self.registration, self.street, self.city, self.state, self.zip) = (name, registration, street, city, state, zip)
                (self.contactFirstName, self.contactLastName, self.telephone) = (contactFirstName, contactLastName, telephone)
            }
        }

        public init(from: String, through: String, personalData: Bool, requestedBy: String? = nil, reason: String? = nil, format: String? = nil,
                    period: String? = nil, company: Company? = nil, merchant: String? = nil) {
            (self.from, self.through, self.personalData, self.requestedBy, self.reason) = (from, through, personalData, requestedBy, reason)
            (self.format, self.period, self.company, self.merchant) = (format, period, company, merchant)
        }
    }

    public var id: String
    public var kind: Kind
    public var parameters: Parameters
    public var status: Status
    /// Rows written so far (the detail's or SAF-T's ledger rows), updated while it runs.
    public var rows: Int64
    public var created: String
    public var started: String?
    public var finished: String?
    /// Why it failed, in words for the person who asked (never a path outside the export folder or a secret).
    public var error: String?
    /// The API key that asked for it.
    public var requestedKey: String
    /// The signed manifest, once it succeeded.
    public var manifest: Manifest?
}

/// The export jobs table (schema `exports`, owned with the export log by this module): a bounded queue that any
/// number of server processes can share. A job is claimed by one conditional update; a running job's heartbeat is
/// renewed while it runs, and a job whose heartbeat stopped (its process was killed or restarted) is marked failed
/// and its partial folder removed: a job is finished, or failed, never half-written.
public struct ExportJobStore: Sendable {
    public let database: any SQLDatabase
    public let schema: String
    /// The folder under which each job writes its own folder.
    public let directory: String
    let now: @Sendable () -> Date

    /// Queued and running jobs at most; more are refused (`queueFull`) until some finish.
    public static let queueLimit = 16
    /// A running job whose heartbeat is older than this is taken to be dead.
    public static let heartbeatTimeout: TimeInterval = 120

    public enum JobError: Error, Equatable, CustomStringConvertible {
        case queueFull(Int)
        case unknownJob
        public var description: String {
            switch self {
            case .queueFull(let limit): "\(limit) exports are already queued or running; try again when one has finished"
            case .unknownJob: "no such export"
            }
        }
    }

    public init(database: any SQLDatabase, schema: String = "exports", directory: String, now: @escaping @Sendable () -> Date = { Date() }) {
        self.database = database
        self.schema = schema
        self.directory = directory
        self.now = now
    }

    static let migration = Migrations.Migration(version: 2, name: "export jobs", statements: [
        """
        CREATE TABLE {schema}jobs (id TEXT PRIMARY KEY, kind TEXT NOT NULL, parameters TEXT NOT NULL, status TEXT NOT NULL,
          rows_written {bigint} NOT NULL, created_at TEXT NOT NULL, queued_us {bigint} NOT NULL, started_at TEXT, finished_at TEXT, heartbeat_at TEXT, error TEXT,
          requested_key TEXT NOT NULL, manifest TEXT)
        """,
        "CREATE INDEX {index}jobs_status ON {schema}jobs (status, queued_us)",
    ])

    var table: String { database.dialect.render("{schema}jobs", schema: schema) }

    /// The folder job `id` writes into.
    public func folder(_ id: String) -> String { directory + "/" + id }

    /// Queues a job, unless `queueLimit` jobs are already queued or running (checked in the same statement).
    public func enqueue(_ kind: ExportJob.Kind, _ parameters: ExportJob.Parameters, key: String) async throws -> ExportJob {
        var generator = SystemRandomNumberGenerator()
        let id = "job_" + hexString((0..<12).map { _ in UInt8.random(in: 0...255, using: &generator) })
        let clock = now()
        let created = Timestamp.string(clock)
        // Microseconds since 1970 order the queue (two jobs in one second keep their order).
        let queued = Int64(clock.timeIntervalSince1970 * 1_000_000)
        let encoded = String(decoding: try JSONEncoder().encode(parameters), as: UTF8.self)
        let inserted = try await database.query("""
            INSERT INTO \(table) (id, kind, parameters, status, rows_written, created_at, queued_us, requested_key)
            SELECT $1, $2, $3, 'queued', 0, $4, $7, $5 WHERE (SELECT COUNT(*) FROM \(table) WHERE status IN ('queued', 'running')) < $6
            RETURNING id
            """, [.text(id), .text(kind.rawValue), .text(encoded), .text(created), .text(key), .integer(Int64(Self.queueLimit)), .integer(queued)])
        guard !inserted.isEmpty else { throw JobError.queueFull(Self.queueLimit) }
        return ExportJob(id: id, kind: kind, parameters: parameters, status: .queued, rows: 0, created: created, requestedKey: key)
    }

    /// Claims the oldest queued job for this process, or nil when none waits.
    public func claimNext() async throws -> ExportJob? {
        let at = Timestamp.string(now())
        let rows = try await database.query("""
            UPDATE \(table) SET status = 'running', started_at = $1, heartbeat_at = $1
            WHERE id = (SELECT id FROM \(table) WHERE status = 'queued' ORDER BY queued_us, id LIMIT 1) AND status = 'queued'
            RETURNING *
            """, [.text(at)])
        return try rows.first.map(Self.job)
    }

    /// Renews a running job's heartbeat and records its rows so far.
    public func progress(_ id: String, rows: Int) async throws {
        try await database.execute("UPDATE \(table) SET rows_written = $1, heartbeat_at = $2 WHERE id = $3 AND status = 'running'",
                                   [.integer(Int64(rows)), .text(Timestamp.string(now())), .text(id)])
    }

    public func succeed(_ id: String, manifest: Manifest) async throws {
        let rows = manifest.files.reduce(0) { $0 + $1.rows }
        try await database.execute("""
            UPDATE \(table) SET status = 'succeeded', finished_at = $1, manifest = $2, rows_written = $3 WHERE id = $4 AND status = 'running'
            """, [.text(Timestamp.string(now())), .text(String(decoding: manifest.encoded(), as: UTF8.self)), .integer(Int64(rows)), .text(id)])
    }

    /// Marks a job failed and removes whatever it had written.
    public func fail(_ id: String, error: String) async throws {
        try await database.execute("UPDATE \(table) SET status = 'failed', finished_at = $1, error = $2 WHERE id = $3 AND status IN ('queued', 'running')",
                                   [.text(Timestamp.string(now())), .text(String(error.prefix(500))), .text(id)])
        try? FileManager.default.removeItem(atPath: folder(id))
    }

    /// Marks failed the running jobs whose heartbeat stopped more than `heartbeatTimeout` ago (their process died or
    /// restarted) and removes their partial folders. Returns their ids.
    @discardableResult
    public func failAbandoned() async throws -> [String] {
        let cutoff = Timestamp.string(now().addingTimeInterval(-Self.heartbeatTimeout))
        let rows = try await database.query("""
            UPDATE \(table) SET status = 'failed', finished_at = $1, error = 'interrupted (the server stopped while it ran); start it again'
            WHERE status = 'running' AND (heartbeat_at IS NULL OR heartbeat_at < $2) RETURNING id
            """, [.text(Timestamp.string(now())), .text(cutoff)])
        let ids = try rows.map { row throws in try Self.decoded { () throws(RowDecodingError) in try row.decode("id", as: String.self) } }
        for id in ids { try? FileManager.default.removeItem(atPath: folder(id)) }
        return ids
    }

    public func job(_ id: String) async throws -> ExportJob {
        guard let row = try await database.query("SELECT * FROM \(table) WHERE id = $1", [.text(id)]).first else { throw JobError.unknownJob }
        return try Self.job(row)
    }

    /// The newest jobs first.
    public func list(limit: Int = 50) async throws -> [ExportJob] {
        try await database.query("SELECT * FROM \(table) ORDER BY queued_us DESC, id DESC LIMIT \(max(1, min(limit, 500)))").map(Self.job)
    }

    static func decoded<T>(_ body: () throws(RowDecodingError) -> T) throws -> T {
        do { return try body() } catch { throw ExportError.corruptRecord("\(error)") }
    }

    static func job(_ row: SQLRow) throws -> ExportJob {
        try decoded { () throws(RowDecodingError) in
            let parameters: ExportJob.Parameters = try row.decode("parameters", expected: "the job's parameters as JSON") { text in
                try? JSONDecoder().decode(ExportJob.Parameters.self, from: Data(text.utf8))
            }
            let manifest: Manifest? = try row.decodeIfPresent("manifest", as: String.self).map { text throws(RowDecodingError) in
                guard let manifest = try? JSONDecoder().decode(Manifest.self, from: Data(text.utf8)) else {
                    throw RowDecodingError(column: "manifest", expected: "a manifest as JSON", found: "text of another form")
                }
                return manifest
            }
            return ExportJob(id: try row.decode("id"), kind: try row.decode("kind", as: ExportJob.Kind.self), parameters: parameters,
                             status: try row.decode("status", as: ExportJob.Status.self), rows: try row.decode("rows_written"),
                             created: try row.decode("created_at"), started: try row.decodeIfPresent("started_at"),
                             finished: try row.decodeIfPresent("finished_at"), error: try row.decodeIfPresent("error"),
                             requestedKey: try row.decode("requested_key"), manifest: manifest)
        }
    }
}

/// Runs export jobs: the same exports `levy export …` and `levy report html` write, into each job's folder, with
/// the job's heartbeat and row count renewed every two seconds while it runs.
public struct ExportJobExecutor: Sendable {
    public let jobs: ExportJobStore
    public let exporter: Exporter
    /// The FAIA 2.01 schema SAF-T files are validated against; nil skips validation (said in the manifest).
    public let saftSchema: String?

    public init(jobs: ExportJobStore, exporter: Exporter, saftSchema: String?) {
        self.jobs = jobs
        self.exporter = exporter
        self.saftSchema = saftSchema
    }

    /// Claims and runs queued jobs until none is left. Returns how many it ran.
    @discardableResult
    public func runQueued() async throws -> Int {
        var ran = 0
        while !Task.isCancelled, let job = try await jobs.claimNext() {
            await execute(job)
            ran += 1
        }
        return ran
    }

    /// Runs one claimed job to success or failure. A failure (or a cancellation, at shutdown) is recorded by a task
    /// of its own, so that a cancelled export is still marked failed and its folder removed.
    func execute(_ job: ExportJob) async {
        let rows = Counter()
        do {
            let manifest = try await withThrowingTaskGroup(of: Manifest?.self) { group in
                group.addTask {
                    while true {
                        try await Task.sleep(for: .seconds(2))
                        try await jobs.progress(job.id, rows: rows.value)
                    }
                }
                group.addTask { try await write(job, progress: ExportProgress(label: job.id, enabled: false, report: { rows.value = $0 })) }
                defer { group.cancelAll() }
                while let result = try await group.next() {
                    if let manifest = result { return manifest }
                }
                throw CancellationError()
            }
            try await Task { try await jobs.succeed(job.id, manifest: manifest) }.value
        } catch {
            let why = error is CancellationError ? "stopped: the server shut down while it ran; start it again" : "\(error)"
            try? await Task { try await jobs.fail(job.id, error: why) }.value
        }
    }

    func write(_ job: ExportJob, progress: ExportProgress) async throws -> Manifest {
        let p = job.parameters
        guard let from = TaxDate(iso: p.from), let through = TaxDate(iso: p.through) else { throw ExportError.invalidPeriod("the job's dates do not parse") }
        let request = Exporter.Request(scope: ExportScope(from: from, through: through, personalData: p.personalData), requestedBy: p.requestedBy,
                                       reason: p.reason)
        let folder = jobs.folder(job.id)
        switch job.kind {
        case .detail:
            return try await exporter.detail(request, format: DelimitedFormat(rawValue: p.format ?? "csv") ?? .csv, to: folder, progress: progress)
        case .liability:
            return try await exporter.liability(request, period: LiabilitySummary.Period(rawValue: p.period ?? "month") ?? .month,
                                                format: DelimitedFormat(rawValue: p.format ?? "csv") ?? .csv, to: folder, progress: progress)
        case .saft:
            guard let c = p.company else { throw ExportError.corruptRecord("a SAF-T job without the company for its header") }
            let company = CompanyInfo(name: c.name, registrationNumber: c.registration, street: c.street, city: c.city, state: c.state, zip: c.zip,
                                      contactFirstName: c.contactFirstName, contactLastName: c.contactLastName, telephone: c.telephone)
            return try await exporter.saft(request, company: company, schema: saftSchema, to: folder, progress: progress)
        case .report:
            return try await exporter.htmlReport(from: from, through: through, merchant: p.merchant ?? "Merchant", to: folder, progress: progress)
        }
    }

    /// The row count a running export reports, read by its heartbeat.
    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var count = 0
        var value: Int {
            get { lock.withLock { count } }
            set { lock.withLock { count = newValue } }
        }
    }
}
