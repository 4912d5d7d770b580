import Foundation
import Testing

/// The operator's commands, each run once with its exit status and output checked: database migrations, the
/// ledger check, API keys, the vault's retention and key commands, table versions and their diff, the ZIP5
/// converter and the HTML report. Each test works in a folder of its own with an explicit master key, so nothing
/// is shared with other tests' development keys.
@Suite struct OperationsCLITests {
    struct Workspace {
        let directory: String
        let environment: [String: String]

        init() throws {
            directory = NSTemporaryDirectory() + "levy-ops-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            environment = ["LEVY_VAULT_MASTER_KEY": Data(Array(repeating: UInt8(11), count: 32)).base64EncodedString()]
        }

        var database: String { directory + "/levy.sqlite" }

        func run(_ arguments: [String], stdin: String? = nil) throws -> LevyBinary.Result {
            try LevyBinary.run(arguments, stdin: stdin, environment: environment)
        }
    }

    @Test func migrationsAndTheirStatus() throws {
        let w = try Workspace()
        let vault = w.directory + "/vault.sqlite"
        let pending = try w.run(["db", "status", "--database", w.database, "--vault", vault])
        #expect(pending.status == 0 && pending.stdout.contains("orders 1 orders and tax ledger: pending"), "\(pending.stdout)\(pending.stderr)")
        // Every component's schema, from the one registry: vault, orders, customers, API keys and idempotency, export log.
        let first = try w.run(["db", "migrate", "--database", w.database, "--vault", vault])
        #expect(first.status == 0 && first.stdout.contains("orders: applied 1, 2, 3, 4, 5, 6, 7, 8"), "\(first.stdout)\(first.stderr)")
        for line in ["vault: applied 1, 2", "customers: applied 1", "api: applied 1", "exports: applied 1"] {
            #expect(first.stdout.contains(line), "\(line) in \(first.stdout)")
        }
        let again = try w.run(["db", "migrate", "--database", w.database, "--vault", vault])
        #expect(again.status == 0 && again.stdout.split(separator: "\n").allSatisfy { $0.hasSuffix(": up to date") }, "\(again.stdout)")
        let status = try w.run(["db", "status", "--database", w.database, "--vault", vault])
        #expect(status.status == 0 && status.stdout.contains("orders 8 discounts and engagement: applied"))
        #expect(status.status == 0 && status.stdout.contains("vault 2 security codes under short-lived keys: applied"))
        #expect(!status.stdout.contains("pending"), "\(status.stdout)")
    }

    /// A PostgreSQL server that cannot be reached is an error within the deadline, not a store whose every
    /// migration is pending (nothing listens on port 1 here).
    @Test func statusOfAnUnreachableStore() throws {
        let started = Date()
        let unreachable = try LevyBinary.run(["db", "status", "--database", "postgres://levy@127.0.0.1:1/levy", "--reach-within", "3"])
        #expect(unreachable.status != 0 && unreachable.stderr.contains("the database cannot be read"), "\(unreachable.stdout)\(unreachable.stderr)")
        #expect(!unreachable.stdout.contains("pending"))
        #expect(Date().timeIntervalSince(started) < 30)
    }

    /// Probe #11: with PostgreSQL down, every request and command waited about a minute (the connection pool's own
    /// circuit breaker) before it failed. A statement now asks, after its lease wait (5 s), whether the server can be
    /// reached at all, and gives up if not. (Timed in a process of its own: this test process is often saturated.)
    @Test func aStoreThatCannotBeReachedFailsAfterTheLeaseWait() throws {
        let started = Date()
        let result = try LevyBinary.run(["keys", "list", "--database", "postgres://levy@127.0.0.1:1/levy"])
        #expect(result.status != 0 && result.stderr.contains("the server cannot be reached"), "\(result.stdout)\(result.stderr)")
        #expect(Date().timeIntervalSince(started) < 30)
    }

