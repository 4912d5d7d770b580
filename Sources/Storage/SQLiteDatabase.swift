import CSQLite
import Foundation

/// A value bound to or read from SQL. Money is always an integer column; there is no floating-point case.
public enum SQLValue: Sendable, Hashable {
    case integer(Int64)
    case text(String)
    case blob([UInt8])
    case null
}

/// The column names of a result, shared by all its rows (a row is then just its values).
public final class SQLColumns: Sendable {
    public let names: [String]
    let index: [String: Int]

    public init(_ names: [String]) {
        self.names = names
        var index: [String: Int] = [:]
        // When a name repeats (`SELECT a.*, b.*`), the last column of that name is the one read.
        for (i, name) in names.enumerated() { index[name] = i }
        self.index = index
    }
}

/// One result row, by column name.
public struct SQLRow: Sendable {
    public let columns: SQLColumns
    public let cells: [SQLValue]

    public init(columns: SQLColumns, cells: [SQLValue]) {
        self.columns = columns
        self.cells = cells
    }

    public func value(_ column: String) -> SQLValue? { columns.index[column].map { cells[$0] } }
    public func integer(_ column: String) -> Int64? { if case .integer(let v) = value(column) { v } else { nil } }
    public func text(_ column: String) -> String? { if case .text(let v) = value(column) { v } else { nil } }
    public func blob(_ column: String) -> [UInt8]? { if case .blob(let v) = value(column) { v } else { nil } }
}

/// Why a database call failed: the SQLite message and result code, never the bound values (they may be secret).
public struct SQLError: Error, CustomStringConvertible {
    public var code: Int32
    public var message: String
    public var statement: String

    public var description: String { "SQLite error \(code): \(message) (in: \(statement.prefix(80)))" }
}

/// A SQLite database file in WAL mode. One connection; statements are serialized, and a transaction holds the
/// connection (through an async gate) until it commits or rolls back. Statements use `$n` (or `?`) placeholders
/// and bound values only; SQL text is never built from data.
///
/// Some SQLite calls wait: a commit for `fsync`, `BEGIN IMMEDIATE` up to the busy timeout for another process's
/// write, a long scan for the disk. Those run on the connection's own serial queue, never on Swift's cooperative
/// threads (as many as the machine has cores), so a burst of writes cannot starve every other task in the process,
/// HTTP requests included. Statements that cannot wait run in place, sparing two thread switches each: a read
/// outside a transaction (WAL readers never wait for writers) and every statement of a transaction, which already
/// holds the write lock and whose data reaches the disk at `COMMIT`.
public final class SQLiteDatabase: SQLDatabase, @unchecked Sendable {
    public let dialect = SQLDialect.sqlite
    private let gate = Gate()
    private let queue: DispatchQueue
    private var handle: OpaquePointer?
    private let lock = NSLock()
    /// Prepared statements by SQL text, reused (reset and rebound) on every call, with the value each parameter
    /// takes (found once: asking SQLite for a parameter's name is linear in the number of parameters).
    private var statements: [String: (statement: OpaquePointer, positions: [Int])] = [:]
    public let path: String

