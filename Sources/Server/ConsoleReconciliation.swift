import Exports
import Foundation
import HTTPTypes
import Hummingbird
import JSONInput
import NIOCore
import Reconciliation
import Storage

/// The console's reconciliation pages: upload a settlement file (a `multipart/form-data` form, at most 32 MiB),
/// follow the run, browse its differences by reason with links to the orders they concern.
extension LevyAPI {
    static let maxConsoleUpload = 32 * 1_024 * 1_024

    func reconciliationsPage(notice: String?, error: String?, status: HTTPResponse.Status = .ok) async throws -> ConsolePage {
        let runs = try await services.reconciliations?.runs.list(limit: 50) ?? []
        let rows: [[String: Any]] = runs.map { run in
            ["id": run.id, "file": run.parameters.fileName, "layout": run.parameters.layout, "status": run.status.rawValue, "error": run.error as Any,
             "done": run.status == .succeeded, "lines": run.summary?.settlementLines ?? Int(run.progress), "matched": run.summary?.matchedLines as Any,
             "differences": run.summary?.differences as Any, "created": run.created]
        }
        var context: [String: Any] = ["available": services.reconciliations != nil, "runs": rows, "notice": notice as Any, "error": error as Any,
                                      "columns": SettlementLayout.Field.allCases.map { ["field": $0.rawValue] }]
        if runs.contains(where: { $0.status == .queued || $0.status == .running }) { context["refresh"] = 3 }
        return ConsolePage(status: status, template: "reconciliations", title: "Reconciliation", context: context)
    }

    /// The upload form's post: the CSRF token and the options from their parts, the file streamed to the uploads
    /// folder, the run queued.
    func consoleUpload(_ request: Request, _ caller: ConsoleCaller) async -> Response {
        do {
            let page: ConsolePage
            do {
                let runs = try reconciliationRuns()
                let form = try await Self.multipart(request, limit: Self.maxConsoleUpload)
                guard let token = form.fields["csrf"], APIKeyStore.constantTimeEqual(token, caller.session.csrf) else {
                    return render(ConsolePage(status: .forbidden, template: "message", title: "Refused",
                                              context: ["error": "This form did not carry the console's token."]), caller, merchant: nil)
                }
                guard let file = form.file, !file.bytes.isEmpty else { throw APIError.invalid("settlements", "choose a settlement file") }
                let options: Set<String> = ["layout", "fee_percent", "fee_fixed", "from", "through", "late_after_days", "recompute_tax", "sale_types",
                                            "refund_types", "amount_units"]
                var query = form.fields.filter { (options.contains($0.key) || $0.key.hasPrefix("column_")) && !$0.value.isEmpty }
                query["file_name"] = Self.shownFileName(file.name)
                var parameters = try reconciliationParameters(query)
                let (uploadID, path) = try runs.runs.newUpload()
                guard FileManager.default.createFile(atPath: path, contents: Data(file.bytes), attributes: [.posixPermissions: 0o640]) else {
                    throw APIError(.internalServerError, "upload_failed", "the upload could not be stored")
                }
                parameters.bytes = Int64(file.bytes.count)
                let run: ReconciliationRun
                // An upload no run will take is not kept (a full queue, a store error).
                do { run = try await runs.runs.enqueue(parameters, uploadID: uploadID, key: caller.key.id) } catch {
                    try? FileManager.default.removeItem(atPath: path)
                    throw error
                }
                page = try await reconciliationsPage(notice: "Started \(run.id); this page follows it.", error: nil)
            } catch let error as APIError {
                page = try await reconciliationsPage(notice: nil, error: error.fieldAndMessage, status: error.status)
            } catch JobQueue.QueueError.full(let limit) {
                page = try await reconciliationsPage(notice: nil, error: "\(limit) reconciliations are already queued or running", status: .tooManyRequests)
            }
            return render(page, caller, merchant: nil)
        } catch {
            return Self.html("<!doctype html><title>Levy console</title><p>Something went wrong.</p>", status: .internalServerError)
        }
    }

