import Foundation
import NIOCore
import TaxCore
import Testing
@testable import Processors
@testable import Vault

/// A revealed test card with a security code, from a real vault.
func revealedCard(_ number: String = "4242424242424242") async throws -> RevealedCard {
    let path = NSTemporaryDirectory() + "levy-processor-tests/" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    let vault = try await Vault.open(.init(databasePath: path + "/vault.sqlite", masterKey: try MasterKey(bytes: Array(repeating: 9, count: 32))))
    let caller = VaultCaller(id: "test", permissions: [.tokenize, .reveal])
    let record = try await vault.tokenize(number: number, expiry: 12, 2030, securityCode: "5926", caller: caller)
    return try await vault.revealForProcessor(record.token, caller: caller, purpose: "test")
}

let testKey = try! StripeSecretKey("sk_test_levy_local", source: "test")

@Suite("Stripe processor")
struct StripeProcessorTests {
    @Test("an authorization whose answer is lost is retried under the same idempotency keys: one payment intent, not two")
    func droppedConnectionIsRetriedOnce() async throws {
        let server = FlakyStripe()
        try await server.start()
        defer { Task { try await server.stop() } }
        // The payment method's answer is lost once, the payment intent's twice (a drop, then a 500).
        server.inject(.dropAfterActing, .late(.zero), .dropAfterActing, .serverError)
        let stripe = try StripeProcessor(key: testKey, baseURL: "http://127.0.0.1:\(server.port)",
                                         retry: .init(attempts: 4, firstDelay: .milliseconds(10)))
        let result = try await stripe.authorize(try await revealedCard(), amount: Money(minorUnits: 21_625), reference: "ord_1",
                                                billing: BillingDetails(line1: "800 Nicollet Mall", city: "Minneapolis", state: "MN", postalCode: "55402"),
                                                idempotencyKey: "authorize:ord_1:tok_1")
        #expect(result.outcome == .approved)
        #expect(result.id.hasPrefix("pi_"))
        #expect(result.amount.minorUnits == 21_625)
        #expect(server.created == ["payment_method": 1, "payment_intent": 1])
        let seen = server.seen
        // Two lost answers, one 500: five requests (more only if the loaded test machine lost another answer).
        #expect(seen.count >= 5)
        let intentKeys = Set(seen.filter { $0.path == "/v1/payment_intents" }.compactMap { $0.headers["idempotency-key"] })
        #expect(intentKeys == ["authorize:ord_1:tok_1:payment_intent"])
        // What went on the wire: the key as a bearer token, the API version, minor units, manual capture, AVS fields.
        let first = try #require(seen.first { $0.path == "/v1/payment_intents" })
        #expect(first.headers["authorization"] == "Bearer sk_test_levy_local")
        #expect(first.headers["stripe-version"] == StripeProcessor.apiVersion)
        #expect(first.body.contains("amount=21625") && first.body.contains("capture_method=manual") && first.body.contains("confirm=true"))
        let method = try #require(seen.first { $0.path == "/v1/payment_methods" })
        #expect(method.body.contains("billing_details%5Baddress%5D%5Bpostal_code%5D=55402"))
        #expect(method.body.contains("card%5Bcvc%5D=5926"))
    }

    @Test("no answer after every attempt is reported, never guessed; 429 and 500 are retried")
    func unavailableIsReported() async throws {
        let server = FlakyStripe()
        try await server.start()
        defer { Task { try await server.stop() } }
        server.inject(.tooManyRequests, .serverError, .serverError)
        let stripe = try StripeProcessor(key: testKey, baseURL: "http://127.0.0.1:\(server.port)",
                                         retry: .init(attempts: 3, firstDelay: .milliseconds(10)))
        let error = await #expect(throws: StripeError.self) {
            try await stripe.authorize(try await revealedCard(), amount: Money(minorUnits: 100), reference: "ord_2", billing: nil, idempotencyKey: "k2")
        }
        guard case .unavailable(let operation, let attempts, _) = error else { Issue.record("not unavailable: \(String(describing: error))"); return }
        #expect(operation == "authorize" && attempts == 3)
        #expect(server.seen.count == 3)
        #expect(server.created.isEmpty)

