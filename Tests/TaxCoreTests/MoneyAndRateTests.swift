import Testing
@testable import TaxCore

@Suite("Money and rates are exact")
struct MoneyAndRateTests {
    @Test("decimal strings parse to exact minor units", arguments: [
        ("100", 10_000), ("100.5", 10_050), ("100.50", 10_050), ("0.01", 1), ("0", 0), (".5", 50), ("1234567.89", 123_456_789),
    ] as [(String, Int64)])
    func parsesMoney(text: String, cents: Int64) throws {
        #expect(try Money.parse(text).minorUnits == cents)
    }

    @Test("malformed or over-precise amounts are refused, never rounded", arguments: [
        "", "12.345", "1e5", "-5", "12.3.4", "12,50", " 12", "abc", ".", "99999999999999999999",
    ])
    func refusesMoney(text: String) {
        #expect(throws: DecimalTextError.self) { try Money.parse(text) }
    }

    @Test("money formats with exactly two decimals")
    func formatsMoney() {
        #expect(Money(minorUnits: 903).decimalString == "9.03")
        #expect(Money(minorUnits: -50).decimalString == "-0.50")
        #expect(Money(minorUnits: 0).decimalString == "0.00")
    }

    @Test("rates parse from fractions and percentages and print the shortest exact form")
    func rates() throws {
        let rate = try Rate.parse(fraction: "0.09025")
        #expect(rate.units == 902_500_000)
        #expect(rate.fractionString == "0.09025")
        #expect(rate.percentString == "9.025")
        #expect(try Rate.parse(percent: "9.025") == rate)
        #expect(try Rate.parse(fraction: "0.0687500") == Rate.parse(fraction: "0.06875"))
        #expect(throws: DecimalTextError.self) { try Rate.parse(fraction: "1.5") }
        #expect(throws: DecimalTextError.self) { try Rate.parse(fraction: "0.00000000001") }
    }

    @Test("rounding is half away from zero at the cent: SSUTA 324's third-decimal rule", arguments: [
        // amount cents, rate, expected cents
        (10_000, "0.09025", 903),  // 9.025 -> 9.03
        (10_000, "0.09024", 902),  // 9.024 -> 9.02
        (1, "0.5", 1),             // 0.005 -> 0.01
        (1, "0.4999999999", 0),    // 0.004999.. -> 0.00
    ] as [(Int64, String, Int64)])
    func roundsHalfUp(cents: Int64, rate: String, expected: Int64) throws {
        let exact = ExactAmount(minorUnits: cents, rate: try Rate.parse(fraction: rate))
        #expect(exact.roundedHalfAwayFromZero == expected)
        #expect(ExactAmount(scaled: -exact.scaled).roundedHalfAwayFromZero == -expected)
    }

    @Test("dates are checked for real calendar days")
    func dates() {
        #expect(TaxDate(iso: "2024-02-29") != nil)
        #expect(TaxDate(iso: "2025-02-29") == nil)
        #expect(TaxDate(iso: "2026-13-01") == nil)
        #expect(TaxDate(iso: "2026-1-01") == nil)
        #expect(TaxDate(iso: "2026-03-02")!.iso == "2026-03-02")
        #expect(TaxDate(compact: "29991231") != nil)
    }

    @Test("ZIP codes accept ZIP5 and ZIP+4 only")
    func zips() {
        #expect(ZipCode("55401")?.zip5 == 55401)
        #expect(ZipCode("55401-0001")?.plus4 == 1)
        #expect(ZipCode("554010001")?.description == "55401-0001")
        #expect(ZipCode("5540") == nil)
        #expect(ZipCode("55401-00") == nil)
        #expect(ZipCode("5540-10001") == nil)
        #expect(ZipCode("ABCDE") == nil)
    }
}

@Suite("Residual allocation")
struct AllocationTests {
    @Test("parts always sum to the total, and ties go to the earlier share")
    func tieBreak() {
        let third = ExactAmount(scaled: Int128(Rate.scale) / 3 * 100)  // 33.33... cents each
        let parts = Allocation.allocate(total: 100, shares: [third, third, third])
        #expect(parts == [34, 33, 33])
    }

    @Test("largest remainder gets the residual cent")
    func largestRemainder() {
        let scale = Int128(Rate.scale)
        let shares = [ExactAmount(scaled: scale * 10 + scale / 10), ExactAmount(scaled: scale * 5 + scale * 9 / 10)]
        #expect(Allocation.allocate(total: 16, shares: shares) == [10, 6])
    }

    @Test("property: random shares and any nearby total allocate to exactly that total")
    func sums() {
        var rng = SplitMix(seed: 7)
        for _ in 0..<2_000 {
            let count = Int(rng.next() % 8) + 1
            let shares = (0..<count).map { _ in ExactAmount(scaled: Int128(rng.next() % 50_000) * Int128(Rate.scale) / 7) }
            let exact = shares.reduce(ExactAmount.zero, +)
            for delta in [-1, 0, 1] as [Int64] {
                let total = max(0, exact.roundedHalfAwayFromZero + delta)
                let parts = Allocation.allocate(total: total, shares: shares)
                #expect(parts.reduce(0, +) == total)
                if delta == 0 {
                    // With the rounded exact total, no part moves more than one cent from its exact share.
                    for (part, share) in zip(parts, shares) { #expect(abs(part - share.truncatedMinorUnits.whole) <= 1) }
                }
            }
        }
    }
}

/// Deterministic generator for property tests.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
