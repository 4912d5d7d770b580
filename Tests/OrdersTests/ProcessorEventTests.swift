import Foundation
import Storage
import TaxCore
import LevyTestSupport
import Testing
@testable import Orders
@testable import Vault

@Suite("Processor events")
struct ProcessorEventTests {
    static func captured(_ store: Store, processor: SimulatedProcessor = SimulatedProcessor()) async throws -> (OrderService, Order) {
        let (service, vault) = try await World.service(store, processor: processor)
        let placed = try await service.place(World.request(), idempotencyKey: "e", requestHash: "h", paymentToken: try await World.token(vault))
        _ = try await service.capture(placed.id)
        return (service, try await service.order(placed.id))
    }

    /// Every total a refund at the processor can have splits into net and tax that add up to it exactly, each
    /// jurisdiction's tax within a cent of its share of the net, never more than remains.
    @Test("a refund's total, tax included, splits into net and tax that add up to it exactly")
    func grossSplitsExactly() async throws {
        let (_, order) = try await Self.captured(.sqlite)
        let total = order.totalAmount + order.totalTax
        var generator = SystemRandomNumberGenerator()
        for gross in (0..<300).map({ _ in Int64.random(in: 2..<total, using: &generator) }) + [2, 3, total - 1] {
            let lines = try RefundMath.refund(order, .gross(gross))
            let net = lines.reduce(0) { $0 + $1.amount }
            #expect(net + lines.reduce(0) { $0 + $1.taxes.reduce(0) { $0 + $1.tax } } == gross, "\(gross)")
            // Each jurisdiction's tax is within a cent of the tax a refund of this net by amount gives back.
            let byAmount = net > 0 ? try RefundMath.refund(order, .amount(net)) : []
            for refunded in lines {
                let line = try #require(order.lines.first { $0.number == refunded.line })
                let reference = byAmount.first { $0.line == refunded.line }
                for (position, tax) in refunded.taxes.enumerated() {
                    #expect(tax.tax <= line.taxes[position].tax)
                    #expect(abs(tax.tax - (reference?.taxes[position].tax ?? 0)) <= 1, "\(gross) line \(refunded.line)")
                }
            }
        }
        #expect(try RefundMath.refund(order, .gross(total)).reduce(0) { $0 + $1.amount } == order.totalAmount)
        #expect(throws: OrderError.self) { try RefundMath.refund(order, .gross(total + 1)) }
    }

