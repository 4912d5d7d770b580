import Foundation
import TaxCore

/// The optional files of a table set beyond the base ones, and how they turn the ZIP5 estimate into the shipped
/// answer: official files where they cover a place and a date, dated corrections, local taxes with their own
/// base, third-party coupon rules and the sources' verified-through dates.
extension CanonicalTables {
    /// Optional files, read when present and digested with the others.
    static let optionalFiles = ["local/corrections.csv", "local/local-taxes.csv", "coupons.csv", "brackets.csv", "official/files.csv", sstPlaceNamesFile,
                                 zip5WitnessesFile, electionsFile, regionalDistrictsFile]
    static let regionalDistrictsFile = "local/regional-districts.csv"
    static let electionsFile = "elections.csv"

    /// One official file the shipped tables carry verbatim (`official/files.csv`).
    public struct ShippedOfficialFile: Sendable {
        public var file: String
        public var kind: OfficialFile.Kind
        public var state: StateCode
        /// California CDTFA files carry no dates: the day the file's rates took effect.
        public var effectiveFrom: TaxDate?
        /// Dates back to this day take the file's first rates (the changes in between are corrections).
        public var carriedBackFrom: TaxDate?
        public var source: String
        public var line: Int
        /// The bytes of a file imported into a table version (`levy tables import`), which stands in for the
        /// shipped file of its kind and state or joins it (`replacing`); nil for a shipped file, read from `official/`.
        public var imported: [UInt8]?
    }

    /// The shipped list of official files with imported ones added. An imported SST or IDOR file takes the place of
    /// the shipped file of its kind and state (it carries its own history); an imported place-rate file (WA DOR,
    /// CDTFA) joins the shipped ones of its kind and state, each answering its own dates (`PlaceFileSuccession`),
    /// unless it has the same name. An imported file answers from its own dates only (no carrying back) under its
    /// kind as source.
    static func replacing(_ official: [ShippedOfficialFile], with imported: [(OfficialFile, [UInt8])]) -> [ShippedOfficialFile] {
        var result = official.filter { entry in
            !imported.contains { file in
                file.0.kind == entry.kind && file.0.state == entry.state.code && (!entry.kind.isPlaceRates || file.0.name == entry.file)
            }
        }
        for (file, bytes) in imported {
            guard let state = StateCode(file.state) else { continue }
            result.append(ShippedOfficialFile(file: file.name, kind: file.kind, state: state, effectiveFrom: file.effectiveFrom.flatMap(TaxDate.init(iso:)),
                                              carriedBackFrom: nil, source: file.kind.rawValue, line: 0, imported: bytes))
        }
        return result
    }

    /// The official files a tables folder ships (`official/files.csv`), with their bytes, as `TableDiff` compares
    /// them: what a table version's imported files are set beside. Rows the tables' own load refuses are skipped
    /// (it says why); empty when the folder lists none.
    public static func shippedOfficialFiles(directory: String) -> [(OfficialFile, [UInt8])] {
        guard case .success(let list) = TableFileReader.read(directory + "/official/files.csv") else { return [] }
        var log = DiagnosticLog()
        guard let table = CSVTable(file: "official/files.csv", bytes: list, required: ["file", "kind", "state", "effective_from"], log: &log) else { return [] }
        var result: [(OfficialFile, [UInt8])] = []
        for record in table.records {
            guard let name = table.text(record, "file", log: &log), !name.contains("/"), !name.contains(".."),
                  let kind = table.text(record, "kind", log: &log).flatMap(OfficialFile.Kind.init(rawValue:)),
                  let state = table.state(record, "state", log: &log),
                  case .success(let bytes) = TableFileReader.read(directory + "/official/" + name) else { continue }
            let from = table.date(record, "effective_from", default: TaxDate.distantPast, log: &log) ?? .distantPast
            result.append((OfficialFile(kind: kind, state: state.code, name: name, sha256: OfficialTables.sha256(bytes),
                                        effectiveFrom: from == .distantPast ? nil : from.iso), bytes))
        }
        return result
    }

    // MARK: - Readers

