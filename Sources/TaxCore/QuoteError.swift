/// Why an order could not be quoted. Each case names the request field at fault.
public enum QuoteError: Error, Equatable, Sendable, CustomStringConvertible {
    case noLines
    case tooManyLines(Int)
    case invalidQuantity(line: Int, quantity: Int64)
    case amountOutOfRange(line: Int)
    /// A sum left the range of money (only possible for a request outside `QuoteLimits`).
    case overflow(field: String)
    /// A discount larger than what it applies to (`lines[1].discount`, `discounts[0].amount`).
    case discountTooLarge(field: String, limit: Int64)
    /// An order-level discount names a line the order does not have, or has nothing to apply to.
    case discountLines(field: String, String)
    case currencyMismatch(line: Int, expected: Currency, found: Currency)
    case unresolvableAddress(field: String, ResolutionError)
    case unknownState(field: String, StateCode)
    case noStateRate(field: String, StateCode, TaxDate)
    case noTaxability(line: Int, ProductTaxCode, StateCode, TaxDate)
    /// A jurisdiction a merchant pinned for its premises that the tables cannot rate on the date.
    case unknownPinnedJurisdiction(field: String, code: String, TaxDate)
    /// An election of a remote-seller program the tables do not have for that state (`seller.elections[0].type`).
    case unknownElection(field: String, StateCode, String)

    /// The request field at fault, as a path ("lines[2].quantity", "destination.zip").
    public var field: String {
        switch self {
        case .noLines, .tooManyLines: "lines"
        case .invalidQuantity(let line, _): "lines[\(line)].quantity"
        case .amountOutOfRange(let line): "lines[\(line)].amount"
        case .overflow(let field): field
        case .discountTooLarge(let field, _): field
        case .discountLines(let field, _): field
        case .currencyMismatch(let line, _, _): "lines[\(line)].amount"
        case .unresolvableAddress(let field, _): field
        case .unknownState(let field, _): field
        case .noStateRate: "date"
        case .noTaxability(let line, _, _, _): "lines[\(line)].code"
        case .unknownPinnedJurisdiction(let field, _, _): field
        case .unknownElection(let field, _, _): field
        }
    }

    public var description: String {
        switch self {
        case .noLines: "the order has no lines"
        case .tooManyLines(let count): "an order has at most \(QuoteLimits.maxLines) lines, got \(count)"
        case .invalidQuantity(_, let quantity): "quantity must be 1 to \(QuoteLimits.maxQuantity), got \(quantity)"
        case .amountOutOfRange: "a line amount must be 0 to \(DecimalText.format(QuoteLimits.maxLineAmount, scaleDigits: 2, trimTrailingZeros: false))"
        case .overflow: "the amounts are too large to add up"
        case .discountTooLarge(_, let limit):
            "the discount is larger than what it applies to (\(DecimalText.format(limit, scaleDigits: 2, trimTrailingZeros: false)))"
        case .discountLines(_, let why): why
        case .currencyMismatch(_, let expected, let found): "every line must be in \(expected), found \(found)"
        case .unresolvableAddress(_, let error): error.description
        case .unknownState(_, let state): "\(state) is not a state in the tables"
        case .noStateRate(_, let state, let date): "the tables have no \(state) state rate in force on \(date)"
        case .noTaxability(_, let code, let state, let date): "the tables do not say whether \(code.rawValue) is taxable in \(state) on \(date)"
        case .unknownPinnedJurisdiction(_, let code, let date):
            "the merchant profile pins jurisdiction \(code) for this location, and the tables have no local rate for it on \(date) (a state's own code is not one)"
        case .unknownElection(_, let state, let type):
            "the tables have no remote-seller program \"\(type)\" in \(state) (docs/quote-contract.md lists the programs)"
        }
    }
}
