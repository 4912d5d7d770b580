import Exports
import Foundation
import Hummingbird
import Logging
import NIOCore
import Orders
import Processors
import ServiceLifecycle
import Storage
import TaxCore
import TaxTables
import UnixSignals
import Vault

/// What `levy serve` found on disk before the server is put together: the tables to quote with, the API's document,
/// the vault's master key, the nexus thresholds, and the folder the embedded default keeps its files in.
public struct ServerResources: Sendable {
    public var tables: TaxTableSet
    /// The versioned table store, for `GET /v1/tables` (nil when the server quotes a fixed folder).
    public var tableStore: TableStore?
    public var openAPI: OpenAPIDocument
    public var masterKey: MasterKey
    /// The states' economic-nexus thresholds; nil makes `GET /v1/nexus` answer 503.
    public var nexus: NexusTable.Loaded?
    /// Where `.levy/` (the SQLite files, the first admin key) lives: the working folder of `levy serve`.
    public var workingDirectory: String
    /// The key that signs export manifests; nil leaves the export endpoints answering 503.
    public var exportSigningKey: SigningKey?
    /// The FAIA 2.01 schema SAF-T exports are validated against (nil: not validated, as `--schema none`).
    public var saftSchema: String?

    public init(tables: TaxTableSet, tableStore: TableStore?, openAPI: OpenAPIDocument, masterKey: MasterKey,
                nexus: NexusTable.Loaded?, workingDirectory: String, exportSigningKey: SigningKey? = nil, saftSchema: String? = nil) {
        self.exportSigningKey = exportSigningKey
        self.saftSchema = saftSchema
        self.tables = tables
        self.tableStore = tableStore
        self.openAPI = openAPI
        self.masterKey = masterKey
        self.nexus = nexus
        self.workingDirectory = workingDirectory
    }
}

/// A running server: the port it bound and what the composition root chose, for the start-up message.
public struct ServingAt: Sendable {
    public let port: Int
    /// `PostgreSQL` or `SQLite <path>`.
    public let storeName: String
    /// `the built-in simulator` or `Stripe at <address>`.
    public let paymentsName: String
}

/// A setting the composition root could not act on (a key file that cannot be read, an unknown policy).
public struct ServerSetupError: Error, CustomStringConvertible {
    public var description: String
}

extension LevyServer {
    /// The composition root of `levy serve`: chooses the store and the payment processor once, from the settings,
    /// and returns the service group that runs the server. The stores are opened and migrated, and the first admin
    /// key of an empty store is created, by the application service before it binds its port; the PostgreSQL pool
    /// is a service of the same group, started before it and stopped after it. SIGTERM and SIGINT shut the group
    /// down gracefully in reverse order, so the pool outlives every in-flight request.
    public static func build(settings: ServeSettings, resources: ServerResources, logger: Logger,
                             announce: @escaping @Sendable (String) -> Void = { _ in },
                             onRunning: @escaping @Sendable (ServingAt) async -> Void = { _ in }) throws -> ServiceGroup {
        // Read now, so that a bad certificate stops the start before the stores are opened.
        _ = try tlsConfiguration(settings)
        let store = try chooseStore(settings, workingDirectory: resources.workingDirectory)
        let (processor, paymentsName) = try chooseProcessor(settings, workingDirectory: resources.workingDirectory)
        let storeName = switch store {
        case .postgres: "PostgreSQL"
        case .sqlite(let path, _): "SQLite \(path)"
        }
        var webhook: StripeWebhook?
        if let file = settings.stripeWebhookSecretFile {
            do { webhook = StripeWebhook(secret: try StripeWebhookSecret(file: file)) } catch { throw ServerSetupError(description: "\(error)") }
        }
        guard let refunds = GiftCardRefundPolicy(rawValue: settings.giftCardRefunds) else {
            throw ServerSetupError(description: "gift_card_refunds: \(settings.giftCardRefunds) is not gift-card-first or payment-card-first")
        }
        let application = ApplicationService(settings: settings, resources: resources, store: store, processor: processor, webhook: webhook,
                                             giftCardRefunds: refunds, logger: logger, announce: announce,
                                             onRunning: { port in await onRunning(ServingAt(port: port, storeName: storeName, paymentsName: paymentsName)) })
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if case .postgres(let database) = store { services.append(.init(service: DatabasePool(database: database))) }
        services.append(.init(service: application))
        return ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
    }

    /// The one place the store is chosen: a postgres:// URL, else SQLite files (by default under `.levy/`).
    static func chooseStore(_ settings: ServeSettings, workingDirectory: String) throws -> LevyServices.Store {
        let location = settings.database ?? workingDirectory + "/.levy/levy.sqlite"
        guard location.hasPrefix("postgres://") || location.hasPrefix("postgresql://") else {
            return .sqlite(database: location, vault: settings.vault ?? workingDirectory + "/.levy/vault.sqlite")
        }
        do { return .postgres(try PostgresDatabase(url: location, pool: .caller)) } catch { throw ServerSetupError(description: "database: \(error)") }
    }

