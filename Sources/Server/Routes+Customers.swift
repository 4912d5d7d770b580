import Exports
import Foundation
import HTTPTypes
import Orders
import TaxCore

extension LevyAPI {
    /// A billing address is kept to source tax by and to verify a card: its ZIP must be one the tables know, in the
    /// state given (a quote would refuse it otherwise, after the customer had been stored with it).
    func knownPlace(_ address: Address, field: String) throws -> Address {
        if let problem = services.tables.locals.placeProblem(address, on: CustomerService.today(services.now())) {
            throw APIError.invalid(field.isEmpty ? problem.field : field + "." + problem.field, problem.message)
        }
        return address
    }

    /// Customers, their versioned billing addresses and consents; export and erasure for the customer's requests.
    var customerEndpoints: [Endpoint] {
        [
            Endpoint(method: .post, path: "/v1/customers", scopes: [.checkout], idempotency: .optional) { call in
                let body = try call.decode(CustomerBody.self)
                try checkPersonText(["name": body.name, "email": body.email])
                let dateOfBirth = try body.dateOfBirth.map { text in
                    guard let date = TaxDate(iso: text) else { throw APIError.invalid("date_of_birth", "\"\(text)\" is not a date (YYYY-MM-DD)") }
                    return date
                }
                let address = try body.billingAddress.map { try knownPlace($0.address(field: "billing_address"), field: "billing_address") }
                let consents = Consents(marketingEmail: body.consents?.marketingEmail ?? false,
                                        shareViewingActivity: body.consents?.shareViewingActivity ?? false)
                let customer = try await services.customers.create(name: body.name, email: body.email, dateOfBirth: dateOfBirth, consents: consents)
                var billing: BillingAddress?
                if let address { billing = try await services.customers.addBillingAddress(customer.id, address) }
                return .json(CustomerOut(customer, billing: billing), status: .created, resource: customer.id.value)
            },
            Endpoint(method: .get, path: "/v1/customers/{customer_id}", scopes: [.checkout], idempotency: .none) { call in
                let id = CustomerID(call.parameter("customer_id"))
                let customer = try await services.customers.customer(id)
                let billing = try? await services.customers.billingAddress(id)
                return .json(CustomerOut(customer, billing: billing))
            },
            Endpoint(method: .post, path: "/v1/customers/{customer_id}/addresses", scopes: [.checkout], idempotency: .optional) { call in
                let id = CustomerID(call.parameter("customer_id"))
                let address = try knownPlace(call.decode(AddressBody.self).address(field: ""), field: "")
                let billing = try await services.customers.addBillingAddress(id, address)
                return .json(BillingAddressBody(billing), status: .created, resource: id.value)
            },
            Endpoint(method: .put, path: "/v1/customers/{customer_id}/consents", scopes: [.checkout], idempotency: .none) { call in
                let id = CustomerID(call.parameter("customer_id"))
                let body = try call.decode(ConsentsBody.self)
                let current = try await services.customers.customer(id).consents
                try await services.customers.setConsents(id, Consents(marketingEmail: body.marketingEmail ?? current.marketingEmail,
                                                                      shareViewingActivity: body.shareViewingActivity ?? current.shareViewingActivity))
                return .json(ConsentsOut(try await services.customers.customer(id).consents))
            },
            Endpoint(method: .get, path: "/v1/customers/{customer_id}/export", scopes: [.admin], idempotency: .none) { call in
                let id = CustomerID(call.parameter("customer_id"))
                let export = try await services.customers.export(id, orders: services.orders)
                return .json(CustomerExportOut(export, now: services.now()))
            },
            Endpoint(method: .post, path: "/v1/customers/{customer_id}/erasure", scopes: [.admin], idempotency: .none) { call in
                _ = try call.decodeOptional(EmptyBody.self)
                let id = CustomerID(call.parameter("customer_id"))
                try await services.customers.erase(id)
                try await services.orders.eraseAddresses(of: id)
                // Stored API responses may repeat the customer's details: they go too, and so do the files of exports
                // with personal data (made again, they hold the erased customer blanked).
                try await services.idempotency.forget(resource: id.value)
                if let exports = services.exports { try await exports.jobs.withdrawPersonalDataFiles() }
                return .json(ErasureOut(customerID: id.value, erased: true, retention: CustomerService.retention))
            },
        ]
    }
}

struct ErasureOut: Encodable {
    var customerID: String, erased: Bool, retention: String
    enum CodingKeys: String, CodingKey { case customerID = "customer_id", erased, retention }
}

struct CustomerExportOut: Encodable {
    var customer: CustomerOut
    var addresses: [BillingAddressBody]
    var orders: [OrderOut]
    var retention: String

    init(_ export: CustomerExport, now: Date) {
        customer = CustomerOut(export.customer, billing: export.addresses.last)
        addresses = export.addresses.map(BillingAddressBody.init)
        orders = export.orders.map { OrderOut($0, vouchers: [], entitlements: [], now: now) }
        retention = export.retention
    }
}
