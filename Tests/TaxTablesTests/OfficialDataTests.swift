import Foundation
import Synchronization
import Testing
import TaxCore
@testable import TaxTables

enum Official {
    static let directory = Repo.fixtures + "/official"

    static func file(_ name: String, _ kind: OfficialFile.Kind, _ state: String, effectiveFrom: String? = nil) -> (OfficialFile, [UInt8]) {
        let path = name.contains("/") ? Repo.fixtures + "/" + name : directory + "/" + name
        let bytes = Repo.bytes(path)
        return (OfficialFile(kind: kind, state: state, name: (name as NSString).lastPathComponent,
                             sha256: OfficialTables.sha256(bytes), effectiveFrom: effectiveFrom), bytes)
    }

    static let all: [(OfficialFile, [UInt8])] = [
        file("GAR2026Q2FEB19.csv", .sstRates, "GA"), file("MNR2026Q2FEB18.csv", .sstRates, "MN"),
        file("WIR2026Q2FEB18.csv", .sstRates, "WI"), file("MNB2026Q2FEB18-sample.csv", .sstBoundaries, "MN"),
        file("wa_dor_location_rates_2024Q4-2026Q2.csv", .waDOR, "WA"),
        file("ca_cdtfa_rates_2026-01-01.csv", .caCDTFA, "CA", effectiveFrom: "2026-01-01"),
    ]

    static func tables(_ files: [(OfficialFile, [UInt8])] = all) throws -> TaxTableSet {
        try OfficialTables.build(base: Repo.shipped, files: files, version: "test").tables
    }

    static func quote(_ tables: TaxTableSet, _ address: Address, on date: String, code: ProductTaxCode = .general,
                      amount: Int64 = 10_000) throws -> Quote {
        try TaxCalculator(tables: tables).quote(QuoteRequest(
            date: TaxDate(iso: date)!, origin: address, destination: address,
            lines: [QuoteLine(id: "1", code: code, amount: Money(minorUnits: amount), fulfilment: .shipped)]))
    }

    static func address(_ line1: String, _ state: String, _ zip: String) -> Address {
        Address(line1: line1, city: "", state: StateCode(state)!, zip: ZipCode(zip)!)
    }
}

@Suite("Official rate and boundary files")
struct OfficialFileTests {
    @Test("the GA, MN and WI SST rate files read in full, with the Wisconsin one-day overlap resolved and reported")
    func sstRateFiles() throws {
        let ga = try SSTRateFile.read(Official.file("GAR2026Q2FEB19.csv", .sstRates, "GA").1, file: "GA")
        let mn = try SSTRateFile.read(Official.file("MNR2026Q2FEB18.csv", .sstRates, "MN").1, file: "MN")
        let wi = try SSTRateFile.read(Official.file("WIR2026Q2FEB18.csv", .sstRates, "WI").1, file: "WI")
        #expect((ga.stateFIPS, ga.rates.count) == (13, 449))
        #expect((mn.stateFIPS, mn.rates.count) == (27, 148))
        #expect((wi.stateFIPS, wi.rates.count) == (55, 1941))
        #expect(wi.warnings.map(\.line) == [48])
        let menominee = wi.rates.filter { $0.key == SSTJurisdictionKey(stateFIPS: 55, type: 0, code: 78) }.map(\.period)
        #expect(menominee.map(\.description) == ["1980-01-01 to 2020-03-30", "2020-03-31 onward"])
    }

    @Test("SST quirks: BOM, unpadded types and codes, both open end dates, and a blank rate is no rate, never 0")
    func sstQuirks() throws {
        let text = "\u{FEFF}47,45,47,0.07,0.07,0.04,0.04,20020715,29991231\n47,0,37,0.0225,0.0225,0.0225,0.0225,20200101,99991231\n47,1,52006,,,,,20000101,20091231\n"
        let file = try SSTRateFile.read(Array(text.utf8), file: "TNR.csv")
        #expect(file.rates.map(\.key) == [SSTJurisdictionKey(stateFIPS: 47, type: 45, code: 47), SSTJurisdictionKey(stateFIPS: 47, type: 0, code: 37)])
        #expect(file.rates.allSatisfy { $0.period.through == .distantFuture })
        #expect(file.rates[0].interstate.fractionString == "0.07")
        #expect(file.blankRateRows == [3])
        #expect(file.warnings.map(\.description) == ["TNR.csv:3:4: warning: 1 row(s) have a blank general rate (no rate for that period) and were not loaded"])
    }

    @Test("the MN boundary sample reads: lower-case z records, ZIP+4 ranges, special-district triplets")
    func boundarySample() throws {
        let file = try SSTBoundaryFile.read(Official.file("MNB2026Q2FEB18-sample.csv", .sstBoundaries, "MN").1, file: "MNB")
        let counts = Dictionary(grouping: file.records, by: \.kind).mapValues(\.count)
        #expect(counts == [.zip5: 34, .zip4: 66])
        let record = try #require(file.records.first { $0.line == 10 })
        #expect(record.specialDistricts.map(\.code) == [80004])
        #expect(record.specialDistricts.map(\.type) == [63])
    }

    @Test("address ranges: BOM, CRLF, lower-case types, unpadded ZIP+4, and state-type triplets skipped")
    func addressRangeFile() throws {
        let file = try SSTBoundaryFile.read(Repo.bytes(Repo.fixtures + "/boundary/MNB-address-ranges.csv"), file: "MNB-address-ranges.csv")
        #expect(file.records.map(\.kind) == [.address, .address, .address, .zip4, .zip4, .zip5])
        #expect(file.skippedStateTriplets == 1)
        #expect(file.records[3].low == 55401_0001)
        #expect(file.records[0].street?.postDirectional == "S")
    }

    @Test("street addresses normalize the USPS way", arguments: [
        ("250 Marquette Avenue South", 250, "", "MARQUETTE", "AVE", "S", nil as Int?),
        ("250 marquette ave. s., apt 5", 250, "", "MARQUETTE", "AVE", "S", 5),
        ("150 North 1st Street # 7", 150, "N", "1ST", "ST", "", 7),
        ("12 N St", 12, "", "N", "ST", "", nil),
        ("7 Avenue of the Americas Suite 200", 7, "", "AVENUE OF THE AMERICAS", "", "", 200),
    ] as [(String, Int, String, String, String, String, Int?)])
    func normalizes(line: String, number: Int, pre: String, name: String, suffix: String, post: String, unit: Int?) {
        let n = AddressNormalizer.normalize(line)
        #expect(n.number == number)
        #expect(n.preDirectional == pre)
        #expect(n.name == name)
        #expect(n.suffix == suffix)
        #expect(n.postDirectional == post)
        #expect(n.unitNumber == unit)
    }
}

@Suite("Resolution from official data")
struct OfficialResolutionTests {
    let tables: TaxTableSet

    init() throws { tables = try Official.tables() }

