import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Closes the connection after answering a CONNECT request. Levy is no proxy, so CONNECT gets an error; but the
/// HTTP/1 encoder writes every response to CONNECT without a body or a length (a 2xx would open a tunnel), and a
/// client then reads the error's body until the connection closes. Without this it would wait for the idle
/// deadline, holding a connection slot.
final class ConnectRequestHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private var closeAfterResponse = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let request) = unwrapInboundIn(data), request.method == .connect { closeAfterResponse = true }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard closeAfterResponse, case .end = unwrapOutboundIn(data) else {
            context.write(data, promise: promise)
            return
        }
        let written = promise ?? context.eventLoop.makePromise()
        let channel = context.channel
        written.futureResult.whenComplete { _ in channel.close(promise: nil) }
        context.writeAndFlush(data, promise: written)
    }
}
