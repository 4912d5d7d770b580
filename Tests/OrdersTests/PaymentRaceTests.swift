import Foundation
import Storage
import TaxCore
import LevyTestSupport
import Testing
@testable import Orders
@testable import Vault

/// A processor that does what it is asked, then loses the answer on the way back (a dropped connection, or Levy
/// killed before it could commit): the processor has moved the money, Levy has not recorded it.
actor LosingProcessor: PaymentProcessor {
    let inner = SimulatedProcessor()
    var loseNext: Set<String> = []

    struct Lost: Error {}

    func lose(_ operation: String) { loseNext.insert(operation) }

    private func deliver(_ operation: String, _ result: ProcessorResult) throws -> ProcessorResult {
        if loseNext.remove(operation) != nil { throw Lost() }
        return result
    }

    func authorize(_ card: RevealedCard, amount: Money, reference: String, billing: BillingDetails?, idempotencyKey: String) async throws -> ProcessorResult {
        try deliver("authorize", try await inner.authorize(card, amount: amount, reference: reference, billing: billing, idempotencyKey: idempotencyKey))
    }

    func capture(authorization: String, amount: Money, idempotencyKey: String) async throws -> ProcessorResult {
        try deliver("capture", try await inner.capture(authorization: authorization, amount: amount, idempotencyKey: idempotencyKey))
    }

    func void(authorization: String, idempotencyKey: String) async throws -> ProcessorResult {
        try deliver("void", try await inner.void(authorization: authorization, idempotencyKey: idempotencyKey))
    }

    func refund(capture: String, amount: Money, idempotencyKey: String) async throws -> ProcessorResult {
        try deliver("refund", try await inner.refund(capture: capture, amount: amount, idempotencyKey: idempotencyKey))
    }
}

/// A processor whose refunds wait at a gate until the test opens it, so that a test can act while a refund is
/// being asked of the processor (the widest window of a refund: seconds with a real processor).
actor GatedProcessor: PaymentProcessor {
    let inner = SimulatedProcessor()
    private var refunding = false
    private var open = false
    private var waitingForRefund: [CheckedContinuation<Void, Never>] = []
    private var waitingAtGate: [CheckedContinuation<Void, Never>] = []

    /// Returns once a refund has reached the processor.
    func refundReached() async {
        if refunding { return }
        await withCheckedContinuation { waitingForRefund.append($0) }
    }

    func openGate() {
        open = true
        waitingAtGate.forEach { $0.resume() }
        waitingAtGate = []
    }

    func authorize(_ card: RevealedCard, amount: Money, reference: String, billing: BillingDetails?, idempotencyKey: String) async throws -> ProcessorResult {
        try await inner.authorize(card, amount: amount, reference: reference, billing: billing, idempotencyKey: idempotencyKey)
    }

    func capture(authorization: String, amount: Money, idempotencyKey: String) async throws -> ProcessorResult {
        try await inner.capture(authorization: authorization, amount: amount, idempotencyKey: idempotencyKey)
    }

    func void(authorization: String, idempotencyKey: String) async throws -> ProcessorResult {
        try await inner.void(authorization: authorization, idempotencyKey: idempotencyKey)
    }

    func refund(capture: String, amount: Money, idempotencyKey: String) async throws -> ProcessorResult {
        refunding = true
        waitingForRefund.forEach { $0.resume() }
        waitingForRefund = []
        if !open { await withCheckedContinuation { waitingAtGate.append($0) } }
        return try await inner.refund(capture: capture, amount: amount, idempotencyKey: idempotencyKey)
    }
}

