import Testing
import TaxCore
@testable import TaxTables

/// How an address reaches a place of Washington's and California's official rate files. Expected rates are read
/// from those files (`TaxTables/official/`); ZIPs and postal cities from the Census ZIP/county crosswalk.
/// A shipped order of one general line from and to the ZIP (an address without a street).
func quoteAt(_ tables: TaxTableSet, _ state: String, _ zip: String, city: String = "", on date: String, minorUnits: Int64,
             engagement: SellerEngagement = .originOnly) throws -> Quote {
    let address = Address(line1: "", city: city, state: StateCode(state)!, zip: ZipCode(zip)!)
    return try TaxCalculator(tables: tables).quote(QuoteRequest(
        date: TaxDate(iso: date)!, origin: address, destination: address,
        lines: [QuoteLine(id: "1", code: .general, amount: Money(minorUnits: minorUnits), fulfilment: .shipped)], engagement: engagement))
}

@Suite("ZIP to place in the WA DOR and CA CDTFA files")
struct PlaceMatchingTests {
    let tables = Repo.shipped.tables

    func quote(_ state: String, _ zip: String, city: String = "", on date: String) throws -> Quote {
        try quoteAt(tables, state, zip, city: city, on: date, minorUnits: 100_000, engagement: .everywhere)
    }

    /// The ZIP5 table names 99352 (Richland) KENNEWICK; the postal city decides: RICHLAND,304 at 8.7% in 2025 Q2
    /// (Kennewick is 8.8%).
    @Test func thePostalCityComesBeforeTheZip5Region() throws {
        let q = try quote("WA", "99352", on: "2025-05-15")
        #expect(q.totalTax.decimalString == "87.00")
        #expect(q.lines[0].sourcing.record.contains("WA DOR location 304 RICHLAND"))
        #expect(q.lines[0].sourcing.record.contains("matched by the postal city"))
        #expect(q.warnings.contains { $0.contains("zip_straddles_jurisdictions: ZIP 99352 is RICHLAND by the postal city and KENNEWICK") })
    }

    /// The ZIP5 table puts 98382 (Sequim, Clallam County) in JEFFERSON; a place outside the ZIP's county is never
    /// taken: SEQUIM,503 at 8.9%.
    @Test func aPlaceInAnotherCountyIsRefused() throws {
        let q = try quote("WA", "98382", on: "2025-05-15")
        #expect(q.totalTax.decimalString == "89.00")
        #expect(q.lines[0].sourcing.record.contains("SEQUIM"))
    }

    /// A city across the county line that the address, the postal city and the ZIP5 region all name is taken:
    /// 91361 is Westlake Village (Los Angeles County, 9.75% in the CDTFA file) though the crosswalk puts it in Ventura
    /// County; "Thousand Oaks" or no city keeps Ventura County's 7.25%.
    @Test func aCityAcrossTheCountyLineThatTheZipsNamesAgreeOn() throws {
        let westlake = try quote("CA", "91361", city: "Westlake Village", on: "2026-03-15")
        #expect(westlake.totalTax.decimalString == "97.50")
        #expect(westlake.warnings.contains { $0.contains("a city of Los Angeles County, while the Census crosswalk puts the ZIP in Ventura County") })
        #expect(try quote("CA", "91361", city: "Thousand Oaks", on: "2026-03-15").totalTax.decimalString == "72.50")
        #expect(try quote("CA", "91361", on: "2026-03-15").totalTax.decimalString == "72.50")
    }

    /// The address's city comes first: 99216's postal city is Spokane (SPOKANE CITY,3210, 9.1% in 2025 Q2) while
    /// most of it is Spokane Valley (SPOKANE VALLEY,3213, 8.9%).
    @Test func theAddressCityDecides() throws {
        #expect(try quote("WA", "99216", city: "Spokane Valley", on: "2025-05-15").totalTax.decimalString == "89.00")
        #expect(try quote("WA", "99216", city: " spokane   valley ", on: "2025-05-15").totalTax.decimalString == "89.00")
        let postal = try quote("WA", "99216", on: "2025-05-15")
        #expect(postal.totalTax.decimalString == "91.00")
        #expect(postal.warnings.contains { $0.contains("zip_straddles_jurisdictions") })
        // A city of another county is not taken from the address either.
        #expect(try quote("WA", "99216", city: "Seattle", on: "2025-05-15").totalTax.decimalString == "91.00")
    }

