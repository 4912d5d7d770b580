import ArgumentParser
import Exports
import Foundation
import Merchants
import Orders
import Reconciliation
import Storage
import TaxCore
import TaxTables

/// `levy nexus report`: where the merchant's sales cross or near each state's economic-nexus threshold.
struct NexusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "nexus", abstract: "Economic-nexus tracking from the ledger.",
                                                    subcommands: [Report.self])

    struct Report: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sales and transactions per state for a year against each state's thresholds (TaxTables/nexus.csv).",
            discussion: "Exit status 1 when the merchant crossed a threshold in a state where it is not registered.")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var replica: ReplicaOptions
        @Option(help: "The calendar year of tax dates (default: this year).") var year: Int?
        @Option(help: "The date whose thresholds apply (default: the year's last day, or today in the current year).") var asOf: String?
        @Option(help: "States where the merchant is registered, comma-separated (default: the registrations its orders were quoted with).")
        var registered: String?
        @Option(help: "Percent of a threshold that counts as close (1 to 100).") var near = 80
        @Option(help: "text, csv or json.") var format = "text"
        @Option(help: "The table folder holding nexus.csv (default: the shipped TaxTables/).") var tables: String?

        func run() async throws {
            let today = Timestamp.string(Date()).prefix(10)
            let thisYear = Int(today.prefix(4)) ?? 2026
            let year = self.year ?? thisYear
            guard (1...100).contains(near) else { throw CLIError.input("--near: \(near) is not a percentage from 1 to 100") }
            guard (1...9999).contains(year) else { throw CLIError.input("--year: \(year) is not a year from 1 to 9999") }
            // The year's last day in four digits (year 999 is 0999-12-31: probe #12 found "999-12-31" blamed on --as-of).
            let defaultDate = year == thisYear ? String(today) : TaxDate(year: year, month: 12, day: 31)?.iso ?? ""
            guard let asOf = TaxDate(iso: asOf ?? defaultDate) else { throw CLIError.input("--as-of: \"\(asOf ?? "")\" is not a date (YYYY-MM-DD)") }
            var states: Set<StateCode>?
            if let registered {
                states = []
                for code in registered.split(separator: ",") {
                    guard let state = StateCode(code.trimmingCharacters(in: .whitespaces).uppercased()) else {
                        throw CLIError.input("--registered: \"\(code)\" is not a two-letter state code")
                    }
                    states?.insert(state)
                }
            }
            // Without --registered, the merchant profile's registrations in force on the as-of date, with since when.
            var source = "as given"
            if states == nil, let profile = try await database.profile(existing: true), !profile.registrations.isEmpty {
                states = profile.registeredStates(on: asOf)
                source = profile.registrationSource(on: asOf)
            }
            guard ["text", "csv", "json"].contains(format) else { throw CLIError.input("--format: text, csv or json") }
            guard let directory = tables ?? TableLocation.defaultDirectory() else { throw CLIError.tables(InstalledFiles.notFound(InstalledFiles.tables)) }
            let thresholds: NexusTable.Loaded
            do { thresholds = try NexusTable.load(directory: directory) } catch {
                writeError("\(error)\n")
                throw ExitCode(3)
            }
            let service = try await replica.readService(primary: try await database.orders(existing: true))
            // As the API: a code of a state the tables do not know (ZZ) is a mistake, not a registration that matches nothing.
            if self.registered != nil, let unknown = states?.sorted(by: { $0.code < $1.code }).first(where: { service.tables.profile($0) == nil }) {
                throw CLIError.input("--registered: \(unknown.code) is not the code of a state the tables know")
            }
            let report = try await NexusReport.compute(service: service, year: year, asOf: asOf, thresholds: thresholds, registered: states,
                                                       registeredSource: source, nearPercent: near)
            switch format {
            case "csv":
                var out = DelimitedFormat.csv.line(NexusReport.columns)
                for row in report.rows { out += DelimitedFormat.csv.line(report.fields(row)) }
                FileHandle.standardOutput.write(Data(out))
            case "json":
                let rows = report.rows.map { Dictionary(uniqueKeysWithValues: zip(NexusReport.columns, report.fields($0))) }
                let object: [String: Any] = ["year": year, "as_of": asOf.iso, "thresholds_sha256": thresholds.digest,
                                             "registrations": report.registrationsNote, "states": rows]
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])
                FileHandle.standardOutput.write(data + Data("\n".utf8))
            default:
                print("economic nexus \(year): thresholds in force on \(asOf.iso) (\(directory)/nexus.csv, sha256 \(thresholds.digest)); \(report.registrationsNote)")
                print("state  counted sales    threshold                transactions  status       registered")
                for row in report.rows where row.transactions > 0 || row.alert {
                    let t = row.threshold
                    let threshold = t.map { t in
                        [t.sales.map { "$" + MoneyText.format($0) }, t.transactions.map { "\($0) txns" }].compactMap { $0 }
                            .joined(separator: " \(t.combine.rawValue) ")
                    } ?? "-"
                    print("\(row.state.code)     \(pad(MoneyText.format(row.counted), 16)) \(pad(threshold.isEmpty ? "none" : threshold, 24)) \(pad(String(row.transactions), 13)) \(pad(row.status, 12)) \(row.registered ? "yes" : "no")\(row.alert ? "   ALERT" : "")\(row.crossedOn.map { " (crossed on \($0.iso))" } ?? "")")
                }
                let quiet = report.rows.filter { $0.transactions == 0 && !$0.alert }.count
                print("(\(quiet) states without sales this year not shown; --format csv lists every state)")
            }
            if report.rows.contains(where: { $0.alert && $0.status == NexusThreshold.Status.crossed.rawValue }) { throw ExitCode(1) }
        }

        func pad(_ text: String, _ width: Int) -> String { text.count >= width ? text : text + String(repeating: " ", count: width - text.count) }
    }
}
