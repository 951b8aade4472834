"""`pcbatch demo`: the sample sheet against the built-in stand-in, nothing leaves the machine."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

import click

from batch.cli.run import console_for, print_summary, run_watched
from batch.core.options import RunOptions, default_out

if TYPE_CHECKING:
    from batch.engine.run import RunResult


def _samples() -> Path:
    """The sample sheet's folder: inside the installed package, else the repository's."""
    packaged = files("batch") / "samples"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "samples"  # batch/cli/demo.py -> repo


@click.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Report directory.  [default: reports/demo-<UTC timestamp>]",
)
@click.pass_context
def demo(ctx: click.Context, out: Path | None) -> None:
    """Run pcbatch on the sample sheet against the built-in stand-in; nothing leaves the machine.

    Starts the Partner Center stand-in in-process on 127.0.0.1, seeded to match
    samples/customers.json, runs the job on samples/customers.xlsx, prints the summary and
    where the report is. The sample holds deliberate mistakes (invalid rows, a duplicate, an
    unknown customer) to show how they are reported; the demo exits 0 when the job ran to the
    end, whatever the rows' statuses.

    \b
    Example:
      pcbatch demo
      pcbatch demo --out reports/demo
    """
    from batch.simulator import SimConfig, run_simulator

    samples = _samples()
    out_dir = out or default_out(datetime.now(UTC), prefix="demo-")

    async def rehearse() -> RunResult:
        config = SimConfig(customers_file=samples / "customers.json", seed=1)
        async with run_simulator(config) as sim:
            options = RunOptions(
                input=samples / "customers.xlsx", base_url=sim.base_url, out=out_dir, rate=50.0
            )
            env = {"PC_ACCESS_TOKEN": sim.token}
            console = console_for(options)
            logging.getLogger("batch.simulator").setLevel(logging.WARNING)
            return await run_watched(options, env, console)

    result = asyncio.run(rehearse())
    print_summary(result)
    click.echo(
        "The sample sheet has deliberate mistakes (a bad customer id, a 4-digit US ZIP, an "
        "unknown country, duplicates, a customer the stand-in does not know): the rows not "
        "`updated` or `unchanged` show how pcbatch reports them (see failed.csv)."
    )
    ctx.exit(0 if result.exit_code in (0, 1) else result.exit_code)
