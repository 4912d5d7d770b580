import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// How long a client may take over each part of its request before the connection is closed. A client that opens a
/// connection and sends its head a byte at a time (slowloris), or never finishes its body, or holds a keep-alive
/// connection without using it, would otherwise pin a connection slot for as long as it likes.
public struct ConnectionDeadlines: Sendable, Equatable {
    /// From the connection's start to a complete request head.
    public var head: TimeAmount
    /// From the head to the end of the body.
    public var body: TimeAmount
    /// From a response to the next request head on a keep-alive connection.
    public var idle: TimeAmount

    public init(head: TimeAmount = .seconds(10), body: TimeAmount = .seconds(30), idle: TimeAmount = .seconds(60)) {
        self.head = head
        self.body = body
        self.idle = idle
    }
}

/// Enforces `ConnectionDeadlines` on one connection: one timer at a time, re-armed as the request moves on, and the
/// connection closed when a timer fires. While a handler runs (after the body, before the response), no deadline
/// applies: the server's own time is not the client's fault.
final class ConnectionDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    let deadlines: ConnectionDeadlines
    let onTimeout: @Sendable () -> Void
    private var timer: Scheduled<Void>?

    init(deadlines: ConnectionDeadlines, onTimeout: @escaping @Sendable () -> Void) {
        self.deadlines = deadlines
        self.onTimeout = onTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context, after: deadlines.head) }
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(context, after: deadlines.head)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        disarm()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) { disarm() }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: arm(context, after: deadlines.body)
        case .end: disarm()
        case .body: break
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { arm(context, after: deadlines.idle) }
        context.write(data, promise: promise)
    }

    private func arm(_ context: ChannelHandlerContext, after delay: TimeAmount) {
        disarm()
        let channel = context.channel
        let onTimeout = onTimeout
        timer = context.eventLoop.scheduleTask(in: delay) {
            onTimeout()
            channel.close(promise: nil)
        }
    }

    private func disarm() {
        timer?.cancel()
        timer = nil
    }
}
