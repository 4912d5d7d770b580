/// Keeps card numbers out of error messages. An error names the field at fault and sometimes the text it refused
/// (an unknown member name, a value that cannot be read); a client that sends a card number where it does not
/// belong (`{"4242424242424242": 1}`) must not get it back, nor see it written wherever the error goes. Any run of
/// twelve or more digits, however grouped by spaces, dashes, dots, underscores, slashes, pluses, commas, tildes or
/// percent-encoded bytes (one or several between groups:
/// the vault itself reads `4242--4242--4242--4242` as a card), is replaced: no field path, code or amount of Levy's
/// is that long, and a card number has twelve to nineteen digits. Digits of any script (fullwidth `４２４２`,
/// Arabic-Indic) and Unicode spaces and dashes (no-break space, en dash) count too: a person reads them the same.
public enum CardNumberMask {
    static let replacement = "[digits removed]"
    static let minimumDigits = 12

    public static func masked(_ text: String) -> String {
        if text.utf8.allSatisfy({ $0 < 0x80 }) {
            // Most texts hold few digits: returned as they are, without allocating.
            var digitCount = 0
            for byte in text.utf8 where isDigit(byte) { digitCount += 1 }
            guard digitCount >= minimumDigits else { return text }
        }
        return replacingRuns(in: text, maskedRuns)
    }

    /// Only the card numbers in `text` replaced (13 to 19 digits, however joined, with a right Luhn digit), for
    /// names that are mostly ids (an export's `exp_…` hex id may hold a dozen decimal digits by chance, which
    /// `masked` would remove).
    public static func maskingCardNumbers(_ text: String) -> String {
        replacingRuns(in: text) { bytes in longRuns(bytes, loose: true).flatMap { cardSpans(bytes, in: $0) } }
    }

    /// `text` with the runs that `find` picks in its bytes (ASCII) or its `shadow` replaced by `replacement`.
    static func replacingRuns(in text: String, _ find: ([UInt8]) -> [Range<Int>]) -> String {
        if text.utf8.allSatisfy({ $0 < 0x80 }) {
            let bytes = Array(text.utf8)
            let runs = find(bytes)
            guard !runs.isEmpty else { return text }
            return String(decoding: replacing(runs, in: bytes, with: Array(replacement.utf8)), as: UTF8.self)
        }
        let scalars = Array(text.unicodeScalars)
        let runs = find(shadow(scalars))
        guard !runs.isEmpty else { return text }
        var out = String.UnicodeScalarView()
        out.append(contentsOf: replacing(runs, in: scalars, with: Array(replacement.unicodeScalars)))
        return String(out)
    }

    /// `items` with each of the runs (in order, not overlapping) replaced by `replacement`.
    static func replacing<Element>(_ runs: [Range<Int>], in items: [Element], with replacement: [Element]) -> [Element] {
        var out: [Element] = []
        out.reserveCapacity(items.count)
        var index = 0
        for run in runs {
            out += items[index..<run.lowerBound]
            out += replacement
            index = run.upperBound
        }
        out += items[index...]
        return out
    }

