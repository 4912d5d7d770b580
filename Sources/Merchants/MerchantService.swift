import Foundation
import JSONInput
import Storage
import TaxCore

/// Merchant profiles in their own schema (`merchants`): the legal entity, its dated registrations and its locations.
/// Every table leads with the merchant's id, the key a store sharded by merchant distributes on.
public struct MerchantService: Sendable {
    public let database: any SQLDatabase
    public let schema: String
    let now: @Sendable () -> Date

    public init(database: any SQLDatabase, schema: String = "merchants", now: @escaping @Sendable () -> Date = { Date() }) {
        self.database = database
        self.schema = schema
        self.now = now
    }

    public static func migrations(schema: String) -> Migrations {
        Migrations(schema: schema, [
            .init(version: 1, name: "merchant profiles", statements: [
                """
                CREATE TABLE {schema}merchants (id TEXT PRIMARY KEY, legal_name TEXT NOT NULL, contact_name TEXT, email TEXT, phone TEXT,
                  line1 TEXT, city TEXT, state TEXT, zip TEXT, rounding TEXT NOT NULL, created_at TEXT NOT NULL)
                """,
                """
                CREATE TABLE {schema}registrations (merchant_id TEXT NOT NULL REFERENCES {schema}merchants(id), state TEXT NOT NULL,
                  effective_from TEXT NOT NULL, effective_through TEXT, permit TEXT NOT NULL, PRIMARY KEY (merchant_id, state, effective_from))
                """,
                """
                CREATE TABLE {schema}locations (merchant_id TEXT NOT NULL REFERENCES {schema}merchants(id), id TEXT NOT NULL, name TEXT NOT NULL,
                  line1 TEXT NOT NULL, city TEXT NOT NULL, state TEXT NOT NULL, zip TEXT NOT NULL, place_of_business {bigint} NOT NULL,
                  PRIMARY KEY (merchant_id, id))
                """,
            ]),
            .init(version: 2, name: "pinned jurisdictions of a location", statements: [
                "ALTER TABLE {schema}locations ADD COLUMN pinned_jurisdictions TEXT",
            ]),
            // Where each merchant's records live: the home merchant (the first created) in the store's own tables,
            // as before there were several; every other in tables of its own namespace (`<merchant id>_`).
            .init(version: 3, name: "each merchant's store namespace", statements: [
                "ALTER TABLE {schema}merchants ADD COLUMN store_namespace TEXT",
                "UPDATE {schema}merchants SET store_namespace = '' WHERE id = (SELECT id FROM {schema}merchants ORDER BY created_at, id LIMIT 1)",
                "UPDATE {schema}merchants SET store_namespace = id || '_' WHERE store_namespace IS NULL",
                "CREATE UNIQUE INDEX {index}merchants_store_namespace ON {schema}merchants (store_namespace)",
            ]),
            .init(version: 4, name: "the remote-seller program a registration elects", statements: [
                "ALTER TABLE {schema}registrations ADD COLUMN election TEXT",
            ]),
        ])
    }

    public func migrate() async throws { try await Self.migrations(schema: schema).apply(to: database, now: now()) }

    func table(_ name: String) -> String { database.dialect.render("{schema}\(name)", schema: schema) }

    // MARK: - Limits

    /// Bytes per text field, the same limits the API documents.
    static let maxName = 200, maxPermit = 64, maxLocationID = 64, maxEmail = 254, maxPhone = 40, maxPinned = 20

    /// A jurisdiction code as the tables write them (`27053`, `L-MN-CITY-MINNEAPOLIS`, `WA-1726`).
    static func isJurisdictionCode(_ code: String) -> Bool {
        (1...64).contains(code.utf8.count)
            && code.utf8.allSatisfy { ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 || $0 == 95 }
    }

