/// A local tax with its own base: it applies to some product codes at a place whatever the state's taxability
/// says, and may replace the levels that do not apply to those codes there. New York City's 4.5% tax on beauty,
/// barbering, massage and similar services (the state and the MCTD do not tax them: TB-ST-575) is one; Chicago's
/// amusement tax on streamed video and admissions is another (it replaces nothing). Data, not code
/// (`TaxTables/local/local-taxes.csv`); the resolver attaches the ones in force at the place, the engine applies
/// those that name the line's code.
public final class OwnBaseTax: Sendable {
    public let id: String
    public let jurisdiction: Jurisdiction
    public let rate: Rate
    public let codes: Set<ProductTaxCode>
    /// Levels whose tax does not apply to these codes here (the local tax takes their place).
    public let replacesLevels: Set<JurisdictionLevel>
    public let period: EffectivePeriod
    public let provenance: Provenance

    public init(id: String, jurisdiction: Jurisdiction, rate: Rate, codes: Set<ProductTaxCode>, replacesLevels: Set<JurisdictionLevel>,
                period: EffectivePeriod, provenance: Provenance) {
        self.id = id
        self.jurisdiction = jurisdiction
        self.rate = rate
        self.codes = codes
        self.replacesLevels = replacesLevels
        self.period = period
        self.provenance = provenance
    }
}
