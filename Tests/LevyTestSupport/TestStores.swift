import Foundation
import Storage
import Testing

/// The stores every store test runs on: SQLite always, PostgreSQL when `scripts/test` started one
/// (`LEVY_TEST_POSTGRES_URL`). One definition for every test target.
public enum Store: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgres

    public static var available: [Store] { TestStores.postgresURL == nil ? [.sqlite] : [.sqlite, .postgres] }

    public var testDescription: String { rawValue }

    /// A fresh place on this store: a new SQLite file named `file` in a new folder under `label`, or the shared
    /// PostgreSQL test database (give each test its own schema: `TestStores.schema`).
    public func database(_ label: String, file: String = "levy.sqlite") throws -> (database: any SQLDatabase, directory: String) {
        let directory = TestStores.directory(label)
        switch self {
        case .sqlite: return (try SQLiteDatabase(path: directory + "/" + file), directory)
        case .postgres: return (try TestStores.requirePostgres(), directory)
        }
    }
}

/// Shared test places: temporary folders, the PostgreSQL test database, fresh schema names.
public enum TestStores {
    public static let postgresURL: String? = ProcessInfo.processInfo.environment["LEVY_TEST_POSTGRES_URL"]

    /// One pool for the whole test run (each test works in a schema of its own).
    public static let postgres: PostgresDatabase? = postgresURL.flatMap { try? PostgresDatabase(url: $0) }

    public static func requirePostgres() throws -> PostgresDatabase {
        guard let postgres else { throw Unavailable(what: "PostgreSQL (LEVY_TEST_POSTGRES_URL)") }
        return postgres
    }

    /// A new empty folder under the temporary directory: `<tmp>/<label>/<uuid>`.
    public static func directory(_ label: String) -> String {
        let path = NSTemporaryDirectory() + label + "/" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// A fresh schema name: `prefix` and twelve random letters.
    public static func schema(_ prefix: String) -> String {
        prefix + String(UUID().uuidString.lowercased().filter(\.isLetter).prefix(12))
    }

    public struct Unavailable: Error, CustomStringConvertible {
        public var what: String
        public init(what: String) { self.what = what }
        public var description: String { "\(what) is not available to this test run" }
    }
}

/// A small RFC 4180 reader for checking what exports and reports wrote: the records after the header, by column.
public func readCSV(_ path: String, delimiter: Character = ",") throws -> [[String: String]] {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    var records: [[String]] = [], field = "", record: [String] = [], quoted = false, afterQuote = false
    for c in text {
        if quoted {
            if c == "\"" { quoted = false; afterQuote = true } else { field.append(c) }
            continue
        }
        switch c {
        case "\"": if afterQuote { field.append("\"") }; quoted = true; afterQuote = false
        case delimiter: record.append(field); field = ""; afterQuote = false
        case "\r\n", "\n": record.append(field); records.append(record); record = []; field = ""; afterQuote = false
        default: field.append(c); afterQuote = false
        }
    }
    guard !records.isEmpty else { return [] }
    let header = records.removeFirst()
    return records.map { Dictionary(uniqueKeysWithValues: zip(header, $0)) }
}

/// A small deterministic random number generator (SplitMix64) for seeded property tests: a failure replays.
public struct SplitMix64: RandomNumberGenerator {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Runs blocking work (socket I/O, loading and importing tables) on a thread of its own: blocking one of the few
/// threads that run Swift tasks would starve the in-process servers other tests run at the same time.
public func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}
