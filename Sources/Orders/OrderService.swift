import Crypto
import Foundation
import Storage
import TaxCore
import Vault

/// Places orders exactly once, takes payment through the vault's gateway, and keeps the tax ledger: capture writes
/// one immutable entry per line and jurisdiction, refunds write reversing entries, all in one hash chain.
public struct OrderService: Sendable {
    public let database: any SQLDatabase
    public let schema: String
    let calculator: TaxCalculator
    /// The tables this service quotes new orders with.
    public var tables: TaxTableSet { calculator.tables }
    let gateway: PaymentGateway?
    /// Key the tax ledger's hash chain and the stored hashes of gift card codes (derived from the vault's master key;
    /// never stored).
    public let keys: OrderKeys
    /// Where refunds of orders paid partly by gift card go first.
    public var giftCardRefundPolicy: GiftCardRefundPolicy = .giftCardFirst
    let now: @Sendable () -> Date

    public init(database: any SQLDatabase, schema: String = "orders", tables: TaxTableSet, gateway: PaymentGateway?, keys: OrderKeys,
                now: @escaping @Sendable () -> Date = { Date() }) {
        self.database = database
        self.schema = schema
        calculator = TaxCalculator(tables: tables)
        self.gateway = gateway
        self.keys = keys
        self.now = now
    }

    /// The same store read through another database holding a copy of it (a streaming replica), for jobs that only
    /// read: no payment processor, and nothing may be written through it.
    public func reading(from replica: any SQLDatabase) -> OrderService {
        var copy = OrderService(database: replica, schema: schema, tables: tables, gateway: nil, keys: keys, now: now)
        copy.giftCardRefundPolicy = giftCardRefundPolicy
        return copy
    }

    /// The same service quoting new orders with other tables.
    public func with(tables: TaxTableSet) -> OrderService {
        var copy = OrderService(database: database, schema: schema, tables: tables, gateway: gateway, keys: keys, now: now)
        copy.giftCardRefundPolicy = giftCardRefundPolicy
        return copy
    }

    var ledgerStore: Ledger { Ledger(table: table("ledger"), meta: table("meta"), dialect: database.dialect, key: keys.ledger) }

