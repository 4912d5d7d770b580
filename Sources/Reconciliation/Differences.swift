import Foundation
import JSONInput
import Orders
import Storage
import TaxCore

/// Why a settlement line, a payment or a tax entry does not reconcile. The raw values are the report's codes.
public enum DifferenceReason: String, Sendable, CaseIterable, Comparable {
    /// Levy captured or refunded, and no settlement line settles it.
    case missingSettlement = "missing_settlement"
    /// A sale line (or a refund of a sold order) that matches no capture or refund in Levy.
    case settlementWithoutOrder = "settlement_without_order"
    /// The settled gross differs from what Levy charged or refunded (tax included).
    case amountMismatch = "amount_mismatch"
    case currencyMismatch = "currency_mismatch"
    /// A second settlement line for the same capture or refund.
    case duplicate
    /// A refund line for an order Levy never captured.
    case refundWithoutSale = "refund_without_sale"
    /// The net is not the amount minus the fee, or the fee is not the agreed schedule's.
    case feeAnomaly = "fee_anomaly"
    /// The tax recomputed with the tables in force on the tax date differs from the ledger (or the ledger from the
    /// tax the order recorded).
    case taxMismatch = "tax_mismatch"
    /// The funds became available later than the agreed number of days after capture or refund.
    case lateSettlement = "late_settlement"

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.order < rhs.order }
    var order: Int { Self.allCases.firstIndex(of: self)! }
}

/// One difference, as the report lists it.
public struct Difference: Sendable, Hashable {
    public var reason: DifferenceReason
    public var orderID: String
    public var refundID: String
    /// The settlement file's line (0 when the difference has no line, e.g. a missing settlement).
    public var line: Int
    public var settlementID: String
    public var processorID: String
    /// Minor units; nil when there is nothing to compare.
    public var expected: Int64?
    public var actual: Int64?
    public var currency: String
    public var detail: String

    public init(reason: DifferenceReason, orderID: String = "", refundID: String = "", line: Int = 0, settlementID: String = "",
                processorID: String = "", expected: Int64? = nil, actual: Int64? = nil, currency: String = "", detail: String) {
        // The ids and the detail quote the settlement file's cells: a card number a cell held is not repeated.
        self.reason = reason
        self.orderID = CardNumberMask.masked(orderID)
        self.refundID = CardNumberMask.masked(refundID)
        self.line = line
        self.settlementID = CardNumberMask.masked(settlementID)
        self.processorID = CardNumberMask.masked(processorID)
        self.expected = expected
        self.actual = actual
        self.currency = currency
        self.detail = CardNumberMask.masked(detail)
    }
}

/// The merchant's agreed processing fee on sales: a percentage of the gross plus a fixed amount, rounded half up
/// to the cent. Refunds are expected to carry no fee (processors keep the original fee).
public struct FeeSchedule: Sendable, Hashable {
    /// The percentage as an exact rate (2.9% is 0.029).
    public var rate: Rate
    public var fixed: Int64

    public init(rate: Rate, fixed: Int64) {
        self.rate = rate
        self.fixed = fixed
    }

    /// Reads the agreed schedule as the CLI and the API take it, naming their own option or parameter in errors:
    /// the percentage from 0 to 100, the fixed fee an amount (major units) from 0 to the settlement line limit, and a
    /// fixed fee only with a percentage (alone it would be read and never used). No percentage: no schedule.
    public static func parse(percent: String?, fixed: String?, percentName: String,
                             fixedName: String) throws(ReconcileError) -> FeeSchedule? {
        guard let percent else {
            if let fixed, MoneyText.parse(fixed, minorUnits: false) != 0 {
                throw .input("\(fixedName): given without \(percentName); the schedule is a percentage plus a fixed fee")
            }
            return nil
        }
        guard let rate = percentage(percent) else {
            throw .input("\(percentName): \"\(percent)\" is not a percentage from 0 to 100")
        }
        let text = fixed ?? "0"
        guard let amount = fixedFee(text) else {
            throw .input("\(fixedName): \"\(text)\" is not an amount from 0 to ten trillion with at most two decimals")
        }
        return FeeSchedule(rate: rate, fixed: amount)
    }

    /// A percentage from 0 to 100 written as it prints (`2.9`); nil otherwise. The API checks its parameter with it.
    public static func percentage(_ text: String) -> Rate? {
        guard printsPlainly(text), let rate = try? Rate.parse(percent: text), rate.units >= 0, rate.units <= Rate.scale else { return nil }
        return rate
    }

    /// A fixed fee in major units from 0 to the settlement line limit, as it prints (`0.30`); nil otherwise.
    public static func fixedFee(_ text: String) -> Int64? {
        guard printsPlainly(text), let amount = MoneyText.parse(text, minorUnits: false), amount >= 0,
              amount.magnitude <= SettlementLine.maxAmount else { return nil }
        return amount
    }

