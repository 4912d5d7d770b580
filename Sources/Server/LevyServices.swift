import Exports
import Foundation
import Logging
import Merchants
import Orders
import Reconciliation
import Storage
import Synchronization
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
    /// The merchant the vault, orders, customers, exports and reconciliations above belong to; nil is the home
    /// merchant (the store's own tables).
    public var merchant: MerchantID?
    /// Opens other merchants' stores (shared by every copy).
    public var scopes: MerchantScopes
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
                            giftCardRefunds: GiftCardRefundPolicy = .giftCardFirst,
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
                                  keys: OrderKeys(masterKey: masterKey), exports: exports, giftCardRefunds: giftCardRefunds, now: now)
    }

    /// The services over an open database and vault. `namespace` prefixes the schema names (`orders`, `customers`,
    /// `api`), so that tests can share one PostgreSQL database. These serve the home merchant; `scoped(to:)` gives
    /// another merchant's.
    public static func assemble(database: any SQLDatabase, vault: Vault, tables: TaxTableSet, tableStore: TableStore?,
                                processor: any PaymentProcessor = SimulatedProcessor(), keys: OrderKeys, namespace: String = "",
                                exports: ExportSetup? = nil, giftCardRefunds: GiftCardRefundPolicy = .giftCardFirst,
                                now: @escaping @Sendable () -> Date = { Date() }) async throws -> LevyServices {
        // The vault migrated itself when it opened; every other component's tables come from the one registry.
        try await SchemaRegistry.migrate(database, vault: nil, namespace: namespace)
        let scopes = MerchantScopes(database: database, baseNamespace: namespace, tables: tables, processor: processor, keys: keys,
                                    exports: exports, giftCardRefunds: giftCardRefunds, now: now)
        let home = try await scopes.stores(namespace: "", vault: vault, directorySuffix: "")
        return LevyServices(database: database, vault: home.vault, orders: home.orders, customers: home.customers,
                            merchants: MerchantService(database: database, schema: namespace + "merchants", now: now),
                            keys: APIKeyStore(database: database, schema: namespace + "api", now: now),
                            idempotency: IdempotencyStore(database: database, schema: namespace + "api", digestKey: keys.idempotencyDigests, now: now),
                            consoleSessions: ConsoleSessionStore(database: database, schema: namespace + "api", signInKey: keys.consoleSignIn, now: now),
                            tables: tables,
                            tableStore: tableStore, metrics: APIMetrics(), reconciliations: home.reconciliations, exports: home.exports,
                            merchant: nil, scopes: scopes, now: now)
    }

    /// These services for another merchant: its vault, orders, customers, export jobs and reconciliation runs,
    /// opened (and migrated) on first use; keys, profiles, tables and metrics stay the installation's. nil is the
    /// home merchant. Throws `MerchantError.unknownMerchant` for an id the store does not know.
    public func scoped(to merchant: MerchantID?) async throws -> LevyServices {
        guard let merchant else { return self.merchant == nil ? self : try await scopes.home(of: self) }
        if merchant == self.merchant { return self }
        // Opened before: no query (the background jobs ask for every merchant every second).
        if let stores = scopes.opened(merchant) { return serving(stores, of: merchant) }
        let namespace = try await merchants.namespace(of: merchant)
        if namespace.isEmpty { return try await scopes.home(of: self) }
        let stores = try await scopes.stores(for: merchant, namespace: namespace, homeVault: try await scopes.home(of: self).vault)
        return serving(stores, of: merchant)
    }

    /// The profile of the merchant these services serve: the home merchant's (nil while it has none), or another's.
    public func profile() async throws -> Merchant? {
        if let merchant { return try await merchants.merchant(merchant) }
        return try await merchants.first()
    }

    /// A copy whose merchant stores are `stores`, those of `merchant` (nil: the home merchant).
    func serving(_ stores: MerchantScopes.Stores, of merchant: MerchantID?) -> LevyServices {
        var copy = self
        copy.vault = stores.vault
        copy.orders = stores.orders
        copy.customers = stores.customers
        copy.exports = stores.exports
        copy.reconciliations = stores.reconciliations
        copy.merchant = merchant
        return copy
    }

    /// The services of every merchant: the home merchant's first, then the others', oldest first. Background work
    /// (export jobs, reconciliation runs, the liability rollup, maintenance) runs over these.
    public func everyMerchant() async throws -> [LevyServices] {
        var all = [try await scoped(to: nil)]
        for (id, namespace) in try await merchants.namespaces() where !namespace.isEmpty {
            all.append(try await scoped(to: id))
        }
        return all
    }
}

