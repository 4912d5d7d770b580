import Exports
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import JSONInput
import Logging
import Merchants
import NIOSSL
import Orders
import Reconciliation
import ServiceLifecycle
import Vault

/// The server's composition root (`build`, in LevyApplication.swift: the store, the processor and the service
/// group) and the HTTP application it runs: the API, the HTTP server, TLS and the background maintenance.
/// `levy serve` and the live tests both build the application here.
public enum LevyServer {
    /// The application for the API with these settings. `onRunning` is told the bound port (0 picks a free one).
    public static func application(api: LevyAPI, settings: ServeSettings, logger: Logger,
                                   onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) throws -> some ApplicationProtocol {
        let deadlines = ConnectionDeadlines(head: .seconds(Int64(settings.requestHeadTimeout)), body: .seconds(Int64(settings.requestBodyTimeout)),
                                            idle: .seconds(Int64(settings.idleTimeout)))
        let metrics = api.services.metrics
        let slots = ConnectionSlots(maxConnections: settings.maxConnections)
        let http = HTTP1Channel.Configuration(
            additionalChannelHandlers: [ConnectionDeadlineHandler(deadlines: deadlines, onTimeout: { metrics.connectionTimedOut() }), ConnectRequestHandler(), KeepAliveIntentInstaller(maxBodyBytes: settings.maxBodyBytes),
                                        ConnectionSlotHandler(slots: slots, onEvict: { metrics.connectionEvicted() })],
            idleTimeout: .seconds(Int64(settings.idleTimeout)))
        var server = HTTPServerBuilder.http1(configuration: http)
        if let configuration = try tlsConfiguration(settings) {
            server = try .tls(.http1(configuration: http), tlsConfiguration: configuration)
        }
        return Application(
            router: api.router(),
            server: server,
            configuration: .init(address: .hostname(settings.hostname, port: settings.port), serverName: "levy",
                                 availableConnectionsDelegate: .maximum(settings.maxConnections, logger: logger)),
            services: [Maintenance(services: api.services, logger: logger)] + backgroundJobs(api.services, logger: logger),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? settings.port) },
            logger: logger
        )
    }

    /// The TLS configuration of `tls_certificate` and `tls_key`, or nil without them; a file that cannot be read as
    /// PEM is named (NIOSSL's own error names neither the file nor the setting).
    public static func tlsConfiguration(_ settings: ServeSettings) throws(ServerSetupError) -> TLSConfiguration? {
        guard let certificate = settings.tlsCertificate, let key = settings.tlsKey else { return nil }
        for (setting, path) in [("tls_certificate", certificate), ("tls_key", key)] where !FileManager.default.isReadableFile(atPath: path) {
            throw ServerSetupError(description: "\(setting): \(path): no such file, or not readable")
        }
        let chain: [NIOSSLCertificateSource]
        do { chain = try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) } } catch {
            throw ServerSetupError(description: "tls_certificate: \(certificate): cannot be read as a PEM certificate chain (\(error))")
        }
        guard !chain.isEmpty else { throw ServerSetupError(description: "tls_certificate: \(certificate): holds no PEM certificate") }
        let privateKey: NIOSSLPrivateKey
        do { privateKey = try NIOSSLPrivateKey(file: key, format: .pem) } catch {
            throw ServerSetupError(description: "tls_key: \(key): cannot be read as a PEM private key (\(error))")
        }
        return TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(privateKey))
    }

    /// The runners of export jobs and reconciliation runs, and the liability rollup's catch-up, when the server has them.
    static func backgroundJobs(_ services: LevyServices, logger: Logger) -> [any Service] {
        // Each runs over every merchant's own queue, on the schedule of `MerchantPollSchedule`, one job of a merchant
        // per look: a merchant with a full queue of long jobs takes turns with the others instead of holding them up.
        var jobs: [any Service] = []
        if services.exports != nil {
            let schedule = MerchantPollSchedule()
            jobs.append(BackgroundJobService(name: "export jobs", failAbandoned: {
                // An erasure in another process withdrew exports whose files may be in this process's folder.
                try await everyMerchant(services) { merchant in
                    guard let jobs = merchant.exports?.jobs else { return [String]() }
                    try await jobs.removeWithdrawnFolders()
                    return try await jobs.failAbandoned()
                }
            }, runQueued: {
                try await dueMerchants(services, schedule, signal: { $0.exports?.jobs.queuedHere ?? 0 }) { merchant in
                    try await merchant.exports?.runNext() == true ? 1 : 0
                }
            }, logger: logger))
            // The console's liability page reads the rollup (and catches it up first); kept close to the ledger, a
            // page adds little. A merchant whose watermark moved is looked at again after a second.
            let rollups = MerchantPollSchedule()
            jobs.append(BackgroundJobService(name: "liability rollup", failAbandoned: { [] }, runQueued: {
                _ = try await dueMerchants(services, rollups, signal: { _ in 0 }, watermark: true) { merchant in
                    try await merchant.exports?.exporter.liabilityRollup.catchUp() ?? 0
                }
                return 0
            }, logger: logger))
        }
        if services.reconciliations != nil {
            let schedule = MerchantPollSchedule()
            jobs.append(BackgroundJobService(name: "reconciliation runs", failAbandoned: {
                try await everyMerchant(services) { try await $0.reconciliations?.failAbandoned() ?? [] }
            }, runQueued: {
                try await dueMerchants(services, schedule, signal: { $0.reconciliations?.runs.queuedHere ?? 0 }) { merchant in
                    try await merchant.reconciliations?.runNext() == true ? 1 : 0
                }
            }, logger: logger))
        }
        return jobs
    }

    /// `work` for each merchant's services in turn, the results joined.
    static func everyMerchant<T: Sendable>(_ services: LevyServices, _ work: (LevyServices) async throws -> [T]) async throws -> [T] {
        var results: [T] = []
        for merchant in try await services.everyMerchant() { results += try await work(merchant) }
        return results
    }

    /// `look` for each merchant that `schedule` says is due; returns the jobs run (the sum of what `look` returned).
    /// `look` returns the jobs it ran, or with `watermark` a watermark whose moving is the work found.
    static func dueMerchants(_ services: LevyServices, _ schedule: MerchantPollSchedule, signal: (LevyServices) -> Int,
                             watermark: Bool = false, _ look: (LevyServices) async throws -> Int64) async throws -> Int {
        var ran = 0
        for merchant in try await services.everyMerchant() {
            let key = merchant.merchant?.value ?? "", queued = signal(merchant)
            guard schedule.isDue(key, signal: queued, at: .now) else { continue }
            let result = try await look(merchant)
            schedule.looked(key, signal: queued, mark: watermark ? result : 0, foundWork: !watermark && result > 0, at: .now)
            if !watermark { ran += Int(result) }
        }
        return ran
    }
}

