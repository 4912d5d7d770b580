import Foundation
import Storage
import TaxCore
import Vault

/// A gift card Levy issued: sold as an order line (`gift_card`, not taxed at sale), spent later as a tender that
/// pays part or all of another order. Its balance changes only through entries of its own ledger.
public struct GiftCard: Sendable, Hashable {
    public enum Status: String, Sendable {
        case active
        /// The sale of the card was refunded: nothing may be spent from it.
        case cancelled
    }

    public var id: String
    public var lastFour: String
    public var currency: Currency
    public var initialAmount: Int64
    public var balance: Int64
    public var status: Status
    /// The order and line that sold it.
    public var orderID: OrderID?
    public var line: Int?
    public var issued: Date
}

/// One change of a gift card's balance. `amount` is signed (spending is negative); `balance` is what was left after.
public struct GiftCardEntry: Sendable, Hashable {
    public enum Kind: String, Sendable {
        /// The card was sold and captured: its value.
        case issue
        /// Spent as a tender on an order (held from placement; given back by `release` if that order is voided).
        case redeem
        /// A tender given back because the order it was to pay was voided, or a cancellation undone because the
        /// refund that asked for it was declined.
        case release
        /// Part of a refund of an order the card paid, given back to the card.
        case refund
        /// The card's sale was refunded: what is refunded comes off the card.
        case cancel
        /// A new code replaced the old one (a lost code): the balance is unchanged.
        case reissue
    }

    public var seq: Int
    public var kind: Kind
    public var amount: Int64
    public var balance: Int64
    public var orderID: OrderID?
    public var refundID: String?
    public var at: Date
}

/// A gift card paying part of an order: how much it paid and how much a refund has given back to it.
public struct GiftCardTender: Sendable, Hashable {
    public var giftCardID: String
    public var lastFour: String
    public var amount: Int64
    public var returned: Int64
}

/// A gift card as issued at capture: the code is here once, and never again (only its keyed hash is stored).
public struct IssuedGiftCard: Sendable, Hashable {
    public var card: GiftCard
    public var code: GiftCardCode
}

/// A gift card offered to pay an order: its code, and how much of it to spend (nil: as much as it holds, up to
/// what is left of the order's total).
public struct GiftCardPayment: Sendable, Hashable {
    public var code: GiftCardCode
    public var amount: Int64?

    public init(code: GiftCardCode, amount: Int64?) {
        self.code = code
        self.amount = amount
    }
}

/// Where a refund of an order paid partly by gift card goes first. Either way no tender gets back more than it paid.
public enum GiftCardRefundPolicy: String, Sendable, CaseIterable {
    /// Back to the gift cards first (in the order they were offered), the rest to the payment card: the default,
    /// since gift card money was the merchant's to begin with (and cash-out of gift cards is a matter of state law).
    case giftCardFirst = "gift-card-first"
    /// Back to the payment card first, the rest to the gift cards.
    case paymentCardFirst = "payment-card-first"
}

/// Why a gift card cannot be used; `index` is the position in the order's `gift_cards` list (0-based).
public enum GiftCardError: Error, Equatable, Sendable, CustomStringConvertible {
    case unknown(index: Int?)
    case cancelled(index: Int?)
    case insufficientBalance(index: Int, balance: Int64)
    /// The gift cards offered come to more than the order's total, or one is offered twice.
    case moreThanTotal(index: Int)
    case offeredTwice(index: Int)
    case unknownGiftCard(String)
    /// The card's code was replaced moments ago (`OrderService.reissueInterval`); `seconds` until another may be.
    case reissuedRecently(seconds: Int)

    public var description: String {
        switch self {
        case .unknown: "no gift card has this code"
        case .cancelled: "the gift card was cancelled (its sale was refunded)"
        case .insufficientBalance(_, let balance): "the gift card holds \(Money(minorUnits: balance, currency: .usd).decimalString), less than asked"
        case .moreThanTotal: "the gift cards come to more than the order's total"
        case .offeredTwice: "the same gift card is offered twice"
        case .unknownGiftCard(let id): "no gift card \(id)"
        case .reissuedRecently(let seconds):
            "the card's code was replaced moments ago (another reissue's answer holds the code that works); retry after \(seconds) s"
        }
    }

