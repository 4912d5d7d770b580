import Exports
import Foundation
import HTTPTypes
import Hummingbird
import JSONInput
import Logging
import Merchants
import NIOCore
import NIOHTTP1
import Orders
import Processors
import Storage
import Synchronization
import TaxCore
import TaxTables
import Vault

/// The HTTP API: the endpoint table, and one dispatcher that authenticates, checks the scope, reads the body,
/// applies idempotency, runs the handler, maps domain errors to JSON, records metrics and writes the access log.
public struct LevyAPI: Sendable {
    /// The home merchant's services; a request made with another merchant's key runs on a copy of this API whose
    /// services are that merchant's (`scoped(for:)`).
    public internal(set) var services: LevyServices
    /// The largest request body accepted; larger ones get 413.
    public let maxBodyBytes: Int
    /// The document served at `/openapi.yaml`.
    let openAPI: OpenAPIDocument
    let calculator: TaxCalculator

    /// Failed authentications per client address and per key id.
    let failedAuth: FailedAuthLimiter
    /// The merchant profile quotes and orders are completed with, read every few seconds at most.
    private(set) var profiles = ProfileCache()
    /// This API for each other merchant, with its endpoint table, made on a key's first request.
    let merchantAPIs = MerchantAPIs()
    /// The states' economic-nexus thresholds (`nexus.csv`), for `GET /v1/nexus`; nil answers 503.
    let nexusThresholds: NexusTable.Loaded?
    /// Verifies Stripe's webhook requests; nil when no webhook secret is configured (the endpoint answers 404).
    let stripeWebhook: StripeWebhook?

    /// Console cookies carry `Secure` (the server speaks TLS).
    let secureCookies: Bool

    public init(services: LevyServices, openAPI: OpenAPIDocument, maxBodyBytes: Int = 1 << 20, maxFailedAuthPerMinute: Int = 20,
                stripeWebhook: StripeWebhook? = nil, nexusThresholds: NexusTable.Loaded? = nil, secureCookies: Bool = false) {
        self.secureCookies = secureCookies
        self.services = services
        self.nexusThresholds = nexusThresholds
        self.stripeWebhook = stripeWebhook
        self.openAPI = openAPI
        self.maxBodyBytes = maxBodyBytes
        calculator = TaxCalculator(tables: services.tables)
        failedAuth = FailedAuthLimiter(limit: maxFailedAuthPerMinute, now: services.now)
    }

    /// Every endpoint, in the order of the OpenAPI document.
    var endpoints: [Endpoint] {
        operationsEndpoints + vaultEndpoints + customerEndpoints + quoteEndpoints + orderEndpoints + giftCardEndpoints + merchantEndpoints + nexusEndpoints + exportEndpoints + reconciliationEndpoints + fulfilmentEndpoints
            + tableEndpoints + ledgerEndpoints + keyEndpoints + webhookEndpoints
    }

    /// The query parameters each operation declares in the OpenAPI document, as the server enforces them.
    public var openAPIQueryParameters: [String: Set<String>] { openAPI.queryParameters }

    /// The endpoints as tests and docs see them.
    public var catalog: [EndpointDescription] { endpoints.map(\.description) }

    /// The router with every endpoint and JSON errors for unknown paths.
    public func router() -> Router<LevyRequestContext> {
        // HEAD on a GET route answers as GET would, without the body (RFC 9110, 9.3.2).
        let router = Router(context: LevyRequestContext.self, options: .autoGenerateHeadEndpoints)
        router.add(middleware: HeadResponseMiddleware())
        router.add(middleware: UnmatchedRouteMiddleware(metrics: services.metrics))
        router.add(middleware: ConsoleAccessLog(metrics: services.metrics))
        for (index, endpoint) in endpoints.enumerated() {
            router.on(RouterPath(endpoint.routerPath), method: endpoint.method) { request, context in
                await respond(endpoint, index: index, request: request, context: context)
            }
        }
        let console = addConsole(to: router)
        // Added last, so it only wraps the answer for unmatched requests (middlewares apply to routes added after them).
        router.add(middleware: MethodNotAllowedMiddleware(routes: endpoints.map { ($0.path, $0.method) } + console))
        return router
    }

