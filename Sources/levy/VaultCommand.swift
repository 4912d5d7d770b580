import ArgumentParser
import Foundation
import Storage
import Vault

/// Where the vault lives and which master key opens it.
struct VaultOptions: ParsableArguments {
    @Option(help: "The vault's own SQLite file, or a postgres:// URL (its own schema there) (default: the PostgreSQL order store's, else LEVY_VAULT or .levy/vault.sqlite).")
    var vault: String?
    @Option(help: "A file holding the master key: 32 bytes, or their base64 (default: LEVY_VAULT_MASTER_KEY, LEVY_VAULT_MASTER_KEY_FILE, else a development key).")
    var masterKeyFile: String?

    @Option(help: "The merchant whose vault to open, by id (default: the home merchant's).") var merchant: String?
    @Option(help: "The order store (default: LEVY_DATABASE_URL or .levy/levy.sqlite): on PostgreSQL the vault is a schema of it, as for levy serve; with --merchant, the store that knows the merchants.")
    var database: String?

    /// `existing`: for commands that only read (the audit check), a SQLite vault that is not there is refused rather
    /// than created and answered "0 entries verify".
    func open(existing: Bool = false) async throws -> Vault {
        let env = ProcessInfo.processInfo.environment
        // As `levy serve` chooses it: on a PostgreSQL order store the vault is a schema of that store (probe #17: with
        // only LEVY_DATABASE_URL set, `levy vault rotate` rotated a new SQLite file and said so as if it had worked).
        let onPostgres = (database ?? env["LEVY_DATABASE_URL"]).flatMap { $0.hasPrefix("postgres://") || $0.hasPrefix("postgresql://") ? $0 : nil }
        let location = vault ?? onPostgres ?? env["LEVY_VAULT"] ?? FileManager.default.currentDirectoryPath + "/.levy/vault.sqlite"
        if existing, !location.hasPrefix("postgres://"), !location.hasPrefix("postgresql://"), !FileManager.default.fileExists(atPath: location) {
            throw CLIError.input("--vault: there is no vault at \(location) (levy serve or levy vault tokenize creates one)")
        }
        let key = try masterKey(env)
        // Another merchant's vault is a namespace of its own in the same store (its tokens, its data keys).
        var namespace = ""
        if let merchant {
            var store = DatabaseOptions()
            store.database = database
            store.merchant = merchant
            namespace = try await store.merchantScope(try store.open()).namespace
        }
        if location.hasPrefix("postgres://") || location.hasPrefix("postgresql://") {
            return try await Vault.open(.init(schema: namespace + "vault", masterKey: key), database: try PostgresDatabase(url: location))
        }
        try FileManager.default.createDirectory(atPath: (location as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        return try await Vault.open(.init(databasePath: location, schema: namespace + "vault", masterKey: key))
    }

    func masterKey(_ env: [String: String]) throws -> MasterKey { try Self.masterKey(file: masterKeyFile, env) }

    /// The master key from a file, the environment, or the development key (created at first use, said loudly).
    static func masterKey(file masterKeyFile: String?, _ env: [String: String]) throws -> MasterKey {
        if let masterKeyFile { return try MasterKey.load(file: masterKeyFile) }
        if let key = try MasterKey.fromEnvironment("LEVY_VAULT_MASTER_KEY") { return key }
        if let file = env["LEVY_VAULT_MASTER_KEY_FILE"], !file.isEmpty { return try MasterKey.load(file: file) }
        // The embedded default: a development key beside the data, said loudly.
        let path = FileManager.default.currentDirectoryPath + "/.levy/dev-keys/vault-master.key"
        let created = !FileManager.default.fileExists(atPath: path)
        let key = created ? try MasterKey.generateDevelopmentKey(at: path) : try MasterKey.load(file: path)
        FileHandle.standardError.write(Data("""
            WARNING: the vault is using a DEVELOPMENT master key \(created ? "generated now " : "")at \(path).
            WARNING: card data is only as safe as that file. In production set LEVY_VAULT_MASTER_KEY or --master-key-file.

            """.utf8))
        return key
    }
}

struct VaultCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vault",
        abstract: "The card vault: tokenize, inspect (masked), rotate keys, retire, purge, delete, verify the reveal audit.",
        subcommands: [Tokenize.self, Show.self, Rotate.self, Rewrap.self, Retire.self, Purge.self, Delete.self, Audit.self, Scan.self]
    )

    static let operator_ = VaultCaller(id: "cli", permissions: [.tokenize, .admin])

