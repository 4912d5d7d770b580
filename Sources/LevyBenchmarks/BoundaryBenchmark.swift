import Foundation
import TaxCore
import TaxTables

/// `levy bench boundaries`: generates an SST boundary file of N records in the official 89-column layout (with a
/// matching rate file), imports it into a fresh table store, and times address lookups against it.
public enum BoundaryBenchmark {
    static let streets = ["MAIN", "OAK", "MAPLE", "CEDAR", "PINE", "ELM", "WASHINGTON", "LAKE", "HILL", "PARK", "MARQUETTE",
                          "NICOLLET", "HENNEPIN", "UNIVERSITY", "SNELLING", "LYNDALE", "FRANCE", "CENTRAL", "RIVER", "SUMMIT"]
    static let suffixes = ["ST", "AVE", "BLVD", "DR", "RD", "LN", "CT", "PL", "WAY", "PKWY"]

    public static func run(records: Int, lookups: Int, seed: UInt64, tablesDirectory: String, storeDirectory: String) throws -> String {
        var rng = SplitMix64(seed: seed)
        let clock = ContinuousClock()
        let base = try CanonicalTables.load(directory: tablesDirectory)

        // A rate file for the jurisdictions the boundary records name: the state, 87 counties, 900 places, 40 districts.
        var rates = "27,45,27,0.06875,0.06875,0.06875,0.06875,20090701,29991231\n"
        for county in stride(from: 1, through: 173, by: 2) { rates += "27,00,\(county),0.005,0.005,0.005,0.005,20100101,29991231\n" }
        for place in 0..<900 { rates += "27,01,\(10_000 + place * 50),0.005,0.005,0.005,0.005,20100101,29991231\n" }
        for district in 0..<40 { rates += "27,63,\(80_000 + district),0.0025,0.0025,0.0025,0.0025,20100101,29991231\n" }

        // Records: 60% street ranges, 30% ZIP+4 ranges, 10% ZIP5 ranges, over 1,500 MN ZIPs.
        var generated = clock.now
        var text = ""
        text.reserveCapacity(records * 130)
        var addressSamples: [Address] = []
        let empty = String(repeating: ",", count: 14)
        for i in 0..<records {
            let zip = 55_001 + Int.random(in: 0..<1_500, using: &rng)
            let county = 1 + 2 * Int.random(in: 0..<87, using: &rng)
            let place = Int.random(in: 0..<4, using: &rng) == 0 ? "" : String(10_000 + Int.random(in: 0..<900, using: &rng) * 50)
            let district = Int.random(in: 0..<3, using: &rng) == 0 ? "ST,\(80_000 + Int.random(in: 0..<40, using: &rng)),63" : ",,"
            let tail = ",,27,27,\(county),\(place),,,,\(district)" + String(repeating: ",", count: 57)
            let kind = i % 10
            if kind < 6 {
                let street = streets[Int.random(in: 0..<streets.count, using: &rng)] + " \(i / 997)"
                let suffix = suffixes[Int.random(in: 0..<suffixes.count, using: &rng)]
                let low = Int.random(in: 1..<9_000, using: &rng) / 100 * 100
                text += "A,20200101,99991231,\(low),\(low + 98),B,,\(street),\(suffix),,,,,,CITY,\(zip),,,,,\(tail)\n"
                if addressSamples.count < lookups / 2 {
                    addressSamples.append(Address(line1: "\(low + 2 * Int.random(in: 0..<49, using: &rng)) \(street) \(suffix)", state: StateCode("MN")!,
                                                  zip: ZipCode(zip5: Int32(zip))))
                }
            } else if kind < 9 {
                let ext = Int.random(in: 0..<9_900, using: &rng)
                text += "4,20200101,99991231\(empty),\(zip),\(ext),\(zip),\(ext + 99)\(tail)\n"
            } else {
                text += "Z,20200101,99991231\(empty),\(zip),,\(zip),\(tail)\n"
            }
        }
        while addressSamples.count < lookups {
            let zip = 55_001 + Int.random(in: 0..<1_500, using: &rng)
            let plus4 = Int16(Int.random(in: 0..<10_000, using: &rng))
            addressSamples.append(Address(line1: "", state: StateCode("MN")!, zip: ZipCode(zip5: Int32(zip), plus4: Int.random(in: 0..<2, using: &rng) == 0 ? plus4 : nil)))
        }
        let bytes = Array(text.utf8)
        let generateTime = clock.now - generated
        generated = clock.now

        let rssBefore = ProcessMemory.residentKiB()
        let importStart = clock.now
        let store = TableStore(directory: storeDirectory)
        let files: [(file: OfficialFile, bytes: [UInt8])] = [
            (OfficialFile(kind: .sstRates, state: "MN", name: "MNR-bench.csv"), Array(rates.utf8)),
            (OfficialFile(kind: .sstBoundaries, state: "MN", name: "MNB-bench.csv"), bytes),
        ]
        let (manifest, _) = try store.importFiles(files, base: base, now: Date())
        let importTime = clock.now - importStart

        let loadStart = clock.now
        let tables = try store.load(manifest.id, base: base).tables
        let loadTime = clock.now - loadStart
        let rssAfter = ProcessMemory.residentKiB()

        var latencies = [Int64](repeating: 0, count: addressSamples.count)
        var precision: [ResolutionPrecision: Int] = [:]
        let date = TaxDate(iso: "2026-03-02")!
        let lookupStart = clock.now
        for (i, address) in addressSamples.enumerated() {
            let t0 = clock.now
            if let location = try? tables.locals.resolve(address, on: date) { precision[location.precision, default: 0] += 1 }
            latencies[i] = (clock.now - t0).nanoseconds
        }
        let lookupTime = clock.now - lookupStart
        latencies.sort()
        func us(_ p: Double) -> String { String(format: "%.2f", Double(latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))]) / 1_000) }
        func ms(_ d: Duration) -> String { String(format: "%.0f ms", Double(d.nanoseconds) / 1e6) }
        try? FileManager.default.removeItem(atPath: storeDirectory)
        return """
            boundary file: \(records) records, \(bytes.count / 1_048_576) MiB (generated in \(ms(generateTime)), seed \(seed))
            import (read + check + build + write version): \(ms(importTime)), \(String(format: "%.0f", Double(records) / (Double(importTime.nanoseconds) / 1e9))) records/s
            load version (re-read and index): \(ms(loadTime)); resident memory +\((rssAfter - rssBefore) / 1024) MiB
            lookups: \(addressSamples.count) addresses in \(ms(lookupTime)), \(String(format: "%.2f", Double(lookupTime.nanoseconds) / Double(addressSamples.count) / 1_000)) us mean, p50 \(us(0.5)) us, p99 \(us(0.99)) us
            precision: \(precision.sorted { $0.key < $1.key }.map { "\($0.key.rawValue) \($0.value)" }.joined(separator: ", "))
            """
    }
}
