import Foundation
import Storage
import TaxCore

/// A voucher or booking for one unit of an in-person service: redeemed once, at a seller location.
public struct Voucher: Sendable, Hashable {
    public enum Status: String, Sendable { case issued, redeemed, revoked }
    public var code: String
    public var orderID: OrderID
    public var line: Int
    public var status: Status
    public var location: String?
}

/// The right to watch content: streamed for a limited time, or downloaded for good. A refund revokes it.
public struct Entitlement: Sendable, Hashable {
    public enum Status: String, Sendable { case active, revoked }
    public var id: String
    public var orderID: OrderID
    public var line: Int
    /// `stream` or `download`.
    public var rights: String
    public var expires: Date?
    public var status: Status

    /// Whether the entitlement grants access at `date`.
    public func allows(at date: Date) -> Bool { status == .active && (expires.map { date < $0 } ?? true) }
}

public enum FulfilmentError: Error, Equatable, Sendable, CustomStringConvertible {
    case unknownVoucher
    case alreadyRedeemed(at: String)
    case revoked
    case unknownEntitlement
    /// A refund of the voucher's order is under way: it may take this session back, so redeeming waits for its end.
    case refundInProgress

    public var description: String {
        switch self {
        case .unknownVoucher: "no such voucher"
        case .alreadyRedeemed(let location): "the voucher was already redeemed (at \(location))"
        case .revoked: "the voucher was revoked by a refund"
        case .unknownEntitlement: "no such entitlement"
        case .refundInProgress: "a refund of the voucher's order is under way; retry shortly"
        }
    }
}

/// How long content rights last: a streamed rental 48 hours, a subscription 30 days, a download for good.
enum ContentRights {
    static func lifetime(code: ProductTaxCode) -> TimeInterval? {
        switch code {
        case .digitalVideoStream: 48 * 3_600
        case .digitalSubscription: 30 * 86_400
        default: nil
        }
    }
}

extension OrderService {
    static let fulfilmentMigration = Migrations.Migration(version: 2, name: "fulfilment", statements: [
        """
        CREATE TABLE {schema}vouchers (code TEXT PRIMARY KEY, order_id TEXT NOT NULL REFERENCES {schema}orders(id), line_no {bigint} NOT NULL,
          unit {bigint} NOT NULL, status TEXT NOT NULL, location TEXT, issued_at TEXT NOT NULL, redeemed_at TEXT)
        """,
        """
        CREATE TABLE {schema}entitlements (id TEXT PRIMARY KEY, order_id TEXT NOT NULL REFERENCES {schema}orders(id), line_no {bigint} NOT NULL,
          rights TEXT NOT NULL, expires_at TEXT, status TEXT NOT NULL, granted_at TEXT NOT NULL)
        """,
    ])

    /// Vouchers for every unit of every in-person service line (not for goods, gift cards or tips handed over in
    /// person), entitlements for every content line streamed or downloaded: the statements
    /// that write them (each set one multi-row statement on PostgreSQL).
    func fulfilment(_ order: Order, at date: Date) -> [SQLStatement] {
        let at = Timestamp.string(date)
        var vouchers: [[SQLValue]] = []
        var entitlements: [[SQLValue]] = []
        for line in order.lines {
            switch line.fulfilment {
            case .inPerson where line.code.isService:
                // Only a service is redeemed later, unit by unit: goods, gift cards and tips handed over at the
                // counter are not.
                for unit in 1...max(1, line.quantity) {
                    vouchers.append([.text(RandomID.make(bytes: 10).uppercased()), .text(order.id.value), .integer(Int64(line.number)),
                                     .integer(unit), .text("issued"), .text(at)])
                }
            case .stream where line.code.isDigital, .download where line.code.isDigital:
                // Content only: a tip or a gift card marked streamed or downloaded opens no content (probe #16: a
                // tip "streamed" was a permanent entitlement).
                let expires = ContentRights.lifetime(code: line.code).map { Timestamp.string(date.addingTimeInterval($0)) }
                entitlements.append([.text("ent_" + RandomID.make(bytes: 12)), .text(order.id.value), .integer(Int64(line.number)), .text(line.fulfilment.rawValue),
                                     expires.map { .text($0) } ?? .null, .text("active"), .text(at)])
            default:
                continue
            }
        }
        return SQLInsert(table: table("vouchers"), columns: ["code", "order_id", "line_no", "unit", "status", "issued_at"], rows: vouchers)
            .statements(dialect: database.dialect)
            + SQLInsert(table: table("entitlements"), columns: ["id", "order_id", "line_no", "rights", "expires_at", "status", "granted_at"],
                        rows: entitlements).statements(dialect: database.dialect)
    }

