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
    /// "SeaTac" agree).
    static func of(_ name: String) -> String { words(name).joined() }

    /// The words joined by single spaces, for a comparison that needs a name's first words ("KANSAS CITY TDD"
    /// begins with "KANSAS CITY").
    static func spaced(_ name: String) -> String { words(name).joined(separator: " ") }

    static let spelledOut = ["ST": "SAINT", "STE": "SAINTE", "MT": "MOUNT", "FT": "FORT"]

    /// Letters of Spanish and French place names that addresses often write without their accent ("La Cañada
    /// Flintridge").
    static let unaccented: [Character: Character] = ["Á": "A", "É": "E", "È": "E", "Í": "I", "Ó": "O", "Ú": "U", "Ñ": "N", "Ü": "U"]
}
