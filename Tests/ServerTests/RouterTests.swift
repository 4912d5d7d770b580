import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Server
import Storage
import LevyTestSupport
import Testing

@Suite struct RouterTests {
    /// The OpenAPI document lists exactly the endpoints the router serves, with the same scopes.
    @Test func openAPIDocumentMatchesTheRouter() async throws {
        let server = try await TestServer.make()
        let document = try String(contentsOfFile: TestServer.repository + "/Sources/Server/openapi.yaml", encoding: .utf8)
        var documented: [String: [String]] = [:]
        var path = ""
        var method = ""
        for line in document.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("  /"), line.hasSuffix(":") { path = String(line.dropFirst(2).dropLast()) }
            else if line.hasPrefix("components:") { path = "" }
            else if !path.isEmpty, let m = ["get", "post", "put", "delete", "patch"].first(where: { line == "    \($0):" }) {
                method = m.uppercased()
                documented["\(method) \(path)"] = []
            } else if !path.isEmpty, line.hasPrefix("      x-levy-scopes: [") {
                documented["\(method) \(path)"] = line.split(separator: "[")[1].dropLast().split(separator: ",")
                    .map { $0.trimmingCharacters(in: .whitespaces) }.sorted()
            }
        }
        let served = Dictionary(uniqueKeysWithValues: server.api.catalog.map { ("\($0.method) \($0.path)", $0.scopes.map(\.rawValue).sorted()) })
        #expect(Set(documented.keys) == Set(served.keys))
        for (operation, scopes) in served { #expect(documented[operation] == scopes, "\(operation)") }
        #expect(served.count >= 29)
    }

