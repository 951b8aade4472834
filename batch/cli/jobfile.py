"""Job files: `pcbatch run --job FILE.toml` reads run options from TOML; command-line flags win.

Rules:
- top-level keys only, named as the options of `run` with `_` or `-` (`max_duration`,
  `max-duration`); values typed as TOML types (`rate = 2.5`, `dry_run = true`). The keys, their
  kinds and bounds are RunOptions' option table (batch/core/options.py, RUN_OPTIONS), the same
  one the flags of `run` are made from; `job` and `force` are not keys. One table, `[columns]`,
  maps column headers to fields as `--map` does (`"Klantnr" = "customer_id"`);
- relative paths (`input`, `out`) are taken from the job file's folder, so a scheduler may start
  pcbatch from anywhere; `\\` separates folders on every system, as `/` does, so one job file
  (`out = 'reports\\nightly'`) means the same folders on Windows and on Linux or macOS (a
  file name with a backslash in it cannot be named in a job file);
- credentials never come from a job file: a key that looks like one (token, secret, password,
  certificate, ...) is refused; they come from the environment (see README, "Credentials");
- anything else unknown or mistyped is a ConfigError naming the file, the key and what is allowed;
- a job file decides where the tokens go (`base_url`, `cloud`): like ssh with its config, pcbatch
  refuses one that another user owns or that group or others may write (POSIX), and one over
  MAX_JOB_BYTES or nested too deep for the TOML parser.
"""

from __future__ import annotations

import difflib
import os
import stat
import tomllib
from pathlib import Path, PureWindowsPath

from batch.core.errors import ConfigError
from batch.core.option_spec import is_secret_key
from batch.core.options import RUN_OPTIONS

# job-file key -> the option it sets (`columns` is column_map; every other key is its name)
_BY_KEY = {spec.key: spec for spec in RUN_OPTIONS.values()}
MAX_JOB_BYTES = 1 << 20  # 1 MiB: a job file is a few dozen lines


def load_job(path: Path) -> dict[str, object]:
    """Read a job file into a dict of run options (only the keys it sets).

    Paths come back as Path, resolved against the job file's folder; numbers as int or float as
    the option wants. Raises ConfigError (exit 2) for a missing or malformed file, an unknown
    key, a wrong type or value, and any key that looks like a credential.
    """
    path = Path(path)
    try:
        with path.open("rb") as f:
            _check_private(path, os.fstat(f.fileno()))
            raw = f.read(MAX_JOB_BYTES + 1)
        if len(raw) > MAX_JOB_BYTES:
            raise ConfigError(f"job file {path} is over {MAX_JOB_BYTES >> 20} MiB: not a job file")
        data = tomllib.loads(raw.decode("utf-8-sig"))
    except FileNotFoundError:
        raise ConfigError(f"job file {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"job file {path} cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"job file {path} is not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"job file {path} is nested too deep to be a job file") from None

    options: dict[str, object] = {}
    for key, value in data.items():
        name = key.replace("-", "_")
        if is_secret_key(name):
            raise ConfigError(
                f"job file {path}, key `{key}`: credentials are never read from a job file; "
                "set them in the environment (PC_ACCESS_TOKEN, or PC_TENANT_ID, PC_CLIENT_ID and "
                "PC_CLIENT_SECRET / PC_CLIENT_CERTIFICATE_PATH), or sign in with `pcbatch login`"
            )
        spec = _BY_KEY.get(name)
        if spec is None:
            close = difflib.get_close_matches(name, _BY_KEY, n=1)
            hint = f" (did you mean `{close[0]}`?)" if close else ""
            raise ConfigError(
                f"job file {path}, key `{key}` is not a run option{hint}; allowed keys: "
                + ", ".join(_BY_KEY)
            )
        name = spec.name
        if name in options:
            raise ConfigError(f"job file {path}, key `{key}` is set twice (with `_` and `-`)")
        try:
            checked = spec.from_toml(value)
        except ValueError as exc:
            raise ConfigError(
                f"job file {path}, key `{key}`: {value!r} is not allowed; expected {exc}"
            ) from None
        if isinstance(checked, Path):
            checked = _same_on_every_system(checked)
            if not checked.expanduser().is_absolute():
                checked = path.parent / checked
        options[name] = checked.expanduser() if isinstance(checked, Path) else checked
    return options


def _check_private(path: Path, info: os.stat_result) -> None:
    """Refuse a job file another user owns or may write to (POSIX; as ssh refuses its config)."""
    if os.name != "posix":
        return
    if info.st_uid != os.geteuid():
        raise ConfigError(
            f"job file {path} belongs to another user (uid {info.st_uid}): it decides where "
            "the tokens go, so pcbatch reads only a job file of your own; copy it and check it"
        )
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise ConfigError(
            f"job file {path} may be written by other users (mode "
            f"{stat.S_IMODE(info.st_mode):o}): it decides where the tokens go; "
            f"`chmod go-w {path}`, then run again"
        )


def _same_on_every_system(path: Path) -> Path:
    """A job file's path with `\\` read as a folder separator, as Windows reads it, on every
    system (on Windows Path does so already)."""
    text = str(path)
    return Path(PureWindowsPath(text).as_posix()) if "\\" in text else path