    /// Washington renamed WALLA WALLA CITY to WALLA WALLA on 2025-07-01 under the same code 3604: the place keeps its
    /// history (8.9% in 2024 Q4, which was refused as "not covered" while places were keyed by name).
    @Test func aRenamedLocationKeepsItsHistory() throws {
        #expect(try quote("WA", "99362", on: "2024-11-15").totalTax.decimalString == "89.00")
        #expect(try quote("WA", "99362", on: "2025-08-15").totalTax.decimalString == "89.00")
    }

    /// Places inside the Sound Transit district are "BELLEVUE RTA", cities in two counties "AUBURN/KING RTA".
    @Test func washingtonPlaceNamesWithTheirDistricts() throws {
        let bellevue = try quote("WA", "98006", city: "Bellevue", on: "2025-05-15")
        #expect(bellevue.totalTax.decimalString == "102.00")
        #expect(bellevue.lines[0].sourcing.record.contains("1704 BELLEVUE RTA"))
        let auburn = try quote("WA", "98001", city: "Auburn", on: "2025-05-15")
        #expect(auburn.totalTax.decimalString == "103.00")
        #expect(auburn.lines[0].sourcing.record.contains("1702 AUBURN/KING RTA"))
    }

    /// California: the ZIP5 table names 90025 (Los Angeles) SANTA MONICA (10.75%); Los Angeles is 9.75% in the
    /// 2026 CDTFA file. Altadena is no city: Los Angeles County's unincorporated rate (9.75%), not Pasadena's
    /// (10.5%) that the ZIP5 table estimates. "La Canada Flintridge" is the file's "La Cañada Flintridge" (10.5%).
    @Test func californiaPlaces() throws {
        let la = try quote("CA", "90025", on: "2026-02-01")
        #expect(la.totalTax.decimalString == "97.50")
        #expect(la.lines[0].sourcing.record.contains("CDTFA city rate Los Angeles"))
        let altadena = try quote("CA", "91001", on: "2026-02-01")
        #expect(altadena.totalTax.decimalString == "97.50")
        #expect(altadena.lines[0].sourcing.record.contains("CDTFA county rate Los Angeles County"))
        #expect(try quote("CA", "91011", city: "La Canada Flintridge", on: "2026-02-01").totalTax.decimalString == "105.00")
        #expect(try quote("CA", "90255", on: "2026-02-01").totalTax.decimalString == "105.00")  // Huntington Park
    }

    /// A place's name however the address spells it: CDTFA's "St. Helena" (8.25%) is also "St Helena" and "Saint
    /// Helena" (the Census postal city of 94574), which fell to Napa County's unincorporated 7.75%; WA's "SEATAC"
    /// (1733, 10.4% in 2026 Q1) is also "Sea Tac", which fell to the postal city Seattle's 10.55%.
    @Test func aPlaceNameHoweverItIsSpelled() throws {
        for city in ["St. Helena", "St Helena", "Saint Helena", "ST HELENA", ""] {
            #expect(try quote("CA", "94574", city: city, on: "2026-02-01").totalTax.decimalString == "82.50")
        }
        for city in ["SeaTac", "Sea Tac", "Sea-Tac"] {
            #expect(try quote("WA", "98188", city: city, on: "2026-02-01").totalTax.decimalString == "104.00")
        }
    }
}

/// ZIP5 rows whose tax region is a place of another county than the ZIP's (by the Census ZIP/county crosswalk)
/// take the rates of the ZIP's own county.
@Suite("ZIP5 regions of another county")
struct CrossCountyRegionTests {
    let tables = Repo.shipped.tables

    func quote(_ state: String, _ zip: String, on date: String = "2026-03-15") throws -> Quote {
        try quoteAt(tables, state, zip, on: date, minorUnits: 10_000)
    }

    /// A region named after another county's district: 30108 (Bowdon, Carroll County) is the ZIP5 table's "HARALSON
    /// CO TSPLOST TR" at 4% local; Georgia's SST rate file GAR2026Q2FEB19 gives Carroll County (13,00,045) 3%, and
    /// Gwinnett (13,00,135) 2% for 30039 (Snellville), which the table calls "DEKALB CO TSPLOST SP".
    @Test func aDistrictOfAnotherCounty() throws {
        #expect(try quote("GA", "30108").totalTax.decimalString == "7.00")
        #expect(try quote("GA", "30039").totalTax.decimalString == "6.00")
    }

