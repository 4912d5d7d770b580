import Crypto
import Foundation
import TaxCore

/// A public rate or boundary file as the store keeps it: verbatim bytes, its kind and state, its digest.
public struct OfficialFile: Codable, Sendable, Hashable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case sstRates = "sst-rates", sstBoundaries = "sst-boundaries", waDOR = "wa-dor", caCDTFA = "ca-cdtfa", ilIDOR = "il-idor"

        /// A place-rate file (WA DOR, CDTFA): several of one state, each answering its own dates, make its history.
        public var isPlaceRates: Bool { self == .waDOR || self == .caCDTFA }
    }

    public var kind: Kind
    public var state: String
    public var name: String
    public var sha256: String
    /// California CDTFA files carry no dates: the day they take effect.
    public var effectiveFrom: String?

    public init(kind: Kind, state: String, name: String, sha256: String = "", effectiveFrom: String? = nil) {
        self.kind = kind
        self.state = state
        self.name = name
        self.sha256 = sha256
        self.effectiveFrom = effectiveFrom
    }

    /// The dates a rate file may take effect on: from the first published files to the end of the century.
    public static let plausibleEffectiveDates = TaxDate(year: 2000, month: 1, day: 1)!...TaxDate(year: 2099, month: 12, day: 31)!

    /// Guesses the kind from the file name the publisher uses (`MNR2026Q2FEB18.csv`, `MNB…`, `wa_dor_…`, `…cdtfa…`,
    /// `ordmache…`).
    public static func kind(forFileName name: String) -> (Kind, String)? {
        let upper = name.uppercased()
        let bytes = Array(upper.utf8)
        if bytes.count >= 8, bytes[0...1].allSatisfy({ $0 >= 65 && $0 <= 90 }), bytes[2] == UInt8(ascii: "R") || bytes[2] == UInt8(ascii: "B"),
           bytes[3...6].allSatisfy({ $0 >= 48 && $0 <= 57 }) {
            return (bytes[2] == UInt8(ascii: "R") ? .sstRates : .sstBoundaries, String(upper.prefix(2)))
        }
        if upper.contains("WA_DOR") || upper.contains("WA-DOR") { return (.waDOR, "WA") }
        if upper.contains("CDTFA") { return (.caCDTFA, "CA") }
        if upper.contains("ORDMACHE") { return (.ilIDOR, "IL") }
        return nil
    }
}

/// Builds a table set from the shipped tables and a list of official files: each file is read and checked, and
/// the states they cover are resolved from them, every other state from the shipped ZIP5 table.
public enum OfficialTables {
    public struct Report: Sendable {
        public var lines: [String]
        public var warnings: [TableDiagnostic]
    }

