import Testing
import TaxCore
@testable import TaxTables

@Suite("The shipped TaxTables")
struct ShippedTablesTests {
    let tables = Repo.shipped.tables
    let date = TaxDate(iso: "2026-03-02")!

    func quote(from origin: Address, to destination: Address, _ lines: [QuoteLine]) throws -> Quote {
        try TaxCalculator(tables: tables).quote(QuoteRequest(date: date, origin: origin, destination: destination, lines: lines))
    }

    @Test("load cleanly, cover 50 states, DC and PR, and name a content-addressed version")
    func loads() {
        #expect(tables.states.count == 52)
        #expect(tables.version.hasPrefix("us-2026.11.1+sha256."))
        #expect(Repo.shipped.warnings.isEmpty)
        #expect(Repo.shipped.zip5.count > 41_000)
    }

    @Test("Minneapolis 55401, $100 shipped: 6.875 + 0.15 + 0.5 + 1.5 = 9.025% -> $9.03")
    func minneapolis() throws {
        let q = try quote(from: .zip("MN", "55402"), to: .zip("MN", "55401"),
                          [QuoteLine(id: "1", code: .general, amount: try Money.parse("100.00"), fulfilment: .shipped)])
        #expect(q.totalTax.decimalString == "9.03")
        #expect(q.lines[0].jurisdictions.map(\.rate.fractionString) == ["0.06875", "0.0015", "0.005", "0.015"])
        #expect(q.lines[0].jurisdictions.map(\.jurisdiction.code) == ["27", "27053", "L-MN-CITY-MINNEAPOLIS", "L-MN-SPECIAL-MINNEAPOLIS"])
        #expect(q.lines[0].jurisdictions.reduce(0) { $0 + $1.tax } == 903)
    }

    @Test("Tennessee single article from the shipped rules: $4,000 in Davidson County at 2.75% (since 2025-02-01) -> $368")
    func tennessee() throws {
        let q = try quote(from: .zip("TN", "37011"), to: .zip("TN", "37011"),
                          [QuoteLine(id: "1", code: .general, amount: try Money.parse("4000.00"), fulfilment: .shipped)])
        #expect(q.totalTax.decimalString == "368.00")
        #expect(q.lines[0].appliedRules == ["TN-single-article-local-cap", "TN-single-article-state-band"])
        #expect(q.lines[0].jurisdictions.first { $0.jurisdiction.code == "47-SA" }?.tax == 4_400)
    }

    @Test("streamed video is taxed in Wisconsin and not in California, from the shipped taxability")
    func digital() throws {
        let line = QuoteLine(id: "1", code: .digitalVideoStream, amount: try Money.parse("20.00"), fulfilment: .stream)
        let wi = try quote(from: .zip("MN", "55402"), to: .zip("WI", "53703"), [line])
        #expect(wi.totalTax.minorUnits > 0)
        #expect(wi.lines[0].taxType == .use)
        let ca = try quote(from: .zip("MN", "55402"), to: .zip("CA", "90001"), [line])
        #expect(ca.totalTax.minorUnits == 0)
        #expect(ca.lines[0].taxability.rule == .exempt)
    }

    @Test("Georgia's digital download taxability is effective-dated (taxable from 2024-01-01)")
    func effectiveDatedTaxability() {
        let ga = StateCode("GA")!
        #expect(tables.taxability(of: .digitalVideoDownload, in: ga, on: TaxDate(iso: "2023-12-31")!)?.rule == .exempt)
        #expect(tables.taxability(of: .digitalVideoDownload, in: ga, on: TaxDate(iso: "2024-01-01")!)?.rule == .taxable)
    }

    @Test("state rates are effective-dated (New Mexico 5% in 2023, 4.875% from 2024-07-01)")
    func effectiveDatedRates() {
        let nm = tables.profile(StateCode("NM")!)!
        #expect(nm.rate(on: TaxDate(iso: "2023-01-01")!)?.intrastate.fractionString == "0.05")
        #expect(nm.rate(on: TaxDate(iso: "2024-07-01")!)?.intrastate.fractionString == "0.04875")
    }

