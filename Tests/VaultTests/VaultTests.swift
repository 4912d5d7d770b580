import Foundation
import Storage
import TaxCore
import LevyTestSupport
import Testing
@testable import Vault

extension Sequence where Element: Sendable {
    /// `transform` applied to each element in turn.
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}

/// A clock tests can move.
final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current = Date(timeIntervalSince1970: 1_790_000_000)  // 2026-09-21
    var now: Date { lock.withLock { current } }
    func advance(_ seconds: TimeInterval) { lock.withLock { current = current.addingTimeInterval(seconds) } }
}

/// The stores every vault test runs on (the shared definition: SQLite always, PostgreSQL when scripts/test started one).
typealias Backend = Store

/// Where one test's vault lives: its own SQLite file, or its own schema in the shared PostgreSQL test server.
struct Place: Sendable {
    var backend: Backend
    var directory: String
    var schema: String
    var database: any SQLDatabase

    func table(_ name: String) -> String { database.dialect.render("{schema}\(name)", schema: schema) }
}

enum Fixture {
    /// Every vault file the tests write lives under one folder, which `scripts/test` scans for card data after the run.
    static let root = NSTemporaryDirectory() + "levy-vault-tests"

    static func directory() -> String {
        let path = root + "/" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static let postgres: PostgresDatabase? = ProcessInfo.processInfo.environment["LEVY_TEST_POSTGRES_URL"].map { try! PostgresDatabase(url: $0) }

    static func place(_ backend: Backend = .sqlite) throws -> Place {
        let directory = directory()
        let schema = "vault_" + String(UUID().uuidString.lowercased().filter(\.isLetter).prefix(12))
        switch backend {
        case .sqlite: return Place(backend: backend, directory: directory, schema: schema, database: try SQLiteDatabase(path: directory + "/vault.sqlite"))
        case .postgres: return Place(backend: backend, directory: directory, schema: schema, database: postgres!)
        }
    }

    /// The same store through a connection of its own, as another process would open it.
    static func secondConnection(_ place: Place) throws -> Place {
        var other = place
        switch place.backend {
        // The tests that race these connections check that a write happens exactly once, not how long a writer may
        // wait: on a saturated 2-core CI machine a transaction can hold SQLite's write lock past the default 5 s
        // busy timeout (its body waits for a cooperative thread), so the writers here may wait a minute.
        case .sqlite: other.database = try SQLiteDatabase(path: place.directory + "/vault.sqlite", busyTimeoutMilliseconds: 60_000)
        case .postgres: other.database = try PostgresDatabase(url: ProcessInfo.processInfo.environment["LEVY_TEST_POSTGRES_URL"]!, maximumConnections: 2)
        }
        return other
    }

    static let keyA = try! MasterKey(bytes: Array(repeating: 7, count: 32))
    static let keyB = try! MasterKey(bytes: Array(repeating: 9, count: 32))
    static let checkout = VaultCaller(id: "checkout", permissions: [.tokenize])
    static let admin = VaultCaller(id: "admin", permissions: [.tokenize, .admin])

    static func vault(_ place: Place, key: MasterKey = keyA, clock: TestClock = TestClock(), lifetime: TimeInterval? = nil) async throws -> Vault {
        try await Vault.open(.init(schema: place.schema, masterKey: key, tokenLifetime: lifetime, now: { clock.now }), database: place.database)
    }
}

/// A card number as a test argument: the test report shows it masked, so no number reaches the test output.
struct TestNumber: Sendable, CustomTestStringConvertible {
    let text: String
    init(_ text: String) { self.text = text }
    var testDescription: String { text.count > 8 ? String(text.prefix(4)) + "…" + String(text.suffix(2)) : "\"\(text)\"" }
}

@Suite("Card validation")
struct CardValidationTests {
    @Test("brands by IIN range, including Mastercard's 2-series", arguments: [
        (TestNumber("4242424242424242"), CardBrand.visa), (TestNumber("5555555555554444"), .mastercard), (TestNumber("2223003122003222"), .mastercard),
        (TestNumber("378282246310005"), .amex), (TestNumber("6011111111111117"), .discover), (TestNumber("3566002020360505"), .jcb),
        (TestNumber("30569309025904"), .diners), (TestNumber("6200000000000005"), .unionpay), (TestNumber("6759649826438453"), .maestro),
    ])
    func brands(number: TestNumber, brand: CardBrand) throws {
        #expect(try CardNumber(number.text).brand == brand)
    }

    @Test("spaces and dashes are allowed; the BIN is 8 digits for 16-digit cards, 6 otherwise")
    func formatting() throws {
        let card = try CardNumber("4242 4242-4242 4242")
        #expect(card.bin == "42424242")
        #expect(card.lastFour == "4242")
        #expect(try CardNumber("378282246310005").bin == "378282")
        #expect(try CardNumber("30569309025904").bin == "305693")
    }

    @Test("a number shorter than 14 digits shows its last four only: at least four digits stay hidden", arguments: [
        (TestNumber("675964982648"), CardBrand.maestro), (TestNumber("4222222222222"), .visa),
    ])
    func shortNumbersShowNoBIN(number: TestNumber, brand: CardBrand) throws {
        let card = try CardNumber(number.text)
        #expect(card.brand == brand && card.bin.isEmpty && card.lastFour == String(number.text.suffix(4)))
        #expect(card.masked == String(repeating: "•", count: number.text.count - 4) + String(number.text.suffix(4)))
    }

