import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Orders
import Processors
@testable import Server
@testable import Storage
import LevyTestSupport
import Testing
@testable import Vault

/// The defects a hostile client found (issue 14), each reproduced against the router, on both stores where a store
/// is involved.
@Suite struct HostileRequestTests {
    static let huge = "92233720368547758.07"

    func order(amounts: [String], included: Bool = false) -> String {
        let lines = amounts.enumerated().map { i, amount in
            #"{"id": "\#(i)", "code": "general", "amount": "\#(amount)", "fulfilment": "shipped", "tax_included": \#(included)}"#
        }
        return #"{"date": "2026-03-02", "origin": {"state": "MN", "zip": "55402"}, "destination": {"state": "MN", "zip": "55401"}, "lines": [\#(lines.joined(separator: ","))]}"#
    }

    /// Probe #21: `Authorization: bearer …` was refused (the scheme is case-insensitive, RFC 9110 11.1), and a
    /// percent-encoded query name (`%61fter`) was unknown where a percent-encoded value was read.
    @Test func schemeCaseAndEncodedQueryNames() async throws {
        let server = try await TestServer.make()
        let key = try #require(server.keys[.reconciler])
        try await server.routerApplication().test(.router) { client in
            for scheme in ["bearer", "BEARER", "Bearer"] {
                let reply = try await client.send(.get, "/v1/ledger?limit=1", key: nil, headers: [.authorization: "\(scheme) \(key)"])
                #expect(reply.status == 200, "\(scheme): \(reply.text)")
            }
            #expect(try await client.send(.get, "/v1/ledger?limit=1", key: nil, headers: [.authorization: "Basic \(key)"]).status == 401)
            #expect(try await client.send(.get, "/v1/ledger?%6Cimit=1", key: key).status == 200)
            let unknown = try await client.send(.get, "/v1/ledger?%6Cimits=1", key: key)
            #expect(unknown.status == 400 && unknown.errorField == "limits", "\(unknown.text)")
        }
    }

