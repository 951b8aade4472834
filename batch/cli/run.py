"""`pcbatch run`: the bulk update, its progress bar, logs and summary (demo.py reuses them)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click
from click.core import ParameterSource

from batch.cli.options import table_options
from batch.core.echo import printable
from batch.core.model import Status
from batch.core.options import RunOptions, merge_options

if TYPE_CHECKING:
    from rich.console import Console

    from batch.run import RunResult


_LOG_EXTRAS = ("row", "customer_id", "status", "attempts", "http_status", "error_code")


class _JsonLines(logging.Formatter):
    """One JSON object per log line: time, level, logger, message, and the row's fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in _LOG_EXTRAS:
            if key in record.__dict__:
                line[key] = record.__dict__[key]
        return json.dumps(line, ensure_ascii=False)


class _Printable(logging.Filter):
    """Every log message made printable (core.echo): no forged lines, colours or passwords."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = printable(record.getMessage()), None
        return True


class _ConsoleHandler(logging.Handler):
    """Log lines on stderr; through rich's console while a progress bar is drawn there."""

    def __init__(self, console: Console | None) -> None:
        super().__init__()
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
            if self.console is not None:
                self.console.print(line, markup=False, highlight=False, soft_wrap=True)
            else:
                sys.stderr.write(line + "\n")
        except Exception:
            self.handleError(record)


def _setup_logging(log_format: str, level: int, console: Console | None) -> None:
    """Send the `batch` loggers to stderr as text or JSON lines, at `level`."""
    handler = _ConsoleHandler(console)
    handler.addFilter(_Printable())
    if log_format == "json":
        handler.setFormatter(_JsonLines())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.getLogger("batch")
    logger.handlers[:] = [handler]
    logger.setLevel(level)


async def run_watched(
    options: RunOptions, env: dict[str, str], console: Console | None, *, force: bool = False
) -> RunResult:
    """run_job with a rich progress bar on `console` (None: no bar); force: --force."""
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as Bar

    from batch.pool import Progress
    from batch.run import run_job

    if console is None:
        return await run_job(options, env, force=force)
    bar = Bar(
        TextColumn("rows"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(
            "{task.fields[sent]} of {task.fields[rate]:.1f} req/s  429s {task.fields[throttled]}"
        ),
        TextColumn("conflicts {task.fields[conflicts]}  window {task.fields[window]}"),
        TimeElapsedColumn(),
        TextColumn("left {task.fields[left]}"),
        console=console,
    )
    task = bar.add_task(
        "rows",
        total=None,
        rate=options.rate,
        sent="-",
        throttled=0,
        conflicts=0,
        window="-",
        left="-",
    )

    def show(p: Progress) -> None:
        bar.update(
            task,
            completed=p.done,
            total=p.total,
            rate=p.rate,
            throttled=p.throttled,
            conflicts=p.conflicts,
            sent="-" if p.measured_rate is None else f"{p.measured_rate:.1f}",
            window="-" if p.window is None else p.window,
            left="-" if p.eta_s is None else f"{p.eta_s // 60:.0f}:{p.eta_s % 60:02.0f}",
        )

    def started(out_dir: Path, rows: int) -> None:
        bar.update(task, total=rows)

    with bar:
        return await run_job(options, env, on_progress=show, on_started=started, force=force)


def print_summary(result: RunResult) -> None:
    """The statuses with their counts, the counters, and where the report is (stdout)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="pcbatch run", show_footer=True)
    table.add_column("status", footer="rows")
    table.add_column("rows", justify="right", footer=str(result.rows))
    for status in Status:
        if result.statuses.get(status):
            style = "" if status.ok else "bold red"
            table.add_row(status.value, str(result.statuses[status]), style=style)
    console = Console()
    console.print(table)
    s = result.stats
    rate = "" if s.rate_final is None else f", rate {s.rate_final:.1f}/s (lowest {s.rate_min:.1f})"
    console.print(
        f"{s.requests} requests, {s.throttled} throttled, {s.conflicts} conflicts, "
        f"{s.retries} retries{rate}",
        highlight=False,
    )
    console.print(f"report: {result.out_dir}", markup=False, highlight=False, soft_wrap=True)


def console_for(options: RunOptions) -> Console | None:
    """Set up logging as the options say; returns the console a progress bar is drawn on
    (stderr), or None when no bar is shown (--quiet, --no-progress, or stderr not a terminal).
    """
    from rich.console import Console

    watching = not (options.quiet or options.no_progress) and sys.stderr.isatty()
    console = Console(stderr=True) if watching else None
    # A person watching the bar sees progress there; the log then shows only what went wrong.
    level = logging.WARNING if options.quiet or watching else logging.INFO
    _setup_logging(options.log_format, level, console)
    return console


def _go(options: RunOptions, env: dict[str, str], *, force: bool = False) -> RunResult:
    """Set up logging and the progress bar as the options say, then run (force: --force)."""
    console = console_for(options)
    return asyncio.run(run_watched(options, env, console, force=force))


@click.command("run")
@click.argument("input_path", metavar="INPUT", required=False, type=click.Path(path_type=Path))
@click.option(
    "--job",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the options from a TOML job file; flags given here win.",
)
@table_options()
@click.pass_context
def run(ctx: click.Context, input_path: Path | None, job: Path | None, **flags: object) -> None:
    """Update customers' billing profiles from INPUT (xlsx, xlsm or csv).

    For each valid row: GET the profile, apply the row's fields, PUT it back with If-Match
    (no PUT when nothing changes). Credentials come from the environment: PC_ACCESS_TOKEN (or
    the app credentials, see README). Prints a summary and writes the report into --out.
    Exit 0: every row ok; 1: some row not ok; 2: nothing sent (bad input or options);
    3: credentials refused; 4: --out locked by another run; 75: stopped early (--max-duration,
    failure budget); 130: interrupted (SIGINT/SIGTERM). After 75, 130 or a crash, the same
    command with --resume continues the run.

    \b
    Example:
      pcbatch run customers.xlsx --dry-run --out reports/check
      pcbatch run customers.xlsx --limit 5 --out reports/canary
      pcbatch run customers.xlsx --rate 20 --out reports/full
      pcbatch run customers.xlsx --rate 20 --out reports/full --resume
      pcbatch run --job jobs/nightly-billing.toml
    """
    force = bool(flags.pop("force"))  # never from a job file (see _FORCE)
    given: dict[str, object] = {
        name: value
        for name, value in flags.items()
        if ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE
    }
    if input_path is not None:
        given["input"] = input_path
    job_values: dict[str, object] = {}
    if job is not None:
        from batch.jobfile import load_job

        job_values = load_job(job)
        given["job"] = job
    options = merge_options(job_values, given)
    result = _go(options, dict(os.environ), force=force)
    print_summary(result)
    ctx.exit(result.exit_code)
