import Crypto
import Foundation
import Orders
import Storage
import TaxCore

/// Runs exports: each writes a new folder with its files, `manifest.json` and `manifest.sig`, and is logged
/// (as a disclosure when it holds personal data) before any file is written.
public struct Exporter: Sendable {
    public let database: any SQLDatabase
    /// Where orders, refunds and the ledger are read: the order store's own typed reader.
    public let orders: OrderReader
    public let log: DisclosureLog
    public let signingKey: SigningKey
    let now: @Sendable () -> Date

    /// Who asked for an export and why; required when it holds personal data.
    public struct Request: Sendable {
        public var scope: ExportScope
        public var requestedBy: String?
        public var reason: String?

        public init(scope: ExportScope, requestedBy: String? = nil, reason: String? = nil) {
            self.scope = scope
            self.requestedBy = requestedBy
            self.reason = reason
        }
    }

    /// `database` holds the export log (the primary); orders are read through `reader` when given (a replica's),
    /// else from `database`.
    public init(database: any SQLDatabase, reader: OrderReader? = nil, ordersSchema: String = "orders", customersSchema: String = "customers",
                exportsSchema: String = "exports", signingKey: SigningKey, now: @escaping @Sendable () -> Date = { Date() }) {
        self.database = database
        orders = reader.map { OrderReader(database: $0.database, schema: $0.schema, customersSchema: customersSchema) }
            ?? OrderReader(database: database, schema: ordersSchema, customersSchema: customersSchema)
        log = DisclosureLog(database: database, schema: exportsSchema, now: now)
        self.signingKey = signingKey
        self.now = now
    }

    public func migrate() async throws { try await log.migrate() }

    /// The liability per day kept from this exporter's ledger (sums written to the export log's database).
    public var liabilityRollup: LiabilityRollup { LiabilityRollup(database: database, orders: orders, schema: log.schema) }

    // MARK: - Detail and liability

    /// The transaction detail: one row per sale or refund line per jurisdiction.
    public func detail(_ request: Request, format: DelimitedFormat, to directory: String, progress: ExportProgress? = nil) async throws -> Manifest {
        try await run(kind: "detail", request, to: directory) { directory, headSeq in
            let writer = try ExportWriter(directory: directory, name: "detail.\(format.fileExtension)")
            try writer.write(bytes: format.line(DetailRow.columns))
            var totals = ControlTotals()
            var versions = Set<String>()
            try await DetailReader(orders: orders, scope: request.scope, throughSeq: headSeq).forEach { row in
                try writer.write(bytes: format.line(row.fields))
                writer.rows += 1
                totals.add(row)
                versions.insert(row.tableVersion)
                progress?.update(rows: writer.rows)
            }
            progress?.done(rows: writer.rows)
            return ([try writer.finish()], totals.fields, versions)
        }
    }

    /// Liability per period, state and jurisdiction.
    public func liability(_ request: Request, period: LiabilitySummary.Period, format: DelimitedFormat, to directory: String,
                          progress: ExportProgress? = nil) async throws -> Manifest {
        try await run(kind: "liability", request, to: directory) { directory, headSeq in
            let (summary, totals, versions) = try await summarize(request.scope, period: period, throughSeq: headSeq, progress: progress)
            let writer = try ExportWriter(directory: directory, name: "liability.\(format.fileExtension)")
            try writer.write(bytes: format.line(LiabilitySummary.columns))
            for (key, amounts) in summary.rows {
                try writer.write(bytes: format.line(LiabilitySummary.fields(key, amounts)))
                writer.rows += 1
            }
            var fields = totals.fields
            fields["liability_rows"] = String(writer.rows)
            return ([try writer.finish()], fields, versions)
        }
    }

    /// One pass over the detail rows: liability per period and jurisdiction, control totals, table versions.
    func summarize(_ scope: ExportScope, period: LiabilitySummary.Period, throughSeq: Int64,
                   progress: ExportProgress?) async throws -> (LiabilitySummary, ControlTotals, Set<String>) {
        var summary = LiabilitySummary(period: period)
        var totals = ControlTotals()
        var versions = Set<String>()
        try await DetailReader(orders: orders, scope: scope, throughSeq: throughSeq).forEach { row in
            summary.add(row)
            totals.add(row)
            versions.insert(row.tableVersion)
            progress?.update(rows: totals.rows)
        }
        progress?.done(rows: totals.rows)
        return (summary, totals, versions)
    }

    // MARK: - Running an export

    typealias Body = (String, Int64) async throws -> (files: [ManifestFile], totals: [String: String], versions: Set<String>)

    /// Checks the request, logs it, writes into a fresh folder, then the manifest and its signature.
    func run(kind: String, _ request: Request, to directory: String, body: Body) async throws -> Manifest {
        guard request.scope.from <= request.scope.through else {
            throw ExportError.invalidPeriod("\(request.scope.from) is after \(request.scope.through)")
        }
        let requestedBy = request.requestedBy?.trimmingCharacters(in: .whitespaces) ?? ""
        let reason = request.reason?.trimmingCharacters(in: .whitespaces) ?? ""
        if request.scope.personalData && (requestedBy.isEmpty || reason.isEmpty) { throw ExportError.personalDataNeedsRequester }
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isFolder), !isFolder.boolValue { throw ExportError.notEmpty(directory) }
        if let existing = try? FileManager.default.contentsOfDirectory(atPath: directory), !existing.isEmpty {
            throw ExportError.notEmpty(directory)
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
        } catch {
            throw ExportError.cannotWrite(directory)
        }
        let head = try await orders.ledgerHead()
        let absolute = directory.hasPrefix("/") ? directory : FileManager.default.currentDirectoryPath + "/" + directory
        let id = try await log.begin(kind: kind, requestedBy: requestedBy.isEmpty ? "-" : requestedBy, reason: reason.isEmpty ? "-" : reason,
                                     scope: request.scope, directory: absolute)
        do {
            let (files, totals, versions) = try await body(directory, head.seq)
            let manifest = Manifest(kind: kind, created: Timestamp.string(now()),
                                    period: .init(from: request.scope.from.iso, through: request.scope.through.iso),
                                    personalData: request.scope.personalData, requestedBy: requestedBy.isEmpty ? nil : requestedBy,
                                    reason: reason.isEmpty ? nil : reason, disclosure: id, files: files, controlTotals: totals,
                                    tableVersions: versions.sorted(), ledgerHead: head.text)
            let bytes = manifest.encoded()
            try write(bytes, to: directory + "/manifest.json")
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            try write(Array(try encoder.encode(signingKey.sign(bytes))) + [10], to: directory + "/manifest.sig")
            try await log.finish(id, files: files.map(\.name), manifestSHA256: hexString(SHA256.hash(data: bytes)))
            return manifest
        } catch {
            try? await log.fail(id)
            throw error
        }
    }

    func write(_ bytes: [UInt8], to path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes), attributes: [.posixPermissions: 0o640]) else {
            throw ExportError.cannotWrite(path)
        }
    }

}
