import TaxCore

/// Converts the common ZIP5 rate table into Levy's canonical `local/zip5.csv`, joining a ZIP-to-county
/// crosswalk for county FIPS codes and names, and adding county fallbacks for ZIPs the rate table lacks.
public struct Zip5Conversion {
    public struct Report: Sendable, CustomStringConvertible {
        public var rateRows = 0
        public var repairedRows = 0
        public var joinedCounty = 0
        public var borderZips = 0
        public var fallbackZips = 0
        public var uncoveredZips: [String] = []

        public var description: String {
            """
            rate rows: \(rateRows)
            rows repaired (0.000001 float artifacts): \(repairedRows)
            rows with a county FIPS from the crosswalk: \(joinedCounty)
            ZIPs whose rate-table state differs from the crosswalk (county FIPS left blank): \(borderZips)
            ZIPs without a rate row, given their county's most common local rates: \(fallbackZips)
            ZIPs of the crosswalk still without rates: \(uncoveredZips.count)
            """
        }
    }

    struct GeoZip {
        var state: String
        var city: String
        var countyName: String
        var countyFIPS: String
        var type: String
    }

    public let rows: [CommonZip5Rates.Row]
    let geo: [String: GeoZip]
    let geoOrder: [String]

    /// `geoBytes`: a crosswalk with `zip_code,zip_code_type,…,city,state,…,county_name,county_fips_joined` columns.
    public init(rows: [CommonZip5Rates.Row], geoBytes: [UInt8], geoFile: String) throws(TableLoadError) {
        self.rows = rows
        var log = DiagnosticLog()
        guard let table = CSVTable(file: geoFile, bytes: geoBytes,
                                   required: ["zip_code", "zip_code_type", "city", "state", "county_name", "county_fips_joined"],
                                   log: &log) else { throw TableLoadError(log.entries) }
        var geo: [String: GeoZip] = [:]
        var order: [String] = []
        for record in table.records {
            let zip = table.field(record, "zip_code").value
            order.append(zip)
            geo[zip] = GeoZip(state: table.field(record, "state").value, city: table.field(record, "city").value,
                              countyName: table.field(record, "county_name").value,
                              countyFIPS: table.field(record, "county_fips_joined").value,
                              type: table.field(record, "zip_code_type").value)
        }
        self.geo = geo
        self.geoOrder = order
    }

    /// The canonical CSV text and what the conversion did.
    public func convert(effectiveFrom: TaxDate, source: String) -> (csv: String, report: Report) {
        var report = Report()
        report.rateRows = rows.count
        var out = (CanonicalTables.zip5Columns + CanonicalTables.zip5OptionalColumns).joined(separator: ",") + "\n"
        var byCounty: [String: [(key: String, fields: [String])]] = [:]
        var covered = Set<String>()
        let from = effectiveFrom.iso

        for row in rows {
            let zip = row.zip.zip5String
            covered.insert(zip)
            if row.repair != nil { report.repairedRows += 1 }
            let place = CommonZip5Rates.titleCased(row.region)
            var countyFIPS = "", countyName = "\(place) (county)", cityName = place, postalCity = ""
            if let g = geo[zip] {
                if g.state == row.state.code {
                    postalCity = g.city
                    if !g.countyFIPS.isEmpty {
                        countyFIPS = g.countyFIPS
                        countyName = g.countyName
                        report.joinedCounty += 1
                    }
                    // The region often names the taxing place; where it only extends the postal city's name
                    // ("CHICAGO METRO PIER AND EXPOSITION AUTHORITY DISTRICT"), the postal city is the city.
                    if !g.city.isEmpty, row.region.uppercased().hasPrefix(g.city.uppercased()) { cityName = g.city }
                } else {
                    report.borderZips += 1
                }
            }
            let fields = [countyFIPS, countyName, row.county.fractionString, cityName, row.city.fractionString,
                          "\(place) special districts (combined)", row.special.fractionString]
            out += csvLine([zip, row.state.code, "zip5", row.region] + fields + [from, "", source, row.repair ?? "", postalCity])
            if !countyFIPS.isEmpty {
                byCounty[countyFIPS, default: []].append((fields.dropFirst(2).joined(separator: "|"), fields))
            }
        }

        // ZIPs of the crosswalk with no rate row (PO boxes, unique and new ZIPs): their county's most common local
        // rates, ties broken by the lowest ZIP. Military (AA, AE, AP) ZIPs have no state and stay uncovered.
        let rowState = Dictionary(rows.map { ($0.state.code, true) }, uniquingKeysWith: { a, _ in a })
        for zip in geoOrder where !covered.contains(zip) {
            let g = geo[zip]!
            guard rowState[g.state] != nil, let peers = byCounty[g.countyFIPS], !peers.isEmpty else {
                report.uncoveredZips.append(zip)
                continue
            }
            var counts: [String: Int] = [:]
            for peer in peers { counts[peer.key, default: 0] += 1 }
            let best = peers.first { counts[$0.key] == counts.values.max() }!
            var fields = best.fields
            fields[1] = g.countyName
            out += csvLine([zip, g.state, "county_fallback", g.city.uppercased()] + fields
                           + [from, "", source, "no row in the rate table; county \(g.countyFIPS) most common local rates", g.city])
            report.fallbackZips += 1
        }
        return (out, report)
    }

    func csvLine(_ fields: [String]) -> String {
        fields.map { field in
            field.contains(",") || field.contains("\"") || field.contains("\n")
                ? "\"" + field.replacingAll("\"", with: "\"\"") + "\"" : field
        }.joined(separator: ",") + "\n"
    }
}

extension String {
    func replacingAll(_ target: Character, with replacement: String) -> String {
        var result = ""
        for character in self { if character == target { result += replacement } else { result.append(character) } }
        return result
    }
}