    @Test("bad numbers are refused with errors that never echo the number", arguments: [
        (TestNumber("4242424242424241"), CardValidationError.luhn), (TestNumber("4242-4242-42x2-4242"), .notDigits), (TestNumber("42424242424"), .length(11)),
        (TestNumber("42424242424242424242"), .length(20)), (TestNumber(""), .empty), (TestNumber("1234567812345670"), .unknownBrand),
        (TestNumber("3782822463100052"), .lengthForBrand(.amex, 16)), (TestNumber("510510510510515"), .lengthForBrand(.mastercard, 15)),
    ])
    func refuses(number: TestNumber, error: CardValidationError) {
        #expect(throws: error) { try CardNumber(number.text) }
        let digits = number.text.filter(\.isNumber)
        if digits.count >= 4 { #expect(!error.description.contains(String(digits.suffix(4)))) }
    }

    @Test("a printed card number is masked")
    func masked() throws {
        let card = try CardNumber("4242424242424242")
        #expect("\(card)" == "visa 42424242••••4242")
        #expect(!String(reflecting: card).contains("4242424242424242"))
    }
}

@Suite("The vault")
struct VaultTests {
    @Test("10,000 tokenizations of one card give 10,000 distinct tokens and one fingerprint", arguments: Backend.available)
    func distinctTokens(backend: Backend) async throws {
        let place = try Fixture.place(backend)
        let vault = try await Fixture.vault(place)
        var tokens = Set<Token>()
        var fingerprints = Set<String>()
        for _ in 0..<10_000 {
            let record = try await vault.tokenize(number: "4242424242424242", expiry: 12, 2030, caller: Fixture.checkout)
            tokens.insert(record.token)
            fingerprints.insert(record.fingerprint)
        }
        #expect(tokens.count == 10_000)
        #expect(fingerprints.count == 1)
        #expect(try await vault.tokens(withFingerprint: fingerprints.first!).count == 10_000)
    }

    @Test("fingerprints are keyed: spacing does not change them, another master key does", arguments: Backend.available)
    func fingerprints(backend: Backend) async throws {
        let a = try await Fixture.vault(try Fixture.place(backend), key: Fixture.keyA)
        let b = try await Fixture.vault(try Fixture.place(backend), key: Fixture.keyB)
        let plain = try await a.tokenize(number: "5555555555554444", expiry: 1, 2031, caller: Fixture.checkout)
        let spaced = try await a.tokenize(number: "5555 5555-5555 4444", expiry: 1, 2031, caller: Fixture.checkout)
        let other = try await b.tokenize(number: "5555555555554444", expiry: 1, 2031, caller: Fixture.checkout)
        #expect(plain.fingerprint == spaced.fingerprint)
        #expect(plain.fingerprint != other.fingerprint)
        #expect(plain.token.value.count == 36 && plain.token.value.hasPrefix("tok_"))
    }

    @Test("a ciphertext copied into another token's row fails to decrypt", arguments: Backend.available)
    func ciphertextBoundToRow(backend: Backend) async throws {
        let place = try Fixture.place(backend)
        let vault = try await Fixture.vault(place)
        let a = try await vault.tokenize(number: "4242424242424242", expiry: 12, 2030, caller: Fixture.checkout)
        let b = try await vault.tokenize(number: "5555555555554444", expiry: 12, 2030, caller: Fixture.checkout)
        let raw = place.database
        let ciphertext = try await raw.query("SELECT ciphertext FROM \(place.table("tokens")) WHERE token = $1", [.text(a.token.value)])[0].blob("ciphertext")!
        try await raw.execute("UPDATE \(place.table("tokens")) SET ciphertext = $1 WHERE token = $2", [.blob(ciphertext), .text(b.token.value)])
        let gateway = PaymentGateway(vault: vault, processor: SimulatedProcessor())
        await #expect(throws: VaultError.decryptionFailed) {
            try await gateway.authorize(token: b.token, amount: Money(minorUnits: 100), reference: "o1", idempotencyKey: UUID().uuidString)
        }
        #expect(try await gateway.authorize(token: a.token, amount: Money(minorUnits: 100), reference: "o2", idempotencyKey: UUID().uuidString).outcome == .approved)
    }

    @Test("without the reveal permission only BIN and last four are seen; every reveal, allowed or denied, is audited", arguments: Backend.available)
    func revealPermission(backend: Backend) async throws {
        let vault = try await Fixture.vault(try Fixture.place(backend))
        let record = try await vault.tokenize(number: "4111111111111111", expiry: 6, 2029, caller: Fixture.checkout)
        #expect(!record.description.contains("4111111111111111"))
        #expect(record.description.contains("41111111…1111"))
        await #expect(throws: VaultError.permissionDenied(caller: "checkout", needs: .reveal)) {
            try await vault.reveal(record.token, caller: Fixture.checkout, purpose: "curiosity")
        }
        let gateway = PaymentGateway(vault: vault, processor: SimulatedProcessor())
        _ = try await gateway.authorize(token: record.token, amount: Money(minorUnits: 5_000), reference: "order-9", idempotencyKey: UUID().uuidString)
        let entries = try await vault.auditEntries()
        #expect(entries.map(\.outcome) == ["denied", "allowed"])
        #expect(entries.map(\.actor) == ["checkout", "payment-gateway"])
        #expect(entries[1].purpose == "authorize order-9")
        #expect(try await vault.verifyAudit().failure == nil)
    }

