import Foundation
import Storage
import TaxCore
import LevyTestSupport
import Testing
@testable import Orders
@testable import Vault

/// The simulator, with every amount the payment card was asked to move written down.
actor RecordingProcessor: PaymentProcessor {
    let inner = SimulatedProcessor()
    private(set) var calls: [(kind: String, amount: Int64)] = []

    func authorize(_ card: RevealedCard, amount: Money, reference: String, billing: BillingDetails?, idempotencyKey: String) async throws -> ProcessorResult {
        calls.append(("authorize", amount.minorUnits))
        return try await inner.authorize(card, amount: amount, reference: reference, billing: billing, idempotencyKey: idempotencyKey)
    }

    func capture(authorization: String, amount: Money, idempotencyKey: String) async throws -> ProcessorResult {
        calls.append(("capture", amount.minorUnits))
        return try await inner.capture(authorization: authorization, amount: amount, idempotencyKey: idempotencyKey)
    }

    func void(authorization: String, idempotencyKey: String) async throws -> ProcessorResult {
        calls.append(("void", 0))
        return try await inner.void(authorization: authorization, idempotencyKey: idempotencyKey)
    }

    func refund(capture: String, amount: Money, idempotencyKey: String) async throws -> ProcessorResult {
        calls.append(("refund", amount.minorUnits))
        return try await inner.refund(capture: capture, amount: amount, idempotencyKey: idempotencyKey)
    }
}

enum GiftCardWorld {
    static let hartford = World.address("CT", "06103")
    static let portland = World.address("OR", "97201")

    /// An order selling gift cards of `amount` each, bought at the counter in Hartford.
    static func sale(_ amount: Int64, quantity: Int64 = 1) -> QuoteRequest {
        QuoteRequest(date: TaxDate(iso: "2026-03-02")!, origin: hartford, destination: nil,
                     lines: [QuoteLine(id: "gift", code: .giftCard, amount: Money(minorUnits: amount * quantity), quantity: quantity, fulfilment: .inPerson)])
    }

    /// A facial at the Hartford spa: Connecticut taxes cosmetic services at 6.35% (CGS 12-407(a)(37)(X)).
    static func facial(_ amount: Int64 = 15_000) -> QuoteRequest {
        QuoteRequest(date: TaxDate(iso: "2026-03-02")!, origin: hartford, destination: nil,
                     lines: [QuoteLine(id: "facial", code: .personalCareService, amount: Money(minorUnits: amount), fulfilment: .inPerson)])
    }

    /// Goods picked up in Portland, Oregon: no sales tax, so the total is the amount.
    static func oregon(_ amount: Int64) -> QuoteRequest {
        QuoteRequest(date: TaxDate(iso: "2026-03-02")!, origin: portland, destination: nil,
                     lines: [QuoteLine(id: "serum", code: .general, amount: Money(minorUnits: amount), fulfilment: .pickup)])
    }

    /// Sells one gift card of `amount`, paid by card, and captures it: the card and its code.
    static func issue(_ service: OrderService, _ vault: Vault, amount: Int64) async throws -> IssuedGiftCard {
        let sold = try await service.place(sale(amount), idempotencyKey: "sale-" + UUID().uuidString, requestHash: "h",
                                           paymentToken: try await World.token(vault))
        let captured = try await service.capture(sold.id)
        return try #require(captured.issuedGiftCards.first)
    }
}

