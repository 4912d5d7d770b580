import Exports
import Foundation
import Orders
import Reconciliation
import Storage
import TaxCore

/// `levy demo seed --settlements FILE`: the settlement file a processor would send for the store's captures and
/// refunds, in the Stripe balance-transaction layout or Levy's generic one, with a seeded set of injected
/// differences of every reason, listed in `FILE.expected.csv` so a test can hold the report against them.
///
/// Without differences a line settles each movement exactly: gross = Levy's amount with tax, fee = 2.9% + 0.30 on
/// sales (none on refunds), funds available two days after capture or refund. A payout line closes every 500
/// movements (a type reconciliation reads and leaves alone).
public enum DemoSettlements {
    public static let fees = FeeSchedule(rate: Rate(units: 290_000_000), fixed: 30)

    public struct Injected: Hashable, Sendable, Comparable {
        public var reason: DifferenceReason
        public var orderID: String
        public var refundID: String
        public var line: Int

        public init(reason: DifferenceReason, orderID: String, refundID: String, line: Int) {
            self.reason = reason
            self.orderID = orderID
            self.refundID = refundID
            self.line = line
        }

        public static func < (a: Self, b: Self) -> Bool {
            (a.reason, a.orderID, a.refundID, a.line) < (b.reason, b.orderID, b.refundID, b.line)
        }
    }

    /// The reasons injected into the file, in turn (tax mismatches come from the seeded orders themselves).
    static let cycle: [DifferenceReason] = [.missingSettlement, .amountMismatch, .currencyMismatch, .duplicate, .feeAnomaly, .lateSettlement,
                                            .settlementWithoutOrder, .refundWithoutSale]

