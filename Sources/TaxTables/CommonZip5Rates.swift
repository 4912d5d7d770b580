import TaxCore

/// The common free ZIP5 rate table layout:
/// `State,ZipCode,TaxRegionName,EstimatedCombinedRate,StateRate,EstimatedCountyRate,EstimatedCityRate,EstimatedSpecialRate,RiskLevel`,
/// rates as fractions.
public enum CommonZip5Rates {
    public static let columns = ["State", "ZipCode", "TaxRegionName", "EstimatedCombinedRate", "StateRate",
                                 "EstimatedCountyRate", "EstimatedCityRate", "EstimatedSpecialRate"]

    public struct Row: Sendable {
        public var line: Int
        public var state: StateCode
        public var zip: ZipCode
        public var region: String
        public var combined: Rate
        public var stateRate: Rate
        public var county: Rate
        public var city: Rate
        public var special: Rate
        /// Set when the row was repaired; says what was changed.
        public var repair: String?
    }

    /// Reads every row; a malformed row is an error with file, line and column. Rows whose parts fall short of
    /// the combined rate by exactly 0.000001 are repaired (see `repairRounding`), and say so.
    public static func read(_ bytes: [UInt8], file: String) throws(TableLoadError) -> [Row] {
        var log = DiagnosticLog()
        guard let table = CSVTable(file: file, bytes: bytes, required: columns, log: &log) else { throw TableLoadError(log.entries) }
        var rows: [Row] = []
        rows.reserveCapacity(table.records.count)
        // A ZIP that straddles a state line appears once per state: the key is state and ZIP.
        var seen: [String: Int] = [:]
        for record in table.records {
            guard let state = table.state(record, "State", log: &log),
                  let zipText = table.text(record, "ZipCode", log: &log) else { continue }
            // Some exports drop leading zeros ("501" for 00501): a ZIP is a number, compare it as one.
            let padded = zipText.count < 5 && zipText.allSatisfy(\.isNumber) ? String(repeating: "0", count: 5 - zipText.count) + zipText : zipText
            guard let zip = ZipCode(padded), zip.plus4 == nil else {
                log.error(file, record.line, table.field(record, "ZipCode").column, "ZipCode \"\(zipText)\" is not a ZIP5")
                continue
            }
            let key = state.code + padded
            if let previous = seen[key] {
                log.error(file, record.line, table.field(record, "ZipCode").column, "\(state) ZipCode \(padded) already appears on line \(previous)")
                continue
            }
            seen[key] = record.line
            guard let combined = table.rate(record, "EstimatedCombinedRate", log: &log),
                  let stateRate = table.rate(record, "StateRate", log: &log),
                  let county = table.rate(record, "EstimatedCountyRate", log: &log),
                  let city = table.rate(record, "EstimatedCityRate", log: &log),
                  let special = table.rate(record, "EstimatedSpecialRate", log: &log) else { continue }
            var row = Row(line: record.line, state: state, zip: zip, region: table.field(record, "TaxRegionName").value,
                          combined: combined, stateRate: stateRate, county: county, city: city, special: special)
            let sum = stateRate + county + city + special
            if sum != combined {
                if !repairRounding(&row) {
                    log.error(file, record.line, table.field(record, "EstimatedCombinedRate").column,
                              "EstimatedCombinedRate \(combined.fractionString) is not the sum of its parts (\(sum.fractionString))")
                }
            }
            rows.append(row)
        }
        if log.hasErrors { throw TableLoadError(log.entries) }
        return rows
    }

