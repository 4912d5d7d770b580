/// A street address split into the parts boundary records are matched on.
public struct NormalizedAddress: Hashable, Sendable {
    public var number: Int?
    public var preDirectional: String
    public var name: String
    public var suffix: String
    public var postDirectional: String
    public var unitDesignator: String
    public var unitNumber: Int?
}

/// Normalizes street addresses the way USPS Publication 28 writes them: upper case, single spaces, standard
/// street suffix abbreviations (Appendix C1), directionals (N, S, E, W, NE, NW, SE, SW) and secondary unit
/// designators (Appendix C2). Only the common forms are listed; an unknown word stays part of the street name.
public enum AddressNormalizer {
    public static func normalize(_ line1: String) -> NormalizedAddress {
        var tokens = tokenize(line1)
        var result = NormalizedAddress(number: nil, preDirectional: "", name: "", suffix: "", postDirectional: "",
                                       unitDesignator: "", unitNumber: nil)
        if let first = tokens.first, let digits = leadingDigits(first) {
            result.number = digits
            tokens.removeFirst()
        }
        // Everything from a unit designator on is the secondary address ("APT 5", "STE 200", "# 12").
        if let unitIndex = tokens.firstIndex(where: { unitDesignators[$0] != nil || $0 == "#" }), unitIndex > 0 {
            result.unitDesignator = unitDesignators[tokens[unitIndex]] ?? "#"
            if unitIndex + 1 < tokens.count { result.unitNumber = leadingDigits(tokens[unitIndex + 1]) }
            tokens.removeSubrange(unitIndex...)
        }
        if tokens.count >= 2, let post = directional(tokens[tokens.count - 1]) {
            result.postDirectional = post
            tokens.removeLast()
        }
        if tokens.count >= 2, let suffix = suffix(tokens[tokens.count - 1]) {
            result.suffix = suffix
            tokens.removeLast()
        }
        if tokens.count >= 2, let pre = directional(tokens[0]) {
            result.preDirectional = pre
            tokens.removeFirst()
        }
        result.name = tokens.joined(separator: " ")
        return result
    }

    /// A street name as boundary records are compared: upper case, punctuation dropped, single spaces.
    public static func normalizedStreetName(_ text: String) -> String { tokenize(text).joined(separator: " ") }

    public static func directional(_ word: String) -> String? { directionals[word.uppercased()] }

    public static func suffix(_ word: String) -> String? { suffixes[word.uppercased()] }

    static func tokenize(_ text: String) -> [String] {
        var cleaned = ""
        for character in text.uppercased() {
            switch character {
            case ".", ",": cleaned.append(" ")
            case "#": cleaned += " # "
            default: cleaned.append(character)
            }
        }
        return cleaned.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
    }

    static func leadingDigits(_ token: String) -> Int? {
        let digits = token.prefix { $0.isASCII && $0.isNumber }
        return digits.isEmpty ? nil : Int(digits)
    }

    static let directionals: [String: String] = [
        "N": "N", "S": "S", "E": "E", "W": "W", "NE": "NE", "NW": "NW", "SE": "SE", "SW": "SW",
        "NORTH": "N", "SOUTH": "S", "EAST": "E", "WEST": "W",
        "NORTHEAST": "NE", "NORTHWEST": "NW", "SOUTHEAST": "SE", "SOUTHWEST": "SW",
    ]

    /// USPS Publication 28, Appendix C1 (common suffixes and their usual spellings).
    static let suffixes: [String: String] = {
        let table: [String: [String]] = [
            "ALY": ["ALLEY", "ALLEE", "ALLY"], "AVE": ["AVENUE", "AV", "AVEN", "AVENU", "AVN", "AVNUE"],
            "BLVD": ["BOULEVARD", "BOUL", "BOULV"], "BND": ["BEND"], "CIR": ["CIRCLE", "CIRC", "CIRCL", "CRCL", "CRCLE"],
            "CT": ["COURT", "CRT"], "CTR": ["CENTER", "CENTRE", "CEN", "CENT", "CNTR"], "CV": ["COVE"],
            "DR": ["DRIVE", "DRIV", "DRV"], "EXPY": ["EXPRESSWAY", "EXP", "EXPR", "EXPRESS", "EXPW"],
            "FWY": ["FREEWAY", "FREEWY", "FRWAY", "FRWY"], "HWY": ["HIGHWAY", "HIGHWY", "HIWAY", "HIWY", "HWAY"],
            "LN": ["LANE"], "LOOP": ["LOOPS"], "MALL": [], "PATH": ["PATHS"], "PIKE": ["PIKES"],
            "PKWY": ["PARKWAY", "PARKWY", "PKWAY", "PKY"], "PL": ["PLACE"], "PLZ": ["PLAZA", "PLZA"],
            "PT": ["POINT"], "RD": ["ROAD"], "RDG": ["RIDGE"], "RTE": ["ROUTE"], "RUN": [], "SQ": ["SQUARE", "SQR", "SQRE", "SQU"],
            "ST": ["STREET", "STR", "STRT"], "TER": ["TERRACE", "TERR"], "TRCE": ["TRACE", "TRACES"],
            "TRL": ["TRAIL", "TRAILS", "TRLS"], "WALK": ["WALKS"], "WAY": ["WY"], "XING": ["CROSSING", "CRSSNG"],
        ]
        var map: [String: String] = [:]
        for (standard, variants) in table {
            map[standard] = standard
            for variant in variants { map[variant] = standard }
        }
        return map
    }()

    /// USPS Publication 28, Appendix C2 (secondary unit designators).
    static let unitDesignators: [String: String] = [
        "APT": "APT", "APARTMENT": "APT", "BLDG": "BLDG", "BUILDING": "BLDG", "DEPT": "DEPT", "DEPARTMENT": "DEPT",
        "FL": "FL", "FLOOR": "FL", "LOT": "LOT", "OFC": "OFC", "OFFICE": "OFC", "PH": "PH", "PENTHOUSE": "PH",
        "RM": "RM", "ROOM": "RM", "SPC": "SPC", "SPACE": "SPC", "STE": "STE", "SUITE": "STE", "TRLR": "TRLR",
        "TRAILER": "TRLR", "UNIT": "UNIT", "REAR": "REAR", "FRNT": "FRNT", "FRONT": "FRNT", "LOWR": "LOWR",
        "LOWER": "LOWR", "UPPR": "UPPR", "UPPER": "UPPR", "BSMT": "BSMT", "BASEMENT": "BSMT",
    ]
}