    /// The simulator `levy serve` runs keeps its answers in a journal, so a restarted one still knows what it approved
    /// (probe #6: every order authorized before a restart answered `payment_declined` to its capture, void or refund).
    /// The journal sits under the folder the card-data scan reads.
    @Test("a restarted simulator captures, voids and refunds what it approved before; its journal is checked line by line")
    func simulatorJournal() async throws {
        let journal = Fixture.directory() + "/simulator-journal.jsonl"
        let vault = try await Fixture.vault(try Fixture.place())
        let token = try await vault.tokenize(number: "4242424242424242", expiry: 12, 2030, caller: Fixture.checkout).token
        let first = PaymentGateway(vault: vault, processor: try SimulatedProcessor(journal: journal))
        let auth1 = try await first.authorize(token: token, amount: Money(minorUnits: 5_000), reference: "o1", idempotencyKey: "auth-o1")
        let auth2 = try await first.authorize(token: token, amount: Money(minorUnits: 700), reference: "o2", idempotencyKey: "auth-o2")
        let capture = try await first.capture(authorization: auth1.id, amount: Money(minorUnits: 5_000), idempotencyKey: "cap-o1")
        #expect(capture.outcome == .approved)

        let restarted = try SimulatedProcessor(journal: journal)
        let second = PaymentGateway(vault: vault, processor: restarted)
        #expect(try await second.authorize(token: token, amount: Money(minorUnits: 5_000), reference: "o1", idempotencyKey: "auth-o1") == auth1,
                "a repeated key gets the first answer, across the restart")
        #expect(try await second.refund(capture: capture.id, amount: Money(minorUnits: 2_000), idempotencyKey: "ref-1").outcome == .approved)
        #expect(try await second.refund(capture: capture.id, amount: Money(minorUnits: 3_001), idempotencyKey: "ref-2").outcome == .declined,
                "no more than was captured comes back")
        #expect(try await second.capture(authorization: auth1.id, amount: Money(minorUnits: 1), idempotencyKey: "cap-again").outcome == .declined)
        #expect(try await second.void(authorization: auth2.id, idempotencyKey: "void-o2").outcome == .approved)
        #expect(await restarted.operations == ["refund": 2, "capture": 1, "void": 1])

        // A whole last line that lost only its newline is kept (the refund above is still known after a restart).
        let whole = try String(contentsOfFile: journal, encoding: .utf8)
        try String(whole.dropLast()).write(toFile: journal, atomically: true, encoding: .utf8)
        let kept = try SimulatedProcessor(journal: journal)
        #expect(try await kept.refund(capture: capture.id, amount: Money(minorUnits: 3_001), idempotencyKey: "ref-3").outcome == .declined,
                "2,000 of 5,000 refunded already: the kept line still counts")
        #expect(try await kept.refund(capture: capture.id, amount: Money(minorUnits: 3_000), idempotencyKey: "ref-4").outcome == .approved)
        #expect(try String(contentsOfFile: journal, encoding: .utf8).hasPrefix(whole))
        // A line cut short by a crash is an answer never given: dropped. Any other bad line is named.
        let handle = try #require(FileHandle(forWritingAtPath: journal))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(#"{"key":"half","op":"capt"#.utf8))
        try handle.close()
        let third = try SimulatedProcessor(journal: journal)
        #expect(try await third.capture(authorization: auth2.id, amount: Money(minorUnits: 700), idempotencyKey: "cap-o2").outcome == .declined,
                "voided before the restart")
        let text = try String(contentsOfFile: journal, encoding: .utf8)
        #expect(text.hasSuffix("\n") && !text.contains("half") && !text.contains("4242424242424242"))
        try (text + "{\"key\": 1}\n").write(toFile: journal, atomically: true, encoding: .utf8)
        let lines = text.split(separator: "\n").count
        #expect(throws: SimulatorJournal.JournalError.self) { try SimulatedProcessor(journal: journal) }
        do { _ = try SimulatedProcessor(journal: journal) } catch {
            #expect(error.description.hasPrefix("\(journal):\(lines + 1): not a journal line"), "\(error)")
        }
    }

    /// Probe #15: an order at the contract's limits (216 billion dollars) was authorized and journaled, and the journal's
    /// own bound (10^12 minor units) then kept `levy serve` from starting. What an order can total reads back.
    @Test("the simulator's journal reads back the largest amount an order can have")
    func simulatorJournalHoldsTheLargestOrder() async throws {
        let journal = Fixture.directory() + "/simulator-journal.jsonl"
        let vault = try await Fixture.vault(try Fixture.place())
        let token = try await vault.tokenize(number: "4242424242424242", expiry: 12, 2030, caller: Fixture.checkout).token
        let largest = Int64(QuoteLimits.maxLines) * QuoteLimits.maxLineAmount * 2
        #expect(largest == QuoteLimits.maxOrderTotal)
        let gateway = PaymentGateway(vault: vault, processor: try SimulatedProcessor(journal: journal))
        let authorized = try await gateway.authorize(token: token, amount: Money(minorUnits: largest), reference: "big", idempotencyKey: "auth-big")
        #expect(authorized.outcome == .approved)
        let restarted = PaymentGateway(vault: vault, processor: try SimulatedProcessor(journal: journal))
        #expect(try await restarted.capture(authorization: authorized.id, amount: Money(minorUnits: largest), idempotencyKey: "cap-big").outcome == .approved)
        // Past it, the line is named, without its digits.
        let text = try String(contentsOfFile: journal, encoding: .utf8)
        try text.replacingOccurrences(of: "\"amount\":\(largest),", with: "\"amount\":\(largest + 1),").write(toFile: journal, atomically: true, encoding: .utf8)
        do {
            _ = try SimulatedProcessor(journal: journal)
            Issue.record("an amount past any order's total was read")
        } catch {
            #expect(error.description.contains(":1: the amount is negative or larger than any order can total"), "\(error)")
        }
    }

    /// Two `levy serve` processes on one working folder share the simulator's journal as they would share a
    /// processor (probe #7: each answered from its own memory, so one declined refunds of the other's captures).
    @Test("two simulators on one journal see each other's answers and answer a key once")
    func sharedSimulatorJournal() async throws {
        let journal = Fixture.directory() + "/simulator-journal.jsonl"
        let vault = try await Fixture.vault(try Fixture.place())
        let token = try await vault.tokenize(number: "4242424242424242", expiry: 12, 2030, caller: Fixture.checkout).token
        let (one, other) = (try SimulatedProcessor(journal: journal), try SimulatedProcessor(journal: journal))
        let (a, b) = (PaymentGateway(vault: vault, processor: one), PaymentGateway(vault: vault, processor: other))
        let auth = try await a.authorize(token: token, amount: Money(minorUnits: 4_000), reference: "o1", idempotencyKey: "auth-o1")
        #expect(try await b.authorize(token: token, amount: Money(minorUnits: 4_000), reference: "o1", idempotencyKey: "auth-o1") == auth,
                "the other process answers a key the first one answered with the same answer")
        let capture = try await b.capture(authorization: auth.id, amount: Money(minorUnits: 4_000), idempotencyKey: "cap-o1")
        #expect(capture.outcome == .approved, "an authorization the other process gave is captured")
        #expect(try await a.refund(capture: capture.id, amount: Money(minorUnits: 1_500), idempotencyKey: "ref-1").outcome == .approved)
        #expect(try await b.refund(capture: capture.id, amount: Money(minorUnits: 2_501), idempotencyKey: "ref-2").outcome == .declined,
                "the other's refund counts: 1,500 of 4,000 is back already")
        #expect(try await b.refund(capture: capture.id, amount: Money(minorUnits: 2_500), idempotencyKey: "ref-3").outcome == .approved)
        #expect(try await a.capture(authorization: auth.id, amount: Money(minorUnits: 1), idempotencyKey: "cap-again").outcome == .declined)
        let (done, doneByOther) = (await one.operations, await other.operations)
        #expect(done == ["authorize": 1, "refund": 1, "capture": 1] && doneByOther == ["capture": 1, "refund": 2])
        // Concurrent calls from both on fresh keys: every answer is in the journal once, in whole lines.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<40 {
                let gateway = index.isMultiple(of: 2) ? a : b
                group.addTask { _ = try await gateway.authorize(token: token, amount: Money(minorUnits: 100), reference: "p\(index % 20)", idempotencyKey: "auth-p\(index % 20)") }
            }
            try await group.waitForAll()
        }
        let lines = try String(contentsOfFile: journal, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 6 + 20, "one line per key answered")
        #expect(try SimulatorJournal(path: journal).entries.count == 26, "every line reads back")
    }

    @Test("rotation x5, rewrap, restart: every token reveals; below the minimum version decryption fails", arguments: Backend.available)
    func rotation(backend: Backend) async throws {
        let place = try Fixture.place(backend)
        var vault = try await Fixture.vault(place)
        var tokens: [Token] = []
        for round in 0..<5 {
            tokens.append(try await vault.tokenize(number: "4242424242424242", expiry: 12, 2030, caller: Fixture.checkout).token)
            #expect(try await vault.rotate() == round + 2)
        }
        #expect(try await vault.rewrap() == 5)
        vault = try await Fixture.vault(place)  // a restart
        #expect(await vault.keyVersions.current == 6)
        try await vault.setMinimumDecryptionVersion(6)
        let gateway = PaymentGateway(vault: vault, processor: SimulatedProcessor())
        for token in tokens {
            #expect(try await gateway.authorize(token: token, amount: Money(minorUnits: 100), reference: "r", idempotencyKey: UUID().uuidString).outcome == .approved)
            #expect(try await vault.card(token).keyVersion == 6)
        }
        // A token written under version 6, then the minimum moved past it without a rewrap, cannot be read.
        let late = try await vault.tokenize(number: "5555555555554444", expiry: 12, 2030, caller: Fixture.checkout).token
        try await vault.rotate()
        try await vault.setMinimumDecryptionVersion(7)
        await #expect(throws: VaultError.keyVersionRetired(6)) {
            try await gateway.authorize(token: late, amount: Money(minorUnits: 100), reference: "r", idempotencyKey: UUID().uuidString)
        }
    }

    /// Probe #17: `levy vault rotate` runs in a process of its own; a running server kept sealing new cards under the
    /// version it opened with, so after `rewrap` and `retire` every card it took was refused as retired.
    @Test("a card is sealed under the newest key version, even one another process added", arguments: Backend.available)
    func rotationByAnotherProcess(backend: Backend) async throws {
        let place = try Fixture.place(backend)
        let serving = try await Fixture.vault(place)
        let operatorVault = try await Fixture.vault(place)
        let before = try await serving.tokenize(number: "4242424242424242", expiry: 12, 2030, caller: Fixture.checkout)
        let rotated = try await operatorVault.rotate()
        #expect(rotated == before.keyVersion + 1)
        let after = try await serving.tokenize(number: "5555555555554444", expiry: 12, 2030, caller: Fixture.checkout)
        #expect(after.keyVersion == rotated)
        try await operatorVault.rewrap()
        try await operatorVault.setMinimumDecryptionVersion(rotated)
        let gateway = PaymentGateway(vault: serving, processor: SimulatedProcessor())
        for token in [before.token, after.token] {
            #expect(try await gateway.authorize(token: token, amount: Money(minorUnits: 100), reference: "r", idempotencyKey: UUID().uuidString).outcome == .approved)
        }
    }

    @Test("bad card input gets a clear error and nothing is stored", arguments: [
        (TestNumber("4242424242424241"), 12, 2030, nil as String?), (TestNumber("4242x"), 12, 2030, nil), (TestNumber("401288888886"), 12, 2030, nil),
        (TestNumber("4242424242424242"), 13, 2030, nil), (TestNumber("4242424242424242"), 8, 2026, nil), (TestNumber("4242424242424242"), 12, 2030, "12a"),
    ] as [(TestNumber, Int, Int, String?)])
    func badInput(number: TestNumber, month: Int, year: Int, code: String?) async throws {
        for backend in Backend.available { try await badInput(number: number.text, month: month, year: year, code: code, on: backend) }
    }

    func badInput(number: String, month: Int, year: Int, code: String?, on backend: Backend) async throws {
        let place = try Fixture.place(backend)
        let vault = try await Fixture.vault(place)
        await #expect(throws: VaultError.self) {
            try await vault.tokenize(number: number, expiry: month, year, securityCode: code, caller: Fixture.checkout)
        }
        #expect(try await place.database.query("SELECT COUNT(*) AS n FROM \(place.table("tokens"))")[0].integer("n") == 0)
    }

    @Test("the security code is held sealed for one authorization, or until its short lifetime ends", arguments: Backend.available)
    func securityCode(backend: Backend) async throws {
        let clock = TestClock()
        let place = try Fixture.place(backend)
        let vault = try await Fixture.vault(place, clock: clock)
        let gateway = PaymentGateway(vault: vault, processor: SimulatedProcessor())
        let first = try await vault.tokenize(number: "4242424242424242", expiry: 12, 2030, securityCode: "7319", caller: Fixture.checkout)
        #expect(try await vault.holdsSecurityCode(first.token))
        // Stored, but only as AES-GCM ciphertext: never the digits.
        let stored = try await place.database.query("SELECT ciphertext FROM \(place.table("security_codes"))")
        #expect(stored.count == 1)
        #expect(stored.allSatisfy { row in row.blob("ciphertext").map { !$0.isEmpty && hexString($0).count == 2 * $0.count && $0 != Array("7319".utf8) } == true })
        let revealed = try await vault.reveal(first.token, caller: VaultCaller(id: "gw", permissions: [.reveal]), purpose: "test")
        #expect(revealed.securityCode == "7319")
        #expect(!(try await vault.holdsSecurityCode(first.token)))
        #expect(try await place.database.query("SELECT token FROM \(place.table("security_codes"))").isEmpty, "taken means deleted")
        let second = try await vault.tokenize(number: "4242424242424242", expiry: 12, 2030, securityCode: "8462", caller: Fixture.checkout)
        clock.advance(901)
        #expect(!(try await vault.holdsSecurityCode(second.token)))
        _ = try await gateway.authorize(token: second.token, amount: Money(minorUnits: 1), reference: "late", idempotencyKey: UUID().uuidString)
    }

    @Test("a security code given to one process is used by an authorization in another, exactly once", arguments: Backend.available)
    func securityCodeAcrossProcesses(backend: Backend) async throws {
        let clock = TestClock()
        let place = try Fixture.place(backend)
        let tokenizing = try await Fixture.vault(place, clock: clock)
        // Two more processes: their own connections to the same store, their own vault instances (and key caches).
        let others = try await (0..<2).asyncMap { _ in try await Fixture.vault(try Fixture.secondConnection(place), clock: clock) }
        let card = try await tokenizing.tokenize(number: "5555555555554444", expiry: 12, 2030, securityCode: "5926", caller: Fixture.checkout)
        let gateway = VaultCaller(id: "gw", permissions: [.reveal])
        // Both other processes race for the code: one gets it, the other gets none.
        let codes = try await withThrowingTaskGroup(of: String?.self) { group in
            for other in others { group.addTask { try await other.reveal(card.token, caller: gateway, purpose: "authorize").securityCode } }
            var codes: [String?] = []
            for try await code in group { codes.append(code) }
            return codes
        }
        #expect(codes.compactMap { $0 } == ["5926"])
        #expect(codes.filter { $0 == nil }.count == 1)
    }

    @Test("short-lived keys: a key is deleted one lifetime after its last use, and a code whose key is gone cannot be read", arguments: Backend.available)
    func securityCodeKeysExpire(backend: Backend) async throws {
        let clock = TestClock()
        let place = try Fixture.place(backend)
        let vault = try await Fixture.vault(place, clock: clock)
        _ = try await vault.tokenize(number: "4242424242424242", expiry: 12, 2030, securityCode: "7319", caller: Fixture.checkout)
        clock.advance(600)
        _ = try await vault.tokenize(number: "4242424242424242", expiry: 12, 2030, securityCode: "8462", caller: Fixture.checkout)
        #expect(try await place.database.query("SELECT id FROM \(place.table("security_code_keys"))").count == 1, "one key seals for a lifetime")
        clock.advance(600)  // the first key's use has ended: a new code gets a new key
        let third = try await vault.tokenize(number: "4242424242424242", expiry: 12, 2030, securityCode: "5926", caller: Fixture.checkout)
        #expect(try await place.database.query("SELECT id FROM \(place.table("security_code_keys"))").count == 2)
        clock.advance(1_700)  // past every code's expiry and the first key's deletion time, not yet the second key's
        try await vault.purgeExpiredSecurityCodes()
        #expect(try await place.database.query("SELECT token FROM \(place.table("security_codes"))").isEmpty)
        let keysLeft = try await place.database.query("SELECT id FROM \(place.table("security_code_keys"))").count
        #expect(keysLeft == 1, "the first key is deleted; the second is kept until one lifetime after its last use")
        #expect(!(try await vault.holdsSecurityCode(third.token)))
        // A code sealed under a key that no longer exists (a restored backup, say) is unreadable, not an error.
        let reader = try await Fixture.vault(try Fixture.secondConnection(place), clock: clock)
        try await place.database.execute("""
            INSERT INTO \(place.table("security_codes")) (token, key_id, ciphertext, expires_at) VALUES ($1, 'sck_gone', $2, '2099-01-01T00:00:00Z')
            """, [.text(third.token.value), .blob(Array(repeating: 1, count: 40))])
        #expect(try await reader.reveal(third.token, caller: VaultCaller(id: "gw", permissions: [.reveal]), purpose: "test").securityCode == nil)
    }

    @Test("purge removes tokens past their lifetime; delete makes a token unrecoverable", arguments: Backend.available)
    func retention(backend: Backend) async throws {
        let clock = TestClock()
        let vault = try await Fixture.vault(try Fixture.place(backend), clock: clock, lifetime: 3_600)
        let old = try await vault.tokenize(number: "4012888888881881", expiry: 12, 2030, caller: Fixture.checkout)
        clock.advance(3_000)
        let young = try await vault.tokenize(number: "4012888888881881", expiry: 12, 2030, caller: Fixture.checkout)
        clock.advance(700)
        #expect(try await vault.purgeExpired() == 1)
        await #expect(throws: VaultError.unknownToken) { try await vault.card(old.token) }
        try await vault.delete(young.token)
        await #expect(throws: VaultError.unknownToken) { try await vault.card(young.token) }
        let gateway = PaymentGateway(vault: vault, processor: SimulatedProcessor())
        await #expect(throws: VaultError.unknownToken) { try await gateway.authorize(token: young.token, amount: Money(minorUnits: 1), reference: "x", idempotencyKey: UUID().uuidString) }
    }

    @Test("a wrong master key is refused at open", arguments: Backend.available)
    func wrongKey(backend: Backend) async throws {
        let place = try Fixture.place(backend)
        _ = try await Fixture.vault(place).tokenize(number: "4242424242424242", expiry: 12, 2030, caller: Fixture.checkout)
        await #expect(throws: VaultError.masterKeyMismatch) { try await Fixture.vault(place, key: Fixture.keyB) }
    }
}

