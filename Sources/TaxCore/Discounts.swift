/// Who pays for a discount, which decides whether it reduces the taxable price.
public enum DiscountKind: String, Sendable, CaseIterable, Hashable {
    /// The seller's own discount (a sale price, a store coupon): it reduces the sales price, and so the taxable base.
    case seller
    /// A third party's coupon (a manufacturer's) for which the seller is reimbursed: the buyer pays less, but in
    /// most states the reimbursed amount is part of the taxable sales price (SSUTA's definition); a few states
    /// exclude it. Which is data per state (`ThirdPartyCouponRule`).
    case thirdParty = "third_party"
}

/// An order-level discount: allocated over its lines (every line that is not shipping when none are named) in
/// proportion to what remains of each line's amount, in exact cents by largest remainder, ties to the earlier line.
public struct OrderDiscount: Sendable, Hashable {
    public var id: String
    public var amount: Money
    public var kind: DiscountKind
    /// The ids of the lines it applies to; nil for every line that is not shipping.
    public var lineIDs: [String]?

    public init(id: String, amount: Money, kind: DiscountKind, lineIDs: [String]? = nil) {
        self.id = id
        self.amount = amount
        self.kind = kind
        self.lineIDs = lineIDs
    }
}

/// Whether a reimbursed third-party coupon reduces the taxable base in a state, with the evidence.
public struct ThirdPartyCouponRule: Sendable, Hashable {
    public var state: StateCode
    public var reducesBase: Bool
    public var confidence: Confidence
    public var provenance: Provenance

    public init(state: StateCode, reducesBase: Bool, confidence: Confidence, provenance: Provenance) {
        self.state = state
        self.reducesBase = reducesBase
        self.confidence = confidence
        self.provenance = provenance
    }
}

/// The discounts of one line after allocation (minor units).
public struct LineDiscounts: Sendable, Hashable {
    public var seller: Int64 = 0
    public var thirdParty: Int64 = 0
    /// The request field of the first third-party coupon on the line, to name in a refusal.
    public var thirdPartyField: String?
    public var total: Int64 { seller + thirdParty }
}

/// Spreads order-level discounts over lines.
public enum DiscountAllocation {
    /// `amount` split over `weights` in proportion, in whole units by largest remainder; equal remainders go to the
    /// earlier weight. The parts sum exactly to `amount`; a part never exceeds its weight when `amount` does not
    /// exceed their sum.
    public static func split(_ amount: Int64, over weights: [Int64]) -> [Int64] {
        let total = weights.reduce(Int128(0)) { $0 + Int128($1) }
        guard total > 0 else { return weights.map { _ in 0 } }
        var parts: [Int64] = []
        var remainders: [(Int128, Int)] = []
        var given: Int64 = 0
        for (i, weight) in weights.enumerated() {
            let exact = Int128(amount) * Int128(weight)
            let whole = exact / total
            parts.append(Int64(whole))
            remainders.append((exact - whole * total, i))
            given += Int64(whole)
        }
        var left = amount - given
        for (_, i) in remainders.sorted(by: { $0.0 != $1.0 ? $0.0 > $1.0 : $0.1 < $1.1 }) where left > 0 {
            parts[i] += 1
            left -= 1
        }
        return parts
    }
}
