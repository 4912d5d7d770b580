import Crypto
import Foundation
import TaxCore

/// Versioned table sets on disk. Each import becomes a new, immutable version: the official files verbatim, their
/// SHA-256 digests and the shipped tables it builds on. `CURRENT` names the version quotes use by default; older
/// versions stay, so a past sale is always read with the tables it was quoted with.
///
/// ```
/// <store>/CURRENT                      id of the current version
/// <store>/versions/<id>/manifest.json  VersionManifest
/// <store>/versions/<id>/files/<name>   the official files, byte for byte
/// ```
public struct TableStore: Sendable {
    public struct VersionManifest: Codable, Sendable {
        public var format: String
        public var id: String
        public var created: String
        public var parent: String?
        public var base: String
        public var files: [OfficialFile]
        public var report: [String]
    }

    public enum StoreError: Error, CustomStringConvertible {
        case unknownVersion(String)
        case noVersions(String)
        case io(String)
        /// Two files of one kind for one state in one import, where one would replace the other (SST and IDOR
        /// files; WA DOR and CDTFA files of one name): one of them would be dropped without a word.
        case sameKindTwice(kind: String, state: String, first: String, second: String)

        public var description: String {
            switch self {
            case .sameKindTwice(let kind, let state, let first, let second):
                "\(first) and \(second) are both \(kind) files for \(state); one would take the other's place in the version (import the newer alone)"
            case .unknownVersion(let id): "no table version \"\(id)\" in the store"
            case .noVersions(let directory): "the store \(directory) has no table versions yet (levy tables import …)"
            case .io(let message): message
            }
        }
    }

    public static let format = "levy-table-version/1"

    public let directory: String

    public init(directory: String) { self.directory = directory }

    var versionsDirectory: String { directory + "/versions" }

    public func currentID() -> String? { current().id }

    /// Why the store's `CURRENT` names no version although it is there (a folder, a FIFO, an empty or oversized
    /// file); nil when it is absent or names one. A command told of it refuses to quote: it fell back to the shipped
    /// tables without a word, ignoring every imported file (probe #18).
    public func currentProblem() -> String? { current().problem }

    /// `CURRENT` read only when it is a regular file of the size of an id (a FIFO would block, a 100 MB file be read whole).
    private func current() -> (id: String?, problem: String?) {
        let path = directory + "/CURRENT"
        var info = stat()
        guard stat(path, &info) == 0 else { return (nil, errno == ENOENT ? nil : "\(path) cannot be read (errno \(errno))") }
        guard info.st_mode & S_IFMT == S_IFREG else { return (nil, "\(path) is not a regular file, so it names no table version") }
        guard info.st_size <= 256 else { return (nil, "\(path) holds \(info.st_size) bytes: not a table version's id") }
        guard let data = FileManager.default.contents(atPath: path) else { return (nil, "\(path) cannot be read") }
        let id = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return id.isEmpty ? (nil, "\(path) is empty, so it names no table version") : (id, nil)
    }

    public func manifest(_ id: String) throws -> VersionManifest {
        guard let data = FileManager.default.contents(atPath: "\(versionsDirectory)/\(id)/manifest.json") else { throw StoreError.unknownVersion(id) }
        return try JSONDecoder().decode(VersionManifest.self, from: data)
    }

    /// The official files a version holds, with their bytes (none for `shipped`, the shipped tables alone): what
    /// `TableDiff` compares.
    public func officialFiles(_ id: String) throws -> [(OfficialFile, [UInt8])] {
        if id == "shipped" { return [] }
        // A version id names a folder: nothing that could leave the store.
        guard !id.isEmpty, !id.contains("/"), !id.contains(".."), id.utf8.count <= 200 else { throw StoreError.unknownVersion(id) }
        return try manifest(id).files.map { file in
            let path = "\(versionsDirectory)/\(id)/files/\(file.name)"
            guard let data = FileManager.default.contents(atPath: path) else { throw StoreError.io("cannot read \(path)") }
            return (file, [UInt8](data))
        }
    }

