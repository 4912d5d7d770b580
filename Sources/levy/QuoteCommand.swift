import ArgumentParser
import Foundation
import QuoteContract
import TaxCore

struct QuoteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quote",
        abstract: "Quote tax for an order read as JSON from FILE or standard input (docs/quote-contract.md).",
        discussion: "Exit status: 0 quoted; 1 the order was refused (the message names the field); 3 the tables could not be loaded."
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case json, table }

    @Argument(help: "The order as JSON; standard input when omitted or '-'.")
    var file: String?

    @Option(help: "A TaxTables folder, or a ZIP5 rate CSV in the common layout.")
    var tables: String?

    @Option(help: "The versioned table store (default: LEVY_STORE or .levy/tables); its current version is used when it has one.")
    var store: String?

    @Option(help: "A version of the table store to quote with.")
    var version: String?

    @Option(help: "json (the contract) or table (for people).")
    var format: Format = .json

    func run() throws {
        let tableSet: TaxTableSet
        do { tableSet = try TableLocation.load(tables, store: store, version: version) } catch {
            writeError("levy: \(error)\n")
            throw ExitCode(3)
        }
        // An order is a few kilobytes (the API takes at most 1 MiB); 8 MiB leaves room and bounds the memory.
        let limit = 8 << 20
        let input: Data
        if let file, file != "-" {
            switch LimitedInput.read(file: file, limit: limit) {
            case .success(let data): input = data
            case .failure(.unreadable):
                writeError("levy: cannot read \(file)\n")
                throw ExitCode(1)
            case .failure(.tooLarge):
                writeError("levy: \(file) is larger than \(limit >> 20) MiB; an order is far smaller\n")
                throw ExitCode(1)
            }
        } else {
            guard let data = LimitedInput.read(FileHandle.standardInput, limit: limit) else {
                writeError("levy: standard input is larger than \(limit >> 20) MiB; an order is far smaller\n")
                throw ExitCode(1)
            }
            input = data
        }
        do throws(ContractError) {
            let request = try QuoteCodec.decodeRequest(input)
            let quote: Quote
            do { quote = try TaxCalculator(tables: tableSet).quote(request) } catch {
                throw QuoteCodec.contractError(error)
            }
            switch format {
            case .json: FileHandle.standardOutput.write(QuoteCodec.encode(quote) + Data("\n".utf8))
            case .table: FileHandle.standardOutput.write(Data(QuoteTableRenderer.render(quote).utf8))
            }
        } catch {
            writeError("levy: invalid order: \(error)\n")
            if format == .json { FileHandle.standardOutput.write(QuoteCodec.encode(error) + Data("\n".utf8)) }
            throw ExitCode(1)
        }
    }
}
