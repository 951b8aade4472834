"""How an option of `pcbatch run` is declared: kind, bounds, default, help and error text.

`RunOptions` (batch/core/options.py) declares each of its options with `option(...)`; that one
declaration is the only place where an option's type, bounds and default are written. From it
are made:
- the click options of `pcbatch run` (batch/cli/run.py), their types, defaults and help;
- the checks of a job file's keys (batch/jobfile.py, `OptionSpec.from_toml`), whose errors say
  what is expected in TOML terms ("a whole number at least 1");
- RunOptions' own checks (`OptionSpec.allows`), whose errors name the command-line option and
  what it wants ("--rate 0 is not valid: use a number of requests/s above 0").

Pure: no I/O.
"""

from __future__ import annotations

import math
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

    @property
    def flag_name(self) -> str:
        """`--max-duration` for max_duration."""
        return "--" + self.name.replace("_", "-")

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
        # TOML has no null, so None here is a path that was not a string.
        if value is None or not self.allows(value):
            raise ValueError(self.expected)
        return value


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
