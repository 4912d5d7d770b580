import TaxCore

/// Resolves an address in one SST state from its boundary and rate files: an address-range record first, then a
/// ZIP+4 range, then a ZIP5 range; with no record at all, the fallback (the ZIP5 table) answers and says so.
public struct SSTBoundaryResolver: LocalRateResolver {
    struct StreetKey: Hashable {
        var zip5: Int32
        var name: String
    }

    let state: StateCode
    let boundaryFile: String
    let records: [SSTBoundaryRecord]
    let streets: [StreetKey: [Int]]
    /// The ZIPs that have address-range records.
    let streetZips: Set<Int32>
    /// ZIP+4 and ZIP5 range records by the ZIP5s they cover (indices into `records`); ZIP+4 lists are sorted by
    /// the start of their range, with the widest range of each ZIP, so a lookup is a binary search.
    let zip4Records: [Int32: [Int]]
    let zip4WidestRange: [Int32: Int]
    let zip5Records: [Int32: [Int]]
    /// Each record's set of jurisdictions as a small integer, to tell cheaply whether a ZIP spans several.
    let jurisdictionSet: [Int]
    let rates: [SSTJurisdictionKey: [SSTRate]]
    let jurisdictions: [SSTJurisdictionKey: Jurisdiction]
    let fallback: (any LocalRateResolver)?
    let sourceID: String

    /// `countyNames`: county FIPS (5 digits) to name, for display; places and districts get descriptive names.
    public init(state: StateCode, boundaries: SSTBoundaryFile?, rates: SSTRateFile, countyNames: [String: String],
                fallback: (any LocalRateResolver)?, sourceID: String = "sst-rates") {
        self.sourceID = sourceID
        self.state = state
        boundaryFile = boundaries?.file ?? ""
        let records = boundaries?.records ?? []
        var streets: [StreetKey: [Int]] = [:]
        var zip4Records: [Int32: [Int]] = [:]
        var zip5Records: [Int32: [Int]] = [:]
        var setIDs: [[SSTJurisdictionKey]: Int] = [:]
        var jurisdictionSet: [Int] = []
        jurisdictionSet.reserveCapacity(records.count)
        for (i, record) in records.enumerated() {
            let keys = record.jurisdictionKeys
            if let id = setIDs[keys] { jurisdictionSet.append(id) } else {
                setIDs[keys] = setIDs.count
                jurisdictionSet.append(setIDs.count - 1)
            }
            switch record.kind {
            case .address:
                if let street = record.street, let zip5 = street.zip5 {
                    streets[StreetKey(zip5: zip5, name: street.name), default: []].append(i)
                }
            case .zip4:
                // Ranges are short in practice; a range over several ZIPs is listed under each of them.
                for zip in (record.low / 10_000)...(record.high / 10_000) { zip4Records[Int32(zip), default: []].append(i) }
            case .zip5:
                for zip in (record.low / 10_000)...(record.high / 10_000) { zip5Records[Int32(zip), default: []].append(i) }
            }
        }
        var widest: [Int32: Int] = [:]
        for (zip, list) in zip4Records {
            zip4Records[zip] = list.sorted { records[$0].low < records[$1].low }
            widest[zip] = list.map { records[$0].high - records[$0].low }.max() ?? 0
        }
        self.records = records
        self.streets = streets
        streetZips = Set(streets.keys.map(\.zip5))
        self.zip4Records = zip4Records
        self.zip4WidestRange = widest
        self.zip5Records = zip5Records
        self.jurisdictionSet = jurisdictionSet
        self.rates = Dictionary(grouping: rates.rates, by: \.key)
        var jurisdictions: [SSTJurisdictionKey: Jurisdiction] = [:]
        for key in self.rates.keys {
            let stateFIPS = key.stateFIPS < 10 ? "0\(key.stateFIPS)" : "\(key.stateFIPS)"
            let (name, code): (String, String)
            switch key.type {
            case SSTJurisdictionType.state:
                (name, code) = (state.code, stateFIPS)
            case SSTJurisdictionType.county:
                let fips = stateFIPS + Self.pad(key.code, 3)
                (name, code) = (countyNames[fips] ?? "\(state) county \(Self.pad(key.code, 3))", fips)
            case SSTJurisdictionType.city:
                (name, code) = ("\(state) place \(Self.pad(key.code, 5))", stateFIPS + Self.pad(key.code, 5))
            default:
                (name, code) = ("\(state) special district \(key.code)", "\(stateFIPS)-\(Self.pad(key.type, 2))-\(key.code)")
            }
            jurisdictions[key] = Jurisdiction(level: key.level, state: state, name: name, code: code)
        }
        self.jurisdictions = jurisdictions
        self.fallback = fallback
    }

    static func pad(_ value: Int, _ width: Int) -> String {
        let s = String(value)
        return String(repeating: "0", count: max(0, width - s.count)) + s
    }

    /// The index of the matching boundary record and how precise the match was. Records are read in place, never
    /// copied, while searching.
    func matchIndex(_ address: Address, on date: TaxDate) -> (index: Int, precision: ResolutionPrecision)? {
        let zip5 = address.zip.zip5
        // Normalizing a street line costs more than the rest of a lookup: only when the ZIP has address records.
        if !address.line1.isEmpty, streetZips.contains(zip5) {
            let normalized = AddressNormalizer.normalize(address.line1)
            if let index = matchStreet(normalized, zip5: zip5, on: date) { return (index, .address) }
        }
        if let plus4 = address.zip.plus4 {
            let key = Int(zip5) * 10_000 + Int(plus4)
            // The narrowest ZIP+4 range that holds the address is the most specific record.
            let list = zip4Records[zip5] ?? []
            // First range starting after the key; only ranges starting within the widest span before it can hold it.
            var lowerBound = 0, upperBound = list.count
            while lowerBound < upperBound {
                let mid = (lowerBound + upperBound) / 2
                if records[list[mid]].low <= key { lowerBound = mid + 1 } else { upperBound = mid }
            }
            let reach = key - (zip4WidestRange[zip5] ?? 0)
            var best: Int?
            var j = lowerBound - 1
            while j >= 0, records[list[j]].low >= reach {
                let i = list[j]
                if key <= records[i].high, records[i].period.contains(date),
                   best == nil || records[i].high - records[i].low < records[best!].high - records[best!].low { best = i }
                j -= 1
            }
            if let best { return (best, .zip4) }
        }
        let key = Int(zip5) * 10_000
        for i in zip5Records[zip5] ?? [] where records[i].low <= key && key + 9_999 <= records[i].high && records[i].period.contains(date) {
            return (i, .zip5)
        }
        return nil
    }

