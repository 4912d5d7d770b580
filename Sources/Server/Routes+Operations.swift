import Foundation
import HTTPTypes
import Orders
import Storage
import TaxCore
import TaxTables

extension LevyAPI {
    /// Liveness, readiness, metrics and the OpenAPI document: no key needed.
    var operationsEndpoints: [Endpoint] {
        [
            Endpoint(method: .get, path: "/health", scopes: [], idempotency: .none) { _ in
                .json(["status": "ok"])
            },
            Endpoint(method: .get, path: "/ready", scopes: [], idempotency: .none) { _ in
                var checks: [String: String] = ["tables": services.tables.version]
                // Answered within `readyWait` whatever the store does: with PostgreSQL stopped the pool waits about a
                // minute before it gives up, and a load balancer's probe must not hang that long (probe #11).
                let database = services.database
                let reached = await Self.within(Self.readyWait) { _ = try await database.query("SELECT 1 AS one") }
                guard reached else {
                    checks["store"] = "unreachable"
                    return .json(ReadyOut(status: "unavailable", checks: checks), status: .serviceUnavailable)
                }
                checks["store"] = "ok"
                return .json(ReadyOut(status: "ready", checks: checks))
            },
            Endpoint(method: .get, path: "/metrics", scopes: [], idempotency: .none) { _ in
                APIReply(status: .ok, body: services.metrics.render(), contentType: "text/plain; version=0.0.4; charset=utf-8")
            },
            Endpoint(method: .get, path: "/openapi.yaml", scopes: [], idempotency: .none) { _ in
                APIReply(status: .ok, body: openAPI.bytes, contentType: "application/yaml")
            },
        ]
    }

    static let readyWait: Duration = .seconds(3)

    /// Whether `operation` succeeded within `limit` (past it, it is cancelled and left to end on its own: only for
    /// reads whose late end changes nothing).
    static func within(_ limit: Duration, _ operation: @escaping @Sendable () async throws -> Void) async -> Bool {
        (try? await Deadline.run(within: limit, orThrow: { CancellationError() }, operation)) != nil
    }

    /// Voucher redemption at a seller location, and content entitlement checks.
    var fulfilmentEndpoints: [Endpoint] {
        [
            Endpoint(method: .get, path: "/v1/vouchers/{code}", scopes: [.checkout], idempotency: .none) { call in
                .json(VoucherOut(try await services.orders.voucher(call.parameter("code"))))
            },
            Endpoint(method: .post, path: "/v1/vouchers/{code}/redeem", scopes: [.checkout], idempotency: .optional) { call in
                let body = try call.decode(RedeemBody.self)
                guard !body.location.trimmingCharacters(in: .whitespaces).isEmpty else {
                    throw APIError.invalid("location", "name the seller location where the service is performed")
                }
                try checkPersonText(["location": body.location])
                // A merchant that lists its locations redeems at one of them, by id: free text would record a
                // service performed nowhere the profile knows (and sourcing follows the location).
                let profile = try await profiles.current(services)
                let locations = profile.locations
                if !locations.isEmpty, locations[body.location] == nil {
                    throw APIError.invalid("location", "not one of the merchant's locations: \(locations.keys.sorted().prefix(10).joined(separator: ", "))")
                }
                // The service was taxed where its line was sourced: performed in another state or under other local
                // taxes it would owe what the order never charged (probes #10 and #16).
                if let place = locations[body.location],
                   let refusal = try await services.orders.redemptionRefusal(voucher: call.parameter("code"), at: place, pinned: profile.pinned[place] ?? []) {
                    throw APIError.invalid("location", refusal)
                }
                return .json(VoucherOut(try await services.orders.redeem(voucher: call.parameter("code"), at: body.location)))
            },
            Endpoint(method: .get, path: "/v1/entitlements/{entitlement_id}", scopes: [.checkout], idempotency: .none) { call in
                .json(EntitlementOut(try await services.orders.entitlement(call.parameter("entitlement_id")), now: services.now()))
            },
        ]
    }

    /// The tables the server quotes with and the imported versions.
    var tableEndpoints: [Endpoint] {
        [
            Endpoint(method: .get, path: "/v1/tables", scopes: [.checkout, .accountant, .reconciler], idempotency: .none) { _ in
                let versions = (try? services.tableStore?.versions()) ?? []
                return .json(TablesOut(inUse: services.tables.version, current: services.tableStore?.currentID(),
                                       versions: versions.map { TablesOut.Version(id: $0.id, created: $0.created, parent: $0.parent,
                                                                                  files: $0.files.map { "\($0.kind.rawValue) \($0.state) \($0.name)" }) }))
            },
        ]
    }

