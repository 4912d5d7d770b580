import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// Whether the PostgreSQL server can be reached at all, asked by leases that have waited long (`leaseWithin`): a
/// connection of its own is opened and closed again. A pool that is only busy has a reachable server, and its waiters
/// keep their turn; a server that is down, refusing or unreachable fails the probe, and the waiters give up as
/// `StoreUnavailable` instead of waiting for the pool's own circuit breaker. Waiters of the same moment share one probe.
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

    /// Nil when the server accepted a connection; otherwise why it could not be used (safe to show: no password).
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
        } catch {
            return StoreErrorText.describe(error)
        }
    }
}
