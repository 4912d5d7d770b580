import Foundation
import Testing

/// Runs the built `levy` executable as a user would, from a working directory outside the repository.
enum LevyBinary {
    static let root: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url
    }()

    /// The executable sits next to the test bundle in the build products folder.
    static let path: String = {
        var url = Bundle.main.bundleURL
        for _ in 0..<3 {
            if FileManager.default.isExecutableFile(atPath: url.appendingPathComponent("levy").path) { return url.appendingPathComponent("levy").path }
            url.deleteLastPathComponent()
        }
        return root.appendingPathComponent(".build/debug/levy").path
    }()

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ arguments: [String], stdin: String? = nil, environment: [String: String] = [:], in directory: String? = nil) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory ?? NSTemporaryDirectory())
        process.environment = ProcessInfo.processInfo.environment.merging(["LEVY_TABLES": root.path + "/TaxTables"]) { $1 }
            .merging(environment) { $1 }
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        // Standard input is written and standard error read on threads of their own while this one reads standard
        // output: a child that fills one pipe's buffer (64 KiB) while the parent waits on another would hang both.
        let group = DispatchGroup()
        let stderr = Collected()
        DispatchQueue.global().async(group: group) {
            if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
            try? input.fileHandleForWriting.close()
        }
        DispatchQueue.global().async(group: group) { stderr.data = err.fileHandleForReading.readDataToEndOfFile() }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                      stderr: String(decoding: stderr.data, as: UTF8.self))
    }

    /// What a reader thread collected; read only after the group it ran in is waited for.
    private final class Collected: @unchecked Sendable { var data = Data() }

    static func fixture(_ name: String) -> String { root.appendingPathComponent("Fixtures/orders/\(name)").path }
}

@Suite("levy quote, as a user runs it")
struct QuoteCLITests {
    @Test("the shipped example order quotes to $9.03 as JSON")
    func example() throws {
        let result = try LevyBinary.run(["quote", LevyBinary.fixture("minneapolis.json")])
        #expect(result.status == 0)
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        #expect(object?["total_tax"] as? String == "9.03")
        #expect((object?["table_version"] as? String)?.hasPrefix("us-2026.11.1+sha256.") == true)
    }

    /// Davidson County's local rate is 2.75% since 2025-02-01 (TN DOR notice #24-11): 280 + 44 + 44.
    @Test("the shipped Tennessee single-article order quotes to $368.00")
    func tennessee() throws {
        let result = try LevyBinary.run(["quote", LevyBinary.fixture("tennessee-single-article.json")])
        #expect(result.status == 0)
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        #expect(object?["total_tax"] as? String == "368.00")
    }

    @Test("the order can come on standard input, and --format table prints for people")
    func stdinAndTable() throws {
        let order = try String(contentsOfFile: LevyBinary.fixture("minneapolis.json"), encoding: .utf8)
        let result = try LevyBinary.run(["quote", "--format", "table"], stdin: order)
        #expect(result.status == 0)
        #expect(result.stdout.contains("total tax 9.03 USD"))
        #expect(result.stdout.contains("Hennepin County"))
    }

    @Test("bad input exits 1 with a message naming the field, and a JSON error on stdout")
    func badInput() throws {
        let order = try String(contentsOfFile: LevyBinary.fixture("minneapolis.json"), encoding: .utf8)
            .replacingOccurrences(of: "\"general\"", with: "\"widgets\"")
        let result = try LevyBinary.run(["quote"], stdin: order)
        #expect(result.status == 1)
        #expect(result.stderr.contains("lines[0].code: unknown product tax code \"widgets\""))
        let error = (try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])?["error"] as? [String: String]
        #expect(error?["field"] == "lines[0].code")
        #expect(error?["code"] == "invalid_value")
    }

    @Test("a date outside the tables exits 1 and names the date")
    func dateOutsideTables() throws {
        let order = try String(contentsOfFile: LevyBinary.fixture("minneapolis.json"), encoding: .utf8)
            .replacingOccurrences(of: "2026-03-02", with: "2001-03-02")
        let result = try LevyBinary.run(["quote"], stdin: order)
        #expect(result.status == 1)
        #expect(result.stderr.contains("date: "))
    }

    @Test("--tables quotes against a ZIP5 rate CSV in the common layout")
    func zip5CSV() throws {
        let csv = LevyBinary.root.appendingPathComponent("Fixtures/zip5/common-sample.csv").path
        let result = try LevyBinary.run(["quote", "--tables", csv, LevyBinary.fixture("minneapolis.json")])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        #expect(object?["total_tax"] as? String == "9.03")
        #expect((object?["table_version"] as? String)?.hasPrefix("zip5-csv+sha256.") == true)
    }

    @Test("tables that do not load exit 3 with located diagnostics")
    func brokenTables() throws {
        let result = try LevyBinary.run(["quote", "--tables", LevyBinary.root.appendingPathComponent("Fixtures/orders").path,
                                         LevyBinary.fixture("minneapolis.json")])
        #expect(result.status == 3)
        #expect(result.stderr.contains("manifest.json:0: error: cannot read"))
    }

    /// Every error is reported, however many: 2,000 broken correction rows give 2,000 located errors on standard
    /// error, about 200 KB, more than a pipe holds (the test's own reader must take both streams at once or hang).
    @Test("levy tables validate reports every one of 2,000 broken rows, each with its line", .timeLimit(.minutes(2)))
    func validateManyErrors() throws {
        let directory = NSTemporaryDirectory() + "levy-many-errors-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.copyItem(atPath: LevyBinary.root.appendingPathComponent("TaxTables").path, toPath: directory)
        let path = directory + "/local/corrections.csv"
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        let first = lines.count - (lines.last == "" ? 1 : 0) + 1
        let broken = (0..<2_000).map { "broken-\($0),TN,county,47037,,set,county,47037,Davidson County,0.0275,2025-13-01,,local-east-tn-dor-davidson-release,2026-11-30,high,x" }
        try Data((lines.joined(separator: "\n") + (lines.last == "" ? "" : "\n") + broken.joined(separator: "\n") + "\n").utf8)
            .write(to: URL(fileURLWithPath: path))
        let result = try LevyBinary.run(["tables", "validate", directory])
        #expect(result.status != 0)
        let errors = result.stderr.split(separator: "\n").filter { $0.contains("local/corrections.csv:") && $0.contains(": error: ") }
        #expect(errors.count == 2_000, "\(result.stderr.suffix(500))")
        #expect(result.stderr.utf8.count > 65_536)
        #expect(errors.first?.hasPrefix("local/corrections.csv:\(first):") == true, "\(errors.first ?? "")")
        #expect(errors.last?.hasPrefix("local/corrections.csv:\(first + 1_999):") == true, "\(errors.last ?? "")")
    }

    @Test("levy tables validate reports the shipped tables valid")
    func validate() throws {
        let result = try LevyBinary.run(["tables", "validate", LevyBinary.root.appendingPathComponent("TaxTables").path])
        #expect(result.status == 0)
        #expect(result.stdout.contains("valid, version us-2026.11.1+sha256."))
    }
}
