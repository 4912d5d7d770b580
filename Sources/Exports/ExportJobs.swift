import Foundation
import Storage
import TaxCore

/// An export asked for over the API and run in the background: what was asked, where it stands, and, once done,
/// its signed manifest. Its files live in a folder of its own named by its id.
public struct ExportJob: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable, Codable {
        case detail, liability, saft, report
    }

    public typealias Status = JobQueue.Status

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
    /// When a customer's erasure withdrew the files of this export with personal data (it had run, or was running):
    /// they are not served again, by any process, and each process removes them from its own exports folder.
    public var filesRemoved: String?
}

/// The export jobs (table `jobs` in schema `exports`, owned with the export log by this module): a `JobQueue` of at
/// most 16 queued or running jobs that any number of server processes share, whose parameters are the export's
/// choices and whose result is the signed manifest. A job whose process died is failed and its partial folder
/// removed: a job is finished, or failed, never half-written.
public struct ExportJobStore: Sendable {
    public let database: any SQLDatabase
    public let schema: String
    /// The folder under which each job writes its own folder.
    public let directory: String
    let queue: JobQueue

    /// Queued and running jobs at most; more are refused (`queueFull`) until some finish.
    public static let queueLimit = 16

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
        queue = JobQueue(database: database, schema: schema, table: "jobs", limit: Self.queueLimit, now: now)
    }

    static let migration = JobQueue.migration(version: 2, name: "export jobs", table: "jobs")

    /// Probe #17: an erasure removed the files it could see, in the erasing process's own folder, and told running
    /// exports by a file there: with a folder per process, another's export kept the erased street. The withdrawal
    /// is recorded on the job's row instead, where every process sees it.
    static let withdrawalMigration = Migrations.Migration(version: 4, name: "export files withdrawn by an erasure", statements: [
        "ALTER TABLE {schema}jobs ADD COLUMN files_removed_at TEXT",
    ])

    var table: String { database.dialect.render("{schema}jobs", schema: schema) }

    /// The folder job `id` writes into.
    public func folder(_ id: String) -> String { directory + "/" + id }

    public func enqueue(_ kind: ExportJob.Kind, _ parameters: ExportJob.Parameters, key: String) async throws -> ExportJob {
        let encoded = String(decoding: try JSONEncoder().encode(parameters), as: UTF8.self)
        do {
            return try Self.job(try await queue.enqueue(kind: kind.rawValue, parameters: encoded, key: key, idPrefix: "job_"))
        } catch JobQueue.QueueError.full(let limit) { throw JobError.queueFull(limit) }
    }

    /// How many jobs this process has queued (a runner looks at once when it changes).
    public var queuedHere: Int { queue.queuedHere.value }

    /// Claims the oldest queued job for this process, or nil when none waits.
    public func claimNext() async throws -> ExportJob? { try await queue.claimNext().map(Self.job) }

    /// Renews a running job's heartbeat and records its rows so far.
    public func progress(_ id: String, rows: Int) async throws { try await queue.progress(id, rows) }

    public func succeed(_ id: String, manifest: Manifest) async throws {
        try await queue.succeed(id, result: String(decoding: manifest.encoded(), as: UTF8.self), progress: Int64(manifest.files.reduce(0) { $0 + $1.rows }))
    }

    /// Marks a job failed and removes whatever it had written.
    public func fail(_ id: String, error: String) async throws {
        try await queue.fail(id, error: error)
        try? FileManager.default.removeItem(atPath: folder(id))
    }

    /// Marks failed the running jobs whose heartbeat stopped (their process died or restarted) and removes their
    /// partial folders. Returns their ids.
    @discardableResult
    public func failAbandoned() async throws -> [String] {
        let ids = try await queue.failAbandoned()
        for id in ids { try? FileManager.default.removeItem(atPath: folder(id)) }
        return ids
    }

    public func job(_ id: String) async throws -> ExportJob {
        do { return try await withWithdrawal(try Self.job(try await queue.record(id))) } catch JobQueue.QueueError.unknownJob { throw JobError.unknownJob }
    }

    /// The newest jobs first.
    public func list(limit: Int = 50) async throws -> [ExportJob] {
        var jobs: [ExportJob] = []
        for record in try await queue.list(limit: limit) { jobs.append(try await withWithdrawal(try Self.job(record))) }
        return jobs
    }

    func withWithdrawal(_ job: ExportJob) async throws -> ExportJob {
        var job = job
        job.filesRemoved = try await filesRemoved(job.id)
        return job
    }

    /// Withdraws the files of every export with personal data that has run or is running, for a customer's erasure:
    /// which customers an export holds is not recorded, and any export can be made again from the ledger, as the
    /// erasure leaves it (probe #14: an erased customer's street stayed downloadable). Recorded on each job's row, so
    /// that no process serves them (a download answers 410 `export_files_gone`) and each removes them from its own
    /// folder (`removeWithdrawnFolders`); this process's are removed at once. A job claimed after this has read the
    /// erased data and is not touched. Returns the ids withdrawn.
    @discardableResult
    public func withdrawPersonalDataFiles() async throws -> [String] {
        let rows = try await database.query(
            "SELECT id, parameters FROM \(table) WHERE status IN ('running', 'succeeded') AND files_removed_at IS NULL ORDER BY id", [])
        var withdrawn: [String] = []
        let at = Timestamp.string(Date())
        for row in rows {
            let id: String = try row.decode("id"), parameters: String = try row.decode("parameters")
            // A row whose parameters cannot be read is withdrawn too: it cannot be shown to hold no personal data.
            let decoded = try? JSONDecoder().decode(ExportJob.Parameters.self, from: Data(parameters.utf8))
            guard decoded?.personalData ?? true else { continue }
            try await database.execute("UPDATE \(table) SET files_removed_at = $1 WHERE id = $2 AND files_removed_at IS NULL", [.text(at), .text(id)])
            withdrawn.append(id)
        }
        try removeWithdrawnFolders(withdrawn)
        return withdrawn
    }

    /// Removes from this process's exports folder the folders of jobs whose files were withdrawn (by an erasure in
    /// any process); run every minute by the server. Returns the ids removed.
    @discardableResult
    public func removeWithdrawnFolders() async throws -> [String] {
        let names = Set(((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasPrefix("job_") })
        guard !names.isEmpty else { return [] }
        let rows = try await database.query("SELECT id FROM \(table) WHERE files_removed_at IS NOT NULL", [])
        let ids = try rows.map { row throws(RowDecodingError) -> String in try row.decode("id") }.filter(names.contains)
        try removeWithdrawnFolders(ids)
        return ids
    }

    func removeWithdrawnFolders(_ ids: [String]) throws {
        for id in ids where FileManager.default.fileExists(atPath: folder(id)) { try FileManager.default.removeItem(atPath: folder(id)) }
    }

    /// When the files of job `id` were withdrawn by an erasure, or nil.
    public func filesRemoved(_ id: String) async throws -> String? {
        try await database.query("SELECT files_removed_at FROM \(table) WHERE id = $1", [.text(id)]).first?.decodeIfPresent("files_removed_at")
    }

    static func job(_ record: JobQueue.Record) throws -> ExportJob {
        guard let kind = ExportJob.Kind(rawValue: record.kind),
              let parameters = try? JSONDecoder().decode(ExportJob.Parameters.self, from: Data(record.parameters.utf8)) else {
            throw ExportError.corruptRecord("export job \(record.id): its kind or parameters cannot be read")
        }
        var manifest: Manifest?
        if let result = record.result {
            guard let decoded = try? JSONDecoder().decode(Manifest.self, from: Data(result.utf8)) else {
                throw ExportError.corruptRecord("export job \(record.id): its manifest cannot be read")
            }
            manifest = decoded
        }
        return ExportJob(id: record.id, kind: kind, parameters: parameters, status: record.status,
                         rows: record.progress, created: record.created, started: record.started, finished: record.finished, error: record.error,
                         requestedKey: record.requestedKey, manifest: manifest)
    }
}

