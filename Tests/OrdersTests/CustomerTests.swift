import Foundation
import Storage
import TaxCore
import LevyTestSupport
import Testing
@testable import Orders
import Vault

@Suite("Customers")
struct CustomerTests {
    /// Customers and orders on one store: the customer schema beside the order schema.
    static func services(_ store: Store) async throws -> (CustomerService, OrderService) {
        try await servicesWithVault(store).0
    }

    static func servicesWithVault(_ store: Store) async throws -> ((CustomerService, OrderService), Vault) {
        let (orders, vault) = try await World.service(store)
        let customers = CustomerService(database: orders.database, schema: "customers_" + String(UUID().uuidString.lowercased().filter(\.isLetter).prefix(10)),
                                        now: { Date(timeIntervalSince1970: 1_790_000_000) })  // 2026-09-21
        try await customers.migrate()
        return ((customers, orders), vault)
    }

    @Test("adults only: a date of birth under 18 is refused with the field named; no date of birth is accepted", arguments: Store.available)
    func age(store: Store) async throws {
        let (customers, _) = try await Self.services(store)
        await #expect(throws: CustomerError.underage) {
            try await customers.create(name: "Young", email: "y@example.com", dateOfBirth: TaxDate(iso: "2008-09-22"))
        }
        #expect(CustomerError.underage.field == "date_of_birth")
        let adult = try await customers.create(name: "Adult", email: "a@example.com", dateOfBirth: TaxDate(iso: "2008-09-21"))
        #expect(adult.dateOfBirth == TaxDate(iso: "2008-09-21"))
        _ = try await customers.create(name: "Unknown age", email: nil, dateOfBirth: nil)
        for email in ["not-an-email", "a@@b.co", "@b.co", "a@b", "a@b..co", "a@.b.co", "a@b.co.", "a b@c.co", "a@b.co\t"] {
            await #expect(throws: CustomerError.invalid(field: "email", "is not an email address"), "\(email)") {
                try await customers.create(name: "X", email: email, dateOfBirth: nil)
            }
        }
        _ = try await customers.create(name: "Dotted", email: "first.last+spa@mail.example.co.uk", dateOfBirth: nil)
    }

    @Test("consents are off unless given", arguments: Store.available)
    func consents(store: Store) async throws {
        let (customers, _) = try await Self.services(store)
        let customer = try await customers.create(name: "Ana", email: "ana@example.com", dateOfBirth: nil)
        #expect(customer.consents == Consents(marketingEmail: false, shareViewingActivity: false))
        try await customers.setConsents(customer.id, Consents(marketingEmail: true))
        #expect(try await customers.customer(customer.id).consents == Consents(marketingEmail: true, shareViewingActivity: false))
    }

    @Test("billing addresses are versioned and an order keeps the version it was taxed with", arguments: Store.available)
    func versionedAddresses(store: Store) async throws {
        let (customers, orders) = try await Self.services(store)
        let customer = try await customers.create(name: "Ana", email: "ana@example.com", dateOfBirth: nil)
        let first = try await customers.addBillingAddress(customer.id, World.address("WI", "53703"))
        var request = World.request()
        request.billing = first.address
        let order = try await orders.place(request, idempotencyKey: "c1", requestHash: "h", customer: first)
        let second = try await customers.addBillingAddress(customer.id, World.address("TX", "75201"))
        #expect(second.version == 2)
        #expect(try await orders.order(order.id).billingVersion == 1)
        #expect(try await customers.billingAddress(customer.id, version: 1).address.state.code == "WI")
        #expect(try await customers.billingAddress(customer.id).version == 2)
    }

    @Test("export holds everything; erasure pseudonymizes personal data and keeps the tax records", arguments: Store.available)
    func exportAndErase(store: Store) async throws {
        let ((customers, orders), vault) = try await Self.servicesWithVault(store)
        let customer = try await customers.create(name: "Ana Lopez", email: "ana@example.com", dateOfBirth: TaxDate(iso: "1990-05-01"),
                                                  consents: Consents(marketingEmail: true))
        let billing = try await customers.addBillingAddress(customer.id, Address(line1: "12 Elm St", city: "Madison", state: StateCode("WI")!, zip: ZipCode("53703")!))
        let placed = try await orders.place(World.request(), idempotencyKey: "e1", requestHash: "h", paymentToken: try await World.token(vault),
                                            customer: billing)
        _ = try await orders.capture(placed.id)

        let export = try await customers.export(customer.id, orders: orders)
        #expect(export.customer.email == "ana@example.com")
        #expect(export.addresses.map(\.address.line1) == ["12 Elm St"])
        #expect(export.orders.map(\.id) == [placed.id])
        #expect(export.retention.contains("7 years"))

        try await customers.erase(customer.id)
        let erased = try await customers.customer(customer.id)
        #expect(erased.erased && erased.email == nil && erased.dateOfBirth == nil && erased.name.hasPrefix("erased-"))
        #expect(erased.consents == Consents())
        let address = try await customers.billingAddress(customer.id)
        #expect(address.address.line1.isEmpty && address.address.city.isEmpty && address.address.zip.zip5String == "53703")
        #expect(try await orders.order(placed.id).totalTax == placed.totalTax)
        #expect(try await orders.verifyLedger().brokenAt == nil)
        await #expect(throws: CustomerError.erased) { try await customers.setConsents(customer.id, Consents(marketingEmail: true)) }
    }

    @Test("an address or consents given while the customer is erased do not outlive the erasure", arguments: Store.available)
    func erasureRacesNothingPast(store: Store) async throws {
        let (customers, _) = try await Self.services(store)
        for trial in 0..<4 {
            let customer = try await customers.create(name: "Race \(trial)", email: "race\(trial)@example.com", dateOfBirth: nil)
            _ = try await customers.addBillingAddress(customer.id, Address(line1: "1 A St", city: "Minneapolis", state: StateCode("MN")!, zip: ZipCode("55401")!))
            await withTaskGroup(of: Void.self) { group in
                for i in 0..<16 {
                    group.addTask {
                        if i == 8 { try? await customers.erase(customer.id); return }
                        if i % 2 == 0 { _ = try? await customers.setConsents(customer.id, Consents(marketingEmail: true)); return }
                        _ = try? await customers.addBillingAddress(customer.id, Address(line1: "9 Secret Rd", city: "Secretville",
                                                                                       state: StateCode("MN")!, zip: ZipCode("55401")!))
                    }
                }
            }
            let versions = try await customers.database.query(
                "SELECT line1, city FROM \(customers.table("billing_addresses")) WHERE customer_id = $1", [.text(customer.id.value)])
            #expect(versions.allSatisfy { $0.text("line1") == "" && $0.text("city") == "" }, "trial \(trial): a version outlived the erasure")
            #expect(try await customers.customer(customer.id).consents == Consents(), "trial \(trial): consents set after the erasure")
        }
    }
}
