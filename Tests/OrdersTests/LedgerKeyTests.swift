import Foundation
import Storage
import TaxCore
import LevyTestSupport
import Testing
@testable import Orders
@testable import Vault

/// The ledger's chain is keyed: a rewrite that recomputes every hash without the key is caught, a rewrite with the
/// key is caught by the heads anchored in exports, and an older unkeyed ledger is re-chained once.
@Suite("Ledger key")
struct LedgerKeyTests {
    /// Rewrites one tax and re-seals the whole chain and the head with `hash`, as an attacker with database access would.
    static func rewrite(_ service: OrderService, seq: Int, hash: (LedgerEntry, String) -> String) async throws {
        let ledger = service.table("ledger")
        try await service.database.execute("UPDATE \(ledger) SET tax = tax + 100 WHERE seq = $1", [.integer(Int64(seq))])
        var previous = Ledger.genesis
        var last = 0
        for var entry in try await service.ledger() {
            entry.hash = hash(entry, previous)
            try await service.database.execute("UPDATE \(ledger) SET prev_hash = $1, hash = $2 WHERE seq = $3",
                                               [.text(previous), .text(entry.hash), .integer(Int64(entry.seq))])
            previous = entry.hash
            last = entry.seq
        }
        try await service.database.execute("UPDATE \(service.table("meta")) SET value = $1 WHERE name = 'ledger_head'", [.text("\(last):\(previous)")])
    }

    @Test("a chain rewritten and re-sealed without the key does not verify", arguments: Store.available)
    func unkeyedRewriteIsCaught(store: Store) async throws {
        let (service, vault) = try await World.service(store)
        let placed = try await service.place(World.request(), idempotencyKey: "k", requestHash: "h", paymentToken: try await World.token(vault))
        _ = try await service.capture(placed.id)
        #expect(try await service.verifyLedger().brokenAt == nil)
        // Re-sealed with plain SHA-256 (the old, unkeyed form): every link is consistent, but not keyed.
        try await Self.rewrite(service, seq: 2) { entry, previous in entry.legacyHash(previous: previous) }
        #expect(try await service.verifyLedger().brokenAt == 1)
        // Re-sealed under another key: the same.
        let other = LedgerKey(masterKey: try MasterKey(bytes: Array(repeating: 6, count: 32)))
        try await Self.rewrite(service, seq: 2) { entry, previous in entry.computeHash(previous: previous, key: other) }
        #expect(try await service.verifyLedger().brokenAt == 1)
    }

    @Test("an export's anchored head catches a rewrite made even with the key", arguments: Store.available)
    func anchorsCatchAKeyedRewrite(store: Store) async throws {
        let (service, vault) = try await World.service(store)
        let placed = try await service.place(World.request(), idempotencyKey: "a", requestHash: "h", paymentToken: try await World.token(vault))
        _ = try await service.capture(placed.id)
        let head: String = try #require(try await service.database.query("SELECT value FROM \(service.table("meta")) WHERE name = 'ledger_head'")
            .first?.decode("value"))
        #expect(try await service.verifyLedgerAnchors([head]).allSatisfy(\.matches))
        try await Self.rewrite(service, seq: 1) { entry, previous in entry.computeHash(previous: previous, key: World.ledgerKey) }
        #expect(try await service.verifyLedger().brokenAt == nil, "re-sealed with the key: the chain alone cannot tell")
        let checks = try await service.verifyLedgerAnchors([head, "999:abc", "nonsense"])
        #expect(checks.map(\.matches) == [false, false, false])
        #expect(checks[0].reason.contains("rewritten"))
    }

    @Test("an unkeyed ledger of an older store is re-chained once, its old head kept", arguments: Store.available)
    func olderLedgersAreRechained(store: Store) async throws {
        let (service, vault) = try await World.service(store)
        let placed = try await service.place(World.request(), idempotencyKey: "m", requestHash: "h", paymentToken: try await World.token(vault))
        _ = try await service.capture(placed.id)
        // Turn the store back into what release 1 wrote: plain SHA-256 links, no chain form recorded.
        try await Self.rewrite(service, seq: 0) { entry, previous in entry.legacyHash(previous: previous) }
        try await service.database.execute("DELETE FROM \(service.table("meta")) WHERE name = 'ledger_chain'")
        let oldHead: String = try #require(try await service.database.query("SELECT value FROM \(service.table("meta")) WHERE name = 'ledger_head'")
            .first?.decode("value"))
        #expect(try await service.verifyLedger().brokenAt == 1)
        try await service.migrate()
        #expect(try await service.verifyLedger().brokenAt == nil)
        let kept: String? = try await service.database.query("SELECT value FROM \(service.table("meta")) WHERE name = 'ledger_unkeyed_head'")
            .first?.decode("value")
        #expect(kept == oldHead)
        try await service.migrate()  // once only
        #expect(try await service.verifyLedger().brokenAt == nil)
    }

    @Test("a broken unkeyed ledger is not re-sealed by the migration", arguments: Store.available)
    func brokenOlderLedgersAreNotResealed(store: Store) async throws {
        let (service, vault) = try await World.service(store)
        let placed = try await service.place(World.request(), idempotencyKey: "b", requestHash: "h", paymentToken: try await World.token(vault))
        _ = try await service.capture(placed.id)
        try await Self.rewrite(service, seq: 0) { entry, previous in entry.legacyHash(previous: previous) }
        try await service.database.execute("DELETE FROM \(service.table("meta")) WHERE name = 'ledger_chain'")
        try await service.database.execute("UPDATE \(service.table("ledger")) SET tax = tax + 1 WHERE seq = 2")
        await #expect(throws: LedgerMigrationError.self) { try await service.migrate() }
    }
}