    static let idempotencyKeyField = HTTPField.Name("Idempotency-Key")!
    static let requestIDField = HTTPField.Name("X-Request-Id")!
    static let replayedField = HTTPField.Name("Idempotent-Replayed")!

    /// This API as the merchant of `key` sees it: the same endpoints over that merchant's stores. A key of a
    /// merchant the store no longer knows authenticates nothing.
    func scoped(for key: APIKey?) async throws -> (api: LevyAPI, endpoints: [Endpoint]) {
        guard let merchant = key?.merchant else { return (self, []) }
        if let hit = merchantAPIs.cached(merchant) { return hit }
        let services: LevyServices
        do { services = try await self.services.scoped(to: merchant) } catch MerchantError.unknownMerchant {
            throw APIError.unauthenticated
        } catch MerchantError.invalid(field: "store_namespace", _) {
            throw APIError(.internalServerError, "stored_record_unreadable", "a stored merchant profile is unreadable; see the server log")
        }
        var copy = self
        copy.services = services
        copy.profiles = ProfileCache()
        return merchantAPIs.store(merchant, (copy, copy.endpoints))
    }

    func respond(_ endpoint: Endpoint, index: Int, request: Request, context: LevyRequestContext) async -> Response {
        let started = ContinuousClock.now
        let requestID = Self.requestID(request.headers[Self.requestIDField])
        var logger = context.logger
        logger[metadataKey: "request_id"] = .string(requestID)
        var keyID: String?
        let reply: APIReply
        var replayed = false
        var retryAfter: Int?
        var clientGone = false
        do {
            // A body announced past the endpoint's limit is refused before the key is checked, at once whatever the
            // check costs (CI under load: the key check outlasted the body's pace deadline, and a 413 came out 408).
            if let refusal = announcedTooLarge(endpoint, request.headers) {
                try await auditRefusal(endpoint, context: context, actor: "unauthenticated", outcome: "refused: body_too_large")
                throw refusal
            }
            let key: APIKey?
            do { key = try await authenticate(endpoint, request: request, client: context.clientAddress) } catch {
                if case let throttled as Throttled = error { retryAfter = throttled.seconds }
                try await auditRefusal(endpoint, context: context, actor: "unauthenticated", outcome: "refused: \(APIError.from(error)?.code ?? "error")")
                throw error
            }
            keyID = key?.id
            if let key, key.scopes.isDisjoint(with: endpoint.scopes) {
                try await auditRefusal(endpoint, context: context, actor: "api-key:" + key.id, outcome: "denied: the key lacks the scope", key: key)
                throw APIError.forbidden(anyOf: endpoint.scopes)
            }
            // GET and DELETE take no body; only POST, PUT and PATCH read one, and only as JSON.
            var body: [UInt8] = []
            try Self.refuseCompressedBody(request)
            // Chunked is the only transfer coding read; a body sent with another under it would be read as its coded bytes.
            let readsBody = endpoint.takesUpload || endpoint.method == .post || endpoint.method == .put || endpoint.method == .patch
            if readsBody, let coding = request.headers[.transferEncoding],
               coding.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces).lowercased() != "chunked" }) {
                throw APIError(.notImplemented, "unsupported_transfer_coding", "request bodies are sent as they are or chunked, with no other Transfer-Encoding",
                               field: "Transfer-Encoding")
            }
            if endpoint.takesUpload {
                // A file, streamed to disk by the handler: only its type is checked here.
                let type = request.headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
                guard type == "text/csv" else {
                    throw APIError(.unsupportedMediaType, "unsupported_media_type", "send the settlement file as Content-Type: text/csv", field: "Content-Type")
                }
            } else if endpoint.method == .post || endpoint.method == .put || endpoint.method == .patch {
                let contentType = request.headers[.contentType]
                if let contentType { try Self.checkJSONContentType(contentType) }
                do { body = try await readBody(request) } catch let error as APIError { throw error } catch is HTTPParserError {
                    throw APIError(.badRequest, "malformed_body", "the body's chunked framing cannot be read", field: "Transfer-Encoding")
                } catch {
                    clientGone = true
                    throw APIError(HTTPResponse.Status(code: 499, reasonPhrase: "Client Closed Request"), "client_closed",
                                   "the client closed the connection before the body was read")
                }
                if contentType == nil, !body.allSatisfy({ $0 == 32 || $0 == 10 || $0 == 13 || $0 == 9 }) {
                    throw APIError(.unsupportedMediaType, "unsupported_media_type", "send the body with Content-Type: application/json",
                                   field: "Content-Type")
                }
            }
            let parameters = Self.parameters(context)
            // Ids are short; a path segment longer than any id names nothing (and is not worth a query).
            if parameters.values.contains(where: { $0.utf8.count > 128 }) { throw APIError.notFound("no such resource") }
            let query = try Self.query(request, allowed: openAPI.queryParameters[endpoint.method.rawValue + " " + endpoint.path] ?? [])
            let call = APICall(body: body, parameters: parameters, query: query, key: key,
                               idempotencyKey: key.flatMap { key in request.headers[Self.idempotencyKeyField].map { key.id + "/" + services.idempotency.storedForm($0) } },
                               requestID: requestID, logger: logger, headers: request.headers,
                               upload: endpoint.takesUpload ? request.body : nil)
            // Another merchant's key runs the same endpoint on that merchant's stores.
            let scoped = try await scoped(for: key)
            let handling = scoped.endpoints.indices.contains(index) ? scoped.endpoints[index] : endpoint
            (reply, replayed) = try await runIdempotently(handling, call: call, request: request)
        } catch {
            if let throttled = error as? Throttled { retryAfter = throttled.seconds }
            // Errors of the services become API errors with their wait (a gift card reissued a moment ago: probe #12).
            if let seconds = ((error as? APIError) ?? APIError.from(error))?.retryAfter { retryAfter = seconds }
            reply = errorReply(error, requestID: requestID, logger: logger)
        }
        let elapsed = ContinuousClock.now - started
        if clientGone {
            // Not a server error: nobody is listening for the answer. Counted apart, and not as a 5xx.
            services.metrics.clientClosed(route: endpoint.path)
            logger.info("client closed the connection", metadata: ["method": .string(endpoint.method.rawValue), "route": .string(endpoint.path)])
            return Response(status: reply.status)
        }
        services.metrics.request(method: endpoint.method.rawValue, route: endpoint.path, status: reply.status.code, duration: elapsed)
        // The access log: method, route template, status, time, key id. Never bodies, paths with ids, or addresses.
        logger.info("request", metadata: [
            "method": .string(endpoint.method.rawValue), "route": .string(endpoint.path), "status": .stringConvertible(reply.status.code),
            "duration_us": .stringConvertible(elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000),
            "api_key": .string(keyID ?? "-"),
        ])
        var headers = HTTPFields()
        headers[.contentType] = reply.contentType
        headers[Self.requestIDField] = requestID
        headers[.cacheControl] = "no-store"
        if replayed { headers[Self.replayedField] = "true" }
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        if let archive = reply.archive { return Self.tarResponse(archive, fileName: reply.archiveName ?? "archive.tar", headers: headers) }
        return Response(status: reply.status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: reply.body)))
    }

    /// The key a request presents (`verifyKey`); an endpoint without scopes needs none.
    func authenticate(_ endpoint: Endpoint, request: Request, client: String) async throws -> APIKey? {
        guard !endpoint.scopes.isEmpty else { return nil }
        let presented = request.headers[.authorization].flatMap { header in
            // The scheme is case-insensitive (RFC 9110 11.1): `bearer` is `Bearer` (probe #21).
            header.utf8.count > 7 && header.prefix(7).lowercased() == "bearer " ? String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces) : nil
        }
        // No key at all is not a guess: it gets 401 and is not counted.
        guard let presented, !presented.isEmpty else { throw APIError.unauthenticated }
        return try await verifyKey(presented, client: client)
    }

    /// Checks a presented key (`Throttled` or `APIError.unauthenticated` when refused). A client address that failed
    /// too often in the last minute is refused before the key is even looked up, so guessing stays slow whatever the
    /// guesses are, unless the secret is one that authenticated here in the last hour (only a right secret can be:
    /// one client's wrong keys must not shut out the working keys of others behind the same address). Failures are
    /// counted per key id too, but a key id over the limit refuses only wrong secrets (429 instead of 401): key ids
    /// are not secret, and whoever knows one must not lock its holder out.
    func verifyKey(_ presented: String, client: String) async throws -> APIKey {
        let clientSubject = "client:" + client
        let keySubject = APIKeyStore.keyID(ofSecret: presented).map { "key:" + $0 }
        if let wait = failedAuth.retryAfter(clientSubject) {
            if presented.utf8.count <= 128, services.keys.recentlyAuthenticated(presented), let key = try await services.keys.authenticate(presented) {
                return key
            }
            services.metrics.authenticationThrottled(reason: "client")
            throw Throttled(seconds: wait)
        }
        guard presented.utf8.count <= 128, let key = try await services.keys.authenticate(presented) else {
            let keyWait = keySubject.flatMap(failedAuth.retryAfter)
            failedAuth.recordFailure([clientSubject] + (keySubject.map { [$0] } ?? []))
            services.metrics.authenticationFailed()
            if let wait = keyWait {
                services.metrics.authenticationThrottled(reason: "key")
                throw Throttled(seconds: wait)
            }
            throw APIError.unauthenticated
        }
        return key
    }

    /// Records a reveal attempt refused before it reached the vault (PCI DSS 10.2.1.2: every attempt is logged).
    /// A known key's refusal goes to its own merchant's vault audit; an unauthenticated one to the home merchant's.
    func auditRefusal(_ endpoint: Endpoint, context: LevyRequestContext, actor: String, outcome: String, key: APIKey? = nil) async throws {
        guard endpoint.auditsRefusedAttempts else { return }
        let vault = try await scoped(for: key).api.services.vault
        try await vault.auditRefusedReveal(tokenText: context.parameters.get("token") ?? "", actor: actor, outcome: outcome)
    }

    /// JSON bodies only: `application/json` (UTF-8) or a `+json` type. A form or plain text is refused, not guessed at.
    static func checkJSONContentType(_ value: String) throws(APIError) {
        let parts = value.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        let type = parts.first ?? ""
        let isJSON = type == "application/json" || (type.hasPrefix("application/") && type.hasSuffix("+json"))
        let charsetOK = parts.dropFirst().allSatisfy { !$0.hasPrefix("charset=") || $0 == "charset=utf-8" || $0 == "charset=\"utf-8\"" }
        guard isJSON, charsetOK else {
            throw APIError(.unsupportedMediaType, "unsupported_media_type",
                           "request bodies are JSON: send Content-Type: application/json (UTF-8)", field: "Content-Type")
        }
    }

    /// 413 for a body whose announced length is past what the endpoint reads: an upload's limit, else `maxBodyBytes`
    /// for a JSON body (POST, PUT, PATCH).
    func announcedTooLarge(_ endpoint: Endpoint, _ headers: HTTPFields) -> APIError? {
        if let limit = endpoint.uploadLimit {
            return headers.announcesBody(longerThan: limit)
                ? APIError(.contentTooLarge, "body_too_large", "the uploaded file is larger than \(limit) bytes") : nil
        }
        guard endpoint.method == .post || endpoint.method == .put || endpoint.method == .patch, headers.announcesBody(longerThan: maxBodyBytes) else {
            return nil
        }
        return APIError(.contentTooLarge, "body_too_large", "the body is larger than \(maxBodyBytes) bytes")
    }

    func readBody(_ request: Request) async throws -> [UInt8] {
        var bytes: [UInt8] = []
        for try await buffer in request.body {
            guard bytes.count + buffer.readableBytes <= maxBodyBytes else {
                throw APIError(.contentTooLarge, "body_too_large", "the body is larger than \(maxBodyBytes) bytes")
            }
            bytes.append(contentsOf: buffer.readableBytesView)
        }
        return bytes
    }

    func runIdempotently(_ endpoint: Endpoint, call: APICall, request: Request) async throws -> (APIReply, replayed: Bool) {
        let idempotencyKey = request.headers[Self.idempotencyKeyField]
        guard endpoint.idempotency != .none, let key = call.key else { return (try await endpoint.handler(call), false) }
        guard let idempotencyKey else {
            if endpoint.idempotency == .required {
                throw APIError.missing("Idempotency-Key", "this endpoint needs an Idempotency-Key header (a retry with the same key is safe)")
            }
            return (try await endpoint.handler(call), false)
        }
        guard (1...255).contains(idempotencyKey.utf8.count), idempotencyKey.utf8.allSatisfy({ $0 > 32 && $0 < 127 }) else {
            throw APIError.invalid("Idempotency-Key", "1 to 255 visible ASCII characters")
        }
        let storedKey = services.idempotency.storedForm(idempotencyKey)
        let identity = endpoint.method.rawValue + " " + endpoint.path + " " + Self.canonicalParameters(call)
        let hash = services.idempotency.requestHash(route: identity, body: call.body)
        let route = endpoint.method.rawValue + " " + endpoint.path
        switch try await services.idempotency.begin(principal: key.id, key: storedKey, legacyKey: idempotencyKey, route: route, requestHash: hash,
                                                    unkeyedHash: IdempotencyStore.unkeyedRequestHash(route: identity, body: call.body)) {
        case .replay(let status, let body):
            return (APIReply(status: HTTPResponse.Status(code: status),
                             body: IdempotencyStore.replayed(status: status, body: body, requestID: call.requestID)), true)
        case .conflict:
            throw APIError(.unprocessableContent, "idempotency_conflict",
                           "this Idempotency-Key was already used with a different request", field: "Idempotency-Key")
        case .inProgress:
            throw APIError(.conflict, "idempotency_in_progress", "a request with this Idempotency-Key is still running; retry shortly",
                           field: "Idempotency-Key")
        case .proceed:
            let reply: APIReply
            do {
                reply = try await endpoint.handler(call)
            } catch {
                // A definite refusal is kept like a success; a server error, or a refusal for now (429, another
                // caller's payment step under way, anything with Retry-After), is forgotten so the retry runs again.
                if let apiError = APIError.from(error), !apiError.isForNow {
                    try await services.idempotency.finish(principal: key.id, key: storedKey, status: apiError.status.code,
                                                          body: apiError.body(requestID: call.requestID), resource: nil)
                } else {
                    try? await services.idempotency.abandon(principal: key.id, key: storedKey)
                }
                throw error
            }
            try await services.idempotency.finish(principal: key.id, key: storedKey, status: reply.status.code, body: reply.storedBody ?? reply.body,
                                                  resource: reply.resource)
            return (reply, false)
        }
    }

    func errorReply(_ error: any Error, requestID: String, logger: Logger) -> APIReply {
        if let apiError = APIError.from(error) {
            // A 500 is Levy's fault; a 501 (a client's transfer coding) or a 503 (a full queue, a store not set up) is not.
            if apiError.status.code == 500 {
                logger.error("request failed", metadata: ["code": .string(apiError.code)])
            } else if apiError.status.code > 500 {
                logger.warning("request refused", metadata: ["code": .string(apiError.code), "message": .string(CardNumberMask.masked(apiError.message))])
            }
            return APIReply(status: apiError.status, body: apiError.body(requestID: requestID))
        }
        // Not a domain refusal: a fault. The description goes to the log (domain errors never carry card data);
        // the client gets the request id to quote.
        logger.error("internal error", metadata: ["error": .string(CardNumberMask.masked(StoreErrorText.describe(error)))])
        let internalError = APIError(.internalServerError, "internal", "an internal error occurred; quote the request id to the operator")
        return APIReply(status: internalError.status, body: internalError.body(requestID: requestID))
    }

    /// A client's `X-Request-Id` when it is short and plain, else a new one.
    /// (It is logged with every line of the request: one that could hold a card number is replaced too.)
    static func requestID(_ given: String?) -> String {
        if let given, (1...64).contains(given.utf8.count),
           given.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 45 || $0 == 95 || $0 == 46 }),
           CardNumberMask.masked(given) == given {
            return given
        }
        return "req_" + RandomID.make(bytes: 10)
    }

    static func parameters(_ context: LevyRequestContext) -> [String: String] {
        var result: [String: String] = [:]
        for (name, value) in context.parameters { result[String(name)] = String(value) }
        return result
    }

    /// The query string's parameters, read as strictly as a JSON body's members: each at most once (the last of
    /// two would win silently), and only those the operation declares in the OpenAPI document.
    static func query(_ request: Request, allowed: Set<String>) throws -> [String: String] {
        var result: [String: String] = [:]
        for (name, value) in request.statedQueryPairs {
            // Names are percent-decoded as values are (probe #21: `%61fter` was refused where `after=%31` was read).
            let name = String(name).removingPercentEncoding ?? String(name)
            guard allowed.contains(name) else {
                // A name is echoed only when it is plain (letters, digits, `_`, at most 64), and masked as every
                // field is (probe #7: a card number written as `%34%32…` passed the mask before decoding).
                let plain = (1...64).contains(name.utf8.count) && name.utf8.allSatisfy { $0 == 95 || ($0 | 32 >= 97 && $0 | 32 <= 122) || ($0 >= 48 && $0 <= 57) }
                throw APIError(.badRequest, "unknown_field", (allowed.isEmpty ? "this endpoint takes no query parameters"
                               : "unknown query parameter; expected one of " + allowed.sorted().joined(separator: ", ")) + (plain ? "" : " (its name is not shown)"),
                               field: plain ? name : "query")
            }
            guard result.updateValue(String(value), forKey: name) == nil else {
                throw APIError.invalid(name, "given more than once; give each query parameter once")
            }
        }
        return result
    }

    static func canonicalParameters(_ call: APICall) -> String {
        call.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "&")
    }
}

