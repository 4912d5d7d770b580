import JSONInput
import Testing

@Suite("An email address's one rule")
struct EmailAddressTests {
    @Test("plausible addresses pass, with subdomains, plus tags and non-ASCII names")
    func plausible() {
        for email in ["ana@example.com", "first.last+spa@mail.example.co.uk", "josé@correo.example.mx", "a@b.co"] {
            #expect(EmailAddress.problem(email) == nil, "\(email)")
        }
    }

    @Test("what cannot be an address is refused")
    func refused() {
        let refused = ["not-an-email", "a@@b.co", "@b.co", "a@b", "a@b..co", "a@.b.co", "a@b.co.", "a b@c.co", "a@b.co\t",
                       "a\u{0}@b.co", "a@b.co\u{85}", "a\u{A0}b@c.co", "a@b\u{2028}.co", ""]
        for email in refused {
            #expect(EmailAddress.problem(email) == "is not an email address", "\(email.debugDescription)")
        }
    }

    @Test("at most 254 bytes, counted in UTF-8")
    func length() {
        let domain = "@example.com"
        let longest = String(repeating: "a", count: 254 - domain.utf8.count) + domain
        #expect(EmailAddress.problem(longest) == nil)
        #expect(EmailAddress.problem("a" + longest) == "at most 254 bytes (RFC 5321)")
        let accented = String(repeating: "é", count: 122) + domain  // 244 + 12 = 256 bytes in 134 characters
        #expect(EmailAddress.problem(accented) == "at most 254 bytes (RFC 5321)")
    }
}
