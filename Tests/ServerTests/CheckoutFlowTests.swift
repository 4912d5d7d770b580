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

    /// Orders placed for a customer while the customer is erased: each is refused (after the erasure) or keeps no
    /// street or city (one written while the erasure ran is blanked by the order's own request, which sees the
    /// erasure committed first).
    @Test(arguments: Store.available)
    func ordersPlacedDuringAnErasureKeepNoStreet(store: Store) async throws {
        let server = try await TestServer.make(store)
        let app = try server.application()
        try await app.test(.router) { client in
            for trial in 0..<3 {
                let customer = try await client.send(.post, "/v1/customers", key: server.keys[.checkout], body: """
                    {"name": "Race \(trial)", "billing_address": {"line1": "1 E Main St", "city": "Madison", "state": "WI", "zip": "53703"}}
                    """)
                let customerID = try #require(customer.string("id"))
                let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                    for i in 0..<12 {
                        group.addTask {
                            if i == 5 { return Int(try await client.send(.post, "/v1/customers/\(customerID)/erasure", key: server.keys[.admin]).status) }
                            return Int(try await client.send(.post, "/v1/orders", key: server.keys[.checkout], idempotency: "race-\(trial)-\(i)",
                                                             body: placeBody("med-spa.json", customer: customerID, dropBilling: true)).status)
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(statuses.allSatisfy { [200, 201, 410].contains($0) }, "\(statuses)")
                let kept = try await server.api.services.database.query(
                    "SELECT destination_address, billing_address FROM \(server.api.services.orders.table("orders")) WHERE customer_id = $1", [.text(customerID)])
                for row in kept {
                    #expect(row.text("billing_address") == "||WI|53703" && row.text("destination_address")?.hasPrefix("||") == true, "trial \(trial)")
                }
            }
        }
    }

@Suite struct CheckoutFlowTests {
    /// The med spa's whole checkout over the API, on SQLite and PostgreSQL: tokenize, customer with a billing
    /// address, place (with a retry), capture, redeem a voucher at the spa, watch streamed content, refund a line,
    /// a new address version that the order does not follow, the ledger, export and erasure.
    @Test(arguments: Store.available)
    func medSpaCheckout(store: Store) async throws {
        let server = try await TestServer.make(store)
        let app = try server.application()
        let checkout = server.keys[.checkout]!
        let admin = server.keys[.admin]!
        let bodies = LogRecorder()
        try await app.test(.router) { client in
            func call(_ method: HTTPRequest.Method, _ uri: String, key: String? = nil, idempotency: String? = nil, body: String? = nil) async throws -> Reply {
                let reply = try await client.send(method, uri, key: key ?? checkout, idempotency: idempotency, body: body)
                bodies.append(reply.text)
                return reply
            }
            let card = try await call(.post, "/v1/tokens", idempotency: "card-1",
                                      body: #"{"number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2031, "security_code": "5926"}"#)
            #expect(card.status == 201 && card.string("last4") == "4242" && card.string("brand") == "visa")
            let token = try #require(card.string("token"))
            let again = try await call(.post, "/v1/tokens", idempotency: "card-1",
                                       body: #"{"number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2031, "security_code": "5926"}"#)
            #expect(again.string("token") == token && again.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")

            let person = """
                {"name": "Ada Lovelace", "email": "ada@example.com", "date_of_birth": "1990-12-10",
                 "billing_address": {"line1": "1 E Main St", "city": "Madison", "state": "WI", "zip": "53703"}}
                """
            let customer = try await call(.post, "/v1/customers", idempotency: "customer-1", body: person)
            #expect(customer.status == 201)
            let customerID = try #require(customer.string("id"))

            let place = placeBody("med-spa.json", customer: customerID, token: token, dropBilling: true)
            let placed = try await call(.post, "/v1/orders", idempotency: "order-1", body: place)
            #expect(placed.status == 201 && placed.string("status") == "authorized")
            #expect(placed.json["billing_version"] as? Int == 1)
            let orderID = try #require(placed.string("id"))
            let retry = try await call(.post, "/v1/orders", idempotency: "order-1", body: place)
            #expect(retry.string("id") == orderID && retry.status == 201)
            let conflicting = try await call(.post, "/v1/orders", idempotency: "order-1", body: placeBody("minneapolis.json"))
            #expect(conflicting.status == 422 && conflicting.errorCode == "idempotency_conflict")

            // A new billing address version later does not change the placed order.
            let moved = try await call(.post, "/v1/customers/\(customerID)/addresses", body: #"{"line1": "100 Congress Ave", "city": "Austin", "state": "TX", "zip": "78701"}"#)
            #expect(moved.status == 201 && moved.json["version"] as? Int == 2)

            let captured = try await call(.post, "/v1/orders/\(orderID)/capture", idempotency: "capture-1")
            #expect(captured.string("status") == "captured")
            let vouchers = try #require(captured.json["vouchers"] as? [[String: Any]])
            #expect(vouchers.count == 2)
            let code = try #require(vouchers.first?["code"] as? String)
            let redeemed = try await call(.post, "/v1/vouchers/\(code)/redeem", body: #"{"location": "Minneapolis spa"}"#)
            #expect(redeemed.status == 200 && redeemed.string("status") == "redeemed")
            let twice = try await call(.post, "/v1/vouchers/\(code)/redeem", body: #"{"location": "Minneapolis spa"}"#)
            #expect(twice.status == 409 && twice.errorCode == "voucher_redeemed")

            let entitlements = try #require(captured.json["entitlements"] as? [[String: Any]])
            let stream = try #require(entitlements.first { $0["rights"] as? String == "stream" })
            let streamID = try #require(stream["id"] as? String)
            let watching = try await call(.get, "/v1/entitlements/\(streamID)")
            #expect(watching.json["allowed"] as? Bool == true)

            // Refund the streamed line: its tax comes back exactly as frozen, and the entitlement is revoked.
            let lines = try #require(captured.json["lines"] as? [[String: Any]])
            let streamLine = try #require(lines.first { $0["code"] as? String == "digital_video_stream" })
            let number = try #require(streamLine["number"] as? Int)
            let refundBody = #"{"lines": [{"line": \#(number), "quantity": 1}]}"#
            let refund = try await call(.post, "/v1/orders/\(orderID)/refunds", idempotency: "refund-1", body: refundBody)
            #expect(refund.status == 201)
            #expect(refund.string("tax") == streamLine["tax"] as? String)
            let refundAgain = try await call(.post, "/v1/orders/\(orderID)/refunds", idempotency: "refund-1", body: refundBody)
            #expect(refundAgain.string("id") == refund.string("id"))
            // A refused refund names the field it concerns.
            for (body, field) in [(#"{"lines": [{"line": \#(number), "quantity": 1}]}"#, "lines[0].quantity"),
                                  (#"{"lines": [{"line": 1, "quantity": 1}, {"line": 1, "quantity": 1}]}"#, "lines[1].line"),
                                  (#"{"amount": "999999.00"}"#, "amount")] {
                let refused = try await call(.post, "/v1/orders/\(orderID)/refunds", idempotency: "refused-" + field, body: body)
                #expect(refused.status == 422 && refused.errorCode == "invalid_refund" && refused.errorField == field, "\(refused.text)")
            }
            // Probe #9: a too-large amount was answered `"[digits removed]" is not an amount` (the card-number mask).
            let tooLarge = try await call(.post, "/v1/orders/\(orderID)/refunds", idempotency: "refused-large", body: #"{"amount": "1000000000.00"}"#)
            #expect(tooLarge.errorCode == "invalid_value" && tooLarge.errorField == "amount" && tooLarge.text.contains("1 to 9 digits")
                    && !tooLarge.text.contains("digits removed"), "\(tooLarge.text)")
            let revoked = try await call(.get, "/v1/entitlements/\(streamID)")
            #expect(revoked.json["allowed"] as? Bool == false && revoked.string("status") == "revoked")

            let order = try await call(.get, "/v1/orders/\(orderID)", key: server.keys[.accountant]!)
            #expect(order.string("status") == "partially_refunded" && order.json["billing_version"] as? Int == 1)
            #expect(order.string("refunded_tax") == streamLine["tax"] as? String)

            let ledger = try await call(.get, "/v1/ledger?limit=1000", key: server.keys[.reconciler]!)
            let entries = try #require(ledger.json["entries"] as? [[String: Any]])
            let net = entries.compactMap { $0["tax"] as? String }.reduce(0) { $0 + (Int($1.replacingOccurrences(of: ".", with: "")) ?? 0) }
            let expected = [order.string("total_tax"), order.string("refunded_tax")].map { Int($0!.replacingOccurrences(of: ".", with: ""))! }
            #expect(net == expected[0] - expected[1])
            let verification = try await call(.get, "/v1/ledger/verification", key: server.keys[.accountant]!)
            #expect(verification.json["intact"] as? Bool == true)

            // The customer's export holds the order; erasure pseudonymizes and keeps the order.
            let export = try await call(.get, "/v1/customers/\(customerID)/export", key: admin)
            #expect((export.json["orders"] as? [Any])?.count == 1 && (export.json["addresses"] as? [Any])?.count == 2)
            let erased = try await call(.post, "/v1/customers/\(customerID)/erasure", key: admin)
            #expect(erased.json["erased"] as? Bool == true)
            let after = try await call(.get, "/v1/customers/\(customerID)")
            #expect(after.json["erased"] as? Bool == true && after.string("email") == nil && after.string("name") != "Ada Lovelace")
            let stillThere = try await call(.get, "/v1/orders/\(orderID)")
            #expect(stillThere.status == 200)
            let placeForErased = try await call(.post, "/v1/orders", idempotency: "order-2", body: placeBody("med-spa.json", customer: customerID, dropBilling: true))
            #expect(placeForErased.status == 410 && placeForErased.errorCode == "customer_erased")
            // A retry of the request that created the customer is told so; it does not create the person again.
            let retried = try await call(.post, "/v1/customers", idempotency: "customer-1", body: person)
            #expect(retried.status == 410 && retried.errorCode == "customer_erased" && !retried.text.contains("Ada"))
            let requestID = try #require(retried.headers[HTTPField.Name("X-Request-Id")!])
            #expect((retried.json["error"] as? [String: Any])?["request_id"] as? String == requestID, "the retry's own request id: \(retried.text)")
        }
        // No response and no log line ever carried the card number, the security code or the street address.
        for text in bodies.all + server.logs.all {
            #expect(!text.contains(testCard) && !text.contains("4242 4242 4242 4242"))
            #expect(!text.contains("\"5926\""))
        }
        for line in server.logs.all { #expect(!line.contains("Main St") && !line.contains("Congress")) }
        #expect(server.logs.all.contains { $0.contains("route=/v1/orders") && $0.contains("request_id=") })
        // The addresses kept with the erased customer's orders lost street and city, kept state and ZIP.
        let kept = try await server.api.services.database.query(
            "SELECT destination_address, billing_address FROM \(server.api.services.orders.table("orders")) WHERE customer_id IS NOT NULL")
        #expect(!kept.isEmpty)
        for row in kept {
            #expect(row.text("billing_address") == "||WI|53703")
            #expect(row.text("destination_address")?.hasPrefix("||") == true)
        }
        // Erasure also removed the stored API responses that repeated the customer's details.
        let leftovers = try await server.api.services.database.query(
            "SELECT body FROM \(server.api.services.database.dialect.render("{schema}idempotency", schema: server.api.services.keys.schema))")
        for row in leftovers { #expect(!String(decoding: row.blob("body") ?? [], as: UTF8.self).contains("Ada Lovelace")) }
        // Nor do the store's files: SQLite's log kept every page as first written until a checkpoint (probe #6), and
        // `secure_delete` zeroes what the file itself held.
        if store == .sqlite {
            for file in ["levy.sqlite", "levy.sqlite-wal"] {
                let bytes = FileManager.default.contents(atPath: server.directory + "/" + file) ?? Data()
                for erased in ["Ada Lovelace", "ada@example.com", "100 Congress Ave"] {
                    #expect(bytes.range(of: Data(erased.utf8)) == nil, "\(file) still holds \(erased)")
                }
            }
        }
    }

    /// "Retry shortly" is not kept under the Idempotency-Key (probe #8: a `payment_in_progress` was replayed for a
    /// day, so following its advice could never succeed).
    @Test func aRefusalForNowIsNotReplayed() async throws {
        let server = try await TestServer.make()
        let app = server.routerApplication()
        let checkout = try #require(server.keys[.checkout])
        try await app.test(.router) { client in
            let card = try await client.send(.post, "/v1/tokens", key: checkout, idempotency: "card",
                                             body: #"{"number": "\#(testCard)", "exp_month": 12, "exp_year": 2031}"#)
            let token = try #require(card.string("token"))
            let placed = try await client.send(.post, "/v1/orders", key: checkout, idempotency: "order", body: placeBody("med-spa.json", token: token))
            let orderID = try #require(placed.string("id"), "\(placed.text)")
            // A capture left half-way (as a crash leaves it): another capture is told to retry shortly.
            let orders = server.api.services.orders
            try await server.api.services.database.execute("UPDATE \(orders.table("orders")) SET status = 'capturing' WHERE id = $1", [.text(orderID)])
            let busy = try await client.send(.post, "/v1/orders/\(orderID)/capture", key: checkout, idempotency: "capture")
            #expect(busy.status == 409 && busy.errorCode == "payment_in_progress", "\(busy.text)")
            try await server.api.services.database.execute("UPDATE \(orders.table("orders")) SET status = 'authorized' WHERE id = $1", [.text(orderID)])
            let retried = try await client.send(.post, "/v1/orders/\(orderID)/capture", key: checkout, idempotency: "capture")
            #expect(retried.status == 200 && retried.headers[HTTPField.Name("Idempotent-Replayed")!] == nil, "\(retried.text)")
            // A definite refusal is still kept: the same key answers the same.
            let refused = try await client.send(.post, "/v1/orders/\(orderID)/refunds", key: checkout, idempotency: "too-much", body: #"{"amount": "999999.00"}"#)
            let again = try await client.send(.post, "/v1/orders/\(orderID)/refunds", key: checkout, idempotency: "too-much", body: #"{"amount": "999999.00"}"#)
            #expect(refused.status == 422 && again.status == 422 && again.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")
        }
    }

    /// Reveal needs the vault-reveal scope, is audited, and its response is never kept for replay.
    @Test func revealIsScopedAuditedAndNeverStored() async throws {
        let server = try await TestServer.make()
        let app = server.routerApplication()
        try await app.test(.router) { client in
            let card = try await client.send(.post, "/v1/tokens", key: server.keys[.checkout], idempotency: "c",
                                             body: #"{"number": "\#(testCard)", "exp_month": 1, "exp_year": 2032}"#)
            let token = try #require(card.string("token"))
            let denied = try await client.send(.post, "/v1/tokens/\(token)/reveal", key: server.keys[.checkout], body: #"{"purpose": "x"}"#)
            #expect(denied.status == 403)
            let revealed = try await client.send(.post, "/v1/tokens/\(token)/reveal", key: server.keys[.vaultReveal], idempotency: "r",
                                                 body: #"{"purpose": "forward to the acquirer"}"#)
            #expect(revealed.status == 200 && revealed.string("number") == testCard)
            #expect(revealed.headers[.cacheControl] == "no-store")
        }
        let audit = try await server.api.services.vault.auditEntries()
        // The refused attempt is audited as well as the allowed one (PCI DSS 10.2.1.2).
        #expect(audit.map(\.outcome) == ["denied: the key lacks the scope", "allowed"])
        let stored = try await server.api.services.database.query(
            "SELECT body FROM \(server.api.services.database.dialect.render("{schema}idempotency", schema: server.api.services.keys.schema))")
        for row in stored { #expect(!String(decoding: row.blob("body") ?? [], as: UTF8.self).contains(testCard)) }
        #expect(!server.logs.all.contains { $0.contains(testCard) })
    }

    /// Concurrent retries of one order placement with one key create exactly one order.
    @Test(arguments: Store.available)
    func concurrentRetriesPlaceOneOrder(store: Store) async throws {
        let server = try await TestServer.make(store)
        let app = try server.application()
        let body = placeBody("minneapolis.json")
        try await app.test(.live) { client in
            let replies = try await withThrowingTaskGroup(of: Reply.self) { group in
                for _ in 0..<12 {
                    group.addTask { try await client.send(.post, "/v1/orders", key: server.keys[.checkout], idempotency: "same", body: body) }
                }
                return try await group.reduce(into: [Reply]()) { $0.append($1) }
            }
            let ids = Set(replies.filter { $0.status == 201 }.compactMap { $0.string("id") })
            #expect(ids.count == 1)
            #expect(replies.allSatisfy { $0.status == 201 || ($0.status == 409 && $0.errorCode == "idempotency_in_progress") })
        }
        let orders = try await server.api.services.database.query("SELECT COUNT(*) AS n FROM \(server.api.services.orders.table("orders"))")
        #expect(orders.first?.integer("n") == 1)
    }
}
