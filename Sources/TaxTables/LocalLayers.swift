import TaxCore

/// Which addresses a correction or a local tax covers: the county, the city (by the ZIP5 table's city name,
/// optionally within counties), the ZIP's postal city (where the ZIP5 table names regions by county, as in Ohio;
/// a postal city is only an approximation of a municipality), a list of ZIP5s, or an official place (a Washington
/// location code, a California CDTFA place), or a town the ZIP5 table names nowhere in its county (by the address's
/// city, `places` held as `PlaceNameKey`s, `counties` required). Matched against the ZIP5 record of the address's
/// ZIP in its state, the place the official layer matched and the address's city.
public struct PlaceScope: Sendable, Hashable {
    /// `state`: every address of the row's state (a tax a state sets for all its places, such as Tennessee's standard
    /// local rate on specified digital products); `places` is the state's code.
    public enum Kind: String, Sendable, CaseIterable { case county, city, zip, place, postalCity = "postal_city", town, state }
    public var kind: Kind
    public var places: Set<String>
    public var counties: Set<String>

    /// `town` is the address's city as a `PlaceNameKey` (nil when it names none).
    func matches(record: Zip5Record?, zip5: Int32, place: String?, town: String?) -> Bool {
        switch kind {
        case .state: return true
        case .zip: return places.contains(ZipCode(zip5: zip5).zip5String)
        case .place: return place.map { places.contains($0.uppercased()) } ?? false
        case .county: return record?.countyFIPS.map(places.contains) ?? false
        case .city:
            guard let record, let city = record.cityName, places.contains(city.uppercased()) else { return false }
            return counties.isEmpty || record.countyFIPS.map(counties.contains) ?? false
        case .postalCity:
            guard let record, let city = record.postalCity, places.contains(city.uppercased()) else { return false }
            return counties.isEmpty || record.countyFIPS.map(counties.contains) ?? false
        case .town:
            // Where an official place file answered, the file knows its towns.
            guard place == nil, let town, places.contains(town), let county = record?.countyFIPS else { return false }
            return counties.contains(county)
        }
    }
}

/// A reviewed, dated correction of the local rates an address resolves to (`TaxTables/local/corrections.csv`):
/// a rate change a state announced after the ZIP5 table was made, or a rate it got wrong, each with its source.
public struct LocalCorrection: Sendable {
    /// `set` replaces the level's jurisdictions, `add` adds one, `use` keeps them and gives their use tax rate
    /// (`useRate`; 0: none is levied, so a sale from another state carries none of the level's taxes).
    public enum Operation: String, Sendable { case set, add, use }
    public var id: String
    public var state: StateCode
    public var scope: PlaceScope
    public var operation: Operation
    public var level: JurisdictionLevel
    public var jurisdiction: Jurisdiction
    public var rate: Rate
    /// The rate on sales taxed as use tax (sold from another state), where the jurisdiction's use tax differs from
    /// its sales tax: an Oklahoma city may levy either alone (68 O.S. 1411). nil: the same as `rate`.
    public var useRate: Rate? = nil
    /// An `op use` row whose source says the level's use tax is levied at its sales rates (reviewed, where a use
    /// tax needs its own vote): each jurisdiction's use rate becomes its sales rate.
    public var useRateIsSalesRate = false
    public var period: EffectivePeriod
    public var provenance: Provenance
    public var confidence: Confidence
    public var line: Int

    /// The jurisdiction's rates, or nil where the row levies nothing (a `set` to 0 takes the level away).
    var localRate: LocalRate? {
        operation == .use || (rate.isZero && (useRate?.isZero ?? true)) ? nil
            : LocalRate(jurisdiction: jurisdiction, intrastate: rate, interstate: useRate)
    }
}

/// A local tax with its own base, with the addresses it covers (`TaxTables/local/local-taxes.csv`).
public struct ScopedOwnBaseTax: Sendable {
    public var state: StateCode
    public var scope: PlaceScope
    public var tax: OwnBaseTax
    /// The row's line in `local/local-taxes.csv`.
    public var line: Int = 0
}

/// The shipped local layers' last word: applies the corrections in force on the date (in file order, so a later
/// row refines an earlier one), attaches the local taxes with their own base, and names the sources used.
public struct CorrectedResolver: LocalRateResolver {
    let inner: any LocalRateResolver
    let zip5: Zip5Index
    /// Per state, the corrections indexed by what their scope names, so a quote looks at the few that can apply
    /// rather than every row of its state (California alone has nearly two hundred).
    let corrections: [StateCode: ScopeIndex<LocalCorrection>]
    let ownBase: [StateCode: ScopeIndex<ScopedOwnBaseTax>]

