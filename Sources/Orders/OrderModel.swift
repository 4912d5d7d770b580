import Foundation
import Storage
import TaxCore
import Vault

/// An order's id: `ord_` and 96 random bits.
public struct OrderID: Hashable, Sendable, CustomStringConvertible {
    public let value: String
    public init(_ value: String) { self.value = value }
    public var description: String { value }

    static func random() -> OrderID { OrderID("ord_" + RandomID.make(bytes: 12)) }
}

/// Random identifiers from the system CSPRNG in lower-case base32 (order, customer and API ids).
public enum RandomID {
    static let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567".utf8)

    /// Lower-case base32 of `bytes` random bytes from the system CSPRNG.
    public static func make(bytes count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        var text = ""
        var buffer = 0, bits = 0
        for _ in 0..<count {
            buffer = (buffer << 8 | Int(UInt8.random(in: 0...255, using: &generator))) & 0xFFFF
            bits += 8
            while bits >= 5 {
                text.unicodeScalars.append(Unicode.Scalar(alphabet[(buffer >> (bits - 5)) & 31]))
                bits -= 5
            }
        }
        if bits > 0 { text.unicodeScalars.append(Unicode.Scalar(alphabet[(buffer << (5 - bits)) & 31])) }
        return text
    }
}

/// Where an order is in its life.
public enum OrderStatus: String, Sendable {
    case placed, authorized, declined, captured, voided
    /// A payment step is under way: one caller has claimed it and is talking to the processor. An order left in
    /// one of these by a crash is finished by `resumeInterruptedPayments` with the same idempotency key.
    case authorizing, capturing, voiding
    /// Captured and fulfilled: every voucher redeemed (or revoked by a refund).
    case completed
    case partiallyRefunded = "partially_refunded"
    case refunded
}

/// The tax of one line in one jurisdiction as frozen at placement: refunds reverse these amounts, never today's
/// tables.
public struct FrozenTax: Sendable, Hashable {
    public var jurisdictionCode: String
    public var level: String
    public var name: String
    public var rate: String
    public var taxable: Int64
    public var tax: Int64
    public var refundedTax: Int64
}

/// One line of a placed order with its frozen evidence.
public struct OrderLine: Sendable, Hashable {
    public var number: Int
    public var id: String
    public var code: ProductTaxCode
    /// How the line reaches the buyer.
    public var fulfilment: Fulfilment
    public var quantity: Int64
    public var amount: Int64
    public var taxable: Int64
    public var exempt: Int64
    public var tax: Int64
    public var refundedQuantity: Int64
    public var refundedAmount: Int64
    public var sourcingRule: SourcingRule
    public var sourcedTo: String
    public var certificate: String?
    public var taxes: [FrozenTax]

    public var refundedTax: Int64 { taxes.reduce(0) { $0 + $1.refundedTax } }
}

/// A placed order as the store holds it.
public struct Order: Sendable, Hashable {
    public var id: OrderID
    public var status: OrderStatus
    public var currency: Currency
    public var taxDate: TaxDate
    public var tableVersion: String
    public var rounding: RoundingMode
    public var totalAmount: Int64
    public var totalTax: Int64
    public var paymentToken: String?
    public var authorizationID: String?
    public var captureID: String?
    public var declineReason: String?
    /// The customer and the version of their billing address the order was taxed with, when known.
    public var customerID: CustomerID?
    public var billingVersion: Int?
    public var created: Date
    public var lines: [OrderLine]
    /// The billing address the order was placed with (`AddressText`), sent to the processor for address verification.
    public var billingAddress: String? = nil
    /// `open`, `won` or `lost` once the buyer's bank disputed the payment (processor events); nil otherwise.
    public var disputeStatus: String? = nil
    /// What gift cards pay of the total (tax included), and which cards; the payment card pays the rest.
    public var giftCardAmount: Int64 = 0
    public var giftCards: [GiftCardTender] = []
    /// The gift cards this order sold, with their codes: only in the answer to the capture that issued them.
    public var issuedGiftCards: [IssuedGiftCard] = []

    /// What the payment card pays: the total less the gift cards.
    public var cardAmount: Int64 { totalAmount + totalTax - giftCardAmount }
    /// What refunds gave back to gift cards so far.
    public var giftCardReturned: Int64 { giftCards.reduce(0) { $0 + $1.returned } }
    /// The status as the order is shown: `disputed` while a dispute is open (the stored status stays, so a won
    /// dispute leaves the order as it was), else the status.
    public var shownStatus: String { disputeStatus == "open" ? "disputed" : status.rawValue }
    public var refundedAmount: Int64 { lines.reduce(0) { $0 + $1.refundedAmount } }
    public var refundedTax: Int64 { lines.reduce(0) { $0 + $1.refundedTax } }
}

