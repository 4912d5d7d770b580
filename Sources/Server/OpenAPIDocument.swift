import Foundation

/// The OpenAPI 3.1 document (Sources/Server/openapi.yaml), served at `/openapi.yaml` exactly as written. The
/// composition root reads it from where Levy is installed (`levy serve`) or from the checkout (tests), so the
/// executable carries no resource bundle it could fail to find at run time.
public struct OpenAPIDocument: Sendable {
    public let bytes: [UInt8]
    /// The query parameters each operation declares (`"GET /v1/ledger": ["after", "limit"]`): the server refuses
    /// any other, as it refuses unknown members of a JSON body.
    public let queryParameters: [String: Set<String>]

    public init(bytes: [UInt8]) {
        self.bytes = bytes
        queryParameters = Self.queryParameters(in: String(decoding: bytes, as: UTF8.self))
    }

    /// Reads the `in: query` parameters of each operation from the document as Levy writes it: paths at two
    /// spaces (`  /v1/ledger:`), methods at four (`    get:`), parameters either on one line
    /// (`- { name: limit, in: query, … }`) or as a block (`- name: limit` then `in: query`).
    static func queryParameters(in document: String) -> [String: Set<String>] {
        var found: [String: Set<String>] = [:]
        var path = "", operation = "", pending = ""
        for line in document.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("  /"), line.hasSuffix(":") {
                path = String(line.dropFirst(2).dropLast())
                operation = ""
            } else if line.hasPrefix("components:") {
                path = ""
                operation = ""
            } else if !path.isEmpty, let method = ["get", "post", "put", "delete", "patch"].first(where: { line == "    \($0):" }) {
                operation = method.uppercased() + " " + path
                found[operation] = found[operation] ?? []
            } else if !operation.isEmpty {
                let text = line.trimmingCharacters(in: .whitespaces)
                if text.hasPrefix("- { name: "), text.contains(", in: query") {
                    found[operation]?.insert(String(text.dropFirst("- { name: ".count).prefix { $0 != "," }))
                } else if text.hasPrefix("- name: ") {
                    pending = String(text.dropFirst("- name: ".count))
                } else if text == "in: query", !pending.isEmpty {
                    found[operation]?.insert(pending)
                    pending = ""
                } else if text.hasPrefix("in: ") {
                    pending = ""
                }
            }
        }
        return found
    }

    /// Reads the document, refusing a file that is not an OpenAPI 3.1 document (a wrong path is found at start-up,
    /// not on the first request for it).
    public init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw OpenAPIDocumentError.unreadable(path) }
        guard data.starts(with: Array("openapi: 3.1".utf8)) else { throw OpenAPIDocumentError.notOpenAPI(path) }
        self.init(bytes: Array(data))
    }
}

public enum OpenAPIDocumentError: Error, CustomStringConvertible {
    case unreadable(String)
    case notOpenAPI(String)

    public var description: String {
        switch self {
        case .unreadable(let path): "cannot read the OpenAPI document \(path)"
        case .notOpenAPI(let path): "\(path) does not start with \"openapi: 3.1\""
        }
    }
}
