"""`pcbatch login` / `logout`: a person's device-code sign-in, kept in a token cache.

The cache goes to the platform's encrypted store where there is one (DPAPI on Windows, the
Keychain on macOS, libsecret on Linux when it answers: batch.wire.token_store says which and how it
chooses), else to a file. The file is `$XDG_CONFIG_HOME/pcbatch/token_cache.json`, else
`~/.config/pcbatch/token_cache.json` (`%APPDATA%\\pcbatch\\token_cache.json` on Windows). It
holds a refresh token, which stays good for weeks, so: its folder is made 0700, the file is
written 0600 under a temporary name and then renamed, and a file that someone else owns or may
read is refused, never used (as ssh does).

Its JSON: `{"version": 1, "client_id", "tenant", "cloud", "authority" ($PC_AUTHORITY at sign-in,
or null for the cloud's), "username", "msal": <MSAL's SerializableTokenCache text>}`.

A run that finds no credential variable uses it (cached_provider): each renewal is MSAL's
`acquire_token_silent(force_refresh=True)` with the refresh token, under the same rules as every
provider (auth.RenewingToken); the file is written again whenever MSAL rotates the refresh token.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import msal

from batch.core.destinations import is_real_app, refuse_real_credentials_on_stand_in
from batch.core.echo import redact_urls
from batch.core.errors import AuthFailed, ConfigError
from batch.durable.files import atomic_write, private_dir
from batch.wire.auth import Grant, RenewingToken, SignInError
from batch.wire.auth_msal import SCOPE_USER, MsalFetch, call_msal, grant_of, msal_app
from batch.wire.authority import Authority
from batch.wire.authority import resolve_authority as _resolve
from batch.wire.token_store import describe, marker, persistence, store_kind

log = logging.getLogger(__name__)

CACHE_NAME = "token_cache.json"
VERSION = 1


def config_dir(env: Mapping[str, str]) -> Path:
    """pcbatch's folder in the user's config dir: $XDG_CONFIG_HOME/pcbatch or ~/.config/pcbatch."""
    xdg = env.get("XDG_CONFIG_HOME", "").strip()
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "pcbatch"
    if os.name == "nt" and env.get("APPDATA"):
        return Path(env["APPDATA"]) / "pcbatch"
    home = env.get("HOME") or str(Path.home())
    return Path(home) / ".config" / "pcbatch"


def cache_path(env: Mapping[str, str]) -> Path:
    """Where `pcbatch login` keeps the token cache."""
    return config_dir(env) / CACHE_NAME


@dataclass(frozen=True, slots=True)
class Login:
    """Who signed in, where: what a later run needs besides MSAL's cache (nothing secret)."""

    client_id: str
    tenant: str
    cloud: str
    authority: str | None  # $PC_AUTHORITY at sign-in; None: the cloud's login host
    username: str | None

    def resolve(self) -> Authority:
        """The Authority the refresh token was issued by."""
        return _resolve({"PC_AUTHORITY": self.authority} if self.authority else {}, self.cloud)


def read_cache(path: Path) -> tuple[Login, str] | None:
    """(Login, MSAL cache text) from the file; None when there is none.

    Raises ConfigError for a file others may read or own, or one that cannot be used.
    """
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"the token cache {path} cannot be read ({exc.strerror})") from None
    if os.name == "posix" and (stat.st_mode & 0o077 or stat.st_uid != os.getuid()):
        raise ConfigError(
            f"the token cache {path} may be read by others (mode {stat.st_mode & 0o777:o}, owner "
            f"uid {stat.st_uid}) and holds a refresh token: it is not used. Remove it with "
            "`pcbatch logout` and sign in again with `pcbatch login`"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"the token cache {path} cannot be read ({exc.strerror})") from None
    return _parse(text, str(path))


def _parse(text: str, where: str) -> tuple[Login, str]:
    """(Login, MSAL cache text) from the cache's JSON document; ConfigError when unusable."""
    damaged = (
        f"the token cache {where} is damaged or from another version of pcbatch: remove it "
        "with `pcbatch logout` and sign in again with `pcbatch login`"
    )
    try:
        data = json.loads(text)
        login = Login(
            **{key: data[key] for key in ("client_id", "tenant", "cloud", "authority", "username")}
        )
        state = data["msal"]
    except (ValueError, KeyError, TypeError):
        raise ConfigError(damaged) from None
    if data.get("version") != VERSION or not isinstance(state, str):
        raise ConfigError(damaged)
    return login, state


