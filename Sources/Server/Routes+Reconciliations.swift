import Exports
import Foundation
import HTTPTypes
import Hummingbird
import Reconciliation
import Storage
import TaxCore

extension LevyAPI {
    /// Reconciliation runs: a processor's settlement file uploaded (`text/csv`, streamed to disk, at most 256 MiB),
    /// matched in the background as `levy reconcile` matches it, its summary, differences and report read back.
    var reconciliationEndpoints: [Endpoint] {
        let scopes: Set<Scope> = [.accountant, .reconciler, .admin]
        return [
            Endpoint(method: .post, path: "/v1/reconciliations", scopes: scopes, idempotency: .none,
                     uploadLimit: ReconciliationRuns.maxUploadBytes) { call in
                let runs = try reconciliationRuns()
                let parameters = try reconciliationParameters(call.query)
                let (uploadID, path) = try runs.runs.newUpload()
                let bytes = try await Self.store(call.upload, at: path, limit: ReconciliationRuns.maxUploadBytes)
                var withSize = parameters
                withSize.bytes = bytes
                do {
                    return .json(ReconciliationRunOut(try await runs.runs.enqueue(withSize, uploadID: uploadID, key: call.key?.id ?? "-")), status: .accepted)
                } catch {
                    // An upload no run will take is not kept (a full queue, a store error).
                    try? FileManager.default.removeItem(atPath: path)
                    if case JobQueue.QueueError.full(let limit) = error {
                        throw APIError.queueFull("reconciliation_queue_full", "\(limit) reconciliations are already queued or running")
                    }
                    throw error
                }
            },
            Endpoint(method: .get, path: "/v1/reconciliations", scopes: scopes, idempotency: .none) { call in
                let limit = try Self.integer(call.query["limit"], name: "limit", default: 50, range: 1...500)
                return .json(ReconciliationRunListOut(reconciliations: try await reconciliationRuns().runs.list(limit: limit).map(ReconciliationRunOut.init)))
            },
            Endpoint(method: .get, path: "/v1/reconciliations/{reconciliation_id}", scopes: scopes, idempotency: .none) { call in
                .json(ReconciliationRunOut(try await reconciliationRun(call.parameter("reconciliation_id"))))
            },
            Endpoint(method: .get, path: "/v1/reconciliations/{reconciliation_id}/differences", scopes: scopes, idempotency: .none) { call in
                let run = try await reconciliationRun(call.parameter("reconciliation_id"))
                guard run.status == .succeeded else { throw Self.notReady(run) }
                let reason = try call.query["reason"].map { text -> String in
                    guard DifferenceReason(rawValue: text) != nil else {
                        throw APIError.invalid("reason", DifferenceReason.allCases.map(\.rawValue).joined(separator: ", "))
                    }
                    return text
                }
                let limit = try Self.integer(call.query["limit"], name: "limit", default: 500, range: 1...5_000)
                let found = try reconciliationRuns().runs.differences(run.id, reason: reason, limit: limit)
                return .json(DifferencesOut(total: found.total, differences: found.rows))
            },
            Endpoint(method: .get, path: "/v1/reconciliations/{reconciliation_id}/download", scopes: scopes, idempotency: .none) { call in
                let (archive, name) = try await reconciliationArchive(call.parameter("reconciliation_id"))
                return APIReply(status: .ok, body: [], contentType: "application/x-tar", archive: archive, archiveName: name)
            },
        ]
    }

    /// A finished run's report (not its checkpoint) as an archive and its file name, for the API and the console.
    func reconciliationArchive(_ id: String) async throws -> (TarArchive, String) {
        let run = try await reconciliationRun(id)
        guard run.status == .succeeded else { throw Self.notReady(run) }
        do {
            return (try TarArchive(directory: try reconciliationRuns().runs.report(run.id), prefix: run.id, modified: services.now(),
                                   excluding: { $0.hasPrefix("checkpoint") }), run.id + ".tar")
        } catch {
            throw APIError(.gone, "reconciliation_files_gone", "the run's report is no longer on this server")
        }
    }

