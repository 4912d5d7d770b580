import HTTPTypes
import NIOCore
import NIOHTTP1

/// Gives the 400 that answers a request HTTP/1 cannot parse (a bad start line, header or length) a JSON error body
/// like every other error, naming the part at fault. Hummingbird answers such a request itself, with an empty body,
/// and closes the connection; this handler, in front of the codec, sees the parser's error go by and fills in that
/// answer. Errors the application answers (a body whose chunked framing breaks: `malformed_body`) carry their own
/// body and are left alone.
final class ParserErrorDescriber: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private var parserError: HTTPParserError?
    private var pendingBody: ByteBuffer?

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? HTTPParserError { parserError = error }
        context.fireErrorCaught(error)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var head) where parserError != nil && head.status == .badRequest && head.headers["Content-Length"] == ["0"]:
            let body = Self.error(for: parserError ?? .unknown).body(requestID: "")
            head.headers.replaceOrAdd(name: "Content-Type", value: "application/json")
            head.headers.replaceOrAdd(name: "Content-Length", value: String(body.count))
            pendingBody = ByteBuffer(bytes: body)
            context.write(wrapOutboundOut(.head(head)), promise: promise)
        case .end(let trailers) where pendingBody != nil:
            if let body = pendingBody { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
            pendingBody = nil
            context.write(wrapOutboundOut(.end(trailers)), promise: promise)
        default:
            context.write(data, promise: promise)
        }
    }

    /// The error: which part of the request could not be read (no request id: the application never saw it).
    static func error(for error: HTTPParserError) -> APIError {
        let (field, message): (String, String)
        switch error {
        case .invalidMethod: (field, message) = ("method", "the request method cannot be read")
        case .invalidURL: (field, message) = ("path", "the request target cannot be read")
        case .invalidVersion: (field, message) = ("version", "the HTTP version cannot be read (HTTP/1.0 or HTTP/1.1)")
        case .headerOverflow: (field, message) = ("headers", "the request's headers are too large")
        case .invalidContentLength, .unexpectedContentLength: (field, message) = ("Content-Length", "Content-Length cannot be read, or conflicts with Transfer-Encoding")
        case .invalidChunkSize: (field, message) = ("Transfer-Encoding", "the body's chunked framing cannot be read")
        case .invalidHeaderToken, .invalidCharactersUsed, .lfExpected, .invalidConstant:
            (field, message) = ("headers", "the request line or a header holds characters HTTP does not allow")
        default: (field, message) = ("request", "the request cannot be read as HTTP/1.1")
        }
        return APIError(.badRequest, "malformed_request", message, field: field)
    }
}
