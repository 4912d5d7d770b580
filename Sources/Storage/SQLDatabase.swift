import Foundation

/// The SQL dialects Levy runs on. Statements are written once, with `$1`, `$2`… placeholders; DDL names the few
/// types that differ through `{blob}` and `{bigint}`, and tables through `{schema}` (see `render`).
public enum SQLDialect: String, Sendable {
    case sqlite, postgres

    /// Fills the dialect's spellings into a statement: `{blob}` (BLOB / BYTEA), `{bigint}` (INTEGER / BIGINT) and
    /// `{schema}name`, a table of a component's own namespace (`vault_tokens` in SQLite's single file,
    /// `vault.tokens` in PostgreSQL's schema), and `{index}name` an index of that namespace.
    public func render(_ sql: String, schema: String) -> String {
        var out = sql
        out = out.replacingAll("{blob}", with: self == .sqlite ? "BLOB" : "BYTEA")
        out = out.replacingAll("{bigint}", with: self == .sqlite ? "INTEGER" : "BIGINT")
        out = out.replacingAll("{schema}", with: self == .sqlite ? "\(schema)_" : "\(schema).")
        // An index lives in its table's schema in PostgreSQL and cannot be qualified; SQLite's are global.
        out = out.replacingAll("{index}", with: self == .sqlite ? "\(schema)_" : "")
        return out
    }

    /// The statement that creates a component's namespace, if the dialect has them (a PostgreSQL schema). Schema
    /// names are spliced into SQL, so only lower-case letters, digits (not first: a merchant's namespace holds its
    /// base32 id) and underscores are accepted.
    public func createSchemaStatement(_ name: String) throws -> String? {
        guard self == .postgres else { return nil }
        guard let first = name.utf8.first, first >= 97 && first <= 122,
              name.utf8.allSatisfy({ ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 95 }), name.utf8.count <= 63 else {
            throw SQLError(code: 0, message: "schema names are lower-case letters, digits and underscores (a letter first, at most 63)",
                           statement: "CREATE SCHEMA")
        }
        return "CREATE SCHEMA IF NOT EXISTS \(name)"
    }

    /// A statement that takes the lock called `name` until the transaction ends, so that transactions of every
    /// process that take it run one at a time: a PostgreSQL transaction-level advisory lock keyed by the name's
    /// hash. SQLite needs none (nil): its write transactions (`BEGIN IMMEDIATE`) already exclude each other.
    public func transactionLock(_ name: String) -> (sql: String, binds: [SQLValue])? {
        self == .postgres ? ("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [.text(name)]) : nil
    }
}

/// Runs statements. Values are always bound, never spliced into SQL text.
public protocol SQLExecutor: Sendable {
    func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow]
}

extension SQLExecutor {
    public func execute(_ sql: String, _ binds: [SQLValue] = []) async throws { _ = try await query(sql, binds) }
    public func query(_ sql: String) async throws -> [SQLRow] { try await query(sql, []) }
}

/// The current row of a query being read, by column position. Valid only inside the closure it is given to.
public protocol SQLRowCursor {
    func integer(_ column: Int) -> Int64?
    func text(_ column: Int) -> String?
    /// Whether the column holds exactly `value` (nil: NULL), without making a string of it.
    func text(_ column: Int, equals value: String?) -> Bool
}

