/// Why an order could not be quoted. Each case names the request field at fault.
public enum QuoteError: Error, Equatable, Sendable, CustomStringConvertible {
    case noLines
    case invalidQuantity(line: Int, quantity: Int64)
    case currencyMismatch(line: Int, expected: Currency, found: Currency)
    case unresolvableAddress(field: String, ResolutionError)
    case unknownState(field: String, StateCode)
    case noStateRate(field: String, StateCode, TaxDate)
    case noTaxability(line: Int, ProductTaxCode, StateCode, TaxDate)

    /// The request field at fault, as a path ("lines[2].quantity", "destination.zip").
    public var field: String {
        switch self {
        case .noLines: "lines"
        case .invalidQuantity(let line, _): "lines[\(line)].quantity"
        case .currencyMismatch(let line, _, _): "lines[\(line)].amount"
        case .unresolvableAddress(let field, _): field
        case .unknownState(let field, _): field
        case .noStateRate: "date"
        case .noTaxability(let line, _, _, _): "lines[\(line)].code"
        }
    }

    public var description: String {
        switch self {
        case .noLines: "the order has no lines"
        case .invalidQuantity(_, let quantity): "quantity must be at least 1, got \(quantity)"
        case .currencyMismatch(_, let expected, let found): "every line must be in \(expected), found \(found)"
        case .unresolvableAddress(_, let error): error.description
        case .unknownState(_, let state): "\(state) is not a state in the tables"
        case .noStateRate(_, let state, let date): "the tables have no \(state) state rate in force on \(date)"
        case .noTaxability(_, let code, let state, let date): "the tables do not say whether \(code.rawValue) is taxable in \(state) on \(date)"
        }
    }
}
