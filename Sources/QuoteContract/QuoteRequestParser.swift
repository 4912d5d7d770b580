/// A fast path for reading quote requests: parses the common, well-formed request straight from bytes into a
/// `QuoteRequestDocument`. It accepts only what it is sure of; anything else (a syntax error, a type it does not
/// expect, an unknown or repeated key, a number that is not a plain integer, invalid UTF-8) returns nil, and the
/// caller decodes with JSONDecoder, which reports the problem with its field path. So both paths give the same
/// document for the same valid request (a test compares them) and errors read exactly as before.
struct QuoteRequestParser {
    let bytes: [UInt8]
    var index = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    static func parse(_ bytes: [UInt8]) -> QuoteRequestDocument? {
        var parser = QuoteRequestParser(bytes)
        guard let document = parser.request() else { return nil }
        parser.skipSpace()
        return parser.index == bytes.count ? document : nil
    }

    // MARK: - The contract's objects

    mutating func request() -> QuoteRequestDocument? {
        var document = QuoteRequestDocument()
        let ok = object { parser, key in
            switch key {
            case "date": return parser.optionalString(&document.date)
            case "currency": return parser.optionalString(&document.currency)
            case "origin": return parser.optional(&document.origin) { $0.address() }
            case "destination": return parser.optional(&document.destination) { $0.address() }
            case "billing": return parser.optional(&document.billing) { $0.address() }
            case "payment_address": return parser.optional(&document.paymentAddress) { $0.address() }
            case "seller":
                return parser.optional(&document.seller) { parser in
                    var seller = SellerDocument()
                    let ok = parser.object { parser, key in
                        key == "registrations" && parser.optional(&seller.registrations) { $0.list { $0.string() } }
                    }
                    return ok ? seller : nil
                }
            case "customer":
                return parser.optional(&document.customer) { parser in
                    var customer = CustomerDocument()
                    let ok = parser.object { parser, key in
                        key == "exemptions" && parser.optional(&customer.exemptions) { $0.list { $0.exemption() } }
                    }
                    return ok ? customer : nil
                }
            case "lines": return parser.optional(&document.lines) { $0.list { $0.line() } }
            case "rounding": return parser.optionalString(&document.rounding)
            default: return false
            }
        }
        return ok ? document : nil
    }

    mutating func address() -> AddressDocument? {
        var address = AddressDocument()
        let ok = object { parser, key in
            switch key {
            case "line1": parser.optionalString(&address.line1)
            case "city": parser.optionalString(&address.city)
            case "state": parser.optionalString(&address.state)
            case "zip": parser.optionalString(&address.zip)
            default: false
            }
        }
        return ok ? address : nil
    }

    mutating func exemption() -> ExemptionDocument? {
        var exemption = ExemptionDocument()
        let ok = object { parser, key in
            switch key {
            case "state": parser.optionalString(&exemption.state)
            case "reason": parser.optionalString(&exemption.reason)
            case "number": parser.optionalString(&exemption.number)
            case "expires": parser.optionalString(&exemption.expires)
            default: false
            }
        }
        return ok ? exemption : nil
    }

    mutating func line() -> LineDocument? {
        var line = LineDocument()
        let ok = object { parser, key in
            switch key {
            case "id":
                parser.skipSpace()
                if parser.peek == UInt8(ascii: "\"") || parser.peek == UInt8(ascii: "n") { return parser.optionalString(&line.id) }
                guard let number = parser.integer() else { return false }
                line.id = String(number)
                return true
            case "code": return parser.optionalString(&line.code)
            case "amount": return parser.optionalString(&line.amount)
            case "quantity": return parser.optional(&line.quantity) { $0.integer() }
            case "fulfilment": return parser.optionalString(&line.fulfilment)
            case "tax_included": return parser.optional(&line.taxIncluded) { $0.boolean() }
            case "location": return parser.optional(&line.location) { $0.address() }
            default: return false
            }
        }
        return ok ? line : nil
    }

    // MARK: - JSON

    var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

    mutating func skipSpace() {
        while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D || bytes[index] == 0x09 { index += 1 }
    }

    mutating func consume(_ byte: UInt8) -> Bool {
        skipSpace()
        guard peek == byte else { return false }
        index += 1
        return true
    }

    /// An object whose members are each read by `member` (false: unknown key or bad value). Repeated keys fail.
    mutating func object(_ member: (inout QuoteRequestParser, String) -> Bool) -> Bool {
        guard consume(UInt8(ascii: "{")) else { return false }
        if consume(UInt8(ascii: "}")) { return true }
        var seen: [String] = []
        repeat {
            skipSpace()
            guard let key = string(), !seen.contains(key), consume(UInt8(ascii: ":")) else { return false }
            seen.append(key)
            guard member(&self, key) else { return false }
        } while consume(UInt8(ascii: ","))
        return consume(UInt8(ascii: "}"))
    }

