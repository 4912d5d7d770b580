import Foundation
import JSONInput
import Storage

/// One line of a processor's settlement file, read through a layout.
public struct SettlementLine: Sendable, Hashable {
    public enum Kind: String, Sendable { case sale, refund, other }

    /// The largest amount a line may carry either way (10^15 minor units, as for stored money): a line's net and fee
    /// checks then never overflow (a file whose totals would is refused by the store's checked sums, failing the run).
    public static let maxAmount: UInt64 = 1_000_000_000_000_000

    /// The line of the file the record starts on.
    public var line: Int
    /// The processor's id of the line (a balance transaction id).
    public var lineID: String
    public var kind: Kind
    /// The processor's own type name (`charge`, `refund`, `payout`…).
    public var type: String
    public var orderID: String
    public var refundID: String
    /// The processor's id of the charge or refund the line settles.
    public var processorID: String
    /// Minor units: gross (refunds negative), the processor's fee, and what reached the balance.
    public var amount: Int64
    public var fee: Int64
    public var net: Int64
    /// Upper-case ISO 4217 code.
    public var currency: String
    /// When the processor recorded it and when its funds became available (`YYYY-MM-DDTHH:MM:SSZ`).
    public var created: String
    public var settled: String
}

/// Where a settlement file keeps each field: the column names, the type names that mean a sale or a refund, and
/// whether amounts are in major units (`12.34`) or minor units (`1234`). docs/reconciliation.md lists both built-in
/// layouts; any other file is read through a mapping file of the same shape (`levy reconcile --mapping FILE`).
public struct SettlementLayout: Sendable {
    public enum Field: String, Sendable, CaseIterable {
        case lineID = "line_id", type, orderID = "order_id", refundID = "refund_id", processorID = "processor_id"
        case amount, fee, net, currency, created, settled
    }

    public var name: String
    public var columns: [Field: String]
    public var saleTypes: Set<String>
    public var refundTypes: Set<String>
    public var minorUnits: Bool

    /// Levy's own layout: exactly these headers, amounts in major units, refunds negative.
    public static let generic = SettlementLayout(
        name: "generic",
        columns: Dictionary(uniqueKeysWithValues: Field.allCases.map { ($0, $0.rawValue) }),
        saleTypes: ["sale"], refundTypes: ["refund"], minorUnits: false)

    /// A processor's balance-transaction export (Stripe's dashboard layout): `id, Type, Source, Amount, Fee, Net,
    /// Currency, Created (UTC), Available On (UTC), Description`, with the order and refund ids in metadata columns.
    public static let stripe = SettlementLayout(
        name: "stripe",
        columns: [.lineID: "id", .type: "Type", .processorID: "Source", .amount: "Amount", .fee: "Fee", .net: "Net", .currency: "Currency",
                  .created: "Created (UTC)", .settled: "Available On (UTC)", .orderID: "order_id (metadata)", .refundID: "refund_id (metadata)"],
        saleTypes: ["charge", "payment"], refundTypes: ["refund", "payment_refund"], minorUnits: false)

    public static func builtIn(_ name: String) -> SettlementLayout? {
        switch name {
        case "generic": generic
        case "stripe": stripe
        default: nil
        }
    }

    /// A layout described by its differences from a built-in one: the shape of a mapping file (`levy reconcile
    /// --mapping FILE`) and of the column options of `POST /v1/reconciliations`. Everything not given comes from
    /// the base.
    public struct Mapping: Sendable, Equatable, Codable {
        public var base: String
        /// Field name (`order_id`, `amount` …) to the file's column name.
        public var columns: [String: String]
        public var saleTypes: [String]?
        public var refundTypes: [String]?
        /// `major` (12.34) or `minor` (1234).
        public var amountUnits: String?

        public init(base: String = "generic", columns: [String: String] = [:], saleTypes: [String]? = nil, refundTypes: [String]? = nil,
                    amountUnits: String? = nil) {
            (self.base, self.columns, self.saleTypes, self.refundTypes, self.amountUnits) = (base, columns, saleTypes, refundTypes, amountUnits)
        }

        enum CodingKeys: String, CodingKey {
            case base, columns, saleTypes = "sale_types", refundTypes = "refund_types", amountUnits = "amount_units"
        }

