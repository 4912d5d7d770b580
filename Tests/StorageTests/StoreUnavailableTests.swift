import Foundation
import LevyTestSupport
import Testing
import _ConnectionPoolModule
@testable import Storage

/// Probe #11: with PostgreSQL stopped, requests waited about a minute and failed as 500s; with a table locked by hand,
/// every request that needed it waited for as long as the lock lasted, holding the pool's connections.
@Suite("A store that cannot answer now says so, in bounded time")
struct StoreUnavailableTests {
    @Test("every PostgreSQL connection waits at most lockTimeout for a lock; a migration lifts it for its own transaction",
          .enabled(if: TestStores.postgresURL != nil, "needs PostgreSQL (LEVY_TEST_POSTGRES_URL); skipped, not passed, without it"))
    func lockTimeoutOnEveryConnection() async throws {
        let url = try #require(TestStores.postgresURL)
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

    /// Probe #11: a request hung for good when PostgreSQL ended its connections (a fast shutdown). The pool had
    /// leased a connection the server had just closed, and the statement written to it was never answered.
    @Test("statements sent while the server ends the pool's connections all answer, and the pool recovers",
          .enabled(if: TestStores.postgresURL != nil, "needs PostgreSQL (LEVY_TEST_POSTGRES_URL); skipped, not passed, without it"))
    func connectionsEndedUnderLoad() async throws {
        let url = try #require(TestStores.postgresURL)
        let database = try PostgresDatabase(url: url, maximumConnections: 4)
        let terminator = try PostgresDatabase(url: url, maximumConnections: 1)
        defer { database.close(); terminator.close() }
        var unanswered = 0
        for _ in 0..<25 {
            // Four connections at once (each statement holds its own for a moment), then the server ends them all.
            // (A statement may still meet a connection of the round before as it closes: that one just fails.)
            let pids = await withTaskGroup(of: Int64?.self) { group in
                for _ in 0..<4 { group.addTask { try? await database.query("SELECT pg_backend_pid() AS pid, pg_sleep(0.05)", []).first?.integer("pid") } }
                return await group.reduce(into: Set<Int64>()) { if let pid = $1 { $0.insert(pid) } }
            }
            guard !pids.isEmpty else { continue }
            _ = try await terminator.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid IN (\(pids.map(String.init).joined(separator: ",")))", [])
            // Statements while the connections close: each answers (rows or an error), none waits for good.
            unanswered += await withTaskGroup(of: Int.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        var late = 0
                        let until = ContinuousClock.now + .milliseconds(300)
                        while ContinuousClock.now < until {
                            if await !Self.answers(within: .seconds(30), { _ = try await database.query("SELECT 1 AS one", []) }) { late += 1; break }
                        }
                        return late
                    }
                }
                return await group.reduce(0, +)
            }
        }
        #expect(unanswered == 0)
        #expect(try await database.query("SELECT 1 AS one", []).first?.integer("one") == 1)
        // Closed connections are forgotten once their grace has passed: the watch holds only live ones.
        try await Task.sleep(for: database.watch.grace + .seconds(1))
        #expect(database.watch.watchedConnections <= 4)
    }

    @Test("a busy pool on a reachable server keeps its waiters past the lease wait, and a long statement runs to its end",
          .enabled(if: TestStores.postgresURL != nil, "needs PostgreSQL (LEVY_TEST_POSTGRES_URL); skipped, not passed, without it"))
    func busyPoolKeepsWaiters() async throws {
        let url = try #require(TestStores.postgresURL)
        let database = try PostgresDatabase(url: url, maximumConnections: 1, leaseWait: .milliseconds(300))
        defer { database.close() }
        // The one connection is busy for 2 s, several lease waits: the statement behind it waits and answers.
        async let long = database.query("SELECT pg_sleep(2), 7 AS seven", [])
        try await Task.sleep(for: .milliseconds(200))
        #expect(try await database.query("SELECT 1 AS one", []).first?.integer("one") == 1)
        #expect(try await long.first?.integer("seven") == 7)
        // Eight statements of 0.4 s on that one connection: the last waits about ten lease waits.
        let answered = try await withThrowingTaskGroup(of: Int64?.self) { group in
            for _ in 0..<8 { group.addTask { try await database.query("SELECT pg_sleep(0.4), 1 AS one", []).first?.integer("one") } }
            return try await group.reduce(0) { $0 + ($1 ?? 0) }
        }
        #expect(answered == 8)
        let inTransaction = try await database.transaction { tx in try await tx.query("SELECT 2 AS two", []).first?.integer("two") }
        #expect(inTransaction == 2)
    }

    /// The probe tells a server that is not there from one that answers and refuses: the first by the socket (nothing
    /// listens on port 1), the second by the server's own error (a database that does not exist, SQLSTATE 3D000), and
    /// a statement waiting on a pool that cannot connect gives up after its lease wait with the probe's words.
    @Test("the reachability probe tells an unreachable server from one that refuses the connection")
    func probeTellsUnreachableFromRefused() async throws {
        // Each probe is the one a store opened on that URL would ask (its own configuration, built from the URL).
        func probeAnswer(_ url: String) async throws -> String? {
            let database = try PostgresDatabase(url: url, maximumConnections: 1)
            defer { database.close() }
            return await database.probe.failure()
        }
        let unreachable = try await probeAnswer("postgres://levy@127.0.0.1:1/levy")
        #expect(unreachable?.hasPrefix("the server cannot be reached: ") == true, "\(unreachable ?? "nil")")
        guard let url = TestStores.postgresURL, var elsewhere = URLComponents(string: url) else { return }
        #expect(try await probeAnswer(url) == nil)
        elsewhere.path = "/levy_no_such_database"
        let missing = try #require(elsewhere.string)
        let refused = try await probeAnswer(missing)
        #expect(refused?.hasPrefix("the server refused the connection: ") == true && refused?.contains("3D000") == true, "\(refused ?? "nil")")
        // Through the pool: its lease waits 0.3 s, the probe is asked, the statement answers unavailable with its words.
        let database = try PostgresDatabase(url: missing, maximumConnections: 1, leaseWait: .milliseconds(300))
        defer { database.close() }
        await #expect {
            _ = try await database.query("SELECT 1 AS one", [])
        } throws: { error in
            (error as? StoreUnavailable)?.reason.hasPrefix("the server refused the connection: ") == true
        }
    }

    /// Whether `operation` ended, with a result or an error, within `limit` (a statement that never answers is left
    /// behind: that is the defect under test).
    static func answers(within limit: Duration, _ operation: @escaping @Sendable () async throws -> Void) async -> Bool {
        struct Late: Error {}
        return (try? await Deadline.run(within: limit, orThrow: { Late() }) { _ = try? await operation() }) != nil
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
