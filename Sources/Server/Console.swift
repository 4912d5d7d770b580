import Exports
import Foundation
import HTTPTypes
import Hummingbird
import JSONInput
import Logging
import Merchants
import NIOCore
import Orders
import Reconciliation
import Storage
import TaxCore
import TaxTables

/// The accountants' and operators' console at `/console`: server-rendered pages over the same services as the
/// API (liability, transactions with their evidence, export jobs, nexus, tables, disclosures). Signed in with an
/// API key of the accountant, reconciler or admin scope into a session cookie; every form carries the session's
/// CSRF token; nothing loads from elsewhere and no page needs JavaScript. A key's scope limits what it sees: only
/// `admin` sees customer ids and street addresses, and each such view is recorded in the disclosure log.
extension LevyAPI {
    static let consoleScopes: Set<Scope> = [.accountant, .reconciler, .admin]
    static let sessionCookie = "levy_console"
    static let signInCookie = "levy_console_signin"

    /// Who is looking at a page: the session, its key, and the cookie's session id (for sign-out).
    struct ConsoleCaller: Sendable {
        var sessionID: String
        var session: ConsoleSessionStore.Session
        var key: APIKey
        var sees: Bool { key.scopes.contains(.admin) }
    }

    struct ConsolePage {
        var status: HTTPResponse.Status = .ok
        var template: String
        var title: String
        var context: [String: Any] = [:]
    }

    /// Adds the console's pages and returns each route with the method it was added for.
    func addConsole(to router: Router<LevyRequestContext>) -> [(path: String, method: HTTPRequest.Method)] {
        var added: [(path: String, method: HTTPRequest.Method)] = []
        func on(_ route: ConsoleRoute, _ method: HTTPRequest.Method,
                _ handler: @escaping @Sendable (Request, LevyRequestContext) async throws -> Response) {
            added.append((route.rawValue, method))
            guard method == .post else {
                router.on(route.routerPath, method: method, use: handler)
                return
            }
            router.on(route.routerPath, method: method) { request, context in
                // Before the tokens, and before anything is read: a browser's post from another site is refused
                // (login CSRF: a sign-in token pair planted by a sibling site is of no use from that site's page).
                guard !Self.isCrossOrigin(request) else {
                    return Self.html(ConsoleViews.render("cross-origin", ["style": ConsoleViews.style]), status: .forbidden)
                }
                return try await handler(request, context)
            }
        }
        on(.home, .get) { _, _ in Self.redirect("/console/liability") }
        on(.signIn, .get) { request, _ in signInPage(request, error: nil) }
        on(.signIn, .post) { request, context in await signIn(request, context: context) }
        // Every other page runs on the API of the signed-in key's merchant (its stores, its profile): `api` below.
        on(.signOut, .post) { request, _ in
            await consolePage(request, form: true) { api, caller, _ in
                try await api.services.consoleSessions.close(caller.sessionID)
                throw ConsoleRedirect(location: "/console/sign-in", clearSession: true)
            }
        }
        on(.liability, .get) { request, _ in
            await consolePage(request, takes: ["from", "through", "period", "state"]) { api, _, _ in try await api.liabilityPage(request) }
        }
        on(.transactions, .get) { request, _ in
            await consolePage(request, takes: ["id", "from", "through", "state", "jurisdiction", "customer"]) { api, caller, _ in
                try await api.transactionsPage(request, caller)
            }
        }
        on(.transaction, .get) { request, context in
            // A HEAD shows nothing, so it discloses nothing and is not recorded as a view.
            await consolePage(request) { api, caller, _ in
                try await api.transactionPage(context.parameters.get("order_id") ?? "", caller, recordsView: request.method != .head)
            }
        }
        on(.exports, .get) { request, _ in
            await consolePage(request) { api, caller, _ in try await api.exportsPage(caller, notice: nil, error: nil) }
        }
        on(.exports, .post) { request, _ in
            await consolePage(request, form: true) { api, caller, form in try await api.startExport(form, caller) }
        }
        on(.verifyExport, .post) { request, _ in await consoleHandler(request) { api, caller in await api.consoleVerify(request, caller) } }
        on(.exportDownload, .get) { request, context in
            let id = context.parameters.get("export_id") ?? ""
            return await consoleHandler(request) { api, caller in await api.consoleDownload(id: id, key: caller.key) }
        }
        on(.reconciliations, .get) { request, _ in
            await consolePage(request) { api, _, _ in try await api.reconciliationsPage(notice: nil, error: nil) }
        }
        on(.reconciliations, .post) { request, _ in await consoleHandler(request) { api, caller in await api.consoleUpload(request, caller) } }
        on(.reconciliation, .get) { request, context in
            await consolePage(request, takes: ["reason"]) { api, _, _ in
                try await api.reconciliationPage(context.parameters.get("run_id") ?? "", request: request)
            }
        }
        on(.reconciliationDownload, .get) { request, context in
            let id = context.parameters.get("run_id") ?? ""
            return await consoleHandler(request) { api, _ in await api.consoleRunDownload(id: id) }
        }
        on(.nexus, .get) { request, _ in
            await consolePage(request, takes: ["year"]) { api, _, _ in try await api.nexusPage(request) }
        }
        on(.tables, .get) { request, _ in
            await consolePage(request, takes: ["from", "to"]) { api, _, _ in try api.tablesPage(request) }
        }
        on(.disclosures, .get) { request, _ in
            await consolePage(request) { api, _, _ in try await api.disclosuresPage() }
        }
        return added
    }