    /// A number as it prints: digits with no sign and no leading zero before another digit, and digits on both sides
    /// of a decimal point (`2.9`, `0.30`, `100`; not `02.9`, `.5`, `5.`, `+1` or `-0`), as amounts are read elsewhere.
    static func printsPlainly(_ text: String) -> Bool {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, !whole.isEmpty, whole.allSatisfy({ $0.isASCII && $0.isNumber }),
              whole == "0" || whole.first != "0" else { return false }
        guard parts.count == 2 else { return true }
        return !parts[1].isEmpty && parts[1].allSatisfy { $0.isASCII && $0.isNumber }
    }

    /// The fee on a gross amount (minor units), half up.
    public func fee(on gross: Int64) -> Int64 {
        let exact = Int128(gross) * Int128(rate.units)
        let divisor = Int128(Rate.scale)
        let rounded = (exact.magnitude + UInt128(divisor) / 2) / UInt128(divisor)
        // Lines and fees are bounded where they are read; clamped all the same, a fee never traps.
        let share = Int64(clamping: rounded)
        let (fee, overflow) = (exact < 0 ? -share : share).addingReportingOverflow(fixed)
        return overflow ? (fixed < 0 ? Int64.min : Int64.max) : fee
    }
}

/// What the matching agrees to: the fee schedule (none: only net = amount - fee is checked) and how many days
/// after capture or refund the funds may become available.
public struct MatchPolicy: Sendable, Hashable {
    public var fees: FeeSchedule?
    public var lateAfterDays: Int

    public init(fees: FeeSchedule? = nil, lateAfterDays: Int = 5) {
        self.fees = fees
        self.lateAfterDays = lateAfterDays
    }
}

/// The rules that compare one settlement line with the movement it settles. Pure: the same inputs always give the
/// same differences, in the same order.
public enum MatchRules {
    public static func compare(_ line: SettlementLine, with movement: PaymentMovement, policy: MatchPolicy) -> [Difference] {
        var found: [Difference] = []
        func difference(_ reason: DifferenceReason, expected: Int64?, actual: Int64?, _ detail: String) {
            found.append(Difference(reason: reason, orderID: movement.orderID, refundID: movement.refundID ?? "", line: line.line,
                                    settlementID: line.lineID, processorID: line.processorID, expected: expected, actual: actual,
                                    currency: line.currency, detail: detail))
        }
        if line.currency != movement.currency {
            difference(.currencyMismatch, expected: movement.amount, actual: line.amount,
                       "settled in \(line.currency), Levy \(movement.kind == .sale ? "charged" : "refunded") in \(movement.currency)")
        } else if line.amount != movement.amount {
            difference(.amountMismatch, expected: movement.amount, actual: line.amount,
                       "settled \(MoneyText.format(line.amount)), Levy \(movement.kind == .sale ? "charged" : "refunded") \(MoneyText.format(movement.amount)) (tax included)")
        }
        found += fees(of: line, orderID: movement.orderID, refundID: movement.refundID ?? "", policy: policy)
        if let recorded = Timestamp.date(movement.at), let settled = Timestamp.date(line.settled),
           settled.timeIntervalSince(recorded) > Double(policy.lateAfterDays) * 86_400 {
            let days = Int((settled.timeIntervalSince(recorded) / 86_400).rounded(.down))
            difference(.lateSettlement, expected: nil, actual: nil,
                       "available \(line.settled), \(days) days after \(movement.kind == .sale ? "capture" : "refund") at \(movement.at) (limit \(policy.lateAfterDays))")
        }
        return found
    }

    /// A sale or refund line's fee, checked on the line alone, whatever it settles (a duplicate or a line that matches
    /// nothing is still money the processor kept): the net must be the amount minus the fee, and with a schedule, a
    /// sale's fee the schedule's and a refund's none. `orderID` and `refundID` name what the line settles, if known.
    public static func fees(of line: SettlementLine, orderID: String, refundID: String, policy: MatchPolicy) -> [Difference] {
        func difference(expected: Int64, actual: Int64, _ detail: String) -> [Difference] {
            [Difference(reason: .feeAnomaly, orderID: orderID, refundID: refundID, line: line.line, settlementID: line.lineID,
                        processorID: line.processorID, expected: expected, actual: actual, currency: line.currency, detail: detail)]
        }
        guard line.kind != .other else { return [] }
        // Amounts are bounded where they are read; the subtraction is checked all the same.
        let (expectedNet, overflow) = line.amount.subtractingReportingOverflow(line.fee)
        if overflow || line.net != expectedNet {
            return difference(expected: overflow ? 0 : expectedNet, actual: line.net,
                              "net \(MoneyText.format(line.net)) is not amount \(MoneyText.format(line.amount)) minus fee \(MoneyText.format(line.fee))")
        }
        guard let schedule = policy.fees else { return [] }
        let expected = line.kind == .sale ? schedule.fee(on: line.amount) : 0
        guard line.fee != expected else { return [] }
        return difference(expected: expected, actual: line.fee, "fee \(MoneyText.format(line.fee)), the schedule gives \(MoneyText.format(expected))")
    }
}
