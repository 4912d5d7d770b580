import Foundation
import TaxCore

/// An authorization, capture, void or refund as a processor answers it.
public struct ProcessorResult: Sendable, Hashable {
    public enum Outcome: String, Sendable { case approved, declined }
    public enum DeclineReason: String, Sendable {
        case declined = "card_declined"
        case insufficientFunds = "insufficient_funds"
        case expiredCard = "expired_card"
        case incorrectSecurityCode = "incorrect_cvc"
        case processingError = "processing_error"
        case invalidRequest = "invalid_request"
    }

    public var id: String
    public var outcome: Outcome
    public var declineReason: DeclineReason?
    public var amount: Money
    /// The processor's own code for a decline, when it is finer than Levy's reason (Stripe's `decline_code`, such
    /// as `do_not_honor` or `lost_card`), kept as the processor said it.
    public var processorCode: String?

    public init(id: String, outcome: Outcome, declineReason: DeclineReason? = nil, amount: Money, processorCode: String? = nil) {
        self.id = id
        self.outcome = outcome
        self.declineReason = declineReason
        self.amount = amount
        self.processorCode = processorCode
    }
}

/// The billing address that goes with a card to the processor for address verification (AVS).
public struct BillingDetails: Sendable, Hashable {
    public var line1: String
    public var city: String
    /// Two-letter state code.
    public var state: String
    public var postalCode: String
    /// ISO 3166-1 alpha-2.
    public var country: String

    public init(line1: String, city: String, state: String, postalCode: String, country: String = "US") {
        self.line1 = line1
        self.city = city
        self.state = state
        self.postalCode = postalCode
        self.country = country
    }
}

/// A card processor. Only `authorize` sees a card, and only as a `RevealedCard` handed over by the vault.
///
/// Every call carries an idempotency key of Levy's, derived from its own ids: a processor that sees the same key
/// again answers what it answered the first time and moves no money twice (as Stripe's `Idempotency-Key` does), so
/// a call retried after a crash or a dropped connection is safe.
public protocol PaymentProcessor: Sendable {
    /// `billing` is the order's billing address, sent with the card for address verification where the processor
    /// supports it.
    func authorize(_ card: RevealedCard, amount: Money, reference: String, billing: BillingDetails?, idempotencyKey: String) async throws -> ProcessorResult
    func capture(authorization: String, amount: Money, idempotencyKey: String) async throws -> ProcessorResult
    func void(authorization: String, idempotencyKey: String) async throws -> ProcessorResult
    func refund(capture: String, amount: Money, idempotencyKey: String) async throws -> ProcessorResult
}

/// Connects the vault to a processor: the only path on which a card number is revealed. It acts as its own
/// caller (with the reveal permission), so the checkout calling it never needs that permission.
public struct PaymentGateway: Sendable {
    let vault: Vault
    let processor: any PaymentProcessor
    let identity: VaultCaller

    public init(vault: Vault, processor: any PaymentProcessor, identity: VaultCaller = VaultCaller(id: "payment-gateway", permissions: [.reveal])) {
        self.vault = vault
        self.processor = processor
        self.identity = identity
    }

    /// Reveals the card (audited) and asks the processor to authorize `amount`.
    public func authorize(token: Token, amount: Money, reference: String, billing: BillingDetails? = nil,
                          idempotencyKey: String) async throws -> ProcessorResult {
        let card = try await vault.reveal(token, caller: identity, purpose: "authorize \(reference)")
        return try await processor.authorize(card, amount: amount, reference: reference, billing: billing, idempotencyKey: idempotencyKey)
    }

    public func capture(authorization: String, amount: Money, idempotencyKey: String) async throws -> ProcessorResult {
        try await processor.capture(authorization: authorization, amount: amount, idempotencyKey: idempotencyKey)
    }

    public func void(authorization: String, idempotencyKey: String) async throws -> ProcessorResult {
        try await processor.void(authorization: authorization, idempotencyKey: idempotencyKey)
    }

    public func refund(capture: String, amount: Money, idempotencyKey: String) async throws -> ProcessorResult {
        try await processor.refund(capture: capture, amount: amount, idempotencyKey: idempotencyKey)
    }
}

