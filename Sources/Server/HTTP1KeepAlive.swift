import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1

/// Closes a connection after its response whenever HTTP/1 says the client does not keep it alive: an HTTP/1.0
/// request without `Connection: keep-alive`, or any request whose `Connection` header lists `close` in any case.
/// Hummingbird closes only on a header that reads exactly `close`, and the request it sees no longer carries its
/// HTTP version, so an HTTP/1.0 client (which waits for the close to end the response) would wait for the idle
/// deadline, holding a connection slot. This handler sits in front of the codec that drops the version and writes
/// the client's intent as `Connection: close`.
final class KeepAliveIntentHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = unwrapInboundIn(data), !head.isKeepAlive else {
            context.fireChannelRead(data)
            return
        }
        head.headers.replaceOrAdd(name: "Connection", value: "close")
        context.fireChannelRead(wrapInboundOut(.head(head)))
    }
}

/// Hummingbird adds a server's own handlers after its HTTP-types codec, where the HTTP version is gone; this one,
/// added among them, puts a `KeepAliveIntentHandler` in front of the codec when the pipeline is built, then passes
/// everything through.
final class KeepAliveIntentInstaller: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    func handlerAdded(context: ChannelHandlerContext) {
        let pipeline = context.pipeline.syncOperations
        guard let codec = try? pipeline.handler(type: HTTP1ToHTTPServerCodec.self) else { return }
        try? pipeline.addHandler(KeepAliveIntentHandler(), position: .before(codec))
    }
}
