import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
@testable import Orders
import Server
import Storage
import LevyTestSupport
import Testing
@testable import Processors

@Suite struct WebhookTests {
    static func event(_ id: String, _ type: String, _ object: [String: Any]) -> String {
        let body: [String: Any] = ["id": id, "object": "event", "type": type, "created": 1_790_000_000, "data": ["object": object]]
        return String(decoding: try! JSONSerialization.data(withJSONObject: body, options: [.sortedKeys]), as: UTF8.self)
    }

    static func cents(_ text: String?) -> Int64 {
        guard let text, let value = Decimal(string: text) else { return -1 }
        return NSDecimalNumber(decimal: value * 100).int64Value
    }

    /// Stripe's events on a captured order: forged, stale and unsigned requests change nothing; a dashboard refund
    /// becomes a Levy refund once (a replay is a duplicate); a dispute marks the order without touching the ledger
    /// until it is lost, then the rest is refunded and tax nets to zero.
    @Test(arguments: Store.available)
    func stripeEventsOnAnOrder(store: Store) async throws {
        let webhook = StripeWebhook(secret: try StripeWebhookSecret("whsec_levy_test_secret", source: "test"))
        let server = try await TestServer.make(store, stripeWebhook: webhook)
        let app = server.routerApplication()
        let checkout = server.keys[.checkout]!
        try await app.test(.router) { client in
            let card = try await client.send(.post, "/v1/tokens", key: checkout,
                                             body: #"{"number": "4242424242424242", "exp_month": 12, "exp_year": 2031, "security_code": "5926"}"#)
            let token: String = try #require(card.string("token"))
            let placed = try await client.send(.post, "/v1/orders", key: checkout, idempotency: "w-order",
                                               body: placeBody("minneapolis.json", token: token))
            let orderID = try #require(placed.string("id"))
            let payment = try #require(placed.string("authorization_id"))
            #expect(try await client.send(.post, "/v1/orders/\(orderID)/capture", key: checkout).string("status") == "captured")
            func order() async throws -> Reply { try await client.send(.get, "/v1/orders/\(orderID)", key: checkout) }
            let total = Self.cents(try await order().string("total"))
            #expect(total > 1_002)

            // Signed at the moment of sending: a loaded test machine can take minutes over this test.
            func now(_ offset: Int64 = 0) -> Int64 { Int64(Date().timeIntervalSince1970) + offset }
            func deliver(_ body: String, signature: String?? = .none) async throws -> Reply {
                let header = signature ?? webhook.signatureHeader(body: Array(body.utf8), timestamp: now())
                return try await client.send(.post, "/v1/webhooks/stripe", key: nil, body: body,
                                             headers: header.map { [HTTPField.Name("Stripe-Signature")!: $0] } ?? [:])
            }
            func refundEvent(_ n: Int, _ amount: Int64) -> String {
                Self.event("evt_refund_\(n)", "refund.created",
                           ["id": "re_dash_\(n)", "object": "refund", "amount": amount, "status": "succeeded", "payment_intent": payment])
            }

            // Refused before anything is read or recorded.
            let body = refundEvent(1, 1_000)
            let otherEndpoint = StripeWebhook(secret: try StripeWebhookSecret("whsec_someone_else_secret", source: "test"))
            let signatures: [(() -> String, String)] = [
                ({ "t=\(now()),v1=" + String(repeating: "ab", count: 32) }, "forged"),
                ({ otherEndpoint.signatureHeader(body: Array(body.utf8), timestamp: now()) }, "another secret"),
                ({ webhook.signatureHeader(body: Array(body.utf8), timestamp: now(-301)) }, "stale"),
                ({ webhook.signatureHeader(body: Array(body.utf8), timestamp: now(+310)) }, "from the future"),
                // Signed, but at the far ends of time: the age must not overflow (it stopped the server).
                ({ webhook.signatureHeader(body: Array(body.utf8), timestamp: Int64.min) }, "at Int64.min"),
                ({ webhook.signatureHeader(body: Array(body.utf8), timestamp: Int64.max) }, "at Int64.max"),
                ({ "v1=abc" }, "malformed"),
            ]
            for (signature, why) in signatures {
                let refused = try await deliver(body, signature: .some(signature()))
                #expect(refused.status == 400 && refused.errorCode == "invalid_signature", "\(why)")
            }
            #expect(try await deliver(body, signature: .some(nil)).status == 400)
            // The refusal says which way the timestamp is off (probe #10: a future one was "-310 s from now").
            let future = try await deliver(body, signature: .some(webhook.signatureHeader(body: Array(body.utf8), timestamp: now(+310))))
            #expect(future.text.contains("s in the future") && !future.text.contains("-3"), "\(future.text)")
            let stale = try await deliver(body, signature: .some(webhook.signatureHeader(body: Array(body.utf8), timestamp: now(-301))))
            #expect(stale.text.contains("s old"), "\(stale.text)")
            let tampered = try await deliver(refundEvent(1, 9_999), signature: .some(webhook.signatureHeader(body: Array(body.utf8), timestamp: now())))
            #expect(tampered.status == 400 && tampered.errorCode == "invalid_signature")
            #expect(try await order().string("refunded_amount") == "0.00")

            // A dashboard refund, applied once: 10.00 given back, split into net and tax to the cent.
            let applied = try await deliver(body)
            let refunded: Int64 = 1_000
            #expect(applied.status == 200 && applied.string("outcome") == "applied", "\(applied.text)")
            var after = try await order()
            #expect(Self.cents(after.string("refunded_amount")) + Self.cents(after.string("refunded_tax")) == refunded)
            #expect(after.string("status") == "partially_refunded")
            let replay = try await deliver(body)
            #expect(replay.status == 200 && replay.string("outcome") == "duplicate")
            after = try await order()
            #expect(Self.cents(after.string("refunded_amount")) + Self.cents(after.string("refunded_tax")) == refunded)

            // Events Levy does not act on, or about payments it does not know, are recorded and acknowledged.
            #expect(try await deliver(Self.event("evt_other", "customer.created", ["id": "cus_1", "object": "customer"])).string("outcome") == "ignored")
            let stranger = Self.event("evt_stranger", "refund.created",
                                      ["id": "re_x", "object": "refund", "amount": 500, "status": "succeeded", "payment_intent": "pi_unknown"])
            #expect(try await deliver(stranger).string("outcome") == "ignored")
            // No card number is kept from an event (probe #10: an id and a payload holding one were stored as sent).
            let cardID = try await deliver(Self.event("evt_4242424242424242", "customer.created", ["id": "cus_2", "object": "customer"]))
            #expect(cardID.status == 400 && cardID.errorCode == "invalid_event", "\(cardID.text)")
            let described = try await deliver(Self.event("evt_described", "customer.created",
                                                         ["id": "cus_3", "object": "customer", "description": "card 4242 4242 4242 4242"]))
            #expect(described.string("outcome") == "ignored")
            let orders = server.api.services.orders
            let stored = try await orders.database.query("SELECT payload FROM \(orders.table("processor_events")) WHERE id = $1", [.text("evt_described")])
            let payload = try #require(stored.first?.text("payload"))
            #expect(payload.contains("cus_3") && !payload.contains("4242 4242"), "\(payload)")

            // A dispute: the order shows it, nothing is refunded while it is open; lost, the rest goes back.
            let rest = total - refunded
            let opened = try await deliver(Self.event("evt_dispute_open", "charge.dispute.created",
                                                      ["id": "dp_1", "object": "dispute", "amount": rest, "status": "needs_response", "payment_intent": payment]))
            #expect(opened.string("outcome") == "applied")
            after = try await order()
            #expect(after.string("dispute_status") == "open" && after.string("status") == "disputed")
            #expect(Self.cents(after.string("refunded_amount")) + Self.cents(after.string("refunded_tax")) == refunded)
            let refusedRefund = try await client.send(.post, "/v1/orders/\(orderID)/refunds", key: checkout, idempotency: "w-during-dispute", body: "{}")
            #expect(refusedRefund.status == 409 && refusedRefund.errorCode == "order_disputed")
            let lost = try await deliver(Self.event("evt_dispute_lost", "charge.dispute.closed",
                                                    ["id": "dp_1", "object": "dispute", "amount": rest, "status": "lost", "payment_intent": payment]))
            #expect(lost.string("outcome") == "applied", "\(lost.text)")
            after = try await order()
            #expect(after.string("dispute_status") == "lost" && after.string("status") == "refunded")
            #expect(after.string("refunded_amount") == after.string("total_amount") && after.string("refunded_tax") == after.string("total_tax"))
            // The same dispute reported won afterwards contradicts the loss: left for review, the order unchanged.
            let won = try await deliver(Self.event("evt_dispute_won", "charge.dispute.closed",
                                                   ["id": "dp_1", "object": "dispute", "amount": rest, "status": "won", "payment_intent": payment]))
            #expect(won.string("outcome") == "needs_review", "\(won.text)")
            #expect(try await order().string("dispute_status") == "lost")
            let verification = try await client.send(.get, "/v1/ledger/verification", key: server.keys[.accountant]!)
            #expect(verification.status == 200 && verification.json["intact"] as? Bool == true, "\(verification.text)")
        }
    }

    /// An event about a payment of a merchant other than the home merchant reaches that merchant's order.
    @Test(arguments: Store.available)
    func anEventReachesTheMerchantWhoseOrderItIsAbout(store: Store) async throws {
        let webhook = StripeWebhook(secret: try StripeWebhookSecret("whsec_levy_test_secret", source: "test"))
        let server = try await TestServer.make(store, stripeWebhook: webhook)
        try await server.routerApplication().test(.router) { client in
            _ = try await client.send(.post, "/v1/merchants", key: server.keys[.admin], body: #"{"name": "Home Spa"}"#)
            let made = try await client.send(.post, "/v1/merchants", key: server.keys[.platform], body: #"{"name": "Second Spa"}"#)
            let admin = try #require((made.json["admin_key"] as? [String: Any])?["secret"] as? String)
            let checkout = try #require(try await client.send(.post, "/v1/keys", key: admin,
                                                              body: #"{"label": "c", "scopes": ["checkout"]}"#).string("secret"))
            let card = try await client.send(.post, "/v1/tokens", key: checkout, body: #"{"number": "4242424242424242", "exp_month": 12, "exp_year": 2031}"#)
            let token: String = try #require(card.string("token"))
            let placed = try await client.send(.post, "/v1/orders", key: checkout, idempotency: "second-order",
                                               body: placeBody("minneapolis.json", token: token))
            let orderID = try #require(placed.string("id"), "\(placed.text)")
            let payment = try #require(placed.string("authorization_id"))
            #expect(try await client.send(.post, "/v1/orders/\(orderID)/capture", key: checkout).string("status") == "captured")

            let body = Self.event("evt_second_refund", "refund.created",
                                  ["id": "re_second", "object": "refund", "amount": 1_000, "status": "succeeded", "payment_intent": payment])
            let header = webhook.signatureHeader(body: Array(body.utf8), timestamp: Int64(Date().timeIntervalSince1970))
            let delivered = try await client.send(.post, "/v1/webhooks/stripe", key: nil, body: body,
                                                  headers: [HTTPField.Name("Stripe-Signature")!: header])
            #expect(delivered.string("outcome") == "applied", "\(delivered.text)")
            let after = try await client.send(.get, "/v1/orders/\(orderID)", key: checkout)
            #expect(Self.cents(after.string("refunded_amount")) + Self.cents(after.string("refunded_tax")) == 1_000)
            #expect(after.string("status") == "partially_refunded")
        }
    }

    /// A signed body is still held to the API's JSON rules (probe #14: a repeated member was read as one of its
    /// copies): refused naming the member, nothing recorded; a long text within the event's bounds is read.
    @Test func aSignedEventIsHeldToTheAPIsJSONRules() async throws {
        let webhook = StripeWebhook(secret: try StripeWebhookSecret("whsec_levy_test_secret", source: "test"))
        let server = try await TestServer.make(.sqlite, stripeWebhook: webhook)
        try await server.routerApplication().test(.router) { client in
            func deliver(_ body: String) async throws -> Reply {
                let header = webhook.signatureHeader(body: Array(body.utf8), timestamp: Int64(Date().timeIntervalSince1970))
                return try await client.send(.post, "/v1/webhooks/stripe", key: nil, body: body, headers: [HTTPField.Name("Stripe-Signature")!: header])
            }
            let repeated = #"{"id": "evt_repeated", "object": "event", "type": "refund.created", "created": 1790000000, "data": {"object": "#
                + #"{"id": "re_1", "amount": 100, "amount": 990000, "status": "succeeded", "payment_intent": "pi_1"}}}"#
            let answer = try await deliver(repeated)
            #expect(answer.status == 400 && answer.errorCode == "invalid_event" && answer.errorField?.hasSuffix("amount") == true, "\(answer.text)")
            let orders = server.api.services.orders
            #expect(try await orders.database.query("SELECT id FROM \(orders.table("processor_events")) WHERE id = 'evt_repeated'", []).isEmpty)
            let long = Self.event("evt_long", "customer.updated", ["id": "cus_1", "object": "customer", "description": String(repeating: "a", count: 20_000)])
            #expect(try await deliver(long).string("outcome") == "ignored")

            // Probe #15: a charge made without a PaymentIntent is no payment of Levy's: acknowledged, not refused.
            for (n, type) in ["refund.created", "charge.dispute.created"].enumerated() {
                let legacy = #"{"id": "evt_legacy_\#(n)", "object": "event", "type": "\#(type)", "created": 1790000000, "data": {"object": "#
                    + #"{"id": "re_legacy", "amount": 500, "charge": "ch_legacy", "payment_intent": null, "status": "succeeded"}}}"#
                let answer = try await deliver(legacy)
                #expect(answer.status == 200 && answer.string("outcome") == "ignored", "\(answer.text)")
            }
            // A card number in the object's ids is refused as in the event's id; one written with JSON escapes in the
            // payload is masked in what is kept.
            let carded = try await deliver(Self.event("evt_carded", "refund.created",
                                                      ["id": "re_4242424242424242", "amount": 100, "payment_intent": "pi_1", "status": "succeeded"]))
            #expect(carded.status == 400 && carded.errorCode == "invalid_event" && !carded.text.contains("4242424242424242"), "\(carded.text)")
            let escaped = #"{"id": "evt_escaped", "object": "event", "type": "customer.updated", "created": 1790000000, "data": {"object": "#
                + #"{"id": "cus_2", "description": "\u0034\u0032\u0034\u0032\u0034\u0032\u0034\u0032\u0034\u0032\u0034\u0032\u0034\u0032\u0034\u0032"}}}"#
            #expect(try await deliver(escaped).string("outcome") == "ignored")
            let stored = try await orders.database.query("SELECT payload FROM \(orders.table("processor_events")) WHERE id = 'evt_escaped'", [])
            let payload = try #require(stored.first?.text("payload"))
            #expect(payload.contains("cus_2") && !payload.contains("u0034") && !payload.contains("4242424242424242"), "\(payload)")
        }
    }

    @Test func withoutASecretTheEndpointIsNotThere() async throws {
        let server = try await TestServer.make()
        try await server.routerApplication().test(.router) { client in
            let reply = try await client.send(.post, "/v1/webhooks/stripe", key: nil, body: Self.event("evt_1", "customer.created", [:]))
            #expect(reply.status == 404)
        }
    }
}
