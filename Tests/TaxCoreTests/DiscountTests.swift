import TaxCore
import Testing

@Suite struct DiscountTests {
    let date = T.date("2026-03-02")

    func quote(_ lines: [QuoteLine], _ discounts: [OrderDiscount] = [], tables: TaxTableSet = T.standard()) throws(QuoteError) -> Quote {
        try TaxCalculator(tables: tables).quote(QuoteRequest(date: date, origin: T.address("AA", "22222"), destination: T.address("AA", "11111"),
                                                             lines: lines, discounts: discounts))
    }

    /// Largest remainder in exact cents, ties to the earlier line: 10.00 over 1:1:1 is 3.34, 3.33, 3.33.
    @Test func splitByLargestRemainder() {
        #expect(DiscountAllocation.split(1_000, over: [100, 100, 100]) == [334, 333, 333])
        #expect(DiscountAllocation.split(1, over: [5, 5]) == [1, 0])
        #expect(DiscountAllocation.split(0, over: [5, 5]) == [0, 0])
        #expect(DiscountAllocation.split(7, over: [0, 0]) == [0, 0])
    }

    /// Property: allocations sum to each discount; no line's base goes negative; the order's tax never rises.
    @Test func allocationProperties() throws {
        var rng = SplitMix(seed: 13)
        for _ in 0..<300 {
            let count = Int(rng.next() % 6) + 1
            let lines = (0..<count).map { i in
                QuoteLine(id: "\(i)", code: .general, amount: Money(minorUnits: Int64(rng.next() % 50_000)), fulfilment: .shipped,
                          discount: 0)
            }
            let total = lines.reduce(Int64(0)) { $0 + $1.amount.minorUnits }
            let first = total == 0 ? 0 : Int64(rng.next() % UInt64(total + 1))
            let second = total - first == 0 ? 0 : Int64(rng.next() % UInt64(total - first + 1))
            let discounts = [OrderDiscount(id: "a", amount: Money(minorUnits: first), kind: .seller),
                             OrderDiscount(id: "b", amount: Money(minorUnits: second), kind: .thirdParty)]
            let q = try quote(lines, discounts)
            #expect(q.lines.reduce(0) { $0 + $1.discounts.seller } == first)
            #expect(q.lines.reduce(0) { $0 + $1.discounts.thirdParty } == second)
            #expect(q.lines.allSatisfy { $0.taxableBase.minorUnits >= 0 && $0.amount.minorUnits >= 0 })
            #expect(q.totalAmount.minorUnits == total - first - second)
            #expect(q.totalTax.minorUnits <= (try quote(lines)).totalTax.minorUnits)
            #expect(q.sumOfParts == q.totalTax.minorUnits)
        }
    }

    @Test func aSellerDiscountOfTheWholeAmountLeavesNoTax() throws {
        let q = try quote([QuoteLine(id: "1", code: .general, amount: T.money("80.00"), fulfilment: .shipped, discount: 8_000)])
        #expect(q.totalTax.minorUnits == 0 && q.totalAmount.minorUnits == 0)
        let order = try quote([T.line("1", .general, "30.00"), T.line("2", .general, "20.00")],
                              [OrderDiscount(id: "all", amount: T.money("50.00"), kind: .seller)])
        #expect(order.totalTax.minorUnits == 0)
    }

    @Test func tooLargeDiscountsAreRefusedByField() {
        #expect(throws: QuoteError.discountTooLarge(field: "lines[0].discount", limit: 1_000)) {
            try quote([QuoteLine(id: "1", code: .general, amount: T.money("10.00"), fulfilment: .shipped, discount: 1_001)])
        }
        #expect(throws: QuoteError.discountTooLarge(field: "discounts[0].amount", limit: 1_000)) {
            try quote([T.line("1", .general, "10.00"), T.line("s", .shipping, "5.00")], [OrderDiscount(id: "d", amount: T.money("10.01"), kind: .seller)])
        }
        #expect(throws: QuoteError.discountLines(field: "discounts[0].lines[0]", "the order has no line \"zz\"")) {
            try quote([T.line("1", .general, "10.00")], [OrderDiscount(id: "d", amount: T.money("1.00"), kind: .seller, lineIDs: ["zz"])])
        }
    }

    /// Probe #15: a reimbursed coupon past a tax-included line's price before tax was cut to that price, and the line
    /// said it had the whole coupon. Up to that price the buyer pays the price less the coupon and the tax is kept
    /// (the synthetic state's coupons do not reduce the base); one cent past it is refused naming the discount.
    @Test func aCouponOnATaxIncludedLineStopsAtThePriceBeforeTax() throws {
        let line = QuoteLine(id: "a", code: .general, amount: T.money("10.00"), fulfilment: .shipped, taxIncluded: true)
        let plain = try quote([line])
        let net = plain.totalAmount.minorUnits, tax = plain.totalTax.minorUnits
        #expect(net + tax == 1_000 && tax > 0)
        let whole = try quote([line], [OrderDiscount(id: "c", amount: Money(minorUnits: net), kind: .thirdParty)])
        #expect(whole.totalAmount.minorUnits == 0 && whole.totalTax.minorUnits == tax && whole.lines[0].discounts.thirdParty == net)
        #expect(throws: QuoteError.self) { try quote([line], [OrderDiscount(id: "c", amount: Money(minorUnits: net + 1), kind: .thirdParty)]) }
        do {
            _ = try quote([line], [OrderDiscount(id: "c", amount: Money(minorUnits: net + 1), kind: .thirdParty)])
        } catch {
            #expect(error.field == "discounts[0].amount" && error.description.contains("larger than its price before tax"), "\(error)")
        }
    }

    /// Shipping is left out of an order-level discount unless the discount names it.
    @Test func shippingIsOnlyDiscountedWhenNamed() throws {
        let q = try quote([T.line("1", .general, "10.00"), T.line("s", .shipping, "5.00")], [OrderDiscount(id: "d", amount: T.money("2.00"), kind: .seller)])
        #expect(q.lines.map(\.discounts.seller) == [200, 0])
        let named = try quote([T.line("1", .general, "10.00"), T.line("s", .shipping, "5.00")],
                              [OrderDiscount(id: "d", amount: T.money("3.00"), kind: .seller, lineIDs: ["s"])])
        #expect(named.lines.map(\.discounts.seller) == [0, 300])
    }
}
