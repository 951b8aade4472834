"""Signing in through MSAL: app-only and app+user tokens, renewed before they expire.

Rules:
- Scopes: app-only asks for `https://api.partnercenter.microsoft.com/.default`, app+user for
  `https://api.partnercenter.microsoft.com/user_impersonation` (MSAL adds openid, profile and
  offline_access).
- Authority and http client (authority.py): the cloud's login host or `PC_AUTHORITY`, reached
  only through LoginHttp, MSAL's documented `http_client`, which never follows a redirect.
- The fetchers here (AppOnly, AppUser) are synchronous, as MSAL is; auth.RenewingToken caches
  their tokens, runs them in a thread and shares one renewal between all workers. Each fetch asks
  the login server for a new token: MSAL's own access-token cache is emptied first, through
  TokenCache's public API, because it would hand back the token that a 401 just refused.
- Certificates: a PEM file with the certificate and its private key; the SHA-1 thumbprint that
  MSAL sends as `x5t` is computed from the certificate (as the app registration shows it).
- No secret or token in a repr, a log line or an exception message. MSAL's logger is held at
  WARNING and its PII logging stays off.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import msal
import requests

from batch.core.echo import redact_urls
from batch.core.errors import ConfigError
from batch.wire.auth import Grant, RenewingToken, SignInError
from batch.wire.authority import Authority, LoginHttp, LoginRedirected, resolve_authority

AUDIENCE = "https://api.partnercenter.microsoft.com"
SCOPE_APP = f"{AUDIENCE}/.default"
SCOPE_USER = f"{AUDIENCE}/user_impersonation"
T = TypeVar("T")
CERT_PASSWORD = "PC_CLIENT_CERTIFICATE_PASSWORD"  # the password of the certificate's private key
_PRIVATE_KEY = re.compile(
    rb"-----BEGIN ((?:RSA |EC |ENCRYPTED )?PRIVATE KEY)-----.+?-----END \1-----", re.DOTALL
)

# What to check, by the OAuth error the login server answered.
_HINTS = {
    "invalid_client": "check the client secret (its value, not its id; not expired) or that the "
    "certificate is uploaded to the app registration",
    "unauthorized_client": "check the client id and that the app is registered in this tenant",
    "invalid_grant": "the refresh token is expired or revoked: get a new one (`pcbatch login`, "
    "or the consent of the secure application model)",
    "invalid_scope": "check that the app has the Partner Center API permission",
    "invalid_request": "check the tenant id (PC_TENANT_ID or --tenant)",
    "invalid_tenant": "check the tenant id (PC_TENANT_ID or --tenant)",
    "interaction_required": "sign in again with `pcbatch login`",
}


def grant_of(result: Mapping[str, Any] | None) -> Grant:
    """The Grant in an MSAL result, or SignInError with the server's reason and what to check."""
    if result and result.get("access_token"):
        return Grant(str(result["access_token"]), float(result.get("expires_in") or 3600))
    if not result:
        raise SignInError("no token came back, and there was no error either")
    error = str(result.get("error") or "unknown_error")
    # Entra's descriptions end with trace and correlation ids on further lines: keep the first.
    description = str(result.get("error_description") or "").strip().splitlines()
    detail = f" ({description[0]})" if description else ""
    hint = f"; {_HINTS[error]}" if error in _HINTS else ""
    raise SignInError(f"the login server answered {error}{detail}{hint}")


def call_msal(authority: Authority, step: Callable[[], T]) -> T:
    """Run one MSAL step and return what it returns; network and authority errors: SignInError."""
    try:
        return step()
    except LoginRedirected as exc:
        raise SignInError(
            f"the login server {authority.loopback or authority.root} {exc}"
        ) from None
    except requests.RequestException as exc:
        raise SignInError(
            f"could not reach the login server {authority.loopback or authority.root} "
            f"({type(exc).__name__}: {redact_urls(str(exc))})"
        ) from None
    except ValueError as exc:  # MSAL: the authority's OpenID configuration could not be had
        raise SignInError(
            f"the login server {authority.root} is not usable: {redact_urls(str(exc))}"
        ) from None


def msal_options(authority: Authority) -> dict[str, Any]:
    """Keyword arguments every MSAL application of pcbatch gets (http client, discovery, PII)."""
    msal_log = logging.getLogger("msal")
    if msal_log.level == logging.NOTSET:
        msal_log.setLevel(logging.WARNING)
    options: dict[str, Any] = {
        "http_client": LoginHttp(authority),
        "enable_pii_log": False,
        "token_cache": msal.TokenCache(),
    }
    if authority.explicit:
        options["instance_discovery"] = False
    return options


def forget_access_tokens(cache: msal.TokenCache) -> None:
    """Drop every access token from an MSAL cache, so the next acquire asks the server."""
    kind = msal.TokenCache.CredentialType.ACCESS_TOKEN
    for item in list(cache.search(kind)):
        cache.remove_at(item)


def msal_app(
    authority: Authority,
    tenant: str,
    client_id: str,
    credential: object | None = None,
    cache: msal.TokenCache | None = None,
) -> msal.ClientApplication:
    """An MSAL application with pcbatch's options: public without a credential, else confidential.

    cache: the token cache to use (default: a new, empty one).
    """
    options = msal_options(authority)
    if cache is not None:
        options["token_cache"] = cache
    url = authority.url(tenant)
    if credential is None:
        return msal.PublicClientApplication(client_id, authority=url, **options)
    return msal.ConfidentialClientApplication(
        client_id, client_credential=credential, authority=url, **options
    )