/// A built-in processor simulator driven by the test card numbers processors publish for their sandboxes
/// (Stripe's list): 4000000000000002 declines, 4000000000009995 has insufficient funds, 4000000000000069 is
/// expired, 4000000000000127 has an incorrect security code, 4000000000000119 causes a processing error,
/// 4000000000000341 is declined when charged (Stripe's card that attaches but fails to charge); any
/// other valid card (4242424242424242, 5555555555554444, 378282246310005, …) is approved.
public actor SimulatedProcessor: PaymentProcessor {
    /// What the simulator approved, rebuilt from its answers.
    struct State {
        struct Authorization { var amount: Money; var captured: Money; var voided: Bool }
        struct Capture { var amount: Money; var refunded: Money }

        var authorizations: [String: Authorization] = [:]
        var captures: [String: Capture] = [:]
        /// Answers by idempotency key: a repeated key gets the first answer and nothing moves again.
        var answered: [String: ProcessorResult] = [:]

        /// One answer and what it changed.
        mutating func apply(_ entry: SimulatorJournal.Entry) {
            answered[entry.key] = entry.result
            guard entry.result.outcome == .approved else { return }
            let amount = entry.result.amount
            switch entry.operation {
            case .authorize:
                authorizations[entry.result.id] = Authorization(amount: amount, captured: .zero(amount.currency), voided: false)
            case .capture:
                if var auth = authorizations[entry.target] {
                    auth.captured = auth.captured + amount
                    authorizations[entry.target] = auth
                }
                captures[entry.result.id] = Capture(amount: amount, refunded: .zero(amount.currency))
            case .void:
                authorizations[entry.target]?.voided = true
            case .refund:
                if var cap = captures[entry.target] {
                    cap.refunded = cap.refunded + amount
                    captures[entry.target] = cap
                }
            }
        }
    }

    private var state = State()
    private var counter = 0
    /// Ids name the simulator's run too, so that ids of two runs sharing a journal (or a store) never collide.
    private let run = String(UInt32.random(in: 0...UInt32.max), radix: 36)
    /// Where every answer is written before it is given, so that a restarted simulator still knows the
    /// authorizations and captures it approved (as a processor would); nil keeps everything in memory (tests).
    private let journal: SimulatorJournal?
    /// How many calls actually moved money (repeats by idempotency key are not counted), for tests.
    public private(set) var operations: [String: Int] = [:]

    /// A simulator that remembers nothing past its process (tests, benchmarks).
    public init() { journal = nil }

    /// A simulator that keeps its answers in the journal at `path` (created if missing) and starts from the ones
    /// there: `levy serve`'s embedded default, whose orders outlive the process. A malformed line is an error
    /// naming the file and line; an incomplete last line (a crash while writing it) is an answer never given.
    public init(journal path: String) throws(SimulatorJournal.JournalError) {
        let opened = try SimulatorJournal(path: path)
        var replayed = State()
        for entry in opened.entries { replayed.apply(entry) }
        journal = opened
        state = replayed
    }

    static let outcomes: [String: ProcessorResult.DeclineReason] = [
        "4000000000000002": .declined, "4000000000009995": .insufficientFunds, "4000000000000069": .expiredCard,
        "4000000000000127": .incorrectSecurityCode, "4000000000000119": .processingError, "4000000000000341": .declined,
    ]

    private func nextID(_ prefix: String) -> String {
        counter += 1
        return "\(prefix)_sim_\(run)_\(counter)"
    }

    /// Answers `key` once: a repeat gets the first answer. The answer is journaled before it is applied or given,
    /// so one the caller saw is never forgotten; if it cannot be written, the call fails and nothing moved.
    private func once(_ key: String, _ operation: SimulatorJournal.Operation, target: String = "",
                      _ body: () -> ProcessorResult) throws -> ProcessorResult {
        guard let journal else { return try answer(key, operation, target: target, body) }
        // Under the journal's lock, after the answers other processes on the same journal gave since.
        return try journal.exclusively { others in
            for entry in others { state.apply(entry) }
            return try answer(key, operation, target: target, body) { try journal.append($0) }
        }
    }

    private func answer(_ key: String, _ operation: SimulatorJournal.Operation, target: String,
                        _ body: () -> ProcessorResult, record: (SimulatorJournal.Entry) throws -> Void = { _ in }) rethrows -> ProcessorResult {
        if let previous = state.answered[key] { return previous }
        let entry = SimulatorJournal.Entry(key: key, operation: operation, target: target, result: body())
        try record(entry)
        operations[operation.rawValue, default: 0] += 1
        state.apply(entry)
        return entry.result
    }

    public func authorize(_ card: RevealedCard, amount: Money, reference: String, billing: BillingDetails?,
                          idempotencyKey: String) async throws -> ProcessorResult {
        try once(idempotencyKey, .authorize) {
            let id = nextID("auth")
            if let reason = Self.outcomes[card.digitsForProcessor] {
                return ProcessorResult(id: id, outcome: .declined, declineReason: reason, amount: amount)
            }
            return ProcessorResult(id: id, outcome: .approved, amount: amount)
        }
    }

    public func capture(authorization: String, amount: Money, idempotencyKey: String) async throws -> ProcessorResult {
        try once(idempotencyKey, .capture, target: authorization) {
            let id = nextID("cap")
            guard let auth = state.authorizations[authorization], !auth.voided, auth.captured + amount <= auth.amount else {
                return ProcessorResult(id: id, outcome: .declined, declineReason: .invalidRequest, amount: amount)
            }
            return ProcessorResult(id: id, outcome: .approved, amount: amount)
        }
    }

    public func void(authorization: String, idempotencyKey: String) async throws -> ProcessorResult {
        try once(idempotencyKey, .void, target: authorization) {
            let id = nextID("void")
            guard let auth = state.authorizations[authorization], !auth.voided, auth.captured.minorUnits == 0 else {
                return ProcessorResult(id: id, outcome: .declined, declineReason: .invalidRequest, amount: .zero())
            }
            return ProcessorResult(id: id, outcome: .approved, amount: auth.amount)
        }
    }

    public func refund(capture: String, amount: Money, idempotencyKey: String) async throws -> ProcessorResult {
        try once(idempotencyKey, .refund, target: capture) {
            let id = nextID("ref")
            guard let cap = state.captures[capture], cap.refunded + amount <= cap.amount else {
                return ProcessorResult(id: id, outcome: .declined, declineReason: .invalidRequest, amount: amount)
            }
            return ProcessorResult(id: id, outcome: .approved, amount: amount)
        }
    }
}

