import TaxCore

/// A taxing jurisdiction as the SST files name it: state FIPS, jurisdiction type, jurisdiction FIPS code.
/// Compared as numbers, because states pad codes differently (Tennessee writes type `0`, others `00`).
public struct SSTJurisdictionKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var stateFIPS: Int
    public var type: Int
    public var code: Int

    public init(stateFIPS: Int, type: Int, code: Int) {
        self.stateFIPS = stateFIPS
        self.type = type
        self.code = code
    }

    public static func < (a: Self, b: Self) -> Bool { (a.stateFIPS, a.type, a.code) < (b.stateFIPS, b.type, b.code) }

    public var description: String { "\(stateFIPS)/\(SSTJurisdictionType.name(type))/\(code)" }

    public var level: JurisdictionLevel {
        switch type {
        case SSTJurisdictionType.state: .state
        case SSTJurisdictionType.county: .county
        case SSTJurisdictionType.city: .city
        default: .special
        }
    }
}

/// The jurisdiction types of the SST rate and boundary files that Levy reads.
public enum SSTJurisdictionType {
    public static let state = 45
    public static let county = 0
    public static let city = 1
    public static let specialDistrict = 63
    public static let known = [state, county, city, specialDistrict]

    static func name(_ type: Int) -> String {
        switch type {
        case state: "state"
        case county: "county"
        case city: "city"
        case specialDistrict: "special"
        default: "type\(type)"
        }
    }
}

/// One rate row of an SST rate file: a jurisdiction's general rates for a period.
public struct SSTRate: Sendable {
    public var key: SSTJurisdictionKey
    public var intrastate: Rate
    public var interstate: Rate
    public var period: EffectivePeriod
    public var line: Int
}

/// An SST rate file: no header, nine columns (state FIPS, jurisdiction type, jurisdiction FIPS, general
/// intrastate, general interstate, food/drug intrastate, food/drug interstate, begin YYYYMMDD, end YYYYMMDD),
/// the full effective-dated history. Food/drug rates are read and checked but Levy has no food codes yet.
public struct SSTRateFile: Sendable {
    public var file: String
    public var stateFIPS: Int
    public var rates: [SSTRate]
    /// Rows whose general rate is blank: "no rate" for that period (never 0), reported, not loaded.
    public var blankRateRows: [Int]
    public var warnings: [TableDiagnostic]

