import HTTPTypes
import NIOCore
import NIOHTTPTypes
import Synchronization

/// Keeps connection slots for clients that use them. The server accepts at most `max_connections`; a client that
/// opens hundreds of connections and sends nothing would hold every slot until the head deadline closed them, and
/// then open them again, so that no one else is served. When the open connections come within `reserve` of the
/// limit, each new connection closes the connection that has waited longest without a request in progress (one
/// that never sent a head, or a kept-alive one between requests): a request being read or answered is never cut.
final class ConnectionSlots: Sendable {
    private struct Entry {
        var channel: any Channel
        /// When the connection last began waiting for a request head (opened, or answered its last request).
        var waitingSince: NIODeadline?
    }

    let threshold: Int
    private let entries = Mutex<[ObjectIdentifier: Entry]>([:])

    /// Evicts from `maxConnections - reserve` open connections on (the reserve: an eighth of the limit, at least 1).
    init(maxConnections: Int) {
        threshold = max(1, maxConnections - max(1, maxConnections / 8))
    }

    /// Records a new connection; returns the connection to close to make room, if the slots are nearly full.
    func opened(_ channel: any Channel) -> (any Channel)? {
        entries.withLock { entries in
            entries[ObjectIdentifier(channel)] = Entry(channel: channel, waitingSince: .now())
            guard entries.count > threshold else { return nil }
            let oldest = entries.filter { $0.key != ObjectIdentifier(channel) && $0.value.waitingSince != nil }
                .min { $0.value.waitingSince! < $1.value.waitingSince! }
            guard let oldest else { return nil }
            entries[oldest.key] = nil
            return oldest.value.channel
        }
    }

    /// A request head arrived (`busy`), or its response was written and the connection waits for the next one.
    func mark(_ channel: any Channel, busy: Bool) {
        entries.withLock { $0[ObjectIdentifier(channel)]?.waitingSince = busy ? nil : .now() }
    }

    func closed(_ channel: any Channel) {
        _ = entries.withLock { $0.removeValue(forKey: ObjectIdentifier(channel)) }
    }
}

/// Reports one connection's life to the server's `ConnectionSlots`, and closes the connection they choose to evict.
final class ConnectionSlotHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    let slots: ConnectionSlots
    let onEvict: @Sendable () -> Void
    private var registered = false

    init(slots: ConnectionSlots, onEvict: @escaping @Sendable () -> Void) {
        self.slots = slots
        self.onEvict = onEvict
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { register(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        register(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        slots.closed(context.channel)
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) { slots.closed(context.channel) }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) { slots.mark(context.channel, busy: true) }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { slots.mark(context.channel, busy: false) }
        context.write(data, promise: promise)
    }

    private func register(_ context: ChannelHandlerContext) {
        guard !registered else { return }
        registered = true
        if let evicted = slots.opened(context.channel) {
            onEvict()
            evicted.close(promise: nil)
        }
    }
}