    @Test("Levy's own refund reported back is recognized; an event arriving during a refund of Levy's waits for the next delivery",
          arguments: Store.available)
    func ownRefundsAndRefundsInProgress(store: Store) async throws {
        let (service, order) = try await Self.captured(store)
        let payment = try #require(order.captureID)
        let own = try await service.refund(order.id, .lines([RefundLine(line: 2, quantity: 1)]), idempotencyKey: "own", requestHash: "h")
        let rows = try await service.database.query("SELECT processor_refund_id FROM \(service.table("refunds")) WHERE id = $1", [.text(own.id.value)])
        let processorID = try #require(rows.first?.text("processor_refund_id"))
        let reported = try await service.record(processor: "test", eventID: "evt_own", type: "refund.created", payload: Array("{}".utf8),
                                                events: [.refund(id: processorID, payment: payment, amount: own.amount + own.tax, succeeded: true)])
        #expect(reported.outcome == .ignored)
        #expect(try await service.order(order.id).refundedAmount == own.amount)

        // A refund of Levy's is under way (its lock is held): the event is not applied, and not marked as done.
        _ = try await service.database.query("UPDATE \(service.table("orders")) SET refund_lock = 'ref_busy' WHERE id = $1", [.text(order.id.value)])
        let event = ProcessorEvent.refund(id: "re_dashboard", payment: payment, amount: 500, succeeded: true)
        await #expect(throws: OrderError.paymentInProgress) {
            try await service.record(processor: "test", eventID: "evt_busy", type: "refund.created", payload: Array("{}".utf8), events: [event])
        }
        #expect(try await service.order(order.id).refundedAmount == own.amount)
        _ = try await service.database.query("UPDATE \(service.table("orders")) SET refund_lock = NULL WHERE id = $1", [.text(order.id.value)])
        // Delivered again, it is applied, and only then done.
        let again = try await service.record(processor: "test", eventID: "evt_busy", type: "refund.created", payload: Array("{}".utf8), events: [event])
        #expect(again.outcome == .applied)
        #expect(try await service.order(order.id).refundedAmount + (try await service.order(order.id).refundedTax) == own.amount + own.tax + 500)
        let once = try await service.record(processor: "test", eventID: "evt_busy", type: "refund.created", payload: Array("{}".utf8), events: [event])
        #expect(once.outcome == .duplicate)
        #expect(try await service.verifyLedger().brokenAt == nil)
    }

    @Test("a refund made at the processor is recorded without asking the processor again, even when finished on resume",
          arguments: Store.available)
    func externalRefundsAreNotSentBack(store: Store) async throws {
        let processor = SimulatedProcessor()
        let (service, order) = try await Self.captured(store, processor: processor)
        let recorded = try await service.record(processor: "test", eventID: "evt_full", type: "refund.created", payload: Array("{}".utf8),
                                                events: [.refund(id: "re_full", payment: try #require(order.captureID),
                                                                 amount: order.totalAmount + order.totalTax, succeeded: true)])
        #expect(recorded.outcome == .applied)
        #expect(await processor.operations["refund"] == nil)
        let refunded = try await service.order(order.id)
        #expect(refunded.status == .refunded && refunded.refundedTax == order.totalTax)
        #expect(World.net(try await service.ledger()).values.allSatisfy { $0 == 0 })
        #expect(try await service.resumeInterruptedPayments().finished == 0)
        #expect(await processor.operations["refund"] == nil)
    }

    /// Probe #14: a processor refund of a whole order that a gift card paid most of was recorded as the card's, so the
    /// ledger and reconciliation gave the card back what the gift card had paid; and a recorded refund reported failed
    /// later was ignored. Both are left for a person now, and the details read in dollars.
    @Test("a processor refund past what the card paid, or a recorded refund reported failed, is left for review", arguments: Store.available)
    func refundsPastTheCardAreReviewed(store: Store) async throws {
        let processor = RecordingProcessor()
        let (service, vault) = try await World.service(store, processor: processor)
        let issued = try await GiftCardWorld.issue(service, vault, amount: 20_000)
        let facial = try await service.place(GiftCardWorld.facial(), idempotencyKey: "facial", requestHash: "h", paymentToken: try await World.token(vault),
                                             giftCards: [GiftCardPayment(code: issued.code, amount: 15_000)])
        let captured = try await service.capture(facial.id)
        let payment = try #require(captured.captureID)
        #expect(captured.cardAmount == 953)
        func event(_ id: String, _ refund: String, amount: Int64, succeeded: Bool = true) async throws -> (EventOutcome, String) {
            let recorded = try await service.record(processor: "test", eventID: id, type: "refund.created", payload: Array("{}".utf8),
                                                    events: [.refund(id: refund, payment: payment, amount: amount, succeeded: succeeded)])
            return (recorded.outcome, recorded.detail)
        }
        let whole = try await event("evt_whole", "re_whole", amount: facial.totalAmount + facial.totalTax)
        #expect(whole.0 == .needsReview && whole.1.contains("of 159.53") && whole.1.contains("the card paid 9.53 and has 9.53 left"), "\(whole.1)")
        #expect(try await service.order(facial.id).refundedAmount == 0)
        let tax = try await event("evt_tax", "re_tax", amount: 953)
        #expect(tax.0 == .applied && tax.1.contains("net") && !tax.1.contains("953"), "\(tax.1)")
        let failed = try await event("evt_failed", "re_tax", amount: 953, succeeded: false)
        #expect(failed.0 == .needsReview && failed.1.contains("now reported as not succeeded"), "\(failed.1)")
        // Nothing is left on the card: a further processor refund, however small, is reviewed too.
        #expect(try await event("evt_more", "re_more", amount: 1).0 == .needsReview)
    }

    /// Probe #15: a processor refund of a gift card sale whose card was spent since was recorded as `applied`: the buyer
    /// had the money back and kept what the card bought, and nobody was told. It is still recorded (the money has left,
    /// and the card must not stay spendable), and left for a person.
    @Test("a processor refund of gift cards sold that were spent since is recorded and left for review", arguments: Store.available)
    func refundsOfSpentGiftCardsAreReviewed(store: Store) async throws {
        let (service, vault) = try await World.service(store, processor: RecordingProcessor())
        let sold = try await service.place(GiftCardWorld.sale(10_000), idempotencyKey: "sale", requestHash: "h", paymentToken: try await World.token(vault))
        let captured = try await service.capture(sold.id)
        let issued = try #require(captured.issuedGiftCards.first)
        _ = try await service.place(GiftCardWorld.oregon(6_999), idempotencyKey: "spend", requestHash: "h",
                                    giftCards: [GiftCardPayment(code: issued.code, amount: 6_999)])
        let payment = try #require(captured.captureID)
        let whole = try await service.record(processor: "test", eventID: "whole", type: "refund.created", payload: Array("{}".utf8),
                                             events: [.refund(id: "re_whole", payment: payment, amount: 10_000, succeeded: true)])
        #expect(whole.outcome == .needsReview && whole.detail.contains("recorded as") && whole.detail.contains("had 69.99 spent already"),
                "\(whole.detail)")
        #expect(try await service.order(sold.id).refundedAmount == 10_000)
        let card = try await service.giftCard(id: issued.card.id)
        #expect(card.balance == 0 && card.status == .cancelled)
        // A sale whose cards were not spent is applied as before.
        let other = try await service.place(GiftCardWorld.sale(5_000), idempotencyKey: "sale-2", requestHash: "h", paymentToken: try await World.token(vault))
        let otherCaptured = try await service.capture(other.id)
        let plain = try await service.record(processor: "test", eventID: "plain", type: "refund.created", payload: Array("{}".utf8),
                                             events: [.refund(id: "re_plain", payment: try #require(otherCaptured.captureID), amount: 5_000, succeeded: true)])
        #expect(plain.outcome == .applied, "\(plain.detail)")
    }

    /// A payment is disputed once at a time (probe #14: a second dispute replaced the first, so losing the first read
    /// the order as settled while the second was open), inquiries move no money and do not stop refunds, and events
    /// delivered out of order or repeated change nothing.
    @Test("disputes: inquiries, escalation, a second dispute, closes out of order or with a result Levy does not know", arguments: Store.available)
    func disputeLifecycle(store: Store) async throws {
        let (service, order) = try await Self.captured(store)
        let payment = try #require(order.captureID)
        var serial = 0
        func deliver(_ event: ProcessorEvent) async throws -> (EventOutcome, String) {
            serial += 1
            let recorded = try await service.record(processor: "test", eventID: "evt_d\(serial)", type: "dispute", payload: Array("{}".utf8), events: [event])
            return (recorded.outcome, recorded.detail)
        }
        func dispute() async throws -> (String?, String?, String) {
            let now = try await service.order(order.id)
            let rows = try await service.database.query("SELECT dispute_id FROM \(service.table("orders")) WHERE id = $1", [.text(order.id.value)])
            return (rows.first?.text("dispute_id"), now.disputeStatus, now.shownStatus)
        }
        let total = order.totalAmount + order.totalTax

        // An inquiry: recorded, the order not shown disputed, and Levy may still refund it.
        #expect(try await deliver(.disputeOpened(id: "dp_a", payment: payment, amount: total, inquiry: true)).0 == .applied)
        #expect(try await dispute() == ("dp_a", "inquiry", "captured"))
        let proactive = try await service.refund(order.id, .lines([RefundLine(line: 2, quantity: 1)]), idempotencyKey: "during-inquiry", requestHash: "h")
        #expect(proactive.amount > 0)
        // Escalated to a chargeback: open, refunds refused; the inquiry's own event delivered late changes nothing.
        #expect(try await deliver(.disputeOpened(id: "dp_a", payment: payment, amount: total, inquiry: false)).0 == .applied)
        #expect(try await dispute() == ("dp_a", "open", "disputed"))
        #expect(try await deliver(.disputeOpened(id: "dp_a", payment: payment, amount: total, inquiry: true)).0 == .ignored)
        await #expect(throws: OrderError.disputed) {
            try await service.refund(order.id, .lines([RefundLine(line: 1, quantity: 1)]), idempotencyKey: "during-dispute", requestHash: "h")
        }
        // A second dispute while the first is open, and a close of a dispute that is not the open one: for a person.
        let second = try await deliver(.disputeOpened(id: "dp_b", payment: payment, amount: 100, inquiry: false))
        #expect(second.0 == .needsReview && second.1.contains("dp_a open"), "\(second.1)")
        let strayClose = try await deliver(.disputeClosed(id: "dp_b", payment: payment, amount: 100, result: .lost))
        #expect(strayClose.0 == .needsReview && strayClose.1.contains("while another, dp_a, is open"), "\(strayClose.1)")
        #expect(try await dispute() == ("dp_a", "open", "disputed"))
        #expect(try await service.order(order.id).refundedAmount == proactive.amount)
        // A chargeback closed as an inquiry contradicts itself; a result Levy does not know is not guessed at.
        #expect(try await deliver(.disputeClosed(id: "dp_a", payment: payment, amount: total, result: .inquiryClosed)).0 == .needsReview)
        let prevented = try await deliver(.disputeClosed(id: "dp_a", payment: payment, amount: total, result: .other("prevented")))
        #expect(prevented.0 == .needsReview && prevented.1.contains("prevented"), "\(prevented.1)")
        #expect(try await dispute() == ("dp_a", "open", "disputed"))
        // Won: the order reads as before; the same close again changes nothing, another result is for a person, and a
        // late "opened" does not reopen it.
        #expect(try await deliver(.disputeClosed(id: "dp_a", payment: payment, amount: total, result: .won)).0 == .applied)
        #expect(try await dispute() == ("dp_a", "won", "partially_refunded"))
        #expect(try await deliver(.disputeClosed(id: "dp_a", payment: payment, amount: total, result: .won)).0 == .ignored)
        #expect(try await deliver(.disputeClosed(id: "dp_a", payment: payment, amount: total, result: .lost)).0 == .needsReview)
        let reopened = try await deliver(.disputeOpened(id: "dp_a", payment: payment, amount: total, inquiry: false))
        #expect(reopened.0 == .needsReview && reopened.1.contains("was closed as won"), "\(reopened.1)")
        #expect(try await dispute() == ("dp_a", "won", "partially_refunded"))
        #expect(try await service.order(order.id).refundedAmount == proactive.amount)

        // A later inquiry, once the first dispute is over, is a dispute of its own; closed as an inquiry, nothing moved
        // (it was recorded as won before).
        #expect(try await deliver(.disputeOpened(id: "dp_c", payment: payment, amount: 500, inquiry: true)).0 == .applied)
        let closed = try await deliver(.disputeClosed(id: "dp_c", payment: payment, amount: 500, result: .inquiryClosed))
        #expect(closed.0 == .applied && closed.1.contains("nothing moved"), "\(closed.1)")
        #expect(try await dispute() == ("dp_c", "inquiry_closed", "partially_refunded"))
        #expect(try await service.order(order.id).refundedAmount == proactive.amount)
        #expect(try await service.verifyLedger().brokenAt == nil)
    }

    /// Events of one order delivered at once (Stripe does not deliver them one after another): two disputes opened
    /// together leave one recorded and the other for a person, never one silently replacing the other.
    @Test("two disputes of one order delivered at the same time: one is recorded, the other needs review", arguments: Store.available)
    func concurrentDisputes(store: Store) async throws {
        let (service, order) = try await Self.captured(store)
        let payment = try #require(order.captureID)
        let total = order.totalAmount + order.totalTax
        let outcomes = try await withThrowingTaskGroup(of: (String, EventOutcome).self) { group in
            for dispute in ["dp_x", "dp_y", "dp_z"] {
                group.addTask {
                    let recorded = try await service.record(processor: "test", eventID: "evt_\(dispute)", type: "charge.dispute.created",
                                                            payload: Array("{}".utf8),
                                                            events: [.disputeOpened(id: dispute, payment: payment, amount: total, inquiry: false)])
                    return (dispute, recorded.outcome)
                }
            }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        let applied = outcomes.filter { $0.value == .applied }.map(\.key)
        #expect(applied.count == 1, "\(outcomes)")
        #expect(outcomes.values.filter { $0 == .needsReview }.count == 2, "\(outcomes)")
        let rows = try await service.database.query("SELECT dispute_id, dispute_status FROM \(service.table("orders")) WHERE id = $1", [.text(order.id.value)])
        #expect(rows.first?.text("dispute_id") == applied.first)
        #expect(rows.first?.text("dispute_status") == "open")
    }
}