    /// An uploaded file's name as the run keeps it: control characters dropped, then cut to whole characters within
    /// the 200 bytes a run's file name may have (probe #14: cut to 200 characters, a name of 101 `é` was then refused).
    static func shownFileName(_ name: String) -> String {
        var kept = ""
        var bytes = 0
        for character in name.unicodeScalars.filter({ $0.properties.generalCategory != .control }).map(Character.init) {
            bytes += character.utf8.count
            guard bytes <= 200 else { break }
            kept.append(character)
        }
        return kept
    }

    /// Verifies an uploaded export archive against this installation's signing key: unpacked into a fresh folder
    /// (plain files of one folder only), checked like `levy export verify`, then removed.
    func consoleVerify(_ request: Request, _ caller: ConsoleCaller) async -> Response {
        do {
            var page: ConsolePage
            do {
                let form = try await Self.multipart(request, limit: Self.maxConsoleUpload)
                guard let token = form.fields["csrf"], APIKeyStore.constantTimeEqual(token, caller.session.csrf) else {
                    return render(ConsolePage(status: .forbidden, template: "message", title: "Refused",
                                              context: ["error": "This form did not carry the console's token."]), caller, merchant: nil)
                }
                guard let file = form.file, !file.bytes.isEmpty else { throw APIError.invalid("archive", "choose an export archive") }
                let exports = try exportJobs()
                let folder = NSTemporaryDirectory() + "levy-verify-" + UUID().uuidString
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
                defer { try? FileManager.default.removeItem(atPath: folder) }
                var problems: [String]
                var result: ManifestVerifier.Result?
                do {
                    _ = try TarArchive.extract(file.bytes, into: folder)
                    result = ManifestVerifier.verify(directory: folder, trusted: [exports.exporter.signingKey.keyID])
                    problems = result?.problems ?? []
                } catch {
                    problems = ["the archive cannot be read: \(error)"]
                }
                page = try await exportsPage(caller, notice: nil, error: nil)
                // The upload's file name and the names inside it are the uploader's text: no card number comes back.
                let fileName = CardNumberMask.maskingCardNumbers(file.name)
                problems = problems.map(CardNumberMask.maskingCardNumbers)
                if let result, let manifest = result.manifest, problems.isEmpty {
                    page.context["verified"] = "\(fileName): verified. \(manifest.kind) \(manifest.period.from) to \(manifest.period.through), "
                        + "\(manifest.files.count) file(s), signed by this installation's key \(result.keyID ?? "?")."
                } else {
                    page.context["verified"] = "\(fileName): NOT verified."
                    page.context["problems"] = problems
                    page.context["hasProblems"] = true
                    page.status = .unprocessableContent
                }
            } catch let error as APIError {
                page = try await exportsPage(caller, notice: nil, error: error.fieldAndMessage, status: error.status)
            }
            return render(page, caller, merchant: nil)
        } catch {
            return Self.html("<!doctype html><title>Levy console</title><p>Something went wrong.</p>", status: .internalServerError)
        }
    }

