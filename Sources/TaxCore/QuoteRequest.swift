/// The named ways of rounding tax to the cent. Whatever the mode, jurisdiction amounts sum exactly to the total.
public enum RoundingMode: String, Sendable, CaseIterable, Hashable {
    /// SSUTA section 324: state and local tax aggregated and rounded once per invoice and state, half up at
    /// the third decimal; the rounded total is then allocated to lines and jurisdictions by largest remainder.
    case sst
    /// Each line's tax for each jurisdiction rounded on its own, half up (how Avalara rounds).
    case lineJurisdiction = "line_jurisdiction"
    /// Lines sharing one combined rate rounded together on that rate, per invoice (how TaxJar rounds).
    case invoiceCombined = "invoice_combined"
}

/// One line of an order to quote.
public struct QuoteLine: Sendable {
    public var id: String
    public var code: ProductTaxCode
    /// The extended price (unit price times quantity); tax-inclusive when `taxIncluded` is true.
    public var amount: Money
    public var quantity: Int64
    public var fulfilment: Fulfilment
    public var taxIncluded: Bool
    /// The seller location where a pickup or in-person line is received; the order's origin when nil.
    public var location: Address?
    /// A seller discount on this line (minor units); `amount` stays the price before it.
    public var discount: Int64
    /// A reimbursed third-party coupon on this line (minor units): how a replayed order carries its share of an
    /// order-level coupon.
    public var thirdPartyDiscount: Int64

    public init(id: String, code: ProductTaxCode, amount: Money, quantity: Int64 = 1, fulfilment: Fulfilment,
                taxIncluded: Bool = false, location: Address? = nil, discount: Int64 = 0, thirdPartyDiscount: Int64 = 0) {
        self.id = id
        self.code = code
        self.amount = amount
        self.quantity = quantity
        self.fulfilment = fulfilment
        self.taxIncluded = taxIncluded
        self.location = location
        self.discount = discount
        self.thirdPartyDiscount = thirdPartyDiscount
    }
}

/// Where a seller is engaged in business, for the states whose destination-sourced local taxes are owed only
/// there (California's district taxes: CDTFA Publication 44).
public enum SellerEngagement: Sendable, Hashable {
    /// Only where it has locations: the origin (and the locations of pickup and in-person lines).
    case originOnly
    /// Everywhere (a remote seller above the state's threshold, or one with presence in every district).
    case everywhere
    /// At these ZIP codes (its locations), besides the origin.
    case places([ZipCode])
}

/// An order to quote: what is sold, where from, where to, when, by whom, to whom.
public struct QuoteRequest: Sendable {
    public var date: TaxDate
    /// The seller location the order ships from or is made available from.
    public var origin: Address
    /// Where the buyer receives shipped or digital lines.
    public var destination: Address?
    /// The buyer's billing address (SSUTA 310.A.3), used when no destination is known.
    public var billing: Address?
    /// An address obtained during the sale, such as the billing address of the buyer's payment instrument (SSUTA
    /// 310.A.4), used when neither a destination nor a billing address is known.
    public var payment: Address?
    /// States where the seller is registered to collect; nil means every state.
    public var registrations: Set<StateCode>?
    public var exemptions: [ExemptionCertificate]
    public var lines: [QuoteLine]
    public var rounding: RoundingMode
    /// Order-level discounts, allocated over their lines.
    public var discounts: [OrderDiscount]
    public var engagement: SellerEngagement
    /// Seller premises whose local jurisdictions the merchant verified: a line sourced to one of these addresses is
    /// taxed by exactly these codes (see `TaxCalculator.pin`).
    public var pinned: [Address: [String]] = [:]
    /// The remote-seller programs the seller elected, at most one per state (Texas's single local use tax rate,
    /// Alabama's Simplified Sellers Use Tax); each applies only to lines sourced to its state while the order is
    /// sold from outside it.
    public var elections: [RemoteSellerElection] = []
    /// The seller's places of business by state, each described for a warning ("location bham (35203)"): the merchant
    /// profile's, over the API. A seller with premises in a state is not a remote seller there, so an election for
    /// the state is not applied (probe #21: a profile's dated election was, beside a place of business there).
    public var placesOfBusiness: [StateCode: String] = [:]

    public init(date: TaxDate, origin: Address, destination: Address? = nil, billing: Address? = nil, payment: Address? = nil,
                registrations: Set<StateCode>? = nil, exemptions: [ExemptionCertificate] = [],
                lines: [QuoteLine], rounding: RoundingMode = .sst, discounts: [OrderDiscount] = [],
                engagement: SellerEngagement = .originOnly) {
        self.date = date
        self.origin = origin
        self.destination = destination
        self.billing = billing
        self.payment = payment
        self.registrations = registrations
        self.exemptions = exemptions
        self.lines = lines
        self.rounding = rounding
        self.discounts = discounts
        self.engagement = engagement
    }
}
