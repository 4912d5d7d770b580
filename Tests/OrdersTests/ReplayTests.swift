import Foundation
import Storage
import TaxCore
import LevyTestSupport
import Testing
@testable import Orders

@Suite("Replaying an order's quote")
struct ReplayTests {
    @Test("registrations, tax-included amounts, line locations and applied certificates replay to the same tax", arguments: Store.available)
    func replaysExactly(store: Store) async throws {
        let (service, vault) = try await World.service(store)
        var registered = World.request()
        registered.registrations = [StateCode("MN")!]
        registered.lines[0].location = World.address("MN", "55102")
        registered.lines[3].taxIncluded = true
        registered.rounding = .lineJurisdiction
        var exempt = World.request()
        exempt.exemptions = [ExemptionCertificate(state: StateCode("WI")!, reason: .resale, number: "WI-RS-77", expires: TaxDate(iso: "2027-01-01"))]
        // No destination or billing address: the payment instrument's address (SSUTA 310.A.4) sources the lines.
        var paid = World.request()
        paid.destination = nil
        paid.payment = World.address("WI", "53703")

        // A remote seller that elected Texas's single local use tax rate (1.75% in place of Houston's 2%).
        var elected = World.request()
        elected.destination = World.address("TX", "77002")
        elected.elections = [RemoteSellerElection(state: StateCode("TX")!, type: "single_local_use_tax")]

        let token = try await World.token(vault)
        var placed: [Order] = []
        for (i, request) in [registered, exempt, paid, elected].enumerated() {
            placed.append(try await service.place(request, idempotencyKey: "replay-\(i)", requestHash: "h\(i)", paymentToken: token))
        }
        #expect(placed[0].lines.contains { $0.tax == 0 }, "WI lines are not collected without a WI registration")
        let replayed = try await service.replay(placed.map(\.id.value) + ["ord_unknown"])
        #expect(replayed.count == 4)
        #expect(placed[2].lines[1].sourcingRule == .paymentAddress)
        #expect(placed[2].totalTax == (try TaxCalculator(tables: World.tables).quote(World.request())).totalTax.minorUnits,
                "sourced to the payment address, the order is taxed as if delivered there")
        #expect(replayed.first { $0.id == placed[2].id.value }?.request.payment?.zip.zip5String == "53703")
        let calculator = TaxCalculator(tables: World.tables)
        for (order, replay) in zip(placed, replayed.sorted { a, b in placed.firstIndex { $0.id.value == a.id }! < placed.firstIndex { $0.id.value == b.id }! }) {
            #expect(replay.assumptions.isEmpty)
            let quote = try calculator.quote(replay.request)
            #expect(quote.totalTax.minorUnits == order.totalTax)
            #expect(quote.lines.map(\.tax.minorUnits) == order.lines.map(\.tax))
            #expect(replay.lineTaxes == order.lines.map(\.tax))
        }
        #expect(replayed.first { $0.id == placed[0].id.value }?.request.registrations == [StateCode("MN")!])
        #expect(replayed.first { $0.id == placed[1].id.value }?.request.exemptions.map(\.number) == ["WI-RS-77"])
        #expect(replayed.first { $0.id == placed[3].id.value }?.request.elections == elected.elections)
        #expect(placed[3].lines[1].taxes.contains { $0.jurisdictionCode == "48-SLUT" })

        // A refund through the processor keeps the processor's refund id, for settlement matching.
        _ = try await service.capture(placed[1].id)
        let refund = try await service.refund(placed[1].id, .full, idempotencyKey: "replay-refund", requestHash: "r")
        let rows = try await service.database.query("SELECT processor_refund_id FROM \(service.table("refunds")) WHERE id = $1", [.text(refund.id.value)])
        #expect(rows.first?.text("processor_refund_id")?.isEmpty == false)
    }

    /// A stored value Levy never writes is an error naming the column, not a line or an order silently left out
    /// (reconciliation would then recompute a different tax and report the wrong difference, or none).
    @Test("an altered order row fails the replay naming the column", arguments: Store.available)
    func alteredRowsAreErrors(store: Store) async throws {
        let (service, vault) = try await World.service(store)
        let token = try await World.token(vault)
        let order = try await service.place(World.request(), idempotencyKey: "altered", requestHash: "h", paymentToken: token)
        #expect(try await service.replay([order.id.value]).count == 1)
        for (table, column, value) in [("order_lines", "code", "bogus_code"), ("order_lines", "fulfilment", "teleported"),
                                       ("orders", "tax_date", "someday"), ("orders", "registrations", "MN,m1")] {
            let original = try await service.database.query("SELECT \(column) FROM \(service.table(table)) WHERE \(table == "orders" ? "id" : "order_id") = $1",
                                                            [.text(order.id.value)]).first?.cells.first ?? .null
            try await service.database.execute("UPDATE \(service.table(table)) SET \(column) = $1 WHERE \(table == "orders" ? "id" : "order_id") = $2",
                                               [.text(value), .text(order.id.value)])
            do {
                _ = try await service.replay([order.id.value])
                Issue.record("\(table).\(column) = \(value) replayed")
            } catch let error as OrderError {
                #expect("\(error)".contains(column), "\(error)")
            }
            try await service.database.execute("UPDATE \(service.table(table)) SET \(column) = $1 WHERE \(table == "orders" ? "id" : "order_id") = $2",
                                               [original, .text(order.id.value)])
        }
        #expect(try await service.replay([order.id.value]).count == 1, "restored, it replays again")
    }
}
