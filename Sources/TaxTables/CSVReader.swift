/// A strict RFC 4180 CSV reader over bytes: quoted fields with doubled quotes, LF, CRLF or CR line ends, an
/// optional UTF-8 byte-order mark. It records the line each record starts on, for diagnostics. A field is at most
/// `maxFieldBytes` and holds no control characters but tab (and line breaks inside quotes): table text reaches
/// quotes, exports and the console.
struct CSVReader: Sequence {
    static let maxFieldBytes = 65_536

    struct Record {
        var line: Int
        var fields: [String]
    }

    enum Failure: Error, Equatable {
        case unterminatedQuote(line: Int)
        case textAfterQuote(line: Int, column: Int)
        case invalidUTF8(line: Int)
        case controlCharacter(line: Int, column: Int)
        case fieldTooLong(line: Int, column: Int)
    }

    let bytes: [UInt8]

    init(bytes: [UInt8]) {
        // A UTF-8 byte-order mark carries no data (some state files start with one).
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { self.bytes = Array(bytes.dropFirst(3)) } else { self.bytes = bytes }
    }

    /// Every record, or the first structural failure (a structural error makes the rest unreliable).
    func records() throws(Failure) -> [Record] {
        var result: [Record] = []
        var iterator = makeIterator()
        while let record = try iterator.nextRecord() { result.append(record) }
        return result
    }

    func makeIterator() -> Iterator { Iterator(bytes: bytes) }

    struct Iterator: IteratorProtocol {
        let bytes: [UInt8]
        var position = 0
        var line = 1

        init(bytes: [UInt8]) { self.bytes = bytes }

        mutating func next() -> Record? { try? nextRecord() }

        /// Whether the byte at `index` ends a line: LF, or a CR not followed by LF (a file with bare CR line ends
        /// reported every diagnostic on line 1; probe #18).
        func endsLine(at index: Int) -> Bool {
            bytes[index] == UInt8(ascii: "\n") || (bytes[index] == UInt8(ascii: "\r") && (index + 1 == bytes.count || bytes[index + 1] != UInt8(ascii: "\n")))
        }

        /// Text of a field: the common all-ASCII case decodes directly; anything else is validated as UTF-8.
        static func string(_ bytes: ArraySlice<UInt8>) -> String? {
            if bytes.isEmpty { return "" }
            if bytes.allSatisfy({ $0 < 0x80 }) { return String(decoding: bytes, as: UTF8.self) }
            return String(validating: bytes, as: UTF8.self)
        }

        /// Refuses a field over `maxFieldBytes` or one with a control character other than tab, CR or LF.
        static func check(_ text: String, line: Int, column: Int) throws(Failure) {
            guard text.utf8.count <= CSVReader.maxFieldBytes else { throw .fieldTooLong(line: line, column: column) }
            // One pass over the bytes (this runs for every field of every table at load). C1 controls (U+0080-U+009F)
            // are two bytes in UTF-8: C2 80 to C2 9F; a valid string has a continuation byte after every C2.
            var afterC2 = false
            for byte in text.utf8 {
                if afterC2, byte <= 0x9F { throw .controlCharacter(line: line, column: column) }
                afterC2 = byte == 0xC2
                if (byte < 0x20 && byte != 9 && byte != 10 && byte != 13) || byte == 0x7F { throw .controlCharacter(line: line, column: column) }
            }
        }

