import Exports
import Foundation
import Storage
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import LevyTestSupport
import NIOCore
import Orders
import Server
import TaxCore
import Testing

/// Export jobs over the API: started, run by the server's job runner, read, and downloaded as a tar archive that
/// `tar` unpacks and whose signature verifies; its files equal what the exporter writes directly.
@Suite struct ExportJobAPITests {
    /// Two captured orders (one taxed in Minneapolis, the med spa's) to export.
    static func seed(_ client: some TestClientProtocol, _ server: TestServer) async throws {
        let checkout = server.keys[.checkout]
        for (i, fixture) in ["minneapolis.json", "med-spa.json"].enumerated() {
            let card = try await client.send(.post, "/v1/tokens", key: checkout, idempotency: "card-\(i)",
                                             body: #"{"number": "4242424242424242", "exp_month": 12, "exp_year": 2031}"#)
            let token = try #require(card.string("token"))
            let placed = try await client.send(.post, "/v1/orders", key: checkout, idempotency: "order-\(i)", body: placeBody(fixture, token: token))
            let id = try #require(placed.string("id"), "\(placed.text)")
            let captured = try await client.send(.post, "/v1/orders/\(id)/capture", key: checkout, idempotency: "capture-\(i)")
            #expect(captured.string("status") == "captured", "\(captured.text)")
        }
    }

    static func bytes(_ client: some TestClientProtocol, _ uri: String, key: String?) async throws -> (status: Int, headers: HTTPFields, bytes: [UInt8]) {
        var headers = HTTPFields()
        if let key { headers[.authorization] = "Bearer " + key }
        return try await client.execute(uri: uri, method: .get, headers: headers, body: nil) { response in
            (response.status.code, response.headers, Array(buffer: response.body))
        }
    }

    @Test("a detail export started over the API runs, downloads as a tar that unpacks and verifies, and equals the exporter's own",
          arguments: Store.available)
    func detailJobDownloadsVerified(store: Store) async throws {
        let server = try await TestServer.make(store, exports: true)
        let executor = try #require(server.api.services.exports)
        try await server.routerApplication().test(.router) { client in
            try await Self.seed(client, server)
            let accountant = server.keys[.accountant]
            let body = #"{"kind": "detail", "from": "2000-01-01", "through": "2099-12-31"}"#
            let started = try await client.send(.post, "/v1/exports", key: accountant, body: body)
            #expect(started.status == 202 && started.string("status") == "queued", "\(started.text)")
            let id = try #require(started.string("id"))
            let early = try await Self.bytes(client, "/v1/exports/\(id)/download", key: accountant)
            #expect(early.status == 409)

            #expect(try await executor.runQueued() == 1)
            let done = try await client.send(.get, "/v1/exports/\(id)", key: accountant)
            #expect(done.string("status") == "succeeded", "\(done.text)")
            let files = try #require(done.json["files"] as? [[String: Any]])
            #expect(files.map { $0["name"] as? String } == ["detail.csv"])
            let ledger = try await server.api.services.orders.ledger()
            #expect(files.first?["rows"] as? Int == ledger.count && ledger.count > 2)
            #expect(done.json["rows"] as? Int == ledger.count)

            let download = try await Self.bytes(client, "/v1/exports/\(id)/download", key: accountant)
            #expect(download.status == 200 && download.headers[.contentType] == "application/x-tar")
            #expect(download.headers[.contentDisposition] == "attachment; filename=\"\(id).tar\"")
            #expect(download.bytes.count % 512 == 0)
            let unpacked = server.directory + "/unpacked"
            try FileManager.default.createDirectory(atPath: unpacked, withIntermediateDirectories: true)
            try Data(download.bytes).write(to: URL(fileURLWithPath: unpacked + "/export.tar"))
            let tar = Process()
            tar.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            tar.arguments = ["tar", "-xf", unpacked + "/export.tar", "-C", unpacked]
            try tar.run()
            tar.waitUntilExit()
            #expect(tar.terminationStatus == 0)
            let folder = unpacked + "/" + id
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder).sorted() == ["detail.csv", "manifest.json", "manifest.sig"])
            let verified = ManifestVerifier.verify(directory: folder, trusted: [TestServer.exportKey.keyID])
            #expect(verified.intact, "\(verified.problems)")

            // The same export written by the exporter itself (as `levy export detail` does) has the same rows.
            let direct = server.directory + "/direct"
            _ = try await executor.exporter.detail(Exporter.Request(scope: ExportScope(from: TaxDate(iso: "2000-01-01")!, through: TaxDate(iso: "2099-12-31")!,
                                                                                       personalData: false)),
                                                   format: .csv, to: direct)
            #expect(FileManager.default.contents(atPath: direct + "/detail.csv") == FileManager.default.contents(atPath: folder + "/detail.csv"))

            let listed = try await client.send(.get, "/v1/exports", key: server.keys[.reconciler])
            #expect((listed.json["exports"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == [id])
        }
    }

    @Test("export requests are checked field by field; checkout keys, unknown ids and a full queue are refused")
    func refusals() async throws {
        let server = try await TestServer.make(.sqlite, exports: true)
        try await server.routerApplication().test(.router) { client in
            let accountant = server.keys[.accountant]
            func post(_ body: String, key: String? = nil) async throws -> Reply {
                try await client.send(.post, "/v1/exports", key: key ?? accountant, body: body)
            }
            // Customer ids, streets and cities are an admin's: another key may not ask for them (probe #14).
            let personal = try await post(#"{"kind": "detail", "from": "2026-01-01", "through": "2026-12-31", "personal_data": true, "requested_by": "x", "reason": "y"}"#)
            #expect(personal.status == 403, "\(personal.text)")
            let unsigned = try await post(#"{"kind": "detail", "from": "2026-01-01", "through": "2026-12-31", "personal_data": true}"#, key: server.keys[.admin])
            #expect(unsigned.status == 422 && unsigned.errorField == "requested_by")
            #expect(try await post(#"{"kind": "ledger", "from": "2026-01-01", "through": "2026-12-31"}"#).errorField == "kind")
            #expect(try await post(#"{"kind": "detail", "from": "2026-12-31", "through": "2026-01-01"}"#).errorField == "through")
            #expect(try await post(#"{"kind": "detail", "from": "2026-01-01", "through": "2026-12-31", "period": "quarter"}"#).errorField == "period")
            #expect(try await post(#"{"kind": "detail", "from": "2026-01-01", "through": "2026-12-31", "extra": 1}"#).status == 400)
            // No merchant profile and no company given: the SAF-T header's first missing field is named.
            let saft = try await post(#"{"kind": "saft", "from": "2026-01-01", "through": "2026-12-31"}"#)
            #expect(saft.status == 422 && saft.errorField?.hasPrefix("company.") == true, "\(saft.text)")
            // Probe #9: a header of state ZZ, ZIP "abc" or a name turned around by U+202E was written.
            for (company, field) in [(#"{"state": "ZZ"}"#, "company.state"), (#"{"zip": "abc"}"#, "company.zip"),
                                     (#"{"name": "Glow \u202Eaps deM"}"#, "company.name")] {
                let refused = try await post(#"{"kind": "saft", "from": "2026-01-01", "through": "2026-12-31", "company": "# + company + "}")
                #expect(refused.status == 400 && refused.errorField == field, "\(refused.text)")
            }
            #expect(try await post(#"{"kind": "detail", "from": "2026-01-01", "through": "2026-12-31"}"#, key: server.keys[.checkout]).status == 403)
            #expect(try await client.send(.get, "/v1/exports/job_000000000000000000000000", key: accountant).status == 404)
            #expect(try await client.send(.get, "/v1/exports/../../etc", key: accountant).status == 404)

            for _ in 0..<ExportJobStore.queueLimit {
                #expect(try await post(#"{"kind": "liability", "from": "2026-01-01", "through": "2026-12-31"}"#).status == 202)
            }
            let full = try await post(#"{"kind": "liability", "from": "2026-01-01", "through": "2026-12-31"}"#)
            #expect(full.status == 429 && full.errorCode == "export_queue_full" && full.headers[.retryAfter] == "10")
        }
    }

    @Test("a job whose server died while it ran is marked failed and its partial folder removed; the next queued one still runs",
          arguments: Store.available)
    func abandonedJobsFail(store: Store) async throws {
        let server = try await TestServer.make(store, exports: true)
        let executor = try #require(server.api.services.exports)
        let jobs = executor.jobs
        let parameters = ExportJob.Parameters(from: "2026-01-01", through: "2026-12-31", personalData: false)
        let dead = try await jobs.enqueue(.detail, parameters, key: "k")
        let next = try await jobs.enqueue(.liability, parameters, key: "k")
        // The first is claimed by a process that then dies after writing part of its folder.
        #expect(try await jobs.claimNext()?.id == dead.id)
        try FileManager.default.createDirectory(atPath: jobs.folder(dead.id), withIntermediateDirectories: true)
        try Data("partial".utf8).write(to: URL(fileURLWithPath: jobs.folder(dead.id) + "/detail.csv"))
        // Its heartbeat is fresh: not failed yet.
        #expect(try await jobs.failAbandoned().isEmpty)
        // Three minutes later (a store with a later clock) it is.
        let later = ExportJobStore(database: jobs.database, schema: jobs.schema, directory: jobs.directory, now: { Date().addingTimeInterval(180) })
        #expect(try await later.failAbandoned() == [dead.id])
        let failed = try await jobs.job(dead.id)
        #expect(failed.status == .failed && failed.error?.contains("interrupted") == true)
        #expect(!FileManager.default.fileExists(atPath: jobs.folder(dead.id)))
        #expect(try await executor.runQueued() == 1)
        #expect(try await jobs.job(next.id).status == .succeeded)
    }

    @Test("the server's own job runner picks up a job started over a live connection")
    func liveServerRunsJobs() async throws {
        let server = try await TestServer.make(.sqlite, exports: true)
        try await server.application().test(.live) { client in
            let accountant = server.keys[.accountant]
            let started = try await client.send(.post, "/v1/exports", key: accountant,
                                                body: #"{"kind": "report", "from": "2026-01-01", "through": "2026-12-31", "merchant": "Glow Med Spa"}"#)
            let id = try #require(started.string("id"), "\(started.text)")
            var status = ""
            for _ in 0..<100 where status != "succeeded" && status != "failed" {
                try await Task.sleep(for: .milliseconds(200))
                // The test client gives up on a response after 20 s; with every suite running at once on two cores a
                // poll can wait that long for a thread. A timed-out poll is polled again (the job's outcome is what
                // is checked).
                do {
                    status = try await client.send(.get, "/v1/exports/\(id)", key: accountant).string("status") ?? ""
                } catch let error as TestClient.Error where error == .readTimeout {
                    continue
                }
            }
            #expect(status == "succeeded")
            let download = try await Self.bytes(client, "/v1/exports/\(id)/download", key: accountant)
            #expect(download.status == 200)
            #expect(String(decoding: download.bytes, as: UTF8.self).contains("Glow Med Spa"))
        }
    }

    /// Probe #14: an export with personal data was downloadable by a reconciler's key, and still held a customer's
    /// street after the customer's erasure. Only an admin downloads it now, and an erasure removes the files of
    /// every finished export with personal data (410 after; made again, the export has the customer blanked).
    @Test func personalDataExportsAreAdminsAndGoWithAnErasure() async throws {
        let server = try await TestServer.make(.sqlite, exports: true)
        let executor = try #require(server.api.services.exports)
        try await server.routerApplication().test(.router) { client in
            let admin = server.keys[.admin]
            let (customerID, _) = try await capturedOrderOfACustomer(
                client, server, street: #"{"line1": "77 Hiddenstreet Rd", "city": "Saint Paul", "state": "MN", "zip": "55101"}"#)
            let body = #"{"kind": "detail", "from": "2000-01-01", "through": "2099-12-31", "personal_data": true, "requested_by": "Ada", "reason": "audit"}"#
            let started = try await client.send(.post, "/v1/exports", key: admin, body: body)
            let id = try #require(started.string("id"), "\(started.text)")
            #expect(try await executor.runQueued() == 1)
            #expect(try await Self.bytes(client, "/v1/exports/\(id)/download", key: server.keys[.reconciler]).status == 403)
            let download = try await Self.bytes(client, "/v1/exports/\(id)/download", key: admin)
            #expect(download.status == 200 && String(decoding: download.bytes, as: UTF8.self).contains("Hiddenstreet"))
            // A export without personal data stays; the one with it goes with the erasure.
            let plain = try await client.send(.post, "/v1/exports", key: server.keys[.accountant], body: #"{"kind": "liability", "from": "2000-01-01", "through": "2099-12-31"}"#)
            let plainID = try #require(plain.string("id"))
            #expect(try await executor.runQueued() == 1)
            #expect(try await client.send(.post, "/v1/customers/\(customerID)/erasure", key: admin).status == 200)
            #expect(try await Self.bytes(client, "/v1/exports/\(id)/download", key: admin).status == 410)
            #expect(try await Self.bytes(client, "/v1/exports/\(plainID)/download", key: server.keys[.accountant]).status == 200)
            let again = try await client.send(.post, "/v1/exports", key: admin, body: body)
            let againID = try #require(again.string("id"))
            #expect(try await executor.runQueued() == 1)
            let blanked = try await Self.bytes(client, "/v1/exports/\(againID)/download", key: admin)
            #expect(blanked.status == 200 && !String(decoding: blanked.bytes, as: UTF8.self).contains("Hiddenstreet"))

            // An erasure while an export with personal data runs: the export finishes, and its files go as if it had
            // finished before (it may have read the customer first). Without an erasure they stay.
            for erasedWhileRunning in [false, true] {
                _ = try await client.send(.post, "/v1/exports", key: admin, body: body)
                let job = try #require(try await executor.jobs.claimNext())
                if erasedWhileRunning {
                    // The running one, and those that finished since the first erasure (the first is withdrawn once).
                    let withdrawn = try await executor.jobs.withdrawPersonalDataFiles()
                    #expect(withdrawn.contains(job.id) && withdrawn.contains(againID) && !withdrawn.contains(id))
                }
                await executor.execute(job)
                #expect(try await executor.jobs.job(job.id).status == .succeeded)
                #expect(FileManager.default.fileExists(atPath: executor.jobs.folder(job.id)) == !erasedWhileRunning)
                #expect(try await Self.bytes(client, "/v1/exports/\(job.id)/download", key: admin).status == (erasedWhileRunning ? 410 : 200))
            }
        }
    }

    /// Probe #17: with two server processes on one database, each with its own exports folder, an erasure in one
    /// removed the files and marked the running exports of its own folder only: an export the other had run kept the
    /// erased customer's street. The withdrawal is on the job's row now, read by every process.
    @Test func anErasureReachesTheExportsOfAnotherProcess() async throws {
        let server = try await TestServer.make(.sqlite, exports: true)
        let executor = try #require(server.api.services.exports)
        let otherFolder = FileManager.default.temporaryDirectory.appendingPathComponent("levy-other-exports-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: otherFolder) }
        let other = ExportJobExecutor(jobs: ExportJobStore(database: executor.jobs.database, schema: executor.jobs.schema, directory: otherFolder),
                                      exporter: executor.exporter, saftSchema: nil)
        try await server.routerApplication().test(.router) { client in
            let admin = server.keys[.admin]
            let (customerID, _) = try await capturedOrderOfACustomer(
                client, server, street: #"{"line1": "12 Elsewhere Ave", "city": "Saint Paul", "state": "MN", "zip": "55101"}"#)
            let body = #"{"kind": "detail", "from": "2000-01-01", "through": "2099-12-31", "personal_data": true, "requested_by": "Ada", "reason": "audit"}"#
            // One export finished by the other process, one still running there, and one without personal data.
            _ = try await client.send(.post, "/v1/exports", key: admin, body: body)
            #expect(try await other.runQueued() == 1)
            let finished = try #require(try await other.jobs.list().first)
            #expect(String(decoding: try Data(contentsOf: URL(fileURLWithPath: other.jobs.folder(finished.id) + "/detail.csv")), as: UTF8.self)
                .contains("Elsewhere"))
            _ = try await client.send(.post, "/v1/exports", key: server.keys[.accountant], body: #"{"kind": "liability", "from": "2000-01-01", "through": "2099-12-31"}"#)
            #expect(try await other.runQueued() == 1)
            let plain = try #require(try await other.jobs.list().first)
            _ = try await client.send(.post, "/v1/exports", key: admin, body: body)
            let running = try #require(try await other.jobs.claimNext())

            #expect(try await client.send(.post, "/v1/customers/\(customerID)/erasure", key: admin).status == 200)
            let shown = try await client.send(.get, "/v1/exports/\(finished.id)", key: admin)
            #expect(shown.string("files_removed_at") != nil && shown.string("download") == nil, "\(shown.text)")
            #expect(try await other.jobs.job(finished.id).filesRemoved != nil)
            #expect(try await other.jobs.job(plain.id).filesRemoved == nil)
            await other.execute(running)
            #expect(try await other.jobs.job(running.id).status == .succeeded)
            #expect(!FileManager.default.fileExists(atPath: other.jobs.folder(running.id)))
            // The other process's minute pass removes the finished one; the export without personal data stays.
            #expect(FileManager.default.fileExists(atPath: other.jobs.folder(finished.id)))
            #expect(try await other.jobs.removeWithdrawnFolders() == [finished.id])
            #expect(!FileManager.default.fileExists(atPath: other.jobs.folder(finished.id)))
            #expect(FileManager.default.fileExists(atPath: other.jobs.folder(plain.id)))
            #expect(try await other.jobs.removeWithdrawnFolders().isEmpty)
        }
    }
}
