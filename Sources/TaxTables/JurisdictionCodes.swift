import TaxCore

/// Levy's codes for jurisdictions that have no FIPS code in the source data (cities and combined special
/// districts of the ZIP5 tables): `L-<state>-<LEVEL>-<NAME>`, the name upper-cased with runs of other
/// characters turned into one '-'. Documented in docs/tax-tables.md.
enum JurisdictionCodes {
    static func levy(_ state: StateCode, _ level: JurisdictionLevel, _ name: String) -> String {
        var slug = ""
        var lastWasDash = false
        for scalar in name.uppercased().unicodeScalars {
            if ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar) {
                slug.unicodeScalars.append(scalar)
                lastWasDash = false
            } else if !lastWasDash, !slug.isEmpty {
                slug.append("-")
                lastWasDash = true
            }
        }
        while slug.hasSuffix("-") { slug.removeLast() }
        return "L-\(state.code)-\(level.rawValue.uppercased())-\(slug)"
    }
}

/// Shares one `Jurisdiction` value per code, so 40,000 ZIP rows hold a few thousand distinct strings.
struct JurisdictionInterner {
    private var byKey: [String: Jurisdiction] = [:]

    mutating func intern(level: JurisdictionLevel, state: StateCode, name: String, code: String) -> Jurisdiction {
        let key = code + "\u{1}" + name
        if let existing = byKey[key] { return existing }
        let jurisdiction = Jurisdiction(level: level, state: state, name: name, code: code)
        byKey[key] = jurisdiction
        return jurisdiction
    }
}
