import ArgumentParser
import Foundation
import Logging
import Merchants
import Orders
import Processors
import Server
import ServiceLifecycle
import Storage
import TaxCore
import TaxTables
import Vault

/// `levy serve`: the checkout HTTP API on the embedded default or the configured stores.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the HTTP API (default 127.0.0.1:8080). Settings: flags, then LEVY_* variables, then --config FILE (JSON).")

    @Option(help: "Address to bind (default 127.0.0.1; LEVY_HOSTNAME).") var hostname: String?
    @Option(help: "Port to bind, 0 for any free port (default 8080; LEVY_PORT).") var port: Int?
    @Option(help: "A SQLite file or a postgres:// URL (default .levy/levy.sqlite; LEVY_DATABASE_URL).") var database: String?
    @Option(help: "The vault's SQLite file (default .levy/vault.sqlite; LEVY_VAULT). With PostgreSQL the vault is a schema of --database.")
    var vault: String?
    @Option(help: "A TaxTables folder or ZIP5 CSV to quote with; default: the store's current version, else the shipped tables (LEVY_TABLES says where those are).")
    var tables: String?
    @Option(help: "The versioned table store (default .levy/tables; LEVY_STORE).") var store: String?
    @Option(help: "The vault master key file (LEVY_VAULT_MASTER_KEY_FILE, or LEVY_VAULT_MASTER_KEY; else a development key).")
    var masterKeyFile: String?
    @Option(help: "PEM certificate chain: serve HTTPS (LEVY_TLS_CERTIFICATE).") var tlsCertificate: String?
    @Option(help: "PEM private key of the certificate (LEVY_TLS_KEY).") var tlsKey: String?
    @Option(help: "trace, debug, info, notice, warning, error or critical (default info; LEVY_LOG_LEVEL).") var logLevel: String?
    @Option(help: "A JSON file of settings (LEVY_CONFIG); flags and variables override it.") var config: String?
    @Option(help: "simulator (the built-in one, default) or stripe (LEVY_PROCESSOR).") var processor: String?
    @Option(help: "A file holding the Stripe secret key, for --processor stripe (LEVY_STRIPE_SECRET_KEY_FILE).") var stripeSecretKeyFile: String?
    @Option(help: "Stripe's API address (default https://api.stripe.com; LEVY_STRIPE_BASE_URL), e.g. a localstripe.") var stripeBaseURL: String?
    @Option(help: "A file holding the Stripe webhook signing secret whsec_… (LEVY_STRIPE_WEBHOOK_SECRET_FILE); enables POST /v1/webhooks/stripe.")
    var stripeWebhookSecretFile: String?
    @Option(help: "Where refunds of orders paid partly by gift card go first: gift-card-first (default) or payment-card-first (LEVY_GIFT_CARD_REFUNDS).")
    var giftCardRefunds: String?

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let settings: ServeSettings
        do {
            settings = try ServeSettings.resolve(flags: flags(), environment: environment, file: try configFile(environment))
        } catch {
            throw CLIError.input("\(error)")
        }
        let level = Logger.Level(rawValue: settings.logLevel) ?? .info
        LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: level) }
        let logger = Logger(label: "levy")

        let tables = try TableLocation.load(settings.tables, store: settings.store, version: nil)
        guard let openAPIPath = InstalledFiles.locate(InstalledFiles.openAPI) else { throw CLIError.input(InstalledFiles.notFound(InstalledFiles.openAPI)) }
        let openAPI: OpenAPIDocument
        do { openAPI = try OpenAPIDocument(contentsOf: openAPIPath) } catch { throw CLIError.input("\(error)") }
        // The nexus thresholds travel with the tables (a `--tables` folder that has its own nexus.csv, else the shipped
        // folder); without them GET /v1/nexus answers 503.
        let givenFolder = settings.tables.flatMap { FileManager.default.fileExists(atPath: $0 + "/nexus.csv") ? $0 : nil }
        let nexus = (givenFolder ?? TableLocation.defaultDirectory()).flatMap { try? NexusTable.load(directory: $0) }
        if nexus == nil { Self.say("levy: nexus.csv not found with the tables: GET /v1/nexus will answer 503") }
        let resources = ServerResources(
            tables: tables, tableStore: settings.tables == nil
                ? TableStore(directory: TableLocation.storeDirectory(settings.store), shipped: TableLocation.shippedOfficialFiles()) : nil,
            openAPI: openAPI, masterKey: try VaultOptions.masterKey(file: settings.masterKeyFile, environment), nexus: nexus,
            workingDirectory: FileManager.default.currentDirectoryPath,
            // Export jobs over the API sign with the same key as `levy export` (LEVY_EXPORT_SIGNING_KEY_FILE, else the
            // development key) and validate SAF-T files against the shipped schema when it is found.
            exportSigningKey: try ExportOptions.signingKey(nil), saftSchema: TableLocation.saftSchema())
        let scheme = settings.tlsCertificate == nil ? "http" : "https"
        let server: ServiceGroup
        do {
            server = try LevyServer.build(settings: settings, resources: resources, logger: logger, announce: Self.say) { serving in
                Self.say("levy: serving on \(scheme)://\(settings.hostname):\(serving.port) (tables \(tables.version), store \(serving.storeName), payments: \(serving.paymentsName))")
                Self.say("levy: the API is described at \(scheme)://\(settings.hostname):\(serving.port)/openapi.yaml; SIGTERM or Ctrl-C stops after in-flight requests")
            }
        } catch let error as ServerSetupError { throw CLIError.input(error.description) }
        try await server.run()
    }

    func flags() -> [String: String] {
        var flags: [String: String] = [:]
        flags["hostname"] = hostname
        flags["port"] = port.map(String.init)
        flags["database"] = database
        flags["vault"] = vault
        flags["tables"] = tables
        flags["store"] = store
        flags["master_key_file"] = masterKeyFile
        flags["tls_certificate"] = tlsCertificate
        flags["tls_key"] = tlsKey
        flags["log_level"] = logLevel
        flags["processor"] = processor
        flags["stripe_secret_key_file"] = stripeSecretKeyFile
        flags["stripe_base_url"] = stripeBaseURL
        flags["stripe_webhook_secret_file"] = stripeWebhookSecretFile
        flags["gift_card_refunds"] = giftCardRefunds
        return flags
    }

    func configFile(_ environment: [String: String]) throws -> (path: String, contents: [UInt8])? {
        guard let path = config ?? environment["LEVY_CONFIG"], !path.isEmpty else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else { throw CLIError.input("cannot read the config file \(path)") }
        return (path, Array(data))
    }

    static func say(_ text: String) { FileHandle.standardError.write(Data((text + "\n").utf8)) }
}

