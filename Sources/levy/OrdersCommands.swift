import ArgumentParser
import Exports
import Foundation
import LevyBenchmarks
import Merchants
import Orders
import Reconciliation
import Server
import Storage
import TaxTables

/// Levy's order store: a SQLite file (the embedded default) or a PostgreSQL database.
struct DatabaseOptions: ParsableArguments {
    @Option(help: "A SQLite file or a postgres:// URL (default: LEVY_DATABASE_URL or .levy/levy.sqlite).") var database: String?
    @Option(help: "The vault master key file, which also keys the tax ledger's chain (default: LEVY_VAULT_MASTER_KEY, LEVY_VAULT_MASTER_KEY_FILE, else the development key).")
    var masterKeyFile: String?
    @Option(help: "The merchant whose records to use, by id (default: the home merchant, the first created).")
    var merchant: String?

    /// The chosen merchant (nil: the home merchant) and the prefix of the schemas that hold its records.
    func merchantScope(_ database: any SQLDatabase) async throws -> (id: MerchantID?, namespace: String) {
        guard let merchant else { return (nil, "") }
        guard MerchantService.isMerchantID(merchant) else { throw CLIError.input("--merchant: \"\(merchant.prefix(64))\" is not a merchant id (mer_…)") }
        let service = MerchantService(database: database)
        try await service.migrate()
        do {
            let namespace = try await service.namespace(of: MerchantID(merchant))
            return (namespace.isEmpty ? nil : MerchantID(merchant), namespace)
        } catch MerchantError.unknownMerchant {
            throw CLIError.input("--merchant: no merchant \(merchant)")
        }
    }

    /// The chosen merchant's profile (the home merchant's by default; nil when it has none yet).
    func profile(existing: Bool = false) async throws -> Merchant? {
        let service = MerchantService(database: try open(existing: existing))
        try await service.migrate()
        if let merchant {
            do { return try await service.merchant(MerchantID(merchant)) } catch MerchantError.unknownMerchant {
                throw CLIError.input("--merchant: no merchant \(merchant.prefix(64))")
            }
        }
        return try await service.first()
    }

    /// The order store's keys (the ledger chain's, the gift card codes'), derived from the master key.
    func orderKeys() throws -> OrderKeys {
        OrderKeys(masterKey: try VaultOptions.masterKey(file: masterKeyFile, ProcessInfo.processInfo.environment))
    }

    /// The SQLite file the options name when it does not exist (nil for PostgreSQL or an existing file).
    func missingSQLiteFile() -> String? {
        let location = database ?? ProcessInfo.processInfo.environment["LEVY_DATABASE_URL"]
            ?? FileManager.default.currentDirectoryPath + "/.levy/levy.sqlite"
        if location.hasPrefix("postgres://") || location.hasPrefix("postgresql://") { return nil }
        return FileManager.default.fileExists(atPath: location) ? nil : location
    }

