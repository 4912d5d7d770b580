import Foundation
import TaxCore

/// The local rates of one named place (a Washington location code, a California city or county area) for a period.
public struct PlaceRate: Sendable {
    public var name: String
    /// What corrections name the place by: the Washington location code, or the California place upper-cased.
    public var key: String = ""
    public var locals: [LocalRate]
    public var stateRate: Rate?
    public var period: EffectivePeriod
    public var line: Int
    public var label: String
    /// The county the place lies in, upper-cased without "COUNTY" ("WALLA WALLA", "LOS ANGELES"); empty if unknown.
    public var county: String = ""
    /// An incorporated city or town (not a county's unincorporated area, a transit benefit area or a tribal area).
    public var isCity: Bool = true
}

/// A state's official rate list by place, without boundaries: Washington DOR location-code rates or California
/// CDTFA city and county rates. Addresses reach a place through the tax region name of their ZIP.
public struct PlaceRateFile: Sendable {
    public enum Kind: String, Sendable { case waDOR = "wa-dor", caCDTFA = "ca-cdtfa" }

    public var kind: Kind
    public var state: StateCode
    public var file: String
    public var places: [PlaceRate]
    public var warnings: [TableDiagnostic]

    /// The last day the file speaks for: a Washington file's last period ends on it; a CDTFA file gives the rates
    /// of one calendar quarter (California's district taxes become operative only on a quarter's first day, as
    /// Revenue and Taxation Code 7286.35 and the other district acts say, and CDTFA publishes them by quarter), so
    /// it speaks for the quarter it takes effect in. Later dates are answered with its last
    /// rates and a `stale_rates` warning (probe #20: an imported CDTFA file answered years later without one).
    public var verifiedThrough: TaxDate? {
        switch kind {
        case .waDOR:
            guard let last = places.map(\.period.through).max(), last < .distantFuture else { return nil }
            return last
        case .caCDTFA:
            guard let first = places.map(\.period.from).min() else { return nil }
            return first.lastDayOfQuarter
        }
    }