    /// Every endpoint with a key of every scope: allowed scopes get past authorization, all others get 403, and no
    /// key at all gets 401. The checkout scope never reaches a reveal.
    @Test(arguments: Store.available)
    func everyEndpointChecksItsScope(store: Store) async throws {
        let server = try await TestServer.make(store)
        let app = server.routerApplication()
        try await app.test(.router) { client in
            for endpoint in server.api.catalog {
                let uri = endpoint.path.replacingOccurrences(of: "{token}", with: "tok_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
                    .replacingOccurrences(of: "{customer_id}", with: "cus_none").replacingOccurrences(of: "{order_id}", with: "ord_none")
                    .replacingOccurrences(of: "{code}", with: "none").replacingOccurrences(of: "{entitlement_id}", with: "ent_none")
                    .replacingOccurrences(of: "{key_id}", with: "none")
                let method = HTTPRequest.Method(endpoint.method)!
                let body = method == .post || method == .put ? "{}" : nil
                let anonymous = try await client.send(method, uri, key: nil, idempotency: "scope-test", body: body)
                if endpoint.scopes.isEmpty {
                    // A webhook authenticates by its signature: without one it is a bad request (404 where none is
                    // configured), never unauthenticated.
                    let expected: Set<Int> = endpoint.path.hasPrefix("/v1/webhooks/") ? [400, 404] : [200]
                    #expect(expected.contains(Int(anonymous.status)), "\(endpoint.method) \(endpoint.path) is public: \(anonymous.status)")
                    continue
                }
                #expect(anonymous.status == 401 && anonymous.errorCode == "unauthenticated", "\(endpoint.method) \(endpoint.path) without a key")
                for scope in Scope.allCases {
                    let reply = try await client.send(method, uri, key: server.keys[scope], idempotency: "scope-\(scope.rawValue)", body: body)
                    if endpoint.scopes.contains(scope) {
                        #expect(reply.status != 401 && reply.status != 403, "\(endpoint.method) \(endpoint.path) with \(scope.rawValue): \(reply.status)")
                        #expect(reply.status < 500, "\(endpoint.method) \(endpoint.path) with \(scope.rawValue): \(reply.text)")
                    } else {
                        #expect(reply.status == 403 && reply.errorCode == "forbidden", "\(endpoint.method) \(endpoint.path) with \(scope.rawValue)")
                    }
                }
            }
        }
        let reveal = try #require(server.api.catalog.first { $0.path.hasSuffix("/reveal") })
        #expect(reveal.scopes == [.vaultReveal])
        #expect(server.api.catalog.filter { $0.scopes.contains(.vaultReveal) }.count == 1)
    }

    @Test(arguments: Store.available)
    func malformedRevokedAndUnknownKeysAreRefused(store: Store) async throws {
        let server = try await TestServer.make(store)
        let app = server.routerApplication()
        let checkout = server.keys[.checkout]!
        try await app.test(.router) { client in
            // The last is the real key with its last character changed (to another character: appending a fixed one
            // would give the key itself back one time in 32).
            let altered = String(checkout.dropLast()) + (checkout.hasSuffix("a") ? "b" : "a")
            for bad in ["", "lvk_x_y", "lvk_" + String(repeating: "a", count: 13) + "_" + String(repeating: "b", count: 32), altered] {
                let refused = try await client.send(.get, "/v1/tables", key: bad)
                #expect(refused.status == 401)
            }
            let allowed = try await client.send(.get, "/v1/tables", key: checkout)
            #expect(allowed.status == 200)
            let id = checkout.split(separator: "_")[1]
            let revoked = try await client.send(.delete, "/v1/keys/\(id)", key: server.keys[.admin])
            #expect(revoked.status == 200)
            let after = try await client.send(.get, "/v1/tables", key: checkout)
            #expect(after.status == 401)
        }
        // Only a hash is stored: the secret is in no file of the store (the database, its WAL and shared memory,
        // the vault). Positive control: the key's label, which is stored in clear, is found by the same search, so
        // the search does reach the rows just written (they sit in the WAL until a checkpoint).
        let contents: [Data]
        if store == .sqlite {
            let files = try FileManager.default.contentsOfDirectory(atPath: server.directory).map { server.directory + "/" + $0 }
            #expect(files.contains { $0.hasSuffix("levy.sqlite-wal") })
            contents = try files.map { try Data(contentsOf: URL(fileURLWithPath: $0)) }
        } else {
            // On PostgreSQL the rows themselves, every column as text (the cluster's files are scanned by scripts/test).
            let keys = server.api.services.keys
            let rows = try await keys.database.query("SELECT * FROM \(keys.database.dialect.render("{schema}api_keys", schema: keys.schema))", [])
            contents = [Data(rows.map { row in row.cells.map { String(describing: $0) }.joined(separator: "|") }.joined(separator: "\n").utf8)]
        }
        #expect(contents.contains { $0.range(of: Data("checkout".utf8)) != nil }, "the control: a stored label is found")
        #expect(contents.allSatisfy { $0.range(of: Data(checkout.utf8)) == nil })
        #expect(contents.allSatisfy { $0.range(of: Data(checkout.split(separator: "_")[2].utf8)) == nil })
    }

    /// A key row changed in the store to hold a scope Levy never wrote authenticates nothing: the request is an
    /// error (500 `stored_record_unreadable`), never a key with a scope widened or dropped by a default.
    @Test(arguments: Store.available)
    func alteredKeyRowsAuthenticateNothing(store: Store) async throws {
        let server = try await TestServer.make(store)
        let keys = server.api.services.keys
        let reconciler = server.keys[.reconciler]!
        let id = String(reconciler.split(separator: "_")[1])
        let table = keys.database.dialect.render("{schema}api_keys", schema: keys.schema)
        try await keys.database.execute("UPDATE \(table) SET scopes = 'reconciler root' WHERE id = $1", [.text(id)])
        try await server.routerApplication().test(.router) { client in
            let refused = try await client.send(.get, "/v1/reconciliations", key: reconciler)
            #expect(refused.status == 500 && refused.text.contains("stored_record_unreadable"), "\(refused.text)")
            #expect(try await client.send(.get, "/v1/tables", key: server.keys[.checkout]).status == 200, "other keys still work")
        }
        await #expect(throws: APIKeyError.self) { try await keys.list() }
        try await keys.database.execute("UPDATE \(table) SET scopes = 'reconciler', created_at = 'yesterday' WHERE id = $1", [.text(id)])
        await #expect(throws: APIKeyError.self) { try await keys.key(id) }
    }

    @Test(arguments: Store.available)
    func errorsNameTheFieldWithAStableCode(store: Store) async throws {
        let server = try await TestServer.make(store)
        let app = server.routerApplication()
        let key = server.allScopes
        try await app.test(.router) { client in
            let typo = fixture("minneapolis.json").replacingOccurrences(of: "\"amount\"", with: "\"amont\"")
            var reply = try await client.send(.post, "/v1/quotes", key: key, body: typo)
            #expect(reply.status == 400 && reply.errorCode == "unknown_field" && reply.errorField == "lines[0].amont")

            reply = try await client.send(.post, "/v1/orders", key: key, idempotency: "e1", body: "{\"order\": \(typo)}")
            #expect(reply.status == 400 && reply.errorField == "order.lines[0].amont")

            reply = try await client.send(.post, "/v1/quotes", key: key, body: "{not json")
            #expect(reply.status == 400 && reply.errorCode == "invalid_json")

            reply = try await client.send(.post, "/v1/orders", key: key, body: placeBody("minneapolis.json"))
            #expect(reply.status == 400 && reply.errorCode == "missing_field" && reply.errorField == "Idempotency-Key")

            reply = try await client.send(.post, "/v1/tokens", key: key, body: #"{"number": "4242424242424241", "exp_month": 12, "exp_year": 2031}"#)
            #expect(reply.status == 400 && reply.errorCode == "invalid_card" && reply.errorField == "number")
            #expect(!reply.text.contains("4242424242424241"))

            // A card number sent as a member name, or as a value where none belongs, is not echoed in the error.
            for body in [#"{"4242424242424242": 1}"#, #"{"number": "4242 4242 4242 4242", "4111-1111-1111-1111": 1}"#] {
                reply = try await client.send(.post, "/v1/tokens", key: key, body: body)
                #expect(reply.status == 400 && reply.errorCode == "unknown_field", "\(reply.text)")
                #expect(!reply.text.contains("4242424242424242") && !reply.text.contains("4111-1111-1111-1111"), "\(reply.text)")
            }
            reply = try await client.send(.post, "/v1/quotes", key: key,
                                          body: fixture("minneapolis.json").replacingOccurrences(of: "\"amount\"", with: "\"5555555555554444\""))
            #expect(reply.status == 400 && reply.errorCode == "unknown_field" && reply.errorField == "lines[0].[digits removed]", "\(reply.text)")
            #expect(!reply.text.contains("5555555555554444"))

            reply = try await client.send(.post, "/v1/customers", key: key, body: #"{"name": "Young", "date_of_birth": "2015-01-01"}"#)
            #expect(reply.status == 422 && reply.errorCode == "underage" && reply.errorField == "date_of_birth")

            let unquotable = fixture("minneapolis.json").replacingOccurrences(of: "\"55401\"", with: "\"00001\"")
            reply = try await client.send(.post, "/v1/quotes", key: key, body: unquotable)
            #expect(reply.status == 422 && reply.errorCode == "unquotable")

            reply = try await client.send(.post, "/v1/quotes", key: key, body: String(repeating: " ", count: 70 * 1024))
            #expect(reply.status == 413 && reply.errorCode == "body_too_large")

            reply = try await client.send(.get, "/v1/nothing", key: key)
            #expect(reply.status == 404 && reply.errorCode == "not_found" && reply.headers[HTTPField.Name("X-Request-Id")!] != nil)

            // A known path asked with a method it does not take: 405 naming the methods it takes, API and console.
            for (method, path, allow) in [(HTTPRequest.Method.delete, "/v1/quotes", "POST"), (.put, "/v1/orders/ord_none", "GET, HEAD"),
                                          (.get, "/console/sign-out", "POST"), (.delete, "/console/sign-in", "GET, HEAD, POST"),
                                          (.get, "/v1/gift-cards/balance", "POST")] {
                reply = try await client.send(method, path, key: key)
                #expect(reply.status == 405 && reply.headers[.allow] == allow, "\(path): \(reply.text)")
                #expect(reply.text.contains("it takes \(allow)"), "\(reply.text)")
                // The console answers with a page, the API with its JSON error.
                #expect(path.hasPrefix("/console") ? reply.headers[.contentType]?.hasPrefix("text/html") == true : reply.errorCode == "method_not_allowed")
            }

            // Query parameters are read as strictly as a body's members: only those the document declares, each
            // once, integers as they print (probe #6: the last of two won, unknown ones and "+5" or "05" passed).
            #expect(server.api.openAPIQueryParameters["GET /v1/ledger"] == ["after", "limit"])
            #expect(server.api.openAPIQueryParameters["POST /v1/reconciliations"]?.contains("column_amount") == true)
            #expect(server.api.openAPIQueryParameters["POST /v1/quotes"] == [])
            for (uri, code, field) in [("/v1/ledger?after=1&after=500", "invalid_value", "after"), ("/v1/ledger?cursor=zzz", "unknown_field", "cursor"),
                                       ("/v1/ledger?limit=%2B5", "invalid_value", "limit"), ("/v1/ledger?limit=05", "invalid_value", "limit"),
                                       ("/v1/orders/ord_none?expand=lines", "unknown_field", "expand")] {
                reply = try await client.send(.get, uri, key: uri.hasPrefix("/v1/ledger") ? server.keys[.accountant] : key)
                #expect(reply.status == 400 && reply.errorCode == code && reply.errorField == field, "\(uri): \(reply.text)")
            }
            // A card number written percent-encoded as a name is decoded, then masked as every field is (names are
            // decoded as values are since probe #21), and never echoed either way.
            reply = try await client.send(.get, "/v1/ledger?%34%32%34%32%34%32%34%32%34%32%34%32%34%32%34%32=1", key: server.keys[.accountant])
            #expect(reply.status == 400 && reply.errorCode == "unknown_field" && !reply.text.contains("%34") && !reply.text.contains("4242424242424242"),
                    "\(reply.text)")
            // A name that is not plain once decoded is not echoed.
            reply = try await client.send(.get, "/v1/ledger?%3Cb%3E=1", key: server.keys[.accountant])
            #expect(reply.status == 400 && reply.errorField == "query" && !reply.text.contains("<b>"), "\(reply.text)")
            reply = try await client.send(.get, "/v1/ledger?after=0&limit=5", key: server.keys[.accountant])
            #expect(reply.status == 200, "\(reply.text)")
            // Empty pairs say nothing, wherever they stand (probe #21: `?&&&` was refused, `?after=1&` read);
            // an empty name with a value is still a name the endpoint does not take.
            for uri in ["/v1/ledger?&&&", "/v1/ledger?&limit=5&&", "/v1/ledger?"] {
                reply = try await client.send(.get, uri, key: server.keys[.accountant])
                #expect(reply.status == 200, "\(uri): \(reply.text)")
            }
            reply = try await client.send(.get, "/v1/ledger?=5", key: server.keys[.accountant])
            #expect(reply.status == 400 && reply.errorCode == "unknown_field", "\(reply.text)")

            reply = try await client.send(.get, "/v1/ledger?limit=0", key: key)
            #expect(reply.status == 400 && reply.errorField == "limit")

            reply = try await client.send(.get, "/v1/orders/ord_none", key: key, headers: [HTTPField.Name("X-Request-Id")!: "trace-123"])
            #expect(reply.status == 404 && reply.headers[HTTPField.Name("X-Request-Id")!] == "trace-123")
            #expect((reply.json["error"] as? [String: Any])?["request_id"] as? String == "trace-123")
        }
    }

    @Test(arguments: Store.available)
    func healthReadinessMetricsAndTheDocument(store: Store) async throws {
        let server = try await TestServer.make(store)
        let app = server.routerApplication()
        try await app.test(.router) { client in
            let health = try await client.send(.get, "/health", key: nil)
            #expect(health.string("status") == "ok")
            let ready = try await client.send(.get, "/ready", key: nil)
            #expect(ready.status == 200 && ready.string("status") == "ready")
            _ = try await client.send(.post, "/v1/quotes", key: server.keys[.checkout], body: fixture("minneapolis.json"))
            _ = try await client.send(.post, "/v1/orders", key: server.keys[.checkout], idempotency: "m1", body: placeBody("minneapolis.json"))
            let metrics = try await client.send(.get, "/metrics", key: nil).text
            #expect(metrics.contains(#"levy_http_requests_total{method="POST",route="/v1/quotes",status="200"} 1"#))
            #expect(metrics.contains(#"levy_orders_placed_total{state="MN"} 1"#))
            #expect(metrics.contains("levy_tax_quote_duration_seconds_count 1"))
            #expect(metrics.contains(#"levy_http_request_duration_seconds_bucket{method="POST",route="/v1/quotes""#))
            let document = try await client.send(.get, "/openapi.yaml", key: nil)
            #expect(document.text.hasPrefix("openapi: 3.1.0") && document.headers[.contentType] == "application/yaml")
        }
    }
}