    /// The request field at fault.
    public var field: String {
        switch self {
        case .unknown(let index?), .cancelled(let index?): "gift_cards[\(index)].code"
        case .unknown(nil), .cancelled(nil): "code"
        case .insufficientBalance(let index, _), .moreThanTotal(let index): "gift_cards[\(index)].amount"
        case .offeredTwice(let index): "gift_cards[\(index)].code"
        case .unknownGiftCard, .reissuedRecently: "gift_card_id"
        }
    }
}

extension OrderService {
    /// Gift cards, their own balance ledger, and the gift cards that paid each order.
    static let giftCardMigration = Migrations.Migration(version: 10, name: "gift cards", statements: [
        """
        CREATE TABLE {schema}gift_cards (id TEXT PRIMARY KEY, code_hash TEXT NOT NULL UNIQUE, last_four TEXT NOT NULL, currency TEXT NOT NULL,
          initial_amount {bigint} NOT NULL, balance {bigint} NOT NULL CHECK (balance >= 0), status TEXT NOT NULL, entries {bigint} NOT NULL,
          order_id TEXT REFERENCES {schema}orders(id), line_no {bigint}, unit {bigint}, issued_at TEXT NOT NULL)
        """,
        """
        CREATE TABLE {schema}gift_card_entries (gift_card_id TEXT NOT NULL REFERENCES {schema}gift_cards(id), seq {bigint} NOT NULL,
          kind TEXT NOT NULL, amount {bigint} NOT NULL, balance {bigint} NOT NULL, order_id TEXT, refund_id TEXT, at TEXT NOT NULL,
          PRIMARY KEY (gift_card_id, seq))
        """,
        """
        CREATE TABLE {schema}order_gift_cards (order_id TEXT NOT NULL REFERENCES {schema}orders(id), position {bigint} NOT NULL,
          gift_card_id TEXT NOT NULL REFERENCES {schema}gift_cards(id), amount {bigint} NOT NULL, returned {bigint} NOT NULL DEFAULT 0,
          PRIMARY KEY (order_id, position))
        """,
        "CREATE INDEX {index}gift_cards_order ON {schema}gift_cards (order_id, line_no)",
        "CREATE INDEX {index}gift_card_entries_order ON {schema}gift_card_entries (order_id)",
        "ALTER TABLE {schema}orders ADD COLUMN gift_card_amount {bigint} NOT NULL DEFAULT 0",
        "ALTER TABLE {schema}refunds ADD COLUMN gift_card_amount {bigint} NOT NULL DEFAULT 0",
    ])

    // MARK: - Reading

    /// The gift card with this code, if any.
    public func giftCard(code: GiftCardCode) async throws -> GiftCard {
        guard let row = try await rows("SELECT * FROM \(table("gift_cards")) WHERE code_hash = $1", [.text(code.keyedHash(keys.giftCards))]).first else {
            throw GiftCardError.unknown(index: nil)
        }
        return try decoded { () throws(RowDecodingError) in try Self.giftCard(row) }
    }

    public func giftCard(id: String) async throws -> GiftCard {
        guard let row = try await rows("SELECT * FROM \(table("gift_cards")) WHERE id = $1", [.text(id)]).first else {
            throw GiftCardError.unknownGiftCard(id)
        }
        return try decoded { () throws(RowDecodingError) in try Self.giftCard(row) }
    }

    /// A gift card's balance changes, oldest first.
    public func giftCardEntries(id: String) async throws -> [GiftCardEntry] {
        let rows = try await rows("SELECT * FROM \(table("gift_card_entries")) WHERE gift_card_id = $1 ORDER BY seq", [.text(id)])
        return try decoded { () throws(RowDecodingError) in
            try rows.map { row throws(RowDecodingError) in
                GiftCardEntry(seq: try row.decode("seq"), kind: try row.decode("kind", as: GiftCardEntry.Kind.self), amount: try Self.money(row, "amount"),
                              balance: try Self.money(row, "balance"), orderID: try row.decodeIfPresent("order_id", as: String.self).map(OrderID.init),
                              refundID: try row.decodeIfPresent("refund_id"), at: try row.decode("at", expected: "a UTC timestamp", Timestamp.date))
            }
        }
    }

    /// The gift cards an order sold (issued when it was captured).
    public func giftCards(issuedBy order: OrderID) async throws -> [GiftCard] {
        let rows = try await rows("SELECT * FROM \(table("gift_cards")) WHERE order_id = $1 ORDER BY line_no, unit", [.text(order.value)])
        return try decoded { () throws(RowDecodingError) in try rows.map { row throws(RowDecodingError) in try Self.giftCard(row) } }
    }

