import TaxCore

/// Later editions of the ZIP5 table that confirm its records (`TaxTables/local/zip5-witnesses.csv`).
///
/// The shipped ZIP5 rates are the February 2026 edition's, verified through its month. A later edition that gives a
/// ZIP the same region and the same rates says the record still held on that edition's date, so a quote relying on
/// it is as fresh as that edition: the record cites both sources and `stale_rates` names the later one's date. A ZIP
/// the later edition changed (or left out) keeps the table's own date; its changes are reviewed as corrections.
/// Each row names one state, one edition (a source with a `verified_through` date) and the ZIPs it does not
/// confirm. Editions vouch in date order and stop at the first that changed the ZIP: a later one that shows the old
/// rates again does not vouch for the months between (the change may have come and gone).
extension CanonicalTables {
    static let zip5WitnessesFile = "local/zip5-witnesses.csv"

    /// One edition's confirmation of a state's ZIP5 records.
    struct Zip5Witness {
        var state: StateCode
        var source: String
        /// ZIPs the edition does not confirm (another region or rate, or absent).
        var changed: Set<Int32>
        /// The edition's `verified_through` date (editions vouch in this order).
        var through: TaxDate
        /// Where the row is, for the check that its ZIPs are the state's (`checkZip5Witnesses`).
        var line: Int
        var column: Int?
    }

    /// The rows of `local/zip5-witnesses.csv`, read before `local/zip5.csv` so that each record is built citing the
    /// editions that confirm it (`citedSource`).
    static func readZip5Witnesses(_ bytes: [UInt8], states: Set<StateCode>, sources: [Source], log: inout DiagnosticLog) -> [Zip5Witness] {
        let file = zip5WitnessesFile
        guard let table = CSVTable(file: file, bytes: bytes, required: ["state", "source", "changed_zips", "note"], log: &log) else { return [] }
        let dated = Dictionary(sources.map { ($0.id, $0.verifiedThrough) }, uniquingKeysWith: { first, _ in first })
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
            guard let through else {
                log.error(file, record.line, sourceColumn, "source \"\(source)\" has no verified_through date: an edition confirms records only as of a date")
                continue
            }
            guard seen.insert(state.code + "|" + source).inserted else {
                log.error(file, record.line, sourceColumn, "\(state) and \(source) are listed twice")
                continue
            }
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
                changed.insert(zip.zip5)
            }
            if valid { result.append(Zip5Witness(state: state, source: source, changed: changed, through: through, line: record.line, column: column)) }
        }
        return result
    }

    /// Each listed ZIP must be one of the state's in `local/zip5.csv` (a typo would otherwise vouch for the ZIP it meant).
    static func checkZip5Witnesses(_ witnesses: [Zip5Witness], zip5: [Zip5Record], log: inout DiagnosticLog) {
        guard !witnesses.isEmpty else { return }
        var zipsByState: [StateCode: Set<Int32>] = [:]
        for record in zip5 { zipsByState[record.state, default: []].insert(record.zip.zip5) }
        for witness in witnesses {
            let known = zipsByState[witness.state] ?? []
            if let stray = witness.changed.filter({ !known.contains($0) }).min() {
                log.error(zip5WitnessesFile, witness.line, witness.column,
                          "changed_zips: \(ZipCode(zip5: stray).zip5String) is not a ZIP of \(witness.state) in local/zip5.csv")
            }
        }
    }

    /// Per state, its editions in date order (`citedSource` reads them so).
    static func editionsByState(_ witnesses: [Zip5Witness]) -> [StateCode: [Zip5Witness]] {
        Dictionary(grouping: witnesses, by: \.state).mapValues { $0.sorted { $0.through < $1.through } }
    }

    /// The source a record of `local/zip5.csv` cites: its own, then each edition that confirms it, up to the first
    /// that does not (`zip5-2026-02;avalara-zip5-2026-03-04`). The combined strings are shared through `cache`.
    static func citedSource(_ source: String, state: StateCode, zip: Int32, witnesses: [StateCode: [Zip5Witness]],
                            cache: inout [String: String]) -> String {
        guard let editions = witnesses[state] else { return source }
        var key = source
        for edition in editions {
            if edition.changed.contains(zip) { break }
            key += ";" + edition.source
        }
        if let shared = cache[key] { return shared }
        cache[key] = key
        return key
    }
}
