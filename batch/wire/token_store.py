"""Where `pcbatch login` keeps its token cache: the platform's encrypted store, else a 0600 file.

Which store (choose_store, a pure decision; the choice is logged once per process):

    Windows   DPAPI: token_cache.bin in the config folder, encrypted for this Windows account
    macOS     the login Keychain (service `pcbatch`); token_cache.keychain marks that it is there
    Linux     libsecret (the Secret Service of the desktop session) when it answers here;
              token_cache.libsecret marks that it is there
    otherwise token_cache.json, 0600 in a 0700 folder (batch.wire.login.read_cache / write_cache):
              Linux without libsecret or without a session bus (servers, cron), other systems,
              or PCBATCH_TOKEN_CACHE=file (a scheduled job that cannot reach the keyring)

The encrypted stores come from msal-extensions (its persistence classes); each holds the same
JSON document the file does. A marker file says a store holds a sign-in, so a run that nobody
signed in for never asks the keyring. Nothing secret is logged.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)

Kind = Literal["dpapi", "keychain", "libsecret", "file"]
FORCE_VARIABLE = "PCBATCH_TOKEN_CACHE"  # "file": the plain file even where encryption exists
SERVICE = "pcbatch"
_MARKERS: dict[Kind, str] = {
    "dpapi": "token_cache.bin",  # the encrypted data itself
    "keychain": "token_cache.keychain",
    "libsecret": "token_cache.libsecret",
}
_DESCRIBED: dict[Kind, str] = {
    "dpapi": "{marker} (encrypted for your Windows account by DPAPI)",
    "keychain": "the macOS Keychain (service pcbatch)",
    "libsecret": "the Secret Service keyring through libsecret (service pcbatch)",
    "file": "{file} (readable by you only; no encrypted store here)",
}
_logged: set[str] = set()


def choose_store(platform: str, libsecret_usable: bool, forced: str = "") -> Kind:
    """The store for a platform (sys.platform), as the module's table says.

    libsecret_usable: whether libsecret answered a trial save and load (Linux only).
    forced: $PCBATCH_TOKEN_CACHE; "file" picks the plain file anywhere.
    """
    if forced.strip().lower() == "file":
        return "file"
    if platform.startswith("win"):
        return "dpapi"
    if platform == "darwin":
        return "keychain"
    if platform.startswith("linux") and libsecret_usable:
        return "libsecret"
    return "file"


def libsecret_usable() -> bool:
    """Whether libsecret works here: PyGObject, libsecret and a Secret Service that answers."""
    try:
        from msal_extensions.libsecret import trial_run

        trial_run()
    except Exception:  # any failure means "not here": ImportError, no D-Bus, a locked keyring
        return False
    return True


def store_kind(env: Mapping[str, str], platform: str = sys.platform) -> Kind:
    """The store this process uses (probing libsecret on Linux only), logged the first time."""
    forced = env.get(FORCE_VARIABLE, "")
    probe = platform.startswith("linux") and forced.strip().lower() != "file"
    kind = choose_store(platform, probe and libsecret_usable(), forced)
    if kind not in _logged:
        _logged.add(kind)
        if kind == "file":
            why = f"{FORCE_VARIABLE}=file" if forced else f"no encrypted store on {platform}"
            log.info("token cache: a file readable by you only (%s)", why)
        else:
            log.info("token cache: %s", kind)
    return kind


def marker(kind: Kind, folder: Path) -> Path:
    """The file that holds (DPAPI) or marks (Keychain, libsecret) an encrypted sign-in."""
    return folder / _MARKERS[kind]


def describe(kind: Kind, folder: Path, file: Path) -> str:
    """Where the token cache is, in words for `pcbatch login` and messages."""
    at = marker(kind, folder) if kind != "file" else file
    return _DESCRIBED[kind].format(marker=at, file=file)


def persistence(kind: Kind, folder: Path) -> object:
    """The msal-extensions persistence for an encrypted kind (its save, load)."""
    from msal_extensions import persistence as stores

    where = str(marker(kind, folder))
    if kind == "dpapi":
        return stores.FilePersistenceWithDataProtection(where)
    if kind == "keychain":
        return stores.KeychainPersistence(where, SERVICE, "token_cache")
    if kind == "libsecret":
        return stores.LibsecretPersistence(where, SERVICE, {"app": SERVICE})
    raise ValueError(f"{kind} is not an encrypted store")
