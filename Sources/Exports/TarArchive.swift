import Foundation

/// An export folder as one POSIX ustar archive (IEEE Std 1003.1, `pax`'s ustar format): each file a 512-byte header
/// and its bytes padded to 512, then two empty blocks. Its size is known before the first byte is written, so a
/// download can announce its length and stream the files without holding them in memory. Only regular files in the
/// folder itself are taken (an export folder has no subfolders), sorted by name, under `prefix/`.
public struct TarArchive: Sendable {
    public struct Entry: Sendable, Equatable {
        /// The name in the archive: `prefix/file`.
        public var name: String
        public var path: String
        public var size: Int
    }

    public let entries: [Entry]
    let modified: Int

    public enum ArchiveError: Error, CustomStringConvertible {
        case unreadable(String)
        case nameTooLong(String)
        case tooLarge(String)
        public var description: String {
            switch self {
            case .unreadable(let path): "cannot read \(path) for the archive"
            case .tooLarge(let path): "\(path): larger than a ustar entry may be (8 GiB)"
            case .nameTooLong(let name): "\(name): longer than a ustar name may be (100 bytes)"
            }
        }
    }

    /// `excluding` leaves out files by name (a run's checkpoint database, say).
    public init(directory: String, prefix: String, modified: Date, excluding: (String) -> Bool = { _ in false }) throws {
        let manager = FileManager.default
        guard let names = try? manager.contentsOfDirectory(atPath: directory) else { throw ArchiveError.unreadable(directory) }
        var entries: [Entry] = []
        for file in names.sorted() where !excluding(file) {
            let path = directory + "/" + file
            guard let attributes = try? manager.attributesOfItem(atPath: path) else { throw ArchiveError.unreadable(path) }
            guard attributes[.type] as? FileAttributeType == .typeRegular else { continue }
            let name = prefix + "/" + file
            guard name.utf8.count <= 100 else { throw ArchiveError.nameTooLong(name) }
            let size = (attributes[.size] as? NSNumber)?.intValue ?? 0
            guard size < 1 << 33 else { throw ArchiveError.tooLarge(path) }
            entries.append(Entry(name: name, path: path, size: size))
        }
        self.entries = entries
        self.modified = Int(modified.timeIntervalSince1970)
    }

    /// The archive's length in bytes.
    public var size: Int {
        entries.reduce(1_024) { $0 + 512 + Self.padded($1.size) }
    }

    static func padded(_ size: Int) -> Int { (size + 511) / 512 * 512 }

    /// Writes the archive through `sink` in pieces of at most 64 KiB. A file that changed size since the archive was
    /// listed fails the write (the announced length would be wrong).
    public func write(_ sink: (ArraySlice<UInt8>) async throws -> Void) async throws {
        for entry in entries {
            try await sink(Self.header(name: entry.name, size: entry.size, modified: modified)[...])
            guard let handle = FileHandle(forReadingAtPath: entry.path) else { throw ArchiveError.unreadable(entry.path) }
            defer { try? handle.close() }
            var written = 0
            while written < entry.size {
                let chunk = Array(handle.readData(ofLength: min(65_536, entry.size - written)))
                guard !chunk.isEmpty else { throw ArchiveError.unreadable(entry.path) }
                try await sink(chunk[...])
                written += chunk.count
            }
            let padding = Self.padded(entry.size) - entry.size
            if padding > 0 { try await sink(Array(repeating: 0, count: padding)[...]) }
        }
        try await sink(Array(repeating: 0, count: 1_024)[...])
    }

    /// A ustar header: name, mode 0644, owner 0, size and time in octal, type `0` (a regular file), the `ustar\0`
    /// magic and version `00`, and the checksum over the header with its own field read as spaces.
    static func header(name: String, size: Int, modified: Int) -> [UInt8] {
        var block = [UInt8](repeating: 0, count: 512)
        func put(_ bytes: [UInt8], at offset: Int) { block.replaceSubrange(offset..<offset + bytes.count, with: bytes) }
        func octal(_ value: Int, width: Int) -> [UInt8] {
            let digits = String(value, radix: 8)
            return Array((String(repeating: "0", count: max(0, width - 1 - digits.count)) + digits).utf8) + [0]
        }
        put(Array(name.utf8), at: 0)
        put(octal(0o644, width: 8), at: 100)
        put(octal(0, width: 8), at: 108)
        put(octal(0, width: 8), at: 116)
        put(octal(size, width: 12), at: 124)
        put(octal(modified, width: 12), at: 136)
        put(Array(repeating: 32, count: 8), at: 148)
        block[156] = UInt8(ascii: "0")
        put(Array("ustar".utf8) + [0], at: 257)
        put(Array("00".utf8), at: 263)
        let checksum = block.reduce(0) { $0 + Int($1) }
        let digits = String(checksum, radix: 8)
        put(Array((String(repeating: "0", count: max(0, 6 - digits.count)) + digits).utf8) + [0, 32], at: 148)
        return block
    }
}

extension TarArchive {
    /// Unpacks a ustar archive of one export folder (as `write` makes them) into `directory`: regular files only,
    /// all under one top folder, plain names (no further folders, no `..`), at most `maxFiles`. Anything else is
    /// refused, so an uploaded archive can only write plain files into the folder given. Returns the file names.
    public static func extract(_ bytes: [UInt8], into directory: String, maxFiles: Int = 32) throws -> [String] {
        var names: [String] = []
        var offset = 0
        var folder: String?
        while offset + 512 <= bytes.count {
            let header = bytes[offset..<offset + 512]
            if header.allSatisfy({ $0 == 0 }) { break }
            let name = String(decoding: header.prefix(100).prefix { $0 != 0 }, as: UTF8.self)
            let sizeField = String(decoding: bytes[offset + 124..<offset + 136].prefix { $0 != 0 && $0 != 32 }, as: UTF8.self)
            guard let size = Int(sizeField, radix: 8), size >= 0, size <= bytes.count else { throw ArchiveError.unreadable("a header's size") }
            let type = bytes[offset + 156]
            guard type == UInt8(ascii: "0") || type == 0 else { throw ArchiveError.unreadable("\(name): not a plain file") }
            let parts = name.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty, !parts.contains(".."), !parts.contains("."),
                  parts.allSatisfy({ $0.unicodeScalars.allSatisfy { $0.value >= 32 && $0 != "\\" } }) else {
                throw ArchiveError.unreadable("\(name): not a file of one export folder")
            }
            if folder == nil { folder = parts[0] }
            guard folder == parts[0] else { throw ArchiveError.unreadable("\(name): a second folder") }
            let start = offset + 512
            guard start + size <= bytes.count else { throw ArchiveError.unreadable("\(name): cut short") }
            guard names.count < maxFiles, !names.contains(parts[1]) else { throw ArchiveError.unreadable("\(name): too many or repeated files") }
            guard FileManager.default.createFile(atPath: directory + "/" + parts[1], contents: Data(bytes[start..<start + size])) else {
                throw ArchiveError.unreadable("\(name): cannot be written")
            }
            names.append(parts[1])
            offset = start + padded(size)
        }
        return names
    }
}
