import Exports
import Foundation
import Logging
import Merchants
import Orders
import Reconciliation
import Storage
import TaxCore
import TaxTables
import Vault

/// Everything the API works with, opened and migrated: the store, the vault, orders, customers, API keys,
/// idempotency records, the tables quotes use, metrics and the clock.
public struct LevyServices: Sendable {
    public var database: any SQLDatabase
    public var vault: Vault
    public var orders: OrderService
    public var customers: CustomerService
    public var merchants: MerchantService
    public var keys: APIKeyStore
    public var idempotency: IdempotencyStore
    /// The console's sign-in sessions.
    public var consoleSessions: ConsoleSessionStore
    public var tables: TaxTableSet
    /// The versioned table store, for listing versions (nil when the server quotes a fixed folder).
    public var tableStore: TableStore?
    public var metrics: APIMetrics
    /// Export jobs over the API; nil when the server has no export signing key (the endpoints answer 503).
    /// Reconciliation runs of uploaded settlement files (with the export jobs, under their folder).
    public var reconciliations: ReconciliationRunExecutor?
    public var exports: ExportJobExecutor?
    public var now: @Sendable () -> Date

    /// Where the order store and the vault live.
    public enum Store: Sendable {
        /// SQLite files: the order store (customers, orders, API keys) and the vault in a file of its own.
        case sqlite(database: String, vault: String)
        /// One PostgreSQL database; the vault, orders, customers and API keys each in their own schema. Whoever made
        /// it runs its pool (a server's service group, see `LevyServer.build`).
        case postgres(PostgresDatabase)
    }

    /// What export jobs need: where their folders go, the key that signs their manifests, the SAF-T schema.
    public struct ExportSetup: Sendable {
        public var directory: String
        public var signingKey: SigningKey
        public var saftSchema: String?
        public init(directory: String, signingKey: SigningKey, saftSchema: String?) {
            self.directory = directory
            self.signingKey = signingKey
            self.saftSchema = saftSchema
        }
    }

    /// Opens the stores and applies every pending migration. The payment processor is the built-in simulator.
    public static func open(store: Store, tables: TaxTableSet, tableStore: TableStore?, masterKey: MasterKey,
                            processor: any PaymentProcessor = SimulatedProcessor(), exports: ExportSetup? = nil,
                            now: @escaping @Sendable () -> Date = { Date() }) async throws -> LevyServices {
        let database: any SQLDatabase
        let vault: Vault
        switch store {
        case .sqlite(let path, let vaultPath):
            for file in [path, vaultPath] {
                try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            }
            database = try SQLiteDatabase(path: path)
            vault = try await Vault.open(.init(databasePath: vaultPath, masterKey: masterKey, now: now))
        case .postgres(let postgres):
            database = postgres
            vault = try await Vault.open(.init(masterKey: masterKey, now: now), database: database)
        }
        return try await assemble(database: database, vault: vault, tables: tables, tableStore: tableStore, processor: processor,
                                  keys: OrderKeys(masterKey: masterKey), exports: exports, now: now)
    }

    /// The services over an open database and vault. `namespace` prefixes the schema names (`orders`, `customers`,
    /// `api`), so that tests can share one PostgreSQL database.
    public static func assemble(database: any SQLDatabase, vault: Vault, tables: TaxTableSet, tableStore: TableStore?,
                                processor: any PaymentProcessor = SimulatedProcessor(), keys: OrderKeys, namespace: String = "",
                                exports: ExportSetup? = nil, now: @escaping @Sendable () -> Date = { Date() }) async throws -> LevyServices {
        let orders = OrderService(database: database, schema: namespace + "orders", tables: tables,
                                  gateway: PaymentGateway(vault: vault, processor: processor), keys: keys, now: now)
        let customers = CustomerService(database: database, schema: namespace + "customers", now: now)
        let keys = APIKeyStore(database: database, schema: namespace + "api", now: now)
        // The vault migrated itself when it opened; every other component's tables come from the one registry.
        try await SchemaRegistry.migrate(database, vault: nil, namespace: namespace)
        try await orders.migrate()
        return LevyServices(database: database, vault: vault, orders: orders, customers: customers,
                            merchants: MerchantService(database: database, schema: namespace + "merchants", now: now), keys: keys,
                            idempotency: IdempotencyStore(database: database, schema: namespace + "api", now: now),
                            consoleSessions: ConsoleSessionStore(database: database, schema: namespace + "api", now: now), tables: tables, tableStore: tableStore,
                            metrics: APIMetrics(),
                            reconciliations: exports.map { setup in
                                ReconciliationRunExecutor(runs: ReconciliationRuns(database: database, schema: namespace + "reconciliation",
                                                                                   directory: setup.directory + "/reconciliations", now: now),
                                                          service: orders)
                            },
                            exports: exports.map { setup in
                                ExportJobExecutor(jobs: ExportJobStore(database: database, schema: namespace + "exports", directory: setup.directory, now: now),
                                                  exporter: Exporter(database: database, ordersSchema: namespace + "orders", customersSchema: namespace + "customers",
                                                                     exportsSchema: namespace + "exports", signingKey: setup.signingKey, now: now),
                                                  saftSchema: setup.saftSchema)
                            },
                            now: now)
    }
}
