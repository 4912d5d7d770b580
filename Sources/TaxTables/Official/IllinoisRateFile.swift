import TaxCore

/// One county's or municipality's line of the Illinois Department of Revenue's machine-readable rate file
/// (`ordmache-current.txt`): its combined general merchandise rate (state 6.25% included), the day that rate
/// started, and the rate before it with its own dates.
public struct IllinoisRatePlace: Sendable {
    /// IDOR's location code ("016-0001-1": county number, place number, check digit).
    public var code: String
    public var name: String
    /// The county as IDOR spells it ("DUPAGE", "ST. CLAIR").
    public var county: String
    /// A county's own line: the rate of its unincorporated area.
    public var isCounty: Bool
    /// IDOR marks places whose rate depends on the street address (business districts, home-rule taxes on part of
    /// the place) and gives them no rate: the file cannot answer for them.
    public var addressSpecific: Bool
    /// The combined rates by period, oldest first (at most the current one and the one before it).
    public var rates: [(period: EffectivePeriod, rate: Rate)]
    public var line: Int

    public func rate(on date: TaxDate) -> Rate? { rates.first { $0.period.contains(date) }?.rate }
}

/// IDOR's fixed-width rate file: 211 characters a line (`ordmache-current.txt`, published with the Illinois
/// sales tax rate database). Columns (1-based): 1-10 location code, 11-35 name, 36-60 county, 61 address-specific
/// flag (Y/N), 62-69 start of the current rate (YYYYMMDD), 70-74 general merchandise rate in thousandths of a
/// percent ("07750" is 7.75%), 133-140 and 141-148 the dates of the rate before, 149-153 that rate. Lines without
/// a county (other states, foreign countries) are not Illinois places and are skipped.
public struct IllinoisRateFile: Sendable {
    public var file: String
    public var places: [IllinoisRatePlace]
    public var warnings: [TableDiagnostic]

    static let lineLength = 211
    /// Illinois's state rate, part of every combined rate in the file (35 ILCS 120/2-10: 6.25%, of which the state
    /// shares 1.25% with municipalities and counties).
    public static let stateRate = Rate(units: 625_000_000)

