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
            var removed: [String] = [], added: [String] = []
            for file in before { removed += try facts(file) }
            for file in after { added += try facts(file) }
            let removedSet = Set(removed), addedSet = Set(added)
            let minus = removed.filter { !addedSet.contains($0) }, plus = added.filter { !removedSet.contains($0) }
            func names(_ files: [(OfficialFile, [UInt8])]) -> String { files.isEmpty ? "(none)" : files.map { $0.0.name + ($0.0.effectiveFrom.map { " (from \($0))" } ?? "") }.joined(separator: " + ") }
            out.append("\(label): \(names(before)) -> \(names(after)): \(plus.count) added, \(minus.count) removed")
            out += minus.prefix(50).map { "  - " + $0 } + (minus.count > 50 ? ["  - … \(minus.count - 50) more"] : [])
            out += plus.prefix(50).map { "  + " + $0 } + (plus.count > 50 ? ["  + … \(plus.count - 50) more"] : [])
        }
        return out.isEmpty ? ["no differences"] : out
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
        case .waDOR:
            return try PlaceRateFile.readWashington(bytes, file: file.name).places.map(placeFact)
        case .caCDTFA:
            return try PlaceRateFile.readCalifornia(bytes, file: file.name, effectiveFrom: TaxDate(iso: file.effectiveFrom ?? "") ?? .distantPast)
                .places.map(placeFact)
        case .ilIDOR:
            return try IllinoisRateFile.read(bytes, file: file.name).places.flatMap { place in
                place.addressSpecific ? ["IDOR \(place.code) \(place.name) (\(place.county)) address-specific"]
                    : place.rates.map { "IDOR \(place.code) \(place.name) (\(place.county)) \($0.rate.percentString)% \($0.period)" }
            }
        }
    }

    static func placeFact(_ place: PlaceRate) -> String {
        "\(place.label) \(place.locals.map { "\($0.jurisdiction.code) \($0.intrastate.percentString)%" }.joined(separator: " + ")) \(place.period)"
    }
}
