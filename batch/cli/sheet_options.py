"""The options that say how the sheet is read, shared by `run` and `validate`.

--map "COLUMN=FIELD" (repeatable), --ignore-column NAME (repeatable) and --include-hidden; a job
file gives the same as a `[columns]` table, `ignore_columns = [...]` and `include_hidden`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

import click

_F = TypeVar("_F", bound=Callable[..., object])


def sheet_reading_options(command: _F) -> _F:
    """Adds --map, --ignore-column and --include-hidden to a click command."""
    for option in reversed(
        (
            click.option(
                "--map",
                "column_map",
                multiple=True,
                metavar='"COLUMN=FIELD"',
                help="Read the column with this header as FIELD (customer_id, address_line1,"
                " house_number, ...); repeatable.",
            ),
            click.option(
                "--ignore-column",
                "ignore_columns",
                multiple=True,
                metavar="NAME",
                help="Leave the column with this header out: not sent, no warning; repeatable.",
            ),
            click.option(
                "--include-hidden",
                is_flag=True,
                help="Send rows hidden in the sheet (by a filter or by hand) too; without it"
                " they end `skipped`.",
            ),
        )
    ):
        command = option(command)
    return command


def merge_sheet_reading(
    job: Mapping[str, object], given: Mapping[str, object]
) -> dict[str, object]:
    """`given` with --map parsed into pairs and added to the job file's `[columns]` (the command
    line wins for a column), and --ignore-column added to the job file's list."""
    from batch.sheet import parse_column_map

    merged = dict(given)
    if "column_map" in given:
        entries = given["column_map"]
        assert isinstance(entries, tuple)
        column_map = dict(job.get("column_map", ()))  # type: ignore[arg-type]
        column_map.update(parse_column_map(entries))
        merged["column_map"] = tuple(column_map.items())
    if "ignore_columns" in given:
        ignore = given["ignore_columns"]
        assert isinstance(ignore, tuple)
        before = job.get("ignore_columns", ())
        assert isinstance(before, tuple)
        merged["ignore_columns"] = tuple(dict.fromkeys((*before, *ignore)))
    return merged