    public static func build(base: CanonicalTables.Loaded, files: [(OfficialFile, [UInt8])],
                             version: String) throws(TableLoadError) -> (tables: TaxTableSet, report: Report) {
        var diagnostics: [TableDiagnostic] = []
        var lines: [String] = []
        var sstRates: [StateCode: SSTRateFile] = [:]
        var sstBoundaries: [StateCode: SSTBoundaryFile] = [:]
        var places: [PlaceRateFile] = []
        let fipsToState = Dictionary(base.tables.states.map { (Int($0.fips) ?? -1, $0.state) }, uniquingKeysWith: { a, _ in a })

        for (file, bytes) in files {
            guard let state = StateCode(file.state), base.tables.profile(state) != nil else {
                diagnostics.append(TableDiagnostic(file: file.name, line: 0, message: "state \"\(file.state)\" is not in the tables"))
                continue
            }
            do {
                switch file.kind {
                case .sstRates:
                    let parsed = try SSTRateFile.read(bytes, file: file.name)
                    if fipsToState[parsed.stateFIPS] != state {
                        diagnostics.append(TableDiagnostic(file: file.name, line: 1, column: 1,
                                                           message: "state FIPS \(parsed.stateFIPS) is not \(state) (the file name says \(state))"))
                        continue
                    }
                    sstRates[state] = parsed
                    diagnostics += parsed.warnings
                    lines.append("\(file.name): SST rates for \(state), \(parsed.rates.count) rows, \(parsed.blankRateRows.count) blank-rate rows skipped")
                case .sstBoundaries:
                    let parsed = try SSTBoundaryFile.read(bytes, file: file.name)
                    if let wrong = parsed.records.first(where: { fipsToState[$0.stateFIPS] != state }) {
                        diagnostics.append(TableDiagnostic(file: file.name, line: wrong.line, column: 23,
                                                           message: "FIPS state code \(wrong.stateFIPS) is not \(state) (the file name says \(state))"))
                        continue
                    }
                    sstBoundaries[state] = parsed
                    diagnostics += parsed.warnings
                    let counts = Dictionary(grouping: parsed.records, by: \.kind).mapValues(\.count)
                    lines.append("\(file.name): SST boundaries for \(state), \(parsed.records.count) records (address \(counts[.address] ?? 0), zip+4 \(counts[.zip4] ?? 0), zip5 \(counts[.zip5] ?? 0)), \(parsed.skippedStateTriplets) state-type triplets skipped")
                case .waDOR:
                    // Probe #18: `--state NV` attached Washington's file to Nevada, whose state rate became 6.5%.
                    guard state.code == "WA" else {
                        diagnostics.append(TableDiagnostic(file: file.name, line: 0, message: "a WA DOR rate file is Washington's, not \(state)'s"))
                        continue
                    }
                    let parsed = try PlaceRateFile.readWashington(bytes, file: file.name)
                    places.append(parsed)
                    diagnostics += parsed.warnings
                    lines.append("\(file.name): WA DOR location rates, \(parsed.places.count) rows")
                case .caCDTFA:
                    guard state.code == "CA" else {
                        diagnostics.append(TableDiagnostic(file: file.name, line: 0, message: "a CDTFA rate file is California's, not \(state)'s"))
                        continue
                    }
                    guard let from = file.effectiveFrom.flatMap(TaxDate.init(iso:)) else {
                        diagnostics.append(TableDiagnostic(file: file.name, line: 0, message: "a CDTFA file needs the date it takes effect (--effective-from)"))
                        continue
                    }
                    guard OfficialFile.plausibleEffectiveDates.contains(from) else {
                        diagnostics.append(TableDiagnostic(file: file.name, line: 0, message: "a CDTFA file taking effect on \(from) is not plausible (\(OfficialFile.plausibleEffectiveDates.lowerBound) to \(OfficialFile.plausibleEffectiveDates.upperBound))"))
                        continue
                    }
                    let parsed = try PlaceRateFile.readCalifornia(bytes, file: file.name, effectiveFrom: from)
                    // A place in no county of the state could never be matched to an address (probe #18: "Atlantis").
                    let counties = Set(base.zip5.allRecords.lazy.filter { $0.state == state }.compactMap(\.countyName).map(PlaceRateFile.countyKey))
                    let strays = parsed.places.filter { !$0.county.isEmpty && !counties.contains($0.county) }
                    for place in strays.prefix(20) {
                        diagnostics.append(TableDiagnostic(file: file.name, line: place.line, column: 4,
                                                           message: "County \"\(place.county.prefix(64))\" is not a county of California"))
                    }
                    if !strays.isEmpty { continue }
                    places.append(parsed)
                    diagnostics += parsed.warnings
                    lines.append("\(file.name): CDTFA rates from \(from), \(parsed.places.count) places")
                case .ilIDOR:
                    guard state.code == "IL" else {
                        diagnostics.append(TableDiagnostic(file: file.name, line: 0, message: "an IDOR rate file is Illinois's, not \(state)'s"))
                        continue
                    }
                    let parsed = try IllinoisRateFile.read(bytes, file: file.name)
                    diagnostics += parsed.warnings
                    lines.append("\(file.name): IDOR rates, \(parsed.places.count) counties and municipalities (\(parsed.places.filter(\.addressSpecific).count) address-specific)")
                }
            } catch {
                diagnostics += error.diagnostics
            }
        }
        for state in sstBoundaries.keys where sstRates[state] == nil {
            diagnostics.append(TableDiagnostic(file: sstBoundaries[state]!.file, line: 0,
                                               message: "a boundary file for \(state) needs that state's SST rate file in the same table set"))
        }
        if diagnostics.contains(where: { $0.severity == .error }) { throw TableLoadError(diagnostics) }

        // The version is the shipped tables rebuilt with these files in place of the shipped ones of the same kind
        // and state: corrections, local taxes with their own base and place names apply over them as over the
        // shipped files (an imported IDOR file used to drop Chicago's amusement tax, an imported SST rate file
        // Minnesota's corrections).
        if base.directory.isEmpty {
            throw TableLoadError([TableDiagnostic(file: "", line: 0, message: "the shipped tables' folder is not known, so a version cannot be built")])
        }
        let rebuilt = try CanonicalTables.load(directory: base.directory, imported: files)
        var tables = rebuilt.tables
        tables.version = version
        // An imported place file is as fresh as its last period (Washington's quarters); later dates say so. Of
        // several of a kind, the latest.
        for file in places {
            if let last = file.verifiedThrough {
                tables.verifiedThrough[file.kind.rawValue] = Swift.max(tables.verifiedThrough[file.kind.rawValue] ?? last, last)
            }
            diagnostics += uncoveredDates(file, base: base, built: tables)
        }
        return (tables, Report(lines: lines, warnings: diagnostics + rebuilt.warnings.filter { warning in files.contains { $0.0.name == warning.file } }))
    }