    /// Every version, oldest first.
    public func versions() throws -> [VersionManifest] {
        let ids = (try? FileManager.default.contentsOfDirectory(atPath: versionsDirectory)) ?? []
        return try ids.map(manifest).sorted { $0.created != $1.created ? $0.created < $1.created : $0.id < $1.id }
    }

    /// The table set of a version (the current one when `id` is nil), on top of the shipped tables.
    public func load(_ id: String? = nil, base: CanonicalTables.Loaded) throws -> (tables: TaxTableSet, manifest: VersionManifest) {
        guard let id = id ?? currentID() else { throw StoreError.noVersions(directory) }
        let manifest = try manifest(id)
        var files: [(OfficialFile, [UInt8])] = []
        for file in manifest.files {
            guard let data = FileManager.default.contents(atPath: "\(versionsDirectory)/\(id)/files/\(file.name)") else {
                throw StoreError.io("version \(id) is missing its file \(file.name)")
            }
            let bytes = [UInt8](data)
            guard OfficialTables.sha256(bytes) == file.sha256 else {
                throw StoreError.io("version \(id): \(file.name) does not match its recorded SHA-256; the store was altered")
            }
            files.append((file, bytes))
        }
        let tables = try OfficialTables.build(base: base, files: files, version: Self.tableVersion(base: base, id: id)).tables
        return (tables, manifest)
    }

    /// Whether `file` takes the place of `other` in a version: the same kind and state, and for place-rate files
    /// the same name too (those of other names are the state's earlier or later periods).
    static func replaces(_ file: OfficialFile, _ other: OfficialFile) -> Bool {
        file.kind == other.kind && file.state == other.state && (!file.kind.isPlaceRates || file.name == other.name)
    }

    static func tableVersion(base: CanonicalTables.Loaded, id: String) -> String { "\(base.tables.version)/\(id)" }

    /// Imports official files as a new version on top of the current one: an SST or IDOR file replaces the
    /// current version's file of its kind and state; a place-rate file (WA DOR, CDTFA) joins the current version's of
    /// its kind and state, each answering its own dates, unless it has the same name (then it replaces it). All or nothing: every file is checked and the whole table set is built
    /// before anything is written; then the version is written under a temporary name, renamed into place and
    /// made current. A failed import leaves the store exactly as it was.
    public func importFiles(_ inputs: [(file: OfficialFile, bytes: [UInt8])], base: CanonicalTables.Loaded,
                            now: Date) throws -> (manifest: VersionManifest, created: Bool) {
        try whileImporting { try importFilesInTurn(inputs, base: base, now: now) }
    }

