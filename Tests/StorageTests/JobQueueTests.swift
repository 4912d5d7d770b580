import Foundation
import LevyTestSupport
import Testing
@testable import Storage

/// The job queue shared by server processes: its limit holds however many enqueue at once.
@Suite("Job queue")
struct JobQueueTests {
    /// Probe #17 (by reading): the limit was counted inside the INSERT, and under PostgreSQL's read committed two
    /// concurrent enqueues each missed the other's row, so a burst went past it. 40 at once against a limit of 5
    /// (over a pool of several connections on PostgreSQL) queue exactly 5.
    @Test(arguments: Store.available)
    func theLimitHoldsUnderABurst(store: Store) async throws {
        let (database, schema) = try store.open()
        try await Migrations(schema: schema, [JobQueue.migration(version: 1, name: "jobs", table: "jobs")]).apply(to: database)
        let queue = JobQueue(database: database, schema: schema, table: "jobs", limit: 5)
        let outcomes = try await withThrowingTaskGroup(of: Bool.self) { group in
            for n in 0..<40 {
                group.addTask {
                    do {
                        _ = try await queue.enqueue(kind: "k", parameters: "{\"n\":\(n)}", key: "key", idPrefix: "job_")
                        return true
                    } catch JobQueue.QueueError.full(5) { return false }
                }
            }
            return try await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 }.count == 5)
        let queued = try await database.query("SELECT COUNT(*) AS n FROM \(database.dialect.render("{schema}jobs", schema: schema))", [])
        #expect(try queued[0].decode("n", as: Int64.self) == 5)
        // A finished job frees its place.
        let first = try #require(try await queue.claimNext())
        try await queue.succeed(first.id, result: "{}", progress: 0)
        _ = try await queue.enqueue(kind: "k", parameters: "{}", key: "key", idPrefix: "job_")
        await #expect(throws: JobQueue.QueueError.full(5)) { try await queue.enqueue(kind: "k", parameters: "{}", key: "key", idPrefix: "job_") }
    }
}