    func reconciliationPage(_ id: String, request: Request) async throws -> ConsolePage {
        let run = try await reconciliationRun(id)
        guard run.status == .succeeded, let summary = run.summary else { throw Self.notReady(run) }
        let reason = try Self.query(request, "reason").map { text -> String in
            guard DifferenceReason(rawValue: text) != nil else { throw APIError.invalid("reason", "not a reason code") }
            return text
        }
        let found = try reconciliationRuns().runs.differences(run.id, reason: reason, limit: 200)
        let orderChars: (UInt8) -> Bool = { (48...57).contains($0) || (97...122).contains($0) || $0 == 95 }
        let rows: [[String: Any]] = found.rows.map { row in
            let order = row["order_id"] ?? ""
            return ["reason": row["reason"] ?? "", "order": order, "refund": row["refund_id"] ?? "", "line": row["settlement_line"] ?? "",
                    "expected": row["expected"] ?? "", "actual": row["actual"] ?? "", "detail": row["detail"] ?? "",
                    "orderLink": order.hasPrefix("ord_") && order.utf8.allSatisfy(orderChars) ? "/console/transactions/\(order)" as Any : NSNull()]
        }
        let reasons: [[String: Any]] = summary.byReason.filter { $0.value > 0 }.sorted { $0.key < $1.key }.map { ["run": run.id, "reason": $0.key, "count": $0.value] }
        return ConsolePage(template: "reconciliation", title: "Reconciliation \(run.id)", context: [
            "file": run.parameters.fileName, "layout": run.parameters.layout, "lines": summary.settlementLines, "matched": summary.matchedLines,
            "differences": summary.differences, "levySales": summary.levySalesAmount, "levyRefunds": summary.levyRefundsAmount,
            "settled": summary.settledAmount, "fees": summary.fees, "net": summary.net, "download": "/console/reconciliations/\(run.id)/download",
            "reasons": reasons, "reason": reason as Any, "rows": rows, "shown": rows.count, "matching": found.total,
        ])
    }

    func consoleRunDownload(id: String) async -> Response {
        await consoleArchive { try await reconciliationArchive(id) }
    }

    /// A `multipart/form-data` body (RFC 7578) of at most `limit` bytes: its text fields, and its one file part.
    struct MultipartForm {
        var fields: [String: String] = [:]
        var file: (name: String, bytes: [UInt8])?
    }

    static func multipart(_ request: Request, limit: Int) async throws -> MultipartForm {
        guard let type = request.headers[.contentType], type.lowercased().hasPrefix("multipart/form-data"),
              let range = type.range(of: "boundary=") else {
            throw APIError(.unsupportedMediaType, "unsupported_media_type", "the upload form is sent as multipart/form-data")
        }
        var boundary = String(type[range.upperBound...].prefix { $0 != ";" }).trimmingCharacters(in: .whitespaces)
        if boundary.hasPrefix("\""), boundary.hasSuffix("\""), boundary.count >= 2 { boundary = String(boundary.dropFirst().dropLast()) }
        guard (1...70).contains(boundary.utf8.count) else { throw APIError.invalid("Content-Type", "a multipart boundary of 1 to 70 characters") }
        try refuseCompressedBody(request)
        if request.headers.announcesBody(longerThan: limit) {
            throw APIError(.contentTooLarge, "body_too_large", "the upload is larger than \(limit / 1_048_576) MiB")
        }
        let buffer: ByteBuffer
        do { buffer = try await request.body.collect(upTo: limit) } catch {
            throw APIError(.contentTooLarge, "body_too_large", "the upload is larger than \(limit / 1_048_576) MiB")
        }
        return try parseMultipart(Array(buffer.readableBytesView), boundary: boundary)
    }

    static func parseMultipart(_ body: [UInt8], boundary: String) throws -> MultipartForm {
        let delimiter = Array(("--" + boundary).utf8)
        let separator = Array("\r\n\r\n".utf8)
        var form = MultipartForm()
        var position = 0
        guard let first = find(delimiter, in: body, from: 0) else { throw APIError.invalid("body", "no multipart boundary in the upload") }
        position = first + delimiter.count
        var parts = 0
        while position + 2 <= body.count, !(body[position] == 45 && body[position + 1] == 45) {
            parts += 1
            guard parts <= 32 else { throw APIError.invalid("body", "too many parts in the upload") }
            // Past the CRLF that ends the delimiter line: the part's headers, a blank line, its content.
            let start = position + 2
            guard let headerEnd = find(separator, in: body, from: start),
                  let next = find(Array("\r\n".utf8) + delimiter, in: body, from: headerEnd + 4) else {
                throw APIError.invalid("body", "a multipart part is not closed")
            }
            let headers = String(decoding: body[start..<headerEnd], as: UTF8.self)
            let content = Array(body[(headerEnd + 4)..<next])
            let disposition = headers.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-disposition:") }.map(String.init) ?? ""
            let parameters = dispositionParameters(disposition)
            if let fileName = parameters["filename"] {
                guard form.file == nil else { throw APIError.invalid("body", "one file at a time") }
                guard fileName.utf8.count <= maxFileNameBytes else { throw APIError.invalid("filename", "at most \(maxFileNameBytes) bytes") }
                form.file = (fileName, content)
            } else if let name = parameters["name"] {
                guard content.count <= 4_096 else { throw APIError.invalid(name, "at most 4096 bytes") }
                guard let value = String(validating: content, as: UTF8.self) else { throw APIError.invalid(name, "is not UTF-8 text") }
                guard form.fields.updateValue(value, forKey: name) == nil else { throw APIError.invalid(name, "is given twice") }
            }
            position = next + 2 + delimiter.count
        }
        return form
    }

