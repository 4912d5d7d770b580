/// Quotes sales and use tax for an order against one table set. Pure: no I/O, no clock, no randomness,
/// so the same request and tables always give the same quote.
public struct TaxCalculator: Sendable {
    public let tables: TaxTableSet

    public init(tables: TaxTableSet) { self.tables = tables }

    public func quote(_ request: QuoteRequest) throws(QuoteError) -> Quote {
        guard !request.lines.isEmpty else { throw .noLines }
        guard request.lines.count <= QuoteLimits.maxLines else { throw .tooManyLines(request.lines.count) }
        // The origin decides sales or use tax and, in origin states, the rate: a state the tables do not know is
        // refused as it is at the destination, not quoted as if it were another state's seller.
        guard tables.profile(request.origin.state) != nil else { throw .unknownState(field: "origin.state", request.origin.state) }
        let currency = request.lines[0].amount.currency
        for (index, line) in request.lines.enumerated() {
            guard (1...QuoteLimits.maxQuantity).contains(line.quantity) else { throw .invalidQuantity(line: index, quantity: line.quantity) }
            guard (0...QuoteLimits.maxLineAmount).contains(line.amount.minorUnits) else { throw .amountOutOfRange(line: index) }
        }
        var warnings: [String] = []
        // An election names a program the tables have for its state (on some date: one not in force on the order's
        // date is said in the lines' warnings).
        for (i, election) in request.elections.enumerated()
        where !(tables.remoteSellerPrograms[election.state]?.contains { $0.type == election.type } ?? false) {
            throw .unknownElection(field: "seller.elections[\(i)].type", election.state, election.type)
        }
        let discounts = try allocateDiscounts(request)
        let deliveryShares = Self.deliveryShares(request, discounts: discounts)

        // Pass 1: where each line is sourced and what each jurisdiction taxes. Proportional shipping needs the
        // goods of the same delivery, so those lines are planned after the others.
        var plans = [LinePlan?](repeating: nil, count: request.lines.count)
        let engagedPlaces = EngagedPlaces()
        let includedCapUse = SaleCapUse()
        let order = request.lines.indices.filter { request.lines[$0].code != .shipping }
            + request.lines.indices.filter { request.lines[$0].code == .shipping }
        for index in order {
            let line = request.lines[index]
            guard line.amount.currency == currency else {
                throw .currencyMismatch(line: index, expected: currency, found: line.amount.currency)
            }
            let plan = try plan(line: line, index: index, request: request, discounts: discounts[index], deliveryShare: deliveryShares[index],
                                planned: plans, engagedPlaces: engagedPlaces, includedCapUse: includedCapUse)
            var seen = Set<String>()
            warnings += plan.warnings.filter { seen.insert($0).inserted }.map { "lines[\(index)] (\(line.id)): \($0)" }
            plans[index] = plan
        }
        let linePlans = plans.map { $0! }
        warnings += freshnessWarnings(linePlans, date: request.date)
        let sharedCaps = shareSaleCaps(linePlans, includedUse: includedCapUse)

        // Pass 2: round by the declared mode, writing each jurisdiction's tax into the line quotes. Groups are
        // few (one per state or per combined rate), so a linear search over them beats hashing.
        switch request.rounding {
        case .lineJurisdiction:
            for plan in linePlans where !plan.isTaxIncluded {
                for cell in plan.quote.jurisdictions.indices {
                    plan.quote.jurisdictions[cell].tax = plan.quote.jurisdictions[cell].exact.roundedHalfAwayFromZero
                }
            }
            // A shared sale cap is the law's maximum for the sale: its cells rounded one by one could pass it by half
            // a cent each (240 lines sharing Kodiak's $3,000 cap: 211.20 on a 210.00 maximum; probe #18). The
            // cap's tax is rounded once and allocated over its cells.
            for members in sharedCaps {
                let shares = members.map { $0.plan.quote.jurisdictions[$0.cell].exact }
                let total = shares.reduce(ExactAmount.zero, +).roundedHalfAwayFromZero
                for (member, part) in zip(members, Allocation.allocate(total: total, shares: shares)) {
                    member.plan.quote.jurisdictions[member.cell].tax = part
                }
            }
        case .sst, .invoiceCombined:
            var groups: [(key: RoundingGroup, members: [(plan: LinePlan, cell: Int)])] = []
            for plan in linePlans where !plan.isTaxIncluded && !plan.quote.jurisdictions.isEmpty {
                let key: RoundingGroup = request.rounding == .sst ? .state(plan.quote.sourcing.address.state) : .combinedRate(plan.combinedRate)
                let members = plan.quote.jurisdictions.indices.map { (plan: plan, cell: $0) }
                if let g = groups.firstIndex(where: { $0.key == key }) { groups[g].members += members } else { groups.append((key, members)) }
            }
            for group in groups {
                var members = group.members
                if case .state(let state) = group.key {
                    members = applyBrackets(tables.brackets(state, on: request.date), to: members)
                }
                let shares = members.map { $0.plan.quote.jurisdictions[$0.cell].exact }
                let total = shares.reduce(ExactAmount.zero, +).roundedHalfAwayFromZero
                // To jurisdictions first, then to their lines: what a return reports per jurisdiction stays
                // within a cent of its exact tax.
                var seen: [Jurisdiction] = []
                let jurisdictions = members.map { member in
                    let jurisdiction = member.plan.quote.jurisdictions[member.cell].jurisdiction
                    if let index = seen.firstIndex(where: { $0 === jurisdiction || Self.sameJurisdiction($0, jurisdiction) }) { return index }
                    seen.append(jurisdiction)
                    return seen.count - 1
                }
                for (member, part) in zip(members, Allocation.allocate(total: total, shares: shares, groups: jurisdictions)) {
                    member.plan.quote.jurisdictions[member.cell].tax = part
                }
            }
        }
        // Tax-included lines carry their own, already fixed, tax: split it over their jurisdictions.
        for plan in linePlans where plan.isTaxIncluded {
            let parts = Allocation.allocate(total: plan.includedTax, shares: plan.quote.jurisdictions.map(\.exact))
            for (cell, part) in parts.enumerated() { plan.quote.jurisdictions[cell].tax = part }
        }

        var totalAmount: Int64 = 0
        var totalTax: Int64 = 0
        do {
            for plan in linePlans {
                plan.quote.tax = Money(minorUnits: try CheckedMoney.sum(plan.quote.jurisdictions.lazy.map(\.tax)), currency: currency)
                totalAmount = try CheckedMoney.add(totalAmount, plan.quote.amount.minorUnits)
                totalTax = try CheckedMoney.add(totalTax, plan.quote.tax.minorUnits)
            }
        } catch {
            throw .overflow(field: "lines")
        }
        return Quote(date: request.date, tableVersion: tables.version, rounding: request.rounding, currency: currency,
                     lines: linePlans.map(\.quote), totalAmount: Money(minorUnits: totalAmount, currency: currency),
                     totalTax: Money(minorUnits: totalTax, currency: currency), warnings: warnings)
    }