        mutating func nextRecord() throws(Failure) -> Record? {
            // Skip blank lines between records.
            while position < bytes.count, bytes[position] == UInt8(ascii: "\n") || bytes[position] == UInt8(ascii: "\r") {
                if endsLine(at: position) { line += 1 }
                position += 1
            }
            guard position < bytes.count else { return nil }
            let startLine = line
            var fields: [String] = []
            var fieldStart = position
            var column = 1
            while true {
                if position < bytes.count, bytes[position] == UInt8(ascii: "\"") {
                    // Quoted field.
                    position += 1
                    var value: [UInt8] = []
                    while true {
                        guard position < bytes.count else { throw .unterminatedQuote(line: startLine) }
                        let byte = bytes[position]
                        if byte == UInt8(ascii: "\"") {
                            if position + 1 < bytes.count, bytes[position + 1] == UInt8(ascii: "\"") {
                                value.append(byte)
                                position += 2
                                continue
                            }
                            position += 1
                            break
                        }
                        if endsLine(at: position) { line += 1 }
                        value.append(byte)
                        position += 1
                    }
                    guard let text = Self.string(value[...]) else { throw .invalidUTF8(line: startLine) }
                    try Self.check(text, line: startLine, column: column)
                    fields.append(text)
                    if position < bytes.count, bytes[position] != UInt8(ascii: ","), bytes[position] != UInt8(ascii: "\n"),
                       bytes[position] != UInt8(ascii: "\r") {
                        throw .textAfterQuote(line: line, column: column)
                    }
                } else {
                    fieldStart = position
                    while position < bytes.count, bytes[position] != UInt8(ascii: ","), bytes[position] != UInt8(ascii: "\n"),
                          bytes[position] != UInt8(ascii: "\r") {
                        position += 1
                    }
                    guard let text = Self.string(bytes[fieldStart..<position]) else { throw .invalidUTF8(line: startLine) }
                    try Self.check(text, line: startLine, column: column)
                    fields.append(text)
                }
                column += 1
                if position < bytes.count, bytes[position] == UInt8(ascii: ",") {
                    position += 1
                    continue
                }
                // End of record.
                // LF, CRLF or a bare CR ends the line.
                let end = position
                if position < bytes.count, bytes[position] == UInt8(ascii: "\r") { position += 1 }
                if position < bytes.count, bytes[position] == UInt8(ascii: "\n") { position += 1 }
                if position > end { line += 1 }
                return Record(line: startLine, fields: fields)
            }
        }
    }
}

/// A CSV file with a header row, read into named columns; every problem is reported with file, line and column.
struct CSVTable {
    let file: String
    let header: [String]
    let records: [CSVReader.Record]
    private let columnIndex: [String: Int]

    /// Reads `bytes` and checks that the header has every `required` column. Failures go to `log`.
    init?(file: String, bytes: [UInt8], required: [String], log: inout DiagnosticLog) {
        self.file = file
        let all: [CSVReader.Record]
        do { all = try CSVReader(bytes: bytes).records() } catch {
            switch error {
            case .unterminatedQuote(let line): log.error(file, line, nil, "a quoted field is never closed")
            case .textAfterQuote(let line, let column): log.error(file, line, column, "text after a closing quote")
            case .invalidUTF8(let line): log.error(file, line, nil, "the line is not valid UTF-8")
            case .controlCharacter(let line, let column): log.error(file, line, column, "a control character (other than a tab or a line break)")
            case .fieldTooLong(let line, let column): log.error(file, line, column, "a field longer than \(CSVReader.maxFieldBytes) bytes")
            }
            return nil
        }
        guard let first = all.first else {
            log.error(file, 1, nil, "the file is empty; expected a header row")
            return nil
        }
        header = first.fields.map { $0.trimmingSpaces }
        var index: [String: Int] = [:]
        var repeated = false
        for (i, name) in header.enumerated() {
            // A column named twice: which of the two a reader takes cannot be told from the file.
            if !name.isEmpty, let first = index[name] {
                log.error(file, 1, i + 1, "column \"\(name.prefix(64))\" appears twice (columns \(first + 1) and \(i + 1))")
                repeated = true
                continue
            }
            index[name] = i
        }
        columnIndex = index
        if repeated { return nil }
        let missing = required.filter { index[$0] == nil }
        if !missing.isEmpty {
            log.error(file, 1, nil, "missing column(s): \(missing.joined(separator: ", ")); the header is \(header.joined(separator: ","))")
            return nil
        }
        var body: [CSVReader.Record] = []
        for record in all.dropFirst() {
            // Lines starting with '#' are comments, so a reviewer can annotate a table in place.
            if record.fields.first?.hasPrefix("#") == true { continue }
            if record.fields.count != header.count {
                log.error(file, record.line, nil, "expected \(header.count) fields, found \(record.fields.count)")
                continue
            }
            body.append(record)
        }
        records = body
    }

    /// The value of `column` in `record`, and its 1-based column number for diagnostics.
    func field(_ record: CSVReader.Record, _ column: String) -> (value: String, column: Int) {
        let i = columnIndex[column]!
        return (record.fields[i].trimmingSpaces, i + 1)
    }

    func has(_ column: String) -> Bool { columnIndex[column] != nil }

    /// The 1-based number of `column`, for a diagnostic given after the records were read.
    func number(of column: String) -> Int? { columnIndex[column].map { $0 + 1 } }
}

extension String {
    var trimmingSpaces: String {
        let utf8 = self.utf8
        guard let first = utf8.first, let last = utf8.last else { return self }
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }
        if !isSpace(first) && !isSpace(last) { return self }
        var view = Substring(self)
        while let c = view.utf8.first, isSpace(c) { view = view.dropFirst() }
        while let c = view.utf8.last, isSpace(c) { view = view.dropLast() }
        return String(view)
    }
}
