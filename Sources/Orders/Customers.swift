import Crypto
import Foundation
import JSONInput
import Storage
import TaxCore

/// A customer's id: `cus_` and 96 random bits.
public struct CustomerID: Hashable, Sendable, CustomStringConvertible {
    public let value: String
    public init(_ value: String) { self.value = value }
    public var description: String { value }
}

/// What a customer agreed to. Both are off unless the customer gives them.
public struct Consents: Sendable, Hashable {
    public var marketingEmail: Bool
    public var shareViewingActivity: Bool

    public init(marketingEmail: Bool = false, shareViewingActivity: Bool = false) {
        self.marketingEmail = marketingEmail
        self.shareViewingActivity = shareViewingActivity
    }
}

public struct Customer: Sendable, Hashable {
    public var id: CustomerID
    public var name: String
    public var email: String?
    public var dateOfBirth: TaxDate?
    public var consents: Consents
    public var erased: Bool
}

/// One version of a customer's billing address. Versions are never changed; an order keeps the version it was
/// taxed on.
public struct BillingAddress: Sendable, Hashable {
    public var customerID: CustomerID
    public var version: Int
    public var address: Address
}

/// Everything Levy holds about a customer, for the customer's own request.
public struct CustomerExport: Sendable {
    public var customer: Customer
    public var addresses: [BillingAddress]
    public var orders: [Order]
    public var retention: String
}

public enum CustomerError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalid(field: String, String)
    case underage
    case unknownCustomer
    case unknownAddressVersion(Int)
    case erased

    public var field: String {
        switch self {
        case .invalid(let field, _): field
        case .underage: "date_of_birth"
        case .unknownCustomer: "customer"
        case .unknownAddressVersion: "billing_version"
        case .erased: "customer"
        }
    }

    public var description: String {
        switch self {
        case .invalid(let field, let why): "\(field): \(why)"
        case .underage: "date_of_birth: customers must be 18 or older"
        case .unknownCustomer: "no such customer"
        case .unknownAddressVersion(let v): "the customer has no billing address version \(v)"
        case .erased: "the customer's personal data was erased"
        }
    }
}

/// Customers, their versioned billing addresses and consents, in their own schema; export and erasure.
public struct CustomerService: Sendable {
    public let database: any SQLDatabase
    public let schema: String
    let now: @Sendable () -> Date

    /// How long tax records are kept after erasure, as told to the customer.
    public static let retention = "Orders and tax-ledger entries (amounts, dates, tax, the state and ZIP they were sourced to) are kept for 7 years after the end of the tax year, the longest record-keeping period US states require; everything else about the customer is pseudonymized at once."

    public init(database: any SQLDatabase, schema: String = "customers", now: @escaping @Sendable () -> Date = { Date() }) {
        self.database = database
        self.schema = schema
        self.now = now
    }

    public static func migrations(schema: String) -> Migrations {
        Migrations(schema: schema, [
            .init(version: 1, name: "customers", statements: [
                """
                CREATE TABLE {schema}customers (id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT, date_of_birth TEXT,
                  marketing_email {bigint} NOT NULL DEFAULT 0, share_viewing {bigint} NOT NULL DEFAULT 0, created_at TEXT NOT NULL,
                  erased_at TEXT)
                """,
                """
                CREATE TABLE {schema}billing_addresses (customer_id TEXT NOT NULL REFERENCES {schema}customers(id), version {bigint} NOT NULL,
                  line1 TEXT NOT NULL, city TEXT NOT NULL, state TEXT NOT NULL, zip TEXT NOT NULL, created_at TEXT NOT NULL,
                  PRIMARY KEY (customer_id, version))
                """,
            ]),
        ])
    }

    public func migrate() async throws { try await Self.migrations(schema: schema).apply(to: database, now: now()) }

    public func table(_ name: String) -> String { database.dialect.render("{schema}\(name)", schema: schema) }