    /// A version built from imported files is the shipped tables with those files in place of the shipped ones:
    /// the corrections and local taxes with their own base still apply in the imported files' states. Importing
    /// IDOR's file (the one Levy ships) once dropped Chicago's amusement tax on streaming and the Northern Illinois
    /// Transit Authority's 0.25% of 2026-08-01 (a correction).
    @Test("an imported file keeps the shipped corrections and local taxes of its state")
    func importsKeepCorrectionsAndOwnBaseTaxes() throws {
        let bytes = Repo.bytes(Repo.shippedTables + "/official/ordmache-2026-01.txt")
        let file = OfficialFile(kind: .ilIDOR, state: "IL", name: "ordmache-2026-01.txt", sha256: OfficialTables.sha256(bytes))
        let imported = try Official.tables([(file, bytes)])
        let chicago = Address(line1: "", city: "Chicago", state: StateCode("IL")!, zip: ZipCode("60601")!)
        for tables in [Repo.shipped.tables, imported] {
            let streamed = try Official.quote(tables, chicago, on: "2026-03-02", code: .digitalVideoStream)
            #expect(streamed.totalTax.decimalString == "10.25" && streamed.lines[0].appliedRules == ["IL-chicago-amusement-electronic-2025"])
            #expect(try Official.quote(tables, chicago, on: "2026-09-01").totalTax.decimalString == "10.50", "NITA's 0.25% from 2026-08-01")
        }
        #expect(imported.version == "test")
    }

    /// IDOR's fixed-width file read with a UTF-8 byte-order mark in front (the CSV readers skip one): the same places
    /// (probe #18: refused, the first line "214 characters" long).
    @Test func anIllinoisFileWithAByteOrderMark() throws {
        let bytes = Repo.bytes(Repo.shippedTables + "/official/ordmache-2026-01.txt")
        let plain = try IllinoisRateFile.read(bytes, file: "ordmache.txt")
        let marked = try IllinoisRateFile.read([0xEF, 0xBB, 0xBF] + bytes, file: "ordmache.txt")
        #expect(marked.places.count == plain.places.count && plain.places.count > 500)
    }

    @Test("a MN quote names the boundary record that matched (ZIP+4) and uses that record's rates")
    func minnesotaZip4() throws {
        let q = try Official.quote(tables, Official.address("", "MN", "55012-0500"), on: "2018-06-01")
        let line = q.lines[0]
        #expect(line.sourcing.precision == .zip4)
        #expect(line.sourcing.record.hasPrefix("SST boundary MNB2026Q2FEB18-sample.csv:36 zip+4 55012-0011 to 55013-9999"))
        #expect(line.jurisdictions.map(\.jurisdiction.code) == ["27", "27025"])
        #expect(line.jurisdictions.map(\.rate.fractionString) == ["0.06875", "0.005"])
        #expect(q.totalTax.decimalString == "7.38")
    }

    @Test("address range, then ZIP+4, then ZIP5, each reported with its precision")
    func precedence() throws {
        let boundary = Official.file("boundary/MNB-address-ranges.csv", .sstBoundaries, "MN")
        let tables = try Official.tables([Official.file("MNR2026Q2FEB18.csv", .sstRates, "MN"), boundary])
        let date = "2026-03-02"
        let even = try Official.quote(tables, Official.address("250 Marquette Avenue South", "MN", "55401"), on: date)
        #expect(even.lines[0].sourcing.precision == .address)
        #expect(even.lines[0].sourcing.record.contains("MNB-address-ranges.csv:1 address 200-298 (E) MARQUETTE AVE S"))
        #expect(even.lines[0].jurisdictions.map(\.jurisdiction.code) == ["27", "27053", "2743000", "27-63-80001"])
        let odd = try Official.quote(tables, Official.address("251 Marquette Ave S", "MN", "55401"), on: date)
        #expect(odd.lines[0].sourcing.record.contains("MNB-address-ranges.csv:2 "))
        #expect(odd.lines[0].jurisdictions.map(\.jurisdiction.code) == ["27", "27053"])
        // Unit 11 is outside the record's APT 1-10, so the address falls through to the ZIP+4 range.
        let unit = try Official.quote(tables, Official.address("150 N 1st St Apt 11", "MN", "55401-0042"), on: date)
        #expect(unit.lines[0].sourcing.precision == .zip4)
        let inUnit = try Official.quote(tables, Official.address("150 N 1st St Apt 7", "MN", "55401-0042"), on: date)
        #expect(inUnit.lines[0].sourcing.precision == .address)
        let zip5 = try Official.quote(tables, Official.address("", "MN", "55401"), on: date)
        #expect(zip5.lines[0].sourcing.precision == .zip5)
        #expect(zip5.warnings.contains { $0.contains("ZIP 55401 spans more than one set of local jurisdictions") })
    }

