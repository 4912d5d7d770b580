import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Orders
import Server
import Storage
import LevyTestSupport
import Testing
import Vault

@Suite struct GiftCardAPITests {
    /// A gift card sold and spent over the API: the code is in the capture's answer only (not in a read, not in the
    /// replay of that capture, not in any stored row or log line), its balance is asked by code, and it pays part of a
    /// facial whose tax is charged in full.
    @Test(arguments: Store.available)
    func soldShownOnceAndSpent(store: Store) async throws {
        let server = try await TestServer.make(store)
        let app = try server.application()
        let checkout = server.keys[.checkout]!
        let bodies = LogRecorder()
        let shown = LogRecorder()
        try await app.test(.router) { client in
            func call(_ method: HTTPRequest.Method, _ uri: String, key: String? = nil, idempotency: String? = nil, body: String? = nil) async throws -> Reply {
                let reply = try await client.send(method, uri, key: key ?? checkout, idempotency: idempotency, body: body)
                bodies.append(reply.text)
                return reply
            }
            let card = try await call(.post, "/v1/tokens", idempotency: "card", body: #"{"number": "\#(testCard)", "exp_month": 12, "exp_year": 2031}"#)
            let token = try #require(card.string("token"))
            let hartford = #""origin": {"line1": "1 Main St", "city": "Hartford", "state": "CT", "zip": "06103"}"#
            let sale = try await call(.post, "/v1/orders", idempotency: "sale", body: """
                {"order": {"date": "2026-03-02", \(hartford), "lines": [{"id": "gift", "code": "gift_card", "amount": "200.00", "fulfilment": "in_person"}]},
                 "payment_token": "\(token)"}
                """)
            #expect(sale.status == 201 && sale.string("total_tax") == "0.00")
            let saleID = try #require(sale.string("id"))
            let captured = try await call(.post, "/v1/orders/\(saleID)/capture", idempotency: "capture")
            let issued = try #require((captured.json["issued_gift_cards"] as? [[String: Any]])?.first)
            let shownCode = try #require(issued["code"] as? String)
            shown.append(shownCode)
            #expect(shownCode.hasPrefix("LGC-") && issued["balance"] as? String == "200.00")
            let giftCardID = try #require(issued["id"] as? String)

            // Shown once: a replay of the same capture and a read both leave the code out.
            let replay = try await call(.post, "/v1/orders/\(saleID)/capture", idempotency: "capture")
            #expect(replay.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")
            #expect((replay.json["issued_gift_cards"] as? [[String: Any]])?.first?["code"] == nil)
            #expect((replay.json["issued_gift_cards"] as? [[String: Any]])?.first?["id"] as? String == giftCardID)
            let read = try await call(.get, "/v1/orders/\(saleID)")
            #expect((read.json["issued_gift_cards"] as? [[String: Any]])?.first?["code"] == nil)

            let balance = try await call(.post, "/v1/gift-cards/balance", body: #"{"code": "\#(shownCode.lowercased())"}"#)
            #expect(balance.status == 200 && balance.string("balance") == "200.00" && balance.string("code") == nil)
            let mistyped = try await call(.post, "/v1/gift-cards/balance", body: #"{"code": "LGC-AAAA-AAAA-AAAA-AAAB"}"#)
            #expect(mistyped.status == 400 && mistyped.errorField == "code")

            let facial = try await call(.post, "/v1/orders", idempotency: "facial", body: """
                {"order": {"date": "2026-03-02", \(hartford), "lines": [{"id": "facial", "code": "personal_care_service", "amount": "150.00", "fulfilment": "in_person"}]},
                 "payment_token": "\(token)", "gift_cards": [{"code": "\(shownCode)", "amount": "150.00"}]}
                """)
            #expect(facial.status == 201 && facial.string("status") == "authorized")
            #expect(facial.string("total_tax") == "9.53" && facial.string("gift_card_amount") == "150.00" && facial.string("card_amount") == "9.53")
            let facialID = try #require(facial.string("id"))
            #expect(try await call(.post, "/v1/orders/\(facialID)/capture").string("status") == "captured")

            let tooMuch = try await call(.post, "/v1/orders", idempotency: "too-much", body: """
                {"order": {"date": "2026-03-02", \(hartford), "lines": [{"id": "facial", "code": "personal_care_service", "amount": "150.00", "fulfilment": "in_person"}]},
                 "payment_token": "\(token)", "gift_cards": [{"code": "\(shownCode)", "amount": "60.00"}]}
                """)
            #expect(tooMuch.status == 422 && tooMuch.errorCode == "insufficient_gift_card_balance" && tooMuch.errorField == "gift_cards[0].amount")

            let ledger = try await call(.get, "/v1/gift-cards/\(giftCardID)", key: server.keys[.accountant]!)
            #expect(ledger.string("balance") == "50.00")
            #expect((ledger.json["entries"] as? [[String: Any]])?.compactMap { $0["kind"] as? String } == ["issue", "redeem"])
            #expect(try await call(.get, "/v1/gift-cards/\(giftCardID)").status == 403, "a checkout key does not read a card's ledger")

            let refund = try await call(.post, "/v1/orders/\(facialID)/refunds", idempotency: "refund", body: "{}")
            #expect(refund.status == 201 && refund.string("to_gift_cards") == "150.00" && refund.string("to_card") == "9.53")

            let reissuedAt = ContinuousClock.now
            let reissued = try await call(.post, "/v1/gift-cards/\(giftCardID)/reissue", key: server.keys[.admin]!, idempotency: "reissue")
            let newCode = try #require(reissued.string("code"))
            #expect(reissued.status == 201 && newCode != shownCode && reissued.string("balance") == "200.00")
            #expect(try await call(.post, "/v1/gift-cards/balance", body: #"{"code": "\#(shownCode)"}"#).status == 404)
            let replayed = try await call(.post, "/v1/gift-cards/\(giftCardID)/reissue", key: server.keys[.admin]!, idempotency: "reissue")
            #expect(replayed.string("code") == nil && replayed.string("id") == giftCardID)
            // Another reissue within 10 s is refused for now, and says when to come back (probe #12: no Retry-After).
            let again = try await call(.post, "/v1/gift-cards/\(giftCardID)/reissue", key: server.keys[.admin]!, idempotency: "reissue-again")
            if ContinuousClock.now - reissuedAt < .seconds(9) { #expect(again.status == 409 && again.errorCode == "gift_card_reissued_recently") }
            if again.status == 409 { #expect(again.headers[.retryAfter].flatMap(Int.init).map { (1...10).contains($0) } == true) }
            bodies.append("reissued: " + newCode)
        }
        let shownCode = try #require(shown.all.first)
        // The code is in exactly the two answers that issued it; no stored row and no log line holds it.
        let canonical = try #require(GiftCardCode(shownCode)).canonical
        #expect(bodies.all.filter { $0.contains(shownCode) }.count == 1)
        #expect(!server.logs.all.contains { $0.contains(shownCode) || $0.contains(canonical) })
        let stored = try await server.api.services.database.query(
            "SELECT body FROM \(server.api.services.database.dialect.render("{schema}idempotency", schema: server.api.services.keys.schema))")
        #expect(!stored.isEmpty)
        for row in stored { #expect(GiftCardCode.occurrences(in: row.blob("body") ?? []).isEmpty) }
        if store == .sqlite {
            // Every file of the store, the write-ahead log included: the scanner finds no gift card code.
            #expect(CardDataScanner.scan([server.directory], cards: [], securityCodes: []).filter { $0.kind.hasPrefix("gift card") }.isEmpty)
        }
    }

    /// Unknown codes count against the key like failed authentications: past the limit, 429 with Retry-After, before
    /// any lookup, even for a real code; a throttled order placement is not kept for its Idempotency-Key; an order
    /// without gift cards goes on.
    @Test func guessingCodesIsThrottled() async throws {
        // A clock that stands still, so that the one-minute window cannot run out under a loaded suite.
        let frozen = Date()
        let server = try await TestServer.make(now: { frozen })
        let app = server.routerApplication()
        try await app.test(.router) { client in
            let checkout = server.keys[.checkout]!
            var statuses: [Int] = []
            for _ in 0..<25 {
                let reply = try await client.send(.post, "/v1/gift-cards/balance", key: checkout, body: #"{"code": "\#(GiftCardCode.random().display)"}"#)
                statuses.append(reply.status)
            }
            #expect(statuses.prefix(20).allSatisfy { $0 == 404 })
            #expect(statuses.suffix(5).allSatisfy { $0 == 429 })
            let throttled = try await client.send(.post, "/v1/orders", key: checkout, idempotency: "guess", body: """
                {"order": {"date": "2026-03-02", "origin": {"line1": "1 Main St", "city": "Portland", "state": "OR", "zip": "97201"},
                 "lines": [{"id": "1", "code": "general", "amount": "10.00", "fulfilment": "pickup"}]},
                 "gift_cards": [{"code": "\(GiftCardCode.random().display)"}]}
                """)
            #expect(throttled.status == 429 && throttled.errorCode == "too_many_failed_gift_card_codes" && throttled.errorField == "gift_cards")
            #expect(throttled.headers[.retryAfter].flatMap(Int.init).map { $0 > 0 } == true)
            // An order that names no gift card looks no code up, and is not held back (probe #6: a public balance
            // form's bad codes stopped the storefront's checkout).
            let plain = try await client.send(.post, "/v1/orders", key: checkout, idempotency: "plain", body: """
                {"order": {"date": "2026-03-02", "origin": {"line1": "1 Main St", "city": "Portland", "state": "OR", "zip": "97201"},
                 "lines": [{"id": "1", "code": "general", "amount": "10.00", "fulfilment": "pickup"}]}}
                """)
            #expect(plain.status == 201, "\(plain.text)")
        }
        // The throttled placement was forgotten, not kept as the answer for its Idempotency-Key.
        let kept = try await server.api.services.database.query(
            "SELECT key FROM \(server.api.services.database.dialect.render("{schema}idempotency", schema: server.api.services.keys.schema)) WHERE key = $1",
            [.text("guess")])
        #expect(kept.isEmpty)
    }
}