    /// An Illinois business district ("BD") covers a few blocks: 61602 (Peoria), the table's "PEORIA HOSP IMP ZON BD
    /// SP" with 1% more, is quoted as Peoria's 61604 (9.00%); a district is never quoted above its own rates.
    @Test func anIllinoisBusinessDistrictIsADistrict() throws {
        #expect(try quote("IL", "61602").totalTax.decimalString == "9.00")
        #expect(try quote("IL", "61604").totalTax.decimalString == "9.00")
    }

    /// In any state, a ZIP without a city rate whose region is another county's district takes its county's rates
    /// outside cities: 56175 (Tracy, Lyon County, Minnesota) is the table's "REDWOOD CO TR" (Redwood County's 0.5%
    /// transit tax); Minnesota's SST rate file MNR2026Q2FEB18 has no tax for Lyon County (no 27,00,083 row).
    @Test func anotherCountysTransitTax() throws {
        #expect(try quote("MN", "56175").totalTax.decimalString == "6.88")
    }

    /// A West Virginia economic opportunity development district covers a few parcels and its excise tax stands in
    /// for the state's 6% there (W. Va. Code 7-22-12: rate and base identical to the state's); the table adds it to
    /// all of 26501, whose postal city is Morgantown: quoted with Morgantown's rates (its 1% municipal tax, as the
    /// table's other Morgantown ZIPs), not the county's most common ones (Star City's, without a city tax).
    @Test func anEconomicOpportunityDistrictIsADistrict() throws {
        let q = try quote("WV", "26501")
        #expect(q.totalTax.decimalString == "7.00")
        #expect(q.warnings.contains { $0.contains("is a district that covers only part of the ZIP") })
    }

    /// Missouri's transportation development districts: the table writes "TDD TL" or "TD TL", and "TL" alone after
    /// a district's name ("KANSAS CITY 1200 MAIN TL", downtown's Power & Light district on 64105). Such a ZIP takes
    /// its city's most common rates: Kansas City's (the table's 9.975%, as 64102; corrected to the city's 8.975% outside
    /// districts, MO-kansas-city-jackson-outside-districts, for every Kansas City ZIP); "SAINT JOSEPH GATEWAY TL" (64501) is the city
    /// the table also spells "ST. JOSEPH" (9.70%, as 64504); "SAINT LOUIS UNION STATION TDD TL" (63103) is the City of
    /// St. Louis (4.225% + 5.454%). A district in a city the table names nowhere else keeps its city's tax.
    @Test func missouriTransportationDevelopmentDistricts() throws {
        let kansasCity = try quote("MO", "64105")
        #expect(kansasCity.totalTax.decimalString == "8.98")
        #expect(kansasCity.warnings.contains { $0.contains("is a district that covers only part of the ZIP") })
        #expect(try quote("MO", "64501").totalTax.decimalString == "9.70")
        #expect(try quote("MO", "63103").totalTax.decimalString == "9.68")
        // The only St. Clair ZIP ("ST CLAIR I 44 HWY 47 TL", 10.475%): Franklin County's most common rates are outside
        // cities, so the county's 2.25% and the city's 2% stay with the county's usual 1% of special districts (9.475%).
        let stClair = try quote("MO", "63077")
        #expect(stClair.totalTax.decimalString == "9.48")
        #expect(stClair.warnings.contains { $0.contains("its county and city rates were used with the special districts most common in its county") })
        // A district region with exactly its city's rates ("KANSAS CITY INDEPENDENCE AVENUE COMMUNITY IMPROVEMENT
        // DISTRICT SP" on 64123): the rates are Kansas City's, and so are their names; no warning, the table's total
        // (9.975%; 8.975% after the Kansas City correction).
        let avenue = try quote("MO", "64123")
        #expect(avenue.totalTax.decimalString == "8.98")
        #expect(avenue.lines[0].jurisdictions.contains { $0.jurisdiction.name == "Kansas City" })
        #expect(!avenue.lines[0].jurisdictions.contains { $0.jurisdiction.name.contains("Independence Avenue") })
        #expect(!avenue.warnings.contains { $0.contains("zip_straddles_jurisdictions") })
        #expect(!avenue.warnings.contains { $0.hasSuffix(": ") || $0.isEmpty })
        // A community improvement district the table writes "COMM SP": "KEARNEY WEST SIDE COMM SP" (9.975%) on 64060,
        // Kearney's own ZIP, is quoted with Kearney's rates on its other ZIP 64048 (state 4.225, Clay County 1.125,
        // Kearney 3, districts 0.625: 8.975%). "CTR SP" is not a district word: Alabama's "SPANISH FORT TOWN CTR SP"
        // (36527) is the town's own tax and keeps the table's 10.95%.
        let kearney = try quote("MO", "64060")
        #expect(kearney.totalTax.decimalString == "8.98")
        #expect(kearney.warnings.contains { $0.contains("is a district that covers only part of the ZIP") })
        #expect(try quote("AL", "36527").totalTax.decimalString == "10.95")
    }

