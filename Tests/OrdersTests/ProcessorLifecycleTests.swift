import Foundation
import NIOHTTP1
import Storage
import TaxCore
import LevyTestSupport
import Testing
@testable import Orders
@testable import Processors
@testable import Vault

/// The processors the payment lifecycle runs on: the built-in simulator always, Stripe's API when scripts/test has
/// started localstripe (LEVY_TEST_STRIPE_URL).
enum Processor: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case simulator, stripe

    static let stripeURL = ProcessInfo.processInfo.environment["LEVY_TEST_STRIPE_URL"]

    static var available: [Processor] { stripeURL == nil ? [.simulator] : [.simulator, .stripe] }

    var testDescription: String { rawValue }

    func make() throws -> any PaymentProcessor {
        switch self {
        case .simulator: SimulatedProcessor()
        case .stripe: try StripeProcessor(key: try StripeSecretKey("sk_test_levy_local", source: "test"), baseURL: Self.stripeURL!)
        }
    }

    /// Reads an object back from the Stripe-shaped server, to check what Levy did there.
    static func stripeObject(_ path: String) async throws -> [String: Any] {
        let client = try ProcessorHTTPClient(endpoint: ProcessorEndpoint(url: stripeURL!)!)
        let response = try await client.send(.GET, path, headers: [("Authorization", "Bearer sk_test_levy_local")], body: [])
        return try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
    }
}

@Suite("The payment lifecycle on every processor")
struct ProcessorLifecycleTests {
    static func token(_ vault: Vault, _ number: String = "4242424242424242") async throws -> Token {
        // localstripe takes a card only with a security code (scripts/localstripe-serve.py lets it take four digits).
        try await vault.tokenize(number: number, expiry: 12, 2030, securityCode: "5926", caller: VaultCaller(id: "checkout", permissions: [.tokenize])).token
    }

    static func request() -> QuoteRequest {
        var request = World.request()
        request.billing = Address(line1: "800 Nicollet Mall", city: "Minneapolis", state: StateCode("MN")!, zip: ZipCode("55402")!)
        return request
    }

    @Test("authorize with the billing address, capture, refund part then the rest: the processor holds the same amounts as the ledger",
          arguments: Store.available, Processor.available)
    func authorizeCaptureRefund(store: Store, processor: Processor) async throws {
        let (service, vault) = try await World.service(store, processor: try processor.make())
        let placed = try await service.place(Self.request(), idempotencyKey: "p", requestHash: "h", paymentToken: try await Self.token(vault))
        #expect(placed.status == .authorized)
        let authorization = try #require(placed.authorizationID)
        let captured = try await service.capture(placed.id)
        #expect(captured.status == .captured)
        let total = placed.totalAmount + placed.totalTax
        let partial = try await service.refund(placed.id, .lines([RefundLine(line: 2, quantity: 1)]), idempotencyKey: "r1", requestHash: "a")
        let rest = try await service.refund(placed.id, .full, idempotencyKey: "r2", requestHash: "b")
        #expect(partial.amount + partial.tax + rest.amount + rest.tax == total)
        let order = try await service.order(placed.id)
        #expect(order.status == .refunded)
        #expect(World.net(try await service.ledger()).values.allSatisfy { $0 == 0 })

        if processor == .stripe {
            let intent = try await Processor.stripeObject("/v1/payment_intents/\(authorization)")
            #expect(intent["status"] as? String == "succeeded")
            #expect((intent["amount"] as? Int).map(Int64.init) == total)
            #expect(intent["capture_method"] as? String == "manual")
            let method = try await Processor.stripeObject("/v1/payment_methods/\(try #require(intent["payment_method"] as? String))")
            let address = (method["billing_details"] as? [String: Any])?["address"] as? [String: Any]
            #expect(address?["postal_code"] as? String == "55402" && address?["state"] as? String == "MN")
            let refunds = try await Processor.stripeObject("/v1/refunds?payment_intent=\(authorization)")
            let amounts = (refunds["data"] as? [[String: Any]] ?? []).compactMap { $0["amount"] as? Int }.map(Int64.init)
            #expect(amounts.sorted() == [partial.amount + partial.tax, rest.amount + rest.tax].sorted())
        }
    }

