import Exports
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// One endpoint of the API as data: the router, the scope checks, idempotency, the route tests and the check that
/// the OpenAPI document lists exactly these endpoints all read this one table.
struct Endpoint: Sendable {
    enum Idempotency: String, Sendable {
        /// The endpoint creates nothing: an `Idempotency-Key` is ignored.
        case none
        /// A key is honoured when sent.
        case optional
        /// A key must be sent (the endpoint moves money).
        case required
    }

    var method: HTTPRequest.Method
    /// The OpenAPI form, `/v1/orders/{order_id}`.
    var path: String
    /// Any one of these scopes lets a key call the endpoint; empty means no key is needed.
    var scopes: Set<Scope>
    var idempotency: Idempotency
    /// Refused attempts (no key, a key without the scope) are written to the vault's reveal audit.
    var auditsRefusedAttempts = false
    /// The body is a file (`text/csv`) of at most this many bytes, which the handler streams to disk itself
    /// (`APICall.upload`), not JSON read first.
    var uploadLimit: Int? = nil
    var takesUpload: Bool { uploadLimit != nil }
    var handler: @Sendable (APICall) async throws -> APIReply

    /// Hummingbird's form of the path, `/v1/orders/:order_id`.
    var routerPath: String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { part in
            part.hasPrefix("{") && part.hasSuffix("}") ? ":" + part.dropFirst().dropLast() : String(part)
        }.joined(separator: "/")
    }

    var description: EndpointDescription {
        EndpointDescription(method: method.rawValue, path: path, scopes: scopes.sorted(), idempotency: idempotency.rawValue)
    }
}

/// What the tests and docs may know about an endpoint.
public struct EndpointDescription: Sendable, Hashable {
    public var method: String
    public var path: String
    public var scopes: [Scope]
    public var idempotency: String
}

/// A request as a handler sees it: the body already read, the caller already authenticated.
struct APICall: Sendable {
    var body: [UInt8]
    var parameters: [String: String]
    var query: [String: String]
    var key: APIKey?
    /// The client's `Idempotency-Key`, scoped to its API key (`<key id>/<idempotency key>`), when it sent one.
    var idempotencyKey: String?
    var requestID: String
    var logger: Logger
    /// The request's header fields (for the few endpoints that read one, such as a webhook's signature).
    var headers: HTTPFields = [:]
    /// The body, unread, of an endpoint that takes an upload.
    var upload: RequestBody?

    func parameter(_ name: String) -> String { parameters[name] ?? "" }

    func decode<T: Decodable>(_ type: T.Type) throws -> T { try StrictJSON.decode(type, from: body) }

    /// Decodes a body that may be left out: no body reads as `{}`.
    func decodeOptional<T: Decodable>(_ type: T.Type) throws -> T {
        try StrictJSON.decode(type, from: body.allSatisfy { $0 == 32 || $0 == 10 || $0 == 13 || $0 == 9 } ? Array("{}".utf8) : body)
    }
}

/// A handler's answer. `resource` names personal data the response holds (a customer id), for idempotency records.
struct APIReply: Sendable {
    var status: HTTPResponse.Status
    var body: [UInt8]
    var contentType: String = "application/json"
    var resource: String?
    /// The body kept for replays of an idempotent request when it must differ from the one sent: a gift card code
    /// is shown once and never stored, so the kept body leaves it out.
    var storedBody: [UInt8]?
    /// A download streamed from files instead of `body` (an export's archive), and the file name it is offered as.
    var archive: TarArchive?
    var archiveName: String?

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok, resource: String? = nil) -> APIReply {
        APIReply(status: status, body: JSONBody.encode(value), resource: resource)
    }
}