    /// `existing`: for commands that only read (status, ledger verify), a SQLite file that is not there is refused
    /// rather than created, so a mistyped path is not answered "0 entries verify".
    func open(existing: Bool = false) throws -> any SQLDatabase {
        let location = database ?? ProcessInfo.processInfo.environment["LEVY_DATABASE_URL"]
            ?? FileManager.default.currentDirectoryPath + "/.levy/levy.sqlite"
        if location.hasPrefix("postgres://") || location.hasPrefix("postgresql://") { return try PostgresDatabase(url: location) }
        if existing, let missing = missingSQLiteFile() {
            throw CLIError.input("--database: there is no SQLite file at \(missing) (levy db migrate or levy serve creates one)")
        }
        let folder = (location as NSString).deletingLastPathComponent
        if !folder.isEmpty { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        return try SQLiteDatabase(path: location)
    }

    /// The vault's store: its own SQLite file beside a SQLite order store, the same database on PostgreSQL.
    func openVault(_ path: String?, beside database: any SQLDatabase) throws -> any SQLDatabase {
        if database.dialect == .postgres { return database }
        let location = path ?? ProcessInfo.processInfo.environment["LEVY_VAULT"].flatMap { $0.isEmpty ? nil : $0 }
            ?? FileManager.default.currentDirectoryPath + "/.levy/vault.sqlite"
        let folder = (location as NSString).deletingLastPathComponent
        if !folder.isEmpty { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        return try SQLiteDatabase(path: location)
    }

    /// The chosen merchant's order service on this database, with the tables quotes use (shipped, or the store's
    /// current version). Its schemas are migrated first (a merchant made since the last server start may have none).
    func orders(existing: Bool = false) async throws -> OrderService { try await merchantOrders(existing: existing).orders }

    /// The chosen merchant's order service and the schema prefix of its records (for its customers and exports),
    /// from one connection to the store.
    func merchantOrders(existing: Bool = false) async throws -> (orders: OrderService, namespace: String) {
        let database = try open(existing: existing)
        let namespace = try await merchantScope(database).namespace
        if !namespace.isEmpty { try await SchemaRegistry.migrate(database, vault: nil, namespace: namespace, merchantOnly: true) }
        let service = OrderService(database: database, schema: namespace + "orders", tables: try TableLocation.load(nil, store: nil, version: nil),
                                   gateway: nil, keys: try orderKeys())
        try await service.migrate()
        return (service, namespace)
    }
}

struct DbCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "db", abstract: "The order database.",
                                                    subcommands: [Migrate.self, Status.self])

    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Apply every pending migration of every component: vault, orders, customers, API keys and idempotency, export log.")
        @OptionGroup var options: DatabaseOptions
        @Option(help: "The vault's SQLite file when the store is SQLite (default: LEVY_VAULT or .levy/vault.sqlite); with PostgreSQL the vault is a schema of the same database.")
        var vault: String?

