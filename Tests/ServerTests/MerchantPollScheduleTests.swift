import Testing
@testable import Server

/// How often the background jobs look at each merchant's queue: every second while there is work, less often while
/// there is none (2, 4, then every 8 seconds), and at once when this process queued something.
@Suite("Background jobs' schedule per merchant")
struct MerchantPollScheduleTests {
    let start = ContinuousClock.now

    func at(_ seconds: Double) -> ContinuousClock.Instant { start + .milliseconds(Int(seconds * 1_000)) }

    @Test("an idle merchant is looked at after 2, 4, then every 8 seconds; work brings it back to every second")
    func idleMerchantsBackOff() {
        let schedule = MerchantPollSchedule(longest: .seconds(8))
        #expect(schedule.isDue("m", signal: 0, at: at(0)), "a merchant never looked at is due")
        schedule.looked("m", signal: 0, mark: 0, foundWork: false, at: at(0))
        #expect(!schedule.isDue("m", signal: 0, at: at(1.9)) && schedule.isDue("m", signal: 0, at: at(2)))
        schedule.looked("m", signal: 0, mark: 0, foundWork: false, at: at(2))
        #expect(!schedule.isDue("m", signal: 0, at: at(5.9)) && schedule.isDue("m", signal: 0, at: at(6)))
        schedule.looked("m", signal: 0, mark: 0, foundWork: false, at: at(6))
        #expect(!schedule.isDue("m", signal: 0, at: at(13.9)) && schedule.isDue("m", signal: 0, at: at(14)))
        schedule.looked("m", signal: 0, mark: 0, foundWork: false, at: at(14))
        #expect(!schedule.isDue("m", signal: 0, at: at(21.9)) && schedule.isDue("m", signal: 0, at: at(22)), "never longer than 8 s")
        schedule.looked("m", signal: 0, mark: 0, foundWork: true, at: at(22))
        #expect(!schedule.isDue("m", signal: 0, at: at(22.9)) && schedule.isDue("m", signal: 0, at: at(23)), "work: every second")
        #expect(schedule.isDue("other", signal: 0, at: at(22.5)), "each merchant has its own schedule")
    }

    @Test("work queued by this process makes the merchant due at once")
    func queuedHereIsLookedAtNow() {
        let schedule = MerchantPollSchedule(longest: .seconds(8))
        schedule.looked("m", signal: 3, mark: 0, foundWork: false, at: at(0))
        schedule.looked("m", signal: 3, mark: 0, foundWork: false, at: at(2))
        #expect(!schedule.isDue("m", signal: 3, at: at(2.5)))
        #expect(schedule.isDue("m", signal: 4, at: at(2.5)), "a job queued since the last look")
    }

    @Test("a moved watermark is work found; the same watermark is not")
    func watermarksTellWork() {
        let schedule = MerchantPollSchedule(longest: .seconds(8))
        schedule.looked("m", signal: 0, mark: 10, foundWork: false, at: at(0))
        #expect(!schedule.isDue("m", signal: 0, at: at(1.9)) && schedule.isDue("m", signal: 0, at: at(2)), "a first look found nothing to compare")
        schedule.looked("m", signal: 0, mark: 10, foundWork: false, at: at(2))
        #expect(!schedule.isDue("m", signal: 0, at: at(5.9)) && schedule.isDue("m", signal: 0, at: at(6)))
        schedule.looked("m", signal: 0, mark: 12, foundWork: false, at: at(6))
        #expect(!schedule.isDue("m", signal: 0, at: at(6.9)) && schedule.isDue("m", signal: 0, at: at(7)), "the watermark moved: every second")
    }
}
