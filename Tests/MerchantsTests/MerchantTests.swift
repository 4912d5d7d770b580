import Foundation
import Storage
import TaxCore
import LevyTestSupport
import Testing
@testable import Merchants


enum Fixture {
    static let postgres: PostgresDatabase? = ProcessInfo.processInfo.environment["LEVY_TEST_POSTGRES_URL"].map { try! PostgresDatabase(url: $0) }

    static func service(_ store: Store) async throws -> MerchantService {
        let directory = NSTemporaryDirectory() + "levy-merchant-tests/" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let database: any SQLDatabase = store == .sqlite ? try SQLiteDatabase(path: directory + "/levy.sqlite") : postgres!
        let service = MerchantService(database: database, schema: "merchants_" + String(UUID().uuidString.lowercased().filter(\.isLetter).prefix(12)))
        try await service.migrate()
        return service
    }

    static func date(_ text: String) -> TaxDate { TaxDate(iso: text)! }
}

@Suite("Merchant profiles")
struct MerchantTests {
    @Test("a profile with dated registrations and locations reads back as written", arguments: Store.available)
    func profile(store: Store) async throws {
        let service = try await Fixture.service(store)
        #expect(try await service.first() == nil)
        let spa = try await service.create(legalName: "Glow Med Spa LLC", changes: MerchantChanges(
            contactName: "Ada Lovelace", email: "tax@glow.example", phone: "+1 612 555 0100",
            address: Address(line1: "800 Nicollet Mall", city: "Minneapolis", state: StateCode("MN")!, zip: ZipCode("55402")!), rounding: .lineJurisdiction))
        #expect(spa.id.value.hasPrefix("mer_"))
        try await service.register(spa.id, Registration(state: StateCode("MN")!, permit: "MN-1234567", from: Fixture.date("2025-01-01")))
        try await service.register(spa.id, Registration(state: StateCode("WI")!, permit: "456-1027", from: Fixture.date("2026-04-01")))
        try await service.addLocation(spa.id, Location(id: "mpls", name: "Minneapolis", address: Address(
            line1: "800 Nicollet Mall", city: "Minneapolis", state: StateCode("MN")!, zip: ZipCode("55402")!), placeOfBusiness: true))
        let read = try await service.merchant(spa.id)
        #expect(read.legalName == "Glow Med Spa LLC" && read.contactName == "Ada Lovelace" && read.rounding == .lineJurisdiction)
        #expect(read.address?.zip.description == "55402")
        #expect(read.registrations.map(\.state.code) == ["MN", "WI"])
        #expect(read.locations.map(\.id) == ["mpls"])
        #expect(try await service.first()?.id == spa.id)

        // Registrations are dated: WI collects only from 2026-04-01.
        #expect(read.registeredStates(on: Fixture.date("2026-03-31")) == [StateCode("MN")!])
        #expect(read.registeredStates(on: Fixture.date("2026-04-01")) == [StateCode("MN")!, StateCode("WI")!])
        #expect(read.registeredStates(on: Fixture.date("2024-12-31")).isEmpty)

        // Ending one: not collecting after its last day; a new registration may start after it, not overlap it.
        let ended = try await service.endRegistration(spa.id, state: StateCode("MN")!, on: Fixture.date("2026-06-30"))
        #expect(ended.registeredStates(on: Fixture.date("2026-07-01")) == [StateCode("WI")!])
        await #expect(throws: MerchantError.overlappingRegistration(state: "MN")) {
            try await service.register(spa.id, Registration(state: StateCode("MN")!, permit: "MN-2", from: Fixture.date("2026-06-01")))
        }
        try await service.register(spa.id, Registration(state: StateCode("MN")!, permit: "MN-2", from: Fixture.date("2026-08-01")))
        #expect(try await service.merchant(spa.id).registeredStates(on: Fixture.date("2026-07-15")) == [StateCode("WI")!])
        #expect(try await service.merchant(spa.id).registeredStates(on: Fixture.date("2026-08-01")).count == 2)
    }

    @Test("a registration's election is dated with it, refused beside a place of business while open, and read back checked",
          arguments: Store.available)
    func elections(store: Store) async throws {
        let service = try await Fixture.service(store)
        let spa = try await service.create(legalName: "Glow Med Spa LLC", changes: MerchantChanges())
        let texas = StateCode("TX")!
        try await service.register(spa.id, Registration(state: texas, permit: "TX-1", from: Fixture.date("2025-01-01"), through: Fixture.date("2025-12-31")))
        try await service.register(spa.id, Registration(state: texas, permit: "TX-2", from: Fixture.date("2026-01-01"), election: "single_local_use_tax"))
        let read = try await service.merchant(spa.id)
        #expect(read.registrations.map(\.election) == [nil, "single_local_use_tax"])
        #expect(read.elections(on: Fixture.date("2025-06-01")).isEmpty)
        #expect(read.elections(on: Fixture.date("2026-06-01")) == [RemoteSellerElection(state: texas, type: "single_local_use_tax")])
        await #expect(throws: MerchantError.invalid(field: "election",
                                                    "1 to 40 lower-case letters, digits or underscores (single_local_use_tax, simplified_sellers_use_tax)")) {
            try await service.register(spa.id, Registration(state: StateCode("AL")!, permit: "AL-1", from: Fixture.date("2026-01-01"), election: "SSUT;"))
        }
        // A place of business in Texas contradicts the open election; a warehouse that is none does not.
        let houston = Address(line1: "901 Bagby St", city: "Houston", state: texas, zip: ZipCode("77002")!)
        await #expect(throws: MerchantError.electionWithPlaceOfBusiness(field: "address.state", state: "TX", election: "single_local_use_tax", location: "hou")) {
            try await service.addLocation(spa.id, Location(id: "hou", name: "Houston", address: houston, placeOfBusiness: true))
        }
        try await service.addLocation(spa.id, Location(id: "hou", name: "Houston storage", address: houston, placeOfBusiness: false))
        // Once ended, an election may be recorded for the past beside premises opened since (locations are not dated).
        try await service.endRegistration(spa.id, state: texas, on: Fixture.date("2026-06-30"))
        try await service.addLocation(spa.id, Location(id: "hou-spa", name: "Houston spa", address: houston, placeOfBusiness: true))
        let alabama = StateCode("AL")!
        try await service.addLocation(spa.id, Location(id: "bham", name: "Birmingham",
                                                       address: Address(line1: "1 20th St N", city: "Birmingham", state: alabama, zip: ZipCode("35203")!),
                                                       placeOfBusiness: true))
        await #expect(throws: MerchantError.electionWithPlaceOfBusiness(field: "election", state: "AL", election: "simplified_sellers_use_tax", location: "bham")) {
            try await service.register(spa.id, Registration(state: alabama, permit: "AL-1", from: Fixture.date("2026-01-01"), election: "simplified_sellers_use_tax"))
        }
        try await service.register(spa.id, Registration(state: alabama, permit: "AL-1", from: Fixture.date("2024-01-01"), through: Fixture.date("2024-12-31"),
                                                        election: "simplified_sellers_use_tax"))
        #expect(try await service.merchant(spa.id).elections(on: Fixture.date("2024-07-01")).map(\.state) == [alabama])
        // A stored election of another shape is a decoding error naming the column, not a guess.
        try await service.database.execute("UPDATE \(service.table("registrations")) SET election = 'TX single' WHERE merchant_id = $1 AND state = 'TX'",
                                           [.text(spa.id.value)])
        let unreadable = await #expect(throws: RowDecodingError.self) { _ = try await service.merchant(spa.id) }
        #expect(unreadable?.column == "election")
    }

    @Test("bad profile input is refused naming the field, and nothing is written", arguments: Store.available)
    func refusals(store: Store) async throws {
        let service = try await Fixture.service(store)
        await #expect(throws: MerchantError.invalid(field: "name", "required")) { try await service.create(legalName: "  ") }
        await #expect(throws: MerchantError.self) { try await service.create(legalName: String(repeating: "x", count: 201)) }
        await #expect(throws: MerchantError.self) { try await service.create(legalName: "Bad\u{0}Name") }
        await #expect(throws: MerchantError.invalid(field: "email", "is not an email address")) {
            try await service.create(legalName: "Half Written", changes: MerchantChanges(email: "not an email"))
        }
        #expect(try await service.list().isEmpty, "a refused field leaves no merchant behind")
        let spa = try await service.create(legalName: "Glow")
        for email in ["not an email", "billing@spa", "billing@spa..com"] {
            await #expect(throws: MerchantError.invalid(field: "email", "is not an email address"), "a customer's rule: \(email)") {
                try await service.update(spa.id, MerchantChanges(email: email))
            }
        }
        await #expect(throws: MerchantError.invalid(field: "through", "ends before it starts")) {
            try await service.register(spa.id, Registration(state: StateCode("MN")!, permit: "P", from: Fixture.date("2026-02-01"),
                                                            through: Fixture.date("2026-01-01")))
        }
        await #expect(throws: MerchantError.invalid(field: "state", "XX is not a US state, DC or territory")) {
            try await service.register(spa.id, Registration(state: StateCode("XX")!, permit: "P", from: Fixture.date("2026-02-01")))
        }
        await #expect(throws: MerchantError.invalid(field: "id", "lower-case letters, digits, - and _")) {
            try await service.addLocation(spa.id, Location(id: "Spa One", name: "x", address: Address(line1: "1 Main", state: StateCode("MN")!,
                                                                                                     zip: ZipCode("55402")!), placeOfBusiness: true))
        }
        let location = Location(id: "one", name: "One", address: Address(line1: "1 Main", state: StateCode("MN")!, zip: ZipCode("55402")!), placeOfBusiness: true)
        try await service.addLocation(spa.id, location)
        await #expect(throws: MerchantError.duplicateLocation("one")) { try await service.addLocation(spa.id, location) }
        // Pins are found by address: a second location at the same premises with other pins would be quoted with the
        // first's (probe #13); with the same pins (here none) it is welcome.
        var twin = location
        twin.id = "two"
        twin.jurisdictions = ["27053"]
        await #expect(throws: MerchantError.invalid(field: "jurisdictions", "location one has the same address and no pinned jurisdictions: "
                                                    + "premises at one address are taxed by one set of jurisdictions")) {
            try await service.addLocation(spa.id, twin)
        }
        // The same premises written otherwise (case, spaces, a ZIP+4) are the same premises (probe #15).
        for (i, written) in [Address(line1: "1 MAIN", state: StateCode("MN")!, zip: ZipCode("55402")!),
                             Address(line1: " 1  Main ", state: StateCode("MN")!, zip: ZipCode("55402")!),
                             Address(line1: "1 Main", state: StateCode("MN")!, zip: ZipCode("55402-1234")!)].enumerated() {
            var other = twin
            other.id = "other-\(i)"
            other.address = written
            await #expect(throws: MerchantError.self) { try await service.addLocation(spa.id, other) }
        }
        twin.jurisdictions = []
        try await service.addLocation(spa.id, twin)
        // Text that reorders or breaks what it is printed in, and a command line's stand-in for bytes that were no UTF-8.
        for (text, why) in [("Glow\u{202E}LLC", "U+202E (a direction override or line separator) is not allowed"),
                            ("Glow\u{2028}LLC", "U+2028 (a direction override or line separator) is not allowed"),
                            ("Glow \u{FFFD}", "not valid UTF-8 (U+FFFD)")] {
            await #expect(throws: MerchantError.invalid(field: "name", why)) { try await service.update(spa.id, MerchantChanges(legalName: text)) }
        }
        await #expect(throws: MerchantError.invalid(field: "address.state", "ZZ is not a US state, DC or territory")) {
            try await service.update(spa.id, MerchantChanges(address: Address(line1: "1 Main", state: StateCode("ZZ")!, zip: ZipCode("00000")!)))
        }
        await #expect(throws: MerchantError.unknownMerchant("mer_nobody")) { try await service.merchant(MerchantID("mer_nobody")) }
        let read = try await service.merchant(spa.id)
        #expect(read.registrations.isEmpty && read.email == nil && read.locations.count == 2 && read.legalName == "Glow" && read.address == nil)
    }
}

