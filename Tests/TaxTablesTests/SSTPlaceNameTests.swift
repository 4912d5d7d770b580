import Foundation
import Testing
import TaxCore
@testable import TaxTables

/// An SST rate file's cities and districts carry codes, not names; `official/sst-place-names.csv` names them so
/// the ZIP5 answers move with the file's dated rates, as county rates already do.
@Suite("Named SST cities and districts")
struct SSTPlaceNameTests {
    static let namesHeader = "state,type,code,name,counties,source,as_of,confidence,note\n"
    /// A Minnesota rate file in the SST layout: the state, Hennepin County, Minneapolis (Census place 43000) at 0.5%
    /// until 2026-03-31 and 1% after, a district that starts on 2026-07-01 and a city that ended on 2025-12-31.
    static let rateFile = """
        27,45,27,0.06875,0.06875,0.06875,0.06875,20050101,29991231
        27,00,053,0.0015,0.0015,0.0015,0.0015,20070101,29991231
        27,01,43000,0.0050,0.0050,0.0050,0.0050,19870201,20260331
        27,01,43000,0.0100,0.0100,0.0100,0.0100,20260401,29991231
        27,63,80099,0.0025,0.0025,0.0025,0.0025,20260701,29991231
        27,01,99990,0.0050,0.0050,0.0050,0.0050,20200101,20251231

        """
    static let files = "file,kind,state,effective_from,carried_back_from,source,note\nMNR-fixture.csv,sst-rates,MN,,,fixture,\n"

    func load(names: String) throws -> CanonicalTables.Loaded {
        let directory = try Repo.copyOfMinimalTables()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory + "/official", withIntermediateDirectories: true)
        try Self.files.write(toFile: directory + "/official/files.csv", atomically: true, encoding: .utf8)
        try Self.rateFile.write(toFile: directory + "/official/MNR-fixture.csv", atomically: true, encoding: .utf8)
        try (Self.namesHeader + names).write(toFile: directory + "/official/sst-place-names.csv", atomically: true, encoding: .utf8)
        return try CanonicalTables.load(directory: directory)
    }

    func rates(_ loaded: CanonicalTables.Loaded, _ date: String) throws -> [JurisdictionLevel: String] {
        let location = try loaded.tables.locals.resolve(.zip("MN", "55401"), on: TaxDate(iso: date)!)
        return Dictionary(location.locals.map { ($0.jurisdiction.level, $0.intrastate.fractionString) }, uniquingKeysWith: { a, _ in a })
    }

    @Test func aNamedCityFollowsTheRateFile() throws {
        let loaded = try load(names: "MN,01,43000,Minneapolis,,fixture,2026-11-30,high,\nMN,63,80099,Hennepin test district,27053,fixture,2026-11-30,high,\n")
        // The ZIP5 fixture says Minneapolis 0.5% and specials 1.5% on 2026-01-01 onward (its table date is 2026-02-01).
        #expect(try rates(loaded, "2026-03-31")[.city] == "0.005")
        #expect(try rates(loaded, "2026-04-01")[.city] == "0.01")
        #expect(try rates(loaded, "2026-06-30")[.special] == "0.015")
        #expect(try rates(loaded, "2026-07-01")[.special] == "0.0175")
        let location = try loaded.tables.locals.resolve(.zip("MN", "55401"), on: TaxDate(iso: "2026-07-01")!)
        #expect(location.record.contains("city (Minneapolis), district (Hennepin test district) rate as of 2026-07-01 from the SST rate file"))
        #expect(loaded.tables.locals.jurisdictionRate(code: "L-MN-CITY-MINNEAPOLIS", state: StateCode("MN")!, on: TaxDate(iso: "2026-05-01")!)?
            .intrastate.fractionString == "0.01")
    }

    @Test func withoutANameTheZip5EstimateStands() throws {
        let loaded = try load(names: "")
        #expect(try rates(loaded, "2026-04-01")[.city] == "0.005")
    }

    /// One key for every source's spelling of a place (the SST names file, the ZIP5 table, WA, CA and IDOR files,
    /// addresses).
    @Test func namesAreMatchedHoweverEachSourceWritesThem() {
        let same = [["St. Paul", "Saint Paul", "ST PAUL", "St.Paul"], ["West St. Paul", "WEST SAINT PAUL"], ["Mt. Iron", "MOUNT IRON"],
                    ["MT. VERNON", "Mount Vernon"], ["FT LUPTON", "Fort Lupton"], ["O'FALLON", "O\u{2019}Fallon", "OFALLON"],
                    ["La Grange", "LAGRANGE", "La-Grange"], ["Sea Tac", "SeaTac"], ["La Cañada Flintridge", "LA CANADA FLINTRIDGE"],
                    ["Ste. Genevieve", "Sainte Genevieve"], ["AUBURN/KING", "Auburn King"]]
        for names in same {
            #expect(Set(names.map(PlaceNameKey.of)).count == 1, "\(names)")
        }
        #expect(PlaceNameKey.of("St. Paul") == "SAINTPAUL")
        #expect(PlaceNameKey.spaced("Kansas City  T.D.D.") == "KANSAS CITY T D D")
        // Words that only look like abbreviations stay as they are.
        #expect(PlaceNameKey.of("Stanton") == "STANTON")
        #expect(PlaceNameKey.of("Paris") != PlaceNameKey.of("Parish"))
        #expect(PlaceNameKey.of("...").isEmpty)
        // The byte-by-byte reading of ASCII names gives what the words give.
        for name in ["St. Paul", "west st paul", "Mt.Iron", "O'Fallon", "Ste Genevieve", "FT", "st", "29 Palms", "A-B/C  D", "Stanton", "Saint"] {
            #expect(PlaceNameKey.of(name) == PlaceNameKey.words(name).joined(), "\(name)")
        }
    }

    func diagnostics(names: String) -> [String] {
        do {
            _ = try load(names: names)
            return []
        } catch let error as TableLoadError {
            return error.diagnostics.map(\.description)
        } catch {
            return ["\(error)"]
        }
    }

    @Test func badNamesAreLocated() {
        let found = diagnostics(names: "MN,02,43000,Minneapolis,,fixture,2026-11-30,high,\n"
                + "MN,01,4300x,Minneapolis,,fixture,2026-11-30,high,\n"
                + "MN,63,80099,A district,,fixture,2026-11-30,high,\n"
                + "MN,01,99990,Gone,,fixture,2026-11-30,high,\n"
                + "MN,01,43000,Minneapolis,,nobody,2026-11-30,high,\n"
                + "MN,01,43000,Minneapolis,,fixture,2026-11-30,high,\n"
                + "MN,01,43000,Minneapolis again,,fixture,2026-11-30,high,\n")
        #expect(found.contains("official/sst-place-names.csv:2:2: error: type \"02\" is not 01 (city) or 63 (special district)"))
        #expect(found.contains("official/sst-place-names.csv:3:3: error: code \"4300x\" is not a jurisdiction code of digits"))
        #expect(found.contains("official/sst-place-names.csv:4:5: error: a special district is placed by the counties it covers entirely: list them"))
        #expect(found.contains("official/sst-place-names.csv:6:6: error: source \"nobody\" is not listed in sources.csv"))
        #expect(found.contains("official/sst-place-names.csv:8:3: error: MN type 01 code 43000 is already named on line 7"))
        // Codes are checked against the state's rate file once the names file itself is sound.
        #expect(diagnostics(names: "MN,01,12345,Nowhere,,fixture,2026-11-30,high,\n")
            == ["official/sst-place-names.csv:2:3: error: MN has no type 01 code 12345 in official/MNR-fixture.csv"])
    }
}