    @Test("Seattle from the imported WA data: 10.35% on 2025-12-15, 10.55% on 2026-01-15")
    func seattle() throws {
        let seattle = Official.address("400 Pine St", "WA", "98101")
        let december = try Official.quote(tables, seattle, on: "2025-12-15")
        #expect(december.lines[0].jurisdictions.map(\.rate.percentString) == ["6.5", "3.85"])
        #expect(december.totalTax.decimalString == "10.35")
        #expect(december.lines[0].sourcing.record.contains("WA DOR location 1726 SEATTLE"))
        let january = try Official.quote(tables, seattle, on: "2026-01-15")
        #expect(january.totalTax.decimalString == "10.55")
        // The WA file answers for 2024-10-01 onward, before the ZIP5 table carried back to 2025-01-01.
        #expect(try Official.quote(tables, seattle, on: "2024-10-01").totalTax.decimalString == "10.35")
        // Before it the refusal says what is covered in one phrase: a list of quarters ran its dates together into
        // a run the card-number mask hid (probe #6).
        // (After the file's last quarter its latest rates answer, marked stale: the coverage runs on.)
        do {
            _ = try Official.quote(tables, seattle, on: "2024-09-30")
            Issue.record("a date before the WA file was answered")
        } catch {
            #expect("\(error)".hasSuffix("(the tables cover 2024-10-01 onward)"), "\(error)")
        }
        #expect(EffectivePeriod.describe([EffectivePeriod(from: TaxDate(iso: "2025-04-01")!, through: TaxDate(iso: "2025-06-30")!),
                                          EffectivePeriod(from: TaxDate(iso: "2025-01-01")!, through: TaxDate(iso: "2025-03-31")!),
                                          EffectivePeriod(from: TaxDate(iso: "2026-01-01")!), .always])
                == "0001-01-01 onward")
        #expect(EffectivePeriod.describe([EffectivePeriod(from: TaxDate(iso: "2025-04-01")!, through: TaxDate(iso: "2025-06-30")!),
                                          EffectivePeriod(from: TaxDate(iso: "2025-01-01")!, through: TaxDate(iso: "2025-03-31")!),
                                          EffectivePeriod(from: TaxDate(iso: "2026-01-01")!)])
                == "2025-01-01 to 2025-06-30 and 2026-01-01 onward")
        // After the file's last quarter its latest rates answer, and the quote says they may be stale.
        let july = try Official.quote(tables, seattle, on: "2026-07-01")
        #expect(july.totalTax.decimalString == "10.55")
        #expect(july.warnings.contains { $0.hasPrefix("stale_rates: source wa-dor") })
    }

    @Test("California from CDTFA: the statewide 1.25% local share plus the city's district taxes")
    func california() throws {
        let q = try Official.quote(tables, Official.address("", "CA", "90255"), on: "2026-03-02")
        #expect(q.lines[0].sourcing.record.contains("CDTFA city rate Huntington Park"))
        let combined = q.lines[0].jurisdictions.reduce(Rate.zero) { $0 + $1.rate }
        #expect(combined.fractionString == "0.105")  // "Huntington Park,0.105,10.5,Los Angeles,City," in the CDTFA file
    }

    /// Probe #18: a WA DOR or CDTFA file named for another state was attached to it (Nevada's state rate became
    /// Washington's 6.5%); a WA row whose `State` disagreed with its period's was accepted and its place lost the
    /// difference; a file whose rates begin after the ZIP5 estimate's made the state's earlier quotes unquotable
    /// without a word.
    @Test func placeFilesAreCheckedAgainstTheirState() throws {
        let wa = Official.file("wa_dor_location_rates_2024Q4-2026Q2.csv", .waDOR, "WA")
        let ca = Official.file("ca_cdtfa_rates_2026-01-01.csv", .caCDTFA, "CA", effectiveFrom: "2026-01-01")
        for (file, state, says) in [(wa, "NV", "Washington's, not NV's"), (ca, "NV", "California's, not NV's")] {
            var named = file
            named.0.state = state
            #expect(throws: TableLoadError.self) { try OfficialTables.build(base: Repo.shipped, files: [named], version: "t") }
            do { _ = try OfficialTables.build(base: Repo.shipped, files: [named], version: "t") } catch {
                #expect(error.diagnostics.contains { $0.message.contains(says) }, "\(error)")
            }
        }
        // One Seattle row of 2026Q1 says State 0.07 and Local 0.0355 (Rate still 0.1055): refused, naming line and column.
        // The file's lines end in CRLF, one Character in Swift: split and joined on the line feed's byte alone.
        var lines = wa.1.split(separator: 10, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        let header = lines[0].split(separator: ",").map(String.init)
        let (stateColumn, localColumn) = (header.firstIndex(of: "State")!, header.firstIndex(of: "Local")!)
        let seattle = try #require(lines.indices.first { lines[$0].hasPrefix("SEATTLE,") && lines[$0].contains(",20260101,") })
        var cells = lines[seattle].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        cells[stateColumn] = "0.07"
        cells[localColumn] = "0.0355"
        lines[seattle] = cells.joined(separator: ",")
        let altered = (OfficialFile(kind: .waDOR, state: "WA", name: wa.0.name, sha256: "", effectiveFrom: nil), Array(lines.joined(separator: "\n").utf8))
        do {
            _ = try OfficialTables.build(base: Repo.shipped, files: [altered], version: "t")
            Issue.record("a row with another state rate was accepted")
        } catch {
            #expect(error.diagnostics.contains { $0.line == seattle + 1 && $0.column == stateColumn + 1 && $0.message.contains("one state rate") }, "\(error)")
        }
        // The CDTFA file imported as next quarter's: California's quotes before 2026-04-01 are refused, and it says so.
        let next = Official.file("ca_cdtfa_rates_2026-01-01.csv", .caCDTFA, "CA", effectiveFrom: "2026-04-01")
        let report = try OfficialTables.build(base: Repo.shipped, files: [next], version: "t").report
        #expect(report.warnings.contains { $0.severity == .warning && $0.message.contains("to 2026-03-31 are refused by this version") }, "\(report.warnings)")
        // A CDTFA place in no county of California could never match an address: refused, naming line and column.
        let atlantis = (OfficialFile(kind: .caCDTFA, state: "CA", name: "ca_cdtfa_rates_2026-04-01.csv", effectiveFrom: "2026-04-01"),
                        Array((String(decoding: ca.1, as: UTF8.self) + "Poseidonia,0.0825,8.25,Atlantis,City,\n").utf8))
        do {
            _ = try OfficialTables.build(base: Repo.shipped, files: [atlantis], version: "t")
            Issue.record("a place in no county was accepted")
        } catch {
            #expect(error.diagnostics.map(\.description).contains { $0.hasSuffix(":4: error: County \"ATLANTIS\" is not a county of California") }, "\(error)")
        }
        // Washington's file reaches back past the ZIP5 estimate (2024Q4): nothing is lost, nothing said.
        let washington = try OfficialTables.build(base: Repo.shipped, files: [wa], version: "t").report
        #expect(!washington.warnings.contains { $0.message.contains("refused by this version") }, "\(washington.warnings)")
    }

    /// Place-rate files of a state make its history (probe #18: an imported file replaced the one before, and every
    /// earlier quote of the state was refused): next quarter's CDTFA file leaves this quarter's quotes to the file in
    /// force, one quarter of Washington's rates leaves the earlier quarters to the file that has them.
    @Test func placeFilesKeepTheirOwnDates() throws {
        let sanFrancisco = Official.address("", "CA", "94103")
        let shipped = String(decoding: Official.file("ca_cdtfa_rates_2026-01-01.csv", .caCDTFA, "CA").1, as: UTF8.self)
        let raised = shipped.replacingOccurrences(of: "0.08625,8.625,San Francisco,", with: "0.09125,9.125,San Francisco,")
        #expect(raised != shipped)
        let next = (OfficialFile(kind: .caCDTFA, state: "CA", name: "ca_cdtfa_rates_2026-04-01.csv", effectiveFrom: "2026-04-01"), Array(raised.utf8))
        let california = try OfficialTables.build(base: Repo.shipped, files: [next], version: "t")
        #expect(!california.report.warnings.contains { $0.message.contains("refused by this version") }, "\(california.report.warnings)")
        for (date, tax) in [("2025-06-02", "8.63"), ("2026-03-31", "8.63"), ("2026-04-01", "9.13"), ("2027-01-04", "9.13")] {
            #expect(try Official.quote(california.tables, sanFrancisco, on: date).totalTax.decimalString == tax, "\(date)")
        }
        // The record of a row whose file a later one takes over from says till when its file answers (it said "onward").
        let march = try california.tables.locals.resolve(sanFrancisco, on: TaxDate(iso: "2026-03-31")!).record
        #expect(march.contains("(official/ca_cdtfa_rates_2026-01-01.csv:") && march.contains("; its file answers through 2026-03-31, ca_cdtfa_rates_2026-04-01.csv from 2026-04-01"),
                "\(march)")
        #expect(try !california.tables.locals.resolve(sanFrancisco, on: TaxDate(iso: "2026-04-01")!).record.contains("its file answers"))
        // Washington: the 2026Q2 rows alone, Seattle's raised.
        let wa = Official.file("wa_dor_location_rates_2024Q4-2026Q2.csv", .waDOR, "WA")
        let lines = wa.1.split(separator: 10, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        let quarter = ([lines[0]] + lines.filter { $0.contains(",20260401,20260630") }).joined(separator: "\n")
            .replacingOccurrences(of: "SEATTLE,1726,0.065,0.0405,0,0.1055,20260401", with: "SEATTLE,1726,0.065,0.0415,0,0.1065,20260401")
        let q2 = (OfficialFile(kind: .waDOR, state: "WA", name: "wa_dor_location_rates_2026Q2.csv"), Array(quarter.utf8))
        let washington = try OfficialTables.build(base: Repo.shipped, files: [q2], version: "t")
        #expect(!washington.report.warnings.contains { $0.message.contains("refused by this version") }, "\(washington.report.warnings)")
        let seattle = Official.address("", "WA", "98101")
        for (date, tax) in [("2025-02-03", "10.35"), ("2026-03-02", "10.55"), ("2026-05-01", "10.65"), ("2026-09-01", "10.65")] {
            #expect(try Official.quote(washington.tables, seattle, on: date).totalTax.decimalString == tax, "\(date)")
        }
        // A file with a gap (2025Q1, then 2026Q3): the gap's dates stay with the file that has them (probe #20: refused).
        let gapped = ([lines[0]] + lines.filter { $0.contains(",20250101,20250331") }
                      + lines.filter { $0.contains(",20260401,20260630") }.map { $0.replacingOccurrences(of: ",20260401,20260630", with: ",20260701,20260930") })
            .joined(separator: "\n")
            .replacingOccurrences(of: "SEATTLE,1726,0.065,0.0405,0,0.1055,20260701", with: "SEATTLE,1726,0.065,0.0415,0,0.1065,20260701")
        let gap = try OfficialTables.build(base: Repo.shipped, files: [(OfficialFile(kind: .waDOR, state: "WA", name: "wa_gap.csv"), Array(gapped.utf8))],
                                           version: "t")
        #expect(!gap.report.warnings.contains { $0.message.contains("refused by this version") }, "\(gap.report.warnings)")
        for (date, tax) in [("2025-02-03", "10.35"), ("2025-06-02", "10.35"), ("2026-06-30", "10.55"), ("2026-07-01", "10.65")] {
            #expect(try Official.quote(gap.tables, seattle, on: date).totalTax.decimalString == tax, "\(date)")
        }
        // A later quarter alone (2026Q4, nothing for 2026Q3): the quarter between keeps a state rate (probe #20: every
        // quote of it was refused, "no WA state rate in force") and its rates from the file before, past its end.
        let q4 = ([lines[0]] + lines.filter { $0.contains(",20260401,20260630") }.map { $0.replacingOccurrences(of: ",20260401,20260630", with: ",20261001,20261231") })
            .joined(separator: "\n")
        let later = try OfficialTables.build(base: Repo.shipped, files: [(OfficialFile(kind: .waDOR, state: "WA", name: "wa_q4.csv"), Array(q4.utf8))], version: "t")
        #expect(try Official.quote(later.tables, seattle, on: "2026-08-03").totalTax.decimalString == "10.55")
        #expect(try Official.quote(later.tables, seattle, on: "2026-10-01").totalTax.decimalString == "10.55")
        // Alone (the shipped file's name), the gap is refused, and the import says which dates.
        let gapAlone = try OfficialTables.build(base: Repo.shipped, files: [(OfficialFile(kind: .waDOR, state: "WA", name: "wa_dor_location_rates_2024Q4-2026Q2.csv"),
                                                                              Array(gapped.utf8))], version: "t")
        #expect(gapAlone.report.warnings.contains { $0.message.contains("2025-04-01 to 2026-06-30") && $0.message.contains("refused by this version") },
                "\(gapAlone.report.warnings)")
        // Imported with the shipped file's own name, a file takes its place: the dates before it are refused, and said so.
        var renamed = q2
        renamed.0.name = "wa_dor_location_rates_2024Q4-2026Q2.csv"
        let alone = try OfficialTables.build(base: Repo.shipped, files: [renamed], version: "t")
        #expect(alone.report.warnings.contains { $0.message.contains("to 2026-03-31 are refused by this version") }, "\(alone.report.warnings)")
        #expect(throws: QuoteError.self) { try Official.quote(alone.tables, seattle, on: "2026-03-02") }
    }

    @Test("states without imported data are still answered by the shipped ZIP5 table")
    func otherStates() throws {
        let q = try Official.quote(tables, Official.address("", "TX", "75201"), on: "2026-03-02")
        #expect(q.lines[0].sourcing.record.hasPrefix("zip5 75201"))
    }
}

