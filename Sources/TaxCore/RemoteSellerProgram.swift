/// A flat-rate program a state offers to sellers with no place of business in it, which such a seller may elect:
/// Texas's single local use tax rate (Tax Code 151.0595: one local rate in place of the local taxes at the
/// destination) and Alabama's Simplified Sellers Use Tax (Ala. Code 40-23-193: a flat 8% in place of the state's
/// and every local tax). Data (TaxTables/elections.csv); the engine only knows the shape.
public struct RemoteSellerProgram: Sendable {
    public let state: StateCode
    /// The election's name in requests (`single_local_use_tax`, `simplified_sellers_use_tax`: Stripe Tax's names).
    public let type: String
    public let rate: Rate
    /// The levels whose taxes the program's one tax replaces.
    public let replaces: Set<JurisdictionLevel>
    /// The tax the seller collects instead: at the state level when it replaces the state's tax, else a local level.
    public let jurisdiction: Jurisdiction
    public let period: EffectivePeriod
    public let confidence: Confidence
    public let provenance: Provenance

    public init(state: StateCode, type: String, rate: Rate, replaces: Set<JurisdictionLevel>, jurisdiction: Jurisdiction,
                period: EffectivePeriod, confidence: Confidence, provenance: Provenance) {
        self.state = state
        self.type = type
        self.rate = rate
        self.replaces = replaces
        self.jurisdiction = jurisdiction
        self.period = period
        self.confidence = confidence
        self.provenance = provenance
    }

    /// How quotes name it among their applied rules (`TX-single_local_use_tax`).
    public var id: String { "\(state)-\(type)" }
}

/// A seller's election of a state's remote-seller program, as the request names it (`seller.elections`).
public struct RemoteSellerElection: Sendable, Hashable {
    public var state: StateCode
    public var type: String

    public init(state: StateCode, type: String) {
        self.state = state
        self.type = type
    }

    /// A program's word: 1 to 40 lower-case ASCII letters, digits or underscores (the tables, the contract and the
    /// order store all hold it to this).
    /// `isValidType`'s rule, as refusals state it.
    public static let typeRule = "1 to 40 lower-case letters, digits or underscores (single_local_use_tax, simplified_sellers_use_tax)"

    public static func isValidType(_ type: some StringProtocol) -> Bool {
        (1...40).contains(type.utf8.count) && type.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F }
    }
}

extension TaxTableSet {
    /// Why a registration from `date` cannot elect `type` in `state` (nil: it can): the tables have no such program
    /// there, or theirs starts later. A merchant profile is checked with this when the election is recorded, so that
    /// no quote it completes names a program the tables do not have.
    public func electionProblem(_ state: StateCode, _ type: String, from date: TaxDate) -> String? {
        if remoteSellerProgram(state, type, on: date) != nil { return nil }
        let programs = remoteSellerPrograms[state] ?? []
        if let start = programs.filter({ $0.type == type && $0.period.from > date }).map(\.period.from).min() {
            return "\(state)'s \(type) starts on \(start), after the registration's first day \(date)"
        }
        let known = Set(programs.map(\.type)).sorted()
        return "the tables have no \(type) in \(state)" + (known.isEmpty ? " (no remote-seller program there)" : " (there: \(known.joined(separator: ", ")))")
    }
}
