import Foundation
import HTTPTypes
import Orders
import Vault

extension LevyAPI {
    /// Gift cards: a balance asked by code (the code travels in a body, never in a URL), a card's ledger by id, and
    /// a new code for a lost one. Selling and spending them are order operations.
    var giftCardEndpoints: [Endpoint] {
        [
            Endpoint(method: .post, path: "/v1/gift-cards/balance", scopes: [.checkout], idempotency: .none) { call in
                let body = try call.decode(GiftCardCodeBody.self)
                return .json(GiftCardOut(try await limitingGuesses(call) { try await services.orders.giftCard(code: body.code) }))
            },
            Endpoint(method: .get, path: "/v1/gift-cards/{gift_card_id}", scopes: [.accountant, .admin], idempotency: .none) { call in
                let id = try Self.giftCardID(call.parameter("gift_card_id"))
                let card = try await services.orders.giftCard(id: id)
                return .json(GiftCardOut(card, entries: try await services.orders.giftCardEntries(id: id)))
            },
            Endpoint(method: .post, path: "/v1/gift-cards/{gift_card_id}/reissue", scopes: [.admin], idempotency: .optional) { call in
                _ = try call.decodeOptional(EmptyBody.self)
                let reissued = try await services.orders.reissue(giftCard: try Self.giftCardID(call.parameter("gift_card_id")))
                var reply = APIReply.json(GiftCardOut(reissued.card, code: reissued.code), status: .created)
                reply.storedBody = JSONBody.encode(GiftCardOut(reissued.card))
                return reply
            },
        ]
    }

    /// Runs a step that looks gift cards up by code (`field` names where the request put them), counting unknown
    /// codes against the API key like failed authentications: a key that sent too many in the last minute gets 429
    /// before any lookup, so guessing codes (75 random bits each) stays slow as well as hopeless. Only steps that
    /// look a code up are held back: an order without gift cards goes on (probe #6: a public balance form's bad
    /// codes stopped its storefront's checkout for a minute).
    func limitingGuesses<T>(_ call: APICall, field: String = "code", _ body: () async throws -> T) async throws -> T {
        let subject = "gift-card:" + (call.key?.id ?? "")
        if let wait = failedAuth.retryAfter(subject) { throw Throttled(seconds: wait, giftCardCodes: true, codeField: field) }
        do { return try await body() } catch GiftCardError.unknown(let index) {
            failedAuth.recordFailure([subject])
            throw GiftCardError.unknown(index: index)
        }
    }

    /// A gift card id as Levy makes them (`gc_` and base32), or a 404 that does not echo what was sent.
    static func giftCardID(_ text: String) throws -> String {
        guard text.hasPrefix("gc_"), (4...40).contains(text.utf8.count),
              text.utf8.dropFirst(3).allSatisfy({ ($0 >= 97 && $0 <= 122) || ($0 >= 50 && $0 <= 55) }) else {
            throw APIError.notFound("no such gift card", field: "gift_card_id")
        }
        return text
    }
}
