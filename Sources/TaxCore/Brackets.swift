/// A state's statutory bracket schedule for one rate: the tax in cents that the law prescribes for amounts of
/// cents, instead of rounding rate times price. Pennsylvania (72 P.S. 7203: 6% on each dollar plus a bracket on the
/// fraction of a dollar; the DOR's REV-221 charts for the local 1% and 2%) and Maryland (Tax-General 11-104(a)) have
/// them; the SST states may not require one (SSUTA 324).
///
/// The tax on an amount of at least a dollar is `centsPerDollar` for each whole dollar plus the `fraction` bracket
/// of the cents above it; an amount under a dollar takes the `underDollar` bracket. Cents no bracket lists are
/// untaxed (Maryland names no tax for 1 to 19 cents).
public struct BracketSchedule: Sendable {
    public enum Levels: String, Sendable, CaseIterable {
        /// The state's own tax at `rate`.
        case state
        /// A local jurisdiction's tax at `rate` (Pennsylvania's 1% Allegheny County and 2% Philadelphia taxes).
        case local
    }

    public struct Bracket: Sendable, Hashable {
        public var cents: ClosedRange<Int64>
        public var tax: Int64

        public init(cents: ClosedRange<Int64>, tax: Int64) {
            self.cents = cents
            self.tax = tax
        }
    }

    public var state: StateCode
    public var levels: Levels
    public var rate: Rate
    public var period: EffectivePeriod
    public var underDollar: [Bracket]
    public var fraction: [Bracket]
    public var confidence: Confidence
    public var provenance: Provenance

    public init(state: StateCode, levels: Levels, rate: Rate, period: EffectivePeriod, underDollar: [Bracket], fraction: [Bracket],
                confidence: Confidence, provenance: Provenance) {
        self.state = state
        self.levels = levels
        self.rate = rate
        self.period = period
        self.underDollar = underDollar
        self.fraction = fraction
        self.confidence = confidence
        self.provenance = provenance
    }

    /// The rate's exact tax on a dollar in cents (6% is 6); nil when the rate is not a whole number of cents a
    /// dollar, for which no "each dollar" rule can be exact.
    public static func centsPerDollar(_ rate: Rate) -> Int64? {
        let perCent = Rate.scale / 100
        return rate.units % perCent == 0 ? rate.units / perCent : nil
    }

    /// The tax on `amount` minor units (cents). Amounts are non-negative; a quote's are bounded far below overflow.
    public func tax(on amount: Int64) -> Int64 {
        guard amount > 0 else { return 0 }
        if amount < 100 { return Self.lookup(underDollar, amount) }
        let perDollar = Self.centsPerDollar(rate) ?? 0
        return (amount / 100) * perDollar + Self.lookup(fraction, amount % 100)
    }

    static func lookup(_ brackets: [Bracket], _ cents: Int64) -> Int64 {
        brackets.first { $0.cents.contains(cents) }?.tax ?? 0
    }

    /// Whether the schedule computes this jurisdiction's tax: its rate, and its level (the state's own, or a local one).
    public func covers(_ jurisdiction: Jurisdiction, rate: Rate) -> Bool {
        guard rate == self.rate, jurisdiction.state == state else { return false }
        return (jurisdiction.level == .state) == (levels == .state)
    }
}
