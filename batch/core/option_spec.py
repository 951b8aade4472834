"""How an option of `pcbatch run` is declared: kind, bounds, default, help and error text.

`RunOptions` (batch/core/options.py) declares each of its options with `option(...)`; that one
declaration is the only place where an option's type, bounds and default are written. From it
are made:
- the click options of `pcbatch run` (batch/cli/run.py), their types, defaults and help;
- the checks of a job file's keys (batch/cli/jobfile.py, `OptionSpec.from_toml`), whose errors say
  what is expected in TOML terms ("a whole number at least 1");
- RunOptions' own checks (`OptionSpec.allows`), whose errors name the command-line option and
  what it wants ("--rate 0 is not valid: use a number of requests/s above 0").

Pure: no I/O.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from typing import Any

_SPEC = "option_spec"  # the key of a dataclass field's metadata holding its OptionSpec


class Kind(StrEnum):
    """What sort of value an option takes."""

    PATH = "path"
    TEXT = "text"
    CHOICE = "choice"
    INT = "int"
    FLOAT = "float"
    FLAG = "flag"
    NAMES = "names"  # repeatable text: `--ignore-column A --ignore-column B`, a TOML list
    COLUMN_MAP = "column_map"  # repeatable `--map "COLUMN=FIELD"`, a TOML table


@dataclass(frozen=True, slots=True)
class OptionSpec:
    """One option of `pcbatch run`; every option is also a job-file key.

    name: the RunOptions field and the job-file key (`max_duration`; `max-duration` works too).
    kind: the sort of value; `default`: its value when neither a flag nor a job file sets it
      (None: not set, e.g. no --limit).
    help: its line in `pcbatch run --help` (for an option without a flag: what it is for).
    wanted: what RunOptions' error asks for ("a number of requests/s above 0"). None: RunOptions
      takes the value as given and the code using it checks it (base URL, sheet, paths, flags).
    low, low_open, high: the bounds of a number: low < x when low_open, else low <= x; x <= high.
    choices: the values of a CHOICE.
    flag: it is an option of the command line (`--max-duration`). False for the keys only a job
      file sets (backoff_*) and for `input`, the INPUT argument.
    negatable: a FLAG that also has `--no-<flag>` (to override a job file's `true`).
    directory: a PATH that names a directory (the command line refuses a file there).
    default_text: the default as --help shows it, where that is not the value ("the first").
    toml_key: the job file's name for it, where that is not `name` (`[columns]` for column_map).
    metavar: how --help shows its value (`"COLUMN=FIELD"`).
    flag_text: the flag, where it is not the name with `-` for `_` (`--map` for column_map).
    For NAMES and COLUMN_MAP, `choices` (if any) are the values a name or a field may take, and
    a command line adds to a job file's values instead of replacing them (`combine`).
    """

    name: str
    kind: Kind
    default: object
    help: str
    wanted: str | None = None
    low: float | None = None
    low_open: bool = False
    high: float | None = None
    choices: tuple[str, ...] = ()
    flag: bool = True
    negatable: bool = False
    directory: bool = False
    default_text: str | None = None
    toml_key: str | None = None
    metavar: str | None = None
    flag_text: str | None = None

    @property
    def key(self) -> str:
        """Its key in a job file."""
        return self.toml_key or self.name

    @property
    def repeatable(self) -> bool:
        """True for the options a command line may give several times."""
        return self.kind in (Kind.NAMES, Kind.COLUMN_MAP)

    @property
    def flag_name(self) -> str:
        """`--max-duration` for max_duration (`flag_text` where given)."""
        return self.flag_text or "--" + self.name.replace("_", "-")

    @property
    def label(self) -> str:
        """The option as errors name it: its flag, or its key when it has none."""
        return self.flag_name if self.flag else self.name

    @property
    def expected(self) -> str:
        """What a job file must give, as its error says: "a number greater than 0"."""
        if self.kind is Kind.PATH:
            return "a path, as a string"
        if self.kind is Kind.TEXT:
            return "a non-empty string"
        if self.kind is Kind.CHOICE:
            return "one of " + ", ".join(f'"{choice}"' for choice in self.choices)
        if self.kind is Kind.FLAG:
            return "true or false"
        if self.kind is Kind.NAMES:
            return "a list of non-empty strings"
        if self.kind is Kind.COLUMN_MAP:
            fields_ = f", each field one of {', '.join(self.choices)}" if self.choices else ""
            return f'a table of "Column header" = "field"{fields_}'
        bounds = []
        if self.low is not None:
            bounds.append(f"{'greater than' if self.low_open else 'at least'} {self.low:g}")
        if self.high is not None:
            bounds.append(f"at most {self.high:g}")
        what = "a whole number" if self.kind is Kind.INT else "a number"
        return " ".join([what, " and ".join(bounds)]) if bounds else what

    def allows(self, value: object) -> bool:
        """True when `value` is of this option's kind and within its bounds.

        None is allowed where it is the default (not set). A bool is not a number (Python
        counts True as 1; `rate = true` is a mistake); inf and nan are not numbers here.
        """
        if value is None:
            return self.default is None
        if self.kind is Kind.FLAG:
            return isinstance(value, bool)
        if self.kind is Kind.PATH:
            return isinstance(value, Path) or (isinstance(value, str) and value.strip() != "")
        if self.kind is Kind.TEXT:
            return isinstance(value, str) and value.strip() != ""
        if self.kind is Kind.CHOICE:
            return value in self.choices
        if self.kind is Kind.NAMES:
            return isinstance(value, tuple) and all(_text(v) for v in value)
        if self.kind is Kind.COLUMN_MAP:
            return isinstance(value, tuple) and all(
                isinstance(pair, tuple)
                and len(pair) == 2
                and _text(pair[0])
                and (pair[1] in self.choices if self.choices else _text(pair[1]))
                for pair in value
            )
        number = int if self.kind is Kind.INT else int | float
        if isinstance(value, bool) or not isinstance(value, number):
            return False
        assert isinstance(value, int | float)
        if not math.isfinite(value):
            return False
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        return self.high is None or value <= self.high

    def from_toml(self, value: object) -> object:
        """The value a job file's `key = value` gives: a path as a Path, a whole number as a
        float where a number is wanted. Raises ValueError(expected) for anything not allowed."""
        if self.kind is Kind.PATH:
            value = Path(value) if isinstance(value, str) and value.strip() else None
        elif self.kind is Kind.FLOAT and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        elif self.kind is Kind.NAMES:
            value = tuple(value) if isinstance(value, list) else None
        elif self.kind is Kind.COLUMN_MAP:
            value = tuple(value.items()) if isinstance(value, dict) else None
        # TOML has no null, so None here is a path that was not a string.
        if value is None or not self.allows(value):
            raise ValueError(self.expected)
        return value

    def from_command_line(self, text: str) -> object:
        """One value given on the command line, as RunOptions holds it: for COLUMN_MAP,
        `"Klant nummer=customer_id"` -> ("Klant nummer", "customer_id") (split at the last `=`).
        Raises ValueError(what to write) when it cannot be read."""
        if self.kind is not Kind.COLUMN_MAP:
            return text
        column, sep, name = text.rpartition("=")
        if not sep or not column.strip() or not name.strip():
            raise ValueError(f'{self.flag_name} "{text}" is not valid: use "Column name=field"')
        return (column.strip(), name.strip())

    def combine(self, from_job: object, given: object) -> object:
        """The value when a job file and the command line both set it: the command line's,
        except that repeatable options add to the job file's (a column given both ways takes
        the command line's field)."""
        if self.kind is Kind.NAMES:
            assert isinstance(from_job, tuple) and isinstance(given, tuple)
            return tuple(dict.fromkeys((*from_job, *given)))
        if self.kind is Kind.COLUMN_MAP:
            assert isinstance(from_job, tuple) and isinstance(given, tuple)
            return tuple({**dict(from_job), **dict(given)}.items())
        return given


def _text(value: object) -> bool:
    return isinstance(value, str) and value.strip() != ""


def option(kind: Kind, default: object, help: str, **spec: Any) -> Any:
    """A RunOptions field with `default`, declaring its OptionSpec (named after the field).

    `spec` takes OptionSpec's other fields: wanted, low, low_open, high, choices, flag, ...
    The return type is Any so that `rate: float = option(...)` type-checks, as with `field()`.
    """
    partial = {"kind": kind, "default": default, "help": help, **spec}
    return field(default=default, metadata={_SPEC: partial})


def specs_of(cls: type) -> dict[str, OptionSpec]:
    """name -> OptionSpec of every field of dataclass `cls` declared with `option()`, in order."""
    return {
        declared.name: OptionSpec(name=declared.name, **declared.metadata[_SPEC])
        for declared in fields(cls)
        if _SPEC in declared.metadata
    }


_SECRET = re.compile(r"token|secret|passw|pwd|credential|certificate|privatekey|apikey|clientkey")
_NOT_SECRET = frozenset({"cleartoken"})  # the text that clears a field, not a credential


def is_secret_key(key: str) -> bool:
    """True for an option name that looks like a credential (`access_token`, `client-secret`).

    `clear_token` is not one: it is the cell text that clears a field.
    """
    flat = re.sub(r"[^0-9a-z]", "", key.casefold())
    return flat not in _NOT_SECRET and _SECRET.search(flat) is not None
