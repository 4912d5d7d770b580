import Foundation
import JSONInput
import Logging
import Orders
import Storage
import TaxCore

/// A reconciliation asked for over the API or the console: a settlement file uploaded to the server and matched,
/// in the background, exactly as `levy reconcile` matches it. Runs are a `JobQueue` (table `runs` in the schema
/// `reconciliation`, owned by this module); each run has a folder with the uploaded file and the report.
public struct ReconciliationRun: Sendable, Equatable {
    /// The choices of `levy reconcile`, and where the uploaded file waits until the run takes it.
    public struct Parameters: Sendable, Equatable, Codable {
        public var layout: String
        /// A layout of the uploader's own, based on `layout` (nil: `layout` as built in).
        public var mapping: SettlementLayout.Mapping?
        public var from: String?
        public var through: String?
        public var feePercent: String?
        public var feeFixed: String
        public var lateAfterDays: Int
        public var recomputeTax: Bool
        /// The file as uploaded (a name for people, never a path).
        public var fileName: String
        public var bytes: Int64

        public init(layout: String, mapping: SettlementLayout.Mapping? = nil, from: String? = nil, through: String? = nil, feePercent: String? = nil,
                    feeFixed: String = "0", lateAfterDays: Int = 5, recomputeTax: Bool = true, fileName: String, bytes: Int64) {
            (self.layout, self.mapping, self.from, self.through, self.feePercent, self.feeFixed) = (layout, mapping, from, through, feePercent, feeFixed)
            (self.lateAfterDays, self.recomputeTax, self.fileName, self.bytes) = (lateAfterDays, recomputeTax, fileName, bytes)
        }

        /// The request `levy reconcile` would make of the same options; a bad option is an input error naming it.
        func request(settlements: String) throws(ReconcileError) -> ReconcileRequest {
            let layout: SettlementLayout
            if let mapping {
                layout = try mapping.layout(name: "\(mapping.base) with the request's columns", origin: "mapping")
            } else {
                guard let builtIn = SettlementLayout.builtIn(self.layout) else { throw .input("layout: \"\(self.layout)\" is not generic or stripe") }
                layout = builtIn
            }
            func date(_ text: String?, _ name: String) throws(ReconcileError) -> TaxDate? {
                guard let text else { return nil }
                guard let date = TaxDate(iso: text) else { throw .input("\(name): \"\(text)\" is not a date (YYYY-MM-DD)") }
                return date
            }
            let fees = try FeeSchedule.parse(percent: feePercent, fixed: feeFixed, percentName: "fee_percent", fixedName: "fee_fixed")
            guard (0...366).contains(lateAfterDays) else { throw .input("late_after_days: 0 to 366") }
            // Messages and the report name the file as uploaded, not as the run's folder keeps it.
            var request = ReconcileRequest(settlements: settlements, layout: layout, from: try date(from, "from"), through: try date(through, "through"),
                                           policy: MatchPolicy(fees: fees, lateAfterDays: lateAfterDays), recomputeTax: recomputeTax)
            request.settlementsName = fileName
            return request
        }
    }

    public var id: String
    public var parameters: Parameters
    public var status: JobQueue.Status
    /// Rows read so far (the settlement file's lines, then the ledger's).
    public var progress: Int64
    public var created: String
    public var started: String?
    public var finished: String?
    public var error: String?
    public var requestedKey: String
    public var summary: ReconcileSummary?
}

public struct ReconciliationRuns: Sendable {
    public let database: any SQLDatabase
    public let schema: String
    /// Each run's folder is `directory/<run id>`; uploads wait in `directory/uploads` until their run takes them.
    public let directory: String
    let queue: JobQueue

    public static let queueLimit = 8
    /// The largest settlement file accepted over the API (a month of a busy merchant's Stripe export is far smaller).
    public static let maxUploadBytes = 256 * 1_024 * 1_024

    public init(database: any SQLDatabase, schema: String = "reconciliation", directory: String, now: @escaping @Sendable () -> Date = { Date() }) {
        self.database = database
        self.schema = schema
        self.directory = directory
        queue = JobQueue(database: database, schema: schema, table: "runs", limit: Self.queueLimit, now: now)
    }

