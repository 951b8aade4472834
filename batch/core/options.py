"""The options of `pcbatch run` as one frozen value, the cloud table, and the base-URL rules.

RunOptions holds every option of CONTRACT.md's "Options of run" table under the names a job
file uses (`batch.jobfile.load_job` gives a dict of these keys); command-line flags win over the
job file (`merge_options`). Nothing here is a secret: credentials come from the environment only,
so `as_record()` may be written to the journal and the report as it is.

Base URL: `--base-url`, else `$PC_BASE_URL`, else the cloud's. It must be `https://`, except on a
loopback host (127.0.0.0/8, ::1, localhost) where `http://` is allowed (the stand-in): a bearer
token must never cross a network in clear. A URL with a user name, password, query or fragment
is refused as well.

Pure: the environment is passed in; no I/O.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from batch.core.cells import CLEAR_TOKEN
from batch.core.echo import redact_urls
from batch.core.errors import ConfigError
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
    """Every option of `pcbatch run`, with the contract's defaults; checked when made.

    rate: requests/second for all workers and retries together (the adaptive rate's ceiling).
    timeout: seconds for one HTTP call. max_duration: seconds, None for no limit.
    failure_budget: share (0..1) of finished customers allowed to end `failed` after the first 20.
    out: None means `reports/<UTC timestamp>` (see default_out), decided when the run starts.
    backoff_base / backoff_cap: seconds of the fault backoff (RetryPolicy); no flags, for tests
    and job files that need other values.
    """

    input: Path | None = None
    sheet: str | None = None
    base_url: str | None = None
    cloud: str = "global"
    concurrency: int = 8
    rate: float = 10.0
    max_attempts: int = 6
    timeout: float = 30.0
    dry_run: bool = False
    validate_addresses: bool = False
    limit: int | None = None
    max_duration: float | None = None
    failure_budget: float = 0.5
    out: Path | None = None
    clear_token: str = CLEAR_TOKEN
    resume: bool = False
    log_format: str = "text"
    quiet: bool = False
    no_progress: bool = False
    job: Path | None = None
    backoff_base: float = 0.5
    backoff_cap: float = 30.0

    def __post_init__(self) -> None:
        _check(self.cloud in CLOUDS, "--cloud", self.cloud, f"one of {', '.join(CLOUDS)}")
        _check(self.concurrency >= 1, "--concurrency", self.concurrency, "a whole number >= 1")
        _check(_positive(self.rate), "--rate", self.rate, "a number of requests/s above 0")
        _check(self.max_attempts >= 1, "--max-attempts", self.max_attempts, "a number >= 1")
        _check(_positive(self.timeout), "--timeout", self.timeout, "seconds above 0")
        _check(self.limit is None or self.limit >= 0, "--limit", self.limit, "a number >= 0")
        _check(
            self.max_duration is None or _positive(self.max_duration),
            "--max-duration",
            self.max_duration,
            "seconds above 0",
        )
        _check(
            0.0 <= self.failure_budget <= 1.0,
            "--failure-budget",
            self.failure_budget,
            "a share between 0 and 1",
        )
        _check(self.clear_token != "", "--clear-token", self.clear_token, "non-empty text")
        _check(self.log_format in LOG_FORMATS, "--log-format", self.log_format, "text or json")
        _check(self.backoff_base >= 0, "backoff_base", self.backoff_base, "seconds >= 0")
        _check(self.backoff_cap >= 0, "backoff_cap", self.backoff_cap, "seconds >= 0")

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


def merge_options(job: Mapping[str, object], given: Mapping[str, object]) -> RunOptions:
    """RunOptions from a job file's values, overridden by the options given on the command line.

    Unknown keys are a ConfigError (load_job already refuses them; this guards other callers).
    """
    known = {f.name for f in fields(RunOptions)}
    values = {**job, **given}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(
            f"unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    for key in ("input", "out", "job"):
        if isinstance(values.get(key), str):
            values[key] = Path(str(values[key]))
    try:
        return replace(RunOptions(), **values)
    except TypeError as exc:  # a value of the wrong type that the checks could not compare
        raise ConfigError(f"an option has a value of the wrong type: {exc}") from None


def resolve_base_url(option: str | None, env: Mapping[str, str], cloud: str) -> str:
    """The REST root to call: --base-url, else $PC_BASE_URL, else the cloud's; no trailing `/`.

    Raises ConfigError for anything but https (or http on a loopback host), and for URLs with
    credentials, a query or a fragment.
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
    return url.strip().rstrip("/")


def is_loopback(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def default_out(now: datetime, prefix: str = "") -> Path:
    """`reports/<prefix><UTC timestamp>`, e.g. reports/20250131T235959Z, for a run starting at
    `now`; `pcbatch demo` gives prefix "demo-"."""
    return Path("reports") / f"{prefix}{now.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}"


def _positive(value: float) -> bool:
    return value > 0 and math.isfinite(value)


def _check(ok: bool, option: str, value: object, wanted: str) -> None:
    if not ok:
        raise ConfigError(f"{option} {value!r} is not valid: use {wanted}")
