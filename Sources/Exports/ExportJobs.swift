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
        do { return try Self.job(try await queue.record(id)) } catch JobQueue.QueueError.unknownJob { throw JobError.unknownJob }
    }

    /// The newest jobs first.
    public func list(limit: Int = 50) async throws -> [ExportJob] { try await queue.list(limit: limit).map(Self.job) }

    /// Removes the files of this store's finished exports that hold personal data, for a customer's erasure: which
    /// customers an export holds is not recorded, and any export can be made again from the ledger, as the erasure
    /// leaves it (probe #14: an erased customer's street stayed downloadable). A download of such a job is then 410
    /// `export_files_gone`. Returns the ids whose files were removed.
    public func removePersonalDataFiles() async throws -> [String] {
        // Marked before the folders are looked at: a job still running now finds the mark changed when it finishes.
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try UUID().uuidString.write(toFile: erasureMarkPath, atomically: true, encoding: .utf8)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var removed: [String] = []
        for name in names.sorted() where name.hasPrefix("job_") {
            // Another merchant's job, or a folder of no job, is not this store's to judge.
            guard let job = try? await job(name), job.parameters.personalData, job.status == .succeeded else { continue }
            try FileManager.default.removeItem(atPath: folder(name))
            removed.append(name)
        }
        return removed
    }

    /// A file each erasure rewrites with a fresh random value: an export with personal data that was running during
    /// an erasure (probe #14: it kept what it had read) tells by it, when it finishes, that it may hold the customer.
    var erasureMarkPath: String { directory + "/erasure-mark" }

    /// The current erasure mark ("" before the first erasure).
    public func erasureMark() -> String { (try? String(contentsOfFile: erasureMarkPath, encoding: .utf8)) ?? "" }

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
        // Read once the job is claimed, before it reads anything, and only for a job that may hold a customer (not on
        // every poll of the queue).
        await execute(job, erasureMarkAtClaim: job.parameters.personalData ? jobs.erasureMark() : "")
        return true
    }

    /// Runs one claimed job to success or failure. A failure (or a cancellation, at shutdown) is recorded by a task
    /// of its own, so that a cancelled export is still marked failed and its folder removed.
    /// `erasureMarkAtClaim` is the store's erasure mark read when the job was claimed: when it has changed by the
    /// time an export with personal data succeeds, a customer was erased while it read, and its files are removed as
    /// the erasure removes those of finished exports (a download answers 410 `export_files_gone`).
    public func execute(_ job: ExportJob, erasureMarkAtClaim: String) async {
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
            if job.parameters.personalData, jobs.erasureMark() != erasureMarkAtClaim {
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
