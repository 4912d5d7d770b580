import Foundation
import Testing

@Suite("levy tables, as a user runs it")
struct TablesCLITests {
    static func official(_ name: String) -> String { LevyBinary.root.appendingPathComponent("Fixtures/official/\(name)").path }

    @Test("import official files, quote Seattle on both sides of 2026-01-01, and a refused import changes nothing")
    func importAndQuote() throws {
        let store = NSTemporaryDirectory() + "levy-cli-store-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: store) }
        let imported = try LevyBinary.run(["tables", "import", "--store", store, Self.official("MNR2026Q2FEB18.csv"),
                                           Self.official("MNB2026Q2FEB18-sample.csv"), Self.official("wa_dor_location_rates_2024Q4-2026Q2.csv")])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stdout.contains("(now current)"))

        let order = """
            {"date": "DATE", "origin": {"state": "WA", "zip": "98101"}, "destination": {"line1": "400 Pine St", "state": "WA", "zip": "98101"},
             "lines": [{"id": "1", "code": "general", "amount": "100.00", "fulfilment": "shipped"}]}
            """
        for (date, tax) in [("2025-12-15", "10.35"), ("2026-01-15", "10.55")] {
            let result = try LevyBinary.run(["quote", "--store", store], stdin: order.replacingOccurrences(of: "DATE", with: date))
            #expect(result.status == 0, "\(result.stderr)")
            let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
            #expect(object?["total_tax"] as? String == tax)
        }

        let show = try LevyBinary.run(["tables", "show", "--store", store, "--state", "MN", "--zip", "55012-0500", "--date", "2018-06-01"])
        #expect(show.stdout.contains("record: SST boundary MNB2026Q2FEB18-sample.csv:36 zip+4"))
        #expect(show.stdout.contains("combined 7.375%"))

        let versionsBefore = try LevyBinary.run(["tables", "versions", "--store", store]).stdout
        let broken = LevyBinary.root.appendingPathComponent("Fixtures/broken/MNR-overlapping-ranges.csv").path
        let refused = try LevyBinary.run(["tables", "import", "--store", store, "--kind", "sst-rates", "--state", "MN", broken])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("import refused, nothing was written"))
        #expect(refused.stderr.contains("MNR-overlapping-ranges.csv:4:8: error:"))
        #expect(try LevyBinary.run(["tables", "versions", "--store", store]).stdout == versionsBefore)

        // Options that do not fit the file are named as given, not as missing.
        let renamed = FileManager.default.temporaryDirectory.appendingPathComponent("rates-\(UUID().uuidString.prefix(8)).csv").path
        try FileManager.default.copyItem(atPath: Self.official("MNR2026Q2FEB18.csv"), toPath: renamed)
        defer { try? FileManager.default.removeItem(atPath: renamed) }
        for (options, message) in [([String](), "cannot tell its kind from the name; pass --kind"),
                                   (["--kind", "sst-rates"], "cannot tell its state from the name; pass --state"),
                                   (["--kind", "wa-dor"], "(every file was read as --kind wa-dor; is that what it is?)"),
                                   (["--kind", "ca-cdtfa", "--effective-from", "2026-13-01"], "--effective-from: \"2026-13-01\" is not a date (YYYY-MM-DD)"),
                                   (["--kind", "ca-cdtfa"], "a CDTFA file needs the date its rates take effect: its name ends in no date (…_YYYY-MM-DD.csv); pass --effective-from")] {
            let run = try LevyBinary.run(["tables", "import", "--store", store] + options + [renamed])
            #expect(run.status != 0 && run.stderr.contains(message), "\(options): \(run.stderr)")
        }
        #expect(try LevyBinary.run(["tables", "versions", "--store", store]).stdout == versionsBefore)
        #expect(try LevyBinary.run(["tables", "import", "--store", store, "--kind", "sst-rates", "--state", "MN", renamed]).status == 0,
                "--state supplies what the name lacks")
    }

    /// Probe #18: each import printed the report of the whole version, so the files already in it were warned of
    /// again at every import, as if they were at fault.
    @Test("an import prints what is new in its report; versions --report prints each version's whole")
    func importReportsWhatIsNew() throws {
        let store = NSTemporaryDirectory() + "levy-cli-report-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: store) }
        let first = try LevyBinary.run(["tables", "import", "--store", store, Self.official("MNR2026Q2FEB18.csv"), Self.official("MNB2026Q2FEB18-sample.csv")])
        #expect(first.status == 0, "\(first.stderr)")
        let firstLines = first.stdout.split(separator: "\n").filter { $0.hasPrefix("  ") }
        #expect(!firstLines.isEmpty, "the first import reports its files")
        let second = try LevyBinary.run(["tables", "import", "--store", store, Self.official("wa_dor_location_rates_2024Q4-2026Q2.csv")])
        #expect(second.status == 0, "\(second.stderr)")
        let secondLines = second.stdout.split(separator: "\n").filter { $0.hasPrefix("  ") }
        #expect(secondLines.filter(firstLines.contains).isEmpty, "said again: \(second.stdout)")
        #expect(secondLines.contains { $0.contains("wa_dor_location_rates_2024Q4-2026Q2.csv") }, "\(second.stdout)")
        #expect(secondLines.last?.contains("more line(s) as at the import of v") == true && secondLines.last?.contains("levy tables versions --report") == true,
                "\(second.stdout)")
        let versions = try LevyBinary.run(["tables", "versions", "--store", store, "--report"]).stdout
        for line in firstLines {
            let said = "      | " + line.dropFirst(2)
            #expect(versions.components(separatedBy: said).count == 3, "in both versions' reports: \(line)")
        }
    }
}
