/// How precisely an address was matched to its local jurisdictions.
public enum ResolutionPrecision: String, Sendable, CaseIterable, Comparable {
    /// A street address range record.
    case address
    /// A ZIP+4 range record.
    case zip4
    /// A ZIP5 record (local parts may be estimates where a ZIP straddles boundaries).
    case zip5
    /// No record for the ZIP; the most common local rates of its county were used.
    case countyFallback = "county_fallback"

    private var order: Int {
        switch self {
        case .address: 0
        case .zip4: 1
        case .zip5: 2
        case .countyFallback: 3
        }
    }

    public static func < (lhs: ResolutionPrecision, rhs: ResolutionPrecision) -> Bool { lhs.order < rhs.order }
}

/// A local (county, city or district) rate that applies at a location.
public struct LocalRate: Hashable, Sendable {
    public var jurisdiction: Jurisdiction
    public var intrastate: Rate
    public var interstate: Rate?

    public init(jurisdiction: Jurisdiction, intrastate: Rate, interstate: Rate? = nil) {
        self.jurisdiction = jurisdiction
        self.intrastate = intrastate
        self.interstate = interstate
    }
}

/// The local jurisdictions of an address on a date, and how they were found.
public struct ResolvedLocation: Sendable {
    public var state: StateCode
    /// The county FIPS code, when known, even where the county levies nothing (rules can depend on it).
    public var countyFIPS: String?
    public var locals: [LocalRate]
    public var precision: ResolutionPrecision
    /// The record that matched, in words ("zip5 55401 MINNEAPOLIS, 2026-02-01 onward").
    public var record: String
    public var warnings: [String]

    public init(state: StateCode, countyFIPS: String?, locals: [LocalRate], precision: ResolutionPrecision,
                record: String, warnings: [String] = []) {
        self.state = state
        self.countyFIPS = countyFIPS
        self.locals = locals
        self.precision = precision
        self.record = record
        self.warnings = warnings
    }
}

/// Why an address could not be resolved.
public enum ResolutionError: Error, Equatable, Sendable, CustomStringConvertible {
    case unknownZip(String)
    case stateMismatch(zip: String, given: StateCode, actual: StateCode)
    case noRatesOnDate(zip: String, date: TaxDate, coverage: String)

    public var description: String {
        switch self {
        case .unknownZip(let zip): "ZIP \(zip) is not in the tables"
        case .stateMismatch(let zip, let given, let actual): "ZIP \(zip) is in \(actual), not \(given)"
        case .noRatesOnDate(let zip, let date, let coverage): "no local rates for ZIP \(zip) on \(date) (the tables cover \(coverage))"
        }
    }
}

/// Finds the local jurisdictions and rates of an address on a date.
public protocol LocalRateResolver: Sendable {
    func resolve(_ address: Address, on date: TaxDate) throws(ResolutionError) -> ResolvedLocation
}

/// One complete, versioned set of tax tables: what the engine quotes against.
public struct TaxTableSet: Sendable {
    /// Names this exact content (declared version plus a digest of the files), so a quote can be replayed.
    public var version: String
    public var states: [StateCode: StateProfile]
    public var locals: any LocalRateResolver
    public var rules: [StateCode: [SpecialRule]]
    private var taxability: [StateCode: [ProductTaxCode: [TaxabilityEntry]]]

    public init(version: String, states: [StateProfile], taxability: [TaxabilityEntry], rules: [SpecialRule],
                locals: any LocalRateResolver) {
        self.version = version
        self.states = Dictionary(states.map { ($0.state, $0) }, uniquingKeysWith: { first, _ in first })
        self.locals = locals
        self.rules = Dictionary(grouping: rules, by: \.state)
        var index: [StateCode: [ProductTaxCode: [TaxabilityEntry]]] = [:]
        for entry in taxability { index[entry.state, default: [:]][entry.code, default: []].append(entry) }
        self.taxability = index
    }

    /// The taxability entry for a code in a state on a date, if the tables have one.
    public func taxability(of code: ProductTaxCode, in state: StateCode, on date: TaxDate) -> TaxabilityEntry? {
        taxability[state]?[code]?.first { $0.period.contains(date) }
    }

    /// Every taxability entry, for validation and display.
    public var allTaxability: [TaxabilityEntry] {
        taxability.values.flatMap { $0.values.flatMap { $0 } }
    }
}
