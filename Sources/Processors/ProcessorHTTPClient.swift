import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// Where a processor's API lives: `https://api.stripe.com` or, for a local stand-in, `http://127.0.0.1:8420`.
public struct ProcessorEndpoint: Sendable, Hashable, CustomStringConvertible {
    public var secure: Bool
    public var host: String
    public var port: Int
    /// A path prefix without a trailing slash (usually empty).
    public var basePath: String

    /// Parses `http(s)://host[:port][/path]`; nil for anything else (no user info, query or fragment).
    public init?(url: String) {
        let secure: Bool
        var rest: Substring
        if url.hasPrefix("https://") { secure = true; rest = url.dropFirst(8) } else if url.hasPrefix("http://") { secure = false; rest = url.dropFirst(7) } else { return nil }
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<slash]
        var path = String(rest[slash...])
        while path.hasSuffix("/") { path.removeLast() }
        guard !authority.isEmpty, !authority.contains("@"), !path.contains("?"), !path.contains("#"),
              url.utf8.count <= 512, url.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 32 && $0.value < 127 }) else { return nil }
        var host = String(authority)
        var port = secure ? 443 : 80
        if let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]") {
            guard let parsed = Int(authority[authority.index(after: colon)...]), (1...65_535).contains(parsed) else { return nil }
            port = parsed
            host = String(authority[..<colon])
        }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        self.secure = secure
        self.host = host
        self.port = port
        self.basePath = path
    }

    public var description: String {
        let defaultPort = secure ? 443 : 80
        return (secure ? "https://" : "http://") + host + (port == defaultPort ? "" : ":\(port)") + basePath
    }
}

/// A response as the client read it: status, headers and a body of at most `ProcessorHTTPClient.maxBodyBytes`.
public struct ProcessorHTTPResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: [UInt8]
}

/// Why a request got no response. None of these carries the request's body or headers (they hold card data and
/// the secret key).
public enum ProcessorHTTPError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No connection could be made (refused, unreachable, TLS handshake failed).
    case connectionFailed(String)
    /// The connection closed before a whole response arrived: the request may or may not have been acted on.
    case connectionLost
    /// No whole response within the deadline: the request may or may not have been acted on.
    case timedOut
    /// The response was larger than the client reads.
    case responseTooLarge

    public var description: String {
        switch self {
        case .connectionFailed(let why): "no connection to the processor: \(why)"
        case .connectionLost: "the connection to the processor closed before its answer arrived"
        case .timedOut: "the processor did not answer in time"
        case .responseTooLarge: "the processor's answer was larger than \(ProcessorHTTPClient.maxBodyBytes) bytes"
        }
    }
}

/// A small HTTP/1.1 client for a payment processor's API over SwiftNIO: one request per connection (`Connection:
/// close`), TLS with the system's trust roots and hostname verification for `https`, one deadline for the whole
/// exchange, responses read up to a size limit. A processor call is rare next to a quote, and a fresh connection
/// per call keeps a half-read answer from ever being taken for the next one's.
public struct ProcessorHTTPClient: Sendable {
    public static let maxBodyBytes = 1 << 20

    let endpoint: ProcessorEndpoint
    let tls: NIOSSLContext?
    let timeout: Duration

    public init(endpoint: ProcessorEndpoint, timeout: Duration = .seconds(30)) throws {
        self.endpoint = endpoint
        self.timeout = timeout
        if endpoint.secure {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.minimumTLSVersion = .tlsv12
            tls = try NIOSSLContext(configuration: configuration)
        } else {
            tls = nil
        }
    }

    /// Sends one request to `endpoint.basePath + path` and reads the whole response.
    public func send(_ method: HTTPMethod, _ path: String, headers: [(String, String)], body: [UInt8]) async throws -> ProcessorHTTPResponse {
        let host = endpoint.host
        let tls = self.tls
        // Server name indication takes a name, never an address.
        let isAddressLiteral = host.contains(":") || host.allSatisfy { $0.isNumber || $0 == "." }
        let channel: NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(10))
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connect(host: host, port: endpoint.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let tls {
                            try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: isAddressLiteral ? nil : host))
                        }
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw ProcessorHTTPError.connectionFailed(String(describing: type(of: error)))
        }
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: endpoint.basePath + path)
        head.headers.add(name: "Host", value: endpoint.port == (endpoint.secure ? 443 : 80) ? host : "\(host):\(endpoint.port)")
        head.headers.add(name: "Connection", value: "close")
        head.headers.add(name: "Content-Length", value: String(body.count))
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        let request = head
        let deadline = timeout
        return try await withThrowingTaskGroup(of: ProcessorHTTPResponse?.self) { group in
            group.addTask {
                try await channel.executeThenClose { inbound, outbound in
                    // A server may answer and close before the last write is reported done: what it answered is
                    // still read, and only a missing answer counts as a lost connection.
                    do {
                        try await outbound.write(.head(request))
                        if !body.isEmpty { try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: body)))) }
                        try await outbound.write(.end(nil))
                    } catch {}
                    var status: Int?
                    var responseHeaders = HTTPHeaders()
                    var received: [UInt8] = []
                    for try await part in inbound {
                        switch part {
                        case .head(let head):
                            status = Int(head.status.code)
                            responseHeaders = head.headers
                        case .body(let buffer):
                            guard received.count + buffer.readableBytes <= Self.maxBodyBytes else { throw ProcessorHTTPError.responseTooLarge }
                            received.append(contentsOf: buffer.readableBytesView)
                        case .end:
                            guard let status else { throw ProcessorHTTPError.connectionLost }
                            return ProcessorHTTPResponse(status: status, headers: responseHeaders, body: received)
                        }
                    }
                    throw ProcessorHTTPError.connectionLost
                }
            }
            group.addTask {
                try await Task.sleep(for: deadline)
                return nil
            }
            defer { group.cancelAll() }
            do {
                guard let first = try await group.next(), let response = first else {
                    channel.channel.close(promise: nil)
                    throw ProcessorHTTPError.timedOut
                }
                return response
            } catch let error as ProcessorHTTPError {
                channel.channel.close(promise: nil)
                throw error
            } catch {
                channel.channel.close(promise: nil)
                throw ProcessorHTTPError.connectionLost
            }
        }
    }
}
