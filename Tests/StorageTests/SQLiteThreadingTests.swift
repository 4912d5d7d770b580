import Foundation
import Testing
@testable import Storage

/// SQLite's calls block the thread that makes them (a commit's `fsync`, a `BEGIN IMMEDIATE` polling for another
/// connection's write lock). They must not block Swift's cooperative threads, which are as many as the machine has
/// cores and also run every HTTP request: otherwise a few waiting writers stop the whole process.
@Suite("SQLite keeps off the cooperative threads")
struct SQLiteThreadingTests {
    @Test("writers waiting for a lock, twice as many as there are cores, leave other tasks running")
    func waitingWritersDoNotStarveOtherTasks() async throws {
        let directory = NSTemporaryDirectory() + "levy-sqlite-threading/" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/store.sqlite"
        let holder = try SQLiteDatabase(path: path)
        try await holder.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")

        // One connection holds the write lock until told to let go; its body awaits, it does not block.
        let (release, releaseSignal) = AsyncStream<Void>.makeStream()
        let (locked, lockedSignal) = AsyncStream<Void>.makeStream()
        let holding = Task {
            try await holder.transaction { tx in
                try await tx.execute("INSERT INTO t (id) VALUES (0)")
                lockedSignal.yield()
                for await _ in release { break }
            }
        }
        for await _ in locked { break }

        // Writers on connections of their own, each polling for the lock for up to 5 minutes: the holder lets go
        // only once this test's own tasks have run, which the rest of a parallel test run on two busy cores can
        // delay by a minute or more (a 60-second timeout failed so in CI). Were the writers blocking the
        // cooperative threads, the holder could never let go and they would all fail at the timeout.
        let writers = ProcessInfo.processInfo.activeProcessorCount * 2
        let writing = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for id in 1...writers {
                    let database = try SQLiteDatabase(path: path, busyTimeoutMilliseconds: 300_000)
                    group.addTask { try await database.execute("INSERT INTO t (id) VALUES ($1)", [.integer(Int64(id))]) }
                }
                try await group.waitForAll()
            }
        }
        try await Task.sleep(for: .milliseconds(300))

        // Meanwhile ordinary tasks run: this one sleeps and hands work to a new task, and only then lets the holder go.
        // Had the writers blocked the cooperative threads, it could not go on until they gave up, and they would fail.
        // (How long this takes depends on what else the process runs, the other tests, so it is not asserted.)
        try await Task.sleep(for: .milliseconds(20))
        let answer = await Task { (1...1000).reduce(0, +) }.value
        #expect(answer == 500_500)
        releaseSignal.yield()
        try await holding.value
        try await writing.value
        let count = try await holder.query("SELECT COUNT(*) AS n FROM t").first?.integer("n")
        #expect(count == Int64(writers + 1), "every waiting writer got the lock once it was free")
    }
}