    /// Runs a handler that reads the request itself (an upload, a download) for a signed-in caller, on the API of
    /// its key's merchant, with the session read once. No session, or a key whose merchant the store no longer
    /// knows, is sent to sign in, as pages are: such a request never runs on the home merchant's API.
    func consoleHandler(_ request: Request, _ body: (LevyAPI, ConsoleCaller) async -> Response) async -> Response {
        do {
            guard let caller = try await consoleCaller(request) else { return Self.redirect("/console/sign-in") }
            let api: LevyAPI
            do { api = try await scoped(for: caller.key).api } catch let error as APIError where error.status == .unauthorized {
                return Self.redirect("/console/sign-in")
            }
            return await body(api, caller)
        } catch {
            return Self.html("<!doctype html><title>Levy console</title><p>Something went wrong; the request id is in the server log.</p>",
                             status: .internalServerError)
        }
    }

    // MARK: - Sessions

    struct ConsoleRedirect: Error {
        var location: String
        var clearSession = false
    }

    static func redirect(_ location: String, cookies: [String] = []) -> Response {
        var headers = HTTPFields()
        headers[.location] = location
        headers[.cacheControl] = "no-store"
        for cookie in cookies { headers.append(HTTPField(name: .setCookie, value: cookie)) }
        return Response(status: .seeOther, headers: headers)
    }

    func cookie(_ name: String, value: String, maxAge: Int?) -> String {
        var text = "\(name)=\(value); Path=/console; HttpOnly; SameSite=Strict"
        if let maxAge { text += "; Max-Age=\(maxAge)" }
        if secureCookies { text += "; Secure" }
        return text
    }

    /// Whether a browser sent this request from a page of another origin. Browsers say where a request comes from
    /// in `Sec-Fetch-Site` (only `same-origin`, or `none` for one the user started, pass: `same-site` is a sibling
    /// host, which may set cookies for this one); older ones only in `Origin`, compared with `Host` (behind a proxy
    /// that rewrites `Host`, such browsers are refused: the proxy should pass it on). A client that sends neither is
    /// not a browser acting for someone else and is held to the tokens alone.
    static func isCrossOrigin(_ request: Request) -> Bool {
        if let site = request.headers[secFetchSite] {
            return site != "same-origin" && site != "none"
        }
        guard let origin = request.headers[.origin] else { return false }
        guard let schemeEnd = origin.range(of: "://"), let host = request.head.authority else { return true }
        return origin[schemeEnd.upperBound...].lowercased() != host.lowercased()
    }

    static let secFetchSite = HTTPField.Name("Sec-Fetch-Site")!

    static func cookieValue(_ request: Request, _ name: String) -> String? {
        for header in request.headers[values: .cookie] {
            for part in header.split(separator: ";") {
                let pair = part.trimmingCharacters(in: .whitespaces)
                if pair.hasPrefix(name + "=") { return String(pair.dropFirst(name.count + 1)) }
            }
        }
        return nil
    }

    /// The sign-in form, with a CSRF token bound to a short-lived cookie of its own (there is no session yet).
    func signInPage(_ request: Request, error: String?, status: HTTPResponse.Status = .ok) -> Response {
        let token = services.consoleSessions.signInToken()
        let html = ConsoleViews.render("sign-in", ["style": ConsoleViews.style, "csrf": token, "error": error as Any])
        return Self.html(html, status: status, cookies: [cookie(Self.signInCookie, value: token, maxAge: 900)])
    }

    func signIn(_ request: Request, context: LevyRequestContext) async -> Response {
        do {
            let form = try await Self.form(request)
            // The form's token must equal its cookie (double submit) and be one this server issued: a token anyone
            // could choose (an empty one, or "x" in both) would let whoever can set a cookie sign a browser in.
            guard let expected = Self.cookieValue(request, Self.signInCookie), let given = form["csrf"],
                  APIKeyStore.constantTimeEqual(expected, given), services.consoleSessions.isSignInToken(given) else {
                return signInPage(request, error: "csrf: the sign-in form expired or did not come from this console; try again.", status: .forbidden)
            }
            let presented = (form["key"] ?? "").trimmingCharacters(in: .whitespaces)
            let key: APIKey
            do { key = try await verifyKey(presented, client: context.clientAddress) } catch is Throttled {
                return signInPage(request, error: "key: too many failed sign-ins; wait a minute.", status: .tooManyRequests)
            } catch let error as APIError where error.status == .unauthorized {
                return signInPage(request, error: "key: that key is not valid.", status: .unauthorized)
            }
            guard !key.scopes.isDisjoint(with: Self.consoleScopes) else {
                return signInPage(request, error: "key: that key has no accountant, reconciler or admin scope.", status: .forbidden)
            }
            let (id, _) = try await services.consoleSessions.open(keyID: key.id)
            return Self.redirect("/console/liability", cookies: [cookie(Self.sessionCookie, value: id, maxAge: Int(ConsoleSessionStore.absoluteLifetime)),
                                                                 cookie(Self.signInCookie, value: "", maxAge: 0)])
        } catch let refusal as APIError {
            // The form's own refusals (a field twice, bytes that are not UTF-8) name the field.
            return signInPage(request, error: refusal.fieldAndMessage, status: refusal.status)
        } catch {
            return signInPage(request, error: "The sign-in form could not be read.", status: .badRequest)
        }
    }

