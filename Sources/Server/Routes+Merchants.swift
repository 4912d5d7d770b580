import Foundation
import HTTPTypes
import Merchants
import Orders
import QuoteContract
import Synchronization
import TaxCore

extension LevyAPI {
    /// Merchant profiles (admin; accountants read them): the legal entity, dated registrations and locations. Quotes
    /// and orders that name no registrations use the profile's (see `applyingProfile`).
    var merchantEndpoints: [Endpoint] {
        [
            Endpoint(method: .get, path: "/v1/merchants", scopes: [.admin, .accountant, .platform], idempotency: .none) { call in
                // A platform key sees every merchant; any other key its own.
                if call.key?.scopes.contains(.platform) == true {
                    return .json(MerchantListOut(merchants: try await services.merchants.list().map(MerchantOut.init)))
                }
                let own = try await services.profile()
                return .json(MerchantListOut(merchants: own.map { [MerchantOut($0)] } ?? []))
            },
            Endpoint(method: .post, path: "/v1/merchants", scopes: [.admin, .platform], idempotency: .optional) { call in
                let body = try call.decode(MerchantBody.self)
                guard let name = body.name else { throw APIError.missing("name") }
                let platform = call.key?.scopes.contains(.platform) == true
                // An admin key makes its installation's first profile; only a platform key makes further merchants.
                if !platform, try await services.merchants.first() != nil || services.merchant != nil { throw APIError.forbidden(.platform) }
                let changes = try body.changes()
                // The legal address heads tax files (SAF-T): a state and ZIP the tables know, as a location's.
                if let address = changes.address { _ = try knownPlace(address, field: "address") }
                let merchant = try await services.merchants.create(legalName: name, changes: changes)
                profiles.forget()
                guard platform else { return .json(MerchantOut(merchant), status: .created) }
                // The new merchant's first admin key, shown this once (a replay gets the merchant without it).
                let home = try await services.merchants.namespace(of: merchant.id).isEmpty
                // Its tables are made now, while the platform waits for the merchant, not in its first checkout request
                // (probe #6: about 2 s there on SQLite with 180 merchants). Not a reason to fail: the merchant exists,
                // and its first request makes them if this could not.
                if !home { _ = try? await services.scoped(to: merchant.id) }
                let issued = try await services.keys.create(label: "first admin key", scopes: [.admin], merchant: home ? nil : merchant.id)
                var reply = APIReply.json(MerchantOut(merchant, adminKey: APIKeyOut(issued.key, secret: issued.secret)), status: .created)
                reply.storedBody = JSONBody.encode(MerchantOut(merchant, adminKey: APIKeyOut(issued.key)))
                return reply
            },
            Endpoint(method: .get, path: "/v1/merchants/{merchant_id}", scopes: [.admin, .accountant, .platform], idempotency: .none) { call in
                .json(MerchantOut(try await services.merchants.merchant(try await visibleMerchantID(call))))
            },
            Endpoint(method: .patch, path: "/v1/merchants/{merchant_id}", scopes: [.admin], idempotency: .none) { call in
                let changes = try call.decode(MerchantBody.self).changes()
                if let address = changes.address { _ = try knownPlace(address, field: "address") }
                let merchant = try await services.merchants.update(try await ownMerchantID(call), changes)
                profiles.forget()
                return .json(MerchantOut(merchant))
            },
            Endpoint(method: .post, path: "/v1/merchants/{merchant_id}/registrations", scopes: [.admin], idempotency: .optional) { call in
                let body = try call.decode(RegistrationBody.self)
                if let election = body.registration.election,
                   let problem = services.tables.electionProblem(body.registration.state, election, from: body.registration.from) {
                    throw APIError.invalid("election", problem)
                }
                let merchant = try await services.merchants.register(try await ownMerchantID(call), body.registration)
                profiles.forget()
                return .json(MerchantOut(merchant), status: .created)
            },
            Endpoint(method: .post, path: "/v1/merchants/{merchant_id}/locations", scopes: [.admin], idempotency: .optional) { call in
                let body = try call.decode(LocationBody.self)
                // A location sources lines: its ZIP must be one the tables know, in the state given.
                _ = try knownPlace(body.location.address, field: "address")
                try Self.checkPinned(body.location, tables: services.tables, on: CustomerService.today(services.now()))
                let merchant = try await services.merchants.addLocation(try await ownMerchantID(call), body.location)
                profiles.forget()
                return .json(MerchantOut(merchant), status: .created)
            },
        ]
    }

    static func merchantID(_ call: APICall) throws -> MerchantID {
        let text = call.parameter("merchant_id")
        guard text.hasPrefix("mer_"), text.utf8.count <= 40 else { throw APIError.notFound("no such merchant", field: "merchant_id") }
        return MerchantID(text)
    }

