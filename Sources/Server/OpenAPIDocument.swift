import Foundation

/// The OpenAPI 3.1 document (Sources/Server/openapi.yaml), served at `/openapi.yaml` exactly as written. The
/// composition root reads it from where Levy is installed (`levy serve`) or from the checkout (tests), so the
/// executable carries no resource bundle it could fail to find at run time.
public struct OpenAPIDocument: Sendable {
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }

    /// Reads the document, refusing a file that is not an OpenAPI 3.1 document (a wrong path is found at start-up,
    /// not on the first request for it).
    public init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw OpenAPIDocumentError.unreadable(path) }
        guard data.starts(with: Array("openapi: 3.1".utf8)) else { throw OpenAPIDocumentError.notOpenAPI(path) }
        bytes = Array(data)
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
