import Foundation
import Storage
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Three `levy serve` processes on one PostgreSQL database, as an operator runs them behind a load balancer: any of
/// them takes any request.
@Suite("Several servers, one database")
struct MultiProcessTests {
    static let postgresURL = ProcessInfo.processInfo.environment["LEVY_TEST_POSTGRES_URL"]

    /// A `levy serve` process on `database`, in a folder of its own, with the master key every process shares.
    final class Server {
        let process = Process()
        let directory: String
        let errors = Pipe()
        var port = 0
        var stderr = ""

        init(database: String, masterKey: String) throws {
            directory = NSTemporaryDirectory() + "levy-multi-tests/" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            process.executableURL = URL(fileURLWithPath: LevyBinary.path)
            process.arguments = ["serve", "--port", "0", "--database", database]
            process.currentDirectoryURL = URL(fileURLWithPath: directory)
            process.environment = ProcessInfo.processInfo.environment.merging([
                "LEVY_TABLES": LevyBinary.root.path + "/TaxTables", "LEVY_VAULT_MASTER_KEY": masterKey,
            ]) { $1 }
            process.standardOutput = FileHandle.nullDevice
            process.standardError = errors
            try process.run()
        }

        /// Waits for the line that names the port.
        func waitUntilServing() {
            let deadline = Date().addingTimeInterval(90)
            while port == 0, Date() < deadline, process.isRunning {
                stderr += String(decoding: errors.fileHandleForReading.availableData, as: UTF8.self)
                if let range = stderr.range(of: "serving on http://127.0.0.1:") {
                    port = Int(stderr[range.upperBound...].prefix { $0.isNumber }) ?? 0
                }
            }
        }

        func stop() {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
    }

    @Test("a security code, an idempotency key and a revocation each hold across three processes; 100 retries spread over them give one order",
          .enabled(if: postgresURL != nil))
    func threeServersShareTheWork() async throws {
        let location = try await ScratchDatabase.create("multi")
        let database = try PostgresDatabase(url: location)

        // All three start at once on the empty database: they migrate it once between them.
        let masterKey = Data(Array(repeating: UInt8(6), count: 32)).base64EncodedString()
        let servers = try (0..<3).map { _ in try Server(database: location, masterKey: masterKey) }
        defer { servers.forEach { $0.stop() } }
        servers.forEach { $0.waitUntilServing() }
        for server in servers { try #require(server.port > 0, "levy serve did not start: \(server.stderr)") }
        let ports = servers.map(\.port)

        // Exactly one of them found the key table empty and made the first admin key.
        let adminKeys = servers.compactMap { try? String(contentsOfFile: $0.directory + "/.levy/dev-keys/admin-api-key", encoding: .utf8) }
        let adminKey = try #require(adminKeys.first).trimmingCharacters(in: .whitespacesAndNewlines)
        let created = try HTTP.exchange(port: ports[0], "POST", "/v1/keys", key: adminKey, body: #"{"label": "multi", "scopes": ["checkout"]}"#)
        #expect(created.status == 201 || created.status == 200, "\(created.body)")
        let checkout = try #require(Self.field("secret", in: created.body))
        let checkoutID = try #require(Self.field("id", in: created.body))

        // A security code given to process 1 at tokenization is used by the authorization in process 2.
        let tokenized = try HTTP.exchange(port: ports[1], "POST", "/v1/tokens", key: checkout,
                                          body: #"{"number": "5555555555554444", "exp_month": 12, "exp_year": 2031, "security_code": "5926"}"#)
        let token = try #require(Self.field("token", in: tokenized.body), "\(tokenized.body)")
        #expect(try await Self.count(database, "SELECT COUNT(*) AS n FROM vault.security_codes WHERE token = $1", token) == 1)
        let order = try String(contentsOfFile: LevyBinary.root.path + "/Fixtures/orders/minneapolis.json", encoding: .utf8)
        let paid = try HTTP.exchange(port: ports[2], "POST", "/v1/orders", key: checkout,
                                     body: "{\"order\": \(order), \"payment_token\": \"\(token)\"}", headers: ["Idempotency-Key": "multi-paid"])
        #expect(paid.body.contains("\"status\":\"authorized\""), "\(paid.body)")
        #expect(try await Self.count(database, "SELECT COUNT(*) AS n FROM vault.security_codes WHERE token = $1", token) == 0,
                "the authorization in process 2 took (and deleted) the code held since process 1")

        // 100 concurrent retries of one placement, spread over the three processes: one order, the same answer each time.
        let body = "{\"order\": \(order)}"
        let answers = await withTaskGroup(of: HTTP.Response?.self) { group in
            for i in 0..<100 {
                group.addTask {
                    try? HTTP.exchange(port: ports[i % 3], "POST", "/v1/orders", key: checkout, body: body, headers: ["Idempotency-Key": "multi-retry"])
                }
            }
            var answers: [HTTP.Response] = []
            for await answer in group { if let answer { answers.append(answer) } }
            return answers
        }
        #expect(answers.count == 100)
        let placed = answers.filter { $0.status == 201 || $0.status == 200 }
        let ids = Set(placed.compactMap { Self.field("id", in: $0.body) })
        #expect(ids.count == 1, "every successful retry names the same order: \(ids)")
        // A retry that arrives while the first is still in flight may be told to retry later (409), never given a second order.
        #expect(answers.allSatisfy { [200, 201, 409].contains($0.status) }, "\(answers.map(\.status))")
        let paidID = try #require(Self.field("id", in: paid.body))
        #expect(try await Self.count(database, "SELECT COUNT(*) AS n FROM orders.orders WHERE id <> $1", paidID) == 1,
                "the database holds the paid order and one more, whatever process each retry reached")

        // A key revoked through process 0 stops working on the other two within the key cache's 5 seconds.
        let revoked = try HTTP.exchange(port: ports[0], "DELETE", "/v1/keys/\(checkoutID)", key: adminKey, body: "")
        #expect(revoked.status == 200)
        try await Task.sleep(for: .seconds(6))
        for port in ports {
            let refused = try HTTP.exchange(port: port, "POST", "/v1/quotes", key: checkout, body: order)
            #expect(refused.status == 401, "process on \(port) still accepts a revoked key")
        }
    }

    static func field(_ name: String, in json: String) -> String? {
        json.range(of: "\"\(name)\":\"").map { String(json[$0.upperBound...].prefix { $0 != "\"" }) }
    }

    static func count(_ database: any SQLDatabase, _ sql: String, _ value: String) async throws -> Int64 {
        try await database.query(sql, [.text(value)]).first?.integer("n") ?? -1
    }
}
