import Foundation
import Orders
import Storage
import TaxCore
import Vault

/// `levy demo seed`: realistic, reproducible orders for demos and benchmarks. A med spa with three Minneapolis-area
/// locations sells treatments (performed at a location), products shipped to customers in several states, and
/// streamed or downloaded classes, gift cards (later spent on other orders as a tender) and packages of sessions;
/// some treatments carry a tip; some customers are tax-exempt; some orders are refunded.
public enum DemoSeed {
    public struct Report: Sendable, CustomStringConvertible {
        public var orders = 0
        public var refunds = 0
        /// Gift cards issued, and orders paid partly or wholly by one.
        public var giftCardsIssued = 0
        public var paidByGiftCard = 0
        /// Orders taxed with stale tables (see `StaleTables`) whose tax differs from today's tables on their tax date.
        public var taxMismatches: [String] = []
        public var seconds = 0.0
        public var description: String {
            String(format: "seeded %d orders (%d refunds, %d gift cards issued, %d orders paid by gift card) in %.1f s: %.0f orders/s", orders, refunds,
                   giftCardsIssued, paidByGiftCard, seconds, Double(orders) / max(seconds, 1e-9))
        }
    }

    static let locations = [("MN", "55402"), ("MN", "55102"), ("MN", "55424")]
    static let destinations = [("MN", "55401"), ("WI", "53703"), ("CA", "90001"), ("TX", "75201"), ("NY", "10001"), ("WA", "98101"),
                               ("TN", "37011"), ("IL", "60601"), ("FL", "33101"), ("GA", "30303"), ("OR", "97201"), ("CO", "80202")]
    static let items: [(ProductTaxCode, Fulfilment, ClosedRange<Int64>)] = [
        (.personalCareService, .inPerson, 8_000...45_000), (.massageService, .inPerson, 6_000...18_000),
        (.professionalService, .inPerson, 15_000...90_000), (.general, .shipped, 1_500...25_000), (.shipping, .shipped, 595...1_995),
        (.digitalVideoStream, .stream, 499...2_999), (.digitalVideoDownload, .download, 1_999...9_999), (.digitalSubscription, .stream, 999...2_999),
        (.giftCard, .shipped, 5_000...20_000),
    ]

    /// Places, captures and sometimes refunds `count` orders; `acknowledge` is called after each order is durable.
    /// With `customers`, two orders in three belong to a registered customer (about three orders each) whose billing
    /// address is the order's destination; the rest are guest checkouts.
    /// With `stale`, one order in `stale.every` is placed by a service whose tables are stale (a tax mismatch for
    /// reconciliation to find); those whose tax really differs are listed in the report.
    public static func run(service: OrderService, customers: CustomerService? = nil, count: Int, seed: UInt64, refundEvery: Int = 10,
                           stale: StaleTables? = nil, acknowledge: (OrderID) -> Void = { _ in }) async throws -> Report {
        var rng = SplitMix64(seed: seed)
        var report = Report()
        let clock = ContinuousClock()
        let start = clock.now
        var customerOf: [Int: BillingAddress] = [:]
        // Gift cards sold earlier in the run (their codes exist only here, in memory), spent by later orders.
        var giftCards: [GiftCardCode] = []
        for i in 0..<count {
            var request = order(index: i, rng: &rng)
            let key = "seed-\(seed)-\(i)"
            var billing: BillingAddress?
            if let customers, i % 3 != 2, let destination = request.destination {
                // Customer n places orders 3n and 3n+1 (destinations differ: the billing address is the first one).
                let number = i / 3
                if let known = customerOf[number] {
                    billing = known
                } else {
                    let customer = try await customers.create(name: "Demo Customer \(seed)-\(number)", email: "customer\(number)@example.com",
                                                              dateOfBirth: nil)
                    let created = try await customers.addBillingAddress(customer.id, destination)
                    customerOf = [number: created]
                    billing = created
                }
                request.billing = billing?.address
            }
            let isStale = stale.map { i % $0.every == $0.every / 2 } ?? false
            let placer = isStale ? stale!.service : service
            // One order in seven pays with the oldest gift card sold so far (as much as it holds, up to the total).
            var tender: [GiftCardPayment] = []
            if i % 7 == 3, !giftCards.isEmpty { tender = [GiftCardPayment(code: giftCards.removeFirst(), amount: nil)] }
            let placed = try await placer.place(request, idempotencyKey: key, requestHash: key, customer: billing, giftCards: tender)
            if placed.giftCardAmount > 0 { report.paidByGiftCard += 1 }
            // A run again with the same seed finds its orders placed before (the same idempotency keys): one captured
            // or refunded then is kept as it is, not captured again (probe #12: "the order is refunded").
            let captured = placed.status == .placed || placed.status == .authorized ? try await placer.capture(placed.id) : placed
            if isStale, let stale,
               (try? stale.current.quote(request).totalTax.minorUnits) != captured.totalTax {
                report.taxMismatches.append(captured.id.value)
            }
            let refunding = refundEvery > 0 && i % refundEvery == refundEvery - 1
            if refunding {
                let line = captured.lines[Int.random(in: 0..<captured.lines.count, using: &rng)]
                let request: RefundRequest = line.quantity > 1 ? .lines([RefundLine(line: line.number, quantity: 1)]) : .full
                _ = try await service.refund(captured.id, request, idempotencyKey: key + "-refund", requestHash: key)
                report.refunds += 1
            }
            report.giftCardsIssued += captured.issuedGiftCards.count
            // A refund may have cancelled the cards of this order: only an unrefunded order's cards are spent later.
            if !refunding { giftCards += captured.issuedGiftCards.map(\.code) }
            acknowledge(captured.id)
            report.orders += 1
        }
        let elapsed = clock.now - start
        report.seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return report
    }

