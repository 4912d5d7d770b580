import Exports
import Foundation
import LevyTestSupport
@testable import Server
import Testing

/// The two parsers that read uploaded bytes (a console form's multipart body, an export archive uploaded back) never
/// trap, whatever the bytes: random ones, and valid ones cut short or with bytes changed. Each answers a value or
/// an error; an archive never writes outside the folder it is given.
@Suite struct UploadParsingTests {
    static func mutations(of valid: [UInt8], count: Int, using generator: inout SplitMix64) -> [[UInt8]] {
        (0..<count).map { i in
            var bytes = valid
            switch i % 3 {
            case 0: bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &generator)))
            case 1:
                for _ in 0..<Int.random(in: 1...8, using: &generator) where !bytes.isEmpty {
                    bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                }
            default: bytes = (0..<Int.random(in: 0...2_048, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            }
            return bytes
        }
    }

    @Test("multipart bodies: random and damaged ones give a form or an error, never a trap")
    func multipart() async {
        var generator = SplitMix64(seed: 20_261_201)
        let boundary = "----b"
        let valid = Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nabc\r\n--\(boundary)\r\nContent-Disposition: form-data; name=\"settlements\"; filename=\"a.csv\"\r\n\r\nx,y\r\n1,2\r\n\r\n--\(boundary)--\r\n".utf8)
        let parsed = try? LevyAPI.parseMultipart(valid, boundary: boundary)
        #expect(parsed?.fields["csrf"] == "abc" && parsed?.file?.name == "a.csv" && parsed?.file?.bytes == Array("x,y\r\n1,2\r\n".utf8))
        var outcomes = (forms: 0, errors: 0)
        for (i, body) in Self.mutations(of: valid, count: 2_000, using: &generator).enumerated() {
            if (try? LevyAPI.parseMultipart(body, boundary: boundary)) != nil { outcomes.forms += 1 } else { outcomes.errors += 1 }
            // The suite runs live servers beside this test on a few threads: let them run.
            if i % 50 == 0 { await Task.yield() }
        }
        #expect(outcomes.forms + outcomes.errors == 2_000 && outcomes.errors > 0)
    }

    /// The boundary search is linear (Knuth-Morris-Pratt) and finds what a plain search finds: on random bytes of a
    /// small alphabet, where overlaps are common, and on probe #14's body of dashes (a megabyte, searched in one pass).
    @Test("the boundary search finds the first occurrence, as a plain search does, in one pass")
    func boundarySearch() {
        var generator = SplitMix64(seed: 20_261_207)
        func plain(_ needle: [UInt8], _ haystack: [UInt8], _ start: Int) -> Int? {
            guard !needle.isEmpty, start >= 0, haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
            return (start...(haystack.count - needle.count)).first { Array(haystack[$0..<($0 + needle.count)]) == needle }
        }
        for _ in 0..<3_000 {
            let needle = (0..<Int.random(in: 1...6, using: &generator)).map { _ in UInt8.random(in: 97...99, using: &generator) }
            let haystack = (0..<Int.random(in: 0...60, using: &generator)).map { _ in UInt8.random(in: 97...99, using: &generator) }
            let start = Int.random(in: 0...61, using: &generator)
            #expect(LevyAPI.find(needle, in: haystack, from: start) == plain(needle, haystack, start), "\(needle) in \(haystack) from \(start)")
        }
        let dashes = [UInt8](repeating: 45, count: 1_048_576)
        let boundary = [UInt8](repeating: 45, count: 71) + [97]
        #expect(LevyAPI.find(boundary, in: dashes, from: 0) == nil)
        #expect(LevyAPI.find(boundary, in: dashes + [97], from: 0) == dashes.count - 71)
    }

    @Test("a part's name and file name are read as browsers and RFC 7578 write them; a field given twice or a file name past 255 bytes is refused")
    func multipartNames() throws {
        func body(_ dispositions: [(String, String)]) -> [UInt8] {
            Array((dispositions.map { "--b\r\nContent-Disposition: form-data; \($0.0)\r\n\r\n\($0.1)\r\n" }.joined() + "--b--\r\n").utf8)
        }
        func refusal(_ bytes: [UInt8]) -> String? {
            do { _ = try LevyAPI.parseMultipart(bytes, boundary: "b"); return nil } catch { return APIError.from(error).map { "\($0.field): \($0.message)" } }
        }
        // Probe #9: a quote escaped in the name was cut there, and a name given only as filename* was read as a field.
        #expect(try LevyAPI.parseMultipart(body([(#"name="f"; filename="a\"b.tar""#, "x")]), boundary: "b").file?.name == #"a"b.tar"#)
        #expect(try LevyAPI.parseMultipart(body([("name=\"f\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20q4.csv", "x")]), boundary: "b").file?.name
                == "résumé q4.csv")
        #expect(try LevyAPI.parseMultipart(body([("name=layout", "generic")]), boundary: "b").fields["layout"] == "generic")
        #expect(refusal(body([("name=\"layout\"", "generic"), ("name=\"layout\"", "stripe")])) == "layout: is given twice")
        #expect(refusal(body([("name=\"f\"; filename=\"\(String(repeating: "a", count: 256))\"", "x")])) == "filename: at most 255 bytes")
        var invalid = body([("name=\"reason\"", "?")])
        invalid[invalid.firstIndex(of: UInt8(ascii: "?"))!] = 0xFF
        #expect(refusal(invalid) == "reason: is not UTF-8 text")
    }

    @Test("export archives: random and damaged ones unpack into their folder or are refused, never a trap or a file elsewhere")
    func archives() async throws {
        var generator = SplitMix64(seed: 7)
        let source = TestStores.directory("levy-archive-source")
        try Data("a,b\n1,2\n".utf8).write(to: URL(fileURLWithPath: source + "/detail.csv"))
        try Data("{}".utf8).write(to: URL(fileURLWithPath: source + "/manifest.json"))
        let archive = try TarArchive(directory: source, prefix: "job_x", modified: Date(timeIntervalSince1970: 0))
        let box = Box()
        try await archive.write { piece in box.append(piece) }
        let valid = box.bytes
        let unpacked = TestStores.directory("levy-archive-target")
        #expect(try TarArchive.extract(valid, into: unpacked) == ["detail.csv", "manifest.json"])
        #expect(FileManager.default.contents(atPath: unpacked + "/detail.csv") == Data("a,b\n1,2\n".utf8))
        let parent = (unpacked as NSString).deletingLastPathComponent
        let before = Set((try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? [])
        for (i, bytes) in Self.mutations(of: valid, count: 400, using: &generator).enumerated() {
            if i % 20 == 0 { await Task.yield() }
            let folder = unpacked + "/m\(i)"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            _ = try? TarArchive.extract(bytes, into: folder)
            // Whatever it wrote is plain files directly in the folder.
            for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] {
                var isDirectory: ObjCBool = false
                _ = FileManager.default.fileExists(atPath: folder + "/" + name, isDirectory: &isDirectory)
                #expect(!isDirectory.boolValue && !name.contains("/"))
            }
        }
        #expect(Set((try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? []) == before)
        try? FileManager.default.removeItem(atPath: source)
        try? FileManager.default.removeItem(atPath: unpacked)
    }

    final class Box: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: [UInt8] = []
        func append(_ piece: ArraySlice<UInt8>) { lock.withLock { stored += piece } }
        var bytes: [UInt8] { lock.withLock { stored } }
    }
}
