"""One `pcbatch run`, end to end: options -> credentials -> sheet -> journal -> pool -> report.

Order matters for the promises README.md makes:
- Every check that can fail without sending anything comes first (base URL, an --out that is
  not private (files.private_dir), a run already holding --out (exit 4 at once), a report in
  --out whose journal is lost (core/resume.lost_journal), the input file, credentials): those
  failures exit 2 or 4 and leave no journal behind.
- A pre-flight read (the first row's GET, core/preflight.py) before the first write: a service
  no request reaches, or a wrong path, is exit 2 naming the host and port or the base URL.
- Then the run lock of --out (exit 4 when another run holds it), the journal: a new run (every
  row and the rejected rows' outcomes) or, with --resume, the last run continued
  (core/resume.py decides which, and refuses with exit 2 when it must), the pool (each outcome
  is journalled as it lands, each PUT's changes just before it is sent), and the report, which
  is written whatever way the pool ended (auth abort, stop, signal, or the end).
- SIGINT/SIGTERM are handled for the whole call (interrupt.py): they set the Stop.
- The exit code: the stop reason's (2 the journal or report could not be written, 3 auth, 75
  stopped early, 130 interrupted) if the run stopped, else 0 when every row of the run
  (earlier sessions' too) ended ok, else 1. A report that cannot be written (disk full) is
  exit 2 too, the journal holding the run (`pcbatch report` writes it later).

Nothing here prints: progress goes to `on_progress`, warnings to logging, results are returned.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from batch.core.errors import AuthFailed, ConfigError, PcbatchError
from batch.core.model import Change, Outcome, Row, RunStats, Sheet, Status
from batch.core.options import RunOptions, default_out, resolve_base_url
from batch.core.preflight import misconfiguration
from batch.core.resume import choose_run, lost_journal
from batch.core.stops import Stop
from batch.durable.files import private_dir
from batch.durable.journal import JOURNAL_NAME, Journal
from batch.durable.lock import RunLock, check_free
from batch.engine.interrupt import stop_on_signals
from batch.engine.nightly import Nightly
from batch.engine.pool import Progress, run_pool
from batch.engine.rules_cache import RulesCache
from batch.output.report import write_report
from batch.output.row_log import log_if_skipped, log_not_sent, logging_outcomes
from batch.sheets.sheet import input_sha256, load_sheet, sheet_warnings
from batch.wire.auth import TokenProvider, tenant_of
from batch.wire.client import Client, new_request_id
from batch.wire.credentials import credential_source, provider_from_env

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
    on_started: Callable[[Path, int, str], None] | None = None,
    stop: Stop | None = None,
    force: bool = False,
) -> RunResult:
    """Run the bulk update the options describe, or continue one (--resume); report written.

    env: the environment to read credentials and PC_BASE_URL from (os.environ in the CLI).
    on_started(out_dir, rows to send, target): called once the journal holds the run, before
    the first call; target is target_line's sentence (cloud, tenant, base URL).
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
    on_started: Callable[[Path, int, str], None] | None,
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
    private_dir(out_dir, create=False)  # exit 2: another user's, or others may write to it
    check_free(out_dir)  # exit 4 at once, before reading the sheet or signing in
    if not (out_dir / JOURNAL_NAME).is_file():
        # A report without its journal: the journal was lost; never start over on it.
        lost = lost_journal(_report_of(out_dir), None, {}, journal_exists=False, out_dir=out_dir)
        if lost is not None:
            raise lost
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
    tenant = None
    if sheet is None or sheet.rows:
        # Sign in before the journal: credentials the login server refuses end the run here
        # (ConfigError, exit 2, nothing sent) instead of failing the first rows one by one.
        tenant = tenant_of(await tokens.token())
    target = target_line(options.cloud, tenant, base_url, dry_run=options.dry_run)
    recorded_options = {**options.as_record(), "base_url": base_url, "tenant": tenant}
    if stop.reason is not None:
        raise stop.reason  # a signal came before the run started: nothing was sent

    with RunLock(out_dir), Journal.open(out_dir) as journal:
        _check_against_report(journal, out_dir)
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
                nightly=options.state is not None,
            )
        if run_id is None:
            log.info("no unfinished run of this input in %s: a new run", out_dir)
            sheet = sheet or _load(options)
            nightly = await Nightly.start(options, base_url, tokens, sheet.rows)  # --incremental
            preflight = 0
            if nightly.window is None:  # the log's answers showed the settings right already
                preflight = await _preflight(
                    nightly.to_send(sheet.rows), base_url, tokens, options, env
                )
            cleaned = [{"row": c.row, "column": c.column, "what": c.reason} for c in sheet.cleaned]
            run_record = recorded_options | nightly.summary() | {"cleaned_cells": cleaned}
            run_id = journal.start_run(sheet, digest, run_record)
            rows, sent_before, columns = sheet.rows, {}, sheet.columns
            log.info(
                "run %d started: %d rows to send, %d rejected by validation; report in %s",
                run_id,
                len(sheet.rows),
                len(sheet.not_sent),
                out_dir,
            )
            log_not_sent(sheet.not_sent)  # issue 27: every finished row has a log line
        else:
            preflight = await _preflight(pending, base_url, tokens, options, env)
            journal.resume_run(run_id, recorded_options)
            rows, sent_before = pending, journal.puts_sent(run_id)
            columns = journal.run_info(run_id).columns
            nightly = await Nightly.start(options, base_url, tokens, rows, resumed=True)
            log.info("run %d resumed: %d rows to send; report in %s", run_id, len(rows), out_dir)
        rows = nightly.journal_known(rows, logging_outcomes(journal.record))  # no call
        log.info("%s", target)  # before the first PUT: where this run writes
        if on_started is not None:
            on_started(out_dir, len(rows), target)

        def before_put(row: Row, changes: tuple[Change, ...], etag: str) -> None:
            # Committed before the PUT is sent: after a crash, --resume knows it may have landed.
            # A journal that cannot be written raises here: the PUT is not sent, the run stops.
            journal.record_put(row.number, changes, etag=etag)

        def record_outcome(outcome: Outcome) -> None:
            try:
                journal.record(outcome)
                log_if_skipped(outcome)  # issue 27: every finished row has a log line
            except PcbatchError as exc:  # disk full: stop; --resume re-plans unrecorded rows
                stop.set(exc)

        def checkpoint(stats: RunStats) -> None:
            # The session's counters so far: kept if the process is killed before the end.
            try:
                journal.record_stats(replace(stats, requests=stats.requests + preflight))
            except PcbatchError as exc:
                stop.set(exc)

        # Each country's rules are fetched once per run, when a row of it first needs them; the
        # final answers an earlier session got are used again (no new fetch on --resume).
        known = {c: a for c, a in journal.country_rules(run_id).items() if a.final}
        country_rules = RulesCache(
            known, on_fetched=nightly.keeping_rules(journal.record_rules), kept=nightly.kept_rules
        )

        async with Client(
            base_url, tokens, timeout=options.timeout, connections=options.concurrency
        ) as client:
            # journal.record commits each outcome before the pool counts the row as done
            # (durable before progress).
            result = await run_pool(
                rows,
                client,
                options,
                nightly.learning(record_outcome),
                on_progress=on_progress,
                stop=stop,
                pacer=nightly.pacer,
                sent_before=sent_before,
                before_put=before_put,
                country_rules=country_rules,
                columns=columns,
                known_profiles=nightly.known_profiles,
                on_stats=checkpoint,
            )
        nightly.finish()
        # Every row of the run counts, those of earlier sessions too; none recorded: skipped.
        counts = journal.counts(run_id)
        stats = replace(result.stats, requests=result.stats.requests + preflight)
        stopped = result.stopped
        if isinstance(stopped, AuthFailed):
            stopped = AuthFailed(f"{stopped}; the credentials came from {credential_source(env)}")
        if stopped is not None:
            exit_code = stopped.exit_code
            log.error("%s", stopped)
        else:
            exit_code = 0 if all(status.ok for status in counts) else 1
        try:
            journal.finish_run(stats, exit_code)
        except PcbatchError as exc:  # the disk filled up: the report is still tried
            if str(exc) != str(stopped):
                log.error("%s", exc)
            exit_code, stopped = 2, stopped or exc
        try:
            write_report(out_dir, journal)
        except (PcbatchError, OSError) as exc:
            exit_code = 2
            stopped = stopped or ConfigError(str(exc))
            log.error(
                "the report could not be written in %s (%s): free space or fix the folder's "
                "permissions, then `pcbatch report --out %s` writes it from the journal",
                out_dir,
                exc.strerror if isinstance(exc, OSError) else exc,
                out_dir,
            )
    return RunResult(
        out_dir=out_dir,
        exit_code=exit_code,
        statuses=counts,
        stats=stats,
        stopped=stopped,
        rows=sum(counts.values()),
    )