    /// Defect 1: amounts that overflowed Int64 sums crashed the process, and the order was stored first.
    @Test(arguments: Store.available) func overflowingAmountsAreRefusedAndNothingIsStored(store: Store) async throws {
        let server = try await TestServer.make(store)
        let key = server.keys[.checkout]!
        try await server.routerApplication().test(.router) { client in
            var reply = try await client.send(.post, "/v1/quotes", key: key, body: order(amounts: [Self.huge, Self.huge]))
            #expect(reply.status == 400 && reply.errorField == "lines[0].amount", "\(reply.text)")
            reply = try await client.send(.post, "/v1/quotes", key: key, body: order(amounts: [Self.huge], included: true))
            #expect(reply.status == 400 && reply.errorField == "lines[0].amount")
            reply = try await client.send(.post, "/v1/quotes", key: key, body: order(amounts: ["999999999.99", "999999999.99"]))
            #expect(reply.status == 200, "the largest allowed amounts quote: \(reply.text)")
            reply = try await client.send(.post, "/v1/orders", key: key, idempotency: "huge", body: #"{"order": \#(order(amounts: [Self.huge, Self.huge]))}"#)
            #expect(reply.status == 400 && reply.errorField == "order.lines[0].amount")
            let quantity = order(amounts: ["1.00"]).replacingOccurrences(of: #""fulfilment""#, with: #""quantity": 9223372036854775807, "fulfilment""#)
            reply = try await client.send(.post, "/v1/quotes", key: key, body: quantity)
            #expect(reply.status == 400 && reply.errorField == "lines[0].quantity")
        }
        let stored = try await server.api.services.database.query("SELECT COUNT(*) AS n FROM \(server.api.services.orders.table("orders"))")
        #expect(stored.first?.integer("n") == 0)
    }

    /// An order dated more than a year ahead is refused (a quote for such a date still answers, marked stale); so are
    /// amounts outside the documented form on every route that takes one.
    @Test(arguments: Store.available) func farFutureOrdersAndLooseAmountsAreRefused(store: Store) async throws {
        let server = try await TestServer.make(store)
        let key = server.keys[.checkout]!
        try await server.routerApplication().test(.router) { client in
            for date in ["9999-12-31", "2100-01-01"] {
                let body = order(amounts: ["10.00"]).replacingOccurrences(of: "2026-03-02", with: date)
                var reply = try await client.send(.post, "/v1/orders", key: key, idempotency: "far-\(date)", body: #"{"order": \#(body)}"#)
                #expect(reply.status == 400 && reply.errorCode == "invalid_value" && reply.errorField == "order.date", "\(reply.text)")
                reply = try await client.send(.post, "/v1/quotes", key: key, body: body)
                #expect(reply.status == 200 && reply.text.contains("stale_rates"), "\(reply.text)")
            }
            for amount in ["5.", ".5", "00000000001.00", "1.500"] {
                let reply = try await client.send(.post, "/v1/quotes", key: key, body: order(amounts: [amount]))
                #expect(reply.status == 400 && reply.errorField == "lines[0].amount", "\(amount): \(reply.text)")
            }
        }
        let stored = try await server.api.services.database.query("SELECT COUNT(*) AS n FROM \(server.api.services.orders.table("orders"))")
        #expect(stored.first?.integer("n") == 0)
    }

    /// An order the engine refuses names the field at fault the same way on both routes (under `order.` for orders).
    @Test func engineRefusalsNameTheSameFieldOnBothRoutes() async throws {
        let server = try await TestServer.make()
        let key = server.keys[.checkout]!
        // A well-formed ZIP the tables do not know: only the engine can refuse it.
        let quote = #"{"date": "2026-03-02", "origin": {"state": "MN", "zip": "55402"}, "destination": {"state": "MN", "zip": "99999"}, "lines": [{"id": "a", "code": "general", "amount": "10.00", "fulfilment": "shipped"}]}"#
        try await server.routerApplication().test(.router) { client in
            let quoted = try await client.send(.post, "/v1/quotes", key: key, body: quote)
            #expect(quoted.status == 422 && quoted.errorField == "destination.zip", "\(quoted.status) \(quoted.text)")
            let placed = try await client.send(.post, "/v1/orders", key: key, idempotency: "refused", body: #"{"order": \#(quote)}"#)
            #expect(placed.status == 422 && placed.errorCode == "unquotable" && placed.errorField == "order.destination.zip", "\(placed.text)")
        }
    }

    /// One voucher is issued per unit of an in-person service at capture, one gift card per unit of a gift card line:
    /// an order that would issue more than the limit is refused at placement, naming the line, rather than writing a
    /// million rows at capture.
    @Test(arguments: Store.available) func ordersThatWouldIssueUnboundedVouchersAreRefused(store: Store) async throws {
        let server = try await TestServer.make(store)
        let key = server.keys[.checkout]!
        @Sendable func massages(_ quantities: [Int]) -> String {
            let lines = quantities.enumerated().map { i, quantity in
                #"{"id": "m\#(i)", "code": "massage_service", "amount": "1.00", "quantity": \#(quantity), "fulfilment": "in_person"}"#
            }
            return #"{"order": {"date": "2026-03-02", "origin": {"state": "MN", "zip": "55402"}, "lines": [\#(lines.joined(separator: ","))]}}"#
        }
        try await server.routerApplication().test(.router) { client in
            var reply = try await client.send(.post, "/v1/orders", key: key, idempotency: "many", body: massages([1_000_000]))
            #expect(reply.status == 422 && reply.errorCode == "too_many_vouchers" && reply.errorField == "order.lines[0].quantity", "\(reply.text)")
            reply = try await client.send(.post, "/v1/orders", key: key, idempotency: "split", body: massages([600, 300, 101]))
            #expect(reply.status == 422 && reply.errorField == "order.lines[2].quantity", "the line that passes the limit is named")
            reply = try await client.send(.post, "/v1/orders", key: key, idempotency: "fits", body: massages([600, 300, 100]))
            #expect(reply.status == 201, "exactly the limit is placed: \(reply.text)")
            // Gift cards are issued one per unit at capture too, and count with the vouchers over the whole order
            // (a shipped gift card line of 1,001 was placed, then its capture took the money and could not finish;
            // 250 lines of 1,000 issued 250,000 cards in one capture).
            let giftCards = #"{"order": {"date": "2026-03-02", "origin": {"state": "MN", "zip": "55402"}, "lines": [{"id": "m", "code": "massage_service", "amount": "1.00", "quantity": 500, "fulfilment": "in_person"}, {"id": "g", "code": "gift_card", "amount": "501.00", "quantity": 501, "fulfilment": "shipped"}]}}"#
            reply = try await client.send(.post, "/v1/orders", key: key, idempotency: "cards", body: giftCards)
            #expect(reply.status == 422 && reply.errorCode == "too_many_vouchers" && reply.errorField == "order.lines[1].quantity", "\(reply.text)")
            // Probe #21: ten cards for 0.05 were placed, and capture issued five.
            let dimes = #"{"order": {"date": "2026-03-02", "origin": {"state": "MN", "zip": "55402"}, "lines": [{"id": "g", "code": "gift_card", "amount": "0.05", "quantity": 10, "fulfilment": "shipped"}]}}"#
            reply = try await client.send(.post, "/v1/orders", key: key, idempotency: "dimes", body: dimes)
            #expect(reply.status == 422 && reply.errorField == "order.lines[0].amount" && reply.text.contains("at least 0.01"), "\(reply.text)")
        }
        let stored = try await server.api.services.database.query("SELECT COUNT(*) AS n FROM \(server.api.services.orders.table("orders"))")
        #expect(stored.first?.integer("n") == 1)
    }

    /// Defect 1, the stored side: an order whose stored amounts cannot be added up answers an error, not a crash.
    @Test(arguments: Store.available) func anUnrenderableStoredOrderAnswersAnError(store: Store) async throws {
        let server = try await TestServer.make(store)
        let key = server.keys[.checkout]!
        try await server.routerApplication().test(.router) { client in
            let placed = try await client.send(.post, "/v1/orders", key: key, idempotency: "o1", body: placeBody("minneapolis.json"))
            #expect(placed.status == 201)
            let id = try #require(placed.string("id"))
            let orders = server.api.services.orders
            try await server.api.services.database.execute("UPDATE \(orders.table("orders")) SET total_amount = $1, total_tax = $1 WHERE id = $2",
                                                           [.integer(Int64.max), .text(id)])
            var reply = try await client.send(.get, "/v1/orders/\(id)", key: key)
            #expect(reply.status == 500 && reply.errorCode == "stored_record_unreadable", "\(reply.text)")
            // A value no order can hold (a status that does not exist): the same, never "unexpectedly found nil".
            try await server.api.services.database.execute("UPDATE \(orders.table("orders")) SET total_amount = 1, total_tax = 1, status = 'bogus' WHERE id = $1",
                                                           [.text(id)])
            reply = try await client.send(.get, "/v1/orders/\(id)", key: key)
            #expect(reply.status == 500 && reply.errorCode == "stored_record_unreadable")
            #expect(try await client.send(.get, "/health", key: nil).status == 200)
        }
    }

    /// Defect 2: a documented line limit, and an order at the limit placed and read back whole.
    @Test func theLineLimitHoldsAndAFullOrderReadsBack() async throws {
        let server = try await TestServer.make()
        let key = server.keys[.checkout]!
        try await server.routerApplication().test(.router) { client in
            var reply = try await client.send(.post, "/v1/quotes", key: key, body: order(amounts: Array(repeating: "1.00", count: 251)))
            #expect(reply.status == 400 && reply.errorField == "lines" && reply.text.contains("250"))
            reply = try await client.send(.post, "/v1/orders", key: key, idempotency: "full",
                                          body: #"{"order": \#(order(amounts: Array(repeating: "1.00", count: 250)))}"#)
            #expect(reply.status == 201)
            let id = try #require(reply.string("id"))
            reply = try await client.send(.get, "/v1/orders/\(id)", key: key)
            #expect(reply.status == 200 && (reply.json["lines"] as? [Any])?.count == 250)
        }
    }

    /// Defect 3: a repeated member name is refused everywhere, naming the field, so the cart quoted is the cart charged.
    @Test func duplicateMemberNamesAreRefusedEverywhere() async throws {
        let server = try await TestServer.make()
        let key = server.allScopes
        let twice = order(amounts: ["10.00"]).replacingOccurrences(of: #""amount": "10.00""#, with: #""amount": "10.00", "amount": "1000.00""#)
        try await server.routerApplication().test(.router) { client in
            var reply = try await client.send(.post, "/v1/quotes", key: key, body: twice)
            #expect(reply.status == 400 && reply.errorCode == "duplicate_field" && reply.errorField == "lines[0].amount")
            reply = try await client.send(.post, "/v1/orders", key: key, idempotency: "dup", body: #"{"order": \#(twice)}"#)
            #expect(reply.status == 400 && reply.errorCode == "duplicate_field" && reply.errorField == "order.lines[0].amount")
            reply = try await client.send(.post, "/v1/keys", key: key, body: #"{"label": "a", "label": "b", "scopes": ["checkout"]}"#)
            #expect(reply.status == 400 && reply.errorCode == "duplicate_field" && reply.errorField == "label")
            reply = try await client.send(.post, "/v1/customers", key: key, body: #"{"name": "A", "billing_address": {"state": "MN", "zip": "55401", "zip": "10001"}}"#)
            #expect(reply.status == 400 && reply.errorField == "billing_address.zip")
        }
    }

    /// A billing address is stored only if a quote could use it: its ZIP known and in the state given; emails have one "@".
    @Test func billingAddressesAndEmailsAreChecked() async throws {
        let server = try await TestServer.make()
        let key = server.allScopes
        try await server.routerApplication().test(.router) { client in
            for (address, field) in [(#"{"state": "ZZ", "zip": "55401"}"#, "billing_address.state"), (#"{"state": "WI", "zip": "55401"}"#, "billing_address.state"),
                                     (#"{"state": "MN", "zip": "00001"}"#, "billing_address.zip")] {
                let reply = try await client.send(.post, "/v1/customers", key: key, body: #"{"name": "A", "billing_address": \#(address)}"#)
                #expect(reply.status == 400 && reply.errorField == field, "\(address): \(reply.text)")
            }
            var reply = try await client.send(.post, "/v1/customers", key: key, body: #"{"name": "A", "email": "a@@b.co"}"#)
            #expect(reply.status == 400 && reply.errorField == "email", "\(reply.text)")
            reply = try await client.send(.post, "/v1/customers", key: key, body: #"{"name": "A", "billing_address": {"state": "mn", "zip": "55401"}}"#)
            #expect(reply.status == 201, "\(reply.text)")
            let id = try #require(reply.json["id"] as? String)
            reply = try await client.send(.post, "/v1/customers/\(id)/addresses", key: key, body: #"{"state": "TX", "zip": "55401"}"#)
            #expect(reply.status == 400 && reply.errorField == "state", "\(reply.text)")
        }
        let stored = try await server.api.services.database.query("SELECT COUNT(*) AS n FROM \(server.api.services.customers.table("customers"))")
        #expect(stored.first?.integer("n") == 1)
    }

    /// Defect 4: a wrongly typed value in the ledger is reported as an altered entry by the API; the server lives on.
    @Test(arguments: Store.available) func aWronglyTypedLedgerValueIsReportedAsAltered(store: Store) async throws {
        let server = try await TestServer.make(store)
        let key = server.keys[.checkout]!
        try await server.routerApplication().test(.router) { client in
            let card = try await client.send(.post, "/v1/tokens", key: key, body: #"{"number": "\#(testCard)", "exp_month": 12, "exp_year": 2031}"#)
            let token = try #require(card.string("token"))
            let placed = try await client.send(.post, "/v1/orders", key: key, idempotency: "l1", body: placeBody("minneapolis.json", token: token))
            let id = try #require(placed.string("id"))
            #expect(try await client.send(.post, "/v1/orders/\(id)/capture", key: key, idempotency: "c1", body: "{}").status == 200)
            let orders = server.api.services.orders
            if store == .sqlite {
                try await server.api.services.database.execute("UPDATE \(orders.table("ledger")) SET tax = 'abc' WHERE seq = 1")
            } else {
                // PostgreSQL enforces column types; what it can be made to hold is a NULL where none belongs.
                try await server.api.services.database.execute("ALTER TABLE \(orders.table("ledger")) ALTER COLUMN kind DROP NOT NULL")
                try await server.api.services.database.execute("UPDATE \(orders.table("ledger")) SET kind = NULL WHERE seq = 1")
            }
            let reply = try await client.send(.get, "/v1/ledger/verification", key: server.keys[.accountant])
            #expect(reply.status == 200, "\(reply.text)")
            #expect(reply.text.contains("altered"), "\(reply.text)")
            #expect(try await client.send(.get, "/health", key: nil).status == 200)
        }
    }

    /// Defect 7: refused reveal attempts (no key, a key without the scope) are audited, without any card number.
    @Test func refusedRevealAttemptsAreAudited() async throws {
        let server = try await TestServer.make()
        let token = try await server.api.services.vault.tokenize(number: testCard, expiry: 12, 2031,
                                                                 caller: VaultCaller(id: "test", permissions: [.tokenize])).token
        let before = try await server.api.services.vault.auditEntries().count
        try await server.routerApplication().test(.router) { client in
            let body = #"{"purpose": "capture"}"#
            let anonymous = try await client.send(.post, "/v1/tokens/\(token.value)/reveal", key: nil, body: body)
            let unknown = try await client.send(.post, "/v1/tokens/\(token.value)/reveal", key: "lvk_aaaaaaaaaaaaa_" + String(repeating: "b", count: 32),
                                                body: body)
            let checkout = try await client.send(.post, "/v1/tokens/\(token.value)/reveal", key: server.keys[.checkout], body: body)
            let cardInPath = try await client.send(.post, "/v1/tokens/\(testCard)/reveal", key: server.keys[.admin], body: body)
            let statuses: [Int] = [anonymous.status, unknown.status, checkout.status, cardInPath.status]
            #expect(statuses == [401, 401, 403, 403])
        }
        let entries = try await server.api.services.vault.auditEntries()
        #expect(entries.count == before + 4)
        let added = entries.suffix(4)
        #expect(added.map(\.outcome).filter { $0.hasPrefix("refused") }.count == 2)
        #expect(added.map(\.outcome).filter { $0.hasPrefix("denied") }.count == 2)
        #expect(added.last?.token == "(not a token)")
        #expect(!entries.contains { $0.token.contains(testCard) || $0.actor.contains(testCard) })
        #expect(try await server.api.services.vault.verifyAudit().failure == nil)
    }

    /// Defect 10: content types, NUL and long strings, invalid UTF-8, expiry fields, dates of birth, quantities.
    @Test func validationGapsAreClosed() async throws {
        let server = try await TestServer.make()
        let key = server.allScopes
        try await server.routerApplication().test(.router) { client in
            var reply = try await client.send(.post, "/v1/quotes", key: key, body: fixture("minneapolis.json"),
                                              headers: [.contentType: "text/plain"])
            #expect(reply.status == 415 && reply.errorField == "Content-Type")
            reply = try await client.send(.post, "/v1/quotes", key: key, body: fixture("minneapolis.json"),
                                          headers: [.contentType: "application/x-www-form-urlencoded"])
            #expect(reply.status == 415)
            reply = try await client.send(.post, "/v1/quotes", key: key, body: fixture("minneapolis.json"),
                                          headers: [.contentType: "application/json; charset=utf-8"])
            #expect(reply.status == 200)
            reply = try await client.send(.post, "/v1/quotes", key: key, body: fixture("minneapolis.json"),
                                          headers: [.contentType: "application/json", .contentEncoding: "gzip"])
            #expect(reply.status == 415 && reply.errorField == "Content-Encoding")

            let nul = fixture("minneapolis.json").replacingOccurrences(of: #""id": "1""#, with: #""id": "1\u0000x""#)
            reply = try await client.send(.post, "/v1/quotes", key: key, body: nul)
            #expect(reply.status == 400 && reply.errorField == "lines[0].id")
            let longID = fixture("minneapolis.json").replacingOccurrences(of: #""id": "1""#, with: #""id": "\#(String(repeating: "x", count: 65))""#)
            reply = try await client.send(.post, "/v1/quotes", key: key, body: longID)
            #expect(reply.status == 400 && reply.errorField == "lines[0].id")
            let megabyte = #"{"name": "\#(String(repeating: "x", count: 60_000))"}"#
            reply = try await client.send(.post, "/v1/customers", key: key, body: megabyte)
            #expect(reply.status == 400 && reply.errorField == "name")
            reply = try await client.send(.post, "/v1/tokens/\(String(repeating: "t", count: 4))/reveal", key: key,
                                          body: #"{"purpose": "\#(String(repeating: "p", count: 300))"}"#)
            #expect(reply.status == 400 || reply.status == 404)

            var invalid = Array(#"{"name": "Ana "#.utf8)
            invalid += [0xFF, 0xFE]
            invalid += Array(#""}"#.utf8)
            reply = try await client.execute(uri: "/v1/customers", method: .post,
                                             headers: [.authorization: "Bearer " + key, .contentType: "application/json"],
                                             body: ByteBuffer(bytes: invalid)) { response in
                Reply(status: response.status.code, headers: response.headers, text: String(buffer: response.body))
            }
            #expect(reply.status == 400 && reply.errorCode == "invalid_utf8" && reply.errorField == "name")
            // A lone surrogate escape is the same refusal on the quote route as everywhere else (it said invalid_json; probe #11).
            for route in ["/v1/quotes", "/v1/customers"] {
                reply = try await client.send(.post, route, key: key, body: #"{"name": "\ud800"}"#)
                #expect(reply.status == 400 && reply.errorCode == "invalid_utf8" && reply.errorField == "name", "\(route): \(reply.text)")
            }

            reply = try await client.send(.post, "/v1/tokens", key: key, body: #"{"number": "\#(testCard)", "exp_month": 12, "exp_year": 20311}"#)
            #expect(reply.status == 400 && reply.errorField == "exp_year")
            reply = try await client.send(.post, "/v1/tokens", key: key, body: #"{"number": "\#(testCard)", "exp_month": 13, "exp_year": 2031}"#)
            #expect(reply.status == 400 && reply.errorField == "exp_month")
            #expect(!reply.text.contains(testCard))

            reply = try await client.send(.post, "/v1/customers", key: key, body: #"{"name": "Old", "date_of_birth": "1800-01-01"}"#)
            #expect(reply.status == 400 && reply.errorField == "date_of_birth")

            // A fraction where a whole number belongs is an unreadable value, not invalid JSON; a body where none belongs is refused.
            reply = try await client.send(.post, "/v1/orders", key: key, idempotency: "fraction",
                                          body: #"{"order": \#(fixture("minneapolis.json")), "customer_id": "cus_x", "billing_version": 1.5}"#)
            #expect(reply.status == 400 && reply.errorCode == "invalid_value", "\(reply.text)")
            // Probe #21: a fraction that a Double rounds to a whole number was read as that number.
            reply = try await client.send(.post, "/v1/orders", key: key, idempotency: "rounded",
                                          body: #"{"order": \#(fixture("minneapolis.json")), "customer_id": "cus_x", "billing_version": 1.00000000000000000001}"#)
            #expect(reply.status == 400 && reply.errorField == "billing_version" && reply.text.contains("whole number"), "\(reply.text)")
            for version in ["0", "-1"] {
                reply = try await client.send(.post, "/v1/orders", key: key, idempotency: "version" + version,
                                              body: #"{"order": \#(fixture("minneapolis.json")), "customer_id": "cus_x", "billing_version": \#(version)}"#)
                #expect(reply.status == 400 && reply.errorField == "billing_version", "\(reply.text)")
            }
            reply = try await client.send(.post, "/v1/customers/cus_x/erasure", key: key, body: #"{"x": 1}"#)
            #expect(reply.status == 400 && reply.errorCode == "unknown_field", "\(reply.text)")
        }
    }

    /// Defect 11: wrong keys are limited per client and per key id, with 429, Retry-After and a metric.
    @Test func failedAuthenticationsAreThrottled() async throws {
        // The server's clock stands still: the limit's one-minute window must not run out before the 25th try when the
        // full suite keeps two cores busy and one request can take seconds (CI of 60c7049 failed so).
        let frozen = Date()
        let server = try await TestServer.make(now: { frozen })
        try await server.routerApplication().test(.router) { client in
            var statuses: [Int] = []
            var retryAfter: String?
            for i in 0..<25 {
                let guess = "lvk_aaaaaaaaaaaa\(i % 10)_" + String(repeating: "b", count: 32)
                let reply = try await client.send(.get, "/v1/tables", key: guess)
                statuses.append(reply.status)
                if reply.status == 429 { retryAfter = reply.headers[.retryAfter] }
            }
            #expect(statuses.prefix(20).allSatisfy { $0 == 401 })
            #expect(statuses.suffix(5).allSatisfy { $0 == 429 })
            #expect(Int(retryAfter ?? "") ?? 0 >= 1)
            let metrics = try await client.send(.get, "/metrics", key: nil).text
            #expect(metrics.contains("levy_http_auth_throttled_total"))
            #expect(metrics.contains("levy_http_auth_failures_total 20"))
        }
    }

    /// Key ids are not secret: someone who sends wrong secrets with another's key id, from however many addresses,
    /// is throttled, but the key's holder, presenting the right secret, is never locked out.
    @Test func aKnownKeyIDCannotLockItsHolderOut() async throws {
        let frozen = Date()
        let server = try await TestServer.make(now: { frozen })
        let real = server.keys[.checkout]!
        let wrong = String(real.dropLast(32)) + String(repeating: "b", count: 32)
        var refusals: [String] = []
        for attempt in 0..<30 {
            do { _ = try await server.api.verifyKey(wrong, client: "10.0.0.\(attempt)") } catch is Throttled {
                refusals.append("429")
            } catch { refusals.append("401") }
        }
        #expect(refusals.prefix(20).allSatisfy { $0 == "401" } && refusals.suffix(10).allSatisfy { $0 == "429" }, "\(refusals)")
        let holder = try await server.api.verifyKey(real, client: "10.0.0.99")
        #expect(real.hasPrefix("lvk_" + holder.id))
        // One address over its limit is refused before any lookup, even with a right key, unless that key
        // authenticated here lately: the wrong keys of one client behind an address do not shut out another's
        // working key (a guess cannot be such a key).
        for _ in 0..<20 { _ = try? await server.api.verifyKey(wrong, client: "10.0.1.1") }
        await #expect(throws: Throttled.self) { _ = try await server.api.verifyKey(server.keys[.accountant]!, client: "10.0.1.1") }
        #expect(try await server.api.verifyKey(real, client: "10.0.1.1").id == holder.id)
        await #expect(throws: Throttled.self) { _ = try await server.api.verifyKey(wrong, client: "10.0.1.1") }
        _ = try await server.api.verifyKey(server.keys[.accountant]!, client: "10.0.0.98")
        #expect(try await server.api.verifyKey(server.keys[.accountant]!, client: "10.0.1.1").scopes.contains(.accountant))
        // A revoked key is looked up again, so it is refused even though it authenticated lately.
        _ = try await server.api.services.keys.revoke(holder.id)
        await #expect(throws: Throttled.self) { _ = try await server.api.verifyKey(real, client: "10.0.1.1") }
    }

    /// A client that puts a card number in its Idempotency-Key or X-Request-Id must not have it stored or logged:
    /// the key is kept as a keyed digest (and a retry still finds its order), the request id is replaced.
    @Test(arguments: Store.available) func cardNumbersInHeadersAreNeitherStoredNorLogged(store: Store) async throws {
        let server = try await TestServer.make(store)
        let key = server.keys[.checkout]!
        let idempotency = "order-\(testCard)"
        let requestID = HTTPField.Name("X-Request-Id")!
        try await server.routerApplication().test(.router) { client in
            let placed = try await client.send(.post, "/v1/orders", key: key, idempotency: idempotency, body: placeBody("minneapolis.json"),
                                               headers: [requestID: testCard])
            #expect(placed.status == 201)
            #expect(placed.headers[requestID] != testCard && placed.headers[requestID]?.hasPrefix("req_") == true)
            let retried = try await client.send(.post, "/v1/orders", key: key, idempotency: idempotency, body: placeBody("minneapolis.json"))
            #expect(retried.status == 201 && retried.string("id") == placed.string("id"))
            // A plain key is kept as sent (support can read it).
            let plain = try await client.send(.post, "/v1/orders", key: key, idempotency: "order-7", body: placeBody("minneapolis.json"))
            #expect(plain.status == 201 && plain.string("id") != placed.string("id"))
        }
        let services = server.api.services
        let orderKeys = try await services.database.query("SELECT idempotency_key FROM \(services.orders.table("orders"))").compactMap { $0.text("idempotency_key") }
        let apiKeys = try await services.database.query("SELECT key FROM \(services.database.dialect.render("{schema}idempotency", schema: services.keys.schema))")
            .compactMap { $0.text("key") }
        #expect(orderKeys.count == 2 && apiKeys.count == 2)
        #expect(orderKeys.contains { $0.hasSuffix("/order-7") } && apiKeys.contains("order-7"))
        for stored in orderKeys + apiKeys { #expect(!stored.contains(testCard), "\(stored)") }
        #expect(apiKeys.contains { $0.hasPrefix("hmac-sha256:") })
        #expect(!server.logs.all.contains { $0.contains(testCard) })
    }

    /// A card number typed where a person's text goes (a name, an address line, a purpose) is refused naming the
    /// field, and nothing is stored: the number belongs in the vault only.
    @Test(arguments: Store.available) func cardNumbersInTextFieldsAreRefused(store: Store) async throws {
        let server = try await TestServer.make(store)
        let key = server.allScopes
        let spaced = "4242 4242 4242 4242"
        try await server.routerApplication().test(.router) { client in
            let named = try await client.send(.post, "/v1/customers", key: key, body: #"{"name": "\#(testCard)"}"#)
            #expect(named.status == 400 && named.errorField == "name", "\(named.text)")
            let billing = try await client.send(.post, "/v1/customers", key: key, body: """
                {"name": "Ann", "billing_address": {"line1": "1 Main St \(spaced)", "city": "Minneapolis", "state": "MN", "zip": "55401"}}
                """)
            #expect(billing.status == 400 && billing.errorField == "billing_address.line1", "\(billing.text)")
            let order = #"{"date": "2026-03-02", "destination": {"line1": "\#(spaced)", "city": "Minneapolis", "state": "MN", "zip": "55401"}, "#
                + #""lines": [{"id": "1", "code": "general", "amount": "10.00", "fulfilment": "shipped"}]}"#
            let quoted = try await client.send(.post, "/v1/quotes", key: key, body: order)
            #expect(quoted.status == 400 && quoted.errorField == "destination.line1", "\(quoted.text)")
            let placed = try await client.send(.post, "/v1/orders", key: key, idempotency: "card-in-line1", body: #"{"order": \#(order)}"#)
            #expect(placed.status == 400 && placed.errorField == "order.destination.line1", "\(placed.text)")
            let exported = try await client.send(.post, "/v1/exports", key: key,
                                                 body: #"{"kind": "report", "from": "2026-01-01", "through": "2026-12-31", "merchant": "4111-1111-1111-1111"}"#)
            #expect(exported.status == 400 && exported.errorField == "merchant", "\(exported.text)")
            // A registration number is an identifier: a card number with its network's prefix and length is refused.
            let saft = try await client.send(.post, "/v1/exports", key: key, body: #"{"kind": "saft", "from": "2026-01-01", "through": "2026-12-31", "#
                + #""company": {"name": "A", "registration": "\#(testCard)", "street": "s", "city": "c", "state": "MN", "zip": "55401"}}"#)
            #expect(saft.status == 400 && saft.errorField == "company.registration", "\(saft.text)")
            let certificate = #"{"date": "2026-03-02", "destination": {"state": "MN", "zip": "55401"}, "customer": {"exemptions": "#
                + #"[{"state": "MN", "reason": "resale", "number": "\#(testCard)"}]}, "lines": [{"id": "1", "code": "general", "amount": "10.00", "fulfilment": "shipped"}]}"#
            let exempted = try await client.send(.post, "/v1/quotes", key: key, body: certificate)
            #expect(exempted.status == 400 && exempted.errorField == "customer.exemptions[0].number", "\(exempted.text)")
            let label = try await client.send(.post, "/v1/keys", key: key, body: #"{"label": "\#(testCard)", "scopes": ["checkout"]}"#)
            #expect(label.status == 400 && label.errorField == "label", "\(label.text)")
            for reply in [named, billing, quoted, placed, label] { #expect(!reply.text.contains("4242")) }
            // A street number, a phone number and an order number are not card numbers.
            let fine = try await client.send(.post, "/v1/customers", key: key, body: #"{"name": "Ann 612-555-0100", "email": "a@b.co"}"#)
            #expect(fine.status == 201)
        }
        let services = server.api.services
        let customers = try await services.database.query("SELECT name FROM \(services.customers.table("customers"))")
        #expect(customers.count == 1 && customers.first?.text("name") == "Ann 612-555-0100")
        let orders = try await services.database.query("SELECT COUNT(*) AS n FROM \(services.orders.table("orders"))")
        #expect(orders.first?.integer("n") == 0)
    }

    /// Probe #15: the rule merchant profiles follow since probe #13 (no direction overrides, isolates, marks, line
    /// separators or U+FFFD in text printed elsewhere) did not hold for customers, addresses, key labels or quotes; a
    /// customer's street with U+202E reached an export's CSV. And a name of a byte order mark alone passed as a name.
    @Test func textThatReordersWhatItIsPrintedInIsRefused() async throws {
        let server = try await TestServer.make()
        let key = server.allScopes
        try await server.routerApplication().test(.router) { client in
            let named = try await client.send(.post, "/v1/customers", key: key, body: #"{"name": "a‮b"}"#)
            #expect(named.status == 400 && named.errorField == "name" && named.text.contains("U+202E"), "\(named.text)")
            let separated = try await client.send(.post, "/v1/customers", key: key, body: #"{"name": "a b"}"#)
            #expect(separated.status == 400 && separated.errorField == "name", "\(separated.text)")
            let invisible = try await client.send(.post, "/v1/customers", key: key, body: #"{"name": "﻿"}"#)
            #expect(invisible.status == 400 && invisible.errorField == "name", "\(invisible.text)")
            let street = try await client.send(.post, "/v1/customers", key: key, body: """
                {"name": "Ann", "billing_address": {"line1": "5 \\u202eRoad", "city": "\\ufffd", "state": "MN", "zip": "55401"}}
                """)
            #expect(street.status == 400 && street.errorField == "billing_address.line1", "\(street.text)")
            let label = try await client.send(.post, "/v1/keys", key: key, body: #"{"label": "a‮b", "scopes": ["checkout"]}"#)
            #expect(label.status == 400 && label.errorField == "label", "\(label.text)")
            let quote = #"{"date": "2026-03-02", "destination": {"line1": "1 Main", "city": "�", "state": "MN", "zip": "55401"}, "#
                + #""lines": [{"id": "1", "code": "general", "amount": "10.00", "fulfilment": "shipped"}]}"#
            let quoted = try await client.send(.post, "/v1/quotes", key: key, body: quote)
            #expect(quoted.status == 400 && quoted.errorField == "destination.city" && quoted.text.contains("U+FFFD"), "\(quoted.text)")
            // Probe #16: a line's and a discount's id, printed in quotes, orders and exports, kept U+202E.
            for (ids, field) in [(#""id": "a\u202eb""#, "lines[0].id"), (#""id": "1""#, "discounts[0].id")] {
                let body = #"{"date": "2026-03-02", "destination": {"line1": "1 Main", "city": "Minneapolis", "state": "MN", "zip": "55401"}, "lines": [{"#
                    + ids + #", "code": "general", "amount": "10.00", "fulfilment": "shipped"}], "discounts": [{"id": "#
                    + (field == "discounts[0].id" ? #""off\u202e""# : #""off""#) + #", "amount": "1.00"}]}"#
                let refused = try await client.send(.post, "/v1/quotes", key: key, body: body)
                #expect(refused.status == 400 && refused.errorField == field && refused.text.contains("U+202E"), "\(refused.text)")
            }
            // Letters of right-to-left scripts are text like any other.
            #expect(try await client.send(.post, "/v1/customers", key: key, body: #"{"name": "דנה ليلى"}"#).status == 201)
        }
    }

    /// Probe #15: `{"amount": null}` on a refund gave back the whole order (null read as absent, and absent means
    /// everything); an order for a customer without a billing address was a 404 naming `billing_version`, which the
    /// client had not sent.
    @Test(arguments: Store.available) func nullRefundsAndCustomersWithoutAnAddress(store: Store) async throws {
        let server = try await TestServer.make(store)
        let checkout = server.keys[.checkout]
        try await server.routerApplication().test(.router) { client in
            let (_, orderID) = try await capturedOrderOfACustomer(
                client, server, street: #"{"line1": "1 Main St", "city": "Saint Paul", "state": "MN", "zip": "55101"}"#)
            for (n, body) in [#"{"amount": null}"#, #"{"lines": null}"#].enumerated() {
                let refused = try await client.send(.post, "/v1/orders/\(orderID)/refunds", key: checkout, idempotency: "null-\(n)", body: body)
                #expect(refused.status == 400 && refused.errorField == (n == 0 ? "amount" : "lines"), "\(refused.text)")
            }
            let order = try await client.send(.get, "/v1/orders/\(orderID)", key: checkout)
            #expect(order.string("refunded_amount") == "0.00" && order.string("status") == "captured", "\(order.text)")
            #expect(try await client.send(.post, "/v1/orders/\(orderID)/refunds", key: checkout, idempotency: "part", body: #"{"amount": "1.00"}"#).status == 201)

            let bare = try #require(try await client.send(.post, "/v1/customers", key: checkout, body: #"{"name": "No Address"}"#).string("id"))
            let placed = try await client.send(.post, "/v1/orders", key: checkout, idempotency: "bare",
                                               body: placeBody("med-spa.json", customer: bare, dropBilling: true))
            #expect(placed.status == 400 && placed.errorField == "customer_id" && placed.text.contains("no billing address"), "\(placed.text)")
        }
    }

    /// A console path is logged and counted by its route's template, never as sent: a card number searched by mistake
    /// stayed in the log and in a metric label, and every distinct path (or invented method) was a metric series kept
    /// for good (100,000 paths took the server from 114 MB to 228 MB and /metrics to 259 MB).
    @Test func consolePathsAndMethodsAreBoundedLabels() {
        #expect(ConsoleAccessLog.route(of: "/console/transactions/4242424242424242") == "/console/transactions/{order_id}")
        #expect(ConsoleAccessLog.route(of: "/console/exports/exp_1/download") == "/console/exports/{export_id}/download")
        #expect(ConsoleAccessLog.route(of: "/console/exports/verify") == "/console/exports/verify")
        #expect(ConsoleAccessLog.route(of: "/console/reconciliations/4242-4242-4242-4242") == "/console/reconciliations/{run_id}")
        #expect(ConsoleAccessLog.route(of: "/console//sign-in") == "/console/sign-in")
        for path in ["/console/4242424242424242", "/console/transactions/a/b", "/consolex", "/console/tables/x"] {
            #expect(ConsoleAccessLog.route(of: path) == "/console/unmatched", "\(path)")
        }
        let metrics = APIMetrics()
        for method in ["GET", "4242424242424242", "BREW"] {
            metrics.request(method: method, route: "unmatched", status: 405, duration: .zero)
        }
        let text = String(decoding: metrics.render(), as: UTF8.self)
        #expect(text.contains("method=\"OTHER\"") && text.contains("method=\"GET\""))
        #expect(!text.contains("4242424242424242") && !text.contains("BREW"))
    }

    /// A request body must come in at 512 bytes a second on average from 3 seconds after its head (the live test
    /// `slowBodiesCannotTakeEverySlot` shows why).
    @Test func aBodyMustKeepAMinimumPace() {
        #expect(ConnectionDeadlineHandler.keepsPace(bytes: 0, elapsed: .milliseconds(2_999)))
        #expect(!ConnectionDeadlineHandler.keepsPace(bytes: 1, elapsed: .seconds(3)))
        #expect(ConnectionDeadlineHandler.keepsPace(bytes: 1_536, elapsed: .seconds(3)))
        #expect(!ConnectionDeadlineHandler.keepsPace(bytes: 5_119, elapsed: .seconds(10)))
    }

    /// Probe #11: a store that could not answer (PostgreSQL stopped, a lock held past lock_timeout) was a 500 after a
    /// minute. It is a 503 with Retry-After, not kept as the idempotent answer, wherever the error surfaces.
    @Test func aStoreThatCannotAnswerIsATryLater() throws {
        let direct = try #require(APIError.from(StoreUnavailable("SQLSTATE 55P03")))
        #expect(direct.status == .serviceUnavailable && direct.code == "store_unavailable" && direct.retryAfter == 5 && direct.isForNow)
        // Under a component's own wrapping (orders rethrow it unwrapped) and bare from a store.
        let busy = try #require(APIError.from(SQLError(code: 5, message: "database is locked", statement: "")))
        #expect(busy.status == .serviceUnavailable && busy.code == "store_unavailable")
        #expect(APIError.from(SQLError(code: 19, message: "UNIQUE constraint failed", statement: "")) == nil)
    }

    /// Probe #17: a processor that gave no answer (the simulator's journal held by another process, Stripe after its
    /// retries) was a 500 `internal`. It is a 503 with Retry-After, not kept as the idempotent answer.
    @Test func aProcessorThatCannotAnswerIsATryLater() throws {
        for error in [SimulatorJournal.JournalError(description: "another process held the simulator's journal for over 10 s") as any Error,
                      StripeError.unavailable(operation: "refund", attempts: 4, last: "HTTP 503")] {
            let refusal = try #require(APIError.from(error))
            #expect(refusal.status == .serviceUnavailable && refusal.code == "processor_unavailable" && refusal.retryAfter == 30 && refusal.isForNow,
                    "\(refusal)")
        }
        #expect(APIError.from(StripeError.keyRefused(status: 401)) == nil)
    }

    /// `/ready` answers within its bound whatever the store does (probe #11: 67 s with PostgreSQL stopped).
    @Test func aCheckThatHangsIsCutShort() async {
        let started = ContinuousClock.now
        // An operation of an hour, cut short (a loaded test machine delays the timer by up to a minute, so the bound
        // only tells "cut short" from "waited").
        #expect(await LevyAPI.within(.milliseconds(200)) { try await Task.sleep(for: .seconds(3_600)) } == false)
        #expect(ContinuousClock.now - started < .seconds(600))
        #expect(await LevyAPI.within(.seconds(5)) {} == true)
        struct Failed: Error {}
        #expect(await LevyAPI.within(.seconds(5)) { throw Failed() } == false)
    }
}