    public static func read(_ bytes: [UInt8], file: String) throws(TableLoadError) -> IllinoisRateFile {
        var log = DiagnosticLog()
        var places: [IllinoisRatePlace] = []
        var seen: [String: Int] = [:]
        var number = 0
        for raw in bytes.split(separator: 10, omittingEmptySubsequences: false) {
            number += 1
            var line = Array(raw)
            if line.last == 13 { line.removeLast() }
            // A UTF-8 byte-order mark carries no data (the CSV readers skip it too): it made the first line 214 "characters".
            if number == 1, line.starts(with: [0xEF, 0xBB, 0xBF]) { line.removeFirst(3) }
            if line.isEmpty { continue }
            guard line.count == lineLength else {
                // Counted in bytes: the format is fixed-width ASCII, and a non-ASCII character is more than one.
                log.error(file, number, nil, "a line has \(lineLength) bytes (printable ASCII characters), this one \(line.count)")
                continue
            }
            guard line.allSatisfy({ $0 >= 32 && $0 < 127 }) else {
                log.error(file, number, (line.firstIndex { $0 < 32 || $0 >= 127 } ?? 0) + 1, "a character that is not printable ASCII")
                continue
            }
            func text(_ from: Int, _ to: Int) -> String { String(decoding: line[(from - 1)..<to], as: UTF8.self) }
            let code = text(1, 10)
            guard code.utf8.enumerated().allSatisfy({ i, c in [3, 8].contains(i) ? c == 45 : c >= 48 && c <= 57 }) else {
                log.error(file, number, 1, "location code \"\(code)\" is not NNN-NNNN-N")
                continue
            }
            let name = text(11, 35).trimmingSpaces, county = text(36, 60).trimmingSpaces
            if county.isEmpty { continue }
            guard !name.isEmpty else {
                log.error(file, number, 11, "the place has no name")
                continue
            }
            let flag = text(61, 61)
            guard flag == "Y" || flag == "N" else {
                log.error(file, number, 61, "address-specific flag \"\(flag)\" is not Y or N")
                continue
            }
            guard let since = TaxDate(compact: Substring(text(62, 69))) else {
                log.error(file, number, 62, "start date \"\(text(62, 69))\" is not a date (YYYYMMDD)")
                continue
            }
            var place = IllinoisRatePlace(code: code, name: name, county: county, isCounty: text(5, 8) == "5000", addressSpecific: flag == "Y",
                                          rates: [], line: number)
            if !place.addressSpecific {
                guard let current = rate(text(70, 74)) else {
                    log.error(file, number, 70, "general merchandise rate \"\(text(70, 74))\" is not five digits")
                    continue
                }
                guard current >= stateRate else {
                    log.error(file, number, 70, "general merchandise rate \(current.percentString)% is below the state's 6.25%")
                    continue
                }
                if let implausible = PlausibleRate.problem(current) {
                    log.error(file, number, 70, "general merchandise rate \(implausible)")
                    continue
                }
                // The rate before: its own dates, ending the day before the current one at the latest (a place that
                // never changed repeats its rate with an open end).
                if let from = TaxDate(compact: Substring(text(133, 140))), from < since, let prior = rate(text(149, 153)), prior >= stateRate,
                   PlausibleRate.problem(prior) == nil {
                    let until = TaxDate(compact: Substring(text(141, 148))).map { min($0, since.dayBefore) } ?? since.dayBefore
                    if from <= until { place.rates.append((EffectivePeriod(from: from, through: until), prior)) }
                }
                place.rates.append((EffectivePeriod(from: since), current))
            }
            guard let previous = seen[code] else {
                seen[code] = places.count
                places.append(place)
                continue
            }
            // The file repeats a few places from an older edition (Marion, Williamson County, from 2020 and from
            // 2024 at the same rate): the lines must agree where their periods meet; the later start wins.
            let other = places[previous]
            if let clash = Self.disagreement(other, place) {
                log.error(file, number, 1, "location code \(code) is also on line \(other.line), with another rate on \(clash)")
                continue
            }
            if place.addressSpecific != other.addressSpecific {
                log.error(file, number, 61, "location code \(code) is also on line \(other.line), with another address-specific flag")
                continue
            }
            let (older, newer) = (other.rates.last?.period.from ?? .distantPast) < (place.rates.last?.period.from ?? .distantPast) ? (other, place) : (place, other)
            var merged = newer
            if let first = newer.rates.first?.period.from {
                merged.rates = older.rates.compactMap { entry in
                    entry.period.from < first ? (EffectivePeriod(from: entry.period.from, through: min(entry.period.through, first.dayBefore)), entry.rate) : nil
                } + newer.rates
            }
            log.warning(file, number, 1, "location code \(code) is also on line \(other.line); the line with the later start is used")
            places[previous] = merged
        }
        if places.isEmpty && !log.hasErrors { log.error(file, 1, nil, "the file has no Illinois places") }
        if log.hasErrors { throw TableLoadError(log.entries) }
        return IllinoisRateFile(file: file, places: places, warnings: log.entries)
    }

    /// The first day on which two lines of one place give different rates, if any.
    static func disagreement(_ a: IllinoisRatePlace, _ b: IllinoisRatePlace) -> TaxDate? {
        for x in a.rates {
            for y in b.rates where x.period.overlaps(y.period) && x.rate != y.rate {
                return max(x.period.from, y.period.from)
            }
        }
        return nil
    }

    /// Five digits in thousandths of a percent ("07750" is 7.75%, 0.0775).
    static func rate(_ digits: String) -> Rate? {
        guard let value = SSTFields.integer(digits, digits: 5...5) else { return nil }
        return Rate(units: Int64(value) * 100_000)
    }

    /// A county's name as both the file and the Census crosswalk can be compared ("ST. CLAIR" and "St. Clair
    /// County", "DEWITT" and "De Witt County" agree).
    static func countyKey(_ name: String) -> String { PlaceNameKey.of(PlaceRateFile.countyKey(name)) }
}

