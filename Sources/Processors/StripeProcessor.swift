import Foundation
import NIOHTTP1
import TaxCore
import Vault

/// A Stripe secret key, read from a file (never from the command line) and never printed: its description is
/// redacted, and no error, log line or response of Levy's carries it.
public struct StripeSecretKey: Sendable, CustomStringConvertible {
    let value: String

    /// Reads the key from `path`: one line, `sk_…` or `rk_…` (a restricted key), letters, digits and `_` only.
    public init(file path: String) throws(StripeError) {
        guard let data = FileManager.default.contents(atPath: path), data.count <= 1_024 else { throw .unreadableKeyFile(path) }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        try self.init(text, source: path)
    }

    init(_ text: String, source: String) throws(StripeError) {
        guard text.hasPrefix("sk_") || text.hasPrefix("rk_"), StripeProcessor.isStripeID(text, lengths: 8...256) else {
            throw .malformedKey(source)
        }
        value = text
    }

    public var description: String { String(value.prefix(8)) + "…(redacted)" }
}

/// Why a Stripe call has no answer Levy can act on. A decline is not an error: it is a `ProcessorResult`.
public enum StripeError: Error, Sendable, Equatable, CustomStringConvertible {
    case unreadableKeyFile(String)
    case malformedKey(String)
    case invalidBaseURL(String)
    /// Stripe refused the key (401 or 403): a configuration fault, not the buyer's.
    case keyRefused(status: Int)
    /// A retried call whose parameters differ from the first one under the same idempotency key (Stripe's
    /// `idempotency_error`): the first call may have moved money, so nothing is guessed; see docs/payments.md.
    case idempotencyConflict(operation: String)
    /// No answer after every attempt (network failures, timeouts, 429 and 5xx): the call may or may not have been
    /// acted on; a later retry with the same idempotency key finds out.
    case unavailable(operation: String, attempts: Int, last: String)
    /// An answer Levy cannot read (not Stripe's JSON, or an object in an unexpected state).
    case unexpectedAnswer(operation: String, status: Int, detail: String)

    public var description: String {
        switch self {
        case .unreadableKeyFile(let path): "the Stripe secret key file \(path) cannot be read (or is over 1 KiB)"
        case .malformedKey(let source): "\(source) does not hold a Stripe secret key (sk_… or rk_…, letters, digits and _)"
        case .invalidBaseURL(let url): "the Stripe base URL \(url) is not http(s)://host[:port][/path]"
        case .keyRefused(let status): "Stripe refused the secret key (HTTP \(status))"
        case .idempotencyConflict(let operation): "Stripe refused a retried \(operation): its idempotency key was used with other parameters"
        case .unavailable(let operation, let attempts, let last): "Stripe gave no answer to \(operation) after \(attempts) attempts (last: \(last))"
        case .unexpectedAnswer(let operation, let status, let detail): "unexpected answer from Stripe to \(operation) (HTTP \(status)): \(detail)"
        }
    }
}

/// `PaymentProcessor` over Stripe's REST API: a PaymentMethod made from the card the vault reveals (with the
/// billing address, for AVS, and the security code when the vault still holds it), a PaymentIntent confirmed at
/// once with manual capture (the authorization), `capture` with `amount_to_capture`, `cancel` (the void) and
/// refunds against the PaymentIntent. Amounts are minor units. Every creating call carries an `Idempotency-Key`
/// derived from Levy's own key for the step, so that a retry (after a dropped connection, or on resume after a
/// crash) is answered with the first call's result and nothing is authorized, captured or refunded twice.
///
/// Network failures, timeouts, 429 and 5xx are retried with exponential backoff and jitter under the same key,
/// then reported as `StripeError.unavailable`; a decline (402, or a PaymentIntent that is not `requires_capture`)
/// is a declined `ProcessorResult` with Stripe's `decline_code` kept.
public struct StripeProcessor: PaymentProcessor {
    /// The API version Levy's requests and its reading of the answers were written against.
    public static let apiVersion = "2024-06-20"

