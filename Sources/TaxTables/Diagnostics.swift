/// One problem found in a table file, located to the file, line and column (1-based).
public struct TableDiagnostic: Hashable, Sendable, CustomStringConvertible {
    public enum Severity: String, Sendable { case error, warning }

    public var severity: Severity
    public var file: String
    public var line: Int
    public var column: Int?
    public var message: String

    public init(_ severity: Severity = .error, file: String, line: Int, column: Int? = nil, message: String) {
        self.severity = severity
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String {
        let place = column.map { "\(file):\(line):\($0)" } ?? "\(file):\(line)"
        return "\(place): \(severity.rawValue): \(message)"
    }
}

/// A table set that could not be loaded: every error found, not just the first.
public struct TableLoadError: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [TableDiagnostic]

    public init(_ diagnostics: [TableDiagnostic]) { self.diagnostics = diagnostics }

    public var description: String {
        let errors = diagnostics.filter { $0.severity == .error }
        return "\(errors.count) error(s) in the tax tables:\n" + diagnostics.map(\.description).joined(separator: "\n")
    }
}

/// Collects diagnostics while a file is read, so that a load reports every problem at once.
struct DiagnosticLog {
    private(set) var entries: [TableDiagnostic] = []

    var hasErrors: Bool { entries.contains { $0.severity == .error } }

    mutating func error(_ file: String, _ line: Int, _ column: Int? = nil, _ message: String) {
        entries.append(TableDiagnostic(.error, file: file, line: line, column: column, message: message))
    }

    mutating func warning(_ file: String, _ line: Int, _ column: Int? = nil, _ message: String) {
        entries.append(TableDiagnostic(.warning, file: file, line: line, column: column, message: message))
    }

    mutating func append(contentsOf other: DiagnosticLog) { entries += other.entries }

    mutating func append(contentsOf diagnostics: [TableDiagnostic]) { entries += diagnostics }

    /// Where sources.csv itself could not be read, every citation of every other file is "not listed": those
    /// follow from its error and bury it (probe #18: one over-long field gave 1,894 errors). They are dropped for
    /// one line that says the citations were not checked.
    mutating func dropCitationsOfUnreadableSources() {
        guard entries.contains(where: { $0.file == "sources.csv" && $0.severity == .error }) else { return }
        let before = entries.count
        entries.removeAll { $0.file != "sources.csv" && $0.message.hasSuffix("is not listed in sources.csv") }
        if entries.count < before {
            error("sources.csv", 0, nil, "\(before - entries.count) citation(s) in other files were not checked, as sources.csv could not be read")
        }
    }
}
