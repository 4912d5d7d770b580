/// An exact tax rate as a fraction (0.06875 is 6.875%), held as an integer count of 10^-10.
///
/// Ten fractional digits cover every published US rate (the SST files use at most seven) with room to
/// spare, and `Int64` keeps any rate up to 100% far from overflow.
public struct Rate: Hashable, Sendable, Comparable, CustomStringConvertible {
    public static let scaleDigits = 10
    public static let scale: Int64 = 10_000_000_000

    /// The rate in units of 10^-10.
    public var units: Int64

    public init(units: Int64) { self.units = units }

    public static let zero = Rate(units: 0)

    public var isZero: Bool { units == 0 }

    public static func < (lhs: Rate, rhs: Rate) -> Bool { lhs.units < rhs.units }
    public static func + (lhs: Rate, rhs: Rate) -> Rate { Rate(units: lhs.units + rhs.units) }

    /// Parses a fraction ("0.06875"). Rates above 1 (100%) are refused: they are always a data error.
    public static func parse(fraction text: String) throws(DecimalTextError) -> Rate {
        let units = try DecimalText.parse(text, scaleDigits: scaleDigits, allowNegative: false)
        guard units <= scale else { throw .outOfRange(text) }
        return Rate(units: units)
    }

    /// Parses a percentage ("6.875" for 6.875%).
    public static func parse(percent text: String) throws(DecimalTextError) -> Rate {
        let hundredths = try DecimalText.parse(text, scaleDigits: scaleDigits - 2, allowNegative: false)
        guard hundredths <= scale else { throw .outOfRange(text) }
        return Rate(units: hundredths)
    }

    /// The fraction as the shortest exact decimal text ("0.09025").
    public var fractionString: String { DecimalText.format(units, scaleDigits: Self.scaleDigits, trimTrailingZeros: true) }

    /// The percentage as the shortest exact decimal text ("9.025").
    public var percentString: String { DecimalText.format(units, scaleDigits: Self.scaleDigits - 2, trimTrailingZeros: true) }

    public var description: String { "\(percentString)%" }
}

/// An exact tax amount before rounding: minor units times rate units, so one unit is 10^-10 of a cent.
/// `Int128` keeps any order total times any rate exact.
public struct ExactAmount: Hashable, Sendable, Comparable {
    public var scaled: Int128

    public init(scaled: Int128) { self.scaled = scaled }

    public static let zero = ExactAmount(scaled: 0)

    /// `amount` (minor units) taxed at `rate`, exactly.
    public init(minorUnits: Int64, rate: Rate) {
        scaled = Int128(minorUnits) * Int128(rate.units)
    }

    public static func + (lhs: ExactAmount, rhs: ExactAmount) -> ExactAmount { ExactAmount(scaled: lhs.scaled + rhs.scaled) }
    public static func - (lhs: ExactAmount, rhs: ExactAmount) -> ExactAmount { ExactAmount(scaled: lhs.scaled - rhs.scaled) }
    public static func < (lhs: ExactAmount, rhs: ExactAmount) -> Bool { lhs.scaled < rhs.scaled }

    /// Whole minor units toward zero, and the remainder (same sign as the amount).
    public var truncatedMinorUnits: (whole: Int64, remainder: Int128) {
        let scale = Int128(Rate.scale)
        let whole = scaled / scale
        return (Int64(whole), scaled - whole * scale)
    }

    /// Rounded to whole minor units, half away from zero. For positive amounts this is exactly SSUTA 324:
    /// carrying to the third decimal and rounding up when it is 5 or more gives the same cent.
    public var roundedHalfAwayFromZero: Int64 {
        let scale = Int128(Rate.scale)
        let (whole, remainder) = truncatedMinorUnits
        if remainder.magnitude * 2 >= scale.magnitude {
            return remainder < 0 ? whole - 1 : whole + 1
        }
        return whole
    }
}
