import Foundation
import Orders
import Storage
import TaxCore

/// The merchant as the SAF-T header names it.
public struct CompanyInfo: Sendable {
    public var name: String
    /// A registration number: the state sales-tax permit or the EIN.
    public var registrationNumber: String
    public var street: String
    public var city: String
    public var state: String
    public var zip: String
    public var contactFirstName: String
    public var contactLastName: String
    public var telephone: String

    public init(name: String, registrationNumber: String, street: String, city: String, state: String, zip: String,
                contactFirstName: String, contactLastName: String, telephone: String) {
        self.name = name
        self.registrationNumber = registrationNumber
        self.street = street
        self.city = city
        self.state = state
        self.zip = zip
        self.contactFirstName = contactFirstName
        self.contactLastName = contactLastName
        self.telephone = telephone
    }
}

/// Writes XML elements into an export file, escaping text and keeping every value within its schema type's
/// length (FAIA's text types are 9, 18, 35, 70 or 256 characters).
struct XMLOut {
    let writer: ExportWriter

    func open(_ name: String, _ attributes: String = "") throws { try writer.write("<\(name)\(attributes)>") }
    func close(_ name: String) throws { try writer.write("</\(name)>\n") }

    func element(_ name: String, _ text: String, max: Int = 256) throws {
        try writer.write("<\(name)>\(Self.escape(String(text.prefix(max))))</\(name)>")
    }

    func money(_ name: String, _ minorUnits: Int64) throws { try element(name, Money(minorUnits: minorUnits).decimalString) }

    func amount(_ name: String, _ minorUnits: Int64) throws {
        try open(name)
        try money("Amount", minorUnits)
        try element("CurrencyCode", "USD")
        try money("CurrencyAmount", minorUnits)
        try close(name)
    }