/// What a refund asks for.
public enum RefundRequest: Sendable, Hashable {
    /// Everything not yet refunded.
    case full
    /// Some articles of some lines (line number, quantity).
    case lines([RefundLine])
    /// An amount off the order's net price, spread over the lines; tax reverses in proportion.
    case amount(Int64)
    /// An amount the buyer got back, tax included (a refund made at the processor, a lost dispute): split into
    /// the net amount and the tax it carries, exactly, or refused when no split gives this total to the cent.
    case gross(Int64)

    /// The request field that asked for line `line` to be refunded, for a refusal to name: the line's quantity in
    /// a refund by lines, the amount in one by amount; a full refund has no field (its body is empty).
    func field(refunding line: Int) -> String {
        switch self {
        case .full: ""
        case .lines(let items): items.firstIndex { $0.line == line }.map { "lines[\($0)].quantity" } ?? "lines"
        case .amount, .gross: "amount"
        }
    }
}

public struct RefundLine: Sendable, Hashable {
    public var line: Int
    public var quantity: Int64
    public init(line: Int, quantity: Int64) {
        self.line = line
        self.quantity = quantity
    }
}

/// A refund's id: `ref_` and 96 random bits.
public struct RefundID: Hashable, Sendable, CustomStringConvertible {
    public let value: String
    public init(_ value: String) { self.value = value }
    public var description: String { value }
}

/// A refund as recorded: net amount and tax given back, per line and jurisdiction.
public struct Refund: Sendable, Hashable {
    public var id: RefundID
    public var orderID: OrderID
    public var amount: Int64
    public var tax: Int64
    public var lines: [RefundedLine]
    /// The part of `amount + tax` given back to gift cards that paid the order; the rest went to the payment card.
    public var giftCardAmount: Int64 = 0
}

public struct RefundedLine: Sendable, Hashable, Codable {
    public var line: Int
    public var quantity: Int64
    public var amount: Int64
    /// (jurisdiction code, tax given back) in the line's jurisdiction order.
    public var taxes: [RefundedTax]
}

public struct RefundedTax: Sendable, Hashable, Codable {
    public var jurisdictionCode: String
    public var tax: Int64
}

/// Why an order operation was refused.
public enum OrderError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The engine refused the order, naming the request field at fault (as for a quote).
    case unquotable(QuoteError)
    case idempotencyConflict(key: String)
    case unknownOrder(String)
    case wrongStatus(OrderStatus, expected: [OrderStatus])
    case paymentDeclined(String)
    /// Why a refund is refused, and the request's field it concerns (`lines[0].quantity`, `amount`; empty when none).
    case invalidRefund(String, field: String = "")
    case unfulfilled(vouchers: Int)
    case storage(String)
    /// Another caller is moving money for this order right now (or a crash left it to be resumed).
    case paymentInProgress
    /// A stored record that cannot be read as an order (a value of the wrong type or form): never a crash.
    case corrupt(String)
    /// In-person services beyond the vouchers one order may issue (one voucher per unit); `line` is 0-based.
    case tooManyVouchers(line: Int, limit: Int)
    /// A gift card line whose amount cannot give each of its cards a cent (0.05 for ten cards).
    case giftCardsBelowACent(line: Int, cards: Int64, amount: String)
    /// The buyer's bank disputes the payment: the processor will not refund it until the dispute is closed.
    case disputed
    /// An order's tax date more than a year after today: a sale has happened or is about to, and a quote that far
    /// ahead rests on rates nobody has announced.
    case dateTooLate(TaxDate, latest: TaxDate)

    /// What a failed store call becomes: the store's passing unavailability as it is (a 503 over HTTP), any other
    /// failure as `storage`, described with its SQLSTATE.
    static func fromStore(_ error: any Error) -> any Error {
        StoreUnavailable.classify(error) ?? OrderError.storage(StoreErrorText.describe(error))
    }

    public var description: String {
        switch self {
        case .unquotable(let why): "the order cannot be quoted: \(why.description)"
        case .idempotencyConflict(let key): "idempotency key \"\(key)\" was already used with a different request"
        case .unknownOrder(let id): "no order \(id)"
        case .wrongStatus(let status, let expected): "the order is \(status.rawValue); this needs \(expected.map(\.rawValue).joined(separator: " or "))"
        case .paymentDeclined(let why): why
        case .invalidRefund(let why, _): "refund refused: \(why)"
        case .unfulfilled(let n): "\(n) voucher(s) are not redeemed yet"
        case .storage(let message): "order storage: \(message)"
        case .paymentInProgress: "a payment step for this order is in progress; retry shortly"
        case .corrupt(let message): "a stored order record cannot be read: \(message)"
        case .disputed: "the payment is disputed by the buyer's bank; it cannot be refunded until the dispute is closed"
        case .dateTooLate(let date, let latest): "the tax date \(date.iso) is more than a year after today: an order's date is at most \(latest.iso)"
        case .tooManyVouchers(let line, let limit):
            "line \(line + 1) takes the order past \(limit) vouchers and gift cards (one per unit of an in-person service or a gift card): split the order or sell a package with fewer units"
        case .giftCardsBelowACent(let line, let cards, let amount):
            "line \(line + 1) issues \(cards) gift cards for \(amount): each card must be worth at least 0.01"
        }
    }
}

