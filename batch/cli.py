"""The `pcbatch` command line: a thin click layer over the library; the only module that prints.

Every expected failure is a PcbatchError: its message is printed on stderr, without a traceback,
and the process exits with its exit code (CONTRACT.md, "Exit codes").
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

import click
from click.core import ParameterSource

from batch import __version__
from batch.errors import PcbatchError
from batch.model import Status
from batch.options import CLOUDS, LOG_FORMATS, RunOptions, merge_options

if TYPE_CHECKING:
    from rich.console import Console

    from batch.run import RunResult


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
_VALUE_WIDTH = 24  # characters of a cell shown in the problem table; longer ones end in "…"


@cli.command()
@click.argument("input_file", metavar="INPUT", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--sheet", help="Worksheet of an xlsx.  [default: the first]")
@click.option(
    "--clear-token",
    default="#N/A",
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
    invalid = [r for r in loaded.rejected if r.status is Status.INVALID]
    duplicates = len(loaded.rejected) - len(invalid)
    console = Console(highlight=False)
    if loaded.rejected:
        table = Table(box=box.SIMPLE_HEAD)
        table.add_column("Row", justify="right", no_wrap=True)
        table.add_column("Column", no_wrap=True)
        table.add_column("Value", no_wrap=True)
        table.add_column("Problem", overflow="fold")  # fold: never cut an example GUID short
        for rejected in loaded.rejected:
            for p in rejected.problems:
                table.add_row(str(p.row), Text(p.column), Text(_cut(p.value)), Text(p.reason))
        console.print(table)
    total = len(loaded.rows) + len(loaded.rejected)
    counts = f"{total} row{'' if total == 1 else 's'}: {len(loaded.rows)} valid"
    counts += f", {len(invalid)} invalid"
    if duplicates:
        counts += f", {duplicates} duplicate (not sent twice)"
    console.print(Text(f"{where}: {counts}"), soft_wrap=True)
    ctx.exit(1 if invalid else 0)


def _cut(text: str) -> str:
    """A cell's text for the table: on one line, at most _VALUE_WIDTH characters."""
    text = " ".join(text.split())
    return text if len(text) <= _VALUE_WIDTH else text[: _VALUE_WIDTH - 1] + "…"


def _warn_unknown_headers(headers: tuple[str, ...]) -> None:
    """The one warning about columns that match no field (the run keeps them in failed.csv)."""
    if headers:
        names = ", ".join(f'"{h}"' for h in headers)
        click.echo(
            f"pcbatch: warning: column(s) {names} match no field and are ignored"
            " (kept in failed.csv)",
            err=True,
        )


# --- end validate -------------------------------------------------------------------------------

# --- run, demo (owner: engine) ------------------------------------------------------------------

_RUN_DEFAULTS = RunOptions()
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
    if log_format == "json":
        handler.setFormatter(_JsonLines())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.getLogger("batch")
    logger.handlers[:] = [handler]
    logger.setLevel(level)


async def _run_watched(
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
        TextColumn("{task.fields[rate]:.1f} req/s  429s {task.fields[throttled]}"),
        TextColumn("conflicts {task.fields[conflicts]}"),
        TimeElapsedColumn(),
        console=console,
    )
    task = bar.add_task("rows", total=None, rate=options.rate, throttled=0, conflicts=0)

    def show(p: Progress) -> None:
        bar.update(
            task,
            completed=p.done,
            total=p.total,
            rate=p.rate,
            throttled=p.throttled,
            conflicts=p.conflicts,
        )

    def started(out_dir: Path, rows: int) -> None:
        bar.update(task, total=rows)

    with bar:
        return await run_job(options, env, on_progress=show, on_started=started, force=force)


def _print_summary(result: RunResult) -> None:
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


def _go(options: RunOptions, env: dict[str, str], *, force: bool = False) -> RunResult:
    """Set up logging and the progress bar as the options say, then run (force: --force)."""
    from rich.console import Console

    watching = not (options.quiet or options.no_progress) and sys.stderr.isatty()
    console = Console(stderr=True) if watching else None
    # A person watching the bar sees progress there; the log then shows only what went wrong.
    level = logging.WARNING if options.quiet or watching else logging.INFO
    _setup_logging(options.log_format, level, console)
    return asyncio.run(_run_watched(options, env, console, force=force))


