import Foundation
@testable import Storage
import Synchronization
import TaxCore
import LevyTestSupport
import Testing
@testable import Orders
@testable import Vault

/// A database that counts the round trips its callers make: every statement, and BEGIN and COMMIT for every
/// transaction (each is a round trip of its own on PostgreSQL).
final class CountingDatabase: SQLDatabase {
    let base: any SQLDatabase
    let count = Mutex(0)
    var dialect: SQLDialect { base.dialect }

    init(_ base: any SQLDatabase) { self.base = base }

    func reset() { count.withLock { $0 = 0 } }
    var trips: Int { count.withLock { $0 } }

    func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        count.withLock { $0 += 1 }
        return try await base.query(sql, binds)
    }

    func transaction<T: Sendable>(_ body: @escaping @Sendable (any SQLExecutor) async throws -> T) async throws -> T {
        count.withLock { $0 += 2 }
        return try await base.transaction { tx in try await body(Counting(base: tx, count: self)) }
    }

    func createSchema(_ name: String) async throws { try await base.createSchema(name) }

    /// What each `commitTogether` came to, and a step to run (once) just before the next one, to make it race.
    let outcomes = Mutex<[CommitOutcome]>([])
    let beforeNextCommit = Mutex<(@Sendable () async throws -> Void)?>(nil)

    func commitTogether(guarded: SQLStatement, then writes: [SQLStatement]) async throws -> CommitOutcome {
        if let step = beforeNextCommit.withLock({ step in defer { step = nil }; return step }) { try await step() }
        count.withLock { $0 += 1 }
        let outcome = try await base.commitTogether(guarded: guarded, then: writes)
        outcomes.withLock { $0.append(outcome) }
        return outcome
    }

    struct Counting: SQLExecutor {
        let base: any SQLExecutor
        let count: CountingDatabase
        func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
            count.count.withLock { $0 += 1 }
            return try await base.query(sql, binds)
        }
    }
}

@Suite("Round trips to the order store")
struct RoundTripTests {
    static func service(_ store: Store) async throws -> (OrderService, CountingDatabase, Vault) {
        let directory = World.directory()
        let base: any SQLDatabase = store == .sqlite ? try SQLiteDatabase(path: directory + "/orders.sqlite") : World.postgres!
        let database = CountingDatabase(base)
        let vault = try await Vault.open(.init(databasePath: directory + "/vault.sqlite", masterKey: try MasterKey(bytes: Array(repeating: 5, count: 32))))
        let service = OrderService(database: database, schema: World.schema(), tables: World.tables,
                                   gateway: PaymentGateway(vault: vault, processor: SimulatedProcessor()), keys: World.keys)
        try await service.migrate()
        return (service, database, vault)
    }

    /// A bigger order than the usual fixture: 40 lines over four fulfilments, each taxed in several jurisdictions.
    static func bigRequest() -> QuoteRequest {
        var request = World.request()
        let template = request.lines
        request.lines = (0..<40).map { i in
            var line = template[i % template.count]
            line.id = "line-\(i)"
            return line
        }
        return request
    }

