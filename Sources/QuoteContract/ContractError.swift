import JSONInput

/// A request the contract refuses, with the path of the field at fault ("lines[0].amount").
public struct ContractError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Stable machine-readable codes; documented in docs/quote-contract.md.
    public enum Code: String, Sendable {
        case invalidJSON = "invalid_json"
        /// Bytes that are not UTF-8, or a `\u` escape of a lone surrogate: the same code as every other route's.
        case invalidUTF8 = "invalid_utf8"
        case missingField = "missing_field"
        case unknownField = "unknown_field"
        /// A member name repeated in one object (RFC 7493): which one counts is ambiguous, so neither does.
        case duplicateField = "duplicate_field"
        case invalidValue = "invalid_value"
        case unquotable = "unquotable"
    }

    public var code: Code
    public var field: String
    public var message: String

    /// A card number in the field or message (an unknown member named with one) is masked (`CardNumberMask`).
    public init(_ code: Code, field: String, _ message: String) {
        self.code = code
        self.field = CardNumberMask.masked(field)
        self.message = CardNumberMask.masked(message)
    }

    public var description: String { field.isEmpty ? message : "\(field): \(message)" }
}
