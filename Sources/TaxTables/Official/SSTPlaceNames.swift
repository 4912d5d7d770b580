import TaxCore

/// A city or special district of an SST rate file, named so the ZIP5 table can find it: the rate files key
/// cities by Census place code and districts by a state's own code, and carry no names. A city is found by its
/// name among the ZIP5 table's cities; a district only where it covers whole counties (listed). Reviewed data
/// with a source per row (`official/sst-place-names.csv`).
public struct SSTPlaceName: Sendable {
    public var state: StateCode
    public var key: SSTJurisdictionKey
    public var name: String
    /// County FIPS codes (five digits) a district covers entirely; empty for a city.
    public var counties: [String]
    public var provenance: Provenance
    public var line: Int

}

extension CanonicalTables {
    static let sstPlaceNamesFile = "official/sst-place-names.csv"

    static func readSSTPlaceNames(_ bytes: [UInt8], states: Set<StateCode>, sources: Set<String>, log: inout DiagnosticLog) -> [SSTPlaceName] {
        let file = sstPlaceNamesFile
        guard let table = CSVTable(file: file, bytes: bytes, required: ["state", "type", "code", "name", "counties", "source", "as_of", "confidence", "note"],
                                   log: &log) else { return [] }
        var result: [SSTPlaceName] = []
        var seen: [String: Int] = [:]
        for record in table.records {
            guard let state = table.state(record, "state", log: &log), let typeText = table.text(record, "type", log: &log),
                  let codeText = table.text(record, "code", log: &log), let name = table.text(record, "name", log: &log),
                  let provenance = sourcesExist(table, record, known: sources, log: &log), confidence(table, record, log: &log) != nil else { continue }
            if !states.contains(state) { log.error(file, record.line, table.field(record, "state").column, "state \(state) is not in states.csv") }
            guard let type = Int(typeText), type == SSTJurisdictionType.city || type == SSTJurisdictionType.specialDistrict else {
                log.error(file, record.line, table.field(record, "type").column, "type \"\(typeText)\" is not 01 (city) or 63 (special district)")
                continue
            }
            guard (1...10).contains(codeText.count), codeText.allSatisfy(\.isASCIIDigit), let code = Int(codeText) else {
                log.error(file, record.line, table.field(record, "code").column, "code \"\(codeText)\" is not a jurisdiction code of digits")
                continue
            }
            guard !PlaceNameKey.of(name).isEmpty else {
                log.error(file, record.line, table.field(record, "name").column, "name \"\(name)\" has no letters")
                continue
            }
            let counties = table.list(record, "counties", required: false, log: &log) { $0 } ?? []
            if let bad = counties.first(where: { $0.count != 5 || !$0.allSatisfy(\.isASCIIDigit) }) {
                log.error(file, record.line, table.field(record, "counties").column, "\"\(bad)\" is not a five-digit county FIPS code")
                continue
            }
            if type == SSTJurisdictionType.specialDistrict && counties.isEmpty {
                log.error(file, record.line, table.field(record, "counties").column, "a special district is placed by the counties it covers entirely: list them")
                continue
            }
            if type == SSTJurisdictionType.city && !counties.isEmpty {
                log.error(file, record.line, table.field(record, "counties").column, "a city is found by its name: leave counties empty")
                continue
            }
            let id = "\(state.code)/\(type)/\(code)"
            if let first = seen[id] {
                log.error(file, record.line, table.field(record, "code").column, "\(state) type \(typeText) code \(codeText) is already named on line \(first)")
                continue
            }
            seen[id] = record.line
            // The state FIPS is filled in when the state's rate file is known (assemble checks the code is in it).
            result.append(SSTPlaceName(state: state, key: SSTJurisdictionKey(stateFIPS: 0, type: type, code: code), name: name,
                                       counties: counties, provenance: provenance, line: record.line))
        }
        return result
    }
}

private extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
