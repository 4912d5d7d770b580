import ArgumentParser
import Foundation
import Orders
import Storage

/// Where read-only jobs (exports, reports, reconciliation, the nexus report) read orders: the primary, or a
/// PostgreSQL streaming replica once it has replayed the primary's ledger head.
struct ReplicaOptions: ParsableArguments {
    @Option(help: "A PostgreSQL streaming replica to read orders from (default LEVY_READ_DATABASE_URL; none: the primary). Logs still go to the primary.")
    var readDatabase: String?
    @Option(help: "Seconds to wait for the replica to replay the primary's ledger head before giving up.")
    var replicaWait = 30

    /// The order service the job reads through: `primary` itself, or one over the replica after it has caught up
    /// with the primary's ledger head as it is now.
    func readService(primary: OrderService) async throws -> OrderService {
        let location = readDatabase ?? ProcessInfo.processInfo.environment["LEVY_READ_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
        guard let location else { return primary }
        guard location.hasPrefix("postgres://") || location.hasPrefix("postgresql://") else {
            throw CLIError.input("--read-database: a postgres:// URL of a streaming replica")
        }
        guard primary.database.dialect == .postgres else { throw CLIError.input("--read-database: the primary is SQLite, which has no replicas") }
        guard (1...3_600).contains(replicaWait) else { throw CLIError.input("--replica-wait: 1 to 3600 seconds") }
        let replica = primary.reading(from: try PostgresDatabase(url: location))
        let head = try await primary.reader.ledgerHead().seq
        do { try await replica.reader.waitForLedger(atLeast: head, timeout: .seconds(replicaWait)) } catch let lag as ReplicaLag {
            throw CLIError.input("--read-database: \(lag)")
        }
        return replica
    }
}
