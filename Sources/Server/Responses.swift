import Foundation
import Merchants
import HTTPTypes
import Orders
import Storage
import TaxCore
import Vault

// Response bodies of the API: amounts as decimal strings in the currency's minor digits, times in UTC ISO 8601,
// snake_case names. Nothing here can hold a card number except `RevealedCardBody`, which only the vault-reveal
// scope ever receives.

func amount(_ minorUnits: Int64) -> String { Money(minorUnits: minorUnits).decimalString }
func timestamp(_ date: Date) -> String { Timestamp.string(date) }

struct CardBody: Encodable {
    var token: String, brand: String, bin: String, last4: String, expMonth: Int, expYear: Int, created: String, expires: String?

    enum CodingKeys: String, CodingKey {
        case token, brand, bin, last4, expMonth = "exp_month", expYear = "exp_year", created, expires
    }

    init(_ record: CardRecord) {
        token = record.token.value
        brand = record.brand.rawValue
        bin = record.bin
        last4 = record.lastFour
        expMonth = record.expiry.month
        expYear = record.expiry.year
        created = timestamp(record.created)
        expires = record.expires.map(timestamp)
    }
}

struct RevealedCardBody: Encodable {
    var token: String, number: String, expMonth: Int, expYear: Int, securityCode: String?

    enum CodingKeys: String, CodingKey { case token, number, expMonth = "exp_month", expYear = "exp_year", securityCode = "security_code" }

    init(_ card: RevealedCard) {
        token = card.token.value
        number = card.digitsForProcessor
        expMonth = card.expiry.month
        expYear = card.expiry.year
        securityCode = card.securityCode
    }
}

struct AddressOut: Encodable {
    var line1: String, city: String, state: String, zip: String

    init(_ address: Address) {
        line1 = address.line1
        city = address.city
        state = address.state.code
        zip = address.zip.description
    }
}

struct BillingAddressBody: Encodable {
    var customerID: String, version: Int, address: AddressOut

    enum CodingKeys: String, CodingKey { case customerID = "customer_id", version, address }

    init(_ billing: BillingAddress) {
        customerID = billing.customerID.value
        version = billing.version
        address = AddressOut(billing.address)
    }
}

struct ConsentsOut: Encodable {
    var marketingEmail: Bool, shareViewingActivity: Bool

    enum CodingKeys: String, CodingKey { case marketingEmail = "marketing_email", shareViewingActivity = "share_viewing_activity" }

    init(_ consents: Consents) {
        marketingEmail = consents.marketingEmail
        shareViewingActivity = consents.shareViewingActivity
    }
}

struct CustomerOut: Encodable {
    var id: String, name: String, email: String?, dateOfBirth: String?, consents: ConsentsOut, erased: Bool
    var billingAddress: BillingAddressBody?

    enum CodingKeys: String, CodingKey {
        case id, name, email, dateOfBirth = "date_of_birth", consents, erased, billingAddress = "billing_address"
    }

    init(_ customer: Customer, billing: BillingAddress?) {
        id = customer.id.value
        name = customer.name
        email = customer.email
        dateOfBirth = customer.dateOfBirth?.iso
        consents = ConsentsOut(customer.consents)
        erased = customer.erased
        billingAddress = billing.map(BillingAddressBody.init)
    }
}

struct OrderOut: Encodable {
    struct TaxOut: Encodable {
        var jurisdictionCode: String, level: String, name: String, rate: String, taxable: String, tax: String, refundedTax: String

        enum CodingKeys: String, CodingKey {
            case jurisdictionCode = "jurisdiction_code", level, name, rate, taxable, tax, refundedTax = "refunded_tax"
        }
    }

    struct LineOut: Encodable {
        var number: Int, id: String, code: String, fulfilment: String, quantity: Int64, amount: String, taxable: String, exempt: String
        var tax: String, refundedQuantity: Int64, refundedAmount: String, sourcingRule: String, sourcedTo: String, certificate: String?
        var taxes: [TaxOut]

        enum CodingKeys: String, CodingKey {
            case number, id, code, fulfilment, quantity, amount, taxable, exempt, tax, refundedQuantity = "refunded_quantity"
            case refundedAmount = "refunded_amount", sourcingRule = "sourcing_rule", sourcedTo = "sourced_to", certificate, taxes
        }
    }

