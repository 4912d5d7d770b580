import Foundation
import TaxCore

/// The JSON shape of a quote request, as documented in docs/quote-contract.md. Every field is read as
/// loosely as JSON allows and then validated, so that each problem is reported against its field path.
struct QuoteRequestDocument: Decodable, Equatable {
    var date: String?
    var currency: String?
    var origin: AddressDocument?
    var destination: AddressDocument?
    var billing: AddressDocument?
    var paymentAddress: AddressDocument?
    var seller: SellerDocument?
    var customer: CustomerDocument?
    var lines: [LineDocument]?
    var rounding: String?
    var discounts: [DiscountDocument]?

    init() {}

    static let keys: Set<String> = ["date", "currency", "origin", "destination", "billing", "payment_address", "seller", "customer", "lines", "rounding", "discounts"]

    init(from decoder: any Decoder) throws {
        try rejectUnknownKeys(decoder, allowed: Self.keys)
        let c = try decoder.container(keyedBy: AnyKey.self)
        date = try c.decodeIfPresent(String.self, forKey: AnyKey("date"))
        currency = try c.decodeIfPresent(String.self, forKey: AnyKey("currency"))
        origin = try c.decodeIfPresent(AddressDocument.self, forKey: AnyKey("origin"))
        destination = try c.decodeIfPresent(AddressDocument.self, forKey: AnyKey("destination"))
        billing = try c.decodeIfPresent(AddressDocument.self, forKey: AnyKey("billing"))
        paymentAddress = try c.decodeIfPresent(AddressDocument.self, forKey: AnyKey("payment_address"))
        seller = try c.decodeIfPresent(SellerDocument.self, forKey: AnyKey("seller"))
        customer = try c.decodeIfPresent(CustomerDocument.self, forKey: AnyKey("customer"))
        lines = try c.decodeIfPresent([LineDocument].self, forKey: AnyKey("lines"))
        rounding = try c.decodeIfPresent(String.self, forKey: AnyKey("rounding"))
        discounts = try c.decodeIfPresent([DiscountDocument].self, forKey: AnyKey("discounts"))
    }
}

/// An order-level discount: `{"id", "amount", "kind": "seller" | "third_party", "lines": [line ids]}`.
struct DiscountDocument: Decodable, Equatable {
    var id: String?
    var amount: String?
    var kind: String?
    var lines: [String]?

    init(from decoder: any Decoder) throws {
        try rejectUnknownKeys(decoder, allowed: ["id", "amount", "kind", "lines"])
        let c = try decoder.container(keyedBy: AnyKey.self)
        id = try c.decodeIfPresent(String.self, forKey: AnyKey("id"))
        amount = try c.decodeIfPresent(String.self, forKey: AnyKey("amount"))
        kind = try c.decodeIfPresent(String.self, forKey: AnyKey("kind"))
        lines = try c.decodeIfPresent([String].self, forKey: AnyKey("lines"))
    }
}

/// A remote-seller program the seller elected: `{"state": "TX", "type": "single_local_use_tax"}`.
struct ElectionDocument: Decodable, Equatable {
    var state: String?
    var type: String?

    init(from decoder: any Decoder) throws {
        try rejectUnknownKeys(decoder, allowed: ["state", "type"])
        let c = try decoder.container(keyedBy: AnyKey.self)
        state = try c.decodeIfPresent(String.self, forKey: AnyKey("state"))
        type = try c.decodeIfPresent(String.self, forKey: AnyKey("type"))
    }
}

struct AddressDocument: Decodable, Equatable {
    init() {}

    var line1: String?
    var city: String?
    var state: String?
    var zip: String?
    /// A location of the merchant's profile named by its id (`"origin": "mpls"`) instead of an address.
    var locationID: String?

    init(from decoder: any Decoder) throws {
        if let id = try? decoder.singleValueContainer().decode(String.self) {
            locationID = id
            return
        }
        try rejectUnknownKeys(decoder, allowed: ["line1", "city", "state", "zip"])
        let c = try decoder.container(keyedBy: AnyKey.self)
        line1 = try c.decodeIfPresent(String.self, forKey: AnyKey("line1"))
        city = try c.decodeIfPresent(String.self, forKey: AnyKey("city"))
        state = try c.decodeIfPresent(String.self, forKey: AnyKey("state"))
        zip = try c.decodeIfPresent(String.self, forKey: AnyKey("zip"))
    }
}

struct SellerDocument: Decodable, Equatable {
    init() {}

    var registrations: [String]?
    /// Where the seller is engaged in business: "everywhere", or a list of ZIP codes of its locations.
    var engagedEverywhere: Bool?
    var engagedIn: [String]?
    /// The remote-seller programs the seller elected.
    var elections: [ElectionDocument]?

