"""The `pcbatch` command line: a thin click layer over the library; the only package that prints.

One module per command, named after it (login.py holds login and logout), loaded only when its
command is used, so `pcbatch run` never pays for the simulator's aiohttp.web and `pcbatch --help`
stays quick (click's documented lazy-loading pattern).

Every expected failure is a PcbatchError (and an OSError: a full or unwritable disk, exit 2): its
message is printed on stderr, without a traceback
(URLs without userinfo, control characters escaped: core.echo.printable), and the process exits
with its exit code (README.md: "Progress, statuses and exit codes" for `run`, each other command
in its own section).
"""

from __future__ import annotations

import importlib

import click

from batch import __version__
from batch.core.echo import printable
from batch.core.errors import PcbatchError

# command name -> "module:function" below batch.cli
_COMMANDS = {
    "demo": "demo:demo",
    "export": "export:export",
    "login": "login:login",
    "logout": "login:logout",
    "report": "report:report",
    "run": "run:run",
    "simulate": "simulate:simulate",
    "validate": "validate:validate",
}


class _Group(click.Group):
    """Loads each command's module on first use; turns PcbatchError into message and exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, name = target.split(":")
        command = getattr(importlib.import_module(f"batch.cli.{module}"), name)
        assert isinstance(command, click.Command)
        return command

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except PcbatchError as exc:
            click.echo(f"pcbatch: {printable(str(exc))}", err=True)
            ctx.exit(exc.exit_code)
        except OSError as exc:  # a disk that is full or cannot be written: one line, exit 2
            where = f": {exc.filename}" if exc.filename else ""
            click.echo(f"pcbatch: {printable(exc.strerror or str(exc))}{where}", err=True)
            ctx.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pcbatch")
def cli() -> None:
    """Bulk-update Microsoft Partner Center customer billing profiles from a spreadsheet.

    \b
    Example:
      pcbatch validate customers.xlsx
      pcbatch run customers.xlsx --dry-run --out reports/today
    """


def main() -> None:
    """Entry point of the `pcbatch` script and `python -m batch`."""
    cli.main(prog_name="pcbatch", standalone_mode=True)