/// Opens the stores of the merchants other than the home merchant, each in tables of its own namespace
/// (`<merchant id>_orders`, `<merchant id>_vault`, …), once per process: a merchant's records are structurally
/// apart from every other's, its ledger chain is its own, and one merchant's writes never wait on another's rows.
public final class MerchantScopes: Sendable {
    /// One merchant's own stores.
    struct Stores: Sendable {
        var vault: Vault
        var orders: OrderService
        var customers: CustomerService
        var exports: ExportJobExecutor?
        var reconciliations: ReconciliationRunExecutor?
    }

    let database: any SQLDatabase
    let baseNamespace: String
    let tables: TaxTableSet
    let processor: any PaymentProcessor
    let keys: OrderKeys
    let exportSetup: LevyServices.ExportSetup?
    /// The installation's setting, the same for every merchant's orders.
    let giftCardRefunds: GiftCardRefundPolicy
    let now: @Sendable () -> Date
    private let openedStores = Mutex<[MerchantID: Stores]>([:])
    private let homeStores = Mutex<Stores?>(nil)

    init(database: any SQLDatabase, baseNamespace: String, tables: TaxTableSet, processor: any PaymentProcessor, keys: OrderKeys,
         exports: LevyServices.ExportSetup?, giftCardRefunds: GiftCardRefundPolicy, now: @escaping @Sendable () -> Date) {
        self.giftCardRefunds = giftCardRefunds
        self.database = database
        self.baseNamespace = baseNamespace
        self.tables = tables
        self.processor = processor
        self.keys = keys
        exportSetup = exports
        self.now = now
    }

    /// The home merchant's services from a merchant's copy of them.
    func home(of services: LevyServices) async throws -> LevyServices {
        guard let home = homeStores.withLock({ $0 }) else { throw MerchantError.none }
        return services.serving(home, of: nil)
    }

    /// A merchant's stores if this process has opened them.
    func opened(_ merchant: MerchantID) -> Stores? { openedStores.withLock { $0[merchant] } }

    func stores(for merchant: MerchantID, namespace: String, homeVault: Vault) async throws -> Stores {
        if let hit = opened(merchant) { return hit }
        // Two first requests may both open it: migrations are idempotent and the first stored wins.
        let vault = try await homeVault.sibling(schema: baseNamespace + namespace + "vault")
        let made = try await stores(namespace: namespace, vault: vault, directorySuffix: "/merchants/" + merchant.value)
        return openedStores.withLock { cache in
            if let first = cache[merchant] { return first }
            cache[merchant] = made
            return made
        }
    }

    /// Opens and migrates the stores in one namespace (empty: the home merchant's).
    func stores(namespace: String, vault: Vault, directorySuffix: String) async throws -> Stores {
        let prefix = baseNamespace + namespace
        if !namespace.isEmpty { try await SchemaRegistry.migrate(database, vault: nil, namespace: prefix, merchantOnly: true) }
        var orders = OrderService(database: database, schema: prefix + "orders", tables: tables,
                                  gateway: PaymentGateway(vault: vault, processor: processor), keys: keys, now: now)
        orders.giftCardRefundPolicy = giftCardRefunds
        try await orders.migrate()
        let database = database, now = now
        let stores = Stores(
            vault: vault, orders: orders, customers: CustomerService(database: database, schema: prefix + "customers", now: now),
            exports: exportSetup.map { setup in
                ExportJobExecutor(jobs: ExportJobStore(database: database, schema: prefix + "exports", directory: setup.directory + directorySuffix,
                                                       now: now),
                                  exporter: Exporter(database: database, ordersSchema: prefix + "orders", customersSchema: prefix + "customers",
                                                     exportsSchema: prefix + "exports", signingKey: setup.signingKey, now: now),
                                  saftSchema: setup.saftSchema)
            },
            reconciliations: exportSetup.map { setup in
                ReconciliationRunExecutor(runs: ReconciliationRuns(database: database, schema: prefix + "reconciliation",
                                                                   directory: setup.directory + directorySuffix + "/reconciliations", now: now),
                                          service: orders)
            })
        if namespace.isEmpty { homeStores.withLock { $0 = stores } }
        return stores
    }
}
