import Foundation
import Testing
import TaxCore
@testable import TaxTables

/// The optional files (corrections, local taxes, coupons, recurring rules) are checked like the others: every
/// problem with its file, line and column, and nothing loads if one is wrong.
@Suite("Corrections, local taxes and recurring rules")
struct LayerFileTests {
    static let correctionsHeader = "id,state,scope,places,counties,op,level,jurisdiction_code,jurisdiction_name,rate,effective_from,effective_through,source,as_of,confidence,note\n"

    func load(_ files: [String: String], edit: [String: (String) -> String] = [:]) throws -> CanonicalTables.Loaded {
        let directory = try Repo.copyOfMinimalTables()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for (name, text) in files { try text.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8) }
        for (name, change) in edit {
            let path = directory + "/" + name
            try change(String(decoding: Repo.bytes(path), as: UTF8.self)).write(toFile: path, atomically: true, encoding: .utf8)
        }
        return try CanonicalTables.load(directory: directory)
    }

    func diagnostics(_ files: [String: String], edit: [String: (String) -> String] = [:]) -> [String] {
        do {
            _ = try load(files, edit: edit)
            return []
        } catch let error as TableLoadError {
            return error.diagnostics.map(\.description)
        } catch {
            return ["\(error)"]
        }
    }

    @Test func aCorrectionChangesTheRateOnItsDatesOnly() throws {
        let loaded = try load(["local/corrections.csv": Self.correctionsHeader
            + "MN-hennepin-up,MN,county,27053,,set,county,27053,Hennepin County,0.0025,2026-06-01,,fixture,2026-11-30,high,a test change\n"])
        let before = try loaded.tables.locals.resolve(.zip("MN", "55401"), on: TaxDate(iso: "2026-05-31")!)
        let after = try loaded.tables.locals.resolve(.zip("MN", "55401"), on: TaxDate(iso: "2026-06-01")!)
        #expect(before.locals.first { $0.jurisdiction.level == .county }?.intrastate.fractionString == "0.0015")
        #expect(after.locals.first { $0.jurisdiction.level == .county }?.intrastate.fractionString == "0.0025")
        #expect(after.record.contains("corrected by MN-hennepin-up"))
    }

    /// A use tax that differs from the sales tax (Oklahoma's cities, Missouri's counties): `use_rate` on a row, or
    /// op `use` keeping a level's sales rates and giving its use rate.
    @Test func useRatesApartFromSalesRates() throws {
        let header = Self.correctionsHeader.replacingOccurrences(of: ",note\n", with: ",note,use_rate\n")
        let loaded = try load(["local/corrections.csv": header
            + "mpls-city,MN,county,27053,,set,city,L-MPLS,Minneapolis,0.005,2026-01-01,,fixture,2026-11-30,high,,0.002\n"
            + "hennepin-use,MN,county,27053,,use,county,27053,Hennepin County,,2026-06-01,,fixture,2026-11-30,high,no county use tax,0\n"])
        let june = try loaded.tables.locals.resolve(.zip("MN", "55401"), on: TaxDate(iso: "2026-06-01")!)
        let county = try #require(june.locals.first { $0.jurisdiction.level == .county })
        #expect(county.intrastate.fractionString == "0.0015" && county.interstate?.isZero == true, "the sales rate kept, the use rate 0")
        let city = try #require(june.locals.first { $0.jurisdiction.level == .city })
        #expect(city.intrastate.fractionString == "0.005" && city.interstate?.fractionString == "0.002")
        #expect(try loaded.tables.locals.resolve(.zip("MN", "55401"), on: TaxDate(iso: "2026-05-31")!).locals
            .first { $0.jurisdiction.level == .county }?.interstate == nil, "before the row's date")

        // `sales`: a source says the level's use tax is at its sales rates (reviewed: the rate, not a guess, follows
        // them); on a `set` row it is the row's own rate. A low-confidence use row warns only use-taxed lines.
        let reviewed = try load(["local/corrections.csv": header
            + "mpls-city,MN,county,27053,,set,city,L-MPLS,Minneapolis,0.005,2026-01-01,,fixture,2026-11-30,high,,sales\n"
            + "hennepin-use,MN,county,27053,,use,county,27053,Hennepin County,,2026-01-01,,fixture,2026-11-30,low,at the sales rate,sales\n"])
        let location = try reviewed.tables.locals.resolve(.zip("MN", "55401"), on: TaxDate(iso: "2026-06-01")!)
        let followed = try #require(location.locals.first { $0.jurisdiction.level == .county })
        #expect(followed.interstate == followed.intrastate && followed.intrastate.fractionString == "0.0015", "\(followed)")
        #expect(location.locals.first { $0.jurisdiction.level == .city }?.interstate?.fractionString == "0.005")
        #expect(location.useTaxWarnings == ["local rate correction hennepin-use is low confidence: confirm with the state"])
        #expect(!location.warnings.contains { $0.contains("hennepin-use") }, "\(location.warnings)")

        let found = diagnostics(["local/corrections.csv": header
            + "a,MN,county,27053,,use,county,27053,X,0.01,2026-01-01,,fixture,2026-11-30,high,,0\n"
            + "b,MN,county,27053,,use,county,27053,X,,2026-01-01,,fixture,2026-11-30,high,,\n"
            + "c,MN,county,27053,,set,county,27053,X,0.01,2026-01-01,,fixture,2026-11-30,high,,0.15\n"])
        #expect(found.contains("local/corrections.csv:2:10: error: op use keeps the level's sales rates: leave rate blank"), "\(found)")
        #expect(found.contains("local/corrections.csv:3:17: error: op use needs a use_rate (0: no use tax; sales: at the sales rate)"), "\(found)")
        #expect(found.contains("local/corrections.csv:4:17: error: a local rate of 15% is not plausible (at most 10%)"), "\(found)")
    }

    @Test func badCorrectionsAreLocated() {
        let found = diagnostics(["local/corrections.csv": Self.correctionsHeader
            + "a,MN,street,27053,,set,county,27053,X,0.01,2026-01-01,,fixture,2026-11-30,high,\n"
            + "b,MN,county,2705,,set,county,27053,X,0.01,2026-01-01,,fixture,2026-11-30,high,\n"
            + "c,MN,county,27053,,replace,county,27053,X,0.01,2026-01-01,,fixture,2026-11-30,high,\n"
            + "d,MN,county,27053,,set,state,27,X,0.01,2026-01-01,,fixture,2026-11-30,high,\n"
            + "e,MN,county,27053,,set,county,27053,X,0.01,2026-01-01,,nobody,2026-11-30,high,\n"
            + "f,MN,zip,5540,,set,county,27053,X,0.01,2026-01-01,,fixture,2026-11-30,high,\n"])
        #expect(found.contains("local/corrections.csv:2:3: error: scope \"street\" is not one of county, city, zip, place, postal_city, town, state"))
        #expect(found.contains("local/corrections.csv:3:4: error: \"2705\" is not a five-digit county FIPS code"))
        #expect(found.contains("local/corrections.csv:4:6: error: op \"replace\" is not set, add or use"))
        #expect(found.contains("local/corrections.csv:5:7: error: level \"state\" is not county, city or special"))
        #expect(found.contains("local/corrections.csv:6:13: error: source \"nobody\" is not listed in sources.csv"))
        #expect(found.contains("local/corrections.csv:7:4: error: \"5540\" is not a ZIP5"))
    }

    /// A town the ZIP5 table names for none of its ZIPs (it shares a neighbour's) is scoped by the address's city
    /// within its counties: an address naming it, however spelled, gets the town's rates with a warning; the ZIP's
    /// other addresses keep the table's.
    @Test func aTownTheTableDoesNotNameIsFoundByTheAddressCity() throws {
        let loaded = try load(["local/corrections.csv": Self.correctionsHeader
            + "mn-town,MN,town,Golden Valley,27053,set,city,L-MN-CITY-GOLDEN-VALLEY,Golden Valley,0.001,2026-03-01,,fixture,2026-12-05,medium,a town\n"])
        func city(_ name: String, on date: String) throws -> (rate: String?, warnings: [String]) {
            let address = Address(line1: "1 Test St", city: name, state: StateCode("MN")!, zip: ZipCode("55401")!)
            let location = try loaded.tables.locals.resolve(address, on: TaxDate(iso: date)!)
            return (location.locals.first { $0.jurisdiction.level == .city }?.intrastate.fractionString, location.warnings)
        }
        let town = try city("GOLDEN VALLEY.", on: "2026-03-01")
        #expect(town.rate == "0.001")
        #expect(town.warnings.contains { $0.hasPrefix("zip_straddles_jurisdictions: the address's city GOLDEN VALLEY. is a town") && $0.contains("(mn-town)") })
        #expect(try city("Golden Valley", on: "2026-02-28").rate == "0.005")
        #expect(try city("Minneapolis", on: "2026-03-01").rate == "0.005")
        #expect(try city("", on: "2026-03-01").rate == "0.005")
        #expect(try city("Golden", on: "2026-03-01").warnings.allSatisfy { !$0.contains("is a town") })
    }

    @Test func townScopesAreCheckedAgainstTheTable() {
        let found = diagnostics(["local/corrections.csv": Self.correctionsHeader
            + "a,MN,town,Minneapolis,27053,set,city,L-MN-CITY-X,X,0.01,2026-01-01,,fixture,2026-11-30,high,\n"
            + "c,MN,town,Golden Valley,27123,set,city,L-MN-CITY-X,X,0.01,2026-01-01,,fixture,2026-11-30,high,\n"])
        #expect(found.contains("local/corrections.csv:2:4: error: MINNEAPOLIS is a place of the ZIP5 table in county 27053: scope it as a city"))
        #expect(found.contains("local/corrections.csv:3:5: error: county 27123 has no ZIP of MN in local/zip5.csv"))
        #expect(found.count == 2)
        let unplaced = diagnostics(["local/corrections.csv": Self.correctionsHeader
            + "b,MN,town,Golden Valley,,set,city,L-MN-CITY-X,X,0.01,2026-01-01,,fixture,2026-11-30,high,\n"])
        #expect(unplaced == ["local/corrections.csv:2:5: error: a town scope needs its counties as five-digit FIPS codes"])
    }

    /// A later edition of the ZIP5 table vouches for the records it did not change: they cite it after their own
    /// source and are stale only after its date; a ZIP it changed, or a state it does not cover, keeps the table's own.
    @Test func laterEditionsConfirmOnlyTheRecordsTheyDidNotChange() throws {
        let sources = "id,title,publisher,url,retrieved,note,verified_through\n"
            + "fixture,Synthetic fixture data,Levy tests,,2026-11,Not real rates,2026-01-31\n"
            + "edition,A later edition,Levy tests,,2026-11,,2026-04-30\n"
            + "later,An edition after it,Levy tests,,2026-11,,2026-06-30\n"
            + "undated,An edition without a date,Levy tests,,2026-11,,\n"
        let header = "state,source,changed_zips,note\n"
        // The June edition is listed first and shows 53703 as in the table again: editions vouch in date order and
        // stop at the first that changed a ZIP, so 53703 keeps the table's own date.
        let loaded = try load(["sources.csv": sources, CanonicalTables.zip5WitnessesFile: header + "WI,later,,\nWI,edition,53703,\n"])
        let day = TaxDate(iso: "2026-03-01")!
        #expect(try loaded.tables.locals.resolve(.zip("WI", "54540"), on: day).sources == ["fixture;edition;later"])
        #expect(try loaded.tables.locals.resolve(.zip("WI", "53703"), on: day).sources == ["fixture"])
        #expect(try loaded.tables.locals.resolve(.zip("MN", "55401"), on: day).sources.allSatisfy { !$0.contains("edition") })
        #expect(loaded.tables.staleWarnings["fixture;edition;later"]?.through == TaxDate(iso: "2026-06-30"))

        let found = diagnostics(["sources.csv": sources, CanonicalTables.zip5WitnessesFile: header
            + "WI,nobody,,\n"
            + "WI,undated,,\n"
            + "WI,edition,5370,\n"
            + "MN,edition,53703,\n"
            + "WI,edition,,\n"
            + "XX,edition,,\n"])
        let file = CanonicalTables.zip5WitnessesFile
        #expect(found.contains("\(file):2:2: error: source \"nobody\" is not listed in sources.csv"))
        #expect(found.contains("\(file):3:2: error: source \"undated\" has no verified_through date: an edition confirms records only as of a date"))
        #expect(found.contains("\(file):4:3: error: changed_zips: \"5370\" is not a ZIP5"))
        #expect(found.contains("\(file):5:3: error: changed_zips: 53703 is not a ZIP of MN in local/zip5.csv"))
        #expect(found.contains("\(file):6:2: error: WI and edition are listed twice"))
        #expect(found.contains("\(file):7:1: error: state XX is not in states.csv"))
    }

    @Test func rulesNameOnlyJurisdictionsThatExist() {
        let header = "id,state,kind,codes,levels,counties,amount,upper,rate,jurisdiction_code,jurisdiction_name,effective_from,effective_through,source,as_of,note\n"
        let found = diagnostics(["rules.csv": header
            + "town,MN,cap_per_sale,general,city,,500.00,,,L-MN-CITY-MINNEAPOLIS,,2020-01-01,,fixture,2026-11-01,\n"
            + "typo,MN,cap_per_sale,general,city,,500.00,,,L-MN-CITY-MINNEAPOLLIS,,2020-01-01,,fixture,2026-11-01,\n"
            + "named,MN,cap_per_article,general,city,,500.00,,,L-MN-CITY-MINNEAPOLIS,Minneapolis,2020-01-01,,fixture,2026-11-01,\n"])
        #expect(!found.contains { $0.hasPrefix("rules.csv:2:") }, "Minneapolis is a city of the fixture's ZIP5 table")
        #expect(found.contains("rules.csv:3:10: error: jurisdiction_code \"L-MN-CITY-MINNEAPOLLIS\" is not a local jurisdiction of MN in local/zip5.csv or local/corrections.csv"))
        #expect(found.contains("rules.csv:4:11: error: jurisdiction_name is only for the jurisdiction a band or surtax adds; a cap_per_article rule names the jurisdictions it limits by jurisdiction_code"))
    }

    /// A rule's counties must be its state's (another state's county, or an unknown code, applied nowhere), and a code
    /// a band adds names one jurisdiction with one rate on a product and day (probe #18).
    @Test func rulesNameTheirCountiesAndBandsOnce() {
        let header = "id,state,kind,codes,levels,counties,amount,upper,rate,jurisdiction_code,jurisdiction_name,effective_from,effective_through,source,as_of,note\n"
        let found = diagnostics(["rules.csv": header
            + "here,MN,cap_per_sale,general,county,27053,500.00,,,,,2020-01-01,,fixture,2026-11-01,\n"
            + "there,MN,cap_per_sale,general,county,55025;99999,500.00,,,,,2020-01-01,,fixture,2026-11-01,\n"
            + "band,MN,band_per_article,general,state,,1600.01,3200.00,0.0275,47-SA,Single article tax,2020-01-01,,fixture,2026-11-01,\n"
            + "later,MN,band_per_article,general,state,,1600.01,3200.00,0.03,47-SA,Single article tax,2021-01-01,,fixture,2026-11-01,\n"
            + "evil,MN,band_per_article,general,state,,100.00,200.00,0.01,47-SA,Evil band,2020-01-01,2020-06-30,fixture,2026-11-01,\n"
            + "next,MN,band_per_article,clothing,state,,1600.01,3200.00,0.03,47-SA,Single article tax,2021-01-01,,fixture,2026-11-01,\n"])
        #expect(!found.contains { $0.hasPrefix("rules.csv:2:") }, "\(found)")
        #expect(found.contains("rules.csv:3:6: error: county 55025 has no ZIP of MN in local/zip5.csv"))
        #expect(found.contains("rules.csv:3:6: error: county 99999 has no ZIP of MN in local/zip5.csv"))
        #expect(found.contains("rules.csv:5:10: error: jurisdiction_code 47-SA already adds a tax to these codes on line 4 in an overlapping period"))
        #expect(found.contains("rules.csv:6:10: error: jurisdiction_code 47-SA is \"Single article tax\" on line 4: one code names one jurisdiction"))
        #expect(!found.contains { $0.hasPrefix("rules.csv:7:") }, "another product's band under the same code and name")
    }

    /// One over-long field makes sources.csv unreadable: its error is said, not buried under every other file's
    /// citation (probe #18: 1,894 errors).
    @Test func anUnreadableSourcesFileIsOneError() {
        let correction = "c,MN,county,27053,,set,county,27053,Hennepin County,0.0025,2026-06-01,,fixture,2026-11-30,high,\n"
        let found = diagnostics(["local/corrections.csv": Self.correctionsHeader + correction],
                                edit: ["sources.csv": { $0 + "long,\(String(repeating: "x", count: 70_000)),p,u,2026-01-01,n\n" }])
        #expect(found.contains { $0.hasPrefix("sources.csv:") && $0.contains("a field longer than 65536 bytes") }, "\(found.prefix(3))")
        #expect(!found.contains { $0.hasSuffix("is not listed in sources.csv") })
        #expect(found.contains { $0.hasSuffix("citation(s) in other files were not checked, as sources.csv could not be read") })
        #expect(found.count <= 3, "\(found)")
    }

    @Test func recurringRulesAreCheckedEveryYear() {
        let header = "id,state,kind,codes,levels,counties,amount,upper,rate,jurisdiction_code,jurisdiction_name,effective_from,effective_through,recurrence,first_day,last_day,source,as_of,note\n"
        let bad = diagnostics(["rules.csv": header
            + "h1,MN,holiday,clothing,state,,100.00,,,,,2025-01-01,,weekly,08-01,08-31,fixture,2026-11-30,\n"
            + "h2,MN,holiday,clothing,state,,100.00,,,,,2025-01-01,,yearly,9-fri-08,08-31,fixture,2026-11-30,\n"
            + "h3,MN,holiday,clothing,state,,100.00,,,,,2025-01-01,2027-12-31,yearly,08-31,08-01,fixture,2026-11-30,\n"
            // Offsets past Int's range, days past 9999-12-31, and periods outside the years the check once covered
            // (2000-2100) made `levy tables validate` and `levy serve` trap.
            + "h4,MN,holiday,clothing,state,,100.00,,,,,2025-01-01,,yearly,1-fri-08,1-fri-08+9223372036854775807d,fixture,2026-11-30,\n"
            + "h5,MN,holiday,clothing,state,,100.00,,,,,9999-12-31,,yearly,12-31,12-31+1d,fixture,2026-11-30,\n"
            + "h6,MN,holiday,clothing,state,,100.00,,,,,2101-01-01,,yearly,1-fri-08,1-fri-08+2d,fixture,2026-11-30,\n"
            + "h7,MN,holiday,clothing,state,,100.00,,,,,1990-01-01,1995-12-31,yearly,1-fri-08,1-fri-08+2d,fixture,2026-11-30,\n"
            + "h8,MN,holiday,clothing,state,,100.00,,,,,2025-01-01,,yearly,5-fri-02,5-fri-02,fixture,2026-11-30,\n"])
        #expect(bad.contains("rules.csv:2:14: error: recurrence \"weekly\" is not yearly (or blank)"))
        #expect(bad.contains("rules.csv:3:15: error: first_day \"9-fri-08\" is not MM-DD, N-ddd-MM or last-ddd-MM (optionally +Nd or -Nd, N at most 366)"))
        #expect(bad.contains("rules.csv:4:15: error: in 2025 the first day 08-31 does not come before the last day 08-01"))
        #expect(bad.contains("rules.csv:5:16: error: last_day \"1-fri-08+9223372036854775807d\" is not MM-DD, N-ddd-MM or last-ddd-MM (optionally +Nd or -Nd, N at most 366)"))
        #expect(bad.contains("rules.csv:6:15: error: in 9999 the first day 12-31 or the last day 12-31+1d falls on no date (a fifth weekday the month lacks, or past 9999-12-31)"))
        #expect(bad.contains("rules.csv:9:15: error: in 2025 the first day 5-fri-02 or the last day 5-fri-02 falls on no date (a fifth weekday the month lacks, or past 9999-12-31)"))
        #expect(!bad.contains { $0.hasPrefix("rules.csv:7:") || $0.hasPrefix("rules.csv:8:") }, "rows after 2100 and before 2000 are valid")
        #expect(TaxDate(iso: "9999-12-31")?.adding(days: 1) == nil && TaxDate(iso: "0001-01-01")?.adding(days: -1) == nil)
        #expect(TaxDate(iso: "2026-12-03")?.adding(days: Int.max) == nil && TaxDate(iso: "2026-12-03")?.adding(days: Int.min) == nil)
        #expect(TaxDate(dayNumber: Int.max) == nil && TaxDate(dayNumber: Int.min) == nil)
    }

    @Test func aRecurringHolidayAppliesEachYear() throws {
        let header = "id,state,kind,codes,levels,counties,amount,upper,rate,jurisdiction_code,jurisdiction_name,effective_from,effective_through,recurrence,first_day,last_day,source,as_of,note\n"
        let loaded = try load(["rules.csv": header + "h,MN,holiday,clothing,state;county;city;special,,100.00,,,,,2025-01-01,,yearly,2-fri-08,2-fri-08+2d,fixture,2026-11-30,\n"])
        let rule = try #require(loaded.tables.rules(in: StateCode("MN")!).first)
        #expect(rule.schedule.contains(TaxDate(iso: "2030-08-09")!))
        #expect(rule.schedule.contains(TaxDate(iso: "2030-08-11")!))
        #expect(!rule.schedule.contains(TaxDate(iso: "2030-08-12")!))
        #expect(rule.schedule.window(in: 2027).map { "\($0.first)..\($0.last)" } == "2027-08-13..2027-08-15")
        // A window across New Year keeps its January days (probe #18), and the rules table is bounded.
        let winter = try load(["rules.csv": header + "w,MN,holiday,clothing,state;county;city;special,,100.00,,,,,2025-01-01,,yearly,12-30,12-30+5d,fixture,2026-11-30,\n"])
        let schedule = try #require(winter.tables.rules(in: StateCode("MN")!).first).schedule
        #expect(["2026-12-30", "2027-01-01", "2027-01-04"].allSatisfy { schedule.contains(TaxDate(iso: $0)!) })
        #expect(!schedule.contains(TaxDate(iso: "2027-01-05")!) && !schedule.contains(TaxDate(iso: "2026-12-29")!))
        let many = (0...CanonicalTables.maximumRules).map { "r\($0),MN,holiday,clothing,state,,100.00,,,,,2025-01-01,,,,,fixture,2026-11-30,\n" }.joined()
        #expect(diagnostics(["rules.csv": header + many]).contains("rules.csv:\(CanonicalTables.maximumRules + 2): error: more than 5000 rules: a table holds at most 5000"))
    }

    /// A holiday may count delivery in its limit (Texas); only a holiday, and only Y or N.
    @Test func aHolidaysDeliveryFlagIsChecked() throws {
        let header = "id,state,kind,codes,levels,counties,amount,upper,rate,jurisdiction_code,jurisdiction_name,effective_from,effective_through,source,as_of,note,price_includes_delivery\n"
        let found = diagnostics(["rules.csv": header
            + "cap,MN,cap_per_article,clothing,state,,100.00,,,,,2025-01-01,,fixture,2026-11-30,,Y\n"
            + "h,MN,holiday,clothing,state,,100.00,,,,,2025-01-01,,fixture,2026-11-30,,yes\n"])
        #expect(found == ["rules.csv:2:17: error: price_includes_delivery is only for a holiday's price limit, not a cap_per_article rule",
                          "rules.csv:3:17: error: price_includes_delivery \"yes\" is not Y, N or blank"], "\(found)")
        let loaded = try load(["rules.csv": header + "h,MN,holiday,clothing,state,,100.00,,,,,2025-01-01,,fixture,2026-11-30,,Y\n"])
        #expect(try #require(loaded.tables.rules(in: StateCode("MN")!).first).priceIncludesDelivery)
    }

    static let regionalHeader = "id,state,counties,jurisdiction_code,jurisdiction_name,rate,effective_from,effective_through,source,as_of,confidence,note\n"

    @Test("local/regional-districts.csv: counties of the state, two or more, one name per code, with their line and column")
    func regionalDistrictsAreChecked() throws {
        let found = diagnostics(["local/regional-districts.csv": Self.regionalHeader
            + "a,MN,27053;55025,R-1,Two states,0.005,2025-01-01,,fixture,2026-11-30,high,\n"
            + "b,MN,27053,R-2,One county,0.005,2025-01-01,,fixture,2026-11-30,high,\n"
            + "c,MN,27053;27123,R-3,Metro,0.005,2025-01-01,,fixture,2026-11-30,high,\n"
            + "d,MN,27053;27037,R-3,Another name,0.005,2025-01-01,,fixture,2026-11-30,high,\n"
            + "e,MN,27053;27037,R-4,Unsourced,0.005,2025-01-01,,nosuch,2026-11-30,high,\n"])
        #expect(found.contains("local/regional-districts.csv:2:3: error: county \"55025\" is not a five-digit FIPS code of MN"))
        #expect(found.contains("local/regional-districts.csv:3:3: error: a regional district spans two counties or more; a county's own district is in the place files"))
        #expect(found.contains("local/regional-districts.csv:5:4: error: jurisdiction_code R-3 is \"Metro\" on another line: one code names one district"))
        #expect(found.contains("local/regional-districts.csv:6:9: error: source \"nosuch\" is not listed in sources.csv"))
        #expect(found.count == 4, "\(found)")
        let loaded = try load(["local/regional-districts.csv": Self.regionalHeader + "c,MN,27053;27123,R-3,Metro,0.005,2025-01-01,,fixture,2026-11-30,high,\n"])
        let district = try #require(loaded.tables.regionalDistricts[StateCode("MN")!]?.first)
        let rate = try Rate.parse(fraction: "0.005")
        #expect(district.counties == ["27053", "27123"] && district.jurisdiction.level == .special && district.rate == rate)
    }

    @Test func localTaxesAndCouponsAreChecked() {
        let found = diagnostics([
            "local/local-taxes.csv": "id,state,scope,places,counties,jurisdiction_code,jurisdiction_name,level,rate,codes,replaces_levels,effective_from,effective_through,source,as_of,confidence,note\n"
                + "x,MN,city,Minneapolis,,M,Minneapolis amusement,city,0.03,widgets,,2025-01-01,,fixture,2026-11-30,high,\n",
            "coupons.csv": "state,third_party_reduces_base,source,as_of,confidence,note\nMN,maybe,fixture,2026-11-30,high,\n",
        ])
        #expect(found.contains { $0.hasPrefix("local/local-taxes.csv:2:10: error:") })
        #expect(found.contains("coupons.csv:2:2: error: third_party_reduces_base is Y or N"))
    }

    @Test("a tax with its own base under the code of a general local jurisdiction (a county's FIPS) is refused with its line")
    func ownBaseCodesAreTheirOwn() throws {
        let header = "id,state,scope,places,counties,jurisdiction_code,jurisdiction_name,level,rate,codes,replaces_levels,effective_from,effective_through,source,as_of,confidence,note\n"
        let found = diagnostics(["local/local-taxes.csv": header
            + "ok,MN,city,Minneapolis,,L-MN-CITY-MINNEAPOLIS-AMUSEMENT,Minneapolis amusement,city,0.03,admission,,2025-01-01,,fixture,2026-11-30,high,\n"
            + "clash,MN,county,27053,,27053,Hennepin County amusement,county,0.03,admission,,2025-01-01,,fixture,2026-11-30,high,\n"])
        #expect(found == ["local/local-taxes.csv:3:6: error: jurisdiction_code \"27053\" is the code of a general local jurisdiction of MN (local/zip5.csv or local/corrections.csv): a tax with its own base needs a code of its own"])
    }

    static let electionsHeader = "state,type,rate,replaces,level,jurisdiction_code,jurisdiction_name,effective_from,effective_through,source,as_of,confidence,note\n"

    @Test("elections.csv: each program's word, rate, levels, dates and source are checked with their line and column")
    func electionsAreChecked() throws {
        let found = diagnostics(["elections.csv": Self.electionsHeader
            + "MN,flat,0.05,state;county;city;special,county,27-X,Flat,2025-01-01,,fixture,2026-11-30,high,\n"
            + "MN,Bad Type,0.05,county,county,27-X,Flat,2025-01-01,,fixture,2026-11-30,high,\n"
            + "MN,flat_local,0,county,county,27-X,Flat,2025-01-01,,fixture,2026-11-30,high,\n"
            + "MN,flat_local,0.01,county;city,special,27-L,Flat local,2025-01-01,,fixture,2026-11-30,high,\n"
            + "MN,flat_local,0.01,county;city,special,27-L,Flat local,2025-06-01,,fixture,2026-11-30,high,\n"
            + "MN,flat_other,0.01,county,town,27-L,Flat local,2025-01-01,,fixture,2026-11-30,high,\n"
            + "MN,flat_other,0.01,county,county,27-L,Flat local,2025-01-01,,nosuch,2026-11-30,high,\n"])
        #expect(found.contains { $0.hasPrefix("elections.csv:2:5: error: level county does not fit replaces") })
        #expect(found.contains("elections.csv:3:2: error: type \"Bad Type\" is not 1 to 40 lower-case letters, digits or underscores"))
        #expect(found.contains { $0.hasPrefix("elections.csv:4:3: error: a program rate of") })
        #expect(found.contains { $0.hasPrefix("elections.csv:6:8: error: MN flat_local period") && $0.hasSuffix("overlaps line 5") })
        #expect(found.contains("elections.csv:7:5: error: level \"town\" is not one of state, county, city, special"))
        #expect(found.contains("elections.csv:8:10: error: source \"nosuch\" is not listed in sources.csv"))
        #expect(found.count == 6, "\(found)")

        let loaded = try load(["elections.csv": Self.electionsHeader
            + "MN,flat_local,0.01,county;city,special,27-L,Flat local,2025-01-01,2025-12-31,fixture,2026-11-30,high,\n"])
        let program = try #require(loaded.tables.remoteSellerProgram(StateCode("MN")!, "flat_local", on: TaxDate(iso: "2025-06-01")!))
        #expect(program.replaces == [.county, .city] && program.jurisdiction.level == .special && program.id == "MN-flat_local")
        #expect(loaded.tables.remoteSellerProgram(StateCode("MN")!, "flat_local", on: TaxDate(iso: "2026-01-01")!) == nil)
    }

    @Test func bracketSchedulesAreChecked() {
        let header = "state,levels,rate,part,from_cents,through_cents,tax_cents,effective_from,effective_through,source,as_of,confidence,note\n"
        let found = diagnostics(["brackets.csv": header
            + "MN,state,0.06875,both,0,10,0,2025-01-01,,fixture,2026-11-30,high,\n"
            + "MN,state,0.06,fraction,11,17,1,2025-01-01,,fixture,2026-11-30,high,\n"
            + "MN,state,0.06,fraction,15,20,1,2025-01-01,,fixture,2026-11-30,high,\n"
            + "MN,state,0.06,fraction,30,20,2,2025-01-01,,fixture,2026-11-30,high,\n"
            + "MN,state,0.06,half,21,30,2,2025-01-01,,fixture,2026-11-30,high,\n"
            + "MN,state,0.06,fraction,40,140,2,2025-01-01,,fixture,2026-11-30,high,\n"
            + "MN,state,0.06,fraction,50,60,3,2025-06-01,,fixture,2026-11-30,high,\n"])
        #expect(found.contains("brackets.csv:2:3: error: rate 0.06875 is not a whole number of cents on each dollar"))
        #expect(found.contains("brackets.csv:4:5: error: cents 15-20 overlap the bracket 11-17 of the same schedule"))
        #expect(found.contains("brackets.csv:5:6: error: through_cents 20 is below from_cents 30"))
        #expect(found.contains("brackets.csv:6:4: error: part \"half\" is not one of under_dollar, fraction, both"))
        #expect(found.contains("brackets.csv:7:6: error: through_cents \"140\" is not a number of cents from 0 to 99"))
        #expect(found.contains("brackets.csv:8:8: error: MN state 6% schedule dated 2025-06-01 onward overlaps the one of line 3"))
    }
}
