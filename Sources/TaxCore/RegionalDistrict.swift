/// A district tax that spans several counties (California's Bay Area Rapid Transit District: Alameda, Contra Costa
/// and San Francisco). A retailer with a place of business anywhere in it is engaged in business in the district
/// (Regulation 1827), so its sales delivered elsewhere in the district carry the district's tax even where it is not
/// engaged in the destination's other districts (annotation 805.0010). Data (`TaxTables/local/regional-districts.csv`).
public struct RegionalDistrict: Sendable {
    public let id: String
    public let jurisdiction: Jurisdiction
    public let rate: Rate
    /// The counties (FIPS) the district covers whole.
    public let counties: Set<String>
    public let period: EffectivePeriod
    public let provenance: Provenance

    public init(id: String, jurisdiction: Jurisdiction, rate: Rate, counties: Set<String>, period: EffectivePeriod, provenance: Provenance) {
        self.id = id
        self.jurisdiction = jurisdiction
        self.rate = rate
        self.counties = counties
        self.period = period
        self.provenance = provenance
    }
}
