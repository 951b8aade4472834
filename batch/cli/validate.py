"""`pcbatch validate`: every problem of a sheet, by row and column, before anything is sent."""

from __future__ import annotations

from pathlib import Path

import click

from batch.core.cells import CLEAR_TOKEN
from batch.core.echo import printable
from batch.core.model import Status

_VALUE_WIDTH = 24  # characters of a cell shown in the problem table; longer ones end in "…"


@click.command()
@click.argument("input_file", metavar="INPUT", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--sheet", help="Worksheet of an xlsx.  [default: the first]")
@click.option(
    "--clear-token",
    default=CLEAR_TOKEN,
    show_default=True,
    help="A cell with this text clears the field.",
)
@click.pass_context
def validate(ctx: click.Context, input_file: Path, sheet: str | None, clear_token: str) -> None:
    """Check INPUT offline and list every problem by row and column.

    Reads the sheet exactly as `pcbatch run` would, sends nothing and needs no credentials.
    Prints a table of the problems (row, column, value, what to do) and a count. Exit 0 when
    every row can be sent (identical duplicate rows are listed, and are not sent twice), 1 when
    some row is invalid, 2 when the file itself cannot be used.

    \b
    Example:
      pcbatch validate customers.xlsx
      pcbatch validate customers.xlsx --sheet "March updates" --clear-token CLEAR
    """
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from batch.sheet import load_sheet

    loaded = load_sheet(input_file, sheet, clear_token)
    _warn_unknown_headers(loaded.unknown_headers)
    where = f'{input_file} (sheet "{loaded.sheet_name}")' if loaded.sheet_name else f"{input_file}"
    invalid = [r for r in loaded.not_sent if r.status is Status.INVALID]
    duplicates = len(loaded.not_sent) - len(invalid)
    console = Console(highlight=False)
    if loaded.not_sent:
        table = Table(box=box.SIMPLE_HEAD)
        table.add_column("Row", justify="right", no_wrap=True)
        table.add_column("Column", no_wrap=True)
        table.add_column("Value", no_wrap=True)
        table.add_column("Problem", overflow="fold")  # fold: never cut an example GUID short
        for rejected in loaded.not_sent:
            for p in rejected.problems:
                cells = (p.column, _cut(p.value), p.reason)
                table.add_row(str(p.row), *(Text(printable(text)) for text in cells))
        console.print(table)
    total = len(loaded.rows) + len(loaded.not_sent)
    counts = f"{total} row{'' if total == 1 else 's'}: {len(loaded.rows)} valid"
    counts += f", {len(invalid)} invalid"
    if duplicates:
        counts += f", {duplicates} duplicate (not sent twice)"
    console.print(Text(printable(f"{where}: {counts}")), soft_wrap=True)
    ctx.exit(1 if invalid else 0)


def _cut(text: str) -> str:
    """A cell's text for the table: on one line, at most _VALUE_WIDTH characters."""
    text = " ".join(text.split())
    return text if len(text) <= _VALUE_WIDTH else text[: _VALUE_WIDTH - 1] + "…"


def _warn_unknown_headers(headers: tuple[str, ...]) -> None:
    """The one warning about columns that match no field (the run keeps them in failed.csv)."""
    from batch.sheet import unknown_headers_warning

    warning = unknown_headers_warning(headers)
    if warning:
        click.echo(f"pcbatch: warning: {printable(warning)}", err=True)