    /// The caller of a console page, or nil (no session, an expired one, or its key revoked or without the scope).
    func consoleCaller(_ request: Request) async throws -> ConsoleCaller? {
        guard let id = Self.cookieValue(request, Self.sessionCookie), let session = try await services.consoleSessions.session(id) else { return nil }
        guard let key = try? await services.keys.key(session.keyID), key.revoked == nil, !key.scopes.isDisjoint(with: Self.consoleScopes) else {
            try await services.consoleSessions.close(id)
            return nil
        }
        return ConsoleCaller(sessionID: id, session: session, key: key)
    }

    /// Runs a page for a signed-in caller; a form post must carry the session's CSRF token. Renders the page in the
    /// layout, or an error page; never a stack trace.
    /// `body` gets the API of the caller's merchant.
    func consolePage(_ request: Request, form isForm: Bool = false, takes parameters: Set<String> = [],
                     _ body: (LevyAPI, ConsoleCaller, [String: String]) async throws -> ConsolePage) async -> Response {
        do {
            guard let caller = try await consoleCaller(request) else { return Self.redirect("/console/sign-in") }
            let api: LevyAPI
            // A key whose merchant the store no longer knows signs in nowhere.
            do { api = try await scoped(for: caller.key).api } catch let error as APIError where error.status == .unauthorized {
                return Self.redirect("/console/sign-in")
            }
            var form: [String: String] = [:]
            if isForm {
                // A form sent as something else, or too large to read, is the client's error, answered on a page.
                do { form = try await Self.form(request) } catch {
                    let refusal = APIError.from(error) ?? APIError(.badRequest, "invalid_form", "the form could not be read (at most 64 KiB)")
                    let message = refusal.fieldAndMessage
                    return render(ConsolePage(status: refusal.status, template: "message", title: "Refused", context: ["error": message]),
                                  caller, merchant: nil)
                }
                guard let token = form["csrf"], APIKeyStore.constantTimeEqual(token, caller.session.csrf) else {
                    return render(ConsolePage(status: .forbidden, template: "message", title: "Refused",
                                              context: ["error": "This form did not carry the console's token (it expired, or it did not come from this console)."]),
                                  caller, merchant: nil)
                }
            }
            let merchant = (try? await api.profiles.current(api.services).merchant?.legalName) ?? nil
            do {
                try Self.takesOnly(request, parameters)
                return render(try await body(api, caller, form), caller, merchant: merchant)
            } catch let redirect as ConsoleRedirect {
                return Self.redirect(redirect.location, cookies: redirect.clearSession ? [cookie(Self.sessionCookie, value: "", maxAge: 0)] : [])
            } catch let error as APIError {
                // The refusal names the field, as the API's does.
                return render(ConsolePage(status: error.status, template: "message", title: "Not shown", context: ["error": error.fieldAndMessage]), caller,
                              merchant: merchant)
            }
        } catch {
            return Self.html("<!doctype html><title>Levy console</title><p>Something went wrong; the request id is in the server log.</p>",
                             status: .internalServerError)
        }
    }

    func render(_ page: ConsolePage, _ caller: ConsoleCaller, merchant: String?) -> Response {
        let items = [("Liability", "/console/liability"), ("Transactions", "/console/transactions"), ("Exports", "/console/exports"),
                     ("Reconciliation", "/console/reconciliations"), ("Nexus", "/console/nexus"), ("Tables", "/console/tables"), ("Disclosures", "/console/disclosures")]
        var context = page.context
        context["style"] = ConsoleViews.style
        context["title"] = page.title
        context["csrf"] = caller.session.csrf
        context["keyID"] = caller.key.id
        context["scopes"] = caller.key.scopes.sorted().map(\.rawValue).joined(separator: ", ")
        context["merchant"] = merchant ?? ""
        context["nav"] = items.map { ["label": $0.0, "href": $0.1, "current": page.title.hasPrefix($0.0)] as [String: Any] }
        return Self.html(ConsoleViews.render(page.template, context), status: page.status)
    }

