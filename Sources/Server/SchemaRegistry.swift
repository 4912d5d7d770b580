import Exports
import Merchants
import Orders
import Reconciliation
import Storage
import Vault

/// Every component's tables, in one list, so that `levy db migrate` and `levy serve` bring the whole store to the
/// same version: the vault, orders (with the ledger), customers, the API's keys and idempotency records, the export
/// log and the merchant profiles. Each component owns its schema and its migrations; this list only names them.
public enum SchemaRegistry {
    public struct Component: Sendable {
        /// The component's schema (a PostgreSQL schema, a table prefix in SQLite).
        public let schema: String
        public let migrations: Migrations
        /// Whether the component lives in the vault's own store (its own SQLite file; a schema of the one
        /// PostgreSQL database).
        public let inVault: Bool
        /// The installation's own (API keys, idempotency records and console sessions; merchant profiles), not one
        /// merchant's: never made in a merchant's namespace.
        public var installationWide = false
    }

    /// The components, with `namespace` before every schema name (tests share one PostgreSQL database that way).
    public static func components(namespace: String = "") -> [Component] {
        [
            Component(schema: namespace + "vault", migrations: Vault.migrations(schema: namespace + "vault"), inVault: true),
            Component(schema: namespace + "orders", migrations: OrderService.migrations(schema: namespace + "orders"), inVault: false),
            Component(schema: namespace + "customers", migrations: CustomerService.migrations(schema: namespace + "customers"), inVault: false),
            Component(schema: namespace + "api", migrations: APIKeyStore.migrations(schema: namespace + "api"), inVault: false,
                      installationWide: true),
            Component(schema: namespace + "exports", migrations: DisclosureLog.migrations(schema: namespace + "exports"), inVault: false),
            Component(schema: namespace + "merchants", migrations: MerchantService.migrations(schema: namespace + "merchants"), inVault: false,
                      installationWide: true),
            Component(schema: namespace + "reconciliation", migrations: ReconciliationRuns.migrations(schema: namespace + "reconciliation"),
                      inVault: false),
        ]
    }

    /// Applies every pending migration of every component outside the vault to `database`; returns what was applied
    /// as "schema version" pairs. `merchantOnly` leaves out the installation's components (a merchant's namespace).
    @discardableResult
    public static func migrate(_ database: any SQLDatabase, vault: (any SQLDatabase)?, namespace: String = "",
                               merchantOnly: Bool = false) async throws -> [(String, Int)] {
        var applied: [(String, Int)] = []
        for component in components(namespace: namespace) where !(merchantOnly && component.installationWide) {
            guard let target = component.inVault ? vault : database else { continue }
            applied += try await component.migrations.apply(to: target).map { (component.schema, $0) }
        }
        return applied
    }
}