    /// Creates a customer. A date of birth, when given, must make the customer 18 or older today.
    public func create(name: String, email: String?, dateOfBirth: TaxDate?, consents: Consents = Consents()) async throws -> Customer {
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        // A name of nothing visible (a byte order mark alone) is no name (probe #15).
        guard !trimmed.isEmpty, !PrintedText.isBlank(trimmed) else { throw CustomerError.invalid(field: "name", "is required") }
        guard trimmed.utf8.count <= 200 else { throw CustomerError.invalid(field: "name", "at most 200 bytes") }
        if let email, let problem = EmailAddress.problem(email) { throw CustomerError.invalid(field: "email", problem) }
        if let dateOfBirth {
            let today = Self.today(now())
            guard dateOfBirth <= today else { throw CustomerError.invalid(field: "date_of_birth", "is in the future") }
            guard dateOfBirth.year >= 1900 else { throw CustomerError.invalid(field: "date_of_birth", "is before 1900") }
            // 18 or older: the 18th birthday is on or before today (29 February birthdays turn 18 on 1 March).
            let eighteenth = TaxDate(year: dateOfBirth.year + 18, month: dateOfBirth.month, day: dateOfBirth.day)
                ?? TaxDate(year: dateOfBirth.year + 18, month: 3, day: 1)!
            guard eighteenth <= today else { throw CustomerError.underage }
        }
        let id = CustomerID("cus_" + RandomID.make(bytes: 12))
        try await database.execute("""
            INSERT INTO \(table("customers")) (id, name, email, date_of_birth, marketing_email, share_viewing, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
            """, [.text(id.value), .text(trimmed), email.map { .text($0) } ?? .null, dateOfBirth.map { .text($0.iso) } ?? .null,
                  .integer(consents.marketingEmail ? 1 : 0), .integer(consents.shareViewingActivity ? 1 : 0), .text(Timestamp.string(now()))])
        return try await customer(id)
    }

    public func customer(_ id: CustomerID) async throws -> Customer {
        guard let row = try await database.query("SELECT * FROM \(table("customers")) WHERE id = $1", [.text(id.value)]).first else {
            throw CustomerError.unknownCustomer
        }
        do {
            return Customer(id: id, name: try row.decode("name"), email: try row.decodeIfPresent("email"),
                            dateOfBirth: try row.decodeIfPresent("date_of_birth", as: String.self).map { text throws(RowDecodingError) in
                                guard let date = TaxDate(iso: text) else {
                                    throw RowDecodingError(column: "date_of_birth", expected: "a date (YYYY-MM-DD)", found: "text of another form")
                                }
                                return date
                            },
                            consents: Consents(marketingEmail: try row.decode("marketing_email", as: Int64.self) == 1,
                                               shareViewingActivity: try row.decode("share_viewing", as: Int64.self) == 1),
                            erased: try row.decodeIfPresent("erased_at", as: String.self) != nil)
        } catch { throw OrderError.corrupt("\(error)") }
    }

    public func setConsents(_ id: CustomerID, _ consents: Consents) async throws {
        guard try await !customer(id).erased else { throw CustomerError.erased }
        // Conditional: an erasure that commits first is not undone by consents set a moment later.
        guard try await !database.query("""
            UPDATE \(table("customers")) SET marketing_email = $1, share_viewing = $2 WHERE id = $3 AND erased_at IS NULL RETURNING id
            """, [.integer(consents.marketingEmail ? 1 : 0), .integer(consents.shareViewingActivity ? 1 : 0), .text(id.value)]).isEmpty else {
            throw CustomerError.erased
        }
    }