    static func html(_ text: String, status: HTTPResponse.Status, cookies: [String] = []) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        // Nothing from elsewhere, no script, no framing; forms post only here.
        headers[HTTPField.Name("Content-Security-Policy")!] =
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        for cookie in cookies { headers.append(HTTPField(name: .setCookie, value: cookie)) }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// An `application/x-www-form-urlencoded` body of at most 64 KiB, as name -> value (the last of a repeated name).
    static func form(_ request: Request) async throws -> [String: String] {
        guard request.headers[.contentType]?.lowercased().hasPrefix("application/x-www-form-urlencoded") == true else {
            throw APIError(.unsupportedMediaType, "unsupported_media_type", "console forms are sent as application/x-www-form-urlencoded")
        }
        try refuseCompressedBody(request)
        if request.headers.announcesBody(longerThan: 64 * 1_024) {
            throw APIError(.contentTooLarge, "body_too_large", "a console form is at most 64 KiB")
        }
        let buffer = try await request.body.collect(upTo: 64 * 1_024)
        var fields: [String: String] = [:]
        // Split as bytes, so that bytes that are no UTF-8, sent raw instead of percent-encoded, are refused naming their
        // field rather than repaired into U+FFFD (probe #14).
        for pair in Array(buffer.readableBytesView).split(separator: UInt8(ascii: "&")) {
            let parts = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ bytes: ArraySlice<UInt8>) -> String? {
                String(validating: bytes, as: UTF8.self)?.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
            }
            guard let name = decode(parts[0]) else { throw APIError.invalid("form", "a field name is not percent-encoded UTF-8") }
            guard let value = parts.count > 1 ? decode(parts[1]) : "" else { throw APIError.invalid(name, "is not percent-encoded UTF-8 text") }
            // One value a field: which of two a reader took would otherwise be the reader's choice.
            guard fields.updateValue(value, forKey: name) == nil else { throw APIError.invalid(name, "is given twice") }
        }
        return fields
    }

    /// Bodies are read as sent, the API's and the console's: a compressed one would be read as its compressed bytes.
    static func refuseCompressedBody(_ request: Request) throws {
        if let encoding = request.headers[.contentEncoding], encoding.trimmingCharacters(in: .whitespaces).lowercased() != "identity" {
            throw APIError(.unsupportedMediaType, "unsupported_media_type", "request bodies are not compressed: send them without Content-Encoding",
                           field: "Content-Encoding")
        }
    }

    /// A parameter of a page's query string, read as strictly as the API reads its own (probe #14: a repeated one
    /// was read as its first, a long one cut): given twice, or longer than the page reads, it is refused naming it.
    /// Empty is absent (a GET form sends its empty fields).
    static func query(_ request: Request, _ name: String, max: Int = 64) throws -> String? {
        let values = request.uri.queryParameters.getAll(name)
        guard values.count <= 1 else { throw APIError.invalid(name, "given once") }
        guard let value = values.first, !value.isEmpty else { return nil }
        guard value.count <= max else { throw APIError.invalid(name, "at most \(max) characters") }
        return value
    }

    /// Refuses a query parameter the page does not take, naming it (it was ignored).
    static func takesOnly(_ request: Request, _ names: Set<String>) throws {
        for (name, _) in request.statedQueryPairs where !names.contains(String(name)) {
            // Named back as a person reads it, never with a card number typed there by mistake.
            let shown = String(name.unicodeScalars.prefix(40).filter { $0.isASCII && $0.properties.generalCategory != .control }.map(Character.init))
            throw APIError.invalid(CardNumberMask.masked(shown), "not a parameter of this page")
        }
    }

    /// A date from the query, or `fallback`; a malformed one is an error naming the field.
    static func date(_ request: Request, _ name: String, _ fallback: String?) throws -> String? {
        guard let text = try query(request, name) else { return fallback }
        guard let date = TaxDate(iso: text) else { throw APIError.invalid(name, "a date (YYYY-MM-DD)") }
        return date.iso
    }

    var today: String { String(Timestamp.string(services.now()).prefix(10)) }

    /// A state of the query: one of the 50, DC or the territories (probe #14: `ZZ` was answered with an empty page).
    static func consoleState(_ text: String) throws -> String {
        guard let code = StateCode(text.uppercased()), MerchantService.places.contains(code.code) else {
            throw APIError.invalid("state", "a state's two-letter code (or DC, PR, GU, VI, AS, MP)")
        }
        return code.code
    }

    // MARK: - Liability

    /// Liability by period and state (or, for one state, by jurisdiction), read from the liability rollup: sums per
    /// day of the liability export's own detail rows, brought up to the ledger's head first, so its totals are the
    /// export's for the same entries.
    func liabilityPage(_ request: Request) async throws -> ConsolePage {
        guard let exporter = services.exports?.exporter else { throw APIError(.serviceUnavailable, "exports_unavailable", "no export signing key") }
        let year = String(today.prefix(4))
        let from = try Self.date(request, "from", "\(year)-01-01") ?? "\(year)-01-01"
        let through = try Self.date(request, "through", "\(year)-12-31") ?? "\(year)-12-31"
        guard from <= through else { throw APIError.invalid("through", "on or after from") }
        guard let period = LiabilitySummary.Period(rawValue: try Self.query(request, "period") ?? "month") else {
            throw APIError.invalid("period", "month or quarter")
        }
        let state = try Self.query(request, "state").map(Self.consoleState)
        guard let start = TaxDate(iso: from), let end = TaxDate(iso: through) else { throw APIError.invalid("from", "a date") }
        let rollup = exporter.liabilityRollup
        try await rollup.catchUpToHead()
        let (throughSeq, months) = try await rollup.months(from: start, through: end, state: state)
        struct Sum { var gross: Int64 = 0, exempt: Int64 = 0, taxable: Int64 = 0, collected: Int64 = 0, refunded: Int64 = 0 }
        var sums: [String: Sum] = [:], byGroup: [String: Int64] = [:], byPeriod: [String: Int64] = [:]
        var total = Sum()
        var rows: Int64 = 0
        // Sums of stored values: checked, so that an impossible store answers an error instead of trapping.
        func add(_ sum: inout Int64, _ value: Int64) throws { sum = try CheckedMoney.add(sum, value) }
        for month in months {
            let label = period.label(month.month)
            let group = state == nil ? month.state
                : "\(month.jurisdictionName.isEmpty ? month.jurisdictionCode : month.jurisdictionName) (\(month.jurisdictionLevel) \(month.jurisdictionCode))"
            let key = label + "\u{1F}" + group
            var sum = sums[key] ?? Sum()
            if month.documentType == "refund" {
                try add(&sum.refunded, month.sums.tax)
            } else {
                try add(&sum.gross, month.sums.gross)
                try add(&sum.exempt, month.sums.exempt)
                try add(&sum.taxable, month.sums.taxable)
                try add(&sum.collected, month.sums.tax)
            }
            sums[key] = sum
            try add(&byGroup[group, default: 0], month.sums.tax)
            try add(&byPeriod[label, default: 0], month.sums.tax)
            try add(&rows, month.sums.entries)
        }
        var tableRows: [[String: Any]] = []
        for (key, sum) in sums.sorted(by: { $0.key < $1.key }) {
            let parts = key.split(separator: "\u{1F}", maxSplits: 1).map(String.init)
            try add(&total.gross, sum.gross); try add(&total.exempt, sum.exempt); try add(&total.taxable, sum.taxable)
            try add(&total.collected, sum.collected); try add(&total.refunded, sum.refunded)
            var row: [String: Any] = ["period": parts[0], "group": parts[1], "gross": ConsoleFormat.money(sum.gross), "exempt": ConsoleFormat.money(sum.exempt),
                                      "taxable": ConsoleFormat.money(sum.taxable), "collected": ConsoleFormat.money(sum.collected),
                                      "refunded": ConsoleFormat.money(sum.refunded), "net": ConsoleFormat.money(try CheckedMoney.add(sum.collected, sum.refunded))]
            if state == nil { row["href"] = "/console/liability?from=\(from)&through=\(through)&period=\(period.rawValue)&state=\(parts[1])" }
            tableRows.append(row)
        }
        let context: [String: Any] = [
            "from": from, "through": through, "monthly": period == .month, "state": state as Any,
            "back": "/console/liability?from=\(from)&through=\(through)&period=\(period.rawValue)",
            "groupLabel": state == nil ? "State" : "Jurisdiction", "rows": tableRows, "rowCount": rows, "ledgerHead": throughSeq,
            "total": ["gross": ConsoleFormat.money(total.gross), "exempt": ConsoleFormat.money(total.exempt), "taxable": ConsoleFormat.money(total.taxable),
                      "collected": ConsoleFormat.money(total.collected), "refunded": ConsoleFormat.money(total.refunded),
                      "net": ConsoleFormat.money(try CheckedMoney.add(total.collected, total.refunded))],
            "chartByGroup": ConsoleChart.bars(title: "Net tax due by \(state == nil ? "state" : "jurisdiction")",
                                              byGroup.sorted { $0.value > $1.value }.map { (label: $0.key, cents: $0.value) }),
            "chartByPeriod": ConsoleChart.bars(title: "Net tax due by \(period.rawValue)", byPeriod.sorted { $0.key < $1.key }.map { (label: $0.key, cents: $0.value) }),
        ]
        return ConsolePage(template: "liability", title: "Liability" + (state.map { ": \($0)" } ?? ""), context: context)
    }

    // MARK: - Transactions

    func transactionsPage(_ request: Request, _ caller: ConsoleCaller) async throws -> ConsolePage {
        func code(_ name: String, _ allowed: (UInt8) -> Bool, max: Int) throws -> String? {
            guard let text = try Self.query(request, name, max: 200) else { return nil }
            guard text.utf8.count <= max, text.utf8.allSatisfy(allowed) else { throw APIError.invalid(name, "not a value this search knows") }
            return text
        }
        let idChars: (UInt8) -> Bool = { (48...57).contains($0) || (97...122).contains($0) || $0 == 95 }
        var search = OrderReader.OrderSearch(idPrefix: try code("id", idChars, max: 40), from: try Self.date(request, "from", nil),
                                             through: try Self.date(request, "through", nil))
        if let from = search.from, let through = search.through, from > through {
            throw APIError.invalid("through", "on or after from")
        }
        search.state = try Self.query(request, "state").map(Self.consoleState)
        search.jurisdiction = try code("jurisdiction", { (48...57).contains($0) || (65...90).contains($0) || (97...122).contains($0) || $0 == 45 || $0 == 95 }, max: 40)
        let pseudonym = try code("customer", { (48...57).contains($0) || (97...122).contains($0) || $0 == 95 }, max: 40)
        let limit = 100
        var orders = try await services.orders.reader.searchOrders(search, limit: pseudonym == nil ? limit : 500)
        if let pseudonym { orders = orders.filter { $0.customerID.map(consolePseudonym) == pseudonym || (caller.sees && $0.customerID == pseudonym) } }
        let rows: [[String: Any]] = orders.prefix(limit).map { order in
            ["id": order.id.value, "taxDate": order.taxDate, "status": order.status, "net": ConsoleFormat.money(order.totalAmount),
             "tax": ConsoleFormat.money(order.totalTax), "refunds": order.refunds,
             "customer": order.customerID.map { caller.sees ? $0 : consolePseudonym($0) } ?? "guest"]
        }
        // The search's terms go back into the form, masked: an operator who typed a card number gets it back removed.
        let shown: [String: String] = ["id": search.idPrefix ?? "", "from": search.from ?? "", "through": search.through ?? "", "state": search.state ?? "",
                                       "jurisdiction": search.jurisdiction ?? "", "customer": pseudonym ?? ""].mapValues(CardNumberMask.masked)
        return ConsolePage(template: "transactions", title: "Transactions", context: ["orders": rows, "search": shown, "limit": limit])
    }

    /// A customer's pseudonym in the console: stable for this installation (keyed by the order keys, which come
    /// from the master key), unlinkable to the id without that key.
    func consolePseudonym(_ customerID: String) -> String {
        "anon_" + services.orders.keys.pseudonym(customerID)
    }

    func transactionPage(_ id: String, _ caller: ConsoleCaller, recordsView: Bool = true) async throws -> ConsolePage {
        guard id.hasPrefix("ord_"), id.utf8.count <= 40, id.utf8.allSatisfy({ (48...57).contains($0) || (97...122).contains($0) || $0 == 95 }) else {
            throw APIError.notFound("no such order")
        }
        let order: Order
        do { order = try await services.orders.order(OrderID(id)) } catch OrderError.unknownOrder { throw APIError.notFound("no such order") }
        guard let evidence = try await services.orders.reader.evidence(of: order.id) else { throw APIError.notFound("no such order") }
        let entries = try await services.orders.reader.ledgerEntries(of: order.id)
        // Street and city only for admin keys, and recorded; others see the state and ZIP the tax was sourced to.
        func place(_ text: String?) -> String {
            guard let text, !text.isEmpty else { return "–" }
            let parts = text.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 4 else { return caller.sees ? text : "(recorded)" }
            return caller.sees ? parts.filter { !$0.isEmpty }.joined(separator: ", ") : "\(parts[2]) \(parts[3])"
        }
        var disclosure: String?
        if caller.sees, recordsView, order.customerID != nil || (evidence.billing ?? "").contains("|") {
            disclosure = try await services.exports?.exporter.log.recordView(by: "api-key:" + caller.key.id, reason: "console: order evidence",
                                                                             shown: "order \(order.id.value): customer id and addresses")
        }
        let lines: [[String: Any]] = evidence.lines.map { line in
            let frozen = order.lines.first { $0.number == Int(line.number) }
            return ["number": line.number, "code": line.code.rawValue, "fulfilment": line.fulfilment.rawValue, "quantity": line.quantity,
                    "amount": ConsoleFormat.money(line.amount), "discount": ConsoleFormat.money(line.discount), "sourcedTo": line.sourcedTo,
                    "sourcingRule": line.sourcingRule.rawValue, "taxType": line.taxType as Any,
                    "taxability": line.taxabilityRule ?? "–", "exempt": ConsoleFormat.money(line.exempt), "exemptReason": line.exemptReason as Any,
                    "certificate": line.certificate as Any, "notCollecting": line.notCollecting as Any, "tax": ConsoleFormat.money(line.tax),
                    "taxes": (frozen?.taxes ?? []).map { tax in
                        ["code": tax.jurisdictionCode, "level": tax.level, "name": tax.name, "rate": tax.rate,
                         "taxable": ConsoleFormat.money(tax.taxable), "tax": ConsoleFormat.money(tax.tax)] as [String: Any]
                    }]
        }
        let ledger: [[String: Any]] = entries.map { entry in
            ["seq": entry.seq, "kind": entry.kind, "refund": entry.refundID as Any, "line": entry.line, "code": entry.jurisdictionCode, "rate": entry.rate,
             "taxable": ConsoleFormat.money(entry.taxable), "tax": ConsoleFormat.money(entry.tax), "hash": entry.hash]
        }
        let header: [String: Any] = [
            "status": order.shownStatus, "taxDate": order.taxDate.iso, "net": ConsoleFormat.money(order.totalAmount), "tax": ConsoleFormat.money(order.totalTax),
            "tableVersion": order.tableVersion, "rounding": order.rounding.rawValue,
            "customer": order.customerID.map { caller.sees ? $0.value : consolePseudonym($0.value) } ?? "guest",
            "registrations": evidence.registrations ?? "–", "origin": place(evidence.origin), "destination": place(evidence.destination),
            "billing": place(evidence.billing ?? order.billingAddress),
            "elections": evidence.elections.isEmpty ? "none" : evidence.elections.map { "\($0.state) \($0.type)" }.joined(separator: ", "),
        ]
        return ConsolePage(template: "transaction", title: "Transactions: order \(order.id.value)",
                           context: ["order": header, "lines": lines, "ledger": ledger, "personal": disclosure as Any])
    }

    // MARK: - Exports

    func exportsPage(_ caller: ConsoleCaller, notice: String?, error: String?, status: HTTPResponse.Status = .ok) async throws -> ConsolePage {
        let jobs = try await services.exports?.jobs.list(limit: 50) ?? []
        let rows: [[String: Any]] = jobs.map { job in
            ["id": job.id, "kind": job.kind.rawValue, "personal": job.parameters.personalData, "from": job.parameters.from, "through": job.parameters.through,
             "status": job.status.rawValue, "error": job.error as Any, "rows": job.rows, "created": job.created,
             "download": job.status == .succeeded && job.filesRemoved == nil ? "/console/exports/\(job.id)/download" as Any : NSNull(),
             "files": job.manifest.map { $0.files.map(\.name).joined(separator: ", ") } ?? "",
             "removed": job.filesRemoved as Any]
        }
        let busy = jobs.contains { $0.status == .queued || $0.status == .running }
        let year = String(today.prefix(4))
        var context: [String: Any] = ["available": services.exports != nil, "jobs": rows, "from": "\(year)-01-01", "through": today,
                                      "signingKey": services.exports?.exporter.signingKey.keyID ?? "", "notice": notice as Any, "error": error as Any]
        // While a job runs the page reloads itself every 3 seconds (no script needed).
        if busy { context["refresh"] = 3 }
        return ConsolePage(status: status, template: "exports", title: "Exports", context: context)
    }

    func startExport(_ form: [String: String], _ caller: ConsoleCaller) async throws -> ConsolePage {
        let exports = try exportJobs()
        if form["personal_data"] == "true", !caller.sees {
            return try await exportsPage(caller, notice: nil, error: "personal_data: an export with customer ids, streets and cities needs an admin key",
                                         status: .forbidden)
        }
        // The form's checkbox sends "true" or nothing; anything else is not a choice to guess at.
        guard [nil, "", "true", "false"].contains(form["personal_data"]) else {
            return try await exportsPage(caller, notice: nil, error: "personal_data: true or false", status: .badRequest)
        }
        var body: [String: Any] = ["kind": form["kind"] ?? "", "from": form["from"] ?? "", "through": form["through"] ?? "",
                                   "personal_data": form["personal_data"] == "true"]
        for name in ["requested_by", "reason"] where !(form[name] ?? "").isEmpty { body[name] = form[name] }
        let bytes = try JSONSerialization.data(withJSONObject: body)
        do {
            let request = try StrictJSON.decode(ExportJobBody.self, from: Array(bytes))
            let job = try await exports.jobs.enqueue(request.kind, try await jobParameters(request), key: caller.key.id)
            return try await exportsPage(caller, notice: "Started \(job.id); this page follows it.", error: nil)
        } catch let error as APIError {
            return try await exportsPage(caller, notice: nil, error: error.fieldAndMessage,
                                         status: error.status)
        } catch let error as ExportJobStore.JobError {
            return try await exportsPage(caller, notice: nil, error: error.description, status: .tooManyRequests)
        }
    }

    /// The archive of a finished job, for a signed-in caller.
    func consoleDownload(id: String, key: APIKey) async -> Response {
        await consoleArchive { try await exportArchive(id, key: key) }
    }

    /// A download for a signed-in caller (`consoleHandler`): the archive, or its error as a short page with the
    /// error's status.
    func consoleArchive(_ archive: () async throws -> (TarArchive, String)) async -> Response {
        do {
            let (tar, name) = try await archive()
            return Self.tarResponse(tar, fileName: name)
        } catch let error as APIError {
            return Self.html("<!doctype html><p>\(ConsoleChart.escape(error.message))</p>", status: error.status)
        } catch {
            return Self.html("<!doctype html><p>The files are not available.</p>", status: .internalServerError)
        }
    }

    /// An archive streamed from its files with its length announced; a file that changed under it ends the response
    /// early (the client sees a short body, never a wrong one).
    static func tarResponse(_ archive: TarArchive, fileName: String, headers extra: HTTPFields = [:]) -> Response {
        var headers = extra
        headers[.contentType] = "application/x-tar"
        headers[.contentDisposition] = "attachment; filename=\"\(fileName)\""
        headers[.cacheControl] = "no-store"
        // As on the console's pages: a browser is not to guess another type than the archive's.
        headers[.xContentTypeOptions] = "nosniff"
        return Response(status: .ok, headers: headers, body: ResponseBody(contentLength: archive.size) { writer in
            try await archive.write { piece in try await writer.write(ByteBuffer(bytes: piece)) }
            try await writer.finish(nil)
        })
    }

    // MARK: - Nexus, tables, disclosures

    func nexusPage(_ request: Request) async throws -> ConsolePage {
        guard let thresholds = nexusThresholds else {
            throw APIError(.serviceUnavailable, "nexus_thresholds_unavailable", "this server was started without the nexus thresholds (nexus.csv)")
        }
        let thisYear = Int(today.prefix(4)) ?? 2026
        // The API's bounds and words: a year out of range is refused, not shown as another year.
        var year = thisYear
        if let text = try Self.query(request, "year") {
            // Four digits, as the API takes it (probe #21: `02026` and `+2026` were read as 2026 here only).
            guard text.utf8.count == 4, text.utf8.allSatisfy({ (48...57).contains($0) }), let given = Int(text), (2000...2100).contains(given) else {
                throw APIError.invalid("year", "a year from 2000 to 2100")
            }
            year = given
        }
        guard let asOf = TaxDate(iso: year == thisYear ? today : "\(year)-12-31") else { throw APIError.invalid("year", "a year") }
        var registered: Set<StateCode>?
        var source = "as given"
        if let profile = try await profiles.current(services).merchant, !profile.registrations.isEmpty {
            registered = profile.registeredStates(on: asOf)
            source = profile.registrationSource(on: asOf)
        }
        let report = try await NexusReport.compute(service: services.orders, year: year, asOf: asOf, thresholds: thresholds, registered: registered,
                                                   registeredSource: source, nearPercent: 80)
        let rows: [[String: Any]] = report.rows.sorted { ($0.alert ? 0 : 1, $0.state.code) < ($1.alert ? 0 : 1, $1.state.code) }.map { row in
            ["alert": row.alert, "fields": report.fields(row)]
        }
        return ConsolePage(template: "nexus", title: "Nexus", context: ["year": year, "asOf": asOf.iso, "digest": thresholds.digest,
                                                                         "registrations": report.registrationsNote, "columns": NexusReport.columns,
                                                                         "rows": rows])
    }

    func tablesPage(_ request: Request) throws -> ConsolePage {
        let sources: [[String: Any]] = services.tables.verifiedThrough.sorted { $0.key < $1.key }.map { name, date in
            ["name": name, "through": date.iso, "stale": date.iso < today]
        }
        let versions: [[String: Any]] = ((try? services.tableStore?.versions()) ?? []).map { version in
            ["id": version.id, "created": version.created, "parent": version.parent ?? "–",
             "files": version.files.map { "\($0.kind.rawValue) \($0.state) \($0.name)" }.joined(separator: "; ")]
        }
        var context: [String: Any] = ["inUse": services.tables.version, "current": services.tableStore?.currentID() as Any,
                                      "sources": sources, "versions": versions, "today": today, "hasVersions": !versions.isEmpty,
                                      "choices": (["shipped"] + versions.compactMap { $0["id"] as? String }).map { ["id": $0] }]
        // A diff between two versions (or the shipped tables): the rate and boundary rows added and removed.
        if let from = try Self.query(request, "from", max: 200), let to = try Self.query(request, "to", max: 200), let store = services.tableStore {
            // Each side named as the one at fault (probe #21: an unknown `to` was blamed on `from`).
            func files(_ id: String, _ field: String) throws -> [(OfficialFile, [UInt8])] {
                do { return try store.officialFiles(id) } catch { throw APIError.invalid(field, "a version of this store (or \"shipped\")") }
            }
            let (old, new) = (try files(from, "from"), try files(to, "to"))
            do { context["diff"] = try TableDiff.diff(old: old, new: new).map { ["line": $0] } } catch {
                throw APIError.invalid("to", "versions whose files can be read together")
            }
            context["diffFrom"] = from
            context["diffTo"] = to
        }
        return ConsolePage(template: "tables", title: "Tables", context: context)
    }

    func disclosuresPage() async throws -> ConsolePage {
        let records = try await services.exports?.exporter.log.list() ?? []
        let rows: [[String: Any]] = records.reversed().map { record in
            ["id": record.id, "at": record.at, "kind": record.kind, "from": record.periodFrom, "through": record.periodThrough,
             "requestedBy": record.requestedBy, "reason": record.reason, "status": record.status]
        }
        return ConsolePage(template: "disclosures", title: "Disclosures", context: ["records": rows])
    }
}