    static func escape(_ text: String) -> String {
        // Most values need nothing escaped: check the bytes first.
        if !text.utf8.contains(where: { $0 < 0x20 || $0 == 0x26 || $0 == 0x3C || $0 == 0x3E || $0 == 0x22 || $0 == 0xEF }) { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "\t", "\n", "\r": out.unicodeScalars.append(scalar)
            // Characters XML 1.0 cannot carry are dropped.
            case _ where scalar.value < 0x20 || (0xFFFE...0xFFFF).contains(scalar.value): continue
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

extension Exporter {
    /// An OECD SAF-T 2.0 audit file (`saft.xml`, FAIA 2.01): header, customers, the tax table, products, and a sales
    /// invoice per order (credit notes for refunds) with a tax entry per jurisdiction. With `schema`, the written
    /// file is validated against it (libxml2, streaming) before the manifest is signed; an invalid file fails the
    /// export.
    public func saft(_ request: Request, company: CompanyInfo, schema: String?, to directory: String,
                     progress: ExportProgress? = nil) async throws -> Manifest {
        try await run(kind: "saft", request, to: directory) { directory, headSeq in
            let writer = try ExportWriter(directory: directory, name: "saft.xml")
            let xml = XMLOut(writer: writer)
            let scope = request.scope
            let reader = DetailReader(database: database, ordersSchema: ordersSchema, scope: scope, throughSeq: headSeq)
            let (from, through) = (scope.from.iso, scope.through.iso)
            let saleFilter = "o.tax_date >= $1 AND o.tax_date <= $2 AND EXISTS (SELECT 1 FROM \(orders("ledger")) l WHERE l.order_id = o.id AND l.kind = 'sale' AND l.seq <= $3)"
            let refundFilter = "substr(r.created_at, 1, 10) >= $1 AND substr(r.created_at, 1, 10) <= $2 AND EXISTS (SELECT 1 FROM \(orders("ledger")) l WHERE l.refund_id = r.id AND l.seq <= $3)"
            let binds: [SQLValue] = [.text(from), .text(through), .integer(headSeq)]
            let sales = try await database.query("SELECT COUNT(*) AS n, COALESCE(SUM(o.total_amount), 0) AS total FROM \(orders("orders")) o WHERE \(saleFilter)", binds)
            let refunds = try await database.query("SELECT COUNT(*) AS n, COALESCE(SUM(r.amount), 0) AS total FROM \(orders("refunds")) r WHERE \(refundFilter)", binds)
            let saleCount = sales.first?.integer("n") ?? 0, saleTotal = sales.first?.integer("total") ?? 0
            let refundCount = refunds.first?.integer("n") ?? 0, refundTotal = refunds.first?.integer("total") ?? 0

            try writer.write("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
            try xml.open("AuditFile", " xmlns=\"urn:OECD:StandardAuditFile-Taxation/2.00\"")
            try writer.write("\n")
            try header(xml, company: company, scope: scope)
            try xml.open("MasterFiles")
            try await customers(xml, scope: scope, filter: saleFilter, binds: binds, reader: reader)
            let versions = try await taxTable(xml, scope: scope, headSeq: headSeq)
            try products(xml)
            try xml.close("MasterFiles")

            try xml.open("SourceDocuments")
            try xml.open("SalesInvoices")
            try xml.element("NumberOfEntries", String(saleCount + refundCount))
            try xml.money("TotalDebit", refundTotal)
            try xml.money("TotalCredit", saleTotal)
            try writer.write("\n")
            var written = 0
            var taxTotal: Int64 = 0
            taxTotal += try await invoices(xml, filter: saleFilter, binds: binds, reader: reader) { written += 1; progress?.update(rows: written) }
            taxTotal -= try await creditNotes(xml, filter: refundFilter, binds: binds, reader: reader) { written += 1; progress?.update(rows: written) }
            try xml.close("SalesInvoices")
            try xml.close("SourceDocuments")
            try xml.close("AuditFile")
            progress?.done(rows: written)
            writer.rows = written
            let file = try writer.finish()
            var totals: [String: String] = [
                "invoices": String(saleCount), "credit_notes": String(refundCount), "total_credit": Money(minorUnits: saleTotal).decimalString,
                "total_debit": Money(minorUnits: refundTotal).decimalString, "net_tax": Money(minorUnits: taxTotal).decimalString,
            ]
            if let schema {
                let result = try SchemaValidator.validate(file: directory + "/saft.xml", schema: schema)
                guard result.total == 0 else { throw SAFTError.invalid(result.problems, total: result.total) }
                totals["schema"] = (schema as NSString).lastPathComponent + ": valid (\(result.elements) elements)"
            }
            return ([file], totals, versions)
        }
    }

    func header(_ xml: XMLOut, company: CompanyInfo, scope: ExportScope) throws {
        try xml.open("Header")
        try xml.element("AuditFileVersion", "2.00", max: 9)
        try xml.element("AuditFileCountry", "US")
        try xml.element("AuditFileDateCreated", String(Timestamp.string(now()).prefix(10)))
        try xml.element("SoftwareCompanyName", "Levy", max: 70)
        try xml.element("SoftwareID", "Levy order and US sales and use tax service")
        try xml.element("SoftwareVersion", "1.0", max: 18)
        try xml.open("Company")
        try xml.element("RegistrationNumber", company.registrationNumber, max: 35)
        try xml.element("Name", company.name, max: 70)
        try address(xml, street: company.street, city: company.city, zip: company.zip, state: company.state, type: "StreetAddress")
        try xml.open("Contact")
        try xml.open("ContactPerson")
        try xml.element("FirstName", company.contactFirstName, max: 35)
        try xml.element("LastName", company.contactLastName, max: 70)
        try xml.close("ContactPerson")
        try xml.element("Telephone", company.telephone, max: 18)
        try xml.close("Contact")
        try xml.open("TaxRegistration")
        try xml.element("TaxRegistrationNumber", company.registrationNumber, max: 35)
        try xml.close("TaxRegistration")
        try xml.close("Company")
        try xml.element("DefaultCurrencyCode", "USD")
        try xml.open("SelectionCriteria")
        try xml.element("SelectionStartDate", scope.from.iso)
        try xml.element("SelectionEndDate", scope.through.iso)
        try xml.close("SelectionCriteria")
        try xml.element("HeaderComment", "US sales and use tax: sales by tax date, refunds by the day given. "
                        + (scope.personalData ? "Contains personal data." : "Customers pseudonymized."))
        try xml.element("TaxAccountingBasis", "Invoice", max: 18)
        try xml.close("Header")
    }

    func address(_ xml: XMLOut, street: String, city: String, zip: String, state: String, type: String) throws {
        try xml.open("Address")
        if !street.isEmpty { try xml.element("StreetName", street, max: 70) }
        try xml.element("City", city, max: 35)
        try xml.element("PostalCode", zip, max: 18)
        try xml.element("Region", state, max: 35)
        try xml.element("Country", "US")
        try xml.element("AddressType", type)
        try xml.close("Address")
    }

    /// Customers with an invoice in the scope, a page at a time, and a guest customer for checkouts without one.
    func customers(_ xml: XMLOut, scope: ExportScope, filter: String, binds: [SQLValue], reader: DetailReader) async throws {
        let customers = database.dialect.render("{schema}customers", schema: customersSchema)
        let addresses = database.dialect.render("{schema}billing_addresses", schema: customersSchema)
        try xml.open("Customers")
        var after = ""
        while true {
            let rows = try await database.query("""
                SELECT c.id, c.name, b.line1, b.city, b.state, b.zip FROM \(customers) c
                LEFT JOIN \(addresses) b ON b.customer_id = c.id AND b.version = (SELECT MAX(version) FROM \(addresses) WHERE customer_id = c.id)
                WHERE c.id > $4 AND EXISTS (SELECT 1 FROM \(orders("orders")) o WHERE o.customer_id = c.id AND \(filter))
                ORDER BY c.id LIMIT 2000
                """, binds + [.text(after)])
            for row in rows {
                let id = row.text("id") ?? ""
                try customer(xml, id: scope.personalData ? id : reader.pseudonym(id), name: scope.personalData ? (row.text("name") ?? "") : reader.pseudonym(id),
                             street: scope.personalData ? (row.text("line1") ?? "") : "", city: scope.personalData ? (row.text("city") ?? "") : "",
                             zip: row.text("zip") ?? "", state: row.text("state") ?? "")
            }
            guard rows.count == 2000, let last = rows.last?.text("id") else { break }
            after = last
        }
        try customer(xml, id: "guest", name: "Guest checkouts (no customer record)", street: "", city: "", zip: "", state: "")
        try xml.close("Customers")
    }

    func customer(_ xml: XMLOut, id: String, name: String, street: String, city: String, zip: String, state: String) throws {
        try xml.open("Customer")
        try xml.element("Name", name, max: 70)
        try address(xml, street: street, city: city, zip: zip, state: state, type: "BillingAddress")
        try xml.element("CustomerID", id, max: 35)
        // Levy keeps no receivables: balances are zero.
        try xml.money("OpeningDebitBalance", 0)
        try xml.money("ClosingDebitBalance", 0)
        try xml.close("Customer")
    }

    /// Every jurisdiction and rate used in the scope. Tax codes are at most 9 characters: Levy's longer codes get
    /// a short stable code (`J` and 8 hex digits) with the full code in the description.
    func taxTable(_ xml: XMLOut, scope: ExportScope, headSeq: Int64) async throws -> Set<String> {
        let rows = try await database.query("""
            SELECT l.jurisdiction_code, l.level, l.rate, MIN(l.table_version) AS v1, MAX(l.table_version) AS v2, MIN(l.tax_date) AS first_date,
              MAX(l.tax_date) AS last_date, MIN(ol.sourced_to) AS place
            FROM \(orders("ledger")) l JOIN \(orders("order_lines")) ol ON ol.order_id = l.order_id AND ol.line_no = l.line_no
            WHERE l.seq <= $3 AND l.jurisdiction_code <> 'none' AND ((l.kind <> 'refund' AND l.tax_date >= $1 AND l.tax_date <= $2)
              OR (l.kind = 'refund' AND substr(l.at, 1, 10) >= $1 AND substr(l.at, 1, 10) <= $2))
            GROUP BY l.jurisdiction_code, l.level, l.rate ORDER BY l.jurisdiction_code, l.rate
            """, [.text(scope.from.iso), .text(scope.through.iso), .integer(headSeq)])
        var names: [String: String] = [:]
        for row in try await database.query("SELECT DISTINCT jurisdiction_code, name FROM \(orders("order_taxes"))") {
            names[row.text("jurisdiction_code") ?? ""] = row.text("name")
        }
        var versions = Set<String>()
        try xml.open("TaxTable")
        try xml.open("TaxTableEntry")
        try xml.element("TaxType", "SUT", max: 9)
        try xml.element("Description", "US state and local sales and use tax")
        for row in rows {
            let code = row.text("jurisdiction_code") ?? ""
            versions.insert(row.text("v1") ?? "")
            versions.insert(row.text("v2") ?? "")
            try xml.open("TaxCodeDetails")
            try xml.element("TaxCode", Self.taxCode(code), max: 9)
            try xml.element("EffectiveDate", row.text("first_date") ?? scope.from.iso)
            try xml.element("ExpirationDate", row.text("last_date") ?? scope.through.iso)
            try xml.element("Description", "\(names[code] ?? code) (\(row.text("level") ?? ""), code \(code)); as used from the first to the last tax date")
            try xml.element("TaxPercentage", Self.percentage(row.text("rate") ?? "0"))
            try xml.element("Country", "US")
            try xml.element("Region", String((row.text("place") ?? "").prefix(2)), max: 9)
            try xml.close("TaxCodeDetails")
        }
        if rows.isEmpty {
            // The schema needs one detail: an entry that says no tax was recorded.
            try xml.open("TaxCodeDetails")
            try xml.element("TaxCode", "NONE")
            try xml.element("Description", "no tax recorded in the period")
            try xml.element("TaxPercentage", "0")
            try xml.element("Country", "US")
            try xml.close("TaxCodeDetails")
        }
        try xml.close("TaxTableEntry")
        try xml.close("TaxTable")
        versions.remove("")
        return versions
    }

    func products(_ xml: XMLOut) throws {
        try xml.open("Products")
        for code in ProductTaxCode.allCases {
            try xml.open("Product")
            try xml.element("ProductCode", code.rawValue, max: 70)
            try xml.element("GoodsServicesID", code.isService ? "SERVICE" : (code.isDigital ? "DIGITAL" : "GOODS"), max: 9)
            try xml.element("Description", "Levy product tax code \(code.rawValue)")
            try xml.element("UOMBase", "EA", max: 9)
            try xml.element("UOMStandard", "EA", max: 9)
            try xml.element("UOMToUOMBaseConversionFactor", "1")
            try xml.close("Product")
        }
        try xml.close("Products")
    }

    /// An invoice's customer: the id (a pseudonym without personal data, `guest` without a customer) and the
    /// billing address the order was taxed with.
    func customerInfo(_ xml: XMLOut, _ row: SQLRow, reader: DetailReader) throws {
        try xml.open("CustomerInfo")
        try xml.element("CustomerID", row.text("customer_id").map { reader.scope.personalData ? $0 : reader.pseudonym($0) } ?? "guest", max: 35)
        try billingAddress(xml, row, personalData: reader.scope.personalData)
        try xml.close("CustomerInfo")
    }

    /// The billing address the order was taxed with (its destination, or the seller's address, when none was given).
    func billingAddress(_ xml: XMLOut, _ row: SQLRow, personalData: Bool) throws {
        let text = row.text("billing_address") ?? row.text("destination_address") ?? row.text("origin_address") ?? "|||"
        var parts = text.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        if parts.count != 4 { parts = ["", "", "", ""] }
        try xml.open("BillingAddress")
        if personalData && !parts[0].isEmpty { try xml.element("StreetName", parts[0], max: 70) }
        try xml.element("City", personalData ? parts[1] : "", max: 35)
        try xml.element("PostalCode", parts[3], max: 18)
        try xml.element("Region", parts[2], max: 35)
        try xml.element("Country", "US")
        try xml.element("AddressType", "BillingAddress")
        try xml.close("BillingAddress")
    }

    /// One invoice per order in the scope; returns the tax they carry.
    func invoices(_ xml: XMLOut, filter: String, binds: [SQLValue], reader: DetailReader, counted: () -> Void) async throws -> Int64 {
        var after = ""
        var tax: Int64 = 0
        while true {
            // Pages walk the primary key; the period and the ledger check are applied to each page, so every order is
            // looked at once (a date-range index would make each page rescan the whole period).
            let page = try await database.query("""
                SELECT o.id, o.tax_date, o.created_at, o.customer_id, o.total_amount, o.total_tax, o.billing_address, o.destination_address,
                  o.origin_address FROM \(orders("orders")) o WHERE o.id > $1 ORDER BY o.id LIMIT 1000
                """, [.text(after)])
            guard let lastID = page.last?.text("id") else { break }
            after = lastID
            let inPeriod = page.filter { row in
                let date = row.text("tax_date") ?? ""
                return date >= reader.scope.from.iso && date <= reader.scope.through.iso
            }
            guard !inPeriod.isEmpty else { continue }
            let candidates = inPeriod.compactMap { $0.text("id") }
            let marks = candidates.indices.map { "$\($0 + 2)" }.joined(separator: ", ")
            let captured = Set(try await database.query("""
                SELECT DISTINCT order_id FROM \(orders("ledger")) WHERE kind = 'sale' AND seq <= $1 AND order_id IN (\(marks))
                """, [.integer(reader.throughSeq)] + candidates.map { .text($0) }).compactMap { $0.text("order_id") })
            let orderRows = inPeriod.filter { captured.contains($0.text("id") ?? "") }
            guard !orderRows.isEmpty else { continue }
            let ids = orderRows.compactMap { $0.text("id") }
            let placeholders = ids.indices.map { "$\($0 + 1)" }.joined(separator: ", ")
            let lines = try await database.query("SELECT * FROM \(orders("order_lines")) WHERE order_id IN (\(placeholders)) ORDER BY order_id, line_no",
                                                 ids.map { .text($0) })
            let taxes = try await database.query("SELECT * FROM \(orders("order_taxes")) WHERE order_id IN (\(placeholders)) ORDER BY order_id, line_no, position",
                                                 ids.map { .text($0) })
            let linesByOrder = Dictionary(grouping: lines) { $0.text("order_id") ?? "" }
            let taxesByLine = Dictionary(grouping: taxes) { "\($0.text("order_id") ?? "")#\($0.integer("line_no") ?? 0)" }
            for order in orderRows {
                let id = order.text("id") ?? ""
                let taxDate = order.text("tax_date") ?? ""
                try xml.open("Invoice")
                try xml.element("InvoiceNo", id, max: 70)
                try customerInfo(xml, order, reader: reader)
                try xml.element("Period", String(Int(taxDate.dropFirst(5).prefix(2)) ?? 1))
                try xml.element("PeriodYear", String(taxDate.prefix(4)))
                try xml.element("InvoiceDate", String((order.text("created_at") ?? taxDate).prefix(10)))
                try xml.element("InvoiceType", "INV", max: 9)
                for line in linesByOrder[id] ?? [] {
                    try invoiceLine(xml, line: line, taxes: taxesByLine["\(id)#\(line.integer("line_no") ?? 0)"] ?? [], taxDate: taxDate, refund: nil)
                }
                try xml.open("DocumentTotals")
                try xml.money("NetTotal", order.integer("total_amount") ?? 0)
                try xml.money("GrossTotal", (order.integer("total_amount") ?? 0) + (order.integer("total_tax") ?? 0))
                try xml.close("DocumentTotals")
                try xml.close("Invoice")
                tax += order.integer("total_tax") ?? 0
                counted()
            }
        }
        return tax
    }

    /// A credit note per refund in the scope, with the tax it gave back per jurisdiction (from the ledger).
    func creditNotes(_ xml: XMLOut, filter: String, binds: [SQLValue], reader: DetailReader, counted: () -> Void) async throws -> Int64 {
        var after = ""
        var tax: Int64 = 0
        while true {
            let refundRows = try await database.query("""
                SELECT r.id, r.order_id, r.amount, r.tax, r.created_at, o.tax_date, o.customer_id, o.billing_address, o.destination_address,
                  o.origin_address FROM \(orders("refunds")) r
                JOIN \(orders("orders")) o ON o.id = r.order_id WHERE r.id > $4 AND \(filter) ORDER BY r.id LIMIT 500
                """, binds + [.text(after)])
            guard !refundRows.isEmpty else { break }
            let ids = refundRows.compactMap { $0.text("id") }
            let placeholders = ids.indices.map { "$\($0 + 1)" }.joined(separator: ", ")
            let refundLines = try await database.query("""
                SELECT rl.refund_id, rl.line_no, rl.quantity AS r_quantity, rl.amount AS r_amount, ol.* FROM \(orders("refund_lines")) rl
                JOIN \(orders("refunds")) r ON r.id = rl.refund_id
                JOIN \(orders("order_lines")) ol ON ol.order_id = r.order_id AND ol.line_no = rl.line_no
                WHERE rl.refund_id IN (\(placeholders)) ORDER BY rl.refund_id, rl.line_no
                """, ids.map { .text($0) })
            let entries = try await database.query("""
                SELECT refund_id, line_no, jurisdiction_code, level, rate, taxable, tax FROM \(orders("ledger"))
                WHERE refund_id IN (\(placeholders)) ORDER BY seq
                """, ids.map { .text($0) })
            let linesByRefund = Dictionary(grouping: refundLines) { $0.text("refund_id") ?? "" }
            let entriesByLine = Dictionary(grouping: entries) { "\($0.text("refund_id") ?? "")#\($0.integer("line_no") ?? 0)" }
            for refund in refundRows {
                let id = refund.text("id") ?? ""
                let given = String((refund.text("created_at") ?? "").prefix(10))
                try xml.open("Invoice")
                try xml.element("InvoiceNo", id, max: 70)
                try customerInfo(xml, refund, reader: reader)
                try xml.element("Period", String(Int(given.dropFirst(5).prefix(2)) ?? 1))
                try xml.element("PeriodYear", String(given.prefix(4)))
                try xml.element("InvoiceDate", given)
                try xml.element("InvoiceType", "CN", max: 9)
                for line in linesByRefund[id] ?? [] {
                    try invoiceLine(xml, line: line, taxes: entriesByLine["\(id)#\(line.integer("line_no") ?? 0)"] ?? [],
                                    taxDate: refund.text("tax_date") ?? given, refund: (id: refund.text("order_id") ?? "", amount: line.integer("r_amount") ?? 0,
                                                                                      quantity: line.integer("r_quantity") ?? 0))
                }
                try xml.open("DocumentTotals")
                try xml.money("NetTotal", refund.integer("amount") ?? 0)
                try xml.money("GrossTotal", (refund.integer("amount") ?? 0) + (refund.integer("tax") ?? 0))
                try xml.close("DocumentTotals")
                try xml.close("Invoice")
                tax += refund.integer("tax") ?? 0
                counted()
            }
            after = ids.last ?? after
        }
        return tax
    }

    /// One invoice line with a tax entry per jurisdiction. For a refund the amounts are what was given back (the
    /// ledger's reversing entries, shown positive with the debit indicator).
    func invoiceLine(_ xml: XMLOut, line: SQLRow, taxes: [SQLRow], taxDate: String, refund: (id: String, amount: Int64, quantity: Int64)?) throws {
        let amount = refund?.amount ?? (line.integer("amount") ?? 0)
        let quantity = max(refund?.quantity ?? (line.integer("quantity") ?? 1), 1)
        try xml.open("Line")
        try xml.element("LineNumber", String(line.integer("line_no") ?? 0), max: 18)
        try xml.element("ProductCode", line.text("code") ?? "", max: 70)
        try xml.element("Quantity", String(quantity))
        try xml.money("UnitPrice", RefundMath.share(amount, 1, quantity))
        try xml.element("TaxPointDate", taxDate)
        if let refund {
            try xml.open("References")
            try xml.open("CreditNote")
            try xml.element("Reference", refund.id, max: 35)
            try xml.element("Reason", "refund")
            try xml.close("CreditNote")
            try xml.close("References")
        }
        try xml.element("Description", "\(line.text("code") ?? "") (\(line.text("fulfilment") ?? "")), sourced to \(line.text("sourced_to") ?? "") by \(line.text("sourcing_rule") ?? "")")
        try xml.amount("InvoiceLineAmount", amount)
        try xml.element("DebitCreditIndicator", refund == nil ? "C" : "D")
        for tax in taxes where tax.text("jurisdiction_code") != "none" {
            let taxable = tax.integer("taxable") ?? 0, value = tax.integer("tax") ?? 0
            try xml.open("TaxInformation")
            try xml.element("TaxType", "SUT", max: 9)
            try xml.element("TaxCode", Self.taxCode(tax.text("jurisdiction_code") ?? ""), max: 9)
            try xml.element("TaxPercentage", Self.percentage(tax.text("rate") ?? "0"))
            try xml.element("TaxBase", Money(minorUnits: refund == nil ? taxable : -taxable).decimalString)
            try xml.element("TaxBaseDescription", "\(line.text("tax_type") ?? "sales") tax, \(tax.text("level") ?? "")", max: 70)
            try xml.amount("TaxAmount", refund == nil ? value : -value)
            if let reason = line.text("exempt_reason"), (line.integer("exempt") ?? 0) > 0 { try xml.element("TaxExemptionReason", reason, max: 70) }
            try xml.close("TaxInformation")
        }
        try xml.close("Line")
    }

    /// A jurisdiction code as a FAIA tax code (at most 9 characters).
    static func taxCode(_ code: String) -> String {
        guard code.utf8.count > 9 else { return code }
        var hash: UInt32 = 2_166_136_261
        for byte in code.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        let hex = String(hash, radix: 16)
        return "J" + String(repeating: "0", count: 8 - hex.count) + hex
    }

    /// A rate fraction ("0.06875") as a percentage ("6.875"), exactly.
    static func percentage(_ fraction: String) -> String {
        guard let rate = try? Rate.parse(fraction: fraction) else { return "0" }
        return DecimalText.format(rate.units, scaleDigits: Rate.scaleDigits - 2, trimTrailingZeros: true)
    }
}

public enum SAFTError: Error, CustomStringConvertible {
    case invalid([SchemaValidator.Problem], total: Int)

    public var description: String {
        switch self {
        case .invalid(let problems, let total):
            "the SAF-T file does not validate (\(total) problem(s)):\n" + problems.map(\.description).joined(separator: "\n")
        }
    }
}
