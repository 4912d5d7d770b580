import Foundation
import JSONInput

/// How `levy serve` is configured: command-line flags over environment variables over a JSON config file over the
/// defaults. Secrets are never read from the file (only paths to them), so a config file can be committed.
public struct ServeSettings: Sendable, Equatable {
    public var hostname = "127.0.0.1"
    public var port = 8080
    /// A SQLite file or a postgres:// URL (default: .levy/levy.sqlite).
    public var database: String?
    /// The vault's SQLite file (default: .levy/vault.sqlite); with PostgreSQL the vault is a schema of `database`.
    public var vault: String?
    public var tables: String?
    public var store: String?
    public var masterKeyFile: String?
    public var tlsCertificate: String?
    public var tlsKey: String?
    public var logLevel = "info"
    public var maxBodyBytes = 1 << 20
    /// Open connections at most; more wait in the listen backlog.
    public var maxConnections = 512
    /// Seconds a client has for its request head, its body, and between requests on a kept-alive connection.
    public var requestHeadTimeout = 10
    public var requestBodyTimeout = 30
    public var idleTimeout = 60
    /// Failed authentications a client address (or a key id) may make in a minute before it gets 429.
    public var maxFailedAuthPerMinute = 20
    /// `simulator` (the built-in one, the default) or `stripe`.
    public var processor = "simulator"
    /// A file holding the Stripe secret key (never the key itself: it would show in `ps` and shell history).
    public var stripeSecretKeyFile: String?
    /// Stripe's API, or a Stripe-shaped stand-in such as localstripe.
    public var stripeBaseURL = "https://api.stripe.com"
    /// A file holding the signing secret (`whsec_…`) of the Stripe webhook endpoint; without it
    /// `POST /v1/webhooks/stripe` answers 404.
    public var stripeWebhookSecretFile: String?
    /// Where a refund of an order paid partly by gift card goes first: `gift-card-first` (default) or `payment-card-first`.
    public var giftCardRefunds = "gift-card-first"
    /// Where export jobs started over the API write their folders (default: .levy/exports).
    public var exportsDirectory: String?

    public init() {}

    /// The settings, their environment variables and config-file keys.
    public static let names: [(setting: String, environment: String)] = [
        ("hostname", "LEVY_HOSTNAME"), ("port", "LEVY_PORT"), ("database", "LEVY_DATABASE_URL"), ("vault", "LEVY_VAULT"),
        // `tables` has no variable: LEVY_TABLES is where every command finds the shipped tables (the base of the store's
        // versions), and read as this setting it made `levy serve --store S` quote without S, silently (probe #20).
        ("tables", ""), ("store", "LEVY_STORE"), ("master_key_file", "LEVY_VAULT_MASTER_KEY_FILE"),
        ("tls_certificate", "LEVY_TLS_CERTIFICATE"), ("tls_key", "LEVY_TLS_KEY"), ("log_level", "LEVY_LOG_LEVEL"),
        ("max_body_bytes", "LEVY_MAX_BODY_BYTES"), ("max_connections", "LEVY_MAX_CONNECTIONS"),
        ("request_head_timeout", "LEVY_REQUEST_HEAD_TIMEOUT"), ("request_body_timeout", "LEVY_REQUEST_BODY_TIMEOUT"),
        ("idle_timeout", "LEVY_IDLE_TIMEOUT"), ("max_failed_auth_per_minute", "LEVY_MAX_FAILED_AUTH_PER_MINUTE"),
        ("processor", "LEVY_PROCESSOR"), ("stripe_secret_key_file", "LEVY_STRIPE_SECRET_KEY_FILE"), ("stripe_base_url", "LEVY_STRIPE_BASE_URL"),
        ("stripe_webhook_secret_file", "LEVY_STRIPE_WEBHOOK_SECRET_FILE"), ("gift_card_refunds", "LEVY_GIFT_CARD_REFUNDS"),
        ("exports_directory", "LEVY_EXPORTS_DIRECTORY"),
    ]

    public struct SettingError: Error, Equatable, CustomStringConvertible {
        /// Where the bad value came from: `--port`, `LEVY_PORT` or `levy.json: port`.
        public var source: String
        public var message: String
        public var description: String { "\(source): \(message)" }

        public init(source: String, message: String) {
            self.source = source
            self.message = message
        }
    }