    /// The path's merchant when it is the caller's own; any other id is 404, as if it did not exist.
    func ownMerchantID(_ call: APICall) async throws -> MerchantID {
        let id = try Self.merchantID(call)
        guard let own = try await services.profile(), own.id == id else { throw APIError.notFound("no such merchant", field: "merchant_id") }
        return id
    }

    /// The path's merchant when the caller may read it: its own, or any with a platform key.
    func visibleMerchantID(_ call: APICall) async throws -> MerchantID {
        call.key?.scopes.contains(.platform) == true ? try Self.merchantID(call) : try await ownMerchantID(call)
    }

    /// Pinned codes must be jurisdictions the tables can rate in the location's state today: a code they do not know
    /// would make every quote there fail.
    static func checkPinned(_ location: Location, tables: TaxTableSet, on date: TaxDate?) throws {
        guard let date, let i = tables.locals.firstUnrated(location.jurisdictions, state: location.address.state, on: date) else { return }
        throw APIError.invalid("jurisdictions[\(i)]",
                               "\(location.jurisdictions[i].prefix(64)) is no local jurisdiction of \(location.address.state) in the tables on \(date)")
    }

    /// The request as the merchant's profile completes it: with no registrations named, the states where the
    /// profile records a registration in force on the quote's date (none: every state is "not collecting") and,
    /// with no elections named either, the remote-seller programs those registrations elect; and the
    /// jurisdictions pinned for the profile's premises that the request's seller places use. A profile without
    /// registrations or pins, or no profile, changes nothing.
    func applyingProfile(_ request: QuoteRequest, _ profile: ProfileCache.Profile) -> QuoteRequest {
        var completed = request
        if !profile.pinned.isEmpty {
            for place in [request.origin] + request.lines.compactMap(\.location) {
                if let codes = profile.pinned[place] { completed.pinned[place] = codes }
            }
        }
        completed.placesOfBusiness.merge(profile.placeOfBusinessByState) { named, _ in named }
        if request.registrations == nil, let merchant = profile.merchant, !merchant.registrations.isEmpty {
            completed.registrations = merchant.registeredStates(on: request.date)
            if request.elections.isEmpty { completed.elections = merchant.elections(on: request.date) }
        }
        return completed
    }

}

/// The installation's merchant profile, read at most every few seconds: quotes are the hot path, and a profile
/// changes rarely (a change through this process is seen at once; through another, within `lifetime`).
final class ProfileCache: Sendable {
    /// The profile (nil: none yet) and its locations by id, made once per read rather than once per quote.
    struct Profile: Sendable {
        var merchant: Merchant?
        var locations: [String: Address]
        /// The locations that are places of business: the origin of a request that names none, and where the
        /// seller is engaged in business.
        var placesOfBusiness: [QuoteCodec.PlaceOfBusiness]
        /// The first place of business in each state, as a quote's warnings name it ("location bham (35203)").
        var placeOfBusinessByState: [StateCode: String]
        /// The locations whose jurisdictions the operator pinned, by address.
        var pinned: [Address: [String]]
    }

    let lifetime: TimeInterval = 5
    private let cached = Mutex<(at: Date, profile: Profile)?>(nil)

    /// The profile of the merchant `services` serve (the home merchant's when they serve no other).
    func current(_ services: LevyServices) async throws -> Profile {
        if let hit = cached.withLock({ $0 }), Date().timeIntervalSince(hit.at) < lifetime { return hit.profile }
        let merchant = try await services.profile()
        let placesOfBusiness = (merchant?.locations ?? []).filter(\.placeOfBusiness)
        let profile = Profile(merchant: merchant, locations: Dictionary((merchant?.locations ?? []).map { ($0.id, $0.address) },
                                                                        uniquingKeysWith: { first, _ in first }),
                              placesOfBusiness: placesOfBusiness.map { .init(id: $0.id, address: $0.address) },
                              placeOfBusinessByState: Dictionary(placesOfBusiness.map { ($0.address.state, "location \($0.id) (\($0.address.zip))") },
                                                                 uniquingKeysWith: { first, _ in first }),
                              pinned: Dictionary((merchant?.locations ?? []).filter { !$0.jurisdictions.isEmpty }.map { ($0.address, $0.jurisdictions) },
                                                 uniquingKeysWith: { first, _ in first }))
        cached.withLock { $0 = (Date(), profile) }
        return profile
    }

    func forget() { cached.withLock { $0 = nil } }
}

/// A merchant's profile fields, for creating (name required) and changing (any subset).
struct MerchantBody: Decodable {
    var name: String?, contact: String?, email: String?, phone: String?
    var address: AddressBody?
    var rounding: String?

    enum CodingKeys: String, CodingKey, CaseIterable { case name, contact, email, phone, address, rounding }

