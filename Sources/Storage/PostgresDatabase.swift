import Foundation
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// PostgreSQL through a pooled `PostgresClient`. Each component keeps its tables in its own schema.
public final class PostgresDatabase: SQLDatabase {
    public let dialect = SQLDialect.postgres
    let client: PostgresClient
    /// `host:port/database`, for messages (the URL's password stays out of them).
    public let endpoint: String
    /// The pool's own task when the database runs its pool itself (`PoolRunner.ownTask`); nil when the caller runs it.
    let runner: Task<Void, Never>?
    let logger: Logger
    let watch = ClosedConnectionWatch()
    /// How long a statement waits for a pooled connection before asking whether the server can be reached at all
    /// (`leaseWithin`).
    let leaseWait: Duration
    let probe: ReachabilityProbe

    /// The default `leaseWait`.
    public static let defaultLeaseWait: Duration = .seconds(5)

    /// Who runs the connection pool. A server puts the pool in its `ServiceGroup` (`.caller`, then `runPool()` is its
    /// service), so that it starts before and stops after the HTTP server; a one-shot command or a test lets the
    /// database run it in a task of its own.
    public enum PoolRunner: Sendable { case ownTask, caller }

    public enum ConfigurationError: Error, CustomStringConvertible {
        case badURL(String)
        public var description: String {
            switch self {
            case .badURL(let why): "PostgreSQL URL: \(why) (expected postgres://user[:password]@host[:port]/database)"
            }
        }
    }

    /// How long a statement waits for a lock another session holds, set on every connection (`lock_timeout`): a
    /// table locked by hand or a stuck transaction fails the statements that need it (SQLSTATE 55P03, a 503) instead
    /// of holding their connections, and with them every other request, for as long as the lock lasts (probe #11).
    /// Migrations lift it for their own transaction: they may wait for each other.
    public static let lockTimeout = "10s"

