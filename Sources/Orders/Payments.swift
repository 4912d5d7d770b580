import Foundation
import Storage
import TaxCore
import Vault

/// Authorization, capture, void and refunds. Each step is claimed before the processor is called: a conditional
/// UPDATE moves the order into `authorizing`, `capturing` or `voiding` (or takes the order's refund lock and records
/// the refund as pending, with its plan), and only the caller whose UPDATE changed a row goes on. The processor gets
/// an idempotency key derived from Levy's ids, so finishing a step again after a crash (`resumeInterruptedPayments`)
/// returns the processor's first answer instead of moving money twice.
extension OrderService {
    /// What the payment card is charged: the total less what gift cards pay.
    static func cardCharge(_ order: Order) -> Money { Money(minorUnits: order.cardAmount, currency: order.currency) }

    /// Moves the order from one of `from` to `to` if it is still there; true for the one caller that did it.
    /// A payment step's status also records when it was claimed (`step_started_at`, see `resumeInterruptedPayments`).
    func claim(_ id: OrderID, from: [OrderStatus], to: OrderStatus, setting extra: (column: String, value: String)? = nil) async throws -> Bool {
        var sets: [(column: String, value: String)] = extra.map { [$0] } ?? []
        if Self.stepStatuses.contains(to) { sets.append(("step_started_at", Timestamp.string(now()))) }
        let (placeholders, binds) = SQLValue.inList(from.map(\.rawValue), from: 3 + sets.count)
        let set = sets.enumerated().map { ", \($0.element.column) = $\($0.offset + 3)" }.joined()
        let values: [SQLValue] = [.text(to.rawValue), .text(id.value)] + sets.map { SQLValue.text($0.value) } + binds
        return try await !rows("UPDATE \(table("orders")) SET status = $1\(set) WHERE id = $2 AND status IN (\(placeholders)) RETURNING id", values).isEmpty
    }

    /// The refusal for a step someone else claimed first: in progress, or the order has moved on.
    func refusal(_ id: OrderID, expected: [OrderStatus]) async throws -> OrderError {
        Self.refusal(try await order(id).status, expected: expected)
    }

    static func refusal(_ status: OrderStatus, expected: [OrderStatus]) -> OrderError {
        stepStatuses.contains(status) ? .paymentInProgress : .wrongStatus(status, expected: expected)
    }

    /// The statuses of an order whose payment step is under way (or was left half done by a crash).
    static let stepStatuses: [OrderStatus] = [.authorizing, .capturing, .voiding]
    /// The same, as an SQL list of literals (`'authorizing', 'capturing', 'voiding'`).
    static let stepStatusList = stepStatuses.map { "'\($0.rawValue)'" }.joined(separator: ", ")

    /// How long a payment step may take in a live process, with room to spare: Stripe's four attempts of at most
    /// 30 s each and their backoff come to about two minutes, then the store's writes. A step older than this was
    /// left by a process that died, and a live one finishes it (were the first still running, the processor's
    /// idempotency key and the conditional updates would still move money and write the step once).
    public static let stepLease: Duration = .seconds(300)

    // MARK: - Authorization

    /// Authorizes a placed (or declined) order's total with a vault token, e.g. after the buyer tried another card.
    public func authorize(_ id: OrderID, token: Token) async throws -> Order {
        try await authorize(try await order(id), token: token)
    }

    /// Authorizes `order` as read (or as just placed): claimed by a conditional UPDATE first, so a stale copy is
    /// refused, never acted on.
    func authorize(_ order: Order, token: Token) async throws -> Order {
        guard order.status == .placed || order.status == .declined else { throw Self.refusal(order.status, expected: [.placed, .declined]) }
        guard gateway != nil else { throw OrderError.paymentDeclined("no payment processor is configured") }
        guard try await claim(order.id, from: [.placed, .declined], to: .authorizing, setting: ("payment_token", token.value)) else {
            throw try await refusal(order.id, expected: [.placed, .declined])
        }
        return try await finishAuthorization(order, token: token, revertTo: order.status)
    }