@Suite("Gift cards")
struct GiftCardTests {
    @Test("a 200.00 gift card spent on a 150.00 facial in Connecticut: the facial's tax is charged in full, 50.00 is left, the card pays only the rest",
          arguments: Store.available)
    func spentOnAFacial(store: Store) async throws {
        let processor = RecordingProcessor()
        let (service, vault) = try await World.service(store, processor: processor)
        let sold = try await service.place(GiftCardWorld.sale(20_000), idempotencyKey: "sale", requestHash: "h", paymentToken: try await World.token(vault))
        #expect(sold.totalTax == 0)
        let captured = try await service.capture(sold.id)
        #expect(captured.issuedGiftCards.count == 1)
        let issued = try #require(captured.issuedGiftCards.first)
        #expect(issued.card.balance == 20_000)
        #expect(issued.code.display.hasPrefix("LGC-"))
        #expect(try await service.order(sold.id).issuedGiftCards.isEmpty, "a read never shows the code again")

        let facial = try await service.place(GiftCardWorld.facial(), idempotencyKey: "facial", requestHash: "h",
                                             paymentToken: try await World.token(vault),
                                             giftCards: [GiftCardPayment(code: issued.code, amount: 15_000)])
        // 6.35% of 150.00 is 9.525, 9.53 by the half-up rule: charged in full, as if paid by card alone.
        #expect(facial.totalAmount == 15_000)
        #expect(facial.totalTax == 953)
        #expect(facial.giftCardAmount == 15_000)
        #expect(facial.cardAmount == 953)
        #expect(facial.status == .authorized)
        _ = try await service.capture(facial.id)

        let card = try await service.giftCard(code: issued.code)
        #expect(card.balance == 5_000)
        let entries = try await service.giftCardEntries(id: card.id)
        #expect(entries.map(\.kind) == [.issue, .redeem])
        #expect(entries.map(\.amount) == [20_000, -15_000])
        #expect(entries.last?.balance == 5_000)

        // The card was asked for the gift card's price, then for the facial's tax only.
        let calls = await processor.calls
        #expect(calls.map(\.kind) == ["authorize", "capture", "authorize", "capture"])
        #expect(calls.map(\.amount) == [20_000, 20_000, 953, 953])

        // The ledger holds the facial's tax once and nothing for the gift card's sale.
        let ledger = try await service.ledger()
        #expect(ledger.filter { $0.orderID == sold.id.value }.reduce(0) { $0 + $1.tax } == 0)
        #expect(ledger.filter { $0.orderID == facial.id.value }.reduce(0) { $0 + $1.tax } == 953)
        #expect(ledger.reduce(0) { $0 + $1.tax } == 953)

        // Payment movements (what settlement files show) are what the card moved.
        let reader = OrderReader(database: service.database, schema: service.schema)
        let movements = try await PaymentMovementReader(orders: reader, from: "2000-01-01T00:00:00Z", until: "2100-01-01T00:00:00Z",
                                                        lastSeq: try await PaymentMovementReader.head(reader)).page(after: 0).movements
        #expect(movements.first { $0.orderID == facial.id.value }?.amount == 953)
        #expect(movements.first { $0.orderID == sold.id.value }?.amount == 20_000)
    }

    @Test("a refund goes back to the gift card first by default, to the payment card first when configured; neither gets more than it paid",
          arguments: Store.available)
    func refundSplit(store: Store) async throws {
        let processor = RecordingProcessor()
        let (opened, vault) = try await World.service(store, processor: processor)
        var service = opened
        let issued = try await GiftCardWorld.issue(service, vault, amount: 20_000)
        let facial = try await service.place(GiftCardWorld.facial(), idempotencyKey: "facial", requestHash: "h", paymentToken: try await World.token(vault),
                                             giftCards: [GiftCardPayment(code: issued.code, amount: 15_000)])
        _ = try await service.capture(facial.id)

        // 50.00 net with its 3.18 tax: all of it back to the gift card.
        let first = try await service.refund(facial.id, .amount(5_000), idempotencyKey: "r1", requestHash: "h")
        #expect(first.amount == 5_000 && (317...318).contains(first.tax))
        #expect(first.giftCardAmount == first.amount + first.tax)
        #expect(try await service.giftCard(code: issued.code).balance == 5_000 + first.amount + first.tax)
        #expect(await processor.calls.last?.kind == "capture", "nothing was asked of the processor")

        // Payment card first: 50.00 more; the card paid 9.53 and gets that back, the gift card the rest.
        service.giftCardRefundPolicy = .paymentCardFirst
        let second = try await service.refund(facial.id, .amount(5_000), idempotencyKey: "r2", requestHash: "h")
        #expect(second.amount == 5_000)
        #expect(second.giftCardAmount == second.amount + second.tax - 953)
        #expect(await processor.calls.last.map { [$0.kind: $0.amount] } == ["refund": 953])

        // Everything left: only gift card money remains, so the processor is not asked again.
        let rest = try await service.refund(facial.id, .full, idempotencyKey: "r3", requestHash: "h")
        #expect(rest.giftCardAmount == rest.amount + rest.tax)
        let order = try await service.order(facial.id)
        #expect(order.status == .refunded)
        #expect(order.giftCardReturned == 15_000)
        #expect(try await service.giftCard(code: issued.code).balance == 20_000)
        #expect(try await service.ledger().filter { $0.orderID == facial.id.value }.reduce(0) { $0 + $1.tax } == 0)
    }