    /// The order store's schema changes, in order.
    public static func migrations(schema: String) -> Migrations {
        Migrations(schema: schema, [
            .init(version: 1, name: "orders and tax ledger", statements: [
                "CREATE TABLE {schema}meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
                // The ledger head exists from the start, so appends can lock it (PostgreSQL locks only rows that exist).
                "INSERT INTO {schema}meta (name, value) VALUES ('ledger_head', '')",
                """
                CREATE TABLE {schema}orders (id TEXT PRIMARY KEY, idempotency_key TEXT NOT NULL UNIQUE, request_hash TEXT NOT NULL,
                  status TEXT NOT NULL, currency TEXT NOT NULL, tax_date TEXT NOT NULL, table_version TEXT NOT NULL, rounding TEXT NOT NULL,
                  total_amount {bigint} NOT NULL, total_tax {bigint} NOT NULL, payment_token TEXT, authorization_id TEXT, capture_id TEXT,
                  decline_reason TEXT, created_at TEXT NOT NULL)
                """,
                """
                CREATE TABLE {schema}order_lines (order_id TEXT NOT NULL REFERENCES {schema}orders(id), line_no {bigint} NOT NULL,
                  line_id TEXT NOT NULL, code TEXT NOT NULL, quantity {bigint} NOT NULL, amount {bigint} NOT NULL, taxable {bigint} NOT NULL,
                  exempt {bigint} NOT NULL, tax {bigint} NOT NULL, fulfilment TEXT NOT NULL, refunded_quantity {bigint} NOT NULL DEFAULT 0,
                  refunded_amount {bigint} NOT NULL DEFAULT 0, sourcing_rule TEXT NOT NULL, sourced_to TEXT NOT NULL, certificate TEXT,
                  PRIMARY KEY (order_id, line_no))
                """,
                """
                CREATE TABLE {schema}order_taxes (order_id TEXT NOT NULL REFERENCES {schema}orders(id), line_no {bigint} NOT NULL,
                  position {bigint} NOT NULL, jurisdiction_code TEXT NOT NULL, level TEXT NOT NULL, name TEXT NOT NULL, rate TEXT NOT NULL,
                  taxable {bigint} NOT NULL, tax {bigint} NOT NULL, refunded_tax {bigint} NOT NULL DEFAULT 0, PRIMARY KEY (order_id, line_no, position))
                """,
                """
                CREATE TABLE {schema}refunds (id TEXT PRIMARY KEY, order_id TEXT NOT NULL REFERENCES {schema}orders(id),
                  idempotency_key TEXT NOT NULL UNIQUE, request_hash TEXT NOT NULL, amount {bigint} NOT NULL, tax {bigint} NOT NULL,
                  created_at TEXT NOT NULL)
                """,
                """
                CREATE TABLE {schema}refund_lines (refund_id TEXT NOT NULL REFERENCES {schema}refunds(id), line_no {bigint} NOT NULL,
                  quantity {bigint} NOT NULL, amount {bigint} NOT NULL, PRIMARY KEY (refund_id, line_no))
                """,
                """
                CREATE TABLE {schema}ledger (seq {bigint} PRIMARY KEY, order_id TEXT NOT NULL, refund_id TEXT, kind TEXT NOT NULL,
                  line_no {bigint} NOT NULL, jurisdiction_code TEXT NOT NULL, level TEXT NOT NULL, rate TEXT NOT NULL, taxable {bigint} NOT NULL,
                  tax {bigint} NOT NULL, tax_date TEXT NOT NULL, table_version TEXT NOT NULL, at TEXT NOT NULL, prev_hash TEXT NOT NULL,
                  hash TEXT NOT NULL)
                """,
            ]),
            fulfilmentMigration,
            .init(version: 3, name: "order customer", statements: [
                "ALTER TABLE {schema}orders ADD COLUMN customer_id TEXT",
                "ALTER TABLE {schema}orders ADD COLUMN billing_version {bigint}",
                "CREATE INDEX {index}orders_customer ON {schema}orders (customer_id)",
            ]),
            // Found by seeding a million orders: refunds and fulfilment look these up by order or refund.
            .init(version: 4, name: "lookup indexes", statements: [
                "CREATE INDEX {index}vouchers_order ON {schema}vouchers (order_id, line_no)",
                "CREATE INDEX {index}entitlements_order ON {schema}entitlements (order_id, line_no)",
                "CREATE INDEX {index}ledger_order ON {schema}ledger (order_id)",
                "CREATE INDEX {index}ledger_refund ON {schema}ledger (refund_id)",
                "CREATE INDEX {index}refunds_order ON {schema}refunds (order_id)",
            ]),
            // What audit exports need beyond the amounts: the addresses as used (`line1|city|ST|ZIP`), and per line
            // the tax type, the taxability rule, why an amount was exempt and why tax was not collected.
            .init(version: 5, name: "export evidence", statements: [
                "ALTER TABLE {schema}orders ADD COLUMN origin_address TEXT",
                "ALTER TABLE {schema}orders ADD COLUMN destination_address TEXT",
                "ALTER TABLE {schema}orders ADD COLUMN billing_address TEXT",
                "ALTER TABLE {schema}order_lines ADD COLUMN tax_type TEXT",
                "ALTER TABLE {schema}order_lines ADD COLUMN taxability_rule TEXT",
                "ALTER TABLE {schema}order_lines ADD COLUMN exempt_reason TEXT",
                "ALTER TABLE {schema}order_lines ADD COLUMN not_collecting TEXT",
                "CREATE INDEX {index}orders_tax_date ON {schema}orders (tax_date)",
            ]),
            // What replaying an order's quote and reconciling its payments need: the registrations the order was
            // quoted under (NULL: every state), each line's amount as given (tax-inclusive when `tax_included` is 1)
            // and its location, and the processor's id of each refund.
            .init(version: 6, name: "replay and settlement evidence", statements: [
                "ALTER TABLE {schema}orders ADD COLUMN registrations TEXT",
                "ALTER TABLE {schema}order_lines ADD COLUMN request_amount {bigint}",
                "ALTER TABLE {schema}order_lines ADD COLUMN tax_included {bigint}",
                "ALTER TABLE {schema}order_lines ADD COLUMN location_address TEXT",
                "ALTER TABLE {schema}refunds ADD COLUMN processor_refund_id TEXT",
                "CREATE INDEX {index}orders_capture ON {schema}orders (capture_id)",
                "CREATE INDEX {index}refunds_processor ON {schema}refunds (processor_refund_id)",
            ]),
            // Payment intents: an order's payment step is claimed by one caller (a status that only one UPDATE can
            // set), and a refund is recorded as pending, with its plan, before the processor is called; so
            // concurrent callers cannot move money twice and a crash after the processor answered loses nothing.
            .init(version: 7, name: "payment intents", statements: [
                "ALTER TABLE {schema}orders ADD COLUMN refund_lock TEXT",
                "ALTER TABLE {schema}refunds ADD COLUMN state TEXT NOT NULL DEFAULT 'completed'",
                "ALTER TABLE {schema}refunds ADD COLUMN plan TEXT",
                "CREATE INDEX {index}orders_status ON {schema}orders (status)",
                "CREATE INDEX {index}refunds_state ON {schema}refunds (state)",
            ]),
            // Discounts (what each line's seller discounts and third-party coupons came to after allocation) and
            // where the seller said it is engaged in business: what replaying the order's quote needs.
            .init(version: 8, name: "discounts and engagement", statements: [
                "ALTER TABLE {schema}order_lines ADD COLUMN discount {bigint} NOT NULL DEFAULT 0",
                "ALTER TABLE {schema}order_lines ADD COLUMN third_party_discount {bigint} NOT NULL DEFAULT 0",
                "ALTER TABLE {schema}orders ADD COLUMN engagement TEXT",
            ]),
            // What the processor reported on its own (webhooks): each event once, by its id, with what Levy did
            // with it; refunds Levy did not start (`origin`: `levy`, `processor` or `dispute`); disputes.
            .init(version: 9, name: "processor events", statements: [
                """
                CREATE TABLE {schema}processor_events (id TEXT PRIMARY KEY, processor TEXT NOT NULL, type TEXT NOT NULL,
                  received_at TEXT NOT NULL, state TEXT NOT NULL, detail TEXT, payload TEXT NOT NULL)
                """,
                "ALTER TABLE {schema}refunds ADD COLUMN origin TEXT NOT NULL DEFAULT 'levy'",
                "ALTER TABLE {schema}orders ADD COLUMN dispute_id TEXT",
                "ALTER TABLE {schema}orders ADD COLUMN dispute_status TEXT",
            ]),
            giftCardMigration,
            // The local jurisdictions a merchant pinned for the premises the order was sourced to (replay needs them).
            .init(version: 11, name: "pinned jurisdictions", statements: [
                "ALTER TABLE {schema}orders ADD COLUMN pinned TEXT",
            ]),
            // A processor's event names the authorization; finding its order (and its merchant) is one index probe.
            .init(version: 12, name: "orders by authorization", statements: [
                "CREATE INDEX {index}orders_authorization ON {schema}orders (authorization_id)",
            ]),
            // An address obtained during the sale (the payment instrument's, SSUTA 310.A.4), as the order was quoted.
            .init(version: 13, name: "payment address", statements: [
                "ALTER TABLE {schema}orders ADD COLUMN payment_address TEXT",
            ]),
            // When the order's payment step (authorizing, capturing, voiding) was claimed: a step a killed process
            // left half done is finished by a live one once it is older than any step under way can be.
            .init(version: 14, name: "payment step start", statements: [
                "ALTER TABLE {schema}orders ADD COLUMN step_started_at TEXT",
            ]),
            // When a refund took the order's refund lock: a lock whose refund was never recorded (the store failed
            // between the two writes) is released by a live process once it is older than any refund under way can be.
            .init(version: 15, name: "refund lock time", statements: [
                "ALTER TABLE {schema}orders ADD COLUMN refund_locked_at TEXT",
            ]),
            // Maintenance looks for old refund locks each minute: an index of the few locked orders, not a scan of all.
            .init(version: 16, name: "locked orders", statements: [
                "CREATE INDEX {index}orders_refund_locked ON {schema}orders (refund_locked_at) WHERE refund_lock IS NOT NULL",
            ]),
            // The remote-seller programs the seller elected (Texas's single local use tax rate, Alabama's SSUT): replay
            // needs them to recompute the order's tax.
            .init(version: 17, name: "remote seller elections", statements: [
                "ALTER TABLE {schema}orders ADD COLUMN elections TEXT",
            ]),
        ])
    }

