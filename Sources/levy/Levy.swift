import ArgumentParser

@main
struct Levy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "levy",
        abstract: "Levy: exact, explainable US sales and use tax.",
        subcommands: [ServeCommand.self, KeysCommand.self, MerchantCommand.self, ExportCommand.self, ReconcileCommand.self, NexusCommand.self, ReportCommand.self, DisclosuresCommand.self, QuoteCommand.self, TablesCommand.self, VaultCommand.self, DbCommand.self, LedgerCommand.self, DemoCommand.self, BenchCommand.self]
    )
}