def write_cache(path: Path, login: Login, state: str) -> None:
    """Write the file atomically, readable by its owner only (folder 0700, file 0600)."""
    private_dir(path.parent, option="XDG_CONFIG_HOME")
    with atomic_write(path) as file:
        file.write(_document(login, state))


def _document(login: Login, state: str) -> str:
    """The JSON document an encrypted store holds (the file's, see the module)."""
    return json.dumps({"version": VERSION, **asdict(login), "msal": state})


def cache_where(env: Mapping[str, str]) -> str:
    """Where the token cache is kept here, in words (a path, or the encrypted store)."""
    return describe(store_kind(env), config_dir(env), cache_path(env))


def load_cache(env: Mapping[str, str]) -> tuple[Login, str] | None:
    """(Login, MSAL cache text) from this platform's store; None when nobody signed in.

    Raises ConfigError for a cache that cannot be used (see read_cache).
    """
    kind = store_kind(env)
    if kind == "file":
        return read_cache(cache_path(env))
    folder = config_dir(env)
    if not marker(kind, folder).exists():
        return None
    where = cache_where(env)
    try:
        text = persistence(kind, folder).load()  # type: ignore[attr-defined]
    except Exception as exc:  # each store raises its own (OSError, KeychainError, GLib.Error)
        raise ConfigError(
            f"the token cache {where} cannot be read ({type(exc).__name__}): sign in again "
            "with `pcbatch login`, or set PCBATCH_TOKEN_CACHE=file to keep it in a file"
        ) from None
    return _parse(text, where) if text else None


def save_cache(env: Mapping[str, str], login: Login, state: str) -> None:
    """Store the sign-in in this platform's store (raises OSError when it cannot)."""
    kind = store_kind(env)
    if kind == "file":
        write_cache(cache_path(env), login, state)
        return
    folder = config_dir(env)
    private_dir(folder, option="XDG_CONFIG_HOME")
    try:
        persistence(kind, folder).save(_document(login, state))  # type: ignore[attr-defined]
    except OSError:
        raise
    except Exception as exc:  # a keyring's own error (KeychainError...): reported as an OSError
        raise OSError(f"{type(exc).__name__} from the encrypted store") from None
    if kind != "dpapi":  # DPAPI's file is the data; a keyring needs our marker beside it
        with atomic_write(marker(kind, folder)) as file:
            file.write("")


def sign_in(
    env: Mapping[str, str],
    *,
    cloud: str,
    tenant: str,
    client_id: str,
    show: Callable[[str], None],
) -> tuple[Login, str]:
    """Device-code sign-in for a person; stores the token cache. Returns who and where (words).

    show: called once with the text a person needs (the verification URL and the code).
    Blocks until the person signs in, the code expires (about 15 min), or Ctrl-C.
    Raises AuthFailed when the sign-in is refused or expires, ConfigError for bad options.
    """
    authority = _resolve(env, cloud)
    if is_real_app(client_id) and env.get("PC_AUTHORITY", "").strip():
        # A real app's person signs in at the stand-in: nothing is sent (core.destinations).
        real = f"the client id {client_id} is a real app's"
        refuse_real_credentials_on_stand_in(real, env["PC_AUTHORITY"].strip(), "PC_AUTHORITY")
    cache = msal.SerializableTokenCache()

    def step() -> tuple[Grant, str | None]:
        app = msal_app(authority, tenant, client_id, cache=cache)
        flow = app.initiate_device_flow(scopes=[SCOPE_USER])
        if "user_code" not in flow:
            grant_of(flow)  # raises SignInError with the server's reason
        show(
            flow.get("message")
            or f"To sign in, open {flow['verification_uri']} and enter the code "
            f"{flow['user_code']}."
        )
        grant = grant_of(app.acquire_token_by_device_flow(flow))
        accounts = app.get_accounts()
        return grant, (accounts[0].get("username") or None) if accounts else None

    try:
        _grant, username = call_msal(authority, step)
    except SignInError as exc:
        raise AuthFailed(f"sign-in failed: {exc}") from None
    given = env.get("PC_AUTHORITY", "").strip() or None
    login = Login(client_id, tenant, cloud, given, username)
    where = cache_where(env)
    try:
        save_cache(env, login, cache.serialize())
    except OSError as exc:
        raise ConfigError(
            f"signed in, but the token cache {where} cannot be written ({exc.strerror or exc}): "
            "set XDG_CONFIG_HOME to a folder of yours (or PCBATCH_TOKEN_CACHE=file) and run "
            "`pcbatch login` again"
        ) from None
    return login, where