@Suite("Merchants' store namespaces")
struct MerchantNamespaceTests {
    @Test("the first merchant keeps the store's own tables; every later one gets its id's namespace, listed after it",
          arguments: Store.available)
    func namespaces(store: Store) async throws {
        let service = try await Fixture.service(store)
        let home = try await service.create(legalName: "Glow Med Spa LLC")
        let second = try await service.create(legalName: "Radiance Skin Studio")
        let third = try await service.create(legalName: "Lumen Aesthetics")
        #expect(try await service.namespace(of: home.id) == "")
        #expect(try await service.namespace(of: second.id) == second.id.value + "_")
        #expect(try await service.first()?.id == home.id)
        #expect(try await service.list().map(\.id).first == home.id)
        let all = try await service.namespaces()
        #expect(all.first?.id == home.id && all.count == 3)
        #expect(Set(all.map(\.namespace)) == ["", second.id.value + "_", third.id.value + "_"])
        // A namespace is spliced into SQL: it is a schema prefix of letters, digits and underscores, and a stored
        // one that is not the id's is refused rather than used.
        #expect(MerchantService.isMerchantID(second.id.value) && !MerchantService.isMerchantID("mer_x; DROP TABLE"))
        try await service.database.execute("UPDATE \(service.table("merchants")) SET store_namespace = 'orders_' WHERE id = $1", [.text(third.id.value)])
        await #expect(throws: MerchantError.self) { try await service.namespace(of: third.id) }
        await #expect(throws: MerchantError.unknownMerchant("mer_aaaaaaaaaaaaaaaa")) { try await service.namespace(of: MerchantID("mer_aaaaaaaaaaaaaaaa")) }
    }
}
