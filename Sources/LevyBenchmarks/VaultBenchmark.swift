import Foundation
import Storage
import TaxCore
import Vault

/// `levy bench vault`: durable tokenizations per second (each one a committed, fsynced SQLite write), masked
/// reads, and audited reveals through the payment gateway, against a fresh vault in a scratch folder.
public enum VaultBenchmark {
    public static func run(tokens: Int, directory: String, postgresURL: String? = nil) async throws -> String {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let key = try MasterKey(bytes: Array(repeating: 1, count: 32))
        let vault: Vault
        let store: String
        if let postgresURL {
            // A schema of its own, so runs never meet.
            let schema = "vault_bench_" + String(UUID().uuidString.lowercased().filter(\.isLetter).prefix(8))
            vault = try await Vault.open(.init(schema: schema, masterKey: key), database: try PostgresDatabase(url: postgresURL))
            store = "PostgreSQL (schema \(schema))"
        } else {
            vault = try await Vault.open(.init(databasePath: directory + "/vault.sqlite", masterKey: key))
            store = "SQLite"
        }
        let caller = VaultCaller(id: "bench", permissions: [.tokenize])
        let cards = ["4242424242424242", "5555555555554444", "378282246310005", "6011111111111117", "2223003122003222"]
        let clock = ContinuousClock()
        var issued: [Token] = []
        issued.reserveCapacity(tokens)
        let start = clock.now
        for i in 0..<tokens {
            issued.append(try await vault.tokenize(number: cards[i % cards.count], expiry: 12, 2030, caller: caller).token)
        }
        let tokenizeTime = clock.now - start
        let readStart = clock.now
        for token in issued { _ = try await vault.card(token) }
        let readTime = clock.now - readStart
        let gateway = PaymentGateway(vault: vault, processor: SimulatedProcessor())
        let reveals = min(tokens, 10_000)
        let revealStart = clock.now
        for token in issued.prefix(reveals) { _ = try await gateway.authorize(token: token, amount: Money(minorUnits: 100), reference: "bench",
                                                                                          idempotencyKey: "bench:" + token.value) }
        let revealTime = clock.now - revealStart
        func rate(_ n: Int, _ d: Duration) -> String {
            let (s, atto) = d.components
            return String(format: "%.0f/s (%.1f us each)", Double(n) / (Double(s) + Double(atto) / 1e18), (Double(s) + Double(atto) / 1e18) / Double(n) * 1e6)
        }
        return """
            store: \(store)
            tokenize (validate, HMAC fingerprint, AES-256-GCM, durable insert): \(tokens) in \(tokenizeTime), \(rate(tokens, tokenizeTime))
            masked read: \(rate(tokens, readTime))
            authorize through the gateway (audited reveal: decrypt + hash-chained audit insert, simulator): \(rate(reveals, revealTime))
            """
    }
}