    public static func migrations(schema: String) -> Migrations {
        Migrations(schema: schema, [JobQueue.migration(version: 1, name: "reconciliation runs", table: "runs")])
    }

    public func folder(_ id: String) -> String { directory + "/" + id }
    /// Where an uploaded file waits for its run.
    public func upload(_ id: String) -> String { directory + "/uploads/" + id + ".csv" }
    /// The report folder of a run (`levy reconcile --out`).
    public func report(_ id: String) -> String { folder(id) + "/report" }

    /// A new upload's id and path (the file is written there before the run is queued).
    public func newUpload() throws -> (id: String, path: String) {
        try FileManager.default.createDirectory(atPath: directory + "/uploads", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
        var generator = SystemRandomNumberGenerator()
        let id = "upl_" + hexString((0..<12).map { _ in UInt8.random(in: 0...255, using: &generator) })
        return (id, upload(id))
    }

    /// Queues a run of the uploaded file `uploadID` (moved into the run's folder when the run starts).
    public func enqueue(_ parameters: ReconciliationRun.Parameters, uploadID: String, key: String) async throws -> ReconciliationRun {
        var stored = parameters
        stored.fileName = String(parameters.fileName.prefix(200))
        let text = String(decoding: try JSONEncoder().encode(Queued(parameters: stored, upload: uploadID)), as: UTF8.self)
        let record = try await queue.enqueue(kind: "reconciliation", parameters: text, key: key, idPrefix: "rec_")
        return try Self.run(record)
    }

    struct Queued: Codable {
        var parameters: ReconciliationRun.Parameters
        var upload: String
    }

    /// How many runs this process has queued (a runner looks at once when it changes).
    public var queuedHere: Int { queue.queuedHere.value }

    public func run(_ id: String) async throws -> ReconciliationRun { try Self.run(try await queue.record(id)) }
    public func list(limit: Int = 50) async throws -> [ReconciliationRun] { try await queue.list(limit: limit).map(Self.run) }

    static func run(_ record: JobQueue.Record) throws -> ReconciliationRun {
        guard let queued = try? JSONDecoder().decode(Queued.self, from: Data(record.parameters.utf8)) else {
            throw ReconcileError.input("run \(record.id): its stored parameters cannot be read")
        }
        let summary = record.result.flatMap { try? JSONDecoder().decode(ReconcileSummary.self, from: Data($0.utf8)) }
        return ReconciliationRun(id: record.id, parameters: queued.parameters, status: record.status, progress: record.progress, created: record.created,
                                 started: record.started, finished: record.finished, error: record.error, requestedKey: record.requestedKey,
                                 summary: summary)
    }

    /// The differences of a finished run (rows of `differences.csv` by column), optionally of one reason, at most
    /// `limit`, and how many match in all. The file is read as a stream.
    public func differences(_ id: String, reason: String?, limit: Int) throws -> (rows: [[String: String]], total: Int) {
        let path = report(id) + "/differences.csv"
        guard FileManager.default.fileExists(atPath: path) else { return ([], 0) }
        let stream: CSVStream
        do { stream = try CSVStream(path: path) } catch { throw ReconcileError.state("\(error)") }
        var header: [String]?
        var rows: [[String: String]] = []
        var total = 0
        while true {
            let next: CSVStream.Record?
            do { next = try stream.next() } catch { throw ReconcileError.state("\(error)") }
            guard let record = next else { break }
            guard let names = header else { header = record.fields; continue }
            let row = Dictionary(zip(names, record.fields), uniquingKeysWith: { first, _ in first })
            if let reason, row["reason"] != reason { continue }
            total += 1
            if rows.count < limit { rows.append(row) }
        }
        return (rows, total)
    }
}

/// Runs queued reconciliations one at a time: takes the uploaded file into the run's folder, runs the reconciler
/// into `report/`, keeps the summary as the run's result. A run whose process died is failed (its folder kept for
/// inspection is removed with it); an input error in the file fails the run with the reconciler's message (file,
/// line, column).
public struct ReconciliationRunExecutor: JobRunner {
    public let runs: ReconciliationRuns
    public let service: OrderService