    /// The one place the payment processor is chosen: Stripe with its secret key file, else the built-in simulator.
    /// The simulator keeps its answers in `.levy/simulator-journal.jsonl`, so that orders it authorized or captured
    /// can still be captured, voided or refunded after a restart (probe #6: every earlier order answered
    /// `payment_declined` once the process had restarted).
    static func chooseProcessor(_ settings: ServeSettings, workingDirectory: String) throws -> (any PaymentProcessor, String) {
        guard settings.processor == "stripe" else {
            let folder = workingDirectory + "/.levy"
            let journal = folder + "/simulator-journal.jsonl"
            do {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                return (try SimulatedProcessor(journal: journal), "the built-in simulator (its answers kept in \(journal))")
            } catch { throw ServerSetupError(description: "\(error)") }
        }
        guard let keyFile = settings.stripeSecretKeyFile else {
            throw ServerSetupError(description: "processor stripe needs stripe_secret_key_file (--stripe-secret-key-file or LEVY_STRIPE_SECRET_KEY_FILE)")
        }
        do {
            let stripe = try StripeProcessor(key: try StripeSecretKey(file: keyFile), baseURL: settings.stripeBaseURL)
            return (stripe, "Stripe at \(stripe.endpoint)")
        } catch { throw ServerSetupError(description: "\(error)") }
    }
}

/// The PostgreSQL connection pool as a service of the server's group.
struct DatabasePool: Service, CustomStringConvertible {
    let database: PostgresDatabase
    func run() async throws { await database.runPool() }
    /// How the service group's log names it (its default description would dump its fields).
    var description: String { "PostgreSQL pool" }
}

/// Opens and migrates the stores, creates the first admin key of an empty store, and then runs the HTTP application
/// (its server and its maintenance) until the group shuts it down.
struct ApplicationService: Service, CustomStringConvertible {
    let settings: ServeSettings
    let resources: ServerResources
    let store: LevyServices.Store
    let processor: any PaymentProcessor
    let webhook: StripeWebhook?
    let giftCardRefunds: GiftCardRefundPolicy
    let logger: Logger
    let announce: @Sendable (String) -> Void
    let onRunning: @Sendable (Int) async -> Void

    /// How the service group's log names it: its default description would dump the settings and every table.
    var description: String { "levy application" }

    func run() async throws {
        if case .postgres(let database) = store { try await Self.reach(database) }
        let exports = resources.exportSigningKey.map { key in
            LevyServices.ExportSetup(directory: settings.exportsDirectory ?? resources.workingDirectory + "/.levy/exports", signingKey: key,
                                     saftSchema: resources.saftSchema)
        }
        let services = try await LevyServices.open(store: store, tables: resources.tables, tableStore: resources.tableStore,
                                                   masterKey: resources.masterKey, processor: processor, exports: exports,
                                                   giftCardRefunds: giftCardRefunds)
        try await firstStartAdminKey(services.keys, directory: resources.workingDirectory + "/.levy/dev-keys")
        let api = LevyAPI(services: services, openAPI: resources.openAPI, maxBodyBytes: settings.maxBodyBytes,
                          maxFailedAuthPerMinute: settings.maxFailedAuthPerMinute, stripeWebhook: webhook, nexusThresholds: resources.nexus,
                          secureCookies: settings.tlsCertificate != nil)
        // The application's own group (server and maintenance) follows this group's graceful shutdown.
        do {
            try await LevyServer.application(api: api, settings: settings, logger: logger, onRunning: onRunning).run()
        } catch let error as IOError where error.description.hasPrefix("bind(") {
            // NIO's text names the system call, not the address.
            throw ServerSetupError(description: "cannot listen on \(settings.hostname):\(settings.port): \(String(cString: strerror(error.errnoCode)))")
        } catch is SocketAddressError.UnknownHost {
            throw ServerSetupError(description: "cannot listen on \(settings.hostname):\(settings.port): hostname: the name does not resolve to an address")
        } catch let error as SocketAddressError {
            throw ServerSetupError(description: "cannot listen on \(settings.hostname):\(settings.port): not an address of this machine (\(error))")
        }
    }

    /// How long the start waits for PostgreSQL to answer a first query. A server that is not up yet (started beside
    /// Levy) fails each lease after the store's `leaseWait`; the start tries again until this has passed.
    static let reachWithin: Duration = .seconds(30)

    static func reach(_ database: PostgresDatabase) async throws {
        struct NoAnswer: Error {}
        do {
            try await Deadline.run(within: reachWithin, orThrow: { NoAnswer() }) {
                while true {
                    do {
                        _ = try await database.query("SELECT 1 AS one", [])
                        return
                    } catch let error where StoreUnavailable.classify(error) != nil {
                        try await Task.sleep(for: .seconds(1))
                    }
                }
            }
        } catch is NoAnswer {
            throw ServerSetupError(description: "database: PostgreSQL at \(database.endpoint) did not answer within \(reachWithin.components.seconds) s "
                                   + "(is it running, and are the host and port right?)")
        } catch {
            throw ServerSetupError(description: "database: PostgreSQL at \(database.endpoint) cannot be used: \(String(describing: error).prefix(300))")
        }
    }

    /// The embedded default has no keys yet: create an admin key and say where its secret is.
    func firstStartAdminKey(_ keys: APIKeyStore, directory: String) async throws {
        guard try await keys.list().isEmpty else { return }
        let issued = try await keys.create(label: "admin (created at first start)", scopes: [.admin])
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let path = directory + "/admin-api-key"
        guard FileManager.default.createFile(atPath: path, contents: Data((issued.secret + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
            throw ServerSetupError(description: "cannot write the first admin key to \(path)")
        }
        announce("""
            levy: first start: created an admin API key (id \(issued.key.id)); its secret is in \(path) (readable by you only).
            levy: create keys for checkout and accountants with: levy keys create --scope checkout --label storefront
            """)
    }
}