@cli.command("run")
@click.argument("input_path", metavar="INPUT", required=False, type=click.Path(path_type=Path))
@click.option(
    "--job",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the options from a TOML job file; flags given here win.",
)
@click.option("--sheet", help="Worksheet of an xlsx.  [default: the first]")
@click.option(
    "--base-url",
    help="Partner Center REST root; http:// only on loopback.  "
    "[default: $PC_BASE_URL, else the cloud's]",
)
@click.option(
    "--cloud",
    type=click.Choice(tuple(CLOUDS)),
    default=_RUN_DEFAULTS.cloud,
    show_default=True,
    help="Picks the base URL and the login authority together.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=_RUN_DEFAULTS.concurrency,
    show_default=True,
    help="Customers in flight at once.",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    default=_RUN_DEFAULTS.rate,
    show_default=True,
    help="Ceiling in requests/s, all workers and retries together; the rate used "
    "drops on 429 and climbs back towards it.",
)
@click.option(
    "--max-attempts",
    type=click.IntRange(min=1),
    default=_RUN_DEFAULTS.max_attempts,
    show_default=True,
    help="Tries per HTTP call for throttling, faults and ETag conflicts, each counted on its own.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=_RUN_DEFAULTS.timeout,
    show_default=True,
    help="Seconds for one HTTP call.",
)
@click.option("--dry-run", is_flag=True, help="GETs only: report what would change; no PUT.")
@click.option(
    "--validate-addresses",
    is_flag=True,
    help="Check each changed address with POST /v1/validations/address first; a "
    "refused one ends `rejected` with the suggestions.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    help="Canary: only the first N valid rows; the others end `skipped`.",
)
@click.option(
    "--max-duration",
    type=click.FloatRange(min=0, min_open=True),
    help="Stop starting customers after S seconds; the rest end `skipped` (exit 75).",
)
@click.option(
    "--failure-budget",
    type=click.FloatRange(0, 1),
    default=_RUN_DEFAULTS.failure_budget,
    show_default=True,
    help="Stop (exit 75) when, after 20 customers, more than this share ended `failed`.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Report directory, created if missing.  [default: reports/<UTC timestamp>]",
)
@click.option(
    "--clear-token",
    default=_RUN_DEFAULTS.clear_token,
    show_default=True,
    help="A cell holding this text clears the field.",
)
@click.option(
    "--resume/--no-resume",
    default=False,
    help="Continue the last run of this --out from its journal: rows already done are not "
    "sent again. --no-resume overrides `resume = true` in a job file.",
)
@click.option(
    "--force",
    is_flag=True,
    help="With --resume: continue although INPUT changed since the run started (the rows "
    "as the journal holds them are sent).",
)
@click.option(
    "--log-format",
    type=click.Choice(LOG_FORMATS),
    default=_RUN_DEFAULTS.log_format,
    show_default=True,
    help="Log lines on stderr as text or one JSON object each.",
)
@click.option("--quiet", is_flag=True, help="No progress bar; log only problems.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
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
    force = bool(flags.pop("force"))  # never from a job file: a deliberate, one-off choice
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
    _print_summary(result)
    ctx.exit(result.exit_code)


def _samples() -> Path:
    """The sample sheet's folder: inside the installed package, else the repository's."""
    packaged = files("batch") / "samples"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / "samples"


@cli.command()
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
    from rich.console import Console

    from batch.simulator import SimConfig, run_simulator

    samples = _samples()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out_dir = out or Path("reports") / f"demo-{stamp}"

    async def rehearse() -> RunResult:
        config = SimConfig(customers_file=samples / "customers.json", seed=1)
        async with run_simulator(config) as sim:
            options = RunOptions(
                input=samples / "customers.xlsx", base_url=sim.base_url, out=out_dir, rate=50.0
            )
            env = {"PC_ACCESS_TOKEN": sim.token}
            watching = sys.stderr.isatty()
            console = Console(stderr=True) if watching else None
            _setup_logging("text", logging.WARNING if watching else logging.INFO, console)
            logging.getLogger("batch.simulator").setLevel(logging.WARNING)
            return await _run_watched(options, env, console)

    result = asyncio.run(rehearse())
    _print_summary(result)
    click.echo(
        "The sample sheet has deliberate mistakes (a bad customer id, a 4-digit US ZIP, an "
        "unknown country, duplicates, a customer the stand-in does not know): the rows not "
        "`updated` or `unchanged` show how pcbatch reports them (see failed.csv)."
    )
    ctx.exit(0 if result.exit_code in (0, 1) else result.exit_code)


# --- end run, demo ------------------------------------------------------------------------------

# --- simulate (owner: simulator) ----------------------------------------------------------------


def _simulator_options(command: click.decorators.FC) -> click.decorators.FC:
    """One flag per SimConfig setting; help texts and units live in batch/simulator/config.py."""
    from batch.simulator.config import FROM_ENVIRONMENT, HELP, SETTINGS, SimConfig

    defaults = SimConfig()
    for name in reversed(SETTINGS):
        if name in FROM_ENVIRONMENT:  # secrets: never on a command line
            continue
        flag = "--" + name.replace("_", "-")
        default = getattr(defaults, name)
        shown: dict[str, object] = {"help": HELP[name], "show_default": default is not None}
        if name == "bom":
            option = click.option("--bom/--no-bom", default=default, **shown)
        elif name == "customers_file":
            option = click.option(flag, type=click.Path(exists=True, dir_okay=False), **shown)
        elif name == "stale_etag_status":
            option = click.option(flag, type=click.Choice(["412", "400"]), default="412", **shown)
        elif default is None:
            option = click.option(flag, type=float, metavar="R", **shown)
        else:
            option = click.option(flag, type=type(default), default=default, **shown)
        command = option(command)
    return command


@cli.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on: loopback only (127.0.0.1, ::1, localhost); others are refused.",
)
@click.option(
    "--port",
    default=8479,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="TCP port; 0 picks a free one.",
)
@click.option(
    "--state-out",
    type=click.Path(dir_okay=False),
    help="On Ctrl-C (or SIGTERM), write every profile to this JSON file, in the "
    "--customers-file format.",
)
@_simulator_options
def simulate(host: str, port: int, state_out: str | None, **settings: object) -> None:
    """Serve the Partner Center stand-in on loopback until Ctrl-C.

    It answers GET/PUT /v1/customers/{id}/profiles/billing, POST /v1/validations/address and
    an OAuth token endpoint as the documented API does (etags, BOM, error shapes, 429s), with
    the faults you ask for. It prints its base URL, a ready bearer token and an example run.
    The token endpoint accepts --client-id with $PCSIM_CLIENT_SECRET, and $PCSIM_REFRESH_TOKEN
    (both have built-in defaults, see README.md). Probabilities are per request, 0..1.

    \b
    Example:
      pcbatch simulate --customers 1000 --seed 7 --concurrent-writer 0.1 --state-out after.json
      PC_BASE_URL=http://127.0.0.1:8479 PC_ACCESS_TOKEN=<the printed token> \\
        pcbatch run customers.xlsx --dry-run
    """
    import asyncio
    import contextlib
    import dataclasses
    import os
    import signal
    from pathlib import Path

    from batch.simulator import SimConfig, run_simulator
    from batch.simulator.config import FROM_ENVIRONMENT

    settings["stale_etag_status"] = int(str(settings["stale_etag_status"]))
    if settings["customers_file"] is not None:
        settings["customers_file"] = Path(str(settings["customers_file"]))
    for name, variable in FROM_ENVIRONMENT.items():
        settings[name] = os.environ.get(variable) or getattr(SimConfig(), name)
    config = dataclasses.replace(SimConfig(), **settings)  # type: ignore[arg-type]

    async def serve() -> None:
        async with run_simulator(config, host, port) as sim:
            ids = sim.store.ids()
            click.echo(f"pcbatch simulator: {len(ids)} customers at {sim.base_url}")
            click.echo(f"  base URL:       {sim.base_url}")
            click.echo(f"  access token:   {sim.token}  (valid {config.token_lifetime_s:g} s)")
            click.echo(
                f"  token endpoint: {sim.base_url}/{config.tenant_id}/oauth2/v2.0/token"
                f"  (client id {config.client_id})"
            )
            if ids:
                more = ", ..." if len(ids) > 3 else ""
                click.echo(f"  customers:      {', '.join(ids[:3])}{more}")
            click.echo("Try, in another terminal:")
            click.echo(
                f"  PC_BASE_URL={sim.base_url} PC_ACCESS_TOKEN={sim.token}"
                " pcbatch run customers.xlsx --dry-run"
            )
            click.echo("Ctrl-C stops it.")
            stop = asyncio.Event()
            # Not every platform has add_signal_handler; Ctrl-C works everywhere regardless.
            with contextlib.suppress(NotImplementedError, RuntimeError):
                asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
            try:
                await stop.wait()
            finally:
                if state_out is not None:
                    sim.export_state(Path(state_out))
                    click.echo(f"State of {len(ids)} customers written to {state_out}", err=True)

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how it is meant to stop
        asyncio.run(serve())
    click.echo("pcbatch simulator stopped.", err=True)