    /// Washington DOR: `Name,Location Code,State,Local,RTA,Rate,Effective Date,Expiration Date`, dates YYYYMMDD,
    /// rates as fractions; `Rate` must equal State + Local + RTA.
    public static func readWashington(_ bytes: [UInt8], file: String) throws(TableLoadError) -> PlaceRateFile {
        var log = DiagnosticLog()
        let columns = ["Name", "Location Code", "State", "Local", "RTA", "Rate", "Effective Date", "Expiration Date"]
        guard let table = CSVTable(file: file, bytes: bytes, required: columns, log: &log) else { throw TableLoadError(log.entries) }
        let wa = StateCode("WA")!
        var places: [PlaceRate] = []
        var periods = PeriodOverlaps<String>()
        // The `State` column is Washington's one rate in a period: a row that says otherwise is refused (probe #18:
        // accepted, its location lost the difference, as only each period's state rate is kept).
        var stateRates: [EffectivePeriod: (rate: Rate, line: Int)] = [:]
        var interner = JurisdictionInterner()
        for record in table.records {
            guard let name = table.text(record, "Name", log: &log), let code = table.text(record, "Location Code", log: &log) else { continue }
            guard SSTFields.integer(code, digits: 1...4) != nil else {
                log.error(file, record.line, table.field(record, "Location Code").column, "Location Code \"\(code)\" is not a number of up to four digits")
                continue
            }
            guard let state = table.rate(record, "State", log: &log), let local = table.rate(record, "Local", log: &log),
                  let rta = table.rate(record, "RTA", log: &log), let total = table.rate(record, "Rate", log: &log) else { continue }
            let effective = table.field(record, "Effective Date"), expiration = table.field(record, "Expiration Date")
            guard let period = SSTFields.period(effective.value, expiration.value, file: file, line: record.line,
                                                beginColumn: effective.column, log: &log) else { continue }
            guard state + local + rta == total else {
                log.error(file, record.line, table.field(record, "Rate").column,
                          "Rate \(total.fractionString) is not State + Local + RTA (\((state + local + rta).fractionString))")
                continue
            }
            if let other = stateRates[period], other.rate != state {
                log.error(file, record.line, table.field(record, "State").column,
                          "State \(state.fractionString) differs from \(other.rate.fractionString) on line \(other.line) for the same period: Washington has one state rate")
                continue
            }
            stateRates[period] = stateRates[period] ?? (state, record.line)
            periods.add(code, period, line: record.line)
            let place = CommonZip5Rates.titleCased(name)
            let level: JurisdictionLevel = name.uppercased().hasSuffix("COUNTY") ? .county : .city
            var locals = [LocalRate(jurisdiction: interner.intern(level: level, state: wa, name: place, code: "53-LOC-\(code)"), intrastate: local)]
            if !rta.isZero {
                locals.append(LocalRate(jurisdiction: interner.intern(level: .special, state: wa, name: "Regional Transit Authority", code: "53-RTA"),
                                        intrastate: rta))
            }
            places.append(PlaceRate(name: name.uppercased(), key: String(Int(code) ?? 0), locals: locals.filter { !$0.intrastate.isZero },
                                    stateRate: state, period: period, line: record.line, label: "WA DOR location \(code) \(name)"))
        }
        for clash in periods.clashes() {
            log.error(file, clash.reported.line, table.number(of: "Effective Date"),
                      "location \(clash.reported.key) period \(clash.reported.period) overlaps line \(clash.other.line)")
        }
        if places.isEmpty && !log.hasErrors { log.error(file, 2, nil, "the file has no rate rows") }
        if log.hasErrors { throw TableLoadError(log.entries) }
        // A location code's first digits number its county, whose own code ends in 00 ("WALLA WALLA COUNTY", 3600).
        var countyNames: [Int: String] = [:]
        for place in places.sorted(by: { $0.period.from < $1.period.from }) {
            // "WALLA WALLA COUNTY", or "KING COUNTY RTA" where the whole county's own row is split by the RTA.
            guard let code = Int(place.key), code % 100 == 0, let end = place.name.range(of: " COUNTY")?.lowerBound else { continue }
            countyNames[code / 100] = String(place.name[..<end])
        }
        for index in places.indices {
            places[index].county = Int(places[index].key).flatMap { countyNames[$0 / 100] } ?? ""
            let name = places[index].name
            places[index].isCity = !["COUNTY", "PTBA", "TRIBE", "NATION", "HBZ", " - "].contains { name.contains($0) }
        }
        return PlaceRateFile(kind: .waDOR, state: wa, file: file, places: places, warnings: log.entries)
    }

    /// California's statewide 7.25% is 6% state plus 1.25% local (1% Bradley-Burns city or county tax and 0.25%
    /// county transportation); what a CDTFA rate adds above 7.25% is district taxes.
    public static let californiaStatewideRate = Rate(units: 725_000_000)
    static let californiaLocalShare = Rate(units: 125_000_000)