@Suite("The reveal audit")
struct RevealAuditTests {
    func auditedVault(_ backend: Backend) async throws -> (Vault, Place) {
        let place = try Fixture.place(backend)
        let vault = try await Fixture.vault(place)
        let gateway = PaymentGateway(vault: vault, processor: SimulatedProcessor())
        let record = try await vault.tokenize(number: "4242424242424242", expiry: 12, 2030, caller: Fixture.checkout)
        for i in 0..<4 { _ = try await gateway.authorize(token: record.token, amount: Money(minorUnits: 100), reference: "o\(i)", idempotencyKey: UUID().uuidString) }
        #expect(try await vault.verifyAudit().failure == nil)
        return (vault, place)
    }

    @Test("an edited entry is detected", arguments: Backend.available)
    func edited(backend: Backend) async throws {
        let (vault, place) = try await auditedVault(backend)
        try await place.database.execute("UPDATE \(place.table("reveal_audit")) SET purpose = 'nothing to see' WHERE seq = 2")
        #expect(try await vault.verifyAudit().failure?.seq == 2)
    }

    @Test("a deleted entry is detected, in the middle or at the end", arguments: Backend.available)
    func deleted(backend: Backend) async throws {
        let (vault, place) = try await auditedVault(backend)
        try await place.database.execute("DELETE FROM \(place.table("reveal_audit")) WHERE seq = 4")
        #expect(try await vault.verifyAudit().failure?.seq == 4)
        try await place.database.execute("DELETE FROM \(place.table("reveal_audit")) WHERE seq = 2")
        #expect(try await vault.verifyAudit().failure?.seq == 3)
    }

