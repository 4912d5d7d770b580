import Foundation
import TaxCore
import TaxTables

/// `levy bench quote`: how long the national tables take to load, how much memory they hold, and how fast a
/// 5-line order to a random ZIP is quoted on one core.
public enum QuoteBenchmark {
    public static func run(tablesDirectory: String, orders: Int, seed: UInt64) throws -> String {
        let rssBefore = ProcessMemory.residentKiB()
        let clock = ContinuousClock()
        let loadStart = clock.now
        let loaded = try CanonicalTables.load(directory: tablesDirectory)
        let loadTime = clock.now - loadStart
        let rssAfter = ProcessMemory.residentKiB()

        var rng = SplitMix64(seed: seed)
        let requests = OrderGenerator.orders(count: orders, zips: loaded.zip5.allRecords, tables: loaded.tables, rng: &rng)
        let calculator = TaxCalculator(tables: loaded.tables)

        // Warm up caches and lazy initialisation before measuring.
        for request in requests.prefix(1_000) { _ = try? calculator.quote(request) }

        var latencies = [Int64](repeating: 0, count: requests.count)
        var failures = 0
        var taxCents: Int64 = 0
        let start = clock.now
        for (i, request) in requests.enumerated() {
            let t0 = clock.now
            do { taxCents &+= try calculator.quote(request).totalTax.minorUnits } catch { failures += 1 }
            latencies[i] = (clock.now - t0).nanoseconds
        }
        let elapsed = clock.now - start
        latencies.sort()
        func percentile(_ p: Double) -> String {
            let index = min(latencies.count - 1, Int(Double(latencies.count) * p))
            return String(format: "%.2f", Double(latencies[index]) / 1_000)
        }
        let perOrder = Double(elapsed.nanoseconds) / Double(requests.count) / 1_000
        return """
            tables: \(loaded.tables.version) (\(loaded.zip5.count) ZIP5 records)
            load: \(String(format: "%.1f", Double(loadTime.nanoseconds) / 1e6)) ms, resident memory +\((rssAfter - rssBefore) / 1024) MiB (\(rssAfter / 1024) MiB in all)
            orders: \(requests.count) x 5 lines, random ZIPs, seed \(seed); failures \(failures); tax checksum \(taxCents)
            quote: \(String(format: "%.2f", perOrder)) us/order mean, \(String(format: "%.0f", 1e6 / perOrder)) orders/s on one core
            latency us: p50 \(percentile(0.5))  p90 \(percentile(0.9))  p99 \(percentile(0.99))  max \(percentile(1.0))
            """
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

/// Resident memory of this process, from /proc (Linux); 0 elsewhere.
enum ProcessMemory {
    static func residentKiB() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
        }
        return 0
    }
}

/// A small, fast, seedable generator so benchmark inputs are the same on every run.
public struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Realistic med-spa orders: in-person services at the origin, content streamed or downloaded and goods shipped
/// to a random ZIP of the tables.
public enum OrderGenerator {
    public static func orders(count: Int, zips: [Zip5Record], tables: TaxTableSet,
                              rng: inout SplitMix64) -> [QuoteRequest] {
        let date = TaxDate(iso: "2026-03-02")!
        let origin = Address(line1: "100 Main St", city: "Minneapolis", state: StateCode("MN")!, zip: ZipCode("55401")!)
        let mixes: [(ProductTaxCode, Fulfilment)] = [
            (.personalCareService, .inPerson), (.massageService, .inPerson), (.digitalVideoStream, .stream),
            (.digitalVideoDownload, .download), (.general, .shipped), (.clothing, .shipped), (.shipping, .shipped),
            (.giftCard, .shipped), (.digitalSubscription, .stream), (.professionalService, .inPerson),
        ]
        let usable = zips.filter { tables.profile($0.state) != nil }
        var requests: [QuoteRequest] = []
        requests.reserveCapacity(count)
        for _ in 0..<count {
            let record = usable[Int.random(in: 0..<usable.count, using: &rng)]
            let destination = Address(line1: "1 Customer Way", city: record.region, state: record.state, zip: record.zip)
            var lines: [QuoteLine] = []
            for i in 0..<5 {
                let (code, fulfilment) = mixes[Int.random(in: 0..<mixes.count, using: &rng)]
                let cents = Int64.random(in: 500...400_000, using: &rng)
                lines.append(QuoteLine(id: "L\(i)", code: code, amount: Money(minorUnits: cents),
                                       quantity: Int64.random(in: 1...3, using: &rng), fulfilment: fulfilment))
            }
            requests.append(QuoteRequest(date: date, origin: origin, destination: destination, lines: lines,
                                         rounding: RoundingMode.allCases[Int.random(in: 0..<3, using: &rng)]))
        }
        return requests
    }
}
