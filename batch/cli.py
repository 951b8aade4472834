"""The `pcbatch` command line: a thin click layer over the library; the only module that prints.

Every expected failure is a PcbatchError: its message is printed on stderr, without a traceback,
and the process exits with its exit code (CONTRACT.md, "Exit codes").
"""

from __future__ import annotations

import sys

import click

from batch import __version__
from batch.errors import PcbatchError


class _Group(click.Group):
    """Turns PcbatchError into its message and exit code, everywhere below the group."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except PcbatchError as exc:
            click.echo(f"pcbatch: {exc}", err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pcbatch")
def cli() -> None:
    """Bulk-update Microsoft Partner Center customer billing profiles from a spreadsheet.

    \b
    Example:
      pcbatch validate customers.xlsx
      pcbatch run customers.xlsx --dry-run --out reports/today
    """


# --- validate (owner: loader) -------------------------------------------------------------------
# --- end validate -------------------------------------------------------------------------------

# --- run, demo (owner: engine) ------------------------------------------------------------------
# --- end run, demo ------------------------------------------------------------------------------

# --- simulate (owner: simulator) ----------------------------------------------------------------
# --- end simulate -------------------------------------------------------------------------------

# --- report (owner: journal/report) -------------------------------------------------------------
# --- end report ---------------------------------------------------------------------------------

# --- login, logout (owner: auth) ----------------------------------------------------------------
# --- end login, logout --------------------------------------------------------------------------


def main() -> None:
    """Entry point of the `pcbatch` script and `python -m batch`."""
    cli.main(prog_name="pcbatch", standalone_mode=True)
    sys.exit(0)
