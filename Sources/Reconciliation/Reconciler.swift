import Crypto
import Exports
import Foundation
import Orders
import Storage
import TaxCore

/// What to reconcile: a settlement file read through a layout, the period of Levy's captures and refunds (by the
/// time the ledger recorded them, UTC, both days inclusive), and the agreed fees and settlement delay.
public struct ReconcileRequest: Sendable {
    public var settlements: String
    public var layout: SettlementLayout
    public var from: TaxDate?
    public var through: TaxDate?
    public var policy: MatchPolicy
    /// Recompute every sale's tax with the tables in force on its tax date (the slow part; on by default).
    public var recomputeTax: Bool
    /// The settlement file's name in messages and the report: the uploaded name for a run started over the API,
    /// whose file the server keeps under a name of its own; nil for the path's last component.
    public var settlementsName: String?
    var displayName: String { settlementsName ?? (settlements as NSString).lastPathComponent }

    public init(settlements: String, layout: SettlementLayout, from: TaxDate? = nil, through: TaxDate? = nil,
                policy: MatchPolicy = MatchPolicy(), recomputeTax: Bool = true) {
        self.settlements = settlements
        self.layout = layout
        self.from = from
        self.through = through
        self.policy = policy
        self.recomputeTax = recomputeTax
    }

    /// Timestamps bounding the period (`until` exclusive).
    var bounds: (from: String, until: String) {
        let start = from.map { "\($0.iso)T00:00:00Z" } ?? "0000-01-01T00:00:00Z"
        // The day after the last (none after 9999-12-31: the end of time stands in).
        let end = through.flatMap { $0.adding(days: 1) }.map { "\($0.iso)T00:00:00Z" } ?? "9999-12-31T23:59:59Z"
        return (start, end)
    }
}

/// Runs a reconciliation in phases, each checkpointed in the output folder's `checkpoint.sqlite` in the same
/// transaction as its results: read the settlement file, read Levy's movements from the ledger, recompute tax,
/// match, write the report. A run that stops (killed, crashed) resumes where its last checkpoint left off; a run
/// that finished rewrites the same report. The store is read as of the ledger head when the run first started.
public struct Reconciler: Sendable {
    public let service: OrderService
    public let tables: TaxTableSet
    /// Rows per checkpoint.
    public var batch = 10_000
    /// Called with the phase and the rows done so far, after each checkpoint (the command prints it on a terminal).
    public var progress: @Sendable (String, Int) -> Void = { _, _ in }
    /// Called when a phase ends, with how long it took in this process.
    public var phaseDone: @Sendable (String, Duration) -> Void = { _, _ in }
    /// For drills and tests: called with the number of checkpoints written so far in this process, after each one
    /// (the command's hidden `--hold-at-checkpoint N` stops there until killed).
    public var afterCheckpoint: @Sendable (Int) async -> Void = { _ in }
    /// For drills and tests: stop with an error after this many checkpoints, as if the process had been killed.
    public var stopAfterCheckpoints: Int?

    public init(service: OrderService, tables: TaxTableSet) {
        self.service = service
        self.tables = tables
    }

    public static let checkpointFile = "checkpoint.sqlite"

