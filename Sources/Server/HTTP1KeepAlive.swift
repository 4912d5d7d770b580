import Foundation
import HTTPTypes
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
///
/// A request that announces a body longer than `maxBodyBytes` is closed after its response too: it will be refused
/// (413) before its body is read, and otherwise the server would read and discard the whole announced body before
/// the connection's next request. So is a request asking to `Upgrade` the protocol: Levy upgrades to nothing, but the
/// HTTP/1 parser stops reading requests after one that asks, so a request pipelined behind it would never be read.
final class KeepAliveIntentHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    let maxBodyBytes: Int

    init(maxBodyBytes: Int) { self.maxBodyBytes = maxBodyBytes }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = unwrapInboundIn(data), !head.isKeepAlive || announcesLongBody(head) || head.headers.contains(name: "Upgrade") else {
            context.fireChannelRead(data)
            return
        }
        head.headers.replaceOrAdd(name: "Connection", value: "close")
        context.fireChannelRead(wrapInboundOut(.head(head)))
    }

    private func announcesLongBody(_ head: HTTPRequestHead) -> Bool {
        head.headers["Content-Length"].contains { value in announcedLength(value).map { $0 > maxBodyBytes } ?? false }
    }
}

/// A `Content-Length` value as a byte count: digits only, however many (`Int.max` for a count past it, so that
/// 9223372036854775808 is as much too long as 9223372036854775807); nil for anything else.
func announcedLength(_ value: String) -> Int? {
    let digits = value.trimmingCharacters(in: .whitespaces)
    guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
    return Int(digits) ?? Int.max
}

/// Answers 400 and closes the connection when a request's `Host` breaks RFC 9112 section 3.2: an HTTP/1.1 request
/// without one, any request with more than one, or one that is not a host name or address with an optional port.
/// The server needs no host to route, but a request that HTTP says must be refused is refused, not guessed at (a
/// proxy in front and Levy must not read one request two ways). Sits in front of the codec, beside
/// `KeepAliveIntentHandler`; the request never reaches the application.
final class HostFieldCheck: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private var refused = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused else { return }
        guard case .head(let head) = unwrapInboundIn(data), let problem = Self.problem(head) else {
            context.fireChannelRead(data)
            return
        }
        refused = true
        // The request never reached the application, so it has no request id.
        let body = APIError(.badRequest, "invalid_host", problem, field: "Host").body(requestID: "")
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(body.count))
        headers.add(name: "Connection", value: "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .badRequest, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }

    /// What is wrong with the request's `Host`, or nil when nothing is.
    static func problem(_ head: HTTPRequestHead) -> String? {
        let hosts = head.headers["Host"]
        if hosts.count > 1 { return "a request has one Host header" }
        guard let host = hosts.first else {
            return head.version.major == 1 && head.version.minor == 0 ? nil : "an HTTP/1.1 request needs a Host header"
        }
        return isHostValue(host) ? nil : "Host is a host name or address with an optional port"
    }

    /// `uri-host [ ":" port ]` loosely: a registered name, an IPv4 address or a bracketed IPv6 literal, then digits.
    static func isHostValue(_ value: String) -> Bool {
        let bytes = Array(value.utf8)
        guard (1...255).contains(bytes.count) else { return false }
        var host = bytes[...]
        if host.first == UInt8(ascii: "[") {
            guard let close = host.firstIndex(of: UInt8(ascii: "]")) else { return false }
            let literal = host[host.index(after: host.startIndex)..<close]
            guard !literal.isEmpty, literal.allSatisfy({ isHexDigit($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") }) else { return false }
            host = host[host.index(after: close)...]
            if host.isEmpty { return true }
            guard host.first == UInt8(ascii: ":") else { return false }
            return host.dropFirst().allSatisfy(isDigit) && host.count <= 6
        }
        let parts = host.split(separator: UInt8(ascii: ":"), maxSplits: 1, omittingEmptySubsequences: false)
        let name = parts[0]
        guard !name.isEmpty, name.allSatisfy({ isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") })
        else { return false }
        guard parts.count == 2 else { return true }
        return parts[1].count <= 5 && parts[1].allSatisfy(isDigit)
    }

    private static func isDigit(_ byte: UInt8) -> Bool { (48...57).contains(byte) }
    private static func isHexDigit(_ byte: UInt8) -> Bool { isDigit(byte) || (65...70).contains(byte) || (97...102).contains(byte) }
    private static func isAlphanumeric(_ byte: UInt8) -> Bool { isDigit(byte) || (65...90).contains(byte) || (97...122).contains(byte) }
}

/// Hummingbird adds a server's own handlers after its HTTP-types codec, where the HTTP version is gone; this one,
/// added among them, puts a `ParserErrorDescriber`, a `HostFieldCheck` and a `KeepAliveIntentHandler` in front of the
/// codec when the pipeline is built, then passes everything through.
final class KeepAliveIntentInstaller: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    let maxBodyBytes: Int

    init(maxBodyBytes: Int) { self.maxBodyBytes = maxBodyBytes }

    func handlerAdded(context: ChannelHandlerContext) {
        let pipeline = context.pipeline.syncOperations
        guard let codec = try? pipeline.handler(type: HTTP1ToHTTPServerCodec.self) else { return }
        try? pipeline.addHandler(ParserErrorDescriber(), position: .before(codec))
        try? pipeline.addHandler(HostFieldCheck(), position: .before(codec))
        try? pipeline.addHandler(KeepAliveIntentHandler(maxBodyBytes: maxBodyBytes), position: .before(codec))
    }
}