    /// A district on the only ZIP of a city whose county's most common rates are another city's keeps its own county
    /// and city rates: Republic MO 65738 ("REPUBLIC FARM ROAD 93 COMMUNITY IMPROVEMENT DISTRICT", 10.1%) is 9.1%
    /// (state 4.225, Greene County 1.75, Republic 3.125), as the July 2025 edition gives the city under its own name,
    /// not Springfield's 8.1%; Sherman IL 62684 (Sangamon County, "... RAIL POINTE BUSINESS DEVELOPMENT DISTRICT SP")
    /// is 8.75%, and Dwight IL 60420 ("DWIGHT BUSINESS DEVELOPMENT DISTRICT NO. 1") 8.25%, without their 1% districts.
    @Test func aDistrictOnACitysOnlyZipKeepsTheCitysRates() throws {
        let republic = try quote("MO", "65738")
        #expect(republic.totalTax.decimalString == "9.10")
        #expect(republic.lines[0].jurisdictions.contains { $0.jurisdiction.name == "Republic" })
        #expect(republic.warnings.contains { $0.contains("with the special districts most common in its county outside cities") })
        #expect(try quote("IL", "62684").totalTax.decimalString == "8.75")
        #expect(try quote("IL", "60420").totalTax.decimalString == "8.25")
    }

    /// 80014 is Aurora, Arapahoe County (8.00%: state 2.9, RTD 1.0, CD 0.1, Arapahoe 0.25, Aurora 3.75); the ZIP5
    /// table names it DENVER (9.15%).
    @Test func auroraIsNotDenver() throws {
        let q = try quote("CO", "80014")
        #expect(q.totalTax.decimalString == "8.00")
        #expect(q.warnings.contains { $0.contains("ZIP 80014's tax region DENVER in the ZIP5 table is a place of another county") })
    }

    /// Texas ZIPs the table names after a neighbouring county's emergency services district: the district's tax
    /// stops at its county line, so Stonewall (78671, Gillespie County, unincorporated) has Gillespie County's 0.5%
    /// alone (6.75%), while Fredericksburg (78624), a city the table never names, keeps the table's 8.25% through its
    /// own city line (corrections `TX-fredericksburg-78624-city`, low confidence).
    @Test func texasNeighbouringCountyDistricts() throws {
        let stonewall = try quote("TX", "78671")
        #expect(stonewall.totalTax.decimalString == "6.75")
        #expect(stonewall.warnings.contains { $0.contains("BLANCO CO ESD 2 SP in the ZIP5 table is a place of another county") })
        let fredericksburg = try quote("TX", "78624")
        #expect(fredericksburg.totalTax.decimalString == "8.25")
        #expect(fredericksburg.lines[0].jurisdictions.contains { $0.jurisdiction.name == "City of Fredericksburg" })
        #expect(!fredericksburg.lines[0].jurisdictions.contains { $0.jurisdiction.name.contains("Esd") })
    }

    /// Towns that another edition of the ZIP5 table names while the February table gives their ZIP a neighbour's
    /// region and rates (corrections citing the editions): Madison WI 53702 (Dane County's 0.5%, not Waukesha's
    /// none), Fayette AL 35555 (9.5%, not Tuscaloosa County's 10%), Earle AR 72331 (10.25%, not Parkin's 10.5%),
    /// Eagle Mountain UT 84005 (7.45%); McFarland CA's Measure C adds 1% from 2026-04-01.
    @Test func townsAnEditionNamesKeepTheirOwnRates() throws {
        #expect(try quote("WI", "53702").totalTax.decimalString == "5.50")
        #expect(try quote("AL", "35555").totalTax.decimalString == "9.50")
        #expect(try quote("AR", "72331").totalTax.decimalString == "10.25")
        #expect(try quote("UT", "84005").totalTax.decimalString == "7.45")
        #expect(try quote("CA", "93250", on: "2026-03-31").totalTax.decimalString == "8.25")
        #expect(try quote("CA", "93250", on: "2026-04-01").totalTax.decimalString == "9.25")
    }