extension Request {
    /// The query string's name-value pairs without the empty ones (`?&&`, a trailing `&`), which say nothing
    /// wherever they stand; the API and the console read the same pairs (probe #21).
    var statedQueryPairs: [(name: Substring, value: Substring)] {
        uri.queryParameters.filter { !($0.key.isEmpty && $0.value.isEmpty) }.map { (name: $0.key, value: $0.value) }
    }
}

/// The API of each merchant other than the home merchant, with its endpoint table, kept for the process's life.
final class MerchantAPIs: Sendable {
    private let apis = Mutex<[MerchantID: (api: LevyAPI, endpoints: [Endpoint])]>([:])

    func cached(_ merchant: MerchantID) -> (api: LevyAPI, endpoints: [Endpoint])? { apis.withLock { $0[merchant] } }

    /// Keeps the first made for a merchant (two first requests may both make one) and returns it.
    func store(_ merchant: MerchantID, _ made: (api: LevyAPI, endpoints: [Endpoint])) -> (api: LevyAPI, endpoints: [Endpoint]) {
        apis.withLock { apis in
            if let first = apis[merchant] { return first }
            apis[merchant] = made
            return made
        }
    }
}

/// A request's context: Hummingbird's core storage plus the client's address (for the failed-login limits).
public struct LevyRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The peer's IP address, or "unknown" (in-process tests have no socket).
    public let clientAddress: String

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        clientAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }
}

