import Crypto
import Foundation
import Storage
import Vault

/// A Stripe webhook endpoint's signing secret (`whsec_…`), read from a file and never printed.
public struct StripeWebhookSecret: Sendable, CustomStringConvertible {
    /// The secret's bytes (`SymmetricKey` is not `Sendable`; a key is made from them for each check).
    let bytes: [UInt8]
    var key: SymmetricKey { SymmetricKey(data: bytes) }

    public init(file path: String) throws(StripeError) {
        guard let data = FileManager.default.contents(atPath: path), data.count <= 1_024 else { throw .unreadableKeyFile(path) }
        try self.init(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines), source: path)
    }

    init(_ text: String, source: String) throws(StripeError) {
        guard text.hasPrefix("whsec_"), StripeProcessor.isStripeID(text, lengths: 10...256) else {
            throw .malformedKey(source)
        }
        // Stripe signs with the whole secret, prefix included, as the HMAC key.
        bytes = Array(text.utf8)
    }

    public var description: String { "whsec_…(redacted)" }
}

/// Why a webhook request was refused; nothing was recorded or changed.
public enum StripeWebhookError: Error, Sendable, Equatable, CustomStringConvertible {
    case missingSignature
    case malformedSignature
    /// No `v1` signature in the header matches the body under the endpoint's secret.
    case signatureMismatch
    /// The signed timestamp is further from now than the tolerance: an old request replayed, or a clock far off.
    case outsideTolerance(seconds: Int64)
    case malformedEvent(String)

    public var description: String {
        switch self {
        case .missingSignature: "the Stripe-Signature header is missing"
        case .malformedSignature: "the Stripe-Signature header is not t=<timestamp>,v1=<signature>"
        case .signatureMismatch: "no signature in Stripe-Signature matches the body"
        case .outsideTolerance(let seconds):
            // `seconds` is the event's age: positive in the past, negative in the future.
            "the signature's timestamp is \(seconds.magnitude) s \(seconds < 0 ? "in the future" : "old"), outside the tolerance"
        case .malformedEvent(let why): "the event cannot be read: \(why)"
        }
    }
}

/// A verified Stripe event: its id (recorded once), type, and what it means for Levy.
public struct StripeEvent: Sendable, Hashable {
    public var id: String
    public var type: String
    public var created: Int64
    public var events: [ProcessorEvent]
}

/// Verifies and reads Stripe's webhook requests (https://docs.stripe.com/webhooks#verify-manually): the
/// `Stripe-Signature` header carries `t` (Unix seconds) and one or more `v1` HMAC-SHA256 signatures of
/// `"<t>.<raw body>"` under the endpoint's secret; a request is accepted when one matches (compared in constant
/// time) and `t` is within the tolerance of now (default 300 s, Stripe's own), which bounds replays of a captured
/// request; replays within the window are caught by the event id, recorded once.
public struct StripeWebhook: Sendable {
    let secret: StripeWebhookSecret
    let tolerance: Int64

    public init(secret: StripeWebhookSecret, tolerance: Int64 = 300) {
        self.secret = secret
        self.tolerance = tolerance
    }