/// Runs export jobs: the same exports `levy export …` and `levy report html` write, into each job's folder, with
/// the job's heartbeat and row count renewed every two seconds while it runs.
public struct ExportJobExecutor: JobRunner {
    public let jobs: ExportJobStore
    public let exporter: Exporter
    /// The FAIA 2.01 schema SAF-T files are validated against; nil skips validation (said in the manifest).
    public let saftSchema: String?

    public init(jobs: ExportJobStore, exporter: Exporter, saftSchema: String?) {
        self.jobs = jobs
        self.exporter = exporter
        self.saftSchema = saftSchema
    }

    /// Runs the oldest queued job, if there is one. A server's runner takes one job of a merchant at a time and
    /// then looks at the others, so that no merchant's queue holds up another's.
    @discardableResult
    public func runNext() async throws -> Bool {
        guard !Task.isCancelled, let job = try await jobs.claimNext() else { return false }
        await execute(job)
        return true
    }

    /// Runs one claimed job to success or failure. A failure (or a cancellation, at shutdown) is recorded by a task
    /// of its own, so that a cancelled export is still marked failed and its folder removed.
    /// An export with personal data withdrawn by an erasure while it ran (it may have read the customer first) has
    /// its files removed as soon as it succeeds; the erasure's record keeps any process from serving them meanwhile.
    public func execute(_ job: ExportJob) async {
        let rows = ProgressCounter()
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
            if job.parameters.personalData, (try? await jobs.filesRemoved(job.id)) != nil {
                try? FileManager.default.removeItem(atPath: jobs.folder(job.id))
            }
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

}
