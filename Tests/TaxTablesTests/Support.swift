import Foundation
import TaxCore
@testable import TaxTables

enum Repo {
    /// The package root, found from this file's path so tests run from any working directory.
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static let shippedTables = root + "/TaxTables"
    static let fixtures = root + "/Fixtures"

    /// The shipped tables, loaded once for all tests.
    static let shipped: CanonicalTables.Loaded = {
        do { return try CanonicalTables.load(directory: shippedTables) } catch { fatalError("shipped tables do not load: \(error)") }
    }()

    static func bytes(_ path: String) -> [UInt8] { [UInt8](FileManager.default.contents(atPath: path)!) }

    /// A fresh copy of a fixture table folder, to break one file of it.
    static func copyOfMinimalTables() throws -> String {
        let target = NSTemporaryDirectory() + "levy-tables-" + UUID().uuidString
        try FileManager.default.copyItem(atPath: fixtures + "/tables/minimal", toPath: target)
        return target
    }
}

extension Address {
    static func zip(_ state: String, _ zip: String) -> Address {
        Address(line1: "1 Test St", city: "", state: StateCode(state)!, zip: ZipCode(zip)!)
    }
}
