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

    /// Reads `secret …` lines: other values that must never be written anywhere (a processor's secret key).
    public static func readSecrets(_ text: String) -> [String] {
        text.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: " ")
            return parts.count == 2 && parts[0] == "secret" && parts[1].utf8.count >= 8 ? String(parts[1]) : nil
        }
    }

    /// Every occurrence of a listed card number, of a listed security code written as a value of its own (delimited
    /// as text or a PostgreSQL text column delimits one; not inside a longer run of letters or digits, nor the
    /// fraction of a decimal or the seconds of a clock time), and of a listed
    /// secret, and of any gift card code (recognised by its form and check character, no list needed), in every
    /// file under `paths`. A card number is found however it is written: as
    /// digits, grouped by single spaces or dashes (`4242 4242 4242 4242`), in UTF-16 (little or big endian), or as
    /// the hex of its ASCII digits (`34323432…`), as a value might be dumped.
    public static func scan(_ paths: [String], cards: [String], securityCodes: [String], secrets: [String] = []) -> [Finding] {
        var findings: [Finding] = []
        let listed = Set(cards.filter { (12...19).contains($0.count) && CardNumber.luhnValid($0.utf8.map { $0 - 48 }) })
        let hexNeedles = listed.map { card in (card, Array(card.utf8.flatMap { Array(String($0, radix: 16).utf8) })) }
        let codes = securityCodes.map { Array($0.utf8) }
        for root in paths {
            for path in files(under: root) {
                guard let data = FileManager.default.contents(atPath: path) else { continue }
                let bytes = [UInt8](data)
                let littleEndian = utf16(bytes, littleEndian: true)
                for (encoding, text) in [("", bytes), (" (UTF-16LE)", littleEndian), (" (UTF-16BE)", utf16(bytes, littleEndian: false))] {
                    for (offset, number) in digitRuns(text) where listed.contains(number) {
                        findings.append(Finding(path: path, offset: encoding.isEmpty ? offset : offset * 2, kind: "card number" + encoding,
                                                masked: String(number.prefix(6)) + "…" + String(number.suffix(4))))
                    }
                    for (offset, code) in GiftCardCode.occurrences(in: text) {
                        findings.append(Finding(path: path, offset: encoding.isEmpty ? offset : offset * 2, kind: "gift card code" + encoding,
                                                masked: "LGC-…-" + code.lastFour))
                    }
                    for code in codes {
                        // A stored code is its own field; inside hex (hashes, fingerprints) letters surround it, by chance.
                        for offset in occurrences(of: code, in: text)
                        where standsAlone(offset, code.count, in: text, alphanumeric: true) && !insideNumber(offset, code.count, in: text)
                            && writtenAsText(offset, code.count, in: text) && delimitedAsField(offset, code.count, in: text)
                            && !insideUUID(offset, code.count, in: text) {
                            findings.append(Finding(path: path, offset: encoding.isEmpty ? offset : offset * 2, kind: "security code" + encoding,
                                                    masked: String(repeating: "•", count: code.count)))
                        }
                    }
                }
                for secret in secrets {
                    for (encoding, text) in [("", bytes), (" (UTF-16LE)", littleEndian)] {
                        for offset in occurrences(of: Array(secret.utf8), in: text) {
                            findings.append(Finding(path: path, offset: encoding.isEmpty ? offset : offset * 2, kind: "secret" + encoding,
                                                    masked: String(secret.prefix(3)) + "…"))
                        }
                    }
                }
                for (card, needle) in hexNeedles {
                    for offset in occurrences(of: needle, in: bytes) {
                        findings.append(Finding(path: path, offset: offset, kind: "card number (hex of its digits)",
                                                masked: String(card.prefix(6)) + "…" + String(card.suffix(4))))
                    }
                }
            }
        }
        return findings
    }

    /// Candidate card numbers in a text: within each run of digits whose digits are separated by nothing or by one
    /// space or dash (and which is not part of a longer run of digits), every stretch of 12 to 19 digits that starts
    /// and ends at the run's ends or at its separators. So `4242 4242 4242 4242` is found, and so is a number
    /// followed by ` 1` (a separate field), while digits inside a longer unbroken run are not.
    static func digitRuns(_ bytes: [UInt8], wholeRunsOnly: Bool = false) -> [(offset: Int, digits: String)] {
        var found: [(Int, String)] = []
        var i = 0
        while i < bytes.count {
            guard isDigit(bytes[i]), i == 0 || !isDigit(bytes[i - 1]) else { i += 1; continue }
            // The run's end and digit count first: most runs in a file are far too short to hold a card number and
            // are skipped without making anything.
            var count = 0, end = i
            while end < bytes.count {
                if isDigit(bytes[end]) {
                    count += 1
                } else if !((bytes[end] == 32 || bytes[end] == 45) && end + 1 < bytes.count && isDigit(bytes[end + 1])) {
                    break
                }
                end += 1
            }
            guard count >= 12 else { i = end; continue }
            // Within the run every byte is a digit or a separator between two digits.
            var digits: [UInt8] = []
            var offsets: [Int] = []
            var boundaries = [0]
            for j in i..<end {
                if isDigit(bytes[j]) {
                    digits.append(bytes[j])
                    offsets.append(j)
                } else {
                    boundaries.append(digits.count)
                }
            }
            boundaries.append(digits.count)
            if wholeRunsOnly { boundaries = [0, digits.count] }
            for (n, a) in boundaries.enumerated() {
                for b in boundaries[(n + 1)...] where (12...19).contains(b - a) {
                    found.append((offsets[a], String(decoding: digits[a..<b], as: UTF8.self)))
                }
            }
            i = end
        }
        return found
    }

    /// The ASCII characters of a UTF-16 text: every code unit below 128 becomes its byte; every other one, a byte
    /// that is neither a digit nor a separator, so runs do not join across it.
    static func utf16(_ bytes: [UInt8], littleEndian: Bool) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count / 2)
        var i = 0
        while i + 1 < bytes.count {
            let (low, high) = littleEndian ? (bytes[i], bytes[i + 1]) : (bytes[i + 1], bytes[i])
            out.append(high == 0 && low < 128 ? low : 0)
            i += 2
        }
        return out
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

    /// Every offset at which `needle` starts in `haystack` (overlapping ones too), found with the C library's
    /// `memchr` and `memcmp`: the scan runs once per listed value over every byte of every file, gigabytes in CI.
    static func occurrences(of needle: [UInt8], in haystack: [UInt8]) -> [Int] {
        guard let first = needle.first, needle.count <= haystack.count else { return [] }
        var found: [Int] = []
        haystack.withUnsafeBytes { hay in
            needle.withUnsafeBytes { pin in
                guard let base = hay.baseAddress, let pinBase = pin.baseAddress else { return }
                let last = hay.count - pin.count
                var start = 0
                while start <= last, let hit = memchr(base + start, Int32(first), last - start + 1) {
                    let offset = base.distance(to: UnsafeRawPointer(hit))
                    if memcmp(hit, pinBase, pin.count) == 0 { found.append(offset) }
                    start = offset + 1
                }
            }
        }
        return found
    }

    /// Whether the digits at `offset` are not a value of their own: they continue a number written before or after
    /// them (`12.738`, `17:48:738`), or they number a SQL bind placeholder (`$738`, as a failing statement's text
    /// is logged by PostgreSQL).
    static func insideNumber(_ offset: Int, _ length: Int, in bytes: [UInt8]) -> Bool {
        func digit(_ i: Int) -> Bool { i >= 0 && i < bytes.count && bytes[i] >= 48 && bytes[i] <= 57 }
        func separator(_ i: Int) -> Bool { i >= 0 && i < bytes.count && (bytes[i] == UInt8(ascii: ".") || bytes[i] == UInt8(ascii: ":")) }
        if offset > 0 && bytes[offset - 1] == UInt8(ascii: "$") { return true }
        return (separator(offset - 1) && digit(offset - 2)) || (separator(offset + length) && digit(offset + length + 1))
    }

    /// Whether a match sits where text is written, not inside random bytes (ciphertext, hashes, a database's
    /// statistics samples of them): its two neighbours are ASCII, and so are the five bytes beyond one of them (or
    /// the file ends there). A leaked code is written in JSON, a log line, a form, or a database text column whose
    /// length header and neighbouring column are ASCII or small numbers. Four given digits turn up by chance about
    /// once in 4 billion random bytes, and the tests' stores hold gigabytes of ciphertext: without this rule one CI
    /// run in a few failed on such a chance (a bytea sample in PostgreSQL's `pg_statistic`). With it, a chance match
    /// must also have about 1 in 250 odds of looking like text around it.
    static func writtenAsText(_ offset: Int, _ length: Int, in bytes: [UInt8]) -> Bool {
        func ascii(_ range: Range<Int>) -> Bool {
            bytes[max(0, range.lowerBound)..<min(bytes.count, range.upperBound)].allSatisfy { $0 < 0x80 }
        }
        let before = offset - 1, after = offset + length
        guard ascii(before..<(before + 1)), ascii(after..<(after + 1)) else { return false }
        return ascii((before - 5)..<before) || ascii((after + 1)..<(after + 6))
    }

    /// Whether the bytes on either side of the match delimit a value the way a written one is delimited: in text
    /// (JSON, a log line, CSV, a SQL parameter) by punctuation, white space or the file's ends on both sides (a NUL
    /// may end it, as in a C string); in a PostgreSQL text column by its one-byte length header before it
    /// (`(length + 1) * 2 + 1`: 0x09 for three characters, 0x0B for four), whatever column or padding follows.
    /// Chance matches in binary files that the other rules let through were bounded otherwise: a WAL record's CRC
    /// read as `\0 5926 \0` (NUL on the left), a statistics array as `* 7319 \x0F`.
    static func delimitedAsField(_ offset: Int, _ length: Int, in bytes: [UInt8]) -> Bool {
        func delimiter(_ b: UInt8) -> Bool {
            (b >= 0x20 && b <= 0x7E && !isDigit(b) && !isLetter(b)) || b == 0x09 || b == 0x0A || b == 0x0D
        }
        let before = offset - 1, after = offset + length
        if before >= 0 && bytes[before] == UInt8(truncatingIfNeeded: (length + 1) * 2 + 1) { return true }
        guard before < 0 || delimiter(bytes[before]) else { return false }
        return after >= bytes.count || bytes[after] == 0 || delimiter(bytes[after])
    }

    /// Whether the match is one of the four-digit groups of a UUID (`2E510BD8-3EC0-496C-8462-E9F5A74CE6AC`, a test
    /// folder's name stored in an export job's row): a group is 4 hex digits between dashes, so one of the listed
    /// codes turns up in about one UUID in 7,000 by chance.
    static func insideUUID(_ offset: Int, _ length: Int, in bytes: [UInt8]) -> Bool {
        func hex(_ b: UInt8) -> Bool { (b >= 48 && b <= 57) || (b >= 65 && b <= 70) || (b >= 97 && b <= 102) }
        let dashes: Set<Int> = [8, 13, 18, 23]
        for start in max(0, offset + length - 36)...offset where start + 36 <= bytes.count {
            let isUUID = (0..<36).allSatisfy { i in dashes.contains(i) ? bytes[start + i] == UInt8(ascii: "-") : hex(bytes[start + i]) }
            if isUUID { return true }
        }
        return false
    }

    /// Whether the match is not part of a longer run of digits (or, with `alphanumeric`, of letters and digits).
    static func standsAlone(_ offset: Int, _ length: Int, in bytes: [UInt8], alphanumeric: Bool = false) -> Bool {
        func joins(_ i: Int) -> Bool {
            guard i >= 0, i < bytes.count else { return false }
            return isDigit(bytes[i]) || (alphanumeric && isLetter(bytes[i]))
        }
        return !joins(offset - 1) && !joins(offset + length)
    }

    static func isDigit(_ b: UInt8) -> Bool { b >= 48 && b <= 57 }
    static func isLetter(_ b: UInt8) -> Bool { (b >= 65 && b <= 90) || (b >= 97 && b <= 122) }
}
