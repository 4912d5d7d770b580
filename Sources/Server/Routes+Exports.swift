import Exports
import Foundation
import Storage
import HTTPTypes
import JSONInput
import Merchants
import TaxCore

extension LevyAPI {
    /// Export jobs: the exports of `levy export …` and `levy report html`, started over the API, run in the server's
    /// background, and downloaded as one tar archive of the signed folder.
    var exportEndpoints: [Endpoint] {
        let readers: Set<Scope> = [.accountant, .reconciler, .admin]
        return [
            Endpoint(method: .post, path: "/v1/exports", scopes: readers, idempotency: .optional) { call in
                let exports = try exportJobs()
                let body = try call.decode(ExportJobBody.self)
                try Self.checkMaySeePersonalData(body.personalData ?? false, key: call.key)
                let parameters = try await jobParameters(body)
                let job: ExportJob
                do { job = try await exports.jobs.enqueue(body.kind, parameters, key: call.key?.id ?? "-") } catch let error as ExportJobStore.JobError {
                    throw APIError.queueFull("export_queue_full", error.description)
                }
                return .json(ExportJobOut(job), status: .accepted)
            },
            Endpoint(method: .get, path: "/v1/exports", scopes: readers, idempotency: .none) { call in
                let limit = try Self.integer(call.query["limit"], name: "limit", default: 50, range: 1...500)
                return .json(ExportJobListOut(exports: try await exportJobs().jobs.list(limit: limit).map(ExportJobOut.init)))
            },
            Endpoint(method: .get, path: "/v1/exports/{export_id}", scopes: readers, idempotency: .none) { call in
                .json(ExportJobOut(try await job(call.parameter("export_id"))))
            },
            Endpoint(method: .get, path: "/v1/exports/{export_id}/download", scopes: readers, idempotency: .none) { call in
                let (archive, name) = try await exportArchive(call.parameter("export_id"), key: call.key)
                return APIReply(status: .ok, body: [], contentType: "application/x-tar", archive: archive, archiveName: name)
            },
        ]
    }

