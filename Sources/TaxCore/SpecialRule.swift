/// A rule that changes the taxable base of single articles: caps, thresholds, holidays, bands and surtaxes.
/// Rules are data (TaxTables/rules.csv); the engine only knows these shapes. Immutable and shared.
public final class SpecialRule: Sendable, Identifiable {
    public enum Kind: Sendable, Hashable {
        /// Only the first `cap` of each article is taxable (Tennessee local tax on the first $1,600).
        case capPerArticle(cap: Int64)
        /// Only the first `cap` of a sale is taxable: of all the order's lines the rule covers, together, at each
        /// jurisdiction it limits (the Kenai Peninsula Borough taxes the first $500 of each sale).
        case capPerSale(cap: Int64)
        /// An article priced below `limit` is exempt (New York clothing under $110).
        case exemptBelowPerArticle(limit: Int64)
        /// The first `amount` of each article is exempt, the excess taxable (Massachusetts clothing over $175).
        case exemptFirstPerArticle(amount: Int64)
        /// A sales-tax holiday: an article priced at or below `maxPrice` is exempt during the period.
        case holiday(maxPrice: Int64)
        /// An extra state-level tax on the part of each article above `lower`, up to `upper`
        /// (Tennessee's 2.75% single-article tax on $1,600.01 to $3,200).
        case bandPerArticle(lower: Int64, upper: Int64, rate: Rate, jurisdiction: Jurisdiction)
        /// An extra state-level tax on the whole price of each article priced above `threshold` (Connecticut's
        /// 7.75% on clothing over $1,000: 6.35% and a 1.4% luxury line).
        case surtaxAbovePerArticle(threshold: Int64, rate: Rate, jurisdiction: Jurisdiction)
    }

    /// The jurisdiction and rate a band or surtax adds beside the line's own; nil for rules that change a base.
    public var addedTax: (rate: Rate, jurisdiction: Jurisdiction)? {
        switch kind {
        case .bandPerArticle(_, _, let rate, let jurisdiction), .surtaxAbovePerArticle(_, let rate, let jurisdiction): (rate, jurisdiction)
        case .capPerArticle, .capPerSale, .exemptBelowPerArticle, .exemptFirstPerArticle, .holiday: nil
        }
    }

    /// The cap of a `capPerSale` rule; nil for the rules that act on each article.
    public var saleCap: Int64? {
        if case .capPerSale(let cap) = kind { cap } else { nil }
    }

    public let id: String
    public let state: StateCode
    public let codes: Set<ProductTaxCode>
    /// The levels whose base the rule changes (unused for bands, which add their own jurisdiction).
    public let levels: Set<JurisdictionLevel>
    /// When set, local levels are affected only in these counties (FIPS); the state level always is.
    public let counties: Set<String>?
    /// When set, local levels are affected only on these jurisdictions' lines (their codes): a town's own cap
    /// inside a county whose other towns have other caps (Wasilla's $500). The state level always is.
    public let jurisdictionCodes: Set<String>?
    /// When the rule is in force: a period, or yearly days inside one (holidays that recur by law).
    public let schedule: RuleSchedule
    public var period: EffectivePeriod { schedule.period }
    public let kind: Kind
    public let provenance: Provenance
    /// How sure the tables are of the rule (a holiday known only from an unofficial source is `low`): a quote whose
    /// base a `low` rule changed says so.
    public let confidence: Confidence
    /// A holiday whose price limit is tested on the article's price with its share of the order's delivery charges
    /// (Texas: 34 TAC 3.365(n)(2), a $95 item with $10 shipping is a $105 sale and taxed). False: the price alone.
    public let priceIncludesDelivery: Bool

    public convenience init(id: String, state: StateCode, codes: Set<ProductTaxCode>, levels: Set<JurisdictionLevel>,
                            counties: Set<String>? = nil, jurisdictionCodes: Set<String>? = nil, period: EffectivePeriod, kind: Kind,
                            provenance: Provenance, confidence: Confidence = .high, priceIncludesDelivery: Bool = false) {
        self.init(id: id, state: state, codes: codes, levels: levels, counties: counties, jurisdictionCodes: jurisdictionCodes,
                  schedule: RuleSchedule(period: period), kind: kind, provenance: provenance, confidence: confidence,
                  priceIncludesDelivery: priceIncludesDelivery)
    }