    @Test("50 concurrent orders spending one gift card never overspend it", arguments: Store.available)
    func concurrentRedemptions(store: Store) async throws {
        let (service, vault) = try await World.service(store)
        let issued = try await GiftCardWorld.issue(service, vault, amount: 10_000)
        // Fifty orders of 3.00 each, wholly paid by the card: 33 fit in 100.00.
        let outcomes = await withTaskGroup(of: Result<Order, any Error>.self) { group in
            for n in 0..<50 {
                group.addTask {
                    do {
                        return .success(try await service.place(GiftCardWorld.oregon(300), idempotencyKey: "spend-\(n)", requestHash: "h",
                                                                giftCards: [GiftCardPayment(code: issued.code, amount: 300)]))
                    } catch { return .failure(error) }
                }
            }
            var all: [Result<Order, any Error>] = []
            for await outcome in group { all.append(outcome) }
            return all
        }
        let placed = outcomes.compactMap { try? $0.get() }
        let refused = outcomes.compactMap { outcome -> (any Error)? in if case .failure(let error) = outcome { error } else { nil } }
        #expect(placed.count == 33)
        #expect(refused.count == 17)
        for error in refused {
            guard case GiftCardError.insufficientBalance = error else {
                Issue.record("unexpected refusal: \(error)")
                continue
            }
        }
        #expect(placed.allSatisfy { $0.status == .authorized && $0.cardAmount == 0 })
        let card = try await service.giftCard(code: issued.code)
        #expect(card.balance == 100)
        let entries = try await service.giftCardEntries(id: card.id)
        #expect(entries.count == 34)
        #expect(entries.reduce(0) { $0 + $1.amount } == card.balance)
        #expect(Set(entries.map(\.seq)).count == entries.count)
        // A wholly gift-card-paid order captures without the processor.
        let captured = try await service.capture(try #require(placed.first).id)
        #expect(captured.status == .captured)
        #expect(captured.captureID == OrderService.captureWithoutProcessor)
    }

    @Test("a retried placement spends the card once; a void gives the card back, also after a decline", arguments: Store.available)
    func retriesAndVoids(store: Store) async throws {
        let (service, vault) = try await World.service(store)
        let issued = try await GiftCardWorld.issue(service, vault, amount: 10_000)
        let payment = [GiftCardPayment(code: issued.code, amount: 4_000)]
        let first = try await service.place(GiftCardWorld.oregon(6_000), idempotencyKey: "k", requestHash: "h", giftCards: payment)
        let again = try await service.place(GiftCardWorld.oregon(6_000), idempotencyKey: "k", requestHash: "h", giftCards: payment)
        #expect(first.id == again.id)
        #expect(try await service.giftCard(code: issued.code).balance == 6_000)
        #expect(first.status == .placed && first.cardAmount == 2_000)

        _ = try await service.void(first.id)
        #expect(try await service.giftCard(code: issued.code).balance == 10_000)

        // Declined card: the gift card stays held until the buyer gives up (void) or pays with another card.
        let declined = try await service.place(GiftCardWorld.oregon(6_000), idempotencyKey: "k2", requestHash: "h",
                                               paymentToken: try await World.token(vault, "4000000000000002"), giftCards: payment)
        #expect(declined.status == .declined)
        #expect(try await service.giftCard(code: issued.code).balance == 6_000)
        _ = try await service.void(declined.id)
        #expect(try await service.giftCard(code: issued.code).balance == 10_000)
        #expect(try await service.giftCardEntries(id: issued.card.id).map(\.kind) == [.issue, .redeem, .release, .redeem, .release])

        // Asking for more than the card holds, or more than the order's total, is refused and spends nothing.
        await #expect(throws: GiftCardError.insufficientBalance(index: 0, balance: 10_000)) {
            try await service.place(GiftCardWorld.oregon(20_000), idempotencyKey: "k3", requestHash: "h",
                                    giftCards: [GiftCardPayment(code: issued.code, amount: 15_000)])
        }
        await #expect(throws: GiftCardError.moreThanTotal(index: 0)) {
            try await service.place(GiftCardWorld.oregon(1_000), idempotencyKey: "k4", requestHash: "h",
                                    giftCards: [GiftCardPayment(code: issued.code, amount: 2_000)])
        }
        await #expect(throws: GiftCardError.unknown(index: 0)) {
            try await service.place(GiftCardWorld.oregon(1_000), idempotencyKey: "k5", requestHash: "h",
                                    giftCards: [GiftCardPayment(code: GiftCardCode.random(), amount: nil)])
        }
        #expect(try await service.giftCard(code: issued.code).balance == 10_000)
    }

    @Test("refunding a gift card's sale takes only what is unspent off it and cancels it; a spent card's sale cannot be refunded in full",
          arguments: Store.available)
    func refundOfTheSale(store: Store) async throws {
        let (service, vault) = try await World.service(store)
        let sold = try await service.place(GiftCardWorld.sale(5_000, quantity: 2), idempotencyKey: "sale", requestHash: "h",
                                           paymentToken: try await World.token(vault))
        let captured = try await service.capture(sold.id)
        #expect(captured.issuedGiftCards.map(\.card.balance) == [5_000, 5_000])
        let spent = captured.issuedGiftCards[0]
        _ = try await service.place(GiftCardWorld.oregon(3_000), idempotencyKey: "spend", requestHash: "h",
                                    giftCards: [GiftCardPayment(code: spent.code, amount: nil)])

        await #expect(throws: OrderError.invalidRefund("the gift cards sold on line 1 hold 70.00 unspent, so the order cannot be refunded in full; "
                                                       + "refund it by `lines` or by `amount`, up to what they hold")) {
            try await service.refund(sold.id, .full, idempotencyKey: "r1", requestHash: "h")
        }
        // A refund by lines or by amount names the field that asked for too much.
        await #expect(throws: OrderError.invalidRefund("the gift cards sold on line 1 hold 70.00 unspent; only that much of them can be refunded",
                                                       field: "lines[0].quantity")) {
            try await service.refund(sold.id, .lines([RefundLine(line: 1, quantity: 2)]), idempotencyKey: "r1l", requestHash: "h")
        }
        await #expect(throws: OrderError.invalidRefund("the gift cards sold on line 1 hold 70.00 unspent; only that much of them can be refunded",
                                                       field: "amount")) {
            try await service.refund(sold.id, .amount(8_000), idempotencyKey: "r1a", requestHash: "h")
        }
        // The untouched card (the last issued goes first) is refunded by quantity and cancelled.
        let one = try await service.refund(sold.id, .lines([RefundLine(line: 1, quantity: 1)]), idempotencyKey: "r2", requestHash: "h")
        #expect(one.amount == 5_000)
        let untouched = try await service.giftCard(code: captured.issuedGiftCards[1].code)
        #expect(untouched.balance == 0 && untouched.status == .cancelled)
        await #expect(throws: GiftCardError.cancelled(index: 0)) {
            try await service.place(GiftCardWorld.oregon(100), idempotencyKey: "after", requestHash: "h",
                                    giftCards: [GiftCardPayment(code: captured.issuedGiftCards[1].code, amount: nil)])
        }
        // What is left unspent on the other card can be refunded.
        _ = try await service.refund(sold.id, .amount(2_000), idempotencyKey: "r3", requestHash: "h")
        #expect(try await service.giftCard(code: spent.code).balance == 0)
    }

    @Test("money that comes back to a card cancelled by its sale's refund makes it spendable again while the sale still owes that value",
          arguments: Store.available)
    func moneyBackOnACancelledCard(store: Store) async throws {
        let (service, vault) = try await World.service(store)
        let sale = try await service.place(GiftCardWorld.sale(5_000), idempotencyKey: "sale", requestHash: "h", paymentToken: try await World.token(vault))
        let card = try #require(try await service.capture(sale.id).issuedGiftCards.first)
        // 30.00 of the card pays for goods; the sale is refunded what the card still holds (20.00), which cancels it.
        let goods = try await service.place(GiftCardWorld.oregon(4_000), idempotencyKey: "goods", requestHash: "h", paymentToken: try await World.token(vault),
                                            giftCards: [GiftCardPayment(code: card.code, amount: 3_000)])
        _ = try await service.capture(goods.id)
        _ = try await service.refund(sale.id, .amount(2_000), idempotencyKey: "r-sale", requestHash: "h")
        #expect(try await service.giftCard(id: card.card.id).status == .cancelled)
        // The goods are refunded: their 30.00 goes back to the card, whose sale never gave it back, so it can be spent
        // again (it stayed cancelled, unspendable and unrefundable, before) ...
        let back = try await service.refund(goods.id, .full, idempotencyKey: "r-goods", requestHash: "h")
        #expect(back.giftCardAmount == 3_000)
        let after = try await service.giftCard(id: card.card.id)
        #expect(after.balance == 3_000 && after.status == .active)
        // ... or its sale refunded for it, which cancels it again; a cancelled card gets no new code.
        _ = try await service.refund(sale.id, .amount(3_000), idempotencyKey: "r-sale-2", requestHash: "h")
        #expect(try await service.giftCard(id: card.card.id).status == .cancelled)
        await #expect(throws: GiftCardError.cancelled(index: nil)) { _ = try await service.reissue(giftCard: card.card.id) }

        // A sale the processor refunded whole owes nothing: money that comes back to its card leaves it cancelled.
        let sale2 = try await service.place(GiftCardWorld.sale(5_000), idempotencyKey: "sale2", requestHash: "h", paymentToken: try await World.token(vault))
        let captured2 = try await service.capture(sale2.id)
        let card2 = try #require(captured2.issuedGiftCards.first)
        let goods2 = try await service.place(GiftCardWorld.oregon(3_000), idempotencyKey: "goods2", requestHash: "h",
                                             giftCards: [GiftCardPayment(code: card2.code, amount: nil)])
        _ = try await service.record(processor: "test", eventID: "evt_whole_sale", type: "refund.created", payload: Array("{}".utf8),
                                     events: [.refund(id: "re_whole", payment: try #require(captured2.captureID), amount: 5_000, succeeded: true)])
        _ = try await service.void(goods2.id)
        let voided = try await service.giftCard(id: card2.card.id)
        #expect(voided.balance == 3_000 && voided.status == .cancelled)
    }

    @Test("a refund the processor made of a gift card's sale is recorded even when the card was partly spent: it takes what is left, for review",
          arguments: Store.available)
    func dashboardRefundOfASpentCard(store: Store) async throws {
        let (service, vault) = try await World.service(store)
        let sale = try await service.place(GiftCardWorld.sale(5_000), idempotencyKey: "sale", requestHash: "h", paymentToken: try await World.token(vault))
        let captured = try await service.capture(sale.id)
        let card = try #require(captured.issuedGiftCards.first)
        _ = try await service.place(GiftCardWorld.oregon(3_000), idempotencyKey: "spend", requestHash: "h",
                                    giftCards: [GiftCardPayment(code: card.code, amount: nil)])
        let reported = try await service.record(processor: "test", eventID: "evt_gift_refund", type: "refund.created", payload: Array("{}".utf8),
                                                events: [.refund(id: "re_dashboard", payment: try #require(captured.captureID), amount: 5_000,
                                                                 succeeded: true)])
        #expect(reported.outcome == .needsReview && reported.detail.contains("had 30.00 spent already"), "\(reported)")
        #expect(try await service.order(sale.id).status == .refunded)
        let after = try await service.giftCard(id: card.card.id)
        #expect(after.balance == 0 && after.status == .cancelled)
        #expect(try await service.giftCardEntries(id: card.card.id).map(\.kind) == [.issue, .redeem, .cancel])
    }

    @Test("codes are stored only as a keyed hash and the last four; a reissued code replaces the old one", arguments: Store.available)
    func codesAreSecrets(store: Store) async throws {
        let (service, vault) = try await World.service(store)
        let issued = try await GiftCardWorld.issue(service, vault, amount: 2_500)
        let rows = try await service.database.query("SELECT * FROM \(service.table("gift_cards"))", [])
        let row = try #require(rows.first)
        #expect(row.text("code_hash") == issued.code.keyedHash(World.keys.giftCards))
        #expect(row.text("last_four") == issued.code.lastFour)
        for cell in row.cells { if case .text(let text) = cell { #expect(!text.contains(issued.code.canonical)) } }
        // Another installation's key gives another hash: the stored hash cannot be checked against guesses without it.
        #expect(issued.code.keyedHash(GiftCardKey(masterKey: try MasterKey(bytes: Array(repeating: 6, count: 32)))) != row.text("code_hash"))

        let reissued = try await service.reissue(giftCard: issued.card.id)
        #expect(reissued.code != issued.code)
        #expect(reissued.card.balance == 2_500)
        await #expect(throws: GiftCardError.unknown(index: nil)) { try await service.giftCard(code: issued.code) }
        #expect(try await service.giftCard(code: reissued.code).id == issued.card.id)
        #expect(try await service.giftCardEntries(id: issued.card.id).map(\.kind) == [.issue, .reissue])

        // Another reissue moments later is refused: the code just shown stays the one that works.
        await #expect(throws: GiftCardError.self) { try await service.reissue(giftCard: issued.card.id) }
        #expect(try await service.giftCard(code: reissued.code).id == issued.card.id)

        // Concurrent reissues of another card: one answers with a code, and it is the one that works; the others are
        // refused (before, each answered with a code of its own and all but the last were dead).
        let other = try await GiftCardWorld.issue(service, vault, amount: 1_000)
        let results = await withTaskGroup(of: Result<IssuedGiftCard, any Error>.self) { group in
            for _ in 0..<8 { group.addTask { do { return .success(try await service.reissue(giftCard: other.card.id)) } catch { return .failure(error) } } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        let answers = results.compactMap { try? $0.get() }
        #expect(answers.count == 1)
        for case .failure(let error) in results {
            guard case .reissuedRecently(let seconds) = error as? GiftCardError else { Issue.record("\(error)"); continue }
            #expect((1...OrderService.reissueInterval).contains(seconds))
        }
        for answer in answers {
            #expect(answer.card.lastFour == answer.code.lastFour)
            #expect(try await service.giftCard(code: answer.code).id == other.card.id)
        }
        #expect(try await service.giftCardEntries(id: other.card.id).filter { $0.kind == .reissue }.count == 1)
    }
}

@Suite("Gift card codes")
struct GiftCardCodeTests {
    @Test("a code reads back however it is typed, and any single wrong character is caught by the check character")
    func format() throws {
        for _ in 0..<200 {
            let code = GiftCardCode.random()
            #expect(code.canonical.count == 16)
            #expect(GiftCardCode(code.display) == code)
            #expect(GiftCardCode(code.display.lowercased()) == code)
            #expect(GiftCardCode(code.canonical) == code)
            #expect(GiftCardCode(code.display.replacingOccurrences(of: "-", with: " ")) == code)
            var characters = Array(code.canonical.utf8)
            let position = Int.random(in: 0..<16)
            let original = characters[position]
            characters[position] = GiftCardCode.alphabet.first { $0 != original }!
            #expect(GiftCardCode(String(decoding: characters, as: UTF8.self)) == nil)
        }
        #expect(GiftCardCode("LGC-AAAA-AAAA-AAAA-AAA") == nil)
        #expect(GiftCardCode("LGC-AAAA-AAAA-AAAA-AAAB") == nil)
        #expect(GiftCardCode("LGC-AAAA-AAAA-AAAA-AAAA") != nil, "A (10) is the check character of fifteen As")
        #expect(GiftCardCode("4242424242424242") == nil)
        #expect(GiftCardCode(String(repeating: "A", count: 1_000)) == nil)
    }

    @Test("the card-data scan finds a gift card code as shown, without dashes, in lower case and in UTF-16, with no list")
    func scannerFindsCodes() throws {
        let directory = World.directory()
        // The planted codes must not outlive the test: scripts/test scans everything the tests leave behind.
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let code = GiftCardCode.random()
        let texts = ["log: " + code.display + "\n", "{\"c\":\"lgc" + code.canonical.lowercased() + "\"}"]
        for (n, text) in texts.enumerated() { try Data(text.utf8).write(to: URL(fileURLWithPath: directory + "/plain\(n).txt")) }
        try (code.display.data(using: .utf16LittleEndian) ?? Data()).write(to: URL(fileURLWithPath: directory + "/wide.bin"))
        // A control: a code with a wrong check character is no code.
        var wrong = Array(code.canonical.utf8)
        wrong[15] = GiftCardCode.alphabet.first { $0 != wrong[15] }!
        try Data(("LGC" + String(decoding: wrong, as: UTF8.self)).utf8).write(to: URL(fileURLWithPath: directory + "/control.txt"))
        // Another: a base32 id that happens to contain "lgc" and sixteen more characters with a passing check is not a
        // code (CI found one, `ord_oswgjril5lgcygd534da1shipping`, in a seeded store): a code stands alone.
        try Data("row ord_oswgjril5lgcygd534da1shipping 12".utf8).write(to: URL(fileURLWithPath: directory + "/id.txt"))
        #expect(GiftCardCode("lgcygd534da1shippin") != nil, "the control: those nineteen characters alone read as a code")
        let findings = CardDataScanner.scan([directory], cards: [], securityCodes: [])
        #expect(!findings.contains { $0.path.hasSuffix("id.txt") })
        #expect(findings.filter { $0.kind.hasPrefix("gift card code") }.count == 3)
        #expect(!findings.contains { $0.path.hasSuffix("control.txt") })
        #expect(findings.allSatisfy { !$0.description.contains(code.canonical) })
    }
}