    public func run(_ request: ReconcileRequest, out: String, restart: Bool = false) async throws -> ReconcileSummary {
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let path = out + "/" + Self.checkpointFile
        if restart {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        let work = try WorkStore(path: path, stopAfter: stopAfterCheckpoints)
        try await work.create()
        let identity = try Self.identity(of: request)
        if let existing = try await work.value("identity") {
            guard existing == identity else {
                throw ReconcileError.state("\(out) holds a run of other inputs (settlement file, layout, period or policy); use a new folder or --restart")
            }
        } else {
            let head = try await PaymentMovementReader.head(service.reader)
            try await work.set(["identity": identity, "ledger_head": String(head), "table_version": tables.version])
        }
        let head = Int64(try await work.value("ledger_head") ?? "0") ?? 0

        let clock = ContinuousClock()
        var start = clock.now
        func done(_ phase: String) {
            phaseDone(phase, clock.now - start)
            start = clock.now
        }
        try await importSettlements(request, work: work)
        done("settlement file")
        try await readMovements(request, head: head, work: work)
        done("ledger movements")
        if request.recomputeTax { try await recomputeTax(work: work) }
        done("tax recomputation")
        try await match(request, work: work)
        done("matching")
        let summary = try await ReconcileSummary.compute(work: work, request: request, tableVersion: tables.version)
        try await ReconcileReport.write(work: work, summary: summary, to: out)
        done("report")
        try await work.set(["complete": "yes"])
        return summary
    }

    /// The inputs that make two runs the same run: the file's SHA-256, the layout, the period and the policy.
    static func identity(of request: ReconcileRequest) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: request.settlements) else {
            throw ReconcileError.input("\(request.settlements): cannot read the settlement file")
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty { hasher.update(data: chunk) }
        let file = hexString(hasher.finalize())
        let layout = request.layout
        let columns = layout.columns.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue)=\($0.value)" }.joined(separator: ",")
        let fees = request.policy.fees.map { "\($0.rate.percentString)%+\($0.fixed)" } ?? "none"
        // The first field is the checkpoint store's format: a folder of an older format is another run.
        return ["work-2", file, layout.name, columns, layout.saleTypes.sorted().joined(separator: ","), layout.refundTypes.sorted().joined(separator: ","),
                layout.minorUnits ? "minor" : "major", request.from?.iso ?? "", request.through?.iso ?? "", fees,
                String(request.policy.lateAfterDays), request.recomputeTax ? "tax" : "no-tax"].joined(separator: "|")
    }

    // MARK: - Phase 1: the settlement file

    func importSettlements(_ request: ReconcileRequest, work: WorkStore) async throws {
        guard try await work.value("settlement_done") == nil else { return }
        let name = request.displayName
        let offset = Int64(try await work.value("settlement_offset") ?? "0") ?? 0
        let startLine = Int(try await work.value("settlement_line") ?? "1") ?? 1
        // The header is read from the start every time; data resumes at the checkpoint.
        let headerStream: CSVStream
        do { headerStream = try CSVStream(path: request.settlements) } catch {
            throw ReconcileError.input(error.description.replacingOccurrences(of: request.settlements, with: name))
        }
        let header: CSVStream.Record
        do {
            guard let first = try headerStream.next() else { throw ReconcileError.input("\(name): the file is empty (a header line is required)") }
            header = first
        } catch let error as CSVStream.Failure { throw ReconcileError.input(error.description.replacingOccurrences(of: request.settlements, with: name)) }
        let bound = try request.layout.bind(header: header.fields, file: name)
        let stream: CSVStream
        do {
            stream = offset == 0 ? headerStream : try CSVStream(path: request.settlements, offset: offset, line: startLine)
        } catch { throw ReconcileError.input(error.description) }
        var done = Int(try await work.value("settlement_rows") ?? "0") ?? 0
        // The report sums the file's amounts, fees and nets: their magnitudes must add up within what a sum can hold
        // (each line is bounded, but 9,224 lines at the bound pass Int64: probe #12's SQLite "integer overflow").
        var magnitudes = SettlementMagnitudes(saved: try await work.value("settlement_magnitudes"))
        while true {
            // A server shutting down stops a run between batches (probe #15: a busy run kept a stopped server on a core);
            // the checkpoint lets the run resume.
            try Task.checkCancellation()
            var lines: [SettlementLine] = []
            var end: Int64 = offset
            var nextLine = startLine
            do {
                while lines.count < batch, let record = try stream.next() {
                    let line = try bound.line(record)
                    guard magnitudes.add(line) else {
                        throw ReconcileError.input("\(name):\(record.line): the file's amounts, fees or nets add up past 92 quadrillion dollars, more than "
                                                   + "a sum can hold exactly; reconcile it in parts")
                    }
                    lines.append(line)
                    end = record.end
                    nextLine = record.line + 1
                }
            } catch let error as CSVStream.Failure {
                throw ReconcileError.input(error.description.replacingOccurrences(of: request.settlements, with: name))
            }
            if lines.isEmpty {
                try await work.set(["settlement_done": "yes"])
                return
            }
            done += lines.count
            try await work.insertSettlements(lines, checkpoint: ["settlement_offset": String(end), "settlement_line": String(nextLine),
                                                                 "settlement_rows": String(done), "settlement_magnitudes": magnitudes.saved])
            await afterCheckpoint(try work.checkpointed())
            progress("settlement lines", done)
        }
    }

    // MARK: - Phase 2: Levy's captures and refunds

    func readMovements(_ request: ReconcileRequest, head: Int64, work: WorkStore) async throws {
        guard try await work.value("movements_done") == nil else { return }
        let bounds = request.bounds
        var reader = PaymentMovementReader(orders: service.reader, from: bounds.from, until: bounds.until, lastSeq: head)
        // A movement is about ten ledger entries (a line per jurisdiction): a window of ten times the batch checkpoints
        // about a batch of movements.
        reader.window = Int64(max(batch, 1)) * 10
        var cursor: Int64
        if let saved = try await work.value("movements_cursor") {
            cursor = Int64(saved) ?? 0
        } else {
            // Without a first day the run starts at the ledger's beginning, with no scan to find it.
            cursor = request.from == nil ? 0 : try await reader.firstSeq() - 1
        }
        var done = Int(try await work.value("movements_rows") ?? "0") ?? 0
        var magnitude = MovementMagnitude(saved: try await work.value("movements_magnitude"))
        // The next window is read from the store while this one is written to the checkpoint store (two connections,
        // two cores).
        let windows = reader
        func read(after cursor: Int64) -> Task<(movements: [PaymentMovement], cursor: Int64), any Error>? {
            cursor < head ? Task { try await windows.page(after: cursor) } : nil
        }
        var next = read(after: cursor)
        defer { next?.cancel() }
        while let pending = next {
            try Task.checkCancellation()
            let page = try await pending.value
            cursor = page.cursor
            next = read(after: cursor)
            done += page.movements.count
            guard magnitude.add(page.movements) else {
                throw ReconcileError.input("Levy's captures and refunds in the period add up past 92 quadrillion dollars, more than a sum can hold "
                                           + "exactly; reconcile the period in parts (--from, --through)")
            }
            try await work.insertMovements(page.movements, checkpoint: ["movements_cursor": String(cursor), "movements_rows": String(done),
                                                                        "movements_magnitude": magnitude.saved])
            await afterCheckpoint(try work.checkpointed())
            progress("ledger movements", done)
        }
        try await work.finishMovements()
    }

    // MARK: - Phase 3: tax recomputed with the tables in force on each tax date

    func recomputeTax(work: WorkStore) async throws {
        guard try await work.value("tax_done") == nil else { return }
        let calculator = TaxCalculator(tables: tables)
        var cursor = try await work.value("tax_cursor") ?? ""
        var done = Int(try await work.value("tax_rows") ?? "0") ?? 0
        let pageSize = max(1, min(batch, 2_000))
        // The next page is read and replayed from the store while this one is quoted: the two cores each take one.
        let (service, database) = (service, work.database)
        func load(after cursor: String) -> Task<(page: [SQLRow], replayed: [ReplayedOrder])?, any Error> {
            Task {
                let page = try await database.query("""
                    SELECT order_id, ledger_tax, recorded_tax FROM movement WHERE kind = 'sale' AND key > $1 ORDER BY key LIMIT \(pageSize)
                    """, [.text(cursor)])
                guard !page.isEmpty else { return nil }
                return (page, try await service.replay(page.compactMap { $0.text("order_id") }))
            }
        }
        var next = load(after: cursor)
        defer { next.cancel() }
        while let (page, replayed) = try await next.value {
            guard let last = page.last?.text("order_id") else { break }
            next = load(after: last)
            let ledger = Dictionary(page.map { ($0.text("order_id") ?? "", $0.integer("ledger_tax") ?? 0) }, uniquingKeysWith: { a, _ in a })
            var differences: [Difference] = []
            var seen = Set<String>()
            for order in replayed {
                seen.insert(order.id)
                let ledgerTax = ledger[order.id] ?? 0
                do {
                    let quote = try calculator.quote(order.request)
                    let recomputed = quote.totalTax.minorUnits
                    guard recomputed != ledgerTax else { continue }
                    var detail = "recomputed \(MoneyText.format(recomputed)) for tax date \(order.request.date.iso), the ledger holds \(MoneyText.format(ledgerTax))"
                    if let index = zip(quote.lines.map(\.tax.minorUnits), order.lineTaxes).enumerated().first(where: { $0.element.0 != $0.element.1 }) {
                        let line = quote.lines[index.offset]
                        let rates = line.jurisdictions.map { "\($0.jurisdiction.code) \($0.rate.fractionString)" }.joined(separator: ", ")
                        detail += "; line \(index.offset + 1) (\(line.code.rawValue)): \(MoneyText.format(index.element.0)) now vs \(MoneyText.format(index.element.1)) recorded [\(rates)]"
                    }
                    if !order.assumptions.isEmpty { detail += "; replayed assuming: \(order.assumptions.joined(separator: ", "))" }
                    differences.append(Difference(reason: .taxMismatch, orderID: order.id, expected: recomputed, actual: ledgerTax, currency: "USD", detail: detail))
                } catch {
                    differences.append(Difference(reason: .taxMismatch, orderID: order.id, actual: ledgerTax, currency: "USD",
                                                  detail: "cannot recompute: \(error.description)"))
                }
            }
            for row in page {
                guard let id = row.text("order_id"), !seen.contains(id) else { continue }
                differences.append(Difference(reason: .taxMismatch, orderID: id, actual: ledger[id], currency: "USD",
                                              detail: "cannot recompute: the order keeps no origin address or is not in USD"))
            }
            cursor = last
            done += page.count
            try await work.insertTaxDifferences(differences, checkpoint: ["tax_cursor": cursor, "tax_rows": String(done)])
            await afterCheckpoint(try work.checkpointed())
            progress("orders recomputed", done)
        }
        try await work.set(["tax_done": "yes"])
    }

    // MARK: - Phase 4: matching

    /// Matches settlement lines with movements and records every difference. Cheap next to the phases before it, so
    /// it is redone whole rather than checkpointed. Lines are read in the order of what they match on (kind, key,
    /// line), the order of both indexes, so the join walks them together; the first line of a key is the one matched
    /// and any later one is its duplicate.
    func match(_ request: ReconcileRequest, work: WorkStore) async throws {
        try await work.resolveProcessorIDs()
        try await work.clearDifferences()
        var outside = 0
        var matched = 0
        for kind in [SettlementLine.Kind.refund, .sale] {
            var after = (key: "", line: -1)
            var first: (key: String, line: Int)?
            while true {
                let page = try await work.linesWithMovements(kind: kind, after: after, limit: batch)
                guard let last = page.last else { break }
                after = (last.key, last.line.line)
                var differences: [Difference] = []
                var unmatched: [SettlementLine] = []
                for entry in page {
                    let line = entry.line
                    if !entry.key.isEmpty, let first, first.key == entry.key {
                        differences.append(Difference(reason: .duplicate, orderID: line.orderID, refundID: line.refundID,
                                                      line: line.line, settlementID: line.lineID, processorID: line.processorID, actual: line.amount,
                                                      currency: line.currency, detail: "settles the same \(line.kind == .sale ? "capture" : "refund") as line \(first.line)"))
                        differences += MatchRules.fees(of: line, orderID: line.orderID, refundID: line.refundID, policy: request.policy)
                        continue
                    }
                    first = (entry.key, line.line)
                    if let movement = entry.movement {
                        matched += 1
                        differences += MatchRules.compare(line, with: movement, policy: request.policy)
                    } else {
                        unmatched.append(line)
                        differences += MatchRules.fees(of: line, orderID: line.orderID, refundID: line.refundID, policy: request.policy)
                    }
                }
                let (found, outsideNow) = try await explainUnmatched(unmatched)
                differences += found
                outside += outsideNow
                try await work.append(differences)
            }
        }
        try await work.recordMissingSettlements()
        try await work.recordLedgerDifferences()
        try await work.set(["outside_period": String(outside), "matched_lines": String(matched)])
    }

    /// Lines that match no movement of the period: those whose capture or refund is in Levy's tax ledger outside the
    /// period are left alone (counted); the rest are differences, including a capture or refund Levy recorded whose
    /// ledger entries are missing.
    func explainUnmatched(_ lines: [SettlementLine]) async throws -> ([Difference], Int) {
        guard !lines.isEmpty else { return ([], 0) }
        let orderIDs = Set(lines.map(\.orderID).filter { !$0.isEmpty })
        let refundIDs = Set(lines.map(\.refundID).filter { !$0.isEmpty })
        let processorIDs = Set(lines.map(\.processorID).filter { !$0.isEmpty })
        var status = try await service.reader.statuses(ofOrders: orderIDs)
        var captureOwner: [String: String] = [:]
        for (capture, owner) in try await service.reader.orders(capturedAs: processorIDs) {
            captureOwner[capture] = owner.orderID
            status[owner.orderID] = owner.status
        }
        let knownRefunds = try await service.reader.knownRefunds(ids: refundIDs, processorIDs: processorIDs)
        let salesInLedger = try await service.reader.ordersWithSales(Set(status.keys))
        let captured: Set<String> = ["captured", "partially_refunded", "refunded", "completed"]
        var differences: [Difference] = []
        var outside = 0
        for line in lines {
            let orderID = line.orderID.isEmpty ? captureOwner[line.processorID] ?? "" : line.orderID
            let orderStatus = status[orderID]
            func difference(_ reason: DifferenceReason, _ detail: String) {
                differences.append(Difference(reason: reason, orderID: orderID, refundID: line.refundID, line: line.line, settlementID: line.lineID,
                                              processorID: line.processorID, actual: line.amount, currency: line.currency, detail: detail))
            }
            switch line.kind {
            case .sale:
                if let orderStatus, captured.contains(orderStatus), salesInLedger.contains(orderID) {
                    outside += 1
                } else if let orderStatus, captured.contains(orderStatus) {
                    difference(.settlementWithoutOrder, "order \(orderID) is \(orderStatus), but the tax ledger holds no sale for it")
                } else if let orderStatus {
                    difference(.settlementWithoutOrder, "order \(orderID) is \(orderStatus): Levy captured nothing")
                } else {
                    difference(.settlementWithoutOrder, orderID.isEmpty ? "no order id, and processor id \"\(line.processorID)\" is no capture in Levy"
                                                                        : "no order \(orderID) in Levy")
                }
            case .refund:
                if knownRefunds.contains(line.refundID) || knownRefunds.contains(line.processorID) {
                    outside += 1
                } else if let orderStatus, captured.contains(orderStatus) {
                    let named = line.refundID.isEmpty ? line.processorID : line.refundID
                    difference(.settlementWithoutOrder, "order \(orderID) was captured, but Levy's tax ledger holds no refund"
                               + (named.isEmpty ? " (the line names none)" : " " + named))
                } else {
                    difference(.refundWithoutSale, orderStatus.map { "order \(orderID) is \($0): Levy captured nothing to refund" }
                               ?? (orderID.isEmpty ? "no order id, and no sale in Levy to refund" : "no order \(orderID) in Levy to refund"))
                }
            case .other:
                break
            }
        }
        return (differences, outside)
    }
}