    /// `busyTimeoutMilliseconds`: how long a write waits for another connection's write lock before it fails.
    public init(path: String, busyTimeoutMilliseconds: Int32 = 5_000) throws(SQLError) {
        self.path = path
        queue = DispatchQueue(label: "levy.sqlite")
        var db: OpaquePointer?
        // Every use of the connection already holds `lock`, so SQLite's own per-call mutex (serialized mode) would
        // only be taken again, three times for each cell a cursor reads: multi-thread mode leaves it out.
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let status = sqlite3_open_v2(path, &db, flags, nil)
        guard status == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(db)
            throw SQLError(code: status, message: message, statement: "open \(path)")
        }
        handle = db
        sqlite3_busy_timeout(db, busyTimeoutMilliseconds)
        try execute("PRAGMA journal_mode = WAL")
        try execute("PRAGMA synchronous = FULL")
        try execute("PRAGMA foreign_keys = ON")
        // Deleted rows are overwritten with zeros, so a deleted ciphertext does not linger in free pages.
        try execute("PRAGMA secure_delete = ON")
    }

    deinit {
        for cached in statements.values { sqlite3_finalize(cached.statement) }
        sqlite3_close_v2(handle)
    }

    /// Runs one statement outside any transaction.
    public func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        await gate.acquire()
        defer { gate.release() }
        return Self.isRead(sql) ? try locked(sql, binds) : try await offPool(sql, binds)
    }

    /// Runs `body` in one transaction (`BEGIN IMMEDIATE`): all of it commits, or none of it does.
    public func transaction<T: Sendable>(_ body: @escaping @Sendable (any SQLExecutor) async throws -> T) async throws -> T {
        await gate.acquire()
        defer { gate.release() }
        try await offPool("BEGIN IMMEDIATE", [])
        do {
            let result = try await body(InTransaction(database: self))
            try await offPool("COMMIT", [])
            return result
        } catch {
            _ = try? await offPool("ROLLBACK", [])
            throw error
        }
    }

    /// Steps through a query's rows, calling `body` with each and making no value of a cell it does not read.
    public func forEachRow(_ sql: String, _ binds: [SQLValue], _ body: (any SQLRowCursor) throws -> Void) async throws {
        await gate.acquire()
        defer { gate.release() }
        // The caller waits while its body runs on the connection's queue, so the body is never run concurrently.
        try await withoutActuallyEscaping(body) { body in
            try await onQueue { try self.lock.withLock { try self.stream(sql, binds, body) } }
        }
    }

    private func stream(_ sql: String, _ binds: [SQLValue], _ body: (any SQLRowCursor) throws -> Void) throws {
        let statement = try prepared(sql, binds)
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        let cursor = StatementCursor(statement: statement)
        while true {
            let step = sqlite3_step(statement)
            if step == SQLITE_DONE { return }
            guard step == SQLITE_ROW else { throw error(sql) }
            try body(cursor)
        }
    }

    /// Runs `work` on the connection's queue and resumes the caller with its result. The queue lets go of `work`
    /// before the caller resumes: `forEachRow`'s body may not outlive the call.
    private func onQueue<T: Sendable>(_ work: @escaping () throws -> T) async throws -> T {
        let job = OneShot(work)
        return try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: job.run()) }
        }
    }

    /// A statement that only reads: it starts with `SELECT` (a `WITH` may write, so it does not count).
    static func isRead(_ sql: String) -> Bool {
        guard let start = sql.utf8.firstIndex(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x09 && $0 != 0x0D }) else { return false }
        return sql.utf8[start...].prefix(6).map { $0 & 0xDF }.elementsEqual("SELECT".utf8)
    }

    /// One statement on the connection's queue.
    @discardableResult
    fileprivate func offPool(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        try await onQueue { try self.locked(sql, binds) }
    }

    /// SQLite has no schemas: a component's tables carry its name as a prefix instead.
    public func createSchema(_ name: String) async throws {}

    /// Writes the write-ahead log back into the file and truncates it: with `secure_delete` on, the file's own
    /// copies of overwritten rows are zeroed, but the log keeps every page as written until a checkpoint resets it.
    public func discardOverwrittenCopies() async throws {
        try await offPool("PRAGMA wal_checkpoint(TRUNCATE)", [])
    }

    /// The statements of a transaction, which already holds the gate.
    struct InTransaction: SQLExecutor {
        let database: SQLiteDatabase
        func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] { try database.locked(sql, binds) }
    }

    /// Synchronous access for set-up code that owns the database (the open pragmas).
    func execute(_ sql: String) throws(SQLError) { _ = try locked(sql, []) }

    @discardableResult
    fileprivate func locked(_ sql: String, _ binds: [SQLValue]) throws(SQLError) -> [SQLRow] {
        lock.lock()
        defer { lock.unlock() }
        return try unlockedQuery(sql, binds)
    }

    @discardableResult
    fileprivate func unlockedQuery(_ sql: String, _ binds: [SQLValue]) throws(SQLError) -> [SQLRow] {
        let statement = try prepared(sql, binds)
        // Ready for the next use whatever happens, and no bound value (possibly secret) stays attached.
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        var rows: [SQLRow] = []
        let count = sqlite3_column_count(statement)
        let columns = SQLColumns((0..<count).map { String(cString: sqlite3_column_name(statement, $0)) })
        while true {
            let step = sqlite3_step(statement)
            if step == SQLITE_DONE { break }
            guard step == SQLITE_ROW else { throw error(sql) }
            var cells: [SQLValue] = []
            cells.reserveCapacity(Int(count))
            for column in 0..<count {
                switch sqlite3_column_type(statement, column) {
                case SQLITE_INTEGER: cells.append(.integer(sqlite3_column_int64(statement, column)))
                case SQLITE_TEXT:
                    let bytes = Int(sqlite3_column_bytes(statement, column))
                    cells.append(.text(String(decoding: UnsafeRawBufferPointer(start: sqlite3_column_text(statement, column), count: bytes), as: UTF8.self)))
                case SQLITE_BLOB:
                    let size = Int(sqlite3_column_bytes(statement, column))
                    let base = sqlite3_column_blob(statement, column)
                    cells.append(.blob(size == 0 || base == nil ? [] : Array(UnsafeRawBufferPointer(start: base, count: size))))
                default: cells.append(.null)
                }
            }
            rows.append(SQLRow(columns: columns, cells: cells))
        }
        return rows
    }

    /// The statement for `sql`, prepared once and cached, with `binds` bound. The caller resets it after use.
    private func prepared(_ sql: String, _ binds: [SQLValue]) throws(SQLError) -> OpaquePointer {
        let statement: OpaquePointer
        let positions: [Int]
        if let cached = statements[sql] {
            (statement, positions) = cached
        } else {
            var prepared: OpaquePointer?
            guard sqlite3_prepare_v2(handle, sql, -1, &prepared, nil) == SQLITE_OK, let prepared else { throw error(sql) }
            // `$n` placeholders name their value; plain `?` take the values in order.
            positions = (Int32(1)...max(sqlite3_bind_parameter_count(prepared), 1)).compactMap { index in
                guard sqlite3_bind_parameter_count(prepared) > 0 else { return nil }
                if let name = sqlite3_bind_parameter_name(prepared, index), name.pointee == UInt8(ascii: "$"),
                   let number = Int(String(cString: name + 1)) { return number }
                return Int(index)
            }
            statements[sql] = (prepared, positions)
            statement = prepared
        }
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        for (offset, position) in positions.enumerated() {
            let index = Int32(offset + 1)
            guard position >= 1, position <= binds.count else {
                sqlite3_clear_bindings(statement)
                throw SQLError(code: SQLITE_RANGE, message: "no value for parameter \(position)", statement: sql)
            }
            let value = binds[position - 1]
            let status: Int32
            switch value {
            case .integer(let v): status = sqlite3_bind_int64(statement, index, v)
            case .text(let v): status = sqlite3_bind_text(statement, index, v, -1, transient)
            case .blob(let v): status = v.withUnsafeBytes { sqlite3_bind_blob(statement, index, $0.baseAddress, Int32($0.count), transient) }
            case .null: status = sqlite3_bind_null(statement, index)
            }
            guard status == SQLITE_OK else {
                sqlite3_clear_bindings(statement)
                throw error(sql)
            }
        }
        return statement
    }

    private func error(_ sql: String) -> SQLError {
        SQLError(code: sqlite3_errcode(handle), message: String(cString: sqlite3_errmsg(handle)), statement: sql)
    }
}

