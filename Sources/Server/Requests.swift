import Foundation
import HTTPTypes
import JSONInput
import Orders
import TaxCore
import Vault

// Request bodies of the API. Each refuses unknown keys; field names are the OpenAPI document's (snake_case).

struct TokenizeBody: Decodable {
    var number: String
    var expMonth: Int
    var expYear: Int
    var securityCode: String?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case number, expMonth = "exp_month", expYear = "exp_year", securityCode = "security_code"
    }

    init(from decoder: any Decoder) throws {
        try decoder.refuseUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        number = try c.decode(String.self, forKey: .number)
        expMonth = try c.decode(Int.self, forKey: .expMonth)
        expYear = try c.decode(Int.self, forKey: .expYear)
        securityCode = try c.decodeIfPresent(String.self, forKey: .securityCode)
        // A card number with spaces or dashes is at most 19 digits and 18 separators; nothing longer is a card.
        guard number.utf8.count <= 40 else { throw APIError(.badRequest, "invalid_card", "a card number has 12 to 19 digits", field: "number") }
        if let securityCode, securityCode.utf8.count > 4 {
            throw APIError(.badRequest, "invalid_card", "the security code must be 3 or 4 digits", field: "security_code")
        }
    }
}

struct RevealBody: Decodable {
    var purpose: String

    enum CodingKeys: String, CodingKey, CaseIterable { case purpose }

    init(from decoder: any Decoder) throws {
        try decoder.refuseUnknownKeys(CodingKeys.self)
        purpose = try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .purpose)
    }
}

struct AddressBody: Decodable {
    var line1: String
    var city: String
    var state: String
    var zip: String

    enum CodingKeys: String, CodingKey, CaseIterable { case line1, city, state, zip }

    init(from decoder: any Decoder) throws {
        try decoder.refuseUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        line1 = try c.decodeIfPresent(String.self, forKey: .line1) ?? ""
        city = try c.decodeIfPresent(String.self, forKey: .city) ?? ""
        state = try c.decode(String.self, forKey: .state)
        zip = try c.decode(String.self, forKey: .zip)
    }

    /// The engine's address; `field` prefixes the path of a bad state or ZIP.
    func address(field: String) throws -> Address {
        let prefix = field.isEmpty ? "" : field + "."
        guard line1.utf8.count <= QuoteLimits.maxAddressTextBytes else { throw APIError.invalid(prefix + "line1", "at most \(QuoteLimits.maxAddressTextBytes) bytes") }
        guard city.utf8.count <= QuoteLimits.maxAddressTextBytes else { throw APIError.invalid(prefix + "city", "at most \(QuoteLimits.maxAddressTextBytes) bytes") }
        try checkPersonText([prefix + "line1": line1, prefix + "city": city])
        guard let code = StateCode(state.uppercased()) else {
            throw APIError.invalid(prefix + "state", "\"\(state.prefix(8))\" is not a two-letter state code")
        }
        guard let zipCode = ZipCode(zip.trimmingCharacters(in: .whitespaces)) else {
            throw APIError.invalid(prefix + "zip", "\"\(zip.prefix(12))\" is not a ZIP5 or ZIP+4")
        }
        return Address(line1: line1, city: city, state: code, zip: zipCode)
    }
}

struct ConsentsBody: Decodable {
    var marketingEmail: Bool?
    var shareViewingActivity: Bool?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case marketingEmail = "marketing_email", shareViewingActivity = "share_viewing_activity"
    }

    init(from decoder: any Decoder) throws {
        try decoder.refuseUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        marketingEmail = try c.decodeIfPresent(Bool.self, forKey: .marketingEmail)
        shareViewingActivity = try c.decodeIfPresent(Bool.self, forKey: .shareViewingActivity)
    }
}

struct CustomerBody: Decodable {
    var name: String
    var email: String?
    var dateOfBirth: String?
    var consents: ConsentsBody?
    var billingAddress: AddressBody?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, email, dateOfBirth = "date_of_birth", consents, billingAddress = "billing_address"
    }

    init(from decoder: any Decoder) throws {
        try decoder.refuseUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        email = try c.decodeIfPresent(String.self, forKey: .email)
        dateOfBirth = try c.decodeIfPresent(String.self, forKey: .dateOfBirth)
        consents = try c.decodeIfPresent(ConsentsBody.self, forKey: .consents)
        billingAddress = try c.decodeIfPresent(AddressBody.self, forKey: .billingAddress)
    }
}

/// Placing an order: the order as a quote request, plus who pays and how. The order's own fields are validated by
/// the quote contract, with paths prefixed `order.`.
struct PlaceOrderBody: Decodable {
    var customerID: String?
    var billingVersion: Int?
    var paymentToken: String?
    var giftCards: [GiftCardPayment]

    /// At most this many gift cards pay one order.
    static let maxGiftCards = 10

    enum CodingKeys: String, CodingKey, CaseIterable {
        case order, customerID = "customer_id", billingVersion = "billing_version", paymentToken = "payment_token", giftCards = "gift_cards"
    }

    init(from decoder: any Decoder) throws {
        try decoder.refuseUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        guard c.contains(.order) else { throw DecodingError.keyNotFound(CodingKeys.order, .init(codingPath: [], debugDescription: "")) }
        customerID = try c.decodeIfPresent(String.self, forKey: .customerID)
        billingVersion = try c.decodeIfPresent(Int.self, forKey: .billingVersion)
        if let version = billingVersion, version < 1 { throw APIError.invalid("billing_version", "a version number, 1 or more") }
        paymentToken = try c.decodeIfPresent(String.self, forKey: .paymentToken)
        let cards = try c.decodeIfPresent([GiftCardBody].self, forKey: .giftCards) ?? []
        guard cards.count <= Self.maxGiftCards else { throw APIError.invalid("gift_cards", "at most \(Self.maxGiftCards) gift cards pay one order") }
        giftCards = cards.map { GiftCardPayment(code: $0.code, amount: $0.amount) }
    }
}

