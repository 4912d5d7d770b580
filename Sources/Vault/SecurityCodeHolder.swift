import Foundation

/// Holds card security codes (CVV/CVC) in memory only, for the one authorization that uses each: taken once, or
/// gone after a short time. Never written anywhere.
actor SecurityCodeHolder {
    private var codes: [Token: (digits: [UInt8], expires: Date)] = [:]
    private let lifetime: TimeInterval
    private let now: @Sendable () -> Date

    init(lifetime: TimeInterval, now: @escaping @Sendable () -> Date) {
        self.lifetime = lifetime
        self.now = now
    }

    func put(_ digits: [UInt8], for token: Token) {
        dropExpired()
        codes[token] = (digits, now().addingTimeInterval(lifetime))
    }

    /// The code for `token`, removed as it is returned; nil when there is none or it has expired.
    func take(_ token: Token) -> [UInt8]? {
        dropExpired()
        return codes.removeValue(forKey: token)?.digits
    }

    func contains(_ token: Token) -> Bool {
        dropExpired()
        return codes[token] != nil
    }

    private func dropExpired() {
        let current = now()
        codes = codes.filter { $0.value.expires > current }
    }
}
