import _ConnectionPoolModule
import Foundation
import PostgresNIO

/// The store could not do the work now, though nothing about the request was wrong: connections to the server keep
/// failing (it is down), a lock was held past `lock_timeout`, the server is shutting down, or SQLite's write lock
/// stayed taken past its busy timeout. The API answers 503 with `Retry-After`; the same
/// request may succeed later, so it is never stored as an idempotent answer.
public struct StoreUnavailable: Error, Equatable, CustomStringConvertible {
    /// What the store reported, in words safe to show (`classify` names it).
    public var reason: String

    public init(_ reason: String) { self.reason = reason }

    public var description: String { "the database is unavailable for now (\(reason))" }

    /// Whether `error` is the store being unavailable for now rather than a fault of the request or of Levy, and
    /// in words safe to log (never the statement's values). Nil for every other error.
    public static func classify(_ error: any Error) -> StoreUnavailable? {
        switch error {
        case let error as StoreUnavailable: return error
        case let error as PostgresTransactionError:
            // BEGIN, the body, COMMIT or the rollback: the first that failed for a passing reason decides.
            return [error.beginError, error.closureError, error.commitError, error.rollbackError].lazy.compactMap { $0.flatMap(classify) }.first
        case let error as ConnectionPoolError where error == .connectionCreationCircuitBreakerTripped:
            return StoreUnavailable("connections to the server keep failing")
        case let error as PSQLError:
            switch error.code {
            case .connectionError, .serverClosedConnection, .uncleanShutdown: return StoreUnavailable("the connection failed")
            case .server:
                guard let state = error.serverInfo?[.sqlState] else { return nil }
                // 08: connection exceptions; 53300 too many connections; 55P03 lock not available (lock_timeout);
                // 57014 a statement cancelled (statement_timeout); 57P01-57P03 the server shutting down or starting.
                if state.hasPrefix("08") || ["53300", "55P03", "57014", "57P01", "57P02", "57P03"].contains(state) {
                    return StoreUnavailable("SQLSTATE \(state)")
                }
                return nil
            default: return nil
            }
        case let error as SQLError where error.code == 5 || error.code == 6:
            return StoreUnavailable("SQLite's write lock is taken (\(error.code == 5 ? "SQLITE_BUSY" : "SQLITE_LOCKED"))")
        default: return nil
        }
    }
}

/// What a store error says, for the server's log. PostgresNIO's own description of a `PSQLError` is a fixed text
/// that hides the cause ("Generic description to prevent accidental leakage"); this names its code, SQLSTATE and the
/// server's message (never the statement or its bound values; a message may quote a value, so callers mask it).
public enum StoreErrorText {
    public static func describe(_ error: any Error) -> String {
        switch error {
        case let error as PSQLError:
            var parts = ["PSQLError \(error.code)"]
            if let state = error.serverInfo?[.sqlState] { parts.append("SQLSTATE \(state)") }
            if let message = error.serverInfo?[.message] { parts.append(String(message.prefix(200))) }
            return parts.joined(separator: ": ")
        case let error as PostgresTransactionError:
            let failed = [("begin", error.beginError), ("body", error.closureError), ("commit", error.commitError), ("rollback", error.rollbackError)]
            return "transaction: " + failed.compactMap { name, error in error.map { "\(name) \(describe($0))" } }.joined(separator: "; ")
        default:
            return String(describing: type(of: error)) + ": " + String(describing: error)
        }
    }
}