    public init(inner: any LocalRateResolver, zip5: Zip5Index, corrections: [LocalCorrection], ownBase: [ScopedOwnBaseTax]) {
        self.inner = inner
        self.zip5 = zip5
        self.corrections = Dictionary(grouping: corrections, by: \.state).mapValues { ScopeIndex($0, scope: \.scope) }
        self.ownBase = Dictionary(grouping: ownBase, by: \.state).mapValues { ScopeIndex($0, scope: \.scope) }
    }

    /// A correction naming the code in force on the date (the last in file order), else the inner tables' rate.
    public func jurisdictionRate(code: String, state: StateCode, on date: TaxDate) -> LocalRate? {
        if let rate = corrections[state]?.rows.last(where: { $0.jurisdiction.code == code && $0.period.contains(date) && $0.localRate != nil })?.localRate {
            return rate
        }
        return inner.jurisdictionRate(code: code, state: state, on: date)
    }

    public func resolve(_ address: Address, on date: TaxDate) throws(ResolutionError) -> ResolvedLocation {
        var location = try inner.resolve(address, on: date)
        let stateCorrections = corrections[address.state]
        let stateOwnBase = ownBase[address.state]
        let record = zip5.record(for: address)
        if stateCorrections == nil && stateOwnBase == nil {
            if let record, let warning = postalCityWarning(record, address, location, cityReviewed: false) { location.warnings.append(warning) }
            return location
        }
        var applied: [String] = []
        var cityReviewed = false
        var zipLevelsSet: Set<JurisdictionLevel> = []
        var townRows: [String] = []
        let namesTowns = !(stateCorrections?.byTown.isEmpty ?? true) || !(stateOwnBase?.byTown.isEmpty ?? true)
        let town = !namesTowns || address.city.isEmpty || location.place != nil ? nil : PlaceNameKey.of(address.city)
        for correction in stateCorrections?.candidates(record: record, zip5: address.zip.zip5, place: location.place, town: town) ?? []
            where correction.period.contains(date) && correction.scope.matches(record: record, zip5: address.zip.zip5, place: location.place, town: town) {
            defer {
                applied.append(correction.id)
                // A row citing several sources (`a;b`) is verified through the latest of them: one freshness check.
                location.sources.append(correction.provenance.source)
                if correction.confidence == .low {
                    let warning = "local rate correction \(correction.id) is low confidence: confirm with the state"
                    // A use row says nothing of a sale from within the state.
                    if correction.operation == .use { location.useTaxWarnings.append(warning) } else { location.warnings.append(warning) }
                }
            }
            if correction.operation == .use {
                for i in location.locals.indices where location.locals[i].jurisdiction.level == correction.level {
                    location.locals[i].interstate = correction.useRateIsSalesRate ? location.locals[i].intrastate : correction.useRate
                }
                continue
            }
            if correction.level == .city, [.zip, .postalCity, .town].contains(correction.scope.kind) { cityReviewed = true }
            if correction.scope.kind == .zip, correction.operation == .set { zipLevelsSet.insert(correction.level) }
            if correction.scope.kind == .town { townRows.append(correction.id) }
            if correction.operation == .set { location.locals.removeAll { $0.jurisdiction.level == correction.level } }
            if let rate = correction.localRate { location.locals.append(rate) }
        }
        // Reviewed rows that set every local level of the ZIP itself answer for it whatever city the address names, so
        // the warning that the city chose another place's rates no longer holds.
        if zipLevelsSet.isSuperset(of: [.county, .city, .special]), let choice = zip5.placeChoiceWarning(for: address, on: date) {
            location.warnings.removeAll { $0 == choice }
        }
        if !applied.isEmpty {
            location.locals.sort { $0.jurisdiction.level < $1.jurisdiction.level }
            location.record += "; corrected by " + applied.joined(separator: ", ")
        }
        if let record, !townRows.isEmpty {
            location.warnings.append("zip_straddles_jurisdictions: the address's city \(address.city) is a town the ZIP5 table names for none of "
                + "its ZIPs (ZIP \(address.zip.zip5String) is filed under \(record.region)); the town's own rates were used "
                + "(\(townRows.joined(separator: ", "))); a ZIP+4 or street address would decide")
        }
        if let record, let warning = postalCityWarning(record, address, location, cityReviewed: cityReviewed) { location.warnings.append(warning) }
        for tax in stateOwnBase?.candidates(record: record, zip5: address.zip.zip5, place: location.place, town: town) ?? []
            where tax.tax.period.contains(date) && tax.scope.matches(record: record, zip5: address.zip.zip5, place: location.place, town: town) {
            location.ownBaseTaxes.append(tax.tax)
        }
        return location
    }
}

