import CSQLite
import Foundation

/// A value bound to or read from SQL. Money is always an integer column; there is no floating-point case.
public enum SQLValue: Sendable, Hashable {
    case integer(Int64)
    case text(String)
    case blob([UInt8])
    case null
}

/// One result row, by column name.
public struct SQLRow: Sendable {
    public let values: [String: SQLValue]

    public func integer(_ column: String) -> Int64? { if case .integer(let v) = values[column] { v } else { nil } }
    public func text(_ column: String) -> String? { if case .text(let v) = values[column] { v } else { nil } }
    public func blob(_ column: String) -> [UInt8]? { if case .blob(let v) = values[column] { v } else { nil } }
}

/// Why a database call failed: the SQLite message and result code, never the bound values (they may be secret).
public struct SQLError: Error, CustomStringConvertible {
    public var code: Int32
    public var message: String
    public var statement: String

    public var description: String { "SQLite error \(code): \(message) (in: \(statement.prefix(80)))" }
}

/// A SQLite database file in WAL mode. Calls are serialized by a lock, so one instance can be shared.
/// Statements use `?` placeholders and bound values only; SQL text is never built from data.
public final class SQLiteDatabase: @unchecked Sendable {
    private var handle: OpaquePointer?
    private let lock = NSLock()
    /// Prepared statements by SQL text, reused (reset and rebound) on every call.
    private var statements: [String: OpaquePointer] = [:]
    public let path: String

    public init(path: String) throws(SQLError) {
        self.path = path
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX
        let status = sqlite3_open_v2(path, &db, flags, nil)
        guard status == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(db)
            throw SQLError(code: status, message: message, statement: "open \(path)")
        }
        handle = db
        sqlite3_busy_timeout(db, 5_000)
        try execute("PRAGMA journal_mode = WAL")
        try execute("PRAGMA synchronous = FULL")
        try execute("PRAGMA foreign_keys = ON")
        // Deleted rows are overwritten with zeros, so a deleted ciphertext does not linger in free pages.
        try execute("PRAGMA secure_delete = ON")
    }

    deinit {
        for statement in statements.values { sqlite3_finalize(statement) }
        sqlite3_close_v2(handle)
    }

    /// Runs a statement that returns no rows.
    public func execute(_ sql: String, _ binds: [SQLValue] = []) throws(SQLError) {
        _ = try query(sql, binds)
    }

    /// Runs a statement and returns its rows.
    public func query(_ sql: String, _ binds: [SQLValue] = []) throws(SQLError) -> [SQLRow] {
        lock.lock()
        defer { lock.unlock() }
        return try unlockedQuery(sql, binds)
    }

    /// Runs `body` in one transaction (`BEGIN IMMEDIATE`): all of it commits, or none of it does.
    public func transaction<T>(_ body: (Transaction) throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        try unlockedQuery("BEGIN IMMEDIATE", [])
        do {
            let result = try body(Transaction(database: self))
            try unlockedQuery("COMMIT", [])
            return result
        } catch {
            _ = try? unlockedQuery("ROLLBACK", [])
            throw error
        }
    }

    /// The statements of one transaction (the database lock is already held).
    public struct Transaction {
        let database: SQLiteDatabase

        public func execute(_ sql: String, _ binds: [SQLValue] = []) throws(SQLError) { _ = try database.unlockedQuery(sql, binds) }
        public func query(_ sql: String, _ binds: [SQLValue] = []) throws(SQLError) -> [SQLRow] { try database.unlockedQuery(sql, binds) }
    }

    @discardableResult
    fileprivate func unlockedQuery(_ sql: String, _ binds: [SQLValue]) throws(SQLError) -> [SQLRow] {
        let statement: OpaquePointer
        if let cached = statements[sql] {
            statement = cached
        } else {
            var prepared: OpaquePointer?
            guard sqlite3_prepare_v2(handle, sql, -1, &prepared, nil) == SQLITE_OK, let prepared else { throw error(sql) }
            statements[sql] = prepared
            statement = prepared
        }
        // Ready for the next use whatever happens, and no bound value (possibly secret) stays attached.
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        for (i, value) in binds.enumerated() {
            let index = Int32(i + 1)
            let status: Int32
            switch value {
            case .integer(let v): status = sqlite3_bind_int64(statement, index, v)
            case .text(let v): status = sqlite3_bind_text(statement, index, v, -1, transient)
            case .blob(let v): status = v.withUnsafeBytes { sqlite3_bind_blob(statement, index, $0.baseAddress, Int32($0.count), transient) }
            case .null: status = sqlite3_bind_null(statement, index)
            }
            guard status == SQLITE_OK else { throw error(sql) }
        }
        var rows: [SQLRow] = []
        while true {
            let step = sqlite3_step(statement)
            if step == SQLITE_DONE { break }
            guard step == SQLITE_ROW else { throw error(sql) }
            var values: [String: SQLValue] = [:]
            for column in 0..<sqlite3_column_count(statement) {
                let name = String(cString: sqlite3_column_name(statement, column))
                switch sqlite3_column_type(statement, column) {
                case SQLITE_INTEGER: values[name] = .integer(sqlite3_column_int64(statement, column))
                case SQLITE_TEXT: values[name] = .text(String(cString: sqlite3_column_text(statement, column)))
                case SQLITE_BLOB:
                    let count = Int(sqlite3_column_bytes(statement, column))
                    let base = sqlite3_column_blob(statement, column)
                    values[name] = .blob(count == 0 || base == nil ? [] : Array(UnsafeRawBufferPointer(start: base, count: count)))
                default: values[name] = .null
                }
            }
            rows.append(SQLRow(values: values))
        }
        return rows
    }

    private func error(_ sql: String) -> SQLError {
        SQLError(code: sqlite3_errcode(handle), message: String(cString: sqlite3_errmsg(handle)), statement: sql)
    }
}

/// Numbered, append-only migrations: each runs once, in order, inside a transaction, and is recorded.
public struct Migrations: Sendable {
    public struct Migration: Sendable {
        public var version: Int
        public var name: String
        public var statements: [String]

        public init(version: Int, name: String, statements: [String]) {
            self.version = version
            self.name = name
            self.statements = statements
        }
    }

    public let table: String
    public let migrations: [Migration]

    public init(table: String = "schema_migrations", _ migrations: [Migration]) {
        self.table = table
        self.migrations = migrations.sorted { $0.version < $1.version }
    }

    /// Applies every migration not yet applied; returns the versions applied now.
    @discardableResult
    public func apply(to database: SQLiteDatabase, now: Date = Date()) throws -> [Int] {
        try database.execute("CREATE TABLE IF NOT EXISTS \(table) (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)")
        let applied = Set(try database.query("SELECT version FROM \(table)").compactMap { $0.integer("version") })
        var appliedNow: [Int] = []
        for migration in migrations where !applied.contains(Int64(migration.version)) {
            try database.transaction { tx in
                for statement in migration.statements { try tx.execute(statement) }
                try tx.execute("INSERT INTO \(table) (version, name, applied_at) VALUES (?, ?, ?)",
                               [.integer(Int64(migration.version)), .text(migration.name), .text(Timestamp.string(now))])
            }
            appliedNow.append(migration.version)
        }
        return appliedNow
    }
}
