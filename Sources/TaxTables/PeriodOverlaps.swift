import TaxCore

/// The dated rows of a file, grouped by what they rate (a jurisdiction, a location, a ZIP), checked for overlaps
/// once all are read: each group sorted by start date, each period compared with the one before it that ends last.
/// n log n in the rows; checked against every earlier period of its group as it was read, a file of 100,000 one-day
/// periods of one jurisdiction took two minutes to import (probe #18).
struct PeriodOverlaps<Key: Hashable> {
    struct Row {
        var key: Key
        var period: EffectivePeriod
        var line: Int
    }

    /// Two rows of a group whose periods overlap: `earlier` starts first (or on the same day, on an earlier line).
    struct Clash {
        var earlier: Row
        var later: Row
        /// The row the error belongs to: the one read last, naming the other.
        var reported: Row { earlier.line > later.line ? earlier : later }
        var other: Row { earlier.line > later.line ? later : earlier }
    }

    private(set) var rows: [Row] = []

    mutating func add(_ key: Key, _ period: EffectivePeriod, line: Int) {
        rows.append(Row(key: key, period: period, line: line))
    }

    /// The overlaps, in the order of the lines they are reported on. `shorten` is asked about each one first: a
    /// row that ends on the day the next begins (Wisconsin's SST file, 2020-03-31) may be read as ending the day
    /// before; it returns true when it took the earlier row's period as ending then, and that row is compared on
    /// with its shortened period. Returns the index in `rows` of each clash's rows too.
    func clashes(shortening shorten: (_ earlier: Int, _ later: Int) -> Bool = { _, _ in false }) -> [Clash] {
        var groups: [Key: [Int]] = [:]
        for index in rows.indices { groups[rows[index].key, default: []].append(index) }
        var through = rows.map(\.period.through)
        var found: [Clash] = []
        for members in groups.values where members.count > 1 {
            let sorted = members.sorted { a, b in
                rows[a].period.from != rows[b].period.from ? rows[a].period.from < rows[b].period.from : rows[a].line < rows[b].line
            }
            var latest = sorted[0]
            for index in sorted.dropFirst() {
                if through[latest] >= rows[index].period.from {
                    if shorten(latest, index) {
                        through[latest] = rows[index].period.from.dayBefore
                    } else {
                        var earlier = rows[latest]
                        earlier.period.through = through[latest]
                        found.append(Clash(earlier: earlier, later: rows[index]))
                        continue
                    }
                }
                if through[index] > through[latest] { latest = index }
            }
        }
        return found.sorted { $0.reported.line < $1.reported.line }
    }
}
