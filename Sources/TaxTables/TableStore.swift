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

    /// The most bytes a version's manifest may hold: its file list and import report (a report of every warning of
    /// 100,000-row files stays well under it).
    static let manifestLimit = 64 << 20

    /// The last system call's error as words ("Permission denied"), with its number.
    static func systemError() -> String {
        let code = errno
        return "\(String(cString: strerror(code))) (errno \(code))"
    }

    /// A Foundation file error as one sentence: its description without the dictionary dump.
    static func describe(_ error: any Error) -> String {
        let error = error as NSError
        if let underlying = error.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return "\(String(cString: strerror(Int32(underlying.code)))) (errno \(underlying.code))"
        }
        return error.localizedDescription
    }

    public let directory: String
    /// The shipped tables' official files (`CanonicalTables.shippedOfficialFiles`), which every version's files are
    /// set beside: what `officialFiles` gives for "shipped" and adds to each version's. Empty: versions' own files only.
    public let shipped: [(OfficialFile, [UInt8])]

    public init(directory: String, shipped: [(OfficialFile, [UInt8])] = []) {
        self.directory = directory
        self.shipped = shipped
    }

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
        guard stat(path, &info) == 0 else { return (nil, errno == ENOENT ? nil : "\(path) cannot be read: \(Self.systemError())") }
        guard info.st_mode & S_IFMT == S_IFREG else { return (nil, "\(path) is not a regular file, so it names no table version") }
        guard info.st_size <= 256 else { return (nil, "\(path) holds \(info.st_size) bytes: not a table version's id") }
        guard let data = FileManager.default.contents(atPath: path) else { return (nil, "\(path) cannot be read") }
        let id = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if id.isEmpty { return (nil, "\(path) is empty, so it names no table version") }
        // A path would load a version from outside the store and become the quotes' table version (probe #20).
        guard Self.isVersionID(id) else { return (nil, "\(path) names \"\(id.prefix(40))\", which is not a table version id (v and 12 hex digits)") }
        return (id, nil)
    }

    /// A version's id as imports make it: `v` and 12 lower-case hex digits.
    static func isVersionID(_ id: String) -> Bool {
        id.utf8.count == 13 && id.utf8.first == UInt8(ascii: "v") && id.utf8.dropFirst().allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
    }

    /// The id of a version of these files on this base: `v` + 12 hex digits of a SHA-256 over the base's version and
    /// each file's kind, state, name, digest and date.
    static func versionID(base: String, files: [OfficialFile]) -> String {
        var hasher = SHA256()
        hasher.update(data: Array(base.utf8))
        for file in files { hasher.update(data: Array("\(file.kind.rawValue)|\(file.state)|\(file.name)|\(file.sha256)|\(file.effectiveFrom ?? "")\n".utf8)) }
        return "v" + hasher.finalize().prefix(6).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    /// A version's manifest, checked against its id: a manifest edited after the import (another file, digest or
    /// date; a file dropped or listed twice; a name leading out of its folder) gave other tax under the same
    /// `table_version`, which orders freeze and replays trust (probe #20). Each file's bytes are checked against
    /// its digest where they are read.
    public func manifest(_ id: String) throws -> VersionManifest {
        guard Self.isVersionID(id) else { throw StoreError.unknownVersion(id) }
        let path = "\(versionsDirectory)/\(id)/manifest.json"
        // A regular file of a manifest's size: a FIFO would block, and a file of hundreds of megabytes be read whole.
        var info = stat()
        guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { throw StoreError.unknownVersion(id) }
        guard info.st_size <= Self.manifestLimit else {
            throw StoreError.io("version \(id): its manifest.json holds \(info.st_size) bytes, more than a manifest's \(Self.manifestLimit); the store was altered")
        }
        guard let data = FileManager.default.contents(atPath: path) else { throw StoreError.unknownVersion(id) }
        let manifest: VersionManifest
        do { manifest = try JSONDecoder().decode(VersionManifest.self, from: data) } catch {
            throw StoreError.io("version \(id): its manifest.json cannot be read as a version manifest; the store was altered")
        }
        var seen = Set<String>()
        for file in manifest.files {
            guard !file.name.isEmpty, !file.name.contains("/"), !file.name.contains("\\"), file.name != ".", file.name != "..",
                  seen.insert(file.name).inserted else {
                throw StoreError.io("version \(id): its manifest lists a file \"\(file.name.prefix(64))\" that is not one plain name of its own; the store was altered")
            }
        }
        guard manifest.format == Self.format, manifest.id == id, Self.versionID(base: manifest.base, files: manifest.files) == id else {
            throw StoreError.io("version \(id): its manifest does not give its id (format, id, base or files changed); the store was altered")
        }
        return manifest
    }

    /// The official files a version quotes with, with their bytes: the shipped ones (`shipped`) with the version's
    /// own in place of those they replace or revise, as the version is built; for "shipped", the shipped ones alone.
    /// What `TableDiff` compares (probe #20: a diff against "shipped" listed every row of an imported file as added,
    /// the shipped file it revised being left out).
    public func officialFiles(_ id: String) throws -> [(OfficialFile, [UInt8])] {
        let own = id == "shipped" ? [] : try verifiedFiles(id, try manifest(id))
        let kept = shipped.filter { file in
            // As the version is built: a WA file revised by one spanning it gives way; a CDTFA file of the same date
            // stays (it carries its rates back), answering no date the imported one has.
            !own.contains { Self.replaces($0.0, file.0) || (file.0.kind == .waDOR && Self.supersedes((file: $0.0, bytes: $0.1), file.0, file.1)) }
        }
        return kept + own
    }

    /// A version's files, each checked against the digest its (checked) manifest records.
    func verifiedFiles(_ id: String, _ manifest: VersionManifest) throws -> [(OfficialFile, [UInt8])] {
        try manifest.files.map { file in
            guard let data = FileManager.default.contents(atPath: "\(versionsDirectory)/\(id)/files/\(file.name)") else {
                throw StoreError.io("version \(id) is missing its file \(file.name)")
            }
            let bytes = [UInt8](data)
            guard OfficialTables.sha256(bytes) == file.sha256 else {
                throw StoreError.io("version \(id): \(file.name) does not match its recorded SHA-256; the store was altered")
            }
            return (file, bytes)
        }
    }

    /// Every version, oldest first: by the time it was made, and of those made in one second, a parent before
    /// its child.
    public func versions() throws -> [VersionManifest] {
        let ids = ((try? FileManager.default.contentsOfDirectory(atPath: versionsDirectory)) ?? []).filter(Self.isVersionID)
        let manifests = try ids.map(manifest)
        let parents = Dictionary(manifests.map { ($0.id, $0.parent) }, uniquingKeysWith: { a, _ in a })
        func depth(_ id: String) -> Int {
            var depth = 0, seen: Set<String> = [id], next = parents[id] ?? nil
            while let parent = next, seen.insert(parent).inserted {
                depth += 1
                next = parents[parent] ?? nil
            }
            return depth
        }
        let depths = Dictionary(uniqueKeysWithValues: manifests.map { ($0.id, depth($0.id)) })
        return manifests.sorted { ($0.created, depths[$0.id] ?? 0, $0.id) < ($1.created, depths[$1.id] ?? 0, $1.id) }
    }

    /// The table set of a version (the current one when `id` is nil), on top of the shipped tables.
    public func load(_ id: String? = nil, base: CanonicalTables.Loaded) throws -> (tables: TaxTableSet, manifest: VersionManifest) {
        if id == nil, let problem = currentProblem() { throw StoreError.io(problem) }
        guard let id = id ?? currentID() else { throw StoreError.noVersions(directory) }
        let manifest = try manifest(id)
        let files = try verifiedFiles(id, manifest)
        let tables = try OfficialTables.build(base: base, files: files, version: Self.tableVersion(base: base, id: id)).tables
        return (tables, manifest)
    }

    /// Whether `file` takes the place of `other` in a version: the same kind and state, and for place-rate files
    /// the same name too (those of other names are the state's earlier or later periods).
    static func replaces(_ file: OfficialFile, _ other: OfficialFile) -> Bool {
        file.kind == other.kind && file.state == other.state && (!file.kind.isPlaceRates || file.name == other.name)
    }

    /// Whether a place-rate file takes the place of another of its kind and state though named otherwise: a CDTFA
    /// file of the same date, or a WA DOR file whose rows span at least the other's (a revised history: kept beside
    /// it, the revision answered only where the two differ in span, and a diff showed its rows added, none removed).
    static func supersedes(_ input: (file: OfficialFile, bytes: [UInt8]), _ file: OfficialFile, _ bytes: [UInt8]) -> Bool {
        guard input.file.kind == file.kind, input.file.state == file.state, file.kind.isPlaceRates else { return false }
        if file.kind == .caCDTFA { return input.file.effectiveFrom != nil && input.file.effectiveFrom == file.effectiveFrom }
        guard let new = try? PlaceRateFile.readWashington(input.bytes, file: input.file.name),
              let old = try? PlaceRateFile.readWashington(bytes, file: file.name), !new.places.isEmpty, !old.places.isEmpty else { return false }
        return PlaceFileSuccession.Span(new.places.map(\.period)).spans(PlaceFileSuccession.Span(old.places.map(\.period)))
    }

    /// Whether an input is a file the version already holds: same kind, state, name, date and bytes.
    static func same(_ input: (file: OfficialFile, bytes: [UInt8]), _ file: OfficialFile, _ bytes: [UInt8]) -> Bool {
        input.file.kind == file.kind && input.file.state == file.state && input.file.name == file.name
            && input.file.effectiveFrom == file.effectiveFrom && input.bytes == bytes
    }

    static func tableVersion(base: CanonicalTables.Loaded, id: String) -> String { "\(base.tables.version)/\(id)" }

    /// Imports official files as a new version on top of the current one: an SST or IDOR file replaces the
    /// current version's file of its kind and state; a place-rate file (WA DOR, CDTFA) joins the current version's of
    /// its kind and state, each answering its own dates, unless it revises one (`replaces`, `supersedes`). All or
    /// nothing: every file is checked and the whole table set is built before anything is written; then the version is written under a temporary name, renamed into place and
    /// made current. A failed import leaves the store exactly as it was.
    ///
    /// `now` is read once the store's lock is held, so versions are dated in the order they were made (read before,
    /// imports that waited for each other were all dated when they started: probe #20); `waiting` is called when
    /// another import holds the lock, before this one waits for it.
    public func importFiles(_ inputs: [(file: OfficialFile, bytes: [UInt8])], base: CanonicalTables.Loaded,
                            now: @autoclosure () -> Date, waiting: () -> Void = {}) throws -> (manifest: VersionManifest, created: Bool) {
        try whileImporting(waiting: waiting) { try importFilesInTurn(inputs, base: base, now: now()) }
    }

    /// Runs `body` holding the store's import lock (an exclusive `flock` on `<store>/.import.lock`, released by the
    /// kernel if the process dies). Two imports at once both built on the same parent, and the one made current
    /// last lost the other's file; now each builds on the one before it.
    func whileImporting<T>(waiting: () -> Void = {}, _ body: () throws -> T) throws -> T {
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw StoreError.io("cannot create the store \(directory): \(Self.describe(error))")
        }
        let path = directory + "/.import.lock"
        let descriptor = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw StoreError.io("cannot open the store's import lock \(path): \(Self.systemError())") }
        defer { close(descriptor) }
        // Said when another import holds the lock: a wait without a word looked like a hang (probe #20).
        if flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else { throw StoreError.io("cannot lock \(path): \(Self.systemError())") }
            waiting()
            while flock(descriptor, LOCK_EX) != 0 {
                guard errno == EINTR else { throw StoreError.io("cannot lock \(path): \(Self.systemError())") }
            }
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
        // Built on nothing, a new version would drop the current one's files without a word (probe #20).
        if let problem = currentProblem() { throw StoreError.io(problem + "; fix it (or remove it to start from no version)") }
        let parentID = currentID()
        var files: [(OfficialFile, [UInt8])] = []
        if let parentID {
            let parent = try manifest(parentID)
            for (file, bytes) in try verifiedFiles(parentID, parent)
            where !inputs.contains(where: { (Self.replaces($0.file, file) || Self.supersedes($0, file, bytes)) && !Self.same($0, file, bytes) }) {
                files.append((file, bytes))
            }
        }
        // Leftovers of an import killed midway (its temporary folder, a CURRENT not yet renamed into place): no
        // import runs beside this one, so they are no one's.
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where name.hasPrefix(".tmp-") || name.hasPrefix("CURRENT.tmp-") {
            try? FileManager.default.removeItem(atPath: directory + "/" + name)
        }
        // A file the parent already holds, the same bytes under the same name and date, keeps its place: moved to
        // the end it made another version of the same files (probe #20), and the order decides ties of dates.
        for input in inputs where !files.contains(where: { Self.same(input, $0.0, $0.1) }) {
            var file = input.file
            file.sha256 = OfficialTables.sha256(input.bytes)
            files.append((file, input.bytes))
        }
        // By state and kind; within one, the parent's files before the new ones (a later place-rate file wins a tie of
        // dates: `PlaceFileSuccession`), so the order is kept explicitly.
        files = files.enumerated().sorted { a, b in
            (a.element.0.state, a.element.0.kind.rawValue, a.offset) < (b.element.0.state, b.element.0.kind.rawValue, b.offset)
        }.map(\.element)

        let id = Self.versionID(base: base.tables.version, files: files.map(\.0))
        if FileManager.default.fileExists(atPath: "\(versionsDirectory)/\(id)") {
            // Made current only once its manifest and files are checked (probe #20: an altered one became current,
            // and the store no longer loaded).
            let existing = try manifest(id)
            _ = try verifiedFiles(id, existing)
            try setCurrent(id)
            return (existing, false)
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
            throw StoreError.io("could not write version \(id) into \(directory): \(Self.describe(error))")
        }
        try setCurrent(id)
        return (manifest, true)
    }

    /// Makes `id` the current version with an atomic rename, so a reader sees the old or the new one, never half.
    public func setCurrent(_ id: String) throws {
        _ = try manifest(id)
        let temporary = "\(directory)/CURRENT.tmp-\(UUID().uuidString)"
        do {
            try Data((id + "\n").utf8).write(to: URL(fileURLWithPath: temporary))
            if rename(temporary, directory + "/CURRENT") != 0 { throw StoreError.io("cannot replace \(directory)/CURRENT: \(Self.systemError())") }
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        }
    }
}
