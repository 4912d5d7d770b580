import Foundation
import JSONInput
import LevyBenchmarks
@testable import Orders
import Reconciliation
import Storage
import TaxCore
import TaxTables
import LevyTestSupport
import Testing
import Vault


/// A seeded store with stale-taxed orders, and settlement files written for it with injected differences.
struct Books: Sendable {
    let orders: OrderService
    let directory: String
    let injected: [DemoSettlements.Injected]

    static let repository: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()
    static let tables: TaxTableSet = try! CanonicalTables.load(directory: repository + "/TaxTables").tables
    static let postgres: PostgresDatabase? = ProcessInfo.processInfo.environment["LEVY_TEST_POSTGRES_URL"].map { try! PostgresDatabase(url: $0) }

    static func make(_ store: Store, orders count: Int = 320, injectEvery: Int = 6) async throws -> Books {
        let directory = NSTemporaryDirectory() + "levy-reconcile-tests/" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let database: any SQLDatabase = store == .sqlite ? try SQLiteDatabase(path: directory + "/levy.sqlite") : postgres!
        let prefix = store == .sqlite ? "" : "r" + String(UUID().uuidString.lowercased().filter(\.isLetter).prefix(10)) + "_"
        let orders = OrderService(database: database, schema: prefix + "orders", tables: tables, gateway: nil,
                                  keys: OrderKeys(masterKey: try MasterKey(bytes: Array(repeating: 3, count: 32))))
        let customers = CustomerService(database: database, schema: prefix + "customers")
        try await orders.migrate()
        try await customers.migrate()
        let stale = DemoSeed.StaleTables(service: orders, tables: tables, every: 20)
        let seeded = try await DemoSeed.run(service: orders, customers: customers, count: count, seed: 5, refundEvery: 4, stale: stale)
        var injected: [DemoSettlements.Injected] = []
        for layout in [SettlementLayout.stripe, .generic] {
            injected = try await DemoSettlements.write(service: orders, to: directory + "/\(layout.name).csv", layout: layout, seed: 9,
                                                       injectEvery: injectEvery, taxMismatches: seeded.taxMismatches)
        }
        return Books(orders: orders, directory: directory, injected: injected)
    }

    func request(_ layout: SettlementLayout = .stripe) -> ReconcileRequest {
        ReconcileRequest(settlements: directory + "/\(layout.name).csv", layout: layout,
                         policy: MatchPolicy(fees: DemoSettlements.fees, lateAfterDays: 5))
    }

    func reconciler(batch: Int = 10_000) -> Reconciler {
        var reconciler = Reconciler(service: orders, tables: Self.tables)
        reconciler.batch = batch
        return reconciler
    }

    func out(_ name: String) -> String { directory + "/" + name }
}

func differences(in folder: String) throws -> [DemoSettlements.Injected] {
    try readCSV(folder + "/differences.csv").map {
        DemoSettlements.Injected(reason: DifferenceReason(rawValue: $0["reason"]!)!, orderID: $0["order_id"]!, refundID: $0["refund_id"]!,
                                 line: Int($0["settlement_line"]!) ?? 0)
    }.sorted()
}

func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

@Suite("Reconciliation")
struct ReconcileTests {
    @Test("finds exactly the injected differences of every reason, in both layouts", arguments: Store.available)
    func findsExactlyTheInjected(store: Store) async throws {
        let books = try await Books.make(store)
        // Every reason code is injected at least once, so the report is held against all of them.
        #expect(Set(books.injected.map(\.reason)) == Set(DifferenceReason.allCases))
        for layout in [SettlementLayout.stripe, .generic] {
            let summary = try await books.reconciler().run(books.request(layout), out: books.out("report-\(layout.name)"))
            let found = try differences(in: books.out("report-\(layout.name)"))
            #expect(found == books.injected.sorted(), "\(layout.name): \(Set(found).symmetricDifference(books.injected))")
            #expect(summary.differences == books.injected.count)
            #expect(summary.levySales == 320)
            #expect(summary.ordersRecomputed == 320)
            for reason in DifferenceReason.allCases {
                #expect(summary.byReason[reason.rawValue] == books.injected.filter { $0.reason == reason }.count)
            }
        }
        // Both layouts describe the same money: the reports differ only in the settlement file's name and layout.
        let stripe = try readCSV(books.out("report-stripe") + "/differences.csv").map { $0.filter { $0.key != "settlement_id" } }
        let generic = try readCSV(books.out("report-generic") + "/differences.csv").map { $0.filter { $0.key != "settlement_id" } }
        #expect(stripe == generic)
    }