/// Runs background work, one at a time, looking for it every second: jobs asked for over the API or the console
/// (export jobs, reconciliation runs; one queued by another server process is found the same way) or the liability
/// rollup's catch-up. At start and every minute, jobs whose process died (no heartbeat for two minutes) are failed. At shutdown a running job is
/// stopped and marked failed.
struct BackgroundJobService: Service, CustomStringConvertible {
    let name: String
    let failAbandoned: @Sendable () async throws -> [String]
    let runQueued: @Sendable () async throws -> Int
    let logger: Logger
    var description: String { name }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            var pass = 0
            while !Task.isCancelled {
                do {
                    if pass % 60 == 0 {
                        let abandoned = try await failAbandoned()
                        if !abandoned.isEmpty { logger.notice("\(name)", metadata: ["abandoned_failed": "\(abandoned.count)"]) }
                    }
                    _ = try await runQueued()
                } catch {
                    logger.warning("\(name)", metadata: ["error": "\(type(of: error))"])
                }
                pass += 1
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }
}

/// Upkeep at start and hourly while the server runs: interrupted payment steps are finished, idempotency records
/// past their lifetime and expired vault tokens go. Every minute in between, payment steps older than
/// `OrderService.stepLease` are finished too: another `levy serve` on the same store that died during a step would
/// otherwise hold its order (409 `payment_in_progress`) until this process's next hourly pass.
struct Maintenance: Service, CustomStringConvertible {
    let services: LevyServices
    let logger: Logger
    /// How the service group's debug log names it: its default description would dump every table.
    var description: String { "maintenance" }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await runOnce()
                for _ in 0..<60 where !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(60))
                    await finishAbandonedSteps()
                }
            }
        }
    }

    /// Finishes, for every merchant, the payment steps claimed longer than a step's lease ago (none under way in a
    /// live process can be that old); what fails is tried again next minute.
    func finishAbandonedSteps() async {
        let cutoff = Date().addingTimeInterval(-Double(OrderService.stepLease.components.seconds))
        do {
            for merchant in try await services.everyMerchant() {
                do {
                    // What cannot be finished is logged by the hourly pass, not every minute.
                    let report = try await merchant.orders.resumeInterruptedPayments(startedBefore: cutoff)
                    if report.finished > 0 { logger.notice("maintenance: abandoned payment steps finished", metadata: ["steps": "\(report.finished)"]) }
                    if report.releasedRefundLocks > 0 {
                        logger.notice("maintenance: refund locks without a refund released", metadata: ["orders": "\(report.releasedRefundLocks)"])
                    }
                } catch {
                    logger.warning("maintenance: payment recovery failed", metadata: ["error": "\(type(of: error))"])
                }
            }
        } catch {
            logger.warning("maintenance: listing merchants failed", metadata: ["error": "\(type(of: error))"])
        }
    }

    /// One pass. Each merchant's recovery and each purge runs on its own, so one that fails (a processor that is
    /// down, a row that cannot be read) is logged and the rest still run; what failed is tried again next hour.
    func runOnce() async {
        var resumed = 0, tokens = 0, records = 0
        do {
            for merchant in try await services.everyMerchant() {
                do {
                    // Payment steps a crash left half done are finished first, with their own idempotency keys.
                    let report = try await merchant.orders.resumeInterruptedPayments()
                    resumed += report.finished + report.releasedRefundLocks
                    for failure in report.failed {
                        logger.warning("maintenance: a payment step was not finished", metadata: ["step": "\(CardNumberMask.masked(failure))"])
                    }
                } catch {
                    logger.warning("maintenance: payment recovery failed", metadata: ["error": "\(type(of: error))"])
                }
                do { tokens += try await merchant.vault.purgeExpired() } catch {
                    logger.warning("maintenance: purging expired card tokens failed", metadata: ["error": "\(type(of: error))"])
                }
            }
        } catch {
            logger.warning("maintenance: listing merchants failed", metadata: ["error": "\(type(of: error))"])
        }
        do { records = try await services.idempotency.purgeExpired() } catch {
            logger.warning("maintenance: purging idempotency records failed", metadata: ["error": "\(type(of: error))"])
        }
        do { try await services.consoleSessions.purgeExpired() } catch {
            logger.warning("maintenance: purging console sessions failed", metadata: ["error": "\(type(of: error))"])
        }
        if resumed > 0 { logger.notice("maintenance", metadata: ["payments_resumed": "\(resumed)"]) }
        if records + tokens > 0 {
            logger.info("maintenance", metadata: ["idempotency_purged": "\(records)", "tokens_purged": "\(tokens)"])
        }
    }
}