/// A database: SQLite (the embedded default) or PostgreSQL. The same statements and the same tests run on both.
public protocol SQLDatabase: SQLExecutor {
    var dialect: SQLDialect { get }
    /// Runs `body` in one transaction: all of it commits, or none of it does. Inside `body`, run statements on the
    /// executor it is given: with SQLite, calling the database itself would wait for this transaction to end.
    func transaction<T: Sendable>(_ body: @escaping @Sendable (any SQLExecutor) async throws -> T) async throws -> T
    /// Creates a component's namespace if the dialect has them (a PostgreSQL schema).
    func createSchema(_ name: String) async throws
    /// Calls `body` with each row of a query as it is read, for batch jobs reading millions of rows. `body` must not
    /// use the database: on SQLite the connection is busy until the last row.
    func forEachRow(_ sql: String, _ binds: [SQLValue], _ body: (any SQLRowCursor) throws -> Void) async throws
    /// Commits `guarded` (ending in `RETURNING`) and `writes` together, or nothing when the guard matches no row or a
    /// write meets a unique key another writer took first (`.conflict`). On PostgreSQL one statement, committed on
    /// its own: one round trip where a transaction takes three. For optimistic writers, which retry a conflict
    /// under a lock. No two of the statements may change the same row (PostgreSQL would apply only one of them).
    func commitTogether(guarded: SQLStatement, then writes: [SQLStatement]) async throws -> CommitOutcome
    /// After personal data was overwritten (an erasure): drops the copies the store keeps outside its tables where it
    /// can. SQLite writes the log back into the file and empties it (the log still held the rows as first written);
    /// PostgreSQL has no such step (old row versions stay in their pages until reused, see docs/threat-model.md).
    func discardOverwrittenCopies() async throws
}

/// A guard that matched no row, rolling back the transaction `commitInTransaction` opened.
struct GuardMissed: Error {}

/// What `commitTogether` did.
public enum CommitOutcome: Sendable, Equatable {
    case committed
    /// Nothing was written: the guard matched no row, or a unique key was taken (`reason` says which).
    case conflict(reason: String)
}

extension SQLDatabase {
    public func discardOverwrittenCopies() async throws {}

    public func commitTogether(guarded: SQLStatement, then writes: [SQLStatement]) async throws -> CommitOutcome {
        try await commitInTransaction(guarded: guarded, then: writes)
    }

    /// In a transaction: the guard, then the writes, rolled back when the guard matched nothing.
    public func commitInTransaction(guarded: SQLStatement, then writes: [SQLStatement]) async throws -> CommitOutcome {
        do {
            try await transaction { [dialect] tx in
                guard try await tx.writeTogether(guarded: guarded, then: writes, dialect: dialect) > 0 else { throw GuardMissed() }
            }
            return .committed
        } catch is GuardMissed {
            return .conflict(reason: "the guard matched no row")
        } catch let error as SQLError where error.code == 19 && error.message.hasPrefix("UNIQUE constraint failed") {
            // SQLITE_CONSTRAINT on a unique key (PostgreSQL's conflicts are told apart in PostgresDatabase).
            return .conflict(reason: "a unique key was taken: \(error.message)")
        }
    }

    /// Reads the whole result first, then hands over its rows (SQLite steps through them instead).
    public func forEachRow(_ sql: String, _ binds: [SQLValue], _ body: (any SQLRowCursor) throws -> Void) async throws {
        for row in try await query(sql, binds) { try body(row) }
    }
}

extension SQLRow: SQLRowCursor {
    public func integer(_ column: Int) -> Int64? { if case .integer(let v) = cells[column] { v } else { nil } }
    public func text(_ column: Int) -> String? { if case .text(let v) = cells[column] { v } else { nil } }
    public func text(_ column: Int, equals value: String?) -> Bool { text(column) == value }
}

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = Substring(self)
        while let range = rest.range(of: target) {
            result += rest[..<range.lowerBound]
            result += replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}

extension SQLValue {
    /// Placeholders `$first, $first+1, …` for an `IN (…)` list of `values`, and the values to bind. The list is
    /// padded to the next power of two (at least 8) by repeating its last value, which changes nothing in an `IN`,
    /// so that lists of similar length share one prepared statement instead of each preparing its own.
    public static func inList(_ values: [String], from first: Int = 1) -> (placeholders: String, binds: [SQLValue]) {
        var size = 8
        while size < values.count { size *= 2 }
        var binds = values.map { SQLValue.text($0) }
        if let last = binds.last { binds += Array(repeating: last, count: size - binds.count) } else { binds = Array(repeating: .null, count: size) }
        return ((first..<(first + size)).map { "$\($0)" }.joined(separator: ", "), binds)
    }
}
