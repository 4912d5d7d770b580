import TaxCore

/// One record of an SST boundary file: which jurisdictions apply to a street-address range, a ZIP+4 range or a
/// ZIP5 range, for a period.
public struct SSTBoundaryRecord: Sendable {
    public enum Kind: String, Sendable { case address = "A", zip4 = "4", zip5 = "Z" }

    public enum Parity: String, Sendable {
        case odd = "O", even = "E", both = "B"

        func admits(_ number: Int) -> Bool {
            switch self {
            case .both: true
            case .odd: number % 2 == 1
            case .even: number % 2 == 0
            }
        }
    }

    public struct StreetRange: Sendable {
        public var low: Int
        public var high: Int
        public var parity: Parity
        public var preDirectional: String
        public var name: String
        public var suffix: String
        public var postDirectional: String
        public var secondaryLow: Int?
        public var secondaryHigh: Int?
        public var city: String
        public var zip5: Int32?
        public var plus4: Int16?
    }

    public var kind: Kind
    public var period: EffectivePeriod
    public var line: Int
    /// ZIP ranges as 9-digit numbers (ZIP5 records span whole ZIPs: extension 0000-9999).
    public var low: Int
    public var high: Int
    public var street: StreetRange?
    public var compositeSER: String
    public var stateFIPS: Int
    public var countyFIPS: Int?
    public var placeFIPS: Int?
    /// Special taxing districts: (jurisdiction type, code).
    public var specialDistricts: [(type: Int, code: Int)]

    /// The jurisdictions whose rates apply: county, place, special districts (the state is always included).
    public var jurisdictionKeys: [SSTJurisdictionKey] {
        var keys: [SSTJurisdictionKey] = []
        if let countyFIPS { keys.append(SSTJurisdictionKey(stateFIPS: stateFIPS, type: SSTJurisdictionType.county, code: countyFIPS)) }
        if let placeFIPS { keys.append(SSTJurisdictionKey(stateFIPS: stateFIPS, type: SSTJurisdictionType.city, code: placeFIPS)) }
        for district in specialDistricts {
            keys.append(SSTJurisdictionKey(stateFIPS: stateFIPS, type: district.type, code: district.code))
        }
        return keys
    }

    /// The record in words, for quotes and `levy tables show`.
    public func summary(file: String) -> String { "SST boundary \(file):\(line) \(fact)" }

    /// What the record says, without where it sits in its file (diffs compare these).
    public var fact: String {
        let what: String
        switch kind {
        case .zip5: what = low / 10_000 == high / 10_000 ? "zip5 \(Self.zip(low / 10_000))" : "zip5 \(Self.zip(low / 10_000))-\(Self.zip(high / 10_000))"
        case .zip4: what = "zip+4 \(Self.zip(low / 10_000))-\(Self.ext(low % 10_000)) to \(Self.zip(high / 10_000))-\(Self.ext(high % 10_000))"
        case .address:
            let s = street!
            let name = [s.preDirectional, s.name, s.suffix, s.postDirectional].filter { !$0.isEmpty }.joined(separator: " ")
            what = "address \(s.low)-\(s.high) (\(s.parity.rawValue)) \(name)\(s.zip5.map { " " + Self.zip(Int($0)) } ?? "")"
        }
        return "\(what), \(period)"
    }

    static func zip(_ value: Int) -> String { let s = String(value); return String(repeating: "0", count: max(0, 5 - s.count)) + s }
    static func ext(_ value: Int) -> String { let s = String(value); return String(repeating: "0", count: max(0, 4 - s.count)) + s }
}

/// An SST boundary file: no header, 89 columns; record types `Z`/`z` (ZIP5 range), `4` (ZIP+4 range) and `A`/`a`
/// (address range); 20 special-district triplets (source, code, type) from column 30.
public struct SSTBoundaryFile: Sendable {
    public static let columnCount = 89

    public var file: String
    public var records: [SSTBoundaryRecord]
    /// Special-district triplets of type 45 (state) found and skipped: counting them as districts would tax the
    /// state rate twice (Washington's files carry them).
    public var skippedStateTriplets: Int
    public var warnings: [TableDiagnostic]

    public static func read(_ bytes: [UInt8], file: String) throws(TableLoadError) -> SSTBoundaryFile {
        var log = DiagnosticLog()
        var records: [SSTBoundaryRecord] = []
        var skipped = 0
        var iterator = CSVReader(bytes: bytes).makeIterator()
        while true {
            let next: CSVReader.Record?
            do { next = try iterator.nextRecord() } catch {
                log.error(file, error.line, nil, error.message)
                break
            }
            guard let record = next else { break }
            if let parsed = parse(record, file: file, skipped: &skipped, log: &log) { records.append(parsed) }
            // A file that is wrong everywhere should not produce a million diagnostics.
            if log.entries.count >= 1_000 {
                log.error(file, record.line, nil, "too many errors; stopped reading")
                break
            }
        }
        if records.isEmpty && !log.hasErrors { log.error(file, 1, nil, "the file has no boundary records") }
        if log.hasErrors { throw TableLoadError(log.entries) }
        if skipped > 0 {
            log.warning(file, 1, 30, "\(skipped) special-district triplet(s) of type 45 (state) were skipped")
        }
        return SSTBoundaryFile(file: file, records: records, skippedStateTriplets: skipped, warnings: log.entries)
    }

