import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Server
import LevyTestSupport
import Testing

@Suite struct LiveTests {
    /// A real server on 127.0.0.1: quote and place over a socket, the worked example to the cent.
    @Test(arguments: Store.available)
    func quoteAndPlaceOverLoopback(store: Store) async throws {
        let server = try await TestServer.make(store)
        let app = try server.application()
        try await app.test(.live) { client in
            let quote = try await client.send(.post, "/v1/quotes", key: server.keys[.checkout], body: fixture("minneapolis.json"))
            #expect(quote.status == 200 && quote.string("total_tax") == "9.03")
            let placed = try await client.send(.post, "/v1/orders", key: server.keys[.checkout], idempotency: "live-1", body: placeBody("minneapolis.json"))
            #expect(placed.status == 201 && placed.string("total_tax") == "9.03")
        }
    }

    /// With a certificate configured the server speaks HTTPS (a self-signed certificate made by openssl).
    @Test(arguments: Store.available) func servesTLSWhenACertificateIsConfigured(store: Store) async throws {
        let server = try await TestServer.make(store)
        let certificate = server.directory + "/cert.pem", key = server.directory + "/key.pem"
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        openssl.arguments = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", certificate, "-days", "1",
                             "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"]
        openssl.standardOutput = FileHandle.nullDevice
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        try #require(openssl.terminationStatus == 0)
        let app = try server.application(tls: (certificate, key))
        try await app.test(.ahc(.https)) { client in
            let quote = try await client.send(.post, "/v1/quotes", key: server.keys[.checkout], body: fixture("minneapolis.json"))
            #expect(quote.status == 200 && quote.string("total_tax") == "9.03")
        }
    }

    /// Slowloris: a client that sends its head a byte at a time, one that never finishes its body, and one that
    /// holds a kept-alive connection idle are all cut off at their deadlines, while a normal client is served.
    @Test(arguments: Store.available) func slowClientsAreCutOff(store: Store) async throws {
        let server = try await TestServer.make(store)
        let app = try server.application { settings in
            settings.requestHeadTimeout = 3
            settings.requestBodyTimeout = 3
            settings.idleTimeout = 4
        }
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let slowHead = try RawConnection(port: port)
            try slowHead.send("POST /v1/quotes HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            let slowBody = try RawConnection(port: port)
            try slowBody.send("POST /v1/quotes HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(server.keys[.checkout]!)\r\n"
                              + "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
            // Answered 401 before its body is read: that answer is its only one (no 408 after it).
            let refusedEarly = try RawConnection(port: port)
            try refusedEarly.send("POST /v1/quotes HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
            let idle = try RawConnection(port: port)
            try await Task.sleep(for: .milliseconds(6_500))
            let closed = try await onOwnThread { [slowHead.isClosedByPeer(), idle.isClosedByPeer()] }
            #expect(closed[0], "the slow head is cut off")
            #expect(closed[1], "the idle connection is cut off")
            // The unfinished body's request is answered before its connection is closed: the client learns why.
            let answer = try await onOwnThread { slowBody.readToEnd() }
            #expect(answer.hasPrefix("HTTP/1.1 408"), "\(answer)")
            #expect(answer.contains("\"code\":\"request_timeout\"") && answer.contains("\"field\":\"body\"") && answer.contains("(1 byte came;"), "\(answer)")
            #expect(answer.lowercased().contains("connection: close"), "\(answer)")
            let early = try await onOwnThread { refusedEarly.readToEnd() }
            #expect(early.hasPrefix("HTTP/1.1 401") && early.components(separatedBy: "HTTP/1.1 ").count == 2, "\(early)")
            // A well-behaved client on a new connection is served (the test client's own connection was idle too long).
            let body = fixture("minneapolis.json")
            // Retried: under a full parallel test run a single attempt can meet a stalled event loop.
            var quote = ""
            for _ in 0..<3 where !quote.hasPrefix("HTTP/1.1 200") {
                let request = """
                POST /v1/quotes HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(server.keys[.checkout]!)\r\n\
                Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)
                """
                quote = try await onOwnThread { try RawConnection(port: port).exchange(request) }
            }
            #expect(quote.hasPrefix("HTTP/1.1 200"))
            let metrics = try await onOwnThread {
                try RawConnection(port: port).exchange("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            }
            // Three slow connections, and the test client's own if it connected and sat idle.
            let timeouts = metrics.split(separator: "\n").first { $0.hasPrefix("levy_http_connection_timeouts_total ") }
                .flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
            #expect(timeouts >= 3, "\(metrics.split(separator: "\n").filter { $0.contains("timeout") })")
            #expect(!metrics.contains("status=\"5"))
        }
    }

    /// A client that opens more idle connections than the server has slots does not lock others out: near the limit,
    /// each new connection closes the one that has waited longest without a request.
    @Test func idleConnectionsCannotTakeEverySlot() async throws {
        let server = try await TestServer.make()
        let app = try server.application { settings in
            settings.maxConnections = 16
            settings.requestHeadTimeout = 60
            settings.idleTimeout = 60
        }
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let idle = try await onOwnThread { try (0..<48).map { _ in try RawConnection(port: port) } }
            let started = ContinuousClock.now
            let health = try await onOwnThread {
                try RawConnection(port: port).exchange("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            }
            #expect(health.hasPrefix("HTTP/1.1 200"), "\(health)")
            #expect(ContinuousClock.now - started < .seconds(20), "served only when a deadline freed a slot")
            let closed = try await onOwnThread { idle.prefix(16).filter { $0.isClosedByPeer() }.count }
            #expect(closed >= 8, "the oldest idle connections were closed")
            let metrics = try await onOwnThread {
                try RawConnection(port: port).exchange("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            }
            let evictions = metrics.split(separator: "\n").first { $0.hasPrefix("levy_http_connection_evictions_total ") }
                .flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
            // 50 connections for 16 slots make 34 evictions once every connection has been accepted; under a full
            // parallel run the last few may still wait in the accept queue when the metrics are read (29 seen once).
            #expect(evictions >= 24, "\(evictions)")
        }
    }

    /// Clients that trickle a request body to a route that reads it whole (an authenticated quote here; the webhook
    /// in the finding) do not hold every slot until the body deadline: a body slower than the minimum pace is closed
    /// after its grace, so another client is served within seconds (it waited 29 s before). Probe #21: bodies that
    /// keep the pace by sending much of themselves at once (16 KB of a 64 KB sign-in form, then nothing) held every
    /// slot for half a minute, and /health waited 25 s; near the limit, a body still coming after 2 s gives way.
    @Test(arguments: [0, 20_000])
    func slowBodiesCannotTakeEverySlot(paidAhead: Int) async throws {
        let server = try await TestServer.make()
        let key = try #require(server.keys[.checkout])
        let app = try server.application { settings in
            settings.maxConnections = 16
            settings.requestBodyTimeout = 60
        }
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let head = "POST /v1/quotes HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(key)\r\nContent-Type: application/json\r\n"
                + "Content-Length: 100000\r\n\r\n{" + (paidAhead > 0 ? "\"x\": \"" + String(repeating: "a", count: paidAhead) : "")
            let slow = try await onOwnThread {
                try (0..<16).map { _ in
                    let connection = try RawConnection(port: port)
                    try connection.send(head)
                    return connection
                }
            }
            let started = ContinuousClock.now
            // Retried: under a full parallel test run the server may read this connection's head so late that a
            // newer connection (the test client's own) finds it still waiting and closes it to make room.
            var health = ""
            for _ in 0..<3 where !health.hasPrefix("HTTP/1.1 200") {
                health = try await onOwnThread {
                    try RawConnection(port: port).exchange("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                }
            }
            #expect(health.hasPrefix("HTTP/1.1 200"), "\(health)")
            // 20 KB paid ahead keeps 512 bytes a second for 39 s: without giving way, /health waited that long.
            #expect(ContinuousClock.now - started < .seconds(15), "served only when a deadline freed a slot")
            #expect(try await onOwnThread { slow.filter { $0.isClosedByPeer() }.count } >= (paidAhead > 0 ? 2 : 8))
        }
    }

    /// CONNECT (Levy is no proxy) is refused and the connection closed: the HTTP/1 encoder gives a response to CONNECT
    /// no length, so the client reads its body until the close, which must not wait for the idle deadline.
    @Test func aConnectRequestIsRefusedAndClosed() async throws {
        let server = try await TestServer.make()
        let app = try server.application { settings in settings.idleTimeout = 60 }
        try await app.test(.live) { client in
            let port = try #require(client.port)
            for target in ["example.com:443", "/health"] {
                let started = ContinuousClock.now
                let reply = try await onOwnThread {
                    try RawConnection(port: port).exchange("CONNECT \(target) HTTP/1.1\r\nHost: example.com\r\n\r\n")
                }
                #expect(reply.hasPrefix("HTTP/1.1 4"), "\(reply)")
                #expect(ContinuousClock.now - started < .seconds(15), "the connection stayed open")
            }
        }
    }

    /// A client that does not keep its connection alive (HTTP/1.0 without keep-alive, `Connection: Close` in any
    /// case) reads its response to the close, which must come with the response, not at the idle deadline. So does
    /// one that asks to upgrade the protocol (the parser reads no request after it: one pipelined behind it would
    /// wait for the idle deadline unanswered).
    @Test func connectionsThatAreNotKeptAliveCloseAfterTheResponse() async throws {
        let server = try await TestServer.make()
        let app = try server.application { settings in settings.idleTimeout = 60 }
        try await app.test(.live) { client in
            let port = try #require(client.port)
            for request in ["GET /health HTTP/1.0\r\n\r\n", "GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                            "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Close\r\n\r\n",
                            "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nGET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"] {
                let started = ContinuousClock.now
                let reply = try await onOwnThread { try RawConnection(port: port).exchange(request) }
                #expect(reply.hasPrefix("HTTP/1.1 200"), "\(reply)")
                #expect(ContinuousClock.now - started < .seconds(15), "the connection stayed open: \(request)")
            }
        }
    }

    /// HEAD answers as GET would (status and `Content-Length`) without a body, on every route and on unknown paths:
    /// pipelined behind HEADs on one connection, the GET's response is the only body that follows.
    @Test func headAnswersLikeGetWithoutABody() async throws {
        let server = try await TestServer.make()
        let app = try server.application()
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let host = "Host: 127.0.0.1\r\n"
            let requests = ["HEAD /health HTTP/1.1\r\n" + host + "\r\n", "HEAD /openapi.yaml HTTP/1.1\r\n" + host + "\r\n",
                            "HEAD /v1/orders/ord_unknown HTTP/1.1\r\n" + host + "\r\n", "HEAD /no/such/path HTTP/1.1\r\n" + host + "\r\n",
                            "HEAD /v1/quotes HTTP/1.1\r\n" + host + "\r\n", "GET /health HTTP/1.1\r\n" + host + "Connection: close\r\n\r\n"]
            let reply = try await onOwnThread { try RawConnection(port: port).exchange(requests.joined()) }
            let statuses = reply.components(separatedBy: "\r\n").filter { $0.hasPrefix("HTTP/1.1 ") }.map { String($0.prefix(12)) }
            #expect(statuses == ["HTTP/1.1 200", "HTTP/1.1 200", "HTTP/1.1 401", "HTTP/1.1 404", "HTTP/1.1 405", "HTTP/1.1 200"], "\(reply)")
            #expect(reply.components(separatedBy: #""status":"ok""#).count == 2, "one body, the GET's: \(reply)")
            #expect(!reply.contains("openapi: "), "\(reply)")
            #expect(!reply.contains(#""code""#), "no error body after a HEAD: \(reply)")
            #expect(reply.contains("Allow: POST\r\n"), "the 405 names what /v1/quotes takes: \(reply)")
            let lengths = reply.components(separatedBy: "\r\n").filter { $0.lowercased().hasPrefix("content-length: ") }
            #expect(lengths.first == lengths.last && lengths.count == 6, "HEAD announces the GET's length: \(lengths)")
        }
    }

    /// Bodies are read plain or chunked only: another transfer coding is refused (501), and chunked framing that
    /// cannot be read is the client's error (400), not a closed connection.
    @Test func unreadableBodyFramingIsRefused() async throws {
        let server = try await TestServer.make()
        let app = try server.application()
        let head = "POST /v1/quotes HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(server.keys[.checkout]!)\r\nContent-Type: application/json\r\n"
        let body = fixture("minneapolis.json")
        let chunk = String(body.utf8.count, radix: 16) + "\r\n" + body + "\r\n0\r\n\r\n"
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let coded = try await onOwnThread {
                try RawConnection(port: port).exchange(head + "Transfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n" + chunk)
            }
            #expect(coded.hasPrefix("HTTP/1.1 501") && coded.contains("Transfer-Encoding"), "\(coded)")
            let badSize = try await onOwnThread {
                try RawConnection(port: port).exchange(head + "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n{}\r\n0\r\n\r\n")
            }
            #expect(badSize.hasPrefix("HTTP/1.1 400") && badSize.contains("malformed_body"), "\(badSize)")
            let plain = try await onOwnThread {
                try RawConnection(port: port).exchange(head + "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunk)
            }
            #expect(plain.hasPrefix("HTTP/1.1 200"), "\(plain)")
        }
    }

    /// RFC 9112 section 3.2: an HTTP/1.1 request without `Host`, any request with two, or a `Host` that is no host
    /// is answered 400 naming `Host` and its connection closed; HTTP/1.0 may leave it out.
    @Test func requestsWithoutOneValidHostAreRefused() async throws {
        let server = try await TestServer.make()
        let app = try server.application { settings in settings.idleTimeout = 60 }
        try await app.test(.live) { client in
            let port = try #require(client.port)
            for request in ["GET /health HTTP/1.1\r\n\r\n", "GET /health HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n",
                            "GET /health HTTP/1.1\r\nHost: a b\r\n\r\n", "GET /health HTTP/1.1\r\nHost: user@a.example\r\n\r\n",
                            "GET /health HTTP/1.1\r\nHost: a.example:80x\r\n\r\n", "GET /health HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"] {
                let started = ContinuousClock.now
                let reply = try await onOwnThread { try RawConnection(port: port).exchange(request) }
                #expect(reply.hasPrefix("HTTP/1.1 400") && reply.contains(#""field":"Host""#), "\(request): \(reply)")
                #expect(ContinuousClock.now - started < .seconds(15), "the connection stayed open: \(request)")
            }
            for request in ["GET /health HTTP/1.0\r\n\r\n", "GET /health HTTP/1.1\r\nHost: [::1]:8080\r\nConnection: close\r\n\r\n",
                            "GET /health HTTP/1.1\r\nHost: 127.0.0.1:443\r\nConnection: close\r\n\r\n"] {
                let reply = try await onOwnThread { try RawConnection(port: port).exchange(request) }
                #expect(reply.hasPrefix("HTTP/1.1 200"), "\(request): \(reply)")
            }
        }
    }

    /// A request HTTP/1.1 cannot parse is answered 400 with a JSON error naming the part at fault, not an empty body.
    @Test func unparsableRequestsGetAnErrorThatNamesThePart() async throws {
        let server = try await TestServer.make()
        let app = try server.application()
        try await app.test(.live) { client in
            let port = try #require(client.port)
            for (request, field) in [("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header: x\r\n\r\n", "headers"),
                                     ("GET /health HTTP/9.9\r\nHost: 127.0.0.1\r\n\r\n", "version"),
                                     ("POST /v1/quotes HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 12x\r\n\r\n", "Content-Length")] {
                let reply = try await onOwnThread { try RawConnection(port: port).exchange(request) }
                #expect(reply.hasPrefix("HTTP/1.1 400") && reply.contains(#""code":"malformed_request""#) && reply.contains(#""field":"\#(field)""#),
                        "\(request): \(reply)")
            }
        }
    }

    /// A body announced longer than the limit is refused (413) before any of it arrives, and the connection closed:
    /// the client is not kept waiting for the body deadline, and the server does not read the body to throw it away.
    @Test func anAnnouncedOversizedBodyIsRefusedAtOnce() async throws {
        let server = try await TestServer.make()
        let app = try server.application { settings in
            settings.requestBodyTimeout = 60
            settings.idleTimeout = 60
        }
        try await app.test(.live) { client in
            let port = try #require(client.port)
            // Lengths past Int64 too (2^63 and 2^64 - 1, which the HTTP parser takes), not only those that fit.
            let routes = [("/v1/quotes", "application/json", server.keys[.checkout]!),
                          ("/v1/reconciliations?layout=generic", "text/csv", server.keys[.reconciler]!)]
            for (path, type, key) in routes {
                for length in ["1000000000000", "9223372036854775808", "18446744073709551615"] {
                    let started = ContinuousClock.now
                    let reply = try await onOwnThread {
                        try RawConnection(port: port).exchange("POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(key)\r\n"
                                                               + "Content-Type: \(type)\r\nContent-Length: \(length)\r\n\r\n{")
                    }
                    #expect(reply.hasPrefix("HTTP/1.1 413") && reply.contains("body_too_large"), "\(path) \(length): \(reply)")
                    #expect(ContinuousClock.now - started < .seconds(15), "the connection waited for the body: \(path) \(length)")
                }
            }
        }
    }

    /// Probe #8: on one connection, a complete request and a pipelined one whose body stalls were answered with
    /// the second's 408 in the first's place (or the 408 was lost); a client waiting for `100 Continue` never got it
    /// and met the body's pace; a chunked body past the limit held its connection after the 413 until the idle
    /// deadline.
    @Test func answersFollowTheirRequestsInOrder() async throws {
        let server = try await TestServer.make()
        let key = try #require(server.keys[.checkout])
        let app = try server.application { settings in
            settings.requestBodyTimeout = 30
            settings.idleTimeout = 60
        }
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let body = fixture("minneapolis.json")
            let head = "POST /v1/quotes HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(key)\r\nContent-Type: application/json\r\n"
            // A whole request, then one that stops short: the first is answered, then the second's 408, then the close.
            let pipelined = try RawConnection(port: port)
            try pipelined.send(head + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)" + head + "Content-Length: \(body.utf8.count + 10)\r\n\r\n\(body)")
            let answers = try await onOwnThread { pipelined.readToEnd() }
            let statuses = answers.components(separatedBy: "HTTP/1.1 ").dropFirst().map { String($0.prefix(3)) }
            #expect(statuses == ["200", "408"], "\(answers)")

            // Expect: 100-continue is answered before the body is sent; the body then gets its answer.
            let asking = try RawConnection(port: port)
            try asking.send(head + "Content-Length: \(body.utf8.count)\r\nExpect: 100-continue\r\n\r\n")
            let interim = try await onOwnThread { asking.readAvailable(quiet: 2_000) }
            #expect(interim.hasPrefix("HTTP/1.1 100 Continue"), "\(interim)")
            try asking.send(body)
            let final = try await onOwnThread { asking.readAvailable(quiet: 5_000) }
            #expect(final.hasPrefix("HTTP/1.1 200"), "\(final.prefix(200))")

            // A chunked body past the limit: 413, and the connection closes soon after the body stalls.
            let oversized = try RawConnection(port: port)
            try oversized.send(head + "Transfer-Encoding: chunked\r\n\r\n30000\r\n" + String(repeating: " ", count: 0x30000))
            let started = ContinuousClock.now
            let refused = try await onOwnThread { oversized.readToEnd() }
            #expect(refused.hasPrefix("HTTP/1.1 413") && refused.components(separatedBy: "HTTP/1.1 ").count == 2, "\(refused.prefix(300))")
            #expect(ContinuousClock.now - started < .seconds(20), "the connection was held after the 413")
        }
    }

    @Test func settingsLayerFlagsOverEnvironmentOverFile() throws {
        let file = (path: "/etc/levy.json", contents: Array(#"{"port": 9000, "hostname": "0.0.0.0", "log_level": "debug"}"#.utf8))
        var settings = try ServeSettings.resolve(flags: [:], environment: [:], file: file)
        #expect(settings.port == 9000 && settings.hostname == "0.0.0.0" && settings.logLevel == "debug")
        settings = try ServeSettings.resolve(flags: [:], environment: ["LEVY_PORT": "9100"], file: file)
        #expect(settings.port == 9100 && settings.hostname == "0.0.0.0")
        settings = try ServeSettings.resolve(flags: ["port": "9200"], environment: ["LEVY_PORT": "9100"], file: file)
        #expect(settings.port == 9200)
        #expect(try ServeSettings.resolve(flags: [:], environment: [:], file: nil) == ServeSettings())
        // LEVY_TABLES says where the shipped tables are, for every command: it is not `--tables`, which would set the
        // store aside (probe #20: `levy serve --store S` with it set quoted without S, silently).
        #expect(try ServeSettings.resolve(flags: [:], environment: ["LEVY_TABLES": "/opt/levy/TaxTables", "LEVY_STORE": "/var/levy/tables"], file: nil).tables == nil)
        #expect(try ServeSettings.resolve(flags: ["tables": "rates.csv"], environment: [:], file: nil).tables == "rates.csv")

        #expect(throws: ServeSettings.SettingError(source: "LEVY_PORT", message: "\"eighty\" is not a port (0-65535)")) {
            try ServeSettings.resolve(flags: [:], environment: ["LEVY_PORT": "eighty"], file: nil)
        }
        #expect(throws: ServeSettings.SettingError.self) {
            try ServeSettings.resolve(flags: [:], environment: [:], file: (path: "levy.json", contents: Array(#"{"prot": 1}"#.utf8)))
        }
        // A syntax error is named by line and column; a setting given twice is refused (one of the two was kept).
        #expect(throws: ServeSettings.SettingError(source: "levy.json:2:12", message: "expected a member name in double quotes")) {
            try ServeSettings.resolve(flags: [:], environment: [:], file: (path: "/etc/levy.json", contents: Array("{\"port\": 9000,\n           }".utf8)))
        }
        #expect(throws: ServeSettings.SettingError(source: "levy.json:1:22", message: "port: the member \"port\" appears more than once (RFC 7493 forbids duplicate names)")) {
            try ServeSettings.resolve(flags: [:], environment: [:], file: (path: "levy.json", contents: Array(#"{"port": 9000, "port": 9001}"#.utf8)))
        }
        // A certificate that cannot be read stops the start naming the setting and the file.
        var tls = ServeSettings()
        (tls.tlsCertificate, tls.tlsKey) = ("/nonexistent/cert.pem", "/nonexistent/key.pem")
        #expect(throws: ServerSetupError.self) { try LevyServer.tlsConfiguration(tls) }
        do { _ = try LevyServer.tlsConfiguration(tls) } catch {
            #expect(error.description == "tls_certificate: /nonexistent/cert.pem: no such file, or not readable", "\(error)")
        }
        let garbage = NSTemporaryDirectory() + "levy-not-pem-\(UUID().uuidString).pem"
        try Data("not a certificate\n".utf8).write(to: URL(fileURLWithPath: garbage))
        defer { try? FileManager.default.removeItem(atPath: garbage) }
        (tls.tlsCertificate, tls.tlsKey) = (garbage, garbage)
        do { _ = try LevyServer.tlsConfiguration(tls); Issue.record("a file that is no PEM was accepted") } catch {
            #expect(error.description.hasPrefix("tls_certificate: \(garbage): cannot be read as a PEM certificate chain"), "\(error)")
        }
        #expect(throws: ServeSettings.SettingError.self) {
            try ServeSettings.resolve(flags: ["tls_certificate": "cert.pem"], environment: [:], file: nil)
        }
    }
}

/// A plain TCP connection for sending partial requests.
final class RawConnection: @unchecked Sendable {  // one test uses it at a time
    let descriptor: Int32

    init(port: Int) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
    }

    deinit { close(descriptor) }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        guard write(descriptor, bytes, bytes.count) == bytes.count else { throw POSIXError(.EPIPE) }
    }

    /// Sends a whole request (with `Connection: close`) and reads the response to the end.
    func exchange(_ request: String) throws -> String {
        try send(request)
        return readToEnd()
    }

    /// What the server sends until `quiet` milliseconds pass without a byte (or it closes the connection).
    func readAvailable(quiet: Int32) -> String {
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, quiet) > 0 else { break }
            let count = read(descriptor, &buffer, buffer.count)
            if count <= 0 { break }
            response += buffer[0..<count]
        }
        return String(decoding: response, as: UTF8.self)
    }

    /// What the server sends until it closes the connection (or 30 seconds pass without a byte: generous, since
    /// under a full parallel test run the server can be slow to answer).
    func readToEnd() -> String { readAvailable(quiet: 30_000) }

    /// True when the server has closed the connection (a read returns end of file or an error).
    func isClosedByPeer() -> Bool {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 500) > 0 else { return false }
            // A response before closing would be fine; keep reading to the end of the stream.
            if read(descriptor, &buffer, buffer.count) <= 0 { return true }
        }
    }
}
