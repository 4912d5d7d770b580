/// Deterministic residual allocation: how a rounded total is split over exact shares so the parts always
/// sum to the total.
///
/// Each share first gets its exact value truncated toward zero; the cents left over (or missing) go one at a
/// time to the shares with the largest (or smallest) remainders; equal remainders go to the earlier share.
/// The order of shares is the order of lines in the order and of jurisdictions in a line (state, county,
/// city, special), so the same quote always allocates the same way.
public enum Allocation {
    public static func allocate(total: Int64, shares: [ExactAmount]) -> [Int64] {
        guard !shares.isEmpty else {
            precondition(total == 0, "nothing to allocate \(total) to")
            return []
        }
        if total < 0 {
            return allocate(total: -total, shares: shares.map { ExactAmount(scaled: -$0.scaled) }).map { -$0 }
        }
        var parts = [Int64](repeating: 0, count: shares.count)
        var remainders = [Int128](repeating: 0, count: shares.count)
        var sum: Int64 = 0
        for i in shares.indices {
            let (whole, remainder) = shares[i].truncatedMinorUnits
            parts[i] = whole
            remainders[i] = remainder
            sum += whole
        }
        var residual = total - sum
        if residual == 0 { return parts }
        // Largest remainder first; ties keep the earlier share first (the sort is made stable by index).
        let byRemainder = shares.indices.sorted { a, b in
            remainders[a] != remainders[b] ? remainders[a] > remainders[b] : a < b
        }
        if residual > 0 {
            var i = 0
            while residual > 0 {
                parts[byRemainder[i % byRemainder.count]] += 1
                residual -= 1
                i += 1
            }
        } else {
            var i = byRemainder.count - 1
            while residual < 0 {
                parts[byRemainder[(i % byRemainder.count + byRemainder.count) % byRemainder.count]] -= 1
                residual += 1
                i -= 1
            }
        }
        return parts
    }
}