/// Too many failed authentications from this client or for this key id (or, with `giftCardCodes`, too many unknown
/// gift card codes sent with this key): 429 with `Retry-After`.
struct Throttled: Error {
    var seconds: Int
    var giftCardCodes = false
    /// Where the request put the codes: `code` (a balance lookup) or `gift_cards` (an order).
    var codeField = "code"
}

/// A HEAD request's answer never carries a body, whatever answered it (an unknown path's 404, a 405, a GET route's
/// response): a body after a HEAD response would be read by the client as the start of the next response.
struct HeadResponseMiddleware: RouterMiddleware {
    typealias Context = LevyRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let response = try await next(request, context)
        return request.method == .head ? response.createHeadResponse() : response
    }
}

/// A path that a route matches, asked with a method the route does not take, is answered 405 with the methods it
/// takes in `Allow` (RFC 9110, 15.5.6); the router alone answers such a request 404.
struct MethodNotAllowedMiddleware: RouterMiddleware {
    typealias Context = LevyRequestContext
    /// Each route's path template split at `/` (`{order_id}` matches any one segment) and the methods it takes.
    let routes: [(template: [Substring], methods: Set<HTTPRequest.Method>)]

    init(routes: [(path: String, method: HTTPRequest.Method)]) {
        let byPath = Dictionary(grouping: routes, by: \.path).mapValues { Set($0.map(\.method)) }
        self.routes = byPath.sorted { $0.key < $1.key }.map { ($0.key.split(separator: "/"), $0.value) }
    }

