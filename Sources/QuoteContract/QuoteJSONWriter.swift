/// Writes a `QuoteDocument` as compact JSON straight into bytes: the same bytes `JSONEncoder` gives with sorted
/// keys and unescaped slashes (a test compares them), at a fraction of the cost. The HTTP quote route spends its
/// time here, so the keys are written in their sorted order by hand instead of being sorted per object.
struct QuoteJSONWriter {
    var bytes: [UInt8] = []

    init(capacity: Int = 4_096) { bytes.reserveCapacity(capacity) }

    mutating func write(_ document: QuoteDocument) {
        bytes.append(UInt8(ascii: "{"))
        key("currency", first: true); string(document.currency)
        key("date"); string(document.date)
        key("lines"); array(document.lines) { $0.line($1) }
        key("rounding"); string(document.rounding)
        key("table_version"); string(document.tableVersion)
        key("total_amount"); string(document.totalAmount)
        key("total_tax"); string(document.totalTax)
        key("warnings"); array(document.warnings) { $0.string($1) }
        bytes.append(UInt8(ascii: "}"))
    }

    mutating func line(_ line: QuoteDocument.LineDocument) {
        bytes.append(UInt8(ascii: "{"))
        key("amount", first: true); string(line.amount)
        key("code"); string(line.code)
        key("collecting"); boolean(line.collecting)
        key("discount"); string(line.discount)
        key("exempt"); string(line.exempt)
        if let exemption = line.exemption {
            key("exemption")
            bytes.append(UInt8(ascii: "{"))
            key("applied", first: true); boolean(exemption.applied)
            if let expires = exemption.expires { key("expires"); string(expires) }
            key("note"); string(exemption.note)
            key("number"); string(exemption.number)
            key("reason"); string(exemption.reason)
            key("reason_code"); string(exemption.reasonCode)
            key("state"); string(exemption.state)
            bytes.append(UInt8(ascii: "}"))
        }
        key("fulfilment"); string(line.fulfilment)
        key("id"); string(line.id)
        key("jurisdictions"); array(line.jurisdictions) { writer, j in
            writer.bytes.append(UInt8(ascii: "{"))
            writer.key("code", first: true); writer.string(j.code)
            writer.key("level"); writer.string(j.level)
            writer.key("name"); writer.string(j.name)
            writer.key("rate"); writer.string(j.rate)
            writer.key("tax"); writer.string(j.tax)
            writer.key("taxable"); writer.string(j.taxable)
            writer.bytes.append(UInt8(ascii: "}"))
        }
        if let notCollecting = line.notCollecting {
            key("not_collecting")
            bytes.append(UInt8(ascii: "{"))
            key("code", first: true); string(notCollecting.code)
            key("reason"); string(notCollecting.reason)
            bytes.append(UInt8(ascii: "}"))
        }
        key("quantity"); integer(line.quantity)
        key("rules_applied"); array(line.rulesApplied) { $0.string($1) }
        key("sourcing")
        bytes.append(UInt8(ascii: "{"))
        key("address", first: true); address(line.sourcing.address)
        if let district = line.sourcing.districtAddress { key("district_address"); address(district) }
        key("explanation"); string(line.sourcing.explanation)
        key("precision"); string(line.sourcing.precision)
        key("record"); string(line.sourcing.record)
        key("rule"); string(line.sourcing.rule)
        bytes.append(UInt8(ascii: "}"))
        key("tax"); string(line.tax)
        key("tax_type"); string(line.taxType)
        key("taxability")
        bytes.append(UInt8(ascii: "{"))
        key("confidence", first: true); string(line.taxability.confidence)
        key("reason"); string(line.taxability.reason)
        key("rule"); string(line.taxability.rule)
        key("source"); string(line.taxability.source)
        bytes.append(UInt8(ascii: "}"))
        key("taxable"); string(line.taxable)
        key("taxable_base"); string(line.taxableBase)
        key("third_party_discount"); string(line.thirdPartyDiscount)
        bytes.append(UInt8(ascii: "}"))
    }

    mutating func address(_ address: QuoteDocument.AddressDocument) {
        bytes.append(UInt8(ascii: "{"))
        key("city", first: true); string(address.city)
        key("line1"); string(address.line1)
        key("state"); string(address.state)
        key("zip"); string(address.zip)
        bytes.append(UInt8(ascii: "}"))
    }

    mutating func key(_ name: StaticString, first: Bool = false) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    mutating func array<T>(_ items: [T], _ element: (inout QuoteJSONWriter, T) -> Void) {
        bytes.append(UInt8(ascii: "["))
        for (i, item) in items.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            element(&self, item)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    mutating func boolean(_ value: Bool) {
        if value { bytes.append(contentsOf: [116, 114, 117, 101]) } else { bytes.append(contentsOf: [102, 97, 108, 115, 101]) }
    }

    mutating func integer(_ value: Int64) { bytes.append(contentsOf: String(value).utf8) }

    /// A JSON string as JSONEncoder escapes it: quote, backslash and control characters; `/` and non-ASCII as is.
    mutating func string(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [92, 34])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [92, 92])
            case 0x08: bytes.append(contentsOf: [92, 98])
            case 0x0C: bytes.append(contentsOf: [92, 102])
            case 0x0A: bytes.append(contentsOf: [92, 110])
            case 0x0D: bytes.append(contentsOf: [92, 114])
            case 0x09: bytes.append(contentsOf: [92, 116])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [92, 117, 48, 48, hex[Int(byte >> 4)], hex[Int(byte & 15)]])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
