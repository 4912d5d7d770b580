import Foundation
import TaxCore

/// The built-in simulator's memory across restarts: one JSON line per answer it gave (the operation, Levy's
/// idempotency key, the authorization or capture it was about, and the result), appended before the answer is
/// returned. Replaying the lines rebuilds what it approved, so an order authorized before `levy serve` restarted
/// can still be captured, voided or refunded, as it could be at a real processor. No card data is written: the
/// simulator's answers hold ids and amounts only.
///
/// Lines are written with `write(2)` on a descriptor opened for appending: an answer survives the process (a
/// `kill -9`), not the machine, which is what a development simulator needs.
///
/// Several `levy serve` processes on one working folder share the journal as they would share a processor: each
/// answer is given under an exclusive `flock` on the file, after reading the lines the others appended since
/// (`exclusively`), so a capture approved by one process can be refunded through another, and an idempotency key is
/// answered once whichever process asks.
public final class SimulatorJournal: @unchecked Sendable {  // used only from inside the simulator actor
    public enum Operation: String, Codable, Sendable { case authorize, capture, void, refund }

    public struct Entry: Sendable, Equatable {
        public var key: String
        public var operation: Operation
        /// The authorization (capture, void) or capture (refund) the call named; empty for an authorization.
        public var target: String
        public var result: ProcessorResult
    }

    public struct JournalError: Error, CustomStringConvertible {
        public var description: String
    }

    /// What a line holds, as written.
    struct Line: Codable {
        var key: String
        var op: Operation
        var target: String
        var id: String
        var outcome: String
        var reason: String?
        var amount: Int64
        var currency: String
    }

    let path: String
    private let descriptor: Int32
    /// The entries the file held when it was opened, in order.
    public private(set) var entries: [Entry] = []
    /// How far this process has read (bytes, lines): lines past it were appended by another process.
    private var offset = 0
    private var linesRead = 0

