/// Which levels of government tax a product code in a state.
public enum TaxabilityRule: String, Sendable, CaseIterable, Hashable {
    /// Taxable at every level.
    case taxable
    /// Not taxable at any level.
    case exempt
    /// Taxable by the state only; local jurisdictions exempt it.
    case stateOnly = "state_only"
    /// Taxable by local jurisdictions only (Alaska boroughs, New York City's beauty-services tax).
    case localOnly = "local_only"
    /// Delivery charges taxed in proportion to the taxable share of the goods delivered with them.
    case proportional
    /// Delivery charges taxed in full when any goods delivered with them are taxable, and not at all when none is
    /// (Louisiana's RIB 25-025, Connecticut's "no tax on delivery charges of a sale not subject to tax").
    case withTaxableGoods = "with_taxable_goods"

    /// Whether a jurisdiction at `level` taxes the code under this rule (before any special rule).
    public func applies(to level: JurisdictionLevel) -> Bool {
        switch self {
        case .taxable, .proportional, .withTaxableGoods: true
        case .exempt: false
        case .stateOnly: level == .state
        case .localOnly: level != .state
        }
    }
}

/// One row of the taxability table: a code in a state for a period, with its evidence. Immutable and shared:
/// a quote line refers to the entry it used.
public final class TaxabilityEntry: Sendable {
    public let state: StateCode
    public let code: ProductTaxCode
    public let period: EffectivePeriod
    public let rule: TaxabilityRule
    public let confidence: Confidence
    public let provenance: Provenance
    /// Why the code is taxed this way, in words: the table's note, or the rule itself.
    public let reason: String

    public init(state: StateCode, code: ProductTaxCode, period: EffectivePeriod, rule: TaxabilityRule,
                confidence: Confidence, provenance: Provenance) {
        self.state = state
        self.code = code
        self.period = period
        self.rule = rule
        self.confidence = confidence
        self.provenance = provenance
        reason = provenance.note.isEmpty ? "\(code.rawValue) is \(rule.rawValue) in \(state)" : provenance.note
    }
}
