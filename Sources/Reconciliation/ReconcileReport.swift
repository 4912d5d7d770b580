import Exports
import Foundation
import JSONInput
import Orders
import Storage
import TaxCore

/// The totals of a run: what was read, what matched, and the differences by reason.
public struct ReconcileSummary: Sendable, Codable, Equatable {
    public var settlementFile: String
    public var layout: String
    public var from: String
    public var through: String
    public var ledgerHead: Int64
    public var tableVersion: String
    public var settlementLines: Int
    public var saleLines: Int
    public var refundLines: Int
    /// Lines of other types (payouts, adjustments, fees): read, not matched.
    public var otherLines: Int
    public var levySales: Int
    public var levyRefunds: Int
    public var matchedLines: Int
    /// Lines settling captures or refunds Levy recorded outside the period: not differences.
    public var outsidePeriod: Int
    public var ordersRecomputed: Int
    /// Sums in major units: Levy's captured and refunded gross (tax included) and the file's gross, fees and net.
    public var levySalesAmount: String
    public var levyRefundsAmount: String
    public var settledAmount: String
    public var fees: String
    public var net: String
    public var differences: Int
    public var byReason: [String: Int]

    enum CodingKeys: String, CodingKey {
        case settlementFile = "settlement_file", layout, from, through, ledgerHead = "ledger_head", tableVersion = "table_version"
        case settlementLines = "settlement_lines", saleLines = "sale_lines", refundLines = "refund_lines", otherLines = "other_lines"
        case levySales = "levy_sales", levyRefunds = "levy_refunds", matchedLines = "matched_lines", outsidePeriod = "outside_period"
        case ordersRecomputed = "orders_recomputed", levySalesAmount = "levy_sales_amount", levyRefundsAmount = "levy_refunds_amount"
        case settledAmount = "settled_amount", fees, net, differences, byReason = "by_reason"
    }

    static func compute(work: WorkStore, request: ReconcileRequest, tableVersion: String) async throws -> ReconcileSummary {
        let db = work.database
        var byReason: [String: Int] = [:]
        for reason in DifferenceReason.allCases { byReason[reason.rawValue] = 0 }
        for row in try await db.query("SELECT reason, COUNT(*) AS n FROM difference GROUP BY reason") {
            byReason[try WorkStore.decode(row, "reason", as: String.self)] = try WorkStore.decode(row, "n", as: Int.self)
        }
        let lines = try await db.query("SELECT kind, COUNT(*) AS n FROM settlement GROUP BY kind")
        func lineCount(_ kind: String) -> Int { Int(lines.first { $0.text("kind") == kind }?.integer("n") ?? 0) }
        let levy = try await db.query("SELECT kind, COUNT(*) AS n, COALESCE(SUM(amount), 0) AS total FROM movement GROUP BY kind")
        func movement(_ kind: String) -> (Int, Int64) {
            let row = levy.first { $0.text("kind") == kind }
            return (Int(row?.integer("n") ?? 0), row?.integer("total") ?? 0)
        }
        let matched = Int64(try await work.value("matched_lines") ?? "0") ?? 0
        let money = try await db.query("""
            SELECT COALESCE(SUM(amount), 0) AS amount, COALESCE(SUM(fee), 0) AS fee, COALESCE(SUM(net), 0) AS net FROM settlement WHERE kind IN ('sale', 'refund')
            """).first
        let recomputed = request.recomputeTax ? movement("sale").0 : 0
        return ReconcileSummary(
            settlementFile: request.displayName, layout: request.layout.name,
            from: request.from?.iso ?? "", through: request.through?.iso ?? "",
            ledgerHead: Int64(try await work.value("ledger_head") ?? "0") ?? 0, tableVersion: tableVersion,
            settlementLines: lineCount("sale") + lineCount("refund") + lineCount("other"), saleLines: lineCount("sale"),
            refundLines: lineCount("refund"), otherLines: lineCount("other"), levySales: movement("sale").0, levyRefunds: movement("refund").0,
            matchedLines: Int(matched), outsidePeriod: Int(try await work.value("outside_period") ?? "0") ?? 0, ordersRecomputed: recomputed,
            levySalesAmount: MoneyText.format(movement("sale").1), levyRefundsAmount: MoneyText.format(movement("refund").1),
            settledAmount: MoneyText.format(money?.integer("amount") ?? 0), fees: MoneyText.format(money?.integer("fee") ?? 0),
            net: MoneyText.format(money?.integer("net") ?? 0), differences: byReason.values.reduce(0, +), byReason: byReason)
    }

