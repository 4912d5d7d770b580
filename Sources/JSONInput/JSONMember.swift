import Foundation

/// The raw bytes of one member of a top-level JSON object, found by scanning (no document tree is built). For
/// bodies that `JSONGuard.check` has already accepted: well-formed, one name per member.
public enum JSONMember {
    /// The byte range of the value of the member called `name` in the top-level object of `bytes`, or nil when
    /// there is no such member (or `bytes` is not an object).
    public static func range(of name: String, in bytes: [UInt8]) -> Range<Int>? {
        var i = skipSpace(bytes, 0)
        guard i < bytes.count, bytes[i] == UInt8(ascii: "{") else { return nil }
        i = skipSpace(bytes, i + 1)
        let wanted = Array(name.utf8)
        while i < bytes.count, bytes[i] == UInt8(ascii: "\"") {
            guard let keyEnd = endOfString(bytes, i) else { return nil }
            let key = Array(bytes[(i + 1)..<(keyEnd - 1)])
            i = skipSpace(bytes, keyEnd)
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { return nil }
            let valueStart = skipSpace(bytes, i + 1)
            guard let valueEnd = endOfValue(bytes, valueStart) else { return nil }
            if matches(key, wanted) { return valueStart..<valueEnd }
            i = skipSpace(bytes, valueEnd)
            guard i < bytes.count, bytes[i] == UInt8(ascii: ",") else { return nil }
            i = skipSpace(bytes, i + 1)
        }
        return nil
    }

    /// A key as written (between its quotes) against a name: byte for byte, or after decoding escapes.
    static func matches(_ key: [UInt8], _ wanted: [UInt8]) -> Bool {
        guard key.contains(UInt8(ascii: "\\")) else { return key == wanted }
        let quoted = Data([UInt8(ascii: "\"")] + key + [UInt8(ascii: "\"")])
        guard let decoded = try? JSONDecoder().decode(String.self, from: quoted) else { return false }
        return Array(decoded.utf8) == wanted
    }

    static func skipSpace(_ bytes: [UInt8], _ start: Int) -> Int {
        var i = start
        while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
        return i
    }

    /// The index just past the string that opens at `start` (a quote).
    static func endOfString(_ bytes: [UInt8], _ start: Int) -> Int? {
        var i = start + 1
        while i < bytes.count {
            switch bytes[i] {
            case UInt8(ascii: "\\"): i += 2
            case UInt8(ascii: "\""): return i + 1
            default: i += 1
            }
        }
        return nil
    }

    /// The index just past the value that starts at `start`.
    static func endOfValue(_ bytes: [UInt8], _ start: Int) -> Int? {
        guard start < bytes.count else { return nil }
        switch bytes[start] {
        case UInt8(ascii: "\""):
            return endOfString(bytes, start)
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            var i = start
            while i < bytes.count {
                switch bytes[i] {
                case UInt8(ascii: "\""):
                    guard let end = endOfString(bytes, i) else { return nil }
                    i = end
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 { return i + 1 }
                default: break
                }
                i += 1
            }
            return nil
        default:
            // A number or a literal: up to the next separator.
            var i = start
            while i < bytes.count, ![UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
            return i > start ? i : nil
        }
    }
}