/// Answers Illinois addresses from IDOR's rate file. The file has no boundaries: an address reaches a municipality
/// of its ZIP's county (Census crosswalk) by its own city, else by its ZIP's postal city; a postal city that is no
/// municipality, and whose name begins or ends no municipality's name (nor the other way round), lies in the
/// county's unincorporated area and takes the county's line. The ZIP5 table (`fallback`) answers where the file cannot: a place IDOR marks
/// address-specific (Springfield, Peoria, Naperville in DuPage), a postal city that resembles a municipality
/// (60118, Dundee: East and West Dundee), a date outside the file's periods, a ZIP without a county.
///
/// The combined rate is split into the county-wide taxes (the county's line less the state's 6.25%, the RTA's
/// and the Metro East district's taxes included) and the municipality's own (its line less the county's).
public struct IllinoisRateResolver: LocalRateResolver {
    /// Per county (`IllinoisRateFile.countyKey`), its own line and its municipalities by `PlaceNameKey.of`.
    let byCounty: [String: (county: IllinoisRatePlace?, places: [String: IllinoisRatePlace])]
    let zip5: Zip5Index
    let fallback: any LocalRateResolver
    let sourceID: String
    let file: String
    let state = StateCode("IL")!
    /// Every municipality's `PlaceNameKey.of`, statewide.
    let municipalKeys: Set<String>
    /// What each Illinois ZIP's own names choose (worked out once when the tables load).
    var zipChoices: [Int32: Choice] = [:]
    /// Each line's jurisdiction, by IDOR's location code: one shared instance (`invoice_combined` rounding compares
    /// jurisdictions by identity), made once.
    var jurisdictions: [String: Jurisdiction] = [:]
    /// The lines that rate each jurisdiction code the file gives, in file order (a municipality in two counties has a
    /// line in each), for `jurisdictionRate`.
    var linesByCode: [String: [(place: IllinoisRatePlace, county: IllinoisRatePlace)]] = [:]

    /// The line that answers and the name that reached it, or why the file does not answer.
    enum Choice: Sendable {
        case place(IllinoisRatePlace, county: IllinoisRatePlace, by: String)
        case fallback(reason: String?)
    }

    public init(file: IllinoisRateFile, zip5: Zip5Index, fallback: any LocalRateResolver, sourceID: String) {
        var byCounty: [String: (county: IllinoisRatePlace?, places: [String: IllinoisRatePlace])] = [:]
        for place in file.places {
            let key = IllinoisRateFile.countyKey(place.county)
            if place.isCounty {
                byCounty[key, default: (nil, [:])].county = place
            } else {
                byCounty[key, default: (nil, [:])].places[PlaceNameKey.of(place.name)] = place
            }
        }
        self.byCounty = byCounty
        municipalKeys = Set(byCounty.values.flatMap { $0.places.keys })
        self.zip5 = zip5
        self.fallback = fallback
        self.sourceID = sourceID
        self.file = file.file
        var countyFIPS: [String: String] = [:]
        for record in zip5.allRecords where record.state == state {
            if zipChoices[record.zip.zip5] == nil { zipChoices[record.zip.zip5] = zipChoice(record) }
            if let name = record.countyName, let fips = record.countyFIPS { countyFIPS[IllinoisRateFile.countyKey(name)] = countyFIPS[IllinoisRateFile.countyKey(name)] ?? fips }
        }
        for (key, entry) in byCounty {
            guard let county = entry.county else { continue }
            let title = CommonZip5Rates.titleCased(county.county)
            let countyCode = countyFIPS[key] ?? JurisdictionCodes.levy(state, .county, county.county)
            jurisdictions[county.code] = Jurisdiction(level: .county, state: state, name: "\(title) County (county-wide taxes and the RTA)", code: countyCode)
            linesByCode[countyCode, default: []].append((county, county))
            for place in entry.places.values where !place.addressSpecific {
                let code = JurisdictionCodes.levy(state, .city, place.name)
                jurisdictions[place.code] = Jurisdiction(level: .city, state: state, name: "\(CommonZip5Rates.titleCased(place.name)) (municipal taxes)", code: code)
                linesByCode[code, default: []].append((place, county))
            }
        }
        linesByCode = linesByCode.mapValues { $0.sorted { $0.place.line < $1.place.line } }
    }

    /// The file's rate for a code it gives (the first line in file order that rates it on the date), else the
    /// fallback's.
    public func jurisdictionRate(code: String, state: StateCode, on date: TaxDate) -> LocalRate? {
        if state == self.state {
            for (place, county) in linesByCode[code] ?? [] {
                if let local = locals(place, county: county, on: date)?.first(where: { $0.jurisdiction.code == code }) { return local }
            }
        }
        return fallback.jurisdictionRate(code: code, state: state, on: date)
    }

