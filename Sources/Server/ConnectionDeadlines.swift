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
/// applies: the server's own time is not the client's fault. A request whose body misses its deadline or its pace is
/// answered 408 `request_timeout` before the close (unless a response has begun), so that a client whose body came
/// up short of its `Content-Length` learns why; a late head or an idle connection has no request to answer.
///
/// A body must also keep a minimum pace: from `bodyGrace` after its head, a connection whose body has come in at
/// under `minimumBodyRate` bytes a second on average is closed. Without it, hundreds of clients trickling a byte
/// every few seconds to a route that must read the whole body before it can refuse (a webhook: the signature covers
/// the body) held every connection slot until the body deadline, and no one else was served for 30 seconds.
final class ConnectionDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    static let minimumBodyRate: Int64 = 512
    static let bodyGrace = TimeAmount.seconds(3)
    static let paceCheckInterval = TimeAmount.seconds(1)

    let deadlines: ConnectionDeadlines
    let onTimeout: @Sendable () -> Void
    private var timer: Scheduled<Void>?
    /// While a body is read: when its head came, the bytes since, and the next pace check.
    private var bodyStarted: NIODeadline?
    private var bodyBytes: Int64 = 0
    private var paceCheck: Scheduled<Void>?
    /// Whether the current request has been answered (or its answer begun): an early answer (a 401 before the body
    /// is read) leaves the body to come or not, and a 408 after it would be a second response to one request.
    private var answered = false

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
        stopPaceChecks()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        disarm()
        stopPaceChecks()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            answered = false
            arm(context, after: deadlines.body, answering: true)
            stopPaceChecks()
            bodyStarted = .now()
            bodyBytes = 0
            schedulePaceCheck(context, in: Self.bodyGrace)
        case .body(let buffer):
            bodyBytes += Int64(buffer.readableBytes)
        case .end:
            disarm()
            stopPaceChecks()
        }
        context.fireChannelRead(data)
    }

    /// Whether a body that has brought `bytes` in `elapsed` since its head keeps the minimum pace.
    static func keepsPace(bytes: Int64, elapsed: TimeAmount) -> Bool {
        elapsed < bodyGrace || bytes >= minimumBodyRate * elapsed.nanoseconds / 1_000_000_000
    }

    private func schedulePaceCheck(_ context: ChannelHandlerContext, in delay: TimeAmount) {
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        paceCheck = context.eventLoop.scheduleTask(in: delay) {
            let (this, context) = bound.value
            guard let started = this.bodyStarted else { return }
            if Self.keepsPace(bytes: this.bodyBytes, elapsed: .now() - started) {
                this.schedulePaceCheck(context, in: Self.paceCheckInterval)
            } else {
                this.stopPaceChecks()
                this.timeOut(context, answering: true)
            }
        }
    }

    /// Counts the timeout and closes the connection, first answering the request whose body is late if asked to.
    private func timeOut(_ context: ChannelHandlerContext, answering: Bool) {
        onTimeout()
        disarm()
        guard answering, !answered, context.channel.isActive else {
            context.close(promise: nil)
            return
        }
        let error = APIError(.requestTimeout, "request_timeout",
                             "the request body did not arrive in time (\(bodyBytes == 1 ? "1 byte" : "\(bodyBytes) bytes") came; it must come whole within the body deadline, "
                             + "at \(Self.minimumBodyRate) bytes a second on average from \(Self.bodyGrace.nanoseconds / 1_000_000_000) seconds after the head)",
                             field: "body")
        let body = error.body(requestID: "")
        var head = HTTPResponse(status: .requestTimeout)
        head.headerFields[.contentType] = "application/json"
        head.headerFields[.contentLength] = String(body.count)
        head.headerFields[.connection] = "close"
        answered = true
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(ByteBuffer(bytes: body))), promise: nil)
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in bound.value.close(promise: nil) }
    }

    private func stopPaceChecks() {
        paceCheck?.cancel()
        paceCheck = nil
        bodyStarted = nil
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head: answered = true
        case .body: break
        case .end: arm(context, after: deadlines.idle)
        }
        context.write(data, promise: promise)
    }

    private func arm(_ context: ChannelHandlerContext, after delay: TimeAmount, answering: Bool = false) {
        disarm()
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: delay) {
            let (this, context) = bound.value
            this.timer = nil
            this.timeOut(context, answering: answering)
        }
    }

    private func disarm() {
        timer?.cancel()
        timer = nil
    }
}
