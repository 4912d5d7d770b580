import Crypto
import Foundation
import JSONInput
import Storage
import HTTPTypes
import Merchants
import Orders
import QuoteContract
import TaxCore
import Vault

extension LevyAPI {
    /// Tax quotes: the same contract as `levy quote` (docs/quote-contract.md).
    var quoteEndpoints: [Endpoint] {
        [
            Endpoint(method: .post, path: "/v1/quotes", scopes: [.checkout], idempotency: .none) { call in
                let profile = try await profiles.current(services)
                let request = applyingProfile(try QuoteCodec.decodeRequest(Data(call.body), locations: profile.locations,
                                                                           placesOfBusiness: profile.placesOfBusiness,
                                                                           defaultRounding: profile.merchant?.rounding ?? .sst), profile)
                let started = ContinuousClock.now
                let quote = try calculator.quote(request)
                services.metrics.quote(duration: ContinuousClock.now - started)
                return APIReply(status: .ok, body: QuoteCodec.encodeCompact(quote))
            },
        ]
    }

    /// Orders: placed once per idempotency key, authorized through the vault, captured, completed, voided, refunded.
    var orderEndpoints: [Endpoint] {
        [
            Endpoint(method: .post, path: "/v1/orders", scopes: [.checkout], idempotency: .required) { call in
                try await placeOrder(call)
            },
            Endpoint(method: .get, path: "/v1/orders/{order_id}", scopes: [.checkout, .accountant, .reconciler], idempotency: .none) { call in
                try await orderReply(try await services.orders.order(OrderID(call.parameter("order_id"))))
            },
            Endpoint(method: .post, path: "/v1/orders/{order_id}/authorize", scopes: [.checkout], idempotency: .optional) { call in
                let body = try call.decode(AuthorizeBody.self)
                let token: Token
                do { token = try await knownToken(body.paymentToken) } catch {
                    // An order that is not this merchant's is 404 whatever the body says: the path is checked first.
                    _ = try await services.orders.order(OrderID(call.parameter("order_id")))
                    throw error
                }
                return try await orderReply(try await services.orders.authorize(OrderID(call.parameter("order_id")), token: token))
            },
            Endpoint(method: .post, path: "/v1/orders/{order_id}/capture", scopes: [.checkout], idempotency: .optional) { call in
                _ = try call.decodeOptional(EmptyBody.self)
                // The gift cards the capture issued come back with their codes, this once; a replay gets them without.
                let captured = try await services.orders.capture(OrderID(call.parameter("order_id")))
                var reply = try await orderReply(captured, showingCodes: true)
                if !captured.issuedGiftCards.isEmpty { reply.storedBody = try await orderReply(captured).body }
                return reply
            },
            Endpoint(method: .post, path: "/v1/orders/{order_id}/void", scopes: [.checkout], idempotency: .optional) { call in
                _ = try call.decodeOptional(EmptyBody.self)
                return try await orderReply(try await services.orders.void(OrderID(call.parameter("order_id"))))
            },
            Endpoint(method: .post, path: "/v1/orders/{order_id}/complete", scopes: [.checkout], idempotency: .optional) { call in
                _ = try call.decodeOptional(EmptyBody.self)
                return try await orderReply(try await services.orders.complete(OrderID(call.parameter("order_id"))))
            },
            Endpoint(method: .post, path: "/v1/orders/{order_id}/refunds", scopes: [.checkout], idempotency: .required) { call in
                let body = try call.decodeOptional(RefundBody.self)
                let request: RefundRequest
                switch (body.lines, body.amount) {
                case (nil, nil): request = .full
                case (let lines?, nil):
                    guard !lines.isEmpty else { throw APIError.invalid("lines", "list at least one line, or leave lines out to refund everything") }
                    request = .lines(lines.map { RefundLine(line: $0.line, quantity: $0.quantity) })
                case (nil, let text?):
                    // The amount forms' own words (a long value is not repeated: the card-number mask would hide it).
                    do { request = .amount(try Money.parseInput(text).minorUnits) } catch { throw APIError.invalid("amount", "\(error)") }
                default: throw APIError.invalid("amount", "give lines or amount, not both")
                }
                let refund: Refund
                do {
                    refund = try await services.orders.refund(OrderID(call.parameter("order_id")), request,
                                                              idempotencyKey: call.idempotencyKey ?? "", requestHash: Self.digest(call.body))
                } catch OrderError.invalidRefund(let why, "") where body.lines != nil || body.amount != nil {
                    // A refusal that concerns the request as a whole names the part that was sent.
                    throw OrderError.invalidRefund(why, field: body.lines != nil ? "lines" : "amount")
                }
                return .json(RefundOut(refund), status: .created)
            },
        ]
    }

