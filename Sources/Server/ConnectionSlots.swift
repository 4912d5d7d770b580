import HTTPTypes
import NIOCore
import NIOHTTPTypes
import Synchronization

/// Keeps connection slots for clients that use them. The server accepts at most `max_connections`; a client that
/// opens hundreds of connections and sends nothing would hold every slot until the head deadline closed them, and
/// then open them again, so that no one else is served. When the open connections come within `reserve` of the
/// limit, each new connection closes the connection that has waited longest without a request in progress (one
/// that never sent a head, or a kept-alive one between requests); when there is none, the one whose request body
/// has been coming in longest, if for more than `bodyEvictionAge`. A request being answered is never cut.
///
/// Bodies too (probe #21): a body only has to keep a pace of 512 bytes a second over its deadline, so clients that
/// sent 16 KB of a 64 KB sign-in form and then waited held every slot for half a minute at a time, with no key,
/// and /health took 25 s to answer. A body that takes seconds while the slots run out is the one to give way.
final class ConnectionSlots: Sendable {
    private struct Entry {
        var channel: any Channel
        /// When the connection last began waiting for a request head (opened, or answered its last request).
        var waitingSince: NIODeadline?
        /// When the head of the request whose body is being read came.
        var bodySince: NIODeadline?
    }

    static let bodyEvictionAge = TimeAmount.seconds(2)

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
            let others = entries.filter { $0.key != ObjectIdentifier(channel) }
            let waiting = others.compactMap { entry in entry.value.waitingSince.map { (entry.key, $0) } }.min { $0.1 < $1.1 }
            let latestBodyStart = NIODeadline.now() - Self.bodyEvictionAge
            let slowBody = others.compactMap { entry in entry.value.bodySince.map { (entry.key, $0) } }
                .filter { $0.1 <= latestBodyStart }.min { $0.1 < $1.1 }
            guard let (key, _) = waiting ?? slowBody, let evicted = entries.removeValue(forKey: key) else { return nil }
            return evicted.channel
        }
    }

    /// Whether a connection whose body is still coming after `bodyEvictionAge` should close to bring the open
    /// connections back to the threshold (it is then forgotten here, so only as many close as are over it). Without
    /// it, connections that all began their bodies at once would fill every slot before any was old enough to give
    /// way, and no new connection would be accepted to make one.
    func shouldYield(_ channel: any Channel) -> Bool {
        entries.withLock { entries in
            guard entries.count > threshold, let since = entries[ObjectIdentifier(channel)]?.bodySince,
                  since <= NIODeadline.now() - Self.bodyEvictionAge else { return false }
            entries[ObjectIdentifier(channel)] = nil
            return true
        }
    }

    /// A request's head arrived: the connection reads its body.
    func requestStarted(_ channel: any Channel) {
        entries.withLock { entries in
            entries[ObjectIdentifier(channel)]?.waitingSince = nil
            entries[ObjectIdentifier(channel)]?.bodySince = .now()
        }
    }

    /// The request's body has all come: it is answered now, and is not cut.
    func bodyEnded(_ channel: any Channel) {
        entries.withLock { $0[ObjectIdentifier(channel)]?.bodySince = nil }
    }

    /// The response was written and the connection waits for its next request.
    func responded(_ channel: any Channel) {
        entries.withLock { entries in
            entries[ObjectIdentifier(channel)]?.bodySince = nil
            entries[ObjectIdentifier(channel)]?.waitingSince = .now()
        }
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
    /// While a body is read: the next check of whether it should give way (`ConnectionSlots.shouldYield`).
    private var yieldCheck: Scheduled<Void>?

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
        stopYieldChecks()
        slots.closed(context.channel)
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stopYieldChecks()
        slots.closed(context.channel)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            slots.requestStarted(context.channel)
            scheduleYieldCheck(context, in: ConnectionSlots.bodyEvictionAge)
        case .end:
            slots.bodyEnded(context.channel)
            stopYieldChecks()
        case .body: break
        }
        context.fireChannelRead(data)
    }

    private func scheduleYieldCheck(_ context: ChannelHandlerContext, in delay: TimeAmount) {
        yieldCheck?.cancel()
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        yieldCheck = context.eventLoop.scheduleTask(in: delay) {
            let (this, context) = bound.value
            this.yieldCheck = nil
            if this.slots.shouldYield(context.channel) {
                this.onEvict()
                context.close(promise: nil)
            } else {
                this.scheduleYieldCheck(context, in: .seconds(1))
            }
        }
    }

    private func stopYieldChecks() {
        yieldCheck?.cancel()
        yieldCheck = nil
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            slots.responded(context.channel)
            stopYieldChecks()
        }
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
