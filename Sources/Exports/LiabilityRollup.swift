import Orders
import Storage
import TaxCore

/// Liability per day, kept up to date from the ledger so that a page of liability for a year reads a few thousand
/// sums instead of a million ledger rows. It is a cache of the detail export's own rows: `catchUp` reads the ledger
/// entries after its watermark through `DetailReader`'s row mapping (the export's), adds them into two tables and
/// moves the watermark in one transaction. The ledger is append-only (a correction is a new entry), so sums that were
/// added stay right; the watermark is moved by a conditional update, so two processes catching up at once cannot
/// add the same entries twice (the later one rolls back and finds the work done).
///
/// Tables (schema `exports`, owned by this module): `liability_state_days` (per day, document type and state: a
/// line's sales once, from its first ledger entry, and all its tax) and `liability_jurisdiction_days` (per day,
/// document type, state and jurisdiction: every entry), and `liability_rollup` (the watermark). A sale's day is its
/// tax date, a refund's the day it was given: the periods of the liability export.
public struct LiabilityRollup: Sendable {
    public let database: any SQLDatabase
    public let orders: OrderReader
    public let schema: String
    /// Ledger entries summed in memory before they are written; a batch ends only between documents.
    public var batchEntries = 50_000

    public init(database: any SQLDatabase, orders: OrderReader, schema: String = "exports") {
        self.database = database
        self.orders = orders
        self.schema = schema
    }

    static let migration = Migrations.Migration(version: 3, name: "liability rollup", statements: [
        """
        CREATE TABLE {schema}liability_state_days (day TEXT NOT NULL, document_type TEXT NOT NULL, state TEXT NOT NULL,
          gross {bigint} NOT NULL, exempt {bigint} NOT NULL, taxable {bigint} NOT NULL, tax {bigint} NOT NULL, entries {bigint} NOT NULL,
          PRIMARY KEY (day, document_type, state))
        """,
        """
        CREATE TABLE {schema}liability_jurisdiction_days (state TEXT NOT NULL, day TEXT NOT NULL, document_type TEXT NOT NULL,
          jurisdiction_code TEXT NOT NULL, jurisdiction_level TEXT NOT NULL, jurisdiction_name TEXT NOT NULL,
          gross {bigint} NOT NULL, exempt {bigint} NOT NULL, taxable {bigint} NOT NULL, tax {bigint} NOT NULL, entries {bigint} NOT NULL,
          PRIMARY KEY (state, day, document_type, jurisdiction_code, jurisdiction_level, jurisdiction_name))
        """,
        "CREATE TABLE {schema}liability_rollup (id {bigint} PRIMARY KEY, through_seq {bigint} NOT NULL)",
        "INSERT INTO {schema}liability_rollup (id, through_seq) VALUES (1, 0)",
    ])

    /// Probe #19 changed what the rollup sums (a state's taxable sales are its lines', a jurisdiction's exempt sales
    /// include what its base leaves out, gross sales include third-party consideration taxed): it is summed again
    /// from the ledger, by the next catch-up.
    static let resumMigration = Migrations.Migration(version: 5, name: "liability rollup summed again", statements: [
        "DELETE FROM {schema}liability_state_days",
        "DELETE FROM {schema}liability_jurisdiction_days",
        "UPDATE {schema}liability_rollup SET through_seq = 0 WHERE id = 1",
    ])

    func table(_ name: String) -> String { database.dialect.render("{schema}\(name)", schema: schema) }

    /// Sums of one group: sales once per line (state rows) or per entry (jurisdiction rows), tax per entry.
    public struct Sums: Sendable, Equatable {
        public var gross: Int64 = 0
        public var exempt: Int64 = 0
        public var taxable: Int64 = 0
        public var tax: Int64 = 0
        public var entries: Int64 = 0

        public init() {}

        /// Adds with overflow checked: a sum past Int64 is a corrupt store, not a crash.
        mutating func add(gross: Int64, exempt: Int64, taxable: Int64, tax: Int64, entries: Int64) throws(LiabilityRollupError) {
            func plus(_ a: Int64, _ b: Int64) throws(LiabilityRollupError) -> Int64 {
                do { return try CheckedMoney.add(a, b) } catch { throw .overflow }
            }
            self.gross = try plus(self.gross, gross)
            self.exempt = try plus(self.exempt, exempt)
            self.taxable = try plus(self.taxable, taxable)
            self.tax = try plus(self.tax, tax)
            self.entries = try plus(self.entries, entries)
        }
    }

    struct StateKey: Hashable { var day: String, documentType: String, state: String }
    struct JurisdictionKey: Hashable { var state: String, day: String, documentType: String, code: String, level: String, name: String }

    /// One batch of entries summed in memory.
    struct Batch {
        var states: [StateKey: Sums] = [:]
        var jurisdictions: [JurisdictionKey: Sums] = [:]
        var entries = 0
        var lastLine = ""