        /// The layout it describes, called `name`; a bad entry is an input error that starts with `origin` (the
        /// mapping file's path, or the request) and names the entry.
        public func layout(name: String, origin: String) throws(ReconcileError) -> SettlementLayout {
            guard var layout = SettlementLayout.builtIn(base) else { throw .input("\(origin): base: \"\(base)\" is not generic or stripe") }
            layout.name = name
            for (field, column) in columns.sorted(by: { $0.key < $1.key }) {
                guard let known = Field(rawValue: field) else {
                    throw .input("\(origin): columns.\(field): not a field (\(Field.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                guard !column.trimmingCharacters(in: .whitespaces).isEmpty else { throw .input("\(origin): columns.\(field): an empty column name") }
                guard !CardNumberMask.containsCardNumber(column) else { throw .input("\(origin): columns.\(field): \(CardNumberMask.refusal)") }
                layout.columns[known] = column
            }
            for (key, list, keyPath) in [("sale_types", saleTypes, \SettlementLayout.saleTypes), ("refund_types", refundTypes, \SettlementLayout.refundTypes)] {
                guard let list else { continue }
                guard !list.isEmpty, !list.contains(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty }) else {
                    throw .input("\(origin): \(key): a non-empty list of type names")
                }
                guard !list.contains(where: CardNumberMask.containsCardNumber) else { throw .input("\(origin): \(key): \(CardNumberMask.refusal)") }
                layout[keyPath: keyPath] = Set(list.map { $0.lowercased() })
            }
            // A line's type makes it a sale or a refund, never both.
            if let shared = layout.saleTypes.intersection(layout.refundTypes).sorted().first {
                throw .input("\(origin): sale_types and refund_types both name \"\(shared)\": a type is a sale or a refund")
            }
            if let amountUnits {
                guard amountUnits == "major" || amountUnits == "minor" else { throw .input("\(origin): amount_units: \"major\" or \"minor\"") }
                layout.minorUnits = amountUnits == "minor"
            }
            return layout
        }
    }

    /// Reads a mapping file: `{"base": "stripe", "columns": {"order_id": "Order"}, "sale_types": [...],
    /// "refund_types": [...], "amount_units": "major" | "minor"}`.
    public static func load(mapping path: String) throws(ReconcileError) -> SettlementLayout {
        guard let data = FileManager.default.contents(atPath: path) else { throw .input("\(path): cannot read the mapping file") }
        do { try JSONGuard.check(Array(data)) } catch { throw .input(error.located(file: path, in: Array(data))) }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw .input("\(path): not a JSON object")
        }
        let allowed: Set<String> = ["base", "columns", "sale_types", "refund_types", "amount_units"]
        if let unknown = object.keys.sorted().first(where: { !allowed.contains($0) }) { throw .input("\(path): unknown key \"\(unknown)\"") }
        var mapping = Mapping()
        if let base = object["base"] {
            guard let base = base as? String else { throw .input("\(path): base: \"generic\" or \"stripe\"") }
            mapping.base = base
        }
        if let columns = object["columns"] {
            guard let columns = columns as? [String: String] else { throw .input("\(path): columns: an object of field to column name") }
            mapping.columns = columns
        }
        for (key, keyPath) in [("sale_types", \Mapping.saleTypes), ("refund_types", \Mapping.refundTypes)] {
            guard let value = object[key] else { continue }
            guard let list = value as? [String] else { throw .input("\(path): \(key): a non-empty list of type names") }
            mapping[keyPath: keyPath] = list
        }
        if let units = object["amount_units"] {
            guard let units = units as? String else { throw .input("\(path): amount_units: \"major\" or \"minor\"") }
            mapping.amountUnits = units
        }
        return try mapping.layout(name: (path as NSString).lastPathComponent, origin: path)
    }

    /// The column index of each field in a file with this header; fails naming the missing columns.
    func bind(header: [String], file: String) throws(ReconcileError) -> BoundLayout {
        var index: [Field: Int] = [:]
        let names = header.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        let positions = Dictionary(names.enumerated().map { ($0.element, $0.offset) }, uniquingKeysWith: { first, _ in first })
        for (field, column) in columns {
            guard let position = positions[column.lowercased()] else { continue }
            // Names match without regard to case: "AMOUNT" and "amount" in one header leave the amount in doubt.
            if let again = names.indices.first(where: { $0 > position && names[$0] == names[position] }) {
                throw .input("\(file):1: column \"\(column)\" (\(field.rawValue)) appears twice (columns \(position + 1) and \(again + 1)); which one is meant cannot be told")
            }
            index[field] = position
        }
        let required: [Field] = [.lineID, .type, .amount, .currency, .created]
        let missing = required.filter { index[$0] == nil }.map { "\(columns[$0] ?? $0.rawValue) (\($0.rawValue))" }
        if !missing.isEmpty { throw .input("\(file):1: the \(name) layout needs the column(s) \(missing.joined(separator: ", "))") }
        if index[.orderID] == nil, index[.processorID] == nil {
            throw .input("\(file):1: the \(name) layout needs an order id or a processor id column (\(columns[.orderID] ?? "order_id") or \(columns[.processorID] ?? "processor_id"))")
        }
        return BoundLayout(layout: self, index: index, headerCount: header.count, file: file,
                           moneyColumns: Set([Field.amount, .fee, .net].compactMap { index[$0] }))
    }
}

