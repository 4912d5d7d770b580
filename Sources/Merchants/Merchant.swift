import TaxCore

/// A merchant's id: `mer_` and base32.
public struct MerchantID: Hashable, Sendable, CustomStringConvertible {
    public let value: String
    public init(_ value: String) { self.value = value }
    public var description: String { value }
}

/// Who is selling: the legal entity tax returns and audit files are made out to, where it is registered to collect,
/// and where it does business.
public struct Merchant: Sendable, Hashable {
    public var id: MerchantID
    public var legalName: String
    public var contactName: String?
    public var email: String?
    public var phone: String?
    public var address: Address?
    /// The rounding rule its invoices declare (documented on the profile; a quote still names its own).
    public var rounding: RoundingMode
    public var registrations: [Registration]
    public var locations: [Location]

    /// The states whose registration covers `date`.
    public func registeredStates(on date: TaxDate) -> Set<StateCode> {
        Set(registrations.filter { $0.covers(date) }.map(\.state))
    }

    /// The remote-seller programs its registrations in force on `date` elect, by state.
    public func elections(on date: TaxDate) -> [RemoteSellerElection] {
        registrations.filter { $0.covers(date) }.sorted { $0.state < $1.state }
            .compactMap { registration in registration.election.map { RemoteSellerElection(state: registration.state, type: $0) } }
    }

    /// The permit a tax file names for the merchant on `date`: its home state's registration in force then, else any
    /// in force.
    public func permit(on date: TaxDate) -> String? {
        let current = registrations.filter { $0.covers(date) }
        return (current.first { $0.state == address?.state } ?? current.first)?.permit
    }

    /// Where a report's registrations came from, with since when each is in force on `date`:
    /// `merchant profile mer_…: MN since 2025-01-01, WI since 2026-04-01`.
    public func registrationSource(on date: TaxDate) -> String {
        let since = registrations.filter { $0.covers(date) }.sorted { $0.state < $1.state }.map { "\($0.state.code) since \($0.from.iso)" }
        return "merchant profile \(id)" + (since.isEmpty ? "" : ": " + since.joined(separator: ", "))
    }
}

/// A registration to collect a state's sales tax: the permit number and the dates it covers (`through` nil: still
/// in force), and the remote-seller program it elects, if any (`single_local_use_tax` in Texas: a seller with no
/// place of business in the state registers for it; TaxTables/elections.csv).
public struct Registration: Sendable, Hashable {
    public var state: StateCode
    public var permit: String
    public var from: TaxDate
    public var through: TaxDate?
    public var election: String?

    public init(state: StateCode, permit: String, from: TaxDate, through: TaxDate? = nil, election: String? = nil) {
        self.state = state
        self.permit = permit
        self.from = from
        self.through = through
        self.election = election
    }

    public func covers(_ date: TaxDate) -> Bool { from <= date && through.map { date <= $0 } ?? true }
}

/// A place the merchant sells from or performs services at (a spa, a warehouse). A place of business is where
/// origin sourcing may put a sale.
public struct Location: Sendable, Hashable {
    public var id: String
    public var name: String
    public var address: Address
    public var placeOfBusiness: Bool
    /// The local jurisdiction codes the operator verified for these premises (empty: the tables resolve the
    /// address); a line sourced here is taxed by exactly these.
    public var jurisdictions: [String]

    public init(id: String, name: String, address: Address, placeOfBusiness: Bool, jurisdictions: [String] = []) {
        self.id = id
        self.name = name
        self.address = address
        self.placeOfBusiness = placeOfBusiness
        self.jurisdictions = jurisdictions
    }
}

/// What a profile change sets; nil leaves a field as it is.
public struct MerchantChanges: Sendable, Hashable {
    public var legalName: String?
    public var contactName: String?
    public var email: String?
    public var phone: String?
    public var address: Address?
    public var rounding: RoundingMode?

    public init(legalName: String? = nil, contactName: String? = nil, email: String? = nil, phone: String? = nil, address: Address? = nil,
                rounding: RoundingMode? = nil) {
        self.legalName = legalName
        self.contactName = contactName
        self.email = email
        self.phone = phone
        self.address = address
        self.rounding = rounding
    }
}

public enum MerchantError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A field's value is refused; `field` names it as the caller wrote it.
    case invalid(field: String, String)
    case unknownMerchant(String)
    /// No merchant exists yet (nothing to default to).
    case none
    /// A registration for the state overlaps one already recorded.
    case overlappingRegistration(state: String)
    case duplicateLocation(String)
    /// A place of business in a state where the merchant's registration elects a remote-seller program (or the
    /// other way round): a seller located in the state is no remote seller there.
    case electionWithPlaceOfBusiness(field: String, state: String, election: String, location: String)

    public var field: String {
        switch self {
        case .invalid(let field, _): field
        case .unknownMerchant, .none: "merchant"
        case .overlappingRegistration: "from"
        case .duplicateLocation: "id"
        case .electionWithPlaceOfBusiness(let field, _, _, _): field
        }
    }

    public var description: String {
        switch self {
        case .invalid(let field, let why): "\(field): \(why)"
        case .unknownMerchant(let id): "no merchant \(id)"
        case .none: "no merchant exists yet: create one with `levy merchant create --name NAME`"
        case .overlappingRegistration(let state): "a registration in \(state) already covers some of these dates"
        case .duplicateLocation(let id): "the merchant already has a location \(id)"
        case .electionWithPlaceOfBusiness(_, let state, let election, let location):
            "the registration in \(state) elects \(election), which only a seller with no place of business in \(state) may, and location "
                + "\(location) is one: end the registration or record the location as no place of business"
        }
    }
}
