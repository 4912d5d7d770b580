import Foundation

/// Looks for card numbers and security codes in files: the check that nothing outside the vault ever holds
/// them (databases, WAL and journal files, logs, exports).
public enum CardDataScanner {
    public struct Finding: Sendable, CustomStringConvertible {
        public var path: String
        public var offset: Int
        public var kind: String
        /// Masked: the scanner's own output must not leak what it found.
        public var masked: String

        public var description: String { "\(path) at byte \(offset): \(kind) \(masked)" }
    }

    /// Reads `pan NNNN…` and `cvv NNN` lines (`#` starts a comment).
    public static func readList(_ text: String) -> (cards: [String], codes: [String]) {
        var cards: [String] = [], codes: [String] = []
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            guard parts.count == 2 else { continue }
            if parts[0] == "pan" { cards.append(String(parts[1])) } else if parts[0] == "cvv" { codes.append(String(parts[1])) }
        }
        return (cards, codes)
    }

    /// Every occurrence of a listed card number that is a whole Luhn-valid digit run of 13-19 digits, and of a
    /// listed security code standing alone (not inside a longer run of letters or digits), in every file under `paths`.
    public static func scan(_ paths: [String], cards: [String], securityCodes: [String]) -> [Finding] {
        var findings: [Finding] = []
        let needles = cards.filter { (13...19).contains($0.count) && CardNumber.luhnValid($0.utf8.map { $0 - 48 }) }.map { Array($0.utf8) }
        let codes = securityCodes.map { Array($0.utf8) }
        for root in paths {
            for path in files(under: root) {
                guard let data = FileManager.default.contents(atPath: path) else { continue }
                let bytes = [UInt8](data)
                for needle in needles {
                    for offset in occurrences(of: needle, in: bytes) where standsAlone(offset, needle.count, in: bytes) {
                        let text = String(decoding: needle, as: UTF8.self)
                        findings.append(Finding(path: path, offset: offset, kind: "card number", masked: String(text.prefix(6)) + "…" + String(text.suffix(4))))
                    }
                }
                for code in codes {
                    // A stored code is its own field; inside hex (hashes, fingerprints) letters surround it, by chance.
                    for offset in occurrences(of: code, in: bytes) where standsAlone(offset, code.count, in: bytes, alphanumeric: true) {
                        findings.append(Finding(path: path, offset: offset, kind: "security code", masked: String(repeating: "•", count: code.count)))
                    }
                }
            }
        }
        return findings
    }

    static func files(under root: String) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory) else { return [] }
        guard isDirectory.boolValue else { return [root] }
        let enumerator = FileManager.default.enumerator(atPath: root)
        var result: [String] = []
        while let next = enumerator?.nextObject() as? String {
            let path = root + "/" + next
            var dir: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &dir), !dir.boolValue { result.append(path) }
        }
        return result
    }

    static func occurrences(of needle: [UInt8], in haystack: [UInt8]) -> [Int] {
        guard let first = needle.first, needle.count <= haystack.count else { return [] }
        var found: [Int] = []
        var i = 0
        let last = haystack.count - needle.count
        while i <= last {
            if haystack[i] == first, haystack[i..<i + needle.count].elementsEqual(needle) { found.append(i) }
            i += 1
        }
        return found
    }

    /// Whether the match is not part of a longer run of digits (or, with `alphanumeric`, of letters and digits).
    static func standsAlone(_ offset: Int, _ length: Int, in bytes: [UInt8], alphanumeric: Bool = false) -> Bool {
        func joins(_ i: Int) -> Bool {
            guard i >= 0, i < bytes.count else { return false }
            let b = bytes[i]
            if b >= 48 && b <= 57 { return true }
            return alphanumeric && ((b >= 65 && b <= 90) || (b >= 97 && b <= 122))
        }
        return !joins(offset - 1) && !joins(offset + length)
    }
}