    /// `levy merchant`: create prints the id alone; registrations and the profile then feed the SAF-T header (no
    /// --company-* option needed) and the nexus report (registered states, and since when).
    @Test func merchantProfileFeedsExportsAndNexus() throws {
        let w = try Workspace()
        #expect(try w.run(["demo", "seed", "--orders", "30", "--seed", "4", "--database", w.database]).status == 0)
        // With no profile, SAF-T names the missing field and how to fill it.
        let period = ["--from", "2026-01-01", "--to", "2026-12-31"]
        let missing = try w.run(["export", "saft", "--database", w.database, "--out", w.directory + "/none", "--schema", "none", "--no-personal-data"] + period)
        #expect(missing.status != 0 && missing.stderr.contains("--company-name: not given, and the merchant profile has none"), "\(missing.stderr)")

        let created = try w.run(["merchant", "create", "--database", w.database, "--name", "Glow Med Spa LLC", "--contact", "Ada Lovelace",
                                 "--phone", "+1 612 555 0100", "--address", "800 Nicollet Mall|Minneapolis|MN|55402"])
        let id = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(created.status == 0 && id.hasPrefix("mer_") && !id.contains("\n"), "\(created.stdout)\(created.stderr)")
        let registered = try w.run(["merchant", "register", id, "--database", w.database, "--state", "MN", "--permit", "MN-1234567",
                                    "--from", "2025-01-01"])
        #expect(registered.status == 0 && registered.stdout.contains("registration: MN permit MN-1234567 from 2025-01-01"), "\(registered.stdout)")
        let bad = try w.run(["merchant", "register", "--database", w.database, "--state", "XX", "--permit", "P", "--from", "2025-01-01"])
        #expect(bad.status != 0 && bad.stderr.contains("state: XX is not a US state"), "\(bad.stderr)")
        let located = try w.run(["merchant", "add-location", "--database", w.database, "--location", "mpls", "--name", "Minneapolis spa",
                                 "--address", "800 Nicollet Mall|Minneapolis|MN|55402"])
        #expect(located.status == 0 && located.stdout.contains("location: mpls \"Minneapolis spa\""), "\(located.stdout)\(located.stderr)")
        let listed = try w.run(["merchant", "list", "--database", w.database])
        #expect(listed.stdout == id + "\tGlow Med Spa LLC\n")

        let saft = try w.run(["export", "saft", "--database", w.database, "--out", w.directory + "/saft", "--no-personal-data"] + period)
        #expect(saft.status == 0, "\(saft.stderr)")
        let xml = try String(contentsOfFile: w.directory + "/saft/saft.xml", encoding: .utf8)
        #expect(xml.contains("Glow Med Spa LLC") && xml.contains("MN-1234567") && xml.contains("Nicollet Mall") && xml.contains("Lovelace"))
        // An option still overrides the profile.
        let overridden = try w.run(["export", "saft", "--database", w.database, "--out", w.directory + "/saft2", "--schema", "none", "--no-personal-data",
                                    "--company-name", "Glow Holdings"] + period)
        #expect(overridden.status == 0)
        #expect(try String(contentsOfFile: w.directory + "/saft2/saft.xml", encoding: .utf8).contains("Glow Holdings"))

        let nexus = try w.run(["nexus", "report", "--database", w.database, "--year", "2026", "--as-of", "2026-12-31"])
        #expect(nexus.stdout.contains("registered in MN (merchant profile \(id): MN since 2025-01-01)"), "\(nexus.stdout)")

        // A registration may elect a remote-seller program the tables have, from the program's first day.
        let elected = try w.run(["merchant", "register", "--database", w.database, "--state", "TX", "--permit", "TX-1", "--from", "2026-01-01",
                                 "--election", "single_local_use_tax"])
        #expect(elected.status == 0 && elected.stdout.contains("registration: TX permit TX-1 from 2026-01-01 electing single_local_use_tax"),
                "\(elected.stdout)\(elected.stderr)")
        let early = try w.run(["merchant", "register", "--database", w.database, "--state", "AL", "--permit", "AL-1", "--from", "2015-01-01",
                               "--election", "simplified_sellers_use_tax"])
        #expect(early.status != 0 && early.stderr.contains("--election: AL's simplified_sellers_use_tax starts on 2015-10-01"), "\(early.stderr)")
        let beside = try w.run(["merchant", "register", "--database", w.database, "--state", "MN", "--permit", "MN-9", "--from", "2030-01-01",
                                "--election", "single_local_use_tax"])
        #expect(beside.status != 0 && beside.stderr.contains("the tables have no single_local_use_tax in MN"), "\(beside.stderr)")
        // An address the tables cannot place is refused as the API refuses it (probe #13: the CLI kept one).
        let nowhere = try w.run(["merchant", "add-location", "--database", w.database, "--location", "nowhere", "--name", "x",
                                 "--address", "1 Main|Minneapolis|MN|55999"])
        #expect(nowhere.status != 0 && nowhere.stderr.contains("--address:") && nowhere.stderr.contains("55999"), "\(nowhere.stderr)")
        let elsewhere = try w.run(["merchant", "update", "--database", w.database, "--address", "1 Main|Houston|MN|77002"])
        #expect(elsewhere.status != 0 && elsewhere.stderr.contains("--address:"), "\(elsewhere.stderr)")
        #expect(try w.run(["merchant", "show", "--database", w.database]).stdout.contains("address: 800 Nicollet Mall, Minneapolis, MN 55402"))
    }

    @Test func ledgerVerifyPassesThenCatchesAnEdit() throws {
        let w = try Workspace()
        #expect(try w.run(["demo", "seed", "--orders", "20", "--seed", "4", "--database", w.database]).status == 0)
        let clean = try w.run(["ledger", "verify", "--database", w.database])
        #expect(clean.status == 0 && clean.stdout.contains("ledger verifies"), "\(clean.stdout)\(clean.stderr)")
        let sqlite = Process()
        sqlite.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        sqlite.arguments = ["python3", "-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('UPDATE orders_ledger SET tax = tax + 1 WHERE seq = 3'); c.commit()", w.database]
        try sqlite.run()
        sqlite.waitUntilExit()
        let broken = try w.run(["ledger", "verify", "--database", w.database])
        #expect(broken.status == 1 && broken.stdout.contains("broken at entry 3"))
        // A mistyped path is refused, not created and answered "0 entries verify" (probe #4); status lists it
        // as pending without creating it either.
        let typo = w.directory + "/levy.sqlte"
        let missing = try w.run(["ledger", "verify", "--database", typo])
        // Not the whole path: CLI errors mask card numbers, and a UUID's digits between its dashes sometimes pass for one.
        #expect(missing.status != 0 && missing.stderr.contains("there is no SQLite file at ") && missing.stderr.contains("/levy.sqlte "),
                "\(missing.stdout)\(missing.stderr)")
        #expect(try w.run(["db", "status", "--database", typo]).stdout.contains("every migration is pending"))
        #expect(!FileManager.default.fileExists(atPath: typo))
    }

    /// Input a command reads whole is bounded, and an error quoting what was typed masks a card number (probe #4).
    @Test func boundedInputAndMaskedErrors() throws {
        // A file (standard input is read the same way; a test writing 9 MiB into a pipe the command stops reading
        // would be stopped by SIGPIPE itself).
        let w = try Workspace()
        let file = w.directory + "/big.json"
        try Data(repeating: 0x20, count: 9 << 20).write(to: URL(fileURLWithPath: file))
        let big = try LevyBinary.run(["quote", file])
        #expect(big.status == 1 && big.stderr.contains("big.json is larger than 8 MiB"), "\(big.stderr)")
        let two = try LevyBinary.run(["vault", "tokenize", "--exp-month", "12", "--exp-year", "2030"], stdin: "4242424242424242\n5555555555554444\n")
        #expect(two.status != 0 && two.stderr.contains("holds 2 lines"), "\(two.stderr)")
        let shown = try LevyBinary.run(["vault", "show", "4242 4242 4242 4242"])
        #expect(shown.status != 0 && shown.stderr.contains("[digits removed]") && !shown.stderr.contains("4242 4242"), "\(shown.stderr)")
        // A settlement "file" that never ends is refused, not read forever; an export's request or the merchant's
        // details holding a card number are refused naming the option, as the API refuses them (probe #7).
        let endless = try LevyBinary.run(["reconcile", "--database", w.database, "--settlements", "/dev/zero", "--out", w.directory + "/r"])
        #expect(endless.status != 0 && endless.stderr.contains("not a regular file"), "\(endless.stderr)")
        let card = "5555" + "5555" + "5555" + "4444"
        for arguments in [["export", "detail", "--requested-by", "Ada " + card, "--reason", "audit"],
                          ["export", "saft", "--no-personal-data", "--company-phone", card], ["report", "html", "--merchant-name", card]] {
            let refused = try LevyBinary.run(arguments + ["--database", w.database, "--from", "2026-01-01", "--to", "2026-12-31",
                                                          "--out", w.directory + "/x-" + arguments[1]])
            #expect(refused.status != 0 && refused.stderr.contains("looks like a card number") && !refused.stderr.contains(card), "\(refused.stderr)")
            #expect(!FileManager.default.fileExists(atPath: w.directory + "/x-" + arguments[1]))
        }
    }

    @Test func keysAreCreatedListedAndRevoked() throws {
        let w = try Workspace()
        let created = try w.run(["keys", "create", "--database", w.database, "--scope", "checkout", "--label", "till"])
        #expect(created.status == 0)
        let secret = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(secret.hasPrefix("lvk_"))
        let id = String(secret.split(separator: "_")[1])
        let listed = try w.run(["keys", "list", "--database", w.database])
        #expect(listed.status == 0 && listed.stdout.contains(id) && listed.stdout.contains("till") && !listed.stdout.contains(secret))
        #expect(try w.run(["keys", "revoke", "--database", w.database, id]).status == 0)
        #expect(try w.run(["keys", "list", "--database", w.database]).stdout.contains("revoked"))
        #expect(try w.run(["keys", "revoke", "--database", w.database, "nosuchkey"]).status != 0)
        // The command line keeps the API's rules for labels (shown in the console, audits and logs).
        for label in ["4242 4242 4242 4242", "bell\u{07}", String(repeating: "x", count: 101), " "] {
            let refused = try w.run(["keys", "create", "--database", w.database, "--scope", "checkout", "--label", label])
            #expect(refused.status != 0 && refused.stderr.contains("label:") && !refused.stderr.contains("4242 4242"), "\(refused.stderr)")
        }
        let refusedMerchant = try w.run(["merchant", "create", "--database", w.database, "--name", "4242424242424242"])
        #expect(refusedMerchant.status != 0 && !refusedMerchant.stderr.contains("4242424242424242"), "\(refusedMerchant.stderr)")
    }

    @Test func vaultRetentionAndKeyCommands() throws {
        let w = try Workspace()
        let vault = ["--vault", w.directory + "/vault.sqlite"]
        let tokenized = try w.run(["vault", "tokenize", "--exp-month", "12", "--exp-year", "2031"] + vault, stdin: "4242 4242 4242 4242\n")
        #expect(tokenized.status == 0, "\(tokenized.stderr)")
        let token = try #require(tokenized.stdout.split(whereSeparator: { $0 == " " || $0 == "\n" }).first { $0.hasPrefix("tok_") }.map(String.init))
        #expect(!tokenized.stdout.contains("4242424242424242"))
        #expect(try w.run(["vault", "purge"] + vault).status == 0)
        #expect(try w.run(["vault", "rotate"] + vault).status == 0)
        #expect(try w.run(["vault", "rewrap"] + vault).status == 0)
        let retired = try w.run(["vault", "retire", "--below", "2"] + vault)
        #expect(retired.status == 0, "\(retired.stdout)\(retired.stderr)")
        #expect(try w.run(["vault", "show", token] + vault).status == 0)
        #expect(try w.run(["vault", "delete", token] + vault).status == 0)
        #expect(try w.run(["vault", "show", token] + vault).status != 0)
    }

    @Test func tableVersionsDiffAndTheZip5Converter() throws {
        let w = try Workspace()
        let official = LevyBinary.root.path + "/Fixtures/official/"
        let store = ["--store", w.directory + "/tables"]
        #expect(try w.run(["tables", "import", official + "MNR2026Q2FEB18.csv"] + store).status == 0)
        // The shipped tables hold the boundary sample: a version differs by a boundary record moved to another county.
        let sample = try String(contentsOfFile: official + "MNB2026Q2FEB18-sample.csv", encoding: .utf8)
        try FileManager.default.createDirectory(atPath: w.directory + "/changed", withIntermediateDirectories: true)
        let changed = w.directory + "/changed/MNB2026Q2FEB18-sample.csv"
        try sample.replacingOccurrences(of: ",27,27,123,58000", with: ",27,27,037,58000").write(toFile: changed, atomically: true, encoding: .utf8)
        #expect(try w.run(["tables", "import", official + "MNR2026Q2FEB18.csv", changed] + store).status == 0)
        let versions = try w.run(["tables", "versions"] + store)
        var ids: [String] = []
        for word in versions.stdout.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "*" }) where word.hasPrefix("v") && word.count == 13 {
            if !ids.contains(String(word)) { ids.append(String(word)) }
        }
        #expect(ids.count == 2, "\(versions.stdout)")
        let diff = try w.run(["tables", "diff", ids[0], ids[1]] + store)
        #expect(diff.status == 0 && diff.stdout.contains("boundar"), "\(diff.stdout)\(diff.stderr)")

        let zip5 = LevyBinary.root.path + "/Fixtures/zip5/"
        let out = w.directory + "/zip5.csv"
        let converted = try w.run(["tables", "convert-zip5", "--rates", zip5 + "common-sample.csv", "--geo", zip5 + "geo-sample.csv",
                                   "--effective-from", "2026-02-01", "--source", "fixture", "--out", out])
        #expect(converted.status == 0, "\(converted.stderr)")
        let text = try String(contentsOfFile: out, encoding: .utf8)
        #expect(text.hasPrefix("zip5,state,basis,region,county_fips") && text.contains("55401,MN,zip5,MINNEAPOLIS"))
        #expect(try w.run(["tables", "convert-zip5", "--rates", zip5 + "nonexistent.csv", "--geo", zip5 + "geo-sample.csv",
                           "--effective-from", "2026-02-01", "--source", "fixture", "--out", out]).status != 0)
    }

    @Test func theHTMLReportIsSignedAndVerifies() throws {
        let w = try Workspace()
        #expect(try w.run(["demo", "seed", "--orders", "30", "--seed", "6", "--database", w.database]).status == 0)
        let keyFile = w.directory + "/signing.key"
        try Data(Array(repeating: UInt8(7), count: 32)).base64EncodedString().write(toFile: keyFile, atomically: true, encoding: .utf8)
        let out = w.directory + "/report"
        let report = try w.run(["report", "html", "--database", w.database, "--from", "2026-01-01", "--to", "2026-12-31", "--out", out,
                                "--merchant-name", "Glow Med Spa", "--signing-key", keyFile])
        #expect(report.status == 0, "\(report.stderr)")
        let html = try String(contentsOfFile: out + "/report.html", encoding: .utf8)
        #expect(html.contains("Glow Med Spa") && html.contains("<svg"))
        let signature = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/manifest.sig"))) as? [String: Any]
        let keyID = try #require(signature?["key_id"] as? String)
        #expect(try w.run(["export", "verify", out, "--public-key", keyID]).status == 0)
        let untrusted = try w.run(["export", "verify", out, "--public-key", "0011223344556677"])
        #expect(untrusted.status == 1 && untrusted.stdout.contains("not a trusted key"))
    }
}
