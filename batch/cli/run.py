"""`pcbatch run`: the bulk update, its logs and summary, and run_watched, which shows its progress
bar (run_display.py); demo.py, plan.py and apply.py reuse them."""

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

from batch.cli.options import given_on_command_line, table_options
from batch.cli.run_display import RunDisplay
from batch.core.echo import printable
from batch.core.errors import PcbatchError
from batch.core.model import Status
from batch.core.options import RunOptions, merge_options

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from rich.console import Console

    from batch.core.model import Outcome
    from batch.core.reviewed import ApprovedPlan
    from batch.engine.run import RunResult


# Fields a log record may carry besides its message: a row's (pool.py), and the closing and
# error events' (`event`: "finished" or "error").
_LOG_EXTRAS = (
    "event",
    "row",
    "customer_id",
    "status",
    "reason",
    "attempts",
    "http_status",
    "error_code",
    "statuses",
    "rows",
    "exit_code",
    "report",
)


class _JsonLines(logging.Formatter):
    """One JSON object per log line: time, level, logger, message, and the record's fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in _LOG_EXTRAS:
            if key in record.__dict__:
                value = record.__dict__[key]
                # Server text as data: json escapes C0 controls, not C1 (U+009B) or bidi ones.
                line[key] = printable(value) if isinstance(value, str) else value
        return json.dumps(line, ensure_ascii=False)


class _Printable(logging.Filter):
    """Every log message made printable (core.echo): no forged lines, colours or passwords."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = printable(record.getMessage()), None
        return True


class _ConsoleHandler(logging.Handler):
    """Log lines on stderr; through rich's console while a progress bar is drawn there."""

    def __init__(self, console: Console | None, json_lines: bool = False) -> None:
        super().__init__()
        self.console = console
        self.json_lines = json_lines  # batch.cli's error messages ask, to write theirs alike

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
    handler = _ConsoleHandler(console, json_lines=log_format == "json")
    handler.addFilter(_Printable())
    if log_format == "json":
        handler.setFormatter(_JsonLines())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.getLogger("batch")
    logger.handlers[:] = [handler]
    logger.setLevel(level)


async def run_watched(
    options: RunOptions,
    env: dict[str, str],
    console: Console | None,
    *,
    force: bool = False,
    plan: ApprovedPlan | None = None,
    on_outcome: Sequence[Callable[[Outcome], None]] = (),
) -> RunResult:
    """run_job with a progress display on `console` (None: no display); force: --force; plan
    and on_outcome: run_job's (`pcbatch apply` and `pcbatch plan`)."""
    from batch.engine.run import run_job

    if console is None:
        return await run_job(options, env, force=force, plan=plan, on_outcome=on_outcome)
    display = RunDisplay(console, options.rate, dry_run=options.dry_run)
    with display.bar:
        return await run_job(
            options,
            env,
            on_progress=display.show,
            on_started=display.started,
            force=force,
            plan=plan,
            on_outcome=on_outcome,
        )


def log_finished(result: RunResult) -> None:
    """The closing line of a run's log, whatever the level (--quiet too): the exit code, the
    count of every status and where the report is; an `event: finished` object in JSON."""
    statuses = {status.value: result.statuses.get(status, 0) for status in Status}
    counted = ", ".join(f"{name} {n}" for name, n in statuses.items() if n)
    logger = logging.getLogger("batch.cli")
    record = logger.makeRecord(
        logger.name,
        logging.INFO if result.exit_code == 0 else logging.WARNING,
        __file__,
        0,
        "run finished with exit code %d: %s; report in %s",
        (result.exit_code, counted or "no rows", result.out_dir),
        None,
        extra={
            "event": "finished",
            "exit_code": result.exit_code,
            "rows": result.rows,
            "statuses": statuses,
            "report": str(result.out_dir),
        },
    )
    logger.handle(record)  # past the level check: a scheduler alerts on this line


def error_line(message: str, exit_code: int) -> str:
    """An error message of the command line as one JSON log line (`event: error`)."""
    record = logging.LogRecord("batch.cli", logging.ERROR, __file__, 0, message, None, None)
    record.event, record.exit_code = "error", exit_code
    return _JsonLines().format(record)


def print_summary(result: RunResult, log_format: str = "text") -> None:
    """The statuses with their counts, the counters, and where the report is (stdout): a
    table, or with `--log-format json` one JSON object and nothing else."""
    from rich.console import Console
    from rich.table import Table

    if log_format == "json":
        click.echo(json.dumps(summary_object(result), ensure_ascii=False))
        return

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


def summary_object(result: RunResult) -> dict[str, object]:
    """The run's summary for machines: every status with its count, the counters, the report."""
    s = result.stats
    return {
        "event": "summary",
        "exit_code": result.exit_code,
        "rows": result.rows,
        "statuses": {status.value: result.statuses.get(status, 0) for status in Status},
        "requests": s.requests,
        "throttled": s.throttled,
        "conflicts": s.conflicts,
        "retries": s.retries,
        "rate_final": s.rate_final,
        "rate_min": s.rate_min,
        "report": str(result.out_dir),
    }


def console_for(options: RunOptions) -> Console | None:
    """Set up logging as the options say; returns the console a progress bar is drawn on
    (stderr), or None when no bar is shown (--quiet, --no-progress, or stderr not a terminal).
    """
    from rich.console import Console

    # JSON logs are for machines: no bar between their lines.
    watching = (
        not (options.quiet or options.no_progress or options.log_format == "json")
        and sys.stderr.isatty()
    )
    console = Console(stderr=True) if watching else None
    # A person watching the bar sees progress there; the log then shows only what went wrong.
    level = logging.WARNING if options.quiet or watching else logging.INFO
    _setup_logging(options.log_format, level, console)
    return console


def _asks_for_json(job: Path) -> bool:
    """True when a job file that load_job refused still says `log_format = "json"`."""
    import tomllib

    try:
        with job.open("rb") as f:
            data = tomllib.loads(f.read(1 << 20).decode("utf-8-sig"))  # jobfile.MAX_JOB_BYTES
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError):
        return False
    return any(data.get(key) == "json" for key in ("log_format", "log-format"))


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
    given = given_on_command_line(ctx, flags)
    if input_path is not None:
        given["input"] = input_path
    job_values: dict[str, object] = {}
    if job is not None:
        from batch.cli.jobfile import load_job

        try:
            job_values = load_job(job)
        except PcbatchError:
            if "log_format" not in given and _asks_for_json(job):
                _setup_logging("json", logging.INFO, None)  # the error below: a JSON line
            raise
        given["job"] = job
    if job_values.get("log_format") == "json" and "log_format" not in given:
        _setup_logging("json", logging.INFO, None)  # errors from here on: JSON lines
    options = merge_options(job_values, given)
    result = _go(options, dict(os.environ), force=force)
    log_finished(result)
    print_summary(result, options.log_format)
    ctx.exit(result.exit_code)