    /// The dates before a place-rate file's first rows, and those of the gaps between its rows, are answered by the
    /// version's other files of its kind and state where they have them (`PlaceFileSuccession`); where none does, the
    /// ZIP5 estimate no longer does either, and the state's quotes on those dates are refused: said at the import,
    /// with what to do (probe #18: importing next quarter's CDTFA file, or one quarter of Washington's, did that
    /// without a word; probe #20: a file with a gap). Checked by resolving ZIPs of the state on each stretch's first
    /// and last day.
    static func uncoveredDates(_ parsed: PlaceRateFile, base: CanonicalTables.Loaded, built: TaxTableSet) -> [TableDiagnostic] {
        let records = base.zip5.allRecords.lazy.filter { $0.state == parsed.state }
        let covered = EffectivePeriod.merged(parsed.places.map(\.period))
        guard let first = covered.first?.from, let estimated = records.map(\.period.from).min() else { return [] }
        var stretches: [EffectivePeriod] = estimated < first ? [EffectivePeriod(from: estimated, through: first.dayBefore)] : []
        for (before, after) in zip(covered, covered.dropFirst()) {
            if let next = before.through.adding(days: 1) { stretches.append(EffectivePeriod(from: next, through: after.from.dayBefore)) }
        }
        // A ZIP that matches none of the file's places is answered by the estimate on any date: a few ZIPs are tried.
        let addresses: [Address] = records.prefix(40).map { Address(state: parsed.state, zip: $0.zip) }
        func isRefused(_ address: Address, on date: TaxDate) -> Bool {
            do {
                _ = try built.locals.resolve(address, on: date)
                return false
            } catch {
                if case .noRatesOnDate = error { return true }
                return false
            }
        }
        func isRefused(_ date: TaxDate) -> Bool { addresses.contains { isRefused($0, on: date) } }
        let refused = stretches.filter { isRefused($0.from) || isRefused($0.through) }
        guard !refused.isEmpty else { return [] }
        return [TableDiagnostic(.warning, file: parsed.file, line: 0, message: """
            \(parsed.state) quotes dated \(refused.map { "\($0.from) to \($0.through)" }.joined(separator: " and ")) are refused by this \
            version: the file has no rows in force on those dates, and no other \(parsed.kind.rawValue) file of \(parsed.state) in the version \
            has them (the ZIP5 estimate no longer answers for \(parsed.state)). Import a file that carries those periods too (importing the \
            previous version's files again makes that version current again)
            """)]
    }

    static func sha256(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}