    init(from decoder: any Decoder) throws {
        try decoder.refuseUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decodeIfPresent(String.self, forKey: .name)
        contact = try c.decodeIfPresent(String.self, forKey: .contact)
        email = try c.decodeIfPresent(String.self, forKey: .email)
        phone = try c.decodeIfPresent(String.self, forKey: .phone)
        address = try c.decodeIfPresent(AddressBody.self, forKey: .address)
        rounding = try c.decodeIfPresent(String.self, forKey: .rounding)
    }

    func changes() throws -> MerchantChanges {
        var rounding: RoundingMode?
        if let text = self.rounding {
            guard let mode = RoundingMode(rawValue: text) else { throw APIError.invalid("rounding", "sst, line_jurisdiction or invoice_combined") }
            rounding = mode
        }
        try checkPersonText(["name": name, "contact": contact, "email": email, "phone": phone])
        return MerchantChanges(legalName: name, contactName: contact, email: email, phone: phone, address: try address?.address(field: "address"),
                               rounding: rounding)
    }
}

struct RegistrationBody: Decodable {
    var registration: Registration

    enum CodingKeys: String, CodingKey, CaseIterable { case state, permit, from, through, election }

    init(from decoder: any Decoder) throws {
        try decoder.refuseUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let state = try c.decode(String.self, forKey: .state)
        guard let code = StateCode(state.uppercased()) else { throw APIError.invalid("state", "\"\(state.prefix(8))\" is not a two-letter state code") }
        func date(_ key: CodingKeys) throws -> TaxDate? {
            guard let text = try c.decodeIfPresent(String.self, forKey: key) else { return nil }
            guard let date = TaxDate(iso: text) else { throw APIError.invalid(key.rawValue, "\"\(text.prefix(12))\" is not a date (YYYY-MM-DD)") }
            return date
        }
        guard let from = try date(.from) else { throw APIError.missing("from") }
        let election = try c.decodeIfPresent(String.self, forKey: .election)
        if let election, !RemoteSellerElection.isValidType(election) {
            throw APIError.invalid("election", RemoteSellerElection.typeRule)
        }
        registration = Registration(state: code, permit: try c.decode(String.self, forKey: .permit), from: from, through: try date(.through),
                                    election: election)
    }
}

struct LocationBody: Decodable {
    var location: Location

    enum CodingKeys: String, CodingKey, CaseIterable { case id, name, address, placeOfBusiness = "place_of_business", jurisdictions }

    init(from decoder: any Decoder) throws {
        try decoder.refuseUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        location = Location(id: try c.decode(String.self, forKey: .id), name: try c.decode(String.self, forKey: .name),
                            address: try c.decode(AddressBody.self, forKey: .address).address(field: "address"),
                            placeOfBusiness: try c.decodeIfPresent(Bool.self, forKey: .placeOfBusiness) ?? true,
                            jurisdictions: try c.decodeIfPresent([String].self, forKey: .jurisdictions) ?? [])
    }
}

struct MerchantListOut: Encodable {
    var merchants: [MerchantOut]
}

struct MerchantOut: Encodable {
    struct AddressOut: Encodable { var line1: String, city: String, state: String, zip: String }
    struct RegistrationOut: Encodable { var state: String, permit: String, from: String, through: String?, election: String? }
    struct LocationOut: Encodable {
        var id: String, name: String, address: AddressOut, placeOfBusiness: Bool, jurisdictions: [String]?
        enum CodingKeys: String, CodingKey { case id, name, address, placeOfBusiness = "place_of_business", jurisdictions }
    }

    var id: String, name: String, contact: String?, email: String?, phone: String?, address: AddressOut?, rounding: String
    var registrations: [RegistrationOut]
    var locations: [LocationOut]
    /// The first admin key of a merchant a platform key just made (its secret only in the first answer).
    var adminKey: APIKeyOut?

    enum CodingKeys: String, CodingKey {
        case id, name, contact, email, phone, address, rounding, registrations, locations, adminKey = "admin_key"
    }

    init(_ merchant: Merchant, adminKey: APIKeyOut) {
        self.init(merchant)
        self.adminKey = adminKey
    }

    init(_ merchant: Merchant) {
        func out(_ address: Address) -> AddressOut {
            AddressOut(line1: address.line1, city: address.city, state: address.state.code, zip: address.zip.description)
        }
        id = merchant.id.value
        name = merchant.legalName
        contact = merchant.contactName
        email = merchant.email
        phone = merchant.phone
        address = merchant.address.map(out)
        rounding = merchant.rounding.rawValue
        registrations = merchant.registrations.map {
            RegistrationOut(state: $0.state.code, permit: $0.permit, from: $0.from.iso, through: $0.through?.iso, election: $0.election)
        }
        locations = merchant.locations.map { LocationOut(id: $0.id, name: $0.name, address: out($0.address), placeOfBusiness: $0.placeOfBusiness,
                                                       jurisdictions: $0.jurisdictions.isEmpty ? nil : $0.jurisdictions) }
    }
}
