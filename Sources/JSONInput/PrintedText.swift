/// Text a person typed that is printed elsewhere (a report, a tax file's header, a CSV cell, the console): refused
/// when it holds characters that reorder or break what it is printed in (bidirectional embeddings, overrides,
/// isolates and marks; line and paragraph separators: a "Trojan Source" name reads backwards in an accountant's
/// report), or U+FFFD, the stand-in for bytes that were not UTF-8. Probe #13 found them in merchant profiles, probe
/// #15 in customers' names and addresses, key labels and quotes' addresses.
public enum PrintedText {
    public static func isRefused(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x061C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069, 0x2028, 0x2029, 0xFFFD: true
        default: false
        }
    }

    /// Why `text` is refused, or nil.
    public static func problem(_ text: String) -> String? {
        guard let scalar = text.unicodeScalars.first(where: isRefused) else { return nil }
        return scalar == "\u{FFFD}" ? "not valid UTF-8 (U+FFFD)"
            : "U+\(String(scalar.value, radix: 16, uppercase: true)) (a direction override or line separator) is not allowed"
    }

    /// `text` with each character `problem` refuses, and each control character, written out as `<U+202E>`: for
    /// text Levy must print but did not take from a person and cannot refuse (a processor's settlement file).
    public static func shown(_ text: String) -> String {
        func hidden(_ scalar: Unicode.Scalar) -> Bool { isRefused(scalar) || scalar.properties.generalCategory == .control }
        guard text.unicodeScalars.contains(where: hidden) else { return text }
        var shown = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            guard hidden(scalar) else { shown.append(scalar); continue }
            let hex = String(scalar.value, radix: 16, uppercase: true)
            shown.append(contentsOf: ("<U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex + ">").unicodeScalars)
        }
        return String(shown)
    }

    /// Whether `text` shows nothing: only spaces, invisible format characters (a byte order mark, a zero-width
    /// space or joiner) and controls. A required name made of them is no name.
    public static func isBlank(_ text: String) -> Bool {
        text.unicodeScalars.allSatisfy { scalar in
            scalar.properties.isWhitespace || [.format, .control].contains(scalar.properties.generalCategory)
        }
    }
}
