import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// A Stripe-shaped server on 127.0.0.1 that honours `Idempotency-Key` the way Stripe does (a repeated key gets the
/// first answer, and nothing is created again) and can misbehave on purpose: drop the connection after acting on
/// a request (the answer is lost), answer 500 or 429, or answer late. It records every request it read.
final class FlakyStripe: @unchecked Sendable {
    enum Fault: Sendable { case dropAfterActing, serverError, tooManyRequests, late(TimeAmount) }

    struct Seen: Sendable {
        var method: String
        var path: String
        var headers: [String: String]
        var body: String
    }

    private let state = NIOLockedValueBox(State())
    private var channel: (any Channel)?
    var port: Int { channel?.localAddress?.port ?? 0 }

    struct State {
        var faults: [Fault] = []
        var seen: [Seen] = []
        var answers: [String: (Int, String)] = [:]
        var created: [String: Int] = [:]
        var counter = 0
    }

    /// Faults applied to the next requests, in order.
    func inject(_ faults: Fault...) { state.withLockedValue { $0.faults += faults } }
    var seen: [Seen] { state.withLockedValue { $0.seen } }
    /// How many objects of each kind were really created (repeats by idempotency key not counted).
    var created: [String: Int] { state.withLockedValue { $0.created } }

    func start() async throws {
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap { channel.pipeline.addHandler(Handler(server: self)) }
            }
        channel = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
    }

    func stop() async throws { try await channel?.close() }

    /// Acts on a request (once per idempotency key) and says what to send, or nil to drop the connection.
    fileprivate func handle(_ seen: Seen) -> (status: Int, body: String, delay: TimeAmount?)? {
        state.withLockedValue { state in
            state.seen.append(seen)
            let fault = state.faults.isEmpty ? nil : state.faults.removeFirst()
            if case .serverError = fault { return (500, #"{"error":{"type":"api_error","message":"try again"}}"#, nil) }
            if case .tooManyRequests = fault { return (429, #"{"error":{"type":"rate_limit_error"}}"#, nil) }
            let key = seen.headers["idempotency-key"] ?? UUID().uuidString
            let answer: (Int, String)
            if let previous = state.answers[key] {
                answer = previous
            } else {
                state.counter += 1
                let kind: String
                let object: String
                switch seen.path {
                case "/v1/payment_methods":
                    kind = "payment_method"
                    object = #"{"id":"pm_\#(state.counter)","object":"payment_method"}"#
                case "/v1/payment_intents":
                    kind = "payment_intent"
                    let amount = seen.body.split(separator: "&").first { $0.hasPrefix("amount=") }.map { String($0.dropFirst(7)) } ?? "0"
                    object = #"{"id":"pi_\#(state.counter)","object":"payment_intent","status":"requires_capture","amount":\#(amount)}"#
                default:
                    kind = "other"
                    object = #"{"error":{"type":"invalid_request_error","code":"resource_missing"}}"#
                }
                state.created[kind, default: 0] += 1
                answer = (kind == "other" ? 404 : 200, object)
                state.answers[key] = answer
            }
            switch fault {
            case .dropAfterActing: return nil
            case .late(let delay): return (answer.0, answer.1, delay)
            default: return (answer.0, answer.1, nil)
            }
        }
    }

    private final class Handler: ChannelInboundHandler, @unchecked Sendable {
        func respond(_ status: Int, _ body: String, context: ChannelHandlerContext) {
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "Content-Length", value: String(body.utf8.count))
            headers.add(name: "Connection", value: "close")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .init(statusCode: status), headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in bound.value.close(promise: nil) }
        }

        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let server: FlakyStripe
        var head: HTTPRequestHead?
        var body: [UInt8] = []

        init(server: FlakyStripe) { self.server = server }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                body = []
            case .body(let buffer):
                body.append(contentsOf: buffer.readableBytesView)
            case .end:
                guard let head else { return }
                var headers: [String: String] = [:]
                for (name, value) in head.headers { headers[name.lowercased()] = value }
                let seen = Seen(method: "\(head.method)", path: head.uri, headers: headers, body: String(decoding: body, as: UTF8.self))
                guard let answer = server.handle(seen) else {
                    context.close(promise: nil)
                    return
                }
                if let delay = answer.delay {
                    let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                    context.eventLoop.scheduleTask(in: delay) {
                        let (handler, context) = bound.value
                        handler.respond(answer.status, answer.body, context: context)
                    }
                } else {
                    respond(answer.status, answer.body, context: context)
                }
            }
        }
    }
}