    /// The published file prints some parts with a binary-float artifact (0.020499 for 0.0205), so they fall
    /// 0.000001 short of the combined rate. When exactly one part has six decimals ending in 9 and adding
    /// 0.000001 to it makes the parts sum to the combined rate, that part is corrected. Nothing else is changed.
    static func repairRounding(_ row: inout Row) -> Bool {
        let micro: Int64 = Rate.scale / 1_000_000
        guard (row.stateRate + row.county + row.city + row.special).units + micro == row.combined.units else { return false }
        func isArtifact(_ rate: Rate) -> Bool { rate.units % micro == 0 && (rate.units / micro) % 10 == 9 }
        let parts: [(WritableKeyPath<Row, Rate>, String)] = [(\.stateRate, "StateRate"), (\.county, "EstimatedCountyRate"),
                                                             (\.city, "EstimatedCityRate"), (\.special, "EstimatedSpecialRate")]
        let candidates = parts.filter { isArtifact(row[keyPath: $0.0]) }
        guard candidates.count == 1, let (path, name) = candidates.first else { return false }
        let before = row[keyPath: path]
        row[keyPath: path] = Rate(units: before.units + micro)
        row.repair = "\(name) \(before.fractionString) read as \(row[keyPath: path].fractionString) to match EstimatedCombinedRate \(row.combined.fractionString)"
        return true
    }

    /// Title case for upper-case place names ("SAINT GEORGE TR" -> "Saint George Tr").
    static func titleCased(_ text: String) -> String {
        text.lowercased().split(separator: " ", omittingEmptySubsequences: false).map { word in
            word.prefix(1).uppercased() + word.dropFirst()
        }.joined(separator: " ")
    }

    /// A table set that quotes with this file's rates: its ZIP rows become the local rates and its state rates
    /// (the most common `StateRate` of each state) replace the state rates of `base`, in force on every date,
    /// since the file carries no dates. Taxability, sourcing and rules come from `base`. A row whose `StateRate`
    /// is not its state's (the real file's tribal-area ZIPs of New Mexico and South Dakota give 0 and the whole
    /// rate as local; one Nebraska ZIP half the state rate) cannot be quoted at its combined rate with one state
    /// rate per state: its quotes say so, with both rates (probe #18: they were quoted silently at the state rate
    /// plus the row's locals, 87014 at 12.875% for the file's 8%).
    public static func tableSet(rows: [Row], base: TaxTableSet, fileDigest: String) -> TaxTableSet {
        var interner = JurisdictionInterner()
        var stateRateCounts: [StateCode: [Rate: Int]] = [:]
        for row in rows { stateRateCounts[row.state, default: [:]][row.stateRate, default: 0] += 1 }
        let stateRates = stateRateCounts.compactMapValues { counts in
            counts.max(by: { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key })?.key
        }
        var records: [Zip5Record] = []
        for row in rows {
            var locals: [LocalRate] = []
            let place = titleCased(row.region)
            for (level, rate, name) in [(JurisdictionLevel.county, row.county, "\(place) (county)"), (.city, row.city, place),
                                        (.special, row.special, "\(place) special districts (combined)")] where !rate.isZero {
                let code = JurisdictionCodes.levy(row.state, level, row.region)
                locals.append(LocalRate(jurisdiction: interner.intern(level: level, state: row.state, name: name, code: code),
                                        intrastate: rate))
            }
            var warning: String?
            if let stateRate = stateRates[row.state], stateRate != row.stateRate {
                let quoted = stateRate + row.county + row.city + row.special
                warning = "zip5-csv: line \(row.line) gives ZIP \(row.zip.zip5String) the StateRate \(row.stateRate.fractionString), not "
                    + "\(row.state)'s \(stateRate.fractionString) that a ZIP5 file quotes for the whole state: the combined rate here is "
                    + "\(quoted.fractionString), the file's EstimatedCombinedRate \(row.combined.fractionString); the shipped tables "
                    + "(without --tables) quote this ZIP from their own sources"
            }
            records.append(Zip5Record(zip: row.zip, state: row.state, countyFIPS: nil, region: row.region, locals: locals,
                                      period: .always, precision: .zip5, source: "zip5-csv", warning: warning))
        }
        var states: [StateProfile] = []
        for profile in base.states {
            if let rate = stateRates[profile.state] {
                states.append(profile.replacingRates([DatedRate(period: .always, intrastate: rate, provenance: Provenance(source: "zip5-csv"))]))
            } else {
                states.append(profile)
            }
        }
        return TaxTableSet(version: "zip5-csv+sha256.\(fileDigest)", states: states, taxability: base.allTaxability,
                           rules: base.allRules, locals: Zip5Index(records: records))
    }
}
