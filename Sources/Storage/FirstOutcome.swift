import Synchronization

/// A continuation resumed once, by the first of the tasks racing to settle it (work against a deadline, or against
/// its connection closing); later outcomes are dropped.
public final class FirstOutcome<T: Sendable>: Sendable {
    private let continuation: Mutex<CheckedContinuation<T, Never>?>

    public init(_ continuation: CheckedContinuation<T, Never>) { self.continuation = Mutex(continuation) }

    /// Resumes with `outcome` if nothing did before; says whether this was the first.
    @discardableResult
    public func settle(_ outcome: T) -> Bool {
        guard let continuation = continuation.withLock({ $0.take() }) else { return false }
        continuation.resume(returning: outcome)
        return true
    }
}

public enum Deadline {
    /// `operation`'s result or error, or `timeout()` thrown once `limit` has passed without either. Past the limit the
    /// operation is cancelled and left to end on its own: only for work whose late end changes nothing. An operation
    /// that ends first stops the timer.
    public static func run<T: Sendable>(within limit: Duration, orThrow timeout: @escaping @Sendable () -> any Error,
                                        _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        var timer: Task<Void, Never>?
        let outcome = await withCheckedContinuation { (continuation: CheckedContinuation<Result<T, any Error>, Never>) in
            let first = FirstOutcome(continuation)
            let work = Task {
                do { first.settle(.success(try await operation())) } catch { first.settle(.failure(error)) }
            }
            timer = Task {
                try? await Task.sleep(for: limit)
                if first.settle(.failure(timeout())) { work.cancel() }
            }
        }
        timer?.cancel()
        return try outcome.get()
    }
}