    /// A job id as `JobQueue` makes them: the prefix and 24 lowercase hex digits. Nothing else is looked up.
    static func isJobID(_ id: String, prefix: String) -> Bool {
        id.hasPrefix(prefix) && id.utf8.count == prefix.utf8.count + 24
            && id.utf8.dropFirst(prefix.utf8.count).allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    /// Customer ids, streets and cities are an admin's to see (the console shows accountants pseudonyms): an export
    /// with personal data is started and downloaded with the admin scope only (probe #14: a reconciler's key did both).
    static func checkMaySeePersonalData(_ personalData: Bool, key: APIKey?) throws {
        if personalData, key?.scopes.contains(.admin) != true { throw APIError.forbidden(.admin) }
    }

    /// A finished export's folder as an archive and its file name, for the API's and the console's downloads.
    func exportArchive(_ id: String, key: APIKey?) async throws -> (TarArchive, String) {
        let job = try await job(id)
        try Self.checkMaySeePersonalData(job.parameters.personalData, key: key)
        guard job.status == .succeeded else {
            throw APIError(.conflict, "export_not_ready", "the export is \(job.status.rawValue); download it once it has succeeded")
        }
        if let removed = job.filesRemoved {
            throw APIError(.gone, "export_files_gone", "the export's files were withdrawn at \(removed) when a customer was erased; start the export again")
        }
        do {
            return (try TarArchive(directory: try exportJobs().jobs.folder(job.id), prefix: job.id, modified: services.now()), job.id + ".tar")
        } catch {
            throw APIError(.gone, "export_files_gone", "the export's files are no longer on this server")
        }
    }

    func exportJobs() throws -> ExportJobExecutor {
        guard let exports = services.exports else {
            throw APIError(.serviceUnavailable, "exports_unavailable", "this server was started without an export signing key")
        }
        return exports
    }

    func job(_ id: String) async throws -> ExportJob {
        guard Self.isJobID(id, prefix: "job_") else { throw APIError.notFound("no such export") }
        do { return try await exportJobs().jobs.job(id) } catch ExportJobStore.JobError.unknownJob { throw APIError.notFound("no such export") }
    }

    /// The job's parameters: the request checked field by field, a SAF-T header completed from the merchant profile
    /// and a report's title taken from it, as `levy export saft` and `levy report html` do.
    func jobParameters(_ body: ExportJobBody) async throws -> ExportJob.Parameters {
        guard let from = TaxDate(iso: body.from) else { throw APIError.invalid("from", "a date (YYYY-MM-DD)") }
        guard let through = TaxDate(iso: body.through) else { throw APIError.invalid("through", "a date (YYYY-MM-DD)") }
        guard from <= through else { throw APIError.invalid("through", "on or after from") }
        let personalData = body.personalData ?? false
        if personalData && ((body.requestedBy ?? "").isEmpty || (body.reason ?? "").isEmpty) {
            throw APIError(.unprocessableContent, "personal_data_needs_requester",
                           "an export with personal data needs requested_by and reason (who asked, why and on what legal basis)",
                           field: (body.requestedBy ?? "").isEmpty ? "requested_by" : "reason")
        }
        if let format = body.format {
            guard body.kind == .detail || body.kind == .liability else { throw APIError.invalid("format", "only for detail and liability exports") }
            guard DelimitedFormat(rawValue: format) != nil else { throw APIError.invalid("format", "csv or pipe") }
        }
        if let period = body.period {
            guard body.kind == .liability else { throw APIError.invalid("period", "only for liability exports") }
            guard LiabilitySummary.Period(rawValue: period) != nil else { throw APIError.invalid("period", "month or quarter") }
        }
        if body.company != nil && body.kind != .saft { throw APIError.invalid("company", "only for SAF-T exports") }
        if body.merchant != nil && body.kind != .report { throw APIError.invalid("merchant", "only for reports") }
        var parameters = ExportJob.Parameters(from: from.iso, through: through.iso, personalData: personalData, requestedBy: body.requestedBy,
                                              reason: body.reason, format: body.format, period: body.period)
        let profile = try await profiles.current(services).merchant
        switch body.kind {
        case .saft: parameters.company = try company(body.company, profile: profile, on: through)
        case .report: parameters.merchant = body.merchant ?? profile?.legalName ?? "Merchant"
        case .detail, .liability: break
        }
        return parameters
    }

    /// Each header field from the request, else from the profile; a field neither gives is named.
    func company(_ given: CompanyBody?, profile: Merchant?, on date: TaxDate) throws -> ExportJob.Parameters.Company {
        func field(_ value: String?, _ fromProfile: String?, _ name: String) throws -> String {
            if let value, !value.isEmpty { return value }
            if let fromProfile, !fromProfile.isEmpty { return fromProfile }
            throw APIError(.unprocessableContent, "company_incomplete", "not given, and the merchant profile has none", field: "company." + name)
        }
        let contact = try field(given?.contact, profile?.contactName, "contact").split(separator: " ", maxSplits: 1).map(String.init)
        guard contact.count == 2 else { throw APIError.invalid("company.contact", "a first and a last name") }
        return ExportJob.Parameters.Company(
            name: try field(given?.name, profile?.legalName, "name"),
            registration: try field(given?.registration, profile?.permit(on: date), "registration"),
            street: try field(given?.street, profile?.address?.line1, "street"), city: try field(given?.city, profile?.address?.city, "city"),
            state: try field(given?.state, profile?.address?.state.code, "state"), zip: try field(given?.zip, profile?.address?.zip.description, "zip"),
            contactFirstName: contact[0], contactLastName: contact[1], telephone: try field(given?.telephone, profile?.phone, "telephone"))
    }
}

struct ExportJobBody: Decodable {
    var kind: ExportJob.Kind
    var from: String
    var through: String
    var personalData: Bool?
    var requestedBy: String?
    var reason: String?
    var format: String?
    var period: String?
    var company: CompanyBody?
    var merchant: String?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case kind, from, through, format, period, company, merchant, reason
        case personalData = "personal_data", requestedBy = "requested_by"
    }