        mutating func add(_ row: DetailRow) throws(LiabilityRollupError) {
            let refund = row.documentType == "refund"
            let day = refund ? row.documentDate : row.taxDate
            let line = row.documentNumber + "#" + String(row.lineNumber)
            // A line has an entry per jurisdiction, consecutive in the ledger: its sale counts once for its state.
            let firstOfLine = line != lastLine
            lastLine = line
            let counted = !refund
            // A state's taxable sales are its lines' (taxed at any level), not its first jurisdiction's: a line taxed
            // by the city alone counted as taxed nowhere (probe #19). A jurisdiction's exempt sales include what its
            // own base leaves out, as in the liability export.
            let isNone = row.jurisdictionCode == "none"
            try states[StateKey(day: day, documentType: row.documentType, state: row.state), default: Sums()]
                .add(gross: counted && firstOfLine ? row.jurisdictionGross : 0, exempt: counted && firstOfLine ? row.lineExempt : 0,
                     taxable: counted && firstOfLine && !isNone ? row.lineTaxable : 0, tax: row.tax, entries: 1)
            try jurisdictions[JurisdictionKey(state: row.state, day: day, documentType: row.documentType, code: row.jurisdictionCode,
                                              level: row.jurisdictionLevel, name: row.jurisdictionName), default: Sums()]
                .add(gross: counted ? row.jurisdictionGross : 0, exempt: counted ? row.lineExempt + row.notTaxedByJurisdiction : 0,
                     taxable: counted ? row.taxable : 0, tax: row.tax, entries: 1)
            entries += 1
        }
    }

    /// Where the rollup stands: every ledger entry up to this sequence number is in it.
    public func watermark() async throws -> Int64 {
        let rows = try await database.query("SELECT through_seq FROM \(table("liability_rollup")) WHERE id = 1")
        guard let row = rows.first else { throw LiabilityRollupError.missingWatermark }
        do { return try row.decode("through_seq") } catch { throw LiabilityRollupError.corrupt("\(error)") }
    }

    /// Adds the ledger entries after the watermark up to the reader's head; returns the new watermark. Entries are
    /// read a page at a time and written in batches of about `batchEntries`, each ending between two documents (a
    /// document's entries are consecutive and committed together, so the head is always such a place).
    @discardableResult
    public func catchUp() async throws -> Int64 {
        var watermark = try await self.watermark()
        let head = try await orders.ledgerHead().seq
        guard head > watermark else { return watermark }
        let reader = DetailReader(orders: orders, scope: ExportScope(from: TaxDate(year: 1, month: 1, day: 1)!,
                                                                     through: TaxDate(year: 9999, month: 12, day: 31)!, personalData: false),
                                  throughSeq: head)
        var batch = Batch()
        var cache = DetailReader.OrderCache()
        var after = watermark, lastSeq = watermark, lastDocument = ""
        while true {
            let entries = try await orders.ledgerDetail(reader.period, after: after, limit: reader.pageSize)
            for entry in entries {
                let row = reader.row(entry, cache: &cache)
                if batch.entries >= batchEntries && row.documentNumber != lastDocument {
                    guard try await write(batch, from: watermark, to: lastSeq) else { return try await self.watermark() }
                    watermark = lastSeq
                    batch = Batch()
                }
                try batch.add(row)
                lastSeq = entry.seq
                lastDocument = row.documentNumber
            }
            guard entries.count == reader.pageSize, let last = entries.last?.seq else { break }
            after = last
        }
        // Entries past the last one read (none between it and the head belong to the ledger's detail) still move
        // the watermark to the head, so the next catch-up starts there.
        guard try await write(batch, from: watermark, to: head) else { return try await self.watermark() }
        return head
    }

    /// Catches up until the rollup holds at least the ledger's head as it is now, whoever does the work: a catch-up
    /// that loses a step to another process (the server's background one) goes on from where that one got. Each
    /// round moves the watermark forward (a lost step means another process moved it), so this ends.
    @discardableResult
    public func catchUpToHead() async throws -> Int64 {
        let head = try await orders.ledgerHead().seq
        var mark = try await catchUp()
        while mark < head {
            let next = try await catchUp()
            guard next > mark else { break }
            mark = next
        }
        return mark
    }