/// A gift card offered to pay an order: its code and, optionally, how much of it to spend.
struct GiftCardBody: Decodable {
    var code: GiftCardCode
    var amount: Int64?

    enum CodingKeys: String, CodingKey, CaseIterable { case code, amount }

    init(from decoder: any Decoder) throws {
        try decoder.refuseUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let path = StrictJSON.path(decoder.codingPath)
        code = try GiftCardCodeBody.code(try c.decode(String.self, forKey: .code), field: path + ".code")
        if let text = try c.decodeIfPresent(String.self, forKey: .amount) {
            guard text.utf8.count <= 20, let money = try? Money.parseInput(text), money.minorUnits >= 0, money.minorUnits <= QuoteLimits.maxLineAmount else {
                throw APIError.invalid(path + ".amount", "an amount up to 999999999.99 (a decimal string such as \"50.00\")")
            }
            amount = money.minorUnits
        }
    }
}

/// A gift card code in a body (`{"code": "LGC-…"}`): the balance lookup.
struct GiftCardCodeBody: Decodable {
    var code: GiftCardCode

    enum CodingKeys: String, CodingKey, CaseIterable { case code }

    init(from decoder: any Decoder) throws {
        try decoder.refuseUnknownKeys(CodingKeys.self)
        code = try Self.code(try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .code), field: "code")
    }

    /// The code, or an error that names the field without repeating what was sent (it may be a real code, mistyped).
    static func code(_ text: String, field: String) throws -> GiftCardCode {
        guard let code = GiftCardCode(text) else {
            throw APIError.invalid(field, "not a gift card code (LGC- and four groups of four characters, with a valid check character)")
        }
        return code
    }
}

struct AuthorizeBody: Decodable {
    var paymentToken: String

    enum CodingKeys: String, CodingKey, CaseIterable { case paymentToken = "payment_token" }

    init(from decoder: any Decoder) throws {
        try decoder.refuseUnknownKeys(CodingKeys.self)
        paymentToken = try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .paymentToken)
    }
}

/// A refund: `lines` (some articles of some lines), or `amount` (off the net price), or neither (everything left).
struct RefundBody: Decodable {
    struct Line: Decodable {
        var line: Int
        var quantity: Int64

        enum CodingKeys: String, CodingKey, CaseIterable { case line, quantity }

        init(from decoder: any Decoder) throws {
            try decoder.refuseUnknownKeys(CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            line = try c.decode(Int.self, forKey: .line)
            quantity = try c.decode(Int64.self, forKey: .quantity)
            guard (1...QuoteLimits.maxLines).contains(line) else { throw APIError.invalid(StrictJSON.path(decoder.codingPath) + ".line", "a line number 1 to \(QuoteLimits.maxLines)") }
            guard (1...QuoteLimits.maxQuantity).contains(quantity) else {
                throw APIError.invalid(StrictJSON.path(decoder.codingPath) + ".quantity", "1 to \(QuoteLimits.maxQuantity)")
            }
        }
    }

    var lines: [Line]?
    var amount: String?

    enum CodingKeys: String, CodingKey, CaseIterable { case lines, amount }

    init(from decoder: any Decoder) throws {
        try decoder.refuseUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        // A null is not an absent member here: absent, both mean the whole order, and a client whose amount was unset
        // (serialized as null) meant a part of it (probe #15: `{"amount": null}` refunded everything). Money out is not
        // guessed at.
        for key in CodingKeys.allCases where c.contains(key) {
            if try c.decodeNil(forKey: key) { throw APIError.invalid(key.rawValue, "null: leave the member out to refund the whole order") }
        }
        lines = try c.decodeIfPresent([Line].self, forKey: .lines)
        amount = try c.decodeIfPresent(String.self, forKey: .amount)
    }
}

struct RedeemBody: Decodable {
    var location: String

    enum CodingKeys: String, CodingKey, CaseIterable { case location }

    init(from decoder: any Decoder) throws {
        try decoder.refuseUnknownKeys(CodingKeys.self)
        location = try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .location)
        guard (1...200).contains(location.utf8.count) else { throw APIError.invalid("location", "1 to 200 bytes") }
    }
}

struct CreateKeyBody: Decodable {
    var label: String
    var scopes: [String]

    enum CodingKeys: String, CodingKey, CaseIterable { case label, scopes }

    init(from decoder: any Decoder) throws {
        try decoder.refuseUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        label = try c.decode(String.self, forKey: .label)
        scopes = try c.decode([String].self, forKey: .scopes)
        guard label.utf8.count <= 100 else { throw APIError.invalid("label", "at most 100 bytes") }
        guard scopes.count <= 10 else { throw APIError.invalid("scopes", "at most 10 scopes") }
    }
}

/// Refuses text a person writes (a name, a label, a purpose) that holds what looks like a card number, naming the
/// field: a card number belongs in the vault, and such text is stored, logged in audits and exported.
/// Refuses, naming the field, text a person typed that holds a card number (it would be kept outside the vault) or
/// characters that reorder or break what it is printed in (`PrintedText`).
func checkPersonText(_ fields: KeyValuePairs<String, String?>) throws {
    for (field, text) in fields {
        guard let text else { continue }
        if CardNumberMask.containsCardNumber(text) { throw APIError.invalid(field, CardNumberMask.refusal) }
        if let problem = PrintedText.problem(text) { throw APIError.invalid(field, problem) }
    }
}
