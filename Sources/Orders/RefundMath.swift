import TaxCore

/// How much net amount and tax a refund gives back, from the amounts frozen when the order was placed.
///
/// Rules (docs/orders.md): refunding what remains of a line gives back exactly what remains of its amount and of
/// each jurisdiction's tax, so refunds of everything always net to zero. A part of a line gives back its share,
/// rounded half up to the cent, never more than remains. An amount-only refund is spread over the lines in
/// proportion to what remains of them (largest remainder), and each line's tax given back, counted with what earlier
/// refunds gave back, is its share of the line's net given back so far, rounded once: many small refunds reverse
/// the tax of their sum, not nothing.
public enum RefundMath {
    static func refund(_ order: Order, _ request: RefundRequest) throws(OrderError) -> [RefundedLine] {
        switch request {
        case .full:
            let lines = order.lines.compactMap { line -> RefundedLine? in
                let remaining = line.amount - line.refundedAmount
                let quantity = line.quantity - line.refundedQuantity
                guard remaining > 0 || line.taxes.contains(where: { $0.tax > $0.refundedTax }) else { return nil }
                return RefundedLine(line: line.number, quantity: quantity, amount: remaining,
                                    taxes: line.taxes.map { RefundedTax(jurisdictionCode: $0.jurisdictionCode, tax: $0.tax - $0.refundedTax) })
            }
            guard !lines.isEmpty else { throw .invalidRefund("everything has been refunded already") }
            return lines
        case .lines(let requested):
            guard !requested.isEmpty else { throw .invalidRefund("no lines given", field: "lines") }
            // Each line is checked against what remains of it, so a line named twice would be refunded twice over.
            var named = Set<Int>()
            for (index, item) in requested.enumerated() where !named.insert(item.line).inserted {
                throw .invalidRefund("line \(item.line) is named twice; give each line once with the quantity to refund", field: "lines[\(index)].line")
            }
            var result: [RefundedLine] = []
            for (index, item) in requested.enumerated() {
                guard let line = order.lines.first(where: { $0.number == item.line }) else {
                    throw .invalidRefund("the order has no line \(item.line)", field: "lines[\(index)].line")
                }
                let remaining = line.quantity - line.refundedQuantity
                guard item.quantity >= 1, item.quantity <= remaining else {
                    throw .invalidRefund("line \(item.line) has \(remaining) article(s) left to refund, not \(item.quantity)", field: "lines[\(index)].quantity")
                }
                if item.quantity == remaining {
                    result.append(RefundedLine(line: line.number, quantity: item.quantity, amount: line.amount - line.refundedAmount,
                                               taxes: line.taxes.map { RefundedTax(jurisdictionCode: $0.jurisdictionCode, tax: $0.tax - $0.refundedTax) }))
                } else {
                    let amount = min(share(line.amount, item.quantity, line.quantity), line.amount - line.refundedAmount)
                    let taxes = line.taxes.map {
                        RefundedTax(jurisdictionCode: $0.jurisdictionCode, tax: min(share($0.tax, item.quantity, line.quantity), $0.tax - $0.refundedTax))
                    }
                    // A share that rounds to nothing of a line that still holds money would give back an article for
                    // 0.00 (and write no ledger entry for it); a line that was free gives its articles back at 0.00.
                    let holdsMoney = line.amount > line.refundedAmount || line.taxes.contains { $0.tax > $0.refundedTax }
                    guard amount > 0 || taxes.contains(where: { $0.tax > 0 }) || !holdsMoney else {
                        throw .invalidRefund("\(item.quantity) of line \(item.line)'s \(line.quantity) article(s) gives back 0.00 (its share rounds to "
                                             + "nothing); refund more of them or all that remains", field: "lines[\(index)].quantity")
                    }
                    result.append(RefundedLine(line: line.number, quantity: item.quantity, amount: amount, taxes: taxes))
                }
            }
            return result
        case .gross(let gross):
            return try split(order, gross: gross)
        case .amount(let amount):
            let remaining = order.lines.map { $0.amount - $0.refundedAmount }
            let total = remaining.reduce(0, +)
            guard amount >= 1 else { throw .invalidRefund("the amount must be positive", field: "amount") }
            guard amount <= total else { throw .invalidRefund("only \(money(total, order)) remains to refund, not \(money(amount, order))", field: "amount") }
            let parts = allocate(amount, weights: remaining)
            return order.lines.enumerated().compactMap { index, line -> RefundedLine? in
                let part = parts[index]
                // Refunding all the net that remains gives back all the tax that remains, that of a line with no net
                // left too (probe #21: a line a third-party coupon paid for kept its tax, and no amount could reach it).
                guard part > 0 || (amount == total && line.taxes.contains { $0.tax > $0.refundedTax }) else { return nil }
                let left = remaining[index]
                return RefundedLine(line: line.number, quantity: 0, amount: part, taxes: line.taxes.map { tax in
                    let leftTax = tax.tax - tax.refundedTax
                    guard part < left else { return RefundedTax(jurisdictionCode: tax.jurisdictionCode, tax: leftTax) }
                    // The tax given back so far follows the net given back so far: each refund gives back what brings the
                    // jurisdiction's refunded tax to its share of the line's refunded net, rounded once (probe #15: each
                    // refund rounded its own share, so thirty refunds of 0.01 gave back no tax at all, and the tax still
                    // owed drifted without bound from the net kept).
                    let target = share(tax.tax, line.refundedAmount + part, line.amount)
                    return RefundedTax(jurisdictionCode: tax.jurisdictionCode, tax: min(max(target - tax.refundedTax, 0), leftTax))
                })
            }
        }
    }

