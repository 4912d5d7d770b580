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
    struct Member {
        var first: TaxDate
        var last: TaxDate
        /// The days some row of the file is in force, merged, in date order.
        var covered: [EffectivePeriod]
        var resolver: PlaceRateResolver

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

    let members: [Member]

    init(_ resolvers: [PlaceRateResolver]) {
        members = resolvers.map { resolver in
            let covered = Self.merged(resolver.file.places.map(\.period))
            return Member(first: covered.first?.from ?? .distantPast, last: covered.map(\.through).max() ?? .distantFuture,
                          covered: covered, resolver: resolver)
        }
    }

    /// Periods merged where they overlap or adjoin, in date order.
    static func merged(_ periods: [EffectivePeriod]) -> [EffectivePeriod] {
        var result: [EffectivePeriod] = []
        for period in periods.sorted(by: { $0.from < $1.from }) {
            if let last = result.last, period.from <= last.through || period.from.dayBefore == last.through {
                result[result.count - 1].through = max(last.through, period.through)
            } else {
                result.append(period)
            }
        }
        return result
    }

    func member(on date: TaxDate) -> PlaceRateResolver {
        var chosen: Member?
        for member in members where member.covers(date) {
            if chosen.map({ member.first >= $0.first }) ?? true { chosen = member }
        }
        if chosen == nil {
            for member in members where member.last < date {
                if chosen.map({ member.last >= $0.last }) ?? true { chosen = member }
            }
        }
        if chosen == nil {
            for member in members where chosen.map({ member.first < $0.first }) ?? true { chosen = member }
        }
        // `members` is never empty (built from at least two files), so one was chosen.
        return (chosen ?? members[0]).resolver
    }

    func resolve(_ address: Address, on date: TaxDate) throws(ResolutionError) -> ResolvedLocation {
        try member(on: date).resolve(address, on: date)
    }

    func jurisdictionRate(code: String, state: StateCode, on date: TaxDate) -> LocalRate? {
        member(on: date).jurisdictionRate(code: code, state: state, on: date)
    }
}