    static func readOfficialList(_ bytes: [UInt8], states: Set<StateCode>, sources: Set<String>, log: inout DiagnosticLog) -> [ShippedOfficialFile] {
        let file = "official/files.csv"
        guard let table = CSVTable(file: file, bytes: bytes, required: ["file", "kind", "state", "effective_from", "carried_back_from", "source", "note"],
                                   log: &log) else { return [] }
        var result: [ShippedOfficialFile] = []
        for record in table.records {
            guard let name = table.text(record, "file", log: &log), let kindText = table.text(record, "kind", log: &log),
                  let state = table.state(record, "state", log: &log), let source = table.text(record, "source", log: &log) else { continue }
            guard !name.contains("/"), !name.contains(".."), let kind = OfficialFile.Kind(rawValue: kindText) else {
                log.error(file, record.line, nil, "\(name): a plain file name and a kind of \(OfficialFile.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
                continue
            }
            if !states.contains(state) { log.error(file, record.line, table.field(record, "state").column, "state \(state) is not in states.csv") }
            if !sources.contains(source) { log.error(file, record.line, table.field(record, "source").column, "source \"\(source)\" is not listed in sources.csv") }
            let from = table.date(record, "effective_from", default: TaxDate.distantPast, log: &log)
            let back = table.date(record, "carried_back_from", default: TaxDate.distantPast, log: &log)
            result.append(ShippedOfficialFile(file: name, kind: kind, state: state, effectiveFrom: from == .distantPast ? nil : from,
                                              carriedBackFrom: back == .distantPast ? nil : back, source: source, line: record.line))
        }
        return result
    }

    static func scope(_ table: CSVTable, _ record: CSVReader.Record, log: inout DiagnosticLog) -> PlaceScope? {
        guard let kindText = table.text(record, "scope", log: &log) else { return nil }
        guard let kind = PlaceScope.Kind(rawValue: kindText) else {
            log.error(table.file, record.line, table.field(record, "scope").column,
                      "scope \"\(kindText)\" is not one of \(PlaceScope.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
            return nil
        }
        guard let places = table.list(record, "places", log: &log, parse: { $0.uppercased() }) else { return nil }
        let counties = table.list(record, "counties", required: false, log: &log) { $0 } ?? []
        if kind == .state {
            // The row's own state, so a row cannot reach into another state's addresses.
            let own = table.field(record, "state").value.uppercased()
            guard places == [own] else {
                log.error(table.file, record.line, table.field(record, "places").column, "a state scope's places is its row's state (\(own))")
                return nil
            }
            return PlaceScope(kind: kind, places: Set(places), counties: [])
        }
        if kind == .zip, let bad = places.first(where: { ZipCode($0) == nil || $0.count != 5 }) {
            log.error(table.file, record.line, table.field(record, "places").column, "\"\(bad)\" is not a ZIP5")
            return nil
        }
        if kind == .county, let bad = (places + counties).first(where: { $0.count != 5 || Int($0) == nil }) {
            log.error(table.file, record.line, table.field(record, "places").column, "\"\(bad)\" is not a five-digit county FIPS code")
            return nil
        }
        if kind == .town {
            // A town is known by its name within its county: the counties are what keeps a common name to one place.
            guard !counties.isEmpty, counties.allSatisfy({ $0.count == 5 && Int($0) != nil }) else {
                log.error(table.file, record.line, table.field(record, "counties").column, "a town scope needs its counties as five-digit FIPS codes")
                return nil
            }
            return PlaceScope(kind: kind, places: Set(places.map(PlaceNameKey.of)), counties: Set(counties))
        }
        return PlaceScope(kind: kind, places: Set(places), counties: Set(counties))
    }

    static func sourcesExist(_ table: CSVTable, _ record: CSVReader.Record, known: Set<String>, log: inout DiagnosticLog) -> Provenance? {
        guard let source = table.text(record, "source", log: &log) else { return nil }
        for id in source.split(separator: ";").map(String.init) where !known.contains(id) {
            log.error(table.file, record.line, table.field(record, "source").column, "source \"\(id)\" is not listed in sources.csv")
            return nil
        }
        let asOf = table.date(record, "as_of", default: .distantPast, log: &log)
        return Provenance(source: source, asOf: asOf == .distantPast ? nil : asOf, note: table.field(record, "note").value)
    }

    static func confidence(_ table: CSVTable, _ record: CSVReader.Record, log: inout DiagnosticLog) -> Confidence? {
        guard let text = table.text(record, "confidence", log: &log) else { return nil }
        guard let confidence = Confidence(rawValue: text) else {
            log.error(table.file, record.line, table.field(record, "confidence").column, "confidence \"\(text)\" is not high, medium or low")
            return nil
        }
        return confidence
    }

    static func readCorrections(_ bytes: [UInt8], states: Set<StateCode>, sources: Set<String>, log: inout DiagnosticLog) -> [LocalCorrection] {
        let file = "local/corrections.csv"
        let columns = ["id", "state", "scope", "places", "counties", "op", "level", "jurisdiction_code", "jurisdiction_name", "rate",
                       "effective_from", "effective_through", "source", "as_of", "confidence", "note"]
        guard let table = CSVTable(file: file, bytes: bytes, required: columns, log: &log) else { return [] }
        var ids = Set<String>()
        var interner = JurisdictionInterner()
        var result: [LocalCorrection] = []
        for record in table.records {
            guard let id = table.text(record, "id", log: &log), let state = table.state(record, "state", log: &log),
                  let scope = scope(table, record, log: &log), let opText = table.text(record, "op", log: &log),
                  let levelText = table.text(record, "level", log: &log), let code = table.text(record, "jurisdiction_code", log: &log),
                  let name = table.text(record, "jurisdiction_name", log: &log),
                  // A `use` row gives only the use tax's rate: its sales rate is the one the address has.
                  let rate = table.field(record, "op").value == "use" ? Rate(units: 0) : table.rate(record, "rate", log: &log),
                  let period = table.period(record, log: &log), let provenance = sourcesExist(table, record, known: sources, log: &log),
                  let confidence = confidence(table, record, log: &log) else { continue }
            if !ids.insert(id).inserted { log.error(file, record.line, 1, "correction id \"\(id)\" is used twice") }
            if !states.contains(state) { log.error(file, record.line, 2, "state \(state) is not in states.csv") }
            guard let operation = LocalCorrection.Operation(rawValue: opText) else {
                log.error(file, record.line, table.field(record, "op").column, "op \"\(opText)\" is not set, add or use")
                continue
            }
            if operation == .use, !table.field(record, "rate").value.isEmpty {
                log.error(file, record.line, table.field(record, "rate").column, "op use keeps the level's sales rates: leave rate blank")
                continue
            }
            guard let level = JurisdictionLevel(rawValue: levelText), level != .state else {
                log.error(file, record.line, table.field(record, "level").column, "level \"\(levelText)\" is not county, city or special")
                continue
            }
            // A local rate above 10% is a slip (a percentage written as a fraction's hundredfold), not a tax.
            func plausible(_ value: Rate, _ field: String) -> Bool {
                if value.units <= 1_000_000_000 { return true }
                log.error(file, record.line, table.field(record, field).column, "a local rate of \(value) is not plausible (at most 10%)")
                return false
            }
            guard plausible(rate, "rate") else { continue }
            // Optional: the use tax's own rate where it differs from the sales tax's, or `sales` where a source says
            // the use tax is levied at the sales rate (in a state where it need not be: a reviewed fact, not a default).
            var useRate: Rate?
            var useRateIsSalesRate = false
            if table.has("use_rate"), !table.field(record, "use_rate").value.isEmpty {
                if table.field(record, "use_rate").value == "sales" {
                    if operation == .use { useRateIsSalesRate = true } else { useRate = rate }
                } else {
                    guard let parsed = table.rate(record, "use_rate", log: &log), plausible(parsed, "use_rate") else { continue }
                    useRate = parsed
                }
            }
            if operation == .use, useRate == nil, !useRateIsSalesRate {
                log.error(file, record.line, table.number(of: "use_rate") ?? table.field(record, "op").column,
                          "op use needs a use_rate (0: no use tax; sales: at the sales rate)")
                continue
            }
            result.append(LocalCorrection(id: id, state: state, scope: scope, operation: operation, level: level,
                                          jurisdiction: interner.intern(level: level, state: state, name: name, code: code), rate: rate,
                                          useRate: useRate, useRateIsSalesRate: useRateIsSalesRate, period: period, provenance: provenance,
                                          confidence: confidence, line: record.line))
        }
        return result
    }

    static func readLocalTaxes(_ bytes: [UInt8], states: Set<StateCode>, sources: Set<String>, log: inout DiagnosticLog) -> [ScopedOwnBaseTax] {
        let file = "local/local-taxes.csv"
        let columns = ["id", "state", "scope", "places", "counties", "jurisdiction_code", "jurisdiction_name", "level", "rate", "codes",
                       "replaces_levels", "effective_from", "effective_through", "source", "as_of", "confidence", "note"]
        guard let table = CSVTable(file: file, bytes: bytes, required: columns, log: &log) else { return [] }
        var ids = Set<String>()
        var result: [ScopedOwnBaseTax] = []
        for record in table.records {
            guard let id = table.text(record, "id", log: &log), let state = table.state(record, "state", log: &log),
                  let scope = scope(table, record, log: &log), let code = table.text(record, "jurisdiction_code", log: &log),
                  let name = table.text(record, "jurisdiction_name", log: &log), let levelText = table.text(record, "level", log: &log),
                  let rate = table.rate(record, "rate", log: &log),
                  let codes = table.list(record, "codes", log: &log, parse: ProductTaxCode.init(rawValue:)),
                  let replaces = table.list(record, "replaces_levels", required: false, log: &log, parse: JurisdictionLevel.init(rawValue:)),
                  let period = table.period(record, log: &log), let provenance = sourcesExist(table, record, known: sources, log: &log),
                  confidence(table, record, log: &log) != nil else { continue }
            if !ids.insert(id).inserted { log.error(file, record.line, 1, "local tax id \"\(id)\" is used twice") }
            if !states.contains(state) { log.error(file, record.line, 2, "state \(state) is not in states.csv") }
            guard let level = JurisdictionLevel(rawValue: levelText), level != .state else {
                log.error(file, record.line, table.field(record, "level").column, "level \"\(levelText)\" is not county, city or special")
                continue
            }
            let jurisdiction = Jurisdiction(level: level, state: state, name: name, code: code)
            result.append(ScopedOwnBaseTax(state: state, scope: scope,
                                           tax: OwnBaseTax(id: id, jurisdiction: jurisdiction, rate: rate, codes: Set(codes),
                                                           replacesLevels: Set(replaces), period: period, provenance: provenance),
                                           line: record.line))
        }
        return result
    }

    static func readCoupons(_ bytes: [UInt8], states: Set<StateCode>, sources: Set<String>, log: inout DiagnosticLog) -> [StateCode: ThirdPartyCouponRule] {
        let file = "coupons.csv"
        guard let table = CSVTable(file: file, bytes: bytes, required: ["state", "third_party_reduces_base", "source", "as_of", "confidence", "note"],
                                   log: &log) else { return [:] }
        var result: [StateCode: ThirdPartyCouponRule] = [:]
        for record in table.records {
            guard let state = table.state(record, "state", log: &log), let flag = table.text(record, "third_party_reduces_base", log: &log),
                  let provenance = sourcesExist(table, record, known: sources, log: &log), let confidence = confidence(table, record, log: &log) else { continue }
            guard flag == "Y" || flag == "N" else {
                log.error(file, record.line, table.field(record, "third_party_reduces_base").column, "third_party_reduces_base is Y or N")
                continue
            }
            if !states.contains(state) { log.error(file, record.line, 1, "state \(state) is not in states.csv") }
            if result[state] != nil { log.error(file, record.line, 1, "\(state) is listed twice") }
            result[state] = ThirdPartyCouponRule(state: state, reducesBase: flag == "Y", confidence: confidence, provenance: provenance)
        }
        return result
    }

    /// `local/regional-districts.csv`: district taxes that span several counties, each county a FIPS code of its
    /// state; one code names one district.
    static func readRegionalDistricts(_ bytes: [UInt8], stateFIPS: [StateCode: String], sources: Set<String>, log: inout DiagnosticLog) -> [StateCode: [RegionalDistrict]] {
        let file = regionalDistrictsFile
        let columns = ["id", "state", "counties", "jurisdiction_code", "jurisdiction_name", "rate", "effective_from", "effective_through",
                       "source", "as_of", "confidence", "note"]
        guard let table = CSVTable(file: file, bytes: bytes, required: columns, log: &log) else { return [:] }
        var result: [StateCode: [RegionalDistrict]] = [:]
        var ids = Set<String>(), names: [String: String] = [:]
        for record in table.records {
            guard let id = table.text(record, "id", log: &log), let state = table.state(record, "state", log: &log),
                  let counties = table.list(record, "counties", log: &log, parse: { $0 }),
                  let code = table.text(record, "jurisdiction_code", log: &log), let name = table.text(record, "jurisdiction_name", log: &log),
                  let rate = table.rate(record, "rate", log: &log), let period = table.period(record, log: &log),
                  let provenance = sourcesExist(table, record, known: sources, log: &log), confidence(table, record, log: &log) != nil else { continue }
            if !ids.insert(id).inserted { log.error(file, record.line, 1, "regional district id \"\(id)\" is used twice") }
            guard let fips = stateFIPS[state] else {
                log.error(file, record.line, 2, "state \(state) is not in states.csv")
                continue
            }
            let column = table.field(record, "counties").column
            if let county = counties.first(where: { $0.utf8.count != 5 || !$0.utf8.allSatisfy { $0 >= 48 && $0 <= 57 } || !$0.hasPrefix(fips) }) {
                log.error(file, record.line, column, "county \"\(county.prefix(12))\" is not a five-digit FIPS code of \(state)")
                continue
            }
            guard counties.count >= 2 else {
                log.error(file, record.line, column, "a regional district spans two counties or more; a county's own district is in the place files")
                continue
            }
            if let other = names[state.code + "/" + code], other != name {
                log.error(file, record.line, table.field(record, "jurisdiction_code").column, "jurisdiction_code \(code) is \"\(other)\" on another line: one code names one district")
                continue
            }
            names[state.code + "/" + code] = name
            result[state, default: []].append(RegionalDistrict(id: id, jurisdiction: Jurisdiction(level: .special, state: state, name: name, code: code),
                                                               rate: rate, counties: Set(counties), period: period, provenance: provenance))
        }
        return result
    }

    /// `elections.csv`: the flat-rate programs a remote seller may elect, one row per program and period. A program
    /// that replaces the state's tax is a state-level tax; one that replaces only local taxes is a local one.
    static func readElections(_ bytes: [UInt8], states: Set<StateCode>, sources: Set<String>, log: inout DiagnosticLog) -> [StateCode: [RemoteSellerProgram]] {
        let file = electionsFile
        let columns = ["state", "type", "rate", "replaces", "level", "jurisdiction_code", "jurisdiction_name", "effective_from", "effective_through",
                       "source", "as_of", "confidence", "note"]
        guard let table = CSVTable(file: file, bytes: bytes, required: columns, log: &log) else { return [:] }
        var result: [StateCode: [RemoteSellerProgram]] = [:]
        var lines: [String: [(EffectivePeriod, Int)]] = [:]
        for record in table.records {
            guard let state = table.state(record, "state", log: &log), let type = table.text(record, "type", log: &log),
                  let rate = table.rate(record, "rate", log: &log),
                  let replaces = table.list(record, "replaces", log: &log, parse: JurisdictionLevel.init(rawValue:)),
                  let level = table.choice(record, "level", as: JurisdictionLevel.self, allowed: JurisdictionLevel.allCases, log: &log),
                  let code = table.text(record, "jurisdiction_code", log: &log), let name = table.text(record, "jurisdiction_name", log: &log),
                  let period = table.period(record, log: &log), let provenance = sourcesExist(table, record, known: sources, log: &log),
                  let confidence = confidence(table, record, log: &log) else { continue }
            if !states.contains(state) { log.error(file, record.line, 1, "state \(state) is not in states.csv") }
            // The request names a program by this word: letters, digits and underscores, as the contract accepts.
            guard RemoteSellerElection.isValidType(type) else {
                log.error(file, record.line, table.field(record, "type").column, "type \"\(type)\" is not 1 to 40 lower-case letters, digits or underscores")
                continue
            }
            guard rate.units > 0, rate.units <= 2_000_000_000 else {
                log.error(file, record.line, table.field(record, "rate").column, "a program rate of \(rate) is not plausible (above 0, at most 20%)")
                continue
            }
            guard replaces.contains(.state) == (level == .state) else {
                log.error(file, record.line, table.field(record, "level").column,
                          "level \(level.rawValue) does not fit replaces: a program that replaces the state's tax is a state-level tax, one that replaces only local taxes a local one")
                continue
            }
            let key = state.code + "|" + type
            if let clash = lines[key]?.first(where: { $0.0.overlaps(period) }) {
                log.error(file, record.line, table.field(record, "effective_from").column, "\(state) \(type) period \(period) overlaps line \(clash.1)")
                continue
            }
            lines[key, default: []].append((period, record.line))
            result[state, default: []].append(RemoteSellerProgram(
                state: state, type: type, rate: rate, replaces: Set(replaces),
                jurisdiction: Jurisdiction(level: level, state: state, name: name, code: code), period: period,
                confidence: confidence, provenance: provenance))
        }
        return result
    }

    /// `brackets.csv`: one row per bracket of a state's statutory schedule for a rate (`BracketSchedule`). Rows of
    /// one schedule share state, levels, rate and dates; `part` says whether the bracket prices amounts under a
    /// dollar (`under_dollar`), the cents above whole dollars (`fraction`) or both (`both`).
    static func readBrackets(_ bytes: [UInt8], states: Set<StateCode>, sources: Set<String>, log: inout DiagnosticLog) -> [StateCode: [BracketSchedule]] {
        let file = "brackets.csv"
        guard let table = CSVTable(file: file, bytes: bytes, required: ["state", "levels", "rate", "part", "from_cents", "through_cents", "tax_cents",
                                                                         "effective_from", "effective_through", "source", "as_of", "confidence", "note"],
                                   log: &log) else { return [:] }
        var schedules: [BracketSchedule] = []
        var lines: [Int: Int] = [:]   // a schedule's index -> its first line
        for record in table.records {
            guard let state = table.state(record, "state", log: &log),
                  let levels = table.choice(record, "levels", as: BracketSchedule.Levels.self, allowed: BracketSchedule.Levels.allCases, log: &log),
                  let rate = table.rate(record, "rate", log: &log), let period = table.period(record, log: &log),
                  let partText = table.text(record, "part", log: &log),
                  let provenance = sourcesExist(table, record, known: sources, log: &log), let confidence = confidence(table, record, log: &log) else { continue }
            if !states.contains(state) { log.error(file, record.line, 1, "state \(state) is not in states.csv") }
            guard ["under_dollar", "fraction", "both"].contains(partText) else {
                log.error(file, record.line, table.field(record, "part").column, "part \"\(partText)\" is not one of under_dollar, fraction, both")
                continue
            }
            guard BracketSchedule.centsPerDollar(rate) != nil, !rate.isZero else {
                log.error(file, record.line, table.field(record, "rate").column, "rate \(rate.fractionString) is not a whole number of cents on each dollar")
                continue
            }
            var numbers: [Int64] = []
            for column in ["from_cents", "through_cents", "tax_cents"] {
                let field = table.field(record, column)
                guard let value = SSTFields.integer(field.value, digits: 1...2).map(Int64.init) else {
                    log.error(file, record.line, field.column, "\(column) \"\(field.value)\" is not a number of cents from 0 to 99")
                    break
                }
                numbers.append(value)
            }
            guard numbers.count == 3 else { continue }
            guard numbers[0] <= numbers[1] else {
                log.error(file, record.line, table.field(record, "through_cents").column, "through_cents \(numbers[1]) is below from_cents \(numbers[0])")
                continue
            }
            let bracket = BracketSchedule.Bracket(cents: numbers[0]...numbers[1], tax: numbers[2])
            let sameSchedule = { (other: BracketSchedule) in other.state == state && other.levels == levels && other.rate == rate }
            var index = schedules.firstIndex { sameSchedule($0) && $0.period == period }
            if index == nil {
                if let other = schedules.firstIndex(where: { sameSchedule($0) && $0.period.overlaps(period) }) {
                    log.error(file, record.line, table.field(record, "effective_from").column,
                              "\(state) \(levels.rawValue) \(rate.percentString)% schedule dated \(period) overlaps the one of line \(lines[other] ?? 0)")
                    continue
                }
                schedules.append(BracketSchedule(state: state, levels: levels, rate: rate, period: period, underDollar: [], fraction: [],
                                                 confidence: confidence, provenance: provenance))
                index = schedules.count - 1
                lines[schedules.count - 1] = record.line
            }
            guard let index else { continue }
            for part in partText == "both" ? ["under_dollar", "fraction"] : [partText] {
                let existing = part == "under_dollar" ? schedules[index].underDollar : schedules[index].fraction
                if let clash = existing.first(where: { $0.cents.overlaps(bracket.cents) }) {
                    log.error(file, record.line, table.field(record, "from_cents").column,
                              "cents \(bracket.cents.lowerBound)-\(bracket.cents.upperBound) overlap the bracket \(clash.cents.lowerBound)-\(clash.cents.upperBound) of the same schedule")
                    continue
                }
                if part == "under_dollar" { schedules[index].underDollar.append(bracket) } else { schedules[index].fraction.append(bracket) }
            }
        }
        return Dictionary(grouping: schedules, by: \.state)
    }

    // MARK: - ZIP5 records

    /// Each ZIP's earliest record starts at `from` instead (the table carried back, its own date kept so quotes
    /// before it say so).
    static func carryBack(_ records: [Zip5Record], to from: TaxDate) -> [Zip5Record] {
        var earliest: [String: TaxDate] = [:]
        for record in records {
            let key = record.state.code + record.zip.zip5String
            if earliest[key].map({ record.period.from < $0 }) ?? true { earliest[key] = record.period.from }
        }
        return records.map { record in
            let key = record.state.code + record.zip.zip5String
            guard record.period.from == earliest[key], from < record.period.from else { return record }
            return record.with(period: EffectivePeriod(from: from, through: record.period.through), locals: record.locals,
                               warning: record.warning, tableDate: record.period.from)
        }
    }

    /// Tax regions that are small districts (improvement, development, tourism districts, Illinois business
    /// districts "BD"/"BDD" and "BUSINESS DEVELOPMENT DISTRICT", Missouri and Kansas transportation development districts "TD"/"TL", which the
    /// table also writes after "TDD", and Louisiana's subdistricts): such a district covers
    /// only part of the ZIP named after it, so the ZIP is quoted with the rates of the place around it (the most
    /// common rates of the other ZIPs of its county and city), with a warning that the street address decides.
    static let districtWords: Set<String> = ["EDD", "CID", "TDD", "TD", "TL", "TOURISM", "BD", "BDD", "SUBDISTRICT"]
    static let districtPhrases = ["COMMUNITY IMPROVEMENT", "TRANSPORTATION DEVELOPMENT", "BUSINESS DISTRICT", "BUSINESS DEVELOPMENT DISTRICT", "IMPROVEMENT DISTRICT",
                                  "ECONOMIC DEVELOPMENT DISTRICT", "ECONOMIC OPPORTUNITY", "SANITARY DISTRICT"]

    /// District names the table shortens in one state: Missouri's community improvement districts written "COMM SP"
    /// ("KEARNEY WEST SIDE COMM SP" on 64060, Kearney's own ZIP, whose other ZIP 64048 has Kearney's rates without it).
    /// Its "... CTR SP" regions are left: Washington's 63090 has no other ZIP of the city to take rates from, and
    /// Alabama's "SPANISH FORT TOWN CTR SP" carries the town's own tax in the special level.
    static let shortDistrictPhrases: [String: [[String]]] = ["MO": [["COMM", "SP"]]]

    /// Whether a tax region names a small district: a word of `districtWords`, a phrase of `districtPhrases`, or
    /// (given its state) a phrase of `shortDistrictPhrases`.
    static func isDistrictRegion(_ region: String, state: String? = nil) -> Bool {
        let words = regionWords(region)
        return words.contains(where: districtWords.contains) || contains(words, anyOf: districtPhraseWords)
            || state.flatMap { shortDistrictPhrases[$0] }.map { contains(words, anyOf: $0) } == true
    }

    /// States whose special-district sales taxes are all address-specific, so that a special rate on any of their
    /// ZIP5 records is a district stacked on the ZIP, whatever its region is called. Kansas: its special
    /// jurisdictions are community improvement districts (K.S.A. 12-6a26 ff.), transportation development districts
    /// (K.S.A. 12-17,140 ff.) and STAR bond and redevelopment districts, each a development or a few blocks, listed by
    /// address range in KDOR Pub. KS-1700; the ZIP5 table stacks them on ZIPs named after the city alone
    /// ("MCPHERSON" 2%, "WICHITA" 67203 2%, "TOPEKA" 66607 2%).
    static let statesWithOnlyAddressSpecificDistricts: Set<String> = ["KS"]

    /// Tribal land: reservations, rancherias, pueblos, Indian colonies and communities, trust land, the special
    /// jurisdictions of tribal-state agreements. The ZIP5 table adds a tribal tax to the state's and county's
    /// there (Reno-Sparks Indian Colony 8.625% on 89431, all of Sparks; Oneida Indian Reservation 8.75%), though
    /// tribal taxes follow their own rules (they replace the state's tax under some agreements, reach only some
    /// sellers or buyers, are not the state's to collect).
    static let tribalWords: Set<String> = ["RESERVATION", "RANCHERIA", "PUEBLOS"]
    static let tribalPhrases = ["INDIAN COLONY", "INDIAN COMMUNITY", "INDIAN TRIBE", "TRIBAL AREA", "SPECIAL JURISDICTION", "TRUST LAND",
                                "NAVAJO NATION", "PUEBLO OF", "PUEBLO DE", "CLARA GRANT"].map { $0.split(separator: " ").map(String.init) }

    /// Whether a tax region is tribal land: a word of `tribalWords`, a phrase of `tribalPhrases`, or PUEBLO after
    /// a pueblo's name ("LAGUNA PUEBLO"; the city of Pueblo, Colorado is the region "PUEBLO").
    static func isTribalRegion(_ region: String) -> Bool {
        let words = regionWords(region)
        return words.contains(where: tribalWords.contains) || contains(words, anyOf: tribalPhrases) || words.dropFirst().contains("PUEBLO")
    }

    /// A region's words, upper-case letters only. Read byte by byte (the names are ASCII): this runs for every
    /// ZIP5 record at load.
    static func regionWords(_ region: String) -> [String] {
        var words: [String] = []
        var current: [UInt8] = []
        for byte in region.utf8 {
            let upper = byte >= 97 && byte <= 122 ? byte - 32 : byte
            if upper >= 65 && upper <= 90 {
                current.append(upper)
            } else if !current.isEmpty {
                words.append(String(decoding: current, as: UTF8.self))
                current.removeAll(keepingCapacity: true)
            }
        }
        if !current.isEmpty { words.append(String(decoding: current, as: UTF8.self)) }
        return words
    }

    static func contains(_ words: [String], anyOf phrases: [[String]]) -> Bool {
        phrases.contains { phrase in
            phrase.count <= words.count && (0...(words.count - phrase.count)).contains { words[$0..<($0 + phrase.count)].elementsEqual(phrase) }
        }
    }

    static let districtPhraseWords = districtPhrases.map { $0.split(separator: " ").map(String.init) }

    /// Districts and tribal land quoted with the rates around them. A ZIP of tribal land (by its region or its
    /// postal city: 87034 is "PUEBLO OF ACOMA" under the region CIBOLA) takes the most common
    /// rates of its county's ZIPs without a city rate (tribal land is rarely inside a city); so does a ZIP whose
    /// rates are those of a tribal ZIP of its county where they differ from the county's own (89502, central Reno,
    /// carries the colony's rates under the region "RENO E").
    static func separateDistricts(_ records: [Zip5Record]) -> (records: [Zip5Record], straddling: Int) {
        // `stackedDistricts`: a record with special districts in a state whose districts are all address-specific
        // (`statesWithOnlyAddressSpecificDistricts`), under the place's own region or under the district's where the
        // record names a real city: its county and city rates are that city's ("BASEHOR ONE58 PLAZA CID" is Basehor's,
        // where the county's most common rates would name Easton). A district region whose city name is the district's
        // own ("Overland Park Ranch Mart South Cid Sp") is a district as elsewhere: the rates and names around it.
        enum Kind { case place, district, stackedDistricts, tribal }
        var names = RegionNameKinds()
        var kinds = records.map { record -> Kind in
            let district = names.isDistrict(record.region, state: record.state.code)
            if statesWithOnlyAddressSpecificDistricts.contains(record.state.code), record.hasSpecialRate,
               !district || record.cityName.map({ !isDistrictRegion($0) }) == true {
                return .stackedDistricts
            }
            return district ? .district
                : names.isTribal(record.region) || record.postalCity.map({ names.isTribal($0) }) == true ? .tribal : .place
        }
        var byCounty: [String: [Zip5Record]] = [:]
        for (record, kind) in zip(records, kinds) where kind == .place && record.precision == .zip5 {
            if let county = record.countyFIPS { byCounty[record.state.code + county, default: []].append(record) }
        }
        // Rates that only tribal land has in its county, above the county's own, mark the other ZIPs the table gave them.
        func total(_ record: Zip5Record) -> Int64 { record.locals.reduce(0) { $0 + $1.intrastate.units } }
        var tribalRates = Set<String>()
        for (record, kind) in zip(records, kinds) where kind == .tribal {
            guard let county = record.countyFIPS, let siblings = byCounty[record.state.code + county],
                  let common = Zip5Index.mostCommonRates(siblings), total(record) > total(common) else { continue }
            tribalRates.insert(record.state.code + county + "|" + Zip5Index.ratesKey(record).joined(separator: ","))
        }
        if !tribalRates.isEmpty {
            for i in records.indices where kinds[i] == .place && records[i].precision == .zip5 {
                guard let county = records[i].countyFIPS, tribalRates.contains(records[i].state.code + county + "|" + Zip5Index.ratesKey(records[i]).joined(separator: ",")) else { continue }
                kinds[i] = .tribal
            }
            byCounty = [:]
            for (record, kind) in zip(records, kinds) where kind == .place && record.precision == .zip5 {
                if let county = record.countyFIPS { byCounty[record.state.code + county, default: []].append(record) }
            }
        }
        var straddling = 0
        // City names as compared (spelling of "ST."/"SAINT" aside), worked out once per name.
        var cityKeys: [String: String] = [:]
        func cityKey(_ name: String) -> String {
            if let key = cityKeys[name] { return key }
            let key = PlaceNameKey.spaced(PlaceRateResolver.normalized(name))
            cityKeys[name] = key
            return key
        }
        let result = zip(records, kinds).map { record, kind -> Zip5Record in
            guard kind != .place else { return record }
            if kind == .stackedDistricts {
                // A city's own ZIP in a state whose districts are all address-specific: its county and city rates are the
                // city's, so only the districts go (McPherson's 67460 is 9.5%, not 11.5%; Gardner's 66030 keeps Gardner's 1.5%).
                straddling += 1
                let warning = "zip_straddles_jurisdictions: the ZIP5 table adds special districts to ZIP \(record.zip.zip5String) (\(record.region)), but "
                    + "\(record.state.code)'s special districts (community improvement, transportation development, STAR bond) cover single "
                    + "developments; its county and city rates were used without them; a ZIP+4 or street address would decide"
                let combined = [record.warning, warning].compactMap { $0 }.joined(separator: "; ")
                return record.with(period: record.period, locals: record.locals.filter { $0.jurisdiction.level != .special },
                                   warning: combined, tableDate: record.tableDate)
            }
            guard let county = record.countyFIPS, let siblings = byCounty[record.state.code + county] else { return record }
            let pool: [Zip5Record]
            // Whether the pool is a named city's ZIPs (its own or its postal city's), not the county's at large.
            var cityPool = false
            if kind == .tribal {
                // The postal city's other ZIPs (87301 is Gallup's), else the county outside cities.
                let postal = record.postalCity.map(PlaceRateResolver.normalized)
                let postalCity = postal.map { city in siblings.filter { PlaceRateResolver.normalized($0.region) == city } } ?? []
                let outsideCities = siblings.filter { !$0.hasCityRate }
                pool = !postalCity.isEmpty ? postalCity : outsideCities.isEmpty ? siblings : outsideCities
            } else if let city = record.cityName.map(cityKey),
                      case let sameCity = siblings.filter({ $0.cityName.map(cityKey) == city }), !sameCity.isEmpty {
                // The district's own city ("SAINT JOSEPH GATEWAY TL" is in the city the table also spells ST. JOSEPH).
                pool = sameCity
                cityPool = true
            } else if let postal = record.postalCity.map(cityKey),
                      case let postalCity = siblings.filter({ $0.cityName.map(cityKey) == postal }), !postalCity.isEmpty,
                      !record.hasCityRate || cityKey(record.region).hasPrefix(postal + " ") {
                // The postal city's, where the district has no city rate of its own (Louisiana's parishes put every local
                // tax in the special level: "UNIVERSITY OF LOUISIANA AT LAFAYETTE EDD" is Lafayette's) or its region
                // begins with the postal city's name ("ST JOSEPH THE SHOPPES AT NORTH VILLAGE ...").
                pool = postalCity
                cityPool = true
            } else {
                // Else the county's most common rates (a city the table names nowhere else is often the county's main one).
                pool = siblings
            }
            guard var common = Zip5Index.mostCommonRates(pool) else { return record }
            var around = "the rates of the surrounding \(common.cityName ?? common.region) area were used"
            if kind == .district, record.hasCityRate, !common.hasCityRate || !cityPool {
                // The district is inside a city, and the county's most common rates are outside cities ("ST CLAIR I 44 HWY
                // 47 TL", the only St. Clair ZIP) or another city's (REPUBLIC FARM ROAD 93 CID on Republic's only ZIP, in a
                // county whose most common rates are Springfield's; SHERMAN RAIL POINTE BUSINESS DEVELOPMENT DISTRICT in
                // Springfield's county): its county's and city's rates stay, with the special districts most common
                // outside the county's cities (county-wide ones, not another city's) in place of its own.
                let outsideCities = Zip5Index.mostCommonRates(siblings.filter { !$0.hasCityRate }) ?? common
                let specials = (common.hasCityRate ? outsideCities : common).locals.filter { $0.jurisdiction.level == .special }
                let locals = record.locals.filter { $0.jurisdiction.level != .special } + specials
                common = record.with(period: record.period, locals: locals, warning: nil, tableDate: record.tableDate)
                around = "its county and city rates were used with the special districts most common in its county outside cities"
            }
            // A district or tribal land only loses a tax the table stacked on it: the rates around it are never
            // higher (Apache County's Navajo ZIPs outnumber the others; an Illinois village's business district
            // sits in a county whose most common rates are a larger city's).
            if total(common) >= total(record) {
                // A district the table gives exactly its city's rates adds no tax of its own: the rates are the city's, and
                // so are their names and codes (a "... COMMUNITY IMPROVEMENT DISTRICT" region otherwise names the city's tax).
                if kind == .district, cityPool, Zip5Index.ratesKey(common) == Zip5Index.ratesKey(record),
                   common.locals.map(\.jurisdiction.code) != record.locals.map(\.jurisdiction.code) {
                    return record.withRates(of: common, cityName: common.cityName, warning: nil)
                }
                return record
            }
            straddling += 1
            let countyName = record.countyName ?? "county \(county)"
            let warning = kind == .tribal
                ? "zip_straddles_jurisdictions: ZIP \(record.zip.zip5String)'s tax region \(record.region) in the ZIP5 table is tribal land or carries its rates; "
                    + "the rates of \(common.cityName ?? countyName) outside tribal land were used, without tribal taxes (they follow their own rules); "
                    + "a ZIP+4 or street address would decide"
                : "zip_straddles_jurisdictions: ZIP \(record.zip.zip5String)'s tax region \(record.region) is a district that covers only part of the ZIP; "
                    + "\(around), without the district; a ZIP+4 or street address would decide"
            return record.withRates(of: common, cityName: common.cityName, warning: warning)
        }
        return (result, straddling)
    }

    /// A ZIP whose tax region the ZIP5 table names after a place of another county (the Census crosswalk puts
    /// 80012, Aurora, in Arapahoe County; its region DENVER is in Denver County on most of the ZIPs that name it)
    /// carries that place's rates, which are wrong for the ZIP. It is quoted with the rates of its postal city's
    /// other ZIPs in its own county, else (in a state where city rates are rare) the most common rates of its
    /// county's places without one, with a warning. A region named after
    /// the postal city itself (Carrollton, a city in three counties) is kept. A region that names a county (WALTON
    /// for 30019, Dacula, in Gwinnett County) is that county's, unless a postal city of the ZIP's county has its name.
    static func relocateCrossCountyRegions(_ records: [Zip5Record], townsTopUp: Set<String> = []) -> (records: [Zip5Record], relocated: Int) {
        let normalized = Zip5Index.normalizedPlace
        // Each record's region and county key once (the district test and the normalising are the costly parts).
        var names = RegionNameKinds()
        let regions = records.map { names.normalized($0.region) }
        let eligible = records.map { $0.precision == .zip5 && $0.countyFIPS != nil && $0.postalCity != nil && !names.isDistrict($0.region, state: $0.state.code) }
        var regionCounties: [String: [String: Int]] = [:]
        for i in records.indices where eligible[i] {
            regionCounties[records[i].state.code + "|" + regions[i], default: [:]][records[i].countyFIPS!, default: 0] += 1
        }
        // A region that is the name of a county of the state ("WALTON") and of no postal city in the ZIP's own county
        // is that county's area, however many ZIPs of other counties the table gives it.
        // County names compare without spaces, dots or the spelling of "ST" ("DE SOTO" is DeSoto County, "SAINT
        // LUCIE" St. Lucie County); each name's key is worked out once (regions repeat across thousands of ZIPs).
        var nameKeys: [String: String] = [:]
        func countyNameKey(_ state: String, _ name: String) -> String {
            if let key = nameKeys[name] { return state + "|" + key }
            let key = PlaceNameKey.of(name)
            nameKeys[name] = key
            return state + "|" + key
        }
        var countiesByName: [String: String] = [:]
        var postalCities = Set<String>()
        for record in records {
            guard let county = record.countyFIPS else { continue }
            if let name = record.countyName.map(PlaceRateFile.countyKey) { countiesByName[countyNameKey(record.state.code, name)] = county }
            if let postal = record.postalCity { postalCities.insert(record.state.code + "|" + county + "|" + normalized(postal)) }
        }
        // The county a region names: the whole region ("WALTON"), or the words before "CO" in a county district's
        // name ("HARALSON CO TSPLOST TR" on 30108, Bowdon, in Carroll County; "PRINCE WILLIAM CO SP" in Fauquier).
        func namedCounty(_ region: String, _ state: String) -> String? {
            if countiesByName[countyNameKey(state, region)] != nil { return region }
            guard let range = region.range(of: " CO "), range.lowerBound > region.startIndex else {
                return region.hasSuffix(" CO") ? String(region.dropLast(3)) : nil
            }
            return String(region[..<range.lowerBound])
        }
        // A region named after another county's district ("GOODHUE CO TR") or the county itself ("LAURENS" on 29654,
        // Honea Path, in Anderson County) says the ZIP carries that county's taxes outside its cities.
        var namesADistrict = [Bool](repeating: false, count: records.count)
        var namesACounty = [Bool](repeating: false, count: records.count)
        let elsewhere = records.indices.map { i -> Bool in
            guard eligible[i], let county = records[i].countyFIPS, let counts = regionCounties[records[i].state.code + "|" + regions[i]],
                  let most = counts.values.max() else { return false }
            let state = records[i].state.code
            if let name = namedCounty(regions[i], state), let named = countiesByName[countyNameKey(state, name)], named != county,
               !postalCities.contains(state + "|" + county + "|" + name) {
                if name == regions[i] { namesACounty[i] = true } else { namesADistrict[i] = true }
                return true
            }
            return (counts[county] ?? 0) * 2 < most
        }
        // States where fewer than one ZIP in ten carries a city rate, and where fewer than one in four does.
        var cityRated: [String: (all: Int, city: Int)] = [:]
        for record in records { cityRated[record.state.code, default: (0, 0)].all += 1; if record.hasCityRate { cityRated[record.state.code]!.city += 1 } }
        let citiesRarelyTax = Set(cityRated.filter { $0.value.city * 10 < $0.value.all }.keys)
        let citiesMostlyUntaxed = Set(cityRated.filter { $0.value.city * 4 < $0.value.all }.keys)
        var pools: [String: [Int]] = [:]
        for i in records.indices where eligible[i] && !elsewhere[i] {
            pools[records[i].state.code + records[i].countyFIPS!, default: []].append(i)
        }
        // A city's part of another county is kept where its region names its own postal city (73173, Oklahoma
        // City's part of Cleveland County); it speaks for that city there, not for the county's other places.
        var cityParts: [String: [Int]] = [:]
        for i in records.indices where eligible[i] && elsewhere[i] {
            guard let postal = records[i].postalCity.map(normalized), regions[i] == postal else { continue }
            cityParts[records[i].state.code + records[i].countyFIPS! + "|" + postal, default: []].append(i)
        }
        var relocated = 0
        var result = records
        for i in records.indices where elsewhere[i] {
            let record = records[i]
            guard let postal = record.postalCity.map(normalized), let county = record.countyFIPS else { continue }
            guard regions[i] != postal, !regions[i].hasPrefix(postal) else { continue }
            let pool = pools[record.state.code + county] ?? []
            // The postal city's own ZIPs say what it levies, unless the county has the same name (CHILDRESS is also
            // Childress County's unincorporated area). Without them, the county's most common rates of places
            // without a city rate are a fair guess only where city rates are rare in the state (Ohio, Pennsylvania,
            // Georgia: county taxes; not Texas or Kansas, where most towns levy their own).
            let postalCity = postal == record.countyName.map(PlaceRateFile.countyKey)
                ? [] : pool.filter { regions[$0] == postal } + (cityParts[record.state.code + county + "|" + postal] ?? [])
            // Another county's district on a ZIP without a city rate of its own: the county's rates outside cities
            // are the fair guess in any state (Lyon County, Minnesota, has no transit tax; REDWOOD CO TR has). Another
            // county's area likewise where most places levy no city tax (Mecklenburg County, Virginia, has no school
            // tax; CHARLOTTE, its neighbour's region, has), not where most towns levy one (Texas: 75633, Carthage, under
            // RUSK carries Rusk County's 2% of districts, the total Carthage's own city and county taxes come to), nor
            // where towns top the county's rate up to a cap on local taxes (Tennessee, where the table gives a town's
            // whole local rate as its county's: a neighbour's 2.75% is nearer a town's than its county's 2.25%).
            let countyArea = namesACounty[i] && citiesMostlyUntaxed.contains(record.state.code) && !townsTopUp.contains(record.state.code)
            let countyWide = citiesRarelyTax.contains(record.state.code) || (namesADistrict[i] || countyArea) && !record.hasCityRate
                ? pool.filter { !records[$0].hasCityRate } : []
            guard !postalCity.isEmpty || !countyWide.isEmpty else { continue }
            guard let common = Zip5Index.mostCommonRates((postalCity.isEmpty ? countyWide : postalCity).map { records[$0] }),
                  Zip5Index.ratesKey(common) != Zip5Index.ratesKey(record) else { continue }
            relocated += 1
            let countyName = record.countyName ?? "county \(county)"
            let used = postalCity.isEmpty ? "the most common rates of \(countyName) outside cities with a rate of their own were used" : "the rates of \(common.cityName ?? common.region)'s other ZIPs in \(countyName) were used"
            let warning = "zip_straddles_jurisdictions: ZIP \(record.zip.zip5String)'s tax region \(record.region) in the ZIP5 table is a place of another county "
                + "than the ZIP's (\(countyName), Census ZIP/county crosswalk); \(used); a ZIP+4 or street address would decide"
            result[i] = record.withRates(of: common, cityName: common.cityName, warning: warning)
        }
        return (result, relocated)
    }

    /// In a state whose ZIP5 table has no city rate anywhere (counties and transit districts levy the local taxes:
    /// Ohio, North Carolina, Florida, Nevada, Pennsylvania), a county's tax is one rate across the county. A ZIP
    /// whose county rate differs from the one a clear majority of its county's ZIPs carry (at least three, at least
    /// half, more than any other rate) has a neighbouring county's rates under a region the other passes keep (27613,
    /// Raleigh, Wake County, is quoted with Durham County's 2.25% under the region RALEIGH; 45356, Piqua, Miami County,
    /// with Shelby County's 1.5%). It takes the most common rates of its county's ZIPs at the majority rate, with a
    /// warning. A county without a clear majority (Suwannee, Florida: three ZIPs at 1.5%, three at 1%) is left alone.
    static func alignCountyRates(_ records: [Zip5Record]) -> (records: [Zip5Record], aligned: Int) {
        var cityRated = Set<String>()
        for record in records where record.hasCityRate { cityRated.insert(record.state.code) }
        func countyRate(_ record: Zip5Record) -> Int64 {
            record.locals.reduce(0) { $0 + ($1.jurisdiction.level == .county ? $1.intrastate.units : 0) }
        }
        var byCounty: [String: [Int]] = [:]
        var fallbacks: [String: [Int]] = [:]
        for i in records.indices where !cityRated.contains(records[i].state.code) {
            guard let county = records[i].countyFIPS else { continue }
            switch records[i].precision {
            case .zip5: byCounty[records[i].state.code + county, default: []].append(i)
            case .countyFallback: fallbacks[records[i].state.code + county, default: []].append(i)
            default: break
            }
        }
        var result = records
        var aligned = 0
        for (county, members) in byCounty {
            var counts: [Int64: Int] = [:]
            for i in members { counts[countyRate(records[i]), default: 0] += 1 }
            let ranked = counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            guard let (majority, count) = ranked.first.map({ ($0.key, $0.value) }), count >= 3, count * 2 >= members.count,
                  ranked.count == 1 || ranked[1].value < count else { continue }
            let pool = members.filter { countyRate(records[$0]) == majority }.map { records[$0] }
            guard let common = Zip5Index.mostCommonRates(pool) else { continue }
            for i in members where countyRate(records[i]) != majority {
                let record = records[i]
                aligned += 1
                let countyName = record.countyName ?? "county \(record.countyFIPS ?? "")"
                let warning = "zip_straddles_jurisdictions: ZIP \(record.zip.zip5String)'s county rate in the ZIP5 table (tax region \(record.region)) "
                    + "is not the one \(count) of \(countyName)'s \(members.count) ZIPs carry (Census ZIP/county crosswalk), so it is a neighbouring "
                    + "county's; the most common rates of \(countyName) were used; a ZIP+4 or street address would decide"
                result[i] = record.withRates(of: common, cityName: nil, warning: warning)
            }
            // A ZIP without a record of its own takes its county's most common rates: the majority's, not a neighbour's.
            for i in fallbacks[county] ?? [] where Zip5Index.ratesKey(records[i]) != Zip5Index.ratesKey(common) {
                result[i] = records[i].with(period: records[i].period, locals: common.locals, warning: records[i].warning, tableDate: records[i].tableDate)
            }
        }
        return (result, aligned)
    }

    /// A ZIP without a rate record of its own (a post office box or single-firm ZIP) whose postal city is a region of
    /// its county takes that region's most common rates rather than the county's: Apache Junction's retired 85220 is in
    /// Apache Junction (9.1%, not Pinal County's 6.7% outside towns), Tuscaloosa's box ZIP 35485 in Tuscaloosa.
    /// A region counts for the county that holds at least a fifth of its ZIPs, as an address's city does
    /// (`Zip5Index.answering`); of its ZIPs, those whose postal city is the same speak for it (the region YANKTON is
    /// also Mission Hill's 57046, outside the city). The records keep their fallback precision, with a warning that
    /// names the city.
    static func fallbacksTakeTheirPostalCity(_ records: [Zip5Record]) -> (records: [Zip5Record], moved: Int) {
        var places: [String: [Int]] = [:]
        var zipsPerRegion: [String: Int] = [:]
        var keys: [String: String] = [:]
        func key(_ name: String) -> String {
            if let known = keys[name] { return known }
            let made = PlaceNameKey.of(name)
            keys[name] = made
            return made
        }
        for i in records.indices where records[i].precision == .zip5 && records[i].warning == nil {
            guard let county = records[i].countyFIPS else { continue }
            let region = key(records[i].region)
            guard !region.isEmpty else { continue }
            places[records[i].state.code + "|" + county + "|" + region, default: []].append(i)
            zipsPerRegion[records[i].state.code + "|" + region, default: 0] += 1
        }
        var result = records
        var moved = 0
        for i in records.indices where records[i].precision == .countyFallback {
            let record = records[i]
            guard let county = record.countyFIPS, let postal = record.postalCity.map(key), !postal.isEmpty,
                  let members = places[record.state.code + "|" + county + "|" + postal],
                  members.count * 5 >= zipsPerRegion[record.state.code + "|" + postal, default: 0],
                  case let sameCity = members.filter({ records[$0].postalCity.map(key) == postal }),
                  let common = Zip5Index.mostCommonRates((sameCity.isEmpty ? members : sameCity).map { records[$0] }),
                  Zip5Index.ratesKey(common) != Zip5Index.ratesKey(record) else { continue }
            moved += 1
            let countyName = record.countyName ?? "county \(county)"
            let warning = "ZIP \(record.zip.zip5String) has no rate record of its own; the most common local rates of its postal city "
                + "\(record.postalCity ?? common.region)'s ZIPs in \(countyName) were used"
            result[i] = Zip5Record(zip: record.zip, state: record.state, countyFIPS: record.countyFIPS, countyName: record.countyName,
                                   region: record.region, cityName: common.cityName, postalCity: record.postalCity, locals: common.locals,
                                   period: record.period, precision: record.precision, source: record.source, warning: warning,
                                   tableDate: record.tableDate)
        }
        return (result, moved)
    }

    // MARK: - The shipped stack

    /// Official files, corrections and local taxes over the ZIP5 index, and the state profiles with the official
    /// files' dated state rates merged in.
    static func assemble(directory: String, zip5: Zip5Index, zip5Date: TaxDate, profiles: [StateProfile], official: [ShippedOfficialFile],
                         contents: inout [String: [UInt8]], corrections: [LocalCorrection], ownBase: [ScopedOwnBaseTax],
                         sstNames: [SSTPlaceName] = [], log: inout DiagnosticLog) -> (locals: any LocalRateResolver, profiles: [StateProfile]) {
        var countyNames: [String: String] = [:]
        for record in zip5.allRecords {
            guard let fips = record.countyFIPS, countyNames[fips] == nil, let name = record.countyName else { continue }
            countyNames[fips] = name
        }
        var resolvers: [StateCode: any LocalRateResolver] = [:]
        var stateRates: [StateCode: [DatedRate]] = [:]
        let fipsToState = Dictionary(profiles.map { (Int($0.fips) ?? -1, $0.state) }, uniquingKeysWith: { a, _ in a })
        var sstRates: [StateCode: (SSTRateFile, ShippedOfficialFile)] = [:]
        var sstBoundaries: [StateCode: SSTBoundaryFile] = [:]
        // Place-rate files by state, in list order (shipped, then imported): several make a succession.
        var placeFiles: [StateCode: [(resolver: PlaceRateResolver, stateRates: [DatedRate], imported: Bool)]] = [:]
        for entry in official {
            // An imported file is named as its publisher named it (its records cite it so); its bytes are kept apart.
            let name = entry.imported == nil ? "official/" + entry.file : entry.file
            let bytes: [UInt8]
            if let imported = entry.imported {
                bytes = imported
                contents["imported/" + entry.file] = imported
            } else {
                switch TableFileReader.read(directory + "/" + name) {
                case .success(let data): bytes = data
                case .failure(let why):
                    log.error("official/files.csv", entry.line, 1, why.description)
                    continue
                }
                contents[name] = bytes
            }
            do {
                switch entry.kind {
                case .sstRates:
                    let parsed = try SSTRateFile.read(bytes, file: name)
                    guard fipsToState[parsed.stateFIPS] == entry.state else {
                        log.error(name, 1, 1, "state FIPS \(parsed.stateFIPS) is not \(entry.state)")
                        continue
                    }
                    sstRates[entry.state] = (parsed, entry)
                case .sstBoundaries:
                    sstBoundaries[entry.state] = try SSTBoundaryFile.read(bytes, file: name)
                case .waDOR:
                    let parsed = try PlaceRateFile.readWashington(bytes, file: name)
                    placeFiles[entry.state, default: []].append((
                        PlaceRateResolver(file: parsed, zip5: zip5, fallback: zip5, sourceID: entry.source, carriedBackFrom: entry.carriedBackFrom),
                        parsed.stateRates.map { DatedRate(period: $0.period, intrastate: $0.intrastate, provenance: Provenance(source: entry.source)) },
                        entry.imported != nil))
                case .caCDTFA:
                    guard let from = entry.effectiveFrom else {
                        log.error("official/files.csv", entry.line, nil, "a CDTFA file needs effective_from")
                        continue
                    }
                    let parsed = try PlaceRateFile.readCalifornia(bytes, file: name, effectiveFrom: from)
                    placeFiles[entry.state, default: []].append((
                        PlaceRateResolver(file: parsed, zip5: zip5, fallback: zip5, sourceID: entry.source, carriedBackFrom: entry.carriedBackFrom), [],
                        entry.imported != nil))
                case .ilIDOR:
                    let parsed = try IllinoisRateFile.read(bytes, file: name)
                    resolvers[entry.state] = IllinoisRateResolver(file: parsed, zip5: zip5, fallback: zip5, sourceID: entry.source)
                }
            } catch {
                log.append(contentsOf: error.diagnostics)
            }
        }
        for (state, all) in placeFiles {
            // A shipped WA file whose span an imported one's rows span gives way to it, as a version's own files do
            // (`TableStore.supersedes`): kept, it answered the middle of a corrected history imported beside it
            // (probe #20). (A CDTFA file of the shipped one's date already answers all its dates, and the shipped
            // one keeps carrying its rates back.)
            let spans = all.map { PlaceFileSuccession.Span($0.resolver.file.places.map(\.period)) }
            let files = all.indices.filter { index in
                all[index].imported || all[index].resolver.file.kind != .waDOR || !all.indices.contains { other in
                    all[other].imported && spans[other].spans(spans[index])
                }
            }.map { all[$0] }
            if files.count == 1 {
                resolvers[state] = files[0].resolver
            } else {
                let succession = PlaceFileSuccession(files.map(\.resolver))
                resolvers[state] = succession
                // Washington's state rate: each file's within its own span, the later-starting file's where two meet.
                let byStart = zip(files, succession.spans).sorted { $0.1.first < $1.1.first }.map(\.0.stateRates)
                let rates = byStart.reduce([DatedRate]()) { merged, next in next.isEmpty ? merged : mergeRates(official: next, canonical: merged) }
                if !rates.isEmpty { stateRates[state] = rates }
                // A place the file before an imported one has on its last day and the imported one lacks on its first
                // is answered by its county from then on (probe #20: Seattle left out of a quarter's file taxed at
                // King County's rate without a word): said, naming the places.
                for (index, file) in files.enumerated() where file.imported {
                    let first = succession.spans[index].first
                    guard first > .distantPast else { continue }
                    let before = PlaceFileSuccession.choice(succession.spans, on: first.dayBefore)
                    guard before != index, succession.spans[before].covers(first.dayBefore) else { continue }
                    let now = Set(file.resolver.file.places.filter { $0.period.contains(first) }.map(\.key))
                    var missing: [String] = []
                    for place in files[before].resolver.file.places where place.period.contains(first.dayBefore) && !now.contains(place.key)
                        && !missing.contains(place.label) {
                        missing.append(place.label)
                    }
                    guard !missing.isEmpty else { continue }
                    log.warning(file.resolver.file.file, 0, nil, """
                        \(missing.count) place\(missing.count == 1 ? "" : "s") of \(files[before].resolver.file.file) on \(first.dayBefore) \
                        \(missing.count == 1 ? "has" : "have") no rate in this file on \(first) (\(missing.prefix(10).joined(separator: "; "))\(missing.count > 10 ? "; …" : "")): \
                        from then on their addresses are answered by their county's or the ZIP5 table's rate
                        """)
                }
                // An imported file whose rows are in force on dates another file answers (one starting later) is
                // answered only where that one is not: said, naming the dates (probe #20).
                for (index, taken) in PlaceFileSuccession.shadowed(succession.spans) where files[index].imported {
                    let byFile = Dictionary(grouping: taken, by: \.by)
                    for (other, periods) in byFile.sorted(by: { $0.key < $1.key }) {
                        log.warning(files[index].resolver.file.file, 0, nil, """
                            its rows in force \(EffectivePeriod.describe(periods.map(\.period))) are not used: \
                            \(files[other].resolver.file.file) starts later and answers those dates (of the files in force on a date, the one \
                            starting last answers); import a file that spans at least that one's dates to replace it
                            """)
                    }
                }
                continue
            }
            if !files[0].stateRates.isEmpty { stateRates[state] = files[0].stateRates }
        }
        for name in sstNames where sstRates[name.state] == nil {
            log.error(sstPlaceNamesFile, name.line, 1, "\(name.state) has no SST rate file in official/files.csv")
        }
        for (state, (rates, entry)) in sstRates {
            let names = sstNames.filter { $0.state == state }
            let codes = Set(rates.rates.map { "\($0.key.type)/\($0.key.code)" })
            for name in names where !codes.contains("\(name.key.type)/\(name.key.code)") {
                let type = name.key.type < 10 ? "0\(name.key.type)" : "\(name.key.type)"
                log.error(sstPlaceNamesFile, name.line, 3, "\(state) has no type \(type) code \(name.key.code) in \(rates.file)")
            }
            let adjusted = SSTAdjustedZip5Resolver(zip5: zip5, records: zip5, state: state, rates: rates, names: names, reference: zip5Date,
                                                   sourceID: entry.source)
            let resolver = SSTBoundaryResolver(state: state, boundaries: sstBoundaries[state], rates: rates, countyNames: countyNames,
                                               fallback: adjusted, sourceID: entry.source)
            resolvers[state] = resolver
            stateRates[state] = resolver.stateRates
        }
        let merged = profiles.map { profile -> StateProfile in
            guard let official = stateRates[profile.state], !official.isEmpty else { return profile }
            return profile.replacingRates(mergeRates(official: official, canonical: profile.rates))
        }
        let layered = LayeredResolver(byState: resolvers, fallback: zip5)
        return (CorrectedResolver(inner: layered, zip5: zip5, corrections: corrections, ownBase: ownBase), merged)
    }

    /// The official file's rates where it covers a date, the canonical table's outside that span.
    static func mergeRates(official: [DatedRate], canonical: [DatedRate]) -> [DatedRate] {
        guard !official.isEmpty else { return canonical }
        // The days the official rates cover, merged; the canonical rates fill every other day, gaps between official
        // rates included (probe #20: Washington's 2026Q4 file beside the shipped one to 2026Q2 left 2026Q3 without a
        // state rate, and every quote of it refused).
        let covered = EffectivePeriod.merged(official.map(\.period))
        var result = official
        for rate in canonical {
            var from: TaxDate? = rate.period.from
            for span in covered {
                guard let start = from else { break }
                if span.through < start || span.from > rate.period.through { continue }
                if span.from > start {
                    result.append(DatedRate(period: EffectivePeriod(from: start, through: span.from.dayBefore),
                                            intrastate: rate.intrastate, interstate: rate.interstate, provenance: rate.provenance))
                }
                // nil once a span runs to the end of time: nothing is left to fill.
                from = span.through.adding(days: 1).map { max(start, $0) }
            }
            if let start = from, start <= rate.period.through {
                result.append(DatedRate(period: EffectivePeriod(from: start, through: rate.period.through),
                                        intrastate: rate.intrastate, interstate: rate.interstate, provenance: rate.provenance))
            }
        }
        return result.filter { $0.period.from <= $0.period.through }.sorted { $0.period.from < $1.period.from }
    }
}

/// What a pass over the ZIP5 records asks of a tax region's or place's name, worked out once per name in that pass:
/// the table's 42,000 records carry about 13,800 region names, so the pass would otherwise repeat the same word
/// splitting for most records.
struct RegionNameKinds {
    private var districts: [String: Bool] = [:]
    private var tribal: [String: Bool] = [:]
    private var normalizedNames: [String: String] = [:]

    mutating func isDistrict(_ region: String, state: String) -> Bool {
        Self.remembered(&districts, state + "|" + region) { CanonicalTables.isDistrictRegion(region, state: state) }
    }

    mutating func isTribal(_ name: String) -> Bool { Self.remembered(&tribal, name) { CanonicalTables.isTribalRegion(name) } }

    mutating func normalized(_ name: String) -> String { Self.remembered(&normalizedNames, name) { Zip5Index.normalizedPlace(name) } }

    private static func remembered<V>(_ cache: inout [String: V], _ key: String, _ work: () -> V) -> V {
        if let known = cache[key] { return known }
        let answer = work()
        cache[key] = answer
        return answer
    }
}

extension Zip5Record {
    /// Whether a city levies a rate here.
    var hasCityRate: Bool { locals.contains { $0.jurisdiction.level == .city && !$0.intrastate.isZero } }
    var hasSpecialRate: Bool { locals.contains { $0.jurisdiction.level == .special && !$0.intrastate.isZero } }

    /// This ZIP quoted with another record's local rates (and city), its warning added to the record's own.
    func withRates(of other: Zip5Record, cityName: String?, warning: String?) -> Zip5Record {
        Zip5Record(zip: zip, state: state, countyFIPS: countyFIPS, countyName: countyName, region: region, cityName: cityName,
                   postalCity: postalCity, locals: other.locals, period: period, precision: precision, source: source,
                   warning: warning.map { [self.warning, $0].compactMap { $0 }.joined(separator: "; ") } ?? self.warning, tableDate: tableDate)
    }

    func with(period: EffectivePeriod, locals: [LocalRate], warning: String?, tableDate: TaxDate?) -> Zip5Record {
        Zip5Record(zip: zip, state: state, countyFIPS: countyFIPS, countyName: countyName, region: region, cityName: cityName,
                   postalCity: postalCity, locals: locals, period: period, precision: precision, source: source, warning: warning, tableDate: tableDate)
    }
}
