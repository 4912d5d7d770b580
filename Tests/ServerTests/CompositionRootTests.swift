import Foundation
import LevyTestSupport
import Logging
import Server
import ServiceLifecycle
import Storage
import Synchronization
import TaxTables
import Testing
import Vault

/// The server as `levy serve` composes it (`LevyServer.build`), run in this process: it opens and migrates an empty
/// store, makes the first admin key, serves, and on graceful shutdown finishes an order whose request was still
/// arriving, which on PostgreSQL proves the pool (a service of the same group) outlives the HTTP server.
@Suite struct CompositionRootTests {
    @Test(.timeLimit(.minutes(3)), arguments: Store.available)
    func composedServerStartsOnAnEmptyStoreAndDrainsOnShutdown(store: Store) async throws {
        let directory = TestStores.directory("levy-composed")
        var settings = ServeSettings()
        settings.port = 0
        if store == .postgres { settings.database = try await Self.freshDatabase() }
        let resources = ServerResources(
            tables: TestServer.tables, tableStore: nil,
            openAPI: try OpenAPIDocument(contentsOf: TestServer.repository + "/Sources/Server/openapi.yaml"),
            masterKey: try MasterKey(bytes: Array(repeating: 4, count: 32)),
            nexus: try NexusTable.load(directory: TestServer.repository + "/TaxTables"), workingDirectory: directory)
        let announced = Mutex<[String]>([])
        let (serving, started) = AsyncStream.makeStream(of: ServingAt.self)
        let group = try LevyServer.build(settings: settings, resources: resources, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() },
                                         announce: { line in announced.withLock { $0.append(line) } },
                                         onRunning: { started.yield($0) })
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = serving.makeAsyncIterator()
            let at = try #require(await iterator.next())
            #expect(at.storeName == (store == .postgres ? "PostgreSQL" : "SQLite \(directory)/.levy/levy.sqlite"))
            #expect(at.paymentsName == "the built-in simulator (its answers kept in \(directory)/.levy/simulator-journal.jsonl)")

            // The empty store got its first admin key, written beside the data and announced.
            let admin = try String(contentsOfFile: directory + "/.levy/dev-keys/admin-api-key", encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(announced.withLock { $0.contains { $0.contains("first start: created an admin API key") } })
            let created = try await onOwnThread { try RawConnection(port: at.port).exchange(Self.request("POST", "/v1/keys", key: admin,
                                                                                                          body: #"{"label": "till", "scopes": ["checkout"]}"#)) }
            #expect(created.hasPrefix("HTTP/1.1 201"), "\(created.prefix(300))")
            let checkout = try #require(Self.secret(in: created))

            // An order whose body is still arriving when shutdown begins is finished and stored, then the server stops.
            let body = placeBody("minneapolis.json")
            let head = "POST /v1/orders HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(checkout)\r\nIdempotency-Key: drain-1\r\n"
                + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n"
            let inFlight = try RawConnection(port: at.port)
            let half = body.utf8.count / 2
            try inFlight.send(head + String(decoding: Array(body.utf8)[..<half], as: UTF8.self))
            try await Task.sleep(for: .milliseconds(300))
            await group.triggerGracefulShutdown()
            try await Task.sleep(for: .milliseconds(300))
            let rest = String(decoding: Array(body.utf8)[half...], as: UTF8.self)
            let answer = try await onOwnThread { try inFlight.exchange(rest) }
            #expect(answer.hasPrefix("HTTP/1.1 201"), "\(answer.prefix(300))")
            #expect(answer.contains(#""total_tax":"9.03""#))
            try await tasks.next()
            // Stopped: nothing listens on the port any more.
            #expect(throws: (any Error).self) { try RawConnection(port: at.port) }
        }
    }

    /// A new, empty PostgreSQL database beside the test database (the composed server uses the production schema names).
    static func freshDatabase() async throws -> String {
        let url = try #require(TestStores.postgresURL)
        let name = "composed_" + String(UUID().uuidString.lowercased().filter(\.isLetter).prefix(10))
        try await TestStores.requirePostgres().execute("CREATE DATABASE \(name)")
        var components = try #require(URLComponents(string: url))
        components.path = "/" + name
        return try #require(components.string)
    }

    static func request(_ method: String, _ path: String, key: String, body: String) -> String {
        "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(key)\r\nContent-Type: application/json\r\n"
            + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
    }

    static func secret(in response: String) -> String? {
        guard let range = response.range(of: #""secret":""#) else { return nil }
        return String(response[range.upperBound...].prefix { $0 != "\"" })
    }
}
