import Foundation
import NIOCore
import PostgresNIO
import Synchronization

/// Ends the wait of work on a connection the server has closed. PostgresNIO fails a statement whose connection
/// closes under it, but a statement that reaches a connection as it closes can be dropped unanswered (it writes
/// without a promise that could fail), and so can the ROLLBACK of a transaction that failed that way: the request,
/// and the pool's lease of that connection, would wait for good (probe #11: PostgreSQL stopped or its backends
/// terminated under load). Once a connection has closed, work still running on it after `grace` is given up with
/// `StoreUnavailable` (nothing can still commit there: the server ended the session). The abandoned task stays
/// suspended; it holds no lock, only its memory.
final class ClosedConnectionWatch: Sendable {
    /// How long work may still take to end by itself after its connection closed: anything that was going to answer
    /// has, by then, answered with the connection's error.
    let grace: Duration

    private struct Watched {
        var waiters: [Int: @Sendable () -> Void] = [:]
        var closed = false
    }

    private let state = Mutex<(connections: [PostgresConnection.ID: Watched], nextWaiter: Int)>(([:], 0))

    init(grace: Duration = .seconds(2)) { self.grace = grace }

    /// Runs `work` on `connection`; if the connection closes and `work` has not ended `grace` later, throws.
    func run<T: Sendable>(on connection: PostgresConnection, _ work: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withCheckedContinuation { (continuation: CheckedContinuation<Result<T, any Error>, Never>) in
            let outcome = FirstOutcome(continuation)
            let (waiter, firstSeen, alreadyClosed) = state.withLock { state -> (Int, Bool, Bool) in
                let waiter = state.nextWaiter
                state.nextWaiter &+= 1
                let firstSeen = state.connections[connection.id] == nil
                var watched = state.connections[connection.id] ?? Watched()
                watched.waiters[waiter] = { outcome.settle(.failure(StoreUnavailable("the connection closed without answering"))) }
                state.connections[connection.id] = watched
                return (waiter, firstSeen, watched.closed)
            }
            // One close callback per connection, not per statement (a connection may serve millions of them).
            if firstSeen {
                let id = connection.id
                connection.closeFuture.whenComplete { [self] _ in closed(id) }
            }
            if alreadyClosed { closed(connection.id) }
            Task {
                do { outcome.settle(.success(try await work())) } catch { outcome.settle(.failure(error)) }
                state.withLock { _ = $0.connections[connection.id]?.waiters.removeValue(forKey: waiter) }
            }
        }.get()
    }

    /// The connection has closed: after `grace`, every waiter still on it is given up, and the connection forgotten.
    private func closed(_ id: PostgresConnection.ID) {
        state.withLock { $0.connections[id]?.closed = true }
        Task { [grace] in
            try? await Task.sleep(for: grace)
            let waiters = state.withLock { state -> [@Sendable () -> Void] in
                state.connections.removeValue(forKey: id).map { Array($0.waiters.values) } ?? []
            }
            for giveUp in waiters { giveUp() }
        }
    }

    /// How many connections are being watched (for tests: closed ones are forgotten).
    var watchedConnections: Int { state.withLock { $0.connections.count } }
}