    public struct RetryPolicy: Sendable {
        public var attempts: Int
        public var firstDelay: Duration
        public var maxDelay: Duration
        public init(attempts: Int = 4, firstDelay: Duration = .milliseconds(250), maxDelay: Duration = .seconds(4)) {
            self.attempts = max(1, attempts)
            self.firstDelay = firstDelay
            self.maxDelay = maxDelay
        }
    }

    let client: ProcessorHTTPClient
    let key: StripeSecretKey
    let retry: RetryPolicy

    public init(key: StripeSecretKey, baseURL: String = "https://api.stripe.com", timeout: Duration = .seconds(30),
                retry: RetryPolicy = RetryPolicy()) throws {
        guard let endpoint = ProcessorEndpoint(url: baseURL) else { throw StripeError.invalidBaseURL(baseURL) }
        self.client = try ProcessorHTTPClient(endpoint: endpoint, timeout: timeout)
        self.key = key
        self.retry = retry
    }

    public var endpoint: ProcessorEndpoint { client.endpoint }

    // MARK: - The four calls

    public func authorize(_ card: RevealedCard, amount: Money, reference: String, billing: BillingDetails?,
                          idempotencyKey: String) async throws -> ProcessorResult {
        var method = FormBody()
        method.add("type", "card")
        method.add("card[number]", card.digitsForProcessor)
        method.add("card[exp_month]", String(card.expiry.month))
        method.add("card[exp_year]", String(card.expiry.year))
        method.add("card[cvc]", card.securityCode)
        if let billing {
            method.add("billing_details[address][line1]", billing.line1.isEmpty ? nil : billing.line1)
            method.add("billing_details[address][city]", billing.city.isEmpty ? nil : billing.city)
            method.add("billing_details[address][state]", billing.state)
            method.add("billing_details[address][postal_code]", billing.postalCode)
            method.add("billing_details[address][country]", billing.country)
        }
        let created = try await call("authorize", "/v1/payment_methods", method, idempotencyKey: idempotencyKey + ":payment_method")
        if let declined = Self.decline(created, amount: amount) { return declined }
        let paymentMethod: StripeObject = try Self.object(created, "authorize")

        var intent = FormBody()
        intent.add("amount", String(amount.minorUnits))
        intent.add("currency", amount.currency.code.lowercased())
        intent.add("payment_method", paymentMethod.id)
        intent.add("payment_method_types[]", "card")
        intent.add("capture_method", "manual")
        intent.add("confirm", "true")
        intent.add("metadata[levy_reference]", reference)
        let answer = try await call("authorize", "/v1/payment_intents", intent, idempotencyKey: idempotencyKey + ":payment_intent")
        if let declined = Self.decline(answer, amount: amount) { return declined }
        let paymentIntent: StripeObject = try Self.object(answer, "authorize")
        switch paymentIntent.status {
        case "requires_capture":
            return ProcessorResult(id: paymentIntent.id, outcome: .approved, amount: Money(minorUnits: paymentIntent.amount ?? amount.minorUnits, currency: amount.currency))
        case "requires_action":
            // Levy has no step for the buyer to authenticate (3-D Secure): the card is declined for this checkout.
            return ProcessorResult(id: paymentIntent.id, outcome: .declined, declineReason: .declined, amount: amount, processorCode: "authentication_required")
        default:
            return ProcessorResult(id: paymentIntent.id, outcome: .declined, declineReason: .declined, amount: amount,
                                   processorCode: paymentIntent.lastPaymentError?.declineCode ?? paymentIntent.lastPaymentError?.code ?? paymentIntent.status)
        }
    }

