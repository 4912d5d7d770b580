import ArgumentParser
import Foundation
import TaxCore
import TaxTables

struct TablesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tables",
        abstract: "Validate, inspect and convert tax tables.",
        subcommands: [Validate.self, Show.self, ConvertZip5.self]
    )

    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a TaxTables folder and report every problem with file, line and column.")

        @Argument(help: "The folder (default: the shipped TaxTables/).")
        var directory: String?

        func run() throws {
            guard let directory = directory ?? TableLocation.defaultDirectory() else {
                throw ValidationError("no TaxTables/ folder found; pass one")
            }
            do {
                let loaded = try CanonicalTables.load(directory: directory)
                for warning in loaded.warnings { print(warning) }
                let taxability = loaded.tables.allTaxability
                print("""
                    \(directory): valid, version \(loaded.tables.version)
                      states \(loaded.tables.states.count), taxability entries \(taxability.count) \
                    (low confidence \(taxability.filter { $0.confidence == .low }.count)), rules \(loaded.tables.allRules.count), \
                    ZIP5 records \(loaded.zip5.count), sources \(loaded.sources.count)
                    """)
            } catch {
                FileHandle.standardError.write(Data("\(error)\n".utf8))
                throw ExitCode(1)
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the state and local rates that apply to a ZIP on a date, with the matching record.")

        @Option(help: "Two-letter state code.") var state: String
        @Option(help: "ZIP5 or ZIP+4.") var zip: String
        @Option(help: "The date (YYYY-MM-DD).") var date: String
        @Option(help: "A TaxTables folder or a ZIP5 rate CSV.") var tables: String?

        func run() throws {
            guard let stateCode = StateCode(state) else { throw ValidationError("--state: \"\(state)\" is not a state code") }
            guard let zipCode = ZipCode(zip) else { throw ValidationError("--zip: \"\(zip)\" is not a ZIP5 or ZIP+4") }
            guard let day = TaxDate(iso: date) else { throw ValidationError("--date: \"\(date)\" is not YYYY-MM-DD") }
            let tableSet = try TableLocation.load(tables)
            guard let profile = tableSet.profile(stateCode) else { throw ValidationError("--state: \(stateCode) is not in the tables") }
            let location = try tableSet.locals.resolve(Address(state: stateCode, zip: zipCode), on: day)
            print("tables \(tableSet.version)")
            print("record: \(location.record)  [precision \(location.precision.rawValue)]")
            if let stateRate = profile.rate(on: day) {
                print("state   \(profile.name) (\(profile.fips))  \(stateRate.intrastate)  from \(stateRate.provenance.source)")
            } else {
                print("state   \(profile.name): no state rate in force on \(day)")
            }
            for local in location.locals {
                print("\(local.jurisdiction.level.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0)) \(local.jurisdiction.name) (\(local.jurisdiction.code))  \(local.intrastate)")
            }
            for warning in location.warnings { print("warning: \(warning)") }
        }
    }

    struct ConvertZip5: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "convert-zip5",
            abstract: "Convert a ZIP5 rate CSV (common layout) into Levy's canonical local/zip5.csv.")

        @Option(help: "The ZIP5 rate CSV.") var rates: String
        @Option(help: "A ZIP-to-county crosswalk CSV (zip_code, zip_code_type, city, state, county_name, county_fips_joined).")
        var geo: String
        @Option(help: "The date the rates are in force from (YYYY-MM-DD).") var effectiveFrom: String
        @Option(help: "The source id to write next to every row (listed in sources.csv).") var source: String
        @Option(help: "Where to write the canonical CSV.") var out: String

        func run() throws {
            guard let from = TaxDate(iso: effectiveFrom) else { throw ValidationError("--effective-from: not YYYY-MM-DD") }
            guard let rateData = FileManager.default.contents(atPath: rates) else { throw ValidationError("cannot read \(rates)") }
            guard let geoData = FileManager.default.contents(atPath: geo) else { throw ValidationError("cannot read \(geo)") }
            do {
                let rows = try CommonZip5Rates.read([UInt8](rateData), file: (rates as NSString).lastPathComponent)
                let conversion = try Zip5Conversion(rows: rows, geoBytes: [UInt8](geoData), geoFile: (geo as NSString).lastPathComponent)
                let (csv, report) = conversion.convert(effectiveFrom: from, source: source)
                try Data(csv.utf8).write(to: URL(fileURLWithPath: out), options: .atomic)
                print(report)
                print("wrote \(out)")
            } catch let error as TableLoadError {
                FileHandle.standardError.write(Data("\(error)\n".utf8))
                throw ExitCode(1)
            }
        }
    }
}