/// A statement's current row, read in place (`SQLiteDatabase.stream`).
struct StatementCursor: SQLRowCursor {
    let statement: OpaquePointer

    func integer(_ column: Int) -> Int64? {
        sqlite3_column_type(statement, Int32(column)) == SQLITE_INTEGER ? sqlite3_column_int64(statement, Int32(column)) : nil
    }

    func text(_ column: Int) -> String? {
        guard sqlite3_column_type(statement, Int32(column)) == SQLITE_TEXT else { return nil }
        return String(decoding: bytes(column), as: UTF8.self)
    }

    func text(_ column: Int, equals value: String?) -> Bool {
        guard sqlite3_column_type(statement, Int32(column)) == SQLITE_TEXT else { return value == nil }
        guard var value else { return false }
        let bytes = bytes(column)
        return value.withUTF8 { $0.count == bytes.count && (bytes.isEmpty || memcmp($0.baseAddress!, bytes.baseAddress!, bytes.count) == 0) }
    }

    private func bytes(_ column: Int) -> UnsafeRawBufferPointer {
        let base = sqlite3_column_text(statement, Int32(column))
        return UnsafeRawBufferPointer(start: base, count: Int(sqlite3_column_bytes(statement, Int32(column))))
    }
}

/// Work handed to the connection's queue, dropped as it runs.
private final class OneShot<T>: @unchecked Sendable {
    private var work: (() throws -> T)?
    init(_ work: @escaping () throws -> T) { self.work = work }

    func run() -> Result<T, any Error> {
        guard let work else { return .failure(SQLError(code: SQLITE_MISUSE, message: "ran twice", statement: "")) }
        self.work = nil
        return Result { try work() }
    }
}