/// How a dispute closed.
public enum DisputeResult: Sendable, Hashable {
    /// The merchant keeps the money.
    case won
    /// The money went back to the buyer.
    case lost
    /// An inquiry closed without becoming a chargeback: no money moved.
    case inquiryClosed
    /// A result Levy does not know (the processor's word for it): left for a person.
    case other(String)
}

/// Something that happened at the processor that Levy did not start, as the processor reported it (a webhook),
/// in processor-neutral terms. Amounts are minor units of the payment's currency.
public enum ProcessorEvent: Sendable, Hashable {
    /// A refund made at the processor (its dashboard, its API by someone else) or one of Levy's own, reported back.
    case refund(id: String, payment: String, amount: Int64, succeeded: Bool)
    /// The buyer's bank disputes a payment: a chargeback holds the money until it closes; an inquiry (the bank asks
    /// before it disputes) moves none, and the payment may still be refunded.
    case disputeOpened(id: String, payment: String, amount: Int64, inquiry: Bool)
    /// A dispute closed, with its result.
    case disputeClosed(id: String, payment: String, amount: Int64, result: DisputeResult)
    /// An event Levy records and acknowledges but does not act on.
    case other

    /// Every processor id the event names (its refund's or dispute's, and the payment's), to be checked before any
    /// is stored.
    public var ids: [String] {
        switch self {
        case .refund(let id, let payment, _, _), .disputeOpened(let id, let payment, _, _), .disputeClosed(let id, let payment, _, _): [id, payment]
        case .other: []
        }
    }

    /// The processor's payment the event is about (the authorization and capture id Levy holds), if any.
    public var payment: String? {
        switch self {
        case .refund(_, let payment, _, _), .disputeOpened(_, let payment, _, _), .disputeClosed(_, let payment, _, _): payment
        case .other: nil
        }
    }
}