    /// The gift cards that pay an order, in the order they were offered.
    func tenders(of order: OrderID) async throws -> [GiftCardTender] {
        let rows = try await rows("""
            SELECT t.gift_card_id, t.amount, t.returned, g.last_four FROM \(table("order_gift_cards")) t
            JOIN \(table("gift_cards")) g ON g.id = t.gift_card_id WHERE t.order_id = $1 ORDER BY t.position
            """, [.text(order.value)])
        return try decoded { () throws(RowDecodingError) in
            try rows.map { row throws(RowDecodingError) in
                GiftCardTender(giftCardID: try row.decode("gift_card_id"), lastFour: try row.decode("last_four"), amount: try Self.money(row, "amount"),
                               returned: try Self.money(row, "returned"))
            }
        }
    }

    static func giftCard(_ row: SQLRow) throws(RowDecodingError) -> GiftCard {
        GiftCard(id: try row.decode("id"), lastFour: try row.decode("last_four"),
                 currency: try row.decode("currency", expected: "USD") { $0 == "USD" ? Currency.usd : nil },
                 initialAmount: try money(row, "initial_amount"), balance: try money(row, "balance"),
                 status: try row.decode("status", as: GiftCard.Status.self), orderID: try row.decodeIfPresent("order_id", as: String.self).map(OrderID.init),
                 line: try row.decodeIfPresent("line_no"), issued: try row.decode("issued_at", expected: "a UTC timestamp", Timestamp.date))
    }

    // MARK: - Issue at capture

    /// One gift card per unit of every `gift_card` line, worth what was paid for that unit (the line's amount split
    /// in whole cents, the first units taking the leftover cents), and the statements that write them.
    func giftCardIssue(_ order: Order, at date: Date) throws -> (statements: [SQLStatement], issued: [IssuedGiftCard]) {
        let at = Timestamp.string(date)
        var cards: [[SQLValue]] = []
        var entries: [[SQLValue]] = []
        var issued: [IssuedGiftCard] = []
        for line in order.lines where line.code == .giftCard && line.amount > 0 {
            let units = max(1, line.quantity)
            // `checkVoucherLimit` bounded the units before the capture asked for money.
            guard units <= Self.maxVouchersPerOrder else { throw OrderError.tooManyVouchers(line: line.number - 1, limit: Int(Self.maxVouchersPerOrder)) }
            let each = line.amount / units
            let leftover = line.amount % units
            for unit in 1...units {
                let value = each + (unit <= leftover ? 1 : 0)
                guard value > 0 else { continue }
                let code = GiftCardCode.random()
                let id = "gc_" + RandomID.make(bytes: 12)
                cards.append([.text(id), .text(code.keyedHash(keys.giftCards)), .text(code.lastFour), .text(order.currency.code), .integer(value),
                              .integer(value), .text(GiftCard.Status.active.rawValue), .integer(1), .text(order.id.value),
                              .integer(Int64(line.number)), .integer(unit), .text(at)])
                entries.append([.text(id), .integer(1), .text(GiftCardEntry.Kind.issue.rawValue), .integer(value), .integer(value),
                                .text(order.id.value), .text(at)])
                issued.append(IssuedGiftCard(card: GiftCard(id: id, lastFour: code.lastFour, currency: order.currency, initialAmount: value,
                                                             balance: value, status: .active, orderID: order.id, line: line.number,
                                                             issued: Timestamp.date(at) ?? date), code: code))
            }
        }
        let statements = SQLInsert(table: table("gift_cards"), columns: ["id", "code_hash", "last_four", "currency", "initial_amount", "balance",
                                                                        "status", "entries", "order_id", "line_no", "unit", "issued_at"], rows: cards)
            .statements(dialect: database.dialect)
            + SQLInsert(table: table("gift_card_entries"), columns: ["gift_card_id", "seq", "kind", "amount", "balance", "order_id", "at"],
                        rows: entries).statements(dialect: database.dialect)
        return (statements, issued)
    }

    // MARK: - Tenders at placement

