import Foundation
import Testing
import TaxCore
@testable import TaxTables

@Suite("Reading table files")
struct TableFileTests {
    @Test("the CSV reader handles a BOM, CRLF, quoted fields with commas, quotes and newlines")
    func csvQuirks() throws {
        let text = "\u{FEFF}a,b,c\r\n1,\"x, y\",\"say \"\"hi\"\"\"\r\n\r\n2,\"two\nlines\",\r\n"
        let records = try CSVReader(bytes: Array(text.utf8)).records()
        #expect(records.map(\.fields) == [["a", "b", "c"], ["1", "x, y", "say \"hi\""], ["2", "two\nlines", ""]])
        #expect(records.map(\.line) == [1, 2, 4])
    }

    /// A bare CR ends a line as LF and CRLF do: a file with CR line ends had every diagnostic on line 1 (probe #18).
    @Test func bareCarriageReturnsCountLines() throws {
        let records = try CSVReader(bytes: Array("a,b\r1,2\r\r3,\"x\ry\"\r4,5".utf8)).records()
        #expect(records.map(\.line) == [1, 2, 4, 6])
        #expect(records[2].fields == ["3", "x\ry"])
    }

    @Test("a column named twice in a header is refused with its place: which of the two is meant cannot be told (probe #12)")
    func repeatedColumns() {
        var log = DiagnosticLog()
        let table = CSVTable(file: "rates.csv", bytes: Array("State,State,ZipCode\nMN,WI,55401\n".utf8), required: ["State", "ZipCode"], log: &log)
        #expect(table == nil)
        #expect(log.entries.map(\.description) == ["rates.csv:1:2: error: column \"State\" appears twice (columns 1 and 2)"])
        var fine = DiagnosticLog()
        #expect(CSVTable(file: "rates.csv", bytes: Array("State,ZipCode,,\nMN,55401,,\n".utf8), required: ["State"], log: &fine) != nil,
                "blank names (trailing commas) are not names")
    }

    /// A table file is checked before it is read whole (probe #7: a 1 GB file of one line took 107 s and 2.2 GB to be
    /// refused; a FIFO or /dev/zero never ended): a regular file, with a line end in its first MiB.
    @Test("a table file that cannot be one is refused before it is read: a folder, a device, one endless first line")
    func filesThatCannotBeTables() throws {
        let folder = NSTemporaryDirectory() + "levy-table-files-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let long = folder + "/MNR2026Q2FEB18.csv"
        try Data(count: TableFileReader.maxFirstLine + 10).write(to: URL(fileURLWithPath: long))
        let started = ContinuousClock.now
        for (path, expected) in [(long, "\(long):1: the first line is longer than 1 MiB: not a table file"),
                                 (folder, "cannot read \(folder): not a regular file"), ("/dev/zero", "cannot read /dev/zero: not a regular file")] {
            guard case .failure(let why) = TableFileReader.read(path) else { Issue.record("\(path) was read"); continue }
            #expect(why.description == expected)
        }
        #expect(ContinuousClock.now - started < .seconds(5))
        let fine = folder + "/ok.csv"
        try "a,b\n1,2\n".write(toFile: fine, atomically: true, encoding: .utf8)
        #expect(try TableFileReader.read(fine).get() == Array("a,b\n1,2\n".utf8))
    }

    @Test("an unterminated quote is located to the line it starts on")
    func unterminatedQuote() {
        #expect(throws: CSVReader.Failure.unterminatedQuote(line: 2)) {
            try CSVReader(bytes: Array("a,b\n1,\"open\n2,3\n".utf8)).records()
        }
    }

    @Test("a field with a control character or longer than 64 KiB is refused, located to its line and column")
    func controlCharactersAndLongFields() {
        #expect(throws: CSVReader.Failure.controlCharacter(line: 2, column: 2)) {
            try CSVReader(bytes: Array("a,b\n1,Spo\u{0}kane\n".utf8)).records()
        }
        #expect(throws: CSVReader.Failure.controlCharacter(line: 3, column: 1)) {
            try CSVReader(bytes: Array("a,b\n1,2\n\"x\u{85}\",2\n".utf8)).records()
        }
        #expect(throws: CSVReader.Failure.fieldTooLong(line: 2, column: 1)) {
            try CSVReader(bytes: Array(("a\n" + String(repeating: "x", count: CSVReader.maxFieldBytes + 1) + "\n").utf8)).records()
        }
        // Tabs and line breaks inside quotes stay text.
        #expect((try? CSVReader(bytes: Array("a,b\n\"x\ty\",\"two\r\nlines\"\n".utf8)).records().count) == 2)
        // The edges of the refused ranges: DEL, U+0080 and U+009F are controls; U+00A0 (C2 A0), Latin letters and
        // bytes 80-9F after another lead byte (U+0100 is C4 80) are not.
        for refused in ["a\u{7F}", "\u{9F}", "x\u{80}y"] {
            #expect(throws: CSVReader.Failure.controlCharacter(line: 2, column: 1), "\(Array(refused.unicodeScalars.map(\.value)))") {
                try CSVReader(bytes: Array("a\n\(refused)\n".utf8)).records()
            }
        }
        for accepted in ["\u{A0}", "Do\u{F1}a Ana", "\u{100}\u{1C2}", "~"] {
            #expect((try? CSVReader(bytes: Array("a\n\(accepted)\n".utf8)).records().count) == 2, "\(accepted)")
        }
    }

    @Test("a county's key: upper-cased, without dots, extra spaces or a trailing County, Parish or Borough")
    func countyKeys() {
        let cases = [("St. Tammany Parish", "ST TAMMANY"), ("  De  Soto  county", "DE SOTO"), ("Kenai Peninsula Borough", "KENAI PENINSULA"),
                     ("County", ""), ("", ""), ("County of Dare", "COUNTY OF DARE"), ("Doña Ana County", "DOÑA ANA"), ("st.lucie", "ST LUCIE")]
        for (name, key) in cases { #expect(PlaceRateFile.countyKey(name) == key, "\(name)") }
    }

    @Test("the minimal fixture loads and quotes with its effective-dated rates")
    func minimalFixture() throws {
        let loaded = try CanonicalTables.load(directory: Repo.fixtures + "/tables/minimal")
        let wi = loaded.tables.profile(StateCode("WI")!)!
        #expect(wi.rate(on: TaxDate(iso: "2025-12-31")!)?.intrastate.fractionString == "0.05")
        #expect(wi.rate(on: TaxDate(iso: "2026-01-01")!)?.intrastate.fractionString == "0.055")
    }

    @Test("the version changes when any byte of the tables changes")
    func versionIsContentAddressed() throws {
        let directory = try Repo.copyOfMinimalTables()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let before = try CanonicalTables.load(directory: directory).tables.version
        let path = directory + "/rules.csv"
        let edited = String(decoding: Repo.bytes(path), as: UTF8.self).replacingOccurrences(of: "1000.00", with: "1000.01")
        try edited.write(toFile: path, atomically: true, encoding: .utf8)
        let after = try CanonicalTables.load(directory: directory).tables.version
        #expect(before != after)
        #expect(before.hasPrefix("fixture-minimal+sha256.") && after.hasPrefix("fixture-minimal+sha256."))
    }

    /// A broken table file and the exact diagnostic it must produce. Each case breaks one file of the minimal set.
    struct Broken: CustomTestStringConvertible, Sendable {
        var name: String
        var file: String
        var find: String
        var replace: String
        var diagnostic: String
        var testDescription: String { name }
    }

    static let brokenFiles: [Broken] = [
        Broken(name: "overlapping rate periods", file: "states.csv", find: "2026-01-01,,destination", replace: "2025-06-01,,destination",
               diagnostic: "states.csv:4:7: error: WI rate period 2025-06-01 onward overlaps 2020-01-01 to 2025-12-31 (line 3)"),
        Broken(name: "blank rate", file: "states.csv", find: "MN,27,Minnesota,Y,0.06875", replace: "MN,27,Minnesota,Y,",
               diagnostic: "states.csv:2:5: error: rate is blank; a blank rate means no rate, never 0"),
        Broken(name: "rate above 100%", file: "states.csv", find: "0.06875", replace: "6.875",
               diagnostic: "states.csv:2:5: error: rate \"6.875\" is too large"),
        Broken(name: "impossible date", file: "states.csv", find: "2026-01-01,,destination", replace: "2026-02-30,,destination",
               diagnostic: "states.csv:4:7: error: effective_from \"2026-02-30\" is not a date (YYYY-MM-DD)"),
        Broken(name: "period ends before it starts", file: "states.csv", find: "2020-01-01,2025-12-31", replace: "2020-01-01,2019-12-31",
               diagnostic: "states.csv:3:8: error: effective_through 2019-12-31 is before effective_from 2020-01-01"),
        Broken(name: "unknown sourcing", file: "states.csv", find: "2020-01-01,,destination", replace: "2020-01-01,,somewhere",
               diagnostic: "states.csv:2:9: error: sourcing \"somewhere\" is not one of destination, origin, hybrid, origin_then_destination, none"),
        Broken(name: "unknown seller-sourced code", file: "states.csv", find: "state,fips,name,has_sales_tax,rate,interstate_rate,effective_from,effective_through,sourcing,origin_levels,source,as_of,note\nMN,27,Minnesota,Y,0.06875,,2020-01-01,,destination,,fixture,2026-11-01,\nWI,55,Wisconsin,Y,0.05,,2020-01-01,2025-12-31,destination,,fixture,2026-11-01,\nWI,55,Wisconsin,Y,0.055,,2026-01-01,,destination,,fixture,2026-11-01,synthetic rate change",
               replace: "state,fips,name,has_sales_tax,rate,interstate_rate,effective_from,effective_through,sourcing,origin_levels,source,as_of,note,seller_sourced_codes\nMN,27,Minnesota,Y,0.06875,,2020-01-01,,destination,,fixture,2026-11-01,,lawyering\nWI,55,Wisconsin,Y,0.05,,2020-01-01,2025-12-31,destination,,fixture,2026-11-01,,\nWI,55,Wisconsin,Y,0.055,,2026-01-01,,destination,,fixture,2026-11-01,synthetic rate change,",
               diagnostic: "states.csv:2:14: error: seller_sourced_codes has an unknown item \"lawyering\""),
        Broken(name: "rows of a state disagree on seller-sourced codes", file: "states.csv", find: "state,fips,name,has_sales_tax,rate,interstate_rate,effective_from,effective_through,sourcing,origin_levels,source,as_of,note\nMN,27,Minnesota,Y,0.06875,,2020-01-01,,destination,,fixture,2026-11-01,\nWI,55,Wisconsin,Y,0.05,,2020-01-01,2025-12-31,destination,,fixture,2026-11-01,\nWI,55,Wisconsin,Y,0.055,,2026-01-01,,destination,,fixture,2026-11-01,synthetic rate change",
               replace: "state,fips,name,has_sales_tax,rate,interstate_rate,effective_from,effective_through,sourcing,origin_levels,source,as_of,note,seller_sourced_codes\nMN,27,Minnesota,Y,0.06875,,2020-01-01,,destination,,fixture,2026-11-01,,\nWI,55,Wisconsin,Y,0.05,,2020-01-01,2025-12-31,destination,,fixture,2026-11-01,,professional_service\nWI,55,Wisconsin,Y,0.055,,2026-01-01,,destination,,fixture,2026-11-01,synthetic rate change,",
               diagnostic: "states.csv:4: error: WI rows disagree on fips, has_sales_tax, sourcing, seller_sourced_codes, remote_levels or local_use_adopted"),
        Broken(name: "a local use law citing no known source", file: "states.csv", find: "state,fips,name,has_sales_tax,rate,interstate_rate,effective_from,effective_through,sourcing,origin_levels,source,as_of,note\nMN,27,Minnesota,Y,0.06875,,2020-01-01,,destination,,fixture,2026-11-01,\nWI,55,Wisconsin,Y,0.05,,2020-01-01,2025-12-31,destination,,fixture,2026-11-01,\nWI,55,Wisconsin,Y,0.055,,2026-01-01,,destination,,fixture,2026-11-01,synthetic rate change",
               replace: "state,fips,name,has_sales_tax,rate,interstate_rate,effective_from,effective_through,sourcing,origin_levels,source,as_of,note,local_use_adopted\nMN,27,Minnesota,Y,0.06875,,2020-01-01,,destination,,fixture,2026-11-01,,mn-law\nWI,55,Wisconsin,Y,0.05,,2020-01-01,2025-12-31,destination,,fixture,2026-11-01,,\nWI,55,Wisconsin,Y,0.055,,2026-01-01,,destination,,fixture,2026-11-01,synthetic rate change,",
               diagnostic: "states.csv:2:14: error: local_use_adopted: source \"mn-law\" is not listed in sources.csv"),
        Broken(name: "wrong column count", file: "states.csv", find: "MN,27,Minnesota,Y,", replace: "MN,27,Minnesota,Y,extra,",
               diagnostic: "states.csv:2: error: expected 13 fields, found 14"),
        Broken(name: "missing column", file: "sources.csv", find: "id,title,publisher,url,retrieved,note", replace: "id,title,publisher,url,retrieved",
               diagnostic: "sources.csv:1: error: missing column(s): note; the header is id,title,publisher,url,retrieved"),
        Broken(name: "unknown source", file: "rules.csv", find: ",fixture,2026-11-01,synthetic cap", replace: ",nowhere,2026-11-01,synthetic cap",
               diagnostic: "rules.csv:2:14: error: source \"nowhere\" is not listed in sources.csv"),
        Broken(name: "unknown rule confidence", file: "rules.csv",
               find: "source,as_of,note\nMN-cap,MN,cap_per_article,general,county;city;special,,1000.00,,,,,2020-01-01,,fixture,2026-11-01,synthetic",
               replace: "source,as_of,confidence,note\nMN-cap,MN,cap_per_article,general,county;city;special,,1000.00,,,,,2020-01-01,,fixture,2026-11-01,maybe,synthetic",
               diagnostic: "rules.csv:2:16: error: confidence \"maybe\" is not high, medium or low"),
        Broken(name: "unknown rule kind", file: "rules.csv", find: "cap_per_article", replace: "cap_per_banana",
               diagnostic: "rules.csv:2:3: error: kind \"cap_per_banana\" is not one of band_per_article, cap_per_article, cap_per_sale, exempt_below_per_article, exempt_first_per_article, holiday, surtax_above_per_article"),
        Broken(name: "unknown product code", file: "taxability.csv", find: "MN,admission,", replace: "MN,admissions,",
               diagnostic: "taxability.csv:12:2: error: code \"admissions\" is not one of general, clothing, shipping, personal_care_service, massage_service, professional_service, gift_card, digital_video_stream, digital_video_download, digital_subscription, admission, gratuity"),
        Broken(name: "a code left without taxability", file: "taxability.csv", find: "WI,admission,taxable,2020-01-01,,high,fixture,2026-11-01,\n", replace: "",
               diagnostic: "taxability.csv:0: error: WI has no taxability entry for admission"),
        Broken(name: "a taxability entry that ends with nothing after it", file: "taxability.csv",
               find: "WI,admission,taxable,2020-01-01,,", replace: "WI,admission,taxable,2020-01-01,2026-06-30,",
               diagnostic: "taxability.csv:23: error: WI admission ends on 2026-06-30 with no entry after it: quotes after that day would fail"),
        Broken(name: "a gap between taxability entries", file: "taxability.csv",
               find: "WI,admission,taxable,2020-01-01,,", replace: "WI,admission,taxable,2020-01-01,2025-06-30,high,fixture,2026-11-01,\nWI,admission,exempt,2025-08-01,,",
               diagnostic: "taxability.csv:24: error: WI admission has no entry from the day after 2025-06-30 (line 23) to 2025-08-01: quotes on those days would fail"),
        Broken(name: "unterminated quote", file: "taxability.csv", find: "WI,general,taxable,2020-01-01,,high,fixture,2026-11-01,", replace: "WI,general,taxable,2020-01-01,,high,fixture,2026-11-01,\"open",
               diagnostic: "taxability.csv:13: error: a quoted field is never closed"),
        Broken(name: "malformed ZIP", file: "local/zip5.csv", find: "53703,WI", replace: "5370,WI",
               diagnostic: "local/zip5.csv:3:1: error: zip5 \"5370\" is not five digits"),
        Broken(name: "duplicate ZIP period", file: "local/zip5.csv", find: "54540,MN,county_fallback", replace: "54540,WI,county_fallback",
               diagnostic: "local/zip5.csv:5:12: error: WI zip5 54540 period 2026-01-01 onward overlaps line 4"),
        Broken(name: "local rate without a name", file: "local/zip5.csv", find: "Madison,0,", replace: ",0.01,",
               diagnostic: "local/zip5.csv:3:8: error: city_name is blank but city_rate is 0.01"),
        Broken(name: "ZIP in a state the tables lack", file: "local/zip5.csv", find: "55401,MN", replace: "55401,IA",
               diagnostic: "local/zip5.csv:2:2: error: state IA is not in states.csv"),
        Broken(name: "unknown manifest format", file: "manifest.json", find: "levy-tables/1", replace: "levy-tables/9",
               diagnostic: "manifest.json:1:13: error: format \"levy-tables/9\" is not levy-tables/1"),
        // Probe #18: manifest errors were all "line 1" with a Foundation error dump, a misspelt member was ignored.
        Broken(name: "manifest that is not JSON", file: "manifest.json", find: "\"fixture-minimal\",", replace: "\"fixture-minimal\",,",
               diagnostic: "manifest.json:1:59: error: expected a member name in double quotes"),
        Broken(name: "manifest member of the wrong type", file: "manifest.json", find: "\"levy-tables/1\"", replace: "1",
               diagnostic: "manifest.json:1:13: error: format must be text"),
        Broken(name: "misspelt manifest member", file: "manifest.json", find: "\"version\"", replace: "\"versoin\"",
               diagnostic: "manifest.json:1:41: error: unknown member \"versoin\"; a manifest has format, version, description, zip5_table_date, local_carried_back_from"),
        Broken(name: "missing manifest member", file: "manifest.json", find: "\"version\"", replace: "\"versoin\"",
               diagnostic: "manifest.json:1:1: error: the member \"version\" is missing"),
        Broken(name: "manifest version that cannot name a folder", file: "manifest.json", find: "fixture-minimal", replace: "../x",
               diagnostic: "manifest.json:1:41: error: version \"../x\" must be 1 to 64 letters, digits, '.', '-' or '_'"),
        Broken(name: "manifest date that is not one", file: "manifest.json", find: "\"version\"", replace: "\"zip5_table_date\": \"2026-02-30\", \"version\"",
               diagnostic: "manifest.json:1:49: error: zip5_table_date \"2026-02-30\" is not a date (YYYY-MM-DD)"),
        // Probe #18: a percentage written where a fraction belongs ("1" for 1%) was charged as 100%.
        Broken(name: "a rate no US tax reaches", file: "states.csv", find: "Y,0.06875,", replace: "Y,1,",
               diagnostic: "states.csv:2:5: error: rate 1 is 100%, more than any US sales or use tax rate (25% at most; a rate is a fraction: 0.0625 for 6.25%)"),
    ]

    @Test("a broken file gives its located diagnostic and nothing loads", arguments: brokenFiles)
    func brokenFile(_ case_: Broken) throws {
        let directory = try Repo.copyOfMinimalTables()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/" + case_.file
        let original = String(decoding: Repo.bytes(path), as: UTF8.self)
        #expect(original.contains(case_.find), "the fixture no longer contains the text this case breaks")
        try original.replacingOccurrences(of: case_.find, with: case_.replace).write(toFile: path, atomically: true, encoding: .utf8)
        do {
            _ = try CanonicalTables.load(directory: directory)
            Issue.record("the broken tables loaded")
        } catch {
            #expect(error.diagnostics.map(\.description).contains(case_.diagnostic), "got: \(error.diagnostics)")
        }
    }

    @Test("every problem is reported in one run, not just the first")
    func reportsAll() throws {
        let directory = try Repo.copyOfMinimalTables()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let states = directory + "/states.csv"
        try String(decoding: Repo.bytes(states), as: UTF8.self).replacingOccurrences(of: "0.06875", with: "x")
            .replacingOccurrences(of: "0.055", with: "").write(toFile: states, atomically: true, encoding: .utf8)
        do {
            _ = try CanonicalTables.load(directory: directory)
            Issue.record("the broken tables loaded")
        } catch {
            #expect(error.diagnostics.filter { $0.severity == .error }.map(\.line) == [2, 4])
        }
    }
}

