/// Rows to insert into one table, written the way each store writes them fastest: on PostgreSQL as multi-row
/// statements (one round trip for many rows), on SQLite one cached statement per row (in-process, nothing to save,
/// and one prepared statement instead of one per row count).
public struct SQLInsert: Sendable {
    /// The table's rendered name (`{schema}` already filled in).
    public var table: String
    public var columns: [String]
    public var rows: [[SQLValue]]

    public init(table: String, columns: [String], rows: [[SQLValue]]) {
        self.table = table
        self.columns = columns
        self.rows = rows
    }

    /// PostgreSQL takes at most 65,535 parameters in one statement; a statement is kept well under that.
    static let maxBindsPerStatement = 30_000

    /// One statement for `rows`, its placeholders numbered from `first`.
    func statement(rows: ArraySlice<[SQLValue]>, first: Int = 1) -> (sql: String, binds: [SQLValue]) {
        var sql = "INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES "
        var binds: [SQLValue] = []
        binds.reserveCapacity(rows.count * columns.count)
        var number = first
        for (i, row) in rows.enumerated() {
            sql += i == 0 ? "(" : ", ("
            for j in row.indices {
                sql += j == 0 ? "$\(number)" : ", $\(number)"
                number += 1
            }
            sql += ")"
            binds += row
        }
        return (sql, binds)
    }

    /// The rows in chunks that each fit one statement.
    var chunks: [ArraySlice<[SQLValue]>] {
        let perChunk = max(1, Self.maxBindsPerStatement / max(columns.count, 1))
        return stride(from: 0, to: rows.count, by: perChunk).map { rows[$0..<min($0 + perChunk, rows.count)] }
    }
}

extension SQLExecutor {
    /// Inserts `insert`'s rows with this executor (inside a transaction, typically).
    public func insert(_ insert: SQLInsert, dialect: SQLDialect) async throws {
        guard !insert.rows.isEmpty else { return }
        switch dialect {
        case .postgres:
            for chunk in insert.chunks {
                let statement = insert.statement(rows: chunk)
                try await execute(statement.sql, statement.binds)
            }
        case .sqlite:
            let single = insert.statement(rows: insert.rows[0..<1])
            for row in insert.rows { try await execute(single.sql, row) }
        }
    }
}

extension SQLDatabase {
    /// Inserts everything or nothing. On PostgreSQL, when it fits one statement, that statement is every insert
    /// joined by data-modifying `WITH` clauses: one round trip, and atomic as every statement is (foreign keys are
    /// checked at its end, so a child row may name a parent inserted beside it). Otherwise, and on SQLite, one
    /// transaction. Returns the number of round trips to the server it took (0 on SQLite, which has none).
    @discardableResult
    public func insertAtomically(_ inserts: [SQLInsert]) async throws -> Int {
        let nonEmpty = inserts.filter { !$0.rows.isEmpty }
        guard !nonEmpty.isEmpty else { return 0 }
        let binds = nonEmpty.reduce(0) { $0 + $1.rows.count * $1.columns.count }
        if dialect == .postgres, binds <= SQLInsert.maxBindsPerStatement {
            var clauses: [String] = []
            var all: [SQLValue] = []
            all.reserveCapacity(binds)
            for insert in nonEmpty {
                let statement = insert.statement(rows: insert.rows[...], first: all.count + 1)
                clauses.append(statement.sql)
                all += statement.binds
            }
            let last = clauses.removeLast()
            let with = clauses.enumerated().map { "w\($0.offset) AS (\($0.element))" }.joined(separator: ", ")
            try await execute(clauses.isEmpty ? last : "WITH \(with) \(last)", all)
            return 1
        }
        let dialect = self.dialect
        try await transaction { tx in
            for insert in nonEmpty { try await tx.insert(insert, dialect: dialect) }
        }
        return dialect == .postgres ? 2 + nonEmpty.reduce(0) { $0 + $1.chunks.count } : 0
    }
}

/// One statement and its values, placeholders numbered from `$1`.
public struct SQLStatement: Sendable {
    public var sql: String
    public var binds: [SQLValue]

    public init(_ sql: String, _ binds: [SQLValue] = []) {
        self.sql = sql
        self.binds = binds
    }

    /// The statement with every placeholder `$n` renumbered to `$(n + offset)` (quoted text and identifiers are
    /// left alone), for joining statements into one.
    func renumbered(by offset: Int) -> String {
        guard offset != 0 else { return sql }
        var out = ""
        out.reserveCapacity(sql.utf8.count + 16)
        var quote: Character?
        var index = sql.startIndex
        while index < sql.endIndex {
            let character = sql[index]
            if let open = quote {
                if character == open { quote = nil }
                out.append(character)
                index = sql.index(after: index)
            } else if character == "'" || character == "\"" {
                quote = character
                out.append(character)
                index = sql.index(after: index)
            } else if character == "$", sql.index(after: index) < sql.endIndex, sql[sql.index(after: index)].isASCII,
                      sql[sql.index(after: index)].isNumber {
                var end = sql.index(after: index)
                while end < sql.endIndex, sql[end].isASCII, sql[end].isNumber { end = sql.index(after: end) }
                out += "$\((Int(sql[sql.index(after: index)..<end]) ?? 0) + offset)"
                index = end
            } else {
                out.append(character)
                index = sql.index(after: index)
            }
        }
        return out
    }
}

extension SQLExecutor {
    /// Runs `guarded` and then `writes`, all or none, and returns how many rows `guarded` returned (it should end in
    /// `RETURNING`; a guard that matched nothing lets the caller roll back). On PostgreSQL the whole set is one
    /// statement of data-modifying `WITH` clauses: one round trip instead of one per statement. Run it inside a
    /// transaction when the caller must be able to roll back on a failed guard.
    public func writeTogether(guarded: SQLStatement, then writes: [SQLStatement], dialect: SQLDialect) async throws -> Int {
        let total = writes.reduce(guarded.binds.count) { $0 + $1.binds.count }
        switch dialect {
        case _ where dialect == .sqlite || total > SQLInsert.maxBindsPerStatement:
            // One by one: SQLite has no round trips to save, and a very large set would pass PostgreSQL's limit.
            let matched = try await query(guarded.sql, guarded.binds).count
            guard matched > 0 else { return 0 }
            for write in writes { try await execute(write.sql, write.binds) }
            return matched
        default:
            var clauses = ["g AS (\(guarded.sql))"]
            var binds = guarded.binds
            for (i, write) in writes.enumerated() {
                clauses.append("w\(i) AS (\(write.renumbered(by: binds.count)))")
                binds += write.binds
            }
            let rows = try await query("WITH \(clauses.joined(separator: ", ")) SELECT COUNT(*) AS matched FROM g", binds)
            return Int(rows.first?.integer("matched") ?? 0)
        }
    }
}

extension SQLInsert {
    /// The insert as statements that each fit the server's limit on values (one per row on SQLite, whose
    /// statements are cached by their text).
    public func statements(dialect: SQLDialect) -> [SQLStatement] {
        guard !rows.isEmpty else { return [] }
        switch dialect {
        case .postgres: return chunks.map { let s = statement(rows: $0); return SQLStatement(s.sql, s.binds) }
        case .sqlite:
            let single = statement(rows: rows[0..<1]).sql
            return rows.map { SQLStatement(single, $0) }
        }
    }
}