    /// 53005 is Brookfield, Waukesha County, which levies no county tax (no Waukesha row in the WI SST rate file):
    /// 5.0%; the ZIP5 table names it MILWAUKEE (Milwaukee County's 0.9%).
    @Test func brookfieldIsNotMilwaukee() throws {
        #expect(try quote("WI", "53005").totalTax.decimalString == "5.00")
    }

    /// 30014 is Covington, Newton County (3% in the GA SST rate file, 13,00,217): 7%; the ZIP5 table names it JASPER.
    @Test func covingtonIsInNewtonCounty() throws {
        #expect(try quote("GA", "30014").totalTax.decimalString == "7.00")
    }

    /// 30019 is Dacula, Gwinnett County (2% in the GA SST rate file, 13,00,135): 6%. The ZIP5 table names it and
    /// another Gwinnett ZIP WALTON (Walton County, 3%), more often than it names Walton's own ZIP so: the region
    /// names a county, and no postal city of Gwinnett County is called Walton.
    @Test func aRegionNamedAfterAnotherCounty() throws {
        #expect(try quote("GA", "30019").totalTax.decimalString == "6.00")
        #expect(try quote("GA", "30655").totalTax.decimalString == "7.00")  // Monroe, in Walton County
        // County names compare without spaces: 33890 (Zolfo Springs, Hardee County: 1% surtax in the Florida DOR's
        // 2025 rate table) is the table's "DE SOTO" (DeSoto County, 1.5%).
        #expect(try quote("FL", "33890").totalTax.decimalString == "7.00")
    }

    /// A region that is another county's own name, on a ZIP without a city rate, where most places levy no city tax:
    /// the ZIP's own county's rates outside cities. 56013 (Blue Earth, Faribault County, Minnesota) is the region
    /// MARTIN with a 0.5% that is Blue Earth's own city tax (MNR2026Q2FEB18, type 01 code 06616, from 2024-04-01; the
    /// July and December 2025 editions name the ZIP BLUE EARTH at 7.375%), kept by the correction
    /// MN-blue-earth-56013-city; Faribault County's own 0.5% starts on 2026-04-01 (county 043). 29654 (Honea Path, Anderson County, South Carolina) carried Laurens County's 1% more. Not where
    /// most towns levy their own: 75633 (Carthage, Texas, Panola County) keeps the table's 8.25% under RUSK.
    @Test func aRegionThatIsAnotherCountysName() throws {
        #expect(try quote("MN", "56013").totalTax.decimalString == "7.38")
        #expect(try quote("MN", "56013", on: "2026-06-01").totalTax.decimalString == "7.88")
        let honeaPath = try quote("SC", "29654")
        #expect(honeaPath.totalTax.decimalString == "7.00")
        #expect(honeaPath.warnings.contains { $0.contains("ZIP 29654's tax region LAURENS in the ZIP5 table is a place of another county") })
        #expect(try quote("TX", "75633").totalTax.decimalString == "8.25")
        // Nor where towns top the county's rate up to a cap (Tennessee, 2.75%): 37091, Lewisburg, Marshall County,
        // under BEDFORD keeps the table's 9.75% rather than the 9.25% of Marshall County outside towns.
        #expect(try quote("TN", "37091").totalTax.decimalString == "9.75")
    }

    /// A city's part of another county, named after the city in the table, speaks for the postal city's other ZIPs
    /// there: 73160 (Oklahoma City, Cleveland County) is the table's MIDWEST CITY, a city of Oklahoma County at 4.6%;
    /// it takes 73173's Oklahoma City rates, with Cleveland County's 0.125% (corrections: 8.75%). 80019 (Aurora,
    /// Adams County) is the table's DENVER: Aurora in Adams County, 8.5%.
    @Test func aCitysPartOfAnotherCounty() throws {
        let q = try quote("OK", "73160", on: "2026-06-01")
        #expect(q.totalTax.decimalString == "8.75")
        #expect(q.warnings.contains { $0.contains("ZIP 73160's tax region MIDWEST CITY in the ZIP5 table is a place of another county") })
        #expect(try quote("CO", "80019", on: "2026-06-01").totalTax.decimalString == "8.50")
    }