    public func capture(authorization: String, amount: Money, idempotencyKey: String) async throws -> ProcessorResult {
        guard let path = Self.objectPath("/v1/payment_intents/", authorization, "/capture") else {
            return ProcessorResult(id: authorization, outcome: .declined, declineReason: .invalidRequest, amount: amount)
        }
        var body = FormBody()
        body.add("amount_to_capture", String(amount.minorUnits))
        let answer = try await call("capture", path, body, idempotencyKey: idempotencyKey)
        if let declined = Self.decline(answer, amount: amount) { return declined }
        let paymentIntent: StripeObject = try Self.object(answer, "capture")
        guard paymentIntent.status == "succeeded" else {
            return ProcessorResult(id: paymentIntent.id, outcome: .declined, declineReason: .invalidRequest, amount: amount, processorCode: paymentIntent.status)
        }
        // Refunds are made against the PaymentIntent, so it is also the capture's id.
        return ProcessorResult(id: paymentIntent.id, outcome: .approved, amount: amount)
    }

    public func void(authorization: String, idempotencyKey: String) async throws -> ProcessorResult {
        guard let path = Self.objectPath("/v1/payment_intents/", authorization, "/cancel") else {
            return ProcessorResult(id: authorization, outcome: .declined, declineReason: .invalidRequest, amount: .zero())
        }
        let answer = try await call("void", path, FormBody(), idempotencyKey: idempotencyKey)
        if let declined = Self.decline(answer, amount: .zero()) { return declined }
        let paymentIntent: StripeObject = try Self.object(answer, "void")
        guard paymentIntent.status == "canceled" else {
            return ProcessorResult(id: paymentIntent.id, outcome: .declined, declineReason: .invalidRequest, amount: .zero(), processorCode: paymentIntent.status)
        }
        return ProcessorResult(id: paymentIntent.id, outcome: .approved, amount: Money(minorUnits: paymentIntent.amount ?? 0))
    }

    public func refund(capture: String, amount: Money, idempotencyKey: String) async throws -> ProcessorResult {
        guard Self.objectPath("/v1/payment_intents/", capture, "") != nil else {
            return ProcessorResult(id: capture, outcome: .declined, declineReason: .invalidRequest, amount: amount)
        }
        var body = FormBody()
        body.add("payment_intent", capture)
        body.add("amount", String(amount.minorUnits))
        let answer = try await call("refund", "/v1/refunds", body, idempotencyKey: idempotencyKey)
        if let declined = Self.decline(answer, amount: amount) { return declined }
        let refund: StripeObject = try Self.object(answer, "refund")
        guard refund.status == "succeeded" || refund.status == "pending" else {
            return ProcessorResult(id: refund.id, outcome: .declined, declineReason: .processingError, amount: amount, processorCode: refund.status)
        }
        return ProcessorResult(id: refund.id, outcome: .approved, amount: Money(minorUnits: refund.amount ?? amount.minorUnits, currency: amount.currency))
    }

    // MARK: - Requests, retries, answers

    struct Answer {
        var status: Int
        var body: [UInt8]
    }

    /// POSTs `body` with the secret key and the idempotency key; retries what may succeed on a second try.
    func call(_ operation: String, _ path: String, _ body: FormBody, idempotencyKey: String) async throws -> Answer {
        let headers = [
            ("Authorization", "Bearer " + key.value),
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Idempotency-Key", String(idempotencyKey.prefix(255))),
            ("Stripe-Version", Self.apiVersion),
            ("User-Agent", "Levy"),
        ]
        let bytes = body.bytes
        var delay = retry.firstDelay
        var last = ""
        for attempt in 1...retry.attempts {
            if attempt > 1 {
                // Full jitter: spread retries of many orders so they do not arrive together.
                let jittered = Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18
                try await Task.sleep(for: .seconds(Double.random(in: jittered / 2...jittered)))
                delay = min(delay * 2, retry.maxDelay)
            }
            let response: ProcessorHTTPResponse
            do {
                response = try await client.send(.POST, path, headers: headers, body: bytes)
            } catch let error as ProcessorHTTPError {
                last = error.description
                continue
            }
            let shouldRetry = response.headers.first(name: "Stripe-Should-Retry")
            switch response.status {
            case 401, 403:
                throw StripeError.keyRefused(status: response.status)
            case 409 where shouldRetry != "false", 429 where shouldRetry != "false", 500...599 where shouldRetry != "false":
                last = "HTTP \(response.status)"
                continue
            default:
                if Self.errorType(response.body) == "idempotency_error" { throw StripeError.idempotencyConflict(operation: operation) }
                return Answer(status: response.status, body: response.body)
            }
        }
        throw StripeError.unavailable(operation: operation, attempts: retry.attempts, last: last)
    }

