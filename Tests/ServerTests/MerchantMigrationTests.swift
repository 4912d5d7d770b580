import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Merchants
import Orders
import Server
import LevyTestSupport
import Testing
import Vault

/// A store made by the release before there were several merchants (Fixtures/stores/release-880e7df, made with that
/// release's `levy demo seed`) opens under this one with every record, key and token its home merchant's; a second
/// merchant made afterwards starts empty and cannot reach them.
@Suite struct MerchantMigrationTests {
    static let fixture = TestServer.repository + "/Fixtures/stores/release-880e7df"
    static let oldKey = "lvk_k6yjrttil6y74_niqnuwmwomc7t3jrn3kwsz3o4rsrfebl"
    static let oldToken = "tok_g252lg3hfuokmaqcb7qtywtc5d7xkzt2"
    static let home = "mer_s3fgdeki7sdcscdk"

    @Test("a previous release's store keeps its orders, ledger, keys and token with the home merchant; a new merchant sees none")
    func previousReleaseStoreBelongsToTheHomeMerchant() async throws {
        let directory = NSTemporaryDirectory() + "levy-migration-tests/" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for file in ["levy.sqlite", "vault.sqlite"] {
            try FileManager.default.copyItem(atPath: Self.fixture + "/" + file, toPath: directory + "/" + file)
        }
        let masterKey = try MasterKey.load(file: Self.fixture + "/vault-master.key")
        let services = try await LevyServices.open(store: .sqlite(database: directory + "/levy.sqlite", vault: directory + "/vault.sqlite"),
                                                   tables: TestServer.tables, tableStore: nil, masterKey: masterKey)
        // The profile made before is the home merchant; the old ledger is intact and whole.
        #expect(try await services.merchants.first()?.id == MerchantID(Self.home))
        #expect(try await services.merchants.namespace(of: MerchantID(Self.home)) == "")
        let verification = try await services.orders.verifyLedger()
        #expect(verification.brokenAt == nil && verification.entries == 371, "\(verification)")
        let oldOrders = try await services.orders.reader.searchOrders(OrderReader.OrderSearch(), limit: 100)
        #expect(oldOrders.count == 30)
        let key = try #require(try await services.keys.authenticate(Self.oldKey))
        #expect(key.merchant == nil, "a key made before merchants belongs to the home merchant")

        let api = LevyAPI(services: services, openAPI: try OpenAPIDocument(contentsOf: TestServer.repository + "/Sources/Server/openapi.yaml"))
        try await Application(router: api.router()).test(.router) { client in
            let order = try #require(oldOrders.first)
            #expect(try await client.send(.get, "/v1/orders/\(order.id)", key: Self.oldKey).status == 200)
            #expect(try await client.send(.get, "/v1/tokens/\(Self.oldToken)", key: Self.oldKey).status == 200)
            let profile = try await client.send(.get, "/v1/merchants", key: Self.oldKey)
            #expect((profile.json["merchants"] as? [[String: Any]])?.first?["id"] as? String == Self.home)

            // A second merchant, made by the operator, with a key of its own: nothing of the home merchant's shows.
            let second = try await services.merchants.create(legalName: "Radiance Skin Studio")
            let secondKey = try await services.keys.create(label: "second", scopes: [.checkout, .accountant], merchant: second.id).secret
            #expect(try await client.send(.get, "/v1/orders/\(order.id)", key: secondKey).status == 404)
            #expect(try await client.send(.get, "/v1/tokens/\(Self.oldToken)", key: secondKey).status == 404)
            let ledger = try await client.send(.get, "/v1/ledger?limit=10", key: secondKey)
            #expect((ledger.json["entries"] as? [Any])?.isEmpty == true, "\(ledger.text)")
            #expect(try await client.send(.get, "/v1/orders/\(order.id)", key: Self.oldKey).status == 200)
        }
    }

    @Test("installation settings reach every merchant's orders, and the home merchant's copy from another merchant's services")
    func settingsReachEveryMerchant() async throws {
        let directory = NSTemporaryDirectory() + "levy-migration-tests/" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let services = try await LevyServices.open(store: .sqlite(database: directory + "/levy.sqlite", vault: directory + "/vault.sqlite"),
                                                   tables: TestServer.tables, tableStore: nil,
                                                   masterKey: try MasterKey(bytes: Array(repeating: 3, count: 32)), giftCardRefunds: .paymentCardFirst)
        _ = try await services.merchants.create(legalName: "Home Spa")
        let second = try await services.merchants.create(legalName: "Second Spa")
        let other = try await services.scoped(to: second.id)
        #expect(other.merchant == second.id && other.orders.schema == second.id.value + "_orders")
        let backToHome = try await other.scoped(to: nil)
        #expect(backToHome.merchant == nil && backToHome.orders.schema == "orders")
        for merchant in try await services.everyMerchant() + [other, backToHome] {
            #expect(merchant.orders.giftCardRefundPolicy == .paymentCardFirst)
        }
    }
}