    struct Tokenize: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Tokenize the card number read from standard input (never from the command line); prints the masked record.")
        @OptionGroup var options: VaultOptions
        @Option(help: "Expiry month (1-12).") var expMonth: Int
        @Option(help: "Expiry year (four digits).") var expYear: Int

        func run() async throws {
            // One card number (at most 19 digits, however grouped) and nothing after it: a second line is refused,
            // not left behind untokenized.
            guard let input = LimitedInput.read(FileHandle.standardInput, limit: 256) else {
                throw ValidationError("standard input holds more than one card number (at most 256 bytes)")
            }
            let lines = String(decoding: input, as: UTF8.self).split(whereSeparator: \.isNewline).filter { !$0.allSatisfy(\.isWhitespace) }
            guard lines.count <= 1 else { throw ValidationError("standard input holds \(lines.count) lines; give one card number") }
            guard let line = lines.first.map(String.init) else { throw ValidationError("give the card number on standard input") }
            let vault = try await options.open()
            do {
                let record = try await vault.tokenize(number: line, expiry: expMonth, expYear, caller: VaultCommand.operator_)
                print(Self.describe(record))
            } catch let error as VaultError {
                writeError("levy: \(error)\n")
                throw ExitCode(1)
            }
        }

        static func describe(_ record: CardRecord) -> String {
            "\(record.token)  \(record.brand.rawValue)  \(record.bin)…\(record.lastFour)  exp \(record.expiry.month)/\(record.expiry.year)  key v\(record.keyVersion)  fingerprint \(record.fingerprint.prefix(16))…"
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a token's masked record (BIN and last four at most).")
        @OptionGroup var options: VaultOptions
        @Argument(help: "The token.") var token: String

        func run() async throws {
            guard let token = Token(token) else { throw ValidationError("\"\(token)\" is not a vault token") }
            do { print(Tokenize.describe(try await options.open().card(token))) } catch let error as VaultError {
                writeError("levy: \(error)\n")
                throw ExitCode(1)
            }
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a data-key version; new tokens use it.")
        @OptionGroup var options: VaultOptions
        func run() async throws { print("key version \(try await options.open().rotate()) is current") }
    }

    struct Rewrap: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Re-encrypt every token under the newest key version.")
        @OptionGroup var options: VaultOptions
        func run() async throws { print("re-encrypted \(try await options.open().rewrap()) token(s)") }
    }

    struct Retire: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Refuse decryption under key versions below N (rewrap first).")
        @OptionGroup var options: VaultOptions
        @Option(help: "The minimum key version that may still decrypt.") var below: Int
        func run() async throws {
            try await options.open().setMinimumDecryptionVersion(below)
            print("key versions below \(below) are retired")
        }
    }

    struct Purge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove tokens past their lifetime.")
        @OptionGroup var options: VaultOptions
        func run() async throws { print("purged \(try await options.open().purgeExpired()) token(s)") }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make a token unrecoverable.")
        @OptionGroup var options: VaultOptions
        @Argument(help: "The token.") var token: String
        func run() async throws {
            guard let token = Token(token) else { throw ValidationError("\"\(token)\" is not a vault token") }
            try await options.open().delete(token)
            print("deleted \(token)")
        }
    }

    struct Audit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The reveal audit.", subcommands: [Verify.self])

        struct Verify: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Check the reveal audit's hash chain; exit 1 if it is broken.")
            @OptionGroup var options: VaultOptions
            func run() async throws {
                let result = try await options.open(existing: true).verifyAudit()
                print(result)
                if result.failure != nil { throw ExitCode(1) }
            }
        }
    }

    struct Scan: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Search files for listed card numbers, security codes and secrets; exit 1 if any is found.")
        @Argument(help: "Files or folders to scan.") var paths: [String]
        @Option(help: "A list of `pan NNNN…`, `cvv NNN` and `secret …` lines.") var cards: String

        func run() throws {
            guard let text = try? String(contentsOfFile: cards, encoding: .utf8) else { throw ValidationError("cannot read \(cards)") }
            let list = CardDataScanner.readList(text)
            let secrets = CardDataScanner.readSecrets(text)
            let findings = CardDataScanner.scan(paths, cards: list.cards, securityCodes: list.codes, secrets: secrets)
            for finding in findings { print(finding) }
            print("card-data scan: \(findings.count) finding(s) in \(paths.joined(separator: ", ")) for \(list.cards.count) card numbers, \(list.codes.count) security codes and \(secrets.count) secrets")
            if !findings.isEmpty { throw ExitCode(1) }
        }
    }
}
