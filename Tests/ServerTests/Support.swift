import Exports
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Orders
import Processors
import Server
import Storage
import Synchronization
import TaxCore
import TaxTables
import LevyTestSupport
import Testing
import Vault


/// A card number from the processor simulator's published test list; every test checks it never leaks.
let testCard = "4242424242424242"

/// A server's worth of services on a fresh store, with one API key per scope (and one with every scope).
struct TestServer: Sendable {
    let api: LevyAPI
    let keys: [Scope: String]
    let allScopes: String
    let logs: LogRecorder
    let directory: String

    static let repository: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static let tables: TaxTableSet = try! CanonicalTables.load(directory: repository + "/TaxTables").tables
    static let postgres: PostgresDatabase? = ProcessInfo.processInfo.environment["LEVY_TEST_POSTGRES_URL"].map { try! PostgresDatabase(url: $0) }

    /// The key test export jobs sign with.
    static let exportKey = try! SigningKey(raw: Array(repeating: 8, count: 32))

    static func make(_ store: Store = .sqlite, now: @escaping @Sendable () -> Date = { Date() },
                     stripeWebhook: StripeWebhook? = nil, exports: Bool = true, tableStore: TableStore? = nil) async throws -> TestServer {
        let directory = NSTemporaryDirectory() + "levy-server-tests/" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let database: any SQLDatabase = store == .sqlite ? try SQLiteDatabase(path: directory + "/levy.sqlite") : postgres!
        let namespace = store == .sqlite ? "" : "t" + String(UUID().uuidString.lowercased().filter(\.isLetter).prefix(10)) + "_"
        // The vault lives in the same store as everything else: its own file on SQLite, its own schema on PostgreSQL.
        let masterKey = try MasterKey(bytes: Array(repeating: 9, count: 32))
        let vault = store == .sqlite
            ? try await Vault.open(.init(databasePath: directory + "/vault.sqlite", masterKey: masterKey, now: now))
            : try await Vault.open(.init(schema: namespace + "vault", masterKey: masterKey, now: now), database: database)
        let services = try await LevyServices.assemble(database: database, vault: vault, tables: tables, tableStore: tableStore,
                                                       keys: OrderKeys(masterKey: try MasterKey(bytes: Array(repeating: 9, count: 32))),
                                                       namespace: namespace,
                                                       exports: exports ? LevyServices.ExportSetup(
                                                        directory: directory + "/exports", signingKey: exportKey,
                                                        saftSchema: repository + "/Schemas/oecd-saft-2.00/FAIA_v_2.01_full.xsd") : nil,
                                                       now: now)
        var keys: [Scope: String] = [:]
        for scope in Scope.allCases { keys[scope] = try await services.keys.create(label: scope.rawValue, scopes: [scope]).secret }
        let all = try await services.keys.create(label: "all", scopes: Set(Scope.allCases)).secret
        return TestServer(api: LevyAPI(services: services, openAPI: try OpenAPIDocument(contentsOf: repository + "/Sources/Server/openapi.yaml"),
                                                  maxBodyBytes: 64 * 1024, stripeWebhook: stripeWebhook,
                                                  nexusThresholds: try NexusTable.load(directory: repository + "/TaxTables")), keys: keys, allScopes: all, logs: LogRecorder(),
                          directory: directory)
    }

    /// The bare router in an application that logs into `logs` (not onto the test output).
    func routerApplication() -> some ApplicationProtocol {
        let recorder = logs
        return Application(router: api.router(), logger: Logger(label: "test") { _ in RecordingLogHandler(recorder: recorder) })
    }

