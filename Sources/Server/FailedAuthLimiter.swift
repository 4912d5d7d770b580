import Foundation
import Synchronization

/// Counts failed authentications per client address and per presented key id in one-minute windows, and refuses
/// (429 with `Retry-After`) a client or key id that has failed too often: guessing keys costs a minute per handful
/// of tries instead of a thousand tries a second. Memory is bounded: past `maxTracked` entries, expired windows are
/// dropped, and if none has expired the oldest are.
///
/// Per process: several `levy serve` processes each allow the limit, which still bounds guessing to a small
/// multiple of it.
public final class FailedAuthLimiter: Sendable {
    public let limit: Int
    public let window: TimeInterval
    let maxTracked: Int
    let now: @Sendable () -> Date
    private let windows = Mutex<[String: (start: Date, failures: Int)]>([:])

    public init(limit: Int, window: TimeInterval = 60, maxTracked: Int = 100_000, now: @escaping @Sendable () -> Date = { Date() }) {
        self.limit = limit
        self.window = window
        self.maxTracked = maxTracked
        self.now = now
    }

    /// Seconds until `subject` may try again, or nil if it may try now.
    public func retryAfter(_ subject: String) -> Int? {
        let instant = now()
        return windows.withLock { windows in
            guard let entry = windows[subject], entry.failures >= limit else { return nil }
            let remaining = entry.start.addingTimeInterval(window).timeIntervalSince(instant)
            if remaining <= 0 {
                windows[subject] = nil
                return nil
            }
            return max(1, Int(remaining.rounded(.up)))
        }
    }

    /// Counts one failure against each subject.
    public func recordFailure(_ subjects: [String]) {
        let instant = now()
        windows.withLock { windows in
            for subject in subjects {
                if let entry = windows[subject], instant.timeIntervalSince(entry.start) < window {
                    windows[subject] = (entry.start, entry.failures + 1)
                } else {
                    windows[subject] = (instant, 1)
                }
            }
            if windows.count > maxTracked {
                windows = windows.filter { instant.timeIntervalSince($0.value.start) < window }
                if windows.count > maxTracked {
                    let keep = windows.sorted { $0.value.start > $1.value.start }.prefix(maxTracked / 2)
                    windows = Dictionary(uniqueKeysWithValues: keep.map { ($0.key, $0.value) })
                }
            }
        }
    }
}
