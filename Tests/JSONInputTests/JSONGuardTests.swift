import JSONInput
import Testing

@Suite struct JSONGuardTests {
    func failure(_ text: String) -> JSONGuard.Failure? {
        do { try JSONGuard.check(Array(text.utf8)); return nil } catch { return error }
    }

    func failure(bytes: [UInt8]) -> JSONGuard.Failure? {
        do { try JSONGuard.check(bytes); return nil } catch { return error }
    }

    /// Probe #21: what a decoder rounds into a whole number is found by its exact value, not its form.
    @Test func fractionalNumbersAreFoundByValue() throws {
        for (literal, whole) in [("1", true), ("-0", true), ("2.0", true), ("1e3", true), ("1E+2", true), ("1500e-3", false), ("2500e-2", true),
                                 ("0.99999999999999999999", false), ("1.5", false), ("15e-1", false), ("0.0", true), ("0e-5", true),
                                 ("100000000000000000000.000", true), ("12.50e1", true), ("12.55e1", false)] {
            let findings = try JSONGuard.check(Array(#"{"a": [1, {"q": \#(literal)}]}"#.utf8))
            #expect((findings.firstFractionalNumber == nil) == whole, "\(literal)")
            if !whole { #expect(findings.firstFractionalNumber == "a[1].q") }
        }
    }

    @Test func wellFormedDocumentsPass() {
        #expect(failure(#"{"a": [1, -2.5e3, true, false, null, "x\u00e9\ud83d\ude00", {"b": {}}], "c": []}"#) == nil)
        #expect(failure("  {\"lines\":[{\"id\":\"1\",\"amount\":\"10.00\"}]}\n") == nil)
    }

    /// RFC 7493: the same member name twice in one object is refused with its path, however deep.
    @Test func duplicateNamesAreRefusedWithTheirPath() {
        let top = failure(#"{"date": "2026-01-01", "date": "2026-02-01"}"#)
        #expect(top?.kind == .duplicateName && top?.path == "date")
        let nested = failure(#"{"lines": [{"id": "a"}, {"id": "b", "amount": "1.00", "amount": "9.00"}]}"#)
        #expect(nested?.kind == .duplicateName && nested?.path == "lines[1].amount")
        // Escapes do not hide a duplicate: "\u0061mount" is "amount".
        let escaped = failure(#"{"amount": "1", "\u0061mount": "2"}"#)
        #expect(escaped?.kind == .duplicateName && escaped?.path == "amount")
        // The same name in two different objects is fine.
        #expect(failure(#"{"a": {"x": 1}, "b": {"x": 2}}"#) == nil)
    }

    @Test func invalidUTF8IsNamedAsSuch() {
        let bad = failure(bytes: Array(#"{"name": "a"#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8))
        #expect(bad?.kind == .invalidUTF8)
        #expect(bad?.path == "name")
        #expect(failure(bytes: Array(#"{"x": ""#.utf8) + [0xED, 0xA0, 0x80] + Array(#""}"#.utf8))?.kind == .invalidUTF8)  // a surrogate
        #expect(failure(bytes: Array(#"{"x": ""#.utf8) + [0xC0, 0xAF] + Array(#""}"#.utf8))?.kind == .invalidUTF8)  // overlong
        #expect(failure(#"{"x": "\ud800"}"#)?.kind == .invalidUTF8)  // a lone surrogate escape
        // UTF-16 and UTF-32 without a byte-order mark are valid UTF-8 full of NULs: named for what they are.
        let ascii = Array(#"{"x": 1}"#.utf8)
        let encodings: [(String, [UInt8])] = [("UTF-16LE", ascii.flatMap { byte -> [UInt8] in [byte, 0] }),
                                              ("UTF-16BE", ascii.flatMap { byte -> [UInt8] in [0, byte] }),
                                              ("UTF-32LE", ascii.flatMap { byte -> [UInt8] in [byte, 0, 0, 0] })]
        for (name, wide) in encodings {
            let refused = failure(bytes: wide)
            #expect(refused?.kind == .invalidUTF8 && refused?.message.contains("UTF-16") == true, "\(name): \(String(describing: refused))")
            // Said of a file (levy.json, a mapping file), the advice is about saving it, not sending it.
            let file = refused?.fileDescription ?? ""
            #expect(file.contains("save it as UTF-8") && !file.contains("sent"), "\(name): \(file)")
        }
        let marked = failure(bytes: [0xEF, 0xBB, 0xBF] + ascii)?.fileDescription ?? ""
        #expect(marked == "the file starts with a byte-order mark; save it as UTF-8 without one", "\(marked)")
    }

    @Test func controlCharactersAreRefused() {
        #expect(failure(#"{"id": "a\u0000b"}"#)?.kind == .controlCharacter)
        #expect(failure(#"{"id": "a\nb"}"#)?.kind == .controlCharacter)
        #expect(failure(bytes: Array(#"{"id": "a"#.utf8) + [0x01] + Array(#""}"#.utf8))?.kind == .controlCharacter)
        // C1 controls, escaped or raw (U+009B is the terminal's CSI); U+00A0 and later are text.
        #expect(failure(#"{"id": "a\u0085b"}"#)?.kind == .controlCharacter)
        #expect(failure(bytes: Array(#"{"id": "a"#.utf8) + [0xC2, 0x9B] + Array(#"[31m"}"#.utf8))?.kind == .controlCharacter)
        #expect(failure(bytes: Array(#"{"id": "a"#.utf8) + [0xC2, 0x80] + Array(#""}"#.utf8))?.kind == .controlCharacter)
        #expect(failure(#"{"id": "caf\u00e9 \u00a0"}"#) == nil)
        #expect(failure(#"{"id": "Cañada"}"#) == nil)
    }

    @Test func limitsHold() {
        let long = "{\"purpose\": \"" + String(repeating: "x", count: 5_000) + "\"}"
        let tooLong = failure(long)
        #expect(tooLong?.kind == .tooLong && tooLong?.path == "purpose")
        let deep = String(repeating: "[", count: 40) + String(repeating: "]", count: 40)
        #expect(failure("{\"a\": \(deep)}")?.kind == .tooDeep)
        let many = "{\"a\": [" + Array(repeating: "1", count: 1_001).joined(separator: ",") + "]}"
        #expect(failure(many)?.kind == .tooMany)
        #expect(failure("{\"a\": " + String(repeating: "9", count: 40) + "}")?.kind == .tooLong)
    }

    @Test func syntaxErrorsAreRefused() {
        for text in ["", "[]", "{", "{\"a\" 1}", "{\"a\": 01}", "{\"a\": 1,}", "{\"a\": tru}", "{\"a\": 1} x", "{'a': 1}", "\u{FEFF}{}"] {
            #expect(failure(text) != nil, "\(text)")
        }
    }
}

/// Card numbers never come back in an error's field or message.
@Suite struct CardNumberMaskTests {
    @Test func runsOfTwelveDigitsOrMoreAreRemoved() {
        #expect(CardNumberMask.masked("4242424242424242") == "[digits removed]")
        #expect(CardNumberMask.masked("lines[0].4242 4242 4242 4242") == "lines[0].[digits removed]")
        #expect(CardNumberMask.masked("x 4111-1111-1111-1111 y") == "x [digits removed] y")
        #expect(CardNumberMask.masked("a 3782-822463-10005.") == "a [digits removed].")
        // Groups joined by several separators, as the vault also reads them, and by dots or underscores.
        // Slashes, pluses, commas, tildes and percent-encoded bytes too: a path echoed before decoding
        // (`/v1/orders/4242%204242%204242%204242`) or a customer name written `4242/4242/4242/4242` (probe #4).
        for text in ["4242--4242--4242--4242", "4242  4242  4242  4242", "4242 - 4242 - 4242 - 4242", "4242.4242.4242.4242", "4242_4242_4242_4242",
                     "4242/4242/4242/4242", "4242+4242+4242+4242", "4242,4242,4242,4242", "4242~4242~4242~4242", "4242%204242%204242%204242",
                     "4242%2D4242%2d4242%2D4242", "4242%20%204242%2B4242/4242"] {
            #expect(CardNumberMask.masked("id " + text + " x") == "id [digits removed] x", "\(text)")
        }
        // Any punctuation, symbol or invisible character between groups, when the digits are a card number by their
        // Luhn digit (probe #5: 32 such separators got through); what is around the run is kept.
        for text in ["4242;4242;4242;4242", "4242;4242|4242*4242", "(4242)[4242]{4242}<4242>", "4242\u{200B}4242\u{200B}4242\u{200B}4242",
                     "4242\u{00AD}4242\u{2060}4242\u{FEFF}4242", "4242\u{2022}4242\u{00B7}4242\u{2024}4242", "4242\u{0301}4242\u{0301}4242\u{0301}4242",
                     "4242'4242\"4242`4242", "4242#4242=4242&4242@", "4242!4242?4242\t4242"] {
            let masked = CardNumberMask.masked("id " + text + " x")
            #expect(masked.contains("[digits removed]") && !masked.contains("4242"), "\(text) -> \(masked)")
            #expect(CardNumberMask.containsCardNumber(text), "\(text)")
        }
        // Digits of other scripts and Unicode spaces and dashes, as a person reads them; the rest of the text kept.
        for text in ["４２４２４２４２４２４２４２４２", "4242\u{00A0}4242\u{00A0}4242\u{00A0}4242", "4242–4242–4242–4242", "٤٢٤٢٤٢٤٢٤٢٤٢٤٢٤٢"] {
            #expect(CardNumberMask.masked("né " + text + " ✓") == "né [digits removed] ✓", "\(text)")
        }
        #expect(CardNumberMask.masked("Zoë 612–555–0100") == "Zoë 612–555–0100")
    }

    /// Digits joined by other punctuation are masked only when they make a card number: a timestamp or a list
    /// of amounts in an error stays as written.
    @Test func looseSeparatorsNeedALuhnDigit() {
        for text in ["at 2026-03-02 12:30:45", "4242;4242;4242;4241", "ids (1234)(5678)(9012)(3456)", "2026-03-02 11:14:02", "4242:4242:4242:4242"] {
            #expect(CardNumberMask.masked(text) == text, "\(text)")
        }
        #expect(!CardNumberMask.containsCardNumber("Suite 100; 1234 Main St: 5678"))
        #expect(!CardNumberMask.containsCardNumber("2026-03-02 11:14:02"), "a time's colons join nothing")
        // Names that are mostly ids lose only card numbers: an export id's dozen decimal digits stay.
        #expect(CardNumberMask.maskingCardNumbers("exp_123456789012345abc.tar") == "exp_123456789012345abc.tar")
        #expect(CardNumberMask.maskingCardNumbers("4242 4242 4242 4242.tar") == "[digits removed].tar")
    }

    @Test func shorterNumbersStay() {
        for text in ["lines[12].amount", "ZIP 08644 is not in the tables", "at most 999999999.99", "2026-03-02 12:30:45",
                     "12345678901", "call 612-555-0100 or 612-555-0101", "1 2 3"] {
            #expect(CardNumberMask.masked(text) == text, "\(text)")
        }
        #expect(CardNumberMask.masked("1234 5678 9012") == "[digits removed]")
    }

    /// What a person writes refuses a card number: 13 to 19 digits with a right Luhn digit, however grouped, also
    /// after other groups of the same run ("Apt 1 4242 ...").
    /// Identifiers refuse only a number with a card network's prefix and length.
    @Test func issuedCardNumbersAreFoundInIdentifiers() {
        for text in ["4242 4242 4242 4242", "4000056655665556", "5555555555554444", "378282246310005", "6011111111111117", "3530111333300000",
                     "permit 4111-1111-1111-1111"] {
            #expect(CardNumberMask.containsIssuedCardNumber(text), "\(text)")
        }
        for text in ["456.123456789.014", "1234567890123452", "MN-1234567", "8000000000000001", ""] {
            #expect(!CardNumberMask.containsIssuedCardNumber(text), "\(text)")
        }
        // A card number with its security code typed after it (probe #8: accepted and stored as a line id and a city).
        for text in ["4242424242424242123", "5555555555554444123", "41111111111111111234", "line 378282246310005 1234"] {
            #expect(CardNumberMask.containsIssuedCardNumber(text) && CardNumberMask.containsCardNumber(text), "\(text)")
        }
        // A long number that is not one: no network prefix, or digits after the card-shaped start that are too many.
        for text in ["1299999999999999999", "4242424242424242123456789", "7242424242424242123"] {
            #expect(!CardNumberMask.containsIssuedCardNumber(text), "\(text)")
        }
    }

    @Test func cardNumbersAreFoundInText() {
        for text in ["4242424242424242", "Jane 4242 4242 4242 4242", "1 Main St 4111-1111-1111-1111", "Apt 1 4242 4242 4242 4242", "4242/4242/4242/4242",
                     "4242%204242%204242%204242",
                     "amex 378282246310005", "5555555555554444 and more", "4242 4242  4242 4242", "Jane 4242--4242--4242--4242",
                     "4000 - 0566 - 5566 - 5556", "Zoë ４２４２ ４２４２ ４２４２ ４２４２", "4242\u{00A0}4242\u{00A0}4242\u{00A0}4242"] {
            #expect(CardNumberMask.containsCardNumber(text), "\(text)")
        }
        for text in ["4242424242424241", "1234 Main St", "call +1 612-555-0100", "12345678901234", "order 1700000000000123",
                     "0b9f1c2e-8a4d-4f6b-9c3e-2d1a7b5e4f60", "4242 4242 - x 4242 4242", ""] {
            #expect(!CardNumberMask.containsCardNumber(text), "\(text)")
        }
    }

    /// Probe #15: a run of many digit groups (`1-1-1-…`) was read pair of groups by pair of groups, so a 200 KB cell of
    /// a settlement file held a core for hours. Only spans as long as a card number and a code are tried now: these
    /// finish (quadratic, the first would try more than 10^9 spans), and still find a number at the end of such a run.
    @Test func manyDigitGroupsAreReadInOnePass() {
        let groups = String(repeating: "1-", count: 50_000)
        #expect(!CardNumberMask.containsCardNumber(groups))
        #expect(CardNumberMask.containsCardNumber(groups + " 4242 4242 4242 4242"))
        #expect(!CardNumberMask.containsIssuedCardNumber(groups))
        #expect(CardNumberMask.maskingCardNumbers(groups) == groups)
        #expect(CardNumberMask.masked(groups).count < groups.count)
        // Two card numbers joined by punctuation are both masked (the first alone was).
        let two = CardNumberMask.maskingCardNumbers("id 4242;4242;4242;4242;5555;5555;5555;4444 end")
        #expect(two == "id [digits removed];[digits removed] end", "\(two)")
    }
}

@Suite struct FirstNonWholeNumberTests {
    /// Foundation's decoder refuses `1.5` or 2^63 for an integer without the field's path; the API names it from here.
    @Test func namesTheFirstNumberThatIsNotAWholeInt64() {
        func path(_ text: String) -> String? { JSONGuard.firstNonWholeNumber(Array(text.utf8)) }
        #expect(path(#"{"a": 1, "b": {"c": [2, 1.5]}}"#) == "b.c[1]")
        #expect(path(#"{"billing_version": 9223372036854775808}"#) == "billing_version")
        #expect(path(#"{"n": 1e3}"#) == "n")
        #expect(path(#"{"n": -9223372036854775808, "m": 0}"#) == nil)
        #expect(path(#"{"amount": "1.5"}"#) == nil, "a string is not a number")
    }
}
