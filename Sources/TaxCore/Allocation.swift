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

    /// `total` split first over the groups `groups` names (in proportion to each group's exact sum, by largest
    /// remainder, ties to the group that appears first), then each group's part over its own shares the same way.
    /// A per-invoice rounding uses it with one group per jurisdiction: split over its (line, jurisdiction) cells in
    /// one pass, the same remainders repeat on every line of equal price, so the leftover cents all went to the same
    /// jurisdictions (200 lines of 1.07 in Minneapolis: the state 0.71 short, the special district 0.79 over; probe
    /// #19). Each jurisdiction's total is now within a cent of its exact share, as a return reports it, and each cell
    /// still within a cent of its own. `groups[i]` is share i's group, numbered from 0 in the order the groups first
    /// appear (a quote has a few jurisdictions per group of lines: numbered by the caller, no hashing).
    public static func allocate(total: Int64, shares: [ExactAmount], groups: [Int]) -> [Int64] {
        precondition(groups.count == shares.count, "one group per share")
        let count = (groups.max() ?? -1) + 1
        // One share a group (a one-line order): the two steps are the one.
        if count == shares.count { return allocate(total: total, shares: shares) }
        var sums = [ExactAmount](repeating: .zero, count: count)
        var members = [[Int]](repeating: [], count: count)
        for (i, group) in groups.enumerated() {
            sums[group] = sums[group] + shares[i]
            members[group].append(i)
        }
        var parts = [Int64](repeating: 0, count: shares.count)
        for (group, groupTotal) in allocate(total: total, shares: sums).enumerated() {
            let indices = members[group]
            for (i, part) in zip(indices, allocate(total: groupTotal, shares: indices.map { shares[$0] })) { parts[i] = part }
        }
        return parts
    }
}
