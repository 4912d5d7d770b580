/// How a state sources a sale when seller and buyer are both in it.
public enum IntrastateSourcing: Hashable, Sendable {
    /// Where the buyer receives the product (SSUTA default).
    case destination
    /// The seller's location.
    case origin
    /// The listed levels from the origin, the rest from the destination (California: districts by destination).
    case hybrid(originLevels: Set<JurisdictionLevel>)
    /// Every local tax of the origin, then the destination's other local taxes (city, county, special, in that
    /// order) as long as the local total stays within `localCap`; one that would pass it is not due (Texas,
    /// 34 TAC 3.334: local sales tax where the sale is consummated, local use tax at the destination up to 2%).
    case originThenDestination(localCap: Rate)
    /// The state has no sales tax.
    case notApplicable
}

/// Confidence in a fact whose sources disagree or are thin; carried to the quote so people can see it.
public enum Confidence: String, Sendable, CaseIterable, Comparable {
    case high, medium, low

    private var order: Int { self == .high ? 0 : self == .medium ? 1 : 2 }
    public static func < (lhs: Confidence, rhs: Confidence) -> Bool { lhs.order < rhs.order }
}

/// Where a fact comes from: a source id from the table set's source list, and the date the fact was read.
public struct Provenance: Hashable, Sendable {
    public var source: String
    public var asOf: TaxDate?
    public var note: String

    public init(source: String, asOf: TaxDate? = nil, note: String = "") {
        self.source = source
        self.asOf = asOf
        self.note = note
    }
}

/// A state-level rate in force for a period. `interstate` is the use-tax rate where the tables distinguish it.
public struct DatedRate: Hashable, Sendable {
    public var period: EffectivePeriod
    public var intrastate: Rate
    public var interstate: Rate?
    public var provenance: Provenance

    public init(period: EffectivePeriod, intrastate: Rate, interstate: Rate? = nil, provenance: Provenance) {
        self.period = period
        self.intrastate = intrastate
        self.interstate = interstate
        self.provenance = provenance
    }
}

/// Everything Levy knows about one state apart from local rates. Immutable and shared.
public final class StateProfile: Sendable {
    public let state: StateCode
    public let fips: String
    public let name: String
    /// False for the states with no general sales tax at any level (DE, MT state-wide, NH, OR).
    public let hasSalesTax: Bool
    public let rates: [DatedRate]
    public let sourcing: IntrastateSourcing
    /// Destination-sourced local levels are owed only where the seller is engaged in business (California's
    /// district taxes, CDTFA Publication 44); elsewhere they are not charged.
    public let destinationNeedsEngagement: Bool
    /// Product codes the state sources to the seller's business location in the state whatever the fulfilment
    /// (New Mexico's professional services, NMSA 7-1-14), when seller and buyer are both in the state.
    public let sellerSourcedCodes: Set<ProductTaxCode>
    /// The levels a seller outside the state collects, where not every level (Pennsylvania: the state's 6% only; the
    /// local 1% and 2% are collected by vendors located in Allegheny County and Philadelphia, and otherwise owed by
    /// the buyer as use tax); nil: every level.
    public let remoteSellerLevels: Set<JurisdictionLevel>?
    /// A county or city levies a use tax only where its voters adopted one (Missouri, RSMo 144.757; Oklahoma's cities,
    /// 68 O.S. 1411, may levy either tax alone), so its sales rate says nothing of a sale from another state: a
    /// local rate with no reviewed use rate is charged as its sales rate, and the quote says so citing this source.
    /// nil: a local use tax goes with each local sales tax, at its rate.
    public let localUseTaxByAdoption: String?
    public let provenance: Provenance

    /// The state as a taxing jurisdiction (built once, shared by every quote line).
    public let jurisdiction: Jurisdiction

    public init(state: StateCode, fips: String, name: String, hasSalesTax: Bool, rates: [DatedRate],
                sourcing: IntrastateSourcing, destinationNeedsEngagement: Bool = false,
                sellerSourcedCodes: Set<ProductTaxCode> = [], remoteSellerLevels: Set<JurisdictionLevel>? = nil,
                localUseTaxByAdoption: String? = nil, provenance: Provenance) {
        self.state = state
        self.fips = fips
        self.name = name
        self.hasSalesTax = hasSalesTax
        self.rates = rates
        self.sourcing = sourcing
        self.destinationNeedsEngagement = destinationNeedsEngagement
        self.sellerSourcedCodes = sellerSourcedCodes
        self.remoteSellerLevels = remoteSellerLevels
        self.localUseTaxByAdoption = localUseTaxByAdoption
        self.provenance = provenance
        jurisdiction = Jurisdiction(level: .state, state: state, name: name, code: fips)
    }

    public func rate(on date: TaxDate) -> DatedRate? { rates.first { $0.period.contains(date) } }

    /// The same state with other rates (a rate table that replaces the state rates).
    public func replacingRates(_ rates: [DatedRate]) -> StateProfile {
        StateProfile(state: state, fips: fips, name: name, hasSalesTax: hasSalesTax, rates: rates, sourcing: sourcing,
                     destinationNeedsEngagement: destinationNeedsEngagement, sellerSourcedCodes: sellerSourcedCodes,
                     remoteSellerLevels: remoteSellerLevels, localUseTaxByAdoption: localUseTaxByAdoption, provenance: provenance)
    }
}