    /// The line's local rates on the date: the county-wide taxes (the county's line less the state's rate) and the
    /// municipality's own (its line less the county's); nil when the file has no rate for the date. A municipality
    /// whose line is below its county's (a tax the county levies only outside municipalities) has its whole local
    /// rate at the county level.
    func locals(_ place: IllinoisRatePlace, county: IllinoisRatePlace, on date: TaxDate) -> [LocalRate]? {
        guard let combined = place.rate(on: date), let countyCombined = county.rate(on: date) else { return nil }
        var locals: [LocalRate] = []
        let countyWide = min(countyCombined, combined).units - IllinoisRateFile.stateRate.units
        if countyWide > 0, let jurisdiction = jurisdictions[county.code] {
            locals.append(LocalRate(jurisdiction: jurisdiction, intrastate: Rate(units: countyWide)))
        }
        if !place.isCounty, combined > countyCombined, let jurisdiction = jurisdictions[place.code] {
            locals.append(LocalRate(jurisdiction: jurisdiction, intrastate: Rate(units: combined.units - countyCombined.units)))
        }
        return locals
    }

    func county(of record: Zip5Record) -> (county: IllinoisRatePlace, places: [String: IllinoisRatePlace])? {
        guard let name = record.countyName, let entry = byCounty[IllinoisRateFile.countyKey(name)], let county = entry.county else { return nil }
        return (county, entry.places)
    }

    /// What the ZIP's postal city chooses.
    func zipChoice(_ record: Zip5Record) -> Choice {
        guard let (county, places) = county(of: record), let postal = record.postalCity else { return .fallback(reason: nil) }
        let key = PlaceNameKey.of(postal)
        if let place = places[key] { return choice(place, county: county, by: "the postal city") }
        // A postal name that begins or ends a municipality's name anywhere in the state (Dundee: East and West
        // Dundee; Edwards: Edwardsville), or is one in another county (62908, Belknap, a Johnson County village on a
        // ZIP the crosswalk puts in Massac County), is not taken for unincorporated land.
        if key.isEmpty || municipalKeys.contains(where: { $0.hasPrefix(key) || $0.hasSuffix(key) || key.hasPrefix($0) || key.hasSuffix($0) }) {
            return .fallback(reason: nil)
        }
        return .place(county, county: county, by: "the postal city, which is no municipality")
    }

    func choice(_ place: IllinoisRatePlace, county: IllinoisRatePlace, by evidence: String) -> Choice {
        guard place.addressSpecific else { return .place(place, county: county, by: evidence) }
        return .fallback(reason: "IDOR lists \(CommonZip5Rates.titleCased(place.name)) (\(CommonZip5Rates.titleCased(place.county)) County) as "
            + "address-specific: its rate depends on the street address; the ZIP5 table's estimate was used")
    }

    /// The address's city when it names a municipality of the ZIP's county, else what the ZIP's postal city chose.
    func choose(_ address: Address, _ record: Zip5Record?) -> Choice {
        guard let record else { return .fallback(reason: nil) }
        // Most addresses give their ZIP's postal city, whose choice is made already (and costs no name folding).
        if !address.city.isEmpty, !SSTAdjustedZip5Resolver.sameASCIIName(address.city, record.postalCity),
           let (county, places) = county(of: record), let place = places[PlaceNameKey.of(address.city)] {
            return choice(place, county: county, by: "the address's city")
        }
        return zipChoices[record.zip.zip5] ?? .fallback(reason: nil)
    }

    public func resolve(_ address: Address, on date: TaxDate) throws(ResolutionError) -> ResolvedLocation {
        let record = zip5.records(for: address.zip.zip5).first { $0.state == address.state }
        let choice = choose(address, record)
        guard case .place(let place, let county, let evidence) = choice, let combined = place.rate(on: date),
              let locals = locals(place, county: county, on: date) else {
            var location = try fallback.resolve(address, on: date)
            if case .fallback(let reason?) = choice { location.warnings.append(reason) }
            return location
        }
        let countyTitle = CommonZip5Rates.titleCased(county.county)
        let what = place.isCounty ? "\(countyTitle) County, unincorporated" : "\(CommonZip5Rates.titleCased(place.name)) (\(countyTitle) County)"
        let period = place.rates.first { $0.period.contains(date) }?.period.description ?? ""
        return ResolvedLocation(state: state, countyFIPS: record?.countyFIPS, locals: locals, precision: .zip5,
                                record: "IDOR \(what) \(combined.percentString)% (\(file):\(place.line), \(period)); matched by \(evidence) of ZIP \(address.zip.zip5String)",
                                sources: [sourceID], place: place.code)
    }
}