    /// Creates or updates the order tables, then keys the ledger's chain if an older store left it unkeyed.
    public func migrate() async throws {
        try await Self.migrations(schema: schema).apply(to: database, now: now())
        try await ledgerStore.upgradeChain(in: database)
    }

    public func table(_ name: String) -> String { database.dialect.render("{schema}\(name)", schema: schema) }

    // MARK: - Placing

    /// Quotes and places an order once per idempotency key: a retry with the same request returns the same order;
    /// the same key with a different request is refused. With a payment token the order is authorized at once.
    /// `requestHash` identifies the request as the caller sent it (a digest of its bytes).
    /// Gift cards offered as tenders pay part or all of the total (the tax is the same either way: a gift card is
    /// money, not a discount); they are spent in the same transaction that writes the order.
    public func place(_ request: QuoteRequest, idempotencyKey: String, requestHash: String, paymentToken: Token? = nil,
                      customer: BillingAddress? = nil, giftCards: [GiftCardPayment] = []) async throws -> Order {
        try Self.checkVoucherLimit(request.lines.map { ($0.code, $0.fulfilment, $0.quantity) })
        let today = CustomerService.today(now())
        let latest = TaxDate(year: today.year + 1, month: today.month, day: today.day) ?? TaxDate(year: today.year + 1, month: today.month, day: 28)!
        guard request.date <= latest else { throw OrderError.dateTooLate(request.date, latest: latest) }
        let quote: Quote
        do { quote = try calculator.quote(request) } catch { throw OrderError.unquotable(error) }
        // Capture issues one card per unit, each worth its share in whole cents (probe #21: 0.05 for ten cards issued five).
        for (index, line) in quote.lines.enumerated() where line.code == .giftCard && line.amount.minorUnits > 0 && line.amount.minorUnits < max(1, line.quantity) {
            throw OrderError.giftCardsBelowACent(line: index, cards: max(1, line.quantity), amount: line.amount.decimalString)
        }
        // A retry of an order already placed is answered from the store, before any gift card is looked at again.
        if !giftCards.isEmpty, let existing = try await order(forKey: idempotencyKey) {
            return try Self.replay(existing, requestHash: requestHash, key: idempotencyKey)
        }
        let total = quote.totalAmount.minorUnits + quote.totalTax.minorUnits
        let tenders = giftCards.isEmpty ? [] : try await giftCardPlan(giftCards, total: total)
        let giftCardAmount = tenders.reduce(0) { $0 + $1.amount }
        // Gift cards that pay everything, or a total of zero, leave nothing to authorize: the order is ready to capture
        // (a free order with a payment token stayed `placed`, uncapturable until someone authorized nothing).
        let status: OrderStatus = total == 0 || (!tenders.isEmpty && giftCardAmount == total) ? .authorized : .placed
        let id = OrderID.random()
        // Stored to the second: the order returned carries the same instant a later read gives.
        let createdText = Timestamp.string(now())
        let created = Timestamp.date(createdText) ?? now()
        var orderRow: [SQLValue] = [.text(id.value), .text(idempotencyKey), .text(requestHash), .text(status.rawValue),
                                    .text(quote.currency.code), .text(quote.date.iso), .text(quote.tableVersion), .text(quote.rounding.rawValue),
                                    .integer(quote.totalAmount.minorUnits), .integer(quote.totalTax.minorUnits),
                                    paymentToken.map { .text($0.value) } ?? .null, .text(createdText)]
        orderRow += [customer.map { .text($0.customerID.value) } ?? .null, customer.map { .integer(Int64($0.version)) } ?? .null,
                     .text(AddressText.format(request.origin)), request.destination.map { .text(AddressText.format($0)) } ?? .null,
                     request.billing.map { .text(AddressText.format($0)) } ?? .null,
                     request.registrations.map { .text($0.map(\.code).sorted().joined(separator: ",")) } ?? .null,
                     .text(EngagementText.format(request.engagement)), .integer(giftCardAmount),
                     request.pinned.isEmpty ? .null : .text(PinnedText.format(request.pinned)),
                     request.payment.map { .text(AddressText.format($0)) } ?? .null,
                     request.elections.isEmpty ? .null : .text(ElectionsText.format(request.elections))]
        var lineRows: [[SQLValue]] = []
        var taxRows: [[SQLValue]] = []
        var lines: [OrderLine] = []
        for (number, line) in quote.lines.enumerated() {
            let address = line.sourcing.address
            let asGiven = request.lines[number]
            let certificate = line.exemption.flatMap { $0.applied ? $0.certificate.number : nil }
            lineRows.append([.text(id.value), .integer(Int64(number + 1)), .text(line.id), .text(line.code.rawValue), .integer(line.quantity),
                             .integer(line.amount.minorUnits), .integer(line.taxable.minorUnits), .integer(line.exempt.minorUnits),
                             .integer(line.tax.minorUnits), .text(line.sourcing.rule.rawValue), .text("\(address.state) \(address.zip)"),
                             certificate.map { .text($0) } ?? .null, .text(line.fulfilment.rawValue),
                             .text(line.taxType.rawValue), .text(line.taxability.rule.rawValue), Self.exemptReason(line).map { .text($0) } ?? .null,
                             line.notCollecting.map { .text($0.code) } ?? .null, .integer(asGiven.amount.minorUnits),
                             .integer(asGiven.taxIncluded ? 1 : 0), asGiven.location.map { .text(AddressText.format($0)) } ?? .null,
                             .integer(line.discounts.seller), .integer(line.discounts.thirdParty)])
            var taxes: [FrozenTax] = []
            for (position, jurisdiction) in line.jurisdictions.enumerated() {
                taxRows.append([.text(id.value), .integer(Int64(number + 1)), .integer(Int64(position)), .text(jurisdiction.jurisdiction.code),
                                .text(jurisdiction.jurisdiction.level.rawValue), .text(jurisdiction.jurisdiction.name),
                                .text(jurisdiction.rate.fractionString), .integer(jurisdiction.taxable), .integer(jurisdiction.tax)])
                taxes.append(FrozenTax(jurisdictionCode: jurisdiction.jurisdiction.code, level: jurisdiction.jurisdiction.level.rawValue,
                                       name: jurisdiction.jurisdiction.name, rate: jurisdiction.rate.fractionString,
                                       taxable: jurisdiction.taxable, tax: jurisdiction.tax, refundedTax: 0))
            }
            lines.append(OrderLine(number: number + 1, id: line.id, code: line.code, fulfilment: line.fulfilment,
                                   quantity: line.quantity, amount: line.amount.minorUnits, taxable: line.taxable.minorUnits,
                                   exempt: line.exempt.minorUnits, tax: line.tax.minorUnits, refundedQuantity: 0, refundedAmount: 0,
                                   sourcingRule: line.sourcing.rule, sourcedTo: "\(address.state) \(address.zip)",
                                   certificate: certificate, taxes: taxes))
        }
        // The order, its lines and its taxes in one atomic write: one statement (one round trip) on PostgreSQL.
        let inserts = [
            SQLInsert(table: table("orders"), columns: Self.orderColumns, rows: [orderRow]),
            SQLInsert(table: table("order_lines"), columns: Self.lineColumns, rows: lineRows),
            SQLInsert(table: table("order_taxes"), columns: Self.taxColumns, rows: taxRows),
        ]
        do {
            if tenders.isEmpty {
                try await database.insertAtomically(inserts)
            } else {
                // With gift cards: the order and the spending of each card in one transaction, all or nothing.
                try await database.transaction { [self, inserts, tenders] tx in
                    for insert in inserts { try await tx.insert(insert, dialect: database.dialect) }
                    try await spend(tenders, order: id, in: tx)
                }
            }
        } catch let error as GiftCardError {
            if let existing = try await order(forKey: idempotencyKey) { return try Self.replay(existing, requestHash: requestHash, key: idempotencyKey) }
            throw error
        } catch {
            // The idempotency key is taken (a retry, or a concurrent one that won the race): its order is the
            // answer, or the conflict.
            if let existing = try await order(forKey: idempotencyKey) {
                return try Self.replay(existing, requestHash: requestHash, key: idempotencyKey)
            }
            throw OrderError.fromStore(error)
        }
        // The order as written, built from what was written rather than read back.
        var placed = Order(id: id, status: status, currency: quote.currency, taxDate: quote.date, tableVersion: quote.tableVersion,
                           rounding: quote.rounding, totalAmount: quote.totalAmount.minorUnits, totalTax: quote.totalTax.minorUnits,
                           paymentToken: paymentToken?.value, authorizationID: nil, captureID: nil, declineReason: nil,
                           customerID: customer?.customerID, billingVersion: customer?.version, created: created, lines: lines,
                           billingAddress: request.billing.map(AddressText.format))
        placed.giftCardAmount = giftCardAmount
        placed.giftCards = tenders.map { GiftCardTender(giftCardID: $0.card.id, lastFour: $0.card.lastFour, amount: $0.amount, returned: 0) }
        if let paymentToken, gateway != nil, placed.cardAmount > 0 { return try await authorize(placed, token: paymentToken) }
        return placed
    }