    @Test("an order paid partly by gift card: the processor authorizes, captures and refunds the card's part only",
          arguments: Store.available, Processor.available)
    func giftCardPaysPart(store: Store, processor: Processor) async throws {
        let (service, vault) = try await World.service(store, processor: try processor.make())
        let sale = try await service.place(GiftCardWorld.sale(6_000), idempotencyKey: "g", requestHash: "h", paymentToken: try await Self.token(vault))
        let giftCard = try #require(try await service.capture(sale.id).issuedGiftCards.first)
        let placed = try await service.place(Self.request(), idempotencyKey: "p", requestHash: "h", paymentToken: try await Self.token(vault),
                                             giftCards: [GiftCardPayment(code: giftCard.code, amount: nil)])
        #expect(placed.giftCardAmount == 6_000 && placed.cardAmount == placed.totalAmount + placed.totalTax - 6_000)
        _ = try await service.capture(placed.id)
        // Payment card first: the card gets back what it paid in part, the gift card the rest of a full refund.
        var cardFirst = service
        cardFirst.giftCardRefundPolicy = .paymentCardFirst
        let refund = try await cardFirst.refund(placed.id, .full, idempotencyKey: "r", requestHash: "h")
        #expect(refund.giftCardAmount == 6_000)
        #expect(try await service.giftCard(code: giftCard.code).balance == 6_000)
        if processor == .stripe {
            let authorization = try #require(placed.authorizationID)
            let intent = try await Processor.stripeObject("/v1/payment_intents/\(authorization)")
            #expect((intent["amount"] as? Int).map(Int64.init) == placed.cardAmount)
            #expect(intent["status"] as? String == "succeeded")
            let refunds = try await Processor.stripeObject("/v1/refunds?payment_intent=\(authorization)")
            #expect((refunds["data"] as? [[String: Any]] ?? []).compactMap { $0["amount"] as? Int }.map(Int64.init) == [placed.cardAmount])
        }
    }

    @Test("a card declined when charged leaves the order declined; another card then authorizes it",
          arguments: Store.available, Processor.available)
    func declinedThenAnotherCard(store: Store, processor: Processor) async throws {
        let (service, vault) = try await World.service(store, processor: try processor.make())
        let placed = try await service.place(Self.request(), idempotencyKey: "d", requestHash: "h",
                                             paymentToken: try await Self.token(vault, "4000000000000341"))
        #expect(placed.status == .declined)
        #expect(placed.declineReason == "card_declined")
        await #expect(throws: OrderError.self) { try await service.capture(placed.id) }
        let authorized = try await service.authorize(placed.id, token: try await Self.token(vault))
        #expect(authorized.status == .authorized)
        #expect(try await service.capture(placed.id).status == .captured)
    }

    @Test("void after authorization: the hold is released at the processor and the order cannot be captured",
          arguments: Store.available, Processor.available)
    func void(store: Store, processor: Processor) async throws {
        let (service, vault) = try await World.service(store, processor: try processor.make())
        let placed = try await service.place(Self.request(), idempotencyKey: "v", requestHash: "h", paymentToken: try await Self.token(vault))
        let voided = try await service.void(placed.id)
        #expect(voided.status == .voided)
        await #expect(throws: OrderError.self) { try await service.capture(placed.id) }
        #expect(try await service.ledger().isEmpty)
        if processor == .stripe {
            let intent = try await Processor.stripeObject("/v1/payment_intents/\(try #require(placed.authorizationID))")
            #expect(intent["status"] as? String == "canceled")
        }
    }
}