# --- end simulate -------------------------------------------------------------------------------

# --- report (owner: journal/report) -------------------------------------------------------------


@cli.command()
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="The --out directory of a run (it holds journal.sqlite).",
)
@click.option(
    "--run-id",
    type=click.IntRange(min=1),
    default=None,
    help="Which run of the journal to report (default: the last one).",
)
def report(out_dir: str, run_id: int | None) -> None:
    """Rebuild the report files of a run from its journal.

    Writes results.csv, results.xlsx, summary.json, failed.csv and undo.csv into DIR again,
    from DIR/journal.sqlite alone: after a crash, or when a file was lost or edited. Rows the
    journal has no outcome for (the run died first) are reported `skipped`.

    \b
    Example:
      pcbatch report --out reports/nightly
    """
    # Imported here: the other commands need neither sqlite3 nor openpyxl to start.
    from pathlib import Path

    from batch.errors import ConfigError
    from batch.journal import Journal
    from batch.lock import current_holder
    from batch.report import FILES, write_report

    out = Path(out_dir)
    with Journal.open(out, create=False) as journal:
        info = journal.run_info(run_id) if run_id is not None else journal.last_run()
        if info is None:
            raise ConfigError(f"the journal in {out_dir} holds no run yet: nothing to report")
        write_report(out, journal, info.run_id)
        done = journal.run_info(info.run_id)
    holder = current_holder(out)
    if holder is not None:
        click.echo(
            f"pcbatch: a run is still writing to {out_dir} ({holder.describe()}): this report "
            "shows it so far, and the run rewrites it when it ends",
            err=True,
        )
    state = "finished" if done.finished_at else "not finished (resume it with --resume)"
    click.echo(f"run {done.run_id} of {done.input_path}: {done.rows} rows, {state}")
    click.echo(f"report rebuilt in {out_dir}: {', '.join(FILES)}")