/// `levy keys`: API keys for the HTTP API.
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "keys", abstract: "API keys: create (the secret is shown once), list, revoke.",
                                                    subcommands: [Create.self, List.self, Revoke.self])

    static func store(_ options: DatabaseOptions, existing: Bool = false) async throws -> APIKeyStore {
        let keys = APIKeyStore(database: try options.open(existing: existing))
        try await keys.migrate()
        return keys
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a key; prints its secret once (the store keeps only a hash).")
        @OptionGroup var options: DatabaseOptions
        @Option(name: .customLong("scope"), help: "checkout, accountant, reconciler, admin, vault-reveal or platform; repeat for several.")
        var scopes: [String] = []
        @Option(help: "Who or what the key is for.") var label: String = "unlabelled"

        func run() async throws {
            var set = Set<Scope>()
            for text in scopes {
                guard let scope = Scope(rawValue: text) else {
                    throw CLIError.input("--scope \(text): not a scope (\(Scope.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                set.insert(scope)
            }
            guard !set.isEmpty else { throw CLIError.input("--scope is required (\(Scope.allCases.map(\.rawValue).joined(separator: ", ")))") }
            // The key reads and writes the chosen merchant's records only (--merchant; default the home merchant).
            let merchant = try await options.merchantScope(try options.open()).id
            let issued = try await KeysCommand.store(options).create(label: label, scopes: set, merchant: merchant)
            print(issued.secret)
            writeError("key \(issued.key.id) (\(set.sorted().map(\.rawValue).joined(separator: " "))): the line above is its secret, shown this once\n")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List keys: id, scopes, label, created, revoked.")
        @OptionGroup var options: DatabaseOptions

        func run() async throws {
            let keys = try await KeysCommand.store(options, existing: true)
            for key in try await options.merchant == nil ? keys.list() : keys.list(merchant: .some(options.merchantScope(try options.open()).id)) {
                let revoked = key.revoked.map { " revoked " + Timestamp.string($0) } ?? ""
                let merchant = key.merchant.map { "  merchant " + $0.value } ?? ""
                print("\(key.id)  \(key.scopes.sorted().map(\.rawValue).joined(separator: ","))  \(key.label)  created \(Timestamp.string(key.created))\(revoked)\(merchant)")
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key for good (servers stop accepting it within 5 seconds).")
        @OptionGroup var options: DatabaseOptions
        @Argument(help: "The key id.") var id: String

        func run() async throws {
            let key = try await KeysCommand.store(options).revoke(id)
            print("revoked \(key.id) (\(key.label))")
        }
    }
}