    /// Writes the file for every movement in the store; one movement in `injectEvery` (0: none) gets the next
    /// injected difference. Returns the injected differences (the store's `taxMismatches` added).
    public static func write(service: OrderService, to path: String, layout: SettlementLayout, seed: UInt64, injectEvery: Int,
                             taxMismatches: [String] = [], progress: (Int) -> Void = { _ in }) async throws -> [Injected] {
        var rng = SplitMix64(seed: seed ^ 0x5E77_1E)
        let folder = (path as NSString).deletingLastPathComponent
        let writer = try ExportWriter(directory: folder.isEmpty ? "." : folder, name: (path as NSString).lastPathComponent)
        let stripe = layout.name == "stripe"
        let fields: [SettlementLayout.Field] = [.lineID, .type, .processorID, .amount, .fee, .net, .currency, .created, .settled, .orderID, .refundID]
        var header = fields.map { layout.columns[$0] ?? $0.rawValue }
        if stripe { header.insert("Description", at: 9) }
        try writer.write(bytes: DelimitedFormat.csv.line(header))
        var line = 1
        var injected: [Injected] = taxMismatches.map { Injected(reason: .taxMismatch, orderID: $0, refundID: "", line: 0) }
        var turn = 0
        var movements = 0
        var payoutNet: Int64 = 0

        func id(_ prefix: String) -> String {
            prefix + String(rng.next() & 0xFFFF_FFFF_FFFF, radix: 36)
        }
        func time(_ text: String, plusDays days: Int) -> String {
            let date = (Timestamp.date(text) ?? Date(timeIntervalSince1970: 0)).addingTimeInterval(Double(days) * 86_400)
            let iso = Timestamp.string(date)
            return stripe ? String(iso.dropLast()).replacingOccurrences(of: "T", with: " ") : iso
        }
        func emit(type: String, processor: String, amount: Int64, fee: Int64, currency: String, at: String, settleDays: Int, order: String,
                  refund: String, description: String) throws {
            line += 1
            var values = [id("txn_"), type, processor, MoneyText.format(amount), MoneyText.format(fee), MoneyText.format(amount - fee),
                          stripe ? currency.lowercased() : currency, time(at, plusDays: 0), time(at, plusDays: settleDays), order, refund]
            if stripe { values.insert(description, at: 9) }
            try writer.write(bytes: DelimitedFormat.csv.line(values))
            writer.rows += 1
            payoutNet += amount - fee
        }

        let reader = PaymentMovementReader(orders: service.reader, from: "0000-01-01T00:00:00Z", until: "9999-12-31T23:59:59Z",
                                           lastSeq: try await PaymentMovementReader.head(service.reader))
        var cursor: Int64 = 0
        repeat {
            let page = try await reader.page(after: cursor)
            cursor = page.cursor
            // A movement of no card money (wholly paid by, or refunded to, gift cards) is nothing a processor settles.
            for movement in page.movements where movement.amount != 0 {
                let sale = movement.kind == .sale
                let type = stripe ? (sale ? "charge" : "refund") : (sale ? "sale" : "refund")
                let processor = movement.processorID ?? id(sale ? "ch_" : "re_")
                let fee = sale ? fees.fee(on: movement.amount) : 0
                let description = sale ? "Order \(movement.orderID)" : "Refund \(movement.refundID ?? "") of \(movement.orderID)"
                var reason: DifferenceReason?
                if injectEvery > 0, rng.next() % UInt64(injectEvery) == 0 {
                    reason = cycle[turn % cycle.count]
                    turn += 1
                }
                func note(_ reason: DifferenceReason, order: String = movement.orderID, refund: String? = movement.refundID, at line: Int) {
                    injected.append(Injected(reason: reason, orderID: order, refundID: refund ?? "", line: line))
                }
                func settle(amount: Int64 = movement.amount, fee: Int64? = nil, currency: String = movement.currency, days: Int = 2) throws {
                    let charged = fee ?? (sale ? fees.fee(on: amount) : 0)
                    try emit(type: type, processor: processor, amount: amount, fee: charged, currency: currency, at: movement.at, settleDays: days,
                             order: movement.orderID, refund: movement.refundID ?? "", description: description)
                }
                switch reason {
                case .missingSettlement?:
                    note(.missingSettlement, at: 0)
                case .amountMismatch?:
                    try settle(amount: movement.amount + (sale ? 100 : -100))
                    note(.amountMismatch, at: line)
                case .currencyMismatch?:
                    try settle(currency: "CAD")
                    note(.currencyMismatch, at: line)
                case .duplicate?:
                    try settle()
                    try settle()
                    note(.duplicate, at: line)
                case .feeAnomaly?:
                    try settle(fee: fee + 15)
                    note(.feeAnomaly, at: line)
                case .lateSettlement?:
                    try settle(days: 9)
                    note(.lateSettlement, at: line)
                case .settlementWithoutOrder?:
                    try settle()
                    let stranger = "ord_" + id("x").dropFirst()
                    try emit(type: stripe ? "charge" : "sale", processor: id("ch_"), amount: 4_200, fee: fees.fee(on: 4_200), currency: movement.currency,
                             at: movement.at, settleDays: 2, order: stranger, refund: "", description: "Order \(stranger)")
                    note(.settlementWithoutOrder, order: stranger, refund: nil, at: line)
                case .refundWithoutSale?:
                    try settle()
                    let stranger = "ord_" + id("y").dropFirst()
                    let refund = "ref_" + id("z").dropFirst()
                    try emit(type: "refund", processor: id("re_"), amount: -1_500, fee: 0, currency: movement.currency, at: movement.at,
                             settleDays: 2, order: stranger, refund: refund, description: "Refund \(refund) of \(stranger)")
                    note(.refundWithoutSale, order: stranger, refund: refund, at: line)
                default:
                    try settle()
                }
                movements += 1
                if movements % 500 == 0 {
                    try emit(type: "payout", processor: id("po_"), amount: -payoutNet, fee: 0, currency: movement.currency, at: movement.at,
                             settleDays: 0, order: "", refund: "", description: "STRIPE PAYOUT")
                    payoutNet = 0
                }
                if movements % 10_000 == 0 { progress(movements) }
            }
        } while cursor < reader.lastSeq
        _ = try writer.finish()

        injected.sort()
        let list = try ExportWriter(directory: folder.isEmpty ? "." : folder, name: (path as NSString).lastPathComponent + ".expected.csv")
        try list.write(bytes: DelimitedFormat.csv.line(["reason", "order_id", "refund_id", "settlement_line"]))
        for item in injected {
            try list.write(bytes: DelimitedFormat.csv.line([item.reason.rawValue, item.orderID, item.refundID, item.line == 0 ? "" : String(item.line)]))
        }
        _ = try list.finish()
        return injected
    }
}
