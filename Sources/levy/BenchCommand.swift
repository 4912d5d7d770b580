import ArgumentParser
import LevyBenchmarks

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure Levy on this machine (build with -c release). Results belong in docs/benchmarks.md.",
        subcommands: [Quote.self]
    )

    struct Quote: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Table load time and memory, then quotes per second for 5-line orders to random ZIPs on one core.")

        @Option(help: "Number of orders to quote.") var orders = 200_000
        @Option(help: "Seed for the random orders.") var seed: UInt64 = 42
        @Option(help: "A TaxTables folder (default: the shipped one).") var tables: String?

        func run() throws {
            guard let directory = tables ?? TableLocation.defaultDirectory() else {
                throw ValidationError("no TaxTables/ folder found; pass --tables")
            }
            print(try QuoteBenchmark.run(tablesDirectory: directory, orders: orders, seed: seed))
        }
    }
}
