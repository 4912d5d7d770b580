import ArgumentParser
import Foundation
import LevyBenchmarks
import Orders
import Storage
import TaxTables

/// Levy's order store: a SQLite file (the embedded default) or a PostgreSQL database.
struct DatabaseOptions: ParsableArguments {
    @Option(help: "A SQLite file or a postgres:// URL (default: LEVY_DATABASE_URL or .levy/levy.sqlite).") var database: String?

    func open() throws -> any SQLDatabase {
        let location = database ?? ProcessInfo.processInfo.environment["LEVY_DATABASE_URL"]
            ?? FileManager.default.currentDirectoryPath + "/.levy/levy.sqlite"
        if location.hasPrefix("postgres://") || location.hasPrefix("postgresql://") { return try PostgresDatabase(url: location) }
        let folder = (location as NSString).deletingLastPathComponent
        if !folder.isEmpty { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        return try SQLiteDatabase(path: location)
    }

    /// The order service on this database, with the tables quotes use (shipped, or the store's current version).
    func orders() async throws -> OrderService {
        let service = OrderService(database: try open(), tables: try TableLocation.load(nil, store: nil, version: nil), gateway: nil)
        try await service.migrate()
        return service
    }
}

struct DbCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "db", abstract: "The order database.",
                                                    subcommands: [Migrate.self, Status.self])

    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Apply every pending migration.")
        @OptionGroup var options: DatabaseOptions
        func run() async throws {
            let service = OrderService(database: try options.open(), tables: try TableLocation.load(nil, store: nil, version: nil), gateway: nil)
            let applied = try await OrderService.migrations(schema: service.schema).apply(to: service.database)
            print(applied.isEmpty ? "orders: up to date" : "orders: applied \(applied.map(String.init).joined(separator: ", "))")
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the migrations applied and pending.")
        @OptionGroup var options: DatabaseOptions
        func run() async throws {
            let database = try options.open()
            let migrations = OrderService.migrations(schema: "orders")
            let applied = (try? await migrations.status(of: database)) ?? []
            for migration in migrations.migrations {
                print("orders \(migration.version) \(migration.name): \(applied.contains(migration.version) ? "applied" : "pending")")
            }
        }
    }
}

struct LedgerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ledger", abstract: "The tax ledger.", subcommands: [Verify.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check the ledger's hash chain; exit 1 if it is broken.")
        @OptionGroup var options: DatabaseOptions
        func run() async throws {
            let result = try await options.orders().verifyLedger()
            print(result)
            if result.brokenAt != nil { throw ExitCode(1) }
        }
    }
}

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "demo", abstract: "Demo data.", subcommands: [Seed.self])

    struct Seed: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Place, capture and sometimes refund realistic, reproducible orders (no card payments: captured directly).")
        @OptionGroup var options: DatabaseOptions
        @Option(help: "How many orders.") var orders = 1_000
        @Option(help: "The seed: the same seed gives the same orders.") var seed: UInt64 = 1
        @Option(help: "Refund one order in N (0: none).") var refundEvery = 10
        @Flag(help: "Print each order's id once it is durable.") var acknowledge = false

        func run() async throws {
            let service = try await options.orders()
            let customers = CustomerService(database: service.database)
            try await customers.migrate()
            let report = try await DemoSeed.run(service: service, customers: customers, count: orders, seed: seed, refundEvery: refundEvery) { id in
                // Written straight to the file descriptor: nothing buffered is lost if the process is killed.
                if acknowledge { FileHandle.standardOutput.write(Data("durable \(id)\n".utf8)) }
            }
            print(report)
        }
    }
}
