import ArgumentParser
import Foundation
import LevyBenchmarks

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure Levy on this machine (build with -c release). Results belong in docs/benchmarks.md.",
        subcommands: [Quote.self, Boundaries.self, VaultTokens.self]
    )

    struct Quote: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Table load time and memory, then quotes per second for 5-line orders to random ZIPs on one core.")

        @Option(help: "Number of orders to quote.") var orders = 200_000
        @Option(help: "Seed for the random orders.") var seed: UInt64 = 42
        @Option(help: "A TaxTables folder (default: the shipped one).") var tables: String?

        func run() throws {
            guard let directory = tables ?? TableLocation.defaultDirectory() else {
                throw ValidationError(InstalledFiles.notFound(InstalledFiles.tables))
            }
            print(try QuoteBenchmark.run(tablesDirectory: directory, orders: orders, seed: seed))
        }
    }

    struct Boundaries: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import a generated SST boundary file of N records into a scratch store, then time address lookups.")

        @Option(help: "Boundary records to generate.") var records = 1_000_000
        @Option(help: "Addresses to look up.") var lookups = 200_000
        @Option(help: "Seed for the generated data.") var seed: UInt64 = 42
        @Option(help: "A TaxTables folder (default: the shipped one).") var tables: String?

        func run() throws {
            guard let directory = tables ?? TableLocation.defaultDirectory() else {
                throw ValidationError(InstalledFiles.notFound(InstalledFiles.tables))
            }
            let store = NSTemporaryDirectory() + "levy-bench-store-\(UUID().uuidString)"
            print(try BoundaryBenchmark.run(records: records, lookups: lookups, seed: seed, tablesDirectory: directory, storeDirectory: store))
        }
    }

    struct VaultTokens: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "vault", abstract: "Tokenizations, masked reads and audited reveals per second on a scratch vault.")

        @Option(help: "Cards to tokenize.") var tokens = 20_000
        @Option(help: "A postgres:// URL to run against instead of a SQLite file.") var postgres: String?

        func run() async throws {
            let directory = NSTemporaryDirectory() + "levy-bench-vault-\(UUID().uuidString)"
            print(try await VaultBenchmark.run(tokens: tokens, directory: directory, postgresURL: postgres))
        }
    }
}
