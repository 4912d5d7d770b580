/// An ISO 4217 currency with its number of minor-unit digits.
public struct Currency: Hashable, Sendable, CustomStringConvertible {
    public let code: String
    public let minorDigits: Int

    public static let usd = Currency(code: "USD", minorDigits: 2)

    public var description: String { code }
}

/// An exact amount of money in integer minor units (cents for USD). Never a floating-point value.
public struct Money: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var minorUnits: Int64
    public var currency: Currency

    public init(minorUnits: Int64, currency: Currency = .usd) {
        self.minorUnits = minorUnits
        self.currency = currency
    }

    public static func zero(_ currency: Currency = .usd) -> Money { Money(minorUnits: 0, currency: currency) }

    public static func < (lhs: Money, rhs: Money) -> Bool {
        precondition(lhs.currency == rhs.currency, "comparing \(lhs.currency) with \(rhs.currency)")
        return lhs.minorUnits < rhs.minorUnits
    }

    public static func + (lhs: Money, rhs: Money) -> Money {
        precondition(lhs.currency == rhs.currency, "adding \(lhs.currency) to \(rhs.currency)")
        return Money(minorUnits: lhs.minorUnits + rhs.minorUnits, currency: lhs.currency)
    }

    public static func - (lhs: Money, rhs: Money) -> Money {
        precondition(lhs.currency == rhs.currency, "subtracting \(rhs.currency) from \(lhs.currency)")
        return Money(minorUnits: lhs.minorUnits - rhs.minorUnits, currency: lhs.currency)
    }

    /// The amount as a plain decimal string with exactly the currency's minor digits ("9.03", "-0.50").
    public var decimalString: String {
        DecimalText.format(minorUnits, scaleDigits: currency.minorDigits, trimTrailingZeros: false)
    }

    public var description: String { "\(decimalString) \(currency.code)" }

    /// Parses a plain decimal string ("100", "100.5", "100.50"). Rejects signs, exponents, separators and
    /// more fractional digits than the currency has: an amount is never silently rounded on input.
    public static func parse(_ text: String, currency: Currency = .usd) throws(DecimalTextError) -> Money {
        let units = try DecimalText.parse(text, scaleDigits: currency.minorDigits, allowNegative: false)
        return Money(minorUnits: units, currency: currency)
    }

    /// Parses an amount a client sends, in exactly the form the API documents (`AmountInput`): one to nine digits,
    /// optionally a point and one to the currency's minor digits ("12", "12.5", "12.50"; not "12.", ".5",
    /// "0000000012.50" or "12.500"), so that what a client sends reads one way in every reader.
    public static func parseInput(_ text: String, currency: Currency = .usd) throws(DecimalTextError) -> Money {
        let parts = text.utf8.split(separator: UInt8(ascii: "."), maxSplits: 1, omittingEmptySubsequences: false)
        let isDigits = { (part: Substring.UTF8View.SubSequence) in part.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") } }
        guard !text.isEmpty else { throw .empty }
        guard let integer = parts.first, (1...9).contains(integer.count), isDigits(integer),
              parts.count == 1 || parts[1].count >= 1 && parts[1].count <= currency.minorDigits && isDigits(parts[1]) else {
            throw .notAnAmount(text, fractionDigits: currency.minorDigits)
        }
        return try parse(text, currency: currency)
    }
}

/// Why a decimal string could not be read.
public enum DecimalTextError: Error, Equatable, Sendable, CustomStringConvertible {
    case empty
    case notADecimal(String)
    case tooManyFractionDigits(String, allowed: Int)
    case negative(String)
    case outOfRange(String)
    case notAnAmount(String, fractionDigits: Int)

    public var description: String {
        switch self {
        case .empty: "is empty"
        case .notADecimal(let text): "\"\(text)\" is not a plain decimal number (digits with an optional '.')"
        case .tooManyFractionDigits(let text, let allowed): "\"\(text)\" has more than \(allowed) digits after the point"
        case .negative(let text): "\"\(text)\" is negative"
        case .outOfRange(let text): "\"\(text)\" is too large"
        case .notAnAmount(let text, let digits):
            // A long value is not repeated: the card-number mask would turn it into "[digits removed]" and hide the error.
            (text.count <= 12 ? "\"\(text)\" " : "") + "is not an amount: 1 to 9 digits, optionally a point and 1 to \(digits) more (\"12.50\")"
        }
    }
}

/// Exact conversion between decimal text and scaled integers, shared by money and rates.
public enum DecimalText {
    /// Parses `text` into an integer scaled by 10^scaleDigits. Exact or an error: nothing is rounded.
    public static func parse(_ text: String, scaleDigits: Int, allowNegative: Bool) throws(DecimalTextError) -> Int64 {
        var bytes = Substring(text).utf8[...]
        if bytes.isEmpty { throw .empty }
        var negative = false
        if bytes.first == UInt8(ascii: "-") {
            guard allowNegative else { throw .negative(text) }
            negative = true
            bytes = bytes.dropFirst()
        }
        var integer: Int64 = 0
        var fraction: Int64 = 0
        var fractionDigits = 0
        var seenPoint = false
        var digitCount = 0
        for byte in bytes {
            if byte == UInt8(ascii: ".") {
                if seenPoint { throw .notADecimal(text) }
                seenPoint = true
                continue
            }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { throw .notADecimal(text) }
            let digit = Int64(byte - UInt8(ascii: "0"))
            digitCount += 1
            if seenPoint {
                fractionDigits += 1
                if fractionDigits > scaleDigits {
                    // Trailing zeros beyond the scale carry no value ("0.050000" for a 4-digit scale is fine).
                    if digit == 0 { continue }
                    throw .tooManyFractionDigits(text, allowed: scaleDigits)
                }
                fraction = fraction * 10 + digit
            } else {
                let (shifted, o1) = integer.multipliedReportingOverflow(by: 10)
                let (next, o2) = shifted.addingReportingOverflow(digit)
                if o1 || o2 { throw .outOfRange(text) }
                integer = next
            }
        }
        if digitCount == 0 { throw .notADecimal(text) }
        for _ in Swift.min(fractionDigits, scaleDigits)..<scaleDigits { fraction *= 10 }
        var scale: Int64 = 1
        for _ in 0..<scaleDigits { scale *= 10 }
        let (scaled, o1) = integer.multipliedReportingOverflow(by: scale)
        let (value, o2) = scaled.addingReportingOverflow(fraction)
        if o1 || o2 { throw .outOfRange(text) }
        return negative ? -value : value
    }

    /// Formats an integer scaled by 10^scaleDigits as decimal text.
    public static func format(_ value: Int64, scaleDigits: Int, trimTrailingZeros: Bool) -> String {
        var scale: Int64 = 1
        for _ in 0..<scaleDigits { scale *= 10 }
        let magnitude = value.magnitude
        let integer = magnitude / UInt64(scale)
        var fraction = String(magnitude % UInt64(scale))
        fraction = String(repeating: "0", count: scaleDigits - fraction.count) + fraction
        if trimTrailingZeros {
            while fraction.last == "0" { fraction.removeLast() }
        }
        let sign = value < 0 ? "-" : ""
        return fraction.isEmpty ? "\(sign)\(integer)" : "\(sign)\(integer).\(fraction)"
    }
}