    /// Resolves the layers. `flags` are keyed by setting name (`port`), `file` is a JSON object of the same names.
    public static func resolve(flags: [String: String], environment: [String: String],
                               file: (path: String, contents: [UInt8])?) throws(SettingError) -> ServeSettings {
        var values: [String: (value: String, source: String)] = [:]
        if let file {
            let name = (file.path as NSString).lastPathComponent
            // Checked first: a syntax error named by line and column, and a setting given twice refused (the
            // decoder would keep one of the two without a word).
            do { try JSONGuard.check(file.contents) } catch {
                let (line, column) = error.position(in: file.contents)
                throw SettingError(source: "\(name):\(line):\(column)", message: error.fileDescription)
            }
            guard let object = try? JSONSerialization.jsonObject(with: Data(file.contents)) as? [String: Any] else {
                throw SettingError(source: name, message: "not a JSON object")
            }
            for (key, value) in object {
                guard names.contains(where: { $0.setting == key }) else {
                    throw SettingError(source: "\(name): \(key)", message: "unknown setting; expected one of \(names.map(\.setting).joined(separator: ", "))")
                }
                switch value {
                case let text as String: values[key] = (text, "\(name): \(key)")
                case let number as NSNumber: values[key] = (number.stringValue, "\(name): \(key)")
                default: throw SettingError(source: "\(name): \(key)", message: "expected a string or a number")
                }
            }
        }
        for (setting, variable) in names where !variable.isEmpty {
            if let value = environment[variable], !value.isEmpty { values[setting] = (value, variable) }
        }
        for (setting, value) in flags { values[setting] = (value, "--" + setting.replacingOccurrences(of: "_", with: "-")) }

        var settings = ServeSettings()
        for (key, entry) in values {
            switch key {
            case "hostname": settings.hostname = entry.value
            case "port":
                guard let port = Int(entry.value), (0...65_535).contains(port) else {
                    throw SettingError(source: entry.source, message: "\"\(entry.value)\" is not a port (0-65535)")
                }
                settings.port = port
            case "database": settings.database = entry.value
            case "vault": settings.vault = entry.value
            case "tables": settings.tables = entry.value
            case "store": settings.store = entry.value
            case "master_key_file": settings.masterKeyFile = entry.value
            case "tls_certificate": settings.tlsCertificate = entry.value
            case "tls_key": settings.tlsKey = entry.value
            case "log_level":
                guard ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(entry.value) else {
                    throw SettingError(source: entry.source, message: "\"\(entry.value)\" is not a log level")
                }
                settings.logLevel = entry.value
            case "max_body_bytes":
                guard let bytes = Int(entry.value), bytes >= 1_024 else {
                    throw SettingError(source: entry.source, message: "\"\(entry.value)\" is not a byte count of at least 1024")
                }
                settings.maxBodyBytes = bytes
            case "max_connections": settings.maxConnections = try bounded(entry, 1...100_000, "a connection count")
            case "request_head_timeout": settings.requestHeadTimeout = try bounded(entry, 1...3_600, "seconds")
            case "request_body_timeout": settings.requestBodyTimeout = try bounded(entry, 1...3_600, "seconds")
            case "idle_timeout": settings.idleTimeout = try bounded(entry, 1...3_600, "seconds")
            case "max_failed_auth_per_minute": settings.maxFailedAuthPerMinute = try bounded(entry, 1...100_000, "a count")
            case "processor":
                guard ["simulator", "stripe"].contains(entry.value) else {
                    throw SettingError(source: entry.source, message: "\"\(entry.value)\" is not a processor (simulator or stripe)")
                }
                settings.processor = entry.value
            case "gift_card_refunds":
                guard ["gift-card-first", "payment-card-first"].contains(entry.value) else {
                    throw SettingError(source: entry.source, message: "\"\(entry.value)\" is not a refund order (gift-card-first or payment-card-first)")
                }
                settings.giftCardRefunds = entry.value
            case "exports_directory": settings.exportsDirectory = entry.value
            case "stripe_secret_key_file": settings.stripeSecretKeyFile = entry.value
            case "stripe_webhook_secret_file": settings.stripeWebhookSecretFile = entry.value
            case "stripe_base_url":
                guard entry.value.hasPrefix("https://") || entry.value.hasPrefix("http://") else {
                    throw SettingError(source: entry.source, message: "\"\(entry.value)\" is not an http(s) URL")
                }
                settings.stripeBaseURL = entry.value
            default: break
            }
        }
        if settings.processor == "stripe" && settings.stripeSecretKeyFile == nil {
            throw SettingError(source: "stripe_secret_key_file", message: "the stripe processor needs its secret key in a file (--stripe-secret-key-file or LEVY_STRIPE_SECRET_KEY_FILE)")
        }
        if (settings.tlsCertificate == nil) != (settings.tlsKey == nil) {
            throw SettingError(source: settings.tlsCertificate == nil ? "tls_certificate" : "tls_key",
                               message: "TLS needs both a certificate and its private key")
        }
        return settings
    }

    private static func bounded(_ entry: (value: String, source: String), _ range: ClosedRange<Int>, _ what: String) throws(SettingError) -> Int {
        guard let value = Int(entry.value), range.contains(value) else {
            throw SettingError(source: entry.source, message: "\"\(entry.value)\" is not \(what) in \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }
}
