/// How much net amount and tax a refund gives back, from the amounts frozen when the order was placed.
///
/// Rules (docs/orders.md): refunding what remains of a line gives back exactly what remains of its amount and of
/// each jurisdiction's tax, so refunds of everything always net to zero. A part of a line gives back its share,
/// rounded half up to the cent, never more than remains. An amount-only refund is spread over the lines in
/// proportion to what remains of them (largest remainder), and each line's tax follows its share of the amount.
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
            guard !requested.isEmpty else { throw .invalidRefund("no lines given") }
            var result: [RefundedLine] = []
            for item in requested {
                guard let line = order.lines.first(where: { $0.number == item.line }) else {
                    throw .invalidRefund("the order has no line \(item.line)")
                }
                let remaining = line.quantity - line.refundedQuantity
                guard item.quantity >= 1, item.quantity <= remaining else {
                    throw .invalidRefund("line \(item.line) has \(remaining) article(s) left to refund, not \(item.quantity)")
                }
                if item.quantity == remaining {
                    result.append(RefundedLine(line: line.number, quantity: item.quantity, amount: line.amount - line.refundedAmount,
                                               taxes: line.taxes.map { RefundedTax(jurisdictionCode: $0.jurisdictionCode, tax: $0.tax - $0.refundedTax) }))
                } else {
                    let amount = min(share(line.amount, item.quantity, line.quantity), line.amount - line.refundedAmount)
                    result.append(RefundedLine(line: line.number, quantity: item.quantity, amount: amount, taxes: line.taxes.map {
                        RefundedTax(jurisdictionCode: $0.jurisdictionCode, tax: min(share($0.tax, item.quantity, line.quantity), $0.tax - $0.refundedTax))
                    }))
                }
            }
            return result
        case .amount(let amount):
            let remaining = order.lines.map { $0.amount - $0.refundedAmount }
            let total = remaining.reduce(0, +)
            guard amount >= 1 else { throw .invalidRefund("the amount must be positive") }
            guard amount <= total else { throw .invalidRefund("only \(total) minor units remain to refund, not \(amount)") }
            let parts = allocate(amount, weights: remaining)
            return order.lines.enumerated().compactMap { index, line -> RefundedLine? in
                let part = parts[index]
                guard part > 0 else { return nil }
                let left = remaining[index]
                return RefundedLine(line: line.number, quantity: 0, amount: part, taxes: line.taxes.map { tax in
                    let leftTax = tax.tax - tax.refundedTax
                    return RefundedTax(jurisdictionCode: tax.jurisdictionCode, tax: part == left ? leftTax : min(share(leftTax, part, left), leftTax))
                })
            }
        }
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
