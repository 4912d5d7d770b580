/// A calendar date (no time, no zone): the tax date of a sale, or a bound of an effective period.
public struct TaxDate: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// yyyymmdd, so that integer order is date order.
    public let yyyymmdd: Int32

    public init?(year: Int, month: Int, day: Int) {
        guard (1...9999).contains(year), (1...12).contains(month), day >= 1,
              day <= TaxDate.daysIn(month: month, year: year) else { return nil }
        yyyymmdd = Int32(year * 10_000 + month * 100 + day)
    }

    public var year: Int { Int(yyyymmdd / 10_000) }
    public var month: Int { Int(yyyymmdd / 100 % 100) }
    public var day: Int { Int(yyyymmdd % 100) }

    public static let distantPast = TaxDate(year: 1, month: 1, day: 1)!
    public static let distantFuture = TaxDate(year: 9999, month: 12, day: 31)!

    public static func < (lhs: TaxDate, rhs: TaxDate) -> Bool { lhs.yyyymmdd < rhs.yyyymmdd }

    /// Parses ISO 8601 `YYYY-MM-DD`, checking that the day exists.
    public init?(iso text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for i in range {
                let b = bytes[i]
                guard b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int(b - UInt8(ascii: "0"))
            }
            return value
        }
        guard let y = number(0..<4), let m = number(5..<7), let d = number(8..<10) else { return nil }
        self.init(year: y, month: m, day: d)
    }

    /// Parses the compact `YYYYMMDD` form used by the SST files.
    public init?(compact text: Substring) {
        guard text.utf8.count == 8, let value = Int(text) else { return nil }
        self.init(year: value / 10_000, month: value / 100 % 100, day: value % 100)
    }

    /// The previous calendar day.
    public var dayBefore: TaxDate {
        if day > 1 { return TaxDate(year: year, month: month, day: day - 1)! }
        if month > 1 { return TaxDate(year: year, month: month - 1, day: TaxDate.daysIn(month: month - 1, year: year))! }
        return TaxDate(year: year - 1, month: 12, day: 31)!
    }

    /// The last day of the calendar quarter the date is in.
    public var lastDayOfQuarter: TaxDate {
        let month = (self.month + 2) / 3 * 3
        return TaxDate(year: year, month: month, day: TaxDate.daysIn(month: month, year: year))!
    }

    public var iso: String {
        let y = String(year), m = String(month), d = String(day)
        return String(repeating: "0", count: 4 - y.count) + y + "-" + (m.count == 1 ? "0" : "") + m + "-" + (d.count == 1 ? "0" : "") + d
    }

    public var description: String { iso }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}

/// A closed range of dates during which a fact is in force.
public struct EffectivePeriod: Hashable, Sendable, CustomStringConvertible {
    public var from: TaxDate
    public var through: TaxDate

    public init(from: TaxDate, through: TaxDate = .distantFuture) {
        self.from = from
        self.through = through
    }

    public static let always = EffectivePeriod(from: .distantPast, through: .distantFuture)

    public func contains(_ date: TaxDate) -> Bool { from <= date && date <= through }

    public func overlaps(_ other: EffectivePeriod) -> Bool { from <= other.through && other.from <= through }

    public var description: String { through == .distantFuture ? "\(from) onward" : "\(from) to \(through)" }

    /// Periods merged where they overlap or adjoin, in date order.
    public static func merged(_ periods: [EffectivePeriod]) -> [EffectivePeriod] {
        var result: [EffectivePeriod] = []
        for period in periods.sorted(by: { $0.from < $1.from }) {
            // Sorted by start, so a period starting on the first day there is starts no later than the last one ends.
            if let last = result.last, period.from <= last.through || period.from.dayBefore == last.through {
                result[result.count - 1].through = max(last.through, period.through)
            } else {
                result.append(period)
            }
        }
        return result
    }

    /// Periods as one phrase for a person: adjoining or overlapping ones merged, in date order, joined by "and"
    /// ("2024-10-01 onward", not one range per quarter, whose dates a comma-separated list would run together).
    public static func describe(_ periods: [EffectivePeriod]) -> String {
        merged(periods).map(\.description).joined(separator: " and ")
    }
}
