"""Bearer tokens, and the Entra ID (login) endpoints that issue them, served on loopback.

Endpoints (all under the simulator's base URL; `{tenant}` is the configured tenant id, or
`common`/`organizations` where Entra allows them):
- `POST /{tenant}/oauth2/v2.0/token` and `POST /{tenant}/oauth2/token` (form-encoded):
  `client_credentials` (client_id + client_secret, by form or HTTP Basic, or a client_assertion
  JWT whose iss/sub is the client id: its signature is not checked), `refresh_token` (the
  configured one, or any this server issued; answers a new one too), and the device-code grant
  (`authorization_pending` on the first poll, approved from the second).
- `POST /{tenant}/oauth2/v2.0/devicecode`, `GET /{tenant}/v2.0/.well-known/openid-configuration`,
  `GET /common/discovery/instance`. The URLs they hand out are `https://<the Host the request
  named>/...`: MSAL insists on https, so a client reaches them through an http_client that maps
  their paths onto the base URL.
Fault: with `token_redirect` set, every token request is answered `307 Temporary Redirect` to
that URL (as a hijacked or misconfigured login host might); a client must not follow it.
Answers are Entra's shapes: `{token_type, access_token, expires_in, ext_expires_in, ...}`, errors
`{"error", "error_description": "AADSTS...", "error_codes"}` with 400 (401 for invalid_client).
Tokens are JWT-shaped but opaque: the server knows them by value, so they cannot be forged, and
they expire `token_lifetime_s` after issue on the server's clock. No secret is ever logged.

For tests of a client's sign-in (`sim.tokens`): `issued_access_tokens()` / `issued_refresh_tokens()`
list what was handed out (to grep outputs for leaks); `revoke_all()` makes every token issued so far
answer 401 (a rotated secret), `access_withdrawn = True` every token, new ones too (the app lost its
Partner Center access); `trust_certificate(pem)` makes client assertions need an RS256 signature by
that certificate (see assertions.py).
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from aiohttp import web

from batch.simulator.assertions import TrustedCertificates, b64url, unb64url
from batch.simulator.config import LoggedRequest
from batch.simulator.rules import Refusal

if TYPE_CHECKING:
    from batch.simulator.server import Simulator

AUDIENCE = "https://api.partnercenter.microsoft.com"
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def _jwt(claims: Mapping[str, object]) -> str:
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
        token = _jwt(
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


def _oauth_error(status: int, error: str, code: int, description: str) -> web.Response:
    body = {
        "error": error,
        "error_description": f"AADSTS{code}: {description}",
        "error_codes": [code],
        "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
        "trace_id": str(uuid.uuid4()),
        "correlation_id": str(uuid.uuid4()),
    }
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")


def _json(body: Mapping[str, object]) -> web.Response:
    return web.Response(text=json.dumps(body), content_type="application/json")


class OAuthEndpoints:
    """The aiohttp handlers of the login endpoints of one Simulator."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    def routes(self) -> list[web.RouteDef]:
        """Route table; register after the /v1 routes (a tenant could be called anything)."""
        return [
            web.get("/common/discovery/instance", self.instance_discovery),
            web.get("/{tenant}/v2.0/.well-known/openid-configuration", self.openid_configuration),
            web.post("/{tenant}/oauth2/v2.0/token", self.token),
            web.post("/{tenant}/oauth2/token", self.token),
            web.post("/{tenant}/oauth2/v2.0/devicecode", self.devicecode),
        ]

    def _tenant_ok(self, tenant: str, allow_common: bool = True) -> bool:
        if tenant.lower() == self.sim.config.tenant_id.lower():
            return True
        return allow_common and tenant.lower() in ("common", "organizations")

    def _log(self, request: web.Request, status: int) -> None:
        self.sim.log.append(LoggedRequest.of(request, status))

    def _root(self, request: web.Request, tenant: str) -> str:
        return f"https://{request.host}/{tenant}"

    async def instance_discovery(self, request: web.Request) -> web.Response:
        """Entra's instance discovery: where the tenant's OpenID configuration is."""
        endpoint = request.query.get("authorization_endpoint", "")
        parts = endpoint.split("/")
        tenant = parts[3] if endpoint.startswith("https://") and len(parts) > 3 else "common"
        host = request.host
        self._log(request, 200)
        return _json(
            {
                "tenant_discovery_endpoint": (
                    f"{self._root(request, tenant)}/v2.0/.well-known/openid-configuration"
                ),
                "api-version": "1.1",
                "metadata": [
                    {"preferred_network": host, "preferred_cache": host, "aliases": [host]}
                ],
            }
        )

    async def openid_configuration(self, request: web.Request) -> web.Response:
        """The tenant's OpenID configuration, pointing back at this server."""
        tenant = request.match_info["tenant"]
        if not self._tenant_ok(tenant):
            self._log(request, 400)
            return _oauth_error(400, "invalid_tenant", 90002, f"Tenant '{tenant}' not found.")
        root = self._root(request, tenant)
        self._log(request, 200)
        return _json(
            {
                "issuer": f"{root}/v2.0",
                "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
                "token_endpoint": f"{root}/oauth2/v2.0/token",
                "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
                "jwks_uri": f"{root}/discovery/v2.0/keys",
                "response_types_supported": ["code", "id_token", "code id_token"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "tenant_region_scope": "WW",
            }
        )

    async def devicecode(self, request: web.Request) -> web.Response:
        """Start a device-code sign-in; the simulator approves it after the first poll."""
        form = await request.post()
        tenant = request.match_info["tenant"]
        if not self._tenant_ok(tenant):
            self._log(request, 400)
            return _oauth_error(400, "invalid_tenant", 90002, f"Tenant '{tenant}' not found.")
        if form.get("client_id") != self.sim.config.client_id:
            self._log(request, 400)
            return _oauth_error(
                400, "unauthorized_client", 700016, "Application was not found in the directory."
            )
        code = self.sim.tokens.new_device_code()
        user_code = secrets.token_hex(4).upper()
        self._log(request, 200)
        return _json(
            {
                "device_code": code,
                "user_code": user_code,
                "verification_uri": "https://microsoft.com/devicelogin",
                "expires_in": 900,
                "interval": 1,
                "message": (
                    "To sign in, use a web browser to open the page https://microsoft.com/devicelogin"
                    f" and enter the code {user_code} to authenticate. (pcbatch simulator: approved"
                    " automatically after the first poll.)"
                ),
            }
        )

    def _client_ok(self, request: web.Request, form: Mapping[str, object]) -> str | None:
        """The client_id if the confidential client authenticated, else None."""
        client_id = str(form.get("client_id") or "")
        secret = form.get("client_secret")
        auth = request.headers.get("Authorization", "")
        if auth.lower().startswith("basic "):
            try:
                pair = base64.b64decode(auth[6:]).decode()
            except (binascii.Error, UnicodeDecodeError):
                pair = ""
            client_id, _, basic_secret = pair.partition(":")
            secret = secret or basic_secret
        config = self.sim.config
        if client_id != config.client_id:
            return None
        if isinstance(secret, str):
            return client_id if secrets.compare_digest(secret, config.client_secret) else None
        assertion = form.get("client_assertion")
        if isinstance(assertion, str):
            claims = jwt_claims(assertion)
            if claims.get("iss") == claims.get("sub") == client_id and (
                self.sim.tokens.assertion_signed(assertion)
            ):
                return client_id
        return None

    async def token(self, request: web.Request) -> web.Response:
        """The token endpoint: client_credentials, refresh_token and device-code grants.

        With `token_redirect` set it answers 307 to that URL instead, before reading the form:
        a client that follows it sends its form (the secret) to the target again.
        """
        target = self.sim.config.token_redirect
        if target:
            self.sim.log.append(LoggedRequest.of(request, 307, fault="token_redirect"))
            raise web.HTTPTemporaryRedirect(target)
        response = await self._token(request)
        self._log(request, response.status)
        return response

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        tenant = request.match_info["tenant"]
        grant = form.get("grant_type")
        config = self.sim.config
        if not self._tenant_ok(tenant, allow_common=grant != "client_credentials"):
            return _oauth_error(
                400, "invalid_request", 90002, f"Tenant '{tenant}' not found for this grant."
            )
        user = True
        if grant == "client_credentials":
            if self._client_ok(request, form) is None:
                return _oauth_error(
                    401, "invalid_client", 7000215, "Invalid client secret or assertion provided."
                )
            scope = str(form.get("scope") or "")
            if scope and not any(s.endswith("/.default") for s in scope.split()):
                return _oauth_error(
                    400,
                    "invalid_scope",
                    1002012,
                    f"The provided value for scope {scope} is not valid. Client credential flows"
                    " must have a scope value with /.default suffixed to the resource identifier.",
                )
            user = False
        elif grant == "refresh_token":
            if form.get("client_id") != config.client_id or (
                "client_secret" in form and self._client_ok(request, form) is None
            ):
                return _oauth_error(401, "invalid_client", 7000215, "Invalid client provided.")
            if not self.sim.tokens.refresh_ok(
                str(form.get("refresh_token") or ""), config.refresh_token
            ):
                return _oauth_error(
                    400, "invalid_grant", 70000, "The provided refresh_token is not valid."
                )
        elif grant == DEVICE_CODE_GRANT:
            if form.get("client_id") != config.client_id:
                return _oauth_error(401, "invalid_client", 700016, "Application was not found.")
            approved = self.sim.tokens.poll_device_code(str(form.get("device_code") or ""))
            if approved is None:
                return _oauth_error(400, "invalid_grant", 70019, "The device code is not valid.")
            if not approved:
                return _oauth_error(
                    400, "authorization_pending", 70016, "The user has not yet signed in."
                )
        else:
            return _oauth_error(
                400, "unsupported_grant_type", 70003, f"Unsupported grant_type {grant!r}."
            )
        return _json(self._tokens(request, user, form))

    def _tokens(
        self, request: web.Request, user: bool, form: Mapping[str, object]
    ) -> dict[str, object]:
        config = self.sim.config
        lifetime = config.token_lifetime_s
        answer: dict[str, object] = {
            "token_type": "Bearer",
            "expires_in": max(1, int(lifetime)),
            "ext_expires_in": max(1, int(lifetime)),
            "access_token": self.sim.tokens.issue(config.tenant_id, config.client_id, lifetime),
        }
        if "resource" in form:
            answer["resource"] = form["resource"]
        if user:
            oid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"pcbatch-sim-user:{config.tenant_id}"))
            tid = config.tenant_id
            now = int(time.time())
            answer["scope"] = str(form.get("scope") or f"{AUDIENCE}/user_impersonation")
            answer["refresh_token"] = self.sim.tokens.new_refresh_token()
            answer["client_info"] = b64url(json.dumps({"uid": oid, "utid": tid}).encode())
            answer["id_token"] = _jwt(
                {
                    "iss": f"{self._root(request, tid)}/v2.0",
                    "aud": config.client_id,
                    "sub": oid,
                    "oid": oid,
                    "tid": tid,
                    "iat": now,
                    "nbf": now,
                    "exp": now + 3600,
                    "name": "Simulator Admin",
                    "preferred_username": "admin@pcbatch-sim.example",
                    "ver": "2.0",
                }
            )
        return answer
