/// The exemption reasons of the SST Certificate of Exemption (form F0003), by their letter codes.
public enum ExemptionReason: String, Sendable, CaseIterable, Hashable {
    case federalGovernment = "A"
    case stateOrLocalGovernment = "B"
    case tribalGovernment = "C"
    case foreignDiplomat = "D"
    case charitableOrganization = "E"
    case religiousOrganization = "F"
    case resale = "G"
    case agriculturalProduction = "H"
    case industrialProduction = "I"
    case directPayPermit = "J"
    case directMail = "K"
    case other = "L"
    case educationalOrganization = "M"

    /// The contract's readable name for the reason.
    public var name: String {
        switch self {
        case .federalGovernment: "federal_government"
        case .stateOrLocalGovernment: "state_local_government"
        case .tribalGovernment: "tribal_government"
        case .foreignDiplomat: "foreign_diplomat"
        case .charitableOrganization: "charitable_organization"
        case .religiousOrganization: "religious_organization"
        case .resale: "resale"
        case .agriculturalProduction: "agricultural_production"
        case .industrialProduction: "industrial_production"
        case .directPayPermit: "direct_pay_permit"
        case .directMail: "direct_mail"
        case .other: "other"
        case .educationalOrganization: "educational_organization"
        }
    }

    /// Reads either the SST letter ("G") or the readable name ("resale"); also accepts "government".
    public init?(text: String) {
        let lowered = text.lowercased()
        if let byLetter = ExemptionReason(rawValue: text.uppercased()) { self = byLetter; return }
        if lowered == "government" { self = .stateOrLocalGovernment; return }
        guard let byName = ExemptionReason.allCases.first(where: { $0.name == lowered }) else { return nil }
        self = byName
    }
}

/// A customer's exemption certificate for one state.
public struct ExemptionCertificate: Hashable, Sendable {
    public var state: StateCode
    public var reason: ExemptionReason
    public var number: String
    /// The last day the certificate is valid; nil for certificates that do not expire.
    public var expires: TaxDate?

    public init(state: StateCode, reason: ExemptionReason, number: String, expires: TaxDate?) {
        self.state = state
        self.reason = reason
        self.number = number
        self.expires = expires
    }

    public func isValid(on date: TaxDate) -> Bool { expires.map { date <= $0 } ?? true }
}
