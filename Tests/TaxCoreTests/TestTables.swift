import TaxCore

/// A small, hand-made table set for engine tests: every rate here is chosen in the test that uses it.
struct TestResolver: LocalRateResolver {
    var locations: [String: (county: String?, locals: [LocalRate])]

    func resolve(_ address: Address, on date: TaxDate) throws(ResolutionError) -> ResolvedLocation {
        let key = address.state.code + address.zip.zip5String
        guard let location = locations[key] else { throw .unknownZip(address.zip.zip5String) }
        return ResolvedLocation(state: address.state, countyFIPS: location.county, locals: location.locals, precision: .zip5,
                                record: "test \(key)")
    }

    func jurisdictionRate(code: String, state: StateCode, on date: TaxDate) -> LocalRate? {
        locations.values.lazy.flatMap(\.locals).first { $0.jurisdiction.code == code && $0.jurisdiction.state == state }
    }
}

enum T {
    static func state(_ code: String) -> StateCode { StateCode(code)! }
    static func date(_ text: String) -> TaxDate { TaxDate(iso: text)! }
    static func rate(_ fraction: String) -> Rate { try! Rate.parse(fraction: fraction) }
    static func money(_ text: String) -> Money { try! Money.parse(text) }
    static func address(_ state: String, _ zip: String) -> Address { Address(line1: "1 Test St", city: "Test", state: T.state(state), zip: ZipCode(zip)!) }

    static func local(_ level: JurisdictionLevel, _ state: String, _ name: String, _ rate: String, interstate: String? = nil) -> LocalRate {
        LocalRate(jurisdiction: Jurisdiction(level: level, state: T.state(state), name: name, code: "\(state)-\(name)"),
                  intrastate: T.rate(rate), interstate: interstate.map(T.rate))
    }

    static func profile(_ code: String, _ rate: String, sourcing: IntrastateSourcing = .destination, hasSalesTax: Bool = true,
                        interstate: String? = nil, from: String = "2020-01-01") -> StateProfile {
        StateProfile(state: state(code), fips: code + "-fips", name: code + " state", hasSalesTax: hasSalesTax,
                     rates: [DatedRate(period: EffectivePeriod(from: date(from)), intrastate: T.rate(rate),
                                       interstate: interstate.map(T.rate), provenance: Provenance(source: "test"))],
                     sourcing: sourcing, provenance: Provenance(source: "test"))
    }

    /// Every code taxable in every listed state unless `overrides` says otherwise.
    static func taxability(_ states: [String], overrides: [(String, ProductTaxCode, TaxabilityRule)] = []) -> [TaxabilityEntry] {
        var entries: [TaxabilityEntry] = []
        for s in states {
            for code in ProductTaxCode.allCases {
                let rule = overrides.first { $0.0 == s && $0.1 == code }?.2 ?? (code == .giftCard ? .exempt : .taxable)
                entries.append(TaxabilityEntry(state: state(s), code: code, period: .always, rule: rule, confidence: .high,
                                               provenance: Provenance(source: "test")))
            }
        }
        return entries
    }

    static func line(_ id: String, _ code: ProductTaxCode, _ amount: String, qty: Int64 = 1, _ fulfilment: Fulfilment = .shipped,
                     included: Bool = false, location: Address? = nil) -> QuoteLine {
        QuoteLine(id: id, code: code, amount: money(amount), quantity: qty, fulfilment: fulfilment, taxIncluded: included, location: location)
    }

    /// Two states: AA (destination-sourced, 5% + county 1.25% at 11111, city 0.75% at 22222) and BB (origin-sourced,
    /// 4%, interstate 6%, city 1% at 33333), CC (hybrid: state/county/city from origin), DD (no sales tax).
    static func standard(taxability extra: [(String, ProductTaxCode, TaxabilityRule)] = [], rules: [SpecialRule] = []) -> TaxTableSet {
        let resolver = TestResolver(locations: [
            "AA11111": ("AA-C1", [local(.county, "AA", "County One", "0.0125")]),
            "AA22222": ("AA-C2", [local(.city, "AA", "Spa City", "0.0075")]),
            "BB33333": ("BB-C3", [local(.city, "BB", "Origin City", "0.01", interstate: "0.02")]),
            "BB44444": ("BB-C4", [local(.city, "BB", "Far City", "0.03")]),
            "CC55555": ("CC-C5", [local(.county, "CC", "Origin County", "0.01"), local(.special, "CC", "Origin District", "0.02")]),
            "CC66666": ("CC-C6", [local(.county, "CC", "Dest County", "0.005"), local(.special, "CC", "Dest District", "0.03")]),
            "DD77777": (nil, []),
        ])
        return TaxTableSet(
            version: "test-1",
            states: [profile("AA", "0.05"), profile("BB", "0.04", sourcing: .origin, interstate: "0.06"),
                     profile("CC", "0.06", sourcing: .hybrid(originLevels: [.state, .county, .city])),
                     profile("DD", "0", hasSalesTax: false)],
            taxability: taxability(["AA", "BB", "CC", "DD"], overrides: extra), rules: rules, locals: resolver)
    }
}

extension Quote {
    /// Every jurisdiction amount of every line, summed: must equal `totalTax`.
    var sumOfParts: Int64 { lines.flatMap(\.jurisdictions).reduce(0) { $0 + $1.tax } }
}
