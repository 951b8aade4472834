"""The `pcbatch` command line: a thin click layer over the library; the only package that prints.

One module per command, named after it (login.py holds login and logout), loaded only when its
command is used, so `pcbatch run` never pays for the simulator's aiohttp.web and `pcbatch --help`
stays quick (click's documented lazy-loading pattern).

Every expected failure is a PcbatchError (and an OSError: a full or unwritable disk, exit 2): its
message is printed on stderr, without a traceback
(URLs without userinfo, control characters escaped: core.echo.printable), and the process exits
with its exit code (README.md: "Progress, statuses and exit codes" for `run`, each other command
in its own section). With `--log-format json` the message (and a usage error's) is one JSON
object instead, like every other line on stderr.
"""

from __future__ import annotations

import gc
import importlib
import itertools
import logging

import click

from batch import __version__
from batch.core.echo import printable
from batch.core.errors import PcbatchError

# command name -> ("module:function" below batch.cli, the first sentence of its help). The
# sentence lets `pcbatch --help` list the commands without importing any of them (so nothing
# loads aiohttp, pandas or msal to print help); tests/test_cli_help.py checks it against each
# command's own help.
_COMMANDS = {
    "apply": (
        "apply:apply",
        "Apply a reviewed plan: exactly the changes `pcbatch plan` wrote in PLAN_DIR.",
    ),
    "demo": (
        "demo:demo",
        "Run pcbatch on the sample sheet against the built-in stand-in; nothing leaves the "
        "machine.",
    ),
    "export": (
        "export:export",
        "Export customers' billing profiles into OUTPUT (.xlsx or .csv), one row per customer.",
    ),
    "login": (
        "login:login",
        "Sign in as a person (device code, with MFA) and keep the token cache for later runs.",
    ),
    "logout": (
        "login:logout",
        "Remove the token cache `pcbatch login` stored; runs then need PC_* credentials again.",
    ),
    "plan": (
        "plan:plan",
        "Plan a reviewed migration: what INPUT would change, written to --out as a plan file.",
    ),
    "report": ("report:report", "Rebuild the report files of a run from its journal."),
    "run": ("run:run", "Update customers' billing profiles from INPUT (xlsx, xlsm or csv)."),
    "secret": (
        "secret:secret",
        "Keep the app's client secret in the system's credential store instead of a variable.",
    ),
    "simulate": (
        "simulate:simulate",
        "Serve the Partner Center stand-in on loopback until Ctrl-C.",
    ),
    "validate": ("validate:validate", "Check INPUT and list every problem by row and column."),
}


def summary(name: str) -> str:
    """The first sentence of a command's help, as `pcbatch --help` lists it."""
    return _COMMANDS[name][1]


class _Group(click.Group):
    """Loads each command's module on first use; turns PcbatchError into message and exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, name = target[0].split(":")
        command = getattr(importlib.import_module(f"batch.cli.{module}"), name)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The commands and their summaries, as click lists them, without importing them."""
        limit = formatter.width - 6 - max(len(name) for name in _COMMANDS)
        # a bare Command of the summary, to cut it as click cuts a command's own help
        rows = [
            (name, click.Command(name, help=summary(name)).get_short_help_str(limit))
            for name in _COMMANDS
        ]
        with formatter.section("Commands"):
            formatter.write_dl(sorted(rows))

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[_ARGS] = list(args)  # for _json_errors: the command line as typed
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except PcbatchError as exc:
            _error(ctx, printable(str(exc)), exc.exit_code)
        except click.ClickException as exc:  # a usage error: as text, unless JSON was asked
            if not _json_errors(ctx):
                raise
            _error(ctx, printable(exc.format_message()), exc.exit_code)
        except OSError as exc:  # a disk that is full or cannot be written: one line, exit 2
            where = f": {exc.filename}" if exc.filename else ""
            _error(ctx, printable(f"{exc.strerror or exc}{where}"), 2)
        return None


_ARGS = "pcbatch.args"


def _json_errors(ctx: click.Context) -> bool:
    """True when errors must be JSON lines: logging is set up so (`--log-format json`, or a
    job file's `log_format = "json"`), or the command line asks for it."""
    if any(getattr(h, "json_lines", False) for h in logging.getLogger("batch").handlers):
        return True
    args = ctx.meta.get(_ARGS, [])
    pairs = itertools.pairwise(args)
    asked = {("--log-format", "json"), ("--format", "json")}  # run and the others; validate
    return bool({"--log-format=json", "--format=json"} & set(args) or asked & set(pairs))


def _error(ctx: click.Context, message: str, exit_code: int) -> None:
    """An expected failure's message on stderr (one JSON line with --log-format json), then
    the exit code."""
    if _json_errors(ctx):
        from batch.cli.run import error_line

        click.echo(error_line(f"pcbatch: {message}", exit_code), err=True)
    else:
        click.echo(f"pcbatch: {message}", err=True)
    ctx.exit(exit_code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="pcbatch")
def cli() -> None:
    """Bulk-update Microsoft Partner Center customer billing profiles from a spreadsheet.

    \b
    Example:
      pcbatch validate customers.xlsx
      pcbatch run customers.xlsx --dry-run --out reports/today
    """


def main() -> None:
    """Entry point of the `pcbatch` script and `python -m batch`."""
    try:
        cli.main(prog_name="pcbatch", standalone_mode=True)
    finally:
        # The command's files are closed and its report written by now. The interpreter's
        # teardown would still collect every object of pandas, numpy and aiohttp: 0.2-0.3 s
        # of each exit, a short nightly run's last second. Frozen, they are skipped (atexit
        # handlers and logging's flush still run).
        gc.freeze()
