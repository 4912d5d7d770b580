import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `levy serve` as a process: it starts on the embedded default, and SIGTERM lets an in-flight request finish.
@Suite struct ServeCLITests {
    /// Starts `levy serve --port 0` in its own folder and waits for the line that names the port.
    final class Server {
        let process = Process()
        let directory: String
        let errors = Pipe()
        var port = 0
        var stderr = ""

        init() throws {
            directory = NSTemporaryDirectory() + "levy-serve-tests/" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            process.executableURL = URL(fileURLWithPath: LevyBinary.path)
            process.arguments = ["serve", "--port", "0"]
            process.currentDirectoryURL = URL(fileURLWithPath: directory)
            process.environment = ProcessInfo.processInfo.environment.merging(["LEVY_TABLES": LevyBinary.root.path + "/TaxTables"]) { $1 }
            process.standardOutput = FileHandle.nullDevice
            process.standardError = errors
            try process.run()
            let deadline = Date().addingTimeInterval(60)
            while port == 0, Date() < deadline, process.isRunning {
                stderr += String(decoding: errors.fileHandleForReading.availableData, as: UTF8.self)
                if let range = stderr.range(of: "serving on http://127.0.0.1:") {
                    port = Int(stderr[range.upperBound...].prefix { $0.isNumber }) ?? 0
                }
            }
        }

        func adminKey() throws -> String {
            try String(contentsOfFile: directory + "/.levy/dev-keys/admin-api-key", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    @Test func firstStartCreatesKeysAndSigtermFinishesTheRequestInFlight() throws {
        let server = try Server()
        try #require(server.port > 0, "levy serve did not report its port: \(server.stderr)")
        #expect(server.stderr.contains("DEVELOPMENT master key"))
        #expect(server.stderr.contains("created an admin API key"))
        let admin = try server.adminKey()
        let attributes = try FileManager.default.attributesOfItem(atPath: server.directory + "/.levy/dev-keys/admin-api-key")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)

        // An admin key cannot quote; create a checkout key over the API.
        let created = try HTTP.exchange(port: server.port, "POST", "/v1/keys", key: admin, body: #"{"label": "t", "scopes": ["checkout"]}"#)
        let secret = try #require(created.body.range(of: "\"secret\":\"").map { created.body[$0.upperBound...].prefix { $0 != "\"" } })

        // Half a request, then SIGTERM, then the rest: the server must answer it before it exits.
        let body = try String(contentsOfFile: LevyBinary.root.path + "/Fixtures/orders/minneapolis.json", encoding: .utf8)
        let connection = try HTTP.Connection(port: server.port)
        let head = "POST /v1/quotes HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(secret)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
        let split = body.utf8.count / 2
        try connection.send(head + String(body.utf8.prefix(split))!)
        Thread.sleep(forTimeInterval: 0.3)
        kill(server.process.processIdentifier, SIGTERM)
        Thread.sleep(forTimeInterval: 0.5)
        #expect(server.process.isRunning, "the server must wait for the request in flight")
        try connection.send(String(body.utf8.dropFirst(split))!)
        let response = try connection.receiveResponse()
        #expect(response.status == 200)
        #expect(response.body.contains("\"total_tax\":\"9.03\""))
        let deadline = Date().addingTimeInterval(20)
        while server.process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        #expect(!server.process.isRunning)
        #expect(server.process.terminationStatus == 0)
        // New connections are refused once it has stopped.
        #expect(throws: (any Error).self) { try HTTP.Connection(port: server.port) }
    }
}

/// A minimal HTTP/1.1 client over a raw socket, so a test can send half a request and wait.
enum HTTP {
    struct Failure: Error { var what: String }

    struct Response { var status: Int; var body: String }

    final class Connection {
        let socket: Int32

        init(port: Int) throws {
            socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard socket >= 0 else { throw Failure(what: "socket") }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard result == 0 else {
                close(socket)
                throw Failure(what: "connect")
            }
        }

        deinit { close(socket) }

        func send(_ text: String) throws {
            let bytes = Array(text.utf8)
            var sent = 0
            while sent < bytes.count {
                let n = bytes[sent...].withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                guard n > 0 else { throw Failure(what: "send") }
                sent += n
            }
        }

        /// Reads one response with a Content-Length body.
        func receiveResponse() throws -> Response {
            var data: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let n = recv(socket, &buffer, buffer.count, 0)
                guard n > 0 else { break }
                data += buffer[0..<n]
                let text = String(decoding: data, as: UTF8.self)
                if let end = text.range(of: "\r\n\r\n") {
                    let head = text[..<end.lowerBound].lowercased()
                    let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                        .flatMap { Int($0.dropFirst(15).trimmingCharacters(in: .whitespaces)) } ?? 0
                    if text[end.upperBound...].utf8.count >= length { break }
                }
            }
            let text = String(decoding: data, as: UTF8.self)
            guard let end = text.range(of: "\r\n\r\n"), let status = Int(text.split(separator: " ").dropFirst().first ?? "") else {
                throw Failure(what: "no response")
            }
            return Response(status: status, body: String(text[end.upperBound...]))
        }
    }

    static func exchange(port: Int, _ method: String, _ path: String, key: String, body: String, headers: [String: String] = [:]) throws -> Response {
        let connection = try Connection(port: port)
        let extra = headers.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)\r\n" }.joined()
        try connection.send("\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(key)\r\n\(extra)Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
        return try connection.receiveResponse()
    }
}
