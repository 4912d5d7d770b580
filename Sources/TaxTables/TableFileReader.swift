import Foundation

/// Reads a table file whole, after checking that it can be one: a regular file (a FIFO or `/dev/zero` would never
/// end), at most `maxBytes`, and with a line end in its first `maxFirstLine` bytes. A 1 GB file of one line was read
/// whole (107 s, 2.2 GB) before its first field was found too long (probe #7).
public enum TableFileReader {
    /// Larger than any official file Levy reads (the ZIP5 table is 6 MB; a whole state's SST boundary file is tens).
    public static let maxBytes = 512 << 20
    /// No table's header or row comes near this.
    public static let maxFirstLine = 1 << 20

    /// The file's bytes, or why it is not read (a sentence that names the path).
    public static func read(_ path: String) -> Result<[UInt8], TableFileError> {
        var info = stat()
        guard stat(path, &info) == 0 else { return .failure(TableFileError("cannot read \(path): \(String(cString: strerror(errno)))")) }
        guard info.st_mode & S_IFMT == S_IFREG else { return .failure(TableFileError("cannot read \(path): not a regular file")) }
        guard info.st_size <= maxBytes else {
            return .failure(TableFileError("\(path) is \(info.st_size) bytes, more than the \(maxBytes >> 20) MiB a table file may have"))
        }
        guard let handle = FileHandle(forReadingAtPath: path) else { return .failure(TableFileError("cannot read \(path)")) }
        defer { try? handle.close() }
        do {
            let head = try handle.read(upToCount: maxFirstLine) ?? Data()
            if head.count == maxFirstLine, !head.contains(10) {
                return .failure(TableFileError("\(path):1: the first line is longer than \(maxFirstLine >> 20) MiB: not a table file"))
            }
            let rest = try handle.readToEnd() ?? Data()
            return .success([UInt8](head) + [UInt8](rest))
        } catch {
            return .failure(TableFileError("cannot read \(path): \(error.localizedDescription)"))
        }
    }
}

public struct TableFileError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