    /// One jurisdiction of a rounding group as a return reports it (its level, state and code), whatever record
    /// of the tables it came from: its rounded share is allocated before its lines'.
    private static func sameJurisdiction(_ a: Jurisdiction, _ b: Jurisdiction) -> Bool {
        a.level == b.level && a.state == b.state && a.code == b.code
    }

    /// In a state whose law prescribes bracket schedules, each jurisdiction a schedule covers is taxed by it on
    /// the order's whole taxable amount for that jurisdiction (Pennsylvania: "the total amount of taxable items in
    /// the transaction", 61 Pa. Code 31.2(3); Maryland: the combined sale, Tax-General 11-301), and that tax is
    /// allocated over its lines by their exact shares. Returns the members left to the rounding rule.
    private func applyBrackets(_ schedules: [BracketSchedule], to members: [(plan: LinePlan, cell: Int)]) -> [(plan: LinePlan, cell: Int)] {
        guard !schedules.isEmpty else { return members }
        var bracketed: [(schedule: BracketSchedule, code: String, members: [(plan: LinePlan, cell: Int)])] = []
        var rest: [(plan: LinePlan, cell: Int)] = []
        for member in members {
            let tax = member.plan.quote.jurisdictions[member.cell]
            guard let schedule = schedules.first(where: { $0.covers(tax.jurisdiction, rate: tax.rate) }) else {
                rest.append(member)
                continue
            }
            if let i = bracketed.firstIndex(where: { $0.code == tax.jurisdiction.code && $0.schedule.rate == tax.rate }) {
                bracketed[i].members.append(member)
            } else {
                bracketed.append((schedule, tax.jurisdiction.code, [member]))
            }
        }
        for group in bracketed {
            let taxes = group.members.map { $0.plan.quote.jurisdictions[$0.cell] }
            let base = taxes.reduce(Int64(0)) { $0 + $1.taxable }
            let parts = Allocation.allocate(total: group.schedule.tax(on: base), shares: taxes.map(\.exact))
            for (member, part) in zip(group.members, parts) { member.plan.quote.jurisdictions[member.cell].tax = part }
        }
        return rest
    }

    /// A cap on a whole sale (the Kenai Peninsula Borough taxes the first $500 of each sale): each line was capped
    /// alone; where the tax-excluded lines a rule covers at one jurisdiction together pass what the tax-included
    /// lines left of the cap (those took it first while they were planned: their tax is fixed by their price), that
    /// remainder is shared over their bases in proportion, in cents by largest remainder (ties to the earlier line).
    /// Returns the cells of each group that was shared, for rounding.
    private func shareSaleCaps(_ plans: [LinePlan], includedUse: SaleCapUse) -> [[(plan: LinePlan, cell: Int)]] {
        var groups: [(rule: SpecialRule, jurisdiction: Jurisdiction, members: [(plan: LinePlan, cell: Int)])] = []
        for plan in plans {
            for (rule, cell) in plan.saleCaps {
                let jurisdiction = plan.quote.jurisdictions[cell].jurisdiction
                if let g = groups.firstIndex(where: { $0.rule === rule && $0.jurisdiction == jurisdiction }) {
                    groups[g].members.append((plan, cell))
                } else {
                    groups.append((rule, jurisdiction, [(plan, cell)]))
                }
            }
        }
        var shared: [[(plan: LinePlan, cell: Int)]] = []
        for group in groups {
            guard let cap = group.rule.saleCap else { continue }
            let available = Swift.max(0, cap - includedUse.used(group.rule, group.jurisdiction))
            let bases = group.members.map { $0.plan.quote.jurisdictions[$0.cell].taxable }
            // Each base is at most the cap and an order has at most QuoteLimits.maxLines lines: no overflow.
            guard bases.reduce(0, +) > available else { continue }
            shared.append(group.members)
            for (member, part) in zip(group.members, DiscountAllocation.split(available, over: bases)) {
                let quote = member.plan.quote
                let rate = quote.jurisdictions[member.cell].rate
                member.plan.quote.jurisdictions[member.cell].taxable = part
                member.plan.quote.jurisdictions[member.cell].exact = ExactAmount(minorUnits: part, rate: rate)
                let taxable = Self.lineTaxable(member.plan.quote.jurisdictions, stateTaxed: member.plan.stateTaxed)
                member.plan.quote.taxable = Money(minorUnits: taxable, currency: quote.taxable.currency)
                member.plan.quote.exempt = Money(minorUnits: quote.taxableBase.minorUnits - taxable, currency: quote.taxable.currency)
                if !quote.appliedRules.contains(group.rule.id) { member.plan.quote.appliedRules.append(group.rule.id) }
            }
        }
        return shared
    }

    /// The line's taxable amount: the state's base where the state taxes the line, else the widest local base
    /// (New York clothing under $110 is taxed only by the localities that do not exempt it; a state holiday leaves
    /// a local tax).
    /// A line's taxable amount at each level: the widest base among its jurisdictions of that level.
    static func taxableByLevel(_ cells: [JurisdictionTax]) -> [JurisdictionLevel: Int64] {
        var bases: [JurisdictionLevel: Int64] = [:]
        for cell in cells { bases[cell.jurisdiction.level] = Swift.max(bases[cell.jurisdiction.level] ?? 0, cell.taxable) }
        return bases
    }

    static func lineTaxable(_ cells: [JurisdictionTax], stateTaxed: Bool) -> Int64 {
        if stateTaxed, let state = cells.first, state.taxable > 0 { return state.taxable }
        return cells.map(\.taxable).max() ?? 0
    }

    // MARK: - Planning one line

