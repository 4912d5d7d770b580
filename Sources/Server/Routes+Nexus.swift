import Foundation
import HTTPTypes
import Merchants
import Reconciliation
import Storage
import TaxCore
import TaxTables

extension LevyAPI {
    /// Economic-nexus exposure over the API: the same report as `levy nexus report --format json`.
    var nexusEndpoints: [Endpoint] {
        [
            Endpoint(method: .get, path: "/v1/nexus", scopes: [.accountant, .reconciler, .admin], idempotency: .none) { call in
                guard let thresholds = nexusThresholds else {
                    throw APIError(.serviceUnavailable, "nexus_thresholds_unavailable", "this server was started without the nexus thresholds (nexus.csv)")
                }
                let today = Timestamp.string(services.now()).prefix(10)
                let thisYear = Int(today.prefix(4)) ?? 2026
                let year = try Self.integer(call.query["year"], name: "year", default: thisYear, range: 2000...2100)
                let asOfText = call.query["as_of"] ?? (year == thisYear ? String(today) : "\(year)-12-31")
                guard let asOf = TaxDate(iso: asOfText) else { throw APIError.invalid("as_of", "a date (YYYY-MM-DD)") }
                let near = try Self.integer(call.query["near"], name: "near", default: 80, range: 1...100)
                var registered: Set<StateCode>?
                var source = "as given"
                if let text = call.query["registered"] {
                    let codes = text.split(separator: ",", omittingEmptySubsequences: false)
                    guard codes.count <= 60 else { throw APIError.invalid("registered", "at most 60 state codes") }
                    registered = []
                    let known = Set(services.tables.states.map(\.state))
                    // `registered=` (nothing) means registered nowhere; an empty item between commas is a mistake.
                    for code in codes where !(codes.count == 1 && code.isEmpty) {
                        guard let state = StateCode(String(code).uppercased()), known.contains(state) else {
                            throw APIError.invalid("registered", "\"\(code.prefix(8))\" is not the code of a state the tables know")
                        }
                        registered?.insert(state)
                    }
                } else if let profile = try await profiles.current(services).merchant, !profile.registrations.isEmpty {
                    registered = profile.registeredStates(on: asOf)
                    source = profile.registrationSource(on: asOf)
                }
                let report = try await NexusReport.compute(service: services.orders, year: year, asOf: asOf, thresholds: thresholds, registered: registered,
                                                           registeredSource: source, nearPercent: near)
                let states = report.rows.map { Dictionary(uniqueKeysWithValues: zip(NexusReport.columns, report.fields($0))) }
                return .json(NexusOut(year: year, asOf: asOf.iso, thresholdsSHA256: thresholds.digest, registrations: report.registrationsNote,
                                      states: states))
            },
        ]
    }
}

struct NexusOut: Encodable {
    var year: Int, asOf: String, thresholdsSHA256: String, registrations: String
    var states: [[String: String]]

    enum CodingKeys: String, CodingKey {
        case year, asOf = "as_of", thresholdsSHA256 = "thresholds_sha256", registrations, states
    }
}