    /// The parts of Stripe's objects Levy reads (PaymentMethod, PaymentIntent, Refund).
    struct StripeObject: Decodable {
        var id: String
        var status: String?
        var amount: Int64?
        var lastPaymentError: PaymentError?

        enum CodingKeys: String, CodingKey { case id, status, amount, lastPaymentError = "last_payment_error" }
    }

    struct PaymentError: Decodable {
        var type: String?
        var code: String?
        var declineCode: String?
        var charge: String?
        var paymentIntent: Reference?

        enum CodingKeys: String, CodingKey { case type, code, charge, declineCode = "decline_code", paymentIntent = "payment_intent" }
    }

    struct Reference: Decodable { var id: String }
    struct ErrorEnvelope: Decodable { var error: PaymentError }

    static func object(_ answer: Answer, _ operation: String) throws -> StripeObject {
        guard (200...299).contains(answer.status) else {
            throw StripeError.unexpectedAnswer(operation: operation, status: answer.status, detail: errorType(answer.body) ?? "no error object")
        }
        do {
            return try JSONDecoder().decode(StripeObject.self, from: Data(answer.body))
        } catch {
            throw StripeError.unexpectedAnswer(operation: operation, status: answer.status, detail: "not a Stripe object")
        }
    }

    static func errorType(_ body: [UInt8]) -> String? {
        (try? JSONDecoder().decode(ErrorEnvelope.self, from: Data(body)))?.error.type
    }

    /// A declined result for a 402 (a card error) or a 4xx invalid request; nil for a success. The card's outcome
    /// is Stripe's `code`, refined by its `decline_code`.
    static func decline(_ answer: Answer, amount: Money) -> ProcessorResult? {
        guard !(200...299).contains(answer.status) else { return nil }
        let error = (try? JSONDecoder().decode(ErrorEnvelope.self, from: Data(answer.body)))?.error
        let id = error?.paymentIntent?.id ?? error?.charge ?? "stripe_error"
        let code = error?.code, declineCode = error?.declineCode
        let reason: ProcessorResult.DeclineReason
        if answer.status == 402 || error?.type == "card_error" {
            reason = declineReason(code: code, declineCode: declineCode)
        } else {
            reason = .invalidRequest
        }
        return ProcessorResult(id: id, outcome: .declined, declineReason: reason, amount: amount, processorCode: declineCode ?? code)
    }

    /// Stripe's card error codes (https://docs.stripe.com/declines/codes) in Levy's reasons.
    static func declineReason(code: String?, declineCode: String?) -> ProcessorResult.DeclineReason {
        for value in [declineCode, code].compactMap({ $0 }) {
            switch value {
            case "insufficient_funds": return .insufficientFunds
            case "expired_card": return .expiredCard
            case "incorrect_cvc", "invalid_cvc": return .incorrectSecurityCode
            case "processing_error", "issuer_not_available", "try_again_later", "reenter_transaction": return .processingError
            default: continue
            }
        }
        return .declined
    }

    /// `/v1/payment_intents/{id}/…` for a PaymentIntent id of Stripe's shape, nil for anything else (an id is put
    /// into a path, so nothing but letters, digits and `_` gets there).
    static func objectPath(_ prefix: String, _ id: String, _ suffix: String) -> String? {
        guard id.hasPrefix("pi_"), isStripeID(id) else { return nil }
        return prefix + id + suffix
    }

    /// Stripe's ids and keys: 4 to 255 ASCII letters, digits and `_`.
    static func isStripeID(_ id: String, lengths: ClosedRange<Int> = 4...255) -> Bool {
        lengths.contains(id.utf8.count) && id.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "_") }
    }
}