    public init(id: String, state: StateCode, codes: Set<ProductTaxCode>, levels: Set<JurisdictionLevel>,
                counties: Set<String>? = nil, jurisdictionCodes: Set<String>? = nil, schedule: RuleSchedule, kind: Kind,
                provenance: Provenance, confidence: Confidence = .high, priceIncludesDelivery: Bool = false) {
        self.id = id
        self.state = state
        self.codes = codes
        self.levels = levels
        self.counties = counties
        self.jurisdictionCodes = jurisdictionCodes
        self.schedule = schedule
        self.kind = kind
        self.provenance = provenance
        self.confidence = confidence
        self.priceIncludesDelivery = priceIncludesDelivery
    }

    /// Whether the rule changes the base of `jurisdiction`'s line for a location in `countyFIPS`.
    func affects(_ jurisdiction: Jurisdiction, countyFIPS: String?) -> Bool {
        let level = jurisdiction.level
        guard levels.contains(level) else { return false }
        guard level != .state else { return true }
        if let jurisdictionCodes, !jurisdictionCodes.contains(jurisdiction.code) { return false }
        guard let counties else { return true }
        return countyFIPS.map(counties.contains) ?? false
    }

    /// The taxable part of one article priced `unit` (minor units) under this rule; `delivery` is the article's share
    /// of the order's delivery charges, which only a holiday that counts them in its limit looks at.
    func taxableBase(ofArticle unit: Int64, delivery: Int64 = 0) -> Int64 {
        switch kind {
        case .holiday(let maxPrice) where priceIncludesDelivery: unit + delivery <= maxPrice ? 0 : unit
        case .capPerArticle(let cap): min(unit, cap)
        case .capPerSale: unit  // acts on the sale, not the article (TaxCalculator.shareSaleCaps)
        case .exemptBelowPerArticle(let limit): unit < limit ? 0 : unit
        case .exemptFirstPerArticle(let amount): max(unit - amount, 0)
        case .holiday(let maxPrice): unit <= maxPrice ? 0 : unit
        case .bandPerArticle(let lower, let upper, _, _): min(max(unit - lower, 0), upper - lower)
        case .surtaxAbovePerArticle(let threshold, _, _): unit > threshold ? unit : 0
        }
    }
}

/// Splits an extended amount over `quantity` articles as evenly as cents allow (the first
/// `amount % quantity` articles carry one cent more), so per-article rules see real article prices.
struct Articles: Sequence {
    let amount: Int64
    let quantity: Int64

    func makeIterator() -> AnyIterator<(price: Int64, count: Int64)> {
        let base = amount / quantity
        let extra = amount % quantity
        var groups: [(Int64, Int64)] = []
        if extra > 0 { groups.append((base + 1, extra)) }
        if quantity - extra > 0 { groups.append((base, quantity - extra)) }
        var iterator = groups.makeIterator()
        return AnyIterator { iterator.next().map { (price: $0.0, count: $0.1) } }
    }

    /// The sum over articles of `transform(price)`.
    func total(_ transform: (Int64) -> Int64) -> Int64 {
        var sum: Int64 = 0
        for group in self { sum += transform(group.price) * group.count }
        return sum
    }

    /// The sum over articles of `transform(price, share)`, where `shares` (the line's part of another amount, such
    /// as the order's delivery charges) is split over the same articles the same way: the first articles carry the
    /// extra cents of both.
    func total(sharing shares: Int64, _ transform: (Int64, Int64) -> Int64) -> Int64 {
        let base = amount / quantity, extra = amount % quantity
        let shareBase = shares / quantity, shareExtra = shares % quantity
        var sum: Int64 = 0
        var start: Int64 = 0
        for end in [Swift.min(extra, shareExtra), Swift.max(extra, shareExtra), quantity] where end > start {
            sum += transform(base + (start < extra ? 1 : 0), shareBase + (start < shareExtra ? 1 : 0)) * (end - start)
            start = end
        }
        return sum
    }
}