    var id: String, status: String, currency: String, taxDate: String, tableVersion: String, rounding: String
    var totalAmount: String, totalTax: String, total: String, refundedAmount: String, refundedTax: String
    var paymentToken: String?, authorizationID: String?, declineReason: String?, customerID: String?, billingVersion: Int?
    var disputeStatus: String?
    var giftCardAmount: String, cardAmount: String
    var giftCards: [TenderOut]
    var issuedGiftCards: [GiftCardOut]
    var created: String
    var lines: [LineOut]
    var vouchers: [VoucherOut]
    var entitlements: [EntitlementOut]

    struct TenderOut: Encodable {
        var giftCardID: String, lastFour: String, amount: String, returned: String
        enum CodingKeys: String, CodingKey { case giftCardID = "gift_card_id", lastFour = "last_four", amount, returned }
    }

    enum CodingKeys: String, CodingKey {
        case id, status, currency, taxDate = "tax_date", tableVersion = "table_version", rounding, totalAmount = "total_amount"
        case totalTax = "total_tax", total, refundedAmount = "refunded_amount", refundedTax = "refunded_tax", paymentToken = "payment_token"
        case authorizationID = "authorization_id", declineReason = "decline_reason", customerID = "customer_id"
        case billingVersion = "billing_version", disputeStatus = "dispute_status", giftCardAmount = "gift_card_amount", cardAmount = "card_amount"
        case giftCards = "gift_cards", issuedGiftCards = "issued_gift_cards", created, lines, vouchers, entitlements
    }

    /// `issued`: the gift cards the order sold (with their codes only in the answer to the capture that issued them).
    init(_ order: Order, vouchers: [Voucher], entitlements: [Entitlement], issued: [GiftCardOut] = [], now: Date) {
        id = order.id.value
        status = order.shownStatus
        currency = order.currency.code
        taxDate = order.taxDate.iso
        tableVersion = order.tableVersion
        rounding = order.rounding.rawValue
        totalAmount = amount(order.totalAmount)
        totalTax = amount(order.totalTax)
        total = amount(order.totalAmount + order.totalTax)
        refundedAmount = amount(order.refundedAmount)
        refundedTax = amount(order.refundedTax)
        paymentToken = order.paymentToken
        authorizationID = order.authorizationID
        declineReason = order.declineReason
        customerID = order.customerID?.value
        billingVersion = order.billingVersion
        disputeStatus = order.disputeStatus
        giftCardAmount = amount(order.giftCardAmount)
        cardAmount = amount(order.cardAmount)
        giftCards = order.giftCards.map {
            TenderOut(giftCardID: $0.giftCardID, lastFour: $0.lastFour, amount: amount($0.amount), returned: amount($0.returned))
        }
        issuedGiftCards = issued
        created = timestamp(order.created)
        lines = order.lines.map { line in
            LineOut(number: line.number, id: line.id, code: line.code.rawValue, fulfilment: line.fulfilment.rawValue, quantity: line.quantity,
                    amount: amount(line.amount), taxable: amount(line.taxable), exempt: amount(line.exempt), tax: amount(line.tax),
                    refundedQuantity: line.refundedQuantity, refundedAmount: amount(line.refundedAmount), sourcingRule: line.sourcingRule.rawValue,
                    sourcedTo: line.sourcedTo, certificate: line.certificate,
                    taxes: line.taxes.map {
                        TaxOut(jurisdictionCode: $0.jurisdictionCode, level: $0.level, name: $0.name, rate: $0.rate, taxable: amount($0.taxable),
                               tax: amount($0.tax), refundedTax: amount($0.refundedTax))
                    })
        }
        self.vouchers = vouchers.map(VoucherOut.init)
        self.entitlements = entitlements.map { EntitlementOut($0, now: now) }
    }
}

struct VoucherOut: Encodable {
    var code: String, orderID: String, line: Int, status: String, location: String?

    enum CodingKeys: String, CodingKey { case code, orderID = "order_id", line, status, location }

    init(_ voucher: Voucher) {
        code = voucher.code
        orderID = voucher.orderID.value
        line = voucher.line
        status = voucher.status.rawValue
        location = voucher.location
    }
}

struct EntitlementOut: Encodable {
    var id: String, orderID: String, line: Int, rights: String, expires: String?, status: String, allowed: Bool

    enum CodingKeys: String, CodingKey { case id, orderID = "order_id", line, rights, expires, status, allowed }

    init(_ entitlement: Entitlement, now: Date) {
        id = entitlement.id
        orderID = entitlement.orderID.value
        line = entitlement.line
        rights = entitlement.rights
        expires = entitlement.expires.map(timestamp)
        status = entitlement.status.rawValue
        allowed = entitlement.allows(at: now)
    }
}

