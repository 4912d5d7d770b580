import TaxCore

/// The local rates of one ZIP5 for one period. Immutable and shared by the index and every quote that uses it.
public final class Zip5Record: Sendable {
    public let zip: ZipCode
    public let state: StateCode
    public let countyFIPS: String?
    /// The county's name, kept even where the county levies nothing (other data names counties by FIPS only).
    public let countyName: String?
    public let region: String
    /// The city the ZIP5 table names for the ZIP (even where the city levies nothing), for corrections by city.
    public let cityName: String?
    /// The ZIP's city as the Postal Service names it (the Census ZIP/county crosswalk), where known.
    public let postalCity: String?
    public let locals: [LocalRate]
    public let period: EffectivePeriod
    public let precision: ResolutionPrecision
    public let source: String
    /// Shown with every quote that uses the record (set for county fallbacks).
    public let warning: String?
    /// The record in words, as quotes report it (built once at load, not per quote).
    public let summary: String

    /// Dates before this are answered by the record carried back from its table's date (`carriedBackFrom`).
    public let tableDate: TaxDate?
    /// The key (`PlaceNameKey.of`) of the postal city where it names neither the region nor the city the table
    /// files the ZIP under; nil otherwise (nearly every record). Computed once, so a quote checks a nil.
    public let unnamedPostalCityKey: String?

    public init(zip: ZipCode, state: StateCode, countyFIPS: String?, countyName: String? = nil, region: String, cityName: String? = nil,
                postalCity: String? = nil, locals: [LocalRate], period: EffectivePeriod, precision: ResolutionPrecision, source: String,
                warning: String? = nil, tableDate: TaxDate? = nil) {
        self.zip = zip
        self.state = state
        self.countyFIPS = countyFIPS
        self.countyName = countyName
        self.region = region
        self.cityName = cityName
        self.postalCity = postalCity
        self.tableDate = tableDate
        self.locals = locals
        self.period = period
        self.precision = precision
        self.source = source
        self.warning = warning
        let kind = precision == .countyFallback ? "county fallback for zip5" : "zip5"
        summary = "\(kind) \(zip.zip5String) \(region) (\(source), \(period))"
        let postalKey = postalCity.map(PlaceNameKey.of) ?? ""
        unnamedPostalCityKey = postalKey.isEmpty || PlaceNameKey.of(region) == postalKey || cityName.map(PlaceNameKey.of) == postalKey
            ? nil : postalKey
    }
}

/// Resolves an address by its ZIP5 in constant time: a 100,000-slot array points at each ZIP's records.
public struct Zip5Index: LocalRateResolver {
    private let records: [Zip5Record]
    private let first: [Int32]
    /// Per jurisdiction code, each period's rates with how many ZIP records give them (for `jurisdictionRate`).
    private let byCode: [String: [(period: EffectivePeriod, rate: LocalRate, records: Int)]]

    /// A tax region within a county: its state, the county's FIPS code and the region's `PlaceNameKey.of`.
    private struct CountyPlace: Hashable {
        var state: StateCode
        var county: String
        var name: String
    }

    /// The rates of each tax region within a county (MN, 27123, ROSEVILLE: `cityRates`), for an address whose city
    /// names another place than its ZIP's region (`record(for:)`).
    private let cityRecords: [CountyPlace: Zip5Record]

    /// City-level jurisdictions that the ZIP5 table gives nine in ten ZIPs of their county or more ("county|code"):
    /// a tax filed as a city's that covers its county (New York City's in each borough), whose postal places are
    /// inside it.
    private let countyWideCities: Set<String>

    /// Whether the ZIP5 table gives the city-level jurisdiction `code` to nine in ten ZIPs of `county` or more.
    public func isCountyWide(cityCode code: String, county: String) -> Bool { countyWideCities.contains(county + "|" + code) }