    /// Why a run has no report to show: still queued or running, or failed, with the run's own error (already free
    /// of the server's folders and of long digit runs).
    static func notReady(_ run: ReconciliationRun) -> APIError {
        let why = run.status == .failed ? "the run failed: " + (run.error ?? "no reason was recorded") : "the run is \(run.status.rawValue)"
        return APIError(.conflict, "reconciliation_not_ready", why)
    }

    func reconciliationRuns() throws -> ReconciliationRunExecutor {
        guard let runs = services.reconciliations else {
            throw APIError(.serviceUnavailable, "reconciliations_unavailable", "this server runs no background jobs (no export signing key)")
        }
        return runs
    }

    func reconciliationRun(_ id: String) async throws -> ReconciliationRun {
        guard Self.isJobID(id, prefix: "rec_") else { throw APIError.notFound("no such reconciliation") }
        do { return try await reconciliationRuns().runs.run(id) } catch JobQueue.QueueError.unknownJob { throw APIError.notFound("no such reconciliation") }
    }

    /// The options of `levy reconcile`, from query parameters (the body is the file), each checked and named.
    func reconciliationParameters(_ query: [String: String]) throws -> ReconciliationRun.Parameters {
        let layout = query["layout"] ?? "generic"
        guard SettlementLayout.builtIn(layout) != nil else { throw APIError.invalid("layout", "generic or stripe") }
        for name in ["from", "through"] {
            if let text = query[name], TaxDate(iso: text) == nil { throw APIError.invalid(name, "a date (YYYY-MM-DD)") }
        }
        if let from = query["from"].flatMap(TaxDate.init(iso:)), let through = query["through"].flatMap(TaxDate.init(iso:)), through < from {
            throw APIError.invalid("through", "on or after from")
        }
        if let percent = query["fee_percent"], percent.utf8.count > 12 || FeeSchedule.percentage(percent) == nil {
            throw APIError.invalid("fee_percent", "a percentage from 0 to 100, such as 2.9")
        }
        let fixed = query["fee_fixed"] ?? "0"
        guard fixed.utf8.count <= 12, let amount = FeeSchedule.fixedFee(fixed) else {
            throw APIError.invalid("fee_fixed", "an amount such as 0.30")
        }
        // The run reads the schedule with the CLI's rules (FeeSchedule.parse): refused here, not when the run starts.
        if query["fee_percent"] == nil, amount != 0 {
            throw APIError.invalid("fee_fixed", "given without fee_percent; the schedule is a percentage plus a fixed fee")
        }
        let late = try Self.integer(query["late_after_days"], name: "late_after_days", default: 5, range: 0...366)
        let recompute: Bool
        switch query["recompute_tax"] ?? "true" {
        case "true": recompute = true
        case "false": recompute = false
        default: throw APIError.invalid("recompute_tax", "true or false")
        }
        let name = query["file_name"] ?? "settlements.csv"
        guard name.utf8.count <= 200, !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw APIError.invalid("file_name", "at most 200 bytes, without control characters")
        }
        try checkPersonText(["file_name": name])
        return ReconciliationRun.Parameters(layout: layout, mapping: try Self.settlementMapping(query, base: layout), from: query["from"],
                                            through: query["through"], feePercent: query["fee_percent"], feeFixed: fixed, lateAfterDays: late, recomputeTax: recompute, fileName: name, bytes: 0)
    }

    /// A layout of the uploader's own from `column_<field>`, `sale_types`, `refund_types` and `amount_units` (the
    /// entries of a `levy reconcile --mapping` file), based on `layout`; nil when none is given.
    static func settlementMapping(_ query: [String: String], base: String) throws -> SettlementLayout.Mapping? {
        func text(_ name: String, _ value: String) throws -> String {
            guard !value.trimmingCharacters(in: .whitespaces).isEmpty, value.utf8.count <= 100, !value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                throw APIError.invalid(name, "1 to 100 bytes, without control characters")
            }
            // A column or type name is kept with the run and shown back: a card number has no place in it (probe #6).
            try checkPersonText([name: value])
            return value
        }
        var mapping = SettlementLayout.Mapping(base: base)
        var given = false
        for field in SettlementLayout.Field.allCases {
            guard let value = query["column_" + field.rawValue] else { continue }
            mapping.columns[field.rawValue] = try text("column_" + field.rawValue, value)
            given = true
        }
        for (name, keyPath) in [("sale_types", \SettlementLayout.Mapping.saleTypes), ("refund_types", \SettlementLayout.Mapping.refundTypes)] {
            guard let value = query[name] else { continue }
            let list = value.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard list.count <= 20 else { throw APIError.invalid(name, "at most 20 comma-separated type names") }
            mapping[keyPath: keyPath] = try list.map { try text(name, $0) }
            given = true
        }
        let sales = Set((mapping.saleTypes ?? SettlementLayout.builtIn(base).map { Array($0.saleTypes) } ?? []).map { $0.lowercased() })
        let refunds = Set((mapping.refundTypes ?? SettlementLayout.builtIn(base).map { Array($0.refundTypes) } ?? []).map { $0.lowercased() })
        if let shared = sales.intersection(refunds).sorted().first {
            throw APIError.invalid(query["refund_types"] != nil ? "refund_types" : "sale_types",
                                   "\"\(shared)\" is named a sale type and a refund type: a type is one or the other")
        }
        if let units = query["amount_units"] {
            guard units == "major" || units == "minor" else { throw APIError.invalid("amount_units", "major or minor") }
            mapping.amountUnits = units
            given = true
        }
        return given ? mapping : nil
    }

    /// Streams an upload to `path` (mode 0640), refusing it past `limit` bytes (the partial file is removed).
    static func store(_ body: RequestBody?, at path: String, limit: Int) async throws -> Int64 {
        guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o640]),
              let handle = FileHandle(forWritingAtPath: path) else {
            throw APIError(.internalServerError, "upload_failed", "the upload could not be stored")
        }
        var written = 0
        do {
            defer { try? handle.close() }
            if let body {
                for try await buffer in body {
                    written += buffer.readableBytes
                    guard written <= limit else {
                        throw APIError(.contentTooLarge, "body_too_large", "the settlement file is larger than \(limit) bytes")
                    }
                    try handle.write(contentsOf: Data(buffer.readableBytesView))
                }
            }
        } catch {
            try? FileManager.default.removeItem(atPath: path)
            if let error = error as? APIError { throw error }
            throw APIError(HTTPResponse.Status(code: 499, reasonPhrase: "Client Closed Request"), "client_closed", "the upload did not arrive whole")
        }
        guard written > 0 else {
            try? FileManager.default.removeItem(atPath: path)
            throw APIError.invalid("body", "an empty settlement file")
        }
        return Int64(written)
    }
}

