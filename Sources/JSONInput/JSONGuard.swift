/// Checks a request body before any decoder reads it: well-formed UTF-8 JSON (RFC 8259) that is also I-JSON
/// (RFC 7493: no duplicate member names, no lone surrogates), within Levy's limits on depth, sizes and characters.
///
/// Decoders disagree on what a duplicate name means (Foundation's keeps one, a hand-written parser another), so
/// the same bytes could be quoted as one cart and charged as another. Refusing duplicates before decoding makes
/// every reader see the same document. Problems are reported with the field path (`lines[0].amount`).
public enum JSONGuard {
    /// The limits every body is held to. Field-specific limits (an id's length, a ZIP's form) are checked later by
    /// the code that knows the field; these are the outer walls.
    public struct Limits: Sendable, Equatable {
        /// Nesting of objects and arrays.
        public var maxDepth: Int
        /// Bytes of one string after unescaping (the longest free-text field is far shorter).
        public var maxStringBytes: Int
        /// Members of one object or elements of one array.
        public var maxElements: Int
        /// Characters of one number literal.
        public var maxNumberLength: Int

        public init(maxDepth: Int = 16, maxStringBytes: Int = 4_096, maxElements: Int = 1_000, maxNumberLength: Int = 32) {
            self.maxDepth = maxDepth
            self.maxStringBytes = maxStringBytes
            self.maxElements = maxElements
            self.maxNumberLength = maxNumberLength
        }

        public static let standard = Limits()
    }

    /// Why a body was refused. `path` is the field at fault ("" for the document itself).
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public enum Kind: String, Sendable {
            case invalidUTF8 = "invalid_utf8"
            case syntax = "invalid_json"
            case duplicateName = "duplicate_field"
            case tooDeep = "too_deep"
            case tooLong = "too_long"
            case tooMany = "too_many"
            case controlCharacter = "control_character"
        }

        public var kind: Kind
        public var path: String
        /// The byte offset where the problem was found.
        public var offset: Int
        public var message: String

        public var description: String { path.isEmpty ? message : "\(path): \(message)" }

        /// Where in a file `offset` falls, for an error that names a line and column (both from 1; the column counts
        /// bytes, as editors showing byte columns do).
        public func position(in bytes: [UInt8]) -> (line: Int, column: Int) { JSONGuard.position(of: offset, in: bytes) }

        /// The failure as a file's error: `name:line:column: path: message`.
        public func located(file name: String, in bytes: [UInt8]) -> String {
            let (line, column) = position(in: bytes)
            return "\(name):\(line):\(column): \(fileDescription)"
        }

