import Crypto
@testable import Exports
import Foundation
import LevyBenchmarks
import Orders
import Storage
import TaxCore
import TaxTables
import LevyTestSupport
import Testing
import Vault


/// A seeded store (demo orders with customers, exemptions, not-collecting lines and refunds) and an exporter.
struct World: Sendable {
    let database: any SQLDatabase
    let orders: OrderService
    let exporter: Exporter
    let directory: String

    static let repository: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()
    static let tables: TaxTableSet = try! CanonicalTables.load(directory: repository + "/TaxTables").tables
    static let schema = repository + "/Schemas/oecd-saft-2.00/FAIA_v_2.01_full.xsd"
    static let postgres: PostgresDatabase? = ProcessInfo.processInfo.environment["LEVY_TEST_POSTGRES_URL"].map { try! PostgresDatabase(url: $0) }
    /// The signing key's id, as a merchant publishes it: what verification trusts.
    static let trusted = [try! SigningKey(raw: Array(repeating: 7, count: 32)).keyID]
    static let everything = ExportScope(from: TaxDate(iso: "2026-01-01")!, through: TaxDate(iso: "2026-12-31")!, personalData: true)

    static func make(_ store: Store, orders count: Int = 240) async throws -> World {
        let directory = NSTemporaryDirectory() + "levy-exports-tests/" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let database: any SQLDatabase = store == .sqlite ? try SQLiteDatabase(path: directory + "/levy.sqlite") : postgres!
        let prefix = store == .sqlite ? "" : "x" + String(UUID().uuidString.lowercased().filter(\.isLetter).prefix(10)) + "_"
        let orders = OrderService(database: database, schema: prefix + "orders", tables: tables, gateway: nil,
                                  keys: OrderKeys(masterKey: try MasterKey(bytes: Array(repeating: 3, count: 32))))
        let customers = CustomerService(database: database, schema: prefix + "customers")
        try await orders.migrate()
        try await customers.migrate()
        _ = try await DemoSeed.run(service: orders, customers: customers, count: count, seed: 11, refundEvery: 4)
        let exporter = Exporter(database: database, ordersSchema: prefix + "orders", customersSchema: prefix + "customers",
                                exportsSchema: prefix + "exports", signingKey: try SigningKey(raw: Array(repeating: 7, count: 32)))
        try await exporter.migrate()
        return World(database: database, orders: orders, exporter: exporter, directory: directory)
    }

    func out(_ name: String) -> String { directory + "/" + name }

    func request(personalData: Bool = true) -> Exporter.Request {
        var scope = Self.everything
        scope.personalData = personalData
        return Exporter.Request(scope: scope, requestedBy: personalData ? "Jane Auditor, MN DOR" : nil,
                                reason: personalData ? "audit notice 2026-114 (Minn. Stat. 289A.35)" : nil)
    }
}


func cents(_ text: String?) -> Int64 { Int64((text ?? "0").replacingOccurrences(of: ".", with: "")) ?? 0 }

/// A detail file's sale row as its jurisdiction reports it, recomputed from the file's own columns by the rules of
/// docs/exports.md: gross sales are the line's net amount and any third-party consideration taxed (the line's
/// taxable and exempt parts above its amount); exempt sales are the line's exempt part and what the jurisdiction's
/// own base leaves out of the rest.
func jurisdictionSale(_ row: [String: String]) -> (gross: Int64, exempt: Int64) {
    let amount = cents(row["line_amount"]), exempt = cents(row["line_exempt"])
    let gross = amount + max(0, cents(row["line_taxable"]) + exempt - amount)
    let notTaxedHere = row["jurisdiction_code"] == "none" ? 0 : max(0, gross - exempt - cents(row["taxable"]))
    return (gross, exempt + notTaxedHere)
}