    private func plan(line: QuoteLine, index: Int, request: QuoteRequest, discounts: LineDiscounts, deliveryShare: Int64,
                      planned: [LinePlan?], engagedPlaces: EngagedPlaces, includedCapUse: SaleCapUse) throws(QuoteError) -> LinePlan {
        let source = sourcingAddress(for: line, index: index, request: request)
        let state = source.address.state
        guard let profile = tables.profile(state) else { throw .unknownState(field: source.field + ".state", state) }

        var primary: ResolvedLocation
        do { primary = try tables.locals.resolve(source.address, on: request.date) } catch {
            throw .unresolvableAddress(field: Self.field(for: error, address: source.field), error)
        }
        if !request.pinned.isEmpty, let codes = request.pinned[source.address] {
            primary = try pin(primary, codes: codes, state: source.address.state, on: request.date, field: source.field)
        }
        var districtLocation: ResolvedLocation?
        if let districtAddress = source.districtAddress {
            do { districtLocation = try tables.locals.resolve(districtAddress, on: request.date) } catch {
                throw .unresolvableAddress(field: Self.field(for: error, address: source.districtField), error)
            }
        }
        let sourcing = SourcingDecision(rule: source.rule, address: source.address, districtAddress: source.districtAddress,
                                        precision: primary.precision, record: primary.record)
        let sellerState = source.sellerLocation.state
        let taxType: TaxType = state == sellerState ? .sales : .use
        var warnings = primary.warnings + (districtLocation?.warnings ?? [])
        if taxType == .use { warnings += primary.useTaxWarnings + (districtLocation?.useTaxWarnings ?? []) }
        var sources = primary.sources + (districtLocation?.sources ?? [])

        // Destination-sourced levels owed only where the seller is engaged in business (California's districts).
        if profile.destinationNeedsEngagement, source.rule == .intrastateHybrid, let district = districtLocation,
           !engaged(request.engagement, at: district, address: source.districtAddress, origin: primary, originAddress: source.address,
                    on: request.date, places: engagedPlaces) {
            let zip = source.districtAddress?.zip.zip5String ?? "the destination"
            let districts = district.locals.filter { $0.jurisdiction.level == .special }.reduce(Rate.zero) { $0 + $1.intrastate }
            if let countywide = district.countyDistricts, !countywide.intrastate.isZero, countywide.intrastate <= districts,
               engagedInCounty(request.engagement, countywide: countywide.jurisdiction, origin: primary, state: state, on: request.date,
                               places: engagedPlaces) {
                warnings.append("district taxes of \(zip): only \(countywide.jurisdiction.name) (\(countywide.intrastate), the county's lowest district "
                                + "rate) charged: the seller is engaged in business in the county but not in the place's own districts (CDTFA Publication 44); "
                                + "if it is, say so in seller.engaged_in")
                districtLocation?.locals = [countywide]
            } else if case let regional = sharedRegionalDistricts(request.engagement, destination: district, origin: primary, state: state,
                                                                  on: request.date, places: engagedPlaces),
                      !regional.isEmpty, regional.reduce(Rate.zero, { $0 + $1.rate }) <= districts {
                warnings.append("district taxes of \(zip): only " + regional.map { "\($0.jurisdiction.name) (\($0.rate))" }.joined(separator: ", ")
                                + " charged: the seller's place of business is in \(regional.count == 1 ? "that district" : "those districts") too, so it is "
                                + "engaged in business there (Regulation 1827; CDTFA annotation 805.0010), but not in the place's own; if it is, say so in seller.engaged_in")
                districtLocation?.locals = regional.map { LocalRate(jurisdiction: $0.jurisdiction, intrastate: $0.rate) }
                sources += regional.map(\.provenance.source)
            } else {
                if case .hybrid(let originLevels) = profile.sourcing, district.locals.contains(where: { !originLevels.contains($0.jurisdiction.level) }) {
                    warnings.append("district taxes of \(zip) not charged: the seller is not engaged in business there "
                                    + "(CDTFA Publication 44); if it is, say so in seller.engaged_in")
                }
                districtLocation?.locals = []
            }
        }

        guard let entry = tables.taxability(of: line.code, in: state, on: request.date) else {
            throw .noTaxability(line: index, line.code, state, request.date)
        }
        if entry.confidence == .low {
            warnings.append("taxability of \(line.code.rawValue) in \(state) is low confidence: confirm with the state")
        }

        sources.append(profile.rate(on: request.date)?.provenance.source ?? profile.provenance.source)

        // Never a silent zero: a line Levy does not collect on says why.
        let notCollecting: NotCollectingReason? =
            !profile.hasSalesTax ? .noSalesTax(state)
            : request.registrations.map { $0.contains(state) ? nil : NotCollectingReason.notRegistered(state) } ?? nil
        if let notCollecting {
            let zero = Money.zero(line.amount.currency)
            let charged = Money(minorUnits: line.amount.minorUnits - discounts.total, currency: line.amount.currency)
            return LinePlan(quote: LineQuote(
                id: line.id, code: line.code, fulfilment: line.fulfilment, quantity: line.quantity, amount: charged, discounts: discounts,
                taxableBase: charged, taxable: zero, exempt: zero, tax: zero, taxType: taxType, notCollecting: notCollecting, sourcing: sourcing,
                taxability: entry, exemption: nil, appliedRules: [], jurisdictions: []),
                // Only what the resolution of the address said: a warning about districts charged or not, or about
                // taxability, describes tax this line does not collect (probe #13).
                warnings: primary.warnings + (districtLocation?.warnings ?? []), sources: sources)
        }

        guard let stateRate = profile.rate(on: request.date) else {
            throw .noStateRate(field: "date", state, request.date)
        }

        // Exemption certificate for the sourced state: a valid one exempts the whole line; an expired one is
        // recorded as not applied.
        var exemption: ExemptionDecision?
        let certificates = request.exemptions.isEmpty ? [] : request.exemptions.filter { $0.state == state }
        if let valid = certificates.first(where: { $0.isValid(on: request.date) }) {
            exemption = ExemptionDecision(certificate: valid, applied: true,
                                          note: "certificate \(valid.number) (\(valid.reason.name)) valid for \(state)")
        } else if let expired = certificates.first {
            exemption = ExemptionDecision(certificate: expired, applied: false,
                                          note: "certificate \(expired.number) expired on \(expired.expires!); not applied")
        }
        let exempted = exemption?.applied == true

        // The jurisdictions of the line: state, locals (districts from the destination in hybrid states), bands.
        var components: [Component] = []
        components.append(Component(jurisdiction: profile.jurisdiction,
                                    rate: taxType == .use ? (stateRate.interstate ?? stateRate.intrastate) : stateRate.intrastate))
        var locals: [LocalRate]
        if case .hybrid(let originLevels) = profile.sourcing, let districtLocation {
            locals = primary.locals.filter { originLevels.contains($0.jurisdiction.level) }
                + districtLocation.locals.filter { !originLevels.contains($0.jurisdiction.level) }
        } else if case .originThenDestination(let cap) = profile.sourcing, let districtLocation {
            locals = Self.capped(origin: primary.locals, destination: districtLocation.locals, cap: cap)
        } else {
            locals = primary.locals
        }
        // A seller outside the state collects only the levels the state asks of it (Pennsylvania: its 6%).
        if taxType == .use, let levels = profile.remoteSellerLevels {
            let left = locals.filter { !levels.contains($0.jurisdiction.level) && !$0.intrastate.isZero }
            if !left.isEmpty {
                locals.removeAll { !levels.contains($0.jurisdiction.level) }
                let named = left.map { "\($0.jurisdiction.name) \($0.interstate ?? $0.intrastate)" }.joined(separator: ", ")
                warnings.append("local use tax not collected (\(named)): a seller outside \(state) collects \(state)'s own tax, and the buyer owes "
                                + "the local tax (\(profile.provenance.source))")
            }
        }
        for local in locals {
            components.append(Component(jurisdiction: local.jurisdiction,
                                        rate: taxType == .use ? (local.interstate ?? local.intrastate) : local.intrastate))
        }
        // Where a local use tax needs its own vote, a sales rate no reviewed row confirms for use tax is a guess.
        if taxType == .use, let lawSource = profile.localUseTaxByAdoption {
            let unreviewed = exempted ? [] : locals.filter {
                $0.interstate == nil && !$0.intrastate.isZero && entry.rule.applies(to: $0.jurisdiction.level)
            }
            if !unreviewed.isEmpty {
                let named = unreviewed.map { "\($0.jurisdiction.name) \($0.intrastate)" }.joined(separator: ", ")
                warnings.append("local_use_tax_unverified: a county or city of \(state) levies a use tax only where its voters adopted one, and the "
                                + "tables do not say whether \(named) did; charged at the sales rate, which is too much where none was adopted "
                                + "(\(lawSource))")
            }
        }

        // A remote seller's election: the program's one tax in place of the levels it replaces.
        var program: RemoteSellerProgram?
        if !request.elections.isEmpty, let election = request.elections.first(where: { $0.state == state }) {
            if let place = Self.sellerPlace(in: state, request: request) {
                warnings.append("election \(election.type) in \(state) not applied: the seller is in \(state) at \(place), and the program "
                                + "is for sellers with no place of business there")
            } else if let elected = tables.remoteSellerProgram(state, election.type, on: request.date) {
                components.removeAll { elected.replaces.contains($0.jurisdiction.level) }
                let component = Component(jurisdiction: elected.jurisdiction, rate: elected.rate)
                // The state's component stays first (`stateTaxed`, `lineTaxable` rely on it).
                if elected.jurisdiction.level == .state { components.insert(component, at: 0) } else { components.append(component) }
                sources.append(elected.provenance.source)
                program = elected
            } else {
                warnings.append("election \(election.type) in \(state) not applied: the program is not in force on \(request.date)")
            }
        }

        let stateRules = tables.rules(in: state)
        let rules = stateRules.isEmpty ? [] : stateRules.filter { $0.schedule.contains(request.date) && $0.codes.contains(line.code) }
        let countyFIPS = primary.countyFIPS
        // Local taxes with their own base for this code here: the levels they replace do not tax the line, and
        // they tax it whatever the state's taxability says.
        // They follow the buyer's address even where a state sources its own tax to the seller (Chicago's
        // amusement tax reaches patrons in Chicago, whoever sells to them).
        var ownBaseCandidates = primary.ownBaseTaxes + (districtLocation?.ownBaseTaxes ?? [])
        if source.rule == .intrastateOrigin || source.rule == .sellerBusinessLocation, let buyer = source.buyerAddress, let buyerLocation = try? tables.locals.resolve(buyer, on: request.date) {
            ownBaseCandidates = buyerLocation.ownBaseTaxes
        }
        let ownBase = ownBaseCandidates.filter { $0.codes.contains(line.code) && $0.period.contains(request.date) }
        let replaced = ownBase.reduce(into: Set<JurisdictionLevel>()) { $0.formUnion($1.replacesLevels) }
        for i in components.indices {
            let jurisdiction = components[i].jurisdiction, level = jurisdiction.level
            components[i].taxed = !exempted && entry.rule.applies(to: level) && !replaced.contains(level)
            if rules.isEmpty { continue }
            components[i].articleRules = rules.filter { rule in
                rule.addedTax == nil && rule.affects(jurisdiction, countyFIPS: countyFIPS)
            }
            components[i].deliveryShare = deliveryShare
        }
        var appliedOwnBase: [String] = []
        for tax in ownBase where !components.contains(where: { $0.jurisdiction == tax.jurisdiction && $0.taxed }) {
            var component = Component(jurisdiction: tax.jurisdiction, rate: tax.rate)
            component.taxed = !exempted
            components.append(component)
            appliedOwnBase.append(tax.id)
            sources.append(tax.provenance.source)
        }
        for rule in rules {
            if let (rate, jurisdiction) = rule.addedTax {
                var band = Component(jurisdiction: jurisdiction, rate: rate)
                band.taxed = !exempted && entry.rule.applies(to: .state)
                band.articleRules = [rule]
                band.isBand = true
                components.append(band)
            }
        }

        // Delivery charges taxed in proportion to the taxable share of the goods shipped with them, or in full when
        // any of them is taxable; level by level, since goods the state exempts can be taxed locally (New York
        // clothing under $110 in a county that taxes it: the delivery charge is then taxed by the county alone).
        if entry.rule == .proportional || entry.rule == .withTaxableGoods {
            // Both sides on the goods' taxable base (the price less the discounts that reduce the base here): a
            // reimbursed coupon that does not reduce the base must not shrink the whole and leave the part.
            var taxableGoods: [JurisdictionLevel: Int64] = [:], goods: Int64 = 0
            for case let other? in planned where other.isShippedGoods && other.quote.sourcing.address.state == state {
                goods += other.quote.taxableBase.minorUnits
                for (level, taxable) in Self.taxableByLevel(other.quote.jurisdictions) { taxableGoods[level, default: 0] += taxable }
            }
            if goods > 0 {
                for i in components.indices {
                    let taxable = taxableGoods[components[i].jurisdiction.level] ?? 0
                    components[i].proportion = entry.rule == .proportional ? (taxable, goods) : (taxable > 0 ? 1 : 0, 1)
                }
            } else {
                warnings.append("shipping with no shipped goods in \(state): taxed in full")
            }
        }

        // The taxable base: the price less the discounts that reduce it here. A seller's discount always does; a
        // reimbursed third-party coupon only where the state says so (else the buyer pays less, the base does not
        // change). A tax-inclusive price is first reduced by the discounts that reduce the base, then back-calculated
        // exactly; a coupon that does not reduce the base then comes off what the buyer pays, never off the tax.
        let couponReduces = tables.couponRules[state]?.reducesBase ?? false
        let quantity = line.quantity
        let net: Int64
        let charged: Int64
        var includedTax: Int64 = 0
        if line.taxIncluded {
            // A cap on the sale: what earlier tax-included lines left of it.
            for i in components.indices where components[i].taxed {
                for rule in components[i].articleRules {
                    guard let cap = rule.saleCap else { continue }
                    let left = Swift.max(0, cap - includedCapUse.used(rule, components[i].jurisdiction))
                    components[i].saleCapLeft = Swift.min(components[i].saleCapLeft ?? left, left)
                }
            }
            let keptCoupon = couponReduces ? 0 : discounts.thirdParty
            let gross = line.amount.minorUnits - discounts.total + keptCoupon
            let exactTax = { (n: Int64) in
                components.reduce(ExactAmount.zero) { $0 + ExactAmount(minorUnits: $1.base(net: n, quantity: quantity), rate: $1.rate) }
            }
            let solved = Self.netFromGross(gross, tax: exactTax)
            net = solved.net
            if solved.exact {
                includedTax = gross - net
            } else {
                // The price falls in the jump of the tax at a per-article limit (New York clothing: a net of 109.99 is
                // exempt, 110.00 taxed in full): no net price and its tax make the gross. The lower net is kept with
                // its own tax, so the buyer is not charged more than the price and no jurisdiction gets a share of tax
                // that its base does not bear.
                includedTax = exactTax(net).roundedHalfAwayFromZero
                warnings.append("tax-included price \(Money(minorUnits: gross, currency: line.amount.currency).decimalString) falls where the tax "
                                + "jumps at a per-article limit: no net price and its tax make it; quoted at the net \(Money(minorUnits: net, currency: line.amount.currency).decimalString) "
                                + "with its tax, \(Money(minorUnits: net + includedTax, currency: line.amount.currency).decimalString) in all")
            }
            // A coupon that does not reduce the base comes off what the buyer pays before tax, never off the tax: past
            // the price before tax it would (probe #15: the rest of it was dropped, and the line said otherwise).
            guard keptCoupon <= net else {
                throw .discountLines(field: discounts.thirdPartyField ?? "discounts",
                                     "a reimbursed coupon of \(Money(minorUnits: keptCoupon, currency: line.amount.currency).decimalString) on line "
                                     + "\"\(line.id)\" is larger than its price before tax (\(Money(minorUnits: net, currency: line.amount.currency).decimalString)): "
                                     + "\(state) taxes the price before the coupon, so the coupon cannot come off the tax")
            }
            charged = net - keptCoupon
        } else {
            charged = line.amount.minorUnits - discounts.total
            net = line.amount.minorUnits - discounts.seller - (couponReduces ? discounts.thirdParty : 0)
        }
        if discounts.thirdParty > 0, let rule = tables.couponRules[state] {
            warnings.append("third-party coupon: \(rule.reducesBase ? "reduces" : "does not reduce") the taxable price in \(state) (\(rule.provenance.source))")
        }

        var appliedRules: [String] = appliedOwnBase + (program.map { [$0.id] } ?? [])
        var deliveryCounted = Set<String>()
        for component in components where component.taxed {
            for rule in component.articleRules where !appliedRules.contains(rule.id) {
                let ruled = rule.saleCap.map { Swift.min(net, component.saleCapLeft ?? $0) }
                    ?? Component.articleBase([rule], net: net, quantity: quantity, delivery: component.deliveryShare)
                // Said once per rule: the holiday would have exempted the price alone.
                if rule.priceIncludesDelivery, component.deliveryShare > 0, !deliveryCounted.contains(rule.id),
                   ruled > Component.articleBase([rule], net: net, quantity: quantity, delivery: 0) {
                    deliveryCounted.insert(rule.id)
                    warnings.append("holiday \(rule.id): the price with this line's share of the delivery charges ("
                                    + "\(Money(minorUnits: deliveryShare, currency: line.amount.currency).decimalString)) is above the holiday's limit, "
                                    + "so it is taxed (\(state) counts delivery in the price: \(rule.provenance.source))")
                }
                if component.isBand ? ruled > 0 : ruled < net {
                    appliedRules.append(rule.id)
                    if rule.confidence == .low {
                        warnings.append("rule \(rule.id) is low confidence (\(rule.provenance.source)): confirm with the state")
                    }
                    if let program, component.jurisdiction == program.jurisdiction, case .holiday = rule.kind {
                        warnings.append("holiday \(rule.id) applied to \(program.jurisdiction.name) as to the taxes it replaces: how \(state)'s "
                                        + "holiday treats the elected program is not confirmed by a state source")
                    }
                }
            }
        }
        var cells: [JurisdictionTax] = []
        var saleCaps: [(rule: SpecialRule, cell: Int)] = []
        cells.reserveCapacity(components.count)
        for component in components {
            let base = component.base(net: net, quantity: quantity)
            if component.isBand && base == 0 { continue }
            if component.taxed {
                for rule in component.articleRules where rule.saleCap != nil {
                    if line.taxIncluded { includedCapUse.add(base, rule, component.jurisdiction) } else { saleCaps.append((rule, cells.count)) }
                }
            }
            cells.append(JurisdictionTax(jurisdiction: component.jurisdiction, rate: component.rate, taxable: base,
                                         exact: ExactAmount(minorUnits: base, rate: component.rate), tax: 0))
        }
        let taxable = Self.lineTaxable(cells, stateTaxed: components[0].taxed)
        // Only invoice_combined rounding needs to know which lines share a combined rate.
        let combinedRate = request.rounding == .invoiceCombined
            ? cells.filter { $0.taxable > 0 }.map { RatePart(jurisdiction: ObjectIdentifier($0.jurisdiction), rate: $0.rate) } : []

        let currency = line.amount.currency
        return LinePlan(
            quote: LineQuote(
                id: line.id, code: line.code, fulfilment: line.fulfilment, quantity: line.quantity,
                amount: Money(minorUnits: charged, currency: currency), discounts: discounts,
                taxableBase: Money(minorUnits: net, currency: currency), taxable: Money(minorUnits: taxable, currency: currency),
                exempt: Money(minorUnits: net - taxable, currency: currency), tax: .zero(currency), taxType: taxType,
                notCollecting: nil, sourcing: sourcing, taxability: entry, exemption: exemption,
                appliedRules: appliedRules, jurisdictions: cells),
            includedTax: includedTax, isTaxIncluded: line.taxIncluded, combinedRate: combinedRate, warnings: warnings, sources: sources,
            isShippedGoods: line.fulfilment == .shipped && line.code != .shipping, stateTaxed: components[0].taxed, saleCaps: saleCaps)
    }

