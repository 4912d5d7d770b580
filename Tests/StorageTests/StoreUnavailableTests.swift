import Foundation
import LevyTestSupport
import Testing
import _ConnectionPoolModule
@testable import Storage

/// Probe #11: with PostgreSQL stopped, requests waited about a minute and failed as 500s; with a table locked by hand,
/// every request that needed it waited for as long as the lock lasted, holding the pool's connections.
@Suite("A store that cannot answer now says so, in bounded time")
struct StoreUnavailableTests {
    @Test("every PostgreSQL connection waits at most lockTimeout for a lock; a migration lifts it for its own transaction")
    func lockTimeoutOnEveryConnection() async throws {
        guard let url = TestStores.postgresURL else { return }
        let database = try PostgresDatabase(url: url, maximumConnections: 2)
        defer { database.close() }
        #expect(try await database.query("SHOW lock_timeout", []).first?.text("lock_timeout") == PostgresDatabase.lockTimeout)
        let lifted = try await database.transaction { tx in
            try await tx.execute("SET LOCAL lock_timeout = 0")
            return try await tx.query("SHOW lock_timeout", []).first?.text("lock_timeout")
        }
        #expect(lifted == "0")
        #expect(try await database.query("SHOW lock_timeout", []).first?.text("lock_timeout") == PostgresDatabase.lockTimeout)
    }

    @Test("errors are told apart: a lock or connection failure is unavailable, a constraint or syntax error is not")
    func classification() throws {
        #expect(StoreUnavailable.classify(SQLError(code: 5, message: "database is locked", statement: "")) != nil)
        #expect(StoreUnavailable.classify(SQLError(code: 19, message: "UNIQUE constraint failed", statement: "")) == nil)
        // What the pool answers once connections to a stopped server have failed for a while.
        #expect(StoreUnavailable.classify(ConnectionPoolError.connectionCreationCircuitBreakerTripped) != nil)
        #expect(StoreUnavailable.classify(ConnectionPoolError.requestCancelled) == nil)
        struct Other: Error {}
        #expect(StoreUnavailable.classify(Other()) == nil)
    }
}