    /// A service on the same store whose tables charge every state's rate half a point too high: orders it places
    /// carry a tax that today's tables do not give.
    public struct StaleTables: Sendable {
        public let service: OrderService
        public let current: TaxCalculator
        public let every: Int

        public init(service: OrderService, tables: TaxTableSet, every: Int) {
            let stale = tables.replacingStateProfiles(version: tables.version + "+stale-demo") { profile in
                profile.replacingRates(profile.rates.map {
                    DatedRate(period: $0.period, intrastate: $0.intrastate.isZero ? $0.intrastate : Rate(units: $0.intrastate.units + 50_000_000),
                              interstate: $0.interstate, provenance: $0.provenance)
                })
            }
            self.service = service.with(tables: stale)
            current = TaxCalculator(tables: tables)
            self.every = max(every, 1)
        }
    }

    static func order(index: Int, rng: inout SplitMix64) -> QuoteRequest {
        func address(_ place: (String, String)) -> Address {
            Address(line1: "\(Int.random(in: 1...9_999, using: &rng)) Main St", city: "", state: StateCode(place.0)!, zip: ZipCode(place.1)!)
        }
        let origin = address(locations[Int.random(in: 0..<locations.count, using: &rng)])
        let destination = address(destinations[Int.random(in: 0..<destinations.count, using: &rng)])
        var lines: [QuoteLine] = []
        for n in 0..<Int.random(in: 1...5, using: &rng) {
            let (code, fulfilment, range) = items[Int.random(in: 0..<items.count, using: &rng)]
            var quantity = Int64(fulfilment == .shipped ? Int.random(in: 1...3, using: &rng) : 1)
            // One order in ten sells its first treatment as a package of six sessions paid up front (six vouchers).
            if index % 10 == 5, n == 0, fulfilment == .inPerson, code.isService { quantity = 6 }
            lines.append(QuoteLine(id: "\(n + 1)", code: code, amount: Money(minorUnits: Int64.random(in: range, using: &rng) * quantity),
                                   quantity: quantity, fulfilment: fulfilment))
        }
        // One order in four with an in-person service carries an 18% tip for it (no random draw: the rest of the
        // seeded data stays as it was).
        if index % 4 == 1, let service = lines.first(where: { $0.fulfilment == .inPerson && $0.code.isService }) {
            lines.append(QuoteLine(id: "\(lines.count + 1)", code: .gratuity, amount: Money(minorUnits: service.amount.minorUnits * 18 / 100),
                                   quantity: 1, fulfilment: .inPerson))
        }
        // One customer in twenty holds a resale certificate for the destination state.
        let exemptions = Int.random(in: 0..<20, using: &rng) == 0
            ? [ExemptionCertificate(state: destination.state, reason: .resale, number: "RS-\(index)", expires: TaxDate(iso: "2027-12-31"))] : []
        // Tax dates spread over February to October 2026 (the shipped local rates start in February), so reports have
        // months and quarters to show.
        let date = TaxDate(year: 2026, month: Int.random(in: 2...10, using: &rng), day: Int.random(in: 1...28, using: &rng))!
        return QuoteRequest(date: date, origin: origin, destination: destination, exemptions: exemptions, lines: lines)
    }
}