/// A layout bound to a file's header: reads records into settlement lines, with errors naming file, line and column.
struct BoundLayout {
    let layout: SettlementLayout
    let index: [SettlementLayout.Field: Int]
    /// The header's column count: a record with more columns than that was split where it should not have been
    /// (an unquoted comma), and every column after the split holds its neighbour's value.
    let headerCount: Int
    let file: String
    /// The amount, fee and net columns: an amount there with its decimal point is not taken for a card number.
    let moneyColumns: Set<Int>

    func line(_ record: CSVStream.Record) throws(ReconcileError) -> SettlementLine {
        func text(_ field: SettlementLayout.Field) -> String {
            guard let i = index[field], i < record.fields.count else { return "" }
            let value = record.fields[i]
            // Most fields have no surrounding blanks: trim only when there is something to trim.
            guard value.utf8.first == 0x20 || value.utf8.last == 0x20 || value.utf8.first == 0x09 || value.utf8.last == 0x09 else { return value }
            return value.trimmingCharacters(in: .whitespaces)
        }
        func fail(_ field: SettlementLayout.Field, _ problem: String) -> ReconcileError {
            .input("\(file):\(record.line): column \"\(layout.columns[field] ?? field.rawValue)\" (\(field.rawValue)): \(problem)")
        }
        func money(_ field: SettlementLayout.Field, default fallback: Int64?) throws(ReconcileError) -> Int64 {
            let value = text(field)
            if value.isEmpty, let fallback { return fallback }
            guard let amount = MoneyText.parse(value, minorUnits: layout.minorUnits) else {
                throw fail(field, "\"\(value)\" is not an amount\(layout.minorUnits ? " in minor units" : " with at most two decimals")")
            }
            // Bounded as stored money is, so that a line's arithmetic never overflows.
            guard amount.magnitude <= SettlementLine.maxAmount else {
                // The limit in words: as digits it is a run the card-number mask takes for one, and hides.
                throw fail(field, "\"\(value)\" is out of range (at most \(layout.minorUnits ? "a quadrillion minor units" : "ten trillion") either way)")
            }
            return amount
        }
        func time(_ field: SettlementLayout.Field, default fallback: String?) throws(ReconcileError) -> String {
            let value = text(field)
            if value.isEmpty, let fallback { return fallback }
            guard let normalized = TimeText.normalize(value) else {
                throw fail(field, "\"\(value)\" is not a time (YYYY-MM-DD[ HH:MM[:SS]], ISO 8601 in UTC, or Unix seconds)")
            }
            return normalized
        }
        // A processor's settlement report never carries a card number; a file that does is refused, and not kept. An
        // amount written with its decimal point, within range, in a money column is money, though its 14 or 15 digits
        // may pass the Luhn check (-999999999854.63 did); a card number there has no point or is out of range.
        func isPlainAmount(_ column: Int) -> Bool {
            let value = record.fields[column].trimmingCharacters(in: .whitespaces)
            guard !layout.minorUnits, moneyColumns.contains(column), value.contains("."),
                  let amount = MoneyText.parse(value, minorUnits: false) else { return false }
            return amount.magnitude <= SettlementLine.maxAmount
        }
        if let column = record.fields.indices.first(where: { CardNumberMask.containsCardNumber(record.fields[$0]) && !isPlainAmount($0) }) {
            throw .cardNumber("\(file):\(record.line): column \(column + 1) holds what looks like a card number; settlement files never carry one, "
                              + "and this file is not kept")
        }
        guard record.fields.count >= (index.values.max() ?? 0) + 1 else {
            throw .input("\(file):\(record.line): \(record.fields.count) columns, the header has at least \((index.values.max() ?? 0) + 1)")
        }
        guard record.fields.count <= headerCount else {
            throw .input("\(file):\(record.line): \(record.fields.count) columns, the header has \(headerCount) (a value with a comma must be quoted)")
        }
        let type = text(.type).lowercased()
        let kind: SettlementLine.Kind = layout.saleTypes.contains(type) ? .sale : layout.refundTypes.contains(type) ? .refund : .other
        let lineID = text(.lineID)
        if lineID.isEmpty { throw fail(.lineID, "empty") }
        let amount = try money(.amount, default: nil)
        let fee = try money(.fee, default: 0)
        let net = try money(.net, default: amount - fee)
        let currency = text(.currency).uppercased()
        guard currency.count == 3, currency.allSatisfy({ $0.isASCII && $0.isLetter }) else { throw fail(.currency, "\"\(currency)\" is not a currency code") }
        let created = try time(.created, default: nil)
        let settled = try time(.settled, default: created)
        return SettlementLine(line: record.line, lineID: lineID, kind: kind, type: type, orderID: text(.orderID), refundID: text(.refundID),
                              processorID: text(.processorID), amount: amount, fee: fee, net: net, currency: currency, created: created,
                              settled: settled)
    }
}