    /// Adds a batch and moves the watermark from `from` to `to` in one transaction; false when another process
    /// moved it first (nothing written).
    func write(_ batch: Batch, from: Int64, to: Int64) async throws -> Bool {
        let states = table("liability_state_days"), jurisdictions = table("liability_jurisdiction_days"), mark = table("liability_rollup")
        do {
            try await database.transaction { tx in
                let moved = try await tx.query("UPDATE \(mark) SET through_seq = $1 WHERE id = 1 AND through_seq = $2 RETURNING id",
                                               [.integer(to), .integer(from)])
                guard !moved.isEmpty else { throw WatermarkMoved() }
                for (key, sums) in batch.states {
                    try await tx.execute("""
                        INSERT INTO \(states) AS t (day, document_type, state, gross, exempt, taxable, tax, entries) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                        ON CONFLICT (day, document_type, state) DO UPDATE SET gross = t.gross + excluded.gross,
                          exempt = t.exempt + excluded.exempt, taxable = t.taxable + excluded.taxable,
                          tax = t.tax + excluded.tax, entries = t.entries + excluded.entries
                        """, [.text(key.day), .text(key.documentType), .text(key.state), .integer(sums.gross), .integer(sums.exempt),
                              .integer(sums.taxable), .integer(sums.tax), .integer(sums.entries)])
                }
                for (key, sums) in batch.jurisdictions {
                    try await tx.execute("""
                        INSERT INTO \(jurisdictions) AS t (state, day, document_type, jurisdiction_code, jurisdiction_level, jurisdiction_name,
                          gross, exempt, taxable, tax, entries) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                        ON CONFLICT (state, day, document_type, jurisdiction_code, jurisdiction_level, jurisdiction_name) DO UPDATE SET
                          gross = t.gross + excluded.gross, exempt = t.exempt + excluded.exempt,
                          taxable = t.taxable + excluded.taxable, tax = t.tax + excluded.tax,
                          entries = t.entries + excluded.entries
                        """, [.text(key.state), .text(key.day), .text(key.documentType), .text(key.code), .text(key.level), .text(key.name),
                              .integer(sums.gross), .integer(sums.exempt), .integer(sums.taxable), .integer(sums.tax), .integer(sums.entries)])
                }
            }
            return true
        } catch is WatermarkMoved {
            return false
        }
    }

    struct WatermarkMoved: Error {}

    // MARK: - Reading

    /// One group of a month: a state (by state) or a jurisdiction of one state.
    public struct MonthRow: Sendable, Equatable {
        public var month: String          // YYYY-MM
        public var documentType: String   // sale | refund
        public var state: String
        public var jurisdictionCode: String
        public var jurisdictionLevel: String
        public var jurisdictionName: String
        public var sums: Sums
    }

    /// The months from `from` through `through` (days inclusive) by state, or by jurisdiction for one `state`, with
    /// the watermark they hold: one statement, so the sums and the watermark are one snapshot.
    public func months(from: TaxDate, through: TaxDate, state: String? = nil) async throws -> (throughSeq: Int64, rows: [MonthRow]) {
        let mark = "(SELECT through_seq FROM \(table("liability_rollup")) WHERE id = 1)"
        let sums = "SUM(gross) AS gross, SUM(exempt) AS exempt, SUM(taxable) AS taxable, SUM(tax) AS tax, SUM(entries) AS entries"
        let rows: [SQLRow]
        if let state {
            rows = try await database.query("""
                SELECT substr(day, 1, 7) AS month, document_type, jurisdiction_code, jurisdiction_level, jurisdiction_name, \(sums), \(mark) AS through_seq
                FROM \(table("liability_jurisdiction_days")) WHERE state = $1 AND day >= $2 AND day <= $3
                GROUP BY substr(day, 1, 7), document_type, jurisdiction_code, jurisdiction_level, jurisdiction_name
                """, [.text(state), .text(from.iso), .text(through.iso)])
        } else {
            rows = try await database.query("""
                SELECT substr(day, 1, 7) AS month, document_type, state, \(sums), \(mark) AS through_seq
                FROM \(table("liability_state_days")) WHERE day >= $1 AND day <= $2
                GROUP BY substr(day, 1, 7), document_type, state
                """, [.text(from.iso), .text(through.iso)])
        }
        guard let first = rows.first else { return (try await watermark(), []) }
        do {
            let throughSeq: Int64 = try first.decode("through_seq")
            let decoded = try rows.map { row throws(RowDecodingError) in
                var sums = Sums()
                sums.gross = try row.decode("gross")
                sums.exempt = try row.decode("exempt")
                sums.taxable = try row.decode("taxable")
                sums.tax = try row.decode("tax")
                sums.entries = try row.decode("entries")
                let byJurisdiction = state != nil
                let rowState: String
                if let state { rowState = state } else { rowState = try row.decode("state") }
                return MonthRow(month: try row.decode("month"), documentType: try row.decode("document_type"), state: rowState,
                                jurisdictionCode: byJurisdiction ? try row.decode("jurisdiction_code") : "",
                                jurisdictionLevel: byJurisdiction ? try row.decode("jurisdiction_level") : "",
                                jurisdictionName: byJurisdiction ? try row.decode("jurisdiction_name") : "", sums: sums)
            }
            return (throughSeq, decoded)
        } catch {
            throw LiabilityRollupError.corrupt("\(error)")
        }
    }
}

public enum LiabilityRollupError: Error, Sendable, CustomStringConvertible {
    case overflow
    case missingWatermark
    case corrupt(String)

    public var description: String {
        switch self {
        case .overflow: "a liability sum is past the range of 64-bit minor units: the ledger holds amounts no order can have"
        case .missingWatermark: "the liability rollup has no watermark row (exports schema migration 3)"
        case .corrupt(let detail): "the liability rollup holds an unreadable row: \(detail)"
        }
    }
}