    /// Where the seller is in the state, if anywhere: the order's origin, a line's own seller location, or another
    /// of its places of business. A seller with a place of business in a state is not a remote seller there.
    static func sellerPlace(in state: StateCode, request: QuoteRequest) -> String? {
        if request.origin.state == state { return "its origin (\(request.origin.zip))" }
        if let (i, line) = request.lines.enumerated().first(where: { $0.element.location?.state == state }), let location = line.location {
            return "lines[\(i)].location (\(location.zip))"
        }
        return request.placesOfBusiness[state]
    }

    /// A date the tables do not cover is the date's fault; an unknown or misplaced ZIP is the address's.
    private static func field(for error: ResolutionError, address: String) -> String {
        switch error {
        case .noRatesOnDate: "date"
        case .unknownZip: address + ".zip"
        case .stateMismatch: address + ".state"
        }
    }

    // MARK: - Sourcing

    private struct SourceChoice {
        var rule: SourcingRule
        var address: Address
        var field: String
        var districtAddress: Address?
        var districtField: String
        var sellerLocation: Address
        /// Where the buyer receives the line, when the sourcing rule chose another address.
        var buyerAddress: Address?
    }

    /// SSUTA 310: the seller location when the buyer receives the line there; otherwise where the buyer
    /// receives it, then the billing address, then an address obtained during the sale, then the origin. Origin-based (and hybrid) states then take
    /// intrastate sales back to the seller's location.
    private func sourcingAddress(for line: QuoteLine, index: Int, request: QuoteRequest) -> SourceChoice {
        if line.fulfilment.receivedAtSellerLocation {
            let location = line.location ?? request.origin
            let field = line.location == nil ? "origin" : "lines[\(index)].location"
            return SourceChoice(rule: .sellerLocation, address: location, field: field, districtAddress: nil,
                                districtField: field, sellerLocation: location)
        }
        let (rule, address, field): (SourcingRule, Address, String) =
            if let destination = request.destination { (.deliveryAddress, destination, "destination") }
            else if let billing = request.billing { (.billingAddress, billing, "billing") }
            else if let payment = request.payment { (.paymentAddress, payment, "payment_address") }
            else { (.originAddress, request.origin, "origin") }
        let origin = request.origin
        if rule != .originAddress, address.state == origin.state, let profile = tables.profile(address.state) {
            if profile.sellerSourcedCodes.contains(line.code) {
                return SourceChoice(rule: .sellerBusinessLocation, address: origin, field: "origin", districtAddress: nil,
                                    districtField: "origin", sellerLocation: origin, buyerAddress: address)
            }
            switch profile.sourcing {
            case .origin:
                return SourceChoice(rule: .intrastateOrigin, address: origin, field: "origin", districtAddress: nil,
                                    districtField: "origin", sellerLocation: origin, buyerAddress: address)
            case .hybrid:
                return SourceChoice(rule: .intrastateHybrid, address: origin, field: "origin", districtAddress: address,
                                    districtField: field, sellerLocation: origin)
            case .originThenDestination:
                return SourceChoice(rule: .intrastateOriginCapped, address: origin, field: "origin", districtAddress: address,
                                    districtField: field, sellerLocation: origin)
            case .destination, .notApplicable:
                break
            }
        }
        return SourceChoice(rule: rule, address: address, field: field, districtAddress: nil, districtField: field,
                            sellerLocation: origin)
    }