    /// The summary as lines of text, for the terminal and `summary.txt`.
    public var text: String {
        var out = """
            settlement file   \(settlementFile) (\(layout) layout): \(settlementLines) lines (\(saleLines) sales, \(refundLines) refunds, \(otherLines) other)
            period            \(from.isEmpty ? "start" : from) .. \(through.isEmpty ? "now" : through) (capture and refund times, UTC); ledger as of seq \(ledgerHead)
            levy              \(levySales) captures (\(levySalesAmount)), \(levyRefunds) refunds (\(levyRefundsAmount)); \(ordersRecomputed) orders' tax recomputed
            settled           gross \(settledAmount), fees \(fees), net \(net)
            matched           \(matchedLines) lines; \(outsidePeriod) lines settle captures or refunds outside the period
            differences       \(differences)

            """
        for reason in DifferenceReason.allCases {
            out += "  " + reason.rawValue.padding(toLength: 26, withPad: " ", startingAt: 0) + "\(byReason[reason.rawValue] ?? 0)\n"
        }
        return out
    }
}

/// Writes the report files from a run's differences: `differences.csv` (RFC 4180), `report.json` (summary and
/// differences) and `summary.txt`. Rows are ordered by reason, order, refund and line, and nothing in the files
/// depends on when the run happened, so a rerun writes the same bytes. Each file is written beside its final name
/// and renamed into place.
enum ReconcileReport {
    static let columns = ["reason", "order_id", "refund_id", "settlement_line", "settlement_id", "processor_id", "expected", "actual", "currency", "detail"]

    struct Row: Encodable {
        var reason, order_id, refund_id: String
        var settlement_line: Int
        var settlement_id, processor_id: String
        var expected, actual: String?
        var currency, detail: String
    }

    static func write(work: WorkStore, summary: ReconcileSummary, to folder: String) async throws {
        let csv = try ExportWriter(directory: folder, name: "differences.csv.partial")
        let json = try ExportWriter(directory: folder, name: "report.json.partial")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        try csv.write(bytes: DelimitedFormat.csv.line(columns))
        try json.write("{\"summary\":")
        try json.write(bytes: Array(try encoder.encode(summary)))
        try json.write(",\"differences\":[")
        var first = true
        // One sorted pass, streamed to both files (SQLite's sorter spills to disk, so memory stays bounded).
        try await work.database.forEachRow("""
            SELECT reason, order_id, refund_id, line, settlement_id, processor_id, expected, actual, currency, detail FROM difference
            ORDER BY reason_order, order_id, refund_id, line, detail
            """, []) { row in
            // The run's own file: NOT NULL columns missing mean it was damaged (expected and actual may be NULL).
            // Ids and text from the settlement file are the processor's: printed with what would reorder or break a
            // cell written out (probe #16: U+202E and BEL reached the CSV and the console).
            func text(_ i: Int) throws -> String { PrintedText.shown(try WorkStore.present(row.text(i), i)) }
            let item = Row(reason: try text(0), order_id: try text(1), refund_id: try text(2),
                           settlement_line: Int(try WorkStore.present(row.integer(3), 3)), settlement_id: try text(4), processor_id: try text(5),
                           expected: row.integer(6).map(MoneyText.format), actual: row.integer(7).map(MoneyText.format),
                           currency: try text(8), detail: try text(9))
            try csv.write(bytes: DelimitedFormat.csv.line([item.reason, item.order_id, item.refund_id, item.settlement_line == 0 ? "" : String(item.settlement_line),
                                                           item.settlement_id, item.processor_id, item.expected ?? "", item.actual ?? "",
                                                           item.currency, item.detail]))
            csv.rows += 1
            try json.write(first ? "\n" : ",\n")
            try json.write(bytes: Array(try encoder.encode(item)))
            first = false
        }
        try json.write("\n]}\n")
        _ = try csv.finish()
        _ = try json.finish()
        let text = try ExportWriter(directory: folder, name: "summary.txt.partial")
        try text.write(summary.text)
        _ = try text.finish()
        for name in ["differences.csv", "report.json", "summary.txt"] {
            let target = folder + "/" + name
            if FileManager.default.fileExists(atPath: target) { try FileManager.default.removeItem(atPath: target) }
            try FileManager.default.moveItem(atPath: target + ".partial", toPath: target)
        }
    }
}
