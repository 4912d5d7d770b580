import Foundation
import HTTPTypes
import Hummingbird
import Orders
import HummingbirdTesting
import Server
import Storage
import Synchronization
import LevyTestSupport
import Testing

/// A clock the test moves by hand.
final class ManualClock: Sendable {
    private let instant = Mutex(Date(timeIntervalSince1970: 1_790_000_000))
    var now: Date { instant.withLock { $0 } }
    func advance(_ seconds: TimeInterval) { instant.withLock { $0 = $0.addingTimeInterval(seconds) } }
}

/// Idempotency records: purged after their lifetime, taken over when their request died, and never kept for a
/// server error (so the retry runs again).
@Suite struct IdempotencyTests {
    @Test(arguments: Store.available) func recordsArePurgedAfterTheirLifetime(store: Store) async throws {
        let clock = ManualClock()
        let server = try await TestServer.make(store, now: { clock.now })
        let records = server.api.services.idempotency
        #expect(try await records.begin(principal: "p", key: "k", route: "POST /x", requestHash: "h") == .proceed)
        try await records.finish(principal: "p", key: "k", status: 201, body: Array("{}".utf8), resource: nil)
        #expect(try await records.begin(principal: "p", key: "k", route: "POST /x", requestHash: "h") == .replay(status: 201, body: Array("{}".utf8)))
        clock.advance(23 * 3_600)
        #expect(try await records.purgeExpired() == 0)
        clock.advance(2 * 3_600)
        #expect(try await records.purgeExpired() == 1)
        #expect(try await records.begin(principal: "p", key: "k", route: "POST /x", requestHash: "h") == .proceed)
    }

