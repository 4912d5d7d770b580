import Foundation
import JSONInput
import TaxCore

/// Reads quote requests and writes quotes in the stable JSON contract of docs/quote-contract.md.
public enum QuoteCodec {
    // MARK: - Decoding

    /// Parses and validates a request. The error names the first field at fault.
    /// `locations`: the merchant's locations by id, for a request that names its origin or a line's location by id
    /// (`"origin": "mpls"`) instead of writing the address out.
    /// `defaultRounding` applies when the request names none (the merchant profile's; `sst` without one).
    /// `placesOfBusiness`: the profile's locations that are places of business, for a request without an origin
    /// (see `chooseOrigin`) and, when the request says nothing of `seller.engaged_in`, as the places the seller is
    /// engaged in business.
    public static func decodeRequest(_ data: Data, locations: [String: Address] = [:], placesOfBusiness: [PlaceOfBusiness] = [],
                                     defaultRounding: RoundingMode = .sst) throws(ContractError) -> QuoteRequest {
        let bytes = Array(data)
        let findings = try checkJSON(bytes)
        let document: QuoteRequestDocument
        if let parsed = QuoteRequestParser.parse(bytes) { document = parsed } else {
            document = try decodeDocumentWithFoundation(data)
            // Foundation reads a whole-number field through a Double: 0.99999999999999999999 was a quantity of 1.
            if let field = findings.firstFractionalNumber {
                throw ContractError(.invalidValue, field: field, "expected a whole number (an integer smaller than 2^63 in size)")
            }
        }
        return try validate(document, locations: locations, placesOfBusiness: placesOfBusiness, defaultRounding: defaultRounding)
    }

    /// A location of the merchant profile where it does business (a spa, a warehouse it ships from).
    public struct PlaceOfBusiness: Sendable, Equatable {
        public var id: String
        public var address: Address

        public init(id: String, address: Address) {
            self.id = id
            self.address = address
        }
    }

    /// The origin of a request that names none, from the merchant's places of business, never a guess:
    /// 1. a single place of business is the origin;
    /// 2. with several, a pickup or in-person line without a location of its own would be sourced to the origin, so
    ///    the request must name it;
    /// 3. when every line is received at a location it names, the first line's location (the sale is made there);
    /// 4. otherwise the one place of business in the state the order goes to (destination, else billing address): an
    ///    intrastate sale in an origin-based state is sourced there; several there must be told apart by the request;
    /// 5. none in that state: the sale is interstate from any of them and sourced to the buyer, so the first by id
    ///    stands as origin (each would give the same tax); the order keeps the address used.
    static func chooseOrigin(_ places: [PlaceOfBusiness], lines: [QuoteLine], destination: Address?, billing: Address?) throws(ContractError) -> Address {
        let places = places.sorted { $0.id < $1.id }
        guard let first = places.first else {
            throw ContractError(.missingField, field: "origin", "the seller's origin address is required (or a place of business in the merchant profile)")
        }
        if places.count == 1 { return first.address }
        let ids = places.prefix(20).map(\.id).joined(separator: ", ")
        if let i = lines.firstIndex(where: { $0.fulfilment.receivedAtSellerLocation && $0.location == nil }) {
            throw ContractError(.missingField, field: "origin", "lines[\(i)] is received at a seller location and names none, and the merchant has "
                                + "\(places.count) places of business (\(ids)): name the origin or the line's location")
        }
        // Every line received at a location of its own: the sale is made there; the first line's location stands.
        if lines.allSatisfy({ $0.location != nil }), let location = lines.first?.location { return location }
        guard let state = (destination ?? billing)?.state else {
            throw ContractError(.missingField, field: "origin", "the order has no destination or billing address, and the merchant has \(places.count) "
                                + "places of business (\(ids)): name the origin")
        }
        let inState = places.filter { $0.address.state == state }
        if inState.count > 1 {
            throw ContractError(.missingField, field: "origin", "the merchant has \(inState.count) places of business in \(state.code) "
                                + "(\(inState.prefix(20).map(\.id).joined(separator: ", "))): name the one the order is sold from")
        }
        return inState.first?.address ?? first.address
    }