/// The console's routes, each written once: `addConsole` registers them and `ConsoleAccessLog` names requests by them.
enum ConsoleRoute: String, CaseIterable {
    case home = "/console", signIn = "/console/sign-in", signOut = "/console/sign-out", liability = "/console/liability"
    case transactions = "/console/transactions", transaction = "/console/transactions/{order_id}"
    case exports = "/console/exports", verifyExport = "/console/exports/verify", exportDownload = "/console/exports/{export_id}/download"
    case reconciliations = "/console/reconciliations", reconciliation = "/console/reconciliations/{run_id}"
    case reconciliationDownload = "/console/reconciliations/{run_id}/download"
    case nexus = "/console/nexus", tables = "/console/tables", disclosures = "/console/disclosures"

    /// The template as the router takes it: `{order_id}` becomes `:order_id`.
    var routerPath: RouterPath {
        RouterPath(rawValue.split(separator: "/").map { $0.hasPrefix("{") ? ":" + $0.dropFirst().dropLast() : $0 }.joined(separator: "/"))
    }
}

/// The console's access log and metrics, like the API's: method, route template (`/console/transactions/{order_id}`),
/// status, time. Never a path segment as sent (an operator may search a card number by mistake, and every distinct
/// label would be a metric series kept for good), cookies, forms or query strings.
struct ConsoleAccessLog: RouterMiddleware {
    typealias Context = LevyRequestContext
    let metrics: APIMetrics

    static let routes: [[Substring]] = ConsoleRoute.allCases.map { $0.rawValue.split(separator: "/") }

    /// The route template a path matches, or `/console/unmatched`.
    static func route(of path: String) -> String {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        let match = routes.first { route in
            route.count == segments.count && zip(route, segments).allSatisfy { $0.hasPrefix("{") || $0 == $1 }
        }
        return "/" + (match ?? ["console", "unmatched"]).joined(separator: "/")
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.uri.path.hasPrefix("/console") else { return try await next(request, context) }
        let started = ContinuousClock.now
        let response = try await next(request, context)
        let route = Self.route(of: request.uri.path)
        let elapsed = ContinuousClock.now - started
        metrics.request(method: request.method.rawValue, route: route, status: response.status.code, duration: elapsed)
        context.logger.info("console request", metadata: [
            "method": .string(request.method.rawValue), "route": .string(route), "status": .stringConvertible(response.status.code),
            "duration_us": .stringConvertible(elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000),
        ])
        return response
    }
}
