"""Click options made from RunOptions' option table (batch/core/option_spec.py).

`table_options()` gives a command every option of `run`, in the table's order; with names, only
those (`validate` takes the ones that say how the sheet is read, `export` those that say how to
call the service). Each one's type, bounds, default and help come from the table alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from batch.core.option_spec import Kind, OptionSpec
from batch.core.options import RUN_OPTIONS

_Command = TypeVar("_Command", bound=Callable[..., Any])

# Not a RunOptions field: a deliberate, one-off choice, never read from a job file.
FORCE = click.option(
    "--force",
    is_flag=True,
    help="With --resume: continue although INPUT changed since the run started (the rows "
    "as the journal holds them are sent).",
)

# The options that say how a sheet is read: `run`, `validate` and `export --customers` share them.
SHEET_READING = (
    "sheet",
    "clear_token",
    "column_map",
    "ignore_columns",
    "include_hidden",
    "encoding",
    "header_row",
)

# How a command calls the service: where, how fast, how many tries (`plan` and `apply`).
CALLING = (
    "base_url",
    "cloud",
    "concurrency",
    "fixed_concurrency",
    "rate",
    "max_attempts",
    "timeout",
)
# A run's own: when it stops, where its journal goes, how it speaks (`plan` and `apply`).
RUN_OWN = ("max_duration", "failure_budget", "out", "resume", "log_format", "quiet", "no_progress")


class _FromTable(click.ParamType):
    """A value read by the spec itself (`--map "COLUMN=FIELD"` -> a pair)."""

    def __init__(self, spec: OptionSpec) -> None:
        self.spec = spec
        self.name = spec.metavar or spec.kind.value

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return self.spec.from_command_line(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def _click_type(spec: OptionSpec) -> click.ParamType:
    """The click type that takes what `spec` allows (RunOptions checks again: inf, nan)."""
    if spec.kind is Kind.INT:
        return click.IntRange(min=spec.low, min_open=spec.low_open, max=spec.high)
    if spec.kind is Kind.FLOAT:
        return click.FloatRange(min=spec.low, min_open=spec.low_open, max=spec.high)
    if spec.kind is Kind.CHOICE:
        return click.Choice(spec.choices)
    if spec.kind is Kind.PATH:
        return click.Path(file_okay=not spec.directory, path_type=Path)
    if spec.kind is Kind.COLUMN_MAP:
        return _FromTable(spec)
    return click.STRING


def click_option(spec: OptionSpec) -> Callable[[_Command], _Command]:
    """The click option that sets RunOptions' field `spec.name`."""
    flag = f"{spec.flag_name}/--no-{spec.flag_name[2:]}" if spec.negatable else spec.flag_name
    shown = f"  [default: {spec.default_text}]" if spec.default_text else ""
    if spec.kind is Kind.FLAG:
        return click.option(flag, spec.name, is_flag=True, default=spec.default, help=spec.help)
    if spec.repeatable:
        return click.option(
            flag,
            spec.name,
            type=_click_type(spec),
            multiple=True,
            default=spec.default,
            metavar=spec.metavar,
            help=spec.help,
        )
    return click.option(
        flag,
        spec.name,
        type=_click_type(spec),
        default=spec.default,
        show_default=spec.default is not None,
        metavar=spec.metavar,
        help=spec.help + shown,
    )


def table_options(names: Iterable[str] | None = None) -> Callable[[_Command], _Command]:
    """A decorator adding the options of the table named in `names` (default: all of `run`'s,
    with --force right after --resume, which it qualifies), in the table's order."""
    wanted = None if names is None else set(names)
    unknown = set() if wanted is None else wanted - set(RUN_OPTIONS)
    assert not unknown, f"not in the option table: {unknown}"

    def add_all(command: _Command) -> _Command:
        made = []
        for spec in RUN_OPTIONS.values():
            if spec.flag and (wanted is None or spec.name in wanted):
                made.append(click_option(spec))
            if spec.name == "resume" and wanted is None:
                made.append(FORCE)
        for add in reversed(made):  # a decorator list applies bottom-up
            command = add(command)
        return command

    return add_all


def given_on_command_line(ctx: click.Context, flags: Mapping[str, object]) -> dict[str, object]:
    """The options of `flags` the command line gave (not their defaults): what a job file's
    values and RunOptions' defaults give way to."""
    return {
        name: value
        for name, value in flags.items()
        if ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE
    }