extension CorrectedResolver {
    /// The ZIP5 table labels some ZIPs with a neighbouring place and charges that place's city tax, while the Postal
    /// Service names the ZIP after another place (an unincorporated community, or a town with its own rate: about
    /// 900 ZIPs outside the states answered by official place files). Where the address is in that postal city (or
    /// gives no city), no reviewed correction set the ZIP's city tax and the city tax is not one the table gives
    /// its whole county (New York City's boroughs), the answer says so.
    func postalCityWarning(_ record: Zip5Record, _ address: Address, _ location: ResolvedLocation, cityReviewed: Bool) -> String? {
        guard let postalKey = record.unnamedPostalCityKey, let postal = record.postalCity, !cityReviewed, location.place == nil,
              location.precision == .zip5,
              let city = location.locals.first(where: { $0.jurisdiction.level == .city && !$0.intrastate.isZero }),
              !(record.countyFIPS.map { zip5.isCountyWide(cityCode: city.jurisdiction.code, county: $0) } ?? false),
              address.city.isEmpty || PlaceNameKey.of(address.city) == postalKey,
              !PlaceNameKey.of(city.jurisdiction.name).contains(postalKey) else { return nil }
        return "zip_straddles_jurisdictions: ZIP \(address.zip.zip5String)'s postal city is \(postal), but the ZIP5 table files the ZIP under "
            + "\(record.cityName ?? record.region) and its city tax (\(city.jurisdiction.name)) was used; if \(postal) is unincorporated or levies "
            + "its own rate, that tax is not due there; a ZIP+4 or street address would decide"
    }
}

/// Rows with a `PlaceScope`, indexed by the county, city, ZIP or place they name; `candidates` gives the rows that
/// may match an address, in file order.
struct ScopeIndex<Row: Sendable>: Sendable {
    let rows: [Row]
    let byZip: [Int32: [Int]]
    let byCounty: [String: [Int]]
    let byCity: [String: [Int]]
    let byPlace: [String: [Int]]
    let byPostalCity: [String: [Int]]
    let byTown: [String: [Int]]
    /// Rows of a `state` scope: candidates for every address.
    let everywhere: [Int]

    init(_ rows: [Row], scope: (Row) -> PlaceScope) {
        self.rows = rows
        var byZip: [Int32: [Int]] = [:], byCounty: [String: [Int]] = [:], byCity: [String: [Int]] = [:], byPlace: [String: [Int]] = [:]
        var byPostalCity: [String: [Int]] = [:], byTown: [String: [Int]] = [:], everywhere: [Int] = []
        for (i, row) in rows.enumerated() {
            let scope = scope(row)
            if scope.kind == .state { everywhere.append(i) }
            for place in scope.places {
                switch scope.kind {
                case .zip: if let zip = ZipCode(place) { byZip[zip.zip5, default: []].append(i) }
                case .county: byCounty[place, default: []].append(i)
                case .city: byCity[place, default: []].append(i)
                case .place: byPlace[place, default: []].append(i)
                case .postalCity: byPostalCity[place, default: []].append(i)
                case .town: byTown[place, default: []].append(i)
                case .state: break
                }
            }
        }
        self.byZip = byZip
        self.byCounty = byCounty
        self.byCity = byCity
        self.byPlace = byPlace
        self.byPostalCity = byPostalCity
        self.byTown = byTown
        self.everywhere = everywhere
    }

    func candidates(record: Zip5Record?, zip5: Int32, place: String?, town: String?) -> [Row] {
        var indices = byZip[zip5] ?? []
        if !everywhere.isEmpty { indices += everywhere }
        if !byCounty.isEmpty, let county = record?.countyFIPS, let found = byCounty[county] { indices += found }
        if !byCity.isEmpty, let city = record?.cityName, let found = byCity[city.uppercased()] { indices += found }
        if !byPlace.isEmpty, let place, let found = byPlace[place.uppercased()] { indices += found }
        if !byPostalCity.isEmpty, let city = record?.postalCity, let found = byPostalCity[city.uppercased()] { indices += found }
        if !byTown.isEmpty, let town, let found = byTown[town] { indices += found }
        if indices.count > 1 { indices.sort() }
        return indices.map { rows[$0] }
    }
}

