import Foundation
import TaxCore
@testable import TaxTables
import Testing

@Suite("Economic-nexus thresholds")
struct NexusTableTests {
    let loaded = try! NexusTable.load(directory: Repo.shippedTables)

    @Test("the shipped nexus.csv covers 50 states, DC and PR, cites listed sources, and is dated")
    func shipped() throws {
        let date = TaxDate(iso: "2026-06-30")!
        let states = Set(loaded.thresholds.filter { $0.period.contains(date) }.map(\.state.code))
        #expect(states.count == 52)
        // Dated changes: Illinois dropped its 200-transaction threshold on 2026-01-01; Tennessee was $500,000 before 2020-10-01.
        #expect(loaded.threshold(StateCode("IL")!, on: TaxDate(iso: "2025-12-31")!)?.transactions == 200)
        #expect(loaded.threshold(StateCode("IL")!, on: TaxDate(iso: "2026-01-01")!)?.transactions == nil)
        #expect(loaded.threshold(StateCode("TN")!, on: TaxDate(iso: "2020-06-01")!)?.sales == 50_000_000)
        #expect(loaded.threshold(StateCode("TN")!, on: date)?.sales == 10_000_000)
        #expect(loaded.threshold(StateCode("NY")!, on: date)?.combine == .and)
        #expect(loaded.threshold(StateCode("OR")!, on: date)?.sales == nil)
        #expect(loaded.thresholds.allSatisfy { !$0.provenance.source.isEmpty })
    }

    @Test("status: or, and, near, no sales tax")
    func status() throws {
        let date = TaxDate(iso: "2026-06-30")!
        let mn = loaded.threshold(StateCode("MN")!, on: date)!   // $100,000 or 200
        #expect(mn.status(sales: 10_000_000, transactions: 1) == .crossed)
        #expect(mn.status(sales: 9_999_999, transactions: 200) == .crossed)
        #expect(mn.status(sales: 8_000_000, transactions: 10) == .near)
        #expect(mn.status(sales: 7_999_999, transactions: 159) == .below)
        #expect(mn.status(sales: 0, transactions: 160) == .near)
        let ny = loaded.threshold(StateCode("NY")!, on: date)!   // $500,000 and 100
        #expect(ny.status(sales: 60_000_000, transactions: 99) == .near)
        #expect(ny.status(sales: 50_000_000, transactions: 100) == .crossed)
        #expect(loaded.threshold(StateCode("DE")!, on: date)!.status(sales: 1, transactions: 1) == .noSalesTax)
        // The products are formed in 128 bits: extreme thresholds and counts (a hand-edited table) stop no server.
        var extreme = mn
        extreme.transactions = Int.max
        extreme.sales = Int64.max
        #expect(extreme.status(sales: Int64.max - 1, transactions: Int.max - 1, nearPercent: 99) == .near)
        #expect(extreme.status(sales: Int64.max - 1, transactions: Int.max - 1, nearPercent: 100) == .below)
        #expect(extreme.status(sales: 0, transactions: 0, nearPercent: Int.max) == .below)
    }

    @Test("a broken row is refused with its file, line and column")
    func broken() throws {
        let folder = NSTemporaryDirectory() + "levy-nexus-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Repo.shippedTables + "/sources.csv", toPath: folder + "/sources.csv")
        try """
            state,effective_from,effective_through,sales_threshold,transactions_threshold,combine,measurement,counted_sales,source,as_of,confidence,note
            MN,2018-10-01,,100000.00,200,maybe,preceding_12_months,retail,avior-nexus-2025,2025-12-31,medium,
            WI,2021-02-20,,100000.00,,,previous_or_current_calendar_year,gross,nowhere,2025-07-01,medium,
            IA,2019-07-01,,100000.00,,,previous_or_current_calendar_year,gross,avalara-nexus-2025,2025-07-01,medium,
            IA,2020-01-01,,90000.00,,,previous_or_current_calendar_year,gross,avalara-nexus-2025,2025-07-01,medium,
            SD,2019-07-01,,100000.00,9223372036854775807,or,previous_or_current_calendar_year,gross,avalara-nexus-2025,2025-07-01,medium,

            """.write(toFile: folder + "/nexus.csv", atomically: true, encoding: .utf8)
        do {
            _ = try NexusTable.load(directory: folder)
            Issue.record("a broken nexus.csv loaded")
        } catch {
            let messages = error.diagnostics.map(\.description)
            #expect(messages.contains("nexus.csv:2:6: error: combine \"maybe\" must be or/and when both thresholds are given"))
            #expect(messages.contains("nexus.csv:3:9: error: source \"nowhere\" is not listed in sources.csv"))
            #expect(messages.contains { $0.hasPrefix("nexus.csv:5:2: error: IA threshold period 2020-01-01 onward overlaps") })
            #expect(messages.contains("nexus.csv:6:5: error: transactions_threshold \"9223372036854775807\" is not a whole number from 1 to 1000000000"))
        }
    }
}