@Suite("ZIP5 rate CSV in the common layout")
struct CommonZip5Tests {
    let rows: [CommonZip5Rates.Row]

    init() throws {
        rows = try CommonZip5Rates.read(Repo.bytes(Repo.fixtures + "/zip5/common-sample.csv"), file: "common-sample.csv")
    }

    @Test("reads a file with a BOM and CRLF, pads short ZIPs, keeps a straddling ZIP once per state")
    func reads() {
        #expect(rows.map(\.zip.zip5String) == ["55401", "45202", "36855", "36855", "00501"])
        #expect(rows.map(\.state.code) == ["MN", "OH", "AL", "GA", "NY"])
    }

    @Test("repairs a 0.000001 float artifact against the combined rate, and says so")
    func repair() {
        let cincinnati = rows[1]
        #expect(cincinnati.county.fractionString == "0.0205")
        #expect(cincinnati.repair == "EstimatedCountyRate 0.020499 read as 0.0205 to match EstimatedCombinedRate 0.078")
        #expect(rows[0].repair == nil)
    }

    @Test("refuses parts that do not add up for any other reason, with the line")
    func refusesMismatch() {
        let text = "State,ZipCode,TaxRegionName,EstimatedCombinedRate,StateRate,EstimatedCountyRate,EstimatedCityRate,EstimatedSpecialRate,RiskLevel\nMN,55401,X,0.09,0.06875,0.0015,0.005,0.015,\n"
        do {
            _ = try CommonZip5Rates.read(Array(text.utf8), file: "bad.csv")
            Issue.record("accepted a row whose parts do not sum")
        } catch {
            #expect(error.diagnostics.map(\.description) == ["bad.csv:2:4: error: EstimatedCombinedRate 0.09 is not the sum of its parts (0.09025)"])
        }
    }