    /// What a refund takes back, as statements: unredeemed vouchers for the units refunded (the last issued first),
    /// and the entitlement of a content line once the whole line is refunded. A refund by amount takes back nothing
    /// while the line keeps part of its price; one that refunds what remains of it (probe #10: a full refund by
    /// amount left every voucher redeemable and the content open, with nothing left to refund) takes back all.
    func revocations(_ refunded: [RefundedLine], of order: Order) -> [SQLStatement] {
        var statements: [SQLStatement] = []
        for item in refunded {
            guard let line = order.lines.first(where: { $0.number == item.line }) else { continue }
            let priceGone = line.amount > 0 && line.refundedAmount + item.amount >= line.amount
            let units = priceGone ? line.quantity : item.quantity
            guard units > 0 else { continue }
            statements.append(SQLStatement("""
                UPDATE \(table("vouchers")) SET status = 'revoked' WHERE code IN (
                  SELECT code FROM \(table("vouchers")) WHERE order_id = $1 AND line_no = $2 AND status = 'issued' ORDER BY unit DESC LIMIT $3)
                """, [.text(order.id.value), .integer(Int64(item.line)), .integer(units)]))
            if priceGone || line.refundedQuantity + item.quantity >= line.quantity {
                statements.append(SQLStatement("UPDATE \(table("entitlements")) SET status = 'revoked' WHERE order_id = $1 AND line_no = $2",
                                               [.text(order.id.value), .integer(Int64(item.line))]))
            }
        }
        return statements
    }

    /// A refund by quantity of an in-person service gives back sessions not yet used: a package of six with four
    /// redeemed can have two refunded this way, not three. (A session already given can still be refunded by
    /// amount, or with everything that remains.)
    func checkUnusedSessions(_ refunded: [RefundedLine], of order: Order) async throws {
        for item in refunded where item.quantity > 0 {
            guard let line = order.lines.first(where: { $0.number == item.line }), line.fulfilment == .inPerson, line.code.isService else { continue }
            let unused = try await database.query("""
                SELECT COUNT(*) AS n FROM \(table("vouchers")) WHERE order_id = $1 AND line_no = $2 AND status = 'issued'
                """, [.text(order.id.value), .integer(Int64(item.line))])
            let count = try decoded { () throws(RowDecodingError) in try unused.first?.decode("n", as: Int64.self) ?? 0 }
            guard item.quantity <= count else {
                throw OrderError.invalidRefund("line \(item.line) has \(count) unused session(s) left, not \(item.quantity); "
                                               + "refund a session already given by amount")
            }
        }
    }

    /// Redeems a voucher at a seller location, once.
    ///
    /// Not while a refund of its order is under way (probe #16: a refund by quantity counted the unused sessions,
    /// the last one was redeemed while the processor was asked, and the buyer had all six sessions and one back).
    /// The order's row is locked before the voucher's, in the order a refund's commit writes them: a refund that
    /// takes its lock after this commits counts this session as used.
    public func redeem(voucher code: String, at location: String) async throws -> Voucher {
        let at = Timestamp.string(now())
        let forUpdate = database.dialect == .postgres ? " FOR UPDATE" : ""
        return try await database.transaction { [self] tx in
            guard let owner = try await tx.query("SELECT order_id FROM \(table("vouchers")) WHERE code = $1", [.text(code)]).first?.text("order_id") else {
                throw FulfilmentError.unknownVoucher
            }
            let order = try await tx.query("SELECT refund_lock FROM \(table("orders")) WHERE id = $1" + forUpdate, [.text(owner)])
            guard order.first?.text("refund_lock") == nil else { throw FulfilmentError.refundInProgress }
            guard let row = try await tx.query("SELECT * FROM \(table("vouchers")) WHERE code = $1" + forUpdate,
                                                [.text(code)]).first else { throw FulfilmentError.unknownVoucher }
            switch row.text("status") {
            case "redeemed": throw FulfilmentError.alreadyRedeemed(at: row.text("location") ?? "?")
            case "revoked": throw FulfilmentError.revoked
            default: break
            }
            try await tx.execute("UPDATE \(table("vouchers")) SET status = 'redeemed', location = $1, redeemed_at = $2 WHERE code = $3",
                                 [.text(location), .text(at), .text(code)])
            return Voucher(code: code, orderID: OrderID(try row.decode("order_id")), line: try row.decode("line_no"), status: .redeemed,
                           location: location)
        }
    }