    /// California CDTFA: `Location,Rate,Rate_Percent,County,Type,Notes`, in force from `effectiveFrom` (the file
    /// carries no dates). Rows that only point to other rows (rate 0, the note shifted into the Type column) are
    /// skipped with a warning; `Rate_Percent` is checked against `Rate` allowing its float artifacts.
    public static func readCalifornia(_ bytes: [UInt8], file: String, effectiveFrom: TaxDate) throws(TableLoadError) -> PlaceRateFile {
        var log = DiagnosticLog()
        let columns = ["Location", "Rate", "Rate_Percent", "County", "Type", "Notes"]
        guard let table = CSVTable(file: file, bytes: bytes, required: columns, log: &log) else { throw TableLoadError(log.entries) }
        let ca = StateCode("CA")!
        var places: [PlaceRate] = []
        var seen: [String: Int] = [:]
        var pointers = 0
        var interner = JurisdictionInterner()
        let statewideLocal = interner.intern(level: .county, state: ca, name: "California statewide local tax (Bradley-Burns and county transportation)", code: "06-BB")
        for record in table.records {
            guard let location = table.text(record, "Location", log: &log), let rate = table.rate(record, "Rate", log: &log) else { continue }
            let type = table.field(record, "Type").value
            if rate.isZero && type != "City" && type != "County" {
                pointers += 1
                continue
            }
            guard type == "City" || type == "County" else {
                log.error(file, record.line, table.field(record, "Type").column, "Type \"\(type)\" is not City or County")
                continue
            }
            let percentText = table.field(record, "Rate_Percent")
            do {
                // Rate_Percent carries float artifacts ("7.249999999999999", "7.9750000000000005"); it only
                // confirms Rate, so it is compared to 12 decimals, within 1e-9 of a percent.
                var text = Substring(percentText.value)
                if let point = text.firstIndex(of: "."), text.distance(from: point, to: text.endIndex) > 13 {
                    text = text[..<text.index(point, offsetBy: 13)]
                }
                let percent = try DecimalText.parse(String(text), scaleDigits: 12, allowNegative: false)
                let expected = rate.units * 10_000
                if abs(percent - expected) > 1_000 {
                    log.error(file, record.line, percentText.column, "Rate_Percent \(percentText.value) disagrees with Rate \(rate.fractionString)")
                    continue
                }
            } catch {
                log.error(file, record.line, percentText.column, "Rate_Percent \(error)")
                continue
            }
            guard rate >= californiaStatewideRate else {
                log.error(file, record.line, table.field(record, "Rate").column,
                          "Rate \(rate.fractionString) is below the 7.25% statewide rate")
                continue
            }
            let key = location.uppercased()
            if let previous = seen[key] {
                log.error(file, record.line, 1, "Location \"\(location)\" already appears on line \(previous)")
                continue
            }
            seen[key] = record.line
            var locals = [LocalRate(jurisdiction: statewideLocal, intrastate: californiaLocalShare)]
            let district = Rate(units: rate.units - californiaStatewideRate.units)
            if !district.isZero {
                let code = JurisdictionCodes.levy(ca, .special, location)
                locals.append(LocalRate(jurisdiction: interner.intern(level: .special, state: ca, name: "\(location) district taxes (combined)", code: code),
                                        intrastate: district))
            }
            places.append(PlaceRate(name: key, key: key, locals: locals, stateRate: nil, period: EffectivePeriod(from: effectiveFrom),
                                    line: record.line, label: "CDTFA \(type.lowercased()) rate \(location)",
                                    county: PlaceRateFile.countyKey(table.field(record, "County").value), isCity: type == "City"))
        }
        if places.isEmpty && !log.hasErrors { log.error(file, 2, nil, "the file has no rate rows") }
        if log.hasErrors { throw TableLoadError(log.entries) }
        if pointers > 0 {
            log.warning(file, 1, nil, "\(pointers) row(s) with rate 0 that only refer to other rows (their note sits in the Type column) were skipped")
        }
        return PlaceRateFile(kind: .caCDTFA, state: ca, file: file, places: places, warnings: log.entries)
    }

    private static let countySuffixes: Set<[UInt8]> = [Array("COUNTY".utf8), Array("PARISH".utf8), Array("BOROUGH".utf8)]

    /// A county's name as places and tax regions give it: upper-cased, without dots and a trailing "COUNTY",
    /// "PARISH" or "BOROUGH" ("St. Tammany Parish" is "ST TAMMANY").
    public static func countyKey(_ name: String) -> String {
        // Read byte by byte (this runs for every ZIP5 record at load); a name beyond ASCII is upper-cased first.
        let upper = name.utf8.allSatisfy { $0 < 0x80 } ? name : name.uppercased()
        var words: [[UInt8]] = []
        var word: [UInt8] = []
        for byte in upper.utf8 {
            if byte == UInt8(ascii: " ") || byte == UInt8(ascii: ".") {
                if !word.isEmpty { words.append(word); word = [] }
            } else {
                word.append(byte >= 97 && byte <= 122 ? byte - 32 : byte)
            }
        }
        if !word.isEmpty { words.append(word) }
        if let last = words.last, countySuffixes.contains(last) { words.removeLast() }
        return String(decoding: Array(words.joined(separator: [UInt8(ascii: " ")])), as: UTF8.self)
    }

