import Foundation
import HTTPTypes
import JSONInput
import Merchants
import Orders
import Processors
import QuoteContract
import Storage
import TaxCore
import Vault

/// An error as the API shows it: a status, a stable machine-readable code, a message and the field at fault.
/// Domain errors stay in their modules; `APIError.from` is the one place that decides how each one looks over HTTP.
public struct APIError: Error, Sendable, Equatable {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    public var field: String
    /// For a 429: seconds until the client may try again (sent as `Retry-After`).
    public var retryAfter: Int?

    /// The message and field are shown to the client and logged: a card number in them (an unknown member named
    /// with one) is masked (`CardNumberMask`).
    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String, field: String = "") {
        self.status = status
        self.code = code
        self.message = CardNumberMask.masked(message)
        self.field = CardNumberMask.masked(field)
    }

    /// A refusal that says "not now" rather than "no": a server error, a 429, a payment step another caller is
    /// running (409 `payment_in_progress`: "retry shortly"), or anything with `Retry-After`. An idempotency key does
    /// not keep it, or its retry would be told the same for a day.
    var isForNow: Bool {
        status.code >= 500 || status == .tooManyRequests || code == "payment_in_progress" || retryAfter != nil
    }

    /// A full job queue: 429 with a `Retry-After` of 10 seconds, the time a small job takes.
    static func queueFull(_ code: String, _ message: String) -> APIError {
        var error = APIError(.tooManyRequests, code, message)
        error.retryAfter = 10
        return error
    }

    static let unauthenticated = APIError(.unauthorized, "unauthenticated", "send an API key as \"Authorization: Bearer lvk_…\"")
    /// The refusal as a page shows it: the field at fault, then the message ("from: a date (YYYY-MM-DD)").
    var fieldAndMessage: String { field.isEmpty ? message : field + ": " + message }

    static func forbidden(_ scope: Scope) -> APIError { forbidden(anyOf: [scope]) }
    /// The scopes named in the refusal are every one that would do (probe #14: only the first was named).
    static func forbidden(anyOf scopes: Set<Scope>) -> APIError {
        let names = scopes.map(\.rawValue).sorted()
        let listed = names.count <= 1 ? (names.first ?? "") + " scope"
            : names.dropLast().joined(separator: ", ") + " or " + names[names.count - 1] + " scope"
        return APIError(.forbidden, "forbidden", "this API key lacks the \(listed) this endpoint needs")
    }
    static func notFound(_ what: String, field: String = "") -> APIError { APIError(.notFound, "not_found", what, field: field) }
    static func invalid(_ field: String, _ message: String) -> APIError { APIError(.badRequest, "invalid_value", message, field: field) }
    static func missing(_ field: String, _ message: String = "required") -> APIError {
        APIError(.badRequest, "missing_field", message, field: field)
    }

    /// The JSON body: `{"error": {"code", "message", "field", "request_id"}}`.
    func body(requestID: String) -> [UInt8] {
        JSONBody.encode(ErrorEnvelope(error: .init(code: code, message: message, field: field, requestID: requestID)))
    }

    struct ErrorEnvelope: Encodable {
        struct Detail: Encodable {
            var code: String, message: String, field: String, requestID: String
            enum CodingKeys: String, CodingKey { case code, message, field, requestID = "request_id" }
        }
        var error: Detail
    }

    /// How a domain error looks over HTTP. Anything not listed is a server error and is logged, not shown.
    static func from(_ error: any Error) -> APIError? {
        switch error {
        case let error as APIError: return error
        case let error as Throttled where error.giftCardCodes:
            return APIError(.tooManyRequests, "too_many_failed_gift_card_codes",
                            "too many unknown gift card codes from this key; retry after \(error.seconds) s", field: error.codeField)
        case let error as Throttled:
            return APIError(.tooManyRequests, "too_many_failed_authentications",
                            "too many failed authentications from this client or for this key; retry after \(error.seconds) s",
                            field: "Authorization")
        case let error as ContractError:
            return APIError(error.code == .unquotable ? .unprocessableContent : .badRequest, error.code.rawValue, error.message,
                            field: error.field)
        case let error as QuoteError:
            let contract = QuoteCodec.contractError(error)
            return APIError(contract.code == .unquotable ? .unprocessableContent : .badRequest, contract.code.rawValue, contract.message,
                            field: contract.field)
        case let error as OrderError: return from(error)
        case let error as MerchantError:
            switch error {
            case .unknownMerchant, .none: return .notFound(error.description, field: "merchant_id")
            case .invalid: return APIError.invalid(error.field, error.description)
            case .overlappingRegistration, .duplicateLocation, .electionWithPlaceOfBusiness: return APIError(.conflict, "conflict", error.description, field: error.field)
            }
        case let error as GiftCardError:
            switch error {
            case .unknown(nil), .unknownGiftCard: return .notFound(error.description, field: error.field)
            case .unknown: return APIError(.unprocessableContent, "unknown_gift_card", error.description, field: error.field)
            case .cancelled: return APIError(.conflict, "gift_card_cancelled", error.description, field: error.field)
            case .insufficientBalance: return APIError(.unprocessableContent, "insufficient_gift_card_balance", error.description, field: error.field)
            case .moreThanTotal: return APIError(.unprocessableContent, "gift_cards_exceed_total", error.description, field: error.field)
            case .offeredTwice: return APIError.invalid(error.field, error.description)
            case .reissuedRecently(let seconds):
                var refusal = APIError(.conflict, "gift_card_reissued_recently", error.description, field: error.field)
                refusal.retryAfter = seconds
                return refusal
            }
        case let error as VaultError: return from(error)
        case let error as CustomerError: return from(error)
        case let error as FulfilmentError: return from(error)
        case let error as SimulatorJournal.JournalError:
            return processorUnavailable(error.description)
        case StripeError.unavailable(let operation, let attempts, _):
            return processorUnavailable("Stripe gave no answer to \(operation) after \(attempts) attempts")
        case let error as StoreUnavailable:
            // Nothing was wrong with the request, and nothing half-written stays: the same request may succeed soon.
            var refusal = APIError(.serviceUnavailable, "store_unavailable", "the store cannot answer now (\(error.reason)); try again shortly")
            refusal.retryAfter = 5
            return refusal
        case let error as APIKeyError:
            switch error {
            case .noScopes: return APIError(.badRequest, "invalid_value", error.description, field: "scopes")
            case .invalidLabel(let why): return APIError.invalid("label", why)
            case .unknownKey: return APIError(.notFound, "not_found", error.description)
            case .corrupt: return APIError(.internalServerError, "stored_record_unreadable", "a stored API key is unreadable; see the server log")
            }
        default:
            // A store error that reached here unwrapped (keys, idempotency records, customers, merchants).
            return StoreUnavailable.classify(error).flatMap { from($0) }
        }
    }

    static func from(_ error: OrderError) -> APIError? {
        switch error {
        // The same field path as the quote route's, under the request's `order` member.
        case .unquotable(let why): return APIError(.unprocessableContent, "unquotable", why.description, field: "order." + why.field)
        case .idempotencyConflict: return APIError(.unprocessableContent, "idempotency_conflict", error.description)
        case .unknownOrder: return .notFound(error.description)
        case .wrongStatus: return APIError(.conflict, "wrong_status", error.description, field: "status")
        case .paymentDeclined(let reason): return APIError(HTTPResponse.Status(code: 402, reasonPhrase: "Payment Required"), "payment_declined", reason)
        case .invalidRefund(let why, let field): return APIError(.unprocessableContent, "invalid_refund", why, field: field)
        case .tooManyVouchers(let line, _):
            return APIError(.unprocessableContent, "too_many_vouchers", error.description, field: "order.lines[\(line)].quantity")
        case .giftCardsBelowACent(let line, _, _):
            return APIError(.unprocessableContent, "invalid_value", error.description, field: "order.lines[\(line)].amount")
        case .unfulfilled: return APIError(.conflict, "unfulfilled", error.description)
        case .disputed: return APIError(.conflict, "order_disputed", error.description, field: "status")
        case .dateTooLate: return APIError(.badRequest, "invalid_value", error.description, field: "order.date")
        case .storage: return nil
        case .paymentInProgress: return APIError(.conflict, "payment_in_progress", error.description, field: "status")
        case .corrupt: return APIError(.internalServerError, "stored_record_unreadable",
                                       "a stored record cannot be read; the operator has been told (quote the request id)")
        }
    }

    static func from(_ error: VaultError) -> APIError? {
        switch error {
        case .invalidCard(let why):
            let field: String = switch why {
            case .invalidExpiryMonth: "exp_month"
            case .expired, .invalidExpiryYear: "exp_year"
            case .invalidCVV: "security_code"
            default: "number"
            }
            return APIError(.badRequest, "invalid_card", why.description, field: field)
        case .unknownToken: return .notFound("no such token", field: "token")
        case .permissionDenied: return APIError(.forbidden, "forbidden", error.description)
        case .keyVersionRetired: return APIError(.gone, "token_retired", error.description, field: "token")
        case .unknownKeyVersion, .decryptionFailed, .masterKeyMismatch, .storage: return nil
        case .corrupt: return APIError(.internalServerError, "stored_record_unreadable",
                                       "a stored record cannot be read; the operator has been told (quote the request id)")
        }
    }

    static func from(_ error: CustomerError) -> APIError {
        switch error {
        case .invalid(let field, let why): APIError(.badRequest, "invalid_value", why, field: field)
        case .underage: APIError(.unprocessableContent, "underage", error.description, field: error.field)
        case .unknownCustomer: .notFound(error.description, field: "customer_id")
        case .unknownAddressVersion: .notFound(error.description, field: "billing_version")
        case .erased: APIError(.gone, "customer_erased", error.description, field: "customer_id")
        }
    }

    /// The processor did not answer (probe #17: a 500 `internal`). Nothing is wrong with the request; the payment
    /// step stays claimed until it is resumed (the processor may have acted), so a retry answers `payment_in_progress`
    /// until then.
    static func processorUnavailable(_ why: String) -> APIError {
        var refusal = APIError(.serviceUnavailable, "processor_unavailable", "the payment processor cannot answer now (\(why)); try again later")
        refusal.retryAfter = 30
        return refusal
    }

    static func from(_ error: FulfilmentError) -> APIError {
        switch error {
        case .unknownVoucher: .notFound(error.description, field: "code")
        case .alreadyRedeemed: APIError(.conflict, "voucher_redeemed", error.description, field: "code")
        case .revoked: APIError(.conflict, "voucher_revoked", error.description, field: "code")
        case .unknownEntitlement: .notFound(error.description, field: "id")
        // Retried like any payment step under way (an idempotency key does not keep it).
        case .refundInProgress: APIError(.conflict, "payment_in_progress", error.description, field: "code")
        }
    }
}

/// JSON bodies with sorted keys, so the same response is the same bytes.
enum JSONBody {
    static func encode(_ value: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Plain value types with string keys: encoding cannot fail.
        return Array(try! encoder.encode(value))
    }
}
