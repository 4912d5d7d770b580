import ArgumentParser
import Foundation
import Orders
import Reconciliation
import Synchronization
import TaxCore

/// `levy reconcile`: the nightly job that proves the books.
struct ReconcileCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile",
        abstract: "Match Levy's captures, refunds and ledger with a processor's settlement file; recompute tax; list every difference.",
        discussion: """
            Writes differences.csv, report.json and summary.txt into --out, with checkpoint.sqlite: a run that stops resumes \
            from its last checkpoint, and a finished run rewrites the same report. Exit status: 0 no differences, 1 differences \
            found, 3 bad input (settlement file, mapping or options). See docs/reconciliation.md.
            """)

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var replica: ReplicaOptions
    @Option(help: "The processor's settlement file (CSV with a header).") var settlements: String
    @Option(help: "Its layout: generic or stripe (ignored with --mapping).") var layout = "generic"
    @Option(help: "A JSON mapping file for any other layout (docs/reconciliation.md).") var mapping: String?
    @Option(help: "First day of captures and refunds to reconcile (YYYY-MM-DD, UTC).") var from: String?
    @Option(help: "Last day, inclusive (YYYY-MM-DD, UTC).") var to: String?
    @Option(help: "The folder for the report and the checkpoint.") var out: String
    // `.unconditional`: "-1" is read as this option's value (and refused by range) rather than as an unknown flag.
    @Option(parsing: .unconditional, help: "Agreed processing fee on sales, percent (e.g. 2.9); without it only net = amount - fee is checked.") var feePercent: String?
    @Option(parsing: .unconditional, help: "Agreed fixed fee per sale, in major units (e.g. 0.30).") var feeFixed = "0"
    @Option(parsing: .unconditional, help: "Days after capture or refund by which funds must be available.") var lateAfterDays = 5
    @Flag(help: "Skip recomputing each sale's tax (faster; no tax_mismatch from the tables).") var noTaxRecompute = false
    @Flag(help: "Discard a previous run in --out and start again.") var restart = false
    @Option(help: .hidden) var batchSize = 10_000
    /// Drills: after this many checkpoints, say so on standard output and wait to be killed.
    @Option(help: .hidden) var holdAtCheckpoint: Int?

    func run() async throws {
        do {
            let request = try makeRequest()
            let service = try await replica.readService(primary: try await database.orders(existing: true))
            var reconciler = Reconciler(service: service, tables: service.tables)
            reconciler.batch = max(batchSize, 1)
            if let holdAtCheckpoint {
                reconciler.afterCheckpoint = { count in
                    guard count == holdAtCheckpoint else { return }
                    FileHandle.standardOutput.write(Data("holding at checkpoint \(count)\n".utf8))
                    try? await Task.sleep(for: .seconds(3_600))
                }
            }
            let progress = PhaseProgress()
            reconciler.progress = { phase, rows in progress.update(phase, rows) }
            let times = Mutex<[String]>([])
            reconciler.phaseDone = { phase, duration in
                let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
                times.withLock { $0.append("\(phase) \(String(format: "%.1f", seconds)) s") }
            }
            let summary = try await reconciler.run(request, out: out, restart: restart)
            progress.finish()
            // Timings go to standard error: the report files and the summary stay the same from run to run.
            writeError("phases: \(times.withLock { $0.joined(separator: ", ") })\n")
            print(summary.text, terminator: "")
            print("report: \(out)/differences.csv, \(out)/report.json, \(out)/summary.txt")
            if summary.differences > 0 { throw ExitCode(1) }
        } catch let error as ReconcileError {
            writeError("levy reconcile: \(error)\n")
            throw ExitCode(3)
        }
    }

    func makeRequest() throws(ReconcileError) -> ReconcileRequest {
        let layout: SettlementLayout
        if let mapping { layout = try SettlementLayout.load(mapping: mapping) } else {
            guard let builtIn = SettlementLayout.builtIn(self.layout) else { throw .input("--layout: \"\(self.layout)\" is not generic or stripe") }
            layout = builtIn
        }
        func date(_ text: String?, _ option: String) throws(ReconcileError) -> TaxDate? {
            guard let text else { return nil }
            guard let date = TaxDate(iso: text) else { throw .input("--\(option): \"\(text)\" is not a date (YYYY-MM-DD)") }
            return date
        }
        let fees = try FeeSchedule.parse(percent: feePercent, fixed: feeFixed, percentName: "--fee-percent", fixedName: "--fee-fixed")
        guard lateAfterDays >= 0 else { throw .input("--late-after-days: must not be negative") }
        var isFolder: ObjCBool = false
        // A regular file: a FIFO or /dev/zero would be read forever (probe #7).
        var info = stat()
        guard stat(settlements, &info) == 0, info.st_mode & S_IFMT == S_IFREG, FileManager.default.isReadableFile(atPath: settlements) else {
            throw .input("\(settlements): cannot read the settlement file (not a regular file, or not readable)")
        }
        if FileManager.default.fileExists(atPath: out, isDirectory: &isFolder), !isFolder.boolValue {
            throw .input("--out: \(out) is a file; the report goes into a folder")
        }
        let (first, last) = (try date(from, "from"), try date(to, "to"))
        if let first, let last, last < first { throw .input("--to: \(last.iso) is before --from \(first.iso)") }
        return ReconcileRequest(settlements: settlements, layout: layout, from: first, through: last,
                                policy: MatchPolicy(fees: fees, lateAfterDays: lateAfterDays), recomputeTax: !noTaxRecompute)
    }
}

/// Progress of a phase on a terminal (standard error), a few times a second; silent when not a terminal.
final class PhaseProgress: Sendable {
    let enabled = isatty(2) == 1
    let state = Mutex<(phase: String, at: Date)>(("", .distantPast))

    func update(_ phase: String, _ rows: Int) {
        guard enabled else { return }
        let show = state.withLock { state -> Bool in
            let now = Date()
            guard phase != state.phase || now.timeIntervalSince(state.at) > 0.25 else { return false }
            if phase != state.phase, !state.phase.isEmpty { writeError("\n") }
            state = (phase, now)
            return true
        }
        if show { writeError("\r\(phase): \(rows)") }
    }

    func finish() {
        if enabled { writeError("\n") }
    }
}