    /// The longest name an uploaded file may have (a file system's limit; the API keeps 200 bytes of `file_name`).
    static let maxFileNameBytes = 255

    /// The parameters of a part's Content-Disposition header (`form-data; name="settlements"; filename="a.csv"`),
    /// names lower-cased, the first of a name kept: a quoted value with its backslash escapes undone (`"a\"b.tar"`),
    /// a bare one trimmed, and `filename*` (RFC 8187: `UTF-8''a%20b.tar`) decoded when there is no `filename`.
    static func dispositionParameters(_ header: String) -> [String: String] {
        let characters = Array(header)
        var parameters: [String: String] = [:]
        var index = characters.firstIndex(of: ";") ?? characters.count
        while index < characters.count {
            index += 1
            var name = ""
            while index < characters.count, characters[index] != "=", characters[index] != ";" { name.append(characters[index]); index += 1 }
            var value = ""
            if index < characters.count, characters[index] == "=" {
                index += 1
                while index < characters.count, characters[index] == " " { index += 1 }
                if index < characters.count, characters[index] == "\"" {
                    index += 1
                    while index < characters.count, characters[index] != "\"" {
                        if characters[index] == "\\", index + 1 < characters.count { index += 1 }
                        value.append(characters[index])
                        index += 1
                    }
                    while index < characters.count, characters[index] != ";" { index += 1 }
                } else {
                    while index < characters.count, characters[index] != ";" { value.append(characters[index]); index += 1 }
                    value = value.trimmingCharacters(in: .whitespaces)
                }
            }
            let key = name.trimmingCharacters(in: .whitespaces).lowercased()
            if !key.isEmpty, parameters[key] == nil { parameters[key] = value }
        }
        if parameters["filename"] == nil, let extended = parameters["filename*"] {
            let pieces = extended.split(separator: "'", maxSplits: 2, omittingEmptySubsequences: false)
            if pieces.count == 3, pieces[0].lowercased() == "utf-8", let decoded = String(pieces[2]).removingPercentEncoding {
                parameters["filename"] = decoded
            } else {
                parameters["filename"] = extended
            }
        }
        return parameters
    }

    /// Knuth-Morris-Pratt: linear in the haystack whatever its bytes (probe #14: a boundary of 69 dashes and a body
    /// of dashes made the byte-by-byte search quadratic, 30 s of a core for 8 MiB).
    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, start >= 0, haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        // fallback[i]: the length of the longest proper prefix of needle[0...i] that is also its suffix.
        var fallback = [Int](repeating: 0, count: needle.count)
        var k = 0
        for i in needle.indices.dropFirst() {
            while k > 0 && needle[i] != needle[k] { k = fallback[k - 1] }
            if needle[i] == needle[k] { k += 1 }
            fallback[i] = k
        }
        var matched = 0
        for i in start..<haystack.count {
            while matched > 0 && haystack[i] != needle[matched] { matched = fallback[matched - 1] }
            if haystack[i] == needle[matched] { matched += 1 }
            if matched == needle.count { return i - needle.count + 1 }
        }
        return nil
    }
}