    /// Where counties levy the only local taxes, a county's rate is one across it, and a ZIP carrying another rate
    /// carries a neighbour's. 27613 (Raleigh, Wake County) is the table's RALEIGH at Durham County's 2.25%; Wake
    /// levies 2% and its 0.5% transit tax (7.25% in all, NC DOR county rate list). The Ohio Department of Taxation's
    /// county map (July 2024) gives Miami County 7.00% (45356, Piqua: Shelby County's 7.25% in the table), Greene
    /// County 6.75% (45431, Dayton: Montgomery County's 7.50%) and Fairfield County 6.75% (43163, West Rushville, a
    /// ZIP without a record of its own, took the table's commonest Fairfield rate, a neighbour's). Suwannee County,
    /// Florida has no majority (three ZIPs at 1.5%, three at 1%) and is left as the table has it.
    @Test func aCountyLeviesOneRate() throws {
        let raleigh = try quote("NC", "27613")
        #expect(raleigh.totalTax.decimalString == "7.25")
        #expect(raleigh.warnings.contains { $0.contains("ZIP 27613's county rate in the ZIP5 table (tax region RALEIGH) is not the one") })
        #expect(try quote("OH", "45356").totalTax.decimalString == "7.00")
        #expect(try quote("OH", "45431").totalTax.decimalString == "6.75")
        #expect(try quote("OH", "43163").totalTax.decimalString == "6.75")
        let liveOak = try quote("FL", "32064")
        #expect(liveOak.totalTax.decimalString == "7.00")
        #expect(!liveOak.warnings.contains { $0.contains("county rate in the ZIP5 table") })
    }

    /// Where most towns levy a rate of their own (Texas, Nebraska), a ZIP whose postal city has no ZIPs of its own
    /// in the table is left as the table has it: the county's commonest rates would be another town's. 79201 is
    /// Childress (CHILDRESS on the county's other ZIPs is its unincorporated area, 6.75%; the city adds 2%).
    @Test func noGuessWhereTownsTaxOnTheirOwn() throws {
        #expect(try quote("TX", "79201").totalTax.decimalString == "8.25")
        #expect(try quote("NE", "68759").totalTax.decimalString == "5.50")
    }

    /// A region named after the ZIP's own postal city is kept even where most of that city's ZIPs lie in another
    /// county (Carrollton, Texas, in Dallas, Denton and Collin counties): no warning.
    @Test func aCityInSeveralCountiesIsKept() throws {
        let q = try quote("TX", "75007")
        #expect(q.totalTax.decimalString == "8.25")
        #expect(!q.warnings.contains { $0.contains("another county") })
    }
}

/// A ZIP that the ZIP5 table gives one region may lie in several places; the address's city, when it names another
/// place of the same county that the table gives for other ZIPs, picks that place's rates.
@Suite("The address's city among a ZIP's places")
struct AddressCityTests {
    let tables = Repo.shipped.tables

    func quote(_ state: String, _ zip: String, city: String) throws -> Quote {
        try quoteAt(tables, state, zip, city: city, on: "2026-03-15", minorUnits: 10_000)
    }

    /// 55113's region is SAINT PAUL (9.875%), and Roseville, in the same county, has ZIPs of its own in the table
    /// (8.875%); 55434's region is BLAINE (8.125%), and an address in Blaine keeps it.
    @Test func theCityPicksAPlaceOfTheSameCounty() throws {
        #expect(try quote("MN", "55113", city: "").totalTax.decimalString == "9.88")
        let roseville = try quote("MN", "55113", city: "roseville")
        #expect(roseville.totalTax.decimalString == "8.88")
        #expect(roseville.warnings.contains { $0.contains("zip_straddles_jurisdictions: the address's city roseville is not ZIP 55113's tax region SAINT PAUL") })
        #expect(try quote("MN", "55434", city: "Blaine").totalTax.decimalString == "8.13")
        // A city the table knows nowhere in the county changes nothing.
        let unknown = try quote("MN", "55113", city: "Springfield")
        #expect(unknown.totalTax.decimalString == "9.88")
        #expect(!unknown.warnings.contains { $0.contains("zip_straddles_jurisdictions") })
    }

