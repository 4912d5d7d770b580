import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Orders
import Server
import TaxCore
import LevyTestSupport
import Testing

@Suite struct MerchantAPITests {
    /// A merchant profile made over the API decides where quotes collect: a quote that names no registrations collects
    /// only where a registration covers its date; one that names them still decides for itself.
    @Test(arguments: Store.available)
    func registrationsDecideWhereQuotesCollect(store: Store) async throws {
        let server = try await TestServer.make(store)
        let app = try server.application()
        let admin = server.keys[.admin]!
        let checkout = server.keys[.checkout]!
        try await app.test(.router) { client in
            func quote(_ date: String, seller: String = "") async throws -> Reply {
                try await client.send(.post, "/v1/quotes", key: checkout, body: """
                    {"date": "\(date)", \(seller)
                     "origin": {"line1": "800 Nicollet Mall", "city": "Minneapolis", "state": "MN", "zip": "55402"},
                     "destination": {"line1": "1 E Main St", "city": "Madison", "state": "WI", "zip": "53703"},
                     "lines": [{"id": "1", "code": "general", "amount": "100.00", "fulfilment": "shipped"}]}
                    """)
            }
            func notCollecting(_ reply: Reply) -> String? {
                ((reply.json["lines"] as? [[String: Any]])?.first?["not_collecting"] as? [String: Any])?["code"] as? String
            }
            // No profile: every state collects, as before.
            #expect(notCollecting(try await quote("2026-03-15")) == nil)

            let created = try await client.send(.post, "/v1/merchants", key: admin, body: """
                {"name": "Glow Med Spa LLC", "contact": "Ada Lovelace", "phone": "+1 612 555 0100",
                 "address": {"line1": "800 Nicollet Mall", "city": "Minneapolis", "state": "MN", "zip": "55402"}}
                """)
            #expect(created.status == 201)
            let id = try #require(created.string("id"))
            #expect(try await client.send(.post, "/v1/merchants", key: checkout, body: #"{"name": "x"}"#).status == 403)
            let mn = try await client.send(.post, "/v1/merchants/\(id)/registrations", key: admin,
                                           body: #"{"state": "MN", "permit": "MN-1234567", "from": "2025-01-01"}"#)
            #expect(mn.status == 201)
            let wi = try await client.send(.post, "/v1/merchants/\(id)/registrations", key: admin,
                                           body: #"{"state": "WI", "permit": "456.123456789.014", "from": "2026-04-01"}"#)
            // A long permit number that passes Luhn is not refused: 15 digits from 4 is no Visa length (below). Written
            // with dots, which the card-data scan does not join, so that it is no number the scan must list.
            #expect((wi.json["registrations"] as? [[String: Any]])?.count == 2, "\(wi.text)")
            let overlap = try await client.send(.post, "/v1/merchants/\(id)/registrations", key: admin,
                                                body: #"{"state": "WI", "permit": "x", "from": "2026-05-01"}"#)
            #expect(overlap.status == 409 && overlap.errorField == "from")
            let badDate = try await client.send(.post, "/v1/merchants/\(id)/registrations", key: admin,
                                                body: #"{"state": "WI", "permit": "x", "from": "2026-13-01"}"#)
            #expect(badDate.status == 400 && badDate.errorField == "from")
            // A permit or a location id with a card network's prefix and length and a right Luhn digit is a card number.
            let cardPermit = try await client.send(.post, "/v1/merchants/\(id)/registrations", key: admin,
                                                   body: #"{"state": "IA", "permit": "4242 4242 4242 4242", "from": "2026-01-01"}"#)
            #expect(cardPermit.status == 400 && cardPermit.errorField == "permit" && !cardPermit.text.contains("4242"))
            let cardLocation = try await client.send(.post, "/v1/merchants/\(id)/locations", key: admin, body: """
                {"id": "4000056655665556", "name": "x", "address": {"line1": "800 Nicollet Mall", "city": "Minneapolis", "state": "MN", "zip": "55402"}}
                """)
            #expect(cardLocation.status == 400 && cardLocation.errorField == "id")
            // A location sources lines: a state the ZIP is not in, or a ZIP the tables do not know, is refused.
            for (address, field) in [(#"{"line1": "1 Main St", "city": "Minneapolis", "state": "MN", "zip": "90001"}"#, "address.state"),
                                     (#"{"line1": "1 Main St", "city": "Hagatna", "state": "GU", "zip": "96910"}"#, "address.zip")] {
                let wrong = try await client.send(.post, "/v1/merchants/\(id)/locations", key: admin,
                                                  body: #"{"id": "wrong", "name": "x", "address": \#(address)}"#)
                #expect(wrong.status == 400 && wrong.errorField == field, "\(wrong.text)")
            }
            let location = try await client.send(.post, "/v1/merchants/\(id)/locations", key: admin, body: """
                {"id": "mpls", "name": "Minneapolis spa", "address": {"line1": "800 Nicollet Mall", "city": "Minneapolis", "state": "MN", "zip": "55402"}}
                """)
            #expect((location.json["locations"] as? [[String: Any]])?.first?["place_of_business"] as? Bool == true)

            // The origin named by the profile location's id quotes like the address written out; an unknown id is named.
            let byID = try await client.send(.post, "/v1/quotes", key: checkout, body: """
                {"date": "2026-04-15", "origin": "mpls",
                 "lines": [{"id": "1", "code": "massage_service", "amount": "120.00", "fulfilment": "in_person", "location": "mpls"}]}
                """)
            let byAddress = try await client.send(.post, "/v1/quotes", key: checkout, body: """
                {"date": "2026-04-15", "origin": {"line1": "800 Nicollet Mall", "city": "Minneapolis", "state": "MN", "zip": "55402"},
                 "lines": [{"id": "1", "code": "massage_service", "amount": "120.00", "fulfilment": "in_person"}]}
                """)
            #expect(byID.status == 200 && byID.string("total_tax") == byAddress.string("total_tax"), "\(byID.text)")
            let unknown = try await client.send(.post, "/v1/quotes", key: checkout, body: """
                {"date": "2026-04-15", "origin": "spa-x", "lines": [{"id": "1", "code": "general", "amount": "1.00", "fulfilment": "pickup"}]}
                """)
            #expect(unknown.status == 400 && unknown.errorField == "origin" && unknown.text.contains("its locations: mpls"), "\(unknown.text)")
            let buyer = try await client.send(.post, "/v1/quotes", key: checkout, body: """
                {"date": "2026-04-15", "origin": "mpls", "destination": "mpls",
                 "lines": [{"id": "1", "code": "general", "amount": "1.00", "fulfilment": "shipped"}]}
                """)
            #expect(buyer.status == 400 && buyer.errorField == "destination")

            // No origin: the one place of business is the origin (the in-person line is sourced there); the order
            // keeps the address used.
            let noOrigin = try await client.send(.post, "/v1/quotes", key: checkout, body: """
                {"date": "2026-04-15", "lines": [{"id": "1", "code": "massage_service", "amount": "120.00", "fulfilment": "in_person"}]}
                """)
            #expect(noOrigin.status == 200 && noOrigin.string("total_tax") == byAddress.string("total_tax"), "\(noOrigin.text)")
            let placedNoOrigin = try await client.send(.post, "/v1/orders", key: checkout, idempotency: "no-origin", body: """
                {"order": {"date": "2026-04-15", "lines": [{"id": "1", "code": "massage_service", "amount": "120.00", "fulfilment": "in_person"}]}}
                """)
            #expect(placedNoOrigin.status == 201 && placedNoOrigin.string("total_tax") == byAddress.string("total_tax"), "\(placedNoOrigin.text)")
            #expect(placedNoOrigin.text.contains("55402"), "the order shows the origin it was sourced to")
            // A merchant that lists its locations redeems a voucher at one of them, by id (probe #5: any text was kept).
            let card = try await client.send(.post, "/v1/tokens", key: checkout, idempotency: "redeem-card",
                                             body: #"{"number": "4242424242424242", "exp_month": 12, "exp_year": 2030}"#)
            let token = try #require(card.string("token") ?? card.string("id"), "\(card.text)")
            let paid = try await client.send(.post, "/v1/orders", key: checkout, idempotency: "redeem-order", body: """
                {"order": {"date": "2026-04-15", "lines": [{"id": "1", "code": "massage_service", "amount": "120.00", "fulfilment": "in_person"}]},
                 "payment_token": "\(token)"}
                """)
            let paidID = try #require(paid.string("id"), "\(paid.text)")
            let captured = try await client.send(.post, "/v1/orders/\(paidID)/capture", key: checkout)
            let voucher = try #require((captured.json["vouchers"] as? [[String: Any]])?.first?["code"] as? String, "\(captured.text)")
            let elsewhere = try await client.send(.post, "/v1/vouchers/\(voucher)/redeem", key: checkout, body: #"{"location": "the back room"}"#)
            #expect(elsewhere.status == 400 && elsewhere.errorField == "location" && elsewhere.text.contains("mpls"), "\(elsewhere.text)")
            let atSpa = try await client.send(.post, "/v1/vouchers/\(voucher)/redeem", key: checkout, body: #"{"location": "mpls"}"#)
            #expect(atSpa.status == 200 && atSpa.string("status") == "redeemed", "\(atSpa.text)")
            // A second place of business: an in-person line must now say where.
            _ = try await client.send(.post, "/v1/merchants/\(id)/locations", key: admin, body: """
                {"id": "madison", "name": "Madison spa", "address": {"line1": "1 E Main St", "city": "Madison", "state": "WI", "zip": "53703"}}
                """)
            let ambiguous = try await client.send(.post, "/v1/quotes", key: checkout, body: """
                {"date": "2026-04-15", "lines": [{"id": "1", "code": "massage_service", "amount": "120.00", "fulfilment": "in_person"}]}
                """)
            #expect(ambiguous.status == 400 && ambiguous.errorField == "origin" && ambiguous.text.contains("madison, mpls"), "\(ambiguous.text)")
            let atLocation = try await client.send(.post, "/v1/quotes", key: checkout, body: """
                {"date": "2026-04-15", "lines": [{"id": "1", "code": "massage_service", "amount": "120.00", "fulfilment": "in_person", "location": "mpls"}]}
                """)
            #expect(atLocation.status == 200 && atLocation.string("total_tax") == byAddress.string("total_tax"), "\(atLocation.text)")
            // A session sold and taxed at the Minneapolis spa is redeemed in Minnesota, not at the Wisconsin one (probe #10:
            // a service taxed for one state was redeemed in another, whose tax the order never charged).
            let mnOrder = try await client.send(.post, "/v1/orders", key: checkout, idempotency: "mn-session", body: """
                {"order": {"date": "2026-04-15", "lines": [{"id": "1", "code": "massage_service", "amount": "120.00", "fulfilment": "in_person", "location": "mpls"}]},
                 "payment_token": "\(token)"}
                """)
            let mnID = try #require(mnOrder.string("id"), "\(mnOrder.text)")
            let mnCaptured = try await client.send(.post, "/v1/orders/\(mnID)/capture", key: checkout)
            let mnVoucher = try #require((mnCaptured.json["vouchers"] as? [[String: Any]])?.first?["code"] as? String, "\(mnCaptured.text)")
            let inWisconsin = try await client.send(.post, "/v1/vouchers/\(mnVoucher)/redeem", key: checkout, body: #"{"location": "madison"}"#)
            #expect(inWisconsin.status == 400 && inWisconsin.errorField == "location" && inWisconsin.text.contains("MN 55402"), "\(inWisconsin.text)")
            // Nor in another town of the state, whose local taxes differ (probe #16: Hennepin County's and Minneapolis's
            // taxes charged, the massage given in Duluth).
            _ = try await client.send(.post, "/v1/merchants/\(id)/locations", key: admin, body: """
                {"id": "duluth", "name": "Duluth spa", "place_of_business": false, "address": {"line1": "1 W Superior St", "city": "Duluth", "state": "MN", "zip": "55802"}}
                """)
            let inDuluth = try await client.send(.post, "/v1/vouchers/\(mnVoucher)/redeem", key: checkout, body: #"{"location": "duluth"}"#)
            #expect(inDuluth.status == 400 && inDuluth.errorField == "location" && inDuluth.text.contains("MN 55402")
                    && inDuluth.text.contains("55802") && inDuluth.text.contains("Duluth"), "\(inDuluth.text)")
            let inMinnesota = try await client.send(.post, "/v1/vouchers/\(mnVoucher)/redeem", key: checkout, body: #"{"location": "mpls"}"#)
            #expect(inMinnesota.status == 200, "\(inMinnesota.text)")
            // Premises whose jurisdictions the operator verified: a line sourced there is taxed by exactly those
            // (here without the Minneapolis special districts: 120.00 x 7.525% = 9.03, against 10.83 unpinned).
            let badPin = try await client.send(.post, "/v1/merchants/\(id)/locations", key: admin, body: """
                {"id": "mpls-2", "name": "Nicollet studio", "place_of_business": false, "jurisdictions": ["27053", "L-MN-CITY-NOWHERE"],
                 "address": {"line1": "900 Nicollet Mall", "city": "Minneapolis", "state": "MN", "zip": "55402"}}
                """)
            #expect(badPin.status == 400 && badPin.errorField == "jurisdictions[1]", "\(badPin.text)")
            let pinned = try await client.send(.post, "/v1/merchants/\(id)/locations", key: admin, body: """
                {"id": "mpls-2", "name": "Nicollet studio", "place_of_business": false, "jurisdictions": ["27053", "L-MN-CITY-MINNEAPOLIS"],
                 "address": {"line1": "900 Nicollet Mall", "city": "Minneapolis", "state": "MN", "zip": "55402"}}
                """)
            #expect((pinned.json["locations"] as? [[String: Any]])?.contains { ($0["jurisdictions"] as? [String])?.count == 2 } == true, "\(pinned.text)")
            let atPinned = try await client.send(.post, "/v1/quotes", key: checkout, body: """
                {"date": "2026-04-15", "origin": "mpls-2", "lines": [{"id": "1", "code": "massage_service", "amount": "120.00", "fulfilment": "in_person"}]}
                """)
            #expect(atPinned.status == 200 && atPinned.string("total_tax") == "9.03" && byAddress.string("total_tax") == "10.83", "\(atPinned.text)")
            let pinnedOrder = try await client.send(.post, "/v1/orders", key: checkout, idempotency: "pinned", body: """
                {"order": {"date": "2026-04-15", "origin": "mpls-2", "lines": [{"id": "1", "code": "massage_service", "amount": "120.00", "fulfilment": "in_person"}]}}
                """)
            #expect(pinnedOrder.status == 201 && pinnedOrder.string("total_tax") == "9.03", "\(pinnedOrder.text)")
            // The order keeps the pins: replaying it (reconciliation's recomputation) gives the same tax.
            let replayed = try await server.api.services.orders.replay([try #require(pinnedOrder.string("id"))])
            let replay = try #require(replayed.first)
            #expect(replay.request.pinned.values.first == ["27053", "L-MN-CITY-MINNEAPOLIS"])
            #expect(try TaxCalculator(tables: TestServer.tables).quote(replay.request).totalTax.decimalString == "9.03")

            // Before the WI registration: not collecting there; from its first day: collecting.
            #expect(notCollecting(try await quote("2026-03-15")) == "not_registered")
            #expect(notCollecting(try await quote("2026-04-01")) == nil)
            // A request that names its registrations decides for itself.
            #expect(notCollecting(try await quote("2026-03-15", seller: #""seller": {"registrations": ["WI"]},"#)) == nil)

            // An order placed before the WI registration freezes what it was quoted under.
            let placed = try await client.send(.post, "/v1/orders", key: checkout, idempotency: "before", body: """
                {"order": {"date": "2026-03-15", "origin": {"line1": "800 Nicollet Mall", "city": "Minneapolis", "state": "MN", "zip": "55402"},
                 "destination": {"line1": "1 E Main St", "city": "Madison", "state": "WI", "zip": "53703"},
                 "lines": [{"id": "1", "code": "general", "amount": "100.00", "fulfilment": "shipped"}]}}
                """)
            #expect(placed.status == 201 && placed.string("total_tax") == "0.00")

            let updated = try await client.send(.patch, "/v1/merchants/\(id)", key: admin, body: #"{"email": "tax@glow.example"}"#)
            #expect(updated.string("email") == "tax@glow.example" && updated.string("name") == "Glow Med Spa LLC")
            let refused = try await client.send(.patch, "/v1/merchants/\(id)", key: admin, body: #"{"email": "no"}"#)
            #expect(refused.status == 400 && refused.errorField == "email")

            // The profile's default rounding applies to a quote that names none; a quote's own rounding wins.
            let rounding = try await client.send(.patch, "/v1/merchants/\(id)", key: admin, body: #"{"rounding": "line_jurisdiction"}"#)
            #expect(rounding.string("rounding") == "line_jurisdiction")
            func quoteRounding(_ given: String) async throws -> String? {
                try await client.send(.post, "/v1/quotes", key: checkout, body: """
                    {"date": "2026-06-15", \(given) "origin": {"line1": "800 Nicollet Mall", "city": "Minneapolis", "state": "MN", "zip": "55402"},
                     "destination": {"line1": "800 Nicollet Mall", "city": "Minneapolis", "state": "MN", "zip": "55402"},
                     "lines": [{"id": "1", "code": "general", "amount": "19.99", "fulfilment": "shipped"}]}
                    """).string("rounding")
            }
            #expect(try await quoteRounding("") == "line_jurisdiction")
            #expect(try await quoteRounding(#""rounding": "sst","#) == "sst")
            #expect(try await client.send(.get, "/v1/merchants/mer_nobody", key: admin).status == 404)
            let listed = try await client.send(.get, "/v1/merchants", key: server.keys[.accountant]!)
            #expect((listed.json["merchants"] as? [[String: Any]])?.count == 1)

            // The nexus report over the API compares with the profile's registrations in force on as_of.
            let nexus = try await client.send(.get, "/v1/nexus?year=2026&as_of=2026-03-31", key: server.keys[.accountant]!)
            #expect(nexus.status == 200, "\(nexus.text)")
            #expect(nexus.string("registrations") == "registered in MN (merchant profile \(id): MN since 2025-01-01)", "\(nexus.text)")
            let states = try #require(nexus.json["states"] as? [[String: String]])
            #expect(states.count >= 51 && states.first { $0["state"] == "WI" }?["registered"] == "no")
            let given = try await client.send(.get, "/v1/nexus?year=2026&registered=wi,mn", key: server.keys[.reconciler]!)
            #expect(given.string("registrations")?.hasPrefix("registered in MN, WI (as given)") == true, "\(given.text)")
            #expect(try await client.send(.get, "/v1/nexus?year=1999", key: admin).errorField == "year")
            #expect(try await client.send(.get, "/v1/nexus?registered=W1", key: admin).errorField == "registered")
            #expect(try await client.send(.get, "/v1/nexus?registered=ZZ", key: admin).errorField == "registered")
            #expect(try await client.send(.get, "/v1/nexus?registered=MN,,WI", key: admin).errorField == "registered")
            #expect(try await client.send(.get, "/v1/nexus", key: checkout).status == 403)
        }
    }

    /// A registration that elects a remote-seller program (Texas's single local use tax rate, Tax Code 151.0595:
    /// 1.75% in place of the destination's local taxes) completes quotes that name neither registrations nor
    /// elections; the order keeps the election, replays with it, and the console's evidence shows it. The profile
    /// refuses an election the tables do not have, one before the program starts, and an election beside a place of
    /// business in the state.
    @Test(arguments: Store.available)
    func registrationsCarryElections(store: Store) async throws {
        let server = try await TestServer.make(store)
        let admin = server.keys[.admin]!
        let checkout = server.keys[.checkout]!
        try await server.routerApplication().test(.router) { client in
            let created = try await client.send(.post, "/v1/merchants", key: admin, body: """
                {"name": "Glow Med Spa LLC", "address": {"line1": "800 Nicollet Mall", "city": "Minneapolis", "state": "MN", "zip": "55402"}}
                """)
            let id = try #require(created.string("id"), "\(created.text)")
            _ = try await client.send(.post, "/v1/merchants/\(id)/locations", key: admin, body: """
                {"id": "mpls", "name": "Minneapolis spa", "address": {"line1": "800 Nicollet Mall", "city": "Minneapolis", "state": "MN", "zip": "55402"}}
                """)
            _ = try await client.send(.post, "/v1/merchants/\(id)/registrations", key: admin, body: #"{"state": "MN", "permit": "MN-1", "from": "2025-01-01"}"#)
            for (body, reason) in [(#"{"state": "TX", "permit": "TX-1", "from": "2026-01-01", "election": "simplified_sellers_use_tax"}"#, "no simplified_sellers_use_tax in TX"),
                                   (#"{"state": "TX", "permit": "TX-1", "from": "2019-01-01", "election": "single_local_use_tax"}"#, "starts on 2019-10-01"),
                                   (#"{"state": "TX", "permit": "TX-1", "from": "2026-01-01", "election": "Single Local"}"#, "lower-case")] {
                let refused = try await client.send(.post, "/v1/merchants/\(id)/registrations", key: admin, body: body)
                #expect(refused.status == 400 && refused.errorField == "election" && refused.text.contains(reason), "\(refused.text)")
            }
            let tx = try await client.send(.post, "/v1/merchants/\(id)/registrations", key: admin,
                                           body: #"{"state": "TX", "permit": "TX-1", "from": "2026-01-01", "election": "single_local_use_tax"}"#)
            #expect(tx.status == 201 && (tx.json["registrations"] as? [[String: Any]])?.contains { $0["election"] as? String == "single_local_use_tax" } == true,
                    "\(tx.text)")

            func quote(_ date: String, seller: String = "") async throws -> Reply {
                try await client.send(.post, "/v1/quotes", key: checkout, body: """
                    {"date": "\(date)", "origin": "mpls", \(seller)
                     "destination": {"line1": "901 Bagby St", "city": "Houston", "state": "TX", "zip": "77002"},
                     "lines": [{"id": "1", "code": "general", "amount": "100.00", "fulfilment": "shipped"}]}
                    """)
            }
            // Houston is 8.25% (6.25% state, 2% local); elected: 6.25% and the single local rate, 1.75%.
            let elected = try await quote("2026-04-15")
            #expect(elected.status == 200 && elected.string("total_tax") == "8.00" && elected.text.contains("48-SLUT"), "\(elected.text)")
            // Before the registration: not collecting in Texas at all. A request that names its registrations or its
            // elections decides for itself.
            #expect(try await quote("2025-12-15").string("total_tax") == "0.00")
            #expect(try await quote("2026-04-15", seller: #""seller": {"registrations": ["TX"]},"#).string("total_tax") == "8.25")

            let placed = try await client.send(.post, "/v1/orders", key: checkout, idempotency: "elected", body: """
                {"order": {"date": "2026-04-15", "origin": "mpls", "destination": {"line1": "901 Bagby St", "city": "Houston", "state": "TX", "zip": "77002"},
                 "lines": [{"id": "1", "code": "general", "amount": "100.00", "fulfilment": "shipped"}]}}
                """)
            let orderID = try #require(placed.string("id"), "\(placed.text)")
            #expect(placed.string("total_tax") == "8.00")
            let replayed = try #require(try await server.api.services.orders.replay([orderID]).first)
            #expect(replayed.request.elections == [RemoteSellerElection(state: StateCode("TX")!, type: "single_local_use_tax")])
            #expect(try TaxCalculator(tables: TestServer.tables).quote(replayed.request).totalTax.decimalString == "8.00")
            let accountant = try #require(try await ConsoleTests.signIn(client, key: server.keys[.accountant]!).cookie)
            let page = try await ConsoleTests.get(client, "/console/transactions/\(orderID)", cookie: accountant)
            #expect(page.status == 200 && page.text.contains(#"<td id="order-elections">TX single_local_use_tax</td>"#), "\(page.text)")

            // A place of business in Texas contradicts the open election (and the other way round in Alabama).
            let houston = try await client.send(.post, "/v1/merchants/\(id)/locations", key: admin, body: """
                {"id": "houston", "name": "Houston spa", "address": {"line1": "901 Bagby St", "city": "Houston", "state": "TX", "zip": "77002"}}
                """)
            #expect(houston.status == 409 && houston.errorField == "address.state" && houston.text.contains("single_local_use_tax"), "\(houston.text)")
            let warehouse = try await client.send(.post, "/v1/merchants/\(id)/locations", key: admin, body: """
                {"id": "houston", "name": "Houston storage", "place_of_business": false,
                 "address": {"line1": "901 Bagby St", "city": "Houston", "state": "TX", "zip": "77002"}}
                """)
            #expect(warehouse.status == 201, "\(warehouse.text)")
            _ = try await client.send(.post, "/v1/merchants/\(id)/locations", key: admin, body: """
                {"id": "bham", "name": "Birmingham spa", "address": {"line1": "1 20th St N", "city": "Birmingham", "state": "AL", "zip": "35203"}}
                """)
            let ssut = try await client.send(.post, "/v1/merchants/\(id)/registrations", key: admin,
                                             body: #"{"state": "AL", "permit": "AL-1", "from": "2026-01-01", "election": "simplified_sellers_use_tax"}"#)
            #expect(ssut.status == 409 && ssut.errorField == "election" && ssut.text.contains("bham"), "\(ssut.text)")
            // Probe #21: a bounded election is recorded (locations are not dated; it may be from before the premises),
            // and it was then applied beside the Birmingham place of business: 8.00 in Huntsville for 9.00.
            let bounded = try await client.send(.post, "/v1/merchants/\(id)/registrations", key: admin, body: """
                {"state": "AL", "permit": "AL-1", "from": "2026-01-01", "through": "2026-12-31", "election": "simplified_sellers_use_tax"}
                """)
            #expect(bounded.status == 201, "\(bounded.text)")
            let huntsville = try await client.send(.post, "/v1/quotes", key: checkout, body: """
                {"date": "2026-03-02", "origin": "mpls", "destination": {"line1": "308 Fountain Cir SW", "city": "Huntsville", "state": "AL", "zip": "35801"},
                 "lines": [{"id": "1", "code": "general", "amount": "100.00", "fulfilment": "shipped"}]}
                """)
            #expect(huntsville.status == 200 && huntsville.string("total_tax") == "9.00"
                    && huntsville.text.contains("election simplified_sellers_use_tax in AL not applied: the seller is in AL at location bham (35203)"),
                    "\(huntsville.text)")
        }
    }

    /// What hostile probe #13 found the profile taking: a legal address in no state or in another state than its ZIP
    /// (it heads SAF-T files), a state's own code as a pin (every quote there then failed), and an order-level
    /// discount larger than its lines answered 422 `unquotable` where a line's own is 400 `invalid_value`.
    @Test func profileRefusesWhatNoQuoteCouldUse() async throws {
        let server = try await TestServer.make(.sqlite)
        let admin = server.keys[.admin]!
        let checkout = server.keys[.checkout]!
        try await server.routerApplication().test(.router) { client in
            let created = try await client.send(.post, "/v1/merchants", key: admin, body: #"{"name": "Glow Med Spa LLC"}"#)
            let id = try #require(created.string("id"), "\(created.text)")
            for (address, field) in [(#"{"line1": "1 Main", "city": "x", "state": "ZZ", "zip": "00000"}"#, "address.zip"),
                                     (#"{"line1": "1 Main", "city": "x", "state": "TX", "zip": "55402"}"#, "address.state"),
                                     (#"{"line1": "1 Main", "city": "x", "state": "MN", "zip": "55999"}"#, "address.zip")] {
                let patched = try await client.send(.patch, "/v1/merchants/\(id)", key: admin, body: #"{"address": \#(address)}"#)
                #expect(patched.status == 400 && patched.errorField == field, "\(patched.text)")
            }
            #expect(try await client.send(.get, "/v1/merchants/\(id)", key: admin).json["address"] == nil)
            let statePin = try await client.send(.post, "/v1/merchants/\(id)/locations", key: admin, body: """
                {"id": "p27", "name": "n", "jurisdictions": ["27"], "address": {"line1": "250 Marquette Ave", "city": "Minneapolis", "state": "MN", "zip": "55401"}}
                """)
            #expect(statePin.status == 400 && statePin.errorField == "jurisdictions[0]", "\(statePin.text)")

            for (discount, field) in [(#""discounts": [{"id": "d", "amount": "60.00"}]"#, "discounts[0].amount"),
                                      (#""discounts": [{"id": "d", "amount": "1.00", "lines": ["zz"]}]"#, "discounts[0].lines[0]")] {
                let refused = try await client.send(.post, "/v1/quotes", key: checkout, body: """
                    {"date": "2026-04-15", "origin": {"line1": "800 Nicollet Mall", "city": "Minneapolis", "state": "MN", "zip": "55402"}, \(discount),
                     "lines": [{"id": "1", "code": "general", "amount": "50.00", "fulfilment": "pickup"}]}
                    """)
                #expect(refused.status == 400 && (refused.json["error"] as? [String: Any])?["code"] as? String == "invalid_value" && refused.errorField == field, "\(refused.text)")
            }
        }
    }
}
