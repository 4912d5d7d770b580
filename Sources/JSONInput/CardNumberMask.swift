/// Keeps card numbers out of error messages. An error names the field at fault and sometimes the text it refused
/// (an unknown member name, a value that cannot be read); a client that sends a card number where it does not
/// belong (`{"4242424242424242": 1}`) must not get it back, nor see it written wherever the error goes. Any run of
/// twelve or more digits, however grouped by single spaces or dashes, is replaced: no field path, code or amount of
/// Levy's is that long, and a card number has twelve to nineteen digits.
public enum CardNumberMask {
    static let replacement = "[digits removed]"
    static let minimumDigits = 12

    public static func masked(_ text: String) -> String {
        // Most texts hold few digits: returned as they are, without allocating.
        var digitCount = 0
        for byte in text.utf8 where byte >= 0x30 && byte <= 0x39 { digitCount += 1 }
        guard digitCount >= minimumDigits else { return text }
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            guard isDigit(bytes[index]) else {
                out.append(bytes[index])
                index += 1
                continue
            }
            // A run: digits, each group joined to the next by at most one space or dash.
            var end = index, digits = 0
            while end < bytes.count {
                if isDigit(bytes[end]) {
                    digits += 1
                    end += 1
                } else if bytes[end] == 0x20 || bytes[end] == 0x2D, end + 1 < bytes.count, isDigit(bytes[end + 1]) {
                    end += 1
                } else {
                    break
                }
            }
            if digits >= minimumDigits {
                out.append(contentsOf: replacement.utf8)
            } else {
                out.append(contentsOf: bytes[index..<end])
            }
            index = end
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }
}