    /// Adds a new version of the billing address; earlier versions stay as they were.
    public func addBillingAddress(_ id: CustomerID, _ address: Address) async throws -> BillingAddress {
        guard try await !customer(id).erased else { throw CustomerError.erased }
        let (table, customers) = (table("billing_addresses"), table("customers"))
        let version = try await database.transaction { tx in
            // The customer's row first: an erasure at the same time either commits before (this is refused) or waits
            // for this version and blanks it with the others. Checked outside, a version could outlive the erasure.
            guard try await !tx.query("UPDATE \(customers) SET id = id WHERE id = $1 AND erased_at IS NULL RETURNING id", [.text(id.value)]).isEmpty else {
                throw CustomerError.erased
            }
            let next = Int(try await tx.query("SELECT COALESCE(MAX(version), 0) AS v FROM \(table) WHERE customer_id = $1", [.text(id.value)])
                .first?.integer("v") ?? 0) + 1
            try await tx.execute("INSERT INTO \(table) (customer_id, version, line1, city, state, zip, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                                 [.text(id.value), .integer(Int64(next)), .text(address.line1), .text(address.city), .text(address.state.code),
                                  .text(address.zip.description), .text(Timestamp.string(self.now()))])
            return next
        }
        return BillingAddress(customerID: id, version: version, address: address)
    }

    /// A version of the billing address (the newest when `version` is nil).
    public func billingAddress(_ id: CustomerID, version: Int? = nil) async throws -> BillingAddress {
        let rows = try await database.query("SELECT * FROM \(table("billing_addresses")) WHERE customer_id = $1 ORDER BY version DESC", [.text(id.value)])
        guard let row = version.map({ v in rows.first { $0.integer("version") == Int64(v) } }) ?? rows.first else {
            throw version.map { CustomerError.unknownAddressVersion($0) } ?? CustomerError.unknownAddressVersion(1)
        }
        do { return try Self.address(row, id) } catch { throw OrderError.corrupt("\(error)") }
    }

    static func address(_ row: SQLRow, _ id: CustomerID) throws(RowDecodingError) -> BillingAddress {
        BillingAddress(customerID: id, version: try row.decode("version"),
                       address: Address(line1: try row.decode("line1"), city: try row.decode("city"),
                                        state: try row.decode("state", expected: "a two-letter state code", StateCode.init),
                                        zip: try row.decode("zip", expected: "a ZIP code", ZipCode.init)))
    }

    /// Everything held about the customer: their record, every address version, consents and their orders.
    public func export(_ id: CustomerID, orders: OrderService) async throws -> CustomerExport {
        let customer = try await customer(id)
        let rows = try await database.query("SELECT * FROM \(table("billing_addresses")) WHERE customer_id = $1 ORDER BY version", [.text(id.value)])
        let addresses: [BillingAddress]
        do { addresses = try rows.map { row throws(RowDecodingError) in try Self.address(row, id) } } catch { throw OrderError.corrupt("\(error)") }
        return CustomerExport(customer: customer, addresses: addresses, orders: try await orders.orders(of: id), retention: Self.retention)
    }

    /// Erases the customer's personal data: name, email and date of birth are replaced or removed, and the street and
    /// city of every address version are blanked. The state and ZIP stay (the tax records were sourced to them), and
    /// orders and the ledger are untouched, as the law requires.
    public func erase(_ id: CustomerID) async throws {
        _ = try await customer(id)
        let pseudonym = "erased-" + SHA256.hash(data: Array(id.value.utf8)).prefix(6).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        let (customers, addresses, at) = (table("customers"), table("billing_addresses"), Timestamp.string(now()))
        try await database.transaction { tx in
            try await tx.execute("""
                UPDATE \(customers) SET name = $1, email = NULL, date_of_birth = NULL, marketing_email = 0, share_viewing = 0, erased_at = $2 WHERE id = $3
                """, [.text(pseudonym), .text(at), .text(id.value)])
            try await tx.execute("UPDATE \(addresses) SET line1 = '', city = '' WHERE customer_id = $1", [.text(id.value)])
        }
        // Best effort: a reader holding the log open makes it wait for the next erasure or checkpoint.
        try? await database.discardOverwrittenCopies()
    }

    /// The calendar day of `date` in UTC.
    public static func today(_ date: Date) -> TaxDate {
        // A clock outside the years 0001 to 9999 is held to them.
        TaxDate(dayNumber: Int((date.timeIntervalSince1970 / 86_400).rounded(.down))) ?? (date.timeIntervalSince1970 < 0 ? .distantPast : .distantFuture)
    }
}