    public init(runs: ReconciliationRuns, service: OrderService) {
        self.runs = runs
        self.service = service
    }

    /// Runs the oldest queued run, if there is one. A server's runner takes one run of a merchant at a time and
    /// then looks at the others, so that no merchant's queue holds up another's.
    @discardableResult
    public func runNext() async throws -> Bool {
        guard !Task.isCancelled, let record = try await runs.queue.claimNext() else { return false }
        await execute(record)
        return true
    }

    @discardableResult
    public func failAbandoned() async throws -> [String] {
        let ids = try await runs.queue.failAbandoned()
        for id in ids { try? FileManager.default.removeItem(atPath: runs.folder(id)) }
        return ids
    }

    func execute(_ record: JobQueue.Record) async {
        do {
            guard let queued = try? JSONDecoder().decode(ReconciliationRuns.Queued.self, from: Data(record.parameters.utf8)) else {
                throw ReconcileError.input("the run's stored parameters cannot be read")
            }
            let folder = runs.folder(record.id)
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
            let settlements = folder + "/settlements.csv"
            if !FileManager.default.fileExists(atPath: settlements) {
                try FileManager.default.moveItem(atPath: runs.upload(queued.upload), toPath: settlements)
            }
            let request = try queued.parameters.request(settlements: settlements)
            var reconciler = Reconciler(service: service, tables: service.tables)
            let rows = ProgressCounter()
            reconciler.progress = { _, count in rows.value = count }
            let configured = reconciler
            let summary = try await withThrowingTaskGroup(of: ReconcileSummary?.self) { group in
                group.addTask {
                    while true {
                        try await Task.sleep(for: .seconds(2))
                        try await runs.queue.progress(record.id, rows.value)
                    }
                }
                group.addTask { try await configured.run(request, out: runs.report(record.id)) }
                defer { group.cancelAll() }
                while let result = try await group.next() {
                    if let summary = result { return summary }
                }
                throw CancellationError()
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let result = String(decoding: try encoder.encode(summary), as: UTF8.self)
            try await Task { try await runs.queue.succeed(record.id, result: result, progress: Int64(summary.settlementLines)) }.value
            discardInputs(of: record.id)
        } catch {
            // Messages name the file as uploaded, not the server's folders, and quote no card number a cell held. A
            // fault that is not the file's (a store error) is not described to the client: its text may hold a query.
            let why: String
            switch error {
            case is CancellationError: why = "stopped: the server shut down while it ran; start it again"
            case let refusal as ReconcileError:
                why = CardNumberMask.masked(refusal.description.replacingOccurrences(of: runs.folder(record.id) + "/", with: ""))
                if case .cardNumber = refusal {
                    // Card data stays nowhere outside the vault: the report folder goes too, not only the inputs.
                    try? FileManager.default.removeItem(atPath: runs.report(record.id))
                }
            default:
                why = "the run failed on the server's side (\(type(of: error))); its cause is in the server's log"
                Logger(label: "levy.reconciliation").error("reconciliation run failed", metadata: [
                    "run": .string(record.id), "error": .string(CardNumberMask.masked(String(describing: error)))])
            }
            do { try await Task { try await runs.queue.fail(record.id, error: why) }.value } catch {
                // The run stays `running` until its heartbeat expires, then reads as interrupted: say why here.
                Logger(label: "levy.reconciliation").error("a failed reconciliation run could not be marked failed", metadata: [
                    "run": .string(record.id), "error": .string(String(describing: type(of: error)))])
            }
            discardInputs(of: record.id)
        }
    }

    /// A run that has ended keeps only its report: the uploaded file (up to 256 MiB) and the checkpoint, which is
    /// there to resume a run its process lost, are deleted, so that runs do not fill the disk with their inputs.
    func discardInputs(of id: String) {
        let files = FileManager.default
        try? files.removeItem(atPath: runs.folder(id) + "/settlements.csv")
        let report = runs.report(id)
        for name in (try? files.contentsOfDirectory(atPath: report)) ?? [] where name.hasPrefix(Reconciler.checkpointFile) {
            try? files.removeItem(atPath: report + "/" + name)
        }
    }

}
