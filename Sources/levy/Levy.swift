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

/// Input a command reads whole (an order, a card number), with a limit: at most `limit` bytes from standard input
/// or a file, else nil (the caller names the limit). Reads in pieces, so 1.5 GB piped in costs `limit` bytes of
/// memory, not 3 GB.
enum LimitedInput {
    static func read(_ handle: FileHandle, limit: Int) -> Data? {
        var data = Data()
        while true {
            guard let piece = try? handle.read(upToCount: 65_536), !piece.isEmpty else { return data }
            data.append(piece)
            if data.count > limit { return nil }
        }
    }

    /// A file's bytes, or `.tooLarge` / `.unreadable`.
    static func read(file path: String, limit: Int) -> Result<Data, Failure> {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), !isFolder.boolValue,
              let handle = FileHandle(forReadingAtPath: path) else { return .failure(.unreadable) }
        defer { try? handle.close() }
        return read(handle, limit: limit).map { .success($0) } ?? .failure(.tooLarge)
    }

    enum Failure: Error { case unreadable, tooLarge }
}
