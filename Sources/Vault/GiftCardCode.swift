import Crypto
import Storage

/// A gift card's code: a bearer secret, like a card number. Fifteen random characters (75 bits) of Crockford's
/// base32 and a check character, written `LGC-XXXX-XXXX-XXXX-XXXX`. The prefix and the check character let a
/// scanner recognise a code anywhere without a list (as the Luhn digit does for card numbers); the check character
/// also catches a mistyped character at the till before the store is asked. Only a keyed hash and the last four
/// characters are stored; the code itself is shown once, when the card is issued.
public struct GiftCardCode: Sendable, Hashable {
    /// The sixteen characters without prefix or dashes, upper case.
    public let canonical: String

    /// Crockford's base32: digits and upper-case letters without I, L, O and U, so nothing reads as something else.
    static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)
    static let randomCharacters = 15
    public static let prefix = "LGC"

    /// A new code from the system CSPRNG.
    public static func random() -> GiftCardCode {
        var generator = SystemRandomNumberGenerator()
        let values = (0..<randomCharacters).map { _ in Int.random(in: 0..<32, using: &generator) }
        return GiftCardCode(values: values + [checkValue(values)])
    }

    init(values: [Int]) {
        canonical = String(decoding: values.map { Self.alphabet[$0] }, as: UTF8.self)
    }

    /// Reads a code as a person might type it: any case, with or without the prefix, dashes or spaces, and with
    /// O, I and L read as 0, 1 and 1. Nil unless it has sixteen characters of the alphabet and the right check.
    public init?(_ text: String) {
        guard text.utf8.count <= 40 else { return nil }
        var body = Array(text.uppercased().utf8.filter { $0 != UInt8(ascii: "-") && $0 != UInt8(ascii: " ") })
        if body.count == 19, body.starts(with: Array(Self.prefix.utf8)) { body.removeFirst(3) }
        guard body.count == 16 else { return nil }
        var values: [Int] = []
        for byte in body {
            guard let value = Self.value(of: byte) else { return nil }
            values.append(value)
        }
        guard Self.checkValue(Array(values.prefix(Self.randomCharacters))) == values[Self.randomCharacters] else { return nil }
        self.init(values: values)
    }

    static func value(of byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "O"): 0
        case UInt8(ascii: "I"), UInt8(ascii: "L"): 1
        default: alphabet.firstIndex(of: byte)
        }
    }

    /// The check character: the sum of the values weighted by odd numbers (each a unit modulo 32, so any single
    /// wrong character changes the sum), modulo 32.
    static func checkValue(_ values: [Int]) -> Int {
        values.enumerated().reduce(0) { ($0 + $1.element * (2 * $1.offset + 1)) % 32 }
    }

    /// `LGC-XXXX-XXXX-XXXX-XXXX`, how the code is shown to the buyer.
    public var display: String {
        let characters = Array(canonical)
        return Self.prefix + stride(from: 0, to: 16, by: 4).map { "-" + String(characters[$0..<$0 + 4]) }.joined()
    }

    /// What may be shown again after issue: the last four characters.
    public var lastFour: String { String(canonical.suffix(4)) }

    /// The stored form: HMAC-SHA256 of the canonical code under a key derived from the master key, in hex. Without
    /// the key a stolen database cannot be searched for codes by guessing.
    public func keyedHash(_ key: GiftCardKey) -> String {
        hexString(HMAC<SHA256>.authenticationCode(for: Array(canonical.utf8), using: key.symmetric))
    }

    /// Every gift card code in `bytes` written as shown (`LGC-` and four groups) or without dashes, in either case,
    /// with a valid check character and standing alone (not inside a longer run of letters, digits, `_` or `-`, as
    /// base32 ids are): (offset, code). For the card-data scan.
    public static func occurrences(in bytes: [UInt8]) -> [(offset: Int, code: GiftCardCode)] {
        func joins(_ i: Int) -> Bool {
            guard i >= 0, i < bytes.count else { return false }
            let b = bytes[i]
            return (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || b == UInt8(ascii: "_") || b == UInt8(ascii: "-")
        }
        var found: [(Int, GiftCardCode)] = []
        let prefixBytes = Array(prefix.utf8)
        var index = 0
        while index + 19 <= bytes.count {
            defer { index += 1 }
            guard bytes[index] == prefixBytes[0] || bytes[index] == prefixBytes[0] + 32, !joins(index - 1) else { continue }
            let upper = bytes[index..<min(index + 23, bytes.count)].map { $0 >= 97 && $0 <= 122 ? $0 - 32 : $0 }
            guard upper.starts(with: prefixBytes) else { continue }
            for length in [23, 19] where upper.count >= length && !joins(index + length) {
                let candidate = String(decoding: upper[0..<length], as: UTF8.self)
                let dashed = length == 23
                guard dashed == (upper[3] == UInt8(ascii: "-")) else { continue }
                if let code = GiftCardCode(candidate) {
                    found.append((index, code))
                    break
                }
            }
        }
        return found
    }
}

/// The key gift card codes are hashed with: derived from the vault's master key, never stored.
public struct GiftCardKey: Sendable {
    let bytes: [UInt8]
    var symmetric: SymmetricKey { SymmetricKey(data: bytes) }

    public init(masterKey: MasterKey) {
        bytes = masterKey.derivedKeyBytes(purpose: "gift-card-code-v1")
    }
}