    /// `records` in any order; several records of one ZIP must have disjoint periods (the loader checks).
    public init(records: [Zip5Record]) {
        let sorted = records.sorted { ($0.zip.zip5, $0.period.from) < ($1.zip.zip5, $1.period.from) }
        var first = [Int32](repeating: -1, count: 100_000)
        for (i, record) in sorted.enumerated().reversed() { first[Int(record.zip.zip5)] = Int32(i) }
        self.records = sorted
        self.first = first
        var byCode: [String: [(period: EffectivePeriod, rate: LocalRate, records: Int)]] = [:]
        for record in sorted {
            for local in record.locals {
                // Mutated in place (a copy per record would copy each code's list once per ZIP naming it).
                if let i = byCode[local.jurisdiction.code]?.firstIndex(where: { $0.period == record.period && $0.rate == local }) {
                    byCode[local.jurisdiction.code, default: []][i].records += 1
                } else {
                    byCode[local.jurisdiction.code, default: []].append((record.period, local, 1))
                }
            }
        }
        self.byCode = byCode
        var countyZips: [String: Set<Int32>] = [:], cityZips: [String: Set<Int32>] = [:]
        for record in sorted {
            guard let county = record.countyFIPS else { continue }
            countyZips[county, default: []].insert(record.zip.zip5)
            for local in record.locals where local.jurisdiction.level == .city {
                cityZips[county + "|" + local.jurisdiction.code, default: []].insert(record.zip.zip5)
            }
        }
        countyWideCities = Set(cityZips.filter { key, zips in
            let county = String(key.prefix { $0 != "|" })
            return zips.count >= 2 && zips.count * 10 >= (countyZips[county]?.count ?? .max) * 9
        }.keys)
        var places: [CountyPlace: [Zip5Record]] = [:]
        var keys: [String: String] = [:]
        for record in sorted where record.precision == .zip5 && record.warning == nil {
            guard let county = record.countyFIPS else { continue }
            let key = keys[record.region] ?? PlaceNameKey.of(record.region)
            keys[record.region] = key
            places[CountyPlace(state: record.state, county: county, name: key), default: []].append(record)
        }
        // A region is a place of the counties that hold at least a fifth of its ZIPs: the table also gives a city's
        // region to ZIPs the crosswalk puts over the county line (55118 in Dakota County is "SAINT PAUL", whose other
        // 24 ZIPs are in Ramsey and Hennepin; four St. Louis County ZIPs are "ST. LOUIS", the independent city's), and
        // an address there that gives the city's postal name is not in the city.
        let zips = places.mapValues { Set($0.map(\.zip.zip5)).count }
        // Per region statewide (the county left empty).
        var zipsPerRegion: [CountyPlace: Int] = [:]
        for (place, count) in zips { zipsPerRegion[CountyPlace(state: place.state, county: "", name: place.name), default: 0] += count }
        var cityRecords: [CountyPlace: Zip5Record] = [:]
        for (place, records) in places
            where (zips[place] ?? 0) * 5 >= zipsPerRegion[CountyPlace(state: place.state, county: "", name: place.name), default: 0] {
            cityRecords[place] = Self.cityRates(records, named: place.name)
        }
        self.cityRecords = cityRecords
    }

    /// The rates an address naming a region of the table is answered with: the most common among the region's ZIPs
    /// that carry a city rate and go by the region's name at the Postal Service, where there are such ZIPs. A region
    /// can be a city together with its county's area outside cities under one name (TALLADEGA is Talladega's 35161
    /// and unincorporated Sycamore's 35149), and an address naming it names the city: the county area's ZIPs go by
    /// their own postal names. A city rate on a ZIP that goes by another name (JEFFERSON, Arkansas: White Hall's
    /// 71612) is that town's, not the region's.
    static func cityRates(_ records: [Zip5Record], named key: String) -> Zip5Record? {
        let city = records.filter { $0.hasCityRate && $0.postalCity.map(PlaceNameKey.of) == key }
        return mostCommonRates(city.isEmpty ? records : city)
    }