    @Test("reordered entries are detected", arguments: Backend.available)
    func reordered(backend: Backend) async throws {
        let (vault, place) = try await auditedVault(backend)
        let log = place.table("reveal_audit")
        try await place.database.execute("UPDATE \(log) SET seq = 100 WHERE seq = 2")
        try await place.database.execute("UPDATE \(log) SET seq = 2 WHERE seq = 3")
        try await place.database.execute("UPDATE \(log) SET seq = 3 WHERE seq = 100")
        #expect(try await vault.verifyAudit().failure?.seq == 2)
    }
}

@Suite("The processor simulator")
struct SimulatorTests {
    @Test("published test numbers drive the outcome", arguments: [
        (TestNumber("4242424242424242"), nil as ProcessorResult.DeclineReason?), (TestNumber("5555555555554444"), nil), (TestNumber("378282246310005"), nil),
        (TestNumber("4000000000000002"), .declined), (TestNumber("4000000000009995"), .insufficientFunds), (TestNumber("4000000000000069"), .expiredCard),
        (TestNumber("4000000000000127"), .incorrectSecurityCode), (TestNumber("4000000000000119"), .processingError),
    ])
    func outcomes(number: TestNumber, reason: ProcessorResult.DeclineReason?) async throws {
        let vault = try await Fixture.vault(try Fixture.place())
        let gateway = PaymentGateway(vault: vault, processor: SimulatedProcessor())
        let token = try await vault.tokenize(number: number.text, expiry: 12, 2030, caller: Fixture.checkout).token
        let result = try await gateway.authorize(token: token, amount: Money(minorUnits: 2_500), reference: "t", idempotencyKey: UUID().uuidString)
        #expect(result.outcome == (reason == nil ? .approved : .declined))
        #expect(result.declineReason == reason)
    }

