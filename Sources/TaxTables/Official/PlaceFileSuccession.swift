import TaxCore

/// The place-rate files of one kind and state in a table set, each answering the dates it is meant for: a file
/// takes over from the day its rates begin, and the files before it keep the dates before (next quarter's CDTFA
/// file imported in March leaves March's quotes to the file in force then; one quarter of Washington's rates leaves
/// the earlier quarters to the file that has them). Probe #18: an imported file replaced the one before, and every
/// earlier quote of the state was refused.
///
/// A date is answered by the file that starts last among those whose span (first day to last day of their rows)
/// holds it, a later file in the list winning a tie (an imported file over the shipped one); a date past every span
/// by the file whose span ends last (its rates are the latest known, and its freshness warning says how old); a
/// date before every span by the earliest file, which carries its first rates back where its entry says so.
struct PlaceFileSuccession: LocalRateResolver {
    struct Member {
        var first: TaxDate
        var last: TaxDate
        var resolver: PlaceRateResolver
    }

    let members: [Member]

    init(_ resolvers: [PlaceRateResolver]) {
        members = resolvers.map { resolver in
            let periods = resolver.file.places.map(\.period)
            return Member(first: periods.map(\.from).min() ?? .distantPast, last: periods.map(\.through).max() ?? .distantFuture, resolver: resolver)
        }
    }

    func member(on date: TaxDate) -> PlaceRateResolver {
        var chosen: Member?
        for member in members where member.first <= date && date <= member.last {
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
