/// A US state, DC or territory by its two-letter USPS code (always upper case).
public struct StateCode: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let code: String

    /// Accepts two ASCII letters in either case.
    public init?(_ text: String) {
        let upper = text.uppercased()
        guard upper.utf8.count == 2, upper.utf8.allSatisfy({ $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) else { return nil }
        code = upper
    }

    public static func < (lhs: StateCode, rhs: StateCode) -> Bool { lhs.code < rhs.code }
    public var description: String { code }
}

/// A ZIP code: five digits and, when known, the four-digit add-on.
public struct ZipCode: Hashable, Sendable, CustomStringConvertible {
    public let zip5: Int32
    public let plus4: Int16?

    /// Accepts `12345`, `12345-6789` and `123456789`.
    public init?(_ text: String) {
        let digits = text.utf8.filter { $0 != UInt8(ascii: "-") }
        let dashes = text.utf8.count - digits.count
        guard digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        func value(_ slice: ArraySlice<UInt8>) -> Int { slice.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) } }
        switch (digits.count, dashes) {
        case (5, 0):
            zip5 = Int32(value(digits[...])); plus4 = nil
        case (9, 0), (9, 1):
            if dashes == 1, text.utf8.firstIndex(of: UInt8(ascii: "-")) != text.utf8.index(text.utf8.startIndex, offsetBy: 5) { return nil }
            zip5 = Int32(value(digits[0..<5])); plus4 = Int16(value(digits[5..<9]))
        default:
            return nil
        }
    }

    public init(zip5: Int32, plus4: Int16? = nil) {
        self.zip5 = zip5
        self.plus4 = plus4
    }

    public var zip5String: String {
        let s = String(zip5)
        return String(repeating: "0", count: 5 - s.count) + s
    }

    public var description: String {
        guard let plus4 else { return zip5String }
        let s = String(plus4)
        return zip5String + "-" + String(repeating: "0", count: 4 - s.count) + s
    }
}

/// A postal address as given by the caller. Levy keeps what it was given, to show which address it used.
public struct Address: Hashable, Sendable {
    public var line1: String
    public var city: String
    public var state: StateCode
    public var zip: ZipCode

    public init(line1: String = "", city: String = "", state: StateCode, zip: ZipCode) {
        self.line1 = line1
        self.city = city
        self.state = state
        self.zip = zip
    }
}

/// The level of government that levies a tax.
public enum JurisdictionLevel: String, Sendable, CaseIterable, Comparable {
    case state, county, city, special

    var order: Int {
        switch self {
        case .state: 0
        case .county: 1
        case .city: 2
        case .special: 3
        }
    }

    public static func < (lhs: JurisdictionLevel, rhs: JurisdictionLevel) -> Bool { lhs.order < rhs.order }
}

/// A taxing jurisdiction. `code` is its FIPS code where one is known (state "27", county "27053"), otherwise
/// a Levy code documented in docs/tax-tables.md.
public struct Jurisdiction: Hashable, Sendable {
    public var level: JurisdictionLevel
    public var state: StateCode
    public var name: String
    public var code: String

    public init(level: JurisdictionLevel, state: StateCode, name: String, code: String) {
        self.level = level
        self.state = state
        self.name = name
        self.code = code
    }
}
