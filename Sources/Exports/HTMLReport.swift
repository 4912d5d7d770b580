import Foundation
import Storage
import TaxCore

extension Exporter {
    /// A self-contained HTML tax report (no scripts, no external files): liability by state, by month and the top
    /// jurisdictions, as SVG bar charts with the numbers beside them. Aggregates only, so no personal data.
    public func htmlReport(from: TaxDate, through: TaxDate, merchant: String, to directory: String, progress: ExportProgress? = nil) async throws -> Manifest {
        let request = Request(scope: ExportScope(from: from, through: through, personalData: false))
        return try await run(kind: "report", request, to: directory) { directory, headSeq in
            let (summary, totals, versions) = try await summarize(request.scope, period: .month, throughSeq: headSeq, progress: progress)
            let writer = try ExportWriter(directory: directory, name: "report.html")
            try writer.write(ReportPage(summary: summary, totals: totals, merchant: merchant, from: from, through: through, created: now()).html())
            writer.rows = summary.totals.count
            return ([try writer.finish()], totals.fields, versions)
        }
    }
}

/// The report's page. Every chart is a list of (label, cents) drawn as horizontal bars.
struct ReportPage {
    let summary: LiabilitySummary
    let totals: ControlTotals
    let merchant: String
    let from: TaxDate
    let through: TaxDate
    let created: Date

    func html() -> String {
        var byState: [String: Int64] = [:], byMonth: [String: Int64] = [:], byJurisdiction: [String: Int64] = [:]
        for (key, amounts) in summary.totals where key.jurisdictionCode != "none" {
            byState[key.state, default: 0] += amounts.netDue
            byMonth[key.period, default: 0] += amounts.netDue
            byJurisdiction["\(key.name) (\(key.state), \(key.level))", default: 0] += amounts.netDue
        }
        let states = byState.sorted { ($0.value, $1.key) > ($1.value, $0.key) }
        let months = byMonth.sorted { $0.key < $1.key }
        let top = byJurisdiction.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.prefix(15)
        let notCollecting = summary.totals.filter { $0.key.jurisdictionCode == "none" }
            .reduce(into: [String: Int64]()) { $0[$1.key.state, default: 0] += $1.value.grossSales }.sorted { $0.value > $1.value }
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>Sales and use tax report: \(escape(merchant))</title>
            <style>
            body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2433; margin: 32px auto; max-width: 1100px; padding: 0 24px; }
            h1 { font-size: 24px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 36px; border-bottom: 1px solid #d8dde6; padding-bottom: 4px; }
            .meta { color: #5b6475; } .cards { display: flex; gap: 16px; flex-wrap: wrap; margin-top: 20px; }
            .card { border: 1px solid #d8dde6; border-radius: 8px; padding: 12px 16px; min-width: 180px; }
            .card b { display: block; font-size: 20px; } svg text { font: 12px system-ui, sans-serif; fill: #1d2433; }
            table { border-collapse: collapse; margin-top: 8px; } td, th { padding: 3px 10px; text-align: right; border-bottom: 1px solid #eef0f4; }
            td:first-child, th:first-child { text-align: left; }
            </style></head><body>
            <h1>Sales and use tax report</h1>
            <div class="meta">\(escape(merchant)) · tax dates \(from.iso) to \(through.iso) · generated \(String(Timestamp.string(created).prefix(16)).replacingOccurrences(of: "T", with: " ")) UTC by Levy · amounts in USD</div>
            <div class="cards">
            <div class="card">Net tax due<b>\(money(totals.netTaxDue))</b></div>
            <div class="card">Tax collected<b>\(money(totals.taxCollected))</b></div>
            <div class="card">Tax refunded<b>\(money(totals.taxRefunded))</b></div>
            <div class="card">Gross sales<b>\(money(totals.grossSales))</b></div>
            <div class="card">Exempt sales<b>\(money(totals.exemptSales))</b></div>
            </div>
            <h2>Net tax due by state</h2>
            \(bars(states.map { ($0.key, $0.value) }, color: "#3563c9"))
            <h2>Net tax due by month</h2>
            \(bars(months.map { ($0.key, $0.value) }, color: "#2a9d8f"))
            <h2>Top jurisdictions by net tax due</h2>
            \(bars(top.map { ($0.key, $0.value) }, color: "#e07a2f", labelWidth: 390))
            <h2>Sales where no tax was collected, by state</h2>
            <p class="meta">Not registered there, or the state has no sales tax: watch these against economic-nexus thresholds.</p>
            <table><tr><th>state</th><th>gross sales</th></tr>
            \(notCollecting.map { "<tr><td>\($0.key)</td><td>\(money($0.value))</td></tr>" }.joined(separator: "\n"))
            </table>
            <p class="meta">Figures are the liability export's, summed from the tax ledger; a refund counts in the month it was given.</p>
            </body></html>

            """
    }

    /// Horizontal bars with the label left and the amount right; negative amounts draw no bar.
    func bars(_ items: [(String, Int64)], color: String, labelWidth: Int = 120) -> String {
        guard !items.isEmpty else { return "<p class=\"meta\">No tax in this period.</p>" }
        let rowHeight = 24, barArea = 560, width = labelWidth + barArea + 130
        let largest = max(items.map(\.1).max() ?? 1, 1)
        var svg = "<svg width=\"\(width)\" height=\"\(items.count * rowHeight + 8)\" role=\"img\">"
        for (i, item) in items.enumerated() {
            let y = i * rowHeight + 4
            let length = item.1 > 0 ? Int(Int128(item.1) * Int128(barArea) / Int128(largest)) : 0
            let label = item.0.count > 56 ? String(item.0.prefix(55)) + "…" : item.0
            svg += "<text x=\"0\" y=\"\(y + 15)\">\(escape(label))</text>"
            svg += "<rect x=\"\(labelWidth)\" y=\"\(y + 3)\" width=\"\(max(length, 1))\" height=\"16\" rx=\"2\" fill=\"\(color)\"/>"
            svg += "<text x=\"\(labelWidth + length + 8)\" y=\"\(y + 15)\">\(money(item.1))</text>"
        }
        return svg + "</svg>"
    }

    func money(_ cents: Int64) -> String {
        let text = Money(minorUnits: cents).decimalString
        let negative = text.hasPrefix("-")
        let digits = negative ? String(text.dropFirst()) : text
        let parts = digits.split(separator: ".")
        var whole = String(parts[0]), grouped = ""
        while whole.count > 3 {
            grouped = "," + whole.suffix(3) + grouped
            whole = String(whole.dropLast(3))
        }
        return (negative ? "-" : "") + "$" + whole + grouped + "." + parts[1]
    }

    func escape(_ text: String) -> String { XMLOut.escape(text) }
}