    /// The application as `levy serve` builds it, logging into `logs`.
    func application(tls: (certificate: String, key: String)? = nil, configure: (inout ServeSettings) -> Void = { _ in }) throws -> some ApplicationProtocol {
        var settings = ServeSettings()
        settings.port = 0
        // The full suite runs many servers, PostgreSQL clusters and `levy serve` processes at once on two cores: a
        // test client starved for ten seconds must not meet the production deadlines, which the deadline tests
        // set for themselves.
        settings.requestHeadTimeout = 120
        settings.requestBodyTimeout = 120
        settings.idleTimeout = 300
        configure(&settings)
        settings.tlsCertificate = tls?.certificate
        settings.tlsKey = tls?.key
        let recorder = logs
        return try LevyServer.application(api: api, settings: settings, logger: Logger(label: "test") { _ in RecordingLogHandler(recorder: recorder) })
    }
}

/// Every log line written during a test, to check that none holds card data or addresses.
final class LogRecorder: Sendable {
    private let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}

struct RecordingLogHandler: LogHandler {
    let recorder: LogRecorder
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        recorder.append("\(event.level) \(event.message) \(merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))")
    }
}

/// A response decoded for assertions.
struct Reply: Sendable {
    var status: Int
    var headers: HTTPFields
    var text: String

    var json: [String: any Sendable] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: any Sendable]) ?? [:]
    }

    var errorCode: String? { (json["error"] as? [String: Any])?["code"] as? String }
    var errorField: String? { (json["error"] as? [String: Any])?["field"] as? String }
    func string(_ key: String) -> String? { json[key] as? String }
}

extension TestClientProtocol {
    /// Sends a request with an API key (Bearer), an optional Idempotency-Key and a JSON body.
    func send(_ method: HTTPRequest.Method, _ uri: String, key: String?, idempotency: String? = nil, body: String? = nil,
              headers extra: [HTTPField.Name: String] = [:]) async throws -> Reply {
        var headers = HTTPFields()
        if let key { headers[.authorization] = "Bearer " + key }
        if let idempotency { headers[HTTPField.Name("Idempotency-Key")!] = idempotency }
        if body != nil { headers[.contentType] = "application/json" }
        for (name, value) in extra { headers[name] = value }
        return try await execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) }) { response in
            Reply(status: response.status.code, headers: response.headers, text: String(buffer: response.body))
        }
    }
}

func fixture(_ name: String) -> String {
    try! String(contentsOfFile: TestServer.repository + "/Fixtures/orders/" + name, encoding: .utf8)
}

/// A place-order body: a fixture order, optionally with the billing address taken from a customer.
func placeBody(_ fixtureName: String, customer: String? = nil, token: String? = nil, dropBilling: Bool = false) -> String {
    var order = try! JSONSerialization.jsonObject(with: Data(fixture(fixtureName).utf8)) as! [String: Any]
    if dropBilling { order["billing"] = nil }
    var body: [String: Any] = ["order": order]
    body["customer_id"] = customer
    body["payment_token"] = token
    return String(decoding: try! JSONSerialization.data(withJSONObject: body, options: [.sortedKeys]), as: UTF8.self)
}

/// A customer with a billing address at `street` (Ada Lovelace), and the med spa's order placed for her, paid by card
/// and captured: its billing address is the customer's. Returns the customer's and the order's ids.
func capturedOrderOfACustomer(_ client: some TestClientProtocol, _ server: TestServer, street: String) async throws -> (customer: String, order: String) {
    let checkout = server.keys[.checkout]
    let customer = try await client.send(.post, "/v1/customers", key: checkout, body: """
        {"name": "Ada Lovelace", "email": "ada@example.com", "billing_address": \(street)}
        """)
    let customerID = try #require(customer.string("id"))
    let card = try await client.send(.post, "/v1/tokens", key: checkout, idempotency: "c", body: #"{"number": "4242424242424242", "exp_month": 12, "exp_year": 2031}"#)
    let placed = try await client.send(.post, "/v1/orders", key: checkout, idempotency: "o",
                                       body: placeBody("med-spa.json", customer: customerID, token: card.string("token"), dropBilling: true))
    let orderID = try #require(placed.string("id"), "\(placed.text)")
    _ = try await client.send(.post, "/v1/orders/\(orderID)/capture", key: checkout, idempotency: "k")
    return (customerID, orderID)
}