    @Test("authorize, capture, refund and void follow the amounts")
    func lifecycle() async throws {
        let vault = try await Fixture.vault(try Fixture.place())
        let gateway = PaymentGateway(vault: vault, processor: SimulatedProcessor())
        let token = try await vault.tokenize(number: "4242424242424242", expiry: 12, 2030, caller: Fixture.checkout).token
        let auth = try await gateway.authorize(token: token, amount: Money(minorUnits: 10_000), reference: "o", idempotencyKey: UUID().uuidString)
        #expect(try await gateway.capture(authorization: auth.id, amount: Money(minorUnits: 10_001), idempotencyKey: UUID().uuidString).outcome == .declined)
        let capture = try await gateway.capture(authorization: auth.id, amount: Money(minorUnits: 10_000), idempotencyKey: UUID().uuidString)
        #expect(capture.outcome == .approved)
        #expect(try await gateway.void(authorization: auth.id, idempotencyKey: UUID().uuidString).outcome == .declined)
        #expect(try await gateway.refund(capture: capture.id, amount: Money(minorUnits: 4_000), idempotencyKey: UUID().uuidString).outcome == .approved)
        #expect(try await gateway.refund(capture: capture.id, amount: Money(minorUnits: 6_001), idempotencyKey: UUID().uuidString).outcome == .declined)
        let second = try await gateway.authorize(token: token, amount: Money(minorUnits: 500), reference: "p", idempotencyKey: UUID().uuidString)
        #expect(try await gateway.void(authorization: second.id, idempotencyKey: UUID().uuidString).outcome == .approved)
    }
}