    /// `personText`: text a person writes (names, contacts, addresses), which refuses what looks like a card number,
    /// whichever way it arrives (the API, the CLI); identifiers such as permit numbers and location ids refuse only
    /// a number with a card network's prefix and length (`CardNumberMask.containsIssuedCardNumber`).
    static func checked(_ text: String, field: String, max: Int, required: Bool = false, personText: Bool = true) throws(MerchantError) -> String {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if required, trimmed.isEmpty { throw .invalid(field: field, "required") }
        guard trimmed.utf8.count <= max else { throw .invalid(field: field, "at most \(max) bytes") }
        guard !trimmed.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw .invalid(field: field, "control characters are not allowed")
        }
        // Text that reorders or breaks what it is printed in (a tax file's header, a report's title) (probe #13), and
        // the replacement character a command line puts where its argument was no UTF-8.
        if let problem = PrintedText.problem(trimmed) { throw .invalid(field: field, problem) }
        if personText ? CardNumberMask.containsCardNumber(trimmed) : CardNumberMask.containsIssuedCardNumber(trimmed) {
            throw .invalid(field: field, CardNumberMask.refusal)
        }
        return trimmed
    }

    // MARK: - Profiles

    /// Creates a merchant with its legal name and any other profile fields, all checked before anything is written.
    public func create(legalName: String, changes: MerchantChanges = MerchantChanges()) async throws -> Merchant {
        let name = try Self.checked(legalName, field: "name", max: Self.maxName, required: true)
        let id = MerchantID("mer_" + Self.randomBase32(bytes: 10))
        let fields = try Self.update(changes, of: id, in: table("merchants"))
        try await database.transaction { [self] tx in
            // The first merchant is the home merchant: its records are the store's own tables. Others get their own.
            if let lock = database.dialect.transactionLock(table("merchants")) { try await tx.execute(lock.sql, lock.binds) }
            let homeTaken = try await !tx.query("SELECT id FROM \(table("merchants")) WHERE store_namespace = ''", []).isEmpty
            try await tx.execute("""
                INSERT INTO \(table("merchants")) (id, legal_name, rounding, created_at, store_namespace) VALUES ($1, $2, $3, $4, $5)
                """, [.text(id.value), .text(name), .text(RoundingMode.sst.rawValue), .text(Timestamp.string(now())),
                      .text(homeTaken ? Self.namespace(of: id) : "")])
            if let fields { try await tx.execute(fields.sql, fields.binds) }
        }
        return try await merchant(id)
    }

    /// Sets the fields `changes` gives.
    @discardableResult
    public func update(_ id: MerchantID, _ changes: MerchantChanges) async throws -> Merchant {
        if let fields = try Self.update(changes, of: id, in: table("merchants")) {
            guard try await !database.query(fields.sql + " RETURNING id", fields.binds).isEmpty else { throw MerchantError.unknownMerchant(id.value) }
        }
        return try await merchant(id)
    }

    /// The UPDATE that sets what `changes` gives, every value checked (nil when there is nothing to set).
    static func update(_ changes: MerchantChanges, of id: MerchantID, in table: String) throws(MerchantError) -> (sql: String, binds: [SQLValue])? {
        var sets: [String] = []
        var binds: [SQLValue] = []
        func set(_ column: String, _ value: SQLValue) {
            binds.append(value)
            sets.append("\(column) = $\(binds.count)")
        }
        if let name = changes.legalName { set("legal_name", .text(try checked(name, field: "name", max: maxName, required: true))) }
        if let contact = changes.contactName { set("contact_name", .text(try checked(contact, field: "contact", max: maxName))) }
        if let email = changes.email {
            let text = try checked(email, field: "email", max: maxEmail)
            // An empty email clears it.
            if !text.isEmpty, let problem = EmailAddress.problem(text) { throw .invalid(field: "email", problem) }
            set("email", .text(text))
        }
        if let phone = changes.phone { set("phone", .text(try checked(phone, field: "phone", max: maxPhone))) }
        if let address = changes.address {
            set("line1", .text(try checked(address.line1, field: "address.line1", max: maxName)))
            set("city", .text(try checked(address.city, field: "address.city", max: maxName)))
            guard places.contains(address.state.code) else { throw .invalid(field: "address.state", "\(address.state.code) is not a US state, DC or territory") }
            set("state", .text(address.state.code))
            set("zip", .text(address.zip.description))
        }
        if let rounding = changes.rounding { set("rounding", .text(rounding.rawValue)) }
        guard !sets.isEmpty else { return nil }
        binds.append(.text(id.value))
        return ("UPDATE \(table) SET \(sets.joined(separator: ", ")) WHERE id = $\(binds.count)", binds)
    }

    /// Every merchant: the home merchant first, then the others, oldest first.
    public func list() async throws -> [Merchant] {
        var merchants: [Merchant] = []
        for row in try await database.query("SELECT id FROM \(table("merchants")) ORDER BY store_namespace <> '', created_at, id", []) {
            merchants.append(try await merchant(MerchantID(try row.decode("id"))))
        }
        return merchants
    }

    /// The installation's merchant when none is named: the home merchant, the first created, whose records are the
    /// store's own tables (nil when there is none yet).
    public func first() async throws -> Merchant? {
        guard let row = try await database.query("SELECT id FROM \(table("merchants")) WHERE store_namespace = ''", []).first else { return nil }
        return try await merchant(MerchantID(try row.decode("id")))
    }

    /// The prefix of the schemas that hold a merchant's records: empty for the home merchant, `<id>_` for others.
    /// Read from the store and checked, since it is spliced into SQL.
    public func namespace(of id: MerchantID) async throws -> String {
        guard let row = try await database.query("SELECT store_namespace FROM \(table("merchants")) WHERE id = $1", [.text(id.value)]).first else {
            throw MerchantError.unknownMerchant(id.value)
        }
        return try Self.checked(namespace: try row.decode("store_namespace"), of: id)
    }

    /// Every merchant's id and namespace, the home merchant first.
    public func namespaces() async throws -> [(id: MerchantID, namespace: String)] {
        var result: [(id: MerchantID, namespace: String)] = []
        for row in try await database.query("SELECT id, store_namespace FROM \(table("merchants")) ORDER BY store_namespace <> '', created_at, id", []) {
            let id = MerchantID(try row.decode("id"))
            result.append((id, try Self.checked(namespace: try row.decode("store_namespace"), of: id)))
        }
        return result
    }

    /// A non-home merchant's namespace: its id (`mer_` and base32) and an underscore, a valid schema prefix.
    static func namespace(of id: MerchantID) -> String { id.value + "_" }

    /// A stored namespace, which is spliced into SQL: empty (the home merchant) or exactly the id's, else refused.
    static func checked(namespace: String, of id: MerchantID) throws(MerchantError) -> String {
        guard namespace.isEmpty || namespace == Self.namespace(of: id) else {
            throw .invalid(field: "store_namespace", "merchant \(id.value) has an unreadable store namespace")
        }
        return namespace
    }

    /// Whether text has the shape of a merchant id (`mer_` and 16 base32 characters).
    public static func isMerchantID(_ text: String) -> Bool {
        text.utf8.count == 20 && text.hasPrefix("mer_")
            && text.utf8.dropFirst(4).allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 50 && $0 <= 55) }
    }

    public func merchant(_ id: MerchantID) async throws -> Merchant {
        guard let row = try await database.query("SELECT * FROM \(table("merchants")) WHERE id = $1", [.text(id.value)]).first else {
            throw MerchantError.unknownMerchant(id.value)
        }
        let registrations = try await database.query(
            "SELECT * FROM \(table("registrations")) WHERE merchant_id = $1 ORDER BY state, effective_from", [.text(id.value)])
        let locations = try await database.query("SELECT * FROM \(table("locations")) WHERE merchant_id = $1 ORDER BY id", [.text(id.value)])
        var merchant = Merchant(id: id, legalName: try row.decode("legal_name"), contactName: try row.decodeIfPresent("contact_name"),
                                email: try row.decodeIfPresent("email"), phone: try row.decodeIfPresent("phone"), address: nil,
                                rounding: try row.decode("rounding", as: RoundingMode.self), registrations: [], locations: [])
        if let state = try row.decodeIfPresent("state", as: String.self) {
            merchant.address = try Self.address(row, state: state)
        }
        merchant.registrations = try registrations.map { row in
            Registration(state: try row.decode("state", expected: "a state code", StateCode.init), permit: try row.decode("permit"),
                         from: try row.decode("effective_from", expected: "a date (YYYY-MM-DD)", TaxDate.init(iso:)),
                         through: try row.decodeIfPresent("effective_through", as: String.self).map { text throws(RowDecodingError) in
                             guard let date = TaxDate(iso: text) else {
                                 throw RowDecodingError(column: "effective_through", expected: "a date (YYYY-MM-DD)", found: "text of another form")
                             }
                             return date
                         },
                         election: try row.decodeIfPresent("election", as: String.self).map { text throws(RowDecodingError) in
                             guard RemoteSellerElection.isValidType(text) else {
                                 throw RowDecodingError(column: "election", expected: "a program's name (lower-case letters, digits, _)",
                                                        found: "text of another form")
                             }
                             return text
                         })
        }
        merchant.locations = try locations.map { row in
            Location(id: try row.decode("id"), name: try row.decode("name"), address: try Self.address(row, state: try row.decode("state")),
                     placeOfBusiness: try row.decode("place_of_business", as: Int64.self) != 0,
                     jurisdictions: try row.decodeIfPresent("pinned_jurisdictions", as: String.self).map { text throws(RowDecodingError) in
                         let codes = text.split(separator: " ").map(String.init)
                         guard !codes.isEmpty, codes.allSatisfy(Self.isJurisdictionCode) else {
                             throw RowDecodingError(column: "pinned_jurisdictions", expected: "jurisdiction codes separated by spaces", found: "text of another form")
                         }
                         return codes
                     } ?? [])
        }
        return merchant
    }

    static func address(_ row: SQLRow, state: String) throws(RowDecodingError) -> Address {
        guard let code = StateCode(state) else { throw RowDecodingError(column: "state", expected: "a state code", found: "text of another form") }
        return Address(line1: try row.decodeIfPresent("line1") ?? "", city: try row.decodeIfPresent("city") ?? "", state: code,
                       zip: try row.decode("zip", expected: "a ZIP code", ZipCode.init))
    }

    // MARK: - Registrations and locations

    /// Records a registration; refused when it overlaps one already recorded for the state (end a registration with
    /// `endRegistration` before registering again).
    @discardableResult
    public func register(_ id: MerchantID, _ registration: Registration) async throws -> Merchant {
        let permit = try Self.checked(registration.permit, field: "permit", max: Self.maxPermit, required: true, personText: false)
        guard Self.places.contains(registration.state.code) else {
            throw MerchantError.invalid(field: "state", "\(registration.state.code) is not a US state, DC or territory")
        }
        if let through = registration.through, through < registration.from {
            throw MerchantError.invalid(field: "through", "ends before it starts")
        }
        if let election = registration.election, !RemoteSellerElection.isValidType(election) {
            throw MerchantError.invalid(field: "election", RemoteSellerElection.typeRule)
        }
        try await database.transaction { [self] tx in
            guard try await !tx.query("SELECT id FROM \(table("merchants")) WHERE id = $1" + (database.dialect == .postgres ? " FOR UPDATE" : ""),
                                      [.text(id.value)]).isEmpty else { throw MerchantError.unknownMerchant(id.value) }
            // An open-ended election says the merchant has no place of business in the state (locations are not dated,
            // so a registration that has ended may be recorded after the merchant opened premises there).
            if let election = registration.election, registration.through == nil,
               let place = try await tx.query("""
                   SELECT id FROM \(table("locations")) WHERE merchant_id = $1 AND state = $2 AND place_of_business <> 0 ORDER BY id LIMIT 1
                   """, [.text(id.value), .text(registration.state.code)]).first {
                throw MerchantError.electionWithPlaceOfBusiness(field: "election", state: registration.state.code, election: election,
                                                               location: try place.decode("id", as: String.self))
            }
            for row in try await tx.query("SELECT effective_from, effective_through FROM \(table("registrations")) WHERE merchant_id = $1 AND state = $2",
                                          [.text(id.value), .text(registration.state.code)]) {
                let from = TaxDate(iso: row.text("effective_from") ?? "") ?? registration.from
                let through = row.text("effective_through").flatMap { TaxDate(iso: $0) }
                let overlaps = from <= (registration.through ?? TaxDate(year: 9999, month: 12, day: 31)!)
                    && registration.from <= (through ?? TaxDate(year: 9999, month: 12, day: 31)!)
                if overlaps { throw MerchantError.overlappingRegistration(state: registration.state.code) }
            }
            try await tx.execute("""
                INSERT INTO \(table("registrations")) (merchant_id, state, effective_from, effective_through, permit, election)
                VALUES ($1, $2, $3, $4, $5, $6)
                """, [.text(id.value), .text(registration.state.code), .text(registration.from.iso), registration.through.map { .text($0.iso) } ?? .null,
                      .text(permit), registration.election.map { .text($0) } ?? .null])
        }
        return try await merchant(id)
    }

    /// Ends the registration in force in `state` on `date` (the merchant stopped collecting there after it).
    @discardableResult
    public func endRegistration(_ id: MerchantID, state: StateCode, on date: TaxDate) async throws -> Merchant {
        let current = try await merchant(id).registrations.first { $0.state == state && $0.through == nil }
        guard let current else { throw MerchantError.invalid(field: "state", "no open registration in \(state.code)") }
        guard current.from <= date else { throw MerchantError.invalid(field: "through", "the registration starts after \(date.iso)") }
        try await database.execute("""
            UPDATE \(table("registrations")) SET effective_through = $1 WHERE merchant_id = $2 AND state = $3 AND effective_from = $4
            """, [.text(date.iso), .text(id.value), .text(state.code), .text(current.from.iso)])
        return try await merchant(id)
    }

    /// Adds a location; its id is the merchant's own short name for it (`mpls-spa`).
    @discardableResult
    public func addLocation(_ id: MerchantID, _ location: Location) async throws -> Merchant {
        let locationID = try Self.checked(location.id, field: "id", max: Self.maxLocationID, required: true, personText: false)
        guard locationID.utf8.allSatisfy({ ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 || $0 == 95 }) else {
            throw MerchantError.invalid(field: "id", "lower-case letters, digits, - and _")
        }
        let name = try Self.checked(location.name, field: "name", max: Self.maxName, required: true)
        let line1 = try Self.checked(location.address.line1, field: "address.line1", max: Self.maxName, required: true)
        let city = try Self.checked(location.address.city, field: "address.city", max: Self.maxName)
        guard Self.places.contains(location.address.state.code) else {
            throw MerchantError.invalid(field: "address.state", "\(location.address.state.code) is not a US state, DC or territory")
        }
        let address = Address(line1: line1, city: city, state: location.address.state, zip: location.address.zip)
        guard location.jurisdictions.count <= Self.maxPinned else { throw MerchantError.invalid(field: "jurisdictions", "at most \(Self.maxPinned) codes") }
        for (i, code) in location.jurisdictions.enumerated() {
            guard Self.isJurisdictionCode(code) else { throw MerchantError.invalid(field: "jurisdictions[\(i)]", "1 to 64 letters, digits, - and _") }
            guard !location.jurisdictions[..<i].contains(code) else { throw MerchantError.invalid(field: "jurisdictions[\(i)]", "\(code) is named twice") }
        }
        let existing = try await merchant(id)
        guard !existing.locations.contains(where: { $0.id == locationID }) else { throw MerchantError.duplicateLocation(locationID) }
        // Quotes find a location's pins by its address, and premises at one address are taxed by one set of
        // jurisdictions (probe #13: a second location there with pins of its own was quoted with the first's).
        if let twin = existing.locations.first(where: { Self.samePremises($0.address, address) && Set($0.jurisdictions) != Set(location.jurisdictions) }) {
            throw MerchantError.invalid(field: "jurisdictions", "location \(twin.id) has the same address and "
                                        + (twin.jurisdictions.isEmpty ? "no pinned jurisdictions" : "pins \(twin.jurisdictions.joined(separator: " "))")
                                        + ": premises at one address are taxed by one set of jurisdictions")
        }
        // A registration that elects a remote-seller program and has not ended says the merchant has no place of
        // business in the state.
        if location.placeOfBusiness,
           let electing = existing.registrations.first(where: { $0.state == location.address.state && $0.election != nil && $0.through == nil }) {
            throw MerchantError.electionWithPlaceOfBusiness(field: "address.state", state: electing.state.code, election: electing.election ?? "",
                                                           location: locationID)
        }
        do {
            try await database.execute("""
                INSERT INTO \(table("locations")) (merchant_id, id, name, line1, city, state, zip, place_of_business, pinned_jurisdictions)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                """, [.text(id.value), .text(locationID), .text(name), .text(line1), .text(city), .text(location.address.state.code),
                      .text(location.address.zip.description), .integer(location.placeOfBusiness ? 1 : 0),
                      location.jurisdictions.isEmpty ? .null : .text(location.jurisdictions.joined(separator: " "))])
        } catch {
            // A concurrent add of the same id lost the race on the primary key.
            if try await merchant(id).locations.contains(where: { $0.id == locationID }) { throw MerchantError.duplicateLocation(locationID) }
            throw error
        }
        return try await merchant(id)
    }

    /// Where a merchant can register to collect: the 50 states, DC and the territories (USPS codes).
    /// The two-letter codes of the US states, DC and the territories USPS serves.
    /// Whether two addresses name one building: the same state and five-digit ZIP, and the same street line and city
    /// once letter case and runs of spaces are set aside (probe #15: "250 MARQUETTE AVE", "250  Marquette Ave " and
    /// ZIP 55401-9999 passed as other premises, each with pins of its own).
    static func samePremises(_ a: Address, _ b: Address) -> Bool {
        func folded(_ text: String) -> String { text.lowercased().split(whereSeparator: \.isWhitespace).joined(separator: " ") }
        return a.state == b.state && a.zip.zip5 == b.zip.zip5 && folded(a.line1) == folded(b.line1) && folded(a.city) == folded(b.city)
    }

    public static let places: Set<String> = Set(StateCode.usPlaces.map(\.code))

    static func randomBase32(bytes count: Int) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567")
        var generator = SystemRandomNumberGenerator()
        return String((0..<(count * 8 / 5)).map { _ in alphabet[Int.random(in: 0..<32, using: &generator)] })
    }
}