/// What a thread reports back to a test.
private final class Outcome: Sendable {
    let text = Mutex<String>("")
}

@Suite("The versioned table store")
struct TableStoreTests {
    func freshStore() -> TableStore {
        TableStore(directory: NSTemporaryDirectory() + "levy-store-" + UUID().uuidString)
    }

    static let now = Date(timeIntervalSince1970: 1_790_000_000)

    func inputs(_ files: [(OfficialFile, [UInt8])]) -> [(file: OfficialFile, bytes: [UInt8])] { files.map { ($0.0, $0.1) } }

    @Test("an import becomes the current version; the same files again make no new version")
    func importAndReimport() throws {
        let store = freshStore()
        defer { try? FileManager.default.removeItem(atPath: store.directory) }
        let (first, created) = try store.importFiles(inputs(Official.all), base: Repo.shipped, now: Self.now)
        #expect(created)
        #expect(store.currentID() == first.id)
        #expect(first.files.count == 6)
        let (second, createdAgain) = try store.importFiles(inputs(Official.all), base: Repo.shipped, now: Self.now)
        #expect(!createdAgain)
        #expect(second.id == first.id)
        #expect(try store.versions().count == 1)
    }

    @Test("a new import never changes how an earlier version quotes")
    func pastVersionsStay() throws {
        let store = freshStore()
        defer { try? FileManager.default.removeItem(atPath: store.directory) }
        let wa = Official.file("wa_dor_location_rates_2024Q4-2026Q2.csv", .waDOR, "WA")
        let (v1, _) = try store.importFiles(inputs([wa]), base: Repo.shipped, now: Self.now)
        // A revised WA file: Seattle's 2026 Q1 local rate changed.
        var revised = wa
        revised.0.name = "wa_dor_revised.csv"
        revised.1 = Array(String(decoding: wa.1, as: UTF8.self)
            .replacingOccurrences(of: "SEATTLE,1726,0.065,0.0405,0,0.1055,20260101,20260331", with: "SEATTLE,1726,0.065,0.0415,0,0.1065,20260101,20260331").utf8)
        let (v2, _) = try store.importFiles(inputs([revised]), base: Repo.shipped, now: Self.now.addingTimeInterval(60))
        #expect(v2.parent == v1.id)
        #expect(store.currentID() == v2.id)
        let seattle = Official.address("", "WA", "98101")
        let old = try Official.quote(try store.load(v1.id, base: Repo.shipped).tables, seattle, on: "2026-01-15")
        let new = try Official.quote(try store.load(nil, base: Repo.shipped).tables, seattle, on: "2026-01-15")
        #expect(old.totalTax.decimalString == "10.55")
        #expect(new.totalTax.decimalString == "10.65")
        #expect(old.tableVersion != new.tableVersion)
        let diff = try TableDiff.diff(old: [wa], new: [revised])
        #expect(diff.first == "WA wa-dor: wa_dor_location_rates_2024Q4-2026Q2.csv -> wa_dor_revised.csv: 1 added, 1 removed")
        #expect(diff.contains { $0.hasPrefix("  + WA DOR location 1726 SEATTLE 53-LOC-1726 4.15%") })
    }

