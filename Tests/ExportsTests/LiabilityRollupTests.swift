@testable import Exports
import Foundation
import LevyBenchmarks
import LevyTestSupport
import Orders
import Storage
import TaxCore
import Testing

/// The liability rollup against the detail export it caches: sums recomputed here from the exported detail rows
/// (independently of the rollup's code), after catch-ups cut into many small batches, after more orders and refunds,
/// with two catch-ups racing, and for a range that starts and ends inside months.
@Suite struct LiabilityRollupTests {
    struct Sum: Equatable, CustomStringConvertible {
        var gross: Int64 = 0, exempt: Int64 = 0, taxable: Int64 = 0, tax: Int64 = 0, entries: Int64 = 0
        var description: String { "gross \(gross) exempt \(exempt) taxable \(taxable) tax \(tax) entries \(entries)" }
    }

    /// Month sums by `month type state` and by `month type state code level name`, from a detail CSV's rows in the
    /// range: a sale's line counts once for its state (its first row), every row for its jurisdiction.
    static func expected(_ rows: [[String: String]], from: String = "0000", through: String = "9999")
        -> (states: [String: Sum], jurisdictions: [String: Sum]) {
        var states: [String: Sum] = [:], jurisdictions: [String: Sum] = [:]
        var seenLines = Set<String>()
        for row in rows {
            let refund = row["document_type"] == "refund"
            let day = refund ? row["document_date"]! : row["tax_date"]!
            guard day >= from && day <= through else { continue }
            let month = String(day.prefix(7)), type = row["document_type"]!, state = row["state"]!
            let firstOfLine = seenLines.insert("\(row["document_number"]!)#\(row["line_number"]!)").inserted
            var s = states["\(month) \(type) \(state)", default: Sum()]
            // A state's sales are its lines': taxable at any level.
            if !refund && firstOfLine {
                s.gross += jurisdictionSale(row).gross; s.exempt += cents(row["line_exempt"])
                s.taxable += row["jurisdiction_code"] == "none" ? 0 : cents(row["line_taxable"])
            }
            s.tax += cents(row["tax"]); s.entries += 1
            states["\(month) \(type) \(state)"] = s
            let key = "\(month) \(type) \(state) \(row["jurisdiction_code"]!) \(row["jurisdiction_level"]!) \(row["jurisdiction_name"]!)"
            var j = jurisdictions[key, default: Sum()]
            if !refund {
                let sale = jurisdictionSale(row)
                j.gross += sale.gross; j.exempt += sale.exempt; j.taxable += cents(row["taxable"])
            }
            j.tax += cents(row["tax"]); j.entries += 1
            jurisdictions[key] = j
        }
        return (states, jurisdictions)
    }

    /// The rollup's months for a range, keyed like `expected`.
    static func actual(_ rollup: LiabilityRollup, from: String, through: String) async throws
        -> (throughSeq: Int64, states: [String: Sum], jurisdictions: [String: Sum]) {
        let (start, end) = (TaxDate(iso: from)!, TaxDate(iso: through)!)
        let (throughSeq, byState) = try await rollup.months(from: start, through: end)
        var states: [String: Sum] = [:], jurisdictions: [String: Sum] = [:]
        for row in byState {
            states["\(row.month) \(row.documentType) \(row.state)"] = Sum(gross: row.sums.gross, exempt: row.sums.exempt, taxable: row.sums.taxable,
                                                                          tax: row.sums.tax, entries: row.sums.entries)
        }
        for state in Set(byState.map(\.state)) {
            for row in try await rollup.months(from: start, through: end, state: state).rows {
                let key = "\(row.month) \(row.documentType) \(row.state) \(row.jurisdictionCode) \(row.jurisdictionLevel) \(row.jurisdictionName)"
                jurisdictions[key] = Sum(gross: row.sums.gross, exempt: row.sums.exempt, taxable: row.sums.taxable, tax: row.sums.tax,
                                         entries: row.sums.entries)
            }
        }
        return (throughSeq, states, jurisdictions)
    }

    func detailRows(_ world: World, _ name: String) async throws -> [[String: String]] {
        _ = try await world.exporter.detail(world.request(personalData: false), format: .csv, to: world.out(name))
        return try readCSV(world.out("\(name)/detail.csv"))
    }