    /// The oracle is not Levy's reader: this settlement file is written from the orders and refunds as stored (read
    /// here with plain SQL: the card pays the total less what gift cards paid, and a movement of no card money has no
    /// line), with fees by the test's own formula (2.9% rounded half up, plus 0.30). It reconciles with
    /// no difference but the seeded tax mismatches. Then one refund's ledger entries are removed (a movement Levy's
    /// side would no longer see) and that refund is reported.
    @Test("an independently written settlement file reconciles; a movement missing from Levy's side is reported", arguments: Store.available)
    func independentOracle(store: Store) async throws {
        let books = try await Books.make(store, orders: 80, injectEvery: 0)
        let service = books.orders
        let orders = try await service.database.query("""
            SELECT id, total_amount, total_tax, gift_card_amount, created_at FROM \(service.table("orders"))
            WHERE status IN ('captured', 'partially_refunded', 'refunded', 'completed') ORDER BY id
            """, [])
        let refunds = try await service.database.query("""
            SELECT id, order_id, amount, tax, gift_card_amount, created_at FROM \(service.table("refunds")) WHERE state = 'completed' ORDER BY id
            """, [])
        #expect(orders.count == 80 && refunds.count >= 10)
        #expect(orders.contains { ($0.integer("gift_card_amount") ?? 0) > 0 }, "the seed spends gift cards")
        var settledSales = 0, settledRefunds = 0
        func money(_ cents: Int64) -> String {
            (cents < 0 ? "-" : "") + String(abs(cents) / 100) + "." + (abs(cents) % 100 < 10 ? "0" : "") + String(abs(cents) % 100)
        }
        func fee(_ gross: Int64) -> Int64 { (gross * 29 + 500) / 1_000 + 30 }
        var file = ["line_id,type,processor_id,amount,fee,net,currency,created,settled,order_id,refund_id"]
        for (index, row) in orders.enumerated() {
            let gross: Int64 = try row.decode("total_amount", as: Int64.self) + row.decode("total_tax", as: Int64.self)
                - row.decode("gift_card_amount", as: Int64.self)
            guard gross != 0 else { continue }
            settledSales += 1
            let at: String = try row.decode("created_at")
            file.append("s\(index),sale,ch_\(index),\(money(gross)),\(money(fee(gross))),\(money(gross - fee(gross))),USD,\(at),\(at),\(try row.decode("id", as: String.self)),")
        }
        for (index, row) in refunds.enumerated() {
            let gross: Int64 = -(try row.decode("amount", as: Int64.self) + row.decode("tax", as: Int64.self) - row.decode("gift_card_amount", as: Int64.self))
            guard gross != 0 else { continue }
            settledRefunds += 1
            let at: String = try row.decode("created_at")
            file.append("r\(index),refund,re_\(index),\(money(gross)),0.00,\(money(gross)),USD,\(at),\(at),\(try row.decode("order_id", as: String.self)),\(try row.decode("id", as: String.self))")
        }
        let path = books.out("independent.csv")
        try (file.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        let request = ReconcileRequest(settlements: path, layout: .generic, policy: MatchPolicy(fees: DemoSettlements.fees, lateAfterDays: 5))
        let summary = try await books.reconciler().run(request, out: books.out("independent"))
        #expect(try differences(in: books.out("independent")) == books.injected.sorted())
        #expect(summary.levySales == orders.count && summary.levyRefunds == refunds.count)
        #expect(summary.matchedLines == settledSales + settledRefunds)

        // A movement Levy's side no longer holds: the refund's settlement line is reported.
        func cardPart(_ row: SQLRow, _ columns: [String]) -> Int64 {
            columns.reduce(0) { $0 + (row.integer($1) ?? 0) } - (row.integer("gift_card_amount") ?? 0)
        }
        let settledRefundRows = refunds.filter { cardPart($0, ["amount", "tax"]) != 0 }
        let dropped: String = try settledRefundRows[settledRefundRows.count / 2].decode("id")
        _ = try await service.database.query("DELETE FROM \(service.table("ledger")) WHERE refund_id = $1", [.text(dropped)])
        let second = try await books.reconciler().run(request, out: books.out("dropped"))
        let found = try differences(in: books.out("dropped"))
        #expect(second.levyRefunds == refunds.count - 1, "\(second)")
        #expect(found.filter { $0.refundID == dropped }.count == 1, "\(found.filter { $0.reason != .taxMismatch })")
        #expect(found.count == books.injected.count + 1)

        // A sale Levy's side no longer holds (an order never refunded, its capture's ledger entries gone): reported.
        let refunded = Set(try refunds.map { try $0.decode("order_id", as: String.self) })
        let order = try #require(try orders.filter { cardPart($0, ["total_amount", "total_tax"]) != 0 }.map { try $0.decode("id", as: String.self) }
            .first { !refunded.contains($0) })
        _ = try await service.database.query("DELETE FROM \(service.table("ledger")) WHERE order_id = $1", [.text(order)])
        _ = try await books.reconciler().run(request, out: books.out("dropped-sale"))
        let both = try differences(in: books.out("dropped-sale"))
        #expect(both.filter { $0.orderID == order && $0.reason == .settlementWithoutOrder }.count == 1, "\(both.filter { $0.reason != .taxMismatch })")
        #expect(both.count == books.injected.count + 2)
    }