    /// Connects to `postgres://user[:password]@host[:port]/database` (no TLS: use a local socket or a private network,
    /// or terminate TLS in front; TLS settings come with the server configuration).
    public init(url: String, maximumConnections: Int = 10, pool: PoolRunner = .ownTask, leaseWait: Duration = PostgresDatabase.defaultLeaseWait) throws {
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme ?? "") else {
            throw ConfigurationError.badURL("not a postgres:// URL")
        }
        guard let host = components.host, !host.isEmpty else { throw ConfigurationError.badURL("no host") }
        guard let user = components.user, !user.isEmpty else { throw ConfigurationError.badURL("no user") }
        let database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        let port = components.port ?? 5432
        let databaseName = database.isEmpty ? nil : database
        var configuration = PostgresClient.Configuration(host: host, port: port, username: user, password: components.password,
                                                         database: databaseName, tls: .disable)
        configuration.options.maximumConnections = maximumConnections
        configuration.options.additionalStartupParameters = [("lock_timeout", Self.lockTimeout)]
        endpoint = "\(host):\(port)/\(database)"
        self.leaseWait = leaseWait
        // The probe connects as the pool does, on a connection of its own.
        var probeConfiguration = PostgresConnection.Configuration(host: host, port: port, username: user, password: components.password,
                                                                  database: databaseName, tls: .disable)
        probeConfiguration.options.connectTimeout = .seconds(3)
        var logger = Logger(label: "levy.storage.postgres")
        // A first query may be queued before the pool runs (its task or service starts concurrently); postgres-nio
        // warns about that, harmlessly, and the query waits for the pool. Errors still show.
        logger.logLevel = .error
        self.logger = logger
        probe = ReachabilityProbe(configuration: probeConfiguration, logger: logger)
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        runner = pool == .ownTask ? Task { await client.run() } : nil
    }

    deinit { runner?.cancel() }

    /// Runs the connection pool until the task is cancelled or, in a `ServiceGroup`, shut down gracefully (after the
    /// services started later, such as the HTTP server, have stopped). For `PoolRunner.caller`, once; a database that
    /// runs its own pool returns at once.
    public func runPool() async {
        guard runner == nil else { return }
        await client.run()
    }

    /// Stops the connection pool (one the database runs itself).
    public func close() { runner?.cancel() }

    public func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        try await withOpenConnection { connection in
            try await ConnectionExecutor(connection: connection, logger: self.logger).query(sql, binds)
        }
    }

    public func transaction<T: Sendable>(_ body: @escaping @Sendable (any SQLExecutor) async throws -> T) async throws -> T {
        do {
            return try await withOpenConnection { connection in
                try await connection.withTransaction(logger: self.logger) { connection in
                    try await body(ConnectionExecutor(connection: connection, logger: self.logger))
                }
            }
        } catch let error as PostgresTransactionError {
            // The body's own error, rolled back cleanly: callers see the same error as with SQLite.
            if let bodyError = error.closureError, error.rollbackError == nil { throw bodyError }
            throw error
        }
    }

    /// Runs `body` on a pooled connection that is still open. The pool can lease one in the moment between the
    /// server ending it and the pool hearing so, and a statement written to it is dropped unanswered (PostgresNIO
    /// writes without a promise that could fail): the request waited for good (probe #11, when PostgreSQL stopped
    /// under a capture). Nothing was sent on such a connection, so it is handed back and another leased, a few times,
    /// before the store counts as unavailable. The work runs under `ClosedConnectionWatch`, for a connection that
    /// closes once the work is on it. A lease waits past `leaseWait` only while the server can be reached (`leaseWithin`).
    func withOpenConnection<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        for attempt in 1...Self.leaseAttempts {
            let leased: Leased<T> = try await leaseWithin(leaseWait) { connection in
                connection.isClosed ? .closed : .done(try await self.watch.run(on: connection) { try await body(connection) })
            }
            if case .done(let result) = leased { return result }
            // Give the pool time to hear of the closed connection (its close reaches the pool on the event loop).
            if attempt < Self.leaseAttempts { try await Task.sleep(for: .milliseconds(20 * attempt)) }
        }
        throw StoreUnavailable("the connections were closed")
    }

    static let leaseAttempts = 3

    /// Leases a connection for `body`. With PostgreSQL down the pool keeps trying to connect, and fails a waiting lease
    /// only when its own circuit breaker trips, about a minute later (not settable through `PostgresClient`): every
    /// request waited that long for its 503. So a lease still waiting after `limit` asks whether the server can be
    /// reached at all (`ReachabilityProbe`: a connection of its own, shared by the waiters of a moment): if not, or if
    /// it refuses connections, the lease request is cancelled (the pool drops it) and the store counts as unavailable;
    /// if it can, the pool is only busy and the lease keeps its turn (a long statement, a burst, a saturated machine:
    /// nothing is cut). `body` runs only if the lease came first: a connection handed over after the give-up is given
    /// back unused, so nothing is sent that no one waits for.
    func leaseWithin<R: Sendable>(_ limit: Duration, _ body: @escaping @Sendable (PostgresConnection) async throws -> R) async throws -> R {
        let gate = LeaseGate()
        return try await withThrowingTaskGroup(of: LeaseStep<R>.self) { group in
            group.addTask {
                try await self.client.withConnection { connection in
                    guard gate.begin() else { return .noAnswer }  // given up already: the connection goes back unused
                    return .finished(try await body(connection))
                }
            }
            group.addTask {
                while true {
                    // Cancelled (the lease ended first, or the caller went away): nothing to give up.
                    do { try await Task.sleep(for: limit) } catch { return .noAnswer }
                    if gate.started { return .noAnswer }
                    if let failure = await self.probe.failure(), gate.expire() { return .gaveUp(failure) }
                }
            }
            while let step = try await group.next() {
                switch step {
                case .finished(let result):
                    group.cancelAll()
                    return result
                case .gaveUp(let why):
                    group.cancelAll()
                    throw StoreUnavailable(why)
                case .noAnswer:
                    continue
                }
            }
            // Both tasks end in one of the cases above; this is only for the compiler.
            throw StoreUnavailable("the connection lease ended without an answer")
        }
    }

    /// A lease's race between the connection arriving and the wait being given up: whichever moves first decides.
    final class LeaseGate: Sendable {
        private let state = Atomic<UInt8>(0)  // 0 waiting, 1 started, 2 given up
        /// The connection arrived: true if the wait had not been given up (the work may start).
        func begin() -> Bool { state.compareExchange(expected: 0, desired: 1, ordering: .acquiringAndReleasing).exchanged }
        /// The wait is given up: true if no connection had arrived.
        func expire() -> Bool { state.compareExchange(expected: 0, desired: 2, ordering: .acquiringAndReleasing).exchanged }
        var started: Bool { state.load(ordering: .acquiring) == 1 }
    }

    /// What one of a lease's two tasks reports: the work's result, the give-up with the probe's reason, or nothing.
    enum LeaseStep<R: Sendable>: Sendable { case finished(R), gaveUp(String), noAnswer }

    /// What a lease gave: nothing (the connection had closed) or the body's result.
    enum Leased<T: Sendable>: Sendable { case closed, done(T) }

    /// One statement of data-modifying WITH clauses whose result divides by the guard's row count: a guard that
    /// matched nothing fails the whole statement (SQLSTATE 22012), as a write that meets a taken unique key does
    /// (23505); either way PostgreSQL writes nothing. Too many values for one statement: the transaction instead.
    public func commitTogether(guarded: SQLStatement, then writes: [SQLStatement]) async throws -> CommitOutcome {
        var clauses = ["g AS (\(guarded.sql))"]
        var binds = guarded.binds
        for (i, write) in writes.enumerated() {
            clauses.append("w\(i) AS (\(write.renumbered(by: binds.count)))")
            binds += write.binds
        }
        guard binds.count <= SQLInsert.maxBindsPerStatement else { return try await commitInTransaction(guarded: guarded, then: writes) }
        do {
            _ = try await query("WITH \(clauses.joined(separator: ", ")) SELECT 1 / COUNT(*) AS committed FROM g", binds)
            return .committed
        } catch let error as PSQLError {
            switch error.serverInfo?[.sqlState] {
            case "22012": return .conflict(reason: "the guard matched no row")
            case "23505": return .conflict(reason: "a unique key was taken: \(error.serverInfo?[.constraintName] ?? "")")
            default: throw error
            }
        }
    }

    public func createSchema(_ name: String) async throws {
        if let statement = try dialect.createSchemaStatement(name) { try await execute(statement) }
    }

    struct ConnectionExecutor: SQLExecutor {
        let connection: PostgresConnection
        let logger: Logger

        func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
            try Self.checkOpen(connection)
            return try await PostgresDatabase.collect(try await connection.query(PostgresQuery(unsafeSQL: sql, binds: PostgresDatabase.bindings(binds)), logger: logger))
        }

        /// Refuses a connection whose channel has closed (see `withOpenConnection`): within a transaction, a statement
        /// written to it would never be answered.
        static func checkOpen(_ connection: PostgresConnection) throws {
            guard !connection.isClosed else { throw StoreUnavailable("the connection was closed") }
        }
    }

    static func bindings(_ values: [SQLValue]) -> PostgresBindings {
        var bindings = PostgresBindings(capacity: values.count)
        for value in values {
            switch value {
            case .integer(let v): bindings.append(v)
            case .text(let v): bindings.append(v)
            case .blob(let v): bindings.append(ByteBuffer(bytes: v))
            case .null: bindings.appendNull()
            }
        }
        return bindings
    }

    static func collect(_ rows: PostgresRowSequence) async throws -> [SQLRow] {
        var result: [SQLRow] = []
        var columns: SQLColumns?
        for try await row in rows {
            var cells: [SQLValue] = []
            var names: [String] = []
            for cell in row {
                if columns == nil { names.append(cell.columnName) }
                guard cell.bytes != nil else { cells.append(.null); continue }
                switch cell.dataType {
                case .int8, .int4, .int2: cells.append(.integer(try cell.decode(Int64.self)))
                // SUM over BIGINT is NUMERIC in PostgreSQL; a whole number reads as an integer, as in SQLite.
                case .numeric:
                    // NUMERIC arrives in PostgreSQL's binary form: decoded as a Decimal (exact), never a Double.
                    let text = try cell.decode(Decimal.self).description
                    cells.append(Int64(text).map { .integer($0) } ?? .text(text))
                case .bytea: cells.append(.blob(Array(buffer: try cell.decode(ByteBuffer.self))))
                default: cells.append(.text(try cell.decode(String.self)))
                }
            }
            if columns == nil { columns = SQLColumns(names) }
            result.append(SQLRow(columns: columns!, cells: cells))
        }
        return result
    }
}
