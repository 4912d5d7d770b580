import Foundation
import LevyTestSupport
import Testing
@testable import Storage

extension Store {
    /// A fresh namespace on this store: its own SQLite file, or its own schema in the test database.
    func open() throws -> (database: any SQLDatabase, schema: String) {
        let schema = "s" + String(UUID().uuidString.lowercased().filter(\.isLetter).prefix(12))
        switch self {
        case .sqlite:
            let directory = NSTemporaryDirectory() + "levy-storage-tests/" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            return (try SQLiteDatabase(path: directory + "/store.sqlite"), schema)
        case .postgres:
            return (try PostgresDatabase(url: ProcessInfo.processInfo.environment["LEVY_TEST_POSTGRES_URL"]!, maximumConnections: 4), schema)
        }
    }
}

/// What every component relies on from `SQLDatabase`, checked the same way on both stores: values round-trip
/// exactly, transactions are all or nothing, sums stay integers, batch writes are atomic, and rows decode with errors.
@Suite("Storage behaves the same on both stores")
struct StorageConformanceTests {
    static func table(_ store: Store) async throws -> (any SQLDatabase, String) {
        let (database, schema) = try store.open()
        try await Migrations(schema: schema, [
            .init(version: 1, name: "t", statements: [
                "CREATE TABLE {schema}t (id {bigint} PRIMARY KEY, name TEXT NOT NULL, amount {bigint}, data {blob})",
            ]),
        ]).apply(to: database)
        return (database, database.dialect.render("{schema}t", schema: schema))
    }

    @Test("values round-trip exactly: the extreme integers, NULL, every byte, text beyond ASCII and with quotes", arguments: Store.available)
    func roundTrip(store: Store) async throws {
        let (database, t) = try await Self.table(store)
        let text = "Zoë's \"spa\" — 東京 🧖 $1 '--"
        let bytes = (0...255).map(UInt8.init)
        try await database.execute("INSERT INTO \(t) (id, name, amount, data) VALUES ($1, $2, $3, $4)",
                                   [.integer(1), .text(text), .integer(.max), .blob(bytes)])
        try await database.execute("INSERT INTO \(t) (id, name, amount, data) VALUES ($1, $2, $3, $4)", [.integer(2), .text(""), .integer(.min), .null])
        let rows = try await database.query("SELECT * FROM \(t) ORDER BY id")
        #expect(try rows[0].decode("name", as: String.self) == text)
        #expect(try rows[0].decode("amount", as: Int64.self) == .max)
        #expect(try rows[0].decode("data", as: [UInt8].self) == bytes)
        #expect(try rows[1].decode("amount", as: Int64.self) == .min)
        #expect(try rows[1].decodeIfPresent("data", as: [UInt8].self) == nil)
        // A value of the wrong type is an error naming the column, never a default.
        #expect(throws: RowDecodingError.self) { try rows[0].decode("name", as: Int64.self) }
        #expect(throws: RowDecodingError.self) { try rows[1].decode("data", as: [UInt8].self) }
        #expect(throws: RowDecodingError.self) { try rows[0].decode("missing", as: String.self) }
    }

    @Test("sums and counts read as exact integers on both (PostgreSQL's SUM over BIGINT is NUMERIC)", arguments: Store.available)
    func aggregates(store: Store) async throws {
        let (database, t) = try await Self.table(store)
        for (id, amount) in [(1, Int64(4_000_000_000_000_000_000)), (2, 1), (3, -7)] {
            try await database.execute("INSERT INTO \(t) (id, name, amount) VALUES ($1, 'x', $2)", [.integer(Int64(id)), .integer(amount)])
        }
        let row = try #require(try await database.query("SELECT COUNT(*) AS n, SUM(amount) AS total, COALESCE(SUM(amount), 0) AS total2 FROM \(t)").first)
        #expect(try row.decode("n", as: Int64.self) == 3)
        #expect(try row.decode("total", as: Int64.self) == 3_999_999_999_999_999_994)
        #expect(try row.decode("total2", as: Int64.self) == 3_999_999_999_999_999_994)
    }