/// An SST state without a boundary record for the address: the ZIP5 table's local rates, with the county's rate
/// (and a named city's or district's: `official/sst-place-names.csv`) moved by what the state's SST rate file says
/// changed between the ZIP5 table's date and the quote's date (the rate file is authoritative and dated; the ZIP5
/// table is only an estimate of one day). A jurisdiction whose rate is right in the ZIP5 table therefore gets
/// exactly the file's rate on every date.
public struct SSTAdjustedZip5Resolver: LocalRateResolver {
    let zip5: any LocalRateResolver
    let records: Zip5Index
    let state: StateCode
    let countyRates: [Int: [SSTRate]]
    /// Named cities by `PlaceNameKey.of`, named districts by the counties (FIPS) they cover.
    let cities: [String: SSTPlaceName]
    let zipCities: [Int32: SSTPlaceName]
    let districts: [String: [SSTPlaceName]]
    /// Levy's code of each named city and district (`L-<state>-CITY-<NAME>`), for `jurisdictionRate`.
    let byLevyCode: [String: SSTPlaceName]
    let placeRates: [SSTJurisdictionKey: [SSTRate]]
    /// Whether the ZIP5 table's county level is the file's county tax in this state: it agrees with the file on the
    /// table's date for nine ZIPs in ten (Wisconsin: 856 of 877). Then a ZIP whose county rate is another county's
    /// (53151, New Berlin, Waukesha County, at Milwaukee County's 0.9%) takes its own county's from the file.
    /// Elsewhere the table files county taxes under other levels (Minnesota's transit taxes are "special"), and
    /// only the file's changes are applied, except to a ZIP whose only local tax in the table is a county's.
    let countyLevelIsTheFiles: Bool
    let reference: TaxDate
    let sourceID: String

    public init(zip5: any LocalRateResolver, records: Zip5Index, state: StateCode, rates: SSTRateFile, names: [SSTPlaceName] = [],
                reference: TaxDate, sourceID: String) {
        self.zip5 = zip5
        self.records = records
        self.state = state
        var county: [Int: [SSTRate]] = [:]
        var places: [SSTJurisdictionKey: [SSTRate]] = [:]
        let named = Set(names.map { SSTJurisdictionKey(stateFIPS: rates.stateFIPS, type: $0.key.type, code: $0.key.code) })
        for rate in rates.rates {
            if rate.key.type == SSTJurisdictionType.county { county[rate.key.code, default: []].append(rate) }
            if named.contains(rate.key) { places[rate.key, default: []].append(rate) }
        }
        countyRates = county
        placeRates = places
        var cities: [String: SSTPlaceName] = [:]
        var districts: [String: [SSTPlaceName]] = [:]
        var byLevyCode: [String: SSTPlaceName] = [:]
        for var name in names {
            name.key.stateFIPS = rates.stateFIPS
            if name.key.type == SSTJurisdictionType.city {
                cities[PlaceNameKey.of(name.name)] = name
                byLevyCode[JurisdictionCodes.levy(state, .city, name.name)] = name
            } else {
                for fips in name.counties { districts[fips, default: []].append(name) }
                byLevyCode[JurisdictionCodes.levy(state, .special, name.name)] = name
            }
        }
        self.cities = cities
        self.districts = districts
        // One pass over the state's records: each ZIP's named city by its postal city or region (names are compared
        // per quote otherwise), and how often the ZIP5 county level agrees with the file on the table's date.
        var zipCities: [Int32: SSTPlaceName] = [:]
        var agree = 0, all = 0
        for record in records.allRecords where record.state == state {
            if !cities.isEmpty, zipCities[record.zip.zip5] == nil {
                for name in [record.postalCity, record.cityName] {
                    if let name, let found = cities[PlaceNameKey.of(name)] { zipCities[record.zip.zip5] = found; break }
                }
            }
            guard record.precision == .zip5, let fips = record.countyFIPS, fips.count == 5, let code = Int(fips.suffix(3)),
                  let dated = county[code] else { continue }
            let table = record.locals.first { $0.jurisdiction.level == .county }?.intrastate ?? .zero
            all += 1
            if dated.first(where: { $0.period.contains(reference) })?.intrastate ?? .zero == table { agree += 1 }
        }
        self.zipCities = zipCities
        countyLevelIsTheFiles = all > 0 && agree * 10 >= all * 9
        self.byLevyCode = byLevyCode
        self.reference = reference
        self.sourceID = sourceID
    }