    @Test(arguments: Store.available)
    func rollupEqualsTheDetailExportThroughBatchesAndLaterOrders(store: Store) async throws {
        let world = try await World.make(store, orders: 90)
        var rollup = world.exporter.liabilityRollup
        rollup.batchEntries = 7     // many batches, each cut between two documents
        #expect(try await rollup.watermark() == 0)
        let head = try await world.exporter.orders.ledgerHead().seq
        #expect(try await rollup.catchUp() == head)

        var rows = try await detailRows(world, "first")
        var expected = Self.expected(rows)
        var actual = try await Self.actual(rollup, from: "2026-01-01", through: "2026-12-31")
        #expect(actual.throughSeq == head)
        #expect(actual.states == expected.states)
        #expect(actual.jurisdictions == expected.jurisdictions)
        #expect(expected.states.keys.contains { $0.contains(" refund ") }, "the seeded orders include refunds")
        #expect(Set(expected.jurisdictions.keys.map { $0.split(separator: " ")[2] }).count > 3, "several states")

        // More orders and refunds, then a catch-up that adds only them; a second catch-up adds nothing.
        _ = try await DemoSeed.run(service: world.orders, count: 40, seed: 12, refundEvery: 3)
        let newHead = try await world.exporter.orders.ledgerHead().seq
        #expect(newHead > head)
        #expect(try await rollup.catchUp() == newHead)
        #expect(try await rollup.catchUp() == newHead)
        rows = try await detailRows(world, "second")
        expected = Self.expected(rows)
        actual = try await Self.actual(rollup, from: "2026-01-01", through: "2026-12-31")
        #expect(actual.throughSeq == newHead)
        #expect(actual.states == expected.states)
        #expect(actual.jurisdictions == expected.jurisdictions)

        // A range inside months takes only its days.
        let partial = try await Self.actual(rollup, from: "2026-03-10", through: "2026-07-20")
        let partialExpected = Self.expected(rows, from: "2026-03-10", through: "2026-07-20")
        #expect(partial.states == partialExpected.states)
        #expect(partial.jurisdictions == partialExpected.jurisdictions)
        #expect(partial.states.count < actual.states.count)

        // The liability export's net tax due for the year equals the rollup's tax.
        let liability = try await world.exporter.liability(world.request(personalData: false), period: .quarter, format: .csv, to: world.out("liability"))
        #expect(cents(liability.controlTotals["net_tax_due"]) == actual.states.values.reduce(0) { $0 + $1.tax })
    }

    /// Two catch-ups from an empty rollup at once: the conditional watermark lets one batch in per step, so no entry
    /// is added twice.
    @Test(arguments: Store.available)
    func racingCatchUpsAddEachEntryOnce(store: Store) async throws {
        let world = try await World.make(store, orders: 60)
        var a = world.exporter.liabilityRollup, b = world.exporter.liabilityRollup
        a.batchEntries = 5
        b.batchEntries = 11
        let (racerA, racerB) = (a, b)
        async let first = racerA.catchUp()
        async let second = racerB.catchUp()
        _ = try await (first, second)
        // Whichever lost a step stopped early; catching up to the head finishes the work, also while the other races.
        let head = try await world.exporter.orders.ledgerHead().seq
        async let finishing = racerB.catchUp()
        #expect(try await a.catchUpToHead() >= head)
        _ = try await finishing
        #expect(try await a.watermark() == head)
        let expected = Self.expected(try await detailRows(world, "race"))
        let actual = try await Self.actual(a, from: "2026-01-01", through: "2026-12-31")
        #expect(actual.states == expected.states)
        #expect(actual.jurisdictions == expected.jurisdictions)
    }

    /// A sum the store cannot hold is an error, not a trap.
    @Test func overflowingSumsAreErrors() throws {
        var sums = LiabilityRollup.Sums()
        try sums.add(gross: .max, exempt: 0, taxable: 0, tax: 0, entries: 1)
        #expect(throws: LiabilityRollupError.self) { try sums.add(gross: 1, exempt: 0, taxable: 0, tax: 0, entries: 1) }
    }
}
