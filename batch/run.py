"""One `pcbatch run`, end to end: options -> credentials -> sheet -> journal -> pool -> report.

Order matters for the contract's promises:
- Every check that can fail without sending anything comes first (base URL, credentials, the
  input file): those failures exit 2 and leave no journal behind.
- Then the run lock of --out (exit 4 when another run holds it), the journal (every row and the
  rejected rows' outcomes), the pool (each outcome is journalled as it lands), and the report,
  which is written whatever way the pool ended (auth abort, stop, or the end).
- The exit code: the stop reason's (3 auth, 75 stopped early, 130 interrupted) if the run
  stopped, else 0 when every row ended ok (Status.ok) and 1 otherwise.

Nothing here prints: progress goes to `on_progress`, warnings to logging, results are returned.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from batch.auth import provider_from_env
from batch.client import Client
from batch.errors import ConfigError, PcbatchError
from batch.journal import Journal
from batch.lock import RunLock
from batch.model import Outcome, RunStats, Status
from batch.options import RunOptions, default_out, resolve_base_url
from batch.pool import Progress, Stop, run_pool
from batch.report import write_report
from batch.sheet import input_sha256, load_sheet

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunResult:
    """How a run ended: where its report is, its exit code, counts, and why it stopped."""

    out_dir: Path
    exit_code: int
    statuses: Mapping[Status, int]
    stats: RunStats
    stopped: PcbatchError | None
    rows: int


async def run_job(
    options: RunOptions,
    env: Mapping[str, str],
    *,
    on_progress: Callable[[Progress], None] | None = None,
    on_started: Callable[[Path, int], None] | None = None,
    stop: Stop | None = None,
) -> RunResult:
    """Run the bulk update the options describe; returns the result, report written.

    env: the environment to read credentials and PC_BASE_URL from (os.environ in the CLI).
    on_started(out_dir, rows to send): called once the journal holds the run.
    stop: set it (e.g. from a signal handler) to stop starting customers.
    Raises PcbatchError (exit 2/4) only for failures before anything was sent.
    """
    if options.input is None:
        raise ConfigError("no input file: give INPUT, or `input = ...` in the --job file")
    if options.resume:
        raise ConfigError(
            "--resume is not available in this version yet; run the input again (rows already "
            "updated end `unchanged`) or feed failed.csv back to `pcbatch run`"
        )
    base_url = resolve_base_url(options.base_url, env, options.cloud)
    tokens = provider_from_env(env, options.cloud)
    sheet = load_sheet(options.input, options.sheet, options.clear_token)
    if sheet.unknown_headers:
        log.warning(
            "column(s) %s match no field and are ignored (kept in failed.csv)",
            ", ".join(repr(h) for h in sheet.unknown_headers),
        )
    if sheet.rows:
        # Sign in before the journal: credentials the login server refuses end the run here
        # (ConfigError, exit 2, nothing sent) instead of failing the first rows one by one.
        await tokens.token()
    digest = input_sha256(options.input)
    out_dir = options.out or default_out(datetime.now(UTC))
    options = replace(options, out=out_dir)

    counts: Counter[Status] = Counter(r.status for r in sheet.rejected)
    with RunLock(out_dir), Journal.open(out_dir) as journal:
        journal.start_run(sheet, digest, options.as_record())
        if on_started is not None:
            on_started(out_dir, len(sheet.rows))
        log.info(
            "run started: %d rows to send, %d rejected by validation; report in %s",
            len(sheet.rows),
            len(sheet.rejected),
            out_dir,
        )

        def land(outcome: Outcome) -> None:
            counts[outcome.status] += 1
            journal.record(outcome)

        async with Client(
            base_url, tokens, timeout=options.timeout, connections=options.concurrency
        ) as client:
            result = await run_pool(
                sheet.rows, client, options, land, on_progress=on_progress, stop=stop
            )
        if result.stopped is not None:
            exit_code = result.stopped.exit_code
            log.error("%s", result.stopped)
        else:
            exit_code = 0 if all(status.ok for status in counts) else 1
        journal.finish_run(result.stats, exit_code)
        write_report(out_dir, journal)
    log.info("run finished with exit code %d; report in %s", exit_code, out_dir)
    return RunResult(
        out_dir=out_dir,
        exit_code=exit_code,
        statuses=dict(counts),
        stats=result.stats,
        stopped=result.stopped,
        rows=len(sheet.rows) + len(sheet.rejected),
    )
