import Foundation
import Storage
import TaxCore
import Vault

/// What Levy did with a processor's event.
public enum EventOutcome: String, Sendable, Hashable, Codable {
    /// The event changed an order (a refund recorded, a dispute opened or closed).
    case applied
    /// The event was recorded before: nothing was done again.
    case duplicate
    /// Recorded, nothing to do (Levy's own refund reported back, an order Levy does not know, an event type Levy
    /// does not act on).
    case ignored
    /// Recorded, but Levy could not apply it by itself (a refund amount no split of net and tax gives to the
    /// cent): someone has to look at it.
    case needsReview = "needs_review"
}

public struct RecordedEvent: Sendable, Hashable {
    public var id: String
    public var outcome: EventOutcome
    public var detail: String
}

extension OrderService {
    /// Records a processor's event once (by its id) and applies it:
    /// - a refund made at the processor becomes a Levy refund (`origin` `processor`), tax reversed from the frozen
    ///   evidence, the processor not asked again; Levy's own refunds reported back are recognized by their id;
    /// - a dispute marks the order (`dispute_status` `open`, or `inquiry` while the bank only asks); the ledger is not
    ///   touched while it is open; a lost dispute is recorded as a refund of the disputed amount (`origin` `dispute`),
    ///   a won one or a closed inquiry only marks the order. A payment is disputed once at a time: a second dispute
    ///   while one is open, or a closed one reported open again, is left for a person.
    ///
    /// While one of Levy's refunds of the order is under way, the event is left unapplied and
    /// `OrderError.paymentInProgress` thrown, so that the caller answers "later" and the processor sends it again
    /// (by then Levy knows the refund's id and does not count it twice).
    public func record(processor: String, eventID: String, type: String, payload: [UInt8], events: [ProcessorEvent]) async throws -> RecordedEvent {
        let eventsTable = table("processor_events")
        let inserted = try await rows("""
            INSERT INTO \(eventsTable) (id, processor, type, received_at, state, payload) VALUES ($1, $2, $3, $4, 'received', $5)
            ON CONFLICT (id) DO NOTHING RETURNING id
            """, [.text(eventID), .text(processor), .text(type), .text(Timestamp.string(now())), .text(String(decoding: payload, as: UTF8.self))])
        if inserted.isEmpty {
            let existing = try await rows("SELECT state, detail FROM \(eventsTable) WHERE id = $1", [.text(eventID)])
            let (state, detail) = try decoded { () throws(RowDecodingError) in
                guard let row = existing.first else { return ("received", String?.none) }
                return (try row.decode("state", as: String.self), try row.decodeIfPresent("detail", as: String.self))
            }
            // An event whose earlier delivery stopped part way (a refund of Levy's was under way) is applied now.
            guard state == "received" else { return RecordedEvent(id: eventID, outcome: .duplicate, detail: detail ?? state) }
        }
        var outcomes: [(EventOutcome, String)] = []
        for event in events { outcomes.append(try await apply(event)) }
        let outcome: EventOutcome = outcomes.contains { $0.0 == .needsReview } ? .needsReview : outcomes.contains { $0.0 == .applied } ? .applied : .ignored
        let detail = outcomes.map(\.1).joined(separator: "; ")
        _ = try await rows("UPDATE \(eventsTable) SET state = $1, detail = $2 WHERE id = $3",
                           [.text(outcome.rawValue), .text(String(detail.prefix(1_000))), .text(eventID)])
        return RecordedEvent(id: eventID, outcome: outcome, detail: detail)
    }

    /// Whether an order of this store was paid with the processor's payment `payment` (its authorization or capture
    /// id): how a processor's event finds the merchant it belongs to.
    public func holdsPayment(_ payment: String) async throws -> Bool { try await order(paidWith: payment) != nil }

    /// The order paid with the processor's payment (its authorization or capture id), if this store holds one.
    func order(paidWith payment: String) async throws -> OrderID? {
        let found = try await rows("SELECT id FROM \(table("orders")) WHERE capture_id = $1 OR authorization_id = $1 ORDER BY id LIMIT 1", [.text(payment)])
        guard let row = found.first else { return nil }
        return OrderID(try decoded { () throws(RowDecodingError) in try row.decode("id", as: String.self) })
    }

    /// The events recorded, newest first (at most `limit`).
    public func processorEvents(limit: Int = 100) async throws -> [(id: String, type: String, state: String, detail: String?)] {
        let found = try await rows("SELECT id, type, state, detail FROM \(table("processor_events")) ORDER BY received_at DESC, id LIMIT \(max(1, min(limit, 1_000)))", [])
        return try decoded { () throws(RowDecodingError) in
            var events: [(id: String, type: String, state: String, detail: String?)] = []
            for row in found {
                events.append((try row.decode("id"), try row.decode("type"), try row.decode("state"), try row.decodeIfPresent("detail")))
            }
            return events
        }
    }

