import Foundation
import HTTPTypes
import JSONInput
import Logging
import Orders
import Processors
import Vault

extension LevyAPI {
    /// Events from the payment processor. No API key: the request is authenticated by its signature, checked
    /// before anything is read or recorded.
    var webhookEndpoints: [Endpoint] {
        [
            Endpoint(method: .post, path: "/v1/webhooks/stripe", scopes: [], idempotency: .none) { call in
                guard let webhook = stripeWebhook else {
                    throw APIError.notFound("Stripe webhooks are not configured on this server (--stripe-webhook-secret-file)")
                }
                let event: StripeEvent
                do throws(StripeWebhookError) {
                    event = try webhook.verify(body: call.body, signatureHeader: call.headers[Self.stripeSignatureField], now: services.now())
                } catch {
                    if case .malformedEvent = error { throw APIError(.badRequest, "invalid_event", error.description) }
                    throw APIError(.badRequest, "invalid_signature", error.description, field: "Stripe-Signature")
                }
                // Signed is not well formed: the body is held to the I-JSON rules of the API's own bodies (probe #14: a
                // repeated member was read as one of its copies), with bounds wide enough for Stripe's events.
                do throws(JSONGuard.Failure) { try JSONGuard.check(call.body, limits: Self.webhookJSONLimits) } catch {
                    throw APIError(.badRequest, "invalid_event", error.message, field: error.path)
                }
                // No card number is kept outside the vault, even from a signed event (probe #10: an id and a payload
                // holding one were stored as sent): an id holding one is refused, and the stored payload has them
                // masked (it is kept for the record, never read back to apply the event).
                if CardNumberMask.containsCardNumber(event.id) {
                    throw APIError(.badRequest, "invalid_event", "the event's id holds what looks like a card number", field: "id")
                }
                // So are the ids of its object (a refund's, a dispute's, the payment's), which are stored with the order
                // (probe #15: only the event's id was checked).
                if event.events.contains(where: { $0.ids.contains(where: CardNumberMask.containsCardNumber) }) {
                    throw APIError(.badRequest, "invalid_event", "an id in the event's object holds what looks like a card number", field: "data.object")
                }
                let payload = Self.recordedPayload(call.body)
                let recorded: RecordedEvent
                do {
                    // The event is the merchant's whose order holds its payment (the home merchant's when none does:
                    // recorded there as ignored, as any event about a payment Levy did not make).
                    let owner = try await merchantHolding(event.events.compactMap(\.payment))
                    recorded = try await owner.orders.record(processor: "stripe", eventID: event.id, type: event.type, payload: payload,
                                                             events: event.events)
                } catch OrderError.paymentInProgress {
                    // One of Levy's refunds of the order is under way: Stripe sends the event again later.
                    throw APIError(.serviceUnavailable, "try_later", "a payment step of this order is in progress; the event will be applied when it is sent again")
                }
                // The detail quotes the event's payment ids: a signed event naming a card number as one gets it masked.
                let detail = CardNumberMask.masked(recorded.detail)
                if recorded.outcome == .needsReview {
                    call.logger.warning("processor event needs review", metadata: ["event": "\(CardNumberMask.masked(recorded.id))", "detail": "\(detail)"])
                }
                return .json(WebhookReceipt(received: true, event: CardNumberMask.masked(recorded.id), outcome: recorded.outcome.rawValue, detail: detail))
            },
        ]
    }

    /// The event's body as it is kept, with card numbers masked. A number written with JSON escapes
    /// (`\u0034\u0032…`) is one to any reader of the payload but not to a search of its text (probe #15): when the
    /// decoded body holds one, the payload is kept as decoded and written again, masked.
    static func recordedPayload(_ body: [UInt8]) -> [UInt8] {
        let text = String(decoding: body, as: UTF8.self)
        if let object = try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed]),
           let rewritten = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed]) {
            let decoded = String(decoding: rewritten, as: UTF8.self)
            if CardNumberMask.containsCardNumber(decoded) { return Array(CardNumberMask.maskingCardNumbers(decoded).utf8) }
        }
        return Array(CardNumberMask.maskingCardNumbers(text).utf8)
    }

    static let stripeSignatureField = HTTPField.Name("Stripe-Signature")!
    /// Stripe's events nest a few levels and may carry long texts (a dispute's evidence); the body itself is held to
    /// the API's 1 MiB.
    static let webhookJSONLimits = JSONGuard.Limits(maxDepth: 32, maxStringBytes: 65_536, maxElements: 100_000, maxNumberLength: 32)

    /// The services of the merchant whose orders were paid with one of `payments`: one indexed query per merchant
    /// until one answers (a processor's event names a payment, not a merchant).
    func merchantHolding(_ payments: [String]) async throws -> LevyServices {
        guard !payments.isEmpty else { return services }
        for merchant in try await services.everyMerchant() {
            for payment in payments where try await merchant.orders.holdsPayment(payment) { return merchant }
        }
        return services
    }
}

struct WebhookReceipt: Encodable {
    var received: Bool
    var event: String
    var outcome: String
    var detail: String
}