    /// A region that is a city and its county's area outside cities under one name: TALLADEGA is Talladega's 35161
    /// (10%) and unincorporated Sycamore's 35149 (7%). An address in Talladega on 35160, which the table files under
    /// LINCOLN, takes the city's 10% (the same as its own record's), not the county area's 7% (the lower ZIP won the
    /// tie). JEFFERSON, Arkansas, keeps its county area: its one city rate is White Hall's 71612, a ZIP that goes by
    /// another name.
    @Test func aRegionThatIsACityAndItsCountysArea() throws {
        let talladega = try quote("AL", "35160", city: "Talladega")
        #expect(talladega.totalTax.decimalString == "10.00")
        #expect(talladega.lines[0].jurisdictions.contains { $0.jurisdiction.level == .city })
        #expect(try quote("AL", "35149", city: "Sycamore").totalTax.decimalString == "7.00")
        #expect(try quote("AR", "72079", city: "Jefferson").totalTax.decimalString == "7.75")
    }

    /// An address naming a place other than its ZIP's region is answered with that place's rates and a warning
    /// (Roseville's 55113, filed under SAINT PAUL); where reviewed rows set every local level of the ZIP itself
    /// (Washington UT 84780, filed under SAINT GEORGE: rows UT-84780-*), those rows answer whatever city the address
    /// names, and the warning that the city chose another place's rates is withdrawn.
    @Test func aReviewedZipWithdrawsThePlaceChoiceWarning() throws {
        let roseville = try quote("MN", "55113", city: "Roseville")
        #expect(roseville.warnings.contains { $0.contains("the address's city Roseville is not ZIP 55113's tax region SAINT PAUL") })
        for city in ["Washington", "Saint George", ""] {
            let washington = try quote("UT", "84780", city: city)
            #expect(washington.totalTax.decimalString == "6.75", "\(city)")
            #expect(!washington.warnings.contains { $0.contains("is not ZIP 84780's tax region") }, "\(city)")
            #expect(washington.lines[0].sourcing.record.contains("UT-84780-washington-city"), "\(city)")
        }
    }

    /// "Saint Paul" is the Postal Service's name for Eagan's 55121 (Dakota County), and the ZIP5 table gives the
    /// region SAINT PAUL to one Dakota ZIP against 24 in Ramsey and Hennepin: an Eagan address written with its postal
    /// name keeps Eagan's 8.125%, however "Saint" is spelled. 63124 (Ladue, the table's CLAYTON) keeps its own 9.488%
    /// (correction MO-ladue-63124, the city's page) under its postal name Saint Louis (the table's four St. Louis
    /// County ZIPs named ST. LOUIS carry the independent city's rates).
    @Test func aPostalNameOverTheCountyLineChoosesNothing() throws {
        for city in ["Saint Paul", "St. Paul", "ST PAUL", "Eagan", ""] {
            let q = try quote("MN", "55121", city: city)
            #expect(q.totalTax.decimalString == "8.13", "\(city)")
            #expect(!q.warnings.contains { $0.contains("zip_straddles_jurisdictions") }, "\(city)")
        }
        for city in ["Saint Louis", "St. Louis", "St Louis", "Ladue"] {
            #expect(try quote("MO", "63124", city: city).totalTax.decimalString == "9.49", "\(city)")
        }
        // A place named however the address spells it still chooses within its own county.
        #expect(try quote("MN", "55113", city: "ROSEVILLE").totalTax.decimalString == "8.88")
        #expect(try quote("CO", "80126", city: "Littleton").totalTax.decimalString == "5.00")
    }

    /// Names compare without case and runs of spaces, as a prefix or whole.
    @Test func namesCompareLooselyWithoutAllocating() {
        #expect(Zip5Index.names("SAINT  PAUL", startWith: " saint paul ", wholly: true))
        #expect(Zip5Index.names("CHICAGO METRO PIER", startWith: "Chicago"))
        #expect(!Zip5Index.names("CHICAGO METRO PIER", startWith: "Chicago", wholly: true))
        #expect(!Zip5Index.names("ROSEVILLE", startWith: "Rosa"))
        #expect(!Zip5Index.names("ROSE", startWith: "Roseville"))
        #expect(!Zip5Index.names("ROSE", startWith: "  "))
    }
}

/// Tribal land in the ZIP5 table: its regions add a tribal tax to the state's and county's, and some ZIPs of
/// whole cities carry those rates (89431 is Sparks, 89502 central Reno). They are quoted with the rates around
/// them, without the tribal tax; tribal land keeps its rates when they are not above its county's own.
@Suite("Tribal land in the ZIP5 table")
struct TribalLandTests {
    let tables = Repo.shipped.tables