    /// State rates from the file, for the state profile: each distinct state rate over the span of its rows.
    public var stateRates: [DatedRate] {
        var spans: [Rate: EffectivePeriod] = [:]
        for place in places {
            guard let rate = place.stateRate else { continue }
            if let span = spans[rate] {
                spans[rate] = EffectivePeriod(from: min(span.from, place.period.from), through: max(span.through, place.period.through))
            } else {
                spans[rate] = place.period
            }
        }
        return spans.sorted { $0.value.from < $1.value.from }.map {
            DatedRate(period: $0.value, intrastate: $0.key, provenance: Provenance(source: kind.rawValue, note: file))
        }
    }
}

/// Resolves an address to a named place of a `PlaceRateFile`. A ZIP may go by several names: the city the address
/// gives, the ZIP's postal city, and the tax region the ZIP5 table estimates for it; the first that names a place of
/// the file in the ZIP's county (from the Census ZIP/county crosswalk) decides, then the county's unincorporated
/// area. The ZIP5 table's region comes after the postal names because it is an estimate that puts some ZIPs in a
/// neighbouring place, or county (Richland's 99352 in Kennewick, Sequim's 98382 in Jefferson County). A ZIP whose
/// names match no place is answered by the fallback, with a warning.
public struct PlaceRateResolver: LocalRateResolver {
    let file: PlaceRateFile
    /// A place's periods, oldest first, by its key (a Washington location code keeps its key when it is renamed).
    let places: [String: [PlaceRate]]
    /// Every name a place has had, and the shorter names Washington's places go by elsewhere ("WALLA WALLA" for
    /// "WALLA WALLA CITY", "BELLEVUE" for "BELLEVUE RTA", "AUBURN" for "AUBURN/KING RTA"), to its keys (a name
    /// may belong to places in several counties).
    let keysByName: [String: [String]]
    let zip5: Zip5Index
    /// Each ZIP of the state's places by its own names (`zipMatches`), worked out once when the tables load.
    var zipPlaces: [Int32: [Match]] = [:]
    /// The ZIPs with a city across the county line (`citiesAcrossTheLine`), worked out once when the tables load.
    var acrossTheLine: [Int32: Set<String>] = [:]
    let fallback: any LocalRateResolver
    /// The source id quotes name for these rates (the freshness check reads it).
    let sourceID: String
    /// Dates before the file's first period, back to this day, take its first rates (the changes in between are
    /// corrections of their own); nil: such dates are refused.
    let carriedBackFrom: TaxDate?
    /// California, by county key: the lowest district rate of the county's places in each of their periods. The
    /// CDTFA file gives each place's districts combined; the countywide ones are in every place, and the lowest sum
    /// is theirs wherever one place (most often the unincorporated area) has no district of its own.
    var districtsByCounty: [String: (jurisdiction: Jurisdiction, periods: [(period: EffectivePeriod, rate: Rate)])] = [:]

    public init(file: PlaceRateFile, zip5: Zip5Index, fallback: any LocalRateResolver, sourceID: String? = nil, carriedBackFrom: TaxDate? = nil) {
        self.file = file
        places = Dictionary(grouping: file.places, by: \.key).mapValues { $0.sorted { $0.period.from < $1.period.from } }
        var keys: [String: [String]] = [:]
        // Every name a place has had, later periods first; then shortened names that no place has as its own.
        for place in file.places.sorted(by: { $0.period.from > $1.period.from }) {
            let name = PlaceNameKey.of(Self.normalized(place.name))
            if !(keys[name] ?? []).contains(place.key) { keys[name, default: []].append(place.key) }
        }
        var aliases: [String: [String]] = [:]
        for place in file.places {
            for alias in Self.aliases(of: Self.normalized(place.name), county: place.county).map(PlaceNameKey.of) where keys[alias] == nil {
                if !(aliases[alias] ?? []).contains(place.key) { aliases[alias, default: []].append(place.key) }
            }
        }
        keysByName = keys.merging(aliases) { own, _ in own }
        self.zip5 = zip5
        self.fallback = fallback
        self.sourceID = sourceID ?? file.kind.rawValue
        self.carriedBackFrom = carriedBackFrom
        var zipPlaces: [Int32: [Match]] = [:]
        var acrossTheLine: [Int32: Set<String>] = [:]
        for record in zip5.allRecords where record.state == file.state && zipPlaces[record.zip.zip5] == nil {
            zipPlaces[record.zip.zip5] = zipMatches(record.zip.zip5)
            let cities = citiesAcrossTheLine(zip5.records(for: record.zip.zip5))
            if !cities.isEmpty { acrossTheLine[record.zip.zip5] = cities }
        }
        self.zipPlaces = zipPlaces
        self.acrossTheLine = acrossTheLine
        if file.kind == .caCDTFA { districtsByCounty = Self.lowestDistricts(of: file) }
    }

