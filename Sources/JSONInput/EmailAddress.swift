/// The one rule for an email address a client gives (a customer's, a merchant's), so the API and the OpenAPI
/// document say the same thing everywhere: one "@" between a non-empty local part and a domain of non-empty,
/// dot-separated labels (at least two), no whitespace or control characters, at most 254 bytes (RFC 5321's path
/// limit). Deliverability is not checked; the rule only keeps out what cannot be an address.
public enum EmailAddress {
    public static let maxBytes = 254

    /// Why `text` is not an email address, or nil when it passes.
    public static func problem(_ text: String) -> String? {
        guard text.utf8.count <= maxBytes else { return "at most \(maxBytes) bytes (RFC 5321)" }
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty,
              parts[1].split(separator: ".", omittingEmptySubsequences: false).count >= 2,
              parts[1].split(separator: ".", omittingEmptySubsequences: false).allSatisfy({ !$0.isEmpty }),
              !text.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.properties.generalCategory == .control })
        else { return "is not an email address" }
        return nil
    }
}
