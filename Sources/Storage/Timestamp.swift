import Foundation

/// UTC timestamps as ISO 8601 text (`2026-11-24T23:42:06Z`), the form every table stores. Formatting and parsing
/// are plain arithmetic: no formatter object, so they are cheap and safe from any thread.
public enum Timestamp {
    public static func string(_ date: Date) -> String {
        // Within the years the text form can write (0001 to 9999): a date beyond them, however it was made, is written
        // as the nearest one rather than trapping in the conversion.
        let interval = date.timeIntervalSince1970.rounded(.down)
        var seconds = time_t(interval.isNaN ? 0 : min(max(interval, -62_135_596_800), 253_402_300_799))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let s = String(value)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))Z"
    }

    public static func date(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count == 20, bytes[4] == 45, bytes[7] == 45, bytes[10] == 84, bytes[13] == 58, bytes[16] == 58, bytes[19] == 90 else { return nil }
        func number(_ range: Range<Int>) -> Int32? {
            var value: Int32 = 0
            for i in range {
                guard bytes[i] >= 48, bytes[i] <= 57 else { return nil }
                value = value * 10 + Int32(bytes[i] - 48)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), let hour = number(11..<13),
              let minute = number(14..<16), let second = number(17..<19) else { return nil }
        // A time that names no instant (2026-02-31, 2026-12-40, 24:00:00) is refused, not rolled over by timegm
        // into another day (probe #12: a settlement "available 2026-12-40" read as January 9).
        guard year >= 1, (1...12).contains(month), (1...daysIn(month: Int(month), year: Int(year))).contains(Int(day)),
              hour < 24, minute < 60, second < 60 else { return nil }
        var parts = tm()
        parts.tm_year = year - 1900
        parts.tm_mon = month - 1
        parts.tm_mday = day
        parts.tm_hour = hour
        parts.tm_min = minute
        parts.tm_sec = second
        return Date(timeIntervalSince1970: TimeInterval(timegm(&parts)))
    }

    /// Days in a month of the proleptic Gregorian calendar (1...12).
    public static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}
