import Testing
import TaxCore
@testable import TaxTables

/// Remote-seller programs a seller elects (`seller.elections`, TaxTables/elections.csv): Texas's single local use
/// tax rate (Tax Code 151.0595: 1.75% in place of the destination's local taxes) and Alabama's Simplified Sellers Use
/// Tax (Ala. Code 40-23-193: a flat 8% in place of the state's and every local tax).
@Suite("Remote-seller elections")
struct RemoteSellerElectionTests {
    let tables = Repo.shipped.tables
    let texas = RemoteSellerElection(state: StateCode("TX")!, type: "single_local_use_tax")
    let alabama = RemoteSellerElection(state: StateCode("AL")!, type: "simplified_sellers_use_tax")

    func quote(_ date: String, from origin: Address, to destination: Address, _ lines: [QuoteLine],
               elections: [RemoteSellerElection]) throws -> Quote {
        var request = QuoteRequest(date: TaxDate(iso: date)!, origin: origin, destination: destination, lines: lines)
        request.elections = elections
        return try TaxCalculator(tables: tables).quote(request)
    }

    func line(_ amount: String, _ code: ProductTaxCode = .general, _ fulfilment: Fulfilment = .shipped, id: String = "1") -> QuoteLine {
        QuoteLine(id: id, code: code, amount: try! Money.parse(amount), fulfilment: fulfilment)
    }

    @Test("Texas: a remote seller that elected the single local rate collects 6.25% and 1.75% in place of Houston's 2%")
    func texasSingleLocalRate() throws {
        let minneapolis = Address.zip("MN", "55401"), houston = Address.zip("TX", "77002")
        let actual = try quote("2026-03-02", from: minneapolis, to: houston, [line("100.00")], elections: [])
        #expect(actual.totalTax.decimalString == "8.25")
        let elected = try quote("2026-03-02", from: minneapolis, to: houston, [line("100.00")], elections: [texas])
        #expect(elected.totalTax.decimalString == "8.00")
        let cells = elected.lines[0].jurisdictions
        #expect(cells.map(\.jurisdiction.code) == ["48", "48-SLUT"])
        #expect(cells.map(\.tax) == [625, 175])
        #expect(cells[1].jurisdiction.level == .special)
        #expect(elected.lines[0].taxType == .use)
        #expect(elected.lines[0].appliedRules.contains("TX-single_local_use_tax"))
        // The Comptroller's page read is from 2025: a 2026 quote that relies on it says so.
        #expect(elected.warnings.contains { $0.contains("stale_rates: source tx-slut-comptroller") })
        // Where the destination's local rate is below 1.75%, the elected rate is still the one collected.
        let small = try quote("2026-03-02", from: minneapolis, to: .zip("TX", "79838"), [line("100.00")], elections: [texas])
        #expect(small.totalTax.decimalString == "8.00")
    }

    @Test("a seller with a place of business in the state is not a remote seller there: the election is not applied, and the quote says why")
    func presentSellersAreNotRemote() throws {
        let austin = Address.zip("TX", "78701"), houston = Address.zip("TX", "77002")
        let inState = try quote("2026-03-02", from: austin, to: houston, [line("100.00")], elections: [texas])
        #expect(!inState.lines[0].jurisdictions.contains { $0.jurisdiction.code == "48-SLUT" })
        #expect(inState.warnings.contains { $0.contains("election single_local_use_tax in TX not applied") && $0.contains("origin") })
        // A spa in Texas (a line received at a location of its own) makes the seller present there for every line.
        var spa = line("100.00", .personalCareService, .inPerson, id: "facial")
        spa.location = austin
        let mixed = try quote("2026-03-02", from: .zip("MN", "55401"), to: houston, [spa, line("50.00", id: "goods")], elections: [texas])
        #expect(mixed.lines.allSatisfy { !$0.jurisdictions.contains { $0.jurisdiction.code == "48-SLUT" } })
        #expect(mixed.warnings.contains { $0.contains("lines[0].location") })
    }

    @Test("Alabama: the Simplified Sellers Use Tax is a flat 8% in place of the state's 4% and Birmingham's and Jefferson County's taxes")
    func alabamaSimplifiedSellersUseTax() throws {
        let atlanta = Address.zip("GA", "30303"), birmingham = Address.zip("AL", "35203")
        let actual = try quote("2026-03-02", from: atlanta, to: birmingham, [line("100.00")], elections: [])
        #expect(actual.totalTax.decimalString == "10.00")
        let elected = try quote("2026-03-02", from: atlanta, to: birmingham, [line("100.00"), line("19.99", id: "2")], elections: [alabama])
        #expect(elected.lines.map { $0.jurisdictions.map(\.jurisdiction.code) } == [["01-SSUT"], ["01-SSUT"]])
        #expect(elected.lines.map(\.tax.decimalString) == ["8.00", "1.60"])
        #expect(elected.lines[0].jurisdictions[0].jurisdiction.level == .state)
        // An election of one state changes nothing in another.
        let both = try quote("2026-03-02", from: atlanta, to: birmingham, [line("100.00")], elections: [texas])
        #expect(both.totalTax.decimalString == "10.00")
        // A tax-included price is backed out at the flat rate: 108.00 is 100.00 and 8.00.
        var included = line("108.00")
        included.taxIncluded = true
        let gross = try quote("2026-03-02", from: atlanta, to: birmingham, [included], elections: [alabama])
        #expect(gross.lines[0].taxableBase.decimalString == "100.00")
        #expect(gross.lines[0].tax.decimalString == "8.00")
    }

    @Test("the state's holiday reaches the elected tax, with a warning that no state source says how (Alabama, July 17-19 2026)")
    func holidaysUnderAnElection() throws {
        let atlanta = Address.zip("GA", "30303"), birmingham = Address.zip("AL", "35203")
        let holiday = try quote("2026-07-18", from: atlanta, to: birmingham, [line("50.00", .clothing)], elections: [alabama])
        #expect(holiday.totalTax.decimalString == "0.00")
        #expect(holiday.warnings.contains { $0.contains("holiday") && $0.contains("not confirmed by a state source") })
        let after = try quote("2026-07-20", from: atlanta, to: birmingham, [line("50.00", .clothing)], elections: [alabama])
        #expect(after.totalTax.decimalString == "4.00")
        #expect(!after.warnings.contains { $0.contains("not confirmed by a state source") })
    }

    @Test("an election the tables do not have for the state is refused naming the field; a seller not registered there collects nothing")
    func refusalsAndRegistrations() throws {
        let wrong = RemoteSellerElection(state: StateCode("TX")!, type: "simplified_sellers_use_tax")
        #expect(throws: QuoteError.unknownElection(field: "seller.elections[1].type", StateCode("TX")!, "simplified_sellers_use_tax")) {
            _ = try quote("2026-03-02", from: .zip("MN", "55401"), to: .zip("TX", "77002"), [line("100.00")], elections: [alabama, wrong])
        }
        var request = QuoteRequest(date: TaxDate(iso: "2026-03-02")!, origin: .zip("MN", "55401"), destination: .zip("TX", "77002"),
                                   registrations: [StateCode("MN")!], lines: [line("100.00")])
        request.elections = [texas]
        let unregistered = try TaxCalculator(tables: tables).quote(request)
        #expect(unregistered.totalTax.decimalString == "0.00")
        #expect(unregistered.lines[0].notCollecting == .notRegistered(StateCode("TX")!))
    }
}
