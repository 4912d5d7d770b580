import TaxCore

/// The place-rate files of one kind and state in a table set, each answering the dates it is meant for: a file
/// takes over from the day its rates begin, and the files before it keep the dates before (next quarter's CDTFA
/// file imported in March leaves March's quotes to the file in force then; one quarter of Washington's rates leaves
/// the earlier quarters to the file that has them). Probe #18: an imported file replaced the one before, and every
/// earlier quote of the state was refused.
///
/// A date is answered by the file that starts last among those whose rows cover it (a day some row of the file is in
/// force; a file's gaps are not covered), a later file in the list winning a tie (an imported file over the shipped
/// one); a date past every file's rows by the file whose rows end last (its rates are the latest known, and its
/// freshness warning says how old); a date before every file by the earliest, which carries its first rates back
/// where its entry says so.
struct PlaceFileSuccession: LocalRateResolver {
    /// The dates a file's rows are in force.
    struct Span: Sendable {
        var first: TaxDate
        var last: TaxDate
        /// The days some row of the file is in force, merged, in date order.
        var covered: [EffectivePeriod]

        init(_ periods: [EffectivePeriod]) {
            covered = EffectivePeriod.merged(periods)
            first = covered.first?.from ?? .distantPast
            last = covered.map(\.through).max() ?? .distantFuture
        }

        /// Whether this file's rows start no later and end no earlier than `other`'s: a revised history that can
        /// take its place.
        func spans(_ other: Span) -> Bool { first <= other.first && last >= other.last }

        func covers(_ date: TaxDate) -> Bool {
            // Binary search: the last interval starting on or before the date.
            var low = 0, high = covered.count
            while low < high {
                let mid = (low + high) / 2
                if covered[mid].from <= date { low = mid + 1 } else { high = mid }
            }
            return low > 0 && covered[low - 1].contains(date)
        }
    }

    let spans: [Span]
    let resolvers: [PlaceRateResolver]

    /// Which file answers which dates (`timeline`), where there are several.
    let answers: [(index: Int, period: EffectivePeriod)]

    init(_ resolvers: [PlaceRateResolver]) {
        self.resolvers = resolvers
        spans = resolvers.map { Span($0.file.places.map(\.period)) }
        answers = resolvers.count > 1 ? Self.timeline(spans) : []
    }

    /// The index of the file that answers a date (`spans` is not empty).
    static func choice(_ spans: [Span], on date: TaxDate) -> Int {
        var chosen: Int?
        for (index, span) in spans.enumerated() where span.covers(date) {
            if chosen.map({ span.first >= spans[$0].first }) ?? true { chosen = index }
        }
        if chosen == nil {
            for (index, span) in spans.enumerated() where span.last < date {
                if chosen.map({ span.last >= spans[$0].last }) ?? true { chosen = index }
            }
        }
        if chosen == nil {
            for (index, span) in spans.enumerated() where chosen.map({ span.first < spans[$0].first }) ?? true { chosen = index }
        }
        return chosen ?? 0
    }

    /// Which file answers which dates, over all of time, in date order: the choice changes only where some file's
    /// rows begin or end, so it is made once per stretch between those days.
    static func timeline(_ spans: [Span]) -> [(index: Int, period: EffectivePeriod)] {
        guard !spans.isEmpty else { return [] }
        var starts: Set<TaxDate> = [.distantPast]
        for span in spans {
            for period in span.covered {
                starts.insert(period.from)
                if let next = period.through.adding(days: 1) { starts.insert(next) }
            }
        }
        let sorted = starts.sorted()
        var result: [(index: Int, period: EffectivePeriod)] = []
        for (position, start) in sorted.enumerated() {
            let end = position + 1 < sorted.count ? sorted[position + 1].dayBefore : .distantFuture
            let index = choice(spans, on: start)
            if let last = result.last, last.index == index {
                result[result.count - 1].period.through = end
            } else {
                result.append((index, EffectivePeriod(from: start, through: end)))
            }
        }
        return result
    }

    /// For each file, the dates its rows are in force but another file answers (one that starts later): said at
    /// load, so a corrected history imported beside a file that starts later is not ignored without a word there
    /// (probe #20).
    static func shadowed(_ spans: [Span]) -> [Int: [(by: Int, period: EffectivePeriod)]] {
        var result: [Int: [(by: Int, period: EffectivePeriod)]] = [:]
        for segment in timeline(spans) {
            for (index, span) in spans.enumerated() where index != segment.index {
                for period in span.covered where period.overlaps(segment.period) {
                    result[index, default: []].append((segment.index, EffectivePeriod(from: max(period.from, segment.period.from),
                                                                                      through: min(period.through, segment.period.through))))
                }
            }
        }
        return result
    }

    func member(on date: TaxDate) -> PlaceRateResolver { resolvers[Self.choice(spans, on: date)] }

    func resolve(_ address: Address, on date: TaxDate) throws(ResolutionError) -> ResolvedLocation {
        var location = try member(on: date).resolve(address, on: date)
        // A row's own period runs on where a later file takes over ("2026-01-01 onward"): the record says till when
        // its file answers, and which file then does.
        if let now = answers.firstIndex(where: { $0.period.contains(date) }), now + 1 < answers.count {
            let next = answers[now + 1]
            location.record += "; its file answers through \(answers[now].period.through), \(resolvers[next.index].file.file) from \(next.period.from)"
        }
        return location
    }

    func jurisdictionRate(code: String, state: StateCode, on date: TaxDate) -> LocalRate? {
        member(on: date).jurisdictionRate(code: code, state: state, on: date)
    }
}