@Suite struct ExportsTests {
    /// Two taxes of one line under one code, as orders placed while Cook County's amusement tax carried the county's
    /// FIPS 17031 keep them (probe #12: the detail crossed the two entries with both names and the liability counted
    /// the county's 3.00 twice, 15.00 due on 12.00 collected): one row per ledger entry, each with its own name.
    @Test(arguments: Store.available)
    func aCodeSharedOnOneLineIsCountedOnce(store: Store) async throws {
        let world = try await World.make(store, orders: 0)
        let chicago = Address(line1: "1 Main St", city: "Chicago", state: StateCode("IL")!, zip: ZipCode("60601")!)
        let request = QuoteRequest(date: TaxDate(iso: "2026-05-04")!, origin: chicago, registrations: [StateCode("IL")!],
                                   lines: [QuoteLine(id: "show", code: .admission, amount: Money(minorUnits: 10_000), fulfilment: .inPerson)])
        let placed = try await world.orders.place(request, idempotencyKey: "cook", requestHash: "h")
        _ = try await world.orders.capture(placed.id)
        #expect(placed.totalTax == 1_200, "Chicago's 9% and Cook County's 3% amusement taxes")
        for name in ["ledger", "order_taxes"] {
            try await world.database.execute("UPDATE \(world.orders.table(name)) SET jurisdiction_code = '17031' WHERE jurisdiction_code = 'L-IL-COUNTY-COOK-AMUSEMENT-TAX'")
        }
        let ledger = try await world.orders.ledger()
        #expect(ledger.filter { $0.jurisdictionCode == "17031" }.count == 2)
        let detail = try await world.exporter.detail(world.request(), format: .csv, to: world.out("detail"))
        let rows = try readCSV(world.out("detail/detail.csv"))
        #expect(rows.count == ledger.count)
        #expect(rows.filter { $0["jurisdiction_code"] == "17031" }.map { "\($0["jurisdiction_name"] ?? "") \($0["tax"] ?? "")" }.sorted()
                == ["Cook County (county-wide taxes and the RTA) 0.00", "Cook County amusement tax 3.00"])
        #expect(detail.controlTotals["net_tax_due"] == "12.00")
        let liability = try await world.exporter.liability(world.request(), period: .month, format: .csv, to: world.out("liability"))
        #expect(liability.controlTotals["net_tax_due"] == "12.00")
    }

    /// The detail has one row per ledger entry, the liability sums exactly the detail rows, and both tie to the
    /// ledger and to the orders' tax less refunds, to the cent; on SQLite and PostgreSQL.
    @Test(arguments: Store.available)
    func liabilityTiesToDetailAndLedger(store: Store) async throws {
        let world = try await World.make(store)
        // And a manufacturer's coupon in Wisconsin, which taxes the price before it (probe #19: the liability's gross
        // sales left it out, so taxable sales exceeded gross less exempt).
        let madison = Address(line1: "1 E Main St", city: "Madison", state: StateCode("WI")!, zip: ZipCode("53703")!)
        let coupon = QuoteRequest(date: TaxDate(iso: "2026-11-16")!, origin: madison, destination: madison,
                                  lines: [QuoteLine(id: "serum", code: .general, amount: Money(minorUnits: 10_000), fulfilment: .shipped)],
                                  discounts: [OrderDiscount(id: "maker", amount: Money(minorUnits: 2_000), kind: .thirdParty)])
        let placed = try await world.orders.place(coupon, idempotencyKey: "coupon", requestHash: "h")
        _ = try await world.orders.capture(placed.id)
        let detail = try await world.exporter.detail(world.request(), format: .csv, to: world.out("detail"))
        let liability = try await world.exporter.liability(world.request(), period: .month, format: .csv, to: world.out("liability"))

        let ledger = try await world.orders.ledger()
        let rows = try readCSV(world.out("detail/detail.csv"))
        #expect(rows.count == ledger.count && detail.files[0].rows == ledger.count)
        #expect(rows.map { cents($0["tax"]) }.reduce(0, +) == ledger.reduce(0) { $0 + $1.tax })
        #expect(rows.compactMap { Int($0["ledger_seq"] ?? "") } == ledger.map(\.seq))
        let sums = try await world.database.query("SELECT SUM(total_tax) AS tax FROM \(world.orders.table("orders"))")
        let refunded = try await world.database.query("SELECT SUM(tax) AS tax FROM \(world.orders.table("refunds"))")
        let expectedNet = (sums.first?.integer("tax") ?? 0) - (refunded.first?.integer("tax") ?? 0)
        #expect(cents(detail.controlTotals["net_tax_due"]) == expectedNet)
        #expect(liability.controlTotals["net_tax_due"] == detail.controlTotals["net_tax_due"])
        // Sales are counted once per line, not once per jurisdiction row.
        let gross = try await world.database.query("""
            SELECT SUM(amount + CASE WHEN taxable + exempt > amount THEN taxable + exempt - amount ELSE 0 END) AS a FROM \(world.orders.table("order_lines"))
            """)
        let refundedAmount = try await world.database.query("SELECT SUM(amount) AS a FROM \(world.orders.table("refunds"))")
        #expect(cents(detail.controlTotals["gross_sales"]) == gross.first?.integer("a"))
        #expect(cents(detail.controlTotals["refunded_sales"]) == -(refundedAmount.first?.integer("a") ?? 0))
        // The line's product code, fulfilment and sourcing rule come out as stored (the reader types them; the
        // export writes their stored text), checked against the order lines read here with SQL.
        var stored: [String: String] = [:]
        for line in try await world.database.query("SELECT order_id, line_no, code, fulfilment, sourcing_rule FROM \(world.orders.table("order_lines"))") {
            stored["\(line.text("order_id") ?? "") \(line.integer("line_no") ?? 0)"] =
                "\(line.text("code") ?? "") \(line.text("fulfilment") ?? "") \(line.text("sourcing_rule") ?? "")"
        }
        #expect(Set(stored.values.map { $0.split(separator: " ")[1] }).count > 1, "the seeded lines have more than one fulfilment")
        for row in rows {
            #expect(stored["\(row["order_id"]!) \(row["line_number"]!)"] == "\(row["product_code"]!) \(row["fulfilment"]!) \(row["sourcing_rule"]!)")
        }

        // Every liability row equals the detail rows of its period and jurisdiction summed again here.
        struct Sum: Equatable { var gross: Int64 = 0, exempt: Int64 = 0, taxable: Int64 = 0, tax: Int64 = 0, refundedTax: Int64 = 0 }
        var recomputed: [String: Sum] = [:]
        for row in rows {
            let refund = row["document_type"] == "refund"
            let period = String((refund ? row["document_date"]! : row["tax_date"]!).prefix(7))
            let key = "\(period) \(row["state"]!) \(row["jurisdiction_code"]!) \(row["jurisdiction_level"]!)"
            var sum = recomputed[key] ?? Sum()
            if refund { sum.refundedTax += cents(row["tax"]) } else {
                let sale = jurisdictionSale(row)
                sum.gross += sale.gross; sum.exempt += sale.exempt
                sum.taxable += cents(row["taxable"]); sum.tax += cents(row["tax"])
                // Each jurisdiction's gross sales are its exempt and taxable sales.
                #expect(sale.gross == sale.exempt + cents(row["taxable"]) || row["jurisdiction_code"] == "none", "\(row)")
            }
            recomputed[key] = sum
        }
        let summary = try readCSV(world.out("liability/liability.csv"))
        #expect(summary.count == recomputed.count)
        for row in summary {
            let key = "\(row["period"]!) \(row["state"]!) \(row["jurisdiction_code"]!) \(row["jurisdiction_level"]!)"
            let expected = try #require(recomputed[key], "\(key)")
            #expect(Sum(gross: cents(row["gross_sales"]), exempt: cents(row["exempt_sales"]), taxable: cents(row["taxable_sales"]),
                        tax: cents(row["tax_collected"]), refundedTax: cents(row["tax_refunded"])) == expected, "\(key)")
            #expect(cents(row["net_tax_due"]) == expected.tax + expected.refundedTax)
        }
        #expect(summary.contains { $0["exempt_by_reason"]?.contains("certificate_resale=") == true })
        #expect(summary.contains { $0["exempt_by_reason"]?.contains("not_taxed_by_jurisdiction=") == true })
        let wisconsin = try #require(summary.first { $0["period"] == "2026-11" && $0["state"] == "WI" && $0["jurisdiction_level"] == "state" })
        #expect(cents(wisconsin["gross_sales"]) == cents(wisconsin["exempt_sales"]) + cents(wisconsin["taxable_sales"]))
        #expect(cents(wisconsin["gross_sales"]) >= 10_000, "the coupon's 20.00 is gross receipts: \(wisconsin)")
        #expect(Set(summary.map { $0["period"]! }).count >= 9)
    }

    @Test(arguments: Store.available)
    func saftValidatesAndTiesToTheLedger(store: Store) async throws {
        let world = try await World.make(store)
        let company = CompanyInfo(name: "Glow Med Spa LLC", registrationNumber: "MN-1234567", street: "800 Nicollet Mall", city: "Minneapolis",
                                  state: "MN", zip: "55402", contactFirstName: "Ada", contactLastName: "Owner", telephone: "+1 612 555 0100")
        let manifest = try await world.exporter.saft(world.request(personalData: false), company: company, schema: World.schema, to: world.out("saft"))
        let ledger = try await world.orders.ledger()
        #expect(cents(manifest.controlTotals["net_tax"]) == ledger.reduce(0) { $0 + $1.tax })
        #expect(manifest.controlTotals["schema"]?.contains("valid") == true)
        let validation = try SchemaValidator.validate(file: world.out("saft/saft.xml"), schema: World.schema)
        #expect(validation.total == 0 && validation.elements > 10_000)
        let xml = try String(contentsOfFile: world.out("saft/saft.xml"), encoding: .utf8)
        #expect(!xml.contains("Demo Customer") && !xml.contains("Main St") && !xml.contains("cus_"))
        #expect(xml.contains("<InvoiceType>CN</InvoiceType>"))
        // Line descriptions name the code, fulfilment and sourcing rule by their stored text.
        #expect(xml.contains("<ProductCode>personal_care_service</ProductCode>"))
        #expect(xml.contains(" (in_person), sourced to ") && xml.contains(" by 310.A.1_seller_location</Description>"))
        #expect(!xml.contains("inPerson") && !xml.contains("sellerLocation"))
        #expect(ManifestVerifier.verify(directory: world.out("saft"), trusted: World.trusted).intact)

        // A file the schema refuses is found, with its line: drop the required header element.
        let broken = world.out("broken.xml")
        try xml.replacingOccurrences(of: "<AuditFileCountry>US</AuditFileCountry>", with: "").write(toFile: broken, atomically: true, encoding: .utf8)
        let refused = try SchemaValidator.validate(file: broken, schema: World.schema)
        #expect(refused.total > 0 && refused.problems[0].line == 3 && refused.problems[0].message.contains("AuditFileCountry"))
    }

    /// Verification passes as written and fails on a changed byte, a changed manifest, an extra file or another key.
    /// A period that is not the whole year: sales by their tax date, refunds by the day they were made, each row once.
    @Test(arguments: Store.available)
    func partialPeriodsTakeTheirOwnRows(store: Store) async throws {
        let world = try await World.make(store, orders: 120)
        let ledger = try await world.orders.ledger()
        func request(_ from: String, _ through: String) -> Exporter.Request {
            Exporter.Request(scope: ExportScope(from: TaxDate(iso: from)!, through: TaxDate(iso: through)!, personalData: false),
                             requestedBy: nil, reason: nil)
        }
        // March to May: the sales taxed then, no refund (the seeded refunds were made today, in this run).
        _ = try await world.exporter.detail(request("2026-03-01", "2026-05-31"), format: .csv, to: world.out("spring"))
        let spring = try readCSV(world.out("spring/detail.csv"))
        let springSales = ledger.filter { $0.kind == "sale" && $0.taxDate >= "2026-03-01" && $0.taxDate <= "2026-05-31" }
        #expect(!springSales.isEmpty && spring.count == springSales.count)
        #expect(Set(spring.compactMap { Int($0["ledger_seq"] ?? "") }) == Set(springSales.map(\.seq)))
        #expect(spring.allSatisfy { $0["document_type"] == "sale" })
        // The days around today: every refund, and no sale (the seeded tax dates end in October 2026).
        let today = String(ledger.filter { $0.kind == "refund" }.map(\.at).max()?.prefix(10) ?? "")
        let day = 86_400.0
        let around = (Date().addingTimeInterval(-2 * day), Date().addingTimeInterval(2 * day))
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate]
        _ = try await world.exporter.detail(request(formatter.string(from: around.0), formatter.string(from: around.1)), format: .csv,
                                            to: world.out("now"))
        let now = try readCSV(world.out("now/detail.csv"))
        let refunds = ledger.filter { $0.kind == "refund" }
        #expect(!today.isEmpty && !refunds.isEmpty)
        #expect(now.count == refunds.count && now.allSatisfy { $0["document_type"] == "refund" })
        #expect(now.map { cents($0["tax"]) }.reduce(0, +) == refunds.reduce(0) { $0 + $1.tax })
    }

    @Test(arguments: Store.available) func manifestVerificationFindsEveryChange(store: Store) async throws {
        let world = try await World.make(store, orders: 60)
        _ = try await world.exporter.detail(world.request(), format: .pipe, to: world.out("d"))
        let folder = world.out("d")
        #expect(ManifestVerifier.verify(directory: folder, trusted: World.trusted).intact)
        let key = try SigningKey(raw: Array(repeating: 7, count: 32))
        #expect(ManifestVerifier.verify(directory: folder, trusted: [key.keyID]).intact)
        #expect(!ManifestVerifier.verify(directory: folder, trusted: ["0011223344556677"]).intact)

        let file = folder + "/detail.txt"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        bytes[bytes.count / 2] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: file))
        let changed = ManifestVerifier.verify(directory: folder, trusted: World.trusted)
        #expect(!changed.intact && changed.problems.contains { $0.contains("detail.txt: SHA-256") })
        bytes[bytes.count / 2] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: file))
        #expect(ManifestVerifier.verify(directory: folder, trusted: World.trusted).intact)

        let manifestPath = folder + "/manifest.json"
        let original = try String(contentsOfFile: manifestPath, encoding: .utf8)
        try original.replacingOccurrences(of: "\"rows\" : ", with: "\"rows\" : 1").write(toFile: manifestPath, atomically: true, encoding: .utf8)
        #expect(ManifestVerifier.verify(directory: folder, trusted: World.trusted).problems.contains { $0.contains("signature does not match") })
        try original.write(toFile: manifestPath, atomically: true, encoding: .utf8)

        try "x".write(toFile: folder + "/extra.csv", atomically: true, encoding: .utf8)
        #expect(ManifestVerifier.verify(directory: folder, trusted: World.trusted).problems == ["extra.csv: not in the manifest"])
    }

    /// A forgery re-signed with a fresh key, a folder with no trusted key, and a manifest naming a path all fail.
    @Test(arguments: Store.available) func verificationTrustsOnlyKnownKeysAndPlainNames(store: Store) async throws {
        let world = try await World.make(store, orders: 30)
        _ = try await world.exporter.detail(world.request(), format: .csv, to: world.out("f"))
        let folder = world.out("f")
        #expect(ManifestVerifier.verify(directory: folder, trusted: World.trusted).intact)
        #expect(!ManifestVerifier.verify(directory: folder, trusted: []).intact)

        // Edit a file, put its new digest in the manifest and re-sign with a key of the forger's own.
        let file = folder + "/detail.csv"
        try (try String(contentsOfFile: file, encoding: .utf8) + "forged\n").write(toFile: file, atomically: true, encoding: .utf8)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        var manifest = try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: URL(fileURLWithPath: folder + "/manifest.json")))
        manifest.files = manifest.files.map { entry in
            var entry = entry
            if entry.name == "detail.csv" {
                entry.bytes = bytes.count
                entry.sha256 = SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
            }
            return entry
        }
        let forger = try SigningKey(raw: Array(repeating: 8, count: 32))
        try ExportsTests.resign(folder, manifest, with: forger)
        let forged = ManifestVerifier.verify(directory: folder, trusted: World.trusted)
        #expect(!forged.intact && forged.problems.contains { $0.contains("not a trusted key") })
        #expect(ManifestVerifier.verify(directory: folder, trusted: [forger.keyID]).intact, "only trust decides")

        // A manifest naming a file outside the folder is refused before anything is read.
        manifest.files.append(ManifestFile(name: "../../../../etc/hostname", sha256: String(repeating: "0", count: 64), bytes: 1, rows: 0))
        try ExportsTests.resign(folder, manifest, with: forger)
        let escaped = ManifestVerifier.verify(directory: folder, trusted: [forger.keyID])
        #expect(!escaped.intact && escaped.problems.contains { $0.contains("not a plain file name") })

        // Files that are not plain files are not read: a link to /dev/zero (read forever) and a named pipe (waits for
        // a writer forever) hung `levy export verify`; so did a manifest.json that was one.
        manifest.files.removeLast()
        manifest.files.append(ManifestFile(name: "zero.csv", sha256: String(repeating: "0", count: 64), bytes: 1, rows: 0))
        manifest.files.append(ManifestFile(name: "pipe.csv", sha256: String(repeating: "0", count: 64), bytes: 1, rows: 0))
        try ExportsTests.resign(folder, manifest, with: forger)
        try FileManager.default.createSymbolicLink(atPath: folder + "/zero.csv", withDestinationPath: "/dev/zero")
        #expect(mkfifo(folder + "/pipe.csv", 0o600) == 0)
        let started = ContinuousClock.now
        let odd = ManifestVerifier.verify(directory: folder, trusted: [forger.keyID])
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(odd.problems.contains("zero.csv: not a plain file (a link, a pipe, a device or a folder); an export writes plain files"))
        #expect(odd.problems.contains("pipe.csv: not a plain file (a link, a pipe, a device or a folder); an export writes plain files"))
        try FileManager.default.removeItem(atPath: folder + "/manifest.json")
        try FileManager.default.createSymbolicLink(atPath: folder + "/manifest.json", withDestinationPath: "/dev/zero")
        #expect(ManifestVerifier.verify(directory: folder, trusted: [forger.keyID]).problems.first?.hasPrefix("manifest.json is missing, not a plain file") == true)
    }

    static func resign(_ folder: String, _ manifest: Manifest, with key: SigningKey) throws {
        let bytes = manifest.encoded()
        try Data(bytes).write(to: URL(fileURLWithPath: folder + "/manifest.json"))
        let signature = key.sign(bytes)
        let encoder = JSONEncoder()
        try encoder.encode(signature).write(to: URL(fileURLWithPath: folder + "/manifest.sig"))
    }

    /// Personal data needs who and why, is logged as a disclosure before any file is written, and pseudonymized
    /// exports carry no customer id, street or name.
    @Test(arguments: Store.available) func disclosuresAndPseudonyms(store: Store) async throws {
        let world = try await World.make(store, orders: 60)
        var anonymous = world.request()
        anonymous.requestedBy = nil
        await #expect(throws: ExportError.personalDataNeedsRequester) {
            try await world.exporter.detail(anonymous, format: .csv, to: world.out("refused"))
        }
        #expect(!FileManager.default.fileExists(atPath: world.out("refused")))

        _ = try await world.exporter.detail(world.request(), format: .csv, to: world.out("with"))
        _ = try await world.exporter.detail(world.request(personalData: false), format: .csv, to: world.out("without"))
        let disclosures = try await world.exporter.log.list()
        #expect(disclosures.count == 1 && disclosures[0].requestedBy == "Jane Auditor, MN DOR" && disclosures[0].status == "completed")
        #expect(disclosures[0].files == "detail.csv" && disclosures[0].reason.contains("289A.35"))
        #expect(try await world.exporter.log.list(all: true).count == 2)

        let with = try String(contentsOfFile: world.out("with/detail.csv"), encoding: .utf8)
        let without = try String(contentsOfFile: world.out("without/detail.csv"), encoding: .utf8)
        #expect(with.contains("cus_") && with.contains("Main St"))
        #expect(!without.contains("cus_") && !without.contains("Main St") && without.contains("anon_"))

        await #expect(throws: ExportError.notEmpty(world.out("with"))) {
            try await world.exporter.detail(world.request(), format: .csv, to: world.out("with"))
        }
    }

    /// The HTML report is one self-contained file (no scripts, no external resources) whose figures are the ledger's.
    @Test(arguments: Store.available) func htmlReportIsSelfContainedAndTies(store: Store) async throws {
        let world = try await World.make(store, orders: 120)
        let manifest = try await world.exporter.htmlReport(from: World.everything.from, through: World.everything.through, merchant: "Glow & Co <Spa>",
                                                           to: world.out("report"))
        let html = try String(contentsOfFile: world.out("report/report.html"), encoding: .utf8)
        let ledger = try await world.orders.ledger()
        let net = Money(minorUnits: ledger.reduce(0) { $0 + $1.tax }).decimalString
        #expect(manifest.controlTotals["net_tax_due"] == net)
        #expect(html.contains("Glow &amp; Co &lt;Spa&gt;") && html.contains("<svg") && html.contains("Net tax due by month"))
        #expect(!html.contains("<script") && !html.contains("http://") && !html.contains("https://") && !html.contains("cus_"))
        #expect(ManifestVerifier.verify(directory: world.out("report"), trusted: World.trusted).intact)
    }

    @Test func delimitedFieldsFollowRFC4180() {
        #expect(DelimitedFormat.csv.line(["a", "b,c", "say \"hi\"", "two\nlines", "p|q"]) == Array("a,\"b,c\",\"say \"\"hi\"\"\",\"two\nlines\",p|q\r\n".utf8))
        #expect(DelimitedFormat.pipe.line(["a", "b,c", "p|q"]) == Array("a|b,c|\"p|q\"\r\n".utf8))
        // Formulas a spreadsheet would run are written as text; numbers are not touched.
        #expect(DelimitedFormat.csv.line(["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "-12.50", "+3", "-", "a=b"])
                == Array("\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",'+1+1,'-2+3,'@SUM(A1),'\tx,-12.50,+3,'-,a=b\r\n".utf8))
        #expect(DelimitedFormat.pipe.line(["=1|2"]) == Array("\"'=1|2\"\r\n".utf8))
    }
}
