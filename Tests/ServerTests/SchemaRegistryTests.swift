import Foundation
import Server
import Storage
import LevyTestSupport
import Testing

/// The one list of every component's migrations, as `levy db migrate` and `levy serve` apply it.
@Suite("Schema registry") struct SchemaRegistryTests {
    /// Eight processes' worth of connections migrating one fresh store at the same moment (as several `levy serve`
    /// processes do when they start together): every migration is applied exactly once and nobody fails.
    @Test(arguments: Store.available) func serversStartingTogetherMigrateOnce(store: Store) async throws {
        let directory = NSTemporaryDirectory() + "levy-registry-tests/" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let namespace = store == .sqlite ? "" : "m" + String(UUID().uuidString.lowercased().filter(\.isLetter).prefix(10)) + "_"
        let url = ProcessInfo.processInfo.environment["LEVY_TEST_POSTGRES_URL"] ?? ""
        // One connection pool (or SQLite connection) per simulated process, so the lock must hold across them.
        func connect() throws -> any SQLDatabase {
            store == .sqlite ? try SQLiteDatabase(path: directory + "/levy.sqlite") : try PostgresDatabase(url: url, maximumConnections: 2)
        }
        func vault() throws -> any SQLDatabase { try SQLiteDatabase(path: directory + "/vault.sqlite") }
        let results = try await withThrowingTaskGroup(of: [String].self) { group in
            for _ in 0..<8 {
                let database = try connect()
                let vaultDatabase = store == .sqlite ? try vault() : database
                group.addTask {
                    try await SchemaRegistry.migrate(database, vault: vaultDatabase, namespace: namespace).map { "\($0.0) \($0.1)" }
                }
            }
            var all: [[String]] = []
            for try await applied in group { all.append(applied) }
            return all
        }
        let expected = SchemaRegistry.components(namespace: namespace).flatMap { component in
            component.migrations.migrations.map { "\(component.schema) \($0.version)" }
        }
        #expect(results.flatMap { $0 }.sorted() == expected.sorted(), "each migration applied once, by one of the eight")
        // And a ninth finds nothing left to do.
        let database = try connect()
        #expect(try await SchemaRegistry.migrate(database, vault: store == .sqlite ? try vault() : database, namespace: namespace).isEmpty)
    }
}