    public static func read(_ bytes: [UInt8], file: String) throws(TableLoadError) -> SSTRateFile {
        var log = DiagnosticLog()
        let records: [CSVReader.Record]
        do { records = try CSVReader(bytes: bytes).records() } catch {
            log.error(file, error.line, nil, error.message)
            throw TableLoadError(log.entries)
        }
        if records.isEmpty { log.error(file, 1, nil, "the file has no rate rows") }
        var rates: [SSTRate] = []
        var blank: [Int] = []
        var touching: [Int] = []
        var stateFIPS: Int?
        var periods = PeriodOverlaps<SSTJurisdictionKey>()
        for record in records {
            let f = record.fields.map { $0.trimmingSpaces }
            let line = record.line
            guard f.count == 9 else {
                log.error(file, line, nil, "expected 9 fields (state, type, code, 4 rates, begin, end), found \(f.count)")
                continue
            }
            guard let state = SSTFields.integer(f[0], digits: 1...2) else {
                log.error(file, line, 1, "state FIPS \"\(f[0])\" is not a number of one or two digits"); continue
            }
            guard let type = SSTFields.integer(f[1], digits: 1...2) else {
                log.error(file, line, 2, "jurisdiction type \"\(f[1])\" is not a number"); continue
            }
            guard SSTJurisdictionType.known.contains(type) else {
                log.error(file, line, 2, "jurisdiction type \(f[1]) is not one of 45 (state), 00 (county), 01 (city), 63 (special district)")
                continue
            }
            guard let code = SSTFields.integer(f[2], digits: 1...5) else {
                log.error(file, line, 3, "jurisdiction FIPS code \"\(f[2])\" is not a number of up to five digits"); continue
            }
            if let known = stateFIPS, known != state {
                log.error(file, line, 1, "state FIPS \(state) differs from \(known) on the first row; a rate file covers one state")
                continue
            }
            stateFIPS = state
            var failed = false
            var parsed: [Rate?] = []
            for column in 3...6 {
                if f[column].isEmpty { parsed.append(nil); continue }
                do {
                    let rate = try Rate.parse(fraction: f[column])
                    if let implausible = PlausibleRate.problem(rate) {
                        log.error(file, line, column + 1, "rate \(f[column]) \(implausible)"); failed = true
                    }
                    parsed.append(rate)
                } catch {
                    log.error(file, line, column + 1, "rate \(error)"); failed = true
                }
            }
            guard let period = SSTFields.period(f[7], f[8], file: file, line: line, beginColumn: 8, log: &log) else { continue }
            if failed { continue }
            guard let intrastate = parsed[0] else {
                // A blank rate means "no rate" for that period. Old rows carry them; they are not zero.
                blank.append(line)
                continue
            }
            let key = SSTJurisdictionKey(stateFIPS: state, type: type, code: code)
            periods.add(key, period, line: line)
            rates.append(SSTRate(key: key, intrastate: intrastate, interstate: parsed[1] ?? intrastate, period: period, line: line))
        }
        // One row per period added: `periods.rows[i]` is `rates[i]`.
        let clashes = periods.clashes { earlier, later in
            // A row that ends on the day the next one begins (Wisconsin, 2020-03-31) overlaps by that one day:
            // the later row takes effect on its begin date and the earlier one ends the day before.
            let next = rates[later].period
            guard rates[earlier].period.through == next.from, rates[earlier].period.from < next.from else { return false }
            rates[earlier].period.through = next.from.dayBefore
            touching.append(rates[later].line)
            return true
        }
        for clash in clashes {
            log.error(file, clash.reported.line, 8, "\(clash.reported.key) period \(clash.reported.period) overlaps \(clash.other.period) on line \(clash.other.line)")
        }
        touching.sort()
        if log.hasErrors { throw TableLoadError(log.entries) }
        for line in touching {
            log.warning(file, line, 8, "this row begins on the day the previous row of its jurisdiction ends; the previous row was read as ending the day before")
        }
        if !blank.isEmpty {
            log.warning(file, blank[0], 4, "\(blank.count) row(s) have a blank general rate (no rate for that period) and were not loaded")
        }
        return SSTRateFile(file: file, stateFIPS: stateFIPS ?? 0, rates: rates, blankRateRows: blank, warnings: log.entries)
    }
}

/// Field readers shared by the SST rate and boundary files.
enum SSTFields {
    /// A non-negative integer of the given number of digits (leading zeros allowed, padding varies by state).
    static func integer(_ text: String, digits: ClosedRange<Int>) -> Int? {
        guard digits.contains(text.utf8.count), text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        return Int(text)
    }

    /// `YYYYMMDD` begin and end; `29991231` and `99991231` both mean open-ended.
    static func period(_ begin: String, _ end: String, file: String, line: Int, beginColumn: Int,
                       log: inout DiagnosticLog) -> EffectivePeriod? {
        guard let from = TaxDate(compact: Substring(begin)) else {
            log.error(file, line, beginColumn, "begin date \"\(begin)\" is not a date (YYYYMMDD)")
            return nil
        }
        let through: TaxDate
        if end == "29991231" || end == "99991231" {
            through = .distantFuture
        } else if let date = TaxDate(compact: Substring(end)) {
            through = date
        } else {
            log.error(file, line, beginColumn + 1, "end date \"\(end)\" is not a date (YYYYMMDD)")
            return nil
        }
        guard from <= through else {
            log.error(file, line, beginColumn + 1, "end date \(through) is before begin date \(from)")
            return nil
        }
        return EffectivePeriod(from: from, through: through)
    }
}

extension CSVReader.Failure {
    var line: Int {
        switch self {
        case .unterminatedQuote(let line), .textAfterQuote(let line, _), .invalidUTF8(let line), .controlCharacter(let line, _),
             .fieldTooLong(let line, _): line
        }
    }

    var message: String {
        switch self {
        case .unterminatedQuote: "a quoted field is never closed"
        case .textAfterQuote: "text after a closing quote"
        case .invalidUTF8: "the line is not valid UTF-8"
        case .controlCharacter(_, let column): "field \(column) holds a control character (other than a tab or a line break)"
        case .fieldTooLong(_, let column): "field \(column) is longer than \(CSVReader.maxFieldBytes) bytes"
        }
    }
}