    /// Capture issues one voucher per unit of an in-person service; an order may issue at most this many, so that no
    /// order can make capture write an unbounded number of rows (the contract allows 1,000,000 units per line).
    public static let maxVouchersPerOrder: Int64 = 1_000

    /// Refuses an order that would issue more than `maxVouchersPerOrder` codes at capture: one voucher per unit of
    /// an in-person service, one gift card per unit of a `gift_card` line, counted together over the order (each
    /// is a row and a code in the capture's reply). Checked when the order is placed and again before a capture
    /// asks the processor for money, so an order stored before the gift cards counted cannot take it and then fail.
    static func checkVoucherLimit(_ lines: [(code: ProductTaxCode, fulfilment: Fulfilment, quantity: Int64)]) throws(OrderError) {
        var units: Int64 = 0
        for (index, line) in lines.enumerated() where line.code == .giftCard || (line.fulfilment == .inPerson && line.code.isService) {
            units += Swift.min(Swift.max(1, line.quantity), maxVouchersPerOrder + 1)
            guard units <= maxVouchersPerOrder else { throw .tooManyVouchers(line: index, limit: Int(maxVouchersPerOrder)) }
        }
    }

    static let orderColumns = ["id", "idempotency_key", "request_hash", "status", "currency", "tax_date", "table_version", "rounding",
                               "total_amount", "total_tax", "payment_token", "created_at", "customer_id", "billing_version", "origin_address",
                               "destination_address", "billing_address", "registrations", "engagement", "gift_card_amount", "pinned",
                               "payment_address", "elections"]
    static let lineColumns = ["order_id", "line_no", "line_id", "code", "quantity", "amount", "taxable", "exempt", "tax", "sourcing_rule",
                              "sourced_to", "certificate", "fulfilment", "tax_type", "taxability_rule", "exempt_reason", "not_collecting",
                              "request_amount", "tax_included", "location_address", "discount", "third_party_discount"]
    static let taxColumns = ["order_id", "line_no", "position", "jurisdiction_code", "level", "name", "rate", "taxable", "tax"]

