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
            let reader = DetailReader(orders: orders, scope: scope, throughSeq: headSeq)
            let period = reader.period
            let documents = try await orders.documentTotals(period)
            let (saleCount, saleTotal, refundCount, refundTotal) = (documents.sales, documents.salesTotal, documents.refunds, documents.refundsTotal)

            try writer.write("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
            try xml.open("AuditFile", " xmlns=\"urn:OECD:StandardAuditFile-Taxation/2.00\"")
            try writer.write("\n")
            try header(xml, company: company, scope: scope)
            try xml.open("MasterFiles")
            try await customers(xml, period: period, reader: reader)
            let versions = try await taxTable(xml, scope: scope, period: period)
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
            taxTotal += try await invoices(xml, period: period, reader: reader) { written += 1; progress?.update(rows: written) }
            taxTotal -= try await creditNotes(xml, period: period, reader: reader) { written += 1; progress?.update(rows: written) }
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
    func customers(_ xml: XMLOut, period: OrderReader.Period, reader: DetailReader) async throws {
        let personal = reader.scope.personalData
        try xml.open("Customers")
        var after = ""
        while true {
            let page = try await orders.customers(period, after: after, limit: 2_000)
            for found in page {
                try customer(xml, id: personal ? found.id : reader.pseudonym(found.id), name: personal ? found.name : reader.pseudonym(found.id),
                             street: personal ? (found.street ?? "") : "", city: personal ? (found.city ?? "") : "",
                             zip: found.zip ?? "", state: found.state ?? "")
            }
            guard page.count == 2_000, let last = page.last?.id else { break }
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
    func taxTable(_ xml: XMLOut, scope: ExportScope, period: OrderReader.Period) async throws -> Set<String> {
        let rows = try await orders.ratesUsed(period)
        var versions = Set<String>()
        try xml.open("TaxTable")
        try xml.open("TaxTableEntry")
        try xml.element("TaxType", "SUT", max: 9)
        try xml.element("Description", "US state and local sales and use tax")
        for use in rows {
            let code = use.jurisdictionCode
            versions.insert(use.firstTableVersion)
            versions.insert(use.lastTableVersion)
            try xml.open("TaxCodeDetails")
            try xml.element("TaxCode", Self.taxCode(code), max: 9)
            try xml.element("EffectiveDate", use.firstTaxDate)
            try xml.element("ExpirationDate", use.lastTaxDate)
            try xml.element("Description", "\(use.name ?? code) (\(use.level), code \(code)); as used from the first to the last tax date")
            try xml.element("TaxPercentage", Self.percentage(use.rate))
            try xml.element("Country", "US")
            try xml.element("Region", String(use.place.prefix(2)), max: 9)
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
    func customerInfo(_ xml: XMLOut, _ document: OrderReader.Document, reader: DetailReader) throws {
        try xml.open("CustomerInfo")
        try xml.element("CustomerID", document.customerID.map { reader.scope.personalData ? $0 : reader.pseudonym($0) } ?? "guest", max: 35)
        try billingAddress(xml, document, personalData: reader.scope.personalData)
        try xml.close("CustomerInfo")
    }

    /// The billing address the order was taxed with (its destination, or the seller's address, when none was given).
    func billingAddress(_ xml: XMLOut, _ document: OrderReader.Document, personalData: Bool) throws {
        let text = document.billingAddress ?? document.destinationAddress ?? document.originAddress ?? "|||"
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
    func invoices(_ xml: XMLOut, period: OrderReader.Period, reader: DetailReader, counted: () -> Void) async throws -> Int64 {
        var after = ""
        var tax: Int64 = 0
        while true {
            let (documents, next) = try await orders.invoices(period, after: after)
            for order in documents {
                let taxDate = order.taxDate
                try xml.open("Invoice")
                try xml.element("InvoiceNo", order.id, max: 70)
                try customerInfo(xml, order, reader: reader)
                try xml.element("Period", String(Int(taxDate.dropFirst(5).prefix(2)) ?? 1))
                try xml.element("PeriodYear", String(taxDate.prefix(4)))
                try xml.element("InvoiceDate", String(order.createdAt.prefix(10)))
                try xml.element("InvoiceType", "INV", max: 9)
                for line in order.lines { try invoiceLine(xml, line: line, taxDate: taxDate, refundOf: nil) }
                try xml.open("DocumentTotals")
                try xml.money("NetTotal", order.netTotal)
                try xml.money("GrossTotal", order.netTotal + order.tax)
                try xml.close("DocumentTotals")
                try xml.close("Invoice")
                tax += order.tax
                counted()
            }
            guard let next else { break }
            after = next
        }
        return tax
    }

    /// A credit note per refund in the scope, with the tax it gave back per jurisdiction (from the ledger).
    func creditNotes(_ xml: XMLOut, period: OrderReader.Period, reader: DetailReader, counted: () -> Void) async throws -> Int64 {
        var after = ""
        var tax: Int64 = 0
        while true {
            let refunds = try await orders.creditNotes(period, after: after)
            guard let last = refunds.last?.id else { break }
            for refund in refunds {
                let given = String(refund.createdAt.prefix(10))
                try xml.open("Invoice")
                try xml.element("InvoiceNo", refund.id, max: 70)
                try customerInfo(xml, refund, reader: reader)
                try xml.element("Period", String(Int(given.dropFirst(5).prefix(2)) ?? 1))
                try xml.element("PeriodYear", String(given.prefix(4)))
                try xml.element("InvoiceDate", given)
                try xml.element("InvoiceType", "CN", max: 9)
                for line in refund.lines { try invoiceLine(xml, line: line, taxDate: refund.taxDate, refundOf: refund.orderID ?? "") }
                try xml.open("DocumentTotals")
                try xml.money("NetTotal", refund.netTotal)
                try xml.money("GrossTotal", refund.netTotal + refund.tax)
                try xml.close("DocumentTotals")
                try xml.close("Invoice")
                tax += refund.tax
                counted()
            }
            after = last
        }
        return tax
    }

    /// One invoice line with a tax entry per jurisdiction. For a credit note (`refundOf` the order refunded) the
    /// amounts are what was given back (the ledger's reversing entries, shown positive with the debit indicator).
    func invoiceLine(_ xml: XMLOut, line: OrderReader.DocumentLine, taxDate: String, refundOf order: String?) throws {
        let amount = order == nil ? line.amount : (line.refundedAmount ?? 0)
        let quantity = max(order == nil ? line.quantity : (line.refundedQuantity ?? 1), 1)
        try xml.open("Line")
        try xml.element("LineNumber", String(line.number), max: 18)
        try xml.element("ProductCode", line.code.rawValue, max: 70)
        try xml.element("Quantity", String(quantity))
        try xml.money("UnitPrice", RefundMath.share(amount, 1, quantity))
        try xml.element("TaxPointDate", taxDate)
        if let order {
            try xml.open("References")
            try xml.open("CreditNote")
            try xml.element("Reference", order, max: 35)
            try xml.element("Reason", "refund")
            try xml.close("CreditNote")
            try xml.close("References")
        }
        try xml.element("Description", "\(line.code.rawValue) (\(line.fulfilment.rawValue)), sourced to \(line.sourcedTo) by \(line.sourcingRule.rawValue)")
        try xml.amount("InvoiceLineAmount", amount)
        try xml.element("DebitCreditIndicator", order == nil ? "C" : "D")
        for tax in line.taxes where tax.jurisdictionCode != "none" {
            try xml.open("TaxInformation")
            try xml.element("TaxType", "SUT", max: 9)
            try xml.element("TaxCode", Self.taxCode(tax.jurisdictionCode), max: 9)
            try xml.element("TaxPercentage", Self.percentage(tax.rate))
            try xml.element("TaxBase", Money(minorUnits: tax.taxable).decimalString)
            try xml.element("TaxBaseDescription", "\(line.taxType ?? "sales") tax, \(tax.level)", max: 70)
            try xml.amount("TaxAmount", tax.tax)
            if let reason = line.exemptReason, line.exempt > 0 { try xml.element("TaxExemptionReason", reason, max: 70) }
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
