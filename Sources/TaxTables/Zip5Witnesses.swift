import TaxCore

/// Later editions of the ZIP5 table that confirm its records (`TaxTables/local/zip5-witnesses.csv`).
///
/// The shipped ZIP5 rates are the February 2026 edition's, verified through its month. A later edition that gives a
/// ZIP the same region and the same rates says the record still held on that edition's date, so a quote relying on
/// it is as fresh as that edition: the record cites both sources and `stale_rates` names the later one's date. A ZIP
/// the later edition changed (or left out) keeps the table's own date; its changes are reviewed as corrections.
/// Each row names one state, one edition (a source with a `verified_through` date) and the ZIPs it does not
/// confirm. An edition's list includes the ZIPs every earlier edition of the same state did not confirm, so a
/// record is never vouched for across a change that came and went between editions.
extension CanonicalTables {
    static let zip5WitnessesFile = "local/zip5-witnesses.csv"

    /// One edition's confirmation of a state's ZIP5 records.
    struct Zip5Witness {
        var state: StateCode
        var source: String
        /// ZIPs the edition does not confirm (another region or rate, or absent).
        var changed: Set<Int32>
    }

    static func readZip5Witnesses(_ bytes: [UInt8], states: Set<StateCode>, sources: [Source], zip5: [Zip5Record],
                                  log: inout DiagnosticLog) -> [Zip5Witness] {
        let file = zip5WitnessesFile
        guard let table = CSVTable(file: file, bytes: bytes, required: ["state", "source", "changed_zips", "note"], log: &log) else { return [] }
        let dated = Dictionary(sources.map { ($0.id, $0.verifiedThrough) }, uniquingKeysWith: { first, _ in first })
        var zipsByState: [StateCode: Set<Int32>] = [:]
        for record in zip5 { zipsByState[record.state, default: []].insert(record.zip.zip5) }
        var seen = Set<String>()
        var result: [Zip5Witness] = []
        for record in table.records {
            guard let state = table.state(record, "state", log: &log), let source = table.text(record, "source", log: &log) else { continue }
            let sourceColumn = table.field(record, "source").column
            guard states.contains(state) else {
                log.error(file, record.line, table.field(record, "state").column, "state \(state) is not in states.csv")
                continue
            }
            guard let through = dated[source] else {
                log.error(file, record.line, sourceColumn, "source \"\(source)\" is not listed in sources.csv")
                continue
            }
            guard through != nil else {
                log.error(file, record.line, sourceColumn, "source \"\(source)\" has no verified_through date: an edition confirms records only as of a date")
                continue
            }
            guard seen.insert(state.code + "|" + source).inserted else {
                log.error(file, record.line, sourceColumn, "\(state) and \(source) are listed twice")
                continue
            }
            let known = zipsByState[state] ?? []
            var changed = Set<Int32>()
            let column = table.field(record, "changed_zips").column
            var valid = true
            for item in table.field(record, "changed_zips").value.split(separator: ";") {
                let text = String(item).trimmingSpaces
                guard text.count == 5, let zip = ZipCode(text), zip.plus4 == nil else {
                    log.error(file, record.line, column, "changed_zips: \"\(text)\" is not a ZIP5")
                    valid = false
                    break
                }
                guard known.contains(zip.zip5) else {
                    log.error(file, record.line, column, "changed_zips: \(text) is not a ZIP of \(state) in local/zip5.csv")
                    valid = false
                    break
                }
                changed.insert(zip.zip5)
            }
            if valid { result.append(Zip5Witness(state: state, source: source, changed: changed)) }
        }
        return result
    }

    /// Each record a later edition confirms cites that edition after its own source (`zip5-2026-02;avalara-zip5-2026-03-04`).
    static func applyZip5Witnesses(_ records: [Zip5Record], _ witnesses: [Zip5Witness]) -> [Zip5Record] {
        guard !witnesses.isEmpty else { return records }
        var byState: [StateCode: [Zip5Witness]] = [:]
        for witness in witnesses { byState[witness.state, default: []].append(witness) }
        return records.map { record in
            guard let editions = byState[record.state] else { return record }
            let confirming = editions.filter { !$0.changed.contains(record.zip.zip5) }.map(\.source)
            guard !confirming.isEmpty else { return record }
            return record.with(source: ([record.source] + confirming).joined(separator: ";"))
        }
    }
}

extension Zip5Record {
    func with(source: String) -> Zip5Record {
        Zip5Record(zip: zip, state: state, countyFIPS: countyFIPS, countyName: countyName, region: region, cityName: cityName,
                   postalCity: postalCity, locals: locals, period: period, precision: precision, source: source, warning: warning,
                   tableDate: tableDate)
    }
}
