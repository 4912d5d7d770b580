import Foundation
import HTTPTypes
import Vault

extension LevyAPI {
    /// Card tokens. The card number arrives once, in `POST /v1/tokens`, and leaves only through the audited reveal.
    var vaultEndpoints: [Endpoint] {
        [
            Endpoint(method: .post, path: "/v1/tokens", scopes: [.checkout], idempotency: .optional) { call in
                let body = try call.decode(TokenizeBody.self)
                let caller = VaultCaller(id: "api-key:" + (call.key?.id ?? "-"), permissions: [.tokenize])
                let record = try await services.vault.tokenize(number: body.number, expiry: body.expMonth, body.expYear,
                                                               securityCode: body.securityCode, caller: caller)
                return .json(CardBody(record), status: .created)
            },
            Endpoint(method: .get, path: "/v1/tokens/{token}", scopes: [.checkout], idempotency: .none) { call in
                .json(CardBody(try await services.vault.card(try Self.token(call))))
            },
            Endpoint(method: .delete, path: "/v1/tokens/{token}", scopes: [.admin], idempotency: .none) { call in
                let token = try Self.token(call)
                try await services.vault.delete(token)
                return .json(["token": token.value, "status": "deleted"])
            },
            // Never idempotency-recorded: the response holds the card number, which must not be stored anywhere.
            Endpoint(method: .post, path: "/v1/tokens/{token}/reveal", scopes: [.vaultReveal], idempotency: .none,
                     auditsRefusedAttempts: true) { call in
                let body = try call.decode(RevealBody.self)
                guard !body.purpose.trimmingCharacters(in: .whitespaces).isEmpty else { throw APIError.invalid("purpose", "say why the card is revealed") }
                guard body.purpose.utf8.count <= 200 else { throw APIError.invalid("purpose", "at most 200 bytes") }
                try checkPersonText(["purpose": body.purpose])
                let caller = VaultCaller(id: "api-key:" + (call.key?.id ?? "-"), permissions: [.reveal])
                let card = try await services.vault.revealForProcessor(try Self.token(call), caller: caller, purpose: body.purpose)
                return .json(RevealedCardBody(card))
            },
        ]
    }

    static func token(_ call: APICall) throws -> Token {
        guard let token = Token(call.parameter("token")) else { throw APIError.notFound("no such token", field: "token") }
        return token
    }
}