@Suite("Payment races")
struct PaymentRaceTests {
    /// Probe #16: a refund by quantity counted the unused sessions, the last one was redeemed while the processor was
    /// asked, and the buyer had all six sessions and one of them back. Completing the order in that window left a
    /// fully refunded order `completed`.
    @Test("while a refund is asked of the processor, its order's vouchers are not redeemed and the order is not completed",
          arguments: Store.available)
    func noRedemptionDuringARefund(store: Store) async throws {
        let processor = GatedProcessor()
        let (service, vault) = try await World.service(store, processor: processor)
        let placed = try await service.place(World.request([60_000, 19_350, 995, 1_299], quantities: [6, 3, 1, 1]), idempotencyKey: "g",
                                             requestHash: "h", paymentToken: try await World.token(vault))
        _ = try await service.capture(placed.id)
        let sessions = try await service.vouchers(of: placed.id).filter { $0.line == 1 }
        for voucher in sessions.prefix(5) { _ = try await service.redeem(voucher: voucher.code, at: "spa") }
        let last = try #require(sessions.last)
        let refunding = Task { try await service.refund(placed.id, .lines([RefundLine(line: 1, quantity: 1)]), idempotencyKey: "one", requestHash: "a") }
        await processor.refundReached()
        await #expect(throws: FulfilmentError.refundInProgress) { try await service.redeem(voucher: last.code, at: "spa") }
        await #expect(throws: OrderError.paymentInProgress) { try await service.complete(placed.id) }
        await processor.openGate()
        let refund = try await refunding.value
        #expect(refund.amount == 10_000)
        #expect(try await service.voucher(last.code).status == .revoked)
        await #expect(throws: FulfilmentError.revoked) { try await service.redeem(voucher: last.code, at: "spa") }

        // Refunded in full, the order is not completed after (the completion decides and writes in one statement).
        _ = try await service.refund(placed.id, .full, idempotencyKey: "all", requestHash: "b")
        await #expect(throws: OrderError.wrongStatus(.refunded, expected: [.captured, .partiallyRefunded])) { try await service.complete(placed.id) }
        #expect(try await service.order(placed.id).status == .refunded)
    }

