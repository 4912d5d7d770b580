/// A state's economic-nexus threshold for remote sellers, as dated table data: the sales amount and/or the number
/// of transactions in a measurement period above which a seller must register and collect.
public struct NexusThreshold: Sendable, Hashable {
    public enum Combine: String, Sendable, CaseIterable {
        /// Either threshold alone is enough.
        case or
        /// Both must be met.
        case and
    }

    /// Which sales count toward the amount: all of them, retail sales (not sales for resale), or taxable sales.
    public enum CountedSales: String, Sendable, CaseIterable {
        case gross, retail, taxable, none
    }

    public var state: StateCode
    public var period: EffectivePeriod
    /// Minor units; nil for a state with no sales tax (no threshold).
    public var sales: Int64?
    public var transactions: Int?
    public var combine: Combine
    /// The state's own measurement period, as the tables name it (`previous_or_current_calendar_year`,
    /// `preceding_12_months`, …). Reports say which they measured.
    public var measurement: String
    public var counted: CountedSales
    public var confidence: Confidence
    public var provenance: Provenance

    public init(state: StateCode, period: EffectivePeriod, sales: Int64?, transactions: Int?, combine: Combine, measurement: String,
                counted: CountedSales, confidence: Confidence, provenance: Provenance) {
        self.state = state
        self.period = period
        self.sales = sales
        self.transactions = transactions
        self.combine = combine
        self.measurement = measurement
        self.counted = counted
        self.confidence = confidence
        self.provenance = provenance
    }

    public enum Status: String, Sendable {
        /// Met (amounts and counts at or above the threshold, as combined).
        case crossed
        /// Not met, but one of the measures is at or above `near` percent of its threshold.
        case near
        case below
        /// The state has no sales tax.
        case noSalesTax = "no_sales_tax"
    }

    /// Where a seller with these sales (minor units) and transactions stands. `nearPercent` is whole percent.
    public func status(sales amount: Int64, transactions count: Int, nearPercent: Int = 80) -> Status {
        guard sales != nil || transactions != nil else { return .noSalesTax }
        let salesMet = sales.map { amount >= $0 }
        let countMet = transactions.map { count >= $0 }
        let met: Bool
        switch combine {
        case .or: met = (salesMet ?? false) || (countMet ?? false)
        case .and: met = (salesMet ?? true) && (countMet ?? true)
        }
        if met { return .crossed }
        // In 128 bits: a threshold or a percentage from a hand-edited table or a flag cannot overflow the products.
        let salesNear = sales.map { Int128(amount) * 100 >= Int128($0) * Int128(nearPercent) } ?? false
        let countNear = transactions.map { Int128(count) * 100 >= Int128($0) * Int128(nearPercent) } ?? false
        return salesNear || countNear ? .near : .below
    }
}