    public init(path: String) throws(JournalError) {
        self.path = path
        let fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw JournalError(description: "\(path): cannot open the simulator's journal (\(String(cString: strerror(errno))))") }
        descriptor = fd
        do throws(JournalError) {
            try lock()
            defer { flock(fd, LOCK_UN) }
            entries = try readNew()
        } catch {
            close(fd)
            throw error
        }
    }

    deinit { close(descriptor) }

    /// Runs `body` holding the journal's lock, with the entries other processes appended since this one last read;
    /// `body` appends its answer with `append` before the lock is let go.
    func exclusively<T>(_ body: ([Entry]) throws -> T) throws -> T {
        try lock()
        defer { flock(descriptor, LOCK_UN) }
        return try body(try readNew())
    }

    /// How long a call waits for another process's hold on the journal: a process stopped while holding it (or a
    /// person's `flock`) would otherwise stall every payment call of every server in the folder.
    static let lockWait: Duration = .seconds(10)

    private func lock() throws(JournalError) {
        let deadline = ContinuousClock.now + Self.lockWait
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else { throw JournalError(description: "\(path): cannot lock the simulator's journal") }
            guard ContinuousClock.now < deadline else {
                throw JournalError(description: "\(path): another process has held the simulator's journal for over \(Self.lockWait.components.seconds) s; the call was not made")
            }
            usleep(10_000)
        }
    }

    /// The whole lines past `offset`, read under the lock. A last line without its newline: whole (only the newline
    /// was lost), it is kept and ended; cut short (a process died writing it, so that answer was never given), it is
    /// dropped. Writers hold the lock, so a line another process is writing is never seen half-written.
    private func readNew() throws(JournalError) -> [Entry] {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw JournalError(description: "\(path): cannot read the simulator's journal") }
        let size = Int(info.st_size)
        guard size > offset else {
            if size < offset { throw JournalError(description: "\(path): the simulator's journal was cut short while in use") }
            return []
        }
        var bytes = [UInt8](repeating: 0, count: size - offset)
        var filled = 0
        while filled < bytes.count {
            let count = bytes.withUnsafeMutableBytes { buffer -> Int in
                guard let base = buffer.baseAddress else { return -1 }
                return pread(descriptor, base + filled, buffer.count - filled, off_t(offset + filled))
            }
            guard count > 0 else { throw JournalError(description: "\(path): cannot read the simulator's journal") }
            filled += count
        }
        let complete = bytes.lastIndex(of: 10).map { $0 + 1 } ?? 0
        if complete < bytes.count {
            if (try? JSONDecoder().decode(Line.self, from: Data(bytes[complete...]))) != nil {
                guard write(descriptor, [UInt8(10)], 1) == 1 else { throw JournalError(description: "\(path): cannot end its last line") }
                bytes.append(10)
            } else {
                guard ftruncate(descriptor, off_t(offset + complete)) == 0 else {
                    throw JournalError(description: "\(path): cannot drop the incomplete last line")
                }
                bytes.removeSubrange(complete...)
            }
        }
        let entries = try Self.read(bytes[...], path: path, firstLine: linesRead + 1)
        offset += bytes.count
        linesRead += entries.count
        return entries
    }

    static func read(_ bytes: ArraySlice<UInt8>, path: String, firstLine: Int = 1) throws(JournalError) -> [Entry] {
        let decoder = JSONDecoder()
        var entries: [Entry] = []
        for (index, line) in bytes.split(separator: 10, omittingEmptySubsequences: false).dropLast().enumerated() {
            let number = firstLine + index
            guard let decoded = try? decoder.decode(Line.self, from: Data(line)) else {
                throw JournalError(description: "\(path):\(number): not a journal line (key, op, target, id, outcome, reason, amount, currency)")
            }
            guard decoded.currency == Currency.usd.code else {
                throw JournalError(description: "\(path):\(number): currency \"\(decoded.currency)\" is not USD")
            }
            guard let outcome = ProcessorResult.Outcome(rawValue: decoded.outcome) else {
                throw JournalError(description: "\(path):\(number): outcome \"\(decoded.outcome)\" is not approved or declined")
            }
            var reason: ProcessorResult.DeclineReason?
            if let text = decoded.reason {
                guard let known = ProcessorResult.DeclineReason(rawValue: text) else {
                    throw JournalError(description: "\(path):\(number): reason \"\(text)\" is not a decline reason")
                }
                reason = known
            }
            // Up to what an order can total (probe #15: a valid order of 216 billion dollars was journaled, and the
            // journal's own bound of 10^12 minor units then kept the server from starting). Said without the digits,
            // which an error's card-number mask would hide anyway.
            guard decoded.amount >= 0, decoded.amount <= QuoteLimits.maxOrderTotal else {
                throw JournalError(description: "\(path):\(number): the amount is negative or larger than any order can total (5 x 10^13 minor units)")
            }
            entries.append(Entry(key: decoded.key, operation: decoded.op, target: decoded.target,
                                 result: ProcessorResult(id: decoded.id, outcome: outcome, declineReason: reason,
                                                         amount: Money(minorUnits: decoded.amount))))
        }
        return entries
    }

    /// Appends one answer (inside `exclusively`); throws (and the simulator gives no answer) if the whole line could
    /// not be written.
    func append(_ entry: Entry) throws(JournalError) {
        let line = Line(key: entry.key, op: entry.operation, target: entry.target, id: entry.result.id, outcome: entry.result.outcome.rawValue,
                        reason: entry.result.declineReason?.rawValue, amount: entry.result.amount.minorUnits,
                        currency: entry.result.amount.currency.code)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        guard var bytes = try? encoder.encode(line) else { throw JournalError(description: "\(path): an answer could not be encoded") }
        bytes.append(10)
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count else {
            // A short write leaves part of a line: cut it off so the next line starts clean.
            if written > 0 { _ = ftruncate(descriptor, off_t(offset)) }
            throw JournalError(description: "\(path): the simulator's answer could not be written")
        }
        offset += bytes.count
        linesRead += 1
    }
}