    // MARK: - Discounts, caps, engagement, freshness

    /// Each line's discounts: its own (a seller discount) and its share of every order-level discount, allocated
    /// in request order over what remains of the lines it names. A discount larger than what it applies to is
    /// refused, naming it.
    func allocateDiscounts(_ request: QuoteRequest) throws(QuoteError) -> [LineDiscounts] {
        var result = [LineDiscounts](repeating: LineDiscounts(), count: request.lines.count)
        var remaining: [Int64] = []
        for (i, line) in request.lines.enumerated() {
            guard line.discount >= 0, line.thirdPartyDiscount >= 0, line.discount + line.thirdPartyDiscount <= line.amount.minorUnits else {
                throw .discountTooLarge(field: "lines[\(i)].discount", limit: line.amount.minorUnits)
            }
            result[i].seller = line.discount
            result[i].thirdParty = line.thirdPartyDiscount
            if line.thirdPartyDiscount > 0 { result[i].thirdPartyField = "lines[\(i)].discount" }
            remaining.append(line.amount.minorUnits - line.discount - line.thirdPartyDiscount)
        }
        guard request.discounts.count <= QuoteLimits.maxDiscounts else { throw .discountLines(field: "discounts", "at most \(QuoteLimits.maxDiscounts) discounts") }
        for (k, discount) in request.discounts.enumerated() {
            var targets: [Int] = []
            if let ids = discount.lineIDs {
                for (j, id) in ids.enumerated() {
                    guard let index = request.lines.firstIndex(where: { $0.id == id }) else {
                        throw .discountLines(field: "discounts[\(k)].lines[\(j)]", "the order has no line \"\(id)\"")
                    }
                    if !targets.contains(index) { targets.append(index) }
                }
            } else {
                targets = request.lines.indices.filter { request.lines[$0].code != .shipping }
            }
            guard !targets.isEmpty else { throw .discountLines(field: "discounts[\(k)].lines", "the discount applies to no line") }
            let available = targets.reduce(Int64(0)) { $0 + remaining[$1] }
            guard discount.amount.minorUnits >= 0, discount.amount.minorUnits <= available else {
                throw .discountTooLarge(field: "discounts[\(k)].amount", limit: available)
            }
            let parts = DiscountAllocation.split(discount.amount.minorUnits, over: targets.map { remaining[$0] })
            for (target, part) in zip(targets, parts) {
                remaining[target] -= part
                switch discount.kind {
                case .seller: result[target].seller += part
                case .thirdParty:
                    result[target].thirdParty += part
                    if part > 0, result[target].thirdPartyField == nil { result[target].thirdPartyField = "discounts[\(k)].amount" }
                }
            }
        }
        return result
    }