    func quote(_ state: String, _ zip: String, on date: String = "2026-05-15") throws -> Quote {
        try quoteAt(tables, state, zip, on: date, minorUnits: 100_000)
    }

    @Test func regionsOfTribalLand() {
        for region in ["RENO SPARKS INDIAN COLONY", "ONEIDA INDIAN RESERVATION", "LAGUNA PUEBLO", "PUEBLO OF ZUNI 2", "AIS PROP 19 PUEBLOS #2",
                       "NAVAJO NATION OFF-RESERVATION TRUST LAND", "ROSEBUD SALES SPECIAL JURISDICTION", "ESPANOLA/ST CLARA GRANT 2"] {
            #expect(CanonicalTables.isTribalRegion(region), "\(region)")
        }
        for region in ["PUEBLO", "PUEBLO WEST", "INDIAN RIVER", "GRANT", "LOST NATION", "KEY COLONY BEACH", "NAVAJO"] {
            #expect(!CanonicalTables.isTribalRegion(region), "\(region)")
        }
    }

    /// Washoe County's ZIP5 rows give 3.665% local (8.265% with Nevada's 4.6%); the colony's region adds 8.625%.
    @Test(arguments: ["89431", "89502"])
    func renoAndSparksAreWashoeCounty(zip: String) throws {
        let q = try quote("NV", zip)
        #expect(q.totalTax.decimalString == "82.65")
        #expect(q.warnings.contains { $0.contains("zip_straddles_jurisdictions: ZIP \(zip)'s tax region") && $0.contains("tribal land") })
    }

    /// 87301's postal city is Gallup: Gallup's other ZIPs (87302, 87305) give the rates, not the county's.
    @Test func thePostalCityGivesTheRates() throws {
        let gallup = try quote("NM", "87302")
        #expect(try quote("NM", "87301").totalTax == gallup.totalTax)
    }

    /// Most of Apache County's ZIPs carry the Navajo Nation's 6%: the trust land ZIP 86512 (county 0.5% only) is
    /// not raised to them, and the county's ZIPs without it are not touched.
    @Test func tribalLandIsNeverRaised() throws {
        #expect(try quote("AZ", "86512").totalTax.decimalString == "61.00")
        #expect(try quote("AZ", "85920").totalTax.decimalString == "61.00")
    }

    /// South Dakota's Special Jurisdictions tax at the state's rate in lieu of the state tax (SD DOR, SDCL 10-12A-4);
    /// the table adds the 4.2% again. Rosebud 57570 and Pine Ridge 57770: 4.2% in all (correction
    /// SD-special-jurisdictions-in-lieu).
    @Test(arguments: ["57570", "57770"])
    func southDakotaSpecialJurisdictionsAreOneTax(zip: String) throws {
        #expect(try quote("SD", zip).totalTax.decimalString == "42.00")
    }

    /// Arizona's TPT has no special districts; the table's specials there are tribal taxes under county-named
    /// regions (86503, Chinle: "APACHE" with the Navajo Nation's 6%), removed by the correction
    /// AZ-no-special-districts: Arizona 5.6% and Apache County 0.5%.
    @Test func arizonaHasNoSpecialDistricts() throws {
        let q = try quote("AZ", "86503")
        #expect(q.totalTax.decimalString == "61.00")
        #expect(!q.lines[0].jurisdictions.contains { $0.jurisdiction.level == .special && !$0.rate.isZero })
    }

    /// Towns that later editions of the ZIP5 table file under a reservation's region keep their own tax, as the July
    /// 2025 edition gives it under the town's name: Winslow 86047 (5.6 + Navajo County 0.83 + 3 = 9.43%), Pinetop
    /// 85935 (Pinetop-Lakeside's 3%), Bluff UT 84512 (7.45%); Timber Lake SD 57656 keeps its 2% beside the
    /// Cheyenne River Sioux Tribe's 4.2% (6.2%). Next to them, Whiteriver 85941 (Fort Apache) stays at 6.43%.
    @Test func townsUnderAReservationRegionKeepTheirTax() throws {
        #expect(try quote("AZ", "86047").totalTax.decimalString == "94.30")
        #expect(try quote("AZ", "85935").totalTax.decimalString == "94.30")
        #expect(try quote("UT", "84512").totalTax.decimalString == "74.50")
        #expect(try quote("SD", "57656").totalTax.decimalString == "62.00")
        #expect(try quote("AZ", "85941").totalTax.decimalString == "64.30")
    }
}