    /// Lines that name only the processor's capture or refund id (no order id, no refund id: how a processor that never
    /// saw Levy's ids reports) are matched through the ids Levy recorded. Orders go through the simulator, so every
    /// capture and refund has a processor id; one order is paid partly by gift card, and its line is the card's part.
    @Test("settlement lines with only the processor's ids are matched; an id Levy never recorded is reported", arguments: Store.available)
    func matchedByProcessorIDs(store: Store) async throws {
        let directory = NSTemporaryDirectory() + "levy-reconcile-tests/" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let database: any SQLDatabase = store == .sqlite ? try SQLiteDatabase(path: directory + "/levy.sqlite") : Books.postgres!
        let prefix = store == .sqlite ? "" : "p" + String(UUID().uuidString.lowercased().filter(\.isLetter).prefix(10)) + "_"
        let masterKey = try MasterKey(bytes: Array(repeating: 3, count: 32))
        let vault = try await Vault.open(.init(databasePath: directory + "/vault.sqlite", masterKey: masterKey))
        let orders = OrderService(database: database, schema: prefix + "orders", tables: Books.tables,
                                  gateway: PaymentGateway(vault: vault, processor: SimulatedProcessor()), keys: OrderKeys(masterKey: masterKey))
        try await orders.migrate()
        let token = try await vault.tokenize(number: "4242424242424242", expiry: 12, 2030, caller: VaultCaller(id: "checkout", permissions: [.tokenize])).token
        let origin = Address(line1: "1 Main St", city: "", state: StateCode("MN")!, zip: ZipCode("55402")!)
        func request(_ code: ProductTaxCode, _ amount: Int64, _ fulfilment: Fulfilment) -> QuoteRequest {
            QuoteRequest(date: TaxDate(iso: "2026-03-02")!, origin: origin, destination: origin,
                         lines: [QuoteLine(id: "1", code: code, amount: Money(minorUnits: amount), fulfilment: fulfilment)])
        }
        let sale = try await orders.place(request(.giftCard, 5_000, .inPerson), idempotencyKey: "gift", requestHash: "h", paymentToken: token)
        let giftCard = try #require(try await orders.capture(sale.id).issuedGiftCards.first)
        var placed: [OrderID] = [sale.id]
        for (n, amount) in [12_000, 4_550, 30_000, 899].enumerated() {
            let order = try await orders.place(request(.general, Int64(amount), .shipped), idempotencyKey: "o\(n)", requestHash: "h", paymentToken: token,
                                               giftCards: n == 2 ? [GiftCardPayment(code: giftCard.code, amount: 2_000)] : [])
            _ = try await orders.capture(order.id)
            placed.append(order.id)
        }
        _ = try await orders.refund(placed[1], .amount(2_000), idempotencyKey: "r1", requestHash: "h")
        _ = try await orders.refund(placed[2], .full, idempotencyKey: "r2", requestHash: "h")
        // Payment card first, so that this refund of the gift-card-paid order moves card money.
        var cardFirst = orders
        cardFirst.giftCardRefundPolicy = .paymentCardFirst
        _ = try await cardFirst.refund(placed[3], .amount(10_000), idempotencyKey: "r3", requestHash: "h")

        func money(_ cents: Int64) -> String {
            (cents < 0 ? "-" : "") + String(abs(cents) / 100) + "." + (abs(cents) % 100 < 10 ? "0" : "") + String(abs(cents) % 100)
        }
        func fee(_ gross: Int64) -> Int64 { (gross * 29 + 500) / 1_000 + 30 }
        var file = ["line_id,type,processor_id,amount,fee,net,currency,created,settled,order_id,refund_id"]
        let captures = try await database.query(
            "SELECT capture_id, total_amount + total_tax - gift_card_amount AS paid, created_at FROM \(orders.table("orders")) ORDER BY id", [])
        for row in captures {
            let (id, gross, at) = (try #require(row.text("capture_id")), try #require(row.integer("paid")), try #require(row.text("created_at")))
            #expect(id.contains("_sim_"), "a processor id, not Levy's")
            file.append("s\(file.count),sale,\(id),\(money(gross)),\(money(fee(gross))),\(money(gross - fee(gross))),USD,\(at),\(at),,")
        }
        let refunds = try await database.query(
            "SELECT processor_refund_id, amount + tax - gift_card_amount AS back, created_at FROM \(orders.table("refunds")) ORDER BY id", [])
        #expect(refunds.count == 3)
        for row in refunds {
            let (id, gross, at) = (try #require(row.text("processor_refund_id")), -(try #require(row.integer("back"))), try #require(row.text("created_at")))
            file.append("r\(file.count),refund,\(id),\(money(gross)),0.00,\(money(gross)),USD,\(at),\(at),,")
        }
        let path = directory + "/by-processor.csv"
        try (file.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        let policy = MatchPolicy(fees: DemoSettlements.fees, lateAfterDays: 5)
        let clean = try await Reconciler(service: orders, tables: Books.tables)
            .run(ReconcileRequest(settlements: path, layout: .generic, policy: policy), out: directory + "/clean")
        let cleanDifferences = try differences(in: directory + "/clean")
        #expect(clean.differences == 0, "\(cleanDifferences)")
        #expect(clean.matchedLines == captures.count + refunds.count && clean.levySales == 5 && clean.levyRefunds == 3)

        // A capture id Levy never recorded (a settlement without an order), and a refund id it never recorded with no
        // order to name (a refund without a sale): each reported, nothing else.
        // Its id holds U+202E and BEL: the processor's text, printed in the report written out (probe #16).
        file.append("x1,sale,sim_\u{202E}never\u{7}seen,10.00,0.59,9.41,USD,2026-03-02T00:00:00Z,2026-03-02T00:00:00Z,,")
        file.append("x2,refund,sim_refund_never_seen,-10.00,0.00,-10.00,USD,2026-03-02T00:00:00Z,2026-03-02T00:00:00Z,,")
        try (file.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        let strays = try await Reconciler(service: orders, tables: Books.tables)
            .run(ReconcileRequest(settlements: path, layout: .generic, policy: policy), out: directory + "/strays")
        let found = try differences(in: directory + "/strays")
        #expect(found.map(\.reason).sorted { $0.rawValue < $1.rawValue } == [.refundWithoutSale, .settlementWithoutOrder], "\(found)")
        #expect(strays.matchedLines == clean.matchedLines)
        for name in ["differences.csv", "report.json"] {
            let written = String(decoding: try Data(contentsOf: URL(fileURLWithPath: directory + "/strays/" + name)), as: UTF8.self)
            #expect(written.contains("sim_<U+202E>never<U+0007>seen") && !written.unicodeScalars.contains("\u{202E}"), "\(name)")
        }

        // A duplicate or a stray line is still money the processor kept: its fee is checked like a matched line's.
        // A second line for the first capture with a fee off the schedule, and a stray whose net is not amount - fee.
        let firstCapture = file[1].split(separator: ",", omittingEmptySubsequences: false)
        file.append("x3,sale,\(firstCapture[2]),\(firstCapture[3]),9.99,\(money(try #require(MoneyText.parse(String(firstCapture[3]), minorUnits: false)) - 999)),USD,\(firstCapture[7]),\(firstCapture[8]),,")
        file.append("x4,sale,sim_also_never_seen,10.00,0.59,9.00,USD,2026-03-02T00:00:00Z,2026-03-02T00:00:00Z,,")
        try (file.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        _ = try await Reconciler(service: orders, tables: Books.tables)
            .run(ReconcileRequest(settlements: path, layout: .generic, policy: policy), out: directory + "/fees")
        let withFees = try differences(in: directory + "/fees")
        let fees = withFees.filter { $0.reason == .feeAnomaly }
        #expect(fees.map(\.line).sorted() == [file.count - 1, file.count], "the lines of x3 and x4 (the header is line 1): \(withFees)")
        #expect(withFees.filter { $0.reason == .duplicate }.count == 1 && withFees.filter { $0.reason == .settlementWithoutOrder }.count == 2, "\(withFees)")
    }

    /// An order store of its own with no orders, for the nexus tests.
    static func emptyOrderStore(_ store: Store) async throws -> OrderService {
        let directory = NSTemporaryDirectory() + "levy-reconcile-tests/" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let database: any SQLDatabase = store == .sqlite ? try SQLiteDatabase(path: directory + "/levy.sqlite") : Books.postgres!
        let prefix = store == .sqlite ? "" : "n" + String(UUID().uuidString.lowercased().filter(\.isLetter).prefix(10)) + "_"
        let orders = OrderService(database: database, schema: prefix + "orders", tables: Books.tables, gateway: nil,
                                  keys: OrderKeys(masterKey: try MasterKey(bytes: Array(repeating: 3, count: 32))))
        try await orders.migrate()
        return orders
    }

    /// The day a threshold was crossed, from orders whose dates and amounts are known: Minnesota counts retail sales
    /// against 100,000.00 (or 200 transactions); three 40,000.00 sales on March 1, April 1 and May 1 cross it on May 1.
    @Test("the nexus report names the day the year's running sales crossed a state's threshold", arguments: Store.available)
    func crossingDay(store: Store) async throws {
        let orders = try await Self.emptyOrderStore(store)
        let minneapolis = Address(line1: "1 Main St", city: "", state: StateCode("MN")!, zip: ZipCode("55402")!)
        for (n, date) in ["2026-03-01", "2026-04-01", "2026-05-01", "2026-06-01"].enumerated() {
            let request = QuoteRequest(date: TaxDate(iso: date)!, origin: minneapolis, destination: minneapolis,
                                       lines: [QuoteLine(id: "1", code: .general, amount: Money(minorUnits: 4_000_000), fulfilment: .shipped)])
            let placed = try await orders.place(request, idempotencyKey: "n\(n)", requestHash: "h")
            _ = try await orders.capture(placed.id)
        }
        let thresholds = try NexusTable.load(directory: Books.repository + "/TaxTables")
        let report = try await NexusReport.compute(service: orders, year: 2026, asOf: TaxDate(iso: "2026-12-31")!, thresholds: thresholds,
                                                   registered: [], registeredSource: "test")
        let mn = try #require(report.rows.first { $0.state.code == "MN" })
        #expect(mn.status == "crossed" && mn.alert)
        #expect(mn.crossedOn?.iso == "2026-05-01")
        #expect(report.fields(mn).last == "2026-05-01")
        #expect(report.rows.filter { $0.state.code != "MN" }.allSatisfy { $0.crossedOn == nil })
        // A year without orders says registrations are unknown, not "registered in " and nothing.
        let empty = try await NexusReport.compute(service: orders, year: 2024, asOf: TaxDate(iso: "2024-12-31")!, thresholds: thresholds, registered: nil)
        #expect(empty.registrationsNote == "registrations unknown: no orders in the year; pass --registered")
    }

    /// Probe #19: Florida counts taxable sales against 100,000.00, and a seller not registered there was quoted with
    /// nothing taxable (it does not collect), so 115,000.00 of goods never crossed it; gift cards and tips counted as
    /// sales; and a report as of a date counted later sales. Two sales of 85,000.00 (March 2) and 30,000.00 (May 4),
    /// with a gift card and a tip on the first, from a seller registered in Minnesota only.
    @Test(arguments: Store.available)
    func unregisteredTaxableSalesCount(store: Store) async throws {
        let orders = try await Self.emptyOrderStore(store)
        let minneapolis = Address(line1: "1 Main St", city: "", state: StateCode("MN")!, zip: ZipCode("55402")!)
        let miami = Address(line1: "1 Flagler St", city: "Miami", state: StateCode("FL")!, zip: ZipCode("33130")!)
        let sales: [(String, [QuoteLine])] = [
            ("2026-03-02", [QuoteLine(id: "1", code: .general, amount: Money(minorUnits: 8_500_000), fulfilment: .shipped),
                            QuoteLine(id: "2", code: .giftCard, amount: Money(minorUnits: 50_000), fulfilment: .shipped),
                            QuoteLine(id: "3", code: .gratuity, amount: Money(minorUnits: 5_000), fulfilment: .shipped)]),
            ("2026-05-04", [QuoteLine(id: "1", code: .general, amount: Money(minorUnits: 3_000_000), fulfilment: .shipped)]),
        ]
        for (n, (date, lines)) in sales.enumerated() {
            let request = QuoteRequest(date: TaxDate(iso: date)!, origin: minneapolis, destination: miami, registrations: [StateCode("MN")!], lines: lines)
            let placed = try await orders.place(request, idempotencyKey: "f\(n)", requestHash: "h")
            #expect(placed.totalTax == 0)
            _ = try await orders.capture(placed.id)
        }
        let thresholds = try NexusTable.load(directory: Books.repository + "/TaxTables")
        let report = try await NexusReport.compute(service: orders, year: 2026, asOf: TaxDate(iso: "2026-12-31")!, thresholds: thresholds,
                                                   registered: [StateCode("MN")!], registeredSource: "test")
        let fl = try #require(report.rows.first { $0.state.code == "FL" })
        #expect(fl.threshold?.counted == .taxable)
        #expect(fl.gross == 11_500_000 && fl.retail == 11_500_000 && fl.taxable == 11_500_000 && fl.counted == 11_500_000)
        #expect(fl.status == "crossed" && fl.alert && fl.crossedOn?.iso == "2026-05-04")
        // As of the day before the second sale: the first alone, near the threshold, not crossed.
        let before = try await NexusReport.compute(service: orders, year: 2026, asOf: TaxDate(iso: "2026-05-03")!, thresholds: thresholds,
                                                   registered: [StateCode("MN")!], registeredSource: "test")
        let flBefore = try #require(before.rows.first { $0.state.code == "FL" })
        #expect(flBefore.counted == 8_500_000 && flBefore.status == "near" && flBefore.crossedOn == nil)
    }

    @Test("a clean file reconciles with no differences and exit-worthy totals tie", arguments: Store.available)
    func cleanFile(store: Store) async throws {
        let books = try await Books.make(store, orders: 120, injectEvery: 0)
        // No stale orders were injected into the file, but the store still has them: only tax mismatches remain.
        let summary = try await books.reconciler().run(books.request(), out: books.out("clean"))
        #expect(summary.differences == books.injected.count)
        #expect(Set(books.injected.map(\.reason)).isSubset(of: [.taxMismatch]))
        // Every movement of card money is matched; those of none (wholly paid by, or refunded to, gift cards) have no line.
        let noCardMoney = try await books.orders.database.query("""
            SELECT (SELECT COUNT(*) FROM \(books.orders.table("orders")) WHERE capture_id IS NOT NULL AND total_amount + total_tax = gift_card_amount)
              + (SELECT COUNT(*) FROM \(books.orders.table("refunds")) WHERE state = 'completed' AND amount + tax = gift_card_amount) AS n
            """, []).first?.integer("n") ?? -1
        #expect(noCardMoney > 0)
        #expect(summary.matchedLines + Int(noCardMoney) == summary.levySales + summary.levyRefunds)
        #expect(summary.settledAmount == MoneyText.format(
            MoneyText.parse(summary.levySalesAmount, minorUnits: false)! + MoneyText.parse(summary.levyRefundsAmount, minorUnits: false)!))
    }

    @Test("a run that stops part way resumes from its checkpoint and writes the same report", arguments: Store.available)
    func resumes(store: Store) async throws {
        let books = try await Books.make(store, orders: 200)
        _ = try await books.reconciler(batch: 15).run(books.request(), out: books.out("whole"))
        // Stop the run every 3 checkpoints (several times in every phase), resuming the same folder each time, until it
        // finishes.
        var stops = 0
        while true {
            var stopping = books.reconciler(batch: 15)
            stopping.stopAfterCheckpoints = 3
            do {
                _ = try await stopping.run(books.request(), out: books.out("interrupted"))
                break
            } catch let error as ReconcileError {
                guard case .state = error else { throw error }
                stops += 1
                #expect(!FileManager.default.fileExists(atPath: books.out("interrupted") + "/differences.csv"))
            }
        }
        #expect(stops > 10)
        for file in ["differences.csv", "report.json", "summary.txt"] {
            #expect(try bytes(books.out("whole") + "/" + file) == bytes(books.out("interrupted") + "/" + file), "\(file)")
        }
        // A finished run rerun writes the same bytes again.
        _ = try await books.reconciler().run(books.request(), out: books.out("whole"))
        #expect(try bytes(books.out("whole") + "/report.json") == bytes(books.out("interrupted") + "/report.json"))
        // Other inputs in the same folder are refused rather than mixed in.
        var other = books.request()
        other.policy.lateAfterDays = 9
        await #expect(throws: ReconcileError.self) { try await books.reconciler().run(other, out: books.out("whole")) }
    }

    @Test("the ledger reader gives the same whole movements whatever its window, even one entry wide", arguments: Store.available)
    func windows(store: Store) async throws {
        let books = try await Books.make(store, orders: 60)
        func movements(window: Int64) async throws -> [PaymentMovement] {
            var reader = PaymentMovementReader(orders: books.orders.reader, from: "0000-01-01T00:00:00Z", until: "9999-12-31T23:59:59Z",
                                               lastSeq: try await PaymentMovementReader.head(books.orders.reader))
            reader.window = window
            var all: [PaymentMovement] = []
            var cursor: Int64 = 0
            while cursor < reader.lastSeq {
                let page = try await reader.page(after: cursor)
                #expect(page.cursor > cursor, "the reader always moves on")
                all += page.movements
                cursor = page.cursor
            }
            return all
        }
        let whole = try await movements(window: 1_000_000)
        // 60 sales and every fourth order refunded; every movement's entries add up to what its order or refund recorded.
        #expect(whole.filter { $0.kind == .sale }.count == 60)
        #expect(whole.filter { $0.kind == .refund }.count == 15)
        #expect(whole.allSatisfy { $0.ledgerTax == $0.recordedTax })
        #expect(Set(whole.map(\.key)).count == whole.count)
        for window: Int64 in [1, 3, 7, 64] {
            #expect(try await movements(window: window) == whole, "window \(window)")
        }
    }

    @Test("the period limits Levy's side; lines for captures outside it are counted, not reported", arguments: Store.available)
    func period(store: Store) async throws {
        let books = try await Books.make(store, orders: 60, injectEvery: 0)
        var request = books.request()
        request.from = TaxDate(iso: "2001-01-01")
        request.through = TaxDate(iso: "2001-12-31")
        let summary = try await books.reconciler().run(request, out: books.out("empty-period"))
        #expect(summary.levySales == 0)
        #expect(summary.outsidePeriod == summary.saleLines + summary.refundLines)
        #expect(summary.differences == 0)
    }

    @Test("bad settlement input is refused naming the file, line and column", arguments: Store.available)
    func badInput(store: Store) async throws {
        let books = try await Books.make(store, orders: 10, injectEvery: 0)
        let path = books.out("broken.csv")
        var text = try String(contentsOfFile: books.out("generic.csv"), encoding: .utf8)
        text = text.replacingOccurrences(of: "\r\n", with: "\n")
        var lines = text.split(separator: "\n").map(String.init)
        var fields = lines[3].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        fields[3] = "12.345"
        lines[3] = fields.joined(separator: ",")
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        var request = books.request(.generic)
        request.settlements = path
        do {
            _ = try await books.reconciler().run(request, out: books.out("broken"))
            Issue.record("a bad amount was accepted")
        } catch let error as ReconcileError {
            #expect(error.description == "broken.csv:4: column \"amount\" (amount): \"12.345\" is not an amount with at most two decimals")
        }
        // A value with an unquoted comma splits its row: every later column would hold its neighbour's value.
        let header = lines[0].split(separator: ",", omittingEmptySubsequences: false).count
        var split = text.split(separator: "\n").map(String.init)
        fields = split[5].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        fields[fields.count - 1] += ",extra"
        split[5] = fields.joined(separator: ",")
        try (split.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        do {
            _ = try await books.reconciler().run(request, out: books.out("split"))
            Issue.record("a row with more columns than the header was accepted")
        } catch let error as ReconcileError {
            #expect(error.description == "broken.csv:6: \(header + 1) columns, the header has \(header) (a value with a comma must be quoted)")
        }
        // The Stripe layout on a generic file: the missing columns are named.
        request = books.request(.stripe)
        request.settlements = books.out("generic.csv")
        do {
            _ = try await books.reconciler().run(request, out: books.out("wrong-layout"))
            Issue.record("a file without the layout's columns was accepted")
        } catch let error as ReconcileError {
            #expect(error.description == "generic.csv:1: the stripe layout needs the column(s) id (line_id), Created (UTC) (created)")
        }
    }

    @Test("a mapping file reads any layout; mistakes in it are named", arguments: Store.available)
    func mapping(store: Store) async throws {
        let books = try await Books.make(store, orders: 40, injectEvery: 4)
        let csv = try String(contentsOfFile: books.out("generic.csv"), encoding: .utf8)
        let renamed = csv.replacingOccurrences(of: "line_id,type,processor_id,amount", with: "Txn,Kind,Ref,Gross")
            .replacingOccurrences(of: ",sale,", with: ",SETTLED_SALE,")
        try renamed.write(toFile: books.out("custom.csv"), atomically: true, encoding: .utf8)
        try #"{"base": "generic", "columns": {"line_id": "Txn", "type": "Kind", "processor_id": "Ref", "amount": "Gross"}, "sale_types": ["settled_sale"]}"#
            .write(toFile: books.out("mapping.json"), atomically: true, encoding: .utf8)
        let layout = try SettlementLayout.load(mapping: books.out("mapping.json"))
        let request = ReconcileRequest(settlements: books.out("custom.csv"), layout: layout, policy: MatchPolicy(fees: DemoSettlements.fees))
        _ = try await books.reconciler().run(request, out: books.out("custom"))
        #expect(try differences(in: books.out("custom")) == books.injected.sorted())

        try #"{"base": "generic", "colums": {}}"#.write(toFile: books.out("typo.json"), atomically: true, encoding: .utf8)
        #expect(throws: ReconcileError.input(books.out("typo.json") + ": unknown key \"colums\"")) {
            try SettlementLayout.load(mapping: books.out("typo.json"))
        }
        try #"{"base": "generic", "refund_types": ["Sale", "refund"]}"#.write(toFile: books.out("both.json"), atomically: true, encoding: .utf8)
        #expect(throws: ReconcileError.input(books.out("both.json") + ": sale_types and refund_types both name \"sale\": a type is a sale or a refund")) {
            try SettlementLayout.load(mapping: books.out("both.json"))
        }
        let card = "4242" + "4242" + "4242" + "4242"
        try #"{"base": "generic", "columns": {"amount": "\#(card)"}}"#.write(toFile: books.out("card.json"), atomically: true, encoding: .utf8)
        #expect(throws: ReconcileError.input(books.out("card.json") + ": columns.amount: " + CardNumberMask.refusal)) {
            try SettlementLayout.load(mapping: books.out("card.json"))
        }
        // The test's own file: gone before the card-data scan reads the tests' folders.
        try FileManager.default.removeItem(atPath: books.out("card.json"))
    }
}

