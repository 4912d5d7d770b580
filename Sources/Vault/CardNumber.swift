/// Card networks, recognised by issuer identification number (IIN) ranges.
public enum CardBrand: String, Sendable, Codable, CaseIterable {
    case visa, mastercard, amex, discover, jcb, diners, unionpay, maestro

    /// The brand of a card number, from the longest matching IIN prefix; nil when no range matches.
    static func detect(_ digits: [UInt8]) -> CardBrand? {
        func prefix(_ n: Int) -> Int { digits.prefix(n).reduce(0) { $0 * 10 + Int($1) } }
        let p2 = prefix(2), p3 = prefix(3), p4 = prefix(4), p6 = prefix(6)
        if p2 == 34 || p2 == 37 { return .amex }
        if (2221...2720).contains(p4) || (51...55).contains(p2) { return .mastercard }
        if p4 == 6011 || (644...649).contains(p3) || p2 == 65 || (622_126...622_925).contains(p6) { return .discover }
        if (3528...3589).contains(p4) { return .jcb }
        if (300...305).contains(p3) || p3 == 309 || p2 == 36 || p2 == 38 || p2 == 39 { return .diners }
        if p2 == 62 || p2 == 81 { return .unionpay }
        if digits.first == 4 { return .visa }
        if p2 == 50 || (56...58).contains(p2) || digits.first == 6 { return .maestro }
        return nil
    }

    /// Lengths the network issues.
    var lengths: ClosedRange<Int> {
        switch self {
        case .visa: 13...19
        case .mastercard: 16...16
        case .amex: 15...15
        case .discover, .jcb, .unionpay: 16...19
        case .diners: 14...19
        case .maestro: 12...19
        }
    }
}

/// Why a card was refused. No case ever carries the number or any part of it.
public enum CardValidationError: Error, Equatable, Sendable, CustomStringConvertible {
    case empty
    case notDigits
    case length(Int)
    case luhn
    case unknownBrand
    case lengthForBrand(CardBrand, Int)
    case invalidExpiryMonth
    case invalidExpiryYear
    case expired
    case invalidCVV

    public var description: String {
        switch self {
        case .empty: "the card number is empty"
        case .notDigits: "the card number may contain only digits, spaces and dashes"
        case .length(let n): "a card number has 12 to 19 digits, this one has \(n)"
        case .luhn: "the card number fails its check digit (Luhn)"
        case .unknownBrand: "the card number matches no supported card network"
        case .lengthForBrand(let brand, let n): "a \(brand.rawValue) card number cannot have \(n) digits"
        case .invalidExpiryMonth: "the expiry month must be 1-12"
        case .invalidExpiryYear: "the expiry year must be four digits, 2000-2199"
        case .expired: "the card has expired"
        case .invalidCVV: "the security code must be 3 or 4 digits"
        }
    }
}

/// A validated card number (PAN). Its description is masked, so printing or logging it never reveals it; the
/// digits are reachable only inside this module and by the payment processor adapter.
public struct CardNumber: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    let digits: [UInt8]
    public let brand: CardBrand

    /// Reads a card number, allowing spaces and dashes between digit groups.
    public init(_ text: String) throws(CardValidationError) {
        var digits: [UInt8] = []
        digits.reserveCapacity(19)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digits.append(byte - UInt8(ascii: "0"))
            case UInt8(ascii: " "), UInt8(ascii: "-"): continue
            default: throw .notDigits
            }
        }
        guard !digits.isEmpty else { throw .empty }
        guard (12...19).contains(digits.count) else { throw .length(digits.count) }
        guard Self.luhnValid(digits) else { throw .luhn }
        guard let brand = CardBrand.detect(digits) else { throw .unknownBrand }
        guard brand.lengths.contains(digits.count) else { throw .lengthForBrand(brand, digits.count) }
        self.digits = digits
        self.brand = brand
    }

    static func luhnValid(_ digits: [UInt8]) -> Bool {
        var sum = 0
        for (i, digit) in digits.reversed().enumerated() {
            var d = Int(digit)
            if i % 2 == 1 { d *= 2; if d > 9 { d -= 9 } }
            sum += d
        }
        return sum % 10 == 0
    }

    /// The first six digits, or eight for numbers of 16 digits or more (PCI DSS allows either as the BIN); none for
    /// numbers shorter than 14 digits, where six and the last four would leave three digits or fewer hidden (probe
    /// #12: a 12-digit Maestro number shown so was one of about ten with its check digit). Shown digits are chosen so
    /// that at least four stay hidden.
    public var bin: String {
        guard digits.count >= 14 else { return "" }
        return String(digits.prefix(digits.count >= 16 ? 8 : 6).map { Character(String($0)) })
    }
    public var lastFour: String { String(digits.suffix(4).map { Character(String($0)) }) }

    /// The digits as ASCII bytes, for encryption and the processor adapter only.
    var asciiBytes: [UInt8] { digits.map { $0 + UInt8(ascii: "0") } }

    public var masked: String { bin + String(repeating: "•", count: digits.count - bin.count - 4) + lastFour }
    public var description: String { "\(brand.rawValue) \(masked)" }
    public var debugDescription: String { description }
}

/// A card's expiry, checked against the current month.
public struct CardExpiry: Sendable, Hashable, Codable {
    public let month: Int
    public let year: Int

    public init(month: Int, year: Int) throws(CardValidationError) {
        guard (1...12).contains(month) else { throw .invalidExpiryMonth }
        guard (2000...2199).contains(year) else { throw .invalidExpiryYear }
        self.month = month
        self.year = year
    }

    /// A card is valid through the last day of its expiry month.
    public func isExpired(asOf year: Int, month: Int) -> Bool { (self.year, self.month) < (year, month) }
}