class MsalFetch:
    """A fetch for auth.RenewingToken over one MSAL application, made on the first fetch.

    Subclasses give `_fetch`; a call runs it through call_msal. Its repr holds `what` only.
    """

    def __init__(
        self,
        authority: Authority,
        tenant: str,
        client_id: str,
        what: str,
        credential: object | None = None,
        cache: msal.TokenCache | None = None,
    ) -> None:
        self._authority = authority
        self._tenant = tenant
        self._client_id = client_id
        self._credential = credential
        self._cache = cache
        self.what = what
        self._app: msal.ClientApplication | None = None

    @property
    def app(self) -> msal.ClientApplication:
        """The MSAL application, made now if it is not yet (it may ask the login server)."""
        if self._app is None:
            self._app = msal_app(
                self._authority, self._tenant, self._client_id, self._credential, self._cache
            )
        return self._app

    def __call__(self) -> Grant:
        return call_msal(self._authority, self._fetch)

    def _fetch(self) -> Grant:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.what})"


class AppOnly(MsalFetch):
    """Fetches app-only tokens (client credentials) with a secret or a certificate."""

    def _fetch(self) -> Grant:
        forget_access_tokens(self.app.token_cache)
        return grant_of(self.app.acquire_token_for_client([SCOPE_APP]))


class AppUser(MsalFetch):
    """Fetches app+user tokens with a refresh token (public client, or confidential with one)."""

    def __init__(
        self,
        authority: Authority,
        tenant: str,
        client_id: str,
        refresh_token: str,
        credential: object | None,
        what: str,
    ) -> None:
        super().__init__(authority, tenant, client_id, what, credential)
        self._refresh_token = refresh_token

    def _fetch(self) -> Grant:
        result = self.app.acquire_token_by_refresh_token(self._refresh_token, [SCOPE_USER])
        grant = grant_of(result)
        # Entra answers a new refresh token with each use: carry on with the newest one.
        self._refresh_token = str(result.get("refresh_token") or self._refresh_token)
        return grant


def certificate_credential(path_text: str, password: str | None) -> dict[str, str]:
    """MSAL's certificate credential from a PEM file holding a certificate and its private key.

    Raises ConfigError naming the file and what is wrong with it (never the key).
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    path = Path(path_text).expanduser()
    where = f"PC_CLIENT_CERTIFICATE_PATH {path}"
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read it ({exc.strerror or exc})") from None
    try:
        certificate = x509.load_pem_x509_certificate(data)
    except ValueError:
        raise ConfigError(
            f"{where} holds no PEM certificate (-----BEGIN CERTIFICATE-----); from a .pfx: "
            "openssl pkcs12 -in app.pfx -out app.pem -nodes"
        ) from None
    match = _PRIVATE_KEY.search(data)
    if match is None:
        raise ConfigError(
            f"{where} holds no private key (-----BEGIN PRIVATE KEY-----): the file must hold "
            "the certificate and its private key"
        )
    try:
        key = serialization.load_pem_private_key(
            match.group(0), password.encode() if password else None
        )
    except TypeError:  # encrypted without a password, or a password for a plain key
        state = "is encrypted: set" if not password else "is not encrypted: unset"
        raise ConfigError(f"the private key in {where} {state} {CERT_PASSWORD}") from None
    except ValueError:
        raise ConfigError(
            f"the private key in {where} cannot be read (is {CERT_PASSWORD} right?)"
        ) from None
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(*spki) != certificate.public_key().public_bytes(*spki):
        raise ConfigError(f"the private key in {where} does not belong to its certificate")
    if certificate.not_valid_after_utc <= datetime.now(UTC):
        raise ConfigError(
            f"the certificate in {where} expired on {certificate.not_valid_after_utc:%Y-%m-%d}"
        )
    credential = {
        "private_key": match.group(0).decode("ascii"),
        # x5t: the SHA-1 thumbprint, as Entra's app registration lists the certificate.
        "thumbprint": certificate.fingerprint(hashes.SHA1()).hex().upper(),
    }
    if password:
        credential["passphrase"] = password
    return credential


def app_provider(env: Mapping[str, str], cloud: str) -> RenewingToken:
    """The provider for the app-only or app+user set in `env` (batch.wire.auth says which is used).

    Nothing is sent yet; a certificate file is read and checked now.
    """
    tenant = env.get("PC_TENANT_ID", "").strip()
    client_id = env.get("PC_CLIENT_ID", "").strip()
    secret = env.get("PC_CLIENT_SECRET", "").strip()
    certificate = env.get("PC_CLIENT_CERTIFICATE_PATH", "").strip()
    if secret and certificate:
        raise ConfigError(
            "both PC_CLIENT_SECRET and PC_CLIENT_CERTIFICATE_PATH are set: set only one"
        )
    authority = resolve_authority(env, cloud)
    credential: object | None = None
    variable = ""
    if secret:
        credential, variable = secret, "PC_CLIENT_SECRET"
    elif certificate:
        password = env.get(CERT_PASSWORD) or None
        credential = certificate_credential(certificate, password)
        variable = "PC_CLIENT_CERTIFICATE_PATH"
    where = f"tenant {tenant}, client id {client_id}, at {authority.loopback or authority.root}"
    refresh_token = env.get("PC_REFRESH_TOKEN", "").strip()
    if refresh_token:
        names = "PC_REFRESH_TOKEN" + (f" + {variable}" if variable else "")
        what = f"app+user credentials ({names}; {where})"
        fetch: Callable[[], Grant] = AppUser(
            authority, tenant, client_id, refresh_token, credential, what
        )
    else:
        what = f"app-only credentials ({variable}; {where})"
        fetch = AppOnly(authority, tenant, client_id, what, credential)
    return RenewingToken(fetch, what)