    @Test("converts to the canonical layout with county FIPS, fallbacks for missing ZIPs, and a report")
    func converts() throws {
        let conversion = try Zip5Conversion(rows: rows, geoBytes: Repo.bytes(Repo.fixtures + "/zip5/geo-sample.csv"), geoFile: "geo-sample.csv")
        let (csv, report) = conversion.convert(effectiveFrom: TaxDate(iso: "2026-02-01")!, source: "fixture")
        let lines = csv.split(separator: "\n").map(String.init)
        #expect(lines[0] == (CanonicalTables.zip5Columns + ["postal_city"]).joined(separator: ","))
        #expect(lines.contains("55401,MN,zip5,MINNEAPOLIS,27053,Hennepin County,0.0015,Minneapolis,0.005,Minneapolis special districts (combined),0.015,2026-02-01,,fixture,,Minneapolis"))
        // The postal city of a ZIP that the crosswalk places in another state is left empty.
        #expect(lines.contains { $0.hasPrefix("36855,GA,") && $0.hasSuffix(",fixture,,") })
        #expect(lines.contains { $0.hasPrefix("45299,OH,county_fallback,CINCINNATI,39061,Hamilton County,0.0205,") })
        #expect(report.repairedRows == 1)
        #expect(report.fallbackZips == 1)
        #expect(report.borderZips == 1)
        #expect(report.uncoveredZips == ["09001"])
    }

