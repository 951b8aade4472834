"""The options of `pcbatch run` as one frozen value, the cloud table, and the base-URL rules.

RunOptions holds every option of the README's table of `run` options ("Usage: `pcbatch run`")
under the names a job file uses (`batch.cli.jobfile.load_job` gives a dict of these keys), each
declared once with its kind, bounds, default and help (RUN_OPTIONS); command-line flags win
over the job file (`merge_options`). Nothing here is a secret: credentials come from the
environment only, so `as_record()` may be written to the journal and the report as it is.

Base URL: `--base-url`, else `$PC_BASE_URL`, else the cloud's. It must be `https://` on the
cloud's Partner Center host (core.destinations, an allow-list per cloud), or a loopback host
(127.0.0.0/8, ::1, localhost) where `http://` is allowed (the stand-in, which only the
stand-in's own credentials may reach: wire.credentials checks): a bearer token must never cross
a network in clear nor reach a host that is not Partner Center's. A URL with a user name,
password, query or fragment is refused as well.

Pure: the environment is passed in; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from batch.core.cells import CLEAR_TOKEN
from batch.core.destinations import check_allowed_host, is_loopback
from batch.core.echo import redact_urls
from batch.core.errors import ConfigError
from batch.core.fields import field_names
from batch.core.option_spec import Kind, OptionSpec, option, specs_of
from batch.core.retry import RetryPolicy


@dataclass(frozen=True, slots=True)
class Cloud:
    """A Partner Center cloud: its REST root and its login authority."""

    name: str
    base_url: str
    authority: str


CLOUDS: dict[str, Cloud] = {
    "global": Cloud(
        "global", "https://api.partnercenter.microsoft.com", "https://login.microsoftonline.com"
    ),
    "usgov": Cloud(
        "usgov", "https://api.partnercenter.microsoft.com", "https://login.microsoftonline.us"
    ),
    "china": Cloud(
        "china",
        "https://partner.partnercenterapi.microsoftonline.cn",
        "https://login.chinacloudapi.cn",
    ),
}
LOG_FORMATS = ("text", "json")


@dataclass(frozen=True, slots=True)
class RunOptions:
    """Every option of `pcbatch run`, with the README's defaults; checked when made.

    This class body is the option table: each `option(...)` gives an option's kind, default,
    bounds, --help line and error text once, and the click options of `run`, the job-file keys
    and the checks below are all made from it (see batch/core/option_spec.py). A new option is
    one field here, plus its row in the README's table ("Usage: `pcbatch run`").

    rate: requests/second for all workers and retries together (the adaptive rate's ceiling).
    timeout: seconds for one HTTP call. max_duration: seconds, None for no limit.
    failure_budget: share (0..1) of the last 50 finished customers allowed to end `failed`, judged
        after the first 20.
    out: None means `reports/<UTC timestamp>` (see default_out), decided when the run starts.
    backoff_base / backoff_cap: seconds of the fault backoff (RetryPolicy); no flags, for tests
    and job files that need other values.
    column_map / ignore_columns / include_hidden / encoding / header_row: how the sheet's
    columns, hidden rows, bytes and header row are read (sheet.load_sheet); a job file's
    `[columns]` table is column_map. Given on the command line, column_map and ignore_columns
    add to a job file's rather than replace them (`--map` wins for its column).
    """

    # option() is dataclasses.field() with a spec in its metadata; RUF009 cannot know that.
    input: Path | None = option(  # noqa: RUF009
        Kind.PATH, None, "The sheet: xlsx, xlsm or csv (the INPUT argument).", flag=False
    )
    sheet: str | None = option(Kind.TEXT, None, "Worksheet of an xlsx.", default_text="the first")
    base_url: str | None = option(
        Kind.TEXT,
        None,
        "Partner Center REST root; http:// only on loopback.",
        default_text="$PC_BASE_URL, else the cloud's",
    )
    cloud: str = option(
        Kind.CHOICE,
        "global",
        "Picks the base URL and the login authority together.",
        choices=tuple(CLOUDS),
        wanted=f"one of {', '.join(CLOUDS)}",
    )
    concurrency: int = option(
        Kind.INT,
        64,
        "Most customers in flight at once: the ceiling of the window, which adapts to the "
        "service's latency so that --rate is what holds the run back.",
        low=1,
        wanted="a whole number >= 1",
    )
    fixed_concurrency: bool = option(
        Kind.FLAG,
        False,
        "Keep exactly --concurrency customers in flight: no adaptive window.",
    )
    rate: float = option(
        Kind.FLOAT,
        10.0,
        "Ceiling in requests/s, all workers and retries together; the rate used drops on 429 "
        "and climbs back towards it.",
        low=0,
        low_open=True,
        wanted="a number of requests/s above 0",
    )
    max_attempts: int = option(
        Kind.INT,
        6,
        "Tries per HTTP call for throttling, faults and ETag conflicts, each counted on its own.",
        low=1,
        wanted="a number >= 1",
    )
    timeout: float = option(
        Kind.FLOAT,
        30.0,
        "Seconds for one HTTP call.",
        low=0,
        low_open=True,
        wanted="seconds above 0",
    )
    dry_run: bool = option(Kind.FLAG, False, "GETs only: report what would change; no PUT.")
    validate_addresses: bool = option(
        Kind.FLAG,
        False,
        "Check each changed address with POST /v1/validations/address first; a refused one "
        "ends `rejected` with the suggestions.",
    )
    limit: int | None = option(
        Kind.INT,
        None,
        "Canary: only the first N valid rows (with --incremental: of the rows to send, after the"
        " rows known unchanged); the others end `skipped`.",
        low=0,
        wanted="a number >= 0",
    )
    max_duration: float | None = option(
        Kind.FLOAT,
        None,
        "Stop starting customers after S seconds; the rest end `skipped` (exit 75).",
        low=0,
        low_open=True,
        wanted="seconds above 0",
    )
    failure_budget: float = option(
        Kind.FLOAT,
        0.5,
        "Stop (exit 75) when, after 20 customers, more than this share of the last 50 ended "
        "`failed`.",
        low=0,
        high=1,
        wanted="a share between 0 and 1",
    )
    out: Path | None = option(  # noqa: RUF009
        Kind.PATH,
        None,
        "Report directory, created if missing.",
        directory=True,
        default_text="reports/<UTC timestamp>",
    )
    clear_token: str = option(
        Kind.TEXT,
        CLEAR_TOKEN,
        "A cell holding this text clears the field.",
        wanted="non-empty text",
    )
    # How the sheet is read (README, "Columns"); the loader checks that the columns exist.
    column_map: tuple[tuple[str, str], ...] = option(
        Kind.COLUMN_MAP,
        (),
        "Read the column with this header as FIELD (customer_id, address_line1, house_number, "
        "...); repeatable. A job file gives them as a `[columns]` table.",
        choices=field_names(),
        toml_key="columns",
        flag_text="--map",
        metavar='"COLUMN=FIELD"',
        wanted='"Column header=field" pairs, the field one of ' + ", ".join(field_names()),
    )
    ignore_columns: tuple[str, ...] = option(
        Kind.NAMES,
        (),
        "Leave the column with this header out: not sent, no warning; repeatable.",
        flag_text="--ignore-column",
        metavar="NAME",
        wanted="column headers",
    )
    include_hidden: bool = option(
        Kind.FLAG,
        False,
        "Send rows hidden in the sheet (by a filter or by hand) too, and read columns hidden "
        "there; without it hidden rows end `skipped` and a hidden column that maps to a field "
        "is refused.",
    )
    encoding: str | None = option(
        Kind.TEXT,
        None,
        "A csv file's encoding (windows-1250, mac-roman, cp850, ...) when its bytes do not say "
        "it for sure.",
        metavar="NAME",
        default_text="from the bytes",
        wanted="an encoding name such as utf-8 or windows-1250",
    )
    header_row: int | None = option(
        Kind.INT,
        None,
        "The row that holds the headers, when the first rows could be read either way.",
        low=1,
        metavar="N",
        default_text="found",
        wanted="a row number >= 1",
    )
    resume: bool = option(
        Kind.FLAG,
        False,
        "Continue the last run of this --out from its journal: rows already done are not sent "
        "again. --no-resume overrides `resume = true` in a job file.",
        negatable=True,
    )
    state: Path | None = option(  # noqa: RUF009
        Kind.PATH,
        None,
        "The job's state directory, kept across runs: what each customer's profile was when "
        "pcbatch last saw or wrote it (used by --incremental).",
        directory=True,
        default_text="none",
    )
    incremental: bool = option(
        Kind.FLAG,
        False,
        "With --state: read the activity log first; rows it shows unchanged since the last run "
        "end `unchanged` with no call. Falls back to a full run (and says why) when it cannot.",
        negatable=True,
    )
    full_every: int | None = option(
        Kind.INT,
        None,
        "With --incremental: make a run full when the last full one is N days old, so drift "
        "the activity log does not show is caught.",
        low=1,
        wanted="a number of days >= 1",
    )
    log_format: str = option(
        Kind.CHOICE,
        "text",
        "Log lines on stderr as text or one JSON object each.",
        choices=LOG_FORMATS,
        wanted="text or json",
    )
    quiet: bool = option(Kind.FLAG, False, "No progress bar; log only problems.")
    no_progress: bool = option(Kind.FLAG, False, "No progress bar.")
    # The job file itself: the --job flag (batch/cli/run.py), never a key of a job file.
    job: Path | None = None
    backoff_base: float = option(
        Kind.FLOAT,
        0.5,
        "Seconds: the cap of the first fault backoff.",
        low=0,
        flag=False,
        wanted="seconds >= 0",
    )
    backoff_cap: float = option(
        Kind.FLOAT,
        30.0,
        "Seconds: no fault backoff waits longer.",
        low=0,
        flag=False,
        wanted="seconds >= 0",
    )

    def __post_init__(self) -> None:
        for spec in RUN_OPTIONS.values():
            value = getattr(self, spec.name)
            if spec.wanted is not None and not spec.allows(value):
                raise ConfigError(f"{spec.label} {value!r} is not valid: use {spec.wanted}")

    @property
    def retry_policy(self) -> RetryPolicy:
        """The RetryPolicy these options ask for."""
        return RetryPolicy(
            max_attempts=self.max_attempts,
            backoff_base=self.backoff_base,
            backoff_cap=self.backoff_cap,
        )

    def as_record(self) -> dict[str, object]:
        """The options as JSON-safe values (paths as text), for the journal and summary."""
        return {
            key: str(value) if isinstance(value, Path) else value
            for key, value in asdict(self).items()
        }


# name -> OptionSpec of every option of run (all RunOptions fields but `job`), in field order.
RUN_OPTIONS: dict[str, OptionSpec] = specs_of(RunOptions)


def merge_options(job: Mapping[str, object], given: Mapping[str, object]) -> RunOptions:
    """RunOptions from a job file's values, overridden by the options given on the command line.

    Unknown keys are a ConfigError (load_job already refuses them; this guards other callers).
    """
    known = {f.name for f in fields(RunOptions)}
    values = {**job, **given}
    for name, spec in RUN_OPTIONS.items():
        if name in job and name in given:
            values[name] = spec.combine(job[name], given[name])
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(
            f"unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    paths = [name for name, spec in RUN_OPTIONS.items() if spec.kind is Kind.PATH] + ["job"]
    for key in paths:
        if isinstance(values.get(key), str):
            values[key] = Path(str(values[key]))
    try:
        options = replace(RunOptions(), **values)
    except TypeError as exc:  # a value of the wrong type that the checks could not compare
        raise ConfigError(f"an option has a value of the wrong type: {exc}") from None
    if options.incremental and options.state is None:
        raise ConfigError(
            "--incremental needs the job's state: give --state DIR (or `state = ...` in the job)"
        )
    return options


def resolve_base_url(option: str | None, env: Mapping[str, str], cloud: str) -> str:
    """The REST root to call: --base-url, else $PC_BASE_URL, else the cloud's; no trailing `/`.

    Raises ConfigError for anything but https on the cloud's Partner Center host (or a loopback
    host, http allowed), and for URLs with credentials, a query or a fragment.
    """
    where = "--base-url"
    url = option
    if not url:
        url, where = env.get("PC_BASE_URL") or None, "PC_BASE_URL"
    if not url:
        return CLOUDS[cloud].base_url
    shown = redact_urls(url)  # a password inside the URL is never echoed
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
        parts.port  # noqa: B018 (reading it validates the port)
    except ValueError as exc:
        raise ConfigError(f"{where} {shown!r} is not a URL ({exc})") from None
    if parts.scheme not in ("https", "http") or not host:
        raise ConfigError(f"{where} {shown!r} must be an https:// URL with a host name")
    if parts.username is not None or parts.password is not None:
        raise ConfigError(
            f"{where} must not carry a user name or password; credentials come from the "
            "environment only (PC_ACCESS_TOKEN, PC_CLIENT_ID, ...)"
        )
    if parts.query or parts.fragment:
        raise ConfigError(f"{where} {shown!r} must not have a query or fragment")
    if parts.scheme == "http" and not is_loopback(host):
        raise ConfigError(
            f"{where} {shown!r} uses plain http:// on a non-loopback host; tokens must not cross "
            "a network in clear: use https:// (http:// is allowed only for 127.0.0.1 or localhost)"
        )
    check_allowed_host(where, shown, host, cloud, "Partner Center")
    return url.strip().rstrip("/")


def default_out(now: datetime, prefix: str = "") -> Path:
    """`reports/<prefix><UTC timestamp>`, e.g. reports/20250131T235959Z, for a run starting at
    `now`; `pcbatch demo` gives prefix "demo-"."""
    return Path("reports") / f"{prefix}{now.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}"
