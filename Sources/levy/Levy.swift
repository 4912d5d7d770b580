import ArgumentParser
import Foundation
import JSONInput

@main
struct Levy: AsyncParsableCommand {
    /// As ArgumentParser's own entry point, with one difference: an error's text passes `CardNumberMask` first, as
    /// an error may quote what was typed (`levy vault show 4242...` with a card number instead of a token).
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asynchronous = command as? any AsyncParsableCommand { try await asynchronous.run() } else { try command.run() }
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if code == .success {
                if !message.isEmpty { print(message) }
            } else if !message.isEmpty {
                writeError(message + "\n")
            }
            Foundation.exit(code.rawValue)
        }
    }

    static let configuration = CommandConfiguration(
        commandName: "levy",
        abstract: "Levy: exact, explainable US sales and use tax.",
        subcommands: [ServeCommand.self, KeysCommand.self, MerchantCommand.self, ExportCommand.self, ReconcileCommand.self, NexusCommand.self, ReportCommand.self, DisclosuresCommand.self, QuoteCommand.self, TablesCommand.self, VaultCommand.self, DbCommand.self, LedgerCommand.self, DemoCommand.self, BenchCommand.self]
    )
}

/// Writes to standard error with any card number masked: an error may quote what the user typed or a file held.
func writeError(_ text: String) {
    FileHandle.standardError.write(Data(CardNumberMask.masked(text).utf8))
}
