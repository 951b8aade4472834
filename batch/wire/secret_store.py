"""An app's client secret in the operating system's credential store, through `keyring`.

Windows Credential Manager, the macOS Keychain, or the Secret Service (GNOME Keyring, KWallet)
on a Linux desktop: keyring picks the store; pcbatch keeps one entry, service SERVICE, user
name the variable it stands for (PC_CLIENT_SECRET). `pcbatch secret set` stores it (read from
a hidden prompt, never from argv); a run reads it when PCBATCH_SECRET=keyring and
PC_CLIENT_SECRET is not set (credentials.provider_from_env), so a scheduled job keeps no
secret in its environment or its files. Nothing here logs or echoes the secret.
"""

from __future__ import annotations

from batch.core.errors import ConfigError

SERVICE = "pcbatch"
SECRET_NAME = "PC_CLIENT_SECRET"
SOURCE_VARIABLE = "PCBATCH_SECRET"  # "keyring": the secret comes from the store


def _keyring() -> object:
    import keyring  # here: most runs never need it

    return keyring


def store_secret(value: str, name: str = SECRET_NAME) -> str:
    """Store `value` under `name`; returns the store's name (e.g. `WinVaultKeyring`)."""
    keyring = _keyring()
    try:
        keyring.set_password(SERVICE, name, value)  # type: ignore[attr-defined]
    except Exception as exc:  # keyring.errors.KeyringError and each backend's own
        raise ConfigError(_unusable(exc)) from None
    return type(keyring.get_keyring()).__name__  # type: ignore[attr-defined]


def read_secret(name: str = SECRET_NAME) -> str | None:
    """The stored secret, or None when none is stored."""
    try:
        return _keyring().get_password(SERVICE, name)  # type: ignore[attr-defined]
    except Exception as exc:
        raise ConfigError(_unusable(exc)) from None


def delete_secret(name: str = SECRET_NAME) -> bool:
    """Remove the stored secret; False when there was none."""
    keyring = _keyring()
    try:
        if keyring.get_password(SERVICE, name) is None:  # type: ignore[attr-defined]
            return False
        keyring.delete_password(SERVICE, name)  # type: ignore[attr-defined]
    except Exception as exc:
        raise ConfigError(_unusable(exc)) from None
    return True


def _unusable(exc: Exception) -> str:
    return (
        f"the system's credential store cannot be used ({type(exc).__name__}): on Windows "
        "run as the job's own user; on Linux a desktop session's Secret Service is needed"
    )
