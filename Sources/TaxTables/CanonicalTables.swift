import Crypto
import Foundation
import TaxCore

/// Reads a folder in Levy's canonical table format (docs/tax-tables.md) into a `TaxTableSet`.
///
/// Loading is all or nothing: every file is read and checked, every problem is collected with its file, line
/// and column, and a single error makes the whole load fail.
public enum CanonicalTables {
    public static let format = "levy-tables/1"

    /// The files of a table set, in the order they are read and digested.
    public static let files = ["manifest.json", "sources.csv", "states.csv", "taxability.csv", "rules.csv", "local/zip5.csv"]

    public struct Manifest: Codable, Sendable {
        public var format: String
        public var version: String
        public var description: String
        /// The day the ZIP5 table's rates are as of, and the day they are carried back to (corrections record the
        /// changes in between).
        public var zip5TableDate: String?
        public var localCarriedBackFrom: String?

        enum CodingKeys: String, CodingKey {
            case format, version, description
            case zip5TableDate = "zip5_table_date"
            case localCarriedBackFrom = "local_carried_back_from"
        }
    }

    /// A loaded table set and the warnings found while loading it.
    public struct Loaded: Sendable {
        public var tables: TaxTableSet
        public var zip5: Zip5Index
        public var sources: [Source]
        public var warnings: [TableDiagnostic]
        /// The folder the tables were read from (a table version rebuilds from it with its imported files).
        public var directory: String = ""
    }

    public struct Source: Sendable, Hashable {
        public var id: String
        public var title: String
        public var publisher: String
        public var url: String
        public var retrieved: String
        public var note: String
        /// The last day the source's facts were checked against its publisher (nil: not dated).
        public var verifiedThrough: TaxDate?
    }

    /// `imported`: official files of a table version, each in place of the shipped file of its kind and state (a
    /// place-rate file beside the shipped ones of other names: `replacing`), so corrections, local taxes and place
    /// names apply over them as over the shipped ones.
    public static func load(directory: String, imported: [(OfficialFile, [UInt8])] = []) throws(TableLoadError) -> Loaded {
        var log = DiagnosticLog()
        var contents: [String: [UInt8]] = [:]
        for name in files {
            let path = directory + "/" + name
            switch TableFileReader.read(path) {
            case .success(let data): contents[name] = data
            case .failure(let why): log.error(name, 0, nil, why.description)
            }
        }
        for name in optionalFiles where FileManager.default.fileExists(atPath: directory + "/" + name) {
            switch TableFileReader.read(directory + "/" + name) {
            case .success(let data): contents[name] = data
            case .failure(let why): log.error(name, 0, nil, why.description)
            }
        }
        if log.hasErrors { throw TableLoadError(log.entries) }

        let manifest = readManifest(contents["manifest.json"]!, log: &log)

        let sources = readSources(contents["sources.csv"]!, log: &log)
        let known = Set(sources.map(\.id))
        let (states, stateCodes, localCaps) = readStatesAndLocalCaps(contents["states.csv"]!, sources: known, log: &log)
        let taxability = readTaxability(contents["taxability.csv"]!, states: stateCodes, sources: known, log: &log)
        var ruleJurisdictions: [RuleJurisdictions] = []
        var ruleCounties: [RuleCounties] = []
        let rules = readRules(contents["rules.csv"]!, states: stateCodes, sources: known, ruleJurisdictions: &ruleJurisdictions,
                              ruleCounties: &ruleCounties, log: &log)
        let witnesses = contents[zip5WitnessesFile].map { readZip5Witnesses($0, states: stateCodes, sources: sources, log: &log) } ?? []
        var zip5 = readZip5(contents["local/zip5.csv"]!, states: stateCodes, sources: known, witnesses: witnesses, log: &log)
        checkZip5Witnesses(witnesses, zip5: zip5, log: &log)
        checkCoverage(states: states, taxability: taxability, log: &log)
        let corrections = contents["local/corrections.csv"].map { readCorrections($0, states: stateCodes, sources: known, log: &log) } ?? []
        let ownBase = contents["local/local-taxes.csv"].map { readLocalTaxes($0, states: stateCodes, sources: known, log: &log) } ?? []
        let coupons = contents["coupons.csv"].map { readCoupons($0, states: stateCodes, sources: known, log: &log) } ?? [:]
        let brackets = contents["brackets.csv"].map { readBrackets($0, states: stateCodes, sources: known, log: &log) } ?? [:]
        let elections = contents[electionsFile].map { readElections($0, states: stateCodes, sources: known, log: &log) } ?? [:]
        let regional = contents[regionalDistrictsFile].map { readRegionalDistricts($0, stateFIPS: Dictionary(states.map { ($0.state, $0.fips) }, uniquingKeysWith: { a, _ in a }), sources: known, log: &log) } ?? [:]
        let official = replacing(contents["official/files.csv"].map { readOfficialList($0, states: stateCodes, sources: known, log: &log) } ?? [],
                                 with: imported)
        let sstNames = contents[sstPlaceNamesFile].map { readSSTPlaceNames($0, states: stateCodes, sources: known, log: &log) } ?? []
        var zip5Date = TaxDate(year: 2026, month: 2, day: 1)!
        for (text, field) in [(manifest?.zip5TableDate, "zip5_table_date"), (manifest?.localCarriedBackFrom, "local_carried_back_from")] {
            // readManifest reported a date that is not one.
            guard let text, let date = TaxDate(iso: text) else { continue }
            if field == "zip5_table_date" { zip5Date = date } else { zip5 = carryBack(zip5, to: date) }
        }
        let placed = relocateCrossCountyRegions(separateDistricts(zip5).records, townsTopUp: Set(localCaps.map(\.code))).records
        zip5 = fallbacksTakeTheirPostalCity(alignCountyRates(placed).records).records
        checkRuleJurisdictions(ruleJurisdictions, zip5: zip5, corrections: corrections, log: &log)
        checkRuleCounties(ruleCounties, zip5: zip5, log: &log)
        checkOwnBaseCodes(ownBase, zip5: zip5, corrections: corrections, log: &log)

        log.dropCitationsOfUnreadableSources()
        if log.hasErrors { throw TableLoadError(log.entries) }
        let index = Zip5Index(records: zip5)
        checkTownScopes(corrections.map { ($0.state, $0.scope, $0.line) }, file: "local/corrections.csv", zip5: index, log: &log)
        checkTownScopes(ownBase.map { ($0.state, $0.scope, $0.line) }, file: "local/local-taxes.csv", zip5: index, log: &log)
        let (locals, profiles) = assemble(directory: directory, zip5: index, zip5Date: zip5Date, profiles: states, official: official,
                                          contents: &contents, corrections: corrections, ownBase: ownBase, sstNames: sstNames,
                                          log: &log)
        if log.hasErrors { throw TableLoadError(log.entries) }
        guard let manifest else { throw TableLoadError(log.entries) }
        let version = manifest.version + "+sha256." + digest(contents)
        var tables = TaxTableSet(version: version, states: profiles, taxability: taxability, rules: rules, locals: locals)
        tables.couponRules = coupons
        tables.brackets = brackets
        tables.remoteSellerPrograms = elections
        tables.regionalDistricts = regional
        var dated: [String: TaxDate] = [:]
        for source in sources { if let through = source.verifiedThrough { dated[source.id] = through } }
        tables.verifiedThrough = dated
        tables.registerCombinedSources(Set(profiles.flatMap { $0.rates.map(\.provenance.source) } + corrections.map(\.provenance.source)
                                           + zip5.map(\.source)
                                           + ownBase.map(\.tax.provenance.source)
                                           + brackets.values.flatMap { $0.map(\.provenance.source) }
                                           + elections.values.flatMap { $0.map(\.provenance.source) }))
        return Loaded(tables: tables, zip5: index, sources: sources, warnings: log.entries, directory: directory)
    }

