import TaxCore

/// A plain-text rendering of a quote for people (`levy quote --format table`).
public enum QuoteTableRenderer {
    public static func render(_ quote: Quote) -> String {
        var out = "Quote for \(quote.date)  rounding \(quote.rounding.rawValue)  tables \(quote.tableVersion)\n\n"
        for line in quote.lines {
            out += "line \(line.id)  \(line.code.rawValue) x\(line.quantity)  \(line.fulfilment.rawValue)  amount \(line.amount.decimalString)"
            out += "  taxable \(line.taxable.decimalString)  exempt \(line.exempt.decimalString)  tax \(line.tax.decimalString) (\(line.taxType.rawValue))\n"
            let address = line.sourcing.address
            out += "  sourced to \(address.city.isEmpty ? "" : address.city + ", ")\(address.state) \(address.zip): \(line.sourcing.rule.explanation)\n"
            out += "  matched \(line.sourcing.record) [precision \(line.sourcing.precision.rawValue)]\n"
            out += "  taxability \(line.taxability.rule.rawValue) (\(line.taxability.confidence.rawValue) confidence, \(line.taxability.provenance.source)): \(line.taxability.reason)\n"
            if let reason = line.notCollecting { out += "  NOT COLLECTING: \(reason)\n" }
            if let exemption = line.exemption { out += "  exemption: \(exemption.note)\n" }
            if !line.appliedRules.isEmpty { out += "  rules: \(line.appliedRules.joined(separator: ", "))\n" }
            let rows = line.jurisdictions.map { j in
                [j.jurisdiction.level.rawValue, j.jurisdiction.name, j.jurisdiction.code, j.rate.percentString + "%",
                 Money(minorUnits: j.taxable).decimalString, Money(minorUnits: j.tax).decimalString]
            }
            if !rows.isEmpty {
                out += table(header: ["level", "jurisdiction", "code", "rate", "taxable", "tax"], rows: rows, rightAligned: [3, 4, 5])
            }
            out += "\n"
        }
        out += "Total amount \(quote.totalAmount.decimalString)  total tax \(quote.totalTax.decimalString) \(quote.currency.code)\n"
        for warning in quote.warnings { out += "warning: \(warning)\n" }
        return out
    }

    static func table(header: [String], rows: [[String]], rightAligned: Set<Int>) -> String {
        var widths = header.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        func format(_ row: [String]) -> String {
            "    " + row.enumerated().map { i, cell in
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                return rightAligned.contains(i) ? pad + cell : cell + pad
            }.joined(separator: "  ") + "\n"
        }
        return format(header) + rows.map(format).joined()
    }
}
