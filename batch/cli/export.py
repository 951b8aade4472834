"""`pcbatch export`: today's billing profiles into the sheet `pcbatch run` reads."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from batch.cli.options import given_on_command_line, table_options
from batch.cli.run import console_for
from batch.core.options import RunOptions, merge_options

if TYPE_CHECKING:
    from rich.console import Console

    from batch.engine.export import ExportResult

# The options export shares with `pcbatch run`, made from the same option table.
SHARED_WITH_RUN = (
    "sheet",
    "base_url",
    "cloud",
    "concurrency",
    "rate",
    "max_attempts",
    "timeout",
    "log_format",
    "quiet",
    "no_progress",
)


@click.command("export")
@click.argument("output", metavar="OUTPUT", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--customers",
    "customers_sheet",
    metavar="SHEET",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Export only the customers in this sheet's customer-id column (xlsx, xlsm or csv; "
    "--sheet picks the worksheet), in its order, instead of the whole customer list.",
)
@click.option("--overwrite", is_flag=True, help="Write over OUTPUT when it exists.")
@table_options(SHARED_WITH_RUN)
@click.pass_context
def export(
    ctx: click.Context,
    output: Path,
    customers_sheet: Path | None,
    overwrite: bool,
    **flags: object,
) -> None:
    """Export customers' billing profiles into OUTPUT (.xlsx or .csv), one row per customer.

    Lists the partner's customers (GET /v1/customers, page after page) and reads each one's
    billing profile; only GETs are sent. The columns are the ones `pcbatch run` reads, so the
    file can be edited and run as it is: `pcbatch run OUTPUT --dry-run` against the same
    service ends every row `unchanged`. Customers that could not be read are listed in
    OUTPUT's side file, `<name>-errors.csv`. Credentials, base URL, pacing and retries work as
    for `pcbatch run`. Exit 0: every customer exported; 1: some are in the side file; 2:
    nothing sent (bad option, no credentials, OUTPUT exists); 3: credentials refused;
    130: interrupted.

    \b
    Example:
      pcbatch export customers.xlsx
      pcbatch export today.csv --customers failed.csv --rate 5
    """
    given = given_on_command_line(ctx, flags)
    options = merge_options({}, given)
    result = asyncio.run(_export(options, output, customers_sheet, overwrite, console_for(options)))
    s = result.stats
    if result.output == output:
        click.echo(f"exported {result.exported} customers to {output}")
    else:  # the export did not finish: its rows are under a partial name, not OUTPUT's
        click.echo(f"the export did not finish: {result.exported} customers in {result.output}")
    if result.errors_file is not None:
        click.echo(f"{result.errors} customers could not be read: see {result.errors_file}")
    if result.blank_cells:
        click.echo(
            f"{result.blank_cells} cells left blank (a blank cell keeps the value): see the log"
        )
    click.echo(
        f"{s.requests} requests, {s.throttled} throttled, {s.retries} retries, "
        f"rate {s.rate_final or 0:.1f}/s (lowest {s.rate_min or 0:.1f})"
    )
    ctx.exit(result.exit_code)


async def _export(
    options: RunOptions,
    output: Path,
    customers_sheet: Path | None,
    overwrite: bool,
    console: Console | None,
) -> ExportResult:
    """export_profiles, with a progress bar on `console` (stderr) unless it is None."""
    from rich.progress import Progress as Bar
    from rich.progress import TextColumn, TimeElapsedColumn

    from batch.engine.export import ExportProgress, export_profiles

    env = dict(os.environ)
    if console is None:
        return await export_profiles(
            options, output, env, customers_sheet=customers_sheet, overwrite=overwrite
        )
    bar = Bar(
        TextColumn("customers {task.completed}"),
        TextColumn("errors {task.fields[errors]}"),
        TextColumn("{task.fields[rate]:.1f} req/s  429s {task.fields[throttled]}"),
        TimeElapsedColumn(),
        console=console,
    )
    task = bar.add_task("export", total=None, errors=0, rate=options.rate, throttled=0)

    def show(p: ExportProgress) -> None:
        bar.update(
            task,
            completed=p.done,
            total=p.total,
            errors=p.errors,
            rate=p.rate,
            throttled=p.throttled,
        )

    with bar:
        return await export_profiles(
            options,
            output,
            env,
            customers_sheet=customers_sheet,
            overwrite=overwrite,
            on_progress=show,
        )
