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
    /// Requests whose head came, and final responses begun and ended, on this connection. HTTP/1 answers requests in
    /// order, so a late body's 408 is written only once every earlier request is answered (a pipelined request
    /// whose body stalls while the one before it is still being handled), and never once its own answer has begun
    /// (an early 401 or 413 before the body is read: a 408 after it would be a second response to one request).
    private var requests = 0
    private var responsesBegun = 0
    private var responsesEnded = 0
    /// A late body's 408 that waits for the answers to the requests before it.
    private var timeoutWaiting = false

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
        case .head(let head):
            requests += 1
            arm(context, after: deadlines.body, answering: true)
            stopPaceChecks()
            bodyStarted = .now()
            bodyBytes = 0
            schedulePaceCheck(context, in: Self.bodyGrace)
            // A client that asks before it sends its body (`Expect: 100-continue`) is told to go on, when nothing
            // before it is still being answered; it would otherwise wait, and miss the body's pace.
            if head.headerFields[.expect]?.lowercased() == "100-continue", responsesEnded == requests - 1, responsesBegun == requests - 1 {
                context.writeAndFlush(wrapOutboundOut(.head(HTTPResponse(status: .continue))), promise: nil)
            }
        case .body(let buffer):
            bodyBytes += Int64(buffer.readableBytes)
        case .end:
            stopPaceChecks()
            // While the handler runs no deadline applies; a request answered before its body ended has no handler
            // left to run, so the connection idles from here.
            if responsesEnded == requests, !timeoutWaiting { arm(context, after: deadlines.idle) } else { disarm() }
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

    /// Counts the timeout and closes the connection, first answering the request whose body is late if asked to
    /// (after the answers to the requests before it, when they are still being handled).
    private func timeOut(_ context: ChannelHandlerContext, answering: Bool) {
        onTimeout()
        disarm()
        guard answering, responsesBegun < requests, context.channel.isActive else {
            context.close(promise: nil)
            return
        }
        guard responsesEnded == requests - 1 else {
            stopPaceChecks()
            timeoutWaiting = true
            return
        }
        answerLateBody(context)
    }

    /// The 408 for the request whose body is late, then the close.
    private func answerLateBody(_ context: ChannelHandlerContext) {
        let error = APIError(.requestTimeout, "request_timeout",
                             "the request body did not arrive in time (\(bodyBytes == 1 ? "1 byte" : "\(bodyBytes) bytes") came; it must come whole within the body deadline, "
                             + "at \(Self.minimumBodyRate) bytes a second on average from \(Self.bodyGrace.nanoseconds / 1_000_000_000) seconds after the head)",
                             field: "body")
        let body = error.body(requestID: "")
        var head = HTTPResponse(status: .requestTimeout)
        head.headerFields[.contentType] = "application/json"
        head.headerFields[.contentLength] = String(body.count)
        head.headerFields[.connection] = "close"
        responsesBegun += 1
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(ByteBuffer(bytes: body))), promise: nil)
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in bound.value.close(promise: nil) }
        // Closed within a second whatever becomes of the write (a client that reads nothing leaves it pending).
        context.eventLoop.scheduleTask(in: .seconds(1)) { bound.value.close(promise: nil) }
    }

    private func stopPaceChecks() {
        paceCheck?.cancel()
        paceCheck = nil
        bodyStarted = nil
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head):
            // An informational response (100 Continue) is not the request's answer.
            if head.status.kind != .informational { responsesBegun += 1 }
            context.write(data, promise: promise)
        case .body:
            context.write(data, promise: promise)
        case .end:
            responsesEnded += 1
            context.write(data, promise: promise)
            if timeoutWaiting, context.channel.isActive {
                // The requests before the late one are answered now: its 408 follows theirs.
                if responsesEnded == requests - 1 {
                    timeoutWaiting = false
                    answerLateBody(context)
                }
            } else if bodyStarted != nil {
                // Answered early (a 401 or 413 before the body was read): the rest of the body has a short while to
                // come, so that a client streaming an oversized body does not hold the connection.
                if responsesEnded == requests { arm(context, after: Self.bodyGrace) }
            } else if responsesEnded == requests {
                arm(context, after: deadlines.idle)
            }
        }
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
