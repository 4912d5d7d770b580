import Foundation

/// The OpenAPI 3.1 document (Sources/Server/openapi.yaml), served at `/openapi.yaml` exactly as written.
enum OpenAPIDocument {
    static let bytes: [UInt8] = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml"), let data = try? Data(contentsOf: url) else {
            return Array("openapi: 3.1.0\ninfo: {title: Levy, version: unavailable}\npaths: {}\n".utf8)
        }
        return Array(data)
    }()
}