        func run() async throws {
            let database = try options.open()
            let vaultDatabase = try options.openVault(vault, beside: database)
            var applied = try await SchemaRegistry.migrate(database, vault: vaultDatabase)
            // The ledger's own upgrade (keying an older unkeyed chain) needs the master key: for the home merchant's
            // ledger, then every other merchant's, after its own schemas (the home merchant's are the store's own).
            let tables = try TableLocation.load(nil, store: nil, version: nil), keys = try options.orderKeys()
            try await OrderService(database: database, tables: tables, gateway: nil, keys: keys).migrate()
            for (_, namespace) in try await MerchantService(database: database).namespaces() where !namespace.isEmpty {
                applied += try await SchemaRegistry.migrate(database, vault: vaultDatabase, namespace: namespace, merchantOnly: true)
                try await OrderService(database: database, schema: namespace + "orders", tables: tables, gateway: nil, keys: keys).migrate()
            }
            for component in SchemaRegistry.components() {
                let versions = applied.filter { $0.0 == component.schema }.map { String($0.1) }
                print("\(component.schema): " + (versions.isEmpty ? "up to date" : "applied " + versions.joined(separator: ", ")))
            }
            let base = Set(SchemaRegistry.components().map(\.schema))
            for schema in Set(applied.map(\.0)).subtracting(base).sorted() {
                print("\(schema): applied " + applied.filter { $0.0 == schema }.map { String($0.1) }.joined(separator: ", "))
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List every component's migrations, applied and pending: the installation's and the home merchant's, then every other merchant's schemas.")
        @OptionGroup var options: DatabaseOptions
        @Option(help: "The vault's SQLite file when the store is SQLite (default: LEVY_VAULT or .levy/vault.sqlite).")
        var vault: String?
        @Option(help: "Seconds to wait for each store to answer (1-300).") var reachWithin = 10

        /// The operation's result, or an error naming `timeout` when it has not finished within `seconds` (it is then
        /// cancelled and left behind: the command is about to exit).
        static func within<T: Sendable>(_ seconds: Int, _ timeout: String, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
            try await Deadline.run(within: .seconds(seconds), orThrow: { CLIError.input(timeout) }, operation)
        }

        func run() async throws {
            guard (1...300).contains(reachWithin) else { throw CLIError.input("--reach-within: from 1 to 300 seconds") }
            // Status only reads: a SQLite file that is not there yet is not created (a mistyped path must not become
            // a new store); every migration of it is pending, listed from an empty database in memory.
            let database: any SQLDatabase, vaultDatabase: any SQLDatabase
            if let missing = options.missingSQLiteFile() {
                print("no SQLite file at \(missing) yet (levy db migrate or levy serve creates it): every migration is pending")
                database = try SQLiteDatabase(path: ":memory:")
                vaultDatabase = try SQLiteDatabase(path: ":memory:")
            } else {
                database = try options.open()
                vaultDatabase = try options.openVault(vault, beside: database)
            }
            // A store that cannot be reached is an error, not a store with every migration pending. PostgreSQL's
            // client keeps retrying an unreachable server for about a minute; the answer comes within `reachWithin`.
            for (name, store) in [("database", database), ("vault", vaultDatabase)] {
                do { _ = try await Self.within(reachWithin, "the \(name) did not answer within \(reachWithin) s") { try await store.query("SELECT 1 AS one", []) } } catch {
                    throw CLIError.input("levy db status: the \(name) cannot be read: \(error)")
                }
            }
            try await list(SchemaRegistry.components(), database: database, vault: vaultDatabase)
            // Before the merchants component's first migration there is no other merchant to list.
            let namespaces = (try? await MerchantService(database: database).namespaces()) ?? []
            for (_, namespace) in namespaces where !namespace.isEmpty {
                try await list(SchemaRegistry.components(namespace: namespace).filter { !$0.installationWide },
                               database: database, vault: vaultDatabase)
            }
        }

        private func list(_ components: [SchemaRegistry.Component], database: any SQLDatabase, vault: any SQLDatabase) async throws {
            for component in components {
                let target = component.inVault ? vault : database
                // A component never migrated has no migrations table yet: every migration is pending.
                let applied = (try? await component.migrations.status(of: target)) ?? []
                for migration in component.migrations.migrations {
                    print("\(component.schema) \(migration.version) \(migration.name): \(applied.contains(migration.version) ? "applied" : "pending")")
                }
            }
        }
    }
}

struct LedgerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ledger", abstract: "The tax ledger.", subcommands: [Verify.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the ledger's keyed hash chain, and the heads anchored in signed exports; exit 1 if anything is broken.")
        @OptionGroup var options: DatabaseOptions
        @Option(name: .customLong("export"), help: "A signed export folder whose anchored ledger head must still match (repeatable).")
        var exports: [String] = []
        @OptionGroup var trust: ExportTrustOptions

        func run() async throws {
            let service = try await options.orders(existing: true)
            let result = try await service.verifyLedger()
            print(result)
            var broken = result.brokenAt != nil
            var anchors: [(folder: String, head: String)] = []
            for folder in exports {
                let verified = ManifestVerifier.verify(directory: folder, trusted: try trust.trustedKeys())
                guard verified.intact, let manifest = verified.manifest else {
                    print("\(folder): the export does not verify, so its anchor cannot be trusted: \(verified.problems.joined(separator: "; "))")
                    broken = true
                    continue
                }
                anchors.append((folder, manifest.ledgerHead))
            }
            for (anchor, check) in zip(anchors, try await service.verifyLedgerAnchors(anchors.map(\.head))) {
                print("\(anchor.folder): anchor \(anchor.head.isEmpty ? "(empty ledger)" : anchor.head): \(check.matches ? "matches" : "DOES NOT MATCH"): \(check.reason)")
                if !check.matches { broken = true }
            }
            if broken { throw ExitCode(1) }
        }
    }
}

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "demo", abstract: "Demo data.", subcommands: [Seed.self, Settlements.self])

    /// What writing a settlement file takes.
    struct SettlementOptions: ParsableArguments {
        @Option(help: "Also write a processor settlement file for the store's captures and refunds (and FILE.expected.csv).")
        var settlements: String?
        @Option(help: "Its layout: stripe or generic.") var settlementLayout = "stripe"
        @Option(help: "Inject a difference into one movement in N (0: none).") var injectEvery = 25

        /// The layout and the file's folder, checked before anything is written to the store.
        func check() throws -> SettlementLayout? {
            guard let settlements else { return nil }
            guard let layout = SettlementLayout.builtIn(settlementLayout) else {
                throw CLIError.input("--settlement-layout: \"\(settlementLayout)\" is not stripe or generic")
            }
            let folder = (settlements as NSString).deletingLastPathComponent
            var isDirectory: ObjCBool = false
            guard folder.isEmpty || (FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory) && isDirectory.boolValue) else {
                throw CLIError.input("--settlements: the folder \"\(folder)\" does not exist")
            }
            return layout
        }

        func write(service: OrderService, seed: UInt64, taxMismatches: [String]) async throws {
            guard let settlements, let layout = try check() else { return }
            let injected = try await DemoSettlements.write(service: service, to: settlements, layout: layout, seed: seed, injectEvery: injectEvery,
                                                           taxMismatches: taxMismatches)
            let counts = Dictionary(grouping: injected, by: \.reason).map { "\($0.key.rawValue) \($0.value.count)" }.sorted()
            print("wrote \(settlements) (\(layout.name) layout) and \(settlements).expected.csv: \(injected.count) injected differences (\(counts.joined(separator: ", ")))")
        }
    }

    struct Settlements: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a processor settlement file (with injected differences) for the captures and refunds already in the store.")
        @OptionGroup var options: DatabaseOptions
        @OptionGroup var settlement: SettlementOptions
        @Option(help: "The seed of the injected differences.") var seed: UInt64 = 1

        func run() async throws {
            guard settlement.settlements != nil else { throw CLIError.input("--settlements FILE is required") }
            _ = try settlement.check()
            try await settlement.write(service: try await options.orders(), seed: seed, taxMismatches: [])
        }
    }

    struct Seed: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Place, capture and sometimes refund realistic, reproducible orders (no card payments: captured directly).")
        @OptionGroup var options: DatabaseOptions
        @Option(help: "How many orders.") var orders = 1_000
        @Option(help: "The seed: the same seed gives the same orders.") var seed: UInt64 = 1
        @Option(help: "Refund one order in N (0: none).") var refundEvery = 10
        @Flag(help: "Print each order's id once it is durable.") var acknowledge = false
        @OptionGroup var settlement: SettlementOptions
        @Option(help: "With --settlements: tax one order in N with stale tables, a tax mismatch to find (0: none).") var taxMismatchEvery = 50

        func run() async throws {
            _ = try settlement.check()
            let (service, namespace) = try await options.merchantOrders()
            let customers = CustomerService(database: service.database, schema: namespace + "customers")
            try await customers.migrate()
            let stale = settlement.settlements != nil && taxMismatchEvery > 0
                ? DemoSeed.StaleTables(service: service, tables: service.tables, every: taxMismatchEvery) : nil
            let report = try await DemoSeed.run(service: service, customers: customers, count: orders, seed: seed, refundEvery: refundEvery,
                                                stale: stale) { id in
                // Written straight to the file descriptor: nothing buffered is lost if the process is killed.
                if acknowledge { FileHandle.standardOutput.write(Data("durable \(id)\n".utf8)) }
            }
            print(report)
            try await settlement.write(service: service, seed: seed, taxMismatches: report.taxMismatches)
        }
    }
}
