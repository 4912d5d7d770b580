import Foundation
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
}
