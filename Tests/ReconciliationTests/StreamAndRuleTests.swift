import Foundation
import Orders
@testable import Reconciliation
import TaxCore
import Testing

@Suite("Settlement file reading and matching rules")
struct StreamAndRuleTests {
    func file(_ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "levy-csv-" + UUID().uuidString + ".csv"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    func records(_ path: String, offset: Int64 = 0, line: Int = 1) throws -> [CSVStream.Record] {
        let stream = try CSVStream(path: path, offset: offset, line: line)
        var out: [CSVStream.Record] = []
        while let record = try stream.next() { out.append(record) }
        return out
    }

    @Test("RFC 4180 records: quotes, doubled quotes, line breaks inside fields, CRLF, a byte-order mark, no final line end")
    func rfc4180() throws {
        let path = try file("\u{FEFF}a,b,c\r\n\"x, y\",\"say \"\"hi\"\"\",\"two\nlines\"\r\n\r\n1,,3")
        let all = try records(path)
        #expect(all.map(\.fields) == [["a", "b", "c"], ["x, y", "say \"hi\"", "two\nlines"], ["1", "", "3"]])
        #expect(all.map(\.line) == [1, 2, 5])
        // Resuming after any record gives the rest, with the same line numbers.
        for (i, record) in all.enumerated() {
            let rest = try records(path, offset: record.end, line: record.line + (i == 1 ? 2 : 1))
            #expect(rest.map(\.fields) == all.dropFirst(i + 1).map(\.fields))
            #expect(rest.map(\.line) == all.dropFirst(i + 1).map(\.line))
        }
        #expect(throws: CSVStream.Failure.self) { try records(try file("a,\"open\nnever closed")) }
        #expect(throws: CSVStream.Failure.self) { try records(try file("a,\"closed\"x\n")) }
    }

    @Test("records across the 1 MiB buffer: none lost, none split")
    func largeFile() throws {
        var text = "id,note\n"
        for i in 0..<60_000 { text += "\(i),\"note \(i), with a comma and a \"\"quote\"\" and a\nline break\"\n" }
        let path = try file(text)
        // Removed at once: its 60,000 numbers include the digits of the security codes the card scan looks for.
        defer { try? FileManager.default.removeItem(atPath: path) }
        let all = try records(path)
        #expect(all.count == 60_001)
        #expect(all.last?.fields == ["59999", "note 59999, with a comma and a \"quote\" and a\nline break"])
        #expect(all.last?.line == 1 + 2 * 60_000 - 1)
    }

    /// Probe #16: one record of 16 MiB of commas took 300 MB and half a minute; a record is read within 1 MiB and
    /// 1,024 fields, or refused naming its line, whatever the file holds. Blank lines do not count against it.
    @Test("a record past 1 MiB or 1,024 fields is refused with its line; a long run of blank lines is not a record")
    func recordBounds() throws {
        func failure(_ text: String) throws -> String {
            let path = try file(text)
            defer { try? FileManager.default.removeItem(atPath: path) }
            do { _ = try records(path); return "read" } catch let failure as CSVStream.Failure { return failure.description.replacingOccurrences(of: path, with: "f") }
        }
        let wide = String(repeating: "x", count: 1 << 20)
        #expect(try failure("a,b\n1,2\n" + wide + "\n3,4\n") == "f:3: a record is longer than 1024 KiB (a quoted field not closed, or not a settlement file)")
        #expect(try failure("a,b\n\"" + wide) == "f:2: a record is longer than 1024 KiB (a quoted field not closed, or not a settlement file)")
        #expect(try failure("a,b\n" + String(repeating: ",", count: 5_000) + "\n") == "f:2: a record has more than 1024 fields")
        #expect(try failure(String(repeating: ",", count: 1_023) + "\n") == "read")
        let blanks = try file("a,b\n" + String(repeating: "\n", count: 3 << 20) + "1,2\n")
        defer { try? FileManager.default.removeItem(atPath: blanks) }
        #expect(try records(blanks).map(\.line) == [1, 2 + (3 << 20)])
    }

    @Test("amounts and times are read exactly or refused")
    func parsing() {
        #expect(MoneyText.parse("12.34", minorUnits: false) == 1234)
        #expect(MoneyText.parse("-0.5", minorUnits: false) == -50)
        #expect(MoneyText.parse("7", minorUnits: false) == 700)
        #expect(MoneyText.parse("1.234", minorUnits: false) == nil)
        #expect(MoneyText.parse("1,234.00", minorUnits: false) == nil)
        #expect(MoneyText.parse("12.", minorUnits: false) == nil)
        #expect(MoneyText.parse("1234", minorUnits: true) == 1234)
        #expect(MoneyText.parse("12.34", minorUnits: true) == nil)
        #expect(MoneyText.format(-5) == "-0.05")
        #expect(TimeText.normalize("2026-03-04 17:22") == "2026-03-04T17:22:00Z")
        #expect(TimeText.normalize("2026-03-04T17:22:09.123Z") == "2026-03-04T17:22:09Z")
        #expect(TimeText.normalize("2026-03-04") == "2026-03-04T00:00:00Z")
        #expect(TimeText.normalize("1772645529") == "2026-03-04T17:32:09Z")
        #expect(TimeText.normalize("March 4") == nil)
        // A time that names no instant is refused, not rolled over into another day (probe #12: "2026-12-40" was read
        // as 2027-01-09, "2026-02-31" as March 3, before the capture, hiding a late settlement).
        for text in ["2026-12-40", "2026-02-31", "2027-13-01", "2027-00-00", "2026-12-31 99:99:99", "2026-12-31 24:00:00", "2024-02-30",
                     "2026-11-02T25:00:00Z", "2025-02-29 10:00", "2026-04-31T10:00:00Z", "2026-06-31 10:00:00"] {
            #expect(TimeText.normalize(text) == nil, "\(text)")
        }
        #expect(TimeText.normalize("2024-02-29 10:00:00") == "2024-02-29T10:00:00Z")
        #expect(TimeText.normalize("2000-02-29") == "2000-02-29T00:00:00Z")
        #expect(TimeText.normalize("1900-02-29") == nil)
        #expect(TimeText.normalize("2026-12-31T23:59:59Z") == "2026-12-31T23:59:59Z")
    }

    @Test("a file's amounts may add up only to what a sum holds: the line that passes it is named, and a resumed run keeps counting")
    func magnitudesAreBounded() {
        var sums = SettlementMagnitudes(saved: nil)
        let big = line(amount: 1_000_000_000_000_000, fee: -1_000_000_000_000_000, net: 0)
        var added = 0
        while sums.add(big) { added += 1 }
        #expect(added == 9_223, "Int64.max / 10^15 lines at the bound")
        #expect(sums.amount == 9_223_000_000_000_000_000 && sums.fee == sums.amount && sums.net == 0)
        var resumed = SettlementMagnitudes(saved: sums.saved)
        #expect(!resumed.add(big) && resumed.saved == sums.saved)
        #expect(SettlementMagnitudes(saved: "1,2").saved == "0,0,0" && SettlementMagnitudes(saved: "-1,2,3").saved == "0,0,0")

        // Levy's own captures and refunds are summed the same way, page by page: a page that would pass Int64 adds nothing.
        var movements = MovementMagnitude(saved: nil)
        var capture = sale
        capture.amount = 1_000_000_000_000_000
        var pages = 0
        while movements.add([capture, capture]) { pages += 1 }
        #expect(pages == 4_611 && movements.total == 9_222_000_000_000_000_000)
        #expect(movements.add([capture]) && !movements.add([capture]) && movements.total == 9_223_000_000_000_000_000)
        #expect(MovementMagnitude(saved: movements.saved).total == movements.total && MovementMagnitude(saved: "-5").total == 0)
    }

    func line(amount: Int64, fee: Int64, net: Int64? = nil, currency: String = "USD", settled: String = "2026-03-06T10:00:00Z") -> SettlementLine {
        SettlementLine(line: 7, lineID: "txn_1", kind: .sale, type: "charge", orderID: "ord_1", refundID: "", processorID: "ch_1", amount: amount,
                       fee: fee, net: net ?? amount - fee, currency: currency, created: "2026-03-04T10:00:00Z", settled: settled)
    }

    let sale = PaymentMovement(kind: .sale, orderID: "ord_1", refundID: nil, processorID: nil, amount: 10_000, currency: "USD",
                               at: "2026-03-04T10:00:00Z", taxDate: "2026-03-04", ledgerTax: 0, recordedTax: 0, firstSeq: 1)
    let policy = MatchPolicy(fees: FeeSchedule(rate: Rate(units: 290_000_000), fixed: 30), lateAfterDays: 5)

    @Test("each rule fires alone: amount, currency, net, fee schedule, late; an exact line has none")
    func rules() {
        #expect(FeeSchedule(rate: Rate(units: 290_000_000), fixed: 30).fee(on: 10_000) == 320)
        #expect(FeeSchedule(rate: Rate(units: 290_000_000), fixed: 30).fee(on: 1_550) == 75)   // 44.95 rounds half up to 45
        #expect(MatchRules.compare(line(amount: 10_000, fee: 320), with: sale, policy: policy).isEmpty)
        #expect(MatchRules.compare(line(amount: 10_100, fee: 323), with: sale, policy: policy).map(\.reason) == [.amountMismatch])
        #expect(MatchRules.compare(line(amount: 10_000, fee: 320, currency: "CAD"), with: sale, policy: policy).map(\.reason) == [.currencyMismatch])
        #expect(MatchRules.compare(line(amount: 10_000, fee: 320, net: 9_000), with: sale, policy: policy).map(\.reason) == [.feeAnomaly])
        #expect(MatchRules.compare(line(amount: 10_000, fee: 335), with: sale, policy: policy).map(\.reason) == [.feeAnomaly])
        #expect(MatchRules.compare(line(amount: 10_000, fee: 335), with: sale, policy: MatchPolicy()).isEmpty, "no schedule: only net is checked")
        #expect(MatchRules.compare(line(amount: 10_000, fee: 320, settled: "2026-03-09T10:00:00Z"), with: sale, policy: policy).isEmpty)
        #expect(MatchRules.compare(line(amount: 10_000, fee: 320, settled: "2026-03-09T10:00:01Z"), with: sale, policy: policy).map(\.reason)
                == [.lateSettlement])
    }
}
