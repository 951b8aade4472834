"""Bearer tokens: the ones the stand-in issues and checks, and the JWTs it mints for them.

Tokens are JWT-shaped but opaque: the server knows them by value, so they cannot be forged, and
they expire `token_lifetime_s` after issue on the server's clock. No secret is ever logged. The
login endpoints that hand them out are in oauth.py.

For tests of a client's sign-in (`sim.tokens`): `issued_access_tokens()` / `issued_refresh_tokens()`
list what was handed out (to grep outputs for leaks); `revoke_all()` makes every token issued so far
answer 401 (a rotated secret), `access_withdrawn = True` every token, new ones too (the app lost its
Partner Center access); `trust_certificate(pem)` makes client assertions need an RS256 signature by
that certificate (see assertions.py).
"""

from __future__ import annotations

import binascii
import json
import secrets
import time
import uuid
from collections.abc import Callable, Mapping

from batch.simulator.assertions import TrustedCertificates, b64url, unb64url
from batch.simulator.rules import Refusal

AUDIENCE = "https://api.partnercenter.microsoft.com"


def mint_jwt(claims: Mapping[str, object]) -> str:
    """A JWT-shaped token of these claims: RS256 in its header, random bytes for a signature."""
    header = {"typ": "JWT", "alg": "RS256", "kid": "pcbatch-simulator"}
    parts = (json.dumps(header, separators=(",", ":")), json.dumps(claims, separators=(",", ":")))
    return ".".join((*(b64url(p.encode()) for p in parts), b64url(secrets.token_bytes(32))))


def jwt_claims(token: str) -> dict[str, object]:
    """The payload of a JWT-shaped token, unverified ({} when it is not one)."""
    try:
        decoded = json.loads(unb64url(token.split(".")[1]))
    except (IndexError, ValueError, binascii.Error):
        return {}
    return decoded if isinstance(decoded, dict) else {}


class TokenIssuer:
    """Issues and checks access tokens, refresh tokens and device codes; clock injectable."""

    __slots__ = (
        "_access",
        "_certificates",
        "_clients",
        "_clock",
        "_device",
        "_refresh",
        "_revoked",
        "_wall",
        "access_withdrawn",
    )

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time
    ) -> None:
        self._clock = clock
        self._wall = wall
        self._access: dict[str, tuple[str, float]] = {}  # token -> (partner, expires at)
        self._clients: dict[str, str] = {}  # access token -> the client it was issued to
        self._refresh: set[str] = set()
        self._device: dict[str, int] = {}  # device code -> polls so far
        self._revoked: set[str] = set()
        self._certificates = TrustedCertificates()
        self.access_withdrawn = False  # True: every bearer token is refused (401)

    def issue(self, partner: str, client_id: str, lifetime_s: float) -> str:
        """A new access token for the partner (tenant id), valid for lifetime_s seconds."""
        now = int(self._wall())
        token = mint_jwt(
            {
                "aud": AUDIENCE,
                "iss": f"https://sts.windows.net/{partner}/",
                "iat": now,
                "nbf": now,
                "exp": now + int(lifetime_s),
                "tid": partner,
                "appid": client_id,
                "ver": "1.0",
                "jti": uuid.uuid4().hex,
            }
        )
        self._access[token] = (partner, self._clock() + lifetime_s)
        self._clients[token] = client_id
        return token

    def issue_opaque(self, partner: str, client_id: str, lifetime_s: float) -> str:
        """A new access token that is no JWT (nothing in it a client can read), valid as issue's."""
        token = "pcsim-opaque." + secrets.token_urlsafe(32)
        self._access[token] = (partner, self._clock() + lifetime_s)
        self._clients[token] = client_id
        return token

    def client_of(self, token: str) -> str | None:
        """The client an access token was issued to (None: not one issued here)."""
        return self._clients.get(token)

    def partner(self, authorization: str | None) -> str:
        """The partner an Authorization header authenticates; Refusal(401) otherwise."""
        if not authorization:
            raise Refusal(401, 800001, "Partner Token missing in request context.")
        scheme, _, token = authorization.partition(" ")
        grant = self._access.get(token.strip()) if scheme.lower() == "bearer" else None
        if grant is None:
            raise Refusal(401, 400, "Access denied: the bearer token is not valid here.")
        partner, expires_at = grant
        if self._clock() >= expires_at:
            raise Refusal(401, 400, "Access denied: the bearer token has expired.")
        if self.access_withdrawn or token.strip() in self._revoked:
            raise Refusal(401, 400, "Access denied: the bearer token has been revoked.")
        return partner

    def issued_access_tokens(self) -> tuple[str, ...]:
        """Every access token issued so far, oldest first."""
        return tuple(self._access)

    def issued_refresh_tokens(self) -> tuple[str, ...]:
        """Every refresh token issued so far (not the configured one)."""
        return tuple(self._refresh)

    def revoke_all(self) -> None:
        """Refuse every access token issued so far (401); tokens issued later work."""
        self._revoked.update(self._access)

    def trust_certificate(self, pem: bytes) -> None:
        """From now on a client assertion must be signed (RS256) by a trusted certificate."""
        self._certificates.add(pem)

    def assertion_signed(self, assertion: str) -> bool:
        """True when no certificate is trusted, or the JWT is unexpired and signed by one."""
        return not self._certificates or self._certificates.verify(assertion, self._wall())

    def new_refresh_token(self) -> str:
        """A refresh token this server will accept from now on."""
        token = "sim-rt." + secrets.token_urlsafe(32)
        self._refresh.add(token)
        return token

    def refresh_ok(self, token: str, configured: str) -> bool:
        """True for the configured refresh token or one this server issued."""
        return secrets.compare_digest(token, configured) or token in self._refresh

    def new_device_code(self) -> str:
        """A device code, pending until it has been polled once."""
        code = "sim-dc." + secrets.token_urlsafe(24)
        self._device[code] = 0
        return code

    def poll_device_code(self, code: str) -> bool | None:
        """None for an unknown code, False while pending (first poll), True once approved."""
        polls = self._device.get(code)
        if polls is None:
            return None
        self._device[code] = polls + 1
        if polls == 0:
            return False
        del self._device[code]  # a device code is redeemed once
        return True