/// Exact amounts from text: `-12.34`, `12.3`, `12` in major units (two decimals at most), or integers in minor units.
public enum MoneyText {
    public static func parse(_ text: String, minorUnits: Bool) -> Int64? {
        var bytes = Substring(text).utf8[...]
        var negative = false
        if bytes.first == UInt8(ascii: "-") { negative = true; bytes = bytes.dropFirst() }
        guard !bytes.isEmpty else { return nil }
        var units: Int64 = 0
        var decimals = -1
        for byte in bytes {
            if byte == UInt8(ascii: "."), !minorUnits, decimals < 0 { decimals = 0; continue }
            guard byte >= 48, byte <= 57 else { return nil }
            if decimals >= 0 { decimals += 1; if decimals > 2 { return nil } }
            let (times, o1) = units.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times.addingReportingOverflow(Int64(byte - 48))
            if o1 || o2 { return nil }
            units = sum
        }
        if decimals == 0 { return nil }
        if !minorUnits {
            for _ in 0..<(2 - max(decimals, 0)) {
                let (scaled, overflow) = units.multipliedReportingOverflow(by: 10)
                if overflow { return nil }
                units = scaled
            }
        }
        return negative ? -units : units
    }

    /// `1234` -> `12.34`, `-5` -> `-0.05`.
    public static func format(_ units: Int64) -> String {
        let magnitude = units.magnitude
        let cents = magnitude % 100
        return (units < 0 ? "-" : "") + "\(magnitude / 100)." + (cents < 10 ? "0" : "") + "\(cents)"
    }
}

/// Times as settlement files write them, normalized to Levy's `YYYY-MM-DDTHH:MM:SSZ` (UTC).
public enum TimeText {
    public static func normalize(_ text: String) -> String? {
        if let fast = normalizeCommon(text) { return fast }
        // Unix seconds up to 9999-12-31T23:59:59Z, the last time the stored form can write.
        if !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }), let seconds = Int64(text) {
            guard seconds <= 253_402_300_799 else { return nil }
            return Timestamp.string(Date(timeIntervalSince1970: TimeInterval(seconds)))
        }
        var value = text
        if value.hasSuffix("Z") { value.removeLast() }
        if value.hasSuffix("+00:00") { value.removeLast(6) }
        value = value.replacingOccurrences(of: "T", with: " ")
        let parts = value.split(separator: " ")
        guard (1...2).contains(parts.count) else { return nil }
        let date = parts[0]
        var time = parts.count == 2 ? String(parts[1]) : "00:00:00"
        if time.count == 5 { time += ":00" }
        if let dot = time.firstIndex(of: ".") { time = String(time[..<dot]) }
        let candidate = "\(date)T\(time)Z"
        guard Timestamp.date(candidate) != nil else { return nil }
        return candidate
    }

    /// The two spellings processors write most (`2026-03-04 17:22:09` and `2026-03-04T17:22:09Z`), checked byte by
    /// byte without building intermediate strings; nil sends anything else through the general path.
    static func normalizeCommon(_ text: String) -> String? {
        var utf8 = Array(text.utf8)
        guard utf8.count == 19 || (utf8.count == 20 && utf8[19] == UInt8(ascii: "Z")) else { return nil }
        let digits = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
        guard digits.allSatisfy({ utf8[$0] >= 48 && utf8[$0] <= 57 }), utf8[4] == 45, utf8[7] == 45, utf8[13] == 58, utf8[16] == 58,
              utf8[10] == UInt8(ascii: " ") || utf8[10] == UInt8(ascii: "T") else { return nil }
        func number(_ a: Int, _ b: Int) -> Int { Int(utf8[a] - 48) * 10 + Int(utf8[b] - 48) }
        let year = number(0, 1) * 100 + number(2, 3), month = number(5, 6), day = number(8, 9)
        guard year >= 1, (1...12).contains(month), (1...Timestamp.daysIn(month: month, year: year)).contains(day), number(11, 12) < 24,
              number(14, 15) < 60, number(17, 18) < 60 else { return nil }
        utf8[10] = UInt8(ascii: "T")
        if utf8.count == 19 { utf8.append(UInt8(ascii: "Z")) }
        return String(decoding: utf8, as: UTF8.self)
    }
}

/// Why a run could not start or go on: bad input (exit 3) or a store or file problem.
public enum ReconcileError: Error, CustomStringConvertible, Equatable {
    case input(String)
    case state(String)
    /// The settlement file holds a card number: the run fails and the file is deleted.
    case cardNumber(String)

    public var description: String {
        switch self {
        case .input(let message), .state(let message), .cardNumber(let message): message
        }
    }
}