    /// The I-JSON check every request passes before it is read (`JSONGuard`), as a contract error.
    @discardableResult
    public static func checkJSON(_ bytes: [UInt8]) throws(ContractError) -> JSONGuard.Findings {
        do { return try JSONGuard.check(bytes) } catch {
            throw contractError(error)
        }
    }

    /// How a `JSONGuard` refusal reads in the contract.
    public static func contractError(_ failure: JSONGuard.Failure) -> ContractError {
        switch failure.kind {
        case .syntax:
            ContractError(.invalidJSON, field: failure.path, failure.message)
        case .invalidUTF8:
            ContractError(.invalidUTF8, field: failure.path, failure.message)
        case .duplicateName:
            ContractError(.duplicateField, field: failure.path, failure.message)
        case .tooDeep, .tooLong, .tooMany, .controlCharacter:
            ContractError(.invalidValue, field: failure.path, failure.message)
        }
    }

    /// Text fields are bounded at the edge: `limit` bytes, no control characters (the JSON check already refused
    /// those in JSON; the CLI's other inputs come here too).
    static func boundedText(_ text: String, field: String, limit: Int) throws(ContractError) -> String {
        guard text.utf8.count <= limit else { throw ContractError(.invalidValue, field: field, "at most \(limit) bytes") }
        guard !text.unicodeScalars.contains(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }) else {
            throw ContractError(.invalidValue, field: field, "control characters are not accepted")
        }
        return text
    }

    /// An identifier the client chooses (a line's id, a discount's): bounded, printable as it reads, and not a card number. The check is
    /// the identifiers' one (a network's prefix and length and a right Luhn digit), so a long SKU is still an id.
    static func identifier(_ text: String, field: String) throws(ContractError) -> String {
        let text = try boundedText(text, field: field, limit: QuoteLimits.maxIdentifierBytes)
        guard !CardNumberMask.containsIssuedCardNumber(text) else { throw ContractError(.invalidValue, field: field, CardNumberMask.refusal) }
        // Ids are printed too (quotes, exports, the console): the rule of person text (probe #16: U+202E was kept).
        if let problem = PrintedText.problem(text) { throw ContractError(.invalidValue, field: field, problem) }
        return text
    }

    /// Text a person writes (an address line, a city): bounded like any text, and never a card number (orders keep
    /// their addresses; a card number belongs in the vault only).
    static func personText(_ text: String, field: String, limit: Int) throws(ContractError) -> String {
        let text = try boundedText(text, field: field, limit: limit)
        guard !CardNumberMask.containsCardNumber(text) else { throw ContractError(.invalidValue, field: field, CardNumberMask.refusal) }
        if let problem = PrintedText.problem(text) { throw ContractError(.invalidValue, field: field, problem) }
        return text
    }

    /// The reference reading (JSONDecoder), which also reports every malformed request with its field path.
    static func decodeDocumentWithFoundation(_ data: Data) throws(ContractError) -> QuoteRequestDocument {
        let document: QuoteRequestDocument
        do {
            document = try JSONDecoder().decode(QuoteRequestDocument.self, from: data)
        } catch let error as UnknownKey {
            let path = fieldPath(error.path)
            throw ContractError(.unknownField, field: path.isEmpty ? error.key : path + "." + error.key,
                                "unknown field; expected one of \(error.allowed.sorted().joined(separator: ", "))")
        } catch let error as ValueRefused {
            throw ContractError(.invalidValue, field: fieldPath(error.path), error.message)
        } catch let DecodingError.typeMismatch(type, context) {
            throw ContractError(.invalidValue, field: fieldPath(context.codingPath), "expected \(jsonTypeName(type))")
        } catch let DecodingError.valueNotFound(type, context) {
            throw ContractError(.invalidValue, field: fieldPath(context.codingPath), "expected \(jsonTypeName(type)), found null")
        } catch let DecodingError.dataCorrupted(context) {
            let field = fieldPath(context.codingPath)
            // Foundation reports a fraction or an overflow where a whole number belongs without its path.
            let bytes = [UInt8](data)
            if field.isEmpty, (try? JSONGuard.check(bytes)) != nil, let number = JSONGuard.firstNonWholeNumber(bytes) {
                throw ContractError(.invalidValue, field: number, "expected a whole number (an integer smaller than 2^63 in size)")
            }
            throw ContractError(field.isEmpty ? .invalidJSON : .invalidValue, field: field,
                                field.isEmpty ? "the request is not valid JSON" : "the value cannot be read")
        } catch {
            throw ContractError(.invalidJSON, field: "", "the request is not a JSON object")
        }
        return document
    }

    private static func jsonTypeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        case is Int64.Type, is Int.Type: "an integer"
        case is [Any].Type: "an array"
        default: "an object"
        }
    }

    static func validate(_ document: QuoteRequestDocument, locations: [String: Address] = [:], placesOfBusiness: [PlaceOfBusiness] = [],
                         defaultRounding: RoundingMode = .sst) throws(ContractError) -> QuoteRequest {
        guard let dateText = document.date else { throw ContractError(.missingField, field: "date", "the tax date is required (YYYY-MM-DD)") }
        guard let date = TaxDate(iso: dateText) else {
            throw ContractError(.invalidValue, field: "date", "\"\(dateText)\" is not a date (YYYY-MM-DD)")
        }
        let currency = Currency.usd
        if let code = document.currency, code != currency.code {
            throw ContractError(.invalidValue, field: "currency", "only USD is supported, got \"\(code)\"")
        }
        let givenOrigin = try document.origin.map { doc throws(ContractError) in try address(doc, field: "origin", locations: locations) }
        let destination = try document.destination.map { doc throws(ContractError) in try address(doc, field: "destination") }
        let billing = try document.billing.map { doc throws(ContractError) in try address(doc, field: "billing") }
        let payment = try document.paymentAddress.map { doc throws(ContractError) in try address(doc, field: "payment_address") }

        var registrations: Set<StateCode>?
        if let list = document.seller?.registrations {
            guard list.count <= 60 else { throw ContractError(.invalidValue, field: "seller.registrations", "at most 60 states") }
            var states = Set<StateCode>()
            for (i, text) in list.enumerated() {
                guard let state = StateCode(text) else {
                    throw ContractError(.invalidValue, field: "seller.registrations[\(i)]", "\"\(text)\" is not a two-letter state code")
                }
                // Probe #21: "MM" was taken, and every line was "not registered" with no word of why.
                guard StateCode.usPlaces.contains(state) else {
                    throw ContractError(.invalidValue, field: "seller.registrations[\(i)]", "\"\(text)\" is not the code of a US state, DC or territory")
                }
                states.insert(state)
            }
            registrations = states
        }

        var exemptions: [ExemptionCertificate] = []
        if let list = document.customer?.exemptions, list.count > QuoteLimits.maxExemptions {
            throw ContractError(.invalidValue, field: "customer.exemptions", "at most \(QuoteLimits.maxExemptions) certificates")
        }
        for (i, doc) in (document.customer?.exemptions ?? []).enumerated() {
            let field = "customer.exemptions[\(i)]"
            guard let stateText = doc.state else { throw ContractError(.missingField, field: field + ".state", "required") }
            guard let state = StateCode(stateText) else {
                throw ContractError(.invalidValue, field: field + ".state", "\"\(stateText)\" is not a two-letter state code")
            }
            guard let reasonText = doc.reason else { throw ContractError(.missingField, field: field + ".reason", "required") }
            guard let reason = ExemptionReason(text: reasonText) else {
                throw ContractError(.invalidValue, field: field + ".reason",
                                    "\"\(reasonText)\" is not an SST reason code (A-M) or name (\(ExemptionReason.allCases.map(\.name).joined(separator: ", ")))")
            }
            guard let number = doc.number, !number.isEmpty else { throw ContractError(.missingField, field: field + ".number", "required") }
            // Shown to accountants and exported with the order: never a card number.
            _ = try personText(number, field: field + ".number", limit: QuoteLimits.maxIdentifierBytes)
            var expires: TaxDate?
            if let text = doc.expires {
                guard let parsed = TaxDate(iso: text) else {
                    throw ContractError(.invalidValue, field: field + ".expires", "\"\(text)\" is not a date (YYYY-MM-DD)")
                }
                expires = parsed
            }
            exemptions.append(ExemptionCertificate(state: state, reason: reason, number: number, expires: expires))
        }

        guard let lineDocuments = document.lines else { throw ContractError(.missingField, field: "lines", "at least one line is required") }
        guard !lineDocuments.isEmpty else { throw ContractError(.invalidValue, field: "lines", "at least one line is required") }
        guard lineDocuments.count <= QuoteLimits.maxLines else {
            throw ContractError(.invalidValue, field: "lines", "an order has at most \(QuoteLimits.maxLines) lines, got \(lineDocuments.count)")
        }
        var lines: [QuoteLine] = []
        var ids = Set<String>()
        for (i, doc) in lineDocuments.enumerated() {
            let field = "lines[\(i)]"
            guard let id = doc.id, !id.isEmpty else { throw ContractError(.missingField, field: field + ".id", "required") }
            _ = try identifier(id, field: field + ".id")
            guard ids.insert(id).inserted else { throw ContractError(.invalidValue, field: field + ".id", "\"\(id)\" is used by another line") }
            guard let codeText = doc.code else { throw ContractError(.missingField, field: field + ".code", "required") }
            guard let code = ProductTaxCode(rawValue: codeText) else {
                throw ContractError(.invalidValue, field: field + ".code",
                                    "unknown product tax code \"\(codeText)\"; expected one of \(ProductTaxCode.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard let amountText = doc.amount else { throw ContractError(.missingField, field: field + ".amount", "required (a decimal string)") }
            let amount: Money
            do { amount = try Money.parseInput(amountText, currency: currency) } catch {
                throw ContractError(.invalidValue, field: field + ".amount", "\(error)")
            }
            guard amount.minorUnits <= QuoteLimits.maxLineAmount else {
                throw ContractError(.invalidValue, field: field + ".amount",
                                    "at most \(DecimalText.format(QuoteLimits.maxLineAmount, scaleDigits: currency.minorDigits, trimTrailingZeros: false))")
            }
            let quantity = doc.quantity ?? 1
            guard (1...QuoteLimits.maxQuantity).contains(quantity) else {
                throw ContractError(.invalidValue, field: field + ".quantity", "must be 1 to \(QuoteLimits.maxQuantity), got \(quantity)")
            }
            guard let fulfilmentText = doc.fulfilment else { throw ContractError(.missingField, field: field + ".fulfilment", "required") }
            guard let fulfilment = Fulfilment(rawValue: fulfilmentText) else {
                throw ContractError(.invalidValue, field: field + ".fulfilment",
                                    "\"\(fulfilmentText)\" is not one of \(Fulfilment.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let location = try doc.location.map { loc throws(ContractError) in try address(loc, field: field + ".location", locations: locations) }
            if location != nil, !fulfilment.receivedAtSellerLocation {
                throw ContractError(.invalidValue, field: field + ".location", "a seller location applies only to pickup and in_person lines")
            }
            var discount: Int64 = 0
            if let text = doc.discount {
                do { discount = try Money.parseInput(text, currency: currency).minorUnits } catch {
                    throw ContractError(.invalidValue, field: field + ".discount", "\(error)")
                }
                guard discount <= amount.minorUnits else {
                    throw ContractError(.invalidValue, field: field + ".discount", "the discount \(text) is larger than the line's amount \(amount.decimalString)")
                }
            }
            lines.append(QuoteLine(id: id, code: code, amount: amount, quantity: quantity, fulfilment: fulfilment,
                                   taxIncluded: doc.taxIncluded ?? false, location: location, discount: discount))
        }

        var rounding = defaultRounding
        if let text = document.rounding {
            guard let mode = RoundingMode(rawValue: text) else {
                throw ContractError(.invalidValue, field: "rounding",
                                    "\"\(text)\" is not one of \(RoundingMode.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            rounding = mode
        }
        var discounts: [OrderDiscount] = []
        let discountDocuments = document.discounts ?? []
        guard discountDocuments.count <= QuoteLimits.maxDiscounts else {
            throw ContractError(.invalidValue, field: "discounts", "at most \(QuoteLimits.maxDiscounts) discounts")
        }
        var discountIDs = Set<String>()
        for (i, doc) in discountDocuments.enumerated() {
            let field = "discounts[\(i)]"
            guard let id = doc.id, !id.isEmpty else { throw ContractError(.missingField, field: field + ".id", "required") }
            _ = try identifier(id, field: field + ".id")
            guard discountIDs.insert(id).inserted else { throw ContractError(.invalidValue, field: field + ".id", "\"\(id)\" is used by another discount") }
            guard let amountText = doc.amount else { throw ContractError(.missingField, field: field + ".amount", "required (a decimal string)") }
            let amount: Money
            do { amount = try Money.parseInput(amountText, currency: currency) } catch {
                throw ContractError(.invalidValue, field: field + ".amount", "\(error)")
            }
            let kindText = doc.kind ?? DiscountKind.seller.rawValue
            guard let kind = DiscountKind(rawValue: kindText) else {
                throw ContractError(.invalidValue, field: field + ".kind", "\"\(kindText)\" is not seller or third_party")
            }
            if let ids = doc.lines {
                guard !ids.isEmpty, ids.count <= QuoteLimits.maxLines else {
                    throw ContractError(.invalidValue, field: field + ".lines", "list 1 to \(QuoteLimits.maxLines) line ids, or leave it out for every line")
                }
                for (j, lineID) in ids.enumerated() where !lines.contains(where: { $0.id == lineID }) {
                    throw ContractError(.invalidValue, field: field + ".lines[\(j)]", "the order has no line \"\(lineID)\"")
                }
                // A line named twice would share the discount as if it were two lines.
                var named = Set<String>()
                for (j, lineID) in ids.enumerated() where !named.insert(lineID).inserted {
                    throw ContractError(.invalidValue, field: field + ".lines[\(j)]", "line \"\(lineID)\" is listed twice")
                }
            }
            discounts.append(OrderDiscount(id: id, amount: amount, kind: kind, lineIDs: doc.lines))
        }

        let origin: Address
        if let givenOrigin { origin = givenOrigin } else { origin = try chooseOrigin(placesOfBusiness, lines: lines, destination: destination, billing: billing ?? payment) }
        // Without a word from the request, the seller is engaged in business where the profile has places of business.
        var engagement = placesOfBusiness.isEmpty ? SellerEngagement.originOnly : .places(placesOfBusiness.map(\.address.zip))
        if document.seller?.engagedEverywhere == true {
            engagement = .everywhere
        } else if let places = document.seller?.engagedIn {
            guard places.count <= 1_000 else { throw ContractError(.invalidValue, field: "seller.engaged_in", "at most 1000 ZIP codes") }
            var zips: [ZipCode] = []
            for (i, text) in places.enumerated() {
                guard let zip = ZipCode(text) else {
                    throw ContractError(.invalidValue, field: "seller.engaged_in[\(i)]", "\"\(text.prefix(12))\" is not a ZIP5 or ZIP+4")
                }
                zips.append(zip)
            }
            engagement = .places(zips)
        }
        var request = QuoteRequest(date: date, origin: origin, destination: destination, billing: billing, payment: payment, registrations: registrations,
                                   exemptions: exemptions, lines: lines, rounding: rounding, discounts: discounts, engagement: engagement)
        request.elections = try elections(document.seller?.elections ?? [], placesOfBusiness: placesOfBusiness)
        return request
    }

    /// `seller.elections`: at most one program per state, named by a word the tables define (the engine refuses one
    /// they do not have). A merchant with a place of business in the state is not a remote seller there.
    static func elections(_ documents: [ElectionDocument], placesOfBusiness: [PlaceOfBusiness]) throws(ContractError) -> [RemoteSellerElection] {
        guard documents.count <= 60 else { throw ContractError(.invalidValue, field: "seller.elections", "at most 60 elections, one per state") }
        var result: [RemoteSellerElection] = []
        for (i, document) in documents.enumerated() {
            let field = "seller.elections[\(i)]"
            guard let stateText = document.state else { throw ContractError(.missingField, field: field + ".state", "required (a two-letter state code)") }
            guard let state = StateCode(stateText) else {
                throw ContractError(.invalidValue, field: field + ".state", "\"\(stateText.prefix(12))\" is not a two-letter state code")
            }
            guard let type = document.type else {
                throw ContractError(.missingField, field: field + ".type", "required (single_local_use_tax, simplified_sellers_use_tax)")
            }
            guard RemoteSellerElection.isValidType(type) else {
                throw ContractError(.invalidValue, field: field + ".type", RemoteSellerElection.typeRule)
            }
            guard !result.contains(where: { $0.state == state }) else {
                throw ContractError(.invalidValue, field: field + ".state", "\(state) is elected twice: a seller elects at most one program per state")
            }
            if let place = placesOfBusiness.sorted(by: { $0.id < $1.id }).first(where: { $0.address.state == state }) {
                throw ContractError(.invalidValue, field: field + ".state", "the merchant profile has a place of business in \(state) (\(place.id)): "
                                    + "a seller located there is not a remote seller and cannot elect \(type)")
            }
            result.append(RemoteSellerElection(state: state, type: type))
        }
        return result
    }

    /// The address a document gives, or the merchant's location it names (only where `locations` is passed: the
    /// seller's own places, never a buyer's address).
    static func address(_ doc: AddressDocument, field: String, locations: [String: Address]? = nil) throws(ContractError) -> Address {
        if let id = doc.locationID {
            guard let locations else {
                throw ContractError(.invalidValue, field: field, "an address object is required here (a location id names only the seller's places)")
            }
            guard let address = locations[id] else {
                let known = locations.keys.sorted().prefix(20).joined(separator: ", ")
                throw ContractError(.invalidValue, field: field, "\"\(id.prefix(64))\" is no location of the merchant profile"
                                    + (known.isEmpty ? " (it has none: levy merchant add-location)" : " (its locations: \(known))"))
            }
            return address
        }
        guard let stateText = doc.state else { throw ContractError(.missingField, field: field + ".state", "required") }
        guard let state = StateCode(stateText) else {
            throw ContractError(.invalidValue, field: field + ".state", "\"\(stateText)\" is not a two-letter state code")
        }
        guard let zipText = doc.zip else { throw ContractError(.missingField, field: field + ".zip", "required (ZIP5 or ZIP+4)") }
        guard let zip = ZipCode(zipText.trimmingCharacters(in: .whitespaces)) else {
            throw ContractError(.invalidValue, field: field + ".zip", "\"\(zipText)\" is not a ZIP5 or ZIP+4")
        }
        let line1 = try personText(doc.line1 ?? "", field: field + ".line1", limit: QuoteLimits.maxAddressTextBytes)
        let city = try personText(doc.city ?? "", field: field + ".city", limit: QuoteLimits.maxAddressTextBytes)
        return Address(line1: line1, city: city, state: state, zip: zip)
    }

    /// The contract's view of an engine refusal: same field path discipline as request validation.
    public static func contractError(_ error: QuoteError) -> ContractError {
        switch error {
        // A discount is checked against its lines by the engine, but it is the request that is at fault, as a
        // line's own discount larger than its amount is (probe #13: one was 400, the other 422).
        case .discountTooLarge, .discountLines: ContractError(.invalidValue, field: error.field, error.description)
        default: ContractError(.unquotable, field: error.field, error.description)
        }
    }

    // MARK: - Encoding

    /// The quote as pretty-printed JSON with sorted keys (stable bytes for the same quote).
    public static func encode(_ quote: Quote) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // Encoding plain value types with string keys cannot fail.
        return try! encoder.encode(QuoteDocument(quote))
    }

    /// The same document without indentation, for the HTTP API: the bytes JSONEncoder would give with sorted keys,
    /// written by `QuoteJSONWriter` (several times faster).
    public static func encodeCompact(_ quote: Quote) -> [UInt8] {
        var writer = QuoteJSONWriter()
        writer.write(QuoteDocument(quote))
        return writer.bytes
    }

    /// The compact document through JSONEncoder: the reference `encodeCompact` must match byte for byte.
    public static func encodeCompactWithFoundation(_ quote: Quote) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try! encoder.encode(QuoteDocument(quote)))
    }

    public static func encode(_ error: ContractError) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try! encoder.encode(["error": ["code": error.code.rawValue, "field": error.field, "message": error.message]])
    }
}