    /// What each gift card offered will pay of `total`, checked against the cards as they are now (the write that
    /// spends them checks again, atomically).
    /// `index` is each card's place in `payments`, which errors name.
    func giftCardPlan(_ payments: [GiftCardPayment], total: Int64) async throws -> [(index: Int, card: GiftCard, amount: Int64)] {
        var plan: [(index: Int, card: GiftCard, amount: Int64)] = []
        var remaining = total
        for (index, payment) in payments.enumerated() {
            let card: GiftCard
            do { card = try await giftCard(code: payment.code) } catch GiftCardError.unknown { throw GiftCardError.unknown(index: index) }
            guard !plan.contains(where: { $0.card.id == card.id }) else { throw GiftCardError.offeredTwice(index: index) }
            guard card.status == .active else { throw GiftCardError.cancelled(index: index) }
            let amount = payment.amount ?? min(card.balance, remaining)
            guard amount <= remaining else { throw GiftCardError.moreThanTotal(index: index) }
            guard amount <= card.balance else { throw GiftCardError.insufficientBalance(index: index, balance: card.balance) }
            guard amount > 0 else { continue }
            plan.append((index, card, amount))
            remaining -= amount
        }
        return plan
    }

    /// Spends the planned amounts inside the placing transaction: each card's balance is lowered only if it still
    /// holds the amount (one conditional UPDATE, so concurrent orders can never overspend a card), with an entry in
    /// its ledger and the tender recorded against the order.
    func spend(_ plan: [(index: Int, card: GiftCard, amount: Int64)], order: OrderID, in tx: any SQLExecutor) async throws {
        let at = Timestamp.string(now())
        for (position, tender) in plan.enumerated() {
            guard try await adjust(tender.card.id, by: -tender.amount, kind: .redeem, order: order, refund: nil, at: at, in: tx) else {
                let now = try await tx.query("SELECT balance, status FROM \(table("gift_cards")) WHERE id = $1", [.text(tender.card.id)]).first
                if now?.text("status") == GiftCard.Status.cancelled.rawValue { throw GiftCardError.cancelled(index: tender.index) }
                throw GiftCardError.insufficientBalance(index: tender.index, balance: now?.integer("balance") ?? 0)
            }
            try await tx.execute("INSERT INTO \(table("order_gift_cards")) (order_id, position, gift_card_id, amount) VALUES ($1, $2, $3, $4)",
                                 [.text(order.value), .integer(Int64(position)), .text(tender.card.id), .integer(tender.amount)])
        }
    }

    /// Changes a card's balance by `delta` and writes the entry, if the card is active and holds enough for a
    /// negative delta; false otherwise (nothing written). Credits (`release`, `refund`) reach a cancelled card too.
    @discardableResult
    func adjust(_ id: String, by delta: Int64, kind: GiftCardEntry.Kind, order: OrderID?, refund: String?, at: String,
                in tx: any SQLExecutor) async throws -> Bool {
        let condition = delta < 0 ? " AND status = 'active' AND balance >= $3" : ""
        var binds: [SQLValue] = [.integer(delta), .text(id)]
        if delta < 0 { binds.append(.integer(-delta)) }
        guard let row = try await tx.query("""
            UPDATE \(table("gift_cards")) SET balance = balance + $1, entries = entries + 1 WHERE id = $2\(condition) RETURNING balance, entries
            """, binds).first else { return false }
        let (balance, seq) = try decoded { () throws(RowDecodingError) in (try Self.money(row, "balance"), try row.decode("entries", as: Int64.self)) }
        try await tx.execute("""
            INSERT INTO \(table("gift_card_entries")) (gift_card_id, seq, kind, amount, balance, order_id, refund_id, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            """, [.text(id), .integer(seq), .text(kind.rawValue), .integer(delta), .integer(balance), order.map { .text($0.value) } ?? .null,
                  refund.map { .text($0) } ?? .null, .text(at)])
        return true
    }

    // MARK: - Void, refunds

    /// Gives every tender of a voided order back to its card.
    func releaseTenders(of order: Order, in tx: any SQLExecutor) async throws {
        guard order.giftCardAmount > 0 else { return }
        let at = Timestamp.string(now())
        for tender in order.giftCards where tender.amount > tender.returned {
            try await adjust(tender.giftCardID, by: tender.amount - tender.returned, kind: .release, order: order.id, refund: nil, at: at, in: tx)
            try await reactivateIfItsSaleOwesIt(tender.giftCardID, in: tx)
            try await tx.execute("UPDATE \(table("order_gift_cards")) SET returned = amount WHERE order_id = $1 AND gift_card_id = $2",
                                 [.text(order.id.value), .text(tender.giftCardID)])
        }
    }