def sign_out(env: Mapping[str, str]) -> Path | None:
    """Remove the token cache; the file removed (the cache, or its store's marker), else None."""
    kind = store_kind(env)
    path = cache_path(env) if kind == "file" else marker(kind, config_dir(env))
    if kind in ("keychain", "libsecret") and path.exists():
        persistence(kind, config_dir(env)).save("")  # type: ignore[attr-defined]
    try:
        path.unlink()
    except FileNotFoundError:
        return None
    return path


class CachedLogin(MsalFetch):
    """Fetches app+user tokens with the refresh token in the cache file, and keeps it current."""

    def __init__(self, env: Mapping[str, str], login: Login, state: str, what: str) -> None:
        cache = msal.SerializableTokenCache()
        cache.deserialize(state)
        super().__init__(login.resolve(), login.tenant, login.client_id, what, cache=cache)
        self._env = dict(env)
        self._where = cache_where(env)
        self._login = login
        self._token_cache = cache  # the same object MSAL writes to

    def _fetch(self) -> Grant:
        login = self._login
        app = self.app
        accounts = app.get_accounts(username=login.username) if login.username else []
        accounts = accounts or app.get_accounts()
        result = None
        if accounts:
            result = app.acquire_token_silent_with_error(
                [SCOPE_USER], account=accounts[0], force_refresh=True
            )
        if result is None:
            raise SignInError(
                f"the token cache {self._where} holds no usable sign-in: sign in again with "
                "`pcbatch login`"
            )
        grant = grant_of(result)
        if self._token_cache.has_state_changed:  # a new refresh token: keep it for the next run
            try:
                save_cache(self._env, login, self._token_cache.serialize())
            except OSError as exc:  # the token in hand is good: this run goes on regardless
                log.warning(
                    "could not save the renewed token cache %s (%s); a later run may need "
                    "`pcbatch login` again",
                    self._where,
                    exc.strerror or exc,
                )
        return grant


def cached_provider(
    env: Mapping[str, str],
    cloud: str,
    check: Callable[[str | None, str | None], None] | None = None,
) -> RenewingToken | None:
    """The provider over the `pcbatch login` cache, or None when there is no cache file.

    check: credentials.Destination.check, given what the sign-in is (None: the stand-in's app)
    and its authority: raises when a real sign-in's tokens would go to a stand-in.
    Raises ConfigError when the cache is unusable, or was made for another cloud or authority.
    """
    loaded = load_cache(env)
    if loaded is None:
        return None
    login, state = loaded
    if login.cloud != cloud:
        raise ConfigError(
            f"`pcbatch login` signed in to the {login.cloud} cloud, and this run is for {cloud}: "
            f"run `pcbatch login --cloud {cloud}`, or run with --cloud {login.cloud}"
        )
    given = env.get("PC_AUTHORITY", "").strip() or None
    if given is not None and not _same_host(_resolve(env, cloud), login.resolve()):
        raise ConfigError(
            f"`pcbatch login` signed in at {login.authority or 'the cloud login host'}, and "
            f"PC_AUTHORITY is {redact_urls(given)}: sign in again with `pcbatch login` under "
            "this PC_AUTHORITY"
        )
    if check is not None:
        real = is_real_app(login.client_id)
        check("the `pcbatch login` sign-in is a real app's" if real else None, login.authority)
    who = login.username or "the signed-in user"
    what = f"the `pcbatch login` token cache of {who} (tenant {login.tenant}, {cache_where(env)})"
    return RenewingToken(CachedLogin(env, login, state, what), what)


def _same_host(one: Authority, other: Authority) -> bool:
    """Whether two authorities reach the same login host (however each was given)."""
    return (one.root, one.loopback) == (other.root, other.loopback)