        /// The description as said of a file rather than of a request body.
        public var fileDescription: String {
            description.replacing("the body", with: "the file").replacing("send plain UTF-8", with: "save it as UTF-8 without one")
                .replacing("send a JSON object", with: "write a JSON object")
                .replacing("JSON must be sent as UTF-8", with: "save it as UTF-8")
        }
    }

    /// The line and column (both from 1; the column counts bytes) of a byte offset in a file.
    public static func position(of offset: Int, in bytes: [UInt8]) -> (line: Int, column: Int) {
        var (line, lineStart) = (1, 0)
        for index in 0..<min(max(offset, 0), bytes.count) where bytes[index] == UInt8(ascii: "\n") { (line, lineStart) = (line + 1, index + 1) }
        return (line, min(max(offset, 0), bytes.count) - lineStart + 1)
    }

    /// What a check found in a document it accepts.
    public struct Findings: Sendable, Equatable {
        /// The path of the first number whose exact value is not a whole number (`0.99999999999999999999`, `1.5`,
        /// `15e-1`), or nil. A decoder reading a whole-number field through a `Double` rounds the first to 1, so a
        /// caller that decoded the document refuses it by this path (probe #21: a quantity of 1 and a refund of line
        /// 1 were read from it). `2.0` and `1e3` are whole numbers, exactly.
        public var firstFractionalNumber: String?
    }

    /// Checks `bytes`; the top level must be an object when `requireObject` is true.
    @discardableResult
    public static func check(_ bytes: [UInt8], limits: Limits = .standard, requireObject: Bool = true) throws(Failure) -> Findings {
        // JSON text never holds a NUL byte; UTF-16 (without its byte-order mark) holds one in every ASCII character,
        // and would otherwise be refused as a puzzling syntax error at its second byte.
        if let nul = bytes.prefix(4).firstIndex(of: 0) {
            throw Failure(kind: .invalidUTF8, path: "", offset: nul,
                          message: "the body holds NUL bytes: it looks like UTF-16 or UTF-32; JSON must be sent as UTF-8")
        }
        var scanner = Scanner(bytes: bytes, limits: limits)
        try scanner.skipBOMAndSpace()
        if requireObject, scanner.peek != UInt8(ascii: "{") {
            throw scanner.fail(.syntax, "the body must be a JSON object")
        }
        try scanner.value(depth: 0)
        scanner.skipSpace()
        if scanner.index != bytes.count { throw scanner.fail(.syntax, "unexpected text after the JSON value") }
        return Findings(firstFractionalNumber: scanner.firstFractional)
    }

    /// The path of the first number in `bytes` that is not a whole number an `Int64` holds (`1.5`, `1e3`,
    /// `9223372036854775808`), or nil. For naming the field when a decoder refuses such a number without its path
    /// (Foundation's `JSONDecoder` does for a fraction or an overflow where an integer is expected).
    public static func firstNonWholeNumber(_ bytes: [UInt8]) -> String? {
        var scanner = Scanner(bytes: bytes, limits: .standard)
        do {
            try scanner.skipBOMAndSpace()
            try scanner.value(depth: 0)
        } catch {}
        return scanner.firstNonWhole
    }

    /// Where each value of a document that `check` accepts starts: byte offsets by path ("" for the document,
    /// "format", "lines[0].amount"), down to `depth` levels. For a file whose content is checked after decoding, so
    /// that a wrong value is still reported at its line and column. nil when `check` would refuse the bytes.
    public static func valueOffsets(_ bytes: [UInt8], limits: Limits = .standard, depth: Int = 2) -> [String: Int]? {
        var scanner = Scanner(bytes: bytes, limits: limits)
        scanner.offsets = [:]
        scanner.offsetDepth = depth
        do {
            try scanner.skipBOMAndSpace()
            try scanner.value(depth: 0)
        } catch { return nil }
        scanner.skipSpace()
        return scanner.index == bytes.count ? scanner.offsets : nil
    }

    struct Scanner {
        let bytes: [UInt8]
        let limits: Limits
        var index = 0
        /// The path of the first number read that is not a whole `Int64` (see `firstNonWholeNumber`).
        var firstNonWhole: String?
        /// The path of the first number read whose exact value is not whole (see `Findings`).
        var firstFractional: String?
        /// Where values start, by path, when asked for (see `valueOffsets`).
        var offsets: [String: Int]?
        var offsetDepth = 0
        /// The path to the value being read: member names and array indexes.
        var path: [PathPart] = []

        enum PathPart {
            case name(String)
            case index(Int)
        }

        init(bytes: [UInt8], limits: Limits) {
            self.bytes = bytes
            self.limits = limits
        }

        var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

        var pathText: String {
            var text = ""
            for part in path {
                switch part {
                case .name(let name): text += text.isEmpty ? name : "." + name
                case .index(let i): text += "[\(i)]"
                }
            }
            return text
        }

        func fail(_ kind: Failure.Kind, _ message: String) -> Failure {
            Failure(kind: kind, path: pathText, offset: index, message: message)
        }

        mutating func skipSpace() {
            while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D || bytes[index] == 0x09 {
                index += 1
            }
        }

        mutating func skipBOMAndSpace() throws(Failure) {
            if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF {
                // RFC 8259 8.1: a parser may ignore a BOM; I-JSON says not to send one. Refused, plainly.
                throw Failure(kind: .syntax, path: "", offset: 0, message: "the body starts with a byte-order mark; send plain UTF-8")
            }
            skipSpace()
            if index == bytes.count { throw fail(.syntax, "the body is empty; send a JSON object") }
        }

        mutating func value(depth: Int) throws(Failure) {
            skipSpace()
            if offsets != nil, path.count <= offsetDepth {
                let (key, at) = (pathText, index)
                offsets?[key] = at
            }
            guard let byte = peek else { throw fail(.syntax, "a value is missing (the body ends early)") }
            switch byte {
            case UInt8(ascii: "{"): try object(depth: depth + 1)
            case UInt8(ascii: "["): try array(depth: depth + 1)
            case UInt8(ascii: "\""): _ = try string()
            case UInt8(ascii: "t"): try literal("true")
            case UInt8(ascii: "f"): try literal("false")
            case UInt8(ascii: "n"): try literal("null")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number()
            default:
                if byte >= 0x80 { _ = try checkUTF8Here() }
                throw fail(.syntax, "unexpected character \(Self.describe(byte)) where a value should be")
            }
        }

        mutating func literal(_ word: String) throws(Failure) {
            let expected = Array(word.utf8)
            guard bytes.count - index >= expected.count, bytes[index..<index + expected.count].elementsEqual(expected) else {
                throw fail(.syntax, "unexpected text where a value should be")
            }
            index += expected.count
        }

        mutating func object(depth: Int) throws(Failure) {
            guard depth <= limits.maxDepth else { throw fail(.tooDeep, "nested deeper than \(limits.maxDepth) levels") }
            index += 1
            var names = Set<String>()
            skipSpace()
            if peek == UInt8(ascii: "}") {
                index += 1
                return
            }
            while true {
                skipSpace()
                guard peek == UInt8(ascii: "\"") else { throw fail(.syntax, "expected a member name in double quotes") }
                let name = try string()
                guard names.insert(name).inserted else {
                    path.append(.name(name))
                    defer { path.removeLast() }
                    throw fail(.duplicateName, "the member \"\(name)\" appears more than once (RFC 7493 forbids duplicate names)")
                }
                guard names.count <= limits.maxElements else { throw fail(.tooMany, "more than \(limits.maxElements) members") }
                skipSpace()
                guard peek == UInt8(ascii: ":") else { throw fail(.syntax, "expected ':' after the member name \"\(name)\"") }
                index += 1
                path.append(.name(name))
                try value(depth: depth)
                path.removeLast()
                skipSpace()
                switch peek {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "}"):
                    index += 1
                    return
                default: throw fail(.syntax, "expected ',' or '}' in an object")
                }
            }
        }

        mutating func array(depth: Int) throws(Failure) {
            guard depth <= limits.maxDepth else { throw fail(.tooDeep, "nested deeper than \(limits.maxDepth) levels") }
            index += 1
            skipSpace()
            if peek == UInt8(ascii: "]") {
                index += 1
                return
            }
            var count = 0
            while true {
                guard count < limits.maxElements else { throw fail(.tooMany, "more than \(limits.maxElements) elements") }
                path.append(.index(count))
                try value(depth: depth)
                path.removeLast()
                count += 1
                skipSpace()
                switch peek {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "]"):
                    index += 1
                    return
                default: throw fail(.syntax, "expected ',' or ']' in an array")
                }
            }
        }

        mutating func number() throws(Failure) {
            let start = index
            if peek == UInt8(ascii: "-") { index += 1 }
            guard let first = peek, first >= UInt8(ascii: "0"), first <= UInt8(ascii: "9") else { throw fail(.syntax, "a number needs digits") }
            if first == UInt8(ascii: "0") {
                index += 1
            } else {
                digits()
            }
            if peek == UInt8(ascii: ".") {
                index += 1
                guard digits() > 0 else { throw fail(.syntax, "a number needs digits after '.'") }
            }
            if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
                index += 1
                if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { index += 1 }
                guard digits() > 0 else { throw fail(.syntax, "a number needs digits in its exponent") }
            }
            if index - start > limits.maxNumberLength {
                index = start
                throw fail(.tooLong, "a number longer than \(limits.maxNumberLength) characters")
            }
            if firstNonWhole == nil, Int64(String(decoding: bytes[start..<index], as: UTF8.self)) == nil { firstNonWhole = pathText }
            if firstFractional == nil, !Self.isWhole(bytes[start..<index]) { firstFractional = pathText }
        }

        /// Whether a well-formed number literal is exactly a whole number: its digits, with trailing zeros dropped,
        /// are not shifted right of the point by the fraction and the exponent.
        static func isWhole(_ literal: ArraySlice<UInt8>) -> Bool {
            guard literal.contains(where: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }) else { return true }
            var digits: [UInt8] = []
            var fractionDigits = 0
            var exponent = 0
            var part = 0  // 0 integer, 1 fraction, 2 exponent
            var exponentNegative = false
            for byte in literal {
                switch byte {
                case UInt8(ascii: "."): part = 1
                case UInt8(ascii: "e"), UInt8(ascii: "E"): part = 2
                case UInt8(ascii: "-") where part == 2: exponentNegative = true
                case UInt8(ascii: "0")...UInt8(ascii: "9"):
                    if part == 2 {
                        // Literals are at most `maxNumberLength` characters; clamp all the same.
                        exponent = min(exponent * 10 + Int(byte - UInt8(ascii: "0")), 1_000_000)
                    } else {
                        digits.append(byte)
                        if part == 1 { fractionDigits += 1 }
                    }
                default: break
                }
            }
            var scale = fractionDigits - (exponentNegative ? -exponent : exponent)
            while scale > 0, digits.last == UInt8(ascii: "0") {
                digits.removeLast()
                scale -= 1
            }
            return scale <= 0 || digits.allSatisfy { $0 == UInt8(ascii: "0") }
        }

        @discardableResult
        mutating func digits() -> Int {
            let start = index
            while let byte = peek, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") { index += 1 }
            return index - start
        }

        /// Reads a string (the opening quote at `index`), validating UTF-8 and escapes, and returns it unescaped.
        mutating func string() throws(Failure) -> String {
            index += 1
            var out: [UInt8] = []
            while true {
                guard let byte = peek else { throw fail(.syntax, "a string is not closed") }
                switch byte {
                case UInt8(ascii: "\""):
                    index += 1
                    return String(decoding: out, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    index += 1
                    guard let escape = peek else { throw fail(.syntax, "a string is not closed") }
                    index += 1
                    switch escape {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escape)
                    case UInt8(ascii: "u"):
                        let scalar = try unicodeEscape()
                        if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) {
                            throw fail(.controlCharacter, "control characters (U+0000-U+001F, U+007F-U+009F) are not accepted in text")
                        }
                        out.append(contentsOf: Array(String(Character(scalar)).utf8))
                    case UInt8(ascii: "b"), UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                        throw fail(.controlCharacter, "control characters (U+0000-U+001F, U+007F-U+009F) are not accepted in text")
                    default: throw fail(.syntax, "\\\(Self.describe(escape)) is not a JSON escape")
                    }
                case 0..<0x20, 0x7F:
                    throw fail(.controlCharacter, "control characters (U+0000-U+001F, U+007F-U+009F) are not accepted in text")
                case 0x80...:
                    let length = try checkUTF8Here()
                    // C1 controls (U+0080-U+009F: CSI, NEL, ...) are two bytes, C2 80 to C2 9F.
                    if byte == 0xC2, (0x80...0x9F).contains(bytes[index + 1]) {
                        throw fail(.controlCharacter, "control characters (U+0000-U+001F, U+007F-U+009F) are not accepted in text")
                    }
                    out.append(contentsOf: bytes[index..<index + length])
                    index += length
                default:
                    out.append(byte)
                    index += 1
                }
                if out.count > limits.maxStringBytes {
                    throw fail(.tooLong, "text longer than \(limits.maxStringBytes) bytes")
                }
            }
        }

        /// `\uXXXX` (the `\u` already read), joining a surrogate pair; a lone surrogate is refused (RFC 7493 2.1).
        mutating func unicodeEscape() throws(Failure) -> Unicode.Scalar {
            let high = try hex4()
            if (0xD800...0xDBFF).contains(high) {
                guard bytes.count - index >= 2, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                    throw fail(.invalidUTF8, "a lone UTF-16 surrogate (\\u\(String(high, radix: 16))) is not a character")
                }
                index += 2
                let low = try hex4()
                guard (0xDC00...0xDFFF).contains(low) else {
                    throw fail(.invalidUTF8, "a lone UTF-16 surrogate (\\u\(String(high, radix: 16))) is not a character")
                }
                return Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))!
            }
            guard let scalar = Unicode.Scalar(high) else {
                throw fail(.invalidUTF8, "a lone UTF-16 surrogate (\\u\(String(high, radix: 16))) is not a character")
            }
            return scalar
        }

        mutating func hex4() throws(Failure) -> UInt32 {
            guard bytes.count - index >= 4 else { throw fail(.syntax, "\\u needs four hex digits") }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[index]
                let digit: UInt32
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
                default: throw fail(.syntax, "\\u needs four hex digits")
                }
                value = value << 4 | digit
                index += 1
            }
            return value
        }

        /// The length of the well-formed UTF-8 sequence at `index` (RFC 3629: no overlongs, no surrogates, at most
        /// U+10FFFF), or an error naming the byte offset.
        func checkUTF8Here() throws(Failure) -> Int {
            let lead = bytes[index]
            let length: Int
            var lower: UInt8 = 0x80, upper: UInt8 = 0xBF
            switch lead {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; lower = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; upper = 0x9F
            case 0xF0: length = 4; lower = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; upper = 0x8F
            default: throw fail(.invalidUTF8, "the body is not valid UTF-8 (byte \(index))")
            }
            guard bytes.count - index >= length else { throw fail(.invalidUTF8, "the body is not valid UTF-8 (byte \(index))") }
            for k in 1..<length {
                let byte = bytes[index + k]
                let (lo, hi) = k == 1 ? (lower, upper) : (UInt8(0x80), UInt8(0xBF))
                guard byte >= lo, byte <= hi else { throw fail(.invalidUTF8, "the body is not valid UTF-8 (byte \(index + k))") }
            }
            return length
        }

        static func describe(_ byte: UInt8) -> String {
            (0x21..<0x7F).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))'" : "0x" + String(byte, radix: 16)
        }
    }
}