# --- end report ---------------------------------------------------------------------------------

# --- login, logout (owner: auth) ----------------------------------------------------------------


@cli.command()
@click.option(
    "--cloud",
    type=click.Choice(tuple(CLOUDS)),
    default="global",
    show_default=True,
    help="The cloud whose login authority to sign in at ($PC_AUTHORITY overrides it); "
    "runs must use the same --cloud.",
)
@click.option(
    "--tenant",
    help="Your partner tenant: its id or domain.  [default: $PC_TENANT_ID, else organizations]",
)
@click.option(
    "--client-id",
    help="Application (client) id of your app registration, a public client allowed to use "
    "device code.  [default: $PC_CLIENT_ID]",
)
def login(cloud: str, tenant: str | None, client_id: str | None) -> None:
    """Sign in as a person (device code, with MFA) and keep the token cache for later runs.

    Prints a web address and a code: open the address on any device, enter the code and sign
    in with a Partner Center user (Admin agent). The token cache, with its refresh token, is
    stored in your config folder (~/.config/pcbatch/token_cache.json, or under
    $XDG_CONFIG_HOME), readable by you only. `pcbatch run` uses it when no PC_* credential
    variable is set. `pcbatch logout` removes it.

    \b
    Example:
      pcbatch login --tenant contoso.onmicrosoft.com --client-id <application id>
      pcbatch run customers.xlsx --dry-run
    """
    from batch.errors import ConfigError, Interrupted
    from batch.login import sign_in

    env = dict(os.environ)
    tenant = (tenant or env.get("PC_TENANT_ID", "")).strip() or "organizations"
    client_id = (client_id or env.get("PC_CLIENT_ID", "")).strip()
    if not client_id:
        raise ConfigError(
            "no client id: give --client-id (or set PC_CLIENT_ID) with the application id of "
            "your Partner Center app registration"
        )
    try:
        who, path = sign_in(
            env,
            cloud=cloud,
            tenant=tenant,
            client_id=client_id,
            show=lambda text: click.echo(text, err=True),
        )
    except KeyboardInterrupt:
        raise Interrupted("sign-in cancelled: nothing was stored") from None
    name = who.username or "an unnamed user"
    click.echo(f"Signed in as {name} ({cloud} cloud, tenant {tenant}).")
    click.echo(f"Token cache: {path} (readable by you only; `pcbatch logout` removes it).")


@cli.command()
def logout() -> None:
    """Remove the token cache `pcbatch login` stored; runs then need PC_* credentials again.

    It signs out pcbatch on this account only: the refresh token stays valid at Microsoft
    until it expires or an administrator revokes the user's sessions.

    \b
    Example:
      pcbatch logout
    """
    from batch.login import cache_path, sign_out

    env = dict(os.environ)
    removed = sign_out(env)
    if removed is None:
        click.echo(f"Not signed in: there is no token cache at {cache_path(env)}.")
    else:
        click.echo(f"Signed out: removed {removed}.")


# --- end login, logout --------------------------------------------------------------------------


def main() -> None:
    """Entry point of the `pcbatch` script and `python -m batch`."""
    cli.main(prog_name="pcbatch", standalone_mode=True)
    sys.exit(0)