def target_line(cloud: str, tenant: str | None, base_url: str, *, dry_run: bool) -> str:
    """The sentence said before the first write: which cloud, tenant (from the token's `tid`
    claim, or `unknown`) and base URL the run is about to change."""
    doing = "dry run (reads only) against" if dry_run else "writing to"
    return f"{doing} cloud {cloud}, tenant {tenant or 'unknown'}, base URL {base_url}"


async def _preflight(
    rows: Sequence[Row],
    base_url: str,
    tokens: TokenProvider,
    options: RunOptions,
    env: Mapping[str, str],
) -> int:
    """One GET of the first row's profile before anything is written (core/preflight.py),
    sent once more after renewing a refused token: raises ConfigError (exit 2) when it shows a
    wrong setting rather than an outage. Returns the requests it sent (summary.json counts
    them)."""
    if not rows or options.limit == 0:
        return 0
    async with Client(base_url, tokens, timeout=options.timeout, connections=1) as client:
        reply = await client.get_profile(rows[0].customer_id, new_request_id())
        sent = 1
        if reply.status == 401:
            await client.renew_token()
            reply = await client.get_profile(rows[0].customer_id, new_request_id())
            sent = 2
    wrong = misconfiguration(reply, base_url, credential_source(env))
    if wrong is not None:
        raise wrong
    return sent


def _report_of(out_dir: Path) -> Mapping[str, object] | None:
    """out_dir's summary.json, or None when there is none (or it cannot be read)."""
    try:
        found = json.loads((out_dir / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def _check_against_report(journal: Journal, out_dir: Path) -> None:
    """Raise ConfigError (exit 2) when out_dir's report shows more than its journal holds."""
    report = _report_of(out_dir)
    if report is None:
        return
    run = journal.run_started_at(str(report.get("started_at")))
    counts = journal.counts(run.run_id) if run is not None else {}
    lost = lost_journal(report, run, counts, journal_exists=True, out_dir=out_dir)
    if lost is not None:
        raise lost


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
