import Foundation
import JSONInput
import TaxCore

extension CanonicalTables {
    /// The members a manifest may have; a misspelt one (`zip5_table_dat`) would otherwise be ignored in silence.
    static let manifestMembers = ["format", "version", "description", "zip5_table_date", "local_carried_back_from"]

    /// Reads `manifest.json`, reporting every problem at its line and column: JSON that is not well formed or not
    /// I-JSON, a member missing, unknown or not text, a format other than Levy's, a version that cannot name a
    /// table version, a date that is not one.
    static func readManifest(_ bytes: [UInt8], log: inout DiagnosticLog) -> Manifest? {
        let file = "manifest.json"
        let limits = JSONGuard.Limits(maxStringBytes: 16_384)
        do { try JSONGuard.check(bytes, limits: limits) } catch {
            let (line, column) = error.position(in: bytes)
            log.error(file, line, column, error.fileDescription)
            return nil
        }
        let offsets = JSONGuard.valueOffsets(bytes, limits: limits, depth: 1) ?? [:]
        func report(_ path: String, _ message: String) {
            let (line, column) = JSONGuard.position(of: offsets[path] ?? offsets[""] ?? 0, in: bytes)
            log.error(file, line, column, message)
        }
        for path in offsets.keys.sorted(by: { offsets[$0]! < offsets[$1]! }) where !path.isEmpty && !manifestMembers.contains(path) {
            report(path, "unknown member \"\(path)\"; a manifest has \(manifestMembers.joined(separator: ", "))")
        }
        let manifest: Manifest
        do { manifest = try JSONDecoder().decode(Manifest.self, from: Data(bytes)) } catch let error as DecodingError {
            switch error {
            case .keyNotFound(let key, _):
                report("", "the member \"\(key.stringValue)\" is missing")
            case .typeMismatch(_, let context), .valueNotFound(_, let context):
                let path = context.codingPath.map(\.stringValue).joined(separator: ".")
                report(path, "\(path) must be text")
            case .dataCorrupted(let context):
                report(context.codingPath.map(\.stringValue).joined(separator: "."), "not a valid manifest")
            @unknown default:
                report("", "not a valid manifest")
            }
            return nil
        } catch {
            report("", "not a valid manifest")
            return nil
        }
        var valid = true
        if manifest.format != format {
            report("format", "format \"\(manifest.format)\" is not \(format)")
            valid = false
        }
        if !isVersionName(manifest.version) {
            report("version", "version \"\(manifest.version.prefix(80))\" must be 1 to 64 letters, digits, '.', '-' or '_'")
            valid = false
        }
        for (text, member) in [(manifest.zip5TableDate, "zip5_table_date"), (manifest.localCarriedBackFrom, "local_carried_back_from")] {
            guard let text, TaxDate(iso: text) == nil else { continue }
            report(member, "\(member) \"\(text.prefix(80))\" is not a date (YYYY-MM-DD)")
            valid = false
        }
        return valid ? manifest : nil
    }

    /// A version names table versions and their folders (`us-2026.11.1+sha256.…`): plain ASCII, no separators.
    static func isVersionName(_ text: String) -> Bool {
        (1...64).contains(text.utf8.count) && text.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-")
                || byte == UInt8(ascii: "_")
        }
    }
}
