import TaxCore

/// The highest rate one row of a table may give. No US sales or use tax reaches a quarter of the price (the highest
/// combined rates are about 11.5%, the highest local tax with its own base 9%), so a larger one is a percentage
/// written where a fraction belongs ("6.25" or "1" for 0.0625 or 0.01) or another typo, refused rather than charged.
enum PlausibleRate {
    static let maximum = Rate(units: Rate.scale / 4)

    /// Why `rate` cannot be a table's rate, or nil.
    static func problem(_ rate: Rate) -> String? {
        rate.units > maximum.units
            ? "is \(rate.percentString)%, more than any US sales or use tax rate (\(maximum.percentString)% at most; a rate is a fraction: 0.0625 for 6.25%)"
            : nil
    }
}

/// Typed reads of CSV fields. A bad value is logged with its file, line and column and yields nil, so a
/// load goes on and reports every problem in one run.
extension CSVTable {
    func text(_ record: CSVReader.Record, _ column: String, required: Bool = true, log: inout DiagnosticLog) -> String? {
        let (value, index) = field(record, column)
        if value.isEmpty {
            if required { log.error(file, record.line, index, "\(column) is blank") }
            return nil
        }
        return value
    }

    func state(_ record: CSVReader.Record, _ column: String, log: inout DiagnosticLog) -> StateCode? {
        guard let value = text(record, column, log: &log) else { return nil }
        guard let state = StateCode(value) else {
            log.error(file, record.line, field(record, column).column, "\(column) \"\(value)\" is not a two-letter state code")
            return nil
        }
        return state
    }

    /// A rate written as a fraction ("0.06875"). Blank means "no rate" and is an error unless `optional`.
    func rate(_ record: CSVReader.Record, _ column: String, optional: Bool = false, log: inout DiagnosticLog) -> Rate? {
        let (value, index) = field(record, column)
        if value.isEmpty {
            if !optional { log.error(file, record.line, index, "\(column) is blank; a blank rate means no rate, never 0") }
            return nil
        }
        do {
            let rate = try Rate.parse(fraction: value)
            if let implausible = PlausibleRate.problem(rate) {
                log.error(file, record.line, index, "\(column) \(value) \(implausible)")
                return nil
            }
            return rate
        } catch {
            log.error(file, record.line, index, "\(column) \(error)")
            return nil
        }
    }

    func money(_ record: CSVReader.Record, _ column: String, log: inout DiagnosticLog) -> Int64? {
        guard let value = text(record, column, log: &log) else { return nil }
        do { return try Money.parse(value).minorUnits } catch {
            log.error(file, record.line, field(record, column).column, "\(column) \(error)")
            return nil
        }
    }

    /// An ISO date; blank is allowed only when `defaultValue` is given.
    func date(_ record: CSVReader.Record, _ column: String, default defaultValue: TaxDate? = nil, log: inout DiagnosticLog) -> TaxDate? {
        let (value, index) = field(record, column)
        if value.isEmpty {
            if let defaultValue { return defaultValue }
            log.error(file, record.line, index, "\(column) is blank")
            return nil
        }
        guard let date = TaxDate(iso: value) else {
            log.error(file, record.line, index, "\(column) \"\(value)\" is not a date (YYYY-MM-DD)")
            return nil
        }
        return date
    }

    /// `effective_from` and `effective_through` (blank: open-ended) as a period, checked for order.
    func period(_ record: CSVReader.Record, log: inout DiagnosticLog) -> EffectivePeriod? {
        guard let from = date(record, "effective_from", log: &log),
              let through = date(record, "effective_through", default: .distantFuture, log: &log) else { return nil }
        guard from <= through else {
            log.error(file, record.line, field(record, "effective_through").column,
                      "effective_through \(through) is before effective_from \(from)")
            return nil
        }
        return EffectivePeriod(from: from, through: through)
    }

    func choice<T: RawRepresentable<String>>(_ record: CSVReader.Record, _ column: String, as type: T.Type,
                                               allowed: [T], log: inout DiagnosticLog) -> T? {
        guard let value = text(record, column, log: &log) else { return nil }
        guard let parsed = T(rawValue: value) else {
            log.error(file, record.line, field(record, column).column,
                      "\(column) \"\(value)\" is not one of \(allowed.map(\.rawValue).joined(separator: ", "))")
            return nil
        }
        return parsed
    }

    /// A `;`-separated list, each item parsed by `parse`; an unknown item is an error.
    func list<T>(_ record: CSVReader.Record, _ column: String, required: Bool = true, log: inout DiagnosticLog,
                 parse: (String) -> T?) -> [T]? {
        let (value, index) = field(record, column)
        if value.isEmpty {
            if required { log.error(file, record.line, index, "\(column) is blank") }
            return required ? nil : []
        }
        var items: [T] = []
        for item in value.split(separator: ";").map({ String($0).trimmingSpaces }) {
            guard let parsed = parse(item) else {
                log.error(file, record.line, index, "\(column) has an unknown item \"\(item)\"")
                return nil
            }
            items.append(parsed)
        }
        return items
    }

    func provenance(_ record: CSVReader.Record, knownSources: Set<String>, log: inout DiagnosticLog) -> Provenance? {
        guard let source = text(record, "source", log: &log) else { return nil }
        // One source id, or several separated by ";" (a primary source and the review that confirmed it).
        for id in source.split(separator: ";").map(String.init) where !knownSources.isEmpty && !knownSources.contains(id) {
            log.error(file, record.line, field(record, "source").column, "source \"\(id)\" is not listed in sources.csv")
        }
        let asOf = has("as_of") ? date(record, "as_of", default: .distantPast, log: &log) : nil
        let note = has("note") ? field(record, "note").value : ""
        return Provenance(source: source, asOf: asOf == .distantPast ? nil : asOf, note: note)
    }
}