    /// Checks the signature, then reads the event.
    public func verify(body: [UInt8], signatureHeader: String?, now: Date) throws(StripeWebhookError) -> StripeEvent {
        guard let header = signatureHeader, !header.isEmpty else { throw .missingSignature }
        guard header.utf8.count <= 4_096 else { throw .malformedSignature }
        var timestamp: Int64?
        var signatures: [[UInt8]] = []
        for part in header.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2 else { throw .malformedSignature }
            switch pair[0] {
            case "t":
                guard timestamp == nil, let value = Int64(pair[1]) else { throw .malformedSignature }
                timestamp = value
            case "v1":
                guard let bytes = Self.hexBytes(pair[1]), bytes.count == 32 else { continue }
                signatures.append(bytes)
            default:
                continue
            }
        }
        guard let timestamp, !signatures.isEmpty else { throw .malformedSignature }
        let signed = Array("\(timestamp).".utf8) + body
        guard signatures.contains(where: { HMAC<SHA256>.isValidAuthenticationCode($0, authenticating: signed, using: secret.key) }) else {
            throw .signatureMismatch
        }
        // A signed timestamp far from any clock (Int64.min) must not overflow the difference.
        let (age, overflow) = Int64(now.timeIntervalSince1970.rounded(.down)).subtractingReportingOverflow(timestamp)
        guard !overflow, age.magnitude <= tolerance.magnitude else { throw .outsideTolerance(seconds: overflow ? Int64.max : age) }
        return try Self.read(body)
    }

    /// `t=<now>,v1=<signature>` for a body: what Stripe sends, for tests and for `levy` tools that replay events.
    public func signatureHeader(body: [UInt8], timestamp: Int64) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Array("\(timestamp).".utf8) + body, using: secret.key)
        return "t=\(timestamp),v1=" + hexString(code)
    }

    // MARK: - Reading events

    struct Envelope: Decodable {
        var id: String
        var type: String
        var created: Int64?
        var data: Payload
        struct Payload: Decodable { var object: EventObject }
    }

    struct EventObject: Decodable {
        var id: String?
        var amount: Int64?
        var status: String?
        var paymentIntent: IDOrObject?
        var refunds: RefundList?

        enum CodingKeys: String, CodingKey { case id, amount, status, refunds, paymentIntent = "payment_intent" }
    }

    struct RefundList: Decodable { var data: [EventObject] }

    /// A field Stripe sends as an id, or as the object itself when expanded.
    struct IDOrObject: Decodable {
        var id: String
        init(from decoder: any Decoder) throws {
            if let id = try? decoder.singleValueContainer().decode(String.self) {
                self.id = id
            } else {
                struct Object: Decodable { var id: String }
                id = try Object(from: decoder).id
            }
        }
    }

    static func read(_ body: [UInt8]) throws(StripeWebhookError) -> StripeEvent {
        let envelope: Envelope
        do { envelope = try JSONDecoder().decode(Envelope.self, from: Data(body)) } catch {
            throw .malformedEvent("not a Stripe event (id, type, data.object)")
        }
        guard envelope.id.hasPrefix("evt_"), StripeProcessor.isStripeID(envelope.id) else { throw .malformedEvent("the event id is not evt_…") }
        guard (1...128).contains(envelope.type.utf8.count), envelope.type.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "_") }) else {
            throw .malformedEvent("the event type is not a Stripe event type")
        }
        let object = envelope.data.object
        var events: [ProcessorEvent] = []
        // A charge made without a PaymentIntent (the Charges API, another integration on the account) has none: no
        // payment of Levy's, so nothing to apply; recorded and acknowledged as any event about a payment Levy does not
        // know (probe #15: refused 400, Stripe would retry it for days).
        func refund(_ refund: EventObject, payment: String?) throws(StripeWebhookError) {
            guard let payment else { return }
            guard let id = refund.id, StripeProcessor.isStripeID(id), StripeProcessor.isStripeID(payment), let amount = refund.amount, amount > 0 else {
                throw .malformedEvent("a refund needs an id, a payment_intent and a positive amount")
            }
            events.append(.refund(id: id, payment: payment, amount: amount, succeeded: refund.status == "succeeded"))
        }
        func dispute() throws(StripeWebhookError) -> (String, String, Int64)? {
            guard let payment = object.paymentIntent?.id else { return nil }
            guard let id = object.id, StripeProcessor.isStripeID(id), StripeProcessor.isStripeID(payment), let amount = object.amount, amount > 0 else {
                throw .malformedEvent("a dispute needs an id, a payment_intent and a positive amount")
            }
            return (id, payment, amount)
        }
        switch envelope.type {
        case "refund.created", "refund.updated", "charge.refund.updated":
            try refund(object, payment: object.paymentIntent?.id)
        case "charge.refunded":
            // Older API versions embed the charge's refunds; newer ones send refund.created for each instead.
            // Stripe embeds at most a page of them (ten by default); a body of thousands would hold the order's refund
            // lock for as long as they take to apply (probe #15: 2,000 took 26 s).
            let embedded = object.refunds?.data ?? []
            guard embedded.count <= Self.maxEmbeddedRefunds else {
                throw .malformedEvent("more than \(Self.maxEmbeddedRefunds) refunds embedded in one event")
            }
            for item in embedded { try refund(item, payment: object.paymentIntent?.id) }
        case "charge.dispute.created", "charge.dispute.updated", "charge.dispute.funds_withdrawn":
            // Stripe's `warning_…` statuses are an inquiry (no money moved); an inquiry the bank escalates becomes a
            // chargeback of the same dispute (`needs_response`, `under_review`, or its funds withdrawn). A closed
            // status on an update is left to `charge.dispute.closed`, which reports it.
            guard let (id, payment, amount) = try dispute() else { break }
            let status = object.status ?? ""
            guard !Self.closedDisputeStatuses.contains(status) else { break }
            let inquiry = status.hasPrefix("warning_") && envelope.type != "charge.dispute.funds_withdrawn"
            events.append(.disputeOpened(id: id, payment: payment, amount: amount, inquiry: inquiry))
        case "charge.dispute.closed":
            guard let (id, payment, amount) = try dispute() else { break }
            let result: DisputeResult = switch object.status {
            case "won": .won
            case "lost": .lost
            case "warning_closed": .inquiryClosed
            case let status?: .other(status.utf8.count <= 40 && status.utf8.allSatisfy { (97...122).contains($0) || $0 == 95 } ? status : "unreadable")
            case nil: .other("none")
            }
            events.append(.disputeClosed(id: id, payment: payment, amount: amount, result: result))
        default:
            break
        }
        return StripeEvent(id: envelope.id, type: envelope.type, created: envelope.created ?? 0, events: events.isEmpty ? [.other] : events)
    }

    /// The refunds one `charge.refunded` may embed.
    static let maxEmbeddedRefunds = 100

    /// A dispute's statuses once it is over (Stripe's `prevented` included: no chargeback was filed).
    static let closedDisputeStatuses: Set<String> = ["won", "lost", "warning_closed", "prevented"]

    static func hexBytes(_ text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = hexValue(digits[index]), let low = hexValue(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case 48...57: digit - 48
        case 97...102: digit - 87
        case 65...70: digit - 55
        default: nil
        }
    }
}
