"""Where a run's credentials come from: the credential sets of the environment.

Credential sets (README.md, "Credentials"; environment only, never flags), first match wins:

    PC_ACCESS_TOKEN                               a bearer token used as it is (StaticToken)
    PC_TENANT_ID PC_CLIENT_ID PC_REFRESH_TOKEN    app+user: refresh-token grant; a public client,
      (+ PC_CLIENT_SECRET or ..._CERTIFICATE_PATH)  or a confidential one with its credential
    PC_TENANT_ID PC_CLIENT_ID PC_CLIENT_SECRET    app-only: client credentials with a secret
    PC_TENANT_ID PC_CLIENT_ID PC_CLIENT_CERTIFICATE_PATH
                                                  app-only with a certificate: a PEM file with
                                                  the certificate and its private key (the key's
                                                  password, if any: PC_CLIENT_CERTIFICATE_PASSWORD)
    the token cache of `pcbatch login`            app+user for a person (batch.wire.login), when
                                                  no secret, certificate or refresh token is set

$PC_AUTHORITY replaces the cloud's login host (authority.resolve_authority). A set that is
incomplete, or no set at all, is a ConfigError naming the variables (never their values).

Where they may go (core.destinations): a real app's credentials (a GUID client id, never the
stand-in's `pcbatch-sim-client`) or a real sign-in's token never go to a loopback stand-in: a
stand-in's PC_AUTHORITY or PC_BASE_URL (or --base-url) with them is a ConfigError (exit 2)
before anything is sent, naming what to unset.

Each set makes a provider of auth.py (StaticToken) or of auth_msal.py and login.py (MSAL's
flows, imported only when a set needs them: msal is not loaded for a static token).
"""

from __future__ import annotations

from collections.abc import Mapping

from batch.core.destinations import (
    STAND_IN_CLIENT_ID,
    is_real_app,
    is_real_token,
    refuse_real_credentials_on_stand_in,
)
from batch.core.errors import ConfigError
from batch.core.options import resolve_base_url
from batch.wire.auth import StaticToken, TokenProvider

ACCESS_TOKEN = "PC_ACCESS_TOKEN"
APP_ONLY = ("PC_TENANT_ID", "PC_CLIENT_ID", "PC_CLIENT_SECRET")
APP_ONLY_CERT = ("PC_TENANT_ID", "PC_CLIENT_ID", "PC_CLIENT_CERTIFICATE_PATH")
APP_USER = ("PC_TENANT_ID", "PC_CLIENT_ID", "PC_REFRESH_TOKEN")
_APP_CREDENTIALS = ("PC_CLIENT_SECRET", "PC_CLIENT_CERTIFICATE_PATH", "PC_REFRESH_TOKEN")
_ALL = (ACCESS_TOKEN, "PC_TENANT_ID", "PC_CLIENT_ID", *_APP_CREDENTIALS)


def provider_from_env(
    env: Mapping[str, str], cloud: str, base_url: str | None = None
) -> TokenProvider:
    """The provider for the credentials in `env` (for the cloud's authority); no request yet.

    base_url: where the tokens will be sent (options.resolve_base_url's answer); None: the one
    of $PC_BASE_URL or the cloud.
    The `pcbatch login` cache is used when no app credential (secret, certificate, refresh
    token) is set; PC_TENANT_ID and PC_CLIENT_ID alone do not stop it.
    Raises ConfigError naming the variables when no credential set is complete, and when real
    credentials would go to a stand-in on loopback (see the module).
    """
    env = _with_stored_secret(env)
    destination = Destination.of(env, cloud, base_url)
    token = env.get(ACCESS_TOKEN, "").strip()
    if token:
        real = is_real_token(token)
        destination.check(f"the token in {ACCESS_TOKEN} is a real sign-in's" if real else None)
        return StaticToken(token)
    present = {name for name in _ALL if env.get(name, "").strip()}
    if any(set(names) <= present for names in (APP_ONLY, APP_ONLY_CERT, APP_USER)):
        from batch.wire.auth_msal import app_provider  # msal is imported only when it is needed

        client_id = env.get("PC_CLIENT_ID", "").strip()
        destination.check(real_app(client_id, "PC_CLIENT_ID"), env.get("PC_AUTHORITY"))
        return app_provider(env, cloud)
    # PC_TENANT_ID / PC_CLIENT_ID alone are `pcbatch login`'s defaults; a secret, certificate
    # or refresh token means app credentials were meant, so the cache must not stand in.
    if not present & set(_APP_CREDENTIALS):
        from batch.wire.login import cached_provider

        cached = cached_provider(env, cloud, destination.check)
        if cached is not None:
            return cached
    found = f" (found only {', '.join(sorted(present))}{_missing(present)})" if present else ""
    raise ConfigError(
        f"no complete set of credentials in the environment{found}; set {ACCESS_TOKEN}, or "
        f"{', '.join(APP_ONLY)} (or PC_CLIENT_CERTIFICATE_PATH instead of the secret) for "
        f"app-only, or {', '.join(APP_USER)} for app+user, or sign in once with `pcbatch login`"
    )