        // A server that answers too late is a timeout, retried, then reported.
        server.inject(.late(.seconds(2)), .late(.seconds(2)))
        let impatient = try StripeProcessor(key: testKey, baseURL: "http://127.0.0.1:\(server.port)", timeout: .milliseconds(300),
                                            retry: .init(attempts: 2, firstDelay: .milliseconds(10)))
        await #expect(throws: StripeError.unavailable(operation: "authorize", attempts: 2, last: ProcessorHTTPError.timedOut.description)) {
            try await impatient.authorize(try await revealedCard(), amount: Money(minorUnits: 100), reference: "ord_3", billing: nil, idempotencyKey: "k3")
        }

        // Nobody listening: a connection failure, reported as unavailable.
        let nowhere = try StripeProcessor(key: testKey, baseURL: "http://127.0.0.1:1", retry: .init(attempts: 2, firstDelay: .milliseconds(10)))
        await #expect(throws: StripeError.self) {
            try await nowhere.capture(authorization: "pi_123", amount: Money(minorUnits: 100), idempotencyKey: "k4")
        }
    }

    @Test("Stripe's card errors map to Levy's reasons and keep Stripe's decline code")
    func declinesAreMapped() {
        func decline(_ status: Int, _ json: String) -> ProcessorResult? {
            StripeProcessor.decline(.init(status: status, body: Array(json.utf8)), amount: Money(minorUnits: 500))
        }
        let insufficient = decline(402, #"{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","payment_intent":{"id":"pi_9"}}}"#)
        #expect(insufficient?.declineReason == .insufficientFunds && insufficient?.processorCode == "insufficient_funds" && insufficient?.id == "pi_9")
        #expect(decline(402, #"{"error":{"type":"card_error","code":"expired_card"}}"#)?.declineReason == .expiredCard)
        #expect(decline(402, #"{"error":{"type":"card_error","code":"incorrect_cvc"}}"#)?.declineReason == .incorrectSecurityCode)
        #expect(decline(402, #"{"error":{"type":"card_error","code":"processing_error"}}"#)?.declineReason == .processingError)
        let lost = decline(402, #"{"error":{"type":"card_error","code":"card_declined","decline_code":"lost_card"}}"#)
        #expect(lost?.declineReason == .declined && lost?.processorCode == "lost_card")
        #expect(decline(400, #"{"error":{"type":"invalid_request_error","code":"parameter_invalid_integer"}}"#)?.declineReason == .invalidRequest)
        #expect(decline(402, "not json")?.declineReason == .declined)
        #expect(decline(200, "{}") == nil)
    }

    @Test("ids that are not Stripe's payment intents never reach a URL path")
    func idsAreCheckedBeforeThePath() async throws {
        let stripe = try StripeProcessor(key: testKey, baseURL: "http://127.0.0.1:1")
        for id in ["../v1/refunds", "pi_1/../../x", "pi_1?x=1", "ch_123", "", "pi_" + String(repeating: "a", count: 300)] {
            let result = try await stripe.capture(authorization: id, amount: Money(minorUnits: 1), idempotencyKey: "k")
            #expect(result.outcome == .declined && result.declineReason == .invalidRequest)
        }
    }

    @Test("the secret key comes from a file, is checked, and never printed")
    func secretKeyFile() throws {
        let directory = NSTemporaryDirectory() + "levy-processor-tests/" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // The key file is the one place the key belongs; it goes when the test ends (the card-data scan looks for the key).
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "sk_test_levy_local\n".write(toFile: directory + "/key", atomically: true, encoding: .utf8)
        let key = try StripeSecretKey(file: directory + "/key")
        #expect(key.value == "sk_test_levy_local")
        #expect(!"\(key)".contains("levy_local"))
        try "pk_live_nope".write(toFile: directory + "/public", atomically: true, encoding: .utf8)
        #expect(throws: StripeError.malformedKey(directory + "/public")) { try StripeSecretKey(file: directory + "/public") }
        try "sk_test_a b".write(toFile: directory + "/spaced", atomically: true, encoding: .utf8)
        #expect(throws: StripeError.malformedKey(directory + "/spaced")) { try StripeSecretKey(file: directory + "/spaced") }
        #expect(throws: StripeError.unreadableKeyFile(directory + "/missing")) { try StripeSecretKey(file: directory + "/missing") }
        #expect(!StripeError.keyRefused(status: 401).description.contains("sk_"))
    }

    @Test("base URLs and form bodies")
    func endpointsAndForms() {
        #expect(ProcessorEndpoint(url: "https://api.stripe.com")?.description == "https://api.stripe.com")
        let local = ProcessorEndpoint(url: "http://127.0.0.1:8420/")
        #expect(local?.port == 8420 && local?.secure == false && local?.basePath == "")
        #expect(ProcessorEndpoint(url: "http://[::1]:8420")?.host == "::1")
        for bad in ["ftp://x", "https://user@host", "https://host:99999", "https://host/x?y", "https://", "https://ho st"] {
            #expect(ProcessorEndpoint(url: bad) == nil, "\(bad)")
        }
        var form = FormBody()
        form.add("card[number]", "4242 4242")
        form.add("metadata[note]", "a&b=c é")
        form.add("skipped", nil)
        #expect(String(decoding: form.bytes, as: UTF8.self) == "card%5Bnumber%5D=4242%204242&metadata%5Bnote%5D=a%26b%3Dc%20%C3%A9")
    }
}
