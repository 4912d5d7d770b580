import Crypto
import Foundation
import Storage

/// A file being written for an export: buffered, hashed (SHA-256) and counted as it goes, so the manifest needs
/// no second read and memory does not depend on the file's size.
public final class ExportWriter {
    public let name: String
    let handle: FileHandle
    var buffer: [UInt8] = []
    var hasher = SHA256()
    public private(set) var bytes = 0
    public var rows = 0

    public init(directory: String, name: String) throws {
        self.name = name
        let path = directory + "/" + name
        guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o640]),
              let handle = FileHandle(forWritingAtPath: path) else { throw ExportError.cannotWrite(path) }
        self.handle = handle
        buffer.reserveCapacity(1 << 16)
    }

    public func write(_ text: String) throws {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= 1 << 16 { try flush() }
    }

    public func write(bytes: [UInt8]) throws {
        buffer.append(contentsOf: bytes)
        if buffer.count >= 1 << 16 { try flush() }
    }

    func flush() throws {
        guard !buffer.isEmpty else { return }
        hasher.update(data: buffer)
        bytes += buffer.count
        try handle.write(contentsOf: buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    /// Flushes, syncs and closes the file; returns its entry for the manifest.
    public func finish() throws -> ManifestFile {
        try flush()
        try handle.synchronize()
        try handle.close()
        return ManifestFile(name: name, sha256: hexString(hasher.finalize()),
                            bytes: bytes, rows: rows)
    }
}

/// Delimited text: RFC 4180 (comma, CRLF, fields quoted when they hold the delimiter, a quote, CR or LF, quotes
/// doubled), or the same rules with `|` as the delimiter.
///
/// Spreadsheet programs run a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return as a formula (CSV
/// injection); customers' and processors' text lands in these files, and accountants open them in spreadsheets. Such
/// a field is written with a `'` in front, which spreadsheets show as text; numbers (`-12.50`) are written as they are.
public enum DelimitedFormat: String, Sendable, CaseIterable {
    case csv, pipe

    public var delimiter: UInt8 { self == .csv ? UInt8(ascii: ",") : UInt8(ascii: "|") }
    public var fileExtension: String { self == .csv ? "csv" : "txt" }

    public func line(_ fields: [String]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        for (i, field) in fields.enumerated() {
            if i > 0 { out.append(delimiter) }
            let utf8 = Self.mayRunAsFormula(field) ? ("'" + field).utf8 : field.utf8
            if utf8.contains(where: { $0 == delimiter || $0 == 34 || $0 == 10 || $0 == 13 }) {
                out.append(34)
                for byte in utf8 {
                    if byte == 34 { out.append(34) }
                    out.append(byte)
                }
                out.append(34)
            } else {
                out.append(contentsOf: utf8)
            }
        }
        out.append(13)
        out.append(10)
        return out
    }

    /// Whether a spreadsheet would read the field as a formula: it starts with one of `= + - @`, a tab or a carriage
    /// return, and is not a plain number.
    static func mayRunAsFormula(_ field: String) -> Bool {
        guard let first = field.utf8.first, [UInt8(ascii: "="), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "@"), 9, 13].contains(first)
        else { return false }
        let rest = field.utf8.dropFirst()
        guard first == UInt8(ascii: "-") || first == UInt8(ascii: "+"), !rest.isEmpty else { return true }
        var digits = 0, points = 0
        for byte in rest {
            if byte == UInt8(ascii: ".") { points += 1 } else if (48...57).contains(byte) { digits += 1 } else { return true }
        }
        return digits == 0 || points > 1
    }
}

public enum ExportError: Error, CustomStringConvertible, Equatable {
    case cannotWrite(String)
    case notEmpty(String)
    case personalDataNeedsRequester
    case invalidPeriod(String)
    case signingKey(String)
    /// A stored record (an export job) that cannot be read back.
    case corruptRecord(String)

    public var description: String {
        switch self {
        case .cannotWrite(let path): "cannot write \(path)"
        case .notEmpty(let path): "\(path) is a file or a folder that holds files; an export goes into a new or empty folder"
        case .personalDataNeedsRequester:
            "an export with personal data needs --requested-by and --reason (who asked, why and on what legal basis); or use --no-personal-data"
        case .invalidPeriod(let why): "period: \(why)"
        case .signingKey(let why): "signing key: \(why)"
        case .corruptRecord(let why): "a stored export record cannot be read: \(why)"
        }
    }
}

/// Progress on a terminal (standard error), at most a few times a second; silent when not a terminal. `report`, when
/// given, hears the row count as often (an export job records it for `GET /v1/exports/{id}`).
public final class ExportProgress {
    let label: String
    let enabled: Bool
    let report: (@Sendable (Int) -> Void)?
    var last = Date.distantPast

    public init(label: String, enabled: Bool = isatty(2) == 1, report: (@Sendable (Int) -> Void)? = nil) {
        self.label = label
        self.enabled = enabled
        self.report = report
    }

    public func update(rows: Int) {
        guard enabled || report != nil else { return }
        let now = Date()
        guard now.timeIntervalSince(last) > 0.25 else { return }
        last = now
        report?(rows)
        if enabled { FileHandle.standardError.write(Data("\r\(label): \(rows) rows".utf8)) }
    }

    public func done(rows: Int) {
        report?(rows)
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\(label): \(rows) rows, done\n".utf8))
    }
}