    /// The record whose local rates the most of `records` share (the first seen of them; ties to the lower ZIP).
    static func mostCommonRates(_ records: some Sequence<Zip5Record>) -> Zip5Record? {
        var counts: [[String]: (count: Int, record: Zip5Record)] = [:]
        for record in records {
            let key = ratesKey(record)
            counts[key] = ((counts[key]?.count ?? 0) + 1, counts[key]?.record ?? record)
        }
        return counts.values.max { $0.count != $1.count ? $0.count < $1.count : $0.record.zip.zip5 > $1.record.zip.zip5 }?.record
    }

    /// Whether `name` starts with `prefix` (or, `wholly`, is it), ignoring ASCII case and runs of spaces; without
    /// allocating, as it runs for every address with a city.
    static func names(_ name: String, startWith prefix: String, wholly: Bool = false) -> Bool {
        if !prefix.isEmpty && name == prefix { return true }
        var a = FoldedBytes(name.utf8.makeIterator()), b = FoldedBytes(prefix.utf8.makeIterator())
        var compared = false
        while let y = b.next() {
            guard a.next() == y else { return false }
            compared = true
        }
        return compared && (!wholly || a.next() == nil)
    }

    /// A name's bytes upper-cased (ASCII), without leading and trailing spaces, a run of spaces as one.
    struct FoldedBytes: IteratorProtocol {
        var base: String.UTF8View.Iterator
        var started = false, pendingSpace = false
        var held: UInt8?

        init(_ base: String.UTF8View.Iterator) { self.base = base }

        mutating func next() -> UInt8? {
            if let byte = held {
                held = nil
                return byte
            }
            while let byte = base.next() {
                if byte == 32 {
                    pendingSpace = started
                    continue
                }
                let upper = byte >= 97 && byte <= 122 ? byte - 32 : byte
                started = true
                if pendingSpace {
                    pendingSpace = false
                    held = upper
                    return 32
                }
                return upper
            }
            return nil
        }
    }

    static func normalizedPlace(_ name: String) -> String { name.uppercased().split(separator: " ").joined(separator: " ") }

    static func ratesKey(_ record: Zip5Record) -> [String] { record.locals.map { "\($0.jurisdiction.level.rawValue)=\($0.intrastate.units)" } }

    /// The record that answers for the address: its ZIP's record in its state on the date, unless the address's city
    /// is another place that the ZIP5 table names for other ZIPs of the same county (the ZIP lies in several
    /// places, and the address says which). Then that place's most common rates answer, with a warning. Names
    /// compare however they are spelled ("St. Louis" and "Saint Louis" choose alike).
    func answering(_ record: Zip5Record, _ address: Address) -> Zip5Record {
        guard let choice = placeChoice(record, address) else { return record }
        return choice.record.with(period: choice.record.period, locals: choice.record.locals,
                                  warning: [record.warning, choice.warning].compactMap { $0 }.joined(separator: "; "), tableDate: choice.record.tableDate)
    }

    /// Where the address's city chooses another place's rates for its ZIP (`answering`): the ZIP's record with that
    /// place's rates and names (its own warning kept), and the warning that says so; nil where the ZIP's own record answers.
    func placeChoice(_ record: Zip5Record, _ address: Address) -> (record: Zip5Record, warning: String)? {
        guard !address.city.isEmpty, let county = record.countyFIPS, !Self.names(record.region, startWith: address.city),
              !(record.cityName.map { Self.names($0, startWith: address.city, wholly: true) } ?? false) else { return nil }
        let city = PlaceNameKey.of(address.city)
        // The ZIP's own region or city spelled another way ("Saint Ann" for "ST. ANN") keeps the ZIP's record.
        guard !city.isEmpty, PlaceNameKey.of(record.region) != city, record.cityName.map(PlaceNameKey.of) != city,
              let place = cityRecords[CountyPlace(state: record.state, county: county, name: city)], Self.ratesKey(place) != Self.ratesKey(record) else {
            return nil
        }
        let warning = "zip_straddles_jurisdictions: the address's city \(address.city) is not ZIP \(record.zip.zip5String)'s tax region \(record.region) "
            + "in the ZIP5 table; the rates of \(place.cityName ?? place.region)'s other ZIPs in \(record.countyName ?? "county " + county) were used; "
            + "a ZIP+4 or street address would decide"
        let chosen = Zip5Record(zip: record.zip, state: record.state, countyFIPS: record.countyFIPS, countyName: record.countyName, region: place.region,
                                cityName: place.cityName, postalCity: record.postalCity, locals: place.locals, period: record.period,
                                precision: record.precision, source: record.source, warning: record.warning, tableDate: record.tableDate)
        return (chosen, warning)
    }

