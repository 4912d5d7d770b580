/// How precisely an address was matched to its local jurisdictions.
public enum ResolutionPrecision: String, Sendable, CaseIterable, Comparable {
    /// A street address range record.
    case address
    /// A ZIP+4 range record.
    case zip4
    /// A ZIP5 record (local parts may be estimates where a ZIP straddles boundaries).
    case zip5
    /// No record for the ZIP; the most common local rates of its county were used.
    case countyFallback = "county_fallback"

    private var order: Int {
        switch self {
        case .address: 0
        case .zip4: 1
        case .zip5: 2
        case .countyFallback: 3
        }
    }

    public static func < (lhs: ResolutionPrecision, rhs: ResolutionPrecision) -> Bool { lhs.order < rhs.order }
}

/// A local (county, city or district) rate that applies at a location.
public struct LocalRate: Hashable, Sendable {
    public var jurisdiction: Jurisdiction
    public var intrastate: Rate
    public var interstate: Rate?

    public init(jurisdiction: Jurisdiction, intrastate: Rate, interstate: Rate? = nil) {
        self.jurisdiction = jurisdiction
        self.intrastate = intrastate
        self.interstate = interstate
    }
}

/// The local jurisdictions of an address on a date, and how they were found.
public struct ResolvedLocation: Sendable {
    public var state: StateCode
    /// The county FIPS code, when known, even where the county levies nothing (rules can depend on it).
    public var countyFIPS: String?
    public var locals: [LocalRate]
    public var precision: ResolutionPrecision
    /// The record that matched, in words ("zip5 55401 MINNEAPOLIS, 2026-02-01 onward").
    public var record: String
    public var warnings: [String]
    /// Local taxes with their own base in force here (the engine applies those that name the line's code).
    public var ownBaseTaxes: [OwnBaseTax]
    /// The ids of the sources the answer came from, for the freshness check.
    public var sources: [String]
    /// The place an official place file matched (a Washington location code, a California CDTFA place), if any.
    public var place: String?
    /// California: the district taxes every place of this county has (its countywide districts), for a seller
    /// engaged in business elsewhere in the county; nil where unknown.
    public var countyDistricts: LocalRate?
    /// Warnings about the use rates only (a low-confidence reviewed use rate), said on lines taxed as use tax alone.
    public var useTaxWarnings: [String] = []

    public init(state: StateCode, countyFIPS: String?, locals: [LocalRate], precision: ResolutionPrecision,
                record: String, warnings: [String] = [], ownBaseTaxes: [OwnBaseTax] = [], sources: [String] = [], place: String? = nil) {
        self.state = state
        self.countyFIPS = countyFIPS
        self.locals = locals
        self.precision = precision
        self.record = record
        self.warnings = warnings
        self.ownBaseTaxes = ownBaseTaxes
        self.sources = sources
        self.place = place
    }
}

/// Why an address could not be resolved.
public enum ResolutionError: Error, Equatable, Sendable, CustomStringConvertible {
    case unknownZip(String)
    case stateMismatch(zip: String, given: StateCode, actual: StateCode)
    case noRatesOnDate(zip: String, date: TaxDate, coverage: String)

    public var description: String {
        switch self {
        case .unknownZip(let zip): "ZIP \(zip) is not in the tables"
        case .stateMismatch(let zip, let given, let actual): "ZIP \(zip) is in \(actual), not \(given)"
        case .noRatesOnDate(let zip, let date, let coverage): "no local rates for ZIP \(zip) on \(date) (the tables cover \(coverage))"
        }
    }
}

/// Finds the local jurisdictions and rates of an address on a date.
public protocol LocalRateResolver: Sendable {
    func resolve(_ address: Address, on date: TaxDate) throws(ResolutionError) -> ResolvedLocation
    /// The rate of the local jurisdiction with this code in `state` on `date`, as these tables know it wherever it
    /// applies (for jurisdictions a merchant pinned for its premises), or nil when the tables do not know the code.
    func jurisdictionRate(code: String, state: StateCode, on date: TaxDate) -> LocalRate?
}

extension LocalRateResolver {
    /// Why an address cannot be kept to source tax by: the field at fault (`zip`, or `state` for a ZIP of another
    /// state) and the reason; nil when the tables know its ZIP in its state. A date the tables do not cover is no
    /// reason (the address is kept, and a quote on such a date says so). The API and the CLI refuse with it alike.
    public func placeProblem(_ address: Address, on date: TaxDate) -> (field: String, message: String)? {
        do {
            _ = try resolve(address, on: date)
            return nil
        } catch {
            switch error {
            case .unknownZip: return ("zip", error.description)
            case .stateMismatch: return ("state", error.description)
            case .noRatesOnDate: return nil
            }
        }
    }

    /// The index of the first of `codes` these tables cannot rate as a local jurisdiction of `state` on `date`, or
    /// nil when they rate them all: what a merchant may pin for its premises (a state's own code is no local
    /// jurisdiction: the engine refuses it pinned, probe #13 found it accepted here).
    public func firstUnrated(_ codes: [String], state: StateCode, on date: TaxDate) -> Int? {
        codes.firstIndex { code in jurisdictionRate(code: code, state: state, on: date).map { $0.jurisdiction.level == .state } ?? true }
    }
}

