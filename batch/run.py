"""One `pcbatch run`, end to end: options -> credentials -> sheet -> journal -> pool -> report.

Order matters for the contract's promises:
- Every check that can fail without sending anything comes first (base URL, credentials, a
  run already holding --out (exit 4 at once), the input file): those failures exit 2 or 4 and
  leave no journal behind.
- Then the run lock of --out (exit 4 when another run holds it), the journal: a new run (every
  row and the rejected rows' outcomes) or, with --resume, the last run continued
  (core/resume.py decides which, and refuses with exit 2 when it must), the pool (each outcome
  is journalled as it lands, each PUT's changes just before it is sent), and the report, which
  is written whatever way the pool ended (auth abort, stop, signal, or the end).
- SIGINT/SIGTERM are handled for the whole call (interrupt.py): they set the Stop.
- The exit code: the stop reason's (3 auth, 75 stopped early, 130 interrupted) if the run
  stopped, else 0 when every row of the run (earlier sessions' too) ended ok, else 1.

Nothing here prints: progress goes to `on_progress`, warnings to logging, results are returned.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from batch.auth import provider_from_env
from batch.client import Client
from batch.core.errors import ConfigError, PcbatchError
from batch.core.model import Change, Row, RunStats, Sheet, Status
from batch.core.options import RunOptions, default_out, resolve_base_url
from batch.core.resume import choose_run
from batch.core.stops import Stop
from batch.incremental import Nightly
from batch.interrupt import stop_on_signals
from batch.journal import JOURNAL_NAME, Journal
from batch.lock import RunLock, check_free
from batch.pool import Progress, run_pool
from batch.report import write_report
from batch.sheet import input_sha256, load_sheet, sheet_warnings

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
    force: bool = False,
) -> RunResult:
    """Run the bulk update the options describe, or continue one (--resume); report written.

    env: the environment to read credentials and PC_BASE_URL from (os.environ in the CLI).
    on_started(out_dir, rows to send): called once the journal holds the run.
    stop: set it to stop starting customers; SIGINT/SIGTERM set it while the run goes on
    (interrupt.py). force: with --resume, continue although the input changed (core/resume.py).
    Raises PcbatchError only before anything was sent: exit 2 or 4, or 130 when interrupted
    before the run started.
    """
    stop = stop or Stop()
    with stop_on_signals(stop, grace=options.timeout):
        return await _run(options, env, stop, force, on_progress, on_started)


async def _run(
    options: RunOptions,
    env: Mapping[str, str],
    stop: Stop,
    force: bool,
    on_progress: Callable[[Progress], None] | None,
    on_started: Callable[[Path, int], None] | None,
) -> RunResult:
    if options.input is None:
        raise ConfigError("no input file: give INPUT, or `input = ...` in the --job file")
    if options.resume and options.out is None:
        raise ConfigError(
            "--resume continues a run in its --out directory: give --out DIR, the directory "
            "of the run to continue"
        )
    base_url = resolve_base_url(options.base_url, env, options.cloud)
    out_dir = options.out or default_out(datetime.now(UTC))
    options = replace(options, out=out_dir)
    check_free(out_dir)  # exit 4 at once, before reading the sheet or signing in
    if options.resume and not (out_dir / JOURNAL_NAME).is_file():
        # Nothing to continue: start the run. Every row is re-planned from a fresh GET, so a
        # mistyped --out costs reads, never a second write, and a nightly job file may keep
        # `resume = true` from its very first night.
        log.info("--resume: no run in %s yet: a new run starts", out_dir)
        options = replace(options, resume=False)
    digest = input_sha256(options.input)  # a missing input is named before missing credentials
    tokens = provider_from_env(env, options.cloud)
    # --resume sends the rows as the journal holds them: the sheet is read for a new run only.
    sheet = None if options.resume else _load(options)
    if sheet is None or sheet.rows:
        # Sign in before the journal: credentials the login server refuses end the run here
        # (ConfigError, exit 2, nothing sent) instead of failing the first rows one by one.
        await tokens.token()
    if stop.reason is not None:
        raise stop.reason  # a signal came before the run started: nothing was sent

    with RunLock(out_dir), Journal.open(out_dir) as journal:
        run_id: int | None = None
        if options.resume:
            last = journal.last_run()
            pending = journal.pending_rows(last.run_id) if last is not None else []
            run_id = choose_run(
                last,
                len(pending),
                digest,
                input_path=options.input,
                dry_run=options.dry_run,
                force=force,
                out_dir=out_dir,
            )
        if run_id is None:
            log.info("no unfinished run of this input in %s: a new run", out_dir)
            sheet = sheet or _load(options)
            nightly = await Nightly.start(options, base_url, tokens, sheet.rows)  # --incremental
            run_id = journal.start_run(sheet, digest, options.as_record() | nightly.summary())
            rows, sent_before = sheet.rows, {}
            log.info(
                "run %d started: %d rows to send, %d rejected by validation; report in %s",
                run_id,
                len(sheet.rows),
                len(sheet.not_sent),
                out_dir,
            )
        else:
            journal.resume_run(run_id, options.as_record())
            rows, sent_before = pending, journal.puts_sent(run_id)
            nightly = await Nightly.start(options, base_url, tokens, rows, resumed=True)
            log.info("run %d resumed: %d rows to send; report in %s", run_id, len(rows), out_dir)
        rows = nightly.journal_known(rows, journal.record)  # known unchanged: no call
        if on_started is not None:
            on_started(out_dir, len(rows))

        def before_put(row: Row, changes: tuple[Change, ...], etag: str) -> None:
            # Committed before the PUT is sent: after a crash, --resume knows it may have landed.
            journal.record_put(row.number, changes, etag=etag)

        async with Client(
            base_url, tokens, timeout=options.timeout, connections=options.concurrency
        ) as client:
            # journal.record commits each outcome before the pool counts the row as done
            # (durable before progress).
            result = await run_pool(
                rows,
                client,
                options,
                nightly.learning(journal.record),
                on_progress=on_progress,
                stop=stop,
                pacer=nightly.pacer,
                sent_before=sent_before,
                before_put=before_put,
            )
        nightly.finish()
        # Every row of the run counts, those of earlier sessions too; none recorded: skipped.
        counts = journal.counts(run_id)
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
        statuses=counts,
        stats=result.stats,
        stopped=result.stopped,
        rows=sum(counts.values()),
    )


def _load(options: RunOptions) -> Sheet:
    """The input sheet, read and validated; warnings for columns that match no field, for title
    rows above the header row and for cells whose invisible characters were cleaned."""
    assert options.input is not None
    sheet = load_sheet(
        options.input,
        options.sheet,
        options.clear_token,
        column_map=dict(options.column_map),
        ignore_columns=options.ignore_columns,
        include_hidden=options.include_hidden,
    )
    for warning in sheet_warnings(sheet):
        log.warning("%s", warning)
    return sheet