    mutating func list<T>(_ element: (inout QuoteRequestParser) -> T?) -> [T]? {
        guard consume(UInt8(ascii: "[")) else { return nil }
        var items: [T] = []
        if consume(UInt8(ascii: "]")) { return items }
        repeat {
            guard let item = element(&self) else { return nil }
            items.append(item)
        } while consume(UInt8(ascii: ","))
        return consume(UInt8(ascii: "]")) ? items : nil
    }

    /// A member that may be null (read as absent, as `decodeIfPresent` does).
    mutating func optional<T>(_ target: inout T?, _ read: (inout QuoteRequestParser) -> T?) -> Bool {
        if null() { target = nil; return true }
        guard let value = read(&self) else { return false }
        target = value
        return true
    }

    mutating func optionalString(_ target: inout String?) -> Bool { optional(&target) { $0.string() } }

    mutating func null() -> Bool {
        skipSpace()
        guard index + 4 <= bytes.count, bytes[index] == 110, bytes[index + 1] == 117, bytes[index + 2] == 108, bytes[index + 3] == 108 else {
            return false
        }
        index += 4
        return true
    }

    mutating func boolean() -> Bool? {
        skipSpace()
        if index + 4 <= bytes.count, bytes[index..<index + 4].elementsEqual([116, 114, 117, 101]) { index += 4; return true }
        if index + 5 <= bytes.count, bytes[index..<index + 5].elementsEqual([102, 97, 108, 115, 101]) { index += 5; return false }
        return nil
    }

    /// A plain integer (`-?[0-9]+`, no fraction or exponent) that fits in Int64.
    mutating func integer() -> Int64? {
        skipSpace()
        var negative = false
        if peek == UInt8(ascii: "-") { negative = true; index += 1 }
        let start = index
        var value: Int64 = 0
        while let byte = peek, byte >= 48, byte <= 57 {
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            let (plus, o2) = times.addingReportingOverflow(Int64(byte - 48))
            guard !o1, !o2 else { return nil }
            value = plus
            index += 1
        }
        guard index > start, !(index - start > 1 && bytes[start] == 48) else { return nil }
        if let byte = peek, byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") { return nil }
        return negative ? -value : value
    }

    /// A string; escapes are decoded. Invalid escapes or UTF-8 give nil.
    mutating func string() -> String? {
        skipSpace()
        guard peek == UInt8(ascii: "\"") else { return nil }
        index += 1
        let start = index
        while index < bytes.count, bytes[index] != UInt8(ascii: "\""), bytes[index] != UInt8(ascii: "\\"), bytes[index] >= 0x20 { index += 1 }
        guard index < bytes.count else { return nil }
        if bytes[index] == UInt8(ascii: "\"") {
            defer { index += 1 }
            return String(validating: bytes[start..<index], as: UTF8.self)
        }
        // Escapes (or a raw control character, which JSON forbids): decode slowly.
        var scalars: [UInt8] = Array(bytes[start..<index])
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                return String(validating: scalars, as: UTF8.self)
            }
            guard byte >= 0x20 else { return nil }
            if byte != UInt8(ascii: "\\") { scalars.append(byte); index += 1; continue }
            guard index + 1 < bytes.count else { return nil }
            let escape = bytes[index + 1]
            index += 2
            switch escape {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scalars.append(escape)
            case UInt8(ascii: "b"): scalars.append(0x08)
            case UInt8(ascii: "f"): scalars.append(0x0C)
            case UInt8(ascii: "n"): scalars.append(0x0A)
            case UInt8(ascii: "r"): scalars.append(0x0D)
            case UInt8(ascii: "t"): scalars.append(0x09)
            case UInt8(ascii: "u"):
                guard var code = hex4() else { return nil }
                if (0xD800..<0xDC00).contains(code) {
                    guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else { return nil }
                    index += 2
                    guard let low = hex4(), (0xDC00..<0xE000).contains(low) else { return nil }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00..<0xE000).contains(code) {
                    return nil
                }
                guard let scalar = Unicode.Scalar(code) else { return nil }
                scalars.append(contentsOf: Array(String(Character(scalar)).utf8))
            default: return nil
            }
        }
        return nil
    }

    mutating func hex4() -> UInt32? {
        guard index + 4 <= bytes.count else { return nil }
        var value: UInt32 = 0
        for byte in bytes[index..<index + 4] {
            let digit: UInt32
            switch byte {
            case 48...57: digit = UInt32(byte - 48)
            case 65...70: digit = UInt32(byte - 55)
            case 97...102: digit = UInt32(byte - 87)
            default: return nil
            }
            value = value << 4 | digit
        }
        index += 4
        return value
    }
}
