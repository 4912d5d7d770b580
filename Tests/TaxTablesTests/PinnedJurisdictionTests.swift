import Testing
import TaxCore
@testable import TaxTables

/// Jurisdictions a merchant pinned for its premises, against the shipped tables: Minneapolis 55402 resolves to
/// Minnesota 6.875%, Hennepin County 0.15% (27053), Minneapolis 0.5% and its special districts 1.5%; Saint Paul's
/// city tax is 1.5% (L-MN-CITY-SAINT-PAUL), the rates `levy quote` gives for those ZIPs on 2026-04-15.
@Suite("Pinned jurisdictions")
struct PinnedJurisdictionTests {
    let tables = Repo.shipped.tables
    let spa = Address(line1: "800 Nicollet Mall", city: "Minneapolis", state: StateCode("MN")!, zip: ZipCode("55402")!)
    let resolved = ["27053", "L-MN-CITY-MINNEAPOLIS", "L-MN-SPECIAL-MINNEAPOLIS"]

    func quote(_ pins: [String]?) throws -> Quote {
        var request = QuoteRequest(date: TaxDate(iso: "2026-04-15")!, origin: spa,
                                   lines: [QuoteLine(id: "1", code: .massageService, amount: try Money.parse("100.00"), fulfilment: .inPerson)])
        if let pins { request.pinned = [spa: pins] }
        return try TaxCalculator(tables: tables).quote(request)
    }

    func pinWarnings(_ quote: Quote) -> [String] { quote.warnings.filter { $0.contains("pinned") } }

    @Test("pins equal to the resolution change nothing but the record")
    func samePins() throws {
        let plain = try quote(nil), pinned = try quote(resolved.reversed())
        #expect(plain.totalTax.decimalString == "9.03")
        #expect(pinned.totalTax == plain.totalTax && pinWarnings(pinned).isEmpty)
        #expect(pinned.lines[0].sourcing.record.contains("pinned by the merchant profile"))
    }

    @Test("a resolved jurisdiction that is not pinned is dropped, and the quote says so")
    func droppedJurisdiction() throws {
        let q = try quote(["27053", "L-MN-CITY-MINNEAPOLIS"])
        #expect(q.totalTax.decimalString == "7.53")     // 100.00 x (6.875% + 0.15% + 0.5%) = 7.525, half up
        #expect(!q.lines[0].jurisdictions.contains { $0.jurisdiction.code == "L-MN-SPECIAL-MINNEAPOLIS" })
        #expect(pinWarnings(q).first?.contains("L-MN-SPECIAL-MINNEAPOLIS") == true)
    }

    @Test("a pinned jurisdiction the address does not resolve to is rated as the tables rate it elsewhere")
    func jurisdictionFromElsewhere() throws {
        let rate = try #require(tables.locals.jurisdictionRate(code: "L-MN-CITY-SAINT-PAUL", state: StateCode("MN")!, on: TaxDate(iso: "2026-04-15")!))
        #expect(rate.intrastate == (try Rate.parse(fraction: "0.015")))
        #expect(tables.locals.jurisdictionRate(code: "L-MN-CITY-SAINT-PAUL", state: StateCode("WI")!, on: TaxDate(iso: "2026-04-15")!) == nil)
        let q = try quote(["27053", "L-MN-CITY-SAINT-PAUL", "L-MN-SPECIAL-MINNEAPOLIS"])
        #expect(q.totalTax.decimalString == "10.03")    // 6.875% + 0.15% + 1.5% + 1.5% = 10.025, half up
        #expect(q.lines[0].jurisdictions.map(\.jurisdiction.code).contains("L-MN-CITY-SAINT-PAUL"))
        #expect(pinWarnings(q).count == 1)
    }

    @Test("a code the tables cannot rate is refused, naming the place it was pinned for")
    func unknownCode() throws {
        #expect(throws: QuoteError.unknownPinnedJurisdiction(field: "origin", code: "L-MN-CITY-NOWHERE", TaxDate(iso: "2026-04-15")!)) {
            try quote(["27053", "L-MN-CITY-NOWHERE"])
        }
        // The state's own code is no local jurisdiction: pinned, it once charged Minnesota's 6.875% twice (probe #5).
        #expect(throws: QuoteError.unknownPinnedJurisdiction(field: "origin", code: "27", TaxDate(iso: "2026-04-15")!)) {
            try quote(["27", "27053"])
        }
        // The profile's check before a pin is recorded refuses what the engine would (probe #13: it took "27").
        let april = TaxDate(iso: "2026-04-15")!, minnesota = StateCode("MN")!
        #expect(tables.locals.firstUnrated(["27053", "27"], state: minnesota, on: april) == 1)
        #expect(tables.locals.firstUnrated(["27053", "L-MN-CITY-NOWHERE"], state: minnesota, on: april) == 1)
        #expect(tables.locals.firstUnrated(resolved, state: minnesota, on: april) == nil)
    }

    /// Every shipped resolver answers for codes of its own kind: a WA location code from the DOR file, a county
    /// FIPS from the ZIP5 table, a corrected jurisdiction.
    @Test("the official and corrected layers rate their own codes")
    func layersRateTheirCodes() throws {
        let seattle = try TaxCalculator(tables: tables).quote(QuoteRequest(date: TaxDate(iso: "2026-05-15")!, origin: .zip("WA", "98101"),
                                                                           destination: .zip("WA", "98101"),
                                                                           lines: [QuoteLine(id: "1", code: .general, amount: try Money.parse("100.00"), fulfilment: .shipped)]))
        for tax in seattle.lines[0].jurisdictions where tax.jurisdiction.level != .state {
            let rate = try #require(tables.locals.jurisdictionRate(code: tax.jurisdiction.code, state: StateCode("WA")!, on: TaxDate(iso: "2026-05-15")!),
                                    "\(tax.jurisdiction.code)")
            #expect(rate.intrastate == tax.rate, "\(tax.jurisdiction.code)")
        }
    }
}
