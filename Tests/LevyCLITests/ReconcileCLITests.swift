import Foundation
import Storage
import Testing

@Suite("levy reconcile and levy nexus")
struct ReconcileCLITests {
    static func seeded(orders: Int, inject: Int, taxMismatchEvery: Int = 50) throws -> String {
        let directory = NSTemporaryDirectory() + "levy-reconcile-cli-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let seed = try LevyBinary.run(["demo", "seed", "--database", directory + "/levy.sqlite", "--orders", String(orders), "--seed", "4",
                                       "--settlements", directory + "/settlements.csv", "--inject-every", String(inject),
                                       "--tax-mismatch-every", String(taxMismatchEvery)])
        #expect(seed.status == 0, "\(seed.stderr)")
        return directory
    }

    static func reconcile(_ directory: String, out: String, extra: [String] = []) -> [String] {
        ["reconcile", "--database", directory + "/levy.sqlite", "--settlements", directory + "/settlements.csv", "--layout", "stripe",
         "--fee-percent", "2.9", "--fee-fixed", "0.30", "--out", directory + "/" + out] + extra
    }

    @Test("kill -9 during a run, rerun: the same report as an uninterrupted run")
    func killAndRerun() async throws {
        let directory = try Self.seeded(orders: 400, inject: 10)
        let whole = try LevyBinary.run(Self.reconcile(directory, out: "whole"))
        #expect(whole.status == 1, "differences found: \(whole.stderr)")
        #expect(whole.stdout.contains("differences       "))

        let process = Process()
        process.executableURL = URL(fileURLWithPath: LevyBinary.path)
        // Small batches; the run holds after its 300th checkpoint (the settlement file is in, the ledger is being
        // read) and is killed there without warning. Reading its output blocks, so the test does not depend on
        // being scheduled while other tests run.
        process.arguments = Self.reconcile(directory, out: "killed", extra: ["--batch-size", "2", "--hold-at-checkpoint", "300"])
        process.environment = ProcessInfo.processInfo.environment.merging(["LEVY_TABLES": LevyBinary.root.path + "/TaxTables"]) { $1 }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        var text = ""
        while !text.contains("holding at checkpoint 300") {
            let data = output.fileHandleForReading.availableData
            if data.isEmpty { break }
            text += String(decoding: data, as: UTF8.self)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(text.contains("holding at checkpoint 300"))
        let work = try SQLiteDatabase(path: directory + "/killed/checkpoint.sqlite")
        let phase = try await work.query("SELECT name FROM run WHERE name IN ('settlement_done', 'movements_done') ORDER BY name", [])
        #expect(phase.map { $0.text("name") } == ["settlement_done"], "killed while reading the ledger")
        #expect(process.terminationReason == .uncaughtSignal)
        #expect(!FileManager.default.fileExists(atPath: directory + "/killed/differences.csv"))

        let rerun = try LevyBinary.run(Self.reconcile(directory, out: "killed", extra: ["--batch-size", "2"]))
        #expect(rerun.status == 1)
        for file in ["differences.csv", "report.json", "summary.txt"] {
            let a = try Data(contentsOf: URL(fileURLWithPath: directory + "/whole/" + file))
            let b = try Data(contentsOf: URL(fileURLWithPath: directory + "/killed/" + file))
            #expect(a == b, "\(file) differs after the kill")
        }
        // And the report found exactly what the seed injected.
        let expected = try String(contentsOfFile: directory + "/settlements.csv.expected.csv", encoding: .utf8)
        let report = try String(contentsOfFile: directory + "/whole/differences.csv", encoding: .utf8)
        func keys(_ csv: String) -> [String] {
            csv.split(whereSeparator: \.isNewline).dropFirst().map { $0.split(separator: ",", maxSplits: 3, omittingEmptySubsequences: false).prefix(3).joined(separator: ",") }.sorted()
        }
        #expect(keys(expected) == keys(report))
    }

    @Test("exit status: 0 when the books agree, 3 for bad input")
    func exitStatus() throws {
        let directory = try Self.seeded(orders: 60, inject: 0, taxMismatchEvery: 0)
        let clean = try LevyBinary.run(Self.reconcile(directory, out: "clean"))
        #expect(clean.status == 0, "\(clean.stdout)\(clean.stderr)")
        #expect(clean.stdout.contains("differences       0"))
        let badLayout = try LevyBinary.run(Self.reconcile(directory, out: "bad", extra: ["--layout", "paypal"]))
        #expect(badLayout.status == 3)
        #expect(badLayout.stderr.contains("--layout: \"paypal\" is not generic or stripe"))
        let wrongFile = try LevyBinary.run(["reconcile", "--database", directory + "/levy.sqlite", "--settlements", directory + "/none.csv",
                                            "--out", directory + "/missing"])
        #expect(wrongFile.status == 3)
        #expect(wrongFile.stderr.contains("none.csv: cannot read the settlement file"))
        let backwards = try LevyBinary.run(Self.reconcile(directory, out: "backwards", extra: ["--from", "9999-12-31", "--to", "0001-01-01"]))
        #expect(backwards.status == 3 && backwards.stderr.contains("--to: 0001-01-01 is before --from 9999-12-31"), "\(backwards.stderr)")
        // Negative numbers reach the range checks (they used to be taken for unknown flags: "Missing value").
        for (option, value, message) in [("--fee-percent", "-1", "--fee-percent: \"-1\" is not a percentage from 0 to 100"),
                                         ("--fee-fixed", "-0.30", "--fee-fixed: \"-0.30\" is not an amount from 0 to ten trillion"),
                                         ("--fee-fixed", "1e308", "--fee-fixed: \"1e308\" is not an amount"),
                                         ("--fee-percent", "02.9", "--fee-percent: \"02.9\" is not a percentage from 0 to 100"),
                                         ("--fee-fixed", ".30", "--fee-fixed: \".30\" is not an amount"),
                                         ("--late-after-days", "-2", "--late-after-days: must not be negative")] {
            let negative = try LevyBinary.run(Self.reconcile(directory, out: "negative", extra: [option, value]))
            #expect(negative.status == 3 && negative.stderr.contains(message), "\(option) \(value): \(negative.stderr)")
        }
        // Each line within the bound, the file's sum past what a sum holds: exit 3 naming the line, not SQLite's
        // "integer overflow" (probe #12); an impossible date or a column named twice is refused with its place too.
        var huge = "line_id,type,order_id,refund_id,processor_id,amount,fee,net,currency,created,settled\n"
        // Line ids with a letter first: a bare number in a CSV cell is what the card-data scan takes for a written
        // security code, and the suite's codes (5926, 7319) are among 0...9223.
        for i in 0..<9_224 { huge += "t\(i),sale,ord_x\(i),,,10000000000000.00,0,,USD,2026-11-02,\n" }
        try huge.write(toFile: directory + "/huge.csv", atomically: true, encoding: .utf8)
        func generic(_ file: String, _ out: String) throws -> LevyBinary.Result {
            try LevyBinary.run(["reconcile", "--database", directory + "/levy.sqlite", "--settlements", directory + "/" + file, "--layout", "generic",
                                "--out", directory + "/" + out])
        }
        let overflow = try generic("huge.csv", "huge")
        #expect(overflow.status == 3 && overflow.stderr.contains("huge.csv:9225: the file's amounts, fees or nets add up past"), "\(overflow.stderr)")
        try "line_id,type,order_id,refund_id,processor_id,amount,fee,net,currency,created,settled\n1,sale,ord_x,,,10.00,0,,USD,2026-11-02,2026-12-40\n"
            .write(toFile: directory + "/day40.csv", atomically: true, encoding: .utf8)
        let day40 = try generic("day40.csv", "day40")
        #expect(day40.status == 3 && day40.stderr.contains("day40.csv:2: column \"settled\" (settled): \"2026-12-40\" is not a time"), "\(day40.stderr)")
        try "line_id,type,order_id,refund_id,processor_id,AMOUNT,amount,fee,net,currency,created,settled\n1,sale,ord_x,,,10.00,11.00,0,,USD,2026-11-02,\n"
            .write(toFile: directory + "/twice.csv", atomically: true, encoding: .utf8)
        let twice = try generic("twice.csv", "twice")
        #expect(twice.status == 3 && twice.stderr.contains("twice.csv:1: column \"amount\" (amount) appears twice (columns 6 and 7)"), "\(twice.stderr)")
        // A fixed fee alone would be read and never used: refused.
        let alone = try LevyBinary.run(Self.reconcile(directory, out: "alone").filter { $0 != "--fee-percent" && $0 != "2.9" })
        #expect(alone.status == 3 && alone.stderr.contains("--fee-fixed: given without --fee-percent"), "\(alone.stderr)")
    }

    @Test("levy nexus report: a threshold crossed where the merchant is not registered is an alert")
    func nexus() throws {
        let directory = try Self.seeded(orders: 400, inject: 0, taxMismatchEvery: 0)
        let unregistered = try LevyBinary.run(["nexus", "report", "--database", directory + "/levy.sqlite", "--year", "2026",
                                               "--registered", "WI", "--format", "csv"])
        #expect(unregistered.status == 1)
        let rows = unregistered.stdout.split(whereSeparator: \.isNewline).map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        let header = rows[0]
        func row(_ state: String) -> [String: String] { Dictionary(uniqueKeysWithValues: zip(header, rows.first { $0[0] == state }!)) }
        #expect(rows.count == 53, "every state, DC and PR, plus the header")
        #expect(row("MN")["status"] == "crossed")
        #expect(row("MN")["alert"] == "ALERT")
        #expect(row("MN")["sales_threshold"] == "100000.00")
        #expect(row("MN")["counted_sales"] == "retail")
        // The day the year's MN sales first crossed the threshold (the seed's tax dates run February to October).
        #expect(TaxDateText.valid(row("MN")["crossed_on"] ?? "", from: "2026-02-01", through: "2026-10-31"), "\(row("MN"))")
        #expect(row("WI")["crossed_on"] == "" || row("WI")["status"] == "crossed")
        #expect(row("WI")["registered"] == "yes")
        #expect(row("WI")["alert"] == "")
        #expect(row("OR")["status"] == "no_sales_tax")
        #expect(row("NY")["combine"] == "and")

        let registered = try LevyBinary.run(["nexus", "report", "--database", directory + "/levy.sqlite", "--year", "2026", "--registered", "MN"])
        #expect(registered.status == 0, "\(registered.stdout)")
        #expect(registered.stdout.contains("registered in MN (as given)"))
        #expect(!registered.stdout.contains("ALERT"))
        // As the API: a code of a state the tables do not know is refused, not read as a registration (probe #5).
        let unknown = try LevyBinary.run(["nexus", "report", "--database", directory + "/levy.sqlite", "--year", "2026", "--registered", "MN,ZZ"])
        #expect(unknown.status != 0 && unknown.stderr.contains("--registered: ZZ is not the code of a state the tables know"), "\(unknown.stderr)")
        // --near is a percentage: 10^17 overflowed the threshold arithmetic and stopped the process.
        for near in ["100000000000000000", "0", "101"] {
            let refused = try LevyBinary.run(["nexus", "report", "--database", directory + "/levy.sqlite", "--year", "2026", "--near", near])
            #expect(refused.status != 0 && refused.stderr.contains("--near"), "\(near): \(refused.stderr)")
        }
        // A year under 1000 is a year like any other (its last day is 0999-12-31), not an error blamed on --as-of.
        let early = try LevyBinary.run(["nexus", "report", "--database", directory + "/levy.sqlite", "--year", "999", "--registered", "MN"])
        #expect(early.status == 0 && early.stdout.contains("thresholds in force on 0999-12-31"), "\(early.stderr)")
    }
}

/// Dates as the CLI prints them.
enum TaxDateText {
    /// `text` is a YYYY-MM-DD date from `from` through `through` (ISO dates compare as text).
    static func valid(_ text: String, from: String, through: String) -> Bool {
        text.count == 10 && text.split(separator: "-").count == 3 && text >= from && text <= through
    }
}