    private func apply(_ event: ProcessorEvent) async throws -> (EventOutcome, String) {
        guard let payment = event.payment else { return (.ignored, "not an event Levy acts on") }
        guard let orderID = try await order(paidWith: payment) else { return (.ignored, "no order was paid with \(payment)") }
        switch event {
        case .refund(let id, _, let amount, let succeeded):
            let known = try await rows("SELECT id FROM \(table("refunds")) WHERE processor_refund_id = $1", [.text(id)])
            guard succeeded else {
                // Recorded once it succeeded, a refund reported otherwise later failed or was cancelled: the ledger
                // holds a refund the processor says did not happen (probe #14: this was ignored).
                return known.isEmpty ? (.ignored, "refund \(id) has not succeeded")
                    : (.needsReview, "refund \(id) was recorded when it succeeded and is now reported as not succeeded (failed or cancelled)")
            }
            if !known.isEmpty { return (.ignored, "refund \(id) is already recorded") }
            let (outcome, detail, _) = try await recordExternalRefund(orderID, gross: amount, processorRefundID: id, origin: "processor")
            return (outcome, detail)
        case .disputeOpened(let id, _, _, let inquiry):
            return try await openDispute(id, of: orderID, inquiry: inquiry)
        case .disputeClosed(let id, _, let amount, let result):
            return try await closeDispute(id, of: orderID, amount: amount, result: result)
        case .other:
            return (.ignored, "not an event Levy acts on")
        }
    }

    /// The order's dispute as recorded: its id and `dispute_status`.
    private func recordedDispute(_ orderID: OrderID) async throws -> (id: String?, status: String?) {
        let current = try await rows("SELECT dispute_id, dispute_status FROM \(table("orders")) WHERE id = $1", [.text(orderID.value)]).first
        return try decoded { () throws(RowDecodingError) in
            (try current?.decodeIfPresent("dispute_id", as: String.self), try current?.decodeIfPresent("dispute_status", as: String.self))
        }
    }

    /// Whether a recorded `dispute_status` is a dispute not yet closed.
    static func isOpenDispute(_ status: String?) -> Bool { status == "open" || status == "inquiry" }

    /// The order's dispute changed from `was` to `id`/`status`, if it is still `was`: false when another event of the
    /// same order changed it meanwhile (the processor may deliver several at once), and the caller decides again.
    private func setDispute(_ id: String, _ status: String, of orderID: OrderID, was: (id: String?, status: String?)) async throws -> Bool {
        var arguments: [SQLValue] = [.text(id), .text(status), .text(orderID.value)]
        func unchanged(_ column: String, _ value: String?) -> String {
            guard let value else { return "\(column) IS NULL" }
            arguments.append(.text(value))
            return "\(column) = $\(arguments.count)"
        }
        let condition = unchanged("dispute_id", was.id) + " AND " + unchanged("dispute_status", was.status)
        let changed = try await rows("UPDATE \(table("orders")) SET dispute_id = $1, dispute_status = $2 WHERE id = $3 AND \(condition) RETURNING id",
                                     arguments)
        return !changed.isEmpty
    }

    /// Decides on a dispute event from the order's recorded dispute and records the decision only if no other event
    /// changed that dispute meanwhile; otherwise decides again from what that event recorded (a few times, then
    /// leaves it to the processor's redelivery).
    private func decidingOnDispute(of orderID: OrderID,
                                   _ decide: ((id: String?, status: String?)) async throws -> DisputeDecision) async throws -> (EventOutcome, String) {
        for _ in 0..<4 {
            let recorded = try await recordedDispute(orderID)
            switch try await decide(recorded) {
            case .done(let outcome, let detail):
                return (outcome, detail)
            case .set(let id, let status, let outcome, let detail):
                if try await setDispute(id, status, of: orderID, was: recorded) { return (outcome, detail) }
            }
        }
        throw OrderError.paymentInProgress
    }

    /// What a dispute event does to the order: nothing (with why), or a new dispute id and status.
    enum DisputeDecision {
        case done(EventOutcome, String)
        case set(id: String, status: String, EventOutcome, String)
    }

    private func openDispute(_ id: String, of orderID: OrderID, inquiry: Bool) async throws -> (EventOutcome, String) {
        let status = inquiry ? "inquiry" : "open"
        return try await decidingOnDispute(of: orderID) { recorded in
            if let other = recorded.id, other != id, Self.isOpenDispute(recorded.status) {
                // Probe #14: a second dispute replaced the first, and losing the first then read the order as settled
                // while the second was still open.
                return .done(.needsReview, "order \(orderID.value) has dispute \(other) open; another, \(id), is reported: a payment is disputed once at a time")
            }
            if recorded.id == id, let was = recorded.status {
                if was == status { return .done(.ignored, "dispute \(id) of order \(orderID.value) is recorded as \(status) already") }
                // Events may arrive out of order: an inquiry reported after its chargeback changes nothing.
                if was == "open" { return .done(.ignored, "dispute \(id) of order \(orderID.value) is a chargeback already") }
                if was != "inquiry" {
                    return .done(.needsReview, "dispute \(id) of order \(orderID.value) was closed as \(was); now reported open (a late delivery, or reopened)")
                }
                return .set(id: id, status: status, .applied, "dispute \(id) of order \(orderID.value): the inquiry became a chargeback")
            }
            return .set(id: id, status: status, .applied, "order \(orderID.value) \(inquiry ? "under inquiry" : "disputed") (\(id))")
        }
    }

