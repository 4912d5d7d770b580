import Crypto
import Foundation
import Storage

/// A file of an export as the manifest lists it.
public struct ManifestFile: Codable, Sendable, Equatable {
    public var name: String
    public var sha256: String
    public var bytes: Int
    public var rows: Int
}

/// What an export holds and how to check it: every file with its SHA-256, row counts, control totals, the table
/// versions the rows were taxed with and the ledger head when it was written. `manifest.json` is signed as is
/// (Ed25519) into `manifest.sig`.
public struct Manifest: Codable, Sendable, Equatable {
    public struct Period: Codable, Sendable, Equatable {
        public var from: String
        public var through: String
    }

    public var format = "levy-export/1"
    public var kind: String
    public var created: String
    public var period: Period
    public var personalData: Bool
    public var requestedBy: String?
    public var reason: String?
    public var disclosure: String?
    public var files: [ManifestFile]
    public var controlTotals: [String: String]
    public var tableVersions: [String]
    public var ledgerHead: String

    enum CodingKeys: String, CodingKey {
        case format, kind, created, period, files, reason, disclosure
        case personalData = "personal_data", requestedBy = "requested_by", controlTotals = "control_totals"
        case tableVersions = "table_versions", ledgerHead = "ledger_head"
    }

    public func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return Array(try! encoder.encode(self)) + [10]
    }
}

/// The detached signature of `manifest.json`.
public struct ManifestSignature: Codable, Sendable, Equatable {
    public var algorithm = "Ed25519"
    public var publicKey: String
    public var keyID: String
    public var signature: String

    enum CodingKeys: String, CodingKey { case algorithm, signature, publicKey = "public_key", keyID = "key_id" }
}

/// The Ed25519 key that signs manifests: from a file (32 bytes, raw or base64), or a development key created once
/// beside the data and announced.
public struct SigningKey: Sendable {
    let raw: [UInt8]

    public init(raw: [UInt8]) throws(ExportError) {
        guard raw.count == 32, (try? Curve25519.Signing.PrivateKey(rawRepresentation: raw)) != nil else {
            throw .signingKey("expected 32 bytes (raw or base64)")
        }
        self.raw = raw
    }

    public static func load(file: String) throws(ExportError) -> SigningKey {
        guard let data = FileManager.default.contents(atPath: file) else { throw .signingKey("cannot read \(file)") }
        if data.count == 32 { return try SigningKey(raw: Array(data)) }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let decoded = Data(base64Encoded: text) else { throw .signingKey("\(file) holds neither 32 bytes nor their base64") }
        return try SigningKey(raw: Array(decoded))
    }

    /// Creates (mode 0600) or reads the development key at `path`. Returns whether it was created now.
    public static func development(at path: String) throws -> (key: SigningKey, created: Bool) {
        if FileManager.default.fileExists(atPath: path) { return (try load(file: path), false) }
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let key = Curve25519.Signing.PrivateKey()
        guard FileManager.default.createFile(atPath: path, contents: Data(key.rawRepresentation.base64EncodedString().utf8),
                                             attributes: [.posixPermissions: 0o600]) else { throw ExportError.cannotWrite(path) }
        return (try SigningKey(raw: Array(key.rawRepresentation)), true)
    }

    public var publicKeyBase64: String {
        try! Curve25519.Signing.PrivateKey(rawRepresentation: raw).publicKey.rawRepresentation.base64EncodedString()
    }

    /// The first 16 hex digits of the public key's SHA-256: what to compare when pinning a key.
    public var keyID: String { Self.keyID(publicKey: Data(base64Encoded: publicKeyBase64)!) }

    static func keyID(publicKey: Data) -> String {
        hexString(SHA256.hash(data: publicKey).prefix(8))
    }

    func sign(_ bytes: [UInt8]) -> ManifestSignature {
        let key = try! Curve25519.Signing.PrivateKey(rawRepresentation: raw)
        let signature = try! key.signature(for: bytes)
        return ManifestSignature(publicKey: publicKeyBase64, keyID: keyID, signature: signature.base64EncodedString())
    }
}

/// Checks an export folder: the signature over `manifest.json` by a trusted key, then every file's size and SHA-256;
/// a file not in the manifest is reported too. A signature is worth only the key behind it: anyone can re-sign an
/// edited folder with a fresh key, so verification fails unless the signing key is one of `trusted` (public keys in
/// base64 or key ids, as the merchant published them). File names are names, never paths: a manifest naming
/// `../x` or `a/b` is refused before anything is opened.
public enum ManifestVerifier {
    public struct Result: Sendable {
        public var manifest: Manifest?
        public var keyID: String?
        public var problems: [String]
        public var intact: Bool { problems.isEmpty }
    }