    /// What `masked` replaces: every run of at least `minimumDigits` digits joined by the usual separators, and
    /// every run joined by any punctuation, symbol or invisible character (`4242;4242;4242;4242`, a zero-width space
    /// between groups) that holds a card number by its length and Luhn digit. The second kind needs the Luhn digit:
    /// a timestamp (`2026-03-02 12:30:45`) is also digits joined by punctuation.
    static func maskedRuns(_ bytes: [UInt8]) -> [Range<Int>] {
        let tight = longRuns(bytes, loose: false)
        // The loose reading sees what the tight one left: digits it masked are letters to it, so a stray digit
        // before a masked number (`lines[0].4242 4242 …`) is not joined to part of it.
        var rest = bytes
        for run in tight { for i in run { rest[i] = UInt8(ascii: "x") } }
        let loose = longRuns(rest, loose: true).flatMap { cardSpans(rest, in: $0) }
        var runs: [Range<Int>] = []
        for run in (tight + loose).sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = runs.last, run.lowerBound <= last.upperBound {
                runs[runs.count - 1] = last.lowerBound..<max(last.upperBound, run.upperBound)
            } else {
                runs.append(run)
            }
        }
        return runs
    }

    /// The parts of a loosely joined run that are card numbers (13 to 19 digits of whole groups with a right Luhn
    /// digit), each from its first group's first digit to its last group's last, not overlapping: every one, not only
    /// the first (two numbers joined by punctuation were masked one).
    static func cardSpans(_ bytes: [UInt8], in run: Range<Int>) -> [Range<Int>] {
        // The run's digits once, with where each group starts among them: the spans tried are slices, not copies.
        var groups: [Range<Int>] = []
        var digits: [UInt8] = []
        var starts: [Int] = []
        var index = run.lowerBound
        while index < run.upperBound {
            guard isDigit(bytes[index]) else { index += 1; continue }
            let start = index
            starts.append(digits.count)
            while index < run.upperBound, isDigit(bytes[index]) { digits.append(bytes[index] - 0x30); index += 1 }
            groups.append(start..<index)
        }
        starts.append(digits.count)
        var spans: [Range<Int>] = []
        var first = 0
        while first < groups.count {
            var found: Int?
            for last in first..<groups.count {
                let length = starts[last + 1] - starts[first]
                if length > 19 { break }
                if length >= 13, passesLuhn(digits[starts[first]..<starts[last + 1]]) { found = last; break }
            }
            if let last = found {
                spans.append(groups[first].lowerBound..<groups[last].upperBound)
                first = last + 1
            } else {
                first += 1
            }
        }
        return spans
    }

    /// The runs of at least `minimumDigits` digits, each group joined to the next by separators (`loose`: by any
    /// separator, at most `maxLooseGap` bytes of them), in ASCII bytes (or a text's `shadow`, one byte a scalar).
    static func longRuns(_ bytes: [UInt8], loose: Bool) -> [Range<Int>] {
        var runs: [Range<Int>] = []
        var index = 0
        while index < bytes.count {
            guard isDigit(bytes[index]) else {
                index += 1
                continue
            }
            var end = index, digits = 0
            while end < bytes.count {
                if isDigit(bytes[end]) {
                    digits += 1
                    end += 1
                } else if let next = endOfGap(bytes, at: end, loose: loose) {
                    end = next
                } else {
                    break
                }
            }
            if digits >= minimumDigits { runs.append(index..<end) }
            index = end
        }
        return runs
    }

    /// Where the digits resume after the separators at `index` (nil: no separator there, or none that joins).
    /// Loose gaps may hold any separator but at most `maxLooseGap` bytes of them.
    static func endOfGap(_ bytes: [UInt8], at index: Int, loose: Bool) -> Int? {
        var next = index
        var sawLoose = false
        while next < bytes.count, let found = separator(bytes, at: next), loose || !found.loose {
            sawLoose = sawLoose || found.loose
            next += found.length
        }
        guard next > index, next < bytes.count, isDigit(bytes[next]), !sawLoose || next - index <= maxLooseGap else { return nil }
        return next
    }

    static let maxLooseGap = 16

    /// A text as one ASCII byte a Unicode scalar: a decimal digit of any script as its ASCII digit, a space or dash
    /// of any kind as a space, a letter or other number as `x`, anything else (punctuation, symbols, marks,
    /// invisible format characters such as a zero-width space) as 0x01, a loose separator. The ASCII rules then
    /// read it as they read plain text.
    static func shadow(_ scalars: [Unicode.Scalar]) -> [UInt8] {
        scalars.map { scalar in
            if scalar.isASCII { return UInt8(scalar.value) }
            let properties = scalar.properties
            if properties.numericType == .decimal, let value = properties.numericValue, (0...9).contains(value) {
                return 0x30 + UInt8(value)
            }
            if properties.isWhitespace || properties.generalCategory == .dashPunctuation { return 0x20 }
            if properties.isAlphabetic || properties.numericType != nil { return UInt8(ascii: "x") }
            return 0x01
        }
    }

    /// The message that refuses a card number in a text field (it names no digits).
    public static let refusal = "holds what looks like a card number; card numbers are accepted only by POST /v1/tokens"

    /// Whether the text holds what is most likely a card number: a run of 13 to 19 digits (grouped as `masked`
    /// groups them) whose Luhn check digit is right. Text a person writes (a name, an address line) refuses one, as
    /// a card processor's free-text fields do: the card number belongs in the vault and nowhere else.
    public static func containsCardNumber(_ text: String) -> Bool {
        holds(text) { (13...19).contains($0.count) && passesLuhn($0) }
    }

    /// Whether the text holds a number with a card network's prefix and length (Visa, Mastercard, American Express,
    /// Discover, JCB, Diners Club, UnionPay) and a right Luhn digit, grouped as `masked` groups them. The check for
    /// identifiers a client chooses (a permit or registration number, a location id): a long number there passes Luhn
    /// one time in ten by chance, so a person's-text check would refuse real ones, but rarely also has a network's
    /// prefix and length.
    public static func containsIssuedCardNumber(_ text: String) -> Bool {
        holds(text) { hasNetworkPrefixAndLength($0) && passesLuhn($0) }
    }

    static func holds(_ text: String, _ isCard: (ArraySlice<UInt8>) -> Bool) -> Bool {
        if text.utf8.allSatisfy({ $0 < 0x80 }) {
            var digitCount = 0
            for byte in text.utf8 where isDigit(byte) { digitCount += 1 }
            guard digitCount >= 13 else { return false }
            return holdsCardNumber(Array(text.utf8), isCard)
        }
        return holdsCardNumber(shadow(Array(text.unicodeScalars)), isCard)
    }

    /// Card networks' number prefixes and lengths (the networks' published ranges, broadly).
    static func hasNetworkPrefixAndLength(_ digits: ArraySlice<UInt8>) -> Bool {
        let length = digits.count
        func prefix(_ count: Int) -> Int { digits.prefix(count).reduce(0) { $0 * 10 + Int($1) } }
        switch prefix(1) {
        case 4: return [13, 16, 19].contains(length)
        case 5: return (51...55).contains(prefix(2)) && length == 16
        case 2: return (2221...2720).contains(prefix(4)) && length == 16
        case 3:
            if [34, 37].contains(prefix(2)) { return length == 15 }
            if (3528...3589).contains(prefix(4)) { return (16...19).contains(length) }
            return ((300...305).contains(prefix(3)) || [36, 38, 39].contains(prefix(2))) && (14...19).contains(length)
        case 6:
            return (prefix(4) == 6011 || [62, 65].contains(prefix(2)) || (644...649).contains(prefix(3))) && (16...19).contains(length)
        default: return false
        }
    }

    static func holdsCardNumber(_ bytes: [UInt8], _ isCard: (ArraySlice<UInt8>) -> Bool) -> Bool {
        // A run of digits and the offsets where its groups start ("1 4242 4242 4242 4242" holds a card number from
        // its second group on).
        var run: [UInt8] = []
        var groupStarts: [Int] = []
        var afterSeparator = false
        func runHoldsCardNumber() -> Bool {
            let bounds = groupStarts + [run.count]
            for (i, start) in bounds.dropLast().enumerated() {
                for end in bounds[(i + 1)...] {
                    // Nothing longer than a card number and a security code can match: stopping there keeps this linear
                    // in the run (probe #15: `1-1-1-…` of 200 KB, every pair of its 100,000 groups, held a core for hours).
                    if end - start > maxCardAndCodeDigits { break }
                    if isCard(run[start..<end]) || startsWithCardNumber(run[start..<end]) { return true }
                }
            }
            return false
        }
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if isDigit(byte) {
                if run.isEmpty || afterSeparator { groupStarts.append(run.count) }
                run.append(byte - 0x30)
                afterSeparator = false
                index += 1
            } else if !run.isEmpty, let next = endOfGap(bytes, at: index, loose: true) {
                afterSeparator = true
                index = next
            } else {
                index += separator(bytes, at: index)?.length ?? 1
                if runHoldsCardNumber() { return true }
                run.removeAll(keepingCapacity: true)
                groupStarts.removeAll(keepingCapacity: true)
                afterSeparator = false
            }
        }
        return runHoldsCardNumber()
    }

    /// Whether digits begin with a card number that one to four more digits follow: a card number and its security
    /// code typed together ("4242424242424242123"). Only numbers with a network's prefix and length count, so that a
    /// long reference number is refused no more often than a card-shaped one (a prefix passes Luhn one time in ten).
    static func startsWithCardNumber(_ digits: ArraySlice<UInt8>) -> Bool {
        guard (14...23).contains(digits.count) else { return false }
        for length in max(13, digits.count - 4)...min(19, digits.count - 1) {
            let prefix = digits.prefix(length)
            if hasNetworkPrefixAndLength(prefix), passesLuhn(prefix) { return true }
        }
        return false
    }

    static func passesLuhn(_ digits: ArraySlice<UInt8>) -> Bool {
        var sum = 0
        for (offset, digit) in digits.reversed().enumerated() {
            let value = Int(digit)
            sum += offset % 2 == 1 ? (value * 2 > 9 ? value * 2 - 9 : value * 2) : value
        }
        return sum % 10 == 0
    }

    static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    /// The most digits a card number (19) and a security code typed after it (4) make.
    static let maxCardAndCodeDigits = 23

    /// The separator at `index` between the digit groups of a written card number, or nil. The usual ones: a space,
    /// dash, dot, underscore, slash, plus, comma or tilde, or a percent-encoded byte (`%20`, `%2D`), as a path or
    /// query echoed before decoding carries them. `loose`: any other ASCII character that is not a letter, a digit
    /// or a colon (a semicolon, a bracket, a quote), and a shadow's 0x01; a run joined by them is masked only when it holds a
    /// card number by its Luhn digit, as a timestamp (`2026-03-02 12:30:45`) is joined the same way.
    static func separator(_ bytes: [UInt8], at index: Int) -> (length: Int, loose: Bool)? {
        let byte = bytes[index]
        switch byte {
        case 0x20, 0x2D, 0x2E, 0x5F, 0x2F, 0x2B, 0x2C, 0x7E: return (1, false)
        case 0x25 where index + 2 < bytes.count && isHexDigit(bytes[index + 1]) && isHexDigit(bytes[index + 2]): return (3, false)
        default:
            // A colon separates the parts of a time (`12:30:45`): settlement files and logs are full of them.
            let isLetter = (byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7A
            return byte < 0x80 && !isDigit(byte) && !isLetter && byte != UInt8(ascii: ":") ? (1, true) : nil
        }
    }

    static func isHexDigit(_ byte: UInt8) -> Bool { isDigit(byte) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x66) }
}