    private func matchStreet(_ normalized: NormalizedAddress, zip5: Int32, on date: TaxDate) -> Int? {
        guard let number = normalized.number, !normalized.name.isEmpty else { return nil }
        // Few records share a ZIP and street name, so copying each candidate costs little here.
        for i in streets[StreetKey(zip5: zip5, name: normalized.name)] ?? [] {
            let record = records[i]
            guard let street = record.street, record.period.contains(date), street.low <= number, number <= street.high,
                  street.parity.admits(number) else { continue }
            if !street.suffix.isEmpty, !normalized.suffix.isEmpty, street.suffix != normalized.suffix { continue }
            if !street.preDirectional.isEmpty, street.preDirectional != normalized.preDirectional { continue }
            if !street.postDirectional.isEmpty, street.postDirectional != normalized.postDirectional { continue }
            if let low = street.secondaryLow, let high = street.secondaryHigh, let unit = normalized.unitNumber,
               !(low...high).contains(unit) { continue }
            return i
        }
        return nil
    }

    public func resolve(_ address: Address, on date: TaxDate) throws(ResolutionError) -> ResolvedLocation {
        guard let (index, precision) = matchIndex(address, on: date) else {
            guard let fallback else { throw .unknownZip(address.zip.zip5String) }
            var location = try fallback.resolve(address, on: date)
            location.warnings.append("no SST boundary record for \(address.zip) on \(date): the ZIP5 table's local rates were used, "
                                     + "with the county's rate as the SST rate file gives it on the date")
            return location
        }
        let record = records[index]
        var warnings: [String] = []
        var locals: [LocalRate] = []
        for key in record.jurisdictionKeys {
            guard let rate = rates[key]?.first(where: { $0.period.contains(date) }), let jurisdiction = jurisdictions[key] else {
                warnings.append("the rate file has no rate for \(key) on \(date); it is left out")
                continue
            }
            locals.append(LocalRate(jurisdiction: jurisdiction, intrastate: rate.intrastate, interstate: rate.interstate))
        }
        if precision == .zip5 {
            // Whether the ZIP's ZIP+4 records name more than one set of jurisdictions: the second distinct set decides.
            var firstSet: Int?
            var spans = false
            for i in zip4Records[address.zip.zip5] ?? [] where records[i].period.contains(date) {
                if let firstSet, firstSet != jurisdictionSet[i] { spans = true; break }
                firstSet = jurisdictionSet[i]
            }
            if spans {
                warnings.append("ZIP \(address.zip.zip5String) spans more than one set of local jurisdictions; give the ZIP+4 or a street address for an exact match")
            }
        }
        let county = record.countyFIPS.map { Self.pad(record.stateFIPS, 2) + Self.pad($0, 3) }
        return ResolvedLocation(state: state, countyFIPS: county, locals: locals, precision: precision,
                                record: record.summary(file: boundaryFile) + (record.compositeSER.isEmpty ? "" : ", SER \(record.compositeSER)"),
                                warnings: warnings, sources: [sourceID])
    }

    /// The rate file's rate for the jurisdiction with this code on the date, else the fallback's.
    public func jurisdictionRate(code: String, state: StateCode, on date: TaxDate) -> LocalRate? {
        if state == self.state, let (key, jurisdiction) = jurisdictions.first(where: { $0.value.code == code }),
           let rate = rates[key]?.first(where: { $0.period.contains(date) }) {
            return LocalRate(jurisdiction: jurisdiction, intrastate: rate.intrastate, interstate: rate.interstate)
        }
        return fallback?.jurisdictionRate(code: code, state: state, on: date)
    }

    /// The state's own rates from the rate file (type 45), for the state profile.
    public var stateRates: [DatedRate] {
        rates.filter { $0.key.type == SSTJurisdictionType.state }.values.flatMap { $0 }
            .sorted { $0.period.from < $1.period.from }
            .map { DatedRate(period: $0.period, intrastate: $0.intrastate, interstate: $0.interstate,
                             provenance: Provenance(source: sourceID, note: "SST rate file line \($0.line)")) }
    }
}

/// Resolves each state with its own resolver where official data was imported, and every other state with the
/// fallback (the shipped ZIP5 table).
public struct LayeredResolver: LocalRateResolver {
    let byState: [StateCode: any LocalRateResolver]
    let fallback: any LocalRateResolver

    public init(byState: [StateCode: any LocalRateResolver], fallback: any LocalRateResolver) {
        self.byState = byState
        self.fallback = fallback
    }

    public func resolve(_ address: Address, on date: TaxDate) throws(ResolutionError) -> ResolvedLocation {
        try (byState[address.state] ?? fallback).resolve(address, on: date)
    }

    public func jurisdictionRate(code: String, state: StateCode, on date: TaxDate) -> LocalRate? {
        (byState[state] ?? fallback).jurisdictionRate(code: code, state: state, on: date)
    }
}
