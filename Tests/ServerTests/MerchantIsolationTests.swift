import Exports
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import LevyBenchmarks
import Logging
import Merchants
import Orders
import Reconciliation
import Synchronization
@testable import Server
import Storage
import TaxCore
import LevyTestSupport
import Testing
import Vault

/// Two merchants in one Levy: each key reads and writes its own merchant's records, and another merchant's ids
/// answer 404 everywhere, exactly as ids that do not exist (never 403, which would confirm them).
@Suite struct MerchantIsolationTests {
    /// What one merchant's checkout left behind.
    struct Trail {
        var token = "", customer = "", order = "", voucher = "", entitlement = "", refund = ""
    }

    /// Tokenize, a customer, an order with the med spa's lines, capture, a refund of the streamed line.
    static func checkout(_ client: some TestClientProtocol, key: String, tag: String) async throws -> Trail {
        var trail = Trail()
        let card = try await client.send(.post, "/v1/tokens", key: key, idempotency: "card-" + tag,
                                         body: #"{"number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2031}"#)
        trail.token = try #require(card.string("token"), "\(card.text)")
        let customer = try await client.send(.post, "/v1/customers", key: key, body: """
            {"name": "Customer \(tag)", "billing_address": {"line1": "1 E Main St", "city": "Madison", "state": "WI", "zip": "53703"}}
            """)
        trail.customer = try #require(customer.string("id"))
        let placed = try await client.send(.post, "/v1/orders", key: key, idempotency: "order-" + tag,
                                           body: placeBody("med-spa.json", customer: trail.customer, token: trail.token, dropBilling: true))
        trail.order = try #require(placed.string("id"), "\(placed.text)")
        let captured = try await client.send(.post, "/v1/orders/\(trail.order)/capture", key: key)
        #expect(captured.string("status") == "captured", "\(captured.text)")
        trail.voucher = try #require((captured.json["vouchers"] as? [[String: Any]])?.first?["code"] as? String)
        let entitlements = try #require(captured.json["entitlements"] as? [[String: Any]])
        trail.entitlement = try #require(entitlements.first?["id"] as? String)
        let lines = try #require(captured.json["lines"] as? [[String: Any]])
        let stream = try #require(lines.first { $0["code"] as? String == "digital_video_stream" }?["number"] as? Int)
        let refund = try await client.send(.post, "/v1/orders/\(trail.order)/refunds", key: key, idempotency: "refund-" + tag,
                                           body: #"{"lines": [{"line": \#(stream), "quantity": 1}]}"#)
        trail.refund = try #require(refund.string("id"), "\(refund.text)")
        return trail
    }

    @Test("merchant A's keys on merchant B's ids get 404 on every endpoint, and each sees only its own records", arguments: Store.available)
    func keysSeeOnlyTheirMerchant(store: Store) async throws {
        let server = try await TestServer.make(store, exports: true)
        let app = try server.application()
        let platform = server.keys[.platform]!
        try await app.test(.router) { client in
            // The home merchant (the installation's keys) and a second one made with the platform key.
            let home = try await client.send(.post, "/v1/merchants", key: server.keys[.admin], body: #"{"name": "Glow Med Spa LLC"}"#)
            #expect(home.status == 201 && home.json["admin_key"] == nil)
            let refused = try await client.send(.post, "/v1/merchants", key: server.keys[.admin], body: #"{"name": "Another"}"#)
            #expect(refused.status == 403, "an admin key makes only its installation's first profile")
            let made = try await client.send(.post, "/v1/merchants", key: platform, body: #"{"name": "Radiance Skin Studio"}"#)
            #expect(made.status == 201, "\(made.text)")
            let merchantB = try #require(made.string("id"))
            // Its tables were made with it, not left to its first request (probe #6: 2 s there on a busy SQLite store).
            let namespaceB = try await server.api.services.merchants.namespace(of: MerchantID(merchantB))
            let database = server.api.services.database
            // Under the test's own prefix on PostgreSQL (the home orders schema is "<prefix>orders").
            let prefix = String(server.api.services.orders.schema.dropLast("orders".count))
            let tableB = database.dialect.render("{schema}orders", schema: prefix + namespaceB + "orders")
            let rowsB = try await database.query("SELECT COUNT(*) AS n FROM \(tableB)").first?.integer("n")
            #expect(!namespaceB.isEmpty && rowsB == 0)
            let adminB = try #require((made.json["admin_key"] as? [String: Any])?["secret"] as? String)
            func keyB(_ scope: String) async throws -> String {
                let reply = try await client.send(.post, "/v1/keys", key: adminB, body: #"{"label": "b \#(scope)", "scopes": ["\#(scope)"]}"#)
                #expect(reply.status == 201 && reply.string("merchant") == merchantB, "\(reply.text)")
                return try #require(reply.string("secret"))
            }
            let b = (checkout: try await keyB("checkout"), accountant: try await keyB("accountant"), reveal: try await keyB("vault-reveal"))
            let a = (checkout: server.keys[.checkout]!, accountant: server.keys[.accountant]!, admin: server.keys[.admin]!,
                     reveal: server.keys[.vaultReveal]!)

            let trailA = try await Self.checkout(client, key: a.checkout, tag: "a")
            let trailB = try await Self.checkout(client, key: b.checkout, tag: "b")
            #expect(trailA.order != trailB.order)

            // Every endpoint that takes an id, with the other merchant's id: 404, never 403 and never the record.
            for (mine, theirs) in [(a, trailB), ((checkout: b.checkout, accountant: b.accountant, admin: adminB, reveal: b.reveal), trailA)] {
                let probes: [(HTTPRequest.Method, String, String, String?)] = [
                    (.get, "/v1/orders/\(theirs.order)", mine.checkout, nil),
                    (.get, "/v1/orders/\(theirs.order)", mine.accountant, nil),
                    (.post, "/v1/orders/\(theirs.order)/capture", mine.checkout, nil),
                    (.post, "/v1/orders/\(theirs.order)/void", mine.checkout, nil),
                    (.post, "/v1/orders/\(theirs.order)/complete", mine.checkout, nil),
                    (.post, "/v1/orders/\(theirs.order)/authorize", mine.checkout, #"{"payment_token": "\#(theirs.token)"}"#),
                    (.get, "/v1/customers/\(theirs.customer)", mine.checkout, nil),
                    (.post, "/v1/customers/\(theirs.customer)/addresses", mine.checkout,
                     #"{"line1": "1 Main St", "city": "Austin", "state": "TX", "zip": "78701"}"#),
                    (.put, "/v1/customers/\(theirs.customer)/consents", mine.checkout, #"{"marketing_email": false}"#),
                    (.get, "/v1/customers/\(theirs.customer)/export", mine.admin, nil),
                    (.post, "/v1/customers/\(theirs.customer)/erasure", mine.admin, nil),
                    (.get, "/v1/tokens/\(theirs.token)", mine.checkout, nil),
                    (.delete, "/v1/tokens/\(theirs.token)", mine.admin, nil),
                    (.post, "/v1/tokens/\(theirs.token)/reveal", mine.reveal, #"{"purpose": "isolation test"}"#),
                    (.get, "/v1/vouchers/\(theirs.voucher)", mine.checkout, nil),
                    (.post, "/v1/vouchers/\(theirs.voucher)/redeem", mine.checkout, #"{"location": "Minneapolis spa"}"#),
                    (.get, "/v1/entitlements/\(theirs.entitlement)", mine.checkout, nil),
                ]
                for (method, uri, key, body) in probes {
                    let reply = try await client.send(method, uri, key: key, body: body)
                    #expect(reply.status == 404, "\(method) \(uri): \(reply.status) \(reply.text)")
                }
                let refund = try await client.send(.post, "/v1/orders/\(theirs.order)/refunds", key: mine.checkout, idempotency: "x-refund",
                                                   body: "{}")
                #expect(refund.status == 404, "\(refund.text)")
                // Paying with the other merchant's token: that card is not in this merchant's vault.
                let pay = try await client.send(.post, "/v1/orders", key: mine.checkout, idempotency: "x-order",
                                                body: placeBody("minneapolis.json", token: theirs.token))
                #expect(pay.status == 400 && pay.errorField == "payment_token", "\(pay.text)")
            }
            // The other merchant's records were not touched by any of that.
            let orderB = try await client.send(.get, "/v1/orders/\(trailB.order)", key: b.checkout)
            #expect(orderB.status == 200 && orderB.string("status") == "partially_refunded", "\(orderB.text)")
            #expect(try await client.send(.get, "/v1/customers/\(trailA.customer)", key: a.checkout).string("erased") == nil)

            // Profiles and keys: each admin sees its own; the other merchant's id is 404.
            let listedA = try await client.send(.get, "/v1/merchants", key: a.admin)
            #expect((listedA.json["merchants"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == [home.string("id")!])
            #expect(try await client.send(.get, "/v1/merchants/\(merchantB)", key: a.admin).status == 404)
            #expect(try await client.send(.patch, "/v1/merchants/\(merchantB)", key: a.admin, body: #"{"name": "taken"}"#).status == 404)
            #expect(try await client.send(.get, "/v1/merchants/\(home.string("id")!)", key: adminB).status == 404)
            let everyMerchant = try await client.send(.get, "/v1/merchants", key: platform)
            #expect((everyMerchant.json["merchants"] as? [Any])?.count == 2)
            let keysB = try await client.send(.get, "/v1/keys", key: adminB)
            let idsB = Set((keysB.json["keys"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String })
            #expect(idsB.count == 4, "the first admin key and the three made with it")
            let keysA = try await client.send(.get, "/v1/keys", key: a.admin)
            #expect(Set((keysA.json["keys"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }).isDisjoint(with: idsB))
            #expect(try await client.send(.delete, "/v1/keys/\(idsB.first!)", key: a.admin).status == 404)
            let escalate = try await client.send(.post, "/v1/keys", key: adminB, body: #"{"label": "up", "scopes": ["platform"]}"#)
            #expect(escalate.status == 403)
            #expect(try await client.send(.post, "/v1/merchants", key: adminB, body: #"{"name": "x"}"#).status == 403)

            // Each ledger holds its own merchant's order only, and each chain verifies on its own.
            for (key, own, other) in [(a.accountant, trailA.order, trailB.order), (b.accountant, trailB.order, trailA.order)] {
                let ledger = try await client.send(.get, "/v1/ledger?limit=1000", key: key)
                let orders = Set((ledger.json["entries"] as? [[String: Any]] ?? []).compactMap { $0["order_id"] as? String })
                #expect(orders == [own], "\(orders)")
                #expect(!orders.contains(other))
                #expect(try await client.send(.get, "/v1/ledger/verification", key: key).json["intact"] as? Bool == true)
            }

            // A refused reveal with B's key is audited in B's vault, not A's.
            let servicesB = try await server.api.services.scoped(to: MerchantID(merchantB))
            let auditA = try await server.api.services.vault.auditEntries().count
            let auditB = try await servicesB.vault.auditEntries().count
            #expect(try await client.send(.post, "/v1/tokens/\(trailB.token)/reveal", key: b.checkout, body: #"{"purpose": "x"}"#).status == 403)
            #expect(try await servicesB.vault.auditEntries().count == auditB + 1)
            #expect(try await server.api.services.vault.auditEntries().count == auditA)

            // The console shows the signed-in key's merchant: B's accountant sees B's order, and A's is not there.
            let consoleB = try #require(try await ConsoleTests.signIn(client, key: b.accountant).cookie)
            let ordersB = try await ConsoleTests.get(client, "/console/transactions", cookie: consoleB)
            #expect(ordersB.status == 200 && ordersB.text.contains(trailB.order) && !ordersB.text.contains(trailA.order))
            #expect(try await ConsoleTests.get(client, "/console/transactions/\(trailA.order)", cookie: consoleB).status == 404)
            #expect(try await ConsoleTests.get(client, "/console/transactions/\(trailB.order)", cookie: consoleB).status == 200)

            // Exports: B's job is B's; A cannot see or download it, and B's file holds no row of A.
            let started = try await client.send(.post, "/v1/exports", key: b.accountant,
                                                body: #"{"kind": "detail", "from": "2000-01-01", "through": "2099-12-31"}"#)
            let exportB = try #require(started.string("id"), "\(started.text)")
            #expect(try await client.send(.get, "/v1/exports/\(exportB)", key: a.accountant).status == 404)
            #expect(try await client.send(.get, "/v1/exports/\(exportB)/download", key: a.accountant).status == 404)
            #expect((try await client.send(.get, "/v1/exports", key: a.accountant).json["exports"] as? [Any])?.isEmpty == true)
            // The server's own job runner (this application runs it) walks every merchant's queue and runs B's job.
            var status = ""
            for _ in 0..<300 where status != "succeeded" && status != "failed" {
                try await Task.sleep(for: .milliseconds(200))
                status = try await client.send(.get, "/v1/exports/\(exportB)", key: b.accountant).string("status") ?? ""
            }
            #expect(status == "succeeded")
            let folder = try #require(servicesB.exports?.jobs.folder(exportB))
            let detail = try String(contentsOfFile: folder + "/detail.csv", encoding: .utf8)
            #expect(detail.contains(trailB.order) && !detail.contains(trailA.order))
            // The console's download runs on the signed-in key's merchant too: B's session gets B's archive, A's none.
            let consoleA = try #require(try await ConsoleTests.signIn(client, key: a.accountant).cookie)
            #expect(try await ConsoleTests.get(client, "/console/exports/\(exportB)/download", cookie: consoleB).status == 200)
            #expect(try await ConsoleTests.get(client, "/console/exports/\(exportB)/download", cookie: consoleA).status == 404)
            #expect(try await ConsoleTests.get(client, "/console/exports/\(exportB)/download", cookie: nil).status == 303)
        }
    }
}

extension MerchantIsolationTests {
    /// Probe #9: one merchant's 8 queued runs of 256 MiB held every other merchant's runs for half an hour, since a
    /// server ran a merchant's whole queue before looking at the next. A look now runs one job of a merchant.
    @Test("the server's job runner takes merchants' reconciliation runs in turn, one per merchant per pass")
    func merchantsTakeTurns() async throws {
        let server = try await TestServer.make(.sqlite, exports: true)
        let merchantB: String = try await server.application().test(.router) { client in
            // The installation's own profile first (the first profile made is the home merchant's), then merchant B.
            _ = try await client.send(.post, "/v1/merchants", key: server.keys[.admin], body: #"{"name": "Glow Med Spa LLC"}"#)
            let made = try await client.send(.post, "/v1/merchants", key: server.keys[.platform]!, body: #"{"name": "Radiance Skin Studio"}"#)
            return try #require(made.string("id"), "\(made.text)")
        }
        // Queued with the application stopped, so that only the runner below takes them.
        let servicesB = try await server.api.services.scoped(to: MerchantID(merchantB))
        let csv = "line_id,type,order_id,refund_id,processor_id,amount,fee,net,currency,created,settled\n"
            + "L1,payout,,,,-10.00,0.00,,USD,2026-03-02T10:00:00Z,2026-03-03T10:00:00Z\n"
        func queue(_ services: LevyServices) async throws -> String {
            let runs = try #require(services.reconciliations).runs
            let (upload, path) = try runs.newUpload()
            #expect(FileManager.default.createFile(atPath: path, contents: Data(csv.utf8)))
            return try await runs.enqueue(try server.api.reconciliationParameters(["layout": "generic"]), uploadID: upload, key: "test").id
        }
        func status(_ services: LevyServices, _ id: String) async throws -> String? {
            try await services.reconciliations?.runs.run(id).status.rawValue
        }
        var runsA: [String] = []
        for _ in 0..<3 { runsA.append(try await queue(server.api.services)) }
        let runB = try await queue(servicesB)
        let jobs = LevyServer.backgroundJobs(server.api.services, logger: Logger(label: "test"))
        let runner = try #require(jobs.compactMap { $0 as? BackgroundJobService }.first { $0.name == "reconciliation runs" })
        // One pass: A's oldest run and B's only one, not A's whole queue first.
        #expect(try await runner.runQueued() == 2)
        #expect(try await status(servicesB, runB) == "succeeded")
        #expect(try await status(server.api.services, runsA[0]) == "succeeded")
        #expect(try await status(server.api.services, runsA[1]) == "queued")
        // The next passes (a merchant that had work is looked at again after a second) take A's others in turn.
        for _ in 0..<2 {
            try await Task.sleep(for: .milliseconds(1_100))
            #expect(try await runner.runQueued() == 1)
        }
        #expect(try await status(server.api.services, runsA[2]) == "succeeded")
    }

    /// Counts the orders a seeding run has made durable so far.
    final class Progress: Sendable {
        private let count = Mutex(0)
        func add() { count.withLock { $0 += 1 } }
        var value: Int { count.withLock { $0 } }
    }

    /// On both stores. SQLite's fsync'd commits run on the connection's own queue, so a thousand of them leave the
    /// other tests' in-process servers their threads (before that, they starved them into timeouts).
    @Test("an export of merchant A run while merchant B places 1,000 orders is complete and unaffected",
          arguments: Store.available)
    func exportWhileAnotherMerchantWrites(store: Store) async throws {
        let count = 1_000
        let server = try await TestServer.make(store, exports: true)
        let services = server.api.services
        _ = try await services.merchants.create(legalName: "Glow Med Spa LLC")
        let merchantB = try await services.merchants.create(legalName: "Radiance Skin Studio")
        let servicesB = try await services.scoped(to: merchantB.id)
        // The demo seed captures without a processor, as `levy demo seed` does: the same stores, no gateway.
        func seeding(_ orders: OrderService) -> OrderService {
            OrderService(database: orders.database, schema: orders.schema, tables: orders.tables, gateway: nil, keys: orders.keys)
        }
        _ = try await DemoSeed.run(service: seeding(services.orders), customers: services.customers, count: 40, seed: 7)
        let exporter = try #require(services.exports?.exporter)
        let everything = Exporter.Request(scope: ExportScope(from: TaxDate(iso: "2000-01-01")!, through: TaxDate(iso: "2099-12-31")!, personalData: false))
        let before = try await exporter.detail(everything, format: .csv, to: server.directory + "/before")

        // B writes; once its first order is durable, A's export runs beside the rest of B's writes (how far B gets
        // meanwhile depends on the machine's load, so it is not asserted; the export's result is).
        let progress = Progress()
        let writer = Task { try await DemoSeed.run(service: seeding(servicesB.orders), customers: servicesB.customers, count: count, seed: 8) { _ in progress.add() } }
        while progress.value == 0 { try await Task.sleep(for: .milliseconds(5)) }
        let during = try await exporter.detail(everything, format: .csv, to: server.directory + "/during")
        let report = try await writer.value
        #expect(report.orders == count)

        // Customers are pseudonymized afresh in each export; everything else is the same row for row.
        func rows(_ folder: String) throws -> String {
            try String(contentsOfFile: server.directory + "/" + folder + "/detail.csv", encoding: .utf8).replacing(/anon_[0-9a-f]+/, with: "anon")
        }
        #expect(try rows("during") == rows("before"), "A's export is the same whatever B does meanwhile")
        #expect(during.files.map(\.rows) == before.files.map(\.rows) && (before.files.first?.rows ?? 0) > 40)
        #expect(try await servicesB.orders.verifyLedger().brokenAt == nil)
        #expect(try await services.orders.verifyLedger().brokenAt == nil)
        #expect(Set(try await servicesB.orders.ledger().map(\.orderID)).count == count)
        #expect(Set(try await services.orders.ledger().map(\.orderID)).count == 40)
    }
}