/// One complete, versioned set of tax tables: what the engine quotes against.
public struct TaxTableSet: Sendable {
    /// Names this exact content (declared version plus a digest of the files), so a quote can be replayed.
    public var version: String
    public var locals: any LocalRateResolver
    /// Per source id, the last date its facts were checked against the publisher: a quote dated later that relies
    /// on the source says so (`stale_rates`).
    public var verifiedThrough: [String: TaxDate] = [:] {
        didSet {
            staleWarnings = [:]
            for (id, through) in verifiedThrough {
                staleWarnings[id] = (through, "stale_rates: source \(id) is verified through \(through); rates after that date may have changed")
            }
        }
    }
    /// The warning of each dated source, built once (quotes only pick it).
    public private(set) var staleWarnings: [String: (through: TaxDate, warning: String)] = [:]

    /// Builds the warnings of facts that cite several sources (`a;b`): such a fact is as fresh as the latest.
    public mutating func registerCombinedSources(_ combined: some Sequence<String>) {
        for source in combined where source.contains(";") && staleWarnings[source] == nil {
            guard let through = source.split(separator: ";").compactMap({ verifiedThrough[String($0)] }).max() else { continue }
            staleWarnings[source] = (through, "stale_rates: source \(source) is verified through \(through); rates after that date may have changed")
        }
    }
    /// Per state, whether a reimbursed third-party coupon reduces the taxable base.
    public var couponRules: [StateCode: ThirdPartyCouponRule] = [:]
    /// Per state, the district taxes that span several counties (`RegionalDistrict`).
    public var regionalDistricts: [StateCode: [RegionalDistrict]] = [:]
    /// Per state, the flat-rate programs a remote seller may elect (`RemoteSellerProgram`), by type and date.
    public var remoteSellerPrograms: [StateCode: [RemoteSellerProgram]] = [:]

    /// The program of that type in the state in force on the date.
    public func remoteSellerProgram(_ state: StateCode, _ type: String, on date: TaxDate) -> RemoteSellerProgram? {
        remoteSellerPrograms[state]?.first { $0.type == type && $0.period.contains(date) }
    }

    /// Per state, the statutory bracket schedules that replace rounding for the rates they cover (`sst` rounding).
    public var brackets: [StateCode: [BracketSchedule]] = [:]

    /// The state's bracket schedules in force on the date.
    public func brackets(_ state: StateCode, on date: TaxDate) -> [BracketSchedule] {
        brackets[state]?.filter { $0.period.contains(date) } ?? []
    }
    /// Per state: its profile, rules and taxability by code, in a 676-slot array indexed by `StateCode.slot`,
    /// so the engine finds them without hashing.
    private var byState: [StateTables?]

    final class StateTables: Sendable {
        let profile: StateProfile
        let rules: [SpecialRule]
        /// Indexed by `ProductTaxCode.ordinal`.
        let taxability: [[TaxabilityEntry]]

        init(profile: StateProfile, rules: [SpecialRule], taxability: [[TaxabilityEntry]]) {
            self.profile = profile
            self.rules = rules
            self.taxability = taxability
        }
    }

    public init(version: String, states: [StateProfile], taxability: [TaxabilityEntry], rules: [SpecialRule],
                locals: any LocalRateResolver) {
        self.version = version
        self.locals = locals
        var byState = [StateTables?](repeating: nil, count: 26 * 26)
        for profile in states where byState[profile.state.slot] == nil {
            var byCode = [[TaxabilityEntry]](repeating: [], count: ProductTaxCode.allCases.count)
            for entry in taxability where entry.state == profile.state { byCode[entry.code.ordinal].append(entry) }
            byState[profile.state.slot] = StateTables(profile: profile, rules: rules.filter { $0.state == profile.state },
                                                      taxability: byCode)
        }
        self.byState = byState
    }

    /// The same tables with each state's profile replaced (rules and taxability kept), under another version name.
    public func replacingStateProfiles(version: String, _ transform: (StateProfile) -> StateProfile) -> TaxTableSet {
        var copy = self
        copy.version = version
        copy.byState = byState.map { $0.map { StateTables(profile: transform($0.profile), rules: $0.rules, taxability: $0.taxability) } }
        return copy
    }

    /// The profile of a state, if the tables have it.
    public func profile(_ state: StateCode) -> StateProfile? { byState[state.slot]?.profile }

    /// Every state profile, ordered by code.
    public var states: [StateProfile] { byState.compactMap { $0?.profile } }

    /// The special rules of a state.
    public func rules(in state: StateCode) -> [SpecialRule] { byState[state.slot]?.rules ?? [] }

    /// Every special rule.
    public var allRules: [SpecialRule] { byState.flatMap { $0?.rules ?? [] } }

    /// The taxability entry for a code in a state on a date, if the tables have one.
    public func taxability(of code: ProductTaxCode, in state: StateCode, on date: TaxDate) -> TaxabilityEntry? {
        byState[state.slot]?.taxability[code.ordinal].first { $0.period.contains(date) }
    }

    /// Every taxability entry, for validation and display.
    public var allTaxability: [TaxabilityEntry] { byState.flatMap { $0?.taxability.flatMap { $0 } ?? [] } }
}