    /// The origin's local taxes, then the destination's others in the order city, county, special, each only if
    /// no origin tax of its type was collected (Tax Code 321.205(b), 323.205(b): a city or county use tax is due only
    /// on a sale not consummated in a city or county that has the tax; 34 TAC 3.334) and the local total stays within
    /// `cap` (a local use tax that would pass 2% is not due). Transit authorities and special purpose districts share
    /// the `special` level, where the tables combine them: one at the origin stands for both.
    static func capped(origin: [LocalRate], destination: [LocalRate], cap: Rate) -> [LocalRate] {
        var locals = origin
        var total = origin.reduce(Int64(0)) { $0 + $1.intrastate.units }
        let order: [JurisdictionLevel] = [.city, .county, .special]
        for level in order where !origin.contains(where: { $0.jurisdiction.level == level && $0.intrastate.units > 0 }) {
            for local in destination where local.jurisdiction.level == level && !locals.contains(where: { $0.jurisdiction == local.jurisdiction }) {
                guard total + local.intrastate.units <= cap.units else { continue }
                locals.append(local)
                total += local.intrastate.units
            }
        }
        return locals
    }

    /// The jurisdictions a merchant verified for its premises replace the tables' resolution of that address: a
    /// resolved jurisdiction that is not pinned is dropped, a pinned one the resolution did not give is rated as the
    /// tables rate it wherever it applies (`jurisdictionRate`); an unknown code is refused. When the two differ the
    /// quote says so.
    func pin(_ location: ResolvedLocation, codes: [String], state: StateCode, on date: TaxDate, field: String) throws(QuoteError) -> ResolvedLocation {
        var pinned = location
        var locals: [LocalRate] = []
        for code in codes {
            if let resolved = location.locals.first(where: { $0.jurisdiction.code == code }) {
                locals.append(resolved)
            } else if let rate = tables.locals.jurisdictionRate(code: code, state: state, on: date), rate.jurisdiction.level != .state {
                // A state's own code is not a local jurisdiction: pinned, it charged the state's tax twice.
                locals.append(rate)
            } else {
                throw .unknownPinnedJurisdiction(field: field, code: code, date)
            }
        }
        locals.sort { $0.jurisdiction.level < $1.jurisdiction.level }
        let resolvedCodes = location.locals.map(\.jurisdiction.code).sorted()
        if resolvedCodes != codes.sorted() {
            pinned.warnings.append("jurisdictions pinned by the merchant profile for \(field) (\(codes.sorted().joined(separator: ", "))) used instead of "
                                   + "the tables' resolution of the address (\(resolvedCodes.isEmpty ? "none" : resolvedCodes.joined(separator: ", ")))")
        }
        pinned.locals = locals
        pinned.record += "; local jurisdictions pinned by the merchant profile"
        return pinned
    }