    init(from decoder: any Decoder) throws {
        try rejectUnknownKeys(decoder, allowed: ["registrations", "engaged_in", "elections"])
        let c = try decoder.container(keyedBy: AnyKey.self)
        registrations = try c.decodeIfPresent([String].self, forKey: AnyKey("registrations"))
        elections = try c.decodeIfPresent([ElectionDocument].self, forKey: AnyKey("elections"))
        if let text = try? c.decodeIfPresent(String.self, forKey: AnyKey("engaged_in")) {
            guard text == "everywhere" else {
                // Said in full: "the value cannot be read" named neither what is allowed nor what was wrong (probe #18).
                throw ValueRefused(path: decoder.codingPath + [AnyKey("engaged_in")],
                                   message: "expected \"everywhere\" (in lower case) or a list of ZIP codes")
            }
            engagedEverywhere = true
        } else {
            engagedIn = try c.decodeIfPresent([String].self, forKey: AnyKey("engaged_in"))
        }
    }
}

struct CustomerDocument: Decodable, Equatable {
    init() {}

    var exemptions: [ExemptionDocument]?

    init(from decoder: any Decoder) throws {
        try rejectUnknownKeys(decoder, allowed: ["exemptions"])
        let c = try decoder.container(keyedBy: AnyKey.self)
        exemptions = try c.decodeIfPresent([ExemptionDocument].self, forKey: AnyKey("exemptions"))
    }
}

struct ExemptionDocument: Decodable, Equatable {
    init() {}

    var state: String?
    var reason: String?
    var number: String?
    var expires: String?

    init(from decoder: any Decoder) throws {
        try rejectUnknownKeys(decoder, allowed: ["state", "reason", "number", "expires"])
        let c = try decoder.container(keyedBy: AnyKey.self)
        state = try c.decodeIfPresent(String.self, forKey: AnyKey("state"))
        reason = try c.decodeIfPresent(String.self, forKey: AnyKey("reason"))
        number = try c.decodeIfPresent(String.self, forKey: AnyKey("number"))
        expires = try c.decodeIfPresent(String.self, forKey: AnyKey("expires"))
    }
}

struct LineDocument: Decodable, Equatable {
    init() {}

    var id: String?
    var code: String?
    var amount: String?
    var quantity: Int64?
    var fulfilment: String?
    var taxIncluded: Bool?
    var location: AddressDocument?
    var discount: String?

    init(from decoder: any Decoder) throws {
        try rejectUnknownKeys(decoder, allowed: ["id", "code", "amount", "quantity", "fulfilment", "tax_included", "location", "discount"])
        let c = try decoder.container(keyedBy: AnyKey.self)
        // Ids may be numbers in some carts; they are kept as text.
        if let text = try? c.decodeIfPresent(String.self, forKey: AnyKey("id")) {
            id = text
        } else {
            id = try c.decodeIfPresent(Int64.self, forKey: AnyKey("id")).map(String.init)
        }
        code = try c.decodeIfPresent(String.self, forKey: AnyKey("code"))
        amount = try c.decodeIfPresent(String.self, forKey: AnyKey("amount"))
        quantity = try c.decodeIfPresent(Int64.self, forKey: AnyKey("quantity"))
        fulfilment = try c.decodeIfPresent(String.self, forKey: AnyKey("fulfilment"))
        taxIncluded = try c.decodeIfPresent(Bool.self, forKey: AnyKey("tax_included"))
        location = try c.decodeIfPresent(AddressDocument.self, forKey: AnyKey("location"))
        discount = try c.decodeIfPresent(String.self, forKey: AnyKey("discount"))
    }
}

struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { stringValue = String(intValue); self.intValue = intValue }
}

/// Thrown for a key the contract does not know ("fulfillment" for "fulfilment"): a typo must not be ignored.
/// A value of the right JSON type that the contract does not allow, with what it allows (never the value itself:
/// it could be a card number).
struct ValueRefused: Error {
    var path: [any CodingKey]
    var message: String
}

struct UnknownKey: Error {
    var path: [any CodingKey]
    var key: String
    var allowed: Set<String>
}

func rejectUnknownKeys(_ decoder: any Decoder, allowed: Set<String>) throws {
    let container = try decoder.container(keyedBy: AnyKey.self)
    if let unknown = container.allKeys.map(\.stringValue).filter({ !allowed.contains($0) }).sorted().first {
        throw UnknownKey(path: decoder.codingPath, key: unknown, allowed: allowed)
    }
}

/// "lines[0].amount" from a coding path.
func fieldPath(_ path: [any CodingKey]) -> String {
    var result = ""
    for key in path {
        if let index = key.intValue { result += "[\(index)]" } else { result += result.isEmpty ? key.stringValue : "." + key.stringValue }
    }
    return result
}