    private func closeDispute(_ id: String, of orderID: OrderID, amount: Int64, result: DisputeResult) async throws -> (EventOutcome, String) {
        let status: String
        switch result {
        case .won: status = "won"
        case .lost: status = "lost"
        case .inquiryClosed: status = "inquiry_closed"
        case .other(let word):
            return (.needsReview, "dispute \(id) of order \(orderID.value) closed as \(word), a result Levy does not apply by itself")
        }
        return try await decidingOnDispute(of: orderID) { recorded in
            if let other = recorded.id, other != id, Self.isOpenDispute(recorded.status) {
                return .done(.needsReview, "dispute \(id) of order \(orderID.value) is reported closed while another, \(other), is open")
            }
            // A dispute closes once: a second close with another result is the processor contradicting itself (probe
            // #10: a win after a loss was applied), left for a person; the same result again changes nothing.
            if recorded.id == id, let was = recorded.status, !Self.isOpenDispute(was) {
                return was == status ? .done(.ignored, "dispute \(id) of order \(orderID.value) is closed as \(was) already")
                    : .done(.needsReview, "dispute \(id) of order \(orderID.value) was closed as \(was) already; now reported \(status)")
            }
            if result == .inquiryClosed, recorded.id == id, recorded.status == "open" {
                return .done(.needsReview, "dispute \(id) of order \(orderID.value) is a chargeback; now reported closed as an inquiry")
            }
            if result == .lost {
                // The refund is kept once by its key, so deciding again after a concurrent change does not repeat it.
                let (outcome, detail, recorded) = try await self.recordExternalRefund(orderID, gross: amount, processorRefundID: id, origin: "dispute")
                guard recorded else { return .done(outcome, detail) }
                return .set(id: id, status: status, outcome, "dispute \(id) of order \(orderID.value) lost: " + detail)
            }
            let what = result == .won ? "won" : "closed as an inquiry, nothing moved"
            return .set(id: id, status: status, .applied, "dispute \(id) of order \(orderID.value) \(what)")
        }
    }

    /// Records a refund the processor made (or a lost dispute): `recorded` says whether it is in the order's books;
    /// `needs_review` with `recorded` is one a person must still look at.
    private func recordExternalRefund(_ orderID: OrderID, gross: Int64, processorRefundID: String,
                                      origin: String) async throws -> (outcome: EventOutcome, detail: String, recorded: Bool) {
        let key = "\(origin):\(processorRefundID)"
        // Amounts in the details as decimals, as everywhere a person reads them (probe #14: cents were printed bare).
        func money(_ minorUnits: Int64) -> String { Money(minorUnits: minorUnits).decimalString }
        let refund: Refund
        do {
            refund = try await self.refund(orderID, .gross(gross), idempotencyKey: key, requestHash: key,
                                           external: ExternalRefund(processorRefundID: processorRefundID, origin: origin))
        } catch OrderError.invalidRefund(let why, _) {
            return (.needsReview, "\(origin) refund \(processorRefundID) of \(money(gross)) on order \(orderID.value): \(why)", false)
        } catch OrderError.wrongStatus(let status, _) {
            return (.needsReview, "\(origin) refund \(processorRefundID) of \(money(gross)) on order \(orderID.value), which is \(status.rawValue)", false)
        }
        let recorded = "\(origin) refund \(processorRefundID) recorded as \(refund.id): \(money(refund.amount)) net, \(money(refund.tax)) tax"
        // Gift cards sold that were spent since: the refund is recorded (the money has left) and the cards give up what
        // they still hold, but the buyer also kept what the rest bought (probe #15: nobody was told).
        let spent = try await spentOfRefundedGiftCards(refund)
        guard spent == 0 else {
            return (.needsReview, recorded + "; the gift cards it refunds the sale of had \(money(spent)) spent already, which the buyer keeps", true)
        }
        return (.applied, recorded, true)
    }

    /// How much of what `refund` gives back on gift card lines their cards no longer held (spent): the part the
    /// refund could not take off them.
    private func spentOfRefundedGiftCards(_ refund: Refund) async throws -> Int64 {
        let order = try await self.order(refund.orderID)
        let onCards = refund.lines.filter { refunded in order.lines.contains { $0.number == refunded.line && $0.code == .giftCard } }
            .reduce(Int64(0)) { $0 + $1.amount }
        guard onCards > 0 else { return 0 }
        let taken = try await rows("SELECT COALESCE(SUM(amount), 0) AS taken FROM \(table("gift_card_entries")) WHERE refund_id = $1 AND kind = 'cancel'",
                                   [.text(refund.id.value)])
        let cancelled = try decoded { () throws(RowDecodingError) in try taken.first?.decode("taken", as: Int64.self) ?? 0 }
        return max(onCards - Int64(clamping: cancelled.magnitude), 0)
    }
}