    func finishAuthorization(_ order: Order, token: Token, revertTo previous: OrderStatus) async throws -> Order {
        guard let gateway else { return order }
        let result: ProcessorResult
        do {
            result = try await gateway.authorize(token: token, amount: Self.cardCharge(order), reference: order.id.value,
                                                 billing: order.billingAddress.flatMap(AddressText.billingDetails), idempotencyKey: "authorize:\(order.id.value):\(token.value)")
        } catch {
            // Nothing was authorized that a retry with the same key would not find again: let the caller retry.
            _ = try? await rows("UPDATE \(table("orders")) SET status = $1 WHERE id = $2 AND status = 'authorizing'",
                                [.text(previous.rawValue), .text(order.id.value)])
            throw error
        }
        // The order returned is the one written: the same changes applied to the copy in hand, nothing read back.
        var updated = order
        updated.paymentToken = token.value
        if result.outcome == .approved {
            // A decline before this approval is history, not the order's state. Only from `authorizing`: a recovery run
            // may have finished this step (and the order moved on) while this attempt waited for the processor.
            guard try await setStatus(order.id, .authorized, column: "authorization_id", value: result.id, onlyFrom: .authorizing,
                                      clearing: "decline_reason") else { return try await self.order(order.id) }
            updated.status = .authorized
            updated.authorizationID = result.id
            updated.declineReason = nil
        } else {
            // Levy's reason, then the processor's finer code when it adds something (`card_declined: do_not_honor`).
            var reason = result.declineReason?.rawValue ?? "declined"
            if let code = result.processorCode, code != reason, code.count <= 64, code.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) {
                reason += ": " + code
            }
            guard try await setStatus(order.id, .declined, column: "decline_reason", value: reason, onlyFrom: .authorizing) else {
                return try await self.order(order.id)
            }
            updated.status = .declined
            updated.declineReason = reason
        }
        return updated
    }

    // MARK: - Capture

    /// The capture id of an order captured with no payment processor configured (demo data, tests).
    public static let captureWithoutProcessor = "capture-without-processor"

    /// Captures an authorized order and writes its sale entries to the tax ledger, in one transaction.
    public func capture(_ id: OrderID) async throws -> Order {
        let allowed: [OrderStatus] = gateway == nil ? [.authorized, .placed] : [.authorized]
        let (order, claimed) = try await claimAndRead(id, from: allowed, to: .capturing)
        guard claimed else {
            // Not claimable as read, or claimed by someone else between the read and the claim (read it again).
            throw allowed.contains(order.status) ? try await refusal(id, expected: [.authorized]) : Self.refusal(order.status, expected: [.authorized])
        }
        return try await finishCapture(order)
    }

    /// Asks the processor to capture (again, after a crash: the same key gets the same capture), then commits the
    /// capture, the ledger entries and the fulfilment together. If the processor cannot be reached the order stays
    /// `capturing`, to be finished by `resumeInterruptedPayments`, never guessed at.
    func finishCapture(_ order: Order) async throws -> Order {
        do {
            try Self.checkVoucherLimit(order.lines.map { ($0.code, $0.fulfilment, $0.quantity) })
        } catch {
            try await setStatus(order.id, .authorized, column: nil, value: nil, onlyFrom: .capturing)
            throw error
        }
        var captureID = Self.captureWithoutProcessor
        if let gateway, let authorization = order.authorizationID {
            let result = try await gateway.capture(authorization: authorization, amount: Self.cardCharge(order), idempotencyKey: "capture:\(order.id.value)")
            guard result.outcome == .approved else {
                try await setStatus(order.id, .authorized, column: nil, value: nil, onlyFrom: .capturing)
                throw OrderError.declined("capture", result)
            }
            captureID = result.id
        }
        let at = Timestamp.string(now())
        // One entry per line and jurisdiction; a line with no taxing jurisdiction (not collecting there) still gets
        // one entry, marked `none`, so every sale is on the ledger.
        let entries = order.lines.flatMap { line -> [LedgerEntry] in
            guard !line.taxes.isEmpty else {
                return [LedgerEntry(orderID: order.id.value, refundID: nil, kind: "sale", line: line.number, jurisdictionCode: "none", level: "none",
                                    rate: "0", taxable: 0, tax: 0, taxDate: order.taxDate.iso, tableVersion: order.tableVersion, at: at)]
            }
            return line.taxes.map { LedgerEntry(orderID: order.id.value, refundID: nil, kind: "sale", line: line.number, jurisdictionCode: $0.jurisdictionCode,
                                                level: $0.level, rate: $0.rate, taxable: $0.taxable, tax: $0.tax, taxDate: order.taxDate.iso,
                                                tableVersion: order.tableVersion, at: at) }
        }
        let capturedAt = now()
        let giftCards = try giftCardIssue(order, at: capturedAt)
        let claim = SQLStatement("UPDATE \(table("orders")) SET status = $1, capture_id = $2 WHERE id = $3 AND status = 'capturing' RETURNING id",
                                    [.text(OrderStatus.captured.rawValue), .text(captureID), .text(order.id.value)])
        let others = fulfilment(order, at: capturedAt) + giftCards.statements
        // Optimistically on PostgreSQL: the head read unlocked, then the capture, the ledger entries, the new head and
        // the fulfilment as one statement that commits on its own (two round trips). Entries appended by another
        // writer in between make its entry numbers collide and nothing is written; then, as on SQLite, in one
        // transaction that locks the head first (BEGIN, lock, the same statement, COMMIT).
        var done = false
        if database.dialect == .postgres {
            let head = try await ledgerStore.head(in: database, locking: false)
            done = try await database.commitTogether(guarded: claim, then: ledgerStore.appendStatements(entries, after: head) + others) == .committed
        }
        if !done {
            try await database.transaction { [self] tx in
                let head = try await ledgerStore.lockHead(in: tx)
                let writes = ledgerStore.appendStatements(entries, after: head) + others
                guard try await tx.writeTogether(guarded: claim, then: writes, dialect: database.dialect) > 0 else { throw OrderError.paymentInProgress }
            }
        }
        var captured = order
        captured.status = .captured
        captured.captureID = captureID
        captured.issuedGiftCards = giftCards.issued
        return captured
    }

    // MARK: - Void

    /// Voids an order before capture: authorized, placed, or declined (the buyer gave up after a decline); gift
    /// cards it held are given back.
    public func void(_ id: OrderID) async throws -> Order {
        let order = try await order(id)
        let voidable: [OrderStatus] = [.authorized, .placed, .declined]
        guard voidable.contains(order.status) else { throw Self.refusal(order.status, expected: voidable) }
        guard try await claim(id, from: voidable, to: .voiding) else { throw try await refusal(id, expected: voidable) }
        return try await finishVoid(order, revertTo: order.status)
    }

    func finishVoid(_ order: Order, revertTo previous: OrderStatus) async throws -> Order {
        if let gateway, let authorization = order.authorizationID {
            let result = try await gateway.void(authorization: authorization, idempotencyKey: "void:\(order.id.value)")
            guard result.outcome == .approved else {
                try await setStatus(order.id, previous, column: nil, value: nil, onlyFrom: .voiding)
                throw OrderError.declined("void", result)
            }
        }
        try await database.transaction { [self] tx in
            guard try await !tx.query("UPDATE \(table("orders")) SET status = $1 WHERE id = $2 AND status = 'voiding' RETURNING id",
                                      [.text(OrderStatus.voided.rawValue), .text(order.id.value)]).isEmpty else { return }
            try await releaseTenders(of: order, in: tx)
        }
        var voided = order
        voided.status = .voided
        return voided
    }

    // MARK: - Refunds

    /// Refunds a captured order (in full, by line and quantity, or an amount), reversing tax from the amounts frozen
    /// at placement, never from today's tables. Once per idempotency key; one refund of an order at a time.
    public func refund(_ id: OrderID, _ request: RefundRequest, idempotencyKey: String, requestHash: String) async throws -> Refund {
        try await refund(id, request, idempotencyKey: idempotencyKey, requestHash: requestHash, external: nil)
    }

    /// A refund the processor already made (`external`: its refund id and why: `processor` for one made in its
    /// dashboard, `dispute` for a lost dispute): recorded like Levy's own, with tax reversed from the frozen
    /// evidence, but the processor is not asked to move money again.
    struct ExternalRefund: Sendable {
        var processorRefundID: String
        var origin: String
    }

    func refund(_ id: OrderID, _ request: RefundRequest, idempotencyKey: String, requestHash: String, external: ExternalRefund?) async throws -> Refund {
        if let existing = try await refund(forKey: idempotencyKey) {
            guard existing.requestHash == requestHash, existing.refund.orderID == id else { throw OrderError.idempotencyConflict(key: idempotencyKey) }
            return existing.refund
        }
        let refundable: [OrderStatus] = [.captured, .partiallyRefunded, .completed]
        let refundID = "ref_" + RandomID.make(bytes: 12)
        let (placeholders, binds) = SQLValue.inList(refundable.map(\.rawValue), from: 4)
        let locked = try await rows("""
            UPDATE \(table("orders")) SET refund_lock = $1, refund_locked_at = $2 WHERE id = $3 AND refund_lock IS NULL AND status IN (\(placeholders))
            RETURNING id
            """, [.text(refundID), .text(Timestamp.string(now())), .text(id.value)] + binds)
        guard !locked.isEmpty else {
            let now = try await order(id)
            throw refundable.contains(now.status) ? OrderError.paymentInProgress : OrderError.wrongStatus(now.status, expected: refundable)
        }
        // With the lock held, the order cannot change under us: what remains to refund is read now.
        let plan: (order: Order, lines: [RefundedLine], amount: Int64, tax: Int64, giftCards: Int64)
        do {
            let order = try await self.order(id)
            // A disputed payment is the bank's to settle now (processors refuse to refund it); what the processor
            // itself reports (a lost dispute, a dashboard refund) is still recorded.
            guard external != nil || order.disputeStatus != "open" else { throw OrderError.disputed }
            let lines = try RefundMath.refund(order, request)
            if case .lines = request { try await checkUnusedSessions(lines, of: order) }
            let amount = try CheckedMoney.sum(lines.map(\.amount))
            let tax = try CheckedMoney.sum(lines.flatMap { $0.taxes.map(\.tax) })
            if external != nil {
                // The processor gives back only what the card paid: a refund past what is left of it (gift cards paid
                // the rest) is the processor's mistake or another payment's, left for a person (probe #14).
                let onCard = order.cardAmount - (order.refundedAmount + order.refundedTax - order.giftCardReturned)
                let (gross, overflow) = amount.addingReportingOverflow(tax)
                guard !overflow, gross <= onCard else {
                    throw OrderError.invalidRefund("the card paid \(RefundMath.money(order.cardAmount, order)) and has \(RefundMath.money(max(0, onCard), order)) left to refund")
                }
            }
            let giftCards = giftCardShare(of: amount + tax, order: order, external: external != nil)
            plan = (order, lines, amount, tax, giftCards)
            // The refund is recorded as pending together with what it takes off gift cards it refunds the sale of, so
            // that those cards cannot be spent while the processor is asked.
            let pending = SQLStatement("""
                INSERT INTO \(table("refunds")) (id, order_id, idempotency_key, request_hash, amount, tax, created_at, state, plan, origin, processor_refund_id,
                  gift_card_amount)
                VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9, $10, $11)
                """, [.text(refundID), .text(id.value), .text(idempotencyKey), .text(requestHash), .integer(amount), .integer(tax),
                      .text(Timestamp.string(now())), .text(String(decoding: try JSONEncoder().encode(lines), as: UTF8.self)),
                      .text(external?.origin ?? "levy"), external.map { .text($0.processorRefundID) } ?? .null, .integer(giftCards)])
            // A lock older than a step's lease with no pending row is released by maintenance
            // (`releaseOrphanedRefundLocks`); the row is written within seconds of the lock (`lock_timeout` bounds what
            // it waits for), so no refund under way loses its lock that way.
            if order.lines.contains(where: { $0.code == .giftCard }) {
                try await database.transaction { [self, pending, lines] tx in
                    try await tx.execute(pending.sql, pending.binds)
                    try await cancelSoldGiftCards(lines, of: order, refund: refundID, request: request, strict: external == nil, in: tx)
                }
            } else {
                try await database.execute(pending.sql, pending.binds)
            }
        } catch {
            try? await releaseRefundLock(id, refundID)
            if let existing = try? await refund(forKey: idempotencyKey) {
                guard existing.requestHash == requestHash, existing.refund.orderID == id else { throw OrderError.idempotencyConflict(key: idempotencyKey) }
                return existing.refund
            }
            if error is CheckedMoney.Overflow { throw OrderError.invalidRefund("the amounts are too large to add up") }
            throw error
        }
        return try await finishRefund(refundID, order: plan.order, lines: plan.lines, amount: plan.amount, tax: plan.tax,
                                      giftCards: plan.giftCards, externalID: external?.processorRefundID)
    }

    func releaseRefundLock(_ id: OrderID, _ refundID: String) async throws {
        _ = try await rows("UPDATE \(table("orders")) SET refund_lock = NULL WHERE id = $1 AND refund_lock = $2", [.text(id.value), .text(refundID)])
    }

    /// Asks the processor to refund (the same key after a crash gets the same refund), then commits the refund,
    /// the reversing ledger entries and the revocations, and releases the order's refund lock.
    /// `giftCards` of the refund's total goes back to the order's gift cards; only the rest is asked of the processor.
    func finishRefund(_ refundID: String, order: Order, lines: [RefundedLine], amount: Int64, tax: Int64, giftCards: Int64,
                      externalID: String?) async throws -> Refund {
        var processorRefundID = externalID
        let toCard = amount + tax - giftCards
        if externalID == nil, toCard > 0, let gateway, let capture = order.captureID, capture != Self.captureWithoutProcessor {
            let result = try await gateway.refund(capture: capture, amount: Money(minorUnits: toCard, currency: order.currency),
                                                  idempotencyKey: "refund:\(refundID)")
            guard result.outcome == .approved else {
                try await database.transaction { [self] tx in
                    guard try await !tx.query("DELETE FROM \(table("refunds")) WHERE id = $1 AND state = 'pending' RETURNING id", [.text(refundID)]).isEmpty
                    else { return }
                    try await restoreCancelled(refund: refundID, order: order.id, in: tx)
                }
                try await releaseRefundLock(order.id, refundID)
                throw OrderError.declined("refund", result)
            }
            processorRefundID = result.id
        }
        let at = Timestamp.string(now())
        var entries: [LedgerEntry] = []
        for refunded in lines {
            guard let line = order.lines.first(where: { $0.number == refunded.line }) else { throw OrderError.corrupt("refund plan names line \(refunded.line)") }
            if line.taxes.isEmpty {
                entries.append(LedgerEntry(orderID: order.id.value, refundID: refundID, kind: "refund", line: line.number, jurisdictionCode: "none",
                                           level: "none", rate: "0", taxable: 0, tax: 0, taxDate: order.taxDate.iso, tableVersion: order.tableVersion, at: at))
            }
            for (frozen, back) in zip(line.taxes, refunded.taxes) where back.tax != 0 || refunded.amount != 0 {
                entries.append(LedgerEntry(orderID: order.id.value, refundID: refundID, kind: "refund", line: line.number,
                                           jurisdictionCode: frozen.jurisdictionCode, level: frozen.level, rate: frozen.rate,
                                           taxable: -RefundMath.share(frozen.taxable, refunded.amount, max(line.amount, 1)),
                                           tax: -back.tax, taxDate: order.taxDate.iso, tableVersion: order.tableVersion, at: at))
            }
        }
        let fullyRefunded = order.refundedAmount + amount == order.totalAmount && order.refundedTax + tax == order.totalTax
        let id = order.id
        let completed = SQLStatement("""
            UPDATE \(table("refunds")) SET state = 'completed', processor_refund_id = $1, plan = NULL WHERE id = $2 AND state = 'pending' RETURNING id
            """, [processorRefundID.map { .text($0) } ?? .null, .text(refundID)])
        var writes = SQLInsert(table: table("refund_lines"), columns: ["refund_id", "line_no", "quantity", "amount"],
                               rows: lines.map { [.text(refundID), .integer(Int64($0.line)), .integer($0.quantity), .integer($0.amount)] })
            .statements(dialect: database.dialect)
        for refunded in lines {
            writes.append(SQLStatement("""
                UPDATE \(table("order_lines")) SET refunded_quantity = refunded_quantity + $1, refunded_amount = refunded_amount + $2
                WHERE order_id = $3 AND line_no = $4
                """, [.integer(refunded.quantity), .integer(refunded.amount), .text(id.value), .integer(Int64(refunded.line))]))
            for (position, back) in refunded.taxes.enumerated() where back.tax != 0 {
                writes.append(SQLStatement("""
                    UPDATE \(table("order_taxes")) SET refunded_tax = refunded_tax + $1 WHERE order_id = $2 AND line_no = $3 AND position = $4
                    """, [.integer(back.tax), .text(id.value), .integer(Int64(refunded.line)), .integer(Int64(position))]))
            }
        }
        writes.append(SQLStatement("UPDATE \(table("orders")) SET status = $1, refund_lock = NULL WHERE id = $2",
                                   [.text((fullyRefunded ? OrderStatus.refunded : .partiallyRefunded).rawValue), .text(id.value)]))
        writes += revocations(lines, of: order)
        // The refund's completion, its lines, the order's refunded amounts and status, the ledger entries, the new
        // head and the revocations as one statement on PostgreSQL, whatever the refund's size. Like a capture, it is
        // first written optimistically (the head read unlocked, the statement committing on its own) and again under
        // the head's lock if another append took its entry numbers; a refund that gives back to gift cards is
        // always written in the transaction, which holds those writes too.
        var done = false
        if database.dialect == .postgres && giftCards == 0 {
            let append = entries.isEmpty ? [] : ledgerStore.appendStatements(entries, after: try await ledgerStore.head(in: database, locking: false))
            done = try await database.commitTogether(guarded: completed, then: writes + append) == .committed
        }
        if !done {
            try await database.transaction { [self, entries, writes] tx in
                let append = entries.isEmpty ? [] : ledgerStore.appendStatements(entries, after: try await ledgerStore.lockHead(in: tx))
                guard try await tx.writeTogether(guarded: completed, then: writes + append, dialect: database.dialect) > 0 else {
                    throw OrderError.paymentInProgress
                }
                if giftCards > 0 { try await returnToGiftCards(giftCards, of: order, refund: refundID, in: tx) }
            }
        }
        return Refund(id: RefundID(refundID), orderID: id, amount: amount, tax: tax, lines: lines, giftCardAmount: giftCards)
    }

    // MARK: - Recovery

    /// What a recovery run did: the steps it finished, and those it could not finish this time (an unreachable
    /// processor, a row it cannot read), each named by its order or refund id and left for the next run.
    public struct RecoveryReport: Sendable, Equatable {
        public var finished = 0
        public var failed: [String] = []
        /// Refund locks released because no refund stood behind them (`releaseOrphanedRefundLocks`).
        public var releasedRefundLocks = 0
    }

    /// Finishes payment steps a crash (or an unreachable processor) left half done: orders still `authorizing`,
    /// `capturing` or `voiding`, and refunds still pending. Each is finished with the idempotency key it was started
    /// with, so the processor answers what it answered before and nothing is charged or refunded twice. A step that
    /// fails is reported and skipped, so one order cannot hold up the others. Run at start-up and by the server's
    /// maintenance.
    ///
    /// `startedBefore` limits it to steps claimed before that time (an order placed straight into `authorizing`
    /// counts from its creation; a pending refund from its own): with several `levy serve` processes on one store, a
    /// live process finishes only the steps older than `stepLease`, which no live process can still be running.
    @discardableResult
    public func resumeInterruptedPayments(startedBefore: Date? = nil) async throws -> RecoveryReport {
        var report = RecoveryReport()
        let cutoff = startedBefore.map { [SQLValue.text(Timestamp.string($0))] } ?? []
        let stuck = try await rows("""
            SELECT id, status, payment_token FROM \(table("orders")) WHERE status IN (\(Self.stepStatusList))
            \(cutoff.isEmpty ? "" : "AND COALESCE(step_started_at, created_at) < $1")
            """, cutoff)
        for row in stuck {
            var named = "an order"
            do {
                let id = OrderID(try decoded { () throws(RowDecodingError) in try row.decode("id") })
                named = "order \(id.value)"
                let order = try await order(id)
                switch order.status {
                case .capturing: _ = try await finishCapture(order)
                case .voiding: _ = try await finishVoid(order, revertTo: .authorized)
                case .authorizing:
                    guard let token = order.paymentToken.flatMap(Token.init) else {
                        try await setStatus(id, .placed, column: nil, value: nil, onlyFrom: .authorizing)
                        continue
                    }
                    _ = try await finishAuthorization(order, token: token, revertTo: .placed)
                default: continue
                }
                report.finished += 1
            } catch {
                report.failed.append("\(named): \(Self.reason(error))")
            }
        }
        for row in try await rows("""
            SELECT id, order_id, amount, tax, plan, origin, processor_refund_id, gift_card_amount FROM \(table("refunds")) WHERE state = 'pending'
            \(cutoff.isEmpty ? "" : "AND created_at < $1")
            """, cutoff) {
            var named = "a refund"
            do {
                let (refundID, orderID, amount, tax, planText, origin, externalID, giftCards) = try decoded { () throws(RowDecodingError) in
                    (try row.decode("id", as: String.self), try row.decode("order_id", as: String.self), try Self.money(row, "amount"),
                     try Self.money(row, "tax"), try row.decode("plan", as: String.self), try row.decode("origin", as: String.self),
                     try row.decodeIfPresent("processor_refund_id", as: String.self), try Self.money(row, "gift_card_amount"))
                }
                named = "refund \(refundID)"
                // A refund the processor made itself is only recorded: it is never asked for again.
                guard origin == "levy" || externalID != nil else { throw OrderError.corrupt("refund \(refundID) came from the processor but has no processor id") }
                guard let lines = try? JSONDecoder().decode([RefundedLine].self, from: Data(planText.utf8)) else {
                    throw OrderError.corrupt("refund \(refundID) has an unreadable plan")
                }
                _ = try await finishRefund(refundID, order: try await order(OrderID(orderID)), lines: lines, amount: amount, tax: tax,
                                           giftCards: giftCards, externalID: origin == "levy" ? nil : externalID)
                report.finished += 1
            } catch {
                report.failed.append("\(named): \(Self.reason(error))")
            }
        }
        do {
            // Always with a lease, even at start-up: a peer may be between taking a lock and recording its refund.
            let leaseAgo = now().addingTimeInterval(-Double(Self.stepLease.components.seconds))
            report.releasedRefundLocks = try await releaseOrphanedRefundLocks(takenBefore: min(startedBefore ?? leaseAgo, leaseAgo))
        } catch {
            report.failed.append("refund locks: \(Self.reason(error))")
        }
        return report
    }

    /// Releases refund locks no pending refund stands behind: a refund took the lock, then the store failed before
    /// its pending row was written, and the lock's release failed too (probe #11: PostgreSQL stopped mid-refund left
    /// an order refusing every refund with 409 for good). Only locks taken before `takenBefore`, which no
    /// refund still under way can hold (a lock from before migration 15 has no time and counts as old). Returns how
    /// many it released.
    func releaseOrphanedRefundLocks(takenBefore: Date) async throws -> Int {
        let released = try await rows("""
            UPDATE \(table("orders")) SET refund_lock = NULL, refund_locked_at = NULL
            WHERE refund_lock IS NOT NULL AND (refund_locked_at IS NULL OR refund_locked_at < $1)
            AND NOT EXISTS (SELECT 1 FROM \(table("refunds")) AS r WHERE r.id = refund_lock AND r.state = 'pending')
            RETURNING id
            """, [.text(Timestamp.string(takenBefore))])
        return released.count
    }

    /// Why a recovery step failed, in words safe to log: an `OrderError`'s own message, else the error's type.
    static func reason(_ error: any Error) -> String {
        if let error = error as? OrderError { return "\(error)" }
        return "\(type(of: error))"
    }
}

extension OrderError {
    /// A processor's refusal of a step on an existing payment, in words: which step, Levy's reason and the
    /// processor's own finer code when it gave a short one (Stripe's `decline_code`). No field: the request named
    /// nothing that was wrong, the payment's state at the processor was.
    static func declined(_ step: String, _ result: ProcessorResult) -> OrderError {
        var reasons = [result.declineReason?.rawValue ?? "no reason given"]
        if let code = result.processorCode, (1...64).contains(code.utf8.count),
           code.utf8.allSatisfy({ $0 == UInt8(ascii: "_") || (0x30...0x39).contains($0) || (0x61...0x7A).contains($0) }) {
            reasons.append("processor code \(code)")
        }
        return .paymentDeclined("the processor declined the \(step) (\(reasons.joined(separator: "; ")))")
    }
}
