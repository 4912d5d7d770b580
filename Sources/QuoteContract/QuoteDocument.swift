import TaxCore

/// The JSON shape of a quote (docs/quote-contract.md). Amounts and rates are decimal strings, never numbers,
/// so no client parses money into a float by accident.
struct QuoteDocument: Encodable {
    var date: String
    var currency: String
    var rounding: String
    var tableVersion: String
    var totalAmount: String
    var totalTax: String
    var lines: [LineDocument]
    var warnings: [String]

    enum CodingKeys: String, CodingKey {
        case date, currency, rounding, lines, warnings
        case tableVersion = "table_version"
        case totalAmount = "total_amount"
        case totalTax = "total_tax"
    }

    init(_ quote: Quote) {
        date = quote.date.iso
        currency = quote.currency.code
        rounding = quote.rounding.rawValue
        tableVersion = quote.tableVersion
        totalAmount = quote.totalAmount.decimalString
        totalTax = quote.totalTax.decimalString
        lines = quote.lines.map(LineDocument.init)
        warnings = quote.warnings
    }

    struct LineDocument: Encodable {
        var id: String
        var code: String
        var fulfilment: String
        var quantity: Int64
        var amount: String
        /// The seller discounts on the line (its own and its share of order-level ones).
        var discount: String
        var thirdPartyDiscount: String
        var taxableBase: String
        var taxable: String
        var exempt: String
        var tax: String
        var taxType: String
        var collecting: Bool
        var notCollecting: NotCollecting?
        var sourcing: Sourcing
        var taxability: Taxability
        var exemption: Exemption?
        var rulesApplied: [String]
        var jurisdictions: [JurisdictionDocument]

        enum CodingKeys: String, CodingKey {
            case id, code, fulfilment, quantity, amount, discount, taxable, exempt, tax, collecting, sourcing, taxability, exemption, jurisdictions
            case thirdPartyDiscount = "third_party_discount"
            case taxableBase = "taxable_base"
            case taxType = "tax_type"
            case notCollecting = "not_collecting"
            case rulesApplied = "rules_applied"
        }

        init(_ line: LineQuote) {
            id = line.id
            code = line.code.rawValue
            fulfilment = line.fulfilment.rawValue
            quantity = line.quantity
            amount = line.amount.decimalString
            discount = Money(minorUnits: line.discounts.seller, currency: line.amount.currency).decimalString
            thirdPartyDiscount = Money(minorUnits: line.discounts.thirdParty, currency: line.amount.currency).decimalString
            taxableBase = line.taxableBase.decimalString
            taxable = line.taxable.decimalString
            exempt = line.exempt.decimalString
            tax = line.tax.decimalString
            taxType = line.taxType.rawValue
            collecting = line.notCollecting == nil
            notCollecting = line.notCollecting.map { NotCollecting(code: $0.code, reason: $0.description) }
            sourcing = Sourcing(line.sourcing)
            taxability = Taxability(rule: line.taxability.rule.rawValue, reason: line.taxability.reason,
                                    confidence: line.taxability.confidence.rawValue, source: line.taxability.provenance.source)
            exemption = line.exemption.map {
                Exemption(state: $0.certificate.state.code, reason: $0.certificate.reason.name, reasonCode: $0.certificate.reason.rawValue,
                          number: $0.certificate.number, expires: $0.certificate.expires?.iso, applied: $0.applied, note: $0.note)
            }
            rulesApplied = line.appliedRules
            jurisdictions = line.jurisdictions.map {
                JurisdictionDocument(level: $0.jurisdiction.level.rawValue, name: $0.jurisdiction.name, code: $0.jurisdiction.code,
                                     rate: $0.rate.fractionString, taxable: Money(minorUnits: $0.taxable).decimalString,
                                     tax: Money(minorUnits: $0.tax).decimalString)
            }
        }
    }

    struct NotCollecting: Encodable {
        var code: String
        var reason: String
    }

    struct Sourcing: Encodable {
        var rule: String
        var explanation: String
        var address: AddressDocument
        var districtAddress: AddressDocument?
        var precision: String
        var record: String

        enum CodingKeys: String, CodingKey {
            case rule, explanation, address, precision, record
            case districtAddress = "district_address"
        }

        init(_ decision: SourcingDecision) {
            rule = decision.rule.rawValue
            explanation = decision.rule.explanation
            address = AddressDocument(decision.address)
            districtAddress = decision.districtAddress.map(AddressDocument.init)
            precision = decision.precision.rawValue
            record = decision.record
        }
    }

    struct AddressDocument: Encodable {
        var line1: String
        var city: String
        var state: String
        var zip: String

        init(_ address: Address) {
            line1 = address.line1
            city = address.city
            state = address.state.code
            zip = address.zip.description
        }
    }

    struct Taxability: Encodable {
        var rule: String
        var reason: String
        var confidence: String
        var source: String
    }

    struct Exemption: Encodable {
        var state: String
        var reason: String
        var reasonCode: String
        var number: String
        var expires: String?
        var applied: Bool
        var note: String

        enum CodingKeys: String, CodingKey {
            case state, reason, number, expires, applied, note
            case reasonCode = "reason_code"
        }
    }

    struct JurisdictionDocument: Encodable {
        var level: String
        var name: String
        var code: String
        var rate: String
        var taxable: String
        var tax: String
    }
}