    /// Two imports at once take turns: each builds on the version before it, so the current one holds both files
    /// (both built on the same parent, and the one made current last lost the other's file).
    @Test func concurrentImportsKeepEachOthersFiles() throws {
        let store = freshStore()
        defer { try? FileManager.default.removeItem(atPath: store.directory) }
        let files = [Official.file("MNR2026Q2FEB18.csv", .sstRates, "MN"), Official.file("WIR2026Q2FEB18.csv", .sstRates, "WI")]
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: files.count) { i in
            do { _ = try store.importFiles(inputs([files[i]]), base: Repo.shipped, now: Self.now.addingTimeInterval(Double(i))) } catch {
                failures.withLock { $0.append("\(error)") }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty)
        let current = try store.manifest(try #require(store.currentID()))
        #expect(Set(current.files.map(\.name)) == ["MNR2026Q2FEB18.csv", "WIR2026Q2FEB18.csv"])
        #expect(try store.versions().count == 2)
    }

    /// A `CURRENT` that cannot name a version is said to be so (probe #18: a folder, a FIFO or an empty file made
    /// commands quote with the shipped tables without a word); absent, the store simply has no version yet.
    @Test func anUnreadableCurrentIsSaid() throws {
        let store = freshStore()
        defer { try? FileManager.default.removeItem(atPath: store.directory) }
        try FileManager.default.createDirectory(atPath: store.directory, withIntermediateDirectories: true)
        #expect(store.currentProblem() == nil && store.currentID() == nil)
        let current = store.directory + "/CURRENT"
        try FileManager.default.createDirectory(atPath: current, withIntermediateDirectories: true)
        #expect(store.currentProblem()?.hasSuffix("is not a regular file, so it names no table version") == true)
        try FileManager.default.removeItem(atPath: current)
        #expect(mkfifo(current, 0o600) == 0)
        #expect(store.currentProblem()?.contains("not a regular file") == true && store.currentID() == nil, "a FIFO is not read")
        try FileManager.default.removeItem(atPath: current)
        try Data().write(to: URL(fileURLWithPath: current))
        #expect(store.currentProblem()?.hasSuffix("is empty, so it names no table version") == true)
        try Data(count: 1_000).write(to: URL(fileURLWithPath: current))
        #expect(store.currentProblem()?.contains("holds 1000 bytes") == true)
    }

    /// A refused import names its own files' problems, not the warnings of the files it would have kept (probe #18:
    /// Wisconsin's touching-row warning appeared in the refusal of every unrelated file).
    @Test func aRefusalNamesOnlyItsOwnFiles() throws {
        let store = freshStore()
        defer { try? FileManager.default.removeItem(atPath: store.directory) }
        let (first, _) = try store.importFiles(inputs([Official.file("WIR2026Q2FEB18.csv", .sstRates, "WI")]), base: Repo.shipped, now: Self.now)
        #expect(first.report.contains { $0.hasPrefix("WIR2026Q2FEB18.csv:") && $0.contains("warning") }, "the fixture's own warning")
        do {
            _ = try store.importFiles(inputs([Official.file("broken/MNR-overlapping-ranges.csv", .sstRates, "MN")]), base: Repo.shipped, now: Self.now)
            Issue.record("a broken file was imported")
        } catch let error as TableLoadError {
            #expect(error.diagnostics.contains { $0.file == "MNR-overlapping-ranges.csv" && $0.severity == .error })
            #expect(!error.diagnostics.contains { $0.file == "WIR2026Q2FEB18.csv" }, "\(error)")
        }
        #expect(store.currentID() == first.id)
    }

    /// Two CDTFA files imported one after the other stay in the version, each answering its own quarter.
    @Test func placeFilesAccumulateInTheStore() throws {
        let store = freshStore()
        defer { try? FileManager.default.removeItem(atPath: store.directory) }
        let shipped = String(decoding: Official.file("ca_cdtfa_rates_2026-01-01.csv", .caCDTFA, "CA").1, as: UTF8.self)
        func quarter(_ date: String, _ rate: String, _ percent: String) -> (file: OfficialFile, bytes: [UInt8]) {
            (OfficialFile(kind: .caCDTFA, state: "CA", name: "ca_cdtfa_rates_\(date).csv", effectiveFrom: date),
             Array(shipped.replacingOccurrences(of: "0.08625,8.625,San Francisco,", with: "\(rate),\(percent),San Francisco,").utf8))
        }
        _ = try store.importFiles([quarter("2026-04-01", "0.09125", "9.125")], base: Repo.shipped, now: Self.now)
        let (second, _) = try store.importFiles([quarter("2026-07-01", "0.09375", "9.375")], base: Repo.shipped, now: Self.now.addingTimeInterval(60))
        #expect(second.files.map(\.name) == ["ca_cdtfa_rates_2026-04-01.csv", "ca_cdtfa_rates_2026-07-01.csv"])
        // The same file again keeps its place: the same version, not another of the same files (probe #20).
        let (again, created) = try store.importFiles([quarter("2026-04-01", "0.09125", "9.125")], base: Repo.shipped, now: Self.now.addingTimeInterval(120))
        #expect(!created && again.id == second.id)
        // A revised file of the same date takes the earlier one's place.
        var revised = quarter("2026-04-01", "0.09250", "9.25")
        revised.file.name = "ca_cdtfa_rates_2026-04-01-revised.csv"
        let (third, _) = try store.importFiles([revised], base: Repo.shipped, now: Self.now.addingTimeInterval(180))
        #expect(third.files.map(\.name) == ["ca_cdtfa_rates_2026-07-01.csv", "ca_cdtfa_rates_2026-04-01-revised.csv"])
        let tables = try store.load(second.id, base: Repo.shipped).tables
        let sanFrancisco = Official.address("", "CA", "94103")
        for (date, tax) in [("2026-03-02", "8.63"), ("2026-05-01", "9.13"), ("2026-08-03", "9.38")] {
            #expect(try Official.quote(tables, sanFrancisco, on: date).totalTax.decimalString == tax, "\(date)")
        }
    }

    /// The same CDTFA bytes from another date are other rates: the diff says so (probe #20: "no differences").
    @Test func aCDTFAFileMovedToAnotherDateIsADifference() throws {
        let april = Official.file("ca_cdtfa_rates_2026-01-01.csv", .caCDTFA, "CA", effectiveFrom: "2026-04-01")
        var may = april
        may.0.effectiveFrom = "2026-05-01"
        let diff = try TableDiff.diff(old: [april], new: [may])
        #expect(diff.first?.hasPrefix("CA ca-cdtfa: ca_cdtfa_rates_2026-01-01.csv (from 2026-04-01) -> ca_cdtfa_rates_2026-01-01.csv (from 2026-05-01): ") == true, "\(diff.prefix(2))")
        #expect(diff.contains { $0.hasPrefix("  + ") && $0.hasSuffix("2026-05-01 onward") })
    }

    @Test("diff lists a changed boundary record as one removed and one added, independent of line numbers")
    func boundaryDiff() throws {
        let sample = Official.file("MNB2026Q2FEB18-sample.csv", .sstBoundaries, "MN")
        var changed = sample
        // Move ZIPs 55103-55103 from county 123 to county 037, and move the record to the end of the file.
        var lines = String(decoding: sample.1, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let index = try #require(lines.firstIndex { $0.hasPrefix("z,20171001,20190331,,,,,,,,,,,,,,,55103,,55103,,,27,27,123,58000") })
        let moved = lines.remove(at: index).replacingOccurrences(of: ",27,27,123,58000", with: ",27,27,037,58000")
        lines.insert(moved, at: lines.count - 1)
        changed.1 = Array(lines.joined(separator: "\n").utf8)
        let diff = try TableDiff.diff(old: [sample], new: [changed])
        #expect(diff.first?.hasSuffix("1 added, 1 removed") == true)
        #expect(diff.contains("  - boundary zip5 55103, 2017-10-01 to 2019-03-31 -> [27/county/123,27/city/58000]"))
        #expect(diff.contains("  + boundary zip5 55103, 2017-10-01 to 2019-03-31 -> [27/county/37,27/city/58000]"))
    }

    @Test("a store file that was altered is refused when loaded")
    func tamperDetected() throws {
        let store = freshStore()
        defer { try? FileManager.default.removeItem(atPath: store.directory) }
        let (version, _) = try store.importFiles(inputs([Official.file("MNR2026Q2FEB18.csv", .sstRates, "MN")]), base: Repo.shipped, now: Self.now)
        let path = "\(store.directory)/versions/\(version.id)/files/MNR2026Q2FEB18.csv"
        try String(decoding: Repo.bytes(path), as: UTF8.self).replacingOccurrences(of: "0.06875", with: "0.06975")
            .write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: TableStore.StoreError.self) { try store.load(version.id, base: Repo.shipped) }
    }

    /// Probe #20: a manifest edited after the import (a file's date, a name leading out of its folder) quoted other tax
    /// under the same table version; a CURRENT naming a path loaded a version from outside the store; an import over a
    /// broken CURRENT built on nothing and dropped the current version's files; importing files whose version folder
    /// was altered made it current. Each is refused now, and nothing is written.
    @Test func anAlteredStoreIsRefused() throws {
        let store = freshStore()
        defer { try? FileManager.default.removeItem(atPath: store.directory) }
        let ca = Official.file("ca_cdtfa_rates_2026-01-01.csv", .caCDTFA, "CA", effectiveFrom: "2026-04-01")
        let (version, _) = try store.importFiles(inputs([ca]), base: Repo.shipped, now: Self.now)
        let manifestPath = "\(store.directory)/versions/\(version.id)/manifest.json"
        let original = String(decoding: Repo.bytes(manifestPath), as: UTF8.self)
        func refused(_ edit: (String) -> String) throws -> String {
            try edit(original).write(toFile: manifestPath, atomically: true, encoding: .utf8)
            defer { try? original.write(toFile: manifestPath, atomically: true, encoding: .utf8) }
            do { _ = try store.load(version.id, base: Repo.shipped) } catch { return "\(error)" }
            return "loaded"
        }
        #expect(try refused { $0.replacingOccurrences(of: "\"2026-04-01\"", with: "\"2099-01-01\"") }.contains("does not give its id"))
        #expect(try refused { $0.replacingOccurrences(of: "\"ca_cdtfa_rates_2026-01-01.csv\"", with: "\"..\\/..\\/evil.csv\"") }.contains("not one plain name"))
        #expect(try refused { $0.replacingOccurrences(of: "\"id\" : \"\(version.id)\"", with: "\"id\" : \"vabcdefabcdef\"") }.contains("does not give its id"))
        #expect(try store.load(version.id, base: Repo.shipped).manifest.id == version.id, "restored, it loads")

        let current = store.directory + "/CURRENT"
        try "../../elsewhere/versions/\(version.id)\n".write(toFile: current, atomically: true, encoding: .utf8)
        #expect(store.currentProblem()?.contains("which is not a table version id") == true)
        #expect(throws: TableStore.StoreError.self) { try store.load(nil, base: Repo.shipped) }
        // An import over a broken CURRENT writes nothing.
        try Data().write(to: URL(fileURLWithPath: current))
        #expect(throws: TableStore.StoreError.self) {
            try store.importFiles(inputs([Official.file("MNR2026Q2FEB18.csv", .sstRates, "MN")]), base: Repo.shipped, now: Self.now)
        }
        #expect(try store.versions().map(\.id) == [version.id])
        // Importing the same file again checks the version it would make current.
        try store.setCurrent(version.id)
        let (other, _) = try store.importFiles(inputs([Official.file("MNR2026Q2FEB18.csv", .sstRates, "MN")]), base: Repo.shipped, now: Self.now)
        try store.setCurrent(version.id)
        let otherFile = "\(store.directory)/versions/\(other.id)/files/MNR2026Q2FEB18.csv"
        try String(decoding: Repo.bytes(otherFile), as: UTF8.self).replacingOccurrences(of: "0.06875", with: "0.06975")
            .write(toFile: otherFile, atomically: true, encoding: .utf8)
        #expect(throws: TableStore.StoreError.self) {
            try store.importFiles(inputs([Official.file("MNR2026Q2FEB18.csv", .sstRates, "MN")]), base: Repo.shipped, now: Self.now)
        }
        #expect(store.currentID() == version.id)
    }

    /// Probe #20: an imported CDTFA file answered any later date without a word; it speaks for the quarter it takes
    /// effect in (California's district taxes change on a quarter's first day), and a date past it says so. A
    /// file dated in year 1 (which answered every past date) is refused.
    @Test func anImportedCDTFAFileIsFreshForItsQuarter() throws {
        let ca = Official.file("ca_cdtfa_rates_2026-01-01.csv", .caCDTFA, "CA", effectiveFrom: "2026-04-01")
        let built = try OfficialTables.build(base: Repo.shipped, files: [ca], version: "t")
        let losAngeles = Official.address("", "CA", "90012")
        let inQuarter = try Official.quote(built.tables, losAngeles, on: "2026-06-30")
        #expect(!inQuarter.warnings.contains { $0.hasPrefix("stale_rates") }, "\(inQuarter.warnings)")
        let later = try Official.quote(built.tables, losAngeles, on: "2026-07-01")
        #expect(later.warnings.contains { $0.hasPrefix("stale_rates: source ca-cdtfa is verified through 2026-06-30") }, "\(later.warnings)")
        #expect(later.totalTax == inQuarter.totalTax, "still answered, with its last rates")
        var ancient = ca
        ancient.0.effectiveFrom = "0001-01-01"
        #expect(throws: TableLoadError.self) { try OfficialTables.build(base: Repo.shipped, files: [ancient], version: "t") }
    }

    /// Versions made in one second list a parent before its child, and an import dated when it holds the lock.
    @Test func versionsListInTheOrderTheyWereMade() throws {
        let store = freshStore()
        defer { try? FileManager.default.removeItem(atPath: store.directory) }
        var made: [String] = []
        for name in ["MNR2026Q2FEB18.csv", "WIR2026Q2FEB18.csv", "GAR2026Q2FEB19.csv"] {
            made.append(try store.importFiles(inputs([Official.file(name, .sstRates, String(name.prefix(2)))]), base: Repo.shipped, now: Self.now).manifest.id)
        }
        #expect(try store.versions().map(\.id) == made)
    }

    /// An import that finds another holding the store's lock says so before it waits (probe #20: a silent wait).
    @Test func anImportWaitingForTheLockSaysSo() throws {
        let store = freshStore()
        defer { try? FileManager.default.removeItem(atPath: store.directory) }
        try FileManager.default.createDirectory(atPath: store.directory, withIntermediateDirectories: true)
        let holder = open(store.directory + "/.import.lock", O_CREAT | O_RDWR, 0o644)
        #expect(holder >= 0 && flock(holder, LOCK_EX) == 0)
        let waited = DispatchSemaphore(value: 0), finished = DispatchSemaphore(value: 0)
        let outcome = Outcome()
        let input = inputs([Official.file("MNR2026Q2FEB18.csv", .sstRates, "MN")])
        Thread.detachNewThread {
            do {
                let made = try store.importFiles(input, base: Repo.shipped, now: Date(), waiting: { waited.signal() })
                outcome.text.withLock { $0 = made.manifest.id }
            } catch { outcome.text.withLock { $0 = "\(error)" } }
            finished.signal()
        }
        #expect(waited.wait(timeout: .now() + 30) == .success, "the waiting import said so")
        #expect(outcome.text.withLock { $0 }.isEmpty, "and did not go on while the lock was held")
        flock(holder, LOCK_UN)
        close(holder)
        #expect(finished.wait(timeout: .now() + 120) == .success)
        #expect(outcome.text.withLock { $0 } == store.currentID())
    }

    /// Probe #20: a diff against the shipped tables left out the shipped files (every row of an imported revision
    /// was "added"), and between one CDTFA quarter and the next every row of the new file was added. Compared as
    /// they answer, only the rates that change show.
    @Test func aDiffShowsTheRatesThatChange() throws {
        let shippedWA = Official.file("wa_dor_location_rates_2024Q4-2026Q2.csv", .waDOR, "WA")
        let store = TableStore(directory: NSTemporaryDirectory() + "levy-store-" + UUID().uuidString,
                               shipped: CanonicalTables.shippedOfficialFiles(directory: Repo.shippedTables))
        defer { try? FileManager.default.removeItem(atPath: store.directory) }
        #expect(Set(store.shipped.map(\.0.name)).isSuperset(of: ["wa_dor_location_rates_2024Q4-2026Q2.csv", "ca_cdtfa_rates_2026-01-01.csv"]))
        var revised = shippedWA
        revised.1 = Array(String(decoding: shippedWA.1, as: UTF8.self)
            .replacingOccurrences(of: "SEATTLE,1726,0.065,0.0405,0,0.1055,20260101,20260331", with: "SEATTLE,1726,0.065,0.0415,0,0.1065,20260101,20260331").utf8)
        let (revision, _) = try store.importFiles(inputs([revised]), base: Repo.shipped, now: Self.now)
        let diff = try TableDiff.diff(old: try store.officialFiles("shipped"), new: try store.officialFiles(revision.id))
        #expect(diff.first?.hasSuffix(": 1 added, 1 removed") == true, "\(diff.prefix(4))")
        #expect(diff.contains { $0.hasPrefix("  + WA DOR location 1726 SEATTLE 53-LOC-1726 4.15%") && $0.hasSuffix("2026-01-01 to 2026-03-31") }, "\(diff)")

        // Next quarter's CDTFA file with one rate changed: that place's rates from the new date, nothing else.
        let shippedCA = String(decoding: Official.file("ca_cdtfa_rates_2026-01-01.csv", .caCDTFA, "CA").1, as: UTF8.self)
        let april = (OfficialFile(kind: .caCDTFA, state: "CA", name: "ca_cdtfa_rates_2026-04-01.csv", effectiveFrom: "2026-04-01"),
                     Array(shippedCA.utf8))
        let (first, _) = try store.importFiles(inputs([april]), base: Repo.shipped, now: Self.now)
        let july = (OfficialFile(kind: .caCDTFA, state: "CA", name: "ca_cdtfa_rates_2026-07-01.csv", effectiveFrom: "2026-07-01"),
                    Array(shippedCA.replacingOccurrences(of: "0.08625,8.625,San Francisco,", with: "0.09125,9.125,San Francisco,").utf8))
        let (second, _) = try store.importFiles(inputs([july]), base: Repo.shipped, now: Self.now)
        let quarterly = try TableDiff.diff(old: try store.officialFiles(first.id), new: try store.officialFiles(second.id))
        // San Francisco's city and county rows: each runs to 2026-06-30, then at the new rate.
        #expect(quarterly.first?.hasSuffix(": 4 added, 2 removed") == true, "\(quarterly.prefix(12))")
        #expect(quarterly.contains { $0.hasPrefix("  - ") && $0.contains("San Francisco") && $0.hasSuffix("2026-01-01 onward") }, "\(quarterly)")
        #expect(quarterly.contains { $0.hasPrefix("  + ") && $0.contains("San Francisco") && $0.hasSuffix("2026-01-01 to 2026-06-30") })
        #expect(quarterly.contains { $0.hasPrefix("  + ") && $0.contains("San Francisco") && $0.hasSuffix("2026-07-01 onward") })
    }

    /// Probe #20: a corrected Washington history that starts before the shipped file and ends after it was answered
    /// only outside the shipped file's dates; it now takes the shipped file's place. One that ends before it is
    /// answered where it alone has rows, and the import says which of its dates are not used.
    @Test func aWiderWashingtonHistoryReplacesTheShippedFile() throws {
        // The file's lines end in CRLF, one Character in Swift: split as bytes would, after making them LF.
        let shipped = String(decoding: Official.file("wa_dor_location_rates_2024Q4-2026Q2.csv", .waDOR, "WA").1, as: UTF8.self)
            .replacingOccurrences(of: "\r\n", with: "\n")
        var lines = shipped.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let header = lines.removeFirst()
        let q1 = lines.filter { $0.hasSuffix(",20260101,20260331") }
        // The 2026 Q1 rows again for 2024 Q3 and 2026 Q3, Seattle's local rate 4.15% in every quarter.
        func moved(_ from: String, _ through: String) -> [String] {
            q1.map { $0.replacingOccurrences(of: ",20260101,20260331", with: ",\(from),\(through)") }
        }
        func file(_ name: String, _ rows: [String]) -> (OfficialFile, [UInt8]) {
            let text = ([header] + rows).joined(separator: "\n").replacingOccurrences(of: "SEATTLE,1726,0.065,0.0405,0,0.1055", with: "SEATTLE,1726,0.065,0.0415,0,0.1065")
            return (OfficialFile(kind: .waDOR, state: "WA", name: name), Array(text.utf8))
        }
        let middle = lines.filter { !$0.isEmpty }
        let wider = file("wa_corrected.csv", moved("20240701", "20240930") + middle + moved("20260701", "20260930"))
        let built = try OfficialTables.build(base: Repo.shipped, files: [wider], version: "t")
        let seattle = Official.address("", "WA", "98101")
        for date in ["2026-02-02", "2026-05-01", "2026-08-03"] {
            #expect(try Official.quote(built.tables, seattle, on: date).totalTax.decimalString == "10.65", "\(date)")
        }
        // A history from 2024 Q3 to 2025 Q4 only: its 2024-10-01 onward is the shipped file's (which starts later).
        // (Washington's ZIPs are matched to places from 2024-10-01 on, so 2024 Q3 is not quoted either way.)
        let earlier = file("wa_early.csv", moved("20240701", "20240930") + middle.filter { $0.contains(",2024") || $0.contains(",2025") })
        let partial = try OfficialTables.build(base: Repo.shipped, files: [earlier], version: "t")
        #expect(try Official.quote(partial.tables, seattle, on: "2024-10-01").totalTax.decimalString == "10.35", "the shipped file's")
        #expect(partial.report.warnings.contains { $0.file == "wa_early.csv" && $0.message.contains("2024-10-01 to 2025-12-31 are not used") },
                "\(partial.report.warnings)")
        // A quarter's file without Seattle: its addresses fall to King County's rate, and the import says so.
        let withoutSeattle = file("wa_2026q3.csv", moved("20260701", "20260930").filter { !$0.contains(",1726,") })
        let dropped = try OfficialTables.build(base: Repo.shipped, files: [withoutSeattle], version: "t")
        #expect(dropped.report.warnings.contains { $0.file == "wa_2026q3.csv" && $0.message.contains("no rate in this file on 2026-07-01")
                    && $0.message.contains("SEATTLE") }, "\(dropped.report.warnings)")
        #expect(!built.report.warnings.contains { $0.message.contains("no rate in this file") }, "\(built.report.warnings)")
    }

    struct Broken: CustomTestStringConvertible, Sendable {
        var file: String
        var kind: OfficialFile.Kind
        var diagnostic: String
        var testDescription: String { file }
    }

    static let brokenFiles: [Broken] = String(decoding: Repo.bytes(Repo.fixtures + "/broken/EXPECTED.tsv"), as: UTF8.self)
        .split(separator: "\n").filter { !$0.hasPrefix("#") }.map { line in
            let parts = line.split(separator: "\t", maxSplits: 2).map(String.init)
            return Broken(file: parts[0], kind: OfficialFile.Kind(rawValue: parts[1])!, diagnostic: parts[2])
        }

    @Test("two files of one kind for one state in one import are refused, naming both, and nothing is written")
    func sameKindTwice() throws {
        let store = freshStore()
        defer { try? FileManager.default.removeItem(atPath: store.directory) }
        var second = Official.file("MNR2026Q2FEB18.csv", .sstRates, "MN")
        second.0.name = "MNR2026Q1FEB18.csv"
        #expect(throws: TableStore.StoreError.self) {
            try store.importFiles(inputs([Official.file("MNR2026Q2FEB18.csv", .sstRates, "MN"), second]), base: Repo.shipped, now: Self.now)
        }
        do {
            _ = try store.importFiles(inputs([Official.file("MNR2026Q2FEB18.csv", .sstRates, "MN"), second]), base: Repo.shipped, now: Self.now)
        } catch {
            #expect("\(error)".hasPrefix("MNR2026Q2FEB18.csv and MNR2026Q1FEB18.csv are both sst-rates files for MN"))
        }
        #expect(store.currentID() == nil)
    }

    @Test("the broken-file corpus has at least 20 files")
    func corpusSize() { #expect(Self.brokenFiles.count >= 20) }

    /// A store with one import (the WA file), made once and copied for each broken-file case: an import loads the
    /// whole tables, and made per case the imports kept both of the test process's threads busy for about 45 s.
    static let storeWithOneImport: Result<(directory: String, id: String), any Error> = Result {
        let store = TableStore(directory: NSTemporaryDirectory() + "levy-store-" + UUID().uuidString)
        let (version, _) = try store.importFiles([Official.file("wa_dor_location_rates_2024Q4-2026Q2.csv", .waDOR, "WA")].map { ($0.0, $0.1) },
                                                 base: Repo.shipped, now: now)
        return (store.directory, version.id)
    }

    @Test("each broken file gives its exact diagnostic, and the store is left exactly as it was", arguments: brokenFiles)
    func brokenFile(_ broken: Broken) throws {
        let template = try Self.storeWithOneImport.get()
        let store = freshStore()
        try FileManager.default.copyItem(atPath: template.directory, toPath: store.directory)
        defer { try? FileManager.default.removeItem(atPath: store.directory) }
        #expect(store.currentID() == template.id)
        let state = broken.kind == .waDOR ? "WA" : broken.kind == .caCDTFA ? "CA" : broken.kind == .ilIDOR ? "IL" : "MN"
        var file = Official.file("broken/" + broken.file, broken.kind, state, effectiveFrom: "2026-01-01")
        file.0.name = broken.file
        do {
            _ = try store.importFiles(inputs([file]), base: Repo.shipped, now: Self.now.addingTimeInterval(60))
            Issue.record("the broken file was imported")
        } catch let error as TableLoadError {
            #expect(error.diagnostics.map(\.description).contains(broken.diagnostic), "got: \(error.diagnostics.map(\.description))")
        }
        #expect(store.currentID() == template.id)
        #expect(try store.versions().map(\.id) == [template.id])
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: store.directory).filter { $0.hasPrefix(".tmp") || $0.hasPrefix("CURRENT.tmp") }
        #expect(leftovers.isEmpty)
    }
}