@Suite("No card data outside the vault")
struct CardDataTests {
    /// On PostgreSQL the vault's rows are the store: every row of every table of its schema is written out as text and
    /// scanned (scripts/test also scans the cluster's files once every test has run).
    @Test("after a full vault lifecycle, no file written and no stored row holds a card number or a security code", arguments: Backend.available)
    func scan(backend: Backend) async throws {
        let place = try Fixture.place(backend)
        let directory = place.directory
        let clock = TestClock()
        var vault = try await Fixture.vault(place, clock: clock, lifetime: 60)
        let gateway = PaymentGateway(vault: vault, processor: SimulatedProcessor())
        let list = try String(contentsOfFile: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Fixtures/cards/test-cards.txt").path, encoding: .utf8)
        let (cards, codes) = CardDataScanner.readList(list)
        for (i, card) in cards.enumerated() {
            // Some listed numbers are there because tests send them to be refused (brand lengths, unknown IINs).
            guard let record = try? await vault.tokenize(number: card, expiry: 12, 2030, securityCode: codes[i % codes.count],
                                                         caller: Fixture.checkout) else { continue }
            _ = try await gateway.authorize(token: record.token, amount: Money(minorUnits: 100), reference: "scan", idempotencyKey: UUID().uuidString)
        }
        try await vault.rotate()
        try await vault.rewrap()
        vault = try await Fixture.vault(place, clock: clock, lifetime: 60)
        clock.advance(120)
        try await vault.purgeExpired()
        if backend == .postgres {
            let tables = try await place.database.query(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = $1", [.text(place.schema)])
            #expect(tables.count >= 4)
            var dump = ""
            for table in tables.compactMap({ $0.text("table_name") }) {
                for row in try await place.database.query("SELECT * FROM \(place.table(table))", []) {
                    dump += row.cells.map { cell in
                        switch cell {
                        case .text(let text): text
                        case .integer(let number): String(number)
                        // As hex: the scan finds a card number's ASCII digits in hex, and random bytes cannot pass for a code.
                        case .blob(let bytes): bytes.map { String(format: "%02x", $0) }.joined()
                        default: ""
                        }
                    }.joined(separator: "\t") + "\n"
                }
            }
            #expect(dump.count > 1_000)
            try Data(dump.utf8).write(to: URL(fileURLWithPath: directory + "/rows.txt"))
        }
        #expect(CardDataScanner.scan([directory], cards: cards, securityCodes: codes).isEmpty)
        // The scanner does find a card number where one is.
        try Data("order note: 4242424242424242 paid\n".utf8).write(to: URL(fileURLWithPath: directory + "/leak.log"))
        #expect(CardDataScanner.scan([directory], cards: cards, securityCodes: codes).map(\.kind) == ["card number"])
        try FileManager.default.removeItem(atPath: directory + "/leak.log")
        try? FileManager.default.removeItem(atPath: directory + "/rows.txt")
    }

    /// The scan finds a listed number however it is written: spaced, dashed, in UTF-16 either way round, as the hex
    /// of its digits; and a listed security code standing alone. Digits that merely contain a number do not count.
    @Test("the scanner finds card numbers written with spaces, dashes, in UTF-16 and in hex")
    func scannerFindsEveryWriting() throws {
        let directory = NSTemporaryDirectory() + "levy-scan-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cards = ["4242424242424242", "378282246310005"], codes = ["5926"]
        func plant(_ name: String, _ bytes: [UInt8]) throws -> [String] {
            let path = directory + "/" + name
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            defer { try? FileManager.default.removeItem(atPath: path) }
            return CardDataScanner.scan([directory], cards: cards, securityCodes: codes).map(\.kind)
        }
        #expect(try plant("spaced.txt", Array("card 4242 4242 4242 4242 ok".utf8)) == ["card number"])
        #expect(try plant("dashed.txt", Array("card 3782-822463-10005 ok".utf8)) == ["card number"])
        #expect(try plant("le.txt", Array("x 4242424242424242 y".utf16).flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }) == ["card number (UTF-16LE)"])
        #expect(try plant("be.txt", Array("x 4242-4242-4242-4242".utf16).flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }) == ["card number (UTF-16BE)"])
        #expect(try plant("hex.txt", Array("dump 34323432343234323432343234323432 end".utf8)) == ["card number (hex of its digits)"])
        #expect(try plant("cvv.json", Array(#"{"security_code": "5926"}"#.utf8)) == ["security code"])
        #expect(try plant("longer.txt", Array("id 14242424242424242 and 4242424242424242 1".utf8)).isEmpty == false)
        #expect(try plant("inside.txt", Array("run 942424242424242429 x".utf8)).isEmpty)
        // A code is a value of its own: not the fraction of a decimal, a clock's seconds or a bind placeholder's number.
        #expect(try plant("numbers.log", Array("took 0.5926 s; 5926.5 kB at 17:48:5926; VALUES ($5926, $5927)".utf8)).isEmpty)
        #expect(try plant("param.log", Array("DETAIL: parameters: $12 = '5926'".utf8)) == ["security code"])
        // A UUID's group of four (a test folder's name in a stored path) is chance too; the code beside one is not.
        #expect(try plant("uuid.txt", Array("/tmp/2E510BD8-3EC0-496C-5926-E9F5A74CE6AC/saft.xml".utf8)).isEmpty)
        #expect(try plant("uuid-then-code.txt", Array("2E510BD8-3EC0-496C-8462-E9F5A74CE6AC 5926".utf8)) == ["security code"])
        // Inside random bytes (a ciphertext, or PostgreSQL's statistics sample of one) the digits are chance, not a
        // value; in a database text column (a one-byte length header, small numbers beside it) they are found.
        #expect(try plant("random.bin", [0x9C, 0xF1, 0x2E, 0x07, 0xB3, 0xE4] + Array("5926".utf8) + [0x00, 0xD9, 0x3A, 0x81, 0xC5, 0x6F]).isEmpty)
        #expect(try plant("row.bin", [0x9C, 0xF1, 0x02, 0x00, 0x00, 0x00, 0x00, 0x0B] + Array("5926".utf8) + [0x00, 0xD9, 0x3A, 0x81]) == ["security code"])
        #expect(try plant("tail.bin", [0x9C, 0xF1, 0x2E, 0x87, 0xB3, 0x0B] + Array("5926".utf8) + [0x00]) == ["security code"])
        #expect(try plant("row.csv", Array("7,5926\r\n".utf8)) == ["security code"])
        // Two chance matches of CI's scan, byte for byte around the digits: a WAL record's CRC (NUL on its left) and a
        // compressed statistics array in pg_statistic (a control byte on its right). Both look like text to
        // `writtenAsText`; neither is delimited the way a written value is.
        #expect(try plant("wal.bin", [0xB3, 0xC3, 0xF9, 0x25, 0x0B, 0x00, 0x00] + Array("5926".utf8) + [0x00, 0x20, 0x28, 0x00, 0x00, 0x00]).isEmpty)
        #expect(try plant("statistic.bin", [0x91, 0x07, 0xC0, 0x2A] + Array("5926".utf8) + [0x0F, 0x25, 0x00, 0x00, 0x00, 0x10]).isEmpty)
        #expect(CardDataScanner.writtenAsText(7, 4, in: [0xB3, 0xC3, 0xF9, 0x25, 0x0B, 0x00, 0x00] + Array("5926".utf8) + [0x00, 0x20, 0x28, 0x00, 0x00, 0x00]))
        #expect(CardDataScanner.writtenAsText(4, 4, in: [0x91, 0x07, 0xC0, 0x2A] + Array("5926".utf8) + [0x0F, 0x25, 0x00, 0x00, 0x00, 0x10]))
        // Listed secrets (a processor's key) are found as written, in UTF-8 and UTF-16LE.
        let key = "sk_test_levy_local"
        try Data("Authorization: Bearer \(key)".utf8).write(to: URL(fileURLWithPath: directory + "/secret.log"))
        #expect(CardDataScanner.scan([directory], cards: cards, securityCodes: codes, secrets: [key]).map(\.kind) == ["secret"])
        #expect(CardDataScanner.readSecrets("# x\nsecret \(key)\npan 4242424242424242\nsecret short\n") == [key])
    }

    /// Every card number and security code a test sends is on the scan's list, so a leak of any of them is found.
    @Test("the scan's list holds every card number and security code the tests use")
    func listCoversTheTests() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        let list = try String(contentsOf: root.deletingLastPathComponent().appendingPathComponent("Fixtures/cards/test-cards.txt"), encoding: .utf8)
        let (cards, codes) = CardDataScanner.readList(list)
        var missing: [String] = []
        let enumerator = FileManager.default.enumerator(atPath: root.path)
        while let file = enumerator?.nextObject() as? String {
            guard file.hasSuffix(".swift"), let text = try? String(contentsOfFile: root.path + "/" + file, encoding: .utf8) else { continue }
            for (_, number) in CardDataScanner.digitRuns(Array(text.utf8), wholeRunsOnly: true)
                where CardNumber.luhnValid(number.utf8.map { $0 - 48 }) && !cards.contains(number) {
                missing.append("\(file): \(number.prefix(6))…")
            }
            for marker in ["security_code\\\": \\\"", "securityCode: \""] {
                var rest = Substring(text)
                while let range = rest.range(of: marker) {
                    let code = rest[range.upperBound...].prefix { $0.isNumber }
                    if !code.isEmpty, !codes.contains(String(code)) { missing.append("\(file): security code") }
                    rest = rest[range.upperBound...]
                }
            }
        }
        #expect(missing.isEmpty, "not on Fixtures/cards/test-cards.txt: \(missing)")
    }
}