    /// The warning `resolve` gives on the date because the address's city chose another place's rates for its ZIP, if it does.
    func placeChoiceWarning(for address: Address, on date: TaxDate) -> String? {
        records(for: address.zip.zip5).first { $0.state == address.state && $0.period.contains(date) }.flatMap { placeChoice($0, address)?.warning }
    }

    /// Whether an address naming the place (a `PlaceNameKey`) in the county is answered with a region of the table
    /// (`answering`): such a place is scoped as a city, not as a town the table does not name.
    func answersPlace(_ key: String, state: StateCode, county: String) -> Bool {
        cityRecords[CountyPlace(state: state, county: county, name: key)] != nil
    }

    /// The ZIP's record in the address's state (its first period), as `answering` chooses it for the address.
    public func record(for address: Address) -> Zip5Record? {
        records(for: address.zip.zip5).first { $0.state == address.state }.map { answering($0, address) }
    }

    /// The rate most ZIP records give the code on the date (a jurisdiction's rate is one rate; records that
    /// disagree are estimates).
    public func jurisdictionRate(code: String, state: StateCode, on date: TaxDate) -> LocalRate? {
        byCode[code]?.filter { $0.rate.jurisdiction.state == state && $0.period.contains(date) }.max { $0.records < $1.records }?.rate
    }

    public var count: Int { records.count }

    private func straddleWarning(_ all: ArraySlice<Zip5Record>, _ address: Address) -> [String] {
        let others = Set(all.map(\.state)).subtracting([address.state]).sorted()
        guard !others.isEmpty else { return [] }
        return ["ZIP \(address.zip.zip5String) spans \(([address.state] + others).map(\.code).joined(separator: " and ")): check the address's state"]
    }

    /// Every record, ordered by ZIP and period.
    public var allRecords: [Zip5Record] { records }

    public func records(for zip5: Int32) -> ArraySlice<Zip5Record> {
        guard zip5 >= 0, zip5 < 100_000, first[Int(zip5)] >= 0 else { return [] }
        let start = Int(first[Int(zip5)])
        var end = start
        while end < records.count, records[end].zip.zip5 == zip5 { end += 1 }
        return records[start..<end]
    }

    public func resolve(_ address: Address, on date: TaxDate) throws(ResolutionError) -> ResolvedLocation {
        let all = records(for: address.zip.zip5)
        guard let any = all.first else { throw .unknownZip(address.zip.zip5String) }
        // A ZIP that straddles a state line has records in each state; the address's state picks among them.
        var inState = false
        var match: Int?
        for i in all.indices where all[i].state == address.state {
            inState = true
            if all[i].period.contains(date) { match = i; break }
        }
        guard inState else { throw .stateMismatch(zip: address.zip.zip5String, given: address.state, actual: any.state) }
        guard let match else {
            let coverage = EffectivePeriod.describe(all.filter { $0.state == address.state }.map(\.period))
            throw .noRatesOnDate(zip: address.zip.zip5String, date: date, coverage: coverage)
        }
        let choice = placeChoice(all[match], address)
        let record = choice?.record ?? all[match]
        // The place choice's warning is an entry of its own, so a reviewed correction of the whole ZIP can withdraw it.
        var warnings = [record.warning, choice?.warning].compactMap { $0 }
        if all.count > 1 { warnings += straddleWarning(all, address) }
        if let tableDate = record.tableDate, date < tableDate {
            warnings.append("local rates before \(tableDate) are the \(record.source) rates carried back, corrected by the rate changes the tables record")
        }
        return ResolvedLocation(state: record.state, countyFIPS: record.countyFIPS, locals: record.locals,
                                precision: record.precision, record: record.summary, warnings: warnings, sources: [record.source])
    }
}
