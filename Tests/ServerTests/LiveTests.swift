import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Server
import Testing

@Suite struct LiveTests {
    /// A real server on 127.0.0.1: quote and place over a socket, the worked example to the cent.
    @Test func quoteAndPlaceOverLoopback() async throws {
        let server = try await TestServer.make()
        let app = try server.application()
        try await app.test(.live) { client in
            let quote = try await client.send(.post, "/v1/quotes", key: server.keys[.checkout], body: fixture("minneapolis.json"))
            #expect(quote.status == 200 && quote.string("total_tax") == "9.03")
            let placed = try await client.send(.post, "/v1/orders", key: server.keys[.checkout], idempotency: "live-1", body: placeBody("minneapolis.json"))
            #expect(placed.status == 201 && placed.string("total_tax") == "9.03")
        }
    }

    /// With a certificate configured the server speaks HTTPS (a self-signed certificate made by openssl).
    @Test func servesTLSWhenACertificateIsConfigured() async throws {
        let server = try await TestServer.make()
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

    @Test func settingsLayerFlagsOverEnvironmentOverFile() throws {
        let file = (path: "/etc/levy.json", contents: Array(#"{"port": 9000, "hostname": "0.0.0.0", "log_level": "debug"}"#.utf8))
        var settings = try ServeSettings.resolve(flags: [:], environment: [:], file: file)
        #expect(settings.port == 9000 && settings.hostname == "0.0.0.0" && settings.logLevel == "debug")
        settings = try ServeSettings.resolve(flags: [:], environment: ["LEVY_PORT": "9100"], file: file)
        #expect(settings.port == 9100 && settings.hostname == "0.0.0.0")
        settings = try ServeSettings.resolve(flags: ["port": "9200"], environment: ["LEVY_PORT": "9100"], file: file)
        #expect(settings.port == 9200)
        #expect(try ServeSettings.resolve(flags: [:], environment: [:], file: nil) == ServeSettings())

        #expect(throws: ServeSettings.SettingError(source: "LEVY_PORT", message: "\"eighty\" is not a port (0-65535)")) {
            try ServeSettings.resolve(flags: [:], environment: ["LEVY_PORT": "eighty"], file: nil)
        }
        #expect(throws: ServeSettings.SettingError.self) {
            try ServeSettings.resolve(flags: [:], environment: [:], file: (path: "levy.json", contents: Array(#"{"prot": 1}"#.utf8)))
        }
        #expect(throws: ServeSettings.SettingError.self) {
            try ServeSettings.resolve(flags: ["tls_certificate": "cert.pem"], environment: [:], file: nil)
        }
    }
}
