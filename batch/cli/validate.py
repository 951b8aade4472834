"""`pcbatch validate`: every problem of a sheet, by row and column, before anything is sent."""

from __future__ import annotations

from pathlib import Path

import click

from batch.cli.options import SHEET_READING, table_options
from batch.core.echo import printable
from batch.core.model import Status

_VALUE_WIDTH = 24  # characters of a cell shown in the problem table; longer ones end in "…"


@click.command()
@click.argument("input_file", metavar="INPUT", type=click.Path(path_type=Path, dir_okay=False))
@table_options(SHEET_READING)
@click.pass_context
def validate(
    ctx: click.Context,
    input_file: Path,
    sheet: str | None,
    clear_token: str,
    column_map: tuple[tuple[str, str], ...],
    ignore_columns: tuple[str, ...],
    include_hidden: bool,
) -> None:
    """Check INPUT offline and list every problem by row and column.

    Reads the sheet exactly as `pcbatch run` would, sends nothing and needs no credentials.
    Prints a table of the problems (row, column, value, what to do) and a count. Exit 0 when
    every row can be sent (identical duplicate rows are listed, and are not sent twice), 1 when
    some row is invalid or hidden (not sent), 2 when the file itself cannot be used.

    \b
    Example:
      pcbatch validate customers.xlsx
      pcbatch validate customers.xlsx --sheet "March updates" --clear-token CLEAR
      pcbatch validate klanten.csv --map "Klantnr=customer_id" --ignore-column Opmerking
    """
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from batch.sheet import load_sheet, sheet_warnings

    loaded = load_sheet(
        input_file,
        sheet,
        clear_token,
        column_map=dict(column_map),
        ignore_columns=ignore_columns,
        include_hidden=include_hidden,
    )
    for warning in sheet_warnings(loaded):
        click.echo(f"pcbatch: warning: {printable(warning)}", err=True)
    where = f'{input_file} (sheet "{loaded.sheet_name}")' if loaded.sheet_name else f"{input_file}"
    invalid = [r for r in loaded.not_sent if r.status is Status.INVALID]
    hidden = sum(r.status is Status.SKIPPED for r in loaded.not_sent)
    duplicates = len(loaded.not_sent) - len(invalid) - hidden
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
    if hidden:
        counts += f", {hidden} hidden (not sent; --include-hidden sends them)"
    console.print(Text(printable(f"{where}: {counts}")), soft_wrap=True)
    ctx.exit(1 if invalid or hidden else 0)


def _cut(text: str) -> str:
    """A cell's text for the table: on one line, at most _VALUE_WIDTH characters."""
    text = " ".join(text.split())
    return text if len(text) <= _VALUE_WIDTH else text[: _VALUE_WIDTH - 1] + "…"