    /// A key that could hold a card number is stored as a digest; a finished record kept under the key as sent
    /// (before the digest) still answers its retry, and the digest is the same for every retry.
    @Test(arguments: Store.available) func digestKeysFindRecordsKeptUnderTheKeyAsSent(store: Store) async throws {
        let server = try await TestServer.make(store)
        let records = server.api.services.idempotency
        let sent = "order-1700000000000"
        let stored = records.storedForm(sent)
        #expect(stored != sent && stored.hasPrefix("hmac-sha256:") && stored == records.storedForm(sent))
        #expect(records.storedForm("order-7") == "order-7")
        #expect(try await records.begin(principal: "p", key: sent, route: "POST /x", requestHash: "h") == .proceed)
        try await records.finish(principal: "p", key: sent, status: 201, body: Array("{}".utf8), resource: nil)
        #expect(try await records.begin(principal: "p", key: stored, legacyKey: sent, route: "POST /x", requestHash: "h")
                == .replay(status: 201, body: Array("{}".utf8)))
        #expect(try await records.begin(principal: "p", key: stored, legacyKey: sent, route: "POST /x", requestHash: "other") == .conflict)
        #expect(try await records.begin(principal: "q", key: stored, legacyKey: sent, route: "POST /x", requestHash: "h") == .proceed,
                "another principal's record is not found")
    }

    /// A request's digest is keyed: the body of `POST /v1/tokens` holds a card number and its security code, and an
    /// unkeyed hash of it, with the last four and BIN of the stored response, gives both back by trial (probe #6).
    /// A record an older version kept under the unkeyed digest still answers its retry.
    @Test(arguments: Store.available) func requestDigestsAreKeyed(store: Store) async throws {
        let server = try await TestServer.make(store)
        let records = server.api.services.idempotency
        let key = server.keys[.checkout]!
        let body = #"{"number": "\#(testCard)", "exp_month": 12, "exp_year": 2031, "security_code": "123"}"#
        try await server.routerApplication().test(.router) { client in
            let first = try await client.send(.post, "/v1/tokens", key: key, idempotency: "tok-1", body: body)
            #expect(first.status == 201)
            let rows = try await server.api.services.database.query("SELECT request_hash FROM \(records.table) WHERE key = $1", [.text("tok-1")])
            let stored = try #require(rows.first?.text("request_hash"))
            let unkeyed = IdempotencyStore.unkeyedRequestHash(route: "POST /v1/tokens ", body: Array(body.utf8))
            #expect(stored.hasPrefix("hmac-sha256:") && !stored.contains(unkeyed), "\(stored)")
            let again = try await client.send(.post, "/v1/tokens", key: key, idempotency: "tok-1", body: body)
            #expect(again.status == 201 && again.headers[HTTPField.Name("Idempotent-Replayed")!] == "true" && again.string("token") == first.string("token"))
        }
        // An older record: stored under the unkeyed digest, it replays for the same request and refuses another.
        #expect(try await records.begin(principal: "p", key: "old", route: "POST /x", requestHash: IdempotencyStore.unkeyedRequestHash(route: "POST /x ", body: [1])) == .proceed)
        try await records.finish(principal: "p", key: "old", status: 201, body: Array("{}".utf8), resource: nil)
        let keyed = records.requestHash(route: "POST /x ", body: [1])
        #expect(try await records.begin(principal: "p", key: "old", route: "POST /x", requestHash: keyed,
                                        unkeyedHash: IdempotencyStore.unkeyedRequestHash(route: "POST /x ", body: [1])) == .replay(status: 201, body: Array("{}".utf8)))
        #expect(try await records.begin(principal: "p", key: "old", route: "POST /x", requestHash: records.requestHash(route: "POST /x ", body: [2]),
                                        unkeyedHash: IdempotencyStore.unkeyedRequestHash(route: "POST /x ", body: [2])) == .conflict)
        #expect(keyed != records.requestHash(route: "POST /x ", body: [2]) && keyed == records.requestHash(route: "POST /x ", body: [1]))
    }

    @Test(arguments: Store.available) func anAbandonedRequestIsTakenOverOnce(store: Store) async throws {
        let clock = ManualClock()
        let server = try await TestServer.make(store, now: { clock.now })
        let records = server.api.services.idempotency
        #expect(try await records.begin(principal: "p", key: "t", route: "POST /x", requestHash: "h") == .proceed)
        clock.advance(30)
        #expect(try await records.begin(principal: "p", key: "t", route: "POST /x", requestHash: "h") == .inProgress)
        clock.advance(31)
        #expect(try await records.begin(principal: "p", key: "t", route: "POST /x", requestHash: "h") == .proceed, "taken over")
        #expect(try await records.begin(principal: "p", key: "t", route: "POST /x", requestHash: "h") == .inProgress, "by one retry only")
        #expect(try await records.begin(principal: "p", key: "t", route: "POST /y", requestHash: "h") == .conflict)
    }

    /// A 5xx is not kept: the same key runs again once the fault is gone, and then its answer is kept.
    @Test(arguments: Store.available) func serverErrorsAreNotStored(store: Store) async throws {
        let server = try await TestServer.make(store)
        let key = server.keys[.checkout]!
        try await server.routerApplication().test(.router) { client in
            let card = try await client.send(.post, "/v1/tokens", key: key, body: #"{"number": "\#(testCard)", "exp_month": 12, "exp_year": 2031}"#)
            let token = try #require(card.string("token"))
            let placed = try await client.send(.post, "/v1/orders", key: key, idempotency: "i1", body: placeBody("minneapolis.json", token: token))
            let id = try #require(placed.string("id"))
            let orders = server.api.services.orders
            try await server.api.services.database.execute("UPDATE \(orders.table("orders")) SET status = 'bogus' WHERE id = $1", [.text(id)])
            let failed = try await client.send(.post, "/v1/orders/\(id)/capture", key: key, idempotency: "cap-1", body: "{}")
            #expect(failed.status == 500)
            try await server.api.services.database.execute("UPDATE \(orders.table("orders")) SET status = 'authorized' WHERE id = $1", [.text(id)])
            let retried = try await client.send(.post, "/v1/orders/\(id)/capture", key: key, idempotency: "cap-1", body: "{}")
            #expect(retried.status == 200 && retried.headers[HTTPField.Name("Idempotent-Replayed")!] == nil)
            let replayed = try await client.send(.post, "/v1/orders/\(id)/capture", key: key, idempotency: "cap-1", body: "{}")
            #expect(replayed.status == 200 && replayed.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")
        }
    }
}
