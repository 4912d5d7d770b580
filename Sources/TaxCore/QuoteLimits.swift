/// The bounds of an order the engine quotes. They are part of the contract (docs/quote-contract.md and the OpenAPI
/// document state them) and are checked at the edge and again by the engine, so that no order, however it
/// reaches the engine, can overflow a sum or run for long.
///
/// - 250 lines: Stripe's limit for the lines of one invoice, and far above a med spa's largest cart. An order
///   Levy accepts can therefore be invoiced line for line by the processor, and the worst quote costs well under a
///   millisecond.
/// - 999,999,999.99 per line (10^11 - 1 minor units) and 1,000,000 articles per line: 250 such lines sum to less
///   than 2.5 x 10^13 minor units, so every total, every tax (times a rate below 100%) and every refund fits an
///   `Int64` with room to spare, and exact products fit an `Int128`.
public enum QuoteLimits {
    public static let maxLines = 250
    /// The largest line amount in minor units.
    public static let maxLineAmount: Int64 = 99_999_999_999
    public static let maxQuantity: Int64 = 1_000_000
    /// More than any order within these limits can total, tax included (its lines' net, and tax below 100% of it):
    /// the bound of a stored payment amount, so that nothing written for an order is refused when read back.
    public static let maxOrderTotal: Int64 = Int64(maxLines) * maxLineAmount * 2
    /// Exemption certificates in one request.
    public static let maxExemptions = 50
    /// Discounts in one request.
    public static let maxDiscounts = 50
    /// Bytes of a line id, a certificate number or a discount id.
    public static let maxIdentifierBytes = 64
    /// Bytes of an address's street line or city.
    public static let maxAddressTextBytes = 200
}

/// Sums of money that refuse to overflow instead of trapping. Within `QuoteLimits` they never do; stored records
/// and callers outside the contract are not trusted to stay within them.
public enum CheckedMoney {
    public struct Overflow: Error, Sendable, Equatable {}

    public static func add(_ a: Int64, _ b: Int64) throws(Overflow) -> Int64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        if overflow { throw Overflow() }
        return sum
    }

    public static func subtract(_ a: Int64, _ b: Int64) throws(Overflow) -> Int64 {
        let (difference, overflow) = a.subtractingReportingOverflow(b)
        if overflow { throw Overflow() }
        return difference
    }

    public static func multiply(_ a: Int64, _ b: Int64) throws(Overflow) -> Int64 {
        let (product, overflow) = a.multipliedReportingOverflow(by: b)
        if overflow { throw Overflow() }
        return product
    }

    public static func sum<S: Sequence>(_ values: S) throws(Overflow) -> Int64 where S.Element == Int64 {
        var total: Int64 = 0
        for value in values { total = try add(total, value) }
        return total
    }
}