/// Running sums of a settlement file's absolute amounts, fees and nets, kept with the checkpoint: while each stays
/// within Int64, no sum the report takes (of signed values) can overflow.
struct SettlementMagnitudes {
    var amount: Int64 = 0
    var fee: Int64 = 0
    var net: Int64 = 0

    init(saved: String?) {
        let parts = (saved ?? "").split(separator: ",").compactMap { Int64($0) }
        if parts.count == 3, parts.allSatisfy({ $0 >= 0 }) { (amount, fee, net) = (parts[0], parts[1], parts[2]) }
    }

    var saved: String { "\(amount),\(fee),\(net)" }

    /// Adds a line; false (and nothing added) when a sum would pass Int64.
    mutating func add(_ line: SettlementLine) -> Bool {
        guard let a = Self.plus(amount, line.amount), let f = Self.plus(fee, line.fee), let n = Self.plus(net, line.net) else { return false }
        (amount, fee, net) = (a, f, n)
        return true
    }

    /// `sum` plus the magnitude of `value`, or nil past Int64.
    static func plus(_ sum: Int64, _ value: Int64) -> Int64? {
        guard value != .min else { return nil }
        let (result, overflow) = sum.addingReportingOverflow(Swift.abs(value))
        return overflow ? nil : result
    }
}

/// The running sum of the magnitudes of Levy's captures and refunds read for a run, kept with the checkpoint: while
/// it stays within Int64, neither of the sums the report takes of them can overflow. (Orders are bounded one by one,
/// so it takes some 340,000 orders at the bound; a sum is checked all the same.)
struct MovementMagnitude {
    private(set) var total: Int64 = 0

    init(saved: String?) {
        if let value = saved.flatMap({ Int64($0) }), value >= 0 { total = value }
    }

    var saved: String { String(total) }

    /// Adds a page of movements; false (and nothing added) when the sum would pass Int64.
    mutating func add(_ movements: [PaymentMovement]) -> Bool {
        var sum = total
        for movement in movements {
            guard let next = SettlementMagnitudes.plus(sum, movement.amount) else { return false }
            sum = next
        }
        total = sum
        return true
    }
}