    /// How much of a refund of `gross` (tax included) goes back to the order's gift cards, by the policy; the rest
    /// goes to the payment card. A refund the processor made itself went to the payment card.
    func giftCardShare(of gross: Int64, order: Order, external: Bool) -> Int64 {
        guard !external, order.giftCardAmount > 0 else { return 0 }
        let toGiftCards = order.giftCardAmount - order.giftCardReturned
        let toCard = order.cardAmount - (order.refundedAmount + order.refundedTax - order.giftCardReturned)
        switch giftCardRefundPolicy {
        case .giftCardFirst: return min(gross, toGiftCards)
        case .paymentCardFirst: return max(0, gross - max(0, toCard))
        }
    }

    /// Gives `amount` of a refund back to the order's gift cards, in the order they were offered.
    func returnToGiftCards(_ amount: Int64, of order: Order, refund: String, in tx: any SQLExecutor) async throws {
        var left = amount
        let at = Timestamp.string(now())
        for tender in order.giftCards where left > 0 && tender.amount > tender.returned {
            let back = min(left, tender.amount - tender.returned)
            try await adjust(tender.giftCardID, by: back, kind: .refund, order: order.id, refund: refund, at: at, in: tx)
            try await reactivateIfItsSaleOwesIt(tender.giftCardID, in: tx)
            try await tx.execute("UPDATE \(table("order_gift_cards")) SET returned = returned + $1 WHERE order_id = $2 AND gift_card_id = $3",
                                 [.integer(back), .text(order.id.value), .text(tender.giftCardID)])
            left -= back
        }
        guard left == 0 else { throw OrderError.corrupt("refund \(refund) returns more to gift cards than they paid") }
    }

    /// A cancelled card that money comes back to (a void or a refund of an order it paid) is active again when its
    /// sale has not given that value back: a refund of the sale took only what the card held then, so what had been
    /// spent and now returns is the holder's again, and the sale can still refund it. When the sale was refunded
    /// for it already (a processor's refund of the whole sale), the card stays cancelled: its buyer got that money.
    func reactivateIfItsSaleOwesIt(_ id: String, in tx: any SQLExecutor) async throws {
        guard let row = try await tx.query("SELECT status, balance, order_id, line_no FROM \(table("gift_cards")) WHERE id = $1", [.text(id)]).first
        else { return }
        let (status, balance, sale, line) = try decoded { () throws(RowDecodingError) in
            (try row.decode("status", as: GiftCard.Status.self), try Self.money(row, "balance"),
             try row.decodeIfPresent("order_id", as: String.self), try row.decodeIfPresent("line_no", as: Int64.self))
        }
        guard status == .cancelled, balance > 0, let sale, let line else { return }
        guard let saleLine = try await tx.query("SELECT amount, refunded_amount FROM \(table("order_lines")) WHERE order_id = $1 AND line_no = $2",
                                                [.text(sale), .integer(line)]).first,
              let held = try await tx.query("""
                  SELECT COALESCE(SUM(balance), 0) AS held FROM \(table("gift_cards")) WHERE order_id = $1 AND line_no = $2 AND status = 'active'
                  """, [.text(sale), .integer(line)]).first else { return }
        let (owed, others) = try decoded { () throws(RowDecodingError) in
            (try Self.money(saleLine, "amount") - Self.money(saleLine, "refunded_amount"), try Self.money(held, "held"))
        }
        guard balance + others <= owed else { return }
        try await tx.execute("UPDATE \(table("gift_cards")) SET status = 'active' WHERE id = $1", [.text(id)])
    }

    /// A refund of gift cards sold takes what it refunds off those cards (the last issued first): refused if they
    /// no longer hold it (spent already), unless `strict` is false: a refund the processor already made is recorded
    /// whatever the cards still hold, and takes what is left. A card left with nothing is cancelled.
    func cancelSoldGiftCards(_ refunded: [RefundedLine], of order: Order, refund: String, request: RefundRequest, strict: Bool = true,
                             in tx: any SQLExecutor) async throws {
        let at = Timestamp.string(now())
        for item in refunded where item.amount > 0 {
            guard let line = order.lines.first(where: { $0.number == item.line }), line.code == .giftCard else { continue }
            let cards = try await tx.query("""
                SELECT id, balance FROM \(table("gift_cards")) WHERE order_id = $1 AND line_no = $2 AND status = 'active' ORDER BY unit DESC
                """, [.text(order.id.value), .integer(Int64(item.line))])
            var left = item.amount
            for card in cards where left > 0 {
                let (id, balance) = try decoded { () throws(RowDecodingError) in (try card.decode("id", as: String.self), try Self.money(card, "balance")) }
                let take = min(left, balance)
                guard take > 0, try await adjust(id, by: -take, kind: .cancel, order: order.id, refund: refund, at: at, in: tx) else { continue }
                if take == balance { try await tx.execute("UPDATE \(table("gift_cards")) SET status = 'cancelled' WHERE id = $1", [.text(id)]) }
                left -= take
            }
            guard left == 0 || !strict else {
                let unspent = Money(minorUnits: item.amount - left, currency: order.currency).decimalString
                let advice = request == .full ? ", so the order cannot be refunded in full; refund it by `lines` or by `amount`, up to what they hold"
                                              : "; only that much of them can be refunded"
                throw OrderError.invalidRefund("the gift cards sold on line \(item.line) hold \(unspent) unspent" + advice,
                                               field: request.field(refunding: item.line))
            }
        }
    }

