import Foundation
import Storage
import Testing

/// Exports, reports and the nexus report read from a PostgreSQL streaming replica (`--read-database`), as an operator
/// runs them to keep batch reads off the primary. `scripts/test` starts the replica (pg_basebackup and a hot standby).
@Suite("Reading from a streaming replica", .serialized)
struct ReplicaTests {
    static let primaryURL = ProcessInfo.processInfo.environment["LEVY_TEST_POSTGRES_URL"]
    static let replicaURL = ProcessInfo.processInfo.environment["LEVY_TEST_POSTGRES_REPLICA_URL"]

    /// `url` with its database swapped for `name`.
    static func url(_ url: String, database name: String) throws -> String {
        var components = try #require(URLComponents(string: url))
        components.path = "/" + name
        return try #require(components.string)
    }

    @Test("an export from the replica equals the primary's byte for byte; a replica behind the primary is waited for, then refused with a clear error",
          .enabled(if: primaryURL != nil && replicaURL != nil))
    func exportsFromTheReplica() async throws {
        let primaryAdmin = try PostgresDatabase(url: try #require(Self.primaryURL))
        let name = "replica_" + String(UUID().uuidString.lowercased().filter(\.isLetter).prefix(10))
        try await primaryAdmin.execute("CREATE DATABASE \(name)")
        let primary = try Self.url(try #require(Self.primaryURL), database: name)
        let replica = try Self.url(try #require(Self.replicaURL), database: name)
        let directory = NSTemporaryDirectory() + "levy-replica-tests/" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let environment = ["LEVY_VAULT_MASTER_KEY": Data(Array(repeating: UInt8(12), count: 32)).base64EncodedString(),
                           "LEVY_EXPORT_SIGNING_KEY_FILE": "", "LEVY_READ_DATABASE_URL": ""]
        func levy(_ arguments: [String]) throws -> LevyBinary.Result {
            try LevyBinary.run(arguments, environment: environment, in: directory)
        }
        let seeded = try levy(["demo", "seed", "--orders", "120", "--seed", "6", "--database", primary])
        try #require(seeded.status == 0, "\(seeded.stderr)")

        let period = ["--from", "2026-01-01", "--to", "2026-12-31", "--requested-by", "replica test", "--reason", "byte comparison"]
        let fromPrimary = try levy(["export", "detail", "--database", primary, "--out", directory + "/primary"] + period)
        try #require(fromPrimary.status == 0, "\(fromPrimary.stderr)")
        let fromReplica = try levy(["export", "detail", "--database", primary, "--read-database", replica, "--out", directory + "/replica"] + period)
        try #require(fromReplica.status == 0, "\(fromReplica.stderr)")
        let a = try Data(contentsOf: URL(fileURLWithPath: directory + "/primary/detail.csv"))
        let b = try Data(contentsOf: URL(fileURLWithPath: directory + "/replica/detail.csv"))
        #expect(a.count > 10_000 && a == b, "the replica's detail export is the primary's, byte for byte")
        let saft = ["--company-name", "Glow", "--company-registration", "MN-1", "--company-address", "1 Main St|Minneapolis|MN|55402",
                    "--company-contact", "Ada Owner", "--company-phone", "+1 612 555 0100"]
        #expect(try levy(["export", "saft", "--database", primary, "--out", directory + "/saft-p"] + period + saft).status == 0)
        #expect(try levy(["export", "saft", "--database", primary, "--read-database", replica, "--out", directory + "/saft-r"] + period + saft).status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: directory + "/saft-p/saft.xml")) == Data(contentsOf: URL(fileURLWithPath: directory + "/saft-r/saft.xml")))

        // The replica stops replaying; the primary takes more orders. An export must not read the stale copy: it
        // waits, then says why it gave up.
        let standby = try PostgresDatabase(url: replica)
        try await standby.execute("SELECT pg_wal_replay_pause()")
        let more = try levy(["demo", "seed", "--orders", "10", "--seed", "7", "--database", primary])
        try #require(more.status == 0, "\(more.stderr)")
        let behind = try levy(["export", "detail", "--database", primary, "--read-database", replica, "--replica-wait", "2",
                               "--out", directory + "/behind"] + period)
        #expect(behind.status != 0 && behind.stderr.contains("the read replica has replayed the ledger to entry"), "\(behind.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory + "/behind/detail.csv"))
        // Replay resumes: the same export now waits for the replica to catch up and matches the primary again.
        try await standby.execute("SELECT pg_wal_replay_resume()")
        let caughtUp = try levy(["export", "detail", "--database", primary, "--read-database", replica, "--out", directory + "/caught-up"] + period)
        try #require(caughtUp.status == 0, "\(caughtUp.stderr)")
        let now = try levy(["export", "detail", "--database", primary, "--out", directory + "/primary-now"] + period)
        try #require(now.status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: directory + "/caught-up/detail.csv"))
                == Data(contentsOf: URL(fileURLWithPath: directory + "/primary-now/detail.csv")))

        // Reading a copy of another store (its ledger never reaches this primary's head) is refused too.
        let other = name + "_other"
        try await primaryAdmin.execute("CREATE DATABASE \(other)")
        #expect(try levy(["db", "migrate", "--database", try Self.url(primary, database: other)]).status == 0)
        // (The standby creates the database as it replays; wait until it can be read.)
        let otherOnStandby = try PostgresDatabase(url: try Self.url(replica, database: other))
        for _ in 0..<100 {
            if (try? await otherOnStandby.query("SELECT value FROM orders.meta WHERE name = 'ledger_head'")) != nil { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let nexus = try levy(["nexus", "report", "--database", primary, "--read-database", try Self.url(replica, database: other),
                              "--replica-wait", "3", "--year", "2026"])
        #expect(nexus.status != 0 && nexus.stderr.contains("replayed the ledger"), "\(nexus.stderr)")
    }
}
