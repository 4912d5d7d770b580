import Foundation
import Server
import Synchronization
import Testing

/// The limiter on a clock the test moves: the throttle tests on the full server run on a clock that stands still,
/// so the window's end is checked here.
@Suite("Failed-authentication limiter")
struct FailedAuthLimiterTests {
    final class Clock: Sendable {
        let instant = Mutex(Date(timeIntervalSince1970: 1_800_000_000))
        func advance(_ seconds: TimeInterval) { instant.withLock { $0 = $0.addingTimeInterval(seconds) } }
        var now: Date { instant.withLock { $0 } }
    }

    @Test func aSubjectIsRefusedUntilItsWindowEnds() {
        let clock = Clock()
        let limiter = FailedAuthLimiter(limit: 3, window: 60, now: { clock.now })
        for _ in 0..<2 { limiter.recordFailure(["client"]) }
        #expect(limiter.retryAfter("client") == nil)
        clock.advance(10)
        limiter.recordFailure(["client"])
        // The window began at the first failure: 50 seconds are left of it.
        #expect(limiter.retryAfter("client") == 50)
        #expect(limiter.retryAfter("other") == nil)
        clock.advance(49.5)
        #expect(limiter.retryAfter("client") == 1)
        clock.advance(0.5)
        #expect(limiter.retryAfter("client") == nil)
        // A failure after the window starts a new one.
        limiter.recordFailure(["client"])
        #expect(limiter.retryAfter("client") == nil)
    }

    @Test func failuresSpreadOverMoreThanAWindowAreNotCountedTogether() {
        let clock = Clock()
        let limiter = FailedAuthLimiter(limit: 3, window: 60, now: { clock.now })
        for _ in 0..<3 {
            limiter.recordFailure(["key"])
            clock.advance(31)
        }
        // The third failure came 62 seconds after the first: a new window with one failure.
        #expect(limiter.retryAfter("key") == nil)
    }

    @Test func memoryStaysBounded() {
        let clock = Clock()
        let limiter = FailedAuthLimiter(limit: 1, window: 60, maxTracked: 10, now: { clock.now })
        for i in 0..<25 {
            limiter.recordFailure(["client-\(i)"])
            clock.advance(1)
        }
        // The newest subjects are kept and still refused; the oldest were dropped.
        #expect(limiter.retryAfter("client-24") != nil)
        #expect(limiter.retryAfter("client-0") == nil)
    }
}