struct ReconciliationRunOut: Encodable {
    var id: String
    var status: String
    var layout: String
    var mapping: SettlementLayout.Mapping?
    var from: String?
    var through: String?
    var fileName: String
    var bytes: Int64
    var progress: Int64
    var createdAt: String
    var startedAt: String?
    var finishedAt: String?
    var error: String?
    var summary: ReconcileSummary?
    var download: String?

    enum CodingKeys: String, CodingKey {
        case id, status, layout, mapping, from, through, bytes, progress, error, summary, download
        case fileName = "file_name", createdAt = "created_at", startedAt = "started_at", finishedAt = "finished_at"
    }

    init(_ run: ReconciliationRun) {
        id = run.id
        status = run.status.rawValue
        layout = run.parameters.layout
        mapping = run.parameters.mapping
        from = run.parameters.from
        through = run.parameters.through
        fileName = run.parameters.fileName
        bytes = run.parameters.bytes
        progress = run.progress
        createdAt = run.created
        startedAt = run.started
        finishedAt = run.finished
        error = run.error
        summary = run.summary
        download = run.status == .succeeded ? "/v1/reconciliations/\(run.id)/download" : nil
    }
}

struct ReconciliationRunListOut: Encodable {
    var reconciliations: [ReconciliationRunOut]
}

struct DifferencesOut: Encodable {
    var total: Int
    var differences: [[String: String]]
}
