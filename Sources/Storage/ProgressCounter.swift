import Foundation

/// A count one task writes and another reads (a running job's rows, read by its heartbeat).
public final class ProgressCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0

    public init() {}

    public var value: Int {
        get { lock.withLock { count } }
        set { lock.withLock { count = newValue } }
    }
}