    static func lowestDistricts(of file: PlaceRateFile) -> [String: (jurisdiction: Jurisdiction, periods: [(period: EffectivePeriod, rate: Rate)])] {
        var lowest: [String: [EffectivePeriod: Rate]] = [:]
        for place in file.places where !place.county.isEmpty {
            let districts = place.locals.filter { $0.jurisdiction.level == .special }.reduce(Rate.zero) { $0 + $1.intrastate }
            lowest[place.county, default: [:]][place.period] = min(lowest[place.county]?[place.period] ?? districts, districts)
        }
        return lowest.reduce(into: [:]) { result, entry in
            let jurisdiction = Jurisdiction(level: .special, state: file.state, name: "\(entry.key.capitalized) County countywide district taxes",
                                            code: JurisdictionCodes.levy(file.state, .special, entry.key + " COUNTYWIDE"))
            result[entry.key] = (jurisdiction, entry.value.map { (period: $0.key, rate: $0.value) }.sorted { $0.period.from < $1.period.from })
        }
    }

    /// The countywide districts of `county` on `date`, chosen among its periods as a place's rates are.
    func countyDistricts(_ county: String, on date: TaxDate) -> LocalRate? {
        guard let (jurisdiction, periods) = districtsByCounty[county], let chosen = row(of: periods, period: { $0.period }, on: date) else { return nil }
        return LocalRate(jurisdiction: jurisdiction, intrastate: chosen.row.rate)
    }

    /// Of dated rows, oldest first, the one a date takes: the row in force; past the last period, the last (its
    /// source's freshness warning says so); before the first, back to `carriedBackFrom`, the first, carried back.
    func row<Row>(of rows: [Row], period: (Row) -> EffectivePeriod, on date: TaxDate) -> (row: Row, carriedBack: Bool)? {
        if let inForce = rows.first(where: { period($0).contains(date) }) { return (inForce, false) }
        if let last = rows.last, date > period(last).through { return (last, false) }
        if let first = rows.first, let carriedBackFrom, date >= carriedBackFrom, date < period(first).from { return (first, true) }
        return nil
    }

    /// A place name as names are compared: upper-cased, hyphens as spaces, single spaces, without the ZIP5 table's
    /// "SPECIAL TAX DIST" ("AUBURN/KING SPECIAL TAX DIST" is Washington's "AUBURN/KING RTA").
    static func normalized(_ name: String) -> String {
        // Most names are already upper-case ASCII with single spaces: returned as they are, without allocating.
        var previous: UInt8 = 32, plain = true
        for byte in name.utf8 {
            if byte >= 97 && byte <= 122 || byte == 45 || byte >= 128 || byte == 32 && previous == 32 { plain = false; break }
            previous = byte
        }
        if plain && previous != 32 && !name.hasSuffix(" SPECIAL TAX DIST") { return name }
        let folded = String(name.uppercased().map { PlaceNameKey.unaccented[$0] ?? $0 })
        var words = folded.split { $0 == " " || $0 == "-" }.map(String.init)
        if words.suffix(3) == ["SPECIAL", "TAX", "DIST"] { words.removeLast(3) }
        return words.joined(separator: " ")
    }

    /// The shorter names a Washington place goes by: without a trailing "CITY" or "RTA" (not "NON RTA"), and
    /// without the "/COUNTY" of a city that spans counties.
    static func aliases(of name: String, county: String) -> [String] {
        var results: [String] = []
        var base = name
        if base.hasSuffix(" CITY") { base.removeLast(5); results.append(base) }
        if base.hasSuffix(" RTA"), !base.hasSuffix(" NON RTA") { base.removeLast(4); results.append(base) }
        if !county.isEmpty, base.hasSuffix("/" + county) {
            base.removeLast(county.count + 1)
            results.append(base)
        }
        return results
    }

