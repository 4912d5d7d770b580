/// How place names from different sources are compared: an address's city, the Census postal city, the ZIP5
/// table's regions and city names, and the names in the states' own files (WA DOR, CA CDTFA, IDOR, the SST place
/// names). Each source spells a place its own way ("St. Helena", "SAINT HELENA", "St Helena"; "LaGrange" and "La
/// Grange"; "O'Fallon"; "AUBURN/KING"), and every comparison goes through these words so that all agree.
enum PlaceNameKey {
    /// The words of a name as compared: upper-case, without the accents addresses often leave out, split at any
    /// character that is not a letter, a digit or an apostrophe (apostrophes are dropped: "O'FALLON" is one word),
    /// with "ST", "STE", "MT" and "FT" spelled out.
    static func words(_ name: String) -> [String] {
        var words: [String] = []
        var word = ""
        func finish() {
            guard !word.isEmpty else { return }
            words.append(spelledOut[word] ?? word)
            word = ""
        }
        for character in name.uppercased() {
            let folded = unaccented[character] ?? character
            if folded.isLetter || folded.isNumber {
                word.append(folded)
            } else if folded != "'" && folded != "\u{2019}" {
                finish()
            }
        }
        finish()
        return words
    }

    /// The key names are looked up by: the words without spaces ("La Grange" and "LAGRANGE", "Sea Tac" and
    /// "SeaTac" agree). ASCII names (nearly all) are read byte by byte: this runs for quotes whose address names a
    /// city.
    static func of(_ name: String) -> String {
        var key: [UInt8] = []
        key.reserveCapacity(name.utf8.count + 8)
        var wordStart = 0
        func finishWord() {
            let word = key[wordStart...]
            let spelled: String? = switch word.count {
            case 2 where word.elementsEqual("ST".utf8): "SAINT"
            case 2 where word.elementsEqual("MT".utf8): "MOUNT"
            case 2 where word.elementsEqual("FT".utf8): "FORT"
            case 3 where word.elementsEqual("STE".utf8): "SAINTE"
            default: nil
            }
            if let spelled { key.replaceSubrange(wordStart..., with: spelled.utf8) }
            wordStart = key.count
        }
        for byte in name.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): key.append(byte)
            case UInt8(ascii: "a")...UInt8(ascii: "z"): key.append(byte - 32)
            case UInt8(ascii: "'"): continue
            case 0x80...: return words(name).joined()
            default: finishWord()
            }
        }
        finishWord()
        return String(decoding: key, as: UTF8.self)
    }

    /// The words joined by single spaces, for a comparison that needs a name's first words ("KANSAS CITY TDD"
    /// begins with "KANSAS CITY").
    static func spaced(_ name: String) -> String { words(name).joined(separator: " ") }

    static let spelledOut = ["ST": "SAINT", "STE": "SAINTE", "MT": "MOUNT", "FT": "FORT"]

    /// Letters of Spanish and French place names that addresses often write without their accent ("La Cañada
    /// Flintridge").
    static let unaccented: [Character: Character] = ["Á": "A", "É": "E", "È": "E", "Í": "I", "Ó": "O", "Ú": "U", "Ñ": "N", "Ü": "U"]
}