struct RefundOut: Encodable {
    struct LineOut: Encodable {
        struct TaxOut: Encodable {
            var jurisdictionCode: String, tax: String
            enum CodingKeys: String, CodingKey { case jurisdictionCode = "jurisdiction_code", tax }
        }

        var line: Int, quantity: Int64, amount: String, taxes: [TaxOut]
    }

    var id: String, orderID: String, amount: String, tax: String, total: String, toGiftCards: String, toCard: String, lines: [LineOut]

    enum CodingKeys: String, CodingKey {
        case id, orderID = "order_id", amount, tax, total, toGiftCards = "to_gift_cards", toCard = "to_card", lines
    }

    init(_ refund: Refund) {
        id = refund.id.value
        orderID = refund.orderID.value
        amount = Server.amount(refund.amount)
        tax = Server.amount(refund.tax)
        total = Server.amount(refund.amount + refund.tax)
        toGiftCards = Server.amount(refund.giftCardAmount)
        toCard = Server.amount(refund.amount + refund.tax - refund.giftCardAmount)
        lines = refund.lines.map { line in
            LineOut(line: line.line, quantity: line.quantity, amount: Server.amount(line.amount),
                    taxes: line.taxes.map { LineOut.TaxOut(jurisdictionCode: $0.jurisdictionCode, tax: Server.amount($0.tax)) })
        }
    }
}

struct APIKeyOut: Encodable {
    var id: String, label: String, scopes: [String], created: String, revoked: String?, secret: String?
    /// The merchant the key belongs to; absent for the home merchant.
    var merchant: String?

    init(_ key: APIKey, secret: String? = nil) {
        id = key.id
        merchant = key.merchant?.value
        label = key.label
        scopes = key.scopes.sorted().map(\.rawValue)
        created = timestamp(key.created)
        revoked = key.revoked.map(timestamp)
        self.secret = secret
    }
}

struct LedgerEntryOut: Encodable {
    var seq: Int, orderID: String, refundID: String?, kind: String, line: Int, jurisdictionCode: String, level: String, rate: String
    var taxable: String, tax: String, taxDate: String, tableVersion: String, at: String, hash: String

    enum CodingKeys: String, CodingKey {
        case seq, orderID = "order_id", refundID = "refund_id", kind, line, jurisdictionCode = "jurisdiction_code", level, rate, taxable, tax
        case taxDate = "tax_date", tableVersion = "table_version", at, hash
    }

    init(_ entry: LedgerEntry) {
        seq = entry.seq
        orderID = entry.orderID
        refundID = entry.refundID
        kind = entry.kind
        line = entry.line
        jurisdictionCode = entry.jurisdictionCode
        level = entry.level
        rate = entry.rate
        taxable = amount(entry.taxable)
        tax = amount(entry.tax)
        taxDate = entry.taxDate
        tableVersion = entry.tableVersion
        at = entry.at
        hash = entry.hash
    }
}

/// A gift card as shown: never its code, except `code` in the one answer that issued it (or reissued it).
struct GiftCardOut: Encodable {
    var id: String, code: String?, lastFour: String, currency: String, initialAmount: String, balance: String, status: String
    var orderID: String?, line: Int?, issued: String
    var entries: [EntryOut]?

    struct EntryOut: Encodable {
        var seq: Int, kind: String, amount: String, balance: String, orderID: String?, refundID: String?, at: String
        enum CodingKeys: String, CodingKey { case seq, kind, amount, balance, orderID = "order_id", refundID = "refund_id", at }
    }

    enum CodingKeys: String, CodingKey {
        case id, code, lastFour = "last_four", currency, initialAmount = "initial_amount", balance, status, orderID = "order_id", line, issued, entries
    }

    init(_ card: GiftCard, code: GiftCardCode? = nil, entries: [GiftCardEntry]? = nil) {
        id = card.id
        self.code = code?.display
        lastFour = card.lastFour
        currency = card.currency.code
        initialAmount = amount(card.initialAmount)
        balance = amount(card.balance)
        status = card.status.rawValue
        orderID = card.orderID?.value
        line = card.line
        issued = timestamp(card.issued)
        self.entries = entries?.map {
            EntryOut(seq: $0.seq, kind: $0.kind.rawValue, amount: amount($0.amount), balance: amount($0.balance), orderID: $0.orderID?.value,
                     refundID: $0.refundID, at: timestamp($0.at))
        }
    }
}