    /// Why a voucher's service may not be redeemed at `place`, or nil when it may: performed in another state than
    /// the one its line was sourced to, it would owe that state's tax, which the order never charged (probe #10: a
    /// Texas massage, exempt there, redeemed in Minnesota, which taxes it); within the state, the order's request
    /// quoted again with the line performed at `place` (with the jurisdictions pinned for it) must agree with the
    /// same request as sold, both with the tables in use now (a table update since the sale is no difference; probe
    /// #16: a Minneapolis massage, taxed with Hennepin County's and the city's taxes, was redeemed in Duluth, which
    /// has others). An order that cannot be quoted again (tables no longer covering its date, an order that keeps
    /// no origin) is held to the state check alone.
    public func redemptionRefusal(voucher code: String, at place: Address, pinned: [String]) async throws -> String? {
        let voucher = try await voucher(code)
        let order = try await order(voucher.orderID)
        guard let line = order.lines.first(where: { $0.number == voucher.line }) else { return nil }
        if let state = line.sourcedTo.split(separator: " ").first, state != Substring(place.state.code) {
            return "the service was sold and taxed for \(line.sourcedTo); redeem it at a location in \(state), "
                + "or refund it and sell it again where it is performed"
        }
        let numbers = order.lines.map(\.number).sorted()
        guard let position = numbers.firstIndex(of: voucher.line),
              let sold = try await replay([order.id.value]).first?.request, sold.lines.count == numbers.count else { return nil }
        var moved = sold
        moved.lines[position].location = place
        if !pinned.isEmpty { moved.pinned[place] = pinned }
        guard let asSold = try? calculator.quote(sold).lines[position], let there = try? calculator.quote(moved).lines[position] else { return nil }
        func taxes(_ quoted: LineQuote) -> [String] {
            quoted.jurisdictions.filter { $0.taxable > 0 }.map { "\($0.jurisdiction.name) \($0.rate)" }
        }
        guard taxes(asSold) != taxes(there) || asSold.tax != there.tax else { return nil }
        func shown(_ quoted: LineQuote) -> String {
            let named = taxes(quoted)
            return (named.isEmpty ? "no tax" : named.joined(separator: ", ")) + " (\(quoted.tax.decimalString))"
        }
        return "the service was sold and taxed for \(line.sourcedTo) with \(shown(asSold)); performed at \(place.zip) it is taxed "
            + "with \(shown(there)): redeem it where it was taxed, or refund it and sell it again where it is performed"
    }

    /// One voucher by its code.
    public func voucher(_ code: String) async throws -> Voucher {
        guard let row = try await rows("SELECT * FROM \(table("vouchers")) WHERE code = $1", [.text(code)]).first else {
            throw FulfilmentError.unknownVoucher
        }
        return try decoded { () throws(RowDecodingError) in try Self.voucher(row, order: OrderID(try row.decode("order_id"))) }
    }

    /// One entitlement by its id.
    public func entitlement(_ id: String) async throws -> Entitlement {
        guard let row = try await rows("SELECT * FROM \(table("entitlements")) WHERE id = $1", [.text(id)]).first else {
            throw FulfilmentError.unknownEntitlement
        }
        return try decoded { () throws(RowDecodingError) in try Self.entitlement(row, order: OrderID(try row.decode("order_id"))) }
    }

    public func vouchers(of order: OrderID) async throws -> [Voucher] {
        let rows = try await rows("SELECT * FROM \(table("vouchers")) WHERE order_id = $1 ORDER BY line_no, unit", [.text(order.value)])
        return try decoded { () throws(RowDecodingError) in try rows.map { row throws(RowDecodingError) in try Self.voucher(row, order: order) } }
    }

    public func entitlements(of order: OrderID) async throws -> [Entitlement] {
        let rows = try await rows("SELECT * FROM \(table("entitlements")) WHERE order_id = $1 ORDER BY line_no", [.text(order.value)])
        return try decoded { () throws(RowDecodingError) in try rows.map { row throws(RowDecodingError) in try Self.entitlement(row, order: order) } }
    }

    static func voucher(_ row: SQLRow, order: OrderID) throws(RowDecodingError) -> Voucher {
        Voucher(code: try row.decode("code"), orderID: order, line: try row.decode("line_no"), status: try row.decode("status", as: Voucher.Status.self),
                location: try row.decodeIfPresent("location"))
    }

    static func entitlement(_ row: SQLRow, order: OrderID) throws(RowDecodingError) -> Entitlement {
        Entitlement(id: try row.decode("id"), orderID: order, line: try row.decode("line_no"), rights: try row.decode("rights"),
                    expires: try row.decodeIfPresent("expires_at", as: String.self).map { text throws(RowDecodingError) in
                        guard let date = Timestamp.date(text) else {
                            throw RowDecodingError(column: "expires_at", expected: "a UTC timestamp", found: "text of another form")
                        }
                        return date
                    },
                    status: try row.decode("status", as: Entitlement.Status.self))
    }

    /// Runs a decoding step, turning a stored value that cannot be read into the order store's typed error.
    func decoded<T>(_ body: () throws(RowDecodingError) -> T) throws(OrderError) -> T {
        do { return try body() } catch { throw OrderError.corrupt("\(error)") }
    }
}