    func rate(_ county: Int, on date: TaxDate) -> Rate {
        countyRates[county]?.first { $0.period.contains(date) }?.intrastate ?? .zero
    }

    func rate(_ key: SSTJurisdictionKey, on date: TaxDate) -> Rate {
        placeRates[key]?.first { $0.period.contains(date) }?.intrastate ?? .zero
    }

    /// A county's rate, or a named city's or district's, from the SST rate file on the date; any other code as the
    /// ZIP5 table has it.
    public func jurisdictionRate(code: String, state: StateCode, on date: TaxDate) -> LocalRate? {
        let base = zip5.jurisdictionRate(code: code, state: state, on: date)
        if let named = byLevyCode[code], state == self.state {
            let rate = self.rate(named.key, on: date)
            guard !rate.isZero else { return nil }
            return LocalRate(jurisdiction: base?.jurisdiction ?? Jurisdiction(level: named.key.level, state: state, name: named.name, code: code),
                             intrastate: rate)
        }
        guard code.count == 5, let county = Int(code.suffix(3)), countyRates[county] != nil, let base, base.jurisdiction.level == .county else { return base }
        let rate = self.rate(county, on: date)
        return rate.isZero ? nil : LocalRate(jurisdiction: base.jurisdiction, intrastate: rate)
    }

    public func resolve(_ address: Address, on date: TaxDate) throws(ResolutionError) -> ResolvedLocation {
        var location = try zip5.resolve(address, on: date)
        guard let fips = location.countyFIPS, fips.count == 5, let county = Int(fips.suffix(3)) else { return location }
        // The ZIP's own record (its names), not the one the address's city picks: names are compared per quote.
        let record = records.records(for: address.zip.zip5).first { $0.state == address.state }
        var adjusted: [String] = []
        if countyRates[county] != nil {
            location.sources.append(sourceID)
            let name = record?.countyName ?? "county \(fips)"
            let countyJurisdiction = Jurisdiction(level: .county, state: address.state, name: name, code: fips)
            if !countyLevelIsTheFiles, Self.moveCountyTax(&location.locals, rate: rate(county, on: reference), to: countyJurisdiction) {
                location.record += "; \(name)'s tax (or part of it) taken out of the ZIP5 table's district rate"
            }
            let table = location.locals.first { $0.jurisdiction.level == .county }?.intrastate ?? .zero
            // Where the table's only local tax for the ZIP is a county's, it is the file's county tax in any state;
            // when it is not the crosswalk county's (30510, Alto, Habersham County, at 5% against the file's 3%), the
            // table gave the ZIP a neighbour's. Judged on the rates that answer (the address's city may have chosen
            // another place's: 30601, Athens, whose region is Madison County's Hull, takes Athens-Clarke's county
            // and district taxes, which together are the file's county rate).
            let countyOnly = location.precision == .zip5 && !location.locals.isEmpty && location.locals.allSatisfy { $0.jurisdiction.level == .county }
            let mislabelled = (countyLevelIsTheFiles || countyOnly) && table != rate(county, on: reference)
            let delta = rate(county, on: date).units - (mislabelled ? table : rate(county, on: reference)).units
            if mislabelled && delta != 0 {
                location.warnings.append("zip_straddles_jurisdictions: the ZIP5 table gives ZIP \(address.zip.zip5String) a county rate of \(table) "
                    + "that is not \(name)'s in the SST rate file; the file's was used; a ZIP+4 or street address would decide")
            }
            if Self.shift(&location.locals, level: .county, by: delta, inserting: countyJurisdiction) {
                adjusted.append("county")
            }
        }
        var named: [SSTPlaceName] = districts[fips] ?? []
        if let city = namedCity(address, record) { named.insert(city, at: 0) }
        for place in named {
            let delta = rate(place.key, on: date).units - rate(place.key, on: reference).units
            let level = place.key.level
            if !location.sources.contains(sourceID) { location.sources.append(sourceID) }
            if Self.shift(&location.locals, level: level, by: delta, inserting: Jurisdiction(level: level, state: address.state, name: place.name,
                                                                                        code: JurisdictionCodes.levy(address.state, level, place.name))) {
                adjusted.append(level == .city ? "city (\(place.name))" : "district (\(place.name))")
            }
        }
        if !adjusted.isEmpty {
            location.record += "; \(adjusted.joined(separator: ", ")) rate as of \(date) from the SST rate file"
        }
        return location
    }

