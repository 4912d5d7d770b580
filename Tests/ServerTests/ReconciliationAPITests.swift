import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import LevyTestSupport
import NIOCore
import Reconciliation
import Server
import Storage
import Testing

/// Reconciliation runs over the API: a settlement file written here by hand (one order settled, one not, one line
/// for an order Levy never had) is uploaded, reconciled in the background, and its differences read back.
@Suite struct ReconciliationAPITests {
    static func upload(_ client: some TestClientProtocol, _ query: String, key: String?, csv: String, type: String = "text/csv") async throws -> Reply {
        var headers = HTTPFields()
        if let key { headers[.authorization] = "Bearer " + key }
        headers[.contentType] = type
        return try await client.execute(uri: "/v1/reconciliations" + query, method: .post, headers: headers, body: ByteBuffer(string: csv)) { response in
            Reply(status: response.status.code, headers: response.headers, text: String(buffer: response.body))
        }
    }

    @Test("an uploaded settlement file is reconciled in the background; its differences are the ones written into it", arguments: Store.available)
    func uploadedFileReconciles(store: Store) async throws {
        let server = try await TestServer.make(store)
        let runner = try #require(server.api.services.reconciliations)
        try await server.routerApplication().test(.router) { client in
            let checkout = server.keys[.checkout]
            var orders: [(id: String, card: String)] = []
            for (i, fixture) in ["minneapolis.json", "med-spa.json"].enumerated() {
                let card = try await client.send(.post, "/v1/tokens", key: checkout, idempotency: "t\(i)",
                                                 body: #"{"number": "4242424242424242", "exp_month": 12, "exp_year": 2031}"#)
                let placed = try await client.send(.post, "/v1/orders", key: checkout, idempotency: "o\(i)", body: placeBody(fixture, token: card.string("token")))
                let id = try #require(placed.string("id"))
                let captured = try await client.send(.post, "/v1/orders/\(id)/capture", key: checkout, idempotency: "c\(i)")
                orders.append((id, try #require(captured.string("card_amount"), "\(captured.text)")))
            }
            let now = ISO8601DateFormatter().string(from: Date())
            let csv = """
                line_id,type,order_id,refund_id,processor_id,amount,fee,net,currency,created,settled
                L1,sale,\(orders[0].id),,,\(orders[0].card),0.00,,USD,\(now),\(now)
                L2,sale,ord_neverplacedbylevy000,,,5.00,0.00,,USD,\(now),\(now)
                L3,payout,,,,-10.00,0.00,,USD,\(now),\(now)

                """
            let reconciler = server.keys[.reconciler]
            #expect(try await Self.upload(client, "?layout=paypal", key: reconciler, csv: csv).errorField == "layout")
            #expect(try await Self.upload(client, "", key: reconciler, csv: csv, type: "application/json").status == 415)
            #expect(try await Self.upload(client, "", key: checkout, csv: csv).status == 403)
            let started = try await Self.upload(client, "?layout=generic&file_name=december.csv", key: reconciler, csv: csv)
            #expect(started.status == 202 && started.string("status") == "queued", "\(started.text)")
            let id = try #require(started.string("id"))
            #expect(try await client.send(.get, "/v1/reconciliations/\(id)/differences", key: reconciler).status == 409)

            #expect(try await runner.runQueued() == 1)
            let done = try await client.send(.get, "/v1/reconciliations/\(id)", key: reconciler)
            #expect(done.string("status") == "succeeded", "\(done.text)")
            let summary = try #require(done.json["summary"] as? [String: Any])
            #expect(summary["differences"] as? Int == 2 && summary["settlement_lines"] as? Int == 3 && summary["matched_lines"] as? Int == 1)
            let reasons = try #require(summary["by_reason"] as? [String: Int])
            #expect(reasons["missing_settlement"] == 1 && reasons["settlement_without_order"] == 1)
            let missing = try await client.send(.get, "/v1/reconciliations/\(id)/differences?reason=missing_settlement", key: server.keys[.accountant])
            let rows = try #require(missing.json["differences"] as? [[String: String]])
            #expect(missing.json["total"] as? Int == 1 && rows.first?["order_id"] == orders[1].id)
            #expect(try await client.send(.get, "/v1/reconciliations/\(id)/differences?reason=nonsense", key: reconciler).errorField == "reason")

            let download = try await ExportJobAPITests.bytes(client, "/v1/reconciliations/\(id)/download", key: reconciler)
            let text = String(decoding: download.bytes, as: UTF8.self)
            #expect(download.status == 200 && text.contains("\(id)/differences.csv") && text.contains("\(id)/summary.txt") && !text.contains("checkpoint"))
            // The run keeps its report only: the uploaded file and the checkpoint are gone.
            let runFolder = runner.runs.folder(id)
            let kept = try FileManager.default.subpathsOfDirectory(atPath: runFolder)
            #expect(!kept.isEmpty && !kept.contains("settlements.csv") && !kept.contains { $0.contains("checkpoint") }, "\(kept)")

            // The same lines in a layout of the uploader's own (the entries of a `--mapping` file as query
            // parameters): other column names, other type names, amounts in minor units. Same differences.
            func minor(_ amount: String) -> String { String(Int(amount.replacingOccurrences(of: ".", with: ""))!) }
            let own = """
                Ref,Kind,Order Ref,Gross,Fees,Cur,Booked
                L1,CHARGE,\(orders[0].id),\(minor(orders[0].card)),0,USD,\(now)
                L2,CHARGE,ord_neverplacedbylevy000,500,0,USD,\(now)
                L3,PAYOUT,,-1000,0,USD,\(now)

                """
            let mapping = "?column_line_id=Ref&column_type=Kind&column_order_id=Order%20Ref&column_amount=Gross&column_fee=Fees&column_currency=Cur"
                + "&column_created=Booked&column_settled=Booked&sale_types=charge&refund_types=credit,reversal&amount_units=minor"
            #expect(try await Self.upload(client, mapping + "&amount_units=cents", key: reconciler, csv: own).status == 400)
            #expect(try await Self.upload(client, "?column_amount=%20", key: reconciler, csv: own).errorField == "column_amount")
            #expect(try await Self.upload(client, "?column_fee=a%01b", key: reconciler, csv: own).errorField == "column_fee")
            // Kept with the run and shown back: no card number in a column or type name; a type is a sale or a refund.
            let card = "5555" + "5555" + "5555" + "4444"
            for (query, field) in [("?column_amount=\(card)", "column_amount"), ("?sale_types=charge,\(card)", "sale_types"),
                                   ("?layout=generic&sale_types=sale,refund", "sale_types"), ("?refund_types=Charge&layout=stripe", "refund_types")] {
                let refused = try await Self.upload(client, query, key: reconciler, csv: own)
                #expect(refused.status == 400 && refused.errorField == field && !refused.text.contains(card), "\(field): \(refused.text)")
            }
            let ownRun = try await Self.upload(client, mapping, key: reconciler, csv: own)
            let ownID = try #require(ownRun.string("id"), "\(ownRun.text)")
            let shown = try #require(ownRun.json["mapping"] as? [String: Any])
            #expect((shown["columns"] as? [String: String])?["order_id"] == "Order Ref" && shown["amount_units"] as? String == "minor")
            #expect(try await runner.runQueued() == 1)
            let ownDone = try await client.send(.get, "/v1/reconciliations/\(ownID)", key: reconciler)
            #expect(ownDone.string("status") == "succeeded", "\(ownDone.text)")
            let ownSummary = try #require(ownDone.json["summary"] as? [String: Any])
            #expect(ownSummary["differences"] as? Int == 2 && ownSummary["matched_lines"] as? Int == 1, "\(ownSummary)")
            #expect((ownSummary["by_reason"] as? [String: Int]) == reasons)
            // Without its mapping the same file fails, naming the columns the generic layout needs.
            let unmapped = try #require(try await Self.upload(client, "", key: reconciler, csv: own).string("id"))
            #expect(try await runner.runQueued() == 1)
            let unmappedRun = try await client.send(.get, "/v1/reconciliations/\(unmapped)", key: reconciler)
            #expect(unmappedRun.string("status") == "failed" && unmappedRun.string("error")?.contains("line_id") == true, "\(unmappedRun.text)")

            // A file the reconciler cannot read fails the run, naming the file as uploaded (not the server's folders).
            let broken = try await Self.upload(client, "", key: reconciler, csv: "line_id,type\nL1,sale\n")
            let brokenID = try #require(broken.string("id"))
            #expect(try await runner.runQueued() == 1)
            let failed = try await client.send(.get, "/v1/reconciliations/\(brokenID)", key: reconciler)
            #expect(failed.string("status") == "failed")
            let error = try #require(failed.string("error"))
            #expect(error.contains("settlements.csv") && !error.contains(server.directory), "\(error)")
            // Its report cannot be had, and the refusal says why (probe #9: it said only "the run is failed").
            let noReport = try await client.send(.get, "/v1/reconciliations/\(brokenID)/download", key: reconciler)
            #expect(noReport.status == 409 && noReport.text.contains("the run failed: ") && noReport.text.contains("settlements.csv"), "\(noReport.text)")
            // ... by the name it was uploaded under when the upload gave one (it said settlements.csv whatever it was).
            let named = try #require(try await Self.upload(client, "?file_name=bank-2026-10.csv", key: reconciler, csv: "line_id,type\nL1,sale\n").string("id"))
            #expect(try await runner.runQueued() == 1)
            let namedError = try #require(try await client.send(.get, "/v1/reconciliations/\(named)", key: reconciler).string("error"))
            #expect(namedError.contains("bank-2026-10.csv") && !namedError.contains("settlements.csv"), "\(namedError)")
            #expect(try await client.send(.get, "/v1/reconciliations/rec_000000000000000000000000", key: reconciler).status == 404)
        }
    }

    /// Hostile settlement files and options fail their run, or are refused, and never stop the server: the last day
    /// there is, amounts and fees past Int64, Unix seconds past the year 9999; a card number in a cell is not
    /// repeated in the run's error, and one in the file name is refused.
    @Test("hostile settlement files and options never stop the server", arguments: Store.available)
    func hostileSettlementFilesFailTheirRun(store: Store) async throws {
        let server = try await TestServer.make(store)
        let runner = try #require(server.api.services.reconciliations)
        let reconciler = server.keys[.reconciler]
        let header = "line_id,type,order_id,refund_id,processor_id,amount,fee,net,currency,created,settled\n"
        try await server.routerApplication().test(.router) { client in
            func run(_ query: String, _ row: String) async throws -> (status: String?, error: String?) {
                let started = try await Self.upload(client, query, key: reconciler, csv: header + row + "\n")
                let id = try #require(started.string("id"), "\(started.text)")
                #expect(try await runner.runQueued() == 1)
                let done = try await client.send(.get, "/v1/reconciliations/\(id)", key: reconciler)
                return (done.string("status"), done.string("error"))
            }
            let lastDay = try await run("?through=9999-12-31", "l1,sale,ord_x,,,1.00,0.00,,USD,2026-12-03,")
            #expect(lastDay.status == "succeeded", "\(lastDay)")
            for row in ["l1,sale,ord_x,,,1.00,-92233720368547758.07,,USD,2026-12-03,", "l1,sale,ord_x,,,92233720368547758,0,,USD,2026-12-03,",
                        "l1,sale,ord_x,,,10000000000000.01,0,,USD,2026-12-03,"] {
                let refused = try await run("?fee_percent=100&fee_fixed=999999.99", row)
                #expect(refused.status == "failed" && refused.error?.contains("out of range") == true || refused.error?.contains("is not an amount") == true,
                        "\(row): \(refused)")
            }
            // The limit reads in words: as digits the card-number mask hid it (probe #6).
            let over = try await run("", "l1,sale,ord_x,,,10000000000000.01,0,,USD,2026-12-03,")
            #expect(over.error?.contains("(at most ten trillion either way)") == true, "\(over)")
            let farTime = try await run("", "l1,sale,ord_x,,,1.00,0.00,,USD,9223372036854775807,")
            #expect(farTime.status == "failed" && farTime.error?.contains("created") == true, "\(farTime)")
            // A card number in any cell refuses the file, which is not kept; nor is the number repeated.
            let card = try await run("", "l1,sale,ord_x,,,1.00,0.00,,4242 4242 4242 4242,2026-12-03,")
            #expect(card.status == "failed" && card.error?.contains("card number") == true && card.error?.contains("4242") == false, "\(card)")
            let kept = FileManager.default.enumerator(atPath: server.directory)?.compactMap { $0 as? String }.filter { $0.hasSuffix("settlements.csv") } ?? []
            for path in kept {
                let text = (try? String(contentsOfFile: server.directory + "/" + path, encoding: .utf8)) ?? ""
                #expect(!text.contains("4242 4242"), "\(path) kept the card number")
            }
            // An amount with its point, in range, is money even when its digits pass the Luhn check (probe #8); a card
            // number in the same column is still refused.
            let luhnAmount = try await run("", "l1,sale,ord_x,,,-999999999854.63,0,,USD,2026-12-03,")
            #expect(luhnAmount.status == "succeeded", "\(luhnAmount)")
            let cardAmount = try await run("", "l1,sale,ord_x,,,4242424242424242,0,,USD,2026-12-03,")
            #expect(cardAmount.status == "failed" && cardAmount.error?.contains("card number") == true, "\(cardAmount)")
            // A run's error never repeats a long digit run from a cell (masked like API errors).
            let digits = try await run("", "l1,sale,ord_x,,,1.00,0.00,,1234 5678 9012 3456,2026-12-03,")
            #expect(digits.status == "failed" && digits.error?.contains("currency") == true && digits.error?.contains("9012") == false, "\(digits)")
            // A NUL in a cell: the message quoting it is stored with the NUL written out (PostgreSQL refused the text,
            // so the run stayed running and was later called interrupted; probe #11).
            let nul = try await run("", "l1,sale,ord_x,,,12\u{0}34,0.00,,USD,2026-12-03,")
            #expect(nul.status == "failed" && nul.error?.contains("amount") == true && nul.error?.contains("\\u{0}") == true, "\(nul)")
            #expect(JobQueue.storable("a\u{0}b\tc\u{1b}") == "a\\u{0}b\tc\\u{1b}")
            #expect(try await Self.upload(client, "?from=2026-12-31&through=2026-01-01", key: reconciler, csv: header).errorField == "through")
            #expect(try await Self.upload(client, "?fee_percent=150", key: reconciler, csv: header).errorField == "fee_percent")
            // Numbers as they print, like every other amount: no leading zero, digits on both sides of a point, no sign.
            for loose in ["02.9", ".5", "5.", "-0", "%2B1"] {
                #expect(try await Self.upload(client, "?fee_percent=\(loose)", key: reconciler, csv: header).errorField == "fee_percent", "\(loose)")
            }
            #expect(try await Self.upload(client, "?fee_percent=2.9&fee_fixed=00.30", key: reconciler, csv: header).errorField == "fee_fixed")
            #expect(try await Self.upload(client, "?fee_fixed=0.30", key: reconciler, csv: header).errorField == "fee_fixed", "a fixed fee alone")
            #expect(try await Self.upload(client, "?file_name=4242424242424242.csv", key: reconciler, csv: header).errorField == "file_name")
            #expect(try await client.send(.get, "/health", key: nil).status == 200)
        }
    }
}
