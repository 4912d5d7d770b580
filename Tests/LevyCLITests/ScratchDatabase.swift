import Foundation
import Storage

/// A PostgreSQL database of its own for one test, on the cluster `LEVY_TEST_POSTGRES_URL` names: created empty, and
/// named by a prefix and random letters so that runs never meet.
enum ScratchDatabase {
    static let postgresURL = ProcessInfo.processInfo.environment["LEVY_TEST_POSTGRES_URL"]

    struct Unavailable: Error {}

    /// The URL of a new, empty database.
    static func create(_ prefix: String) async throws -> String {
        guard let url = postgresURL, var components = URLComponents(string: url) else { throw Unavailable() }
        let name = prefix + "_" + String(UUID().uuidString.lowercased().filter(\.isLetter).prefix(10))
        try await PostgresDatabase(url: url).execute("CREATE DATABASE \(name)")
        components.path = "/" + name
        guard let location = components.string else { throw Unavailable() }
        return location
    }
}