/// Addresses as stored with an order: `line1|city|ST|ZIP`, so that erasure can blank the street and city and keep
/// the state and ZIP the tax was sourced to.
public enum AddressText {
    public static func format(_ address: Address) -> String {
        [address.line1, address.city, address.state.code, address.zip.description].map { $0.replacingOccurrences(of: "|", with: "/") }
            .joined(separator: "|")
    }

    /// The parts of a formatted address, for the processor's address verification; nil unless it has all four.
    public static func billingDetails(_ text: String) -> BillingDetails? {
        let parts = text.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 4 else { return nil }
        return BillingDetails(line1: parts[0], city: parts[1], state: parts[2], postalCode: parts[3])
    }

    /// The same address with street and city removed.
    public static func withoutStreet(_ text: String) -> String {
        let parts = text.split(separator: "|", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return "" }
        return "||\(parts[2])|\(parts[3])"
    }
}

/// Where the seller said it is engaged in business, as stored with an order: `origin`, `everywhere`, or
/// `zips:12345,67890`.
public enum EngagementText {
    public static func format(_ engagement: SellerEngagement) -> String {
        switch engagement {
        case .originOnly: "origin"
        case .everywhere: "everywhere"
        case .places(let zips): "zips:" + zips.map(\.description).joined(separator: ",")
        }
    }

    public static func parse(_ text: String) -> SellerEngagement? {
        switch text {
        case "origin": return .originOnly
        case "everywhere": return .everywhere
        default:
            guard text.hasPrefix("zips:") else { return nil }
            let zips = text.dropFirst(5).split(separator: ",").compactMap { ZipCode(String($0)) }
            return .places(zips)
        }
    }
}

/// The remote-seller programs elected, as stored with an order: `TX:single_local_use_tax,AL:simplified_sellers_use_tax`
/// (request order; a type is lower-case letters, digits and underscores: the contract refuses anything else).
public enum ElectionsText {
    public static func format(_ elections: [RemoteSellerElection]) -> String {
        elections.map { "\($0.state):\($0.type)" }.joined(separator: ",")
    }

    public static func parse(_ text: String) -> [RemoteSellerElection]? {
        var result: [RemoteSellerElection] = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = item.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2, let state = StateCode(String(parts[0])), RemoteSellerElection.isValidType(parts[1]) else { return nil }
            result.append(RemoteSellerElection(state: state, type: String(parts[1])))
        }
        return result
    }
}

/// The jurisdictions pinned for seller premises, as stored with an order: one `address<TAB>code code` per line
/// (addresses and codes hold no control characters: the contract and the profile refuse them).
public enum PinnedText {
    public static func format(_ pinned: [Address: [String]]) -> String {
        pinned.map { AddressText.format($0.key) + "\t" + $0.value.joined(separator: " ") }.sorted().joined(separator: "\n")
    }

    public static func parse(_ text: String) -> [Address: [String]]? {
        var pinned: [Address: [String]] = [:]
        for entry in text.split(separator: "\n") {
            let parts = entry.split(separator: "\t", omittingEmptySubsequences: false)
            guard parts.count == 2, let address = AddressText.parse(String(parts[0])) else { return nil }
            let codes = parts[1].split(separator: " ").map(String.init)
            guard !codes.isEmpty else { return nil }
            pinned[address] = codes
        }
        return pinned
    }
}
