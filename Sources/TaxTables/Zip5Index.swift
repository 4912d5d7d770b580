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
    }
}

/// Resolves an address by its ZIP5 in constant time: a 100,000-slot array points at each ZIP's records.
public struct Zip5Index: LocalRateResolver {
    private let records: [Zip5Record]
    private let first: [Int32]
    /// Per jurisdiction code, each period's rates with how many ZIP records give them (for `jurisdictionRate`).
    private let byCode: [String: [(period: EffectivePeriod, rate: LocalRate, records: Int)]]

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
            let coverage = all.filter { $0.state == address.state }.map(\.period.description).joined(separator: ", ")
            throw .noRatesOnDate(zip: address.zip.zip5String, date: date, coverage: coverage)
        }
        let record = all[match]
        var warnings = record.warning.map { [$0] } ?? []
        if all.count > 1 { warnings += straddleWarning(all, address) }
        if let tableDate = record.tableDate, date < tableDate {
            warnings.append("local rates before \(tableDate) are the \(record.source) rates carried back, corrected by the rate changes the tables record")
        }
        return ResolvedLocation(state: record.state, countyFIPS: record.countyFIPS, locals: record.locals,
                                precision: record.precision, record: record.summary, warnings: warnings, sources: [record.source])
    }
}