    @Test("a transaction is all or nothing, and an error inside it leaves no row behind", arguments: Store.available)
    func transactions(store: Store) async throws {
        let (database, t) = try await Self.table(store)
        struct Stop: Error {}
        await #expect(throws: Stop.self) {
            try await database.transaction { tx in
                try await tx.execute("INSERT INTO \(t) (id, name) VALUES (1, 'a')")
                throw Stop()
            }
        }
        await #expect(throws: (any Error).self) {
            try await database.transaction { tx in
                try await tx.execute("INSERT INTO \(t) (id, name) VALUES (2, 'b')")
                try await tx.execute("INSERT INTO \(t) (id, name) VALUES (2, 'duplicate')")
            }
        }
        #expect(try await database.query("SELECT id FROM \(t)").isEmpty)
        try await database.transaction { tx in try await tx.execute("INSERT INTO \(t) (id, name) VALUES (3, 'c')") }
        #expect(try await database.query("SELECT id FROM \(t)").count == 1)
    }

    @Test("concurrent transactions that read then write one counter never lose an update", arguments: Store.available)
    func serializedIncrements(store: Store) async throws {
        let (database, t) = try await Self.table(store)
        try await database.execute("INSERT INTO \(t) (id, name, amount) VALUES (1, 'counter', 0)")
        let lock = database.dialect.transactionLock(t)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    try await database.transaction { tx in
                        if let lock { try await tx.execute(lock.sql, lock.binds) }
                        let value: Int64 = try await tx.query("SELECT amount FROM \(t) WHERE id = 1").first?.decode("amount") ?? -1
                        try await tx.execute("UPDATE \(t) SET amount = $1 WHERE id = 1", [.integer(value + 1)])
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try await database.query("SELECT amount FROM \(t) WHERE id = 1").first?.decode("amount", as: Int64.self) == 20)
    }

    @Test("batch inserts: many rows in one atomic write, chunked past the bind limit, all or nothing", arguments: Store.available)
    func batchInserts(store: Store) async throws {
        let (database, t) = try await Self.table(store)
        // 12,000 rows of 4 values pass one PostgreSQL statement's limit: the write is split, still atomic.
        let rows = (1...12_000).map { [SQLValue.integer(Int64($0)), .text("n\($0)"), .integer(Int64($0) * 3), .null] }
        let trips = try await database.insertAtomically([SQLInsert(table: t, columns: ["id", "name", "amount", "data"], rows: rows)])
        #expect(try await database.query("SELECT COUNT(*) AS n, SUM(amount) AS s FROM \(t)").first.map {
            (try $0.decode("n", as: Int64.self), try $0.decode("s", as: Int64.self))
        }! == (12_000, 3 * 12_000 * 12_001 / 2))
        if store == .postgres { #expect(trips > 1, "past the limit the write is a transaction of several statements") }
        // A batch whose last row collides is refused whole, even when it spans several statements.
        let more = (12_001...24_000).map { [SQLValue.integer(Int64($0)), .text("m"), .integer(0), .null] } + [[.integer(5), .text("dup"), .integer(0), .null]]
        await #expect(throws: (any Error).self) {
            try await database.insertAtomically([SQLInsert(table: t, columns: ["id", "name", "amount", "data"], rows: more)])
        }
        #expect(try await database.query("SELECT COUNT(*) AS n FROM \(t)").first?.decode("n", as: Int64.self) == 12_000)
    }

    @Test("a guarded write applies its writes only when the guard matched", arguments: Store.available)
    func guardedWrites(store: Store) async throws {
        let (database, t) = try await Self.table(store)
        try await database.execute("INSERT INTO \(t) (id, name) VALUES (1, 'open')")
        let dialect = database.dialect
        for attempt in 0..<2 {
            struct Refused: Error {}
            do {
                try await database.transaction { tx in
                    let matched = try await tx.writeTogether(
                        guarded: SQLStatement("UPDATE \(t) SET name = 'closed' WHERE id = $1 AND name = 'open' RETURNING id", [.integer(1)]),
                        then: [SQLStatement("INSERT INTO \(t) (id, name) VALUES ($1, $2)", [.integer(Int64(10 + attempt)), .text("after")])],
                        dialect: dialect)
                    if matched == 0 { throw Refused() }
                }
                #expect(attempt == 0, "the first write closes the row")
            } catch is Refused {
                #expect(attempt == 1, "the second finds it closed")
            }
        }
        #expect(try await database.query("SELECT id FROM \(t) WHERE name = 'after'").count == 1)
    }

    @Test("commitTogether commits a guard and its writes, or nothing when the guard misses or a unique key is taken",
          arguments: Store.available)
    func commitTogether(store: Store) async throws {
        let (database, t) = try await Self.table(store)
        try await database.execute("INSERT INTO \(t) (id, name) VALUES (1, 'open'), (2, 'open')")
        // Close row `id`, insert row `newID`, and set another row's amount (one statement must not change a row twice).
        func close(_ id: Int64, inserting newID: Int64, setting other: Int64, to amount: Int64) -> (SQLStatement, [SQLStatement]) {
            (SQLStatement("UPDATE \(t) SET name = 'closed' WHERE id = $1 AND name = 'open' RETURNING id", [.integer(id)]),
             [SQLStatement("INSERT INTO \(t) (id, name) VALUES ($1, 'after')", [.integer(newID)]),
              SQLStatement("UPDATE \(t) SET amount = $2 WHERE id = $1", [.integer(other), .integer(amount)])])
        }
        let first = close(1, inserting: 10, setting: 2, to: 7)
        #expect(try await database.commitTogether(guarded: first.0, then: first.1) == .committed)
        // The guard misses (row 1 is closed): nothing of it is written, not even the unconditional update.
        let again = close(1, inserting: 11, setting: 2, to: 99)
        #expect(try await database.commitTogether(guarded: again.0, then: again.1) == .conflict(reason: "the guard matched no row"))
        // The guard matches but a write meets a taken key (10): nothing is written, row 2 stays open.
        let taken = close(2, inserting: 10, setting: 1, to: 5)
        guard case .conflict(let reason) = try await database.commitTogether(guarded: taken.0, then: taken.1) else {
            Issue.record("a taken key committed")
            return
        }
        #expect(reason.contains("unique key"), "\(reason)")
        let rows = try await database.query("SELECT id, name, amount FROM \(t) ORDER BY id")
        #expect(rows.map { "\($0.integer("id") ?? 0) \($0.text("name") ?? "") \($0.integer("amount").map(String.init) ?? "-")" }
                == ["1 closed -", "2 open 7", "10 after -"])
    }

    @Test("rows stream in order through forEachRow without holding the result", arguments: Store.available)
    func streaming(store: Store) async throws {
        let (database, t) = try await Self.table(store)
        try await database.insertAtomically([SQLInsert(table: t, columns: ["id", "name"], rows: (1...2_000).map { [.integer(Int64($0)), .text("r")] })])
        var seen: [Int64] = []
        try await database.forEachRow("SELECT id, name FROM \(t) WHERE id > $1 ORDER BY id", [.integer(1_000)]) { row in
            seen.append(row.integer(0) ?? -1)
            #expect(row.text(1, equals: "r"))
        }
        #expect(seen == Array(1_001...2_000))
    }
}