    func placeOrder(_ call: APICall) async throws -> APIReply {
        let body = try call.decode(PlaceOrderBody.self)
        var request: QuoteRequest
        let profile = try await profiles.current(services)
        do {
            request = try QuoteCodec.decodeRequest(try Self.member("order", of: call.body), locations: profile.locations,
                                                   placesOfBusiness: profile.placesOfBusiness, defaultRounding: profile.merchant?.rounding ?? .sst)
        } catch let error as ContractError {
            throw ContractError(error.code, field: error.field.isEmpty ? "order" : "order." + error.field, error.message)
        }
        var billing: BillingAddress?
        if let customerText = body.customerID {
            let customerID = CustomerID(customerText)
            guard request.billing == nil else {
                throw APIError.invalid("order.billing", "with a customer_id the billing address comes from the customer's record; leave it out")
            }
            guard try await !services.customers.customer(customerID).erased else { throw CustomerError.erased }
            do {
                billing = try await services.customers.billingAddress(customerID, version: body.billingVersion)
            } catch CustomerError.unknownAddressVersion where body.billingVersion == nil {
                // An order keeps the customer through the address it was taxed on (probe #15: this was a 404 naming
                // `billing_version`, which the client had not sent).
                throw APIError.invalid("customer_id", "the customer has no billing address: add one (POST /v1/customers/{id}/addresses) or place the order without customer_id")
            }
            request.billing = billing?.address
        } else if body.billingVersion != nil {
            throw APIError.invalid("billing_version", "a billing version needs a customer_id")
        }
        request = applyingProfile(request, profile)
        var token: Token?
        if let text = body.paymentToken { token = try await knownToken(text) }
        let place = {
            try await services.orders.place(request, idempotencyKey: call.idempotencyKey ?? "", requestHash: Self.digest(call.body),
                                            paymentToken: token, customer: billing, giftCards: body.giftCards)
        }
        let order = body.giftCards.isEmpty ? try await place() : try await limitingGuesses(call, field: "gift_cards", place)
        if let state = order.lines.first?.sourcedTo.split(separator: " ").first { services.metrics.orderPlaced(state: String(state)) }
        // An erasure that ran while this order was being written may have looked for the customer's orders before it
        // was committed; the erasure itself committed first, so it is seen here, and the order's addresses go too.
        if let customer = billing?.customerID, try await services.customers.customer(customer).erased {
            try await services.orders.eraseAddresses(of: customer)
        }
        var reply = try await orderReply(order)
        reply.status = .created
        return reply
    }

    /// A payment token that names a card in the vault (checked before anything is written).
    func knownToken(_ text: String) async throws -> Token {
        guard let token = Token(text) else { throw APIError.invalid("payment_token", "not a vault token (tok_…)") }
        do { _ = try await services.vault.card(token) } catch VaultError.unknownToken {
            throw APIError.invalid("payment_token", "no card in the vault has this token")
        }
        return token
    }

    /// The order as the API shows it; `showingCodes`: with the codes of the gift cards it just issued (the capture's
    /// own answer, the only time they are shown).
    func orderReply(_ order: Order, showingCodes: Bool = false) async throws -> APIReply {
        // Vouchers, entitlements and gift cards are issued at capture: an order not yet captured has none to read.
        let issued: Set<OrderStatus> = [.captured, .completed, .partiallyRefunded, .refunded]
        let vouchers = issued.contains(order.status) ? try await services.orders.vouchers(of: order.id) : []
        let entitlements = issued.contains(order.status) ? try await services.orders.entitlements(of: order.id) : []
        var giftCards: [GiftCardOut] = []
        if showingCodes {
            giftCards = order.issuedGiftCards.map { GiftCardOut($0.card, code: $0.code) }
        } else if issued.contains(order.status), order.lines.contains(where: { $0.code == .giftCard }) {
            giftCards = try await services.orders.giftCards(issuedBy: order.id).map { GiftCardOut($0) }
        }
        return .json(OrderOut(order, vouchers: vouchers, entitlements: entitlements, issued: giftCards, now: services.now()),
                     resource: order.customerID?.value)
    }

    /// The raw JSON of one member of the body's top-level object, exactly as the caller sent it (the body has passed
    /// `JSONGuard`, so it is well-formed and names each member once).
    static func member(_ name: String, of body: [UInt8]) throws -> Data {
        guard let range = JSONMember.range(of: name, in: body) else { throw APIError.missing(name) }
        guard body[range.lowerBound] == UInt8(ascii: "{") else {
            throw ContractError(.invalidJSON, field: "", "the request is not a JSON object")
        }
        return Data(body[range])
    }

    static func digest(_ bytes: [UInt8]) -> String { hexString(SHA256.hash(data: bytes)) }
}

/// A body that must be empty or `{}`.
struct EmptyBody: Decodable {
    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: AnyCodingKey.self)
        if let key = container.allKeys.first { throw UnknownField(path: [key], allowed: []) }
    }
}
