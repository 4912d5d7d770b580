import Crypto
import Foundation

/// The vault's master key: 256 bits that never sit in the vault's store. It wraps the data keys and, through
/// HKDF with distinct labels, keys the card fingerprints and the reveal audit chain.
public struct MasterKey: Sendable {
    /// Held as bytes: this version of swift-crypto's `SymmetricKey` is not `Sendable`.
    let bytes: [UInt8]
    var key: SymmetricKey { SymmetricKey(data: bytes) }

    public enum LoadError: Error, CustomStringConvertible {
        case unreadable(String)
        case malformed(String)

        public var description: String {
            switch self {
            case .unreadable(let where_): "cannot read the vault master key from \(where_)"
            case .malformed(let where_): "the vault master key in \(where_) is not 32 bytes (raw, or base64 of 32 bytes)"
            }
        }
    }

    public init(bytes: [UInt8]) throws(LoadError) {
        guard bytes.count == 32 else { throw .malformed("the given bytes") }
        self.bytes = bytes
    }

    /// Reads a key file: 32 raw bytes, or their base64 on one line.
    public static func load(file path: String) throws(LoadError) -> MasterKey {
        guard let data = FileManager.default.contents(atPath: path) else { throw .unreadable(path) }
        return try parse([UInt8](data), source: path)
    }

    /// Reads base64 of 32 bytes from an environment variable.
    public static func fromEnvironment(_ name: String) throws(LoadError) -> MasterKey? {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
        return try parse(Array(value.utf8), source: "$\(name)")
    }

    static func parse(_ bytes: [UInt8], source: String) throws(LoadError) -> MasterKey {
        if bytes.count == 32 { return try MasterKey(bytes: bytes) }
        let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let decoded = Data(base64Encoded: text), decoded.count == 32 else { throw .malformed(source) }
        return try MasterKey(bytes: [UInt8](decoded))
    }

    /// A fresh random key written (base64, mode 0600) to `path` for the embedded development default.
    public static func generateDevelopmentKey(at path: String) throws -> MasterKey {
        let key = SymmetricKey(size: .bits256)
        let bytes = key.withUnsafeBytes { [UInt8]($0) }
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        guard FileManager.default.createFile(atPath: path, contents: Data((Data(bytes).base64EncodedString() + "\n").utf8),
                                             attributes: [.posixPermissions: 0o600]) else {
            throw LoadError.unreadable(path)
        }
        return try MasterKey(bytes: bytes)
    }

    /// Key bytes for a purpose outside the vault (the tax ledger's chain), derived with HKDF under a label of
    /// that purpose, so they share no key material with the vault's own keys.
    public func derivedKeyBytes(purpose: String) -> [UInt8] {
        derived("external:" + purpose).withUnsafeBytes { [UInt8]($0) }
    }

    /// A key for one purpose, derived so that no two purposes share key material.
    func derived(_ purpose: String) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: key, salt: Array("levy-vault".utf8), info: Array(purpose.utf8), outputByteCount: 32)
    }
}

/// A vault token: `tok_` and 160 random bits in lower-case base32. It has no mathematical relation to the card.
public struct Token: Hashable, Sendable, CustomStringConvertible, Codable {
    public let value: String

    public init?(_ text: String) {
        guard text.hasPrefix("tok_"), text.utf8.count == 36,
              text.utf8.dropFirst(4).allSatisfy({ Token.alphabet.contains($0) }) else { return nil }
        value = text
    }

    init(unchecked value: String) { self.value = value }

    static let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567".utf8)

    /// A new token from the system's cryptographically secure generator.
    static func random() -> Token {
        var generator = SystemRandomNumberGenerator()
        var bits: [UInt8] = (0..<20).map { _ in UInt8.random(in: 0...255, using: &generator) }
        // 160 bits are exactly 32 base32 digits of 5 bits.
        var text = "tok_"
        var buffer = 0, count = 0
        for byte in bits {
            buffer = buffer << 8 | Int(byte)
            count += 8
            while count >= 5 {
                text.unicodeScalars.append(Unicode.Scalar(alphabet[(buffer >> (count - 5)) & 31]))
                count -= 5
            }
        }
        bits.removeAll()
        return Token(unchecked: text)
    }

    public var description: String { value }
}