    /// Undoes a refund's cancellations (the processor declined the refund).
    func restoreCancelled(refund: String, order: OrderID, in tx: any SQLExecutor) async throws {
        let taken = try await tx.query("SELECT gift_card_id, amount FROM \(table("gift_card_entries")) WHERE refund_id = $1 AND kind = 'cancel'",
                                       [.text(refund)])
        let at = Timestamp.string(now())
        for entry in taken {
            let (id, amount) = try decoded { () throws(RowDecodingError) in (try entry.decode("gift_card_id", as: String.self), try Self.money(entry, "amount")) }
            try await tx.execute("UPDATE \(table("gift_cards")) SET status = 'active' WHERE id = $1", [.text(id)])
            try await adjust(id, by: -amount, kind: .release, order: order, refund: refund, at: at, in: tx)
        }
    }

    // MARK: - Reissue

    /// A card's code is replaced at most once in this many seconds. Each reissue shows its code once and only the
    /// last works, so concurrent reissues (a double click, a retry without an idempotency key) would hand out codes
    /// that are already dead; within the interval the later ones are refused instead.
    public static let reissueInterval = 10

    /// Replaces a card's code (the buyer lost it, or the capture's answer never reached them): a new code, shown
    /// once; the old one stops working. The balance is unchanged. Refused within `reissueInterval` of the last.
    /// The card is read back in the same transaction: a concurrent reissue must not answer with another's last four.
    public func reissue(giftCard id: String) async throws -> IssuedGiftCard {
        let code = GiftCardCode.random()
        let moment = now()
        let at = Timestamp.string(moment)
        let card = try await database.transaction { [self] tx in
            guard let updated = try await tx.query("UPDATE \(table("gift_cards")) SET code_hash = $1, last_four = $2 WHERE id = $3 RETURNING status",
                                                   [.text(code.keyedHash(keys.giftCards)), .text(code.lastFour), .text(id)]).first else {
                throw GiftCardError.unknownGiftCard(id)
            }
            // A new code for a card nobody may spend would only look usable.
            if updated.text("status") == GiftCard.Status.cancelled.rawValue { throw GiftCardError.cancelled(index: nil) }
            // The card's row is this transaction's now (PostgreSQL locks it to the commit; SQLite has one writer at a
            // time), so a reissue another request committed first is seen here, and this one rolls back.
            let since = Timestamp.string(moment.addingTimeInterval(-Double(Self.reissueInterval)))
            let latest = try await tx.query("""
                SELECT MAX(at) AS at FROM \(table("gift_card_entries")) WHERE gift_card_id = $1 AND kind = 'reissue' AND at > $2
                """, [.text(id), .text(since)]).first
            let lastReissue = try decoded { () throws(RowDecodingError) -> Date? in
                guard let latest, try latest.decodeIfPresent("at", as: String.self) != nil else { return nil }
                return try latest.decode("at", expected: "a UTC timestamp", Timestamp.date)
            }
            if let lastDate = lastReissue {
                let wait = Int(lastDate.timeIntervalSince(moment).rounded(.up)) + Self.reissueInterval
                throw GiftCardError.reissuedRecently(seconds: min(max(wait, 1), Self.reissueInterval))
            }
            try await adjust(id, by: 0, kind: .reissue, order: nil, refund: nil, at: at, in: tx)
            guard let row = try await tx.query("SELECT * FROM \(table("gift_cards")) WHERE id = $1", [.text(id)]).first else {
                throw GiftCardError.unknownGiftCard(id)
            }
            return try decoded { () throws(RowDecodingError) in try Self.giftCard(row) }
        }
        return IssuedGiftCard(card: card, code: code)
    }
}