    @Test("20 concurrent captures of one order: one capture at the processor, one set of ledger entries", arguments: Store.available)
    func concurrentCaptures(store: Store) async throws {
        let processor = SimulatedProcessor()
        let (service, vault) = try await World.service(store, processor: processor)
        let placed = try await service.place(World.request(), idempotencyKey: "c", requestHash: "h", paymentToken: try await World.token(vault))
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<20 { group.addTask { (try? await service.capture(placed.id)) != nil } }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 }.count == 1)
        #expect(await processor.operations["capture"] == 1)
        let ledger = try await service.ledger()
        #expect(ledger.reduce(0) { $0 + $1.tax } == placed.totalTax)
        #expect(try await service.order(placed.id).status == .captured)
    }

    @Test("20 concurrent full refunds with different keys: one refund at the processor, the ledger nets to zero", arguments: Store.available)
    func concurrentRefunds(store: Store) async throws {
        let processor = SimulatedProcessor()
        let (service, vault) = try await World.service(store, processor: processor)
        let placed = try await service.place(World.request(), idempotencyKey: "r", requestHash: "h", paymentToken: try await World.token(vault))
        _ = try await service.capture(placed.id)
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for i in 0..<20 { group.addTask { (try? await service.refund(placed.id, .full, idempotencyKey: "full-\(i)", requestHash: "x\(i)")) != nil } }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 }.count == 1)
        #expect(await processor.operations["refund"] == 1)
        #expect(World.net(try await service.ledger()).values.allSatisfy { $0 == 0 })
        let order = try await service.order(placed.id)
        #expect(order.status == .refunded && order.refundedTax == order.totalTax)
    }

    @Test("a capture whose answer is lost is finished on resume, once", arguments: Store.available)
    func lostCaptureIsResumed(store: Store) async throws {
        let processor = LosingProcessor()
        let (service, vault) = try await World.service(store, processor: processor)
        let placed = try await service.place(World.request(), idempotencyKey: "l", requestHash: "h", paymentToken: try await World.token(vault))
        await processor.lose("capture")
        await #expect(throws: LosingProcessor.Lost.self) { try await service.capture(placed.id) }
        #expect(try await service.order(placed.id).status == .capturing)
        // A second caller meanwhile is told to wait, not allowed to capture again.
        await #expect(throws: OrderError.paymentInProgress) { try await service.capture(placed.id) }
        #expect(try await service.resumeInterruptedPayments().finished == 1)
        #expect(try await service.order(placed.id).status == .captured)
        #expect(await processor.inner.operations["capture"] == 1)
        #expect(try await service.ledger().reduce(0) { $0 + $1.tax } == placed.totalTax)
        #expect(try await service.resumeInterruptedPayments().finished == 0)
    }

    /// Several `levy serve` processes share a store: a step one of them claimed just now may still be running there,
    /// and a live peer leaves it alone; once older than a step's lease it was left by a process that died, and the
    /// peer's minute pass finishes it (the order answered 409 until the next hourly pass or a restart).
    @Test("a step left half done is finished by a peer once it is older than a step's lease, not before", arguments: Store.available)
    func abandonedStepsWaitForTheirLease(store: Store) async throws {
        let processor = LosingProcessor()
        let (service, vault) = try await World.service(store, processor: processor)
        let placed = try await service.place(World.request(), idempotencyKey: "s", requestHash: "h", paymentToken: try await World.token(vault))
        let leaseAgo = { Date().addingTimeInterval(-Double(OrderService.stepLease.components.seconds)) }
        await processor.lose("capture")
        await #expect(throws: LosingProcessor.Lost.self) { try await service.capture(placed.id) }
        #expect(try await service.resumeInterruptedPayments(startedBefore: leaseAgo()).finished == 0)
        #expect(try await service.order(placed.id).status == .capturing)
        #expect(try await service.resumeInterruptedPayments(startedBefore: Date().addingTimeInterval(2)).finished == 1)
        #expect(try await service.order(placed.id).status == .captured)
        #expect(await processor.inner.operations["capture"] == 1)
        // A pending refund counts from its own creation.
        await processor.lose("refund")
        await #expect(throws: LosingProcessor.Lost.self) { try await service.refund(placed.id, .full, idempotencyKey: "s1", requestHash: "r") }
        #expect(try await service.resumeInterruptedPayments(startedBefore: leaseAgo()).finished == 0)
        #expect(try await service.resumeInterruptedPayments(startedBefore: Date().addingTimeInterval(2)).finished == 1)
        #expect(try await service.order(placed.id).status == .refunded)
        #expect(await processor.inner.operations["refund"] == 1)
        #expect(World.net(try await service.ledger()).values.allSatisfy { $0 == 0 })
    }

    /// Probe #11: PostgreSQL stopped between a refund's lock and its pending row, and the lock's release failed too,
    /// so the order refused every refund with 409 for good, on every process and after restarts. A lock no pending
    /// refund stands behind is released once it is older than a step's lease; one with its refund behind it is not.
    @Test("a refund lock left without its refund is released once older than a step's lease", arguments: Store.available)
    func orphanedRefundLockIsReleased(store: Store) async throws {
        let processor = LosingProcessor()
        let (service, vault) = try await World.service(store, processor: processor)
        let lockedAt = { (order: OrderID, at: Date) in
            try await service.database.execute("UPDATE \(service.table("orders")) SET refund_locked_at = $1 WHERE id = $2",
                                               [.text(Timestamp.string(at)), .text(order.value)])
        }
        let leaseAgo = Date().addingTimeInterval(-Double(OrderService.stepLease.components.seconds) - 5)
        let orphaned = try await World.captured(service, vault, key: "o")
        try await service.database.execute("UPDATE \(service.table("orders")) SET refund_lock = 'ref_never_written' WHERE id = $1", [.text(orphaned.id.value)])
        try await lockedAt(orphaned.id, Date())
        await #expect(throws: OrderError.paymentInProgress) { try await service.refund(orphaned.id, .full, idempotencyKey: "o1", requestHash: "r") }
        // Taken just now: a refund may be under way in another process, between its lock and its row.
        #expect(try await service.resumeInterruptedPayments().releasedRefundLocks == 0)
        try await lockedAt(orphaned.id, leaseAgo)
        #expect(try await service.resumeInterruptedPayments().releasedRefundLocks == 1)
        _ = try await service.refund(orphaned.id, .full, idempotencyKey: "o1", requestHash: "r")
        #expect(try await service.order(orphaned.id).status == .refunded)
        // A pending refund holds its lock whatever the lock's age: it is finished in its turn, never released.
        let pending = try await World.captured(service, vault, key: "p")
        await processor.lose("refund")
        await #expect(throws: LosingProcessor.Lost.self) { try await service.refund(pending.id, .full, idempotencyKey: "p1", requestHash: "r") }
        try await lockedAt(pending.id, leaseAgo.addingTimeInterval(-60))
        let report = try await service.resumeInterruptedPayments(startedBefore: leaseAgo)
        #expect(report.releasedRefundLocks == 0 && report.finished == 0)
        await #expect(throws: OrderError.paymentInProgress) { try await service.refund(pending.id, .full, idempotencyKey: "p2", requestHash: "s") }
        #expect(try await service.resumeInterruptedPayments().finished == 1)
        #expect(try await service.order(pending.id).status == .refunded)
        #expect(await processor.inner.operations["refund"] == 2)
        // Maintenance finds old locks through an index of the locked orders (migration 16), not a scan of every order.
        if service.database.dialect == .sqlite {
            let plan = try await service.database.query("""
                EXPLAIN QUERY PLAN SELECT id FROM \(service.table("orders"))
                WHERE refund_lock IS NOT NULL AND (refund_locked_at IS NULL OR refund_locked_at < $1)
                """, [.text(Timestamp.string(leaseAgo))])
            #expect(plan.contains { ($0.text("detail") ?? "").contains("USING INDEX") && ($0.text("detail") ?? "").hasSuffix("orders_refund_locked") })
        }
    }

    @Test("a payment step that cannot be finished is reported and skipped: the others are still finished", arguments: Store.available)
    func resumeSkipsWhatItCannotFinish(store: Store) async throws {
        let processor = LosingProcessor()
        let (service, vault) = try await World.service(store, processor: processor)
        var orders: [OrderID] = []
        for key in ["a", "b"] {
            let placed = try await World.captured(service, vault, key: key)
            await processor.lose("refund")
            await #expect(throws: LosingProcessor.Lost.self) { try await service.refund(placed.id, .full, idempotencyKey: key + "1", requestHash: "r") }
            orders.append(placed.id)
        }
        // One pending refund's plan is damaged (a hand edit, a bad restore): it can no longer be finished.
        try await service.database.execute("UPDATE \(service.table("refunds")) SET plan = 'not json' WHERE order_id = $1", [.text(orders[0].value)])
        let report = try await service.resumeInterruptedPayments()
        #expect(report.finished == 1)
        #expect(report.failed.count == 1)
        #expect(report.failed.first?.hasPrefix("refund ref_") == true && report.failed.first?.contains("unreadable plan") == true)
        #expect(try await service.order(orders[1]).status == .refunded)
        #expect(try await service.order(orders[0]).status == .captured)
        #expect(await processor.inner.operations["refund"] == 2)
    }

    @Test("a refund whose answer is lost stays pending, blocks other refunds, and is finished on resume, once", arguments: Store.available)
    func lostRefundIsResumed(store: Store) async throws {
        let processor = LosingProcessor()
        let (service, vault) = try await World.service(store, processor: processor)
        let placed = try await service.place(World.request(), idempotencyKey: "p", requestHash: "h", paymentToken: try await World.token(vault))
        _ = try await service.capture(placed.id)
        await processor.lose("refund")
        await #expect(throws: LosingProcessor.Lost.self) {
            try await service.refund(placed.id, .lines([RefundLine(line: 2, quantity: 1)]), idempotencyKey: "p1", requestHash: "a")
        }
        await #expect(throws: OrderError.paymentInProgress) { try await service.refund(placed.id, .full, idempotencyKey: "p2", requestHash: "b") }
        await #expect(throws: OrderError.paymentInProgress) {
            try await service.refund(placed.id, .lines([RefundLine(line: 2, quantity: 1)]), idempotencyKey: "p1", requestHash: "a")
        }
        #expect(try await service.resumeInterruptedPayments().finished == 1)
        #expect(await processor.inner.operations["refund"] == 1)
        let refund = try await service.refund(placed.id, .lines([RefundLine(line: 2, quantity: 1)]), idempotencyKey: "p1", requestHash: "a")
        #expect(refund.amount == 6_450)
        #expect(try await service.order(placed.id).status == .partiallyRefunded)
        #expect(try await service.verifyLedger().brokenAt == nil)
    }

    /// The simulator keeps its authorizations in memory (documented in docs/vault.md): after a restart, capturing
    /// an authorization made before it is declined, as a real processor would decline an unknown authorization.
    @Test("the simulator forgets authorizations on restart; a capture after it is declined, not guessed")
    func simulatorRestart() async throws {
        let processor = SimulatedProcessor()
        let (service, vault) = try await World.service(.sqlite, processor: processor)
        let placed = try await service.place(World.request(), idempotencyKey: "sim", requestHash: "h", paymentToken: try await World.token(vault))
        let restarted = OrderService(database: service.database, schema: service.schema, tables: World.tables,
                                     gateway: PaymentGateway(vault: vault, processor: SimulatedProcessor()), keys: World.keys)
        await #expect(throws: OrderError.paymentDeclined("the processor declined the capture (invalid_request)")) { try await restarted.capture(placed.id) }
        #expect(try await restarted.order(placed.id).status == .authorized)
        #expect(try await restarted.ledger().isEmpty)
    }

    @Test("void after authorization at the processor, and an authorization retried after a placement", arguments: Store.available)
    func voidAndAuthorizeAgain(store: Store) async throws {
        let processor = SimulatedProcessor()
        let (service, vault) = try await World.service(store, processor: processor)
        let declined = try await service.place(World.request(), idempotencyKey: "v1", requestHash: "h",
                                               paymentToken: try await World.token(vault, "4000000000000002"))
        #expect(declined.status == .declined)
        let authorized = try await service.authorize(declined.id, token: try await World.token(vault))
        #expect(authorized.status == .authorized && authorized.authorizationID != nil)
        let voided = try await service.void(authorized.id)
        #expect(voided.status == .voided)
        await #expect(throws: OrderError.self) { try await service.capture(voided.id) }
        #expect(await processor.operations["void"] == 1)
    }
}