    @Test("every ZIP in the tables quotes, and every breakdown sums to its total")
    func everyZipQuotes() throws {
        let calculator = TaxCalculator(tables: tables)
        var quoted = 0
        for record in Repo.shipped.zip5.allRecords {
            let address = Address(line1: "", city: "", state: record.state, zip: record.zip)
            let q = try calculator.quote(QuoteRequest(
                date: date, origin: address, destination: address,
                lines: [QuoteLine(id: "1", code: .general, amount: Money(minorUnits: 123_457), fulfilment: .shipped),
                        QuoteLine(id: "2", code: .digitalVideoDownload, amount: Money(minorUnits: 1_999), fulfilment: .download)]))
            #expect(q.lines.flatMap(\.jurisdictions).reduce(0) { $0 + $1.tax } == q.totalTax.minorUnits)
            quoted += 1
        }
        #expect(quoted == Repo.shipped.zip5.count)
    }

    @Test("a ZIP that straddles a state line resolves per state and warns")
    func straddlingZip() throws {
        let al = try tables.locals.resolve(.zip("AL", "36855"), on: date)
        let ga = try tables.locals.resolve(.zip("GA", "36855"), on: date)
        #expect(al.locals.map(\.intrastate) != ga.locals.map(\.intrastate))
        #expect(al.warnings.contains { $0.contains("spans AL and GA") })
        #expect(throws: ResolutionError.stateMismatch(zip: "36855", given: StateCode("TX")!, actual: StateCode("AL")!)) {
            try tables.locals.resolve(.zip("TX", "36855"), on: date)
        }
    }

    @Test("a date before the local rates is refused with the coverage")
    func dateOutsideTables() {
        #expect(throws: QuoteError.self) {
            try TaxCalculator(tables: tables).quote(QuoteRequest(
                date: TaxDate(iso: "2024-06-01")!, origin: .zip("MN", "55401"), destination: .zip("MN", "55401"),
                lines: [QuoteLine(id: "1", code: .general, amount: Money(minorUnits: 100), fulfilment: .shipped)]))
        }
        do {
            _ = try TaxCalculator(tables: tables).quote(QuoteRequest(
                date: TaxDate(iso: "2024-06-01")!, origin: .zip("MN", "55401"), destination: .zip("MN", "55401"),
                lines: [QuoteLine(id: "1", code: .general, amount: Money(minorUnits: 100), fulfilment: .shipped)]))
        } catch {
            #expect(error.field == "date")
            #expect(error.description.contains("2025-01-01 onward"))
        }
    }

    @Test("a PO-box ZIP without its own rate row uses its county's rates and says so")
    func countyFallback() throws {
        let fallback = Repo.shipped.zip5.allRecords.first { $0.precision == .countyFallback && $0.warning?.contains("of its county") == true }!
        let location = try tables.locals.resolve(Address(line1: "", city: "", state: fallback.state, zip: fallback.zip), on: date)
        #expect(location.precision == .countyFallback)
        #expect(location.warnings.contains { $0.contains("most common local rates of its county") })
    }

    /// Apache Junction's retired ZIP 85220 has no rate row; its postal city is a region of Pinal County, so the town's
    /// rates answer (Pinal County 1.1%, Apache Junction 2.4%), not the county's 1.1% outside towns; so do Casa
    /// Grande's 85222 (2%).
    @Test("a PO-box ZIP without its own rate row uses its postal city's rates where the city is a region of its county")
    func fallbackToThePostalCity() throws {
        let apacheJunction = try tables.locals.resolve(Address(line1: "", city: "", state: StateCode("AZ")!, zip: ZipCode("85220")!), on: date)
        #expect(apacheJunction.precision == .countyFallback)
        #expect(apacheJunction.warnings.contains { $0.contains("postal city Apache Junction's ZIPs in Pinal County") })
        #expect(apacheJunction.locals.reduce(Int64(0)) { $0 + $1.intrastate.units } == 350_000_000)
        let casaGrande = try tables.locals.resolve(Address(line1: "", city: "Casa Grande", state: StateCode("AZ")!, zip: ZipCode("85222")!), on: date)
        #expect(casaGrande.locals.reduce(Int64(0)) { $0 + $1.intrastate.units } == 310_000_000)
    }
}
