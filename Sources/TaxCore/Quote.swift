/// Whether tax was charged as a sales tax (intrastate) or a use tax (sourced to another state than the origin).
public enum TaxType: String, Sendable, Hashable {
    case sales, use
}

/// Why no tax is collected on a line. Levy never returns a silent zero.
public enum NotCollectingReason: Hashable, Sendable, CustomStringConvertible {
    /// The seller is not registered in the state the line is sourced to.
    case notRegistered(StateCode)
    /// The state levies no sales tax.
    case noSalesTax(StateCode)

    public var code: String {
        switch self {
        case .notRegistered: "not_registered"
        case .noSalesTax: "no_sales_tax"
        }
    }

    public var description: String {
        switch self {
        case .notRegistered(let state): "seller is not registered to collect in \(state)"
        case .noSalesTax(let state): "\(state) levies no general sales tax"
        }
    }
}

/// The address a line was sourced to, and why.
public struct SourcingDecision: Hashable, Sendable {
    public var rule: SourcingRule
    public var address: Address
    /// Hybrid states only: the address whose district taxes apply.
    public var districtAddress: Address?
    public var precision: ResolutionPrecision
    public var record: String

    public init(rule: SourcingRule, address: Address, districtAddress: Address?, precision: ResolutionPrecision, record: String) {
        self.rule = rule
        self.address = address
        self.districtAddress = districtAddress
        self.precision = precision
        self.record = record
    }
}

/// The exemption certificate considered for a line: applied, or why not.
public struct ExemptionDecision: Hashable, Sendable {
    public var certificate: ExemptionCertificate
    public var applied: Bool
    public var note: String
}

/// The tax of one line in one jurisdiction.
public struct JurisdictionTax: Hashable, Sendable {
    public var jurisdiction: Jurisdiction
    public var rate: Rate
    /// The part of the line this jurisdiction taxes (minor units).
    public var taxable: Int64
    /// The exact tax before rounding.
    public var exact: ExactAmount
    /// The rounded, allocated tax (minor units).
    public var tax: Int64
}

/// The quote of one line.
public struct LineQuote: Sendable {
    public var id: String
    public var code: ProductTaxCode
    public var fulfilment: Fulfilment
    public var quantity: Int64
    /// What the buyer pays for the line before tax: the price less every discount (for tax-included lines, the
    /// back-calculated net price).
    public var amount: Money
    /// The discounts on the line: its own and its share of order-level ones, by kind.
    public var discounts: LineDiscounts
    /// The price the taxes apply to before taxability and rules: the price less the discounts that reduce the
    /// base in the sourced state (seller discounts always; a third-party coupon only where the state says so).
    public var taxableBase: Money
    public var taxable: Money
    public var exempt: Money
    public var tax: Money
    public var taxType: TaxType
    public var notCollecting: NotCollectingReason?
    public var sourcing: SourcingDecision
    /// The taxability entry that applied, with its rule, reason, confidence and source.
    public var taxability: TaxabilityEntry
    public var exemption: ExemptionDecision?
    /// Ids of the special rules (caps, thresholds, holidays, bands) that changed this line's tax.
    public var appliedRules: [String]
    public var jurisdictions: [JurisdictionTax]
}

/// A complete quote: every line's tax with its evidence, and the table version that produced it.
public struct Quote: Sendable {
    public var date: TaxDate
    public var tableVersion: String
    public var rounding: RoundingMode
    public var currency: Currency
    public var lines: [LineQuote]
    public var totalAmount: Money
    public var totalTax: Money
    public var warnings: [String]
}