    /// The file's rate for the code on the date (its latest past its last period), else the fallback's.
    public func jurisdictionRate(code: String, state: StateCode, on date: TaxDate) -> LocalRate? {
        var latest: (period: EffectivePeriod, rate: LocalRate)?
        for rows in places.values {
            for place in rows {
                guard let local = place.locals.first(where: { $0.jurisdiction.code == code && $0.jurisdiction.state == state }) else { continue }
                if place.period.contains(date) { return local }
                if place.period.through < date, latest.map({ $0.period.from < place.period.from }) ?? true { latest = (place.period, local) }
            }
        }
        return latest?.rate ?? fallback.jurisdictionRate(code: code, state: state, on: date)
    }

    /// One name an address may go by, and what gave it.
    struct Candidate: Equatable {
        enum Evidence: String { case addressCity = "the address's city", postalCity = "the postal city", taxRegion = "the ZIP5 table's tax region", county = "the county" }
        var name: String
        var evidence: Evidence
    }

    typealias Match = (candidate: Candidate, key: String, rows: [PlaceRate])

    /// The names a ZIP goes by, in the order they decide (the address's city comes before them).
    static func zipCandidates(_ records: ArraySlice<Zip5Record>, state: StateCode) -> [Candidate] {
        var names: [Candidate] = []
        for record in records where record.state == state {
            if let postal = record.postalCity { names.append(Candidate(name: postal.uppercased(), evidence: .postalCity)) }
            let region = record.region.uppercased()
            names.append(Candidate(name: region, evidence: .taxRegion))
            if let city = record.locals.first(where: { $0.jurisdiction.level == .city }) { names.append(Candidate(name: city.jurisdiction.name.uppercased(), evidence: .taxRegion)) }
            if let city = record.cityName { names.append(Candidate(name: city.uppercased(), evidence: .taxRegion)) }
            if let county = record.countyName.map(PlaceRateFile.countyKey) {
                names += [county + " COUNTY UNINCORPORATED AREA", county + " COUNTY"].map { Candidate(name: $0, evidence: .county) }
            }
            names += [region + " COUNTY UNINCORPORATED AREA", region + " COUNTY"].map { Candidate(name: $0, evidence: .taxRegion) }
        }
        return names
    }

    /// The place each candidate names, in order, skipping places outside the county (where both are known) unless
    /// `acrossTheLine` has the place's key.
    func places(named candidates: [Candidate], county: String, acrossTheLine: Set<String> = []) -> [Match] {
        var found: [Match] = []
        for candidate in candidates {
            for key in keysByName[PlaceNameKey.of(Self.normalized(candidate.name))] ?? [] {
                guard let rows = places[key], let newest = rows.last else { continue }
                if !county.isEmpty, !newest.county.isEmpty, newest.county != county, !acrossTheLine.contains(key) { continue }
                if !found.contains(where: { $0.key == key }) { found.append((candidate, key, rows)) }
            }
        }
        return found
    }

    /// Cities of a neighbouring county that a ZIP's postal city and its ZIP5 region both name: the ZIP straddles the
    /// county line and the crosswalk, which gives one county per ZIP, has the other side (91361, Westlake Village, a
    /// city of Los Angeles County at 9.75%, whose ZIP the crosswalk puts in Ventura County). Two names of the ZIP agree
    /// on the city, so an address naming it is taken to be in it.
    func citiesAcrossTheLine(_ records: ArraySlice<Zip5Record>) -> Set<String> {
        guard let record = records.first(where: { $0.state == file.state }), let postal = record.postalCity,
              PlaceNameKey.of(Self.normalized(postal)) == PlaceNameKey.of(Self.normalized(record.region)) else { return [] }
        return Set((keysByName[PlaceNameKey.of(Self.normalized(postal))] ?? []).filter { places[$0]?.last?.isCity == true })
    }