def _with_stored_secret(env: Mapping[str, str]) -> Mapping[str, str]:
    """env with PC_CLIENT_SECRET from the credential store when PCBATCH_SECRET=keyring asks for
    it (secret_store) and the variable is not set; else env as it is."""
    from batch.wire.secret_store import SECRET_NAME, SOURCE_VARIABLE, read_secret

    if env.get(SOURCE_VARIABLE, "").strip().lower() != "keyring" or env.get(SECRET_NAME):
        return env
    stored = read_secret()
    if not stored:
        raise ConfigError(
            f"{SOURCE_VARIABLE}=keyring, but no {SECRET_NAME} is stored in the system's "
            "credential store for this user: store it with `pcbatch secret set`"
        )
    return {**env, SECRET_NAME: stored}


def real_app(client_id: str, where: str) -> str | None:
    """`PC_CLIENT_ID is a real app's...` for a real app's client id (a GUID); else None."""
    if not is_real_app(client_id):
        return None
    return f"{where} is a real app's, not the stand-in's {STAND_IN_CLIENT_ID}"


class Destination:
    """Where a run's tokens go (its base URL, and which option or variable named it)."""

    __slots__ = ("url", "where")

    def __init__(self, url: str, where: str) -> None:
        self.url = url
        self.where = where

    @classmethod
    def of(cls, env: Mapping[str, str], cloud: str, base_url: str | None) -> Destination:
        """The destination for base_url (None: $PC_BASE_URL's, or the cloud's)."""
        given = env.get("PC_BASE_URL", "").strip().rstrip("/")
        if base_url is None:
            base_url = resolve_base_url(None, env, cloud)
        if given and base_url == given:
            return cls(base_url, "PC_BASE_URL")
        return cls(base_url, "--base-url (or `base_url` in the job file)")

    def check(self, real: str | None, authority: str | None = None) -> None:
        """Raise ConfigError when real credentials (`real` says which; None: the stand-in's)
        would go to a stand-in: at the base URL, or at `authority` ($PC_AUTHORITY)."""
        if authority and authority.strip():
            refuse_real_credentials_on_stand_in(real, authority.strip(), "PC_AUTHORITY")
        refuse_real_credentials_on_stand_in(real, self.url, self.where)


def credential_source(env: Mapping[str, str]) -> str:
    """Where provider_from_env takes the run's credentials from, in words for a message."""
    if env.get(ACCESS_TOKEN, "").strip():
        return f"the token in {ACCESS_TOKEN}"
    present = {name for name in _ALL if env.get(name, "").strip()}
    for names, flow in (
        (APP_ONLY, "app-only"),
        (APP_ONLY_CERT, "app-only"),
        (APP_USER, "app+user"),
    ):
        if set(names) <= present:
            return f"the {flow} credentials in {', '.join(names)}"
    return "the `pcbatch login` token cache (sign in again with `pcbatch login`)"


def _missing(present: set[str]) -> str:
    """`; missing X for app-only` for the set that lacks the fewest variables."""
    sets = {"app-only": APP_ONLY, "app+user": APP_USER}
    if "PC_CLIENT_CERTIFICATE_PATH" in present:
        sets["app-only"] = APP_ONLY_CERT
    flow, names = min(sets.items(), key=lambda item: len(set(item[1]) - present))
    lacking = [name for name in names if name not in present]
    return f"; missing {', '.join(lacking)} for {flow}"
