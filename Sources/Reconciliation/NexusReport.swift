import Orders
import Storage
import TaxCore
import TaxTables

/// Economic-nexus tracking from the ledger: per state, the year's captured sales (gross, retail, taxable) and
/// transactions, held against the state's threshold in force on the report date, with whether the merchant is
/// registered there. A state crossed or near its threshold where the merchant is not registered is an alert.
public struct NexusReport: Sendable {
    public struct Row: Sendable, Hashable {
        public var state: StateCode
        public var gross: Int64
        public var retail: Int64
        public var taxable: Int64
        public var transactions: Int
        public var threshold: NexusThreshold?
        /// The amount the state counts (its `counted_sales`).
        public var counted: Int64
        public var status: String
        public var registered: Bool
        public var alert: Bool
        /// The tax date on which the year's running totals first crossed the threshold (when it is crossed).
        public var crossedOn: TaxDate? = nil
    }

    public var year: Int
    public var asOf: TaxDate
    public var thresholdsDigest: String
    /// How registrations were known: given, or read from the year's orders.
    public var registrationsNote: String
    public var rows: [Row]

    /// `registeredSource` says where `given` came from (shown in the report's note).
    public static func compute(service: OrderService, year: Int, asOf: TaxDate, thresholds: NexusTable.Loaded, registered given: Set<StateCode>?,
                               registeredSource: String = "as given", nearPercent: Int = 80) async throws -> NexusReport {
        // Sales through the report date (probe #19: a report as of November 20 counted a sale of November 25 and
        // said the state was crossed on that day).
        let first = TaxDate(year: year, month: 1, day: 1)?.iso ?? "", last = min(TaxDate(year: year, month: 12, day: 31)?.iso ?? "", asOf.iso)
        let sales = try await service.reader.salesByState(from: first, through: last)
        var registered = given
        var note = given.map { "registered in \($0.isEmpty ? "no state" : $0.map(\.code).sorted().joined(separator: ", ")) (\(registeredSource))" } ?? ""
        if given == nil {
            let lists = try await service.reader.registrationLists(from: first, through: last)
            if lists.contains(where: { $0 == nil }) {
                note = "registrations unknown: some of the year's orders were quoted as registered in every state; pass --registered"
            } else {
                let states = Set(lists.flatMap { ($0 ?? "").split(separator: ",").compactMap { StateCode(String($0)) } })
                registered = states
                note = lists.isEmpty ? "registrations unknown: no orders in the year; pass --registered"
                    : "registered in \(states.isEmpty ? "no state" : states.map(\.code).sorted().joined(separator: ", ")) (from the year's orders)"
            }
        }
        var byState: [StateCode: Row] = [:]
        for sale in sales {
            guard let state = StateCode(sale.state) else { continue }
            byState[state] = Row(state: state, gross: sale.gross, retail: sale.retail, taxable: sale.taxable,
                                 transactions: Int(sale.orders), threshold: nil, counted: 0, status: "", registered: false, alert: false)
        }
        for threshold in thresholds.thresholds where threshold.period.contains(asOf) && byState[threshold.state] == nil {
            byState[threshold.state] = Row(state: threshold.state, gross: 0, retail: 0, taxable: 0, transactions: 0, threshold: nil, counted: 0,
                                           status: "", registered: false, alert: false)
        }
        var rows: [Row] = []
        for var row in byState.values {
            row.threshold = thresholds.threshold(row.state, on: asOf)
            row.registered = registered?.contains(row.state) ?? true
            if let threshold = row.threshold {
                row.counted = switch threshold.counted {
                case .gross, .none: row.gross
                case .retail: row.retail
                case .taxable: row.taxable
                }
                let status = threshold.status(sales: row.counted, transactions: row.transactions, nearPercent: nearPercent)
                row.status = status.rawValue
                row.alert = !row.registered && (status == .crossed || status == .near)
            } else {
                row.counted = row.gross
                row.status = "no_threshold_data"
            }
            rows.append(row)
        }
        rows.sort { $0.state.code < $1.state.code }
        // The day each crossed threshold was crossed: the year's sales run up day by day, as the state counts them.
        let crossed = Set(rows.filter { $0.status == NexusThreshold.Status.crossed.rawValue }.map(\.state.code))
        if !crossed.isEmpty {
            var running: [String: (counted: Int64, transactions: Int, on: TaxDate?)] = [:]
            for (day, sale) in try await service.reader.salesByStateAndDay(from: first, through: last) where crossed.contains(sale.state) {
                guard let index = rows.firstIndex(where: { $0.state.code == sale.state }), let threshold = rows[index].threshold,
                      running[sale.state]?.on == nil else { continue }
                var total = running[sale.state] ?? (0, 0, nil)
                let counted: Int64 = switch threshold.counted {
                case .gross, .none: sale.gross
                case .retail: sale.retail
                case .taxable: sale.taxable
                }
                total.counted += counted
                total.transactions += Int(sale.orders)
                if threshold.status(sales: total.counted, transactions: total.transactions, nearPercent: nearPercent) == .crossed {
                    total.on = TaxDate(iso: day)
                    rows[index].crossedOn = total.on
                }
                running[sale.state] = total
            }
        }
        return NexusReport(year: year, asOf: asOf, thresholdsDigest: thresholds.digest, registrationsNote: note, rows: rows)
    }

    public static let columns = ["state", "gross_sales", "retail_sales", "taxable_sales", "transactions", "counted_sales", "sales_threshold",
                                 "transactions_threshold", "combine", "measurement", "status", "registered", "alert", "confidence", "source",
                                 "crossed_on"]

    public func fields(_ row: Row) -> [String] {
        let t = row.threshold
        return [row.state.code, MoneyText.format(row.gross), MoneyText.format(row.retail), MoneyText.format(row.taxable), String(row.transactions),
                t?.counted.rawValue ?? "", t?.sales.map(MoneyText.format) ?? "", t?.transactions.map(String.init) ?? "",
                t.map { $0.sales != nil && $0.transactions != nil ? $0.combine.rawValue : "" } ?? "", t?.measurement ?? "", row.status,
                row.registered ? "yes" : "no", row.alert ? "ALERT" : "", t?.confidence.rawValue ?? "", t?.provenance.source ?? "",
                row.crossedOn?.iso ?? ""]
    }
}
