import CLibXML2
import Foundation

/// Validates an XML file against an XML Schema with libxml2's streaming reader: the document is read node by node,
/// never built in memory, so a file of any size validates in constant memory.
public enum SchemaValidator {
    public struct Problem: Sendable, Equatable, CustomStringConvertible {
        public var file: String
        public var line: Int
        public var message: String
        public var description: String { "\(file):\(line): \(message)" }
    }

    public enum ValidationError: Error, CustomStringConvertible {
        case unreadable(String)
        case schema(String)

        public var description: String {
            switch self {
            case .unreadable(let file): "cannot read \(file)"
            case .schema(let detail): "the schema cannot be used: \(detail)"
            }
        }
    }

    /// Collects libxml2's structured errors; passed to the C callback as an opaque pointer.
    final class Collector {
        var problems: [Problem] = []
        var total = 0
        let file: String
        init(file: String) { self.file = file }
    }

    /// The problems found (empty when the file is valid), at most `limit` of them; `count` of all is in the last.
    public static func validate(file: String, schema: String, limit: Int = 20) throws -> (problems: [Problem], total: Int, elements: Int) {
        guard FileManager.default.isReadableFile(atPath: file) else { throw ValidationError.unreadable(file) }
        guard FileManager.default.isReadableFile(atPath: schema) else { throw ValidationError.unreadable(schema) }
        guard let reader = xmlReaderForFile(file, nil, Int32(XML_PARSE_NONET.rawValue | XML_PARSE_HUGE.rawValue)) else {
            throw ValidationError.unreadable(file)
        }
        defer { xmlFreeTextReader(reader) }
        let collector = Collector(file: (file as NSString).lastPathComponent)
        let context = Unmanaged.passRetained(collector)
        defer { context.release() }
        xmlTextReaderSetStructuredErrorHandler(reader, { context, error in
            guard let context, let error else { return }
            let collector = Unmanaged<Collector>.fromOpaque(context).takeUnretainedValue()
            collector.total += 1
            guard collector.problems.count < 20 else { return }
            let message = error.pointee.message.map { String(cString: $0).trimmingCharacters(in: .whitespacesAndNewlines) } ?? "invalid"
            collector.problems.append(Problem(file: collector.file, line: Int(error.pointee.line), message: message))
        }, context.toOpaque())
        guard xmlTextReaderSchemaValidate(reader, schema) == 0 else {
            throw ValidationError.schema(collector.problems.first?.message ?? schema)
        }
        var elements = 0
        var status: Int32 = 1
        while status == 1 {
            status = xmlTextReaderRead(reader)
            if status == 1, xmlTextReaderNodeType(reader) == 1 { elements += 1 }
        }
        if status < 0 && collector.problems.isEmpty {
            collector.problems.append(Problem(file: collector.file, line: 0, message: "the file is not well-formed XML"))
            collector.total += 1
        }
        if xmlTextReaderIsValid(reader) != 1 && collector.problems.isEmpty {
            collector.problems.append(Problem(file: collector.file, line: 0, message: "the file does not validate against the schema"))
            collector.total += 1
        }
        return (Array(collector.problems.prefix(limit)), collector.total, elements)
    }
}
