import Foundation
import Storage
import Testing

@Suite("levy vault, as a user runs it")
struct VaultCLITests {
    @Test("tokenize from standard input, show masked, rotate, rewrap, verify the audit; the number never appears in output")
    func lifecycle() throws {
        let directory = NSTemporaryDirectory() + "levy-vault-cli-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let keyFile = directory + "/master.key"
        try Data((Data(repeating: 3, count: 32).base64EncodedString() + "\n").utf8).write(to: URL(fileURLWithPath: keyFile))
        let common = ["--vault", directory + "/vault.sqlite", "--master-key-file", keyFile]
        let tokenized = try LevyBinary.run(["vault", "tokenize", "--exp-month", "12", "--exp-year", "2030"] + common,
                                           stdin: "5555-5555-5555-4444\n")
        #expect(tokenized.status == 0, "\(tokenized.stderr)")
        #expect(!tokenized.stdout.contains("5555555555554444") && !tokenized.stderr.contains("5555555555554444"))
        #expect(!tokenized.stderr.contains("DEVELOPMENT"))
        let token = try #require(tokenized.stdout.split(separator: " ").first.map(String.init))
        let shown = try LevyBinary.run(["vault", "show", token] + common)
        #expect(shown.stdout.contains("mastercard  55555555…4444"))
        #expect(try LevyBinary.run(["vault", "rotate"] + common).stdout.contains("key version 2 is current"))
        #expect(try LevyBinary.run(["vault", "rewrap"] + common).stdout.contains("re-encrypted 1 token(s)"))
        #expect(try LevyBinary.run(["vault", "audit", "verify"] + common).status == 0)
        let bad = try LevyBinary.run(["vault", "tokenize", "--exp-month", "12", "--exp-year", "2030"] + common, stdin: "5555555555554445\n")
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("fails its check digit"))
        #expect(!bad.stderr.contains("5555555555554445"))
    }

    /// Probe #17: with only LEVY_DATABASE_URL set (PostgreSQL), `levy vault rotate` rotated a new SQLite file in
    /// `.levy/` and said "key version 2 is current"; the servers' vault, a schema of that database, was untouched.
    @Test("on a PostgreSQL order store the vault commands use the vault of that store, as levy serve does",
          .enabled(if: ScratchDatabase.postgresURL != nil))
    func vaultOfAPostgresStore() async throws {
        let location = try await ScratchDatabase.create("vaultcli")
        let directory = NSTemporaryDirectory() + "levy-vault-pg-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let keyFile = directory + "/master.key"
        try Data((Data(repeating: 4, count: 32).base64EncodedString() + "\n").utf8).write(to: URL(fileURLWithPath: keyFile))
        let environment = ["LEVY_DATABASE_URL": location, "LEVY_VAULT": ""]
        for expected in ["key version 2 is current", "key version 3 is current"] {
            let rotated = try LevyBinary.run(["vault", "rotate", "--master-key-file", keyFile], environment: environment, in: directory)
            #expect(rotated.status == 0 && rotated.stdout.contains(expected), "\(rotated.stdout) \(rotated.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: directory + "/.levy/vault.sqlite"))
        let versions = try await PostgresDatabase(url: location).query("SELECT version FROM vault.key_versions ORDER BY version", [])
        #expect(versions.compactMap { $0.integer("version") } == [1, 2, 3])
    }
}
