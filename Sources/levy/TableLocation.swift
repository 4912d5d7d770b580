import Foundation
import TaxCore
import TaxTables

/// Finds and loads the table set a command asked for: `--tables PATH`, else the shipped tables where
/// `InstalledFiles` finds them (`LEVY_TABLES`, the install prefix, the working directory, the checkout).
enum TableLocation {
    static func defaultDirectory() -> String? { InstalledFiles.locate(InstalledFiles.tables) }

    /// The SAF-T schema shipped in `Schemas/`, or `LEVY_SAFT_SCHEMA`.
    static func saftSchema() -> String? { InstalledFiles.locate(InstalledFiles.saftSchema) }

    /// The versioned table store: `--store`, else `LEVY_STORE`, else `.levy/tables` in the working directory.
    static func storeDirectory(_ option: String?) -> String {
        if let option { return option }
        if let env = ProcessInfo.processInfo.environment["LEVY_STORE"], !env.isEmpty { return env }
        return FileManager.default.currentDirectoryPath + "/.levy/tables"
    }

    /// The shipped tables' official files, which a store's versions are set beside (none when no tables are found).
    static func shippedOfficialFiles() -> [(OfficialFile, [UInt8])] {
        defaultDirectory().map { CanonicalTables.shippedOfficialFiles(directory: $0) } ?? []
    }

    /// The shipped (or `LEVY_TABLES`) canonical tables.
    static func loadBase() throws -> CanonicalTables.Loaded {
        guard let directory = defaultDirectory() else {
            throw CLIError.tables(InstalledFiles.notFound(InstalledFiles.tables))
        }
        do { return try CanonicalTables.load(directory: directory) } catch { throw CLIError.tables(error.description) }
    }

    /// The tables a command quotes with: `--tables PATH` when given; else a version of the store (`--version`, or
    /// its current version when it has one); else the shipped tables.
    static func load(_ path: String?, store: String?, version: String?) throws -> TaxTableSet {
        if path != nil { return try load(path) }
        let directory = storeDirectory(store)
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isFolder), !isFolder.boolValue {
            throw CLIError.tables("the table store \(directory) is a file, not a folder (--store, LEVY_STORE)")
        }
        let tableStore = TableStore(directory: directory)
        if version == nil, let problem = tableStore.currentProblem() {
            throw CLIError.tables(problem + " (the store is --store, else LEVY_STORE; `levy tables versions` lists its versions)")
        }
        guard version != nil || tableStore.currentID() != nil else { return try load(nil) }
        let base = try loadBase()
        do { return try tableStore.load(version, base: base).tables } catch let error as TableLoadError {
            throw CLIError.tables(error.description)
        } catch {
            throw CLIError.tables("\(error)")
        }
    }

    /// A canonical folder, or a ZIP5 rate CSV in the common layout (rules and taxability then come from the
    /// default folder).
    static func load(_ path: String?) throws -> TaxTableSet {
        let target = path ?? defaultDirectory()
        guard let target else {
            throw CLIError.tables(InstalledFiles.notFound(InstalledFiles.tables))
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: target, isDirectory: &isDirectory) else {
            // A link that leads nowhere (dangling, or a loop: ELOOP) is there, but is no folder or file.
            var info = stat()
            if lstat(target, &info) == 0, info.st_mode & S_IFMT == S_IFLNK {
                throw CLIError.tables("\(target) is a symbolic link that leads to no file or folder (dangling, or a loop of links)")
            }
            throw CLIError.tables("\(target) does not exist")
        }
        if isDirectory.boolValue {
            do { return try CanonicalTables.load(directory: target).tables } catch { throw CLIError.tables(error.description) }
        }
        guard let baseDirectory = defaultDirectory() else {
            throw CLIError.tables("a ZIP5 CSV needs the default TaxTables/ for taxability and rules; none found")
        }
        let data: [UInt8]
        switch TableFileReader.read(target) {
        case .success(let bytes): data = bytes
        case .failure(let why): throw CLIError.tables(why.description)
        }
        do {
            let base = try CanonicalTables.load(directory: baseDirectory).tables
            let rows = try CommonZip5Rates.read([UInt8](data), file: (target as NSString).lastPathComponent)
            return CommonZip5Rates.tableSet(rows: rows, base: base, fileDigest: CanonicalTables.digest(bytes: [UInt8](data)))
        } catch {
            throw CLIError.tables(error.description)
        }
    }
}

enum CLIError: Error, CustomStringConvertible {
    case tables(String)
    case input(String)

    var description: String {
        switch self {
        case .tables(let message): "tables: \(message)"
        case .input(let message): message
        }
    }
}
