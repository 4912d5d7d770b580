import Exports
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import LevyTestSupport
import NIOCore
import Reconciliation
import Server
import Storage
@testable import TaxTables
import Testing

/// The console's sessions, CSRF tokens and scopes, through the router on both stores (the browser test in
/// scripts/console-test drives the same pages in Chromium).
@Suite struct ConsoleTests {
    struct Page {
        var status: Int
        var headers: HTTPFields
        var text: String
        var cookies: [String] { headers[values: .setCookie] }
        func hidden(_ name: String) -> String? {
            guard let range = text.range(of: "name=\"\(name)\" value=\"") else { return nil }
            return String(text[range.upperBound...].prefix { $0 != "\"" })
        }
    }

    static func get(_ client: some TestClientProtocol, _ uri: String, cookie: String?, method: HTTPRequest.Method = .get) async throws -> Page {
        var headers = HTTPFields()
        if let cookie { headers[.cookie] = cookie }
        return try await client.execute(uri: uri, method: method, headers: headers, body: nil) { Page(status: Int($0.status.code), headers: $0.headers, text: String(buffer: $0.body)) }
    }

    static func post(_ client: some TestClientProtocol, _ uri: String, cookie: String?, form: [String: String],
                     extra: [String: String] = [:]) async throws -> Page {
        var headers = HTTPFields()
        for (name, value) in extra { headers[HTTPField.Name(name)!] = value }
        if let cookie { headers[.cookie] = cookie }
        headers[.contentType] = "application/x-www-form-urlencoded"
        let body = form.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }.joined(separator: "&")
        return try await client.execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: body)) {
            Page(status: Int($0.status.code), headers: $0.headers, text: String(buffer: $0.body))
        }
    }

    /// Signs in with `key`; returns the session cookie (`levy_console=…`) or nil, and the sign-in answer.
    static func signIn(_ client: some TestClientProtocol, key: String) async throws -> (cookie: String?, answer: Page) {
        let form = try await get(client, "/console/sign-in", cookie: nil)
        let csrf = try #require(form.hidden("csrf"))
        let signInCookie = try #require(form.cookies.first { $0.hasPrefix("levy_console_signin=") }).split(separator: ";")[0]
        let answer = try await post(client, "/console/sign-in", cookie: String(signInCookie), form: ["csrf": csrf, "key": key])
        let session = answer.cookies.first { $0.hasPrefix("levy_console=") }.map { String($0.split(separator: ";")[0]) }
        return (session, answer)
    }

    @Test("sign-in needs the form's token and a key with a console scope; the session cookie is HttpOnly and SameSite=Strict",
          arguments: Store.available)
    func signIn(store: Store) async throws {
        let server = try await TestServer.make(store)
        try await server.routerApplication().test(.router) { client in
            #expect(try await Self.get(client, "/console/liability", cookie: nil).headers[.location] == "/console/sign-in")
            let form = try await Self.get(client, "/console/sign-in", cookie: nil)
            #expect(form.headers[HTTPField.Name("Content-Security-Policy")!]?.contains("default-src 'none'") == true)
            // The form's token without its cookie: refused.
            let forged = try await Self.post(client, "/console/sign-in", cookie: nil, form: ["csrf": form.hidden("csrf") ?? "", "key": server.keys[.admin]!])
            #expect(forged.status == 403 && forged.cookies.allSatisfy { !$0.hasPrefix("levy_console=") })
            // A cookie and a field that merely agree (chosen by whoever can set a cookie, or empty) are not a token this
            // server issued: refused. So is an issued token whose signature was changed.
            let issued = try #require(form.hidden("csrf"))
            let altered = String(issued.dropLast()) + (issued.hasSuffix("0") ? "1" : "0")
            for chosen in ["", "x", altered] {
                let planted = try await Self.post(client, "/console/sign-in", cookie: "levy_console_signin=" + chosen,
                                                  form: ["csrf": chosen, "key": server.keys[.admin]!])
                #expect(planted.status == 403 && planted.cookies.allSatisfy { !$0.hasPrefix("levy_console=") }, "\(chosen)")
            }
            #expect(try await Self.signIn(client, key: "lvk_aaaaaaaaaaaaa_" + String(repeating: "b", count: 32)).answer.status == 401)
            #expect(try await Self.signIn(client, key: server.keys[.checkout]!).answer.status == 403)
            let (cookie, answer) = try await Self.signIn(client, key: server.keys[.accountant]!)
            #expect(answer.status == 303 && answer.headers[.location] == "/console/liability")
            let set = try #require(answer.cookies.first { $0.hasPrefix("levy_console=") })
            #expect(set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/console") && !set.contains(server.keys[.accountant]!))
            for page in ["liability", "transactions", "exports", "nexus", "tables", "disclosures"] {
                let shown = try await Self.get(client, "/console/" + page, cookie: cookie)
                #expect(shown.status == 200, "\(page): \(shown.status) \(shown.text.prefix(300))")
                #expect(!shown.text.contains(server.keys[.accountant]!))
            }
            // An address the console does not have, or a method its page does not take, is a page too (it was the API's
            // JSON), and it never repeats what was asked.
            let unknown = try await Self.get(client, "/console/<b>nope</b>", cookie: cookie)
            #expect(unknown.status == 404 && unknown.headers[.contentType]?.hasPrefix("text/html") == true)
            #expect(unknown.text.contains("No such page") && unknown.text.contains("href=\"/console\"") && !unknown.text.contains("nope"))
            #expect(unknown.headers[HTTPField.Name("Content-Security-Policy")!]?.contains("default-src 'none'") == true)
            let wrongMethod = try await Self.get(client, "/console/liability", cookie: cookie, method: .delete)
            #expect(wrongMethod.status == 405 && wrongMethod.headers[.contentType]?.hasPrefix("text/html") == true)
            #expect(wrongMethod.headers[.allow] == "GET, HEAD" && wrongMethod.text.contains("it takes GET, HEAD"))
            let api = try await Self.get(client, "/v1/nope", cookie: nil)
            #expect(api.status == 404 && api.headers[.contentType] == "application/json")
        }
    }

    /// Login CSRF (probe #14): whoever can set a cookie for the console's host (a sibling site) could plant a fresh
    /// sign-in pair and post it from its own page with its own key. A browser's post from another site is refused
    /// before the form is read, on every console form.
    @Test("a browser's post from another site is refused before its form is read", arguments: Store.available)
    func crossSitePostsAreRefused(store: Store) async throws {
        let server = try await TestServer.make(store)
        try await server.routerApplication().test(.router) { client in
            func signIn(_ extra: [String: String]) async throws -> Page {
                let form = try await Self.get(client, "/console/sign-in", cookie: nil)
                let csrf = try #require(form.hidden("csrf"))
                let cookie = String(try #require(form.cookies.first { $0.hasPrefix("levy_console_signin=") }).split(separator: ";")[0])
                return try await Self.post(client, "/console/sign-in", cookie: cookie, form: ["csrf": csrf, "key": server.keys[.admin]!], extra: extra)
            }
            // The router's test requests are for host "localhost".
            let refused: [[String: String]] = [["Sec-Fetch-Site": "cross-site"], ["Sec-Fetch-Site": "same-site", "Origin": "http://localhost"],
                                               ["Origin": "http://evil.example"], ["Origin": "null"], ["Origin": "http://localhost.evil.example"],
                                               ["Origin": "http://localhost:8443"]]
            for headers in refused {
                let answer = try await signIn(headers)
                #expect(answer.status == 403 && answer.text.contains("another site") && answer.cookies.allSatisfy { !$0.hasPrefix("levy_console=") },
                        "\(headers): \(answer.status)")
            }
            for headers in [["Sec-Fetch-Site": "same-origin"], ["Origin": "http://LOCALHOST"], ["Origin": "https://localhost"], [:]] {
                #expect(try await signIn(headers).status == 303, "\(headers)")
            }
            // A signed-in form too: sign-out posted from another site leaves the session open.
            let session = try #require(try await Self.signIn(client, key: server.keys[.admin]!).cookie)
            let csrf = try #require(try await Self.get(client, "/console/exports", cookie: session).hidden("csrf"))
            let out = try await Self.post(client, "/console/sign-out", cookie: session, form: ["csrf": csrf], extra: ["Sec-Fetch-Site": "cross-site"])
            #expect(out.status == 403)
            #expect(try await Self.get(client, "/console/exports", cookie: session).status == 200)
        }
    }

    /// Probe #14: the console read its query strings leniently (a repeated parameter as its first, an unknown one
    /// ignored, `period=decade` as months, `state=ZZ` as an empty page). Now as strictly as the API, naming the field.
    @Test("a page's query string is read strictly: unknown, repeated, too long or unknown values are refused naming them")
    func strictQueryStrings() async throws {
        let server = try await TestServer.make(.sqlite)
        try await server.routerApplication().test(.router) { client in
            let cookie = try #require(try await Self.signIn(client, key: server.keys[.accountant]!).cookie)
            let refused = [("/console/liability?period=decade", "period"), ("/console/liability?state=ZZ", "state"),
                           ("/console/liability?from=2026-01-01&from=2025-01-01", "from"), ("/console/liability?utm_source=mail", "utm_source"),
                           ("/console/transactions?id=" + String(repeating: "a", count: 201), "id"), ("/console/transactions?state=ZZ", "state"),
                           ("/console/exports?page=2", "page"), ("/console/nexus?year=2026&year=2025", "year"),
                           // Probe #21: looser than the API, or blaming another field.
                           ("/console/nexus?year=02026", "year"), ("/console/nexus?year=%2B2026", "year"),
                           ("/console/transactions?from=2026-03-01&through=2026-02-01", "through")]
            for (uri, field) in refused {
                let page = try await Self.get(client, uri, cookie: cookie)
                #expect(page.status == 400 && page.text.contains(field + ":"), "\(uri): \(page.status) \(page.text.suffix(400))")
            }
            // A card number typed as a parameter's name is not shown back.
            let carded = try await Self.get(client, "/console/liability?4242424242424242=1", cookie: cookie)
            #expect(carded.status == 400 && !carded.text.contains("4242424242424242"))
            // What the pages' own forms send (empty fields included) is read.
            #expect(try await Self.get(client, "/console/liability?from=&through=&period=quarter&state=mn", cookie: cookie).status == 200)
            #expect(try await Self.get(client, "/console/transactions?id=&from=&through=&state=PR&jurisdiction=&customer=", cookie: cookie).status == 200)
            // Empty pairs say nothing here as in the API; a pair with a value and no name is still an unknown name.
            for uri in ["/console/liability?&&&", "/console/liability?&period=quarter&&", "/console/nexus?"] {
                #expect(try await Self.get(client, uri, cookie: cookie).status == 200, "\(uri)")
            }
            #expect(try await Self.get(client, "/console/liability?=quarter", cookie: cookie).status == 400)
        }
    }

    @Test("forms need the session's token; sign-out and a revoked key end the session", arguments: Store.available)
    func csrfAndSessionEnd(store: Store) async throws {
        let server = try await TestServer.make(store)
        try await server.routerApplication().test(.router) { client in
            let cookie = try #require(try await Self.signIn(client, key: server.keys[.admin]!).cookie)
            let page = try await Self.get(client, "/console/exports", cookie: cookie)
            let csrf = try #require(page.hidden("csrf"))
            let form = ["kind": "liability", "from": "2026-01-01", "through": "2026-12-31", "personal_data": "false"]
            #expect(try await Self.post(client, "/console/exports", cookie: cookie, form: form).status == 403)
            // Another token of the same shape (its first character changed) is refused too.
            let other = (csrf.hasPrefix("x") ? "y" : "x") + csrf.dropFirst()
            #expect(try await Self.post(client, "/console/exports", cookie: cookie, form: form.merging(["csrf": other]) { $1 }).status == 403)
            let started = try await Self.post(client, "/console/exports", cookie: cookie, form: form.merging(["csrf": csrf]) { $1 })
            #expect(started.status == 200 && started.text.contains("Started job_"), "\(started.text.prefix(400))")
            // Personal data without who asked and why: refused with the field named, nothing queued.
            let personal = try await Self.post(client, "/console/exports", cookie: cookie,
                                               form: form.merging(["csrf": csrf, "personal_data": "true"]) { $1 })
            #expect(personal.status == 422 && personal.text.contains("requested_by"))
            // Probe #9: a choice that is neither true nor false, a field given twice, a compressed form, a year out of
            // range were taken (as no personal data, the last value, the bytes as sent, 2100) where the API refuses them.
            let maybe = try await Self.post(client, "/console/exports", cookie: cookie, form: form.merging(["csrf": csrf, "personal_data": "maybe"]) { $1 })
            #expect(maybe.status == 400 && maybe.text.contains("personal_data"))
            var raw = HTTPFields()
            raw[.cookie] = cookie
            raw[.contentType] = "application/x-www-form-urlencoded"
            let twice = try await client.execute(uri: "/console/exports", method: .post, headers: raw,
                                                 body: ByteBuffer(string: "csrf=\(csrf)&kind=liability&kind=detail&from=2026-01-01&through=2026-12-31")) {
                (Int($0.status.code), String(buffer: $0.body))
            }
            #expect(twice.0 == 400 && twice.1.contains("kind"), "\(twice.1.prefix(300))")
            // Probe #14: a byte that is no UTF-8, sent raw, was repaired into U+FFFD and kept in the disclosure log.
            let rawByte = try await client.execute(uri: "/console/exports", method: .post, headers: raw,
                                                   body: ByteBuffer(bytes: Array("csrf=\(csrf)&kind=detail&from=2026-01-01&through=2026-12-31&personal_data=true&reason=r&requested_by=J".utf8) + [0xFF] + Array("rg".utf8))) {
                (Int($0.status.code), String(buffer: $0.body))
            }
            #expect(rawByte.0 == 400 && rawByte.1.contains("requested_by"), "\(rawByte.1.prefix(300))")
            // Personal data is an admin's to export: an accountant's session is refused, naming the field.
            let bookkeeper = try #require(try await Self.signIn(client, key: server.keys[.accountant]!).cookie)
            let accountantCSRF = try #require(try await Self.get(client, "/console/exports", cookie: bookkeeper).hidden("csrf"))
            let refused = try await Self.post(client, "/console/exports", cookie: bookkeeper,
                                              form: form.merging(["csrf": accountantCSRF, "personal_data": "true", "requested_by": "A", "reason": "r"]) { $1 })
            #expect(refused.status == 403 && refused.text.contains("personal_data"), "\(refused.text.prefix(300))")
            raw[.contentEncoding] = "gzip"
            #expect(try await client.execute(uri: "/console/exports", method: .post, headers: raw, body: ByteBuffer(string: "csrf=\(csrf)")) {
                Int($0.status.code) } == 415)
            let farYear = try await Self.get(client, "/console/nexus?year=99999", cookie: cookie)
            #expect(farYear.status == 400 && farYear.text.contains("2000 to 2100") && !farYear.text.contains("2100-12-31"))

            // A form sent as something else is the client's error (415), answered on a page, not a server fault.
            for type in ["text/plain", "application/json", nil] as [String?] {
                var headers = HTTPFields()
                headers[.cookie] = cookie
                if let type { headers[.contentType] = type }
                for path in ["/console/exports", "/console/sign-out"] {
                    let status = try await client.execute(uri: path, method: .post, headers: headers, body: ByteBuffer(string: "csrf=\(csrf)")) {
                        Int($0.status.code)
                    }
                    #expect(status == 415, "\(path) with \(type ?? "no type")")
                }
            }
            #expect(try await Self.post(client, "/console/sign-out", cookie: cookie, form: [:]).status == 403)
            let out = try await Self.post(client, "/console/sign-out", cookie: cookie, form: ["csrf": csrf])
            #expect(out.status == 303 && out.headers[.location] == "/console/sign-in")
            #expect(try await Self.get(client, "/console/liability", cookie: cookie).status == 303)

            // A session whose key is revoked ends at once.
            let accountant = try #require(try await Self.signIn(client, key: server.keys[.accountant]!).cookie)
            #expect(try await Self.get(client, "/console/liability", cookie: accountant).status == 200)
            let keyID = try #require(server.keys[.accountant]?.split(separator: "_")[1])
            try await server.api.services.keys.revoke(String(keyID))
            #expect(try await Self.get(client, "/console/liability", cookie: accountant).status == 303)
        }
    }

    @Test("an accountant sees state and ZIP and a pseudonym; an admin sees the customer and street, and the view is a recorded disclosure",
          arguments: Store.available)
    func personalDataByScope(store: Store) async throws {
        let server = try await TestServer.make(store)
        try await server.routerApplication().test(.router) { client in
            let (customerID, orderID) = try await capturedOrderOfACustomer(
                client, server, street: #"{"line1": "1 E Main St", "city": "Madison", "state": "WI", "zip": "53703"}"#)

            let accountant = try #require(try await Self.signIn(client, key: server.keys[.accountant]!).cookie)
            let seen = try await Self.get(client, "/console/transactions/\(orderID)", cookie: accountant)
            #expect(seen.status == 200 && seen.text.contains("WI 53703") && seen.text.contains("anon_"))
            #expect(!seen.text.contains("Main St") && !seen.text.contains(customerID) && !seen.text.contains("4242424242424242"))
            #expect(seen.text.range(of: "[0-9a-f]{64}", options: .regularExpression) != nil, "ledger hashes shown")
            // The pseudonym finds the order.
            let pseudonym = try #require(seen.text.range(of: "anon_[0-9a-f]{24}", options: .regularExpression).map { String(seen.text[$0]) })
            #expect(try await Self.get(client, "/console/transactions?customer=\(pseudonym)", cookie: accountant).text.contains(orderID))

            let admin = try #require(try await Self.signIn(client, key: server.keys[.admin]!).cookie)
            // A HEAD shows nothing and records nothing; the GET that shows the page is recorded once.
            let head = try await Self.get(client, "/console/transactions/\(orderID)", cookie: admin, method: .head)
            #expect(head.status == 200 && head.text.isEmpty)
            let full = try await Self.get(client, "/console/transactions/\(orderID)", cookie: admin)
            #expect(full.text.contains("1 E Main St") && full.text.contains(customerID) && full.text.contains("recorded as disclosure exp_"))
            let log = try await Self.get(client, "/console/disclosures", cookie: admin)
            #expect(log.text.contains("console_view") && log.text.components(separatedBy: "console: order evidence").count == 2, "\(log.text)")
            #expect(try await Self.get(client, "/console/transactions/ord_nothere", cookie: admin).status == 404)
            // A card number searched by mistake in the path, signed in or not, and a path of no route.
            _ = try await Self.get(client, "/console/transactions/4242424242424242", cookie: nil)
            _ = try await Self.get(client, "/console/transactions/4242424242424242", cookie: admin)
            _ = try await Self.get(client, "/console/4242424242424242/x", cookie: nil)
            // The access log has the route's template, the status, and nothing of the session, the customer or the path
            // as sent.
            let logs = server.logs.all
            #expect(logs.contains { $0.contains("console request") && $0.contains("route=/console/transactions/{order_id}") && $0.contains("status=200") })
            #expect(!logs.contains { $0.contains(orderID) || $0.contains(customerID) || $0.contains(String(admin.dropFirst("levy_console=".count))) })
            #expect(!logs.contains { $0.contains("4242424242424242") })
            #expect(try await Self.get(client, "/console/transactions?state=Q9", cookie: admin).status == 400)
        }
    }

    @Test("a settlement file uploaded from the console (multipart) is queued only with the session's token")
    func reconciliationUpload() async throws {
        let server = try await TestServer.make(.sqlite)
        try await server.routerApplication().test(.router) { client in
            let cookie = try #require(try await Self.signIn(client, key: server.keys[.reconciler]!).cookie)
            let page = try await Self.get(client, "/console/reconciliations", cookie: cookie)
            #expect(page.status == 200 && page.text.contains("multipart/form-data"))
            let csrf = try #require(page.hidden("csrf"))
            func upload(token: String?, fileName: String = "nov.csv", extra: [(String, String?)] = []) async throws -> Page {
                let boundary = "----levy-test-boundary"
                var body = ""
                for (name, value) in [("csrf", token), ("layout", "generic"), ("fee_percent", ""), ("column_order_id", "Order Ref"),
                                      ("amount_units", "minor"), ("column_fee", "")] + extra {
                    guard let value else { continue }
                    body += "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n"
                }
                body += "--\(boundary)\r\nContent-Disposition: form-data; name=\"settlements\"; filename=\"\(fileName)\"\r\nContent-Type: text/csv\r\n\r\n"
                body += "line_id,type,order_id,refund_id,processor_id,amount,fee,net,currency,created,settled\r\nL1,payout,,,,-1.00,0,,USD,2026-11-30T00:00:00Z,\r\n"
                body += "\r\n--\(boundary)--\r\n"
                var headers = HTTPFields()
                headers[.cookie] = cookie
                headers[.contentType] = "multipart/form-data; boundary=\(boundary)"
                return try await client.execute(uri: "/console/reconciliations", method: .post, headers: headers, body: ByteBuffer(string: body)) {
                    Page(status: Int($0.status.code), headers: $0.headers, text: String(buffer: $0.body))
                }
            }
            #expect(try await upload(token: nil).status == 403)
            #expect(try await server.api.services.reconciliations?.runs.list().isEmpty == true)
            let started = try await upload(token: csrf)
            #expect(started.status == 200 && started.text.contains("Started rec_"), "\(started.text.prefix(500))")
            let runs = try #require(try await server.api.services.reconciliations?.runs.list())
            #expect(runs.count == 1 && runs.first?.parameters.fileName == "nov.csv" && runs.first?.parameters.layout == "generic")
            // The form's own-layout fields become the run's mapping; empty ones are left out.
            #expect(runs.first?.parameters.mapping == SettlementLayout.Mapping(base: "generic", columns: ["order_id": "Order Ref"], amountUnits: "minor"))
            // The API's options are on the form too, checked as the API checks them.
            let late = try await upload(token: csrf, extra: [("late_after_days", "400")])
            #expect(late.status == 400 && late.text.contains("late_after_days:"), "\(late.text.suffix(600))")
            // Said once, above the table: a run without an error of its own does not show the page's in its status.
            #expect(late.text.components(separatedBy: "late_after_days:").count == 2, "\(late.text.suffix(900))")
            let recompute = try await upload(token: csrf, extra: [("recompute_tax", "maybe")])
            #expect(recompute.status == 400 && recompute.text.contains("recompute_tax:"))
            // A long name (within the form's 255 bytes) is cut to whole characters within the run's 200 bytes (101 "é" were refused).
            let long = try await upload(token: csrf, fileName: String(repeating: "é", count: 120), extra: [("late_after_days", "9"), ("recompute_tax", "false")])
            #expect(long.status == 200, "\(long.text.suffix(600))")
            let newest = try #require(try await server.api.services.reconciliations?.runs.list().first { $0.parameters.fileName.hasPrefix("é") })
            #expect(newest.parameters.fileName == String(repeating: "é", count: 100))
            #expect(newest.parameters.lateAfterDays == 9 && newest.parameters.recomputeTax == false)
        }
    }

    @Test("the tables page compares two imported versions: a revised Seattle rate shows as one row removed and one added")
    func tableVersionDiff() async throws {
        let directory = TestStores.directory("levy-console-tables")
        let store = TableStore(directory: directory)
        let root = TestServer.repository
        // Loading the tables and importing are seconds of blocking work: on a thread of their own.
        let (v1, v2) = try await onOwnThread { () throws -> (TableStore.VersionManifest, TableStore.VersionManifest) in
            let base = try CanonicalTables.load(directory: root + "/TaxTables")
            let name = "wa_dor_location_rates_2024Q4-2026Q2.csv"
            guard let data = FileManager.default.contents(atPath: root + "/Fixtures/official/" + name) else { throw TestStores.Unavailable(what: name) }
            let bytes = Array(data)
            let file = OfficialFile(kind: .waDOR, state: "WA", name: name, sha256: OfficialTables.sha256(bytes), effectiveFrom: nil)
            let (v1, _) = try store.importFiles([(file: file, bytes: bytes)], base: base, now: Date(timeIntervalSince1970: 1_780_000_000))
            let revised = Array(String(decoding: bytes, as: UTF8.self).replacingOccurrences(
                of: "SEATTLE,1726,0.065,0.0405,0,0.1055,20260101,20260331", with: "SEATTLE,1726,0.065,0.0415,0,0.1065,20260101,20260331").utf8)
            var revisedFile = file
            revisedFile.name = "wa_dor_revised.csv"
            revisedFile.sha256 = OfficialTables.sha256(revised)
            let (v2, _) = try store.importFiles([(file: revisedFile, bytes: revised)], base: base, now: Date(timeIntervalSince1970: 1_780_000_060))
            return (v1, v2)
        }
        let server = try await TestServer.make(.sqlite, tableStore: store)
        try await server.routerApplication().test(.router) { client in
            let cookie = try #require(try await Self.signIn(client, key: server.keys[.accountant]!).cookie)
            let page = try await Self.get(client, "/console/tables?from=\(v1.id)&to=\(v2.id)", cookie: cookie)
            #expect(page.status == 200 && page.text.contains("1 added, 1 removed"), "\(page.text.suffix(1500))")
            let diff = page.text.components(separatedBy: "<pre class=\"diff\">").last ?? ""
            #expect(diff.contains("  - ") && diff.contains("  + ") && diff.contains("1726"), "\(diff.prefix(600))")
            #expect(try await Self.get(client, "/console/tables?from=../../etc&to=\(v2.id)", cookie: cookie).status == 400)
            let unknownTo = try await Self.get(client, "/console/tables?from=shipped&to=nope", cookie: cookie)
            #expect(unknownTo.status == 400 && unknownTo.text.contains("to:") && !unknownTo.text.contains("from:"), "\(unknownTo.text.suffix(400))")
        }
    }

    /// Posts a multipart form with text fields and one file.
    static func postMultipart(_ client: some TestClientProtocol, _ uri: String, cookie: String, fields: [String: String],
                              file: (field: String, name: String, bytes: [UInt8])) async throws -> Page {
        let boundary = "----levy-test-\(UUID().uuidString)"
        var body: [UInt8] = []
        for (name, value) in fields {
            body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8)
        }
        body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(file.field)\"; filename=\"\(file.name)\"\r\nContent-Type: application/x-tar\r\n\r\n".utf8)
        body += file.bytes + Array("\r\n--\(boundary)--\r\n".utf8)
        var headers = HTTPFields()
        headers[.cookie] = cookie
        headers[.contentType] = "multipart/form-data; boundary=\(boundary)"
        return try await client.execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(bytes: body)) {
            Page(status: Int($0.status.code), headers: $0.headers, text: String(buffer: $0.body))
        }
    }

    @Test("a downloaded export archive uploaded to the console verifies; a changed byte or a path out of the folder does not")
    func verifyUploadedArchive() async throws {
        let server = try await TestServer.make(.sqlite)
        let executor = try #require(server.api.services.exports)
        try await server.routerApplication().test(.router) { client in
            let accountant = server.keys[.accountant]!
            let started = try await client.send(.post, "/v1/exports", key: accountant, body: #"{"kind": "liability", "from": "2026-01-01", "through": "2026-12-31"}"#)
            let id = try #require(started.string("id"))
            #expect(try await executor.runQueued() == 1)
            let archive = try await ExportJobAPITests.bytes(client, "/v1/exports/\(id)/download", key: accountant).bytes
            let cookie = try #require(try await Self.signIn(client, key: accountant).cookie)
            let csrf = try #require(try await Self.get(client, "/console/exports", cookie: cookie).hidden("csrf"))
            let good = try await Self.postMultipart(client, "/console/exports/verify", cookie: cookie, fields: ["csrf": csrf],
                                                    file: ("archive", "\(id).tar", archive))
            #expect(good.status == 200 && good.text.contains("\(id).tar: verified."), "\(good.text.suffix(800))")
            var changed = archive
            changed[512 + 3] ^= 0x01   // a byte of the first file (liability.csv)
            let bad = try await Self.postMultipart(client, "/console/exports/verify", cookie: cookie, fields: ["csrf": csrf], file: ("archive", "x.tar", changed))
            #expect(bad.status == 422 && bad.text.contains("NOT verified"))
            // The upload's name is the uploader's text: a card number there does not come back in the page.
            let named = try await Self.postMultipart(client, "/console/exports/verify", cookie: cookie, fields: ["csrf": csrf],
                                                     file: ("archive", "4242 4242 4242 4242.tar", changed))
            #expect(named.status == 422 && named.text.contains("[digits removed].tar: NOT verified") && !named.text.contains("4242 4242"))
            // An archive naming a file outside its folder is refused before anything is written.
            var escaping = archive
            let evil = Array("../../tmp/evil.csv".utf8)
            for i in 0..<100 { escaping[i] = i < evil.count ? evil[i] : 0 }
            let refused = try await Self.postMultipart(client, "/console/exports/verify", cookie: cookie, fields: ["csrf": csrf], file: ("archive", "e.tar", escaping))
            #expect(refused.status == 422 && refused.text.contains("cannot be read"))
            #expect(!FileManager.default.fileExists(atPath: "/tmp/evil.csv"))
            #expect(try await Self.postMultipart(client, "/console/exports/verify", cookie: cookie, fields: [:], file: ("archive", "x.tar", archive)).status == 403)
        }
    }
}
