import Foundation
import Testing

/// Two merchants in one store at the command line: `--merchant` picks whose orders, ledger, exports and keys a
/// command works on; without it, the home merchant's (the first created).
@Suite struct MerchantsCLITests {
    @Test("--merchant keeps each merchant's orders, ledger, exports and keys apart")
    func merchantOptionScopesEveryCommand() throws {
        let w = try OperationsCLITests.Workspace()
        let db = ["--database", w.database]
        let home = try w.run(["merchant", "create", "--name", "Glow Med Spa LLC"] + db)
        let second = try w.run(["merchant", "create", "--name", "Radiance Skin Studio"] + db)
        #expect(home.status == 0 && second.status == 0, "\(home.stderr)\(second.stderr)")
        let homeID = home.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let secondID = second.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(secondID.hasPrefix("mer_") && secondID != homeID)

        func orderIDs(_ seeded: LevyBinary.Result) -> Set<String> {
            Set(seeded.stdout.split(separator: "\n").filter { $0.hasPrefix("durable ") }.map { String($0.dropFirst(8)) })
        }
        let homeSeed = try w.run(["demo", "seed", "--orders", "6", "--seed", "3", "--acknowledge"] + db)
        let secondSeed = try w.run(["demo", "seed", "--orders", "4", "--seed", "4", "--acknowledge", "--merchant", secondID] + db)
        let homeOrders = orderIDs(homeSeed), secondOrders = orderIDs(secondSeed)
        #expect(homeOrders.count == 6 && secondOrders.count == 4, "\(homeSeed.stderr)\(secondSeed.stderr)")

        // Each ledger is its own chain; naming the home merchant is the same as naming none.
        let homeLedger = try w.run(["ledger", "verify"] + db)
        let namedHome = try w.run(["ledger", "verify", "--merchant", homeID] + db)
        let secondLedger = try w.run(["ledger", "verify", "--merchant", secondID] + db)
        #expect(homeLedger.status == 0 && secondLedger.status == 0 && homeLedger.stdout == namedHome.stdout)
        #expect(homeLedger.stdout != secondLedger.stdout, "\(homeLedger.stdout) \(secondLedger.stdout)")

        // Each export holds its own merchant's orders and no other's.
        let keyFile = w.directory + "/signing.key"
        try Data(Array(repeating: UInt8(7), count: 32)).base64EncodedString().write(toFile: keyFile, atomically: true, encoding: .utf8)
        for (merchant, own, other) in [([String](), homeOrders, secondOrders), (["--merchant", secondID], secondOrders, homeOrders)] {
            let out = w.directory + "/export-" + (merchant.last ?? "home")
            let export = try w.run(["export", "detail", "--from", "2000-01-01", "--to", "2099-12-31", "--out", out, "--no-personal-data",
                                    "--signing-key", keyFile] + merchant + db)
            #expect(export.status == 0, "\(export.stderr)")
            let detail = try String(contentsOfFile: out + "/detail.csv", encoding: .utf8)
            #expect(own.allSatisfy(detail.contains) && !other.contains(where: detail.contains))
        }

        // A key made for the second merchant is listed with it, not with the home merchant.
        let key = try w.run(["keys", "create", "--scope", "checkout", "--label", "radiance checkout", "--merchant", secondID] + db)
        #expect(key.status == 0 && key.stdout.hasPrefix("lvk_"), "\(key.stderr)")
        let listedSecond = try w.run(["keys", "list", "--merchant", secondID] + db)
        #expect(listedSecond.stdout.contains("radiance checkout") && listedSecond.stdout.contains("merchant " + secondID))
        let listedHome = try w.run(["keys", "list", "--merchant", homeID] + db)
        #expect(listedHome.status == 0 && !listedHome.stdout.contains("radiance checkout"))
        #expect(try w.run(["merchant", "show", "--merchant", secondID] + db).stdout.contains("Radiance Skin Studio"))

        // A card tokenized into the second merchant's vault is found there only.
        let vault = ["--vault", w.directory + "/vault.sqlite"]
        let tokenized = try w.run(["vault", "tokenize", "--exp-month", "12", "--exp-year", "2031", "--merchant", secondID] + vault + db,
                                  stdin: "4242424242424242\n")
        let token = try #require(tokenized.stdout.split(separator: " ").first.map(String.init), "\(tokenized.stderr)")
        #expect(token.hasPrefix("tok_"))
        #expect(try w.run(["vault", "show", token, "--merchant", secondID] + vault + db).stdout.contains("4242"))
        #expect(try w.run(["vault", "show", token] + vault).status != 0)

        // An id the store does not know is refused by name; migrations reach the second merchant's schemas too.
        let unknown = try w.run(["ledger", "verify", "--merchant", "mer_aaaaaaaaaaaaaaaa"] + db)
        #expect(unknown.status != 0 && unknown.stderr.contains("no merchant mer_aaaaaaaaaaaaaaaa"), "\(unknown.stderr)")
        let third = try w.run(["merchant", "create", "--name", "Lumen Aesthetics"] + db).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let migrated = try w.run(["db", "migrate", "--vault", w.directory + "/vault.sqlite"] + db)
        #expect(migrated.status == 0 && migrated.stdout.contains(third + "_orders: applied 1, 2, 3"), "\(migrated.stdout)")
        #expect(migrated.stdout.contains(third + "_vault: applied 1, 2") && !migrated.stdout.contains(secondID + "_"), "\(migrated.stdout)")
        // And the status lists every merchant's schemas, all applied.
        let status = try w.run(["db", "status", "--vault", w.directory + "/vault.sqlite"] + db)
        #expect(status.status == 0 && status.stdout.contains(third + "_orders 1 ") && status.stdout.contains(secondID + "_vault 1 "), "\(status.stdout)")
        #expect(!status.stdout.contains("pending") && !status.stdout.contains(third + "_api") && !status.stdout.contains(third + "_merchants"), "\(status.stdout)")
    }
}
