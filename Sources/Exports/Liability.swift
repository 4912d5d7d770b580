import Foundation
import TaxCore

/// Liability per period, state and jurisdiction, summed from the same detail rows the detail export writes, so
/// the two tie by construction (and a test checks both against the ledger).
public struct LiabilitySummary: Sendable {
    public enum Period: String, Sendable, CaseIterable {
        case month, quarter

        /// A sale's period is its tax date's; a refund's is the day it was given.
        public func label(_ date: String) -> String {
            let year = date.prefix(4), month = Int(date.dropFirst(5).prefix(2)) ?? 1
            return self == .month ? "\(year)-\(date.dropFirst(5).prefix(2))" : "\(year)-Q\((month - 1) / 3 + 1)"
        }
    }

    public struct Key: Hashable, Sendable, Comparable {
        public var period: String
        public var state: String
        public var jurisdictionCode: String
        public var level: String
        public var name: String

        static let levelOrder = ["state": 0, "county": 1, "city": 2, "district": 3, "special": 3, "none": 9]

        public static func < (a: Key, b: Key) -> Bool {
            if a.period != b.period { return a.period < b.period }
            if a.state != b.state { return a.state < b.state }
            let (x, y) = (levelOrder[a.level] ?? 5, levelOrder[b.level] ?? 5)
            if x != y { return x < y }
            return a.jurisdictionCode < b.jurisdictionCode
        }
    }

    public struct Amounts: Sendable, Equatable {
        public var grossSales: Int64 = 0
        public var exemptByReason: [String: Int64] = [:]
        public var taxable: Int64 = 0
        public var taxCollected: Int64 = 0
        public var refundedSales: Int64 = 0
        public var refundedTaxable: Int64 = 0
        public var refundedTax: Int64 = 0

        public var exempt: Int64 { exemptByReason.values.reduce(0, +) }
        /// What is owed for the period: tax collected less tax refunded.
        public var netDue: Int64 { taxCollected + refundedTax }
    }

    public let period: Period
    public private(set) var totals: [Key: Amounts] = [:]

    public init(period: Period) { self.period = period }

    public mutating func add(_ row: DetailRow) {
        let refund = row.documentType == "refund"
        let key = Key(period: period.label(refund ? row.documentDate : row.taxDate), state: row.state, jurisdictionCode: row.jurisdictionCode,
                      level: row.jurisdictionLevel,
                      name: row.jurisdictionCode == "none" ? "not collecting (\(row.notCollecting.isEmpty ? "no tax" : row.notCollecting))" : row.jurisdictionName)
        var amounts = totals[key] ?? Amounts()
        if refund {
            amounts.refundedSales += row.lineAmount
            amounts.refundedTaxable += row.taxable
            amounts.refundedTax += row.tax
        } else {
            amounts.grossSales += row.jurisdictionGross
            if row.lineExempt != 0 { amounts.exemptByReason[row.exemptReason.isEmpty ? "other" : row.exemptReason, default: 0] += row.lineExempt }
            if row.notTaxedByJurisdiction != 0 { amounts.exemptByReason["not_taxed_by_jurisdiction", default: 0] += row.notTaxedByJurisdiction }
            amounts.taxable += row.taxable
            amounts.taxCollected += row.tax
        }
        totals[key] = amounts
    }

    public static let columns = [
        "period", "state", "jurisdiction_code", "jurisdiction_level", "jurisdiction_name", "gross_sales", "exempt_sales", "exempt_by_reason",
        "taxable_sales", "tax_collected", "refunded_sales", "refunded_taxable", "tax_refunded", "net_tax_due",
    ]

    /// The rows in order: period, state, level (state first), jurisdiction code.
    public var rows: [(Key, Amounts)] { totals.sorted { $0.key < $1.key } }

    public static func fields(_ key: Key, _ amounts: Amounts) -> [String] {
        func money(_ value: Int64) -> String { Money(minorUnits: value).decimalString }
        let reasons = amounts.exemptByReason.sorted { $0.key < $1.key }.map { "\($0.key)=\(money($0.value))" }.joined(separator: ";")
        return [key.period, key.state, key.jurisdictionCode, key.level, key.name, money(amounts.grossSales), money(amounts.exempt), reasons,
                money(amounts.taxable), money(amounts.taxCollected), money(amounts.refundedSales), money(amounts.refundedTaxable),
                money(amounts.refundedTax), money(amounts.netDue)]
    }
}

/// The control totals of an export, from its detail rows: tax summed over every row, sales counted once per line
/// (a line has a row per jurisdiction; its rows are consecutive in the ledger).
public struct ControlTotals: Sendable, Equatable {
    public var rows = 0
    public var lines = 0
    public var grossSales: Int64 = 0
    public var exemptSales: Int64 = 0
    public var refundedSales: Int64 = 0
    public var taxCollected: Int64 = 0
    public var taxRefunded: Int64 = 0
    var lastLine = ""

    public init() {}

    public mutating func add(_ row: DetailRow) {
        rows += 1
        if row.documentType == "refund" { taxRefunded += row.tax } else { taxCollected += row.tax }
        let line = row.documentNumber + "#" + String(row.lineNumber)
        guard line != lastLine else { return }
        lastLine = line
        lines += 1
        if row.documentType == "refund" {
            refundedSales += row.lineAmount
        } else {
            grossSales += row.jurisdictionGross
            exemptSales += row.lineExempt
        }
    }

    public var netTaxDue: Int64 { taxCollected + taxRefunded }

    public var fields: [String: String] {
        func money(_ value: Int64) -> String { Money(minorUnits: value).decimalString }
        return ["detail_rows": String(rows), "lines": String(lines), "gross_sales": money(grossSales), "exempt_sales": money(exemptSales),
                "refunded_sales": money(refundedSales), "tax_collected": money(taxCollected), "tax_refunded": money(taxRefunded),
                "net_tax_due": money(netTaxDue)]
    }
}