/// Serializes use of a single SQLite connection across tasks, first come first served. Release is synchronous,
/// so it can sit in a `defer`.
final class Gate: @unchecked Sendable {
    private let lock = NSLock()
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            lock.lock()
            if busy {
                waiting.append(continuation)
                lock.unlock()
            } else {
                busy = true
                lock.unlock()
                continuation.resume()
            }
        }
    }

    func release() {
        lock.lock()
        if waiting.isEmpty {
            busy = false
            lock.unlock()
        } else {
            let next = waiting.removeFirst()
            lock.unlock()
            next.resume()
        }
    }
}

/// Numbered, append-only migrations of one component (its tables in its own schema): each runs once, in order,
/// inside a transaction, and is recorded in `{schema}migrations`.
public struct Migrations: Sendable {
    public struct Migration: Sendable {
        public var version: Int
        public var name: String
        /// Statements with `{schema}`, `{blob}` and `{bigint}` for the dialect's spellings.
        public var statements: [String]

        public init(version: Int, name: String, statements: [String]) {
            self.version = version
            self.name = name
            self.statements = statements
        }
    }

    public let schema: String
    public let migrations: [Migration]

    public init(schema: String, _ migrations: [Migration]) {
        self.schema = schema
        self.migrations = migrations.sorted { $0.version < $1.version }
    }

    /// Applies every migration not yet applied; returns the versions applied now. Safe when several processes
    /// start at once on one database: everything happens in one transaction that first takes the migration lock
    /// (a PostgreSQL transaction-level advisory lock; SQLite's `BEGIN IMMEDIATE` already admits one writer), so the
    /// second process waits, then finds the work done. DDL is transactional on both stores: a failed migration
    /// leaves nothing behind.
    @discardableResult
    public func apply(to database: any SQLDatabase, now: Date = Date()) async throws -> [Int] {
        // SQLite: when already done (the usual start) there is nothing to lock; reading takes no write lock in WAL
        // mode. Not on PostgreSQL, whose advisory lock queues fairly anyway, and where a look at a schema that does
        // not exist yet leaves the backend's catalog cache believing so after the lock wait (`CREATE SCHEMA IF NOT
        // EXISTS` then fails on a duplicate).
        if database.dialect == .sqlite, let applied = try? await status(of: database),
           Set(applied).isSuperset(of: migrations.map(\.version)) { return [] }
        // SQLite has no lock that waits in line: `BEGIN IMMEDIATE` polls for the busy timeout, and with many processes
        // starting at once one of them can lose every poll. Migrating is all or nothing, so it is tried again.
        var attempt = 1
        while true {
            do {
                return try await applyOnce(to: database, now: now)
            } catch let error as SQLError where error.code == SQLITE_BUSY && attempt < 12 {
                attempt += 1
            }
        }
    }

    private func applyOnce(to database: any SQLDatabase, now: Date) async throws -> [Int] {
        let dialect = database.dialect
        let table = dialect.render("{schema}migrations", schema: schema)
        let schemaStatement = try dialect.createSchemaStatement(schema)
        let migrations = self.migrations
        return try await database.transaction { tx in
            // Migrations may wait for each other, and for a busy table, longer than a request may (`lockTimeout`).
            if dialect == .postgres { try await tx.execute("SET LOCAL lock_timeout = 0") }
            if let lock = dialect.transactionLock("levy.migrations") { try await tx.execute(lock.sql, lock.binds) }
            if let schemaStatement { try await tx.execute(schemaStatement) }
            try await tx.execute("CREATE TABLE IF NOT EXISTS \(table) (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)")
            let applied = Set(try await tx.query("SELECT version FROM \(table)").compactMap { $0.integer("version") })
            var appliedNow: [Int] = []
            for migration in migrations where !applied.contains(Int64(migration.version)) {
                for statement in migration.statements { try await tx.execute(dialect.render(statement, schema: self.schema)) }
                try await tx.execute("INSERT INTO \(table) (version, name, applied_at) VALUES ($1, $2, $3)",
                                     [.integer(Int64(migration.version)), .text(migration.name), .text(Timestamp.string(now))])
                appliedNow.append(migration.version)
            }
            return appliedNow
        }
    }

    /// The versions applied so far.
    public func status(of database: any SQLDatabase) async throws -> [Int] {
        let table = database.dialect.render("{schema}migrations", schema: schema)
        return try await database.query("SELECT version FROM \(table) ORDER BY version").compactMap { $0.integer("version").map(Int.init) }
    }
}
