import ArgumentParser
import Foundation
import TaxCore
import TaxTables

extension OfficialFile.Kind: ExpressibleByArgument {}

struct TablesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tables",
        abstract: "Validate, inspect and convert tax tables.",
        subcommands: [Validate.self, Import.self, Versions.self, Diff.self, Show.self, ConvertZip5.self]
    )

    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a TaxTables folder, or official rate and boundary files, and report every problem with file, line and column.",
            discussion: "Official files are checked exactly as `levy tables import` would check them, and nothing is written.")

        @Argument(help: "A TaxTables folder (default: the shipped one), or official files.") var paths: [String] = []
        @Option(help: "The kind of every official file (default: from each file name).") var kind: OfficialFile.Kind?
        @Option(help: "The state of every official file (default: from each file name).") var state: String?
        @Option(help: "For CDTFA files: the date the rates take effect.") var effectiveFrom: String?

        func run() throws {
            var isDirectory: ObjCBool = false
            if paths.count <= 1, let directory = paths.first ?? TableLocation.defaultDirectory(),
               FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue {
                try validateFolder(directory)
                return
            }
            let inputs = try OfficialInputs.read(paths, kind: kind, state: state, effectiveFrom: effectiveFrom)
            let base = try TableLocation.loadBase()
            do {
                let report = try OfficialTables.build(base: base, files: inputs.map { ($0.file, $0.bytes) }, version: "validate").report
                for line in report.lines { print(line) }
                for warning in report.warnings { print(warning) }
                print("valid: \(inputs.count) file(s)")
            } catch {
                writeError("\(error)\n")
                throw ExitCode(1)
            }
        }

        func validateFolder(_ directory: String) throws {
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
                writeError("\(error)\n")
                throw ExitCode(1)
            }
        }
    }

    /// Reads official files named on the command line, with their kind and state from the options or the names.
    enum OfficialInputs {
        static func read(_ paths: [String], kind: OfficialFile.Kind?, state: String?,
                         effectiveFrom: String?) throws -> [(file: OfficialFile, bytes: [UInt8])] {
            try paths.map { path in
                let name = (path as NSString).lastPathComponent
                let data: [UInt8]
                switch TableFileReader.read(path) {
                case .success(let bytes): data = bytes
                case .failure(let why): throw ValidationError(why.description)
                }
                let named = OfficialFile.kind(forFileName: name)
                guard let kind = kind ?? named?.0 else {
                    throw ValidationError("\(name): cannot tell its kind from the name; pass --kind (and --state for SST files)")
                }
                // The state: --state, else the one the kind implies (WA, CA, IL), else the name's (an SST file's first letters).
                let implied: String? = switch kind {
                case .waDOR: "WA"
                case .caCDTFA: "CA"
                case .ilIDOR: "IL"
                case .sstRates, .sstBoundaries: named.flatMap { $0.0 == .sstRates || $0.0 == .sstBoundaries ? $0.1 : nil }
                }
                guard let state = state ?? implied, !state.isEmpty else {
                    throw ValidationError("\(name): cannot tell its state from the name; pass --state")
                }
                if let effectiveFrom, TaxDate(iso: effectiveFrom) == nil {
                    throw ValidationError("--effective-from: \"\(effectiveFrom)\" is not a date (YYYY-MM-DD)")
                }
                // A file in force since year 1 answered every past date of the state; one from 9999 never applied (probe #20).
                if let effectiveFrom, let date = TaxDate(iso: effectiveFrom), !OfficialFile.plausibleEffectiveDates.contains(date) {
                    throw ValidationError("--effective-from: \(effectiveFrom) is not a date a rate file takes effect (\(OfficialFile.plausibleEffectiveDates.lowerBound) to \(OfficialFile.plausibleEffectiveDates.upperBound))")
                }
                var effective = effectiveFrom
                if kind == .caCDTFA, effective == nil {
                    // CDTFA publishes "…_YYYY-MM-DD.csv".
                    let stem = (name as NSString).deletingPathExtension
                    if stem.count >= 10, TaxDate(iso: String(stem.suffix(10))) != nil { effective = String(stem.suffix(10)) }
                    // Said here, naming the name's date: read later, the refusal was "line 0" and did not say why (probe #18).
                    guard effective != nil else {
                        let tail = stem.split(separator: "_").last.map(String.init) ?? ""
                        let why = tail.first?.isNumber == true && tail.contains("-") ? "its name's date \"\(tail.prefix(32))\" is not a date (YYYY-MM-DD)"
                                                     : "its name ends in no date (…_YYYY-MM-DD.csv)"
                        throw ValidationError("\(name): a CDTFA file needs the date its rates take effect: \(why); pass --effective-from")
                    }
                }
                return (OfficialFile(kind: kind, state: state.uppercased(), name: name, effectiveFrom: effective), [UInt8](data))
            }
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import official rate and boundary files as a new table version (all or nothing).",
            discussion: """
                Kinds: sst-rates (SST rate file, e.g. MNR2026Q2FEB18.csv), sst-boundaries (SST boundary file, e.g. MNB…),
                wa-dor (Washington DOR location rates), ca-cdtfa (California CDTFA rates; needs --effective-from),
                il-idor (Illinois DOR's fixed-width rate file, ordmache-current.txt).
                The kind and state are read from the publisher's file name unless given.
                """)

        @Argument(help: "The files to import.") var files: [String]
        @Option(help: "The kind of every file (default: from each file name).") var kind: OfficialFile.Kind?
        @Option(help: "The state of every file (default: from each file name).") var state: String?
        @Option(help: "For CDTFA files: the date the rates take effect (YYYY-MM-DD; default: from the file name).")
        var effectiveFrom: String?
        @Option(help: "The versioned table store (default: LEVY_STORE or .levy/tables).") var store: String?

        func run() throws {
            let inputs = try OfficialInputs.read(files, kind: kind, state: state, effectiveFrom: effectiveFrom)
            let tableStore = TableStore(directory: TableLocation.storeDirectory(store))
            let base = try TableLocation.loadBase()
            do {
                let (manifest, created) = try tableStore.importFiles(inputs, base: base, now: Date(), waiting: {
                    writeError("levy: another import into \(tableStore.directory) is running; waiting for it to finish\n")
                })
                print(created ? "imported version \(manifest.id) (now current) into \(tableStore.directory)" : "version \(manifest.id) already holds these files; it is current")
                // What the parent version's import already said of its files is not said again: repeated, it read as if
                // those files were at fault (probe #18).
                let known = Set(manifest.parent.flatMap { $0 == "shipped" ? nil : try? tableStore.manifest($0).report } ?? [])
                let repeated = manifest.report.filter(known.contains).count
                for line in manifest.report where !known.contains(line) { print("  \(line)") }
                if repeated > 0 {
                    print("  (\(repeated) more line(s) as at the import of \(manifest.parent ?? ""), not repeated: levy tables versions --report)")
                }
            } catch let error as TableLoadError {
                // A file of another kind fails on its columns; say which kind it was read as when the user chose it.
                let chosen = kind.map { "\n(every file was read as --kind \($0.rawValue); is that what it is?)" } ?? ""
                writeError("import refused, nothing was written:\n\(error)\(chosen)\n")
                throw ExitCode(1)
            } catch let error as TableStore.StoreError {
                writeError("import refused, nothing was written:\n\(error)\n")
                throw ExitCode(1)
            }
        }
    }

    struct Versions: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the table versions of the store, oldest first.")

        @Option(help: "The versioned table store (default: LEVY_STORE or .levy/tables).") var store: String?
        @Flag(help: "Also print each version's import report (its files' summaries and warnings).") var report = false

        func run() throws {
            let tableStore = TableStore(directory: TableLocation.storeDirectory(store))
            let current = tableStore.currentID()
            let versions = try tableStore.versions()
            if versions.isEmpty { print("no versions in \(tableStore.directory)") }
            for version in versions {
                print("\(version.id == current ? "*" : " ") \(version.id)  \(version.created)  parent \(version.parent ?? "-")  base \(version.base)")
                for file in version.files {
                    let from = file.effectiveFrom.map { " from \($0)" } ?? ""
                    print("      \(file.kind.rawValue) \(file.state) \(file.name)\(from) sha256:\(file.sha256.prefix(16))")
                }
                if report { for line in version.report { print("      | \(line)") } }
            }
        }
    }

    struct Diff: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the rate and boundary changes between two table versions (\"shipped\" names the shipped tables alone).")

        @Argument(help: "The older version.") var from: String
        @Argument(help: "The newer version (default: the current one).") var to: String?
        @Option(help: "The versioned table store (default: LEVY_STORE or .levy/tables).") var store: String?

        func run() throws {
            let tableStore = TableStore(directory: TableLocation.storeDirectory(store), shipped: TableLocation.shippedOfficialFiles())
            guard let to = to ?? tableStore.currentID() else { throw ValidationError("the store has no current version") }
            do {
                for line in try TableDiff.diff(old: try tableStore.officialFiles(from), new: try tableStore.officialFiles(to)) { print(line) }
            } catch let error as TableLoadError {
                writeError("\(error)\n")
                throw ExitCode(1)
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show what applies to an address on a date: the matching record, the state and local rates.")

        @Option(help: "Two-letter state code.") var state: String
        @Option(help: "ZIP5 or ZIP+4.") var zip: String
        @Option(help: "The street line (house number and street), for address-range matching.") var line1: String = ""
        @Option(help: "The date (YYYY-MM-DD).") var date: String
        @Option(help: "A TaxTables folder or a ZIP5 rate CSV.") var tables: String?
        @Option(help: "The versioned table store (default: LEVY_STORE or .levy/tables).") var store: String?
        @Option(help: "A version of the table store.") var version: String?

        func run() throws {
            guard let stateCode = StateCode(state) else { throw ValidationError("--state: \"\(state)\" is not a state code") }
            guard let zipCode = ZipCode(zip) else { throw ValidationError("--zip: \"\(zip)\" is not a ZIP5 or ZIP+4") }
            guard let day = TaxDate(iso: date) else { throw ValidationError("--date: \"\(date)\" is not YYYY-MM-DD") }
            let tableSet = try TableLocation.load(tables, store: store, version: version)
            guard let profile = tableSet.profile(stateCode) else { throw ValidationError("--state: \(stateCode) is not in the tables") }
            let location = try tableSet.locals.resolve(Address(line1: line1, state: stateCode, zip: zipCode), on: day)
            print("tables \(tableSet.version)")
            print("record: \(location.record)  [precision \(location.precision.rawValue)]")
            var combined = Rate.zero
            if let stateRate = profile.rate(on: day) {
                combined = combined + stateRate.intrastate
                print("state   \(profile.name) (\(profile.fips))  \(stateRate.intrastate)  from \(stateRate.provenance.source)")
            } else {
                print("state   \(profile.name): no state rate in force on \(day)")
            }
            for local in location.locals {
                combined = combined + local.intrastate
                print("\(local.jurisdiction.level.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0)) \(local.jurisdiction.name) (\(local.jurisdiction.code))  \(local.intrastate)")
            }
            print("combined \(combined)")
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
            let rateData: [UInt8], geoData: [UInt8]
            switch (TableFileReader.read(rates), TableFileReader.read(geo)) {
            case (.success(let r), .success(let g)): (rateData, geoData) = (r, g)
            case (.failure(let why), _), (_, .failure(let why)): throw ValidationError(why.description)
            }
            do {
                let rows = try CommonZip5Rates.read([UInt8](rateData), file: (rates as NSString).lastPathComponent)
                let conversion = try Zip5Conversion(rows: rows, geoBytes: [UInt8](geoData), geoFile: (geo as NSString).lastPathComponent)
                let (csv, report) = conversion.convert(effectiveFrom: from, source: source)
                try Data(csv.utf8).write(to: URL(fileURLWithPath: out), options: .atomic)
                print(report)
                print("wrote \(out)")
            } catch let error as TableLoadError {
                writeError("\(error)\n")
                throw ExitCode(1)
            }
        }
    }
}