    /// The places a ZIP's own names match, in order. A ZIP whose postal city is known but is no place of the file
    /// lies outside the file's cities: its county's areas come before a city the ZIP5 table estimates for it.
    func zipMatches(_ zip: Int32) -> [Match] {
        let records = zip5.records(for: zip)
        let record = records.first { $0.state == file.state }
        var found = places(named: Self.zipCandidates(records, state: file.state), county: record?.countyName.map(PlaceRateFile.countyKey) ?? "")
        if record?.postalCity != nil, let first = found.first, first.rows.last?.isCity == true, first.candidate.evidence == .taxRegion,
           let area = found.firstIndex(where: { $0.rows.last?.isCity == false }) {
            found.insert(found.remove(at: area), at: 0)
        }
        return found
    }

    /// The places the address may be in, in order: the place its city names (in the ZIP's county), then the ZIP's.
    func matches(_ address: Address) -> [Match] {
        let zipOwn = zipPlaces[address.zip.zip5] ?? []
        guard !address.city.isEmpty else { return zipOwn }
        let record = zip5.records(for: address.zip.zip5).first { $0.state == address.state }
        let city = Candidate(name: address.city, evidence: .addressCity)
        let named = places(named: [city], county: record?.countyName.map(PlaceRateFile.countyKey) ?? "",
                           acrossTheLine: acrossTheLine[address.zip.zip5] ?? [])
        guard !named.isEmpty else { return zipOwn }
        return named + zipOwn.filter { match in !named.contains { $0.key == match.key } }
    }

    public func resolve(_ address: Address, on date: TaxDate) throws(ResolutionError) -> ResolvedLocation {
        let found = matches(address)
        guard let (candidate, _, rows) = found.first else {
            var location = try fallback.resolve(address, on: date)
            location.warnings.append("no \(file.kind.rawValue) place matches ZIP \(address.zip.zip5String); the ZIP5 table's estimate was used")
            return location
        }
        var warnings: [String] = []
        guard let (place, carriedBack) = row(of: rows, period: { $0.period }, on: date) else {
            // After the last row the latest rates answer (marked stale): the coverage runs on from there.
            let latest = rows.map(\.period.from).max().map { [EffectivePeriod(from: $0)] } ?? []
            throw .noRatesOnDate(zip: address.zip.zip5String, date: date, coverage: EffectivePeriod.describe(rows.map(\.period) + latest))
        }
        if carriedBack {
            warnings.append("local rates before \(place.period.from) are the \(sourceID) rates carried back, corrected by the rate changes the tables record")
        }
        // The ZIP's own names disagree on the place (the address did not say): say so, as for a straddled district.
        if candidate.evidence != .addressCity,
           let other = found.dropFirst().first(where: { $0.candidate.evidence == .taxRegion && $0.candidate.name != candidate.name }),
           let otherPlace = other.rows.first(where: { $0.period.contains(date) }) ?? other.rows.last,
           Set(otherPlace.locals.map(\.intrastate)) != Set(place.locals.map(\.intrastate)) || otherPlace.locals.count != place.locals.count {
            warnings.append("zip_straddles_jurisdictions: ZIP \(address.zip.zip5String) is \(candidate.name) by \(candidate.evidence.rawValue) and "
                + "\(other.candidate.name) by \(other.candidate.evidence.rawValue), whose rates differ; \(candidate.name) was used; "
                + "the address's city, a ZIP+4 or a street address would decide")
        }
        let base = zip5.records(for: address.zip.zip5).first { $0.state == address.state }
        if let county = base?.countyName.map(PlaceRateFile.countyKey), !county.isEmpty, !place.county.isEmpty, place.county != county {
            warnings.append("zip_straddles_jurisdictions: ZIP \(address.zip.zip5String) is \(candidate.name) by \(candidate.evidence.rawValue), its postal city "
                + "and the ZIP5 table's region, a city of \(place.county.capitalized) County, while the Census crosswalk puts the ZIP in "
                + "\(county.capitalized) County; \(candidate.name) was used; a street address would decide")
        }
        var location = ResolvedLocation(state: address.state, countyFIPS: base?.countyFIPS, locals: place.locals, precision: .zip5,
                                record: "\(place.label) (\(file.file):\(place.line), \(place.period)); place \(candidate.name) matched by \(candidate.evidence.rawValue) of ZIP \(address.zip.zip5String)",
                                warnings: warnings, sources: [sourceID], place: place.key)
        if !districtsByCounty.isEmpty { location.countyDistricts = countyDistricts(place.county, on: date) }
        return location
    }
}
