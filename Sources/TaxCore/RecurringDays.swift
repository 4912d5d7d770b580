extension TaxDate {
    /// Days since 1970-01-01 (negative before), by the proleptic Gregorian calendar.
    public var dayNumber: Int {
        // Howard Hinnant's days_from_civil.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The date `dayNumber` days after 1970-01-01; nil outside the years a `TaxDate` holds (0001 to 9999).
    public init?(dayNumber: Int) {
        // 0001-01-01 is day -719,162 and 9999-12-31 day 2,932,896: the bounds keep the arithmetic below from overflowing.
        guard (-719_162...2_932_896).contains(dayNumber) else { return nil }
        let z = dayNumber + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        self.init(year: yoe + era * 400 + (m <= 2 ? 1 : 0), month: m, day: d)
    }

    public func adding(days: Int) -> TaxDate? {
        let (sum, overflow) = dayNumber.addingReportingOverflow(days)
        return overflow ? nil : TaxDate(dayNumber: sum)
    }

    /// 1 = Monday ... 7 = Sunday (ISO 8601).
    public var isoWeekday: Int { ((dayNumber % 7 + 7) % 7 + 3) % 7 + 1 }
}

/// A day of the year given by rule, as laws give holidays: a fixed date ("August 1"), or the n-th (or last)
/// weekday of a month ("the second Friday of August"), optionally moved by whole days ("the Sunday after").
public struct DayRule: Hashable, Sendable, CustomStringConvertible {
    public enum Anchor: Hashable, Sendable {
        case fixed(month: Int, day: Int)
        /// `nth` 1...5, or -1 for the last; `weekday` 1 = Monday ... 7 = Sunday.
        case weekday(nth: Int, weekday: Int, month: Int)
    }

    public var anchor: Anchor
    public var offsetDays: Int

    public init(anchor: Anchor, offsetDays: Int = 0) {
        self.anchor = anchor
        self.offsetDays = offsetDays
    }

    static let weekdayNames = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

    /// How far a rule may move its day: a year. A holiday is days long; a larger offset is a typing error.
    public static let maxOffsetDays = 366

    /// Parses `MM-DD`, `N-ddd-MM` or `last-ddd-MM`, each optionally followed by `+Nd` or `-Nd` (N at most
    /// `maxOffsetDays`).
    public init?(_ text: String) {
        var body = Substring(text)
        var offset = 0
        // A rule itself always ends with its month's digits, so a trailing "d" marks an offset ("+2d", "-1d").
        if body.hasSuffix("d") {
            guard let sign = body.lastIndex(where: { $0 == "+" || $0 == "-" }),
                  let days = Int(body[body.index(after: sign)..<body.index(before: body.endIndex)]), (0...Self.maxOffsetDays).contains(days)
            else { return nil }
            offset = body[sign] == "-" ? -days : days
            body = body[..<sign]
        }
        let parts = body.split(separator: "-").map(String.init)
        if parts.count == 2, parts[0].count == 2, parts[1].count == 2, let month = Int(parts[0]), let day = Int(parts[1]),
           (1...12).contains(month), (1...TaxDate.daysIn(month: month, year: 2000)).contains(day) {
            self.init(anchor: .fixed(month: month, day: day), offsetDays: offset)
            return
        }
        guard parts.count == 3, let weekday = Self.weekdayNames.firstIndex(of: parts[1]), parts[2].count == 2,
              let month = Int(parts[2]), (1...12).contains(month) else { return nil }
        let nth: Int
        if parts[0] == "last" { nth = -1 } else {
            guard let n = Int(parts[0]), (1...5).contains(n) else { return nil }
            nth = n
        }
        self.init(anchor: .weekday(nth: nth, weekday: weekday + 1, month: month), offsetDays: offset)
    }

    /// The day in `year`, if it exists (a fifth Friday may not).
    public func date(in year: Int) -> TaxDate? {
        let base: TaxDate?
        switch anchor {
        case .fixed(let month, let day):
            base = TaxDate(year: year, month: month, day: day)
        case .weekday(let nth, let weekday, let month):
            if nth > 0 {
                guard let first = TaxDate(year: year, month: month, day: 1) else { return nil }
                let shift = (weekday - first.isoWeekday + 7) % 7 + (nth - 1) * 7
                base = first.adding(days: shift).flatMap { $0.month == month ? $0 : nil }
            } else {
                guard let last = TaxDate(year: year, month: month, day: TaxDate.daysIn(month: month, year: year)) else { return nil }
                base = last.adding(days: -((last.isoWeekday - weekday + 7) % 7))
            }
        }
        return base?.adding(days: offsetDays)
    }

    public var description: String {
        let anchorText = switch anchor {
        case .fixed(let month, let day): String(format2(month)) + "-" + format2(day)
        case .weekday(let nth, let weekday, let month): (nth < 0 ? "last" : String(nth)) + "-" + Self.weekdayNames[weekday - 1] + "-" + format2(month)
        }
        return offsetDays == 0 ? anchorText : anchorText + (offsetDays > 0 ? "+" : "-") + String(abs(offsetDays)) + "d"
    }
}

private func format2(_ value: Int) -> String { value < 10 ? "0\(value)" : String(value) }

/// When a rule is in force: every day of a period, or, for rules that recur by law, only the days between a first
/// and a last day computed for each year inside the period (a holiday on "the second Friday of August through the
/// following Sunday", every year from the law's start to its sunset).
public struct RuleSchedule: Hashable, Sendable, CustomStringConvertible {
    public var period: EffectivePeriod
    public var yearly: (first: DayRule, last: DayRule)?

    public init(period: EffectivePeriod, yearly: (first: DayRule, last: DayRule)? = nil) {
        self.period = period
        self.yearly = yearly
    }

    public func contains(_ date: TaxDate) -> Bool {
        guard period.contains(date) else { return false }
        guard let yearly else { return true }
        // A year's window may reach into the next year or begin in the one before ("12-30" to "12-30+5d": probe #18,
        // its January days were taxed), so the neighbouring years' windows are looked at too.
        for year in [date.year, date.year - 1, date.year + 1] {
            if let first = yearly.first.date(in: year), let last = yearly.last.date(in: year), first <= date, date <= last { return true }
        }
        return false
    }

    /// The days the rule is in force in `year` (nil if none).
    public func window(in year: Int) -> (first: TaxDate, last: TaxDate)? {
        if let yearly {
            guard let first = yearly.first.date(in: year), let last = yearly.last.date(in: year) else { return nil }
            let from = max(first, period.from), through = min(last, period.through)
            return from <= through ? (from, through) : nil
        }
        guard let start = TaxDate(year: year, month: 1, day: 1), let end = TaxDate(year: year, month: 12, day: 31) else { return nil }
        let from = max(start, period.from), through = min(end, period.through)
        return from <= through ? (from, through) : nil
    }

    public static func == (a: RuleSchedule, b: RuleSchedule) -> Bool {
        a.period == b.period && a.yearly?.first == b.yearly?.first && a.yearly?.last == b.yearly?.last
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(period)
        hasher.combine(yearly?.first)
        hasher.combine(yearly?.last)
    }

    public var description: String {
        guard let yearly else { return period.description }
        return "yearly \(yearly.first) to \(yearly.last), \(period)"
    }
}
