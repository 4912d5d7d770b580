/// A stored value that is not what its column should hold: the column, what was expected and what was found (a
/// type name, never the value, which may be personal or secret). Nothing read from a database is trusted: a row
/// edited by hand, by an attacker or by a bug answers this error instead of crashing the process.
public struct RowDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    public var column: String
    public var expected: String
    public var found: String

    public init(column: String, expected: String, found: String) {
        self.column = column
        self.expected = expected
        self.found = found
    }

    public var description: String { "stored column \(column) holds \(found), expected \(expected)" }
}

/// A Swift value a database cell can be decoded into.
public protocol SQLCellDecodable {
    /// The value, or nil if the cell does not hold one of this type (NULL is handled by the caller).
    init?(cell: SQLValue)
    static var expectedName: String { get }
}

extension Int64: SQLCellDecodable {
    public init?(cell: SQLValue) {
        switch cell {
        case .integer(let value): self = value
        // PostgreSQL returns some computed integers (COUNT, SUM) as text-free numerics; SQLite never stores text
        // for an integer column unless it was written as text, which is refused.
        default: return nil
        }
    }

    public static var expectedName: String { "an integer" }
}

extension Int: SQLCellDecodable {
    public init?(cell: SQLValue) {
        guard case .integer(let value) = cell, let int = Int(exactly: value) else { return nil }
        self = int
    }

    public static var expectedName: String { "an integer" }
}

extension String: SQLCellDecodable {
    public init?(cell: SQLValue) {
        guard case .text(let value) = cell else { return nil }
        self = value
    }

    public static var expectedName: String { "text" }
}

extension Array: SQLCellDecodable where Element == UInt8 {
    public init?(cell: SQLValue) {
        guard case .blob(let value) = cell else { return nil }
        self = value
    }

    public static var expectedName: String { "bytes" }
}

extension SQLValue {
    @usableFromInline var typeName: String {
        switch self {
        case .integer: "an integer"
        case .text: "text"
        case .blob: "bytes"
        case .null: "NULL"
        }
    }
}

extension SQLRow {
    /// The column's value; a missing column, NULL or another type is a `RowDecodingError`. Inlinable, so that the
    /// callers in other modules get it specialized for their types (readers decode millions of cells).
    @inlinable
    public func decode<T: SQLCellDecodable>(_ column: String, as type: T.Type = T.self) throws(RowDecodingError) -> T {
        guard let cell = value(column) else { throw RowDecodingError(column: column, expected: T.expectedName, found: "no such column") }
        guard let decoded = T(cell: cell) else { throw RowDecodingError(column: column, expected: T.expectedName, found: cell.typeName) }
        return decoded
    }

    /// The column's value, nil for NULL; another type is a `RowDecodingError`.
    @inlinable
    public func decodeIfPresent<T: SQLCellDecodable>(_ column: String, as type: T.Type = T.self) throws(RowDecodingError) -> T? {
        guard let cell = value(column) else { throw RowDecodingError(column: column, expected: T.expectedName, found: "no such column") }
        if case .null = cell { return nil }
        guard let decoded = T(cell: cell) else { throw RowDecodingError(column: column, expected: T.expectedName, found: cell.typeName) }
        return decoded
    }

    /// A text column read as one of a closed set of values (a status, a code, a rule).
    public func decode<T: RawRepresentable>(_ column: String, as type: T.Type) throws(RowDecodingError) -> T where T.RawValue == String {
        let text: String = try decode(column)
        guard let value = T(rawValue: text) else {
            throw RowDecodingError(column: column, expected: "one of the \(T.self) values", found: "an unknown value")
        }
        return value
    }

    /// A text column read as one of a closed set of values, nil for NULL.
    public func decodeIfPresent<T: RawRepresentable>(_ column: String, as type: T.Type) throws(RowDecodingError) -> T?
        where T.RawValue == String {
        guard let text: String = try decodeIfPresent(column) else { return nil }
        guard let value = T(rawValue: text) else {
            throw RowDecodingError(column: column, expected: "one of the \(T.self) values", found: "an unknown value")
        }
        return value
    }

    /// A text column read through `parse` (a date, an id), with `expected` naming the form in the error.
    public func decode<T>(_ column: String, expected: String, _ parse: (String) -> T?) throws(RowDecodingError) -> T {
        let text: String = try decode(column)
        guard let value = parse(text) else { throw RowDecodingError(column: column, expected: expected, found: "text of another form") }
        return value
    }
}