    /// The methods the route that matches `path` takes (HEAD wherever GET), sorted; empty when none matches. Where
    /// several templates match, the one with the most literal segments is the path's, as the router picks it
    /// (`/v1/gift-cards/balance` is that route, not `/v1/gift-cards/{gift_card_id}`).
    func allowed(on path: String) -> [String] {
        let segments = path.split(separator: "/")
        let matching = routes.filter { route in
            route.template.count == segments.count && zip(route.template, segments).allSatisfy { $0.hasPrefix("{") || $0 == $1 }
        }
        let literals = { (route: (template: [Substring], methods: Set<HTTPRequest.Method>)) in route.template.filter { !$0.hasPrefix("{") }.count }
        guard let most = matching.map(literals).max() else { return [] }
        var methods = Set<String>()
        for route in matching where literals(route) == most {
            methods.formUnion(route.methods.map(\.rawValue))
            if route.methods.contains(.get) { methods.insert("HEAD") }
        }
        return methods.sorted()
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            let allowed = allowed(on: request.uri.path)
            guard !allowed.isEmpty else { throw error }
            throw HTTPError(.methodNotAllowed, headers: [.allow: allowed.joined(separator: ", ")])
        }
    }
}

/// Unknown paths and methods get the same JSON error shape as everything else; under `/console`, where a person
/// with a browser asks, a page that says the same and links back to the console.
struct UnmatchedRouteMiddleware: RouterMiddleware {
    typealias Context = LevyRequestContext
    let metrics: APIMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            let requestID = LevyAPI.requestID(request.headers[LevyAPI.requestIDField])
            let apiError = switch error.status {
            case .notFound: APIError.notFound("no such endpoint: see /openapi.yaml")
            case .methodNotAllowed:
                APIError(.methodNotAllowed, "method_not_allowed",
                         "this endpoint does not take \(request.method.rawValue)" + (error.headers[.allow].map { ": it takes \($0)" } ?? ""))
            default: APIError(error.status, "http_error", error.body ?? error.status.reasonPhrase)
            }
            metrics.request(method: request.method.rawValue, route: "unmatched", status: apiError.status.code, duration: .zero)
            if Self.isConsolePath(request.uri.path) { return Self.consolePage(apiError, allow: error.headers[.allow]) }
            var headers = HTTPFields()
            if let allow = error.headers[.allow] { headers[.allow] = allow }
            headers[.contentType] = "application/json"
            headers[LevyAPI.requestIDField] = requestID
            return Response(status: apiError.status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: apiError.body(requestID: requestID))))
        }
    }

    static func isConsolePath(_ path: String) -> Bool { path == "/console" || path.hasPrefix("/console/") }

    /// The page never repeats the path or method as sent: the message is one of the two fixed texts above, and the
    /// methods come from the route table.
    static func consolePage(_ error: APIError, allow: String?) -> Response {
        let heading = error.status == .methodNotAllowed ? "Not here" : "No such page"
        let text = error.status == .methodNotAllowed
            ? "This page cannot be reached that way" + (allow.map { " (it takes \(ConsoleChart.escape($0)))" } ?? "") + "."
            : "The console has no page at this address."
        var response = LevyAPI.html("""
            <!doctype html><html lang="en"><head><meta charset="utf-8"><title>\(heading) · Levy console</title></head>
            <body><h1>\(heading)</h1><p>\(text)</p><p><a href="/console">Back to the console</a></p></body></html>
            """, status: error.status)
        if let allow { response.headers[HTTPField.Name.allow] = allow }
        return response
    }
}

extension HTTPFields {
    /// Whether a request's `Content-Length` announces more than `limit` bytes: such a body is refused before any of
    /// it is read (the connection closes after the answer: `KeepAliveIntentHandler`), not read up to the limit.
    func announcesBody(longerThan limit: Int) -> Bool {
        guard let length = self[.contentLength] else { return false }
        return announcedLength(length).map { $0 > limit } ?? false
    }
}