    /// Whether the seller is engaged in business where the destination's districts are: everywhere, or it has a
    /// place of business (the origin or a listed ZIP) in the destination's ZIP or in the same place (a CDTFA city or
    /// county area, whose districts are the same throughout: a seller at 94103 is engaged in San Francisco's
    /// districts at 94110).
    func engaged(_ engagement: SellerEngagement, at destination: ResolvedLocation, address: Address?, origin: ResolvedLocation,
                 originAddress: Address, on date: TaxDate, places: EngagedPlaces) -> Bool {
        if let address, address.zip.zip5 == originAddress.zip.zip5 { return true }
        if let place = destination.place, place == origin.place { return true }
        switch engagement {
        case .everywhere: return true
        case .originOnly: return false
        case .places(let zips):
            if let address, zips.contains(where: { $0.zip5 == address.zip.zip5 }) { return true }
            guard let place = destination.place else { return false }
            return places.resolved(zips, in: destination.state, on: date, tables: tables).places.contains(place)
        }
    }

    /// Whether the seller has a place of business (the origin or a listed ZIP) in the county whose countywide
    /// districts are `countywide` (the same jurisdiction names the county wherever it is resolved).
    func engagedInCounty(_ engagement: SellerEngagement, countywide: Jurisdiction, origin: ResolvedLocation, state: StateCode,
                         on date: TaxDate, places: EngagedPlaces) -> Bool {
        if origin.countyDistricts?.jurisdiction == countywide { return true }
        guard case .places(let zips) = engagement else { return false }
        return places.resolved(zips, in: state, on: date, tables: tables).countywide.contains(countywide)
    }

    /// The districts spanning several counties that reach the destination's county and a county where the seller has a
    /// place of business (the origin, or a ZIP listed in `seller.engaged_in`), in force on the date.
    func sharedRegionalDistricts(_ engagement: SellerEngagement, destination: ResolvedLocation, origin: ResolvedLocation, state: StateCode,
                                 on date: TaxDate, places: EngagedPlaces) -> [RegionalDistrict] {
        guard let all = tables.regionalDistricts[state], let county = destination.countyFIPS else { return [] }
        var sellerCounties: Set<String> = origin.countyFIPS.map { [$0] } ?? []
        if case .places(let zips) = engagement { sellerCounties.formUnion(places.resolved(zips, in: state, on: date, tables: tables).counties) }
        return all.filter { $0.period.contains(date) && $0.counties.contains(county) && !$0.counties.isDisjoint(with: sellerCounties) }
    }

    /// One `stale_rates` warning per source whose verified-through date is before the quote's date.
    fileprivate func freshnessWarnings(_ plans: [LinePlan], date: TaxDate) -> [String] {
        // A quote uses a handful of sources: a linear search beats hashing them.
        var seen: [String] = []
        var warnings: [String] = []
        for plan in plans {
            for source in plan.sources where !seen.contains(source) {
                seen.append(source)
                // A fact citing several sources is verified through the latest of them.
                if let known = tables.staleWarnings[source] {
                    if date > known.through { warnings.append(known.warning) }
                } else if source.contains(";"),
                          let through = source.split(separator: ";").compactMap({ tables.verifiedThrough[String($0)] }).max(), date > through {
                    warnings.append("stale_rates: source \(source) is verified through \(through); rates after that date may have changed")
                }
            }
        }
        return warnings
    }

    // MARK: - Arithmetic

    /// The net price of a tax-inclusive `gross`: the exact solution x of x + tax(x) = gross, rounded half up
    /// to the cent. `tax` is non-decreasing in the net, so the solution is found by bisection over cents and
    /// then placed exactly within its cent, where the tax is linear.
    /// `exact` is false when the gross falls in a jump of the tax (a per-article limit above which the whole price
    /// is taxed): no net makes it, and the net returned is the highest below it.
    static func netFromGross(_ gross: Int64, tax: (Int64) -> ExactAmount) -> (net: Int64, exact: Bool) {
        let scale = Int128(Rate.scale)
        func total(_ n: Int64) -> Int128 { Int128(n) * scale + tax(n).scaled }
        let target = Int128(gross) * scale
        var low: Int64 = 0, high = gross
        // Largest n with total(n) <= target.
        while low < high {
            let mid = low + (high - low + 1) / 2
            if total(mid) <= target { low = mid } else { high = mid - 1 }
        }
        if low == gross { return (gross, true) }
        let shortfall = target - total(low)
        let step = total(low + 1) - total(low)
        // Where the tax is linear a cent of net adds a cent and its tax (under two cents: no rate reaches 100%); a
        // larger step is a jump, and a gross inside it has no net.
        if step > 2 * scale, shortfall > 0 {
            // Just above the jump: the next cent and its tax, rounded, make the gross.
            return low + 1 + tax(low + 1).roundedHalfAwayFromZero == gross ? (low + 1, true) : (low, false)
        }
        return (shortfall * 2 >= step ? low + 1 : low, true)
    }

    /// Each shipped line's share of the order's delivery charges (its `shipping` lines), in proportion to the lines'
    /// prices less seller discounts, in exact cents by largest remainder: what a holiday that counts delivery in its
    /// price limit adds to an article's price (Texas). A tax-included charge counts at its price as given. All zero
    /// without a delivery charge or shipped goods.
    static func deliveryShares(_ request: QuoteRequest, discounts: [LineDiscounts]) -> [Int64] {
        var shares = [Int64](repeating: 0, count: request.lines.count)
        let price = { (i: Int) in Swift.max(0, request.lines[i].amount.minorUnits - discounts[i].seller) }
        let delivery = request.lines.indices.filter { request.lines[$0].code == .shipping }.reduce(Int64(0)) { $0 + price($1) }
        let goods = request.lines.indices.filter { request.lines[$0].fulfilment == .shipped && request.lines[$0].code != .shipping }
        guard delivery > 0, !goods.isEmpty else { return shares }
        for (i, part) in zip(goods, DiscountAllocation.split(delivery, over: goods.map(price))) { shares[i] = part }
        return shares
    }