    /// The named city the ZIP's city rate belongs to: the address's city, else the ZIP's postal city (Census
    /// crosswalk), else the ZIP5 table's region, the first that the names file knows. The region alone is an
    /// estimate that often names a neighbour (55417, postal Minneapolis, is the table's "RICHFIELD"); a city that
    /// starts or ends its tax must not move the rate of ZIPs that are another city's.
    func namedCity(_ address: Address, _ record: Zip5Record?) -> SSTPlaceName? {
        guard !cities.isEmpty else { return nil }
        // An address city that is the postal city (most are) gives what the ZIP's own names give.
        if !address.city.isEmpty, !Self.sameASCIIName(address.city, record?.postalCity),
           let found = cities[PlaceNameKey.of(address.city)] {
            return found
        }
        return zipCities[address.zip.zip5]
    }

    /// Whether two names are equal ignoring ASCII case, without allocating.
    static func sameASCIIName(_ a: String, _ b: String?) -> Bool {
        guard let b else { return false }
        var left = a.utf8.makeIterator(), right = b.utf8.makeIterator()
        while true {
            switch (left.next(), right.next()) {
            case (nil, nil): return true
            case let (x?, y?):
                if x == y { continue }
                let fold = { (c: UInt8) -> UInt8 in c >= 97 && c <= 122 ? c - 32 : c }
                if fold(x) != fold(y) { return false }
            default: return false
            }
        }
    }

    /// Where the ZIP5 table files a county's tax, or part of it, among the ZIP's districts (Minnesota: 434 ZIPs carry
    /// the county's 0.5% only inside "special districts (combined)", 119 more with transit taxes beside it; Georgia's
    /// Telfair County: 3% county and 1% district where the file's county tax is 4%), what the county level lacks of
    /// the file's rate on the table's date is taken out of the district rate and named as the county's. The total is
    /// unchanged on that date; on other dates the county's line follows the file, so a county tax that started after
    /// 2025-01-01 (Martin and Sibley counties, 2026-01-01) is not carried back before its start, and a return names
    /// the county. Only where a district rate holds all that is missing. Whether it moved any.
    static func moveCountyTax(_ locals: inout [LocalRate], rate: Rate, to county: Jurisdiction) -> Bool {
        let countyIndex = locals.firstIndex { $0.jurisdiction.level == .county }
        let missing = rate.units - (countyIndex.map { locals[$0].intrastate.units } ?? 0)
        guard missing > 0, countyIndex.map({ locals[$0].interstate == nil }) ?? true,
              let i = locals.firstIndex(where: { $0.jurisdiction.level == .special && $0.interstate == nil && $0.intrastate.units >= missing })
        else { return false }
        let rest = locals[i].intrastate.units - missing
        if rest > 0 { locals[i].intrastate = Rate(units: rest) } else { locals.remove(at: i) }
        if let countyIndex {
            locals[countyIndex].intrastate = rate
        } else {
            locals.insert(LocalRate(jurisdiction: county, intrastate: rate), at: 0)
        }
        return true
    }

    /// Moves the first local rate of the level by `delta` units (removed when it reaches zero), or adds one when
    /// there is none and the delta is positive. Whether anything changed.
    static func shift(_ locals: inout [LocalRate], level: JurisdictionLevel, by delta: Int64, inserting jurisdiction: Jurisdiction) -> Bool {
        guard delta != 0 else { return false }
        if let i = locals.firstIndex(where: { $0.jurisdiction.level == level }) {
            let adjusted = locals[i].intrastate.units + delta
            if adjusted > 0 {
                locals[i] = LocalRate(jurisdiction: locals[i].jurisdiction, intrastate: Rate(units: adjusted))
            } else {
                locals.remove(at: i)
            }
            return true
        }
        guard delta > 0 else { return false }
        let position = level == .county ? 0 : locals.firstIndex { $0.jurisdiction.level == .special } ?? locals.count
        locals.insert(LocalRate(jurisdiction: jurisdiction, intrastate: Rate(units: delta)), at: position)
        return true
    }
}