    /// Why part of a line was not taxed: the exemption certificate's reason, else the product's taxability.
    static func exemptReason(_ line: LineQuote) -> String? {
        if let exemption = line.exemption, exemption.applied { return "certificate_" + exemption.certificate.reason.name }
        guard line.exempt.minorUnits > 0 else { return nil }
        if line.taxability.rule == .exempt { return "product_exempt" }
        // A taxable product exempted by a special rule (a holiday, a price threshold) is labelled with the rules
        // applied to it: "product_taxable" told an auditor nothing of why (probe #19).
        return line.appliedRules.isEmpty ? "product_" + line.taxability.rule.rawValue : "rule_" + line.appliedRules.joined(separator: "+")
    }

    static func replay(_ existing: (order: Order, requestHash: String), requestHash: String, key: String) throws -> Order {
        guard existing.requestHash == requestHash else { throw OrderError.idempotencyConflict(key: key) }
        return existing.order
    }

    /// Completes a captured order once it is fulfilled: every voucher redeemed or revoked (content is fulfilled when
    /// its entitlement is granted at capture).
    public func complete(_ id: OrderID) async throws -> Order {
        let completable: [OrderStatus] = [.captured, .partiallyRefunded]
        // One statement decides and writes: an order read completable and refunded in full before the write stayed
        // `completed` with everything given back (probe #16). A refund under way waits for its end.
        let (placeholders, binds) = SQLValue.inList(completable.map(\.rawValue), from: 3)
        let completed = try await rows("""
            UPDATE \(table("orders")) SET status = $1 WHERE id = $2 AND status IN (\(placeholders)) AND refund_lock IS NULL
              AND NOT EXISTS (SELECT 1 FROM \(table("vouchers")) WHERE order_id = $2 AND status = 'issued')
            RETURNING id
            """, [.text(OrderStatus.completed.rawValue), .text(id.value)] + binds)
        guard completed.isEmpty else { return try await self.order(id) }
        // Why not, read after the fact: the order's status, a refund under way (which may revoke vouchers), then the
        // vouchers still to redeem.
        let order = try await order(id)
        guard completable.contains(order.status) else { throw OrderError.wrongStatus(order.status, expected: completable) }
        let state = try await rows("""
            SELECT refund_lock, (SELECT COUNT(*) FROM \(table("vouchers")) WHERE order_id = $1 AND status = 'issued') AS n
            FROM \(table("orders")) WHERE id = $1
            """, [.text(id.value)])
        let (refunding, pending) = try decoded { () throws(RowDecodingError) in
            (try state.first?.decodeIfPresent("refund_lock", as: String.self) != nil, try state.first?.decode("n", as: Int.self) ?? 0)
        }
        if refunding { throw OrderError.paymentInProgress }
        guard pending == 0 else { throw OrderError.unfulfilled(vouchers: pending) }
        throw OrderError.paymentInProgress
    }

