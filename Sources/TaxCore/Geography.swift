/// A US state, DC or territory by its two-letter USPS code. Packed into two bytes: it is compared and hashed on
/// every line of every quote, and a `String` would cost a hash of text and a reference count each time.
public struct StateCode: Hashable, Sendable, Comparable, CustomStringConvertible {
    private let packed: UInt16

    /// Accepts two ASCII letters in either case.
    public init?(_ text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count == 2 else { return nil }
        func upper(_ b: UInt8) -> UInt8? {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): b
            case UInt8(ascii: "a")...UInt8(ascii: "z"): b - 32
            default: nil
            }
        }
        guard let first = upper(bytes[0]), let second = upper(bytes[1]) else { return nil }
        packed = UInt16(first) << 8 | UInt16(second)
    }

    /// A dense index in 0..<676 (26 x 26), for array-indexed per-state tables.
    public var slot: Int { Int((packed >> 8) - 65) * 26 + Int((packed & 0xFF) - 65) }

    /// The upper-case two-letter code.
    public var code: String {
        String(decoding: [UInt8(packed >> 8), UInt8(packed & 0xFF)], as: UTF8.self)
    }

    public static func < (lhs: StateCode, rhs: StateCode) -> Bool { lhs.packed < rhs.packed }
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
///
/// An immutable class: tens of thousands of table rows and every line of every quote share the same few
/// thousand jurisdictions, so a copy is one reference count rather than one per string.
public final class Jurisdiction: Hashable, Sendable {
    public let level: JurisdictionLevel
    public let state: StateCode
    public let name: String
    public let code: String

    public init(level: JurisdictionLevel, state: StateCode, name: String, code: String) {
        self.level = level
        self.state = state
        self.name = name
        self.code = code
    }

    public static func == (lhs: Jurisdiction, rhs: Jurisdiction) -> Bool {
        lhs === rhs || (lhs.level == rhs.level && lhs.state == rhs.state && lhs.code == rhs.code && lhs.name == rhs.name)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(level)
        hasher.combine(state)
        hasher.combine(code)
    }
}

extension StateCode {
    /// The USPS codes of the 50 states, DC and the five inhabited territories: the places a seller can be registered
    /// in (a request's `seller.registrations`, the merchant profile's).
    public static let usPlaces: Set<StateCode> = Set(("AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT "
        + "NE NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR GU VI AS MP").split(separator: " ").compactMap { StateCode(String($0)) })
}
