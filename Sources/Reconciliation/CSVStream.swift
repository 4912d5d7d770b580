import Foundation

/// Reads an RFC 4180 CSV file record by record through a fixed buffer, so memory does not grow with the file.
/// Each record carries the line it starts on and the byte offset just past it: a run that stopped can reopen the
/// file at that offset and go on from the next record.
final class CSVStream {
    struct Record {
        var line: Int
        var fields: [String]
        /// The byte offset just past this record (and its line end).
        var end: Int64
    }

    enum Failure: Error, CustomStringConvertible {
        case cannotOpen(String)
        case unterminatedQuote(file: String, line: Int)
        case textAfterQuote(file: String, line: Int)
        case invalidUTF8(file: String, line: Int)
        case recordTooLong(file: String, line: Int)
        case tooManyFields(file: String, line: Int)

        var description: String {
            switch self {
            case .recordTooLong(let file, let line):
                "\(file):\(line): a record is longer than \(CSVStream.maxRecordBytes / 1_024) KiB (a quoted field not closed, or not a settlement file)"
            case .tooManyFields(let file, let line): "\(file):\(line): a record has more than \(CSVStream.maxFields) fields"
            case .cannotOpen(let path): "cannot read \(path)"
            case .unterminatedQuote(let file, let line): "\(file):\(line): a quoted field is not closed before the end of the file"
            case .textAfterQuote(let file, let line): "\(file):\(line): text follows a closing quote inside a field"
            case .invalidUTF8(let file, let line): "\(file):\(line): a field is not valid UTF-8"
            }
        }
    }

    /// The longest record read, and the most fields in one: a settlement record is a few hundred bytes and a few
    /// dozen fields. Bounds memory whatever the file holds (probe #16: 16 MiB of commas, one record, took 300 MB).
    static let maxRecordBytes = 1 << 20
    static let maxFields = 1_024

    let path: String
    private let file: UnsafeMutablePointer<FILE>
    private var buffer = [UInt8](repeating: 0, count: CSVStream.maxRecordBytes)
    private var count = 0
    private var position = 0
    private var bufferStart: Int64
    private var line: Int
    private var atEnd = false

    /// Opens `path` at `offset` (0, or a record's `end`); `line` is the line number there.
    init(path: String, offset: Int64 = 0, line: Int = 1) throws(Failure) {
        guard let file = fopen(path, "rb") else { throw .cannotOpen(path) }
        self.path = path
        self.file = file
        if offset > 0 { fseeko(file, off_t(offset), SEEK_SET) }
        bufferStart = offset
        self.line = line
        refill()
        // A UTF-8 byte-order mark at the very start carries no data.
        if offset == 0, count >= 3, buffer[0] == 0xEF, buffer[1] == 0xBB, buffer[2] == 0xBF { position = 3 }
    }

    deinit { fclose(file) }

    /// Keeps the unread bytes and reads more after them.
    private func refill() {
        if position > 0 {
            let rest = count - position
            if rest > 0 { buffer.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: $0.baseAddress! + position, count: rest) } }
            bufferStart += Int64(position)
            count = rest
            position = 0
        }
        let read = buffer.withUnsafeMutableBufferPointer { fread($0.baseAddress! + count, 1, $0.count - count, file) }
        count += read
        if read == 0 { atEnd = true }
    }

    /// The next record, nil at the end of the file. Blank lines are skipped.
    func next() throws(Failure) -> Record? {
        while true {
            if let record = try scan() { return record }
            if atEnd { return nil }
            // A record that fills the whole buffer from its start does not end within the bound.
            if position == 0, count == buffer.count { throw .recordTooLong(file: path, line: line) }
            refill()
        }
    }

    /// Parses one record from the buffer, or returns nil (without consuming) when the buffer ends inside it and more
    /// of the file remains.
    private func scan() throws(Failure) -> Record? {
        var p = position
        var newlines = 0
        while p < count, buffer[p] == 0x0A || buffer[p] == 0x0D {
            if buffer[p] == 0x0A { newlines += 1 }
            p += 1
        }
        if p >= count {
            // Blank lines are consumed even when more may follow, so that a long run of them never fills the buffer.
            position = p
            line += newlines
            return nil
        }
        let startLine = line + newlines
        var fields: [String] = []
        var linesInside = 0
        while true {
            if p < count, buffer[p] == 0x22 {
                // Quoted field: runs to a quote not followed by another quote.
                var q = p + 1
                var text: [UInt8] = []
                var closed = false
                while q < count {
                    if buffer[q] == 0x22 {
                        if q + 1 < count, buffer[q + 1] == 0x22 { text.append(0x22); q += 2; continue }
                        if q + 1 >= count, !atEnd { return nil }
                        closed = true
                        q += 1
                        break
                    }
                    if buffer[q] == 0x0A { linesInside += 1 }
                    text.append(buffer[q])
                    q += 1
                }
                if !closed {
                    if atEnd { throw .unterminatedQuote(file: path, line: startLine) }
                    return nil
                }
                guard let value = String(validating: text, as: UTF8.self) else { throw .invalidUTF8(file: path, line: startLine) }
                guard fields.count < Self.maxFields else { throw .tooManyFields(file: path, line: startLine) }
                fields.append(value)
                p = q
                if p < count, buffer[p] != 0x2C, buffer[p] != 0x0A, buffer[p] != 0x0D { throw .textAfterQuote(file: path, line: startLine + linesInside) }
            } else {
                var q = p
                while q < count, buffer[q] != 0x2C, buffer[q] != 0x0A, buffer[q] != 0x0D { q += 1 }
                if q >= count, !atEnd { return nil }
                let slice = buffer[p..<q]
                let value: String
                if slice.allSatisfy({ $0 < 0x80 }) { value = String(decoding: slice, as: UTF8.self) } else {
                    guard let text = String(validating: slice, as: UTF8.self) else { throw .invalidUTF8(file: path, line: startLine) }
                    value = text
                }
                guard fields.count < Self.maxFields else { throw .tooManyFields(file: path, line: startLine) }
                fields.append(value)
                p = q
            }
            if p < count, buffer[p] == 0x2C { p += 1; continue }
            // End of record: a line end (CRLF or LF) or the end of the file.
            if p < count, buffer[p] == 0x0D {
                p += 1
                if p >= count, !atEnd { return nil }
            }
            if p < count, buffer[p] == 0x0A { p += 1 } else if p >= count, !atEnd { return nil }
            break
        }
        position = p
        line = startLine + linesInside + 1
        return Record(line: startLine, fields: fields, end: bufferStart + Int64(p))
    }
}