    /// Blanks the street and city of the destination, billing and payment addresses kept with a customer's orders
    /// (erasure); the state and ZIP stay, since the tax records were sourced to them.
    public func eraseAddresses(of customer: CustomerID) async throws {
        // In id order: orders placed while the customer was erased each run this at once, and transactions that
        // update the same rows in different orders deadlock on PostgreSQL (one of them failed with a 500).
        let rows = try await rows("SELECT id, destination_address, billing_address, payment_address FROM \(table("orders")) WHERE customer_id = $1 ORDER BY id",
                                  [.text(customer.value)])
        try await database.transaction { [self] tx in
            for row in rows {
                try await tx.execute("UPDATE \(table("orders")) SET destination_address = $1, billing_address = $2, payment_address = $3 WHERE id = $4",
                                     [row.text("destination_address").map { .text(AddressText.withoutStreet($0)) } ?? .null,
                                      row.text("billing_address").map { .text(AddressText.withoutStreet($0)) } ?? .null,
                                      row.text("payment_address").map { .text(AddressText.withoutStreet($0)) } ?? .null, .text(try row.decode("id"))])
            }
        }
        try? await database.discardOverwrittenCopies()
    }

    // MARK: - Reading

    /// A customer's orders, oldest first.
    public func orders(of customer: CustomerID) async throws -> [Order] {
        var result: [Order] = []
        for row in try await rows("SELECT id FROM \(table("orders")) WHERE customer_id = $1 ORDER BY created_at, id", [.text(customer.value)]) {
            result.append(try await order(OrderID(try decoded { () throws(RowDecodingError) in try row.decode("id") })))
        }
        return result
    }

    public func order(_ id: OrderID) async throws -> Order {
        guard let found = try await loadOrder(where: "id = $1", .text(id.value)) else { throw OrderError.unknownOrder(id.value) }
        return found.order
    }

    func order(forKey key: String) async throws -> (order: Order, requestHash: String)? {
        try await loadOrder(where: "idempotency_key = $1", .text(key))
    }

    /// Reads one order with its lines and their taxes in one query (one round trip): the order's columns, then each
    /// line's and each tax's under a prefix, one row per tax (or per line without taxes). Linear in the rows.
    func loadOrder(where condition: String, _ value: SQLValue) async throws -> (order: Order, requestHash: String)? {
        try await decodeOrder(try await rows(orderSelect(where: condition), [value]))
    }

    /// Claims the order for a payment step (`from` one of those statuses `to` the step's) and reads it, in one
    /// statement on PostgreSQL (the read sees the order as it was before the claim); a read and then the claim on
    /// SQLite. The order comes back with the step's status when it was claimed.
    func claimAndRead(_ id: OrderID, from: [OrderStatus], to: OrderStatus) async throws -> (order: Order, claimed: Bool) {
        guard database.dialect == .postgres else {
            let order = try await order(id)
            guard from.contains(order.status), try await claim(id, from: from, to: to) else { return (order, false) }
            var claimed = order
            claimed.status = to
            return (claimed, true)
        }
        let (placeholders, statuses) = SQLValue.inList(from.map(\.rawValue), from: 4)
        let rows = try await rows("""
            WITH c AS (UPDATE \(table("orders")) SET status = $2, step_started_at = CASE WHEN $2 IN (\(Self.stepStatusList)) THEN $3 ELSE step_started_at END
                       WHERE id = $1 AND status IN (\(placeholders)) RETURNING id)
            \(orderSelect(where: "id = $1", extraColumns: ", (SELECT COUNT(*) FROM c) AS claimed"))
            """, [.text(id.value), .text(to.rawValue), .text(Timestamp.string(now()))] + statuses)
        guard var found = try await decodeOrder(rows)?.order else { throw OrderError.unknownOrder(id.value) }
        guard try rows[0].decode("claimed", as: Int64.self) > 0 else { return (found, false) }
        found.status = to
        return (found, true)
    }

