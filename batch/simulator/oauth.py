"""The Entra ID (login) endpoints that issue the stand-in's bearer tokens, served on loopback.

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
The tokens themselves, and what the server remembers of them, are in tokens.py.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING

from aiohttp import web

from batch.simulator.assertions import b64url
from batch.simulator.config import LoggedRequest
from batch.simulator.tokens import AUDIENCE, jwt_claims, mint_jwt

if TYPE_CHECKING:
    from batch.simulator.server import Simulator

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


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
        if not self._tenant_ok(tenant, allow_common=grant != "client_credentials"):
            return _oauth_error(
                400, "invalid_request", 90002, f"Tenant '{tenant}' not found for this grant."
            )
        if grant == "client_credentials":
            refused = self._client_credentials_refused(request, form)
        elif grant == "refresh_token":
            refused = self._refresh_token_refused(request, form)
        elif grant == DEVICE_CODE_GRANT:
            refused = self._device_code_refused(form)
        else:
            return _oauth_error(
                400, "unsupported_grant_type", 70003, f"Unsupported grant_type {grant!r}."
            )
        if refused is not None:
            return refused
        return _json(self._tokens(request, grant != "client_credentials", form))

    def _client_credentials_refused(
        self, request: web.Request, form: Mapping[str, object]
    ) -> web.Response | None:
        """The error answer of a client_credentials grant (the app itself), None if granted."""
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
        return None

    def _refresh_token_refused(
        self, request: web.Request, form: Mapping[str, object]
    ) -> web.Response | None:
        """The error answer of a refresh_token grant, None if granted."""
        config = self.sim.config
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
        return None

    def _device_code_refused(self, form: Mapping[str, object]) -> web.Response | None:
        """The error answer of a device-code poll (pending on the first), None once approved."""
        if form.get("client_id") != self.sim.config.client_id:
            return _oauth_error(401, "invalid_client", 700016, "Application was not found.")
        approved = self.sim.tokens.poll_device_code(str(form.get("device_code") or ""))
        if approved is None:
            return _oauth_error(400, "invalid_grant", 70019, "The device code is not valid.")
        if not approved:
            return _oauth_error(
                400, "authorization_pending", 70016, "The user has not yet signed in."
            )
        return None

    def _tokens(
        self, request: web.Request, user: bool, form: Mapping[str, object]
    ) -> dict[str, object]:
        """A granted request's answer: an access token, and for a user its refresh and id tokens."""
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
            answer["scope"] = str(form.get("scope") or f"{AUDIENCE}/user_impersonation")
            answer["refresh_token"] = self.sim.tokens.new_refresh_token()
            answer["client_info"] = b64url(json.dumps({"uid": oid, "utid": tid}).encode())
            answer["id_token"] = self._id_token(request, oid)
        return answer

    def _id_token(self, request: web.Request, oid: str) -> str:
        """The signed-in user's id token: the simulator's one admin, of the configured tenant."""
        config = self.sim.config
        tid = config.tenant_id
        now = int(time.time())
        return mint_jwt(
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
