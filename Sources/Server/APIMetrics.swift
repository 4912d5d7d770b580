import Prometheus

/// The server's Prometheus metrics, in a registry of its own (no global bootstrap, so every test app has fresh
/// counters). Route labels are path templates, never concrete paths, so ids do not multiply the series.
public final class APIMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()

    static let latencyBuckets: [Duration] = [
        .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2.5),
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
        .milliseconds(500), .seconds(1), .seconds(2.5),
    ]

    public init() {}

    /// The methods a label names as sent; any other token a client invents is `OTHER`, so labels stay a bounded set.
    static let methods: Set<String> = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"]

    func request(method sent: String, route: String, status: Int, duration: Duration) {
        let method = Self.methods.contains(sent) ? sent : "OTHER"
        registry.makeCounter(descriptor: .init(namespace: "levy", subsystem: "http", metricName: "requests", unitName: "total",
                                               helpText: "HTTP requests by route, method and status"),
                             labels: [("method", method), ("route", route), ("status", String(status))]).increment()
        registry.makeDurationHistogram(descriptor: .init(namespace: "levy", subsystem: "http", metricName: "request_duration", unitName: "seconds",
                                                         helpText: "HTTP request latency by route"),
                                       labels: [("method", method), ("route", route)], buckets: Self.latencyBuckets).record(duration)
    }

    func quote(duration: Duration) {
        registry.makeDurationHistogram(descriptor: .init(namespace: "levy", subsystem: "tax", metricName: "quote_duration", unitName: "seconds",
                                                         helpText: "Time the engine took to quote an order (excluding HTTP and JSON)"),
                                       labels: [], buckets: Self.latencyBuckets).record(duration)
    }

    func orderPlaced(state: String) {
        registry.makeCounter(descriptor: .init(namespace: "levy", subsystem: "orders", metricName: "placed", unitName: "total",
                                               helpText: "Orders placed, by the state the first line was sourced to"),
                             labels: [("state", state)]).increment()
    }

    /// A connection closed because the client missed a deadline (`ConnectionDeadlines`).
    func connectionTimedOut() {
        count("http", "connection_timeouts", "Connections closed because the client was too slow to send its request")
    }

    /// A connection waiting for a request closed to make room when the slots were nearly full (`ConnectionSlots`).
    func connectionEvicted() {
        count("http", "connection_evictions", "Connections waiting for a request, closed to make room for new ones when the slots were nearly full")
    }

    /// A request whose client went away before its body arrived (not a server error).
    func clientClosed(route: String) {
        count("http", "client_disconnects", "Requests abandoned by the client before the body was read", labels: [("route", route)])
    }

    /// A failed authentication refused with 429 because its client or key id failed too often.
    func authenticationThrottled(reason: String) {
        count("http", "auth_throttled", "Requests refused (429) after too many failed authentications", labels: [("by", reason)])
    }

    /// A failed authentication (an unknown, malformed or revoked key).
    func authenticationFailed() {
        count("http", "auth_failures", "Requests with an unknown, malformed or revoked API key")
    }

    private func count(_ subsystem: String, _ name: String, _ help: String, labels: [(String, String)] = []) {
        registry.makeCounter(descriptor: .init(namespace: "levy", subsystem: subsystem, metricName: name, unitName: "total", helpText: help),
                             labels: labels).increment()
    }

    /// The exposition text for `/metrics`.
    public func render() -> [UInt8] { registry.emitToBuffer() }
}
