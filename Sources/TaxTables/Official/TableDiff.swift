import TaxCore

/// What changed between two lists of official files: rate rows and boundary records added and removed.
public enum TableDiff {
    public static func diff(old: [(OfficialFile, [UInt8])], new: [(OfficialFile, [UInt8])]) throws(TableLoadError) -> [String] {
        var out: [String] = []
        let keys = Set((old + new).map { "\($0.0.state)|\($0.0.kind.rawValue)" }).sorted()
        for key in keys {
            // Several place-rate files of a state are its history: their facts are compared together.
            let before = old.filter { "\($0.0.state)|\($0.0.kind.rawValue)" == key }
            let after = new.filter { "\($0.0.state)|\($0.0.kind.rawValue)" == key }
            // The same bytes from another date are other rates (a CDTFA file's date is not in it).
            func identity(_ files: [(OfficialFile, [UInt8])]) -> [String] { files.map { OfficialTables.sha256($0.1) + "|" + ($0.0.effectiveFrom ?? "") } }
            if identity(before) == identity(after) { continue }
            let label = key.replacingAll("|", with: " ")
            let removed = try facts(of: before), added = try facts(of: after)
            let removedSet = Set(removed), addedSet = Set(added)
            let minus = removed.filter { !addedSet.contains($0) }, plus = added.filter { !removedSet.contains($0) }
            func names(_ files: [(OfficialFile, [UInt8])]) -> String { files.isEmpty ? "(none)" : files.map { $0.0.name + ($0.0.effectiveFrom.map { " (from \($0))" } ?? "") }.joined(separator: " + ") }
            out.append("\(label): \(names(before)) -> \(names(after)): \(plus.count) added, \(minus.count) removed")
            out += minus.prefix(50).map { "  - " + $0 } + (minus.count > 50 ? ["  - … \(minus.count - 50) more"] : [])
            out += plus.prefix(50).map { "  + " + $0 } + (plus.count > 50 ? ["  + … \(plus.count - 50) more"] : [])
        }
        return out.isEmpty ? ["no differences"] : out
    }

    /// The facts of one state's files of one kind. Several place-rate files are its history, each answering the
    /// dates it is meant for (`PlaceFileSuccession`): their rows are compared as they answer, each clipped to the
    /// dates its file answers and joined where a place's rates run on unchanged from one file into the next, so
    /// next quarter's file shows the rates that change, not every row as added (probe #20).
    static func facts(of files: [(OfficialFile, [UInt8])]) throws(TableLoadError) -> [String] {
        guard files.count > 1, let kind = files.first?.0.kind, kind.isPlaceRates else {
            var facts: [String] = []
            for file in files { facts += try Self.facts(file) }
            return facts
        }
        var parsed: [PlaceRateFile] = []
        for file in files { parsed.append(try placeRates(file)) }
        var periods: [String: [EffectivePeriod]] = [:]
        var order: [String] = []
        for segment in PlaceFileSuccession.timeline(parsed.map { PlaceFileSuccession.Span($0.places.map(\.period)) }) {
            for place in parsed[segment.index].places where place.period.overlaps(segment.period) {
                let fact = placeFact(place, period: nil)
                if periods[fact] == nil { order.append(fact) }
                periods[fact, default: []].append(EffectivePeriod(from: max(place.period.from, segment.period.from),
                                                                   through: min(place.period.through, segment.period.through)))
            }
        }
        return order.flatMap { fact in EffectivePeriod.merged(periods[fact] ?? []).map { "\(fact) \($0)" } }
    }

    static func placeRates(_ input: (OfficialFile, [UInt8])) throws(TableLoadError) -> PlaceRateFile {
        let (file, bytes) = input
        if file.kind == .waDOR { return try PlaceRateFile.readWashington(bytes, file: file.name) }
        return try PlaceRateFile.readCalifornia(bytes, file: file.name, effectiveFrom: TaxDate(iso: file.effectiveFrom ?? "") ?? .distantPast)
    }

    /// Every fact of a file as a line of text, independent of its line number, so moves are not changes.
    static func facts(_ input: (OfficialFile, [UInt8])) throws(TableLoadError) -> [String] {
        let (file, bytes) = input
        switch file.kind {
        case .sstRates:
            return try SSTRateFile.read(bytes, file: file.name).rates.map {
                "rate \($0.key) \($0.intrastate.percentString)% (interstate \($0.interstate.percentString)%) \($0.period)"
            }
        case .sstBoundaries:
            return try SSTBoundaryFile.read(bytes, file: file.name).records.map { record in
                let keys = record.jurisdictionKeys.map(\.description).joined(separator: ",")
                return "boundary \(record.fact) -> [\(keys)]"
            }
        case .waDOR, .caCDTFA:
            return try placeRates(input).places.map { placeFact($0, period: $0.period) }
        case .ilIDOR:
            return try IllinoisRateFile.read(bytes, file: file.name).places.flatMap { place in
                place.addressSpecific ? ["IDOR \(place.code) \(place.name) (\(place.county)) address-specific"]
                    : place.rates.map { "IDOR \(place.code) \(place.name) (\(place.county)) \($0.rate.percentString)% \($0.period)" }
            }
        }
    }

    /// A place's rates as text, with a period unless the caller adds its own.
    static func placeFact(_ place: PlaceRate, period: EffectivePeriod?) -> String {
        let rates = "\(place.label) \(place.locals.map { "\($0.jurisdiction.code) \($0.intrastate.percentString)%" }.joined(separator: " + "))"
        return period.map { "\(rates) \($0)" } ?? rates
    }
}
