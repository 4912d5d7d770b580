import TaxCore
import Testing

/// Orders at and beyond the contract's limits: refused with the field at fault, or quoted exactly, never a trap.
@Suite struct LimitsTests {
    let date = T.date("2026-03-02")

    func quote(_ lines: [QuoteLine], rounding: RoundingMode = .sst) throws(QuoteError) -> Quote {
        try TaxCalculator(tables: T.standard()).quote(QuoteRequest(date: date, origin: T.address("AA", "22222"), destination: T.address("AA", "11111"),
                                                                    lines: lines, rounding: rounding))
    }

    /// The request that crashed the server: two lines of 92233720368547758.07 (Int64.max cents).
    @Test func theLargestAmountsAreRefusedNotTrapped() {
        let huge = Money(minorUnits: Int64.max)
        #expect(throws: QuoteError.amountOutOfRange(line: 0)) {
            try quote([QuoteLine(id: "a", code: .general, amount: huge, fulfilment: .shipped),
                       QuoteLine(id: "b", code: .general, amount: huge, fulfilment: .shipped)])
        }
        #expect(throws: QuoteError.amountOutOfRange(line: 0)) {
            try quote([QuoteLine(id: "a", code: .general, amount: huge, fulfilment: .shipped, taxIncluded: true)])
        }
        #expect(throws: QuoteError.invalidQuantity(line: 0, quantity: Int64.max)) {
            try quote([QuoteLine(id: "a", code: .general, amount: T.money("1.00"), quantity: Int64.max, fulfilment: .shipped)])
        }
        let tooMany = (0...QuoteLimits.maxLines).map { QuoteLine(id: "\($0)", code: .general, amount: T.money("1.00"), fulfilment: .shipped) }
        #expect(throws: QuoteError.tooManyLines(QuoteLimits.maxLines + 1)) { try quote(tooMany) }
        #expect(QuoteError.amountOutOfRange(line: 3).field == "lines[3].amount")
    }

    /// The largest order the contract allows is quoted exactly: every line at the maximum amount and quantity.
    @Test func theLargestAllowedOrderIsExact() throws {
        let lines = (0..<QuoteLimits.maxLines).map {
            QuoteLine(id: "\($0)", code: .general, amount: Money(minorUnits: QuoteLimits.maxLineAmount), quantity: QuoteLimits.maxQuantity,
                      fulfilment: .shipped, taxIncluded: $0 % 2 == 0)
        }
        for rounding in RoundingMode.allCases {
            let q = try quote(lines, rounding: rounding)
            #expect(q.sumOfParts == q.totalTax.minorUnits)
            #expect(q.lines.allSatisfy { $0.tax.minorUnits > 0 })
        }
    }

    /// Property: random orders with amounts and quantities anywhere in Int64 (mostly at the edges) either quote with
    /// parts that sum to the total, or are refused with a QuoteError naming a line field. None traps.
    @Test func randomExtremeOrdersNeverTrap() {
        var rng = SplitMix(seed: 2026_11_30)
        let edges: [Int64] = [0, 1, QuoteLimits.maxLineAmount, QuoteLimits.maxLineAmount + 1, Int64.max, Int64.max - 1, Int64.min, -1]
        for _ in 0..<300 {
            let count = Int(rng.next() % 12) + 1
            var lines: [QuoteLine] = []
            for i in 0..<count {
                let amount = rng.next() % 3 == 0 ? Int64(bitPattern: rng.next()) : edges[Int(rng.next() % UInt64(edges.count))]
                let quantity = rng.next() % 3 == 0 ? Int64(bitPattern: rng.next()) : [1, 2, QuoteLimits.maxQuantity, QuoteLimits.maxQuantity + 1, Int64.max, 0][Int(rng.next() % 6)]
                let code: ProductTaxCode = [.general, .clothing, .shipping, .personalCareService][Int(rng.next() % 4)]
                lines.append(QuoteLine(id: "\(i)", code: code, amount: Money(minorUnits: amount), quantity: quantity,
                                       fulfilment: code == .personalCareService ? .inPerson : .shipped, taxIncluded: rng.next() % 2 == 0))
            }
            do {
                let q = try quote(lines, rounding: RoundingMode.allCases[Int(rng.next() % 3)])
                #expect(q.sumOfParts == q.totalTax.minorUnits)
                #expect(lines.allSatisfy { (0...QuoteLimits.maxLineAmount).contains($0.amount.minorUnits) })
            } catch {
                #expect(error.field.hasPrefix("lines["), "\(error)")
            }
        }
    }

    @Test func checkedSumsReportOverflow() {
        #expect(throws: CheckedMoney.Overflow.self) { try CheckedMoney.sum([Int64.max, 1]) }
        #expect(throws: CheckedMoney.Overflow.self) { try CheckedMoney.subtract(Int64.min, 1) }
        #expect(throws: CheckedMoney.Overflow.self) { try CheckedMoney.multiply(Int64.max / 2, 3) }
        #expect((try? CheckedMoney.sum([1, 2, 3])) == 6)
    }
}
