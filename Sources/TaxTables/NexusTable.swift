import Foundation
import TaxCore

/// Reads `nexus.csv` of a table folder: each state's economic-nexus thresholds, dated, with their source and
/// confidence (docs/tax-tables.md). Kept beside the rate tables but outside their version digest: thresholds
/// change no quote. The file's own SHA-256 names the data a nexus report used.
public enum NexusTable {
    public static let file = "nexus.csv"

    public struct Loaded: Sendable {
        public var thresholds: [NexusThreshold]
        /// The first 12 hex digits of the file's SHA-256.
        public var digest: String

        /// The threshold of a state in force on a date.
        public func threshold(_ state: StateCode, on date: TaxDate) -> NexusThreshold? {
            thresholds.first { $0.state == state && $0.period.contains(date) }
        }
    }

    public static func load(directory: String) throws(TableLoadError) -> Loaded {
        var log = DiagnosticLog()
        guard let data = FileManager.default.contents(atPath: directory + "/" + file) else {
            throw TableLoadError([TableDiagnostic(file: file, line: 0, message: "cannot read \(directory)/\(file)")])
        }
        let sources = Set((FileManager.default.contents(atPath: directory + "/sources.csv").map {
            CanonicalTables.readSources([UInt8]($0), log: &log)
        } ?? []).map(\.id))
        let thresholds = read([UInt8](data), sources: sources, log: &log)
        if log.hasErrors { throw TableLoadError(log.entries) }
        return Loaded(thresholds: thresholds, digest: CanonicalTables.digest(bytes: [UInt8](data)))
    }

    static func read(_ bytes: [UInt8], sources: Set<String>, log: inout DiagnosticLog) -> [NexusThreshold] {
        guard let table = CSVTable(file: file, bytes: bytes, required: ["state", "effective_from", "effective_through", "sales_threshold",
                                                                        "transactions_threshold", "combine", "measurement", "counted_sales",
                                                                        "source", "as_of", "confidence", "note"], log: &log) else { return [] }
        var result: [NexusThreshold] = []
        for record in table.records {
            guard let state = table.state(record, "state", log: &log), let period = table.period(record, log: &log),
                  let measurement = table.text(record, "measurement", log: &log),
                  let counted = table.choice(record, "counted_sales", as: NexusThreshold.CountedSales.self,
                                             allowed: NexusThreshold.CountedSales.allCases, log: &log),
                  let confidence = table.choice(record, "confidence", as: Confidence.self, allowed: Confidence.allCases, log: &log),
                  let provenance = table.provenance(record, knownSources: sources, log: &log) else { continue }
            let salesText = table.field(record, "sales_threshold")
            let sales = salesText.value.isEmpty ? nil : table.money(record, "sales_threshold", log: &log)
            if !salesText.value.isEmpty, sales == nil { continue }
            let countText = table.field(record, "transactions_threshold")
            var transactions: Int?
            if !countText.value.isEmpty {
                guard let count = Int(countText.value), (1...1_000_000_000).contains(count) else {
                    log.error(file, record.line, countText.column,
                              "transactions_threshold \"\(countText.value)\" is not a whole number from 1 to 1000000000")
                    continue
                }
                transactions = count
            }
            let combineText = table.field(record, "combine")
            var combine = NexusThreshold.Combine.or
            if sales != nil, transactions != nil {
                guard let parsed = NexusThreshold.Combine(rawValue: combineText.value) else {
                    log.error(file, record.line, combineText.column, "combine \"\(combineText.value)\" must be or/and when both thresholds are given")
                    continue
                }
                combine = parsed
            } else if !combineText.value.isEmpty {
                log.error(file, record.line, combineText.column, "combine is only for rows with both a sales and a transactions threshold")
                continue
            }
            if (sales == nil && transactions == nil) != (counted == .none) {
                log.error(file, record.line, table.field(record, "counted_sales").column,
                          "counted_sales is none exactly when there is no threshold (a state without sales tax)")
                continue
            }
            if let overlap = result.last(where: { $0.state == state && $0.period.overlaps(period) }) {
                log.error(file, record.line, table.field(record, "effective_from").column,
                          "\(state) threshold period \(period) overlaps \(overlap.period)")
                continue
            }
            result.append(NexusThreshold(state: state, period: period, sales: sales, transactions: transactions, combine: combine,
                                         measurement: measurement, counted: counted, confidence: confidence, provenance: provenance))
        }
        return result
    }
}