    @Test("placing an order is one round trip on PostgreSQL whatever its size, and gives the order a read returns",
          arguments: Store.available)
    func placement(store: Store) async throws {
        let (service, database, _) = try await Self.service(store)
        for request in [World.request(), Self.bigRequest()] {
            database.reset()
            let placed = try await service.place(request, idempotencyKey: UUID().uuidString, requestHash: "h")
            if store == .postgres { #expect(database.trips == 1, "\(request.lines.count) lines: \(database.trips) round trips") }
            let read = try await service.order(placed.id)
            #expect(placed == read, "the order place returns is the order as stored")
        }
    }

    @Test("an authorized placement, capture and reads stay within their round-trip budgets, and each returns the order as stored",
          arguments: Store.available)
    func payment(store: Store) async throws {
        let (service, database, vault) = try await Self.service(store)
        let token = try await World.token(vault)
        database.reset()
        let authorized = try await service.place(Self.bigRequest(), idempotencyKey: UUID().uuidString, requestHash: "h", paymentToken: token)
        // Insert, claim (authorizing), record the answer.
        if store == .postgres { #expect(database.trips == 3, "\(database.trips)") }
        #expect(authorized.status == .authorized)
        #expect(authorized == (try await service.order(authorized.id)))

        database.reset()
        _ = try await service.order(authorized.id)
        if store == .postgres { #expect(database.trips == 1, "reading an order with its lines and taxes: \(database.trips)") }

        database.reset()
        let captured = try await service.capture(authorized.id)
        // Claim and read in one statement; the ledger head; one statement, committed on its own, for capture +
        // ledger + head + vouchers + entitlements.
        if store == .postgres { #expect(database.trips == 3, "capture: \(database.trips) round trips") }
        #expect(captured.status == .captured)
        #expect(captured == (try await service.order(authorized.id)))
        #expect(try await service.verifyLedger().brokenAt == nil)
        #expect(try await service.ledger().filter { $0.orderID == authorized.id.value }.count
                == captured.lines.reduce(0) { $0 + max(1, $1.taxes.count) })

        // A refund of every line: the idempotency lookup, the refund lock, the order read under it, the pending row
        // (then the processor's refund), the ledger head, and one statement, committed on its own, for the refund's
        // rows, the order, the ledger, the head and the revocations. Whatever the refund's size.
        database.reset()
        let refund = try await service.refund(authorized.id, .full, idempotencyKey: "whole", requestHash: "h")
        if store == .postgres { #expect(database.trips == 6, "refund of \(refund.lines.count) lines: \(database.trips) round trips") }
        let refunded = try await service.order(authorized.id)
        #expect(refunded.status == .refunded)
        #expect(refunded.lines.allSatisfy { $0.refundedQuantity == $0.quantity && $0.refundedAmount == $0.amount && $0.refundedTax == $0.tax })
        #expect(try await service.vouchers(of: authorized.id).allSatisfy { $0.status == .revoked })
        #expect(try await service.entitlements(of: authorized.id).allSatisfy { $0.status == .revoked })
        #expect(World.net(try await service.ledger().filter { $0.orderID == authorized.id.value }).values.allSatisfy { $0 == 0 })
        #expect(try await service.verifyLedger().brokenAt == nil)
    }

    /// Another capture appends to the ledger between this capture's read of the head and its write: the optimistic
    /// statement writes nothing (its entry numbers are taken) and the capture is made again under the head's lock.
    /// PostgreSQL only: SQLite's captures take the file's write lock from the start.
    @Test("a capture that loses the race for the ledger head writes nothing, then captures under the lock",
          .enabled(if: TestStores.postgresURL != nil))
    func captureRetriesUnderTheLock() async throws {
        let (service, database, vault) = try await Self.service(.postgres)
        let first = try await service.place(World.request(), idempotencyKey: UUID().uuidString, requestHash: "h", paymentToken: try await World.token(vault))
        let second = try await service.place(World.request(), idempotencyKey: UUID().uuidString, requestHash: "h", paymentToken: try await World.token(vault))
        // The other writer works on the same store, not through the counting wrapper.
        let other = OrderService(database: database.base, schema: service.schema, tables: World.tables,
                                 gateway: service.gateway, keys: World.keys)
        database.beforeNextCommit.withLock { $0 = { _ = try await other.capture(second.id) } }
        let captured = try await service.capture(first.id)
        #expect(captured.status == .captured)
        let outcomes = database.outcomes.withLock { $0 }
        #expect(outcomes.count == 1)
        if case .conflict(let reason)? = outcomes.first { #expect(reason.contains("unique key"), "\(reason)") } else { Issue.record("no conflict: \(outcomes)") }
        let ledger = try await service.ledger()
        #expect(try await service.verifyLedger().brokenAt == nil)
        for order in [first, second] {
            let read = try await service.order(order.id)
            #expect(read.status == .captured)
            #expect(ledger.filter { $0.orderID == order.id.value }.count == read.lines.reduce(0) { $0 + max(1, $1.taxes.count) })
        }
        #expect(ledger.map(\.seq) == Array(1...ledger.count))
    }

    @Test("an atomic insert that fails in its last table leaves nothing in the first, on both stores", arguments: Store.available)
    func atomicInsert(store: Store) async throws {
        let (service, database, _) = try await Self.service(store)
        let placed = try await service.place(World.request(), idempotencyKey: UUID().uuidString, requestHash: "h")
        let orders = service.table("orders"), lines = service.table("order_lines")
        let count = { try await database.query("SELECT COUNT(*) AS n FROM \(orders)").first?.integer("n") ?? -1 }
        let before = try await count()
        // A new order whose line collides with an existing line's key: the whole write must be refused.
        let orderRow: [SQLValue] = [.text("ord_atomic"), .text("atomic-key"), .text("h"), .text("placed"), .text("USD"), .text("2026-03-02"),
                                    .text("v"), .text("half_up"), .integer(1), .integer(0), .null, .text("2026-03-02T00:00:00Z"), .null, .null,
                                    .text("||MN|55402"), .null, .null, .null, .text("origin")]
        let line: [SQLValue] = [.text(placed.id.value), .integer(1), .text("x"), .text("general"), .integer(1), .integer(1), .integer(1), .integer(0),
                                .integer(0), .text("destination"), .text("MN 55402"), .null, .text("shipped"), .text("sales"), .text("taxable"), .null,
                                .null, .integer(1), .integer(0), .null, .integer(0), .integer(0)]
        #expect(line.count == OrderService.lineColumns.count)
        await #expect(throws: (any Error).self) {
            try await database.insertAtomically([
                SQLInsert(table: orders, columns: OrderService.orderColumns, rows: [orderRow]),
                SQLInsert(table: lines, columns: OrderService.lineColumns, rows: [line]),
            ])
        }
        #expect(try await count() == before)
    }

    @Test("placeholders are renumbered outside quoted text only")
    func renumbering() {
        let statement = SQLStatement("UPDATE t SET a = $1, b = '$2', \"c$3\" = $10 WHERE d = $2", [])
        #expect(statement.renumbered(by: 5) == "UPDATE t SET a = $6, b = '$2', \"c$3\" = $15 WHERE d = $7")
    }
}
