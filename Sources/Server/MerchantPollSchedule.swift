import Synchronization

/// When a background job looks at each merchant. A merchant whose last look found work is looked at again after a
/// second; one whose look found none after 2, 4, then every `longest` seconds; one for which this process queued
/// work since the last look, on the next pass. Work that another process queued waits at most `longest`. An idle
/// installation of many merchants then costs each job one look per merchant every `longest` seconds instead of
/// every second (docs/benchmarks.md, "Idle merchants").
final class MerchantPollSchedule: Sendable {
    private struct Entry {
        var next: ContinuousClock.Instant
        var interval: Duration
        /// What the merchant's queued-here count was at the last look.
        var signal: Int
        /// What the last look returned (jobs run, a watermark), to tell whether the next one found work.
        var mark: Int64
    }

    let longest: Duration
    private let entries = Mutex<[String: Entry]>([:])

    init(longest: Duration = .seconds(8)) {
        self.longest = longest
    }

    /// Whether `merchant` is to be looked at now.
    func isDue(_ merchant: String, signal: Int, at now: ContinuousClock.Instant) -> Bool {
        entries.withLock { entries in
            guard let entry = entries[merchant] else { return true }
            return now >= entry.next || signal != entry.signal
        }
    }

    /// Records a look; it found work when `foundWork` says so or its mark differs from the previous look's.
    func looked(_ merchant: String, signal: Int, mark: Int64, foundWork: Bool, at now: ContinuousClock.Instant) {
        entries.withLock { entries in
            let previous = entries[merchant]
            let busy = foundWork || previous.map { $0.mark != mark } == true
            let interval: Duration = busy ? .seconds(1) : min(max((previous?.interval ?? .seconds(1)) * 2, .seconds(2)), longest)
            entries[merchant] = Entry(next: now + interval, interval: interval, signal: signal, mark: mark)
        }
    }
}