    init(from decoder: any Decoder) throws {
        try decoder.refuseUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let kind = try c.decode(String.self, forKey: .kind)
        guard let known = ExportJob.Kind(rawValue: kind) else { throw APIError.invalid("kind", "detail, liability, saft or report") }
        self.kind = known
        from = try c.decode(String.self, forKey: .from)
        through = try c.decode(String.self, forKey: .through)
        personalData = try c.decodeIfPresent(Bool.self, forKey: .personalData)
        requestedBy = try c.decodeIfPresent(String.self, forKey: .requestedBy)
        reason = try c.decodeIfPresent(String.self, forKey: .reason)
        format = try c.decodeIfPresent(String.self, forKey: .format)
        period = try c.decodeIfPresent(String.self, forKey: .period)
        company = try c.decodeIfPresent(CompanyBody.self, forKey: .company)
        merchant = try c.decodeIfPresent(String.self, forKey: .merchant)
        for (value, field) in [(requestedBy, "requested_by"), (reason, "reason"), (merchant, "merchant")] {
            if let value, value.utf8.count > 200 || value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                throw APIError.invalid(field, "at most 200 bytes, without control characters")
            }
        }
        try checkPersonText(["requested_by": requestedBy, "reason": reason, "merchant": merchant])
    }
}

struct CompanyBody: Decodable {
    var name, registration, street, city, state, zip, contact, telephone: String?

    enum CodingKeys: String, CodingKey, CaseIterable { case name, registration, street, city, state, zip, contact, telephone }

    init(from decoder: any Decoder) throws {
        try decoder.refuseUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        var values: [CodingKeys: String] = [:]
        for key in CodingKeys.allCases {
            guard let value = try c.decodeIfPresent(String.self, forKey: key) else { continue }
            // Bidirectional controls (U+202E and its kin) would make the header read otherwise than it is written: the
            // profile's own rule, since these fields stand in for the profile's.
            guard value.utf8.count <= 200,
                  !value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control || PrintedText.isRefused($0) }) else {
                throw APIError.invalid("company." + key.rawValue, "at most 200 bytes, without control characters, direction overrides, line separators or U+FFFD")
            }
            if key == .state, !MerchantService.places.contains(value) {
                throw APIError.invalid("company.state", "a US state, DC or territory as its two capital letters (MN)")
            }
            if key == .zip, ZipCode(value) == nil { throw APIError.invalid("company.zip", "a ZIP code (12345 or 12345-6789)") }
            // A registration number is an identifier: refused only with a card network's prefix and length.
            if key == .registration ? CardNumberMask.containsIssuedCardNumber(value) : CardNumberMask.containsCardNumber(value) {
                throw APIError.invalid("company." + key.rawValue, CardNumberMask.refusal)
            }
            values[key] = value
        }
        (name, registration, street, city) = (values[.name], values[.registration], values[.street], values[.city])
        (state, zip, contact, telephone) = (values[.state], values[.zip], values[.contact], values[.telephone])
    }
}

struct ExportJobOut: Encodable {
    var id: String
    var kind: String
    var status: String
    var from: String
    var through: String
    var personalData: Bool
    var rows: Int64
    var createdAt: String
    var startedAt: String?
    var finishedAt: String?
    var error: String?
    var files: [FileOut]?
    var controlTotals: [String: String]?
    var disclosure: String?
    var ledgerHead: String?
    var download: String?
    var filesRemovedAt: String?

    struct FileOut: Encodable {
        var name: String
        var rows: Int
        var bytes: Int
        var sha256: String
    }

    enum CodingKeys: String, CodingKey {
        case id, kind, status, from, through, rows, error, files, disclosure, download
        case personalData = "personal_data", createdAt = "created_at", startedAt = "started_at", finishedAt = "finished_at"
        case controlTotals = "control_totals", ledgerHead = "ledger_head", filesRemovedAt = "files_removed_at"
    }

    init(_ job: ExportJob) {
        id = job.id
        kind = job.kind.rawValue
        status = job.status.rawValue
        from = job.parameters.from
        through = job.parameters.through
        personalData = job.parameters.personalData
        rows = job.rows
        createdAt = job.created
        startedAt = job.started
        finishedAt = job.finished
        error = job.error
        filesRemovedAt = job.filesRemoved
        if let manifest = job.manifest {
            files = manifest.files.map { FileOut(name: $0.name, rows: $0.rows, bytes: $0.bytes, sha256: $0.sha256) }
            controlTotals = manifest.controlTotals
            disclosure = manifest.disclosure
            ledgerHead = manifest.ledgerHead
            if job.filesRemoved == nil { download = "/v1/exports/\(job.id)/download" }
        }
    }
}

struct ExportJobListOut: Encodable {
    var exports: [ExportJobOut]
}
