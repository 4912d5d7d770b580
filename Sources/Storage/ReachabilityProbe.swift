import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// Whether the PostgreSQL server can be reached at all, asked by leases that have waited long (`leaseWithin`): a
/// connection of its own is opened and closed again. A pool that is only busy has a reachable server, and its waiters
/// keep their turn; a server that is down or unreachable, or that answers but refuses the connection (too many
/// clients, a password or database it no longer accepts, still starting), fails the probe, and the waiters give up as
/// `StoreUnavailable` instead of waiting for the pool's own circuit breaker; the answer says which of the two it was.
/// Waiters of the same moment share one probe.
final class ReachabilityProbe: Sendable {
    let configuration: PostgresConnection.Configuration
    let logger: Logger
    /// How long one probe's answer stands for later waiters.
    let reuseFor: Duration

    private let current = Mutex<(started: ContinuousClock.Instant, answer: Task<String?, Never>)?>(nil)

    init(configuration: PostgresConnection.Configuration, logger: Logger, reuseFor: Duration = .seconds(2)) {
        self.configuration = configuration
        self.logger = logger
        self.reuseFor = reuseFor
    }

    /// Nil when the server accepted a connection; otherwise why it could not be used, beginning "the server cannot be
    /// reached" or "the server refused the connection" (safe to show: no password).
    func failure() async -> String? {
        let now = ContinuousClock.now
        let task = current.withLock { current -> Task<String?, Never> in
            if let current, now - current.started < reuseFor { return current.answer }
            let answer = Task { [configuration, logger] in await Self.connect(configuration, logger: logger) }
            current = (now, answer)
            return answer
        }
        return await task.value
    }

    static func connect(_ configuration: PostgresConnection.Configuration, logger: Logger) async -> String? {
        do {
            let connection = try await PostgresConnection.connect(on: PostgresConnection.defaultEventLoopGroup.any(), configuration: configuration,
                                                                  id: 0, logger: logger).get()
            try? await connection.close()
            return nil
        } catch let error as PSQLError where error.serverInfo != nil {
            // The server answered, with an error of its own (its SQLSTATE says which).
            return "the server refused the connection: " + StoreErrorText.describe(error)
        } catch {
            return "the server cannot be reached: " + StoreErrorText.describe(error)
        }
    }
}