    /// The one query that reads an order with its lines and taxes (see `loadOrder`).
    func orderSelect(where condition: String, extraColumns: String = "") -> String {
        """
            SELECT o.id, o.request_hash, o.status, o.tax_date, o.table_version, o.rounding, o.total_amount, o.total_tax, o.payment_token,
              o.authorization_id, o.capture_id, o.decline_reason, o.customer_id, o.billing_version, o.created_at,
              o.billing_address, o.dispute_status, o.gift_card_amount, l.line_no AS l_line_no, l.line_id AS l_line_id, l.code AS l_code, l.fulfilment AS l_fulfilment, l.quantity AS l_quantity,
              l.amount AS l_amount, l.taxable AS l_taxable, l.exempt AS l_exempt, l.tax AS l_tax, l.refunded_quantity AS l_refunded_quantity,
              l.refunded_amount AS l_refunded_amount, l.sourcing_rule AS l_sourcing_rule, l.sourced_to AS l_sourced_to, l.certificate AS l_certificate,
              t.position AS t_position, t.jurisdiction_code AS t_jurisdiction_code, t.level AS t_level, t.name AS t_name, t.rate AS t_rate,
              t.taxable AS t_taxable, t.tax AS t_tax, t.refunded_tax AS t_refunded_tax\(extraColumns)
            FROM \(table("orders")) o
            LEFT JOIN \(table("order_lines")) l ON l.order_id = o.id
            LEFT JOIN \(table("order_taxes")) t ON t.order_id = l.order_id AND t.line_no = l.line_no
            WHERE o.\(condition)
            ORDER BY l.line_no, t.position
            """
    }

    /// The order in the rows of `orderSelect` (nil when there are none), with its gift card tenders.
    func decodeOrder(_ rows: [SQLRow]) async throws -> (order: Order, requestHash: String)? {
        guard let row = rows.first else { return nil }
        var found: (order: Order, requestHash: String)
        do {
            var lines: [OrderLine] = []
            for part in rows {
                guard let number = try part.decodeIfPresent("l_line_no", as: Int.self) else { continue }
                if lines.last?.number != number {
                    lines.append(OrderLine(number: number, id: try part.decode("l_line_id"), code: try part.decode("l_code", as: ProductTaxCode.self),
                                           fulfilment: try part.decode("l_fulfilment", as: Fulfilment.self), quantity: try part.decode("l_quantity"),
                                           amount: try Self.money(part, "l_amount"), taxable: try Self.money(part, "l_taxable"),
                                           exempt: try Self.money(part, "l_exempt"), tax: try Self.money(part, "l_tax"),
                                           refundedQuantity: try part.decode("l_refunded_quantity"),
                                           refundedAmount: try Self.money(part, "l_refunded_amount"), sourcingRule: try part.decode("l_sourcing_rule", as: SourcingRule.self),
                                           sourcedTo: try part.decode("l_sourced_to"), certificate: try part.decodeIfPresent("l_certificate"), taxes: []))
                }
                guard try part.decodeIfPresent("t_position", as: Int64.self) != nil else { continue }
                lines[lines.count - 1].taxes.append(
                    FrozenTax(jurisdictionCode: try part.decode("t_jurisdiction_code"), level: try part.decode("t_level"), name: try part.decode("t_name"),
                              rate: try part.decode("t_rate"), taxable: try Self.money(part, "t_taxable"), tax: try Self.money(part, "t_tax"),
                              refundedTax: try Self.money(part, "t_refunded_tax")))
            }
            var order = Order(id: OrderID(try row.decode("id")), status: try row.decode("status", as: OrderStatus.self), currency: .usd,
                              taxDate: try row.decode("tax_date", expected: "a date (YYYY-MM-DD)", TaxDate.init(iso:)),
                              tableVersion: try row.decode("table_version"), rounding: try row.decode("rounding", as: RoundingMode.self),
                              totalAmount: try Self.money(row, "total_amount"), totalTax: try Self.money(row, "total_tax"),
                              paymentToken: try row.decodeIfPresent("payment_token"), authorizationID: try row.decodeIfPresent("authorization_id"),
                              captureID: try row.decodeIfPresent("capture_id"), declineReason: try row.decodeIfPresent("decline_reason"),
                              customerID: try row.decodeIfPresent("customer_id", as: String.self).map(CustomerID.init),
                              billingVersion: try row.decodeIfPresent("billing_version", as: Int.self),
                              created: try row.decode("created_at", expected: "a UTC timestamp", Timestamp.date), lines: lines,
                              billingAddress: try row.decodeIfPresent("billing_address"), disputeStatus: try row.decodeIfPresent("dispute_status"))
            order.giftCardAmount = try Self.money(row, "gift_card_amount")
            found = (order, try row.decode("request_hash"))
        } catch {
            throw OrderError.corrupt("\(error)")
        }
        // Only an order paid partly by gift card has tenders to read (a second query).
        if found.order.giftCardAmount != 0 {
            found.order.giftCards = try await tenders(of: found.order.id)
            guard found.order.giftCards.reduce(0, { $0 + $1.amount }) == found.order.giftCardAmount,
                  (0...found.order.totalAmount + found.order.totalTax).contains(found.order.giftCardAmount) else {
                throw OrderError.corrupt("order \(found.order.id) records gift card tenders that do not add up to its gift card amount")
            }
        }
        return found
    }