    static func parse(_ record: CSVReader.Record, file: String, skipped: inout Int, log: inout DiagnosticLog) -> SSTBoundaryRecord? {
        let f = record.fields
        let line = record.line
        guard f.count == columnCount else {
            log.error(file, line, nil, "expected \(columnCount) fields, found \(f.count)")
            return nil
        }
        func text(_ column: Int) -> String { f[column - 1].trimmingSpaces }
        let kind: SSTBoundaryRecord.Kind
        switch text(1) {
        case "Z", "z": kind = .zip5
        case "4": kind = .zip4
        case "A", "a": kind = .address
        default:
            log.error(file, line, 1, "record type \"\(text(1))\" is not Z, 4 or A")
            return nil
        }
        guard let period = SSTFields.period(text(2), text(3), file: file, line: line, beginColumn: 2, log: &log) else { return nil }
        guard let stateFIPS = SSTFields.integer(text(23), digits: 1...2) else {
            log.error(file, line, 23, "FIPS state code \"\(text(23))\" is not a number of one or two digits")
            return nil
        }
        func optionalCode(_ column: Int, digits: ClosedRange<Int>, name: String) -> Int?? {
            let value = text(column)
            if value.isEmpty { return .some(nil) }
            guard let number = SSTFields.integer(value, digits: digits) else {
                log.error(file, line, column, "\(name) \"\(value)\" is not a number of \(digits.lowerBound)-\(digits.upperBound) digits")
                return nil
            }
            return .some(number)
        }
        guard let county = optionalCode(25, digits: 1...3, name: "FIPS county code"),
              let place = optionalCode(26, digits: 1...5, name: "FIPS place code") else { return nil }

        var low = 0, high = 0
        var street: SSTBoundaryRecord.StreetRange?
        switch kind {
        case .zip5, .zip4:
            guard let zipLow = SSTFields.integer(text(18), digits: 1...5) else {
                log.error(file, line, 18, "ZIP code low \"\(text(18))\" is not a ZIP"); return nil
            }
            guard let zipHigh = SSTFields.integer(text(20), digits: 1...5) else {
                log.error(file, line, 20, "ZIP code high \"\(text(20))\" is not a ZIP"); return nil
            }
            var extLow = 0, extHigh = 9_999
            if kind == .zip4 {
                // ZIP+4 extensions may come unpadded ("1" is 0001): read them as numbers.
                guard let l = SSTFields.integer(text(19), digits: 1...4) else {
                    log.error(file, line, 19, "ZIP extension low \"\(text(19))\" is not a number of up to four digits"); return nil
                }
                guard let h = SSTFields.integer(text(21), digits: 1...4) else {
                    log.error(file, line, 21, "ZIP extension high \"\(text(21))\" is not a number of up to four digits"); return nil
                }
                extLow = l; extHigh = h
            }
            low = zipLow * 10_000 + extLow
            high = zipHigh * 10_000 + extHigh
            guard low <= high else {
                log.error(file, line, 20, "the ZIP range ends (\(text(20))) before it starts (\(text(18)))"); return nil
            }
        case .address:
            guard let lowNumber = SSTFields.integer(text(4), digits: 1...9), let highNumber = SSTFields.integer(text(5), digits: 1...9) else {
                log.error(file, line, 4, "address range \"\(text(4))\"-\"\(text(5))\" is not two house numbers"); return nil
            }
            guard lowNumber <= highNumber else {
                log.error(file, line, 5, "address range ends (\(highNumber)) before it starts (\(lowNumber))"); return nil
            }
            guard let parity = SSTBoundaryRecord.Parity(rawValue: text(6).uppercased()) else {
                log.error(file, line, 6, "odd/even indicator \"\(text(6))\" is not O, E or B"); return nil
            }
            let name = AddressNormalizer.normalizedStreetName(text(8))
            guard !name.isEmpty else { log.error(file, line, 8, "street name is blank"); return nil }
            guard let zip = optionalCode(16, digits: 1...5, name: "ZIP code"), let plus4 = optionalCode(17, digits: 1...4, name: "plus 4") else { return nil }
            let secondaryLow = SSTFields.integer(text(12), digits: 1...9)
            let secondaryHigh = SSTFields.integer(text(13), digits: 1...9)
            street = .init(low: lowNumber, high: highNumber, parity: parity,
                           preDirectional: AddressNormalizer.directional(text(7)) ?? text(7).uppercased(),
                           name: name, suffix: AddressNormalizer.suffix(text(9)) ?? text(9).uppercased(),
                           postDirectional: AddressNormalizer.directional(text(10)) ?? text(10).uppercased(),
                           secondaryLow: secondaryLow, secondaryHigh: secondaryHigh, city: text(15).uppercased(),
                           zip5: zip.map { Int32($0) }, plus4: plus4.map { Int16($0) })
            if let zip {
                let ext = plus4 ?? 0
                low = zip * 10_000 + (plus4 == nil ? 0 : ext)
                high = zip * 10_000 + (plus4 == nil ? 9_999 : ext)
            }
        }

        var districts: [(type: Int, code: Int)] = []
        for triplet in 0..<20 {
            let column = 30 + triplet * 3
            let code = text(column + 1), type = text(column + 2)
            if code.isEmpty && type.isEmpty { continue }
            guard let codeNumber = SSTFields.integer(code, digits: 1...5) else {
                log.error(file, line, column + 1, "special district code \"\(code)\" is not a number of up to five digits"); return nil
            }
            guard let typeNumber = SSTFields.integer(type, digits: 1...2) else {
                log.error(file, line, column + 2, "special district type \"\(type)\" is not a number"); return nil
            }
            if typeNumber == SSTJurisdictionType.state {
                skipped += 1
                continue
            }
            districts.append((typeNumber, codeNumber))
        }
        return SSTBoundaryRecord(kind: kind, period: period, line: line, low: low, high: high, street: street,
                                 compositeSER: text(22), stateFIPS: stateFIPS, countyFIPS: county, placeFIPS: place,
                                 specialDistricts: districts)
    }
}
