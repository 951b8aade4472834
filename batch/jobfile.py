"""Job files: `pcbatch run --job FILE.toml` reads run options from TOML; command-line flags win.

Rules:
- top-level keys only, named as the options of `run` with `_` or `-` (`max_duration`,
  `max-duration`); values typed as TOML types (`rate = 2.5`, `dry_run = true`); one table,
  `[columns]`, maps column headers to fields as `--map` does (`"Klantnr" = "customer_id"`);
- relative paths (`input`, `out`) are taken from the job file's folder, so a scheduler may start
  pcbatch from anywhere;
- credentials never come from a job file: a key that looks like one (token, secret, password,
  certificate, ...) is refused; they come from the environment (see README, "Credentials");
- anything else unknown or mistyped is a ConfigError naming the file, the key and what is allowed.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from collections.abc import Callable
from pathlib import Path

from batch.core.errors import ConfigError
from batch.core.options import CLOUDS, LOG_FORMATS

_SECRET = re.compile(r"token|secret|passw|pwd|credential|certificate|privatekey|apikey|clientkey")
_NOT_SECRET = frozenset({"cleartoken"})  # the text that clears a field, not a credential


def is_secret_key(key: str) -> bool:
    """True for an option name that looks like a credential (`access_token`, `client-secret`).

    `clear_token` is not one: it is the cell text that clears a field.
    """
    flat = re.sub(r"[^0-9a-z]", "", key.casefold())
    return flat not in _NOT_SECRET and _SECRET.search(flat) is not None


def _text(choices: tuple[str, ...] = ()) -> Callable[[object], object]:
    def check(value: object) -> object:
        if not isinstance(value, str) or not value.strip():
            raise ValueError("a non-empty string")
        if choices and value not in choices:
            raise ValueError("one of " + ", ".join(f'"{c}"' for c in choices))
        return value

    return check


def _number(
    kind: type, low: float, *, above: bool = False, high: float | None = None
) -> Callable[[object], object]:
    what = "a whole number" if kind is int else "a number"
    bound = f"greater than {low:g}" if above else f"at least {low:g}"
    bound += f" and at most {high:g}" if high is not None else ""

    def check(value: object) -> object:
        # bool is an int in Python, but `rate = true` is a mistake, not 1 request per second.
        ok = isinstance(value, int | float) if kind is float else isinstance(value, int)
        if isinstance(value, bool) or not ok:
            raise ValueError(f"{what} {bound}")
        assert isinstance(value, int | float)
        # TOML has inf and nan; neither is a rate, a timeout or a duration.
        bad = not math.isfinite(value) or value < low or (above and value == low)
        if bad or (high is not None and value > high):
            raise ValueError(f"{what} {bound}")
        return kind(value)

    return check


def _flag(value: object) -> object:
    if not isinstance(value, bool):
        raise ValueError("true or false")
    return value


def _path(value: object) -> object:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("a path, as a string")
    return Path(value)


def _column_map(value: object) -> object:
    from batch.core.fields import field_names

    names = field_names()
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and k.strip() and v in names for k, v in value.items()
    ):
        raise ValueError('a table of "Column header" = "field", a field one of ' + ", ".join(names))
    return tuple(value.items())


def _names(value: object) -> object:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError("a list of column headers")
    return tuple(value)


# Key -> checker returning the value to use; the keys are RunOptions' field names (all but
# `job`: a job file does not name another one).
KEYS: dict[str, Callable[[object], object]] = {
    "input": _path,
    "sheet": _text(),
    "base_url": _text(),
    "cloud": _text(tuple(CLOUDS)),
    "concurrency": _number(int, 1),
    "rate": _number(float, 0, above=True),
    "max_attempts": _number(int, 1),
    "timeout": _number(float, 0, above=True),
    "dry_run": _flag,
    "validate_addresses": _flag,
    "limit": _number(int, 0),
    "max_duration": _number(float, 0, above=True),
    "failure_budget": _number(float, 0, high=1),
    "out": _path,
    "clear_token": _text(),
    "resume": _flag,
    "log_format": _text(LOG_FORMATS),
    "quiet": _flag,
    "no_progress": _flag,
    "backoff_base": _number(float, 0),
    "backoff_cap": _number(float, 0),
    # How the sheet is read: `[columns]` ("Header" = "field"), the columns to leave out, and
    # whether hidden rows are sent.
    "column_map": _column_map,
    "ignore_columns": _names,
    "include_hidden": _flag,
}
_KEY_NAMES = {"columns": "column_map"}  # the job file's name -> the option's


def load_job(path: Path) -> dict[str, object]:
    """Read a job file into a dict of run options (only the keys it sets).

    Paths come back as Path, resolved against the job file's folder; numbers as int or float as
    the option wants. Raises ConfigError (exit 2) for a missing or malformed file, an unknown
    key, a wrong type or value, and any key that looks like a credential.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise ConfigError(f"job file {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"job file {path} cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"job file {path} is not valid TOML: {exc}") from None

    options: dict[str, object] = {}
    for key, value in data.items():
        name = key.replace("-", "_")
        name = _KEY_NAMES.get(name, name)
        if is_secret_key(name):
            raise ConfigError(
                f"job file {path}, key `{key}`: credentials are never read from a job file; "
                "set them in the environment (PC_ACCESS_TOKEN, or PC_TENANT_ID, PC_CLIENT_ID and "
                "PC_CLIENT_SECRET / PC_CLIENT_CERTIFICATE_PATH), or sign in with `pcbatch login`"
            )
        check = KEYS.get(name)
        if check is None:
            close = difflib.get_close_matches(name, KEYS, n=1)
            hint = f" (did you mean `{close[0]}`?)" if close else ""
            raise ConfigError(
                f"job file {path}, key `{key}` is not a run option{hint}; allowed keys: "
                + ", ".join(KEYS)
            )
        if name in options:
            raise ConfigError(f"job file {path}, key `{key}` is set twice (with `_` and `-`)")
        try:
            checked = check(value)
        except ValueError as exc:
            raise ConfigError(
                f"job file {path}, key `{key}`: {value!r} is not allowed; expected {exc}"
            ) from None
        if isinstance(checked, Path) and not checked.expanduser().is_absolute():
            checked = path.parent / checked
        options[name] = checked.expanduser() if isinstance(checked, Path) else checked
    return options