    /// The first 12 hex digits of SHA-256 over every file's name and bytes: any edit gives a new version.
    static func digest(_ contents: [String: [UInt8]]) -> String {
        var hasher = SHA256()
        for name in files + contents.keys.filter({ !files.contains($0) }).sorted() {
            hasher.update(data: Array(name.utf8) + [0])
            hasher.update(data: contents[name] ?? [])
        }
        return hex(hasher.finalize())
    }

    /// The first 12 hex digits of SHA-256 over one file's bytes.
    public static func digest(bytes: [UInt8]) -> String { hex(SHA256.hash(data: bytes)) }

    private static func hex(_ digest: SHA256.Digest) -> String {
        digest.prefix(6).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    // MARK: - Files

    static func readSources(_ bytes: [UInt8], log: inout DiagnosticLog) -> [Source] {
        let file = "sources.csv"
        guard let table = CSVTable(file: file, bytes: bytes, required: ["id", "title", "publisher", "url", "retrieved", "note"],
                                   log: &log) else { return [] }
        var seen = Set<String>()
        var result: [Source] = []
        for record in table.records {
            guard let id = table.text(record, "id", log: &log), let title = table.text(record, "title", log: &log) else { continue }
            if !seen.insert(id).inserted { log.error(file, record.line, 1, "source id \"\(id)\" is listed twice") }
            let through = table.has("verified_through") ? table.date(record, "verified_through", default: .distantPast, log: &log) : nil
            result.append(Source(id: id, title: title, publisher: table.field(record, "publisher").value,
                                 url: table.field(record, "url").value, retrieved: table.field(record, "retrieved").value,
                                 note: table.field(record, "note").value, verifiedThrough: through == .distantPast ? nil : through))
        }
        return result
    }

    /// The state profiles, every state code the file names (even on a broken row, so that other files are not
    /// blamed for a state whose own row is the problem), and the states whose law caps the combined local rate
    /// (`local_cap`: Texas 2%, Tennessee 2.75%), where towns top a county's rate up to the cap.
    static func readStatesAndLocalCaps(_ bytes: [UInt8], sources: Set<String>,
                                       log: inout DiagnosticLog) -> ([StateProfile], Set<StateCode>, Set<StateCode>) {
        let file = "states.csv"
        let columns = ["state", "fips", "name", "has_sales_tax", "rate", "interstate_rate", "effective_from", "effective_through",
                       "sourcing", "origin_levels", "source", "as_of", "note"]
        guard let table = CSVTable(file: file, bytes: bytes, required: columns, log: &log) else { return ([], [], []) }
        var capped = Set<StateCode>()
        var profiles: [StateCode: StateProfile] = [:]
        var order: [StateCode] = []
        var firstLine: [StateCode: Int] = [:]
        var named = Set<StateCode>()
        for record in table.records {
            if let state = StateCode(table.field(record, "state").value) { named.insert(state) }
            guard let state = table.state(record, "state", log: &log),
                  let fips = table.text(record, "fips", log: &log),
                  let name = table.text(record, "name", log: &log),
                  let hasTax = table.text(record, "has_sales_tax", log: &log),
                  let period = table.period(record, log: &log),
                  let provenance = table.provenance(record, knownSources: sources, log: &log) else { continue }
            guard hasTax == "Y" || hasTax == "N" else {
                log.error(file, record.line, table.field(record, "has_sales_tax").column, "has_sales_tax must be Y or N")
                continue
            }
            guard let rate = table.rate(record, "rate", log: &log) else { continue }
            let interstate = table.rate(record, "interstate_rate", optional: true, log: &log)
            guard let sourcing = parseSourcing(table, record, log: &log) else { continue }
            var sellerSourced = Set<ProductTaxCode>()
            if table.has("seller_sourced_codes") {
                guard let codes = table.list(record, "seller_sourced_codes", required: false, log: &log, parse: ProductTaxCode.init(rawValue:)) else { continue }
                sellerSourced = Set(codes)
            }
            if table.has("local_cap"), !table.field(record, "local_cap").value.isEmpty {
                guard table.rate(record, "local_cap", log: &log) != nil else { continue }
                capped.insert(state)
            }
            var remoteLevels: Set<JurisdictionLevel>?
            if table.has("remote_levels"), !table.field(record, "remote_levels").value.isEmpty {
                guard let levels = table.list(record, "remote_levels", log: &log, parse: JurisdictionLevel.init(rawValue:)) else { continue }
                remoteLevels = Set(levels)
            }
            // The source saying a county or city levies a use tax only where its voters adopted one (blank: a local
            // use tax goes with each local sales tax, at its rate).
            var useByAdoption: String?
            if table.has("local_use_adopted"), !table.field(record, "local_use_adopted").value.isEmpty {
                let id = table.field(record, "local_use_adopted").value
                guard sources.contains(id) else {
                    log.error(file, record.line, table.field(record, "local_use_adopted").column, "local_use_adopted: source \"\(id.prefix(60))\" is not listed in sources.csv")
                    continue
                }
                useByAdoption = id
            }
            let dated = DatedRate(period: period, intrastate: rate, interstate: interstate, provenance: provenance)
            if let existing = profiles[state] {
                if let clash = existing.rates.first(where: { $0.period.overlaps(period) }) {
                    log.error(file, record.line, table.field(record, "effective_from").column,
                              "\(state) rate period \(period) overlaps \(clash.period) (line \(firstLine[state]!))")
                    continue
                }
                if existing.sourcing != sourcing || existing.fips != fips || existing.hasSalesTax != (hasTax == "Y")
                    || existing.sellerSourcedCodes != sellerSourced || existing.remoteSellerLevels != remoteLevels
                    || existing.localUseTaxByAdoption != useByAdoption {
                    log.error(file, record.line, nil,
                              "\(state) rows disagree on fips, has_sales_tax, sourcing, seller_sourced_codes, remote_levels or local_use_adopted")
                    continue
                }
                profiles[state] = existing.replacingRates((existing.rates + [dated]).sorted { $0.period.from < $1.period.from })
            } else {
                firstLine[state] = record.line
                order.append(state)
                let engagement = table.has("district_engagement") && table.field(record, "district_engagement").value == "Y"
                profiles[state] = StateProfile(state: state, fips: fips, name: name, hasSalesTax: hasTax == "Y", rates: [dated],
                                               sourcing: sourcing, destinationNeedsEngagement: engagement,
                                               sellerSourcedCodes: sellerSourced, remoteSellerLevels: remoteLevels,
                                               localUseTaxByAdoption: useByAdoption, provenance: provenance)
            }
        }
        return (order.map { profiles[$0]! }, named, capped)
    }

    private static func parseSourcing(_ table: CSVTable, _ record: CSVReader.Record, log: inout DiagnosticLog) -> IntrastateSourcing? {
        guard let value = table.text(record, "sourcing", log: &log) else { return nil }
        switch value {
        case "destination": return .destination
        case "origin": return .origin
        case "none": return .notApplicable
        case "hybrid":
            guard let levels = table.list(record, "origin_levels", log: &log, parse: JurisdictionLevel.init(rawValue:)) else { return nil }
            return .hybrid(originLevels: Set(levels))
        case "origin_then_destination":
            guard table.has("local_cap") else {
                log.error(table.file, record.line, table.field(record, "sourcing").column, "origin_then_destination needs a local_cap column")
                return nil
            }
            guard let cap = table.rate(record, "local_cap", log: &log) else { return nil }
            return .originThenDestination(localCap: cap)
        default:
            log.error(table.file, record.line, table.field(record, "sourcing").column,
                      "sourcing \"\(value)\" is not one of destination, origin, hybrid, origin_then_destination, none")
            return nil
        }
    }

    static func readTaxability(_ bytes: [UInt8], states: Set<StateCode>, sources: Set<String>, log: inout DiagnosticLog) -> [TaxabilityEntry] {
        let file = "taxability.csv"
        let columns = ["state", "code", "rule", "effective_from", "effective_through", "confidence", "source", "as_of", "note"]
        guard let table = CSVTable(file: file, bytes: bytes, required: columns, log: &log) else { return [] }
        var entries: [TaxabilityEntry] = []
        var lines: [String: [(EffectivePeriod, Int)]] = [:]
        for record in table.records {
            guard let state = table.state(record, "state", log: &log),
                  let code = table.choice(record, "code", as: ProductTaxCode.self, allowed: ProductTaxCode.allCases, log: &log),
                  let rule = table.choice(record, "rule", as: TaxabilityRule.self, allowed: TaxabilityRule.allCases, log: &log),
                  let period = table.period(record, log: &log),
                  let confidence = table.choice(record, "confidence", as: Confidence.self, allowed: Confidence.allCases, log: &log),
                  let provenance = table.provenance(record, knownSources: sources, log: &log) else { continue }
            if !states.contains(state) {
                log.error(file, record.line, 1, "state \(state) is not in states.csv")
                continue
            }
            let key = "\(state)/\(code.rawValue)"
            if let clash = lines[key]?.first(where: { $0.0.overlaps(period) }) {
                log.error(file, record.line, table.field(record, "effective_from").column,
                          "\(state) \(code.rawValue) period \(period) overlaps line \(clash.1)")
                continue
            }
            lines[key, default: []].append((period, record.line))
            entries.append(TaxabilityEntry(state: state, code: code, period: period, rule: rule, confidence: confidence,
                                           provenance: provenance))
        }
        checkContinuity(lines, file: file, log: &log)
        return entries
    }

    /// A state's code is answered on every day from its first entry on: a gap between entries, or a last entry that
    /// ends, would make every quote on those days fail at checkout (Washington's admissions ended on 2025-09-30 with
    /// nothing after them until this check).
    static func checkContinuity(_ lines: [String: [(EffectivePeriod, Int)]], file: String, log: inout DiagnosticLog) {
        for (key, periods) in lines.sorted(by: { $0.key < $1.key }) {
            let name = key.replacingOccurrences(of: "/", with: " ")
            let sorted = periods.sorted { $0.0.from < $1.0.from }
            for (earlier, later) in zip(sorted, sorted.dropFirst()) where earlier.0.through.adding(days: 1).map({ $0 < later.0.from }) ?? false {
                log.error(file, later.1, nil, "\(name) has no entry from the day after \(earlier.0.through) "
                          + "(line \(earlier.1)) to \(later.0.from): quotes on those days would fail")
            }
            if let last = sorted.last, last.0.through != .distantFuture {
                log.error(file, last.1, nil, "\(name) ends on \(last.0.through) with no entry after it: "
                          + "quotes after that day would fail")
            }
        }
    }

    /// The local jurisdictions a rule limits, where it names them: state, codes, line and column in rules.csv.
    typealias RuleJurisdictions = (state: StateCode, codes: Set<String>, line: Int, column: Int?)
    /// The counties a rule limits, where it names them: state, FIPS codes, line and column in rules.csv.
    typealias RuleCounties = (state: StateCode, counties: [String], line: Int, column: Int)

    /// The most rows rules.csv may have.
    static let maximumRules = 5_000

    static func readRules(_ bytes: [UInt8], states: Set<StateCode>, sources: Set<String>,
                          ruleJurisdictions: inout [RuleJurisdictions], ruleCounties: inout [RuleCounties],
                          log: inout DiagnosticLog) -> [SpecialRule] {
        let file = "rules.csv"
        let columns = ["id", "state", "kind", "codes", "levels", "counties", "amount", "upper", "rate", "jurisdiction_code",
                       "jurisdiction_name", "effective_from", "effective_through", "source", "as_of", "note"]
        guard let table = CSVTable(file: file, bytes: bytes, required: columns, log: &log) else { return [] }
        // Every rule in force is weighed for every line of every quote: a million of them held one quote for minutes
        // (probe #18). The shipped tables have tens; a table with more than this is refused, naming the line.
        if table.records.count > maximumRules {
            log.error(file, table.records[maximumRules].line, nil, "more than \(maximumRules) rules: a table holds at most \(maximumRules)")
            return []
        }
        var rules: [SpecialRule] = []
        var ids = Set<String>()
        // The jurisdictions bands and surtaxes add, by state and code: one code is one jurisdiction, with one name and,
        // on a product on a day, one rate (probe #18: a second 47-SA band with another name and rate was accepted, and a
        // Nashville quote listed two 47-SA taxes).
        var added: [String: [(name: String, codes: Set<ProductTaxCode>, period: EffectivePeriod, line: Int)]] = [:]
        func checkAddedJurisdiction(_ key: String, name: String, codes: Set<ProductTaxCode>, period: EffectivePeriod, line: Int) {
            let code = key.split(separator: "/").last.map(String.init) ?? key
            let column = table.field(table.records[0], "jurisdiction_code").column
            // The first conflict is reported, and a refused row is not compared with later ones.
            for other in added[key] ?? [] {
                if other.name != name {
                    log.error(file, line, column, "jurisdiction_code \(code) is \"\(other.name)\" on line \(other.line): one code names one jurisdiction")
                    return
                } else if other.period.overlaps(period), !other.codes.isDisjoint(with: codes) {
                    log.error(file, line, column, "jurisdiction_code \(code) already adds a tax to these codes on line \(other.line) in an overlapping period")
                    return
                }
            }
            added[key, default: []].append((name, codes, period, line))
        }
        for record in table.records {
            guard let id = table.text(record, "id", log: &log),
                  let state = table.state(record, "state", log: &log),
                  let kindName = table.text(record, "kind", log: &log),
                  let codes = table.list(record, "codes", log: &log, parse: ProductTaxCode.init(rawValue:)),
                  let period = table.period(record, log: &log),
                  let provenance = table.provenance(record, knownSources: sources, log: &log) else { continue }
            if !ids.insert(id).inserted { log.error(file, record.line, 1, "rule id \"\(id)\" is used twice") }
            if !states.contains(state) { log.error(file, record.line, 2, "state \(state) is not in states.csv") }
            let counties = table.list(record, "counties", required: false, log: &log) { $0 }
            if let counties, !counties.isEmpty { ruleCounties.append((state, counties, record.line, table.field(record, "counties").column)) }
            let kind: SpecialRule.Kind?
            var levels: [JurisdictionLevel] = []
            var jurisdictionCodes: [String]?
            switch kindName {
            case "band_per_article":
                guard let lower = table.money(record, "amount", log: &log), let upper = table.money(record, "upper", log: &log),
                      let rate = table.rate(record, "rate", log: &log),
                      let code = table.text(record, "jurisdiction_code", log: &log),
                      let name = table.text(record, "jurisdiction_name", log: &log) else { continue }
                guard lower < upper else {
                    log.error(file, record.line, table.field(record, "upper").column, "upper must be above amount")
                    continue
                }
                kind = .bandPerArticle(lower: lower, upper: upper, rate: rate,
                                       jurisdiction: Jurisdiction(level: .state, state: state, name: name, code: code))
                checkAddedJurisdiction("\(state)/\(code)", name: name, codes: Set(codes), period: period, line: record.line)
            case "surtax_above_per_article":
                guard let threshold = table.money(record, "amount", log: &log), let rate = table.rate(record, "rate", log: &log),
                      let code = table.text(record, "jurisdiction_code", log: &log),
                      let name = table.text(record, "jurisdiction_name", log: &log) else { continue }
                kind = .surtaxAbovePerArticle(threshold: threshold, rate: rate,
                                              jurisdiction: Jurisdiction(level: .state, state: state, name: name, code: code))
                checkAddedJurisdiction("\(state)/\(code)", name: name, codes: Set(codes), period: period, line: record.line)
            case "cap_per_article", "cap_per_sale", "exempt_below_per_article", "exempt_first_per_article", "holiday":
                // A holiday with no price limit (South Carolina's) leaves amount blank.
                let noLimit = kindName == "holiday" && table.field(record, "amount").value.isEmpty
                guard let amount = noLimit ? Int64.max : table.money(record, "amount", log: &log),
                      let parsedLevels = table.list(record, "levels", log: &log, parse: JurisdictionLevel.init(rawValue:)) else { continue }
                levels = parsedLevels
                // A rule that changes a base may name the local jurisdictions it limits (their codes); they must
                // exist in the state (checked once the local tables are read).
                if let codes = table.list(record, "jurisdiction_code", required: false, log: &log, parse: { $0 }), !codes.isEmpty {
                    jurisdictionCodes = codes
                    ruleJurisdictions.append((state, Set(codes), record.line, table.field(record, "jurisdiction_code").column))
                }
                if !table.field(record, "jurisdiction_name").value.isEmpty {
                    log.error(file, record.line, table.field(record, "jurisdiction_name").column,
                              "jurisdiction_name is only for the jurisdiction a band or surtax adds; a \(kindName) rule names the jurisdictions it limits by jurisdiction_code")
                }
                kind = switch kindName {
                case "cap_per_article": .capPerArticle(cap: amount)
                case "cap_per_sale": .capPerSale(cap: amount)
                case "exempt_below_per_article": .exemptBelowPerArticle(limit: amount)
                case "exempt_first_per_article": .exemptFirstPerArticle(amount: amount)
                default: .holiday(maxPrice: amount)
                }
            default:
                log.error(file, record.line, table.field(record, "kind").column,
                          "kind \"\(kindName)\" is not one of band_per_article, cap_per_article, cap_per_sale, exempt_below_per_article, exempt_first_per_article, holiday, "
                          + "surtax_above_per_article")
                kind = nil
            }
            guard let kind else { continue }
            var schedule = RuleSchedule(period: period)
            if table.has("recurrence"), !table.field(record, "recurrence").value.isEmpty {
                let recurrence = table.field(record, "recurrence")
                guard recurrence.value == "yearly" else {
                    log.error(file, record.line, recurrence.column, "recurrence \"\(recurrence.value)\" is not yearly (or blank)")
                    continue
                }
                guard table.has("first_day"), table.has("last_day") else {
                    log.error(file, record.line, recurrence.column, "a yearly rule needs first_day and last_day columns")
                    continue
                }
                let first = table.field(record, "first_day"), last = table.field(record, "last_day")
                guard let firstDay = DayRule(first.value) else {
                    log.error(file, record.line, first.column, "first_day \"\(first.value)\" is not MM-DD, N-ddd-MM or last-ddd-MM (optionally +Nd or -Nd, N at most \(DayRule.maxOffsetDays))")
                    continue
                }
                guard let lastDay = DayRule(last.value) else {
                    log.error(file, record.line, last.column, "last_day \"\(last.value)\" is not MM-DD, N-ddd-MM or last-ddd-MM (optionally +Nd or -Nd, N at most \(DayRule.maxOffsetDays))")
                    continue
                }
                schedule = RuleSchedule(period: period, yearly: (firstDay, lastDay))
                // Every year the law covers must give a first day on or before its last day. Weekdays fall on the
                // same dates every 400 years, so 400 years from the start stand for any longer period.
                let years = period.from.year...max(period.from.year, min(period.through.year, period.from.year + 399))
                var problem: String?
                for year in years where problem == nil {
                    guard let a = firstDay.date(in: year), let b = lastDay.date(in: year) else {
                        problem = "in \(year) the first day \(first.value) or the last day \(last.value) falls on no date (a fifth weekday the month lacks, or past 9999-12-31)"
                        continue
                    }
                    if a > b { problem = "in \(year) the first day \(first.value) does not come before the last day \(last.value)" }
                }
                if let problem {
                    log.error(file, record.line, first.column, problem)
                    continue
                }
            }
            // Older tables without the column are read as sure of every rule.
            var confidence = Confidence.high
            if table.has("confidence") {
                guard let stated = Self.confidence(table, record, log: &log) else { continue }
                confidence = stated
            }
            // Y: the holiday's limit is tested on the price with the article's share of the delivery charges (Texas).
            var priceIncludesDelivery = false
            if table.has("price_includes_delivery"), case let flag = table.field(record, "price_includes_delivery"), !flag.value.isEmpty {
                guard flag.value == "Y" || flag.value == "N" else {
                    log.error(file, record.line, flag.column, "price_includes_delivery \"\(flag.value.prefix(20))\" is not Y, N or blank")
                    continue
                }
                guard case .holiday = kind else {
                    log.error(file, record.line, flag.column, "price_includes_delivery is only for a holiday's price limit, not a \(kindName) rule")
                    continue
                }
                priceIncludesDelivery = flag.value == "Y"
            }
            rules.append(SpecialRule(id: id, state: state, codes: Set(codes), levels: Set(levels),
                                     counties: counties.flatMap { $0.isEmpty ? nil : Set($0) },
                                     jurisdictionCodes: jurisdictionCodes.map(Set.init), schedule: schedule, kind: kind,
                                     provenance: provenance, confidence: confidence, priceIncludesDelivery: priceIncludesDelivery))
        }
        return rules
    }

    /// A rule's counties are counties of its state that have a ZIP in local/zip5.csv: another state's county, or an
    /// unknown code, would make the rule apply nowhere, silently (probe #18).
    static func checkRuleCounties(_ named: [RuleCounties], zip5: [Zip5Record], log: inout DiagnosticLog) {
        guard !named.isEmpty else { return }
        var counties: [StateCode: Set<String>] = [:]
        for record in zip5 { if let county = record.countyFIPS { counties[record.state, default: []].insert(county) } }
        for entry in named {
            for county in entry.counties where !(counties[entry.state]?.contains(county) ?? false) {
                log.error("rules.csv", entry.line, entry.column, "county \(county.prefix(16)) has no ZIP of \(entry.state) in local/zip5.csv")
            }
        }
    }

    /// A town scope is for a town the ZIP5 table does not name: one it answers as a region of the county is scoped as
    /// a city, and a county without a ZIP of the state would match no address.
    static func checkTownScopes(_ rows: [(StateCode, PlaceScope, Int)], file: String, zip5: Zip5Index, log: inout DiagnosticLog) {
        let placesColumn = 4, countiesColumn = 5
        var counties: [StateCode: Set<String>]?
        for (state, scope, line) in rows where scope.kind == .town {
            if counties == nil {
                var found: [StateCode: Set<String>] = [:]
                for record in zip5.allRecords { if let county = record.countyFIPS { found[record.state, default: []].insert(county) } }
                counties = found
            }
            for county in scope.counties.sorted() where !(counties?[state]?.contains(county) ?? false) {
                log.error(file, line, countiesColumn, "county \(county) has no ZIP of \(state) in local/zip5.csv")
            }
            for town in scope.places.sorted() {
                for county in scope.counties.sorted() where zip5.answersPlace(town, state: state, county: county) {
                    log.error(file, line, placesColumn, "\(town) is a place of the ZIP5 table in county \(county): scope it as a city")
                }
            }
        }
    }

    /// The codes of the general local jurisdictions (ZIP5 records and corrections) of the given states.
    static func localCodes(of states: Set<StateCode>, zip5: [Zip5Record], corrections: [LocalCorrection]) -> [StateCode: Set<String>] {
        var known: [StateCode: Set<String>] = [:]
        for record in zip5 where states.contains(record.state) {
            for local in record.locals { known[record.state, default: []].insert(local.jurisdiction.code) }
        }
        for correction in corrections where states.contains(correction.state) {
            known[correction.state, default: []].insert(correction.jurisdiction.code)
        }
        return known
    }

    /// A rule that names a jurisdiction no ZIP5 record or correction of its state has would silently limit nothing.
    static func checkRuleJurisdictions(_ named: [RuleJurisdictions], zip5: [Zip5Record], corrections: [LocalCorrection],
                                       log: inout DiagnosticLog) {
        guard !named.isEmpty else { return }
        let known = localCodes(of: Set(named.map(\.state)), zip5: zip5, corrections: corrections)
        for entry in named {
            for code in entry.codes.sorted() where !(known[entry.state]?.contains(code) ?? false) {
                log.error("rules.csv", entry.line, entry.column, "jurisdiction_code \"\(code)\" is not a local jurisdiction of \(entry.state) in local/zip5.csv or local/corrections.csv")
            }
        }
    }

    /// A tax with its own base is a jurisdiction of its own: its code must not be one the state's general local
    /// taxes use, since the ledger and the exports tell a line's taxes apart by code (Cook County's amusement tax
    /// under the county's FIPS 17031 was reported twice beside the county's sales tax).
    static func checkOwnBaseCodes(_ ownBase: [ScopedOwnBaseTax], zip5: [Zip5Record], corrections: [LocalCorrection], log: inout DiagnosticLog) {
        guard !ownBase.isEmpty else { return }
        let general = localCodes(of: Set(ownBase.map(\.state)), zip5: zip5, corrections: corrections)
        let codeColumn = 6
        for scoped in ownBase where general[scoped.state]?.contains(scoped.tax.jurisdiction.code) ?? false {
            log.error("local/local-taxes.csv", scoped.line, codeColumn, "jurisdiction_code \"\(scoped.tax.jurisdiction.code)\" is the code of a general local "
                      + "jurisdiction of \(scoped.state) (local/zip5.csv or local/corrections.csv): a tax with its own base needs a code of its own")
        }
    }

    static let zip5Columns = ["zip5", "state", "basis", "region", "county_fips", "county_name", "county_rate", "city_name", "city_rate",
                              "special_name", "special_rate", "effective_from", "effective_through", "source", "note"]
    /// Written by the converter after the required columns; read where present.
    static let zip5OptionalColumns = ["postal_city"]

    static func readZip5(_ bytes: [UInt8], states: Set<StateCode>, sources: Set<String>, witnesses: [Zip5Witness] = [],
                         log: inout DiagnosticLog) -> [Zip5Record] {
        let file = "local/zip5.csv"
        guard let table = CSVTable(file: file, bytes: bytes, required: zip5Columns, log: &log) else { return [] }
        let editions = editionsByState(witnesses)
        var citedSources: [String: String] = [:]
        var interner = JurisdictionInterner()
        var records: [Zip5Record] = []
        records.reserveCapacity(table.records.count)
        var periods = PeriodOverlaps<String>()
        for record in table.records {
            guard let zipText = table.text(record, "zip5", log: &log) else { continue }
            guard let zip = ZipCode(zipText), zip.plus4 == nil else {
                log.error(file, record.line, 1, "zip5 \"\(zipText)\" is not five digits")
                continue
            }
            guard let state = table.state(record, "state", log: &log),
                  let basis = table.text(record, "basis", log: &log),
                  let period = table.period(record, log: &log),
                  let source = table.text(record, "source", log: &log) else { continue }
            if !states.contains(state) { log.error(file, record.line, 2, "state \(state) is not in states.csv") }
            if !sources.isEmpty, !sources.contains(source) {
                log.error(file, record.line, table.field(record, "source").column, "source \"\(source)\" is not listed in sources.csv")
            }
            let precision: ResolutionPrecision
            switch basis {
            case "zip5": precision = .zip5
            case "county_fallback": precision = .countyFallback
            default:
                log.error(file, record.line, 3, "basis \"\(basis)\" is not zip5 or county_fallback")
                continue
            }
            periods.add("\(state) zip5 \(zipText)", period, line: record.line)
            let region = table.field(record, "region").value
            let countyFIPS = table.field(record, "county_fips").value
            var locals: [LocalRate] = []
            var failed = false
            for (level, nameColumn, rateColumn) in [(JurisdictionLevel.county, "county_name", "county_rate"),
                                                    (.city, "city_name", "city_rate"), (.special, "special_name", "special_rate")] {
                let name = table.field(record, nameColumn).value
                guard let rate = table.rate(record, rateColumn, optional: true, log: &log) else {
                    if !table.field(record, rateColumn).value.isEmpty { failed = true }
                    continue
                }
                if rate.isZero { continue }
                if name.isEmpty {
                    log.error(file, record.line, table.field(record, nameColumn).column, "\(nameColumn) is blank but \(rateColumn) is \(rate.fractionString)")
                    failed = true
                    continue
                }
                // Combined districts are named after the ZIP's tax region, so their code comes from it too.
                let code = switch level {
                case .county where !countyFIPS.isEmpty: countyFIPS
                case .special where !region.isEmpty: JurisdictionCodes.levy(state, level, region)
                default: JurisdictionCodes.levy(state, level, name)
                }
                locals.append(LocalRate(jurisdiction: interner.intern(level: level, state: state, name: name, code: code),
                                        intrastate: rate))
            }
            if failed { continue }
            let warning = precision == .countyFallback
                ? "ZIP \(zipText) has no rate record of its own; the most common local rates of its county were used"
                : nil
            let countyName = table.field(record, "county_name").value
            let cityName = table.field(record, "city_name").value
            // Optional (tables converted before it was added have none).
            let postalCity = table.has("postal_city") ? table.field(record, "postal_city").value : ""
            records.append(Zip5Record(zip: zip, state: state, countyFIPS: countyFIPS.isEmpty ? nil : countyFIPS,
                                      countyName: countyName.isEmpty ? nil : countyName, region: region, cityName: cityName.isEmpty ? nil : cityName,
                                      postalCity: postalCity.isEmpty ? nil : postalCity, locals: locals, period: period, precision: precision,
                                      source: citedSource(source, state: state, zip: zip.zip5, witnesses: editions, cache: &citedSources), warning: warning))
        }
        for clash in periods.clashes() {
            log.error(file, clash.reported.line, table.number(of: "effective_from"),
                      "\(clash.reported.key) period \(clash.reported.period) overlaps line \(clash.other.line)")
        }
        return records
    }

    /// Every state with a sales tax must say, for every Levy code, whether it is taxable: a gap in the table
    /// would otherwise surface as a failed quote at checkout.
    static func checkCoverage(states: [StateProfile], taxability: [TaxabilityEntry], log: inout DiagnosticLog) {
        var covered = Set<String>()
        for entry in taxability { covered.insert("\(entry.state)/\(entry.code.rawValue)") }
        for profile in states {
            let missing = ProductTaxCode.allCases.filter { !covered.contains("\(profile.state)/\($0.rawValue)") }
            if !missing.isEmpty {
                log.error("taxability.csv", 0, nil,
                          "\(profile.state) has no taxability entry for \(missing.map(\.rawValue).joined(separator: ", "))")
            }
        }
    }
}
