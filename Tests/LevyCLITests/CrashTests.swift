import Foundation
import Orders
import Storage
import TaxTables
import Vault
import Testing

@Suite("Durability")
struct CrashTests {
    static var stores: [String] {
        ["sqlite"] + (ProcessInfo.processInfo.environment["LEVY_TEST_POSTGRES_URL"] != nil ? ["postgres"] : [])
    }

    @Test("kill -9 while placing orders: every acknowledged order is complete, none is partial, the ledger verifies", arguments: stores)
    func killWhileWriting(store: String) async throws {
        let directory = NSTemporaryDirectory() + "levy-crash-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let location: String
        let database: any SQLDatabase
        if store == "postgres" {
            // A database of its own, so other tests' orders do not mix in.
            let admin = try PostgresDatabase(url: ProcessInfo.processInfo.environment["LEVY_TEST_POSTGRES_URL"]!)
            let name = "crash_" + String(UUID().uuidString.lowercased().filter(\.isLetter).prefix(10))
            try await admin.execute("CREATE DATABASE \(name)")
            var components = URLComponents(string: ProcessInfo.processInfo.environment["LEVY_TEST_POSTGRES_URL"]!)!
            components.path = "/" + name
            location = components.string!
            database = try PostgresDatabase(url: location)
        } else {
            location = directory + "/levy.sqlite"
            database = try SQLiteDatabase(path: location)
        }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: LevyBinary.path)
        process.arguments = ["demo", "seed", "--orders", "100000", "--seed", "3", "--acknowledge", "--database", location]
        // The ledger's chain is keyed by the master key: the writer and this test use the same one.
        let masterKey = Array(repeating: UInt8(4), count: 32)
        process.environment = ProcessInfo.processInfo.environment.merging(["LEVY_TABLES": LevyBinary.root.path + "/TaxTables",
                                                                           "LEVY_VAULT_MASTER_KEY": Data(masterKey).base64EncodedString()]) { $1 }
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()

        // Read acknowledgements until 60 orders are durable, then kill the writer mid-stream.
        var text = ""
        while text.components(separatedBy: "durable ").count - 1 < 60 {
            let data = output.fileHandleForReading.availableData
            if data.isEmpty { break }
            text += String(decoding: data, as: UTF8.self)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal)
        text += String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let acknowledged = text.split(separator: "\n").filter { $0.hasPrefix("durable ") && $0.hasSuffix($0.suffix(1)) }.map { String($0.dropFirst(8)) }
            .filter { $0.count > 4 }
        #expect(acknowledged.count >= 60)

        let tables = try CanonicalTables.load(directory: LevyBinary.root.path + "/TaxTables").tables
        let service = OrderService(database: database, tables: tables, gateway: nil, keys: OrderKeys(masterKey: try MasterKey(bytes: masterKey)))
        for id in acknowledged {
            let order = try await service.order(OrderID(id))
            #expect([.captured, .partiallyRefunded, .refunded].contains(order.status), "\(id) is \(order.status)")
            #expect(!order.lines.isEmpty)
        }
        // The kill may land between a capture's claim and its commit: that order is left `capturing` (never
        // acknowledged) until the next start finishes it, as `levy serve` does; then nothing may be left half-done.
        _ = try await service.resumeInterruptedPayments()
        // Nothing half-written: every order has its lines and taxes, every captured order its ledger entries.
        let orders = service.table("orders"), lines = service.table("order_lines"), ledger = service.table("ledger")
        let withoutLines = try await database.query("SELECT COUNT(*) AS n FROM \(orders) o WHERE NOT EXISTS (SELECT 1 FROM \(lines) l WHERE l.order_id = o.id)", [])
        #expect(withoutLines[0].integer("n") == 0)
        let capturedWithoutLedger = try await database.query("""
            SELECT COUNT(*) AS n FROM \(orders) o WHERE o.status NOT IN ('placed', 'declined') AND NOT EXISTS (SELECT 1 FROM \(ledger) g WHERE g.order_id = o.id)
            """, [])
        #expect(capturedWithoutLedger[0].integer("n") == 0)
        #expect(try await service.verifyLedger().brokenAt == nil)
    }
}