    @Test("a ZIP5 CSV becomes a table set that quotes with its own state rates")
    func tableSetFromCSV() throws {
        let tables = CommonZip5Rates.tableSet(rows: rows, base: Repo.shipped.tables, fileDigest: "test")
        let q = try TaxCalculator(tables: tables).quote(QuoteRequest(
            date: TaxDate(iso: "2026-03-02")!, origin: .zip("MN", "55401"), destination: .zip("MN", "55401"),
            lines: [QuoteLine(id: "1", code: .general, amount: Money(minorUnits: 10_000), fulfilment: .shipped)]))
        #expect(q.totalTax.decimalString == "9.03")
        #expect(q.tableVersion == "zip5-csv+sha256.test")
    }

    /// One state rate per state: a row whose StateRate is another (the real file's tribal-area ZIPs give 0 and the
    /// whole rate as local) is quoted at the state's rate plus its locals, and its quotes say that this is not the
    /// row's combined rate (probe #18: they said nothing).
    @Test func aRowWithAnotherStateRateSaysSo() throws {
        let csv = """
        State,ZipCode,TaxRegionName,EstimatedCombinedRate,StateRate,EstimatedCountyRate,EstimatedCityRate,EstimatedSpecialRate,RiskLevel
        NM,87102,ALBUQUERQUE,0.07625,0.04875,0,0.0275,0,1
        NM,87501,SANTA FE,0.081875,0.04875,0,0.033125,0,1
        NM,87014,CIBOLA,0.08,0,0,0.08,0,1

        """
        let rows = try CommonZip5Rates.read(Array(csv.utf8), file: "tribal.csv")
        let tables = CommonZip5Rates.tableSet(rows: rows, base: Repo.shipped.tables, fileDigest: "test")
        func quote(_ zip: String) throws -> Quote {
            try TaxCalculator(tables: tables).quote(QuoteRequest(
                date: TaxDate(iso: "2026-03-02")!, origin: .zip("NM", "87102"), destination: .zip("NM", zip),
                lines: [QuoteLine(id: "1", code: .general, amount: Money(minorUnits: 10_000), fulfilment: .shipped)]))
        }
        let tribal = try quote("87014")
        #expect(tribal.warnings.contains { $0.contains("line 4 gives ZIP 87014 the StateRate 0") && $0.contains("0.12875") && $0.contains("EstimatedCombinedRate 0.08") },
                "\(tribal.warnings)")
        #expect(!(try quote("87501")).warnings.contains { $0.contains("zip5-csv") })
    }
}