    /// The tax ledger, read page by page, and its hash-chain verification.
    var ledgerEndpoints: [Endpoint] {
        [
            Endpoint(method: .get, path: "/v1/ledger", scopes: [.accountant, .reconciler], idempotency: .none) { call in
                let after = try Self.integer(call.query["after"], name: "after", default: 0, range: 0...Int(Int32.max))
                let limit = try Self.integer(call.query["limit"], name: "limit", default: 100, range: 1...1_000)
                let entries = try await services.orders.ledger(after: after, limit: limit)
                return .json(LedgerPageOut(entries: entries.map(LedgerEntryOut.init), next: entries.count == limit ? entries.last?.seq : nil))
            },
            Endpoint(method: .get, path: "/v1/ledger/verification", scopes: [.accountant, .reconciler], idempotency: .none) { _ in
                let result = try await services.orders.verifyLedger()
                return .json(VerificationOut(intact: result.brokenAt == nil, entries: result.entries, brokenAt: result.brokenAt, reason: result.reason))
            },
        ]
    }

    /// API keys, for operators. Creating a key is not replayable: its secret is shown once and never stored.
    var keyEndpoints: [Endpoint] {
        [
            // A merchant's admin sees and makes its own merchant's keys only.
            Endpoint(method: .get, path: "/v1/keys", scopes: [.admin], idempotency: .none) { _ in
                .json(["keys": try await services.keys.list(merchant: .some(services.merchant)).map { APIKeyOut($0) }])
            },
            Endpoint(method: .post, path: "/v1/keys", scopes: [.admin], idempotency: .none) { call in
                let body = try call.decode(CreateKeyBody.self)
                var scopes = Set<Scope>()
                for (i, text) in body.scopes.enumerated() {
                    guard let scope = Scope(rawValue: text) else {
                        throw APIError.invalid("scopes[\(i)]", "\"\(text)\" is not a scope (\(Scope.allCases.map(\.rawValue).joined(separator: ", ")))")
                    }
                    scopes.insert(scope)
                }
                guard !body.label.trimmingCharacters(in: .whitespaces).isEmpty else { throw APIError.invalid("label", "say who or what the key is for") }
                try checkPersonText(["label": body.label])
                // Only a platform key makes another: an admin of one merchant cannot reach the others.
                if scopes.contains(.platform), call.key?.scopes.contains(.platform) != true { throw APIError.forbidden(.platform) }
                let issued = try await services.keys.create(label: body.label, scopes: scopes, merchant: services.merchant)
                return .json(APIKeyOut(issued.key, secret: issued.secret), status: .created)
            },
            Endpoint(method: .delete, path: "/v1/keys/{key_id}", scopes: [.admin], idempotency: .none) { call in
                let id = call.parameter("key_id")
                // Another merchant's key is not there for this caller.
                let key = try await services.keys.key(id)
                guard key.merchant == services.merchant else { throw APIKeyError.unknownKey(id) }
                return .json(APIKeyOut(try await services.keys.revoke(key.id)))
            },
        ]
    }

    static func integer(_ text: String?, name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text else { return value }
        // Written as a number is printed (no sign, no leading zero), so it reads one way in every reader.
        guard let number = Int(text), String(number) == text, range.contains(number) else {
            throw APIError.invalid(name, "an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }
}

struct ReadyOut: Encodable {
    var status: String
    var checks: [String: String]
}

struct TablesOut: Encodable {
    struct Version: Encodable {
        var id: String, created: String, parent: String?, files: [String]
    }

    var inUse: String, current: String?, versions: [Version]

    enum CodingKeys: String, CodingKey { case inUse = "in_use", current, versions }
}

struct LedgerPageOut: Encodable {
    var entries: [LedgerEntryOut]
    /// Pass as `after` for the next page; absent on the last page.
    var next: Int?
}

struct VerificationOut: Encodable {
    var intact: Bool, entries: Int, brokenAt: Int?, reason: String?

    enum CodingKeys: String, CodingKey { case intact, entries, brokenAt = "broken_at", reason }
}
