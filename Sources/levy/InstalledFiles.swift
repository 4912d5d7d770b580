import Foundation

/// Where `levy` finds the files it ships beside its code: the tax tables, the SAF-T schema and the OpenAPI
/// document. In order: an environment variable naming the file or folder; the install prefix the executable sits
/// in (`PREFIX/bin/levy` reads `PREFIX/share/levy/…`, the layout `scripts/install` writes); the working
/// directory; and the source checkout the executable was built in (`.build/<config>/levy`), so that `swift run`
/// works without installing. The first candidate that exists wins; nothing is guessed beyond these.
enum InstalledFiles {
    /// A shipped file or folder: `shared` is its path under `share/levy/`, `checkout` its path in the source tree.
    struct Item {
        let environment: String
        let shared: String
        let checkout: String
        let isDirectory: Bool
    }

    static let tables = Item(environment: "LEVY_TABLES", shared: "TaxTables", checkout: "TaxTables", isDirectory: true)
    static let saftSchema = Item(environment: "LEVY_SAFT_SCHEMA", shared: "Schemas/oecd-saft-2.00/FAIA_v_2.01_full.xsd",
                                 checkout: "Schemas/oecd-saft-2.00/FAIA_v_2.01_full.xsd", isDirectory: false)
    static let openAPI = Item(environment: "LEVY_OPENAPI", shared: "openapi.yaml", checkout: "Sources/Server/openapi.yaml",
                              isDirectory: false)

    /// The path of `item`, or nil when no candidate exists.
    static func locate(_ item: Item, environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let path = environment[item.environment], !path.isEmpty { return path }
        return candidates(item).first { exists($0, item) }
    }

    /// Every place looked at, in order (for error messages that say where Levy looked).
    static func candidates(_ item: Item) -> [String] {
        let executable = URL(fileURLWithPath: executablePath()).resolvingSymlinksInPath().deletingLastPathComponent()
        var paths = [executable.deletingLastPathComponent().path + "/share/levy/" + item.shared,
                     FileManager.default.currentDirectoryPath + "/" + item.checkout]
        // .build/<triple>/<config>/levy or .build/<config>/levy: the package root is two or three levels up.
        var url = executable
        for _ in 0..<3 where url.path != "/" {
            url.deleteLastPathComponent()
            paths.append((url.path == "/" ? "" : url.path) + "/" + item.checkout)
        }
        var seen = Set<String>()
        return paths.filter { seen.insert($0).inserted }
    }

    /// Why `item` was not found, naming the variable that overrides the search and the places searched.
    static func notFound(_ item: Item) -> String {
        "\(item.shared) not found; set \(item.environment) or install Levy with scripts/install (looked in "
            + candidates(item).joined(separator: ", ") + ")"
    }

    private static func exists(_ path: String, _ item: Item) -> Bool {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return false }
        return isDirectory.boolValue == item.isDirectory
            && (!item.isDirectory || FileManager.default.fileExists(atPath: path + "/manifest.json"))
    }

    /// The running executable's own path (not argv[0], which is whatever the shell was given).
    private static func executablePath() -> String {
        if let link = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return link }
        return Bundle.main.executablePath ?? CommandLine.arguments[0]
    }
}