    /// `net` times taxable/total, rounded half up to the cent: the taxable part of a delivery charge.
    static func proportionalBase(_ net: Int64, _ proportion: (taxable: Int64, total: Int64)) -> Int64 {
        guard proportion.total > 0, proportion.taxable < proportion.total else { return proportion.total > 0 ? net : 0 }
        let numerator = Int128(net) * Int128(Swift.max(proportion.taxable, 0))
        let total = Int128(proportion.total)
        return Int64((numerator * 2 + total) / (total * 2))  // below |net|, as taxable < total
    }
}

/// One jurisdiction's rate on a line, as `invoice_combined` rounding compares them. Jurisdictions are shared
/// instances, so their identity names them.
private struct RatePart: Hashable {
    var jurisdiction: ObjectIdentifier
    var rate: Rate
}

/// What `sst` and `invoice_combined` rounding round together.
private enum RoundingGroup: Equatable {
    case state(StateCode)
    case combinedRate([RatePart])
}

/// A jurisdiction of one line and how its taxable base follows from the line's net amount.
private struct Component {
    var jurisdiction: Jurisdiction
    var rate: Rate
    var taxed = false
    var isBand = false
    var articleRules: [SpecialRule] = []
    /// The line's share of the order's delivery charges, which a holiday counting them in its limit adds to each
    /// article's price (TaxCalculator.deliveryShares).
    var deliveryShare: Int64 = 0
    var proportion: (taxable: Int64, total: Int64)?
    /// On a tax-included line, what the lines before it left of a cap on the sale.
    var saleCapLeft: Int64?

    func base(net: Int64, quantity: Int64) -> Int64 {
        guard taxed else { return 0 }
        var base = net
        if !articleRules.isEmpty {
            let rules = articleRules
            base = Self.articleBase(rules, net: net, quantity: quantity, delivery: deliveryShare)
            // A cap on the sale holds for the line alone; shareSaleCaps then shares it over the order's lines.
            if let cap = rules.lazy.compactMap(\.saleCap).min() { base = Swift.min(base, saleCapLeft ?? cap) }
        }
        if let proportion { base = TaxCalculator.proportionalBase(base, proportion) }
        return base
    }

    /// A line's taxable base under per-article `rules`: each article taxed on what the strictest rule leaves, its
    /// share of `delivery` split over the articles as the price is.
    static func articleBase(_ rules: [SpecialRule], net: Int64, quantity: Int64, delivery: Int64) -> Int64 {
        let articles = Articles(amount: net, quantity: quantity)
        guard delivery > 0, rules.contains(where: \.priceIncludesDelivery) else {
            return articles.total { price in rules.reduce(price) { Swift.min($0, $1.taxableBase(ofArticle: price)) } }
        }
        return articles.total(sharing: delivery) { price, share in
            rules.reduce(price) { Swift.min($0, $1.taxableBase(ofArticle: price, delivery: share)) }
        }
    }
}

/// One line while it is being quoted: the `LineQuote` it becomes (jurisdiction taxes still unrounded), and
/// what rounding and the other lines need to know about it. A class, so rounding writes into it in place.
private final class LinePlan {
    var quote: LineQuote
    /// For a tax-included line, the tax fixed by its price (gross minus the back-calculated net).
    let includedTax: Int64
    let isTaxIncluded: Bool
    let combinedRate: [RatePart]
    let warnings: [String]
    /// The ids of the sources the line's rates came from (for the freshness check).
    let sources: [String]
    /// Goods shipped with the order: proportional delivery charges are allocated over them.
    let isShippedGoods: Bool
    /// Whether the state level taxes the line (its taxable amount is then the state's base).
    let stateTaxed: Bool
    /// The jurisdictions (cells) whose base a cap on the whole sale limits, with the rule.
    let saleCaps: [(rule: SpecialRule, cell: Int)]

    init(quote: LineQuote, includedTax: Int64 = 0, isTaxIncluded: Bool = false, combinedRate: [RatePart] = [],
         warnings: [String], sources: [String] = [], isShippedGoods: Bool = false, stateTaxed: Bool = false,
         saleCaps: [(rule: SpecialRule, cell: Int)] = []) {
        self.quote = quote
        self.includedTax = includedTax
        self.isTaxIncluded = isTaxIncluded
        self.combinedRate = combinedRate
        self.warnings = warnings
        self.sources = sources
        self.isShippedGoods = isShippedGoods
        self.stateTaxed = stateTaxed
        self.saleCaps = saleCaps
    }
}

/// How much of each cap on the sale (rule and jurisdiction) the order's tax-included lines took: the tax-excluded
/// lines share only the rest (a tax-included line capped alone and a tax-excluded line capped alone taxed $1,000 of
/// a Kenai sale capped at $500; probe #18). One quote's, never shared.
final class SaleCapUse {
    private var entries: [(rule: SpecialRule, jurisdiction: Jurisdiction, used: Int64)] = []

    func used(_ rule: SpecialRule, _ jurisdiction: Jurisdiction) -> Int64 {
        entries.first { $0.rule === rule && $0.jurisdiction == jurisdiction }?.used ?? 0
    }

    func add(_ amount: Int64, _ rule: SpecialRule, _ jurisdiction: Jurisdiction) {
        if let i = entries.firstIndex(where: { $0.rule === rule && $0.jurisdiction == jurisdiction }) {
            entries[i].used += amount
        } else {
            entries.append((rule, jurisdiction, amount))
        }
    }
}

/// The places of business a request lists (`seller.engaged_in`), each ZIP resolved once per quote and state: the
/// official place it is in and its county's countywide districts. (Resolved again for every line and district,
/// 1,000 listed ZIPs made a 250-line California quote take 0.4 s instead of 0.04 s.) A listed ZIP that does not
/// resolve in the state (another state's, or unknown) is no place of business there. One quote's, never shared.
final class EngagedPlaces {
    struct Resolved {
        var places: Set<String> = []
        var countywide: [Jurisdiction] = []
        /// The counties (FIPS) of the listed places, for districts spanning several counties.
        var counties: Set<String> = []
    }

    private var byState: [StateCode: Resolved] = [:]

    func resolved(_ zips: [ZipCode], in state: StateCode, on date: TaxDate, tables: TaxTableSet) -> Resolved {
        if let known = byState[state] { return known }
        var resolved = Resolved()
        var seen = Set<ZipCode>()
        for zip in zips where seen.insert(zip).inserted {
            guard let location = try? tables.locals.resolve(Address(state: state, zip: zip), on: date) else { continue }
            if let place = location.place { resolved.places.insert(place) }
            if let county = location.countyDistricts?.jurisdiction, !resolved.countywide.contains(county) { resolved.countywide.append(county) }
            if let fips = location.countyFIPS { resolved.counties.insert(fips) }
        }
        byState[state] = resolved
        return resolved
    }
}