    /// An amount as a person reads it in a refusal (`12.50`).
    static func money(_ minorUnits: Int64, _ order: Order) -> String { Money(minorUnits: minorUnits, currency: order.currency).decimalString }

    /// A refund of `gross`, tax included, split into net and tax that add up to it exactly (rule "gross refund:
    /// net first"): the net is the largest amount `n` whose refund by amount, with its tax `t(n)`, does not exceed
    /// `gross`; the cents left over (fewer than the next cent of net would add in tax) are tax given back on the
    /// jurisdictions that the next cent of net raises, each by no more than it rises. `n + t(n)` grows with `n`, so
    /// `n` is found by bisection. Each jurisdiction's tax is thus within a cent of its exact share, and the parts
    /// add up to `gross`.
    static func split(_ order: Order, gross: Int64) throws(OrderError) -> [RefundedLine] {
        guard gross >= 1 else { throw .invalidRefund("the amount must be positive", field: "amount") }
        let remainingNet = order.lines.reduce(Int64(0)) { $0 + $1.amount - $1.refundedAmount }
        let remainingTax = order.lines.reduce(Int64(0)) { $0 + $1.taxes.reduce(0) { $0 + $1.tax - $1.refundedTax } }
        if gross == remainingNet + remainingTax { return try refund(order, .full) }
        guard gross < remainingNet + remainingTax, remainingNet >= 1 else {
            throw .invalidRefund("only \(money(remainingNet + remainingTax, order)) (tax included) remains to refund, not \(money(gross, order))", field: "amount")
        }
        func total(_ net: Int64) throws(OrderError) -> (Int64, [RefundedLine]) {
            guard net > 0 else { return (0, []) }
            let lines = try refund(order, .amount(net))
            return (lines.reduce(0) { $0 + $1.amount + $1.taxes.reduce(0) { $0 + $1.tax } }, lines)
        }
        // The largest net whose refund does not exceed `gross`; it is below `remainingNet`, whose refund is everything.
        var low: Int64 = 0, high = remainingNet - 1
        while low < high {
            let middle = low + (high - low + 1) / 2
            if try total(middle).0 <= gross { low = middle } else { high = middle - 1 }
        }
        var (reached, lines) = try total(low)
        guard reached < gross else { return lines }
        guard low >= 1 else { throw .invalidRefund("\(gross) minor units are less than the smallest refund with its tax", field: "amount") }
        var leftover = gross - reached
        let (_, next) = try total(low + 1)
        for nextLine in next where leftover > 0 {
            guard let line = order.lines.first(where: { $0.number == nextLine.line }) else { continue }
            var index = lines.firstIndex { $0.line == nextLine.line }
            for (position, raised) in nextLine.taxes.enumerated() where leftover > 0 {
                let before = index.map { lines[$0].taxes[position].tax } ?? 0
                let rise = min(raised.tax - before, line.taxes[position].tax - line.taxes[position].refundedTax - before)
                guard rise > 0 else { continue }
                if index == nil {
                    lines.append(RefundedLine(line: line.number, quantity: 0, amount: 0,
                                              taxes: line.taxes.map { RefundedTax(jurisdictionCode: $0.jurisdictionCode, tax: 0) }))
                    index = lines.count - 1
                }
                guard let target = index else { continue }
                let added = min(rise, leftover)
                lines[target].taxes[position].tax += added
                leftover -= added
            }
        }
        guard leftover == 0 else { throw .invalidRefund("\(gross) cannot be split into net and tax to the cent; record it by hand", field: "amount") }
        return lines.sorted { $0.line < $1.line }
    }

    /// `value` times `numerator / denominator`, rounded half up (values are non-negative).
    public static func share(_ value: Int64, _ numerator: Int64, _ denominator: Int64) -> Int64 {
        guard denominator > 0 else { return 0 }
        let product = Int128(value) * Int128(numerator)
        return Int64((product * 2 + Int128(denominator)) / (Int128(denominator) * 2))
    }

    /// Splits `total` over `weights` in proportion: floors first, then the leftover units to the largest
    /// remainders, earlier weights first on ties. Never gives a weight more than itself when total <= sum.
    static func allocate(_ total: Int64, weights: [Int64]) -> [Int64] {
        let sum = weights.reduce(0, +)
        guard sum > 0 else { return weights.map { _ in 0 } }
        var parts = weights.map { Int64(Int128($0) * Int128(total) / Int128(sum)) }
        let remainders = weights.map { Int128($0) * Int128(total) % Int128(sum) }
        var left = total - parts.reduce(0, +)
        for index in weights.indices.sorted(by: { remainders[$0] != remainders[$1] ? remainders[$0] > remainders[$1] : $0 < $1 }) where left > 0 {
            if parts[index] < weights[index] {
                parts[index] += 1
                left -= 1
            }
        }
        return parts
    }
}