    /// Runs `body` holding the store's import lock (an exclusive `flock` on `<store>/.import.lock`, released by the
    /// kernel if the process dies). Two imports at once both built on the same parent, and the one made current
    /// last lost the other's file; now each builds on the one before it.
    func whileImporting<T>(_ body: () throws -> T) throws -> T {
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw StoreError.io("cannot create the store \(directory): \(error)")
        }
        let path = directory + "/.import.lock"
        let descriptor = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw StoreError.io("cannot open \(path) (errno \(errno))") }
        defer { close(descriptor) }
        while flock(descriptor, LOCK_EX) != 0 {
            guard errno == EINTR else { throw StoreError.io("cannot lock \(path) (errno \(errno))") }
        }
        defer { flock(descriptor, LOCK_UN) }
        return try body()
    }

    private func importFilesInTurn(_ inputs: [(file: OfficialFile, bytes: [UInt8])], base: CanonicalTables.Loaded,
                                   now: Date) throws -> (manifest: VersionManifest, created: Bool) {
        for (index, input) in inputs.enumerated() {
            if let earlier = inputs[..<index].first(where: { Self.replaces($0.file, input.file) }) {
                throw StoreError.sameKindTwice(kind: input.file.kind.rawValue, state: input.file.state, first: earlier.file.name, second: input.file.name)
            }
        }
        let parentID = currentID()
        var files: [(OfficialFile, [UInt8])] = []
        if let parentID {
            let parent = try manifest(parentID)
            for file in parent.files where !inputs.contains(where: { Self.replaces($0.file, file) }) {
                let path = "\(versionsDirectory)/\(parentID)/files/\(file.name)"
                guard let data = FileManager.default.contents(atPath: path) else { throw StoreError.io("cannot read \(path)") }
                files.append((file, [UInt8](data)))
            }
        }
        for input in inputs {
            var file = input.file
            file.sha256 = OfficialTables.sha256(input.bytes)
            files.append((file, input.bytes))
        }
        // By state and kind; within one, the parent's files before the new ones (a later place-rate file wins a tie of
        // dates: `PlaceFileSuccession`), so the order is kept explicitly.
        files = files.enumerated().sorted { a, b in
            (a.element.0.state, a.element.0.kind.rawValue, a.offset) < (b.element.0.state, b.element.0.kind.rawValue, b.offset)
        }.map(\.element)

        var hasher = SHA256()
        hasher.update(data: Array(base.tables.version.utf8))
        for (file, _) in files { hasher.update(data: Array("\(file.kind.rawValue)|\(file.state)|\(file.name)|\(file.sha256)|\(file.effectiveFrom ?? "")\n".utf8)) }
        let digest = hasher.finalize().prefix(6).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        let id = "v\(digest)"
        if FileManager.default.fileExists(atPath: "\(versionsDirectory)/\(id)") {
            try setCurrent(id)
            return (try manifest(id), false)
        }

        // Build first: a file that does not load stops the import here, before the store is touched.
        let report: OfficialTables.Report
        do {
            report = try OfficialTables.build(base: base, files: files, version: Self.tableVersion(base: base, id: id)).report
        } catch {
            // A refusal names its errors and the new files' warnings: the parent's files' warnings, repeated in it,
            // read as if those files were at fault (probe #18).
            let names = Set(inputs.map(\.file.name))
            throw TableLoadError(error.diagnostics.filter { $0.severity == .error || names.contains($0.file) })
        }

        let formatter = ISO8601DateFormatter()
        let manifest = VersionManifest(format: Self.format, id: id, created: formatter.string(from: now), parent: parentID,
                                       base: base.tables.version, files: files.map(\.0),
                                       report: report.lines + report.warnings.map(\.description))
        let fm = FileManager.default
        let temporary = "\(directory)/.tmp-\(id)-\(UUID().uuidString)"
        do {
            try fm.createDirectory(atPath: temporary + "/files", withIntermediateDirectories: true)
            for (file, bytes) in files {
                try Data(bytes).write(to: URL(fileURLWithPath: "\(temporary)/files/\(file.name)"))
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            try encoder.encode(manifest).write(to: URL(fileURLWithPath: temporary + "/manifest.json"))
            try fm.createDirectory(atPath: versionsDirectory, withIntermediateDirectories: true)
            try fm.moveItem(atPath: temporary, toPath: "\(versionsDirectory)/\(id)")
        } catch {
            try? fm.removeItem(atPath: temporary)
            throw StoreError.io("could not write version \(id): \(error)")
        }
        try setCurrent(id)
        return (manifest, true)
    }

    /// Makes `id` the current version with an atomic rename, so a reader sees the old or the new one, never half.
    public func setCurrent(_ id: String) throws {
        guard FileManager.default.fileExists(atPath: "\(versionsDirectory)/\(id)/manifest.json") else { throw StoreError.unknownVersion(id) }
        let temporary = "\(directory)/CURRENT.tmp-\(UUID().uuidString)"
        do {
            try Data((id + "\n").utf8).write(to: URL(fileURLWithPath: temporary))
            if rename(temporary, directory + "/CURRENT") != 0 { throw StoreError.io("cannot replace \(directory)/CURRENT (errno \(errno))") }
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        }
    }
}
