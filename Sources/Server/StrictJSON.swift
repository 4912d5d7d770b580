import Foundation
import HTTPTypes
import JSONInput

/// Decodes request bodies strictly: unknown keys are refused (a typo is an error, not a silently ignored field), and
/// every failure becomes an `APIError` naming the field path (`lines[0].quantity`).
enum StrictJSON {
    static func decode<T: Decodable>(_ type: T.Type, from body: [UInt8]) throws -> T {
        let findings = try check(body)
        do {
            let value = try JSONDecoder().decode(T.self, from: Data(body))
            // Read, a number that is not whole was rounded into a whole-number field (every number Levy reads is one).
            if let field = findings.firstFractionalNumber { throw APIError.invalid(field, wholeNumber) }
            return value
        } catch let error as UnknownField {
            let expected = error.allowed.isEmpty ? "this body takes no fields" : "expected one of " + error.allowed.sorted().joined(separator: ", ")
            throw APIError(.badRequest, "unknown_field", "unknown field; \(expected)", field: path(error.path))
        } catch let error as APIError {
            throw error
        } catch let DecodingError.keyNotFound(key, context) {
            throw APIError.missing(path(context.codingPath + [key]))
        } catch let DecodingError.typeMismatch(type, context) {
            throw APIError.invalid(path(context.codingPath), "expected \(name(of: type))")
        } catch let DecodingError.valueNotFound(type, context) {
            throw APIError.invalid(path(context.codingPath), "expected \(name(of: type)), found null")
        } catch let DecodingError.dataCorrupted(context) {
            // The body passed `check`: it is JSON. Foundation reports some unreadable values (1.5 for a whole number)
            // without their path; say what it says rather than blame the JSON.
            if context.codingPath.isEmpty {
                if let field = JSONGuard.firstNonWholeNumber(body) { throw APIError.invalid(field, wholeNumber) }
                throw APIError.invalid("", "a value cannot be read: " + String(context.debugDescription.prefix(200)))
            }
            throw APIError.invalid(path(context.codingPath), "the value cannot be read")
        } catch {
            throw APIError(.badRequest, "invalid_json", "the body is not a JSON object")
        }
    }

    static let wholeNumber = "expected a whole number (an integer smaller than 2^63 in size)"

    /// The I-JSON and size check (`JSONGuard`) as an API error naming the field.
    @discardableResult
    static func check(_ body: [UInt8]) throws(APIError) -> JSONGuard.Findings {
        do { return try JSONGuard.check(body) } catch {
            let code = switch error.kind {
            case .syntax: "invalid_json"
            case .invalidUTF8: "invalid_utf8"
            case .duplicateName: "duplicate_field"
            case .tooDeep, .tooLong, .tooMany, .controlCharacter: "invalid_value"
            }
            throw APIError(.badRequest, code, error.message, field: error.path)
        }
    }

    static func path(_ keys: [any CodingKey]) -> String {
        var text = ""
        for key in keys {
            if let index = key.intValue { text += "[\(index)]" } else { text += text.isEmpty ? key.stringValue : "." + key.stringValue }
        }
        return text
    }

    static func name(of type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        case is Int.Type, is Int64.Type: "an integer"
        case is [Any].Type: "an array"
        default: "an object"
        }
    }
}

struct UnknownField: Error {
    var path: [any CodingKey]
    var allowed: Set<String>
}

struct AnyCodingKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) {
        stringValue = String(intValue)
        self.intValue = intValue
    }
}

extension Decoder {
    /// Throws `UnknownField` if the object has a key that `Keys` does not list.
    func refuseUnknownKeys<Keys: CodingKey & CaseIterable>(_ keys: Keys.Type) throws {
        let container = try container(keyedBy: AnyCodingKey.self)
        let allowed = Set(Keys.allCases.map(\.stringValue))
        for key in container.allKeys where !allowed.contains(key.stringValue) {
            throw UnknownField(path: codingPath + [key], allowed: allowed)
        }
    }
}