    public static func verify(directory: String, trusted: [String]) -> Result {
        var problems: [String] = []
        guard let manifestSize = regularFileSize(directory + "/manifest.json"), manifestSize <= maxManifestBytes,
              let manifestBytes = FileManager.default.contents(atPath: directory + "/manifest.json") else {
            return Result(manifest: nil, keyID: nil, problems: ["manifest.json is missing, not a plain file, or larger than \(maxManifestBytes) bytes"])
        }
        guard let signatureSize = regularFileSize(directory + "/manifest.sig"), signatureSize <= 65_536,
              let signatureBytes = FileManager.default.contents(atPath: directory + "/manifest.sig"),
              let signature = try? JSONDecoder().decode(ManifestSignature.self, from: signatureBytes),
              let publicKeyData = Data(base64Encoded: signature.publicKey),
              let publicKey = try? Curve25519.Signing.PublicKey(rawRepresentation: publicKeyData),
              let signatureData = Data(base64Encoded: signature.signature) else {
            return Result(manifest: nil, keyID: nil, problems: ["manifest.sig is missing or unreadable"])
        }
        let keyID = SigningKey.keyID(publicKey: publicKeyData)
        if !publicKey.isValidSignature(signatureData, for: manifestBytes) {
            problems.append("manifest.json: the Ed25519 signature does not match (the manifest was changed)")
        }
        if trusted.isEmpty {
            problems.append("manifest.sig: no trusted key was given, so the signature (key \(keyID)) proves nothing; pass the merchant's published public key or key id")
        } else if !trusted.contains(where: { $0 == signature.publicKey || $0 == keyID }) {
            problems.append("manifest.sig: signed by key \(keyID), which is not a trusted key")
        }
        guard let manifest = try? JSONDecoder().decode(Manifest.self, from: manifestBytes) else {
            return Result(manifest: nil, keyID: keyID, problems: problems + ["manifest.json is not a Levy manifest"])
        }
        for file in manifest.files {
            guard isPlainFileName(file.name) else {
                problems.append("manifest.json names \"\(file.name.prefix(100))\", which is not a plain file name (no paths, no ..)")
                continue
            }
            let path = directory + "/" + file.name
            // Only plain files are read: an export writes nothing else, and a link to /dev/zero or a named pipe would
            // keep the reader waiting or reading forever.
            guard let onDisk = regularFileSize(path) else {
                problems.append(FileManager.default.fileExists(atPath: path) || isLink(path)
                                ? "\(file.name): not a plain file (a link, a pipe, a device or a folder); an export writes plain files"
                                : "\(file.name): missing")
                continue
            }
            guard onDisk == file.bytes else {
                problems.append("\(file.name): \(onDisk) bytes, the manifest says \(file.bytes)")
                continue
            }
            guard let handle = FileHandle(forReadingAtPath: path) else {
                problems.append("\(file.name): missing")
                continue
            }
            var hasher = SHA256()
            var size = 0
            while let chunk = try? handle.read(upToCount: 1 << 20), !chunk.isEmpty {
                hasher.update(data: chunk)
                size += chunk.count
            }
            try? handle.close()
            let digest = hexString(hasher.finalize())
            if size != file.bytes { problems.append("\(file.name): \(size) bytes, the manifest says \(file.bytes)") }
            if digest != file.sha256 { problems.append("\(file.name): SHA-256 \(digest) differs from the manifest's \(file.sha256)") }
        }
        let listed = Set(manifest.files.map(\.name) + ["manifest.json", "manifest.sig"])
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where !listed.contains(name) {
            problems.append("\(name): not in the manifest")
        }
        return Result(manifest: manifest, keyID: keyID, problems: problems)
    }

    /// The largest manifest read: a manifest lists a handful of files.
    static let maxManifestBytes = 16 << 20

    /// The size of the plain file at `path`, without following a symbolic link; nil for anything else.
    static func regularFileSize(_ path: String) -> Int? {
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return nil }
        return Int(info.st_size)
    }

    static func isLink(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFLNK
    }

    /// A name an export could have written: no separator, not `.` or `..`, no control characters, not empty.
    static func isPlainFileName(_ name: String) -> Bool {
        guard !name.isEmpty, name != ".", name != "..", name.utf8.count <= 255 else { return false }
        return !name.unicodeScalars.contains { $0 == "/" || $0 == "\\" || $0.value < 0x20 || $0.value == 0x7F }
    }
}