    func refund(forKey key: String) async throws -> (refund: Refund, requestHash: String)? {
        guard let row = try await rows("SELECT * FROM \(table("refunds")) WHERE idempotency_key = $1", [.text(key)]).first else { return nil }
        do {
            let id: String = try row.decode("id")
            var taxesByLine: [Int64: [RefundedTax]] = [:]
            for entry in try await rows("SELECT line_no, jurisdiction_code, tax FROM \(table("ledger")) WHERE refund_id = $1 ORDER BY seq", [.text(id)]) {
                let tax = try Self.money(entry, "tax")
                taxesByLine[try entry.decode("line_no"), default: []].append(RefundedTax(jurisdictionCode: try entry.decode("jurisdiction_code"), tax: -tax))
            }
            var lines: [RefundedLine] = []
            for line in try await rows("SELECT * FROM \(table("refund_lines")) WHERE refund_id = $1 ORDER BY line_no", [.text(id)]) {
                let number: Int64 = try line.decode("line_no")
                lines.append(RefundedLine(line: Int(number), quantity: try line.decode("quantity"), amount: try Self.money(line, "amount"),
                                          taxes: taxesByLine[number] ?? []))
            }
            if try row.decode("state") == "pending" { throw OrderError.paymentInProgress }
            return (Refund(id: RefundID(id), orderID: OrderID(try row.decode("order_id")), amount: try Self.money(row, "amount"), tax: try Self.money(row, "tax"),
                           lines: lines, giftCardAmount: try Self.money(row, "gift_card_amount")), try row.decode("request_hash"))
        } catch let error as RowDecodingError {
            throw OrderError.corrupt("\(error)")
        }
    }

    /// Stored money is trusted no more than input: an amount beyond any order the contract allows (10^15 minor
    /// units, forty times the largest order) is a corrupt record, so that every sum formed when reading stays exact.
    static let maxStoredMoney: Int64 = 1_000_000_000_000_000

    static func money(_ row: SQLRow, _ column: String) throws(RowDecodingError) -> Int64 {
        let value: Int64 = try row.decode(column)
        guard value.magnitude <= UInt64(maxStoredMoney) else {
            throw RowDecodingError(column: column, expected: "an amount within 10^15 minor units", found: "an out-of-range integer")
        }
        return value
    }

    /// Every ledger entry, oldest first.
    public func ledger() async throws -> [LedgerEntry] {
        do { return try await ledgerStore.entries(in: database) } catch let error as RowDecodingError { throw OrderError.corrupt("\(error)") }
    }

    /// Ledger entries after `seq`, oldest first, at most `limit` of them: a page for readers that stream.
    public func ledger(after seq: Int, limit: Int) async throws -> [LedgerEntry] {
        do { return try await ledgerStore.entries(in: database, after: seq, limit: limit) } catch let error as RowDecodingError {
            throw OrderError.corrupt("\(error)")
        }
    }

    /// Checks the ledger's keyed hash chain: any edit, deletion, reordering or unkeyed rewrite is found.
    public func verifyLedger() async throws -> Ledger.Verification {
        try await ledgerStore.verify(in: database)
    }

    /// Checks heads anchored in signed exports (`seq:hash`) against the ledger as it is now.
    public func verifyLedgerAnchors(_ anchors: [String]) async throws -> [Ledger.AnchorCheck] {
        try await ledgerStore.verifyAnchors(anchors, in: database)
    }

    /// Sets the order's status (and `column`), only from `onlyFrom` when given: false when the order was not in it.
    @discardableResult
    func setStatus(_ id: OrderID, _ status: OrderStatus, column: String?, value: String?, onlyFrom: OrderStatus? = nil,
                   clearing cleared: String? = nil) async throws -> Bool {
        var sql = "UPDATE \(table("orders")) SET status = $1"
        var binds: [SQLValue] = [.text(status.rawValue), .text(id.value)]
        if let column, let value {
            sql += ", \(column) = $3"
            binds.append(.text(value))
        }
        if let cleared { sql += ", \(cleared) = NULL" }
        sql += " WHERE id = $2"
        if let onlyFrom {
            sql += " AND status = $\(binds.count + 1)"
            binds.append(.text(onlyFrom.rawValue))
        }
        return try await !rows(sql + " RETURNING id", binds).isEmpty
    }

    func rows(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        do { return try await database.query(sql, binds) } catch { throw OrderError.fromStore(error) }
    }
}
