"""One `pcbatch run`, end to end: options -> credentials -> sheet -> journal -> pool -> report.

Order matters for the promises the docs make:
- Every check that can fail without sending anything comes first (engine/prepare.py): those
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

It reads as prepare -> session -> finish, each returning a value: `prepare` (every check
that sends nothing, the sheet, the sign-in) gives a Prepared; `_begin` (the journal's new or
continued run, tonight's decision, the pre-flight read) a Session; `_run_session` the pool's
PoolResult, its outcomes going to the journal, the job state and the log (pool.Subscribers);
`_finish` the RunResult. `pcbatch apply` is this same run with `plan` given: its rows are the
plan's (engine/reviewed.plan_sheet), its input hash the plan's, and each row starts from the
profile and etag the plan read (a KnownProfile carrying the planned changes: no GET).
One Pacer (made from the options) and one Client serve every call of the run (engine/calls.py).

Nothing here prints: progress goes to `on_progress`, warnings to logging, results are returned.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from pathlib import Path

from batch.core.customer_update import Setup
from batch.core.errors import AuthFailed, ConfigError, PcbatchError
from batch.core.model import Change, Outcome, Row, RunStats, Status, Tally
from batch.core.options import RunOptions
from batch.core.plan import country_after
from batch.core.preflight import misconfiguration
from batch.core.resume import choose_run
from batch.core.retry import Call, tally_of
from batch.core.reviewed import ApprovedPlan
from batch.core.stops import Stop
from batch.durable.files import remove_leftovers
from batch.durable.journal import Journal, utc_now
from batch.durable.lock import RunLock
from batch.engine.calls import Calls, open_calls
from batch.engine.interrupt import stop_on_signals
from batch.engine.nightly import Night, plan_night
from batch.engine.pacing import pacer_for
from batch.engine.pool import CustomerPool, JournalSink, PoolResult, Progress, Subscribers
from batch.engine.prepare import Prepared, check_against_report, load, prepare
from batch.engine.rules_cache import RulesCache
from batch.engine.update import Context
from batch.output.row_log import log_not_sent, log_outcome
from batch.wire.credentials import credential_source

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


@dataclass(frozen=True, slots=True)
class Preflight:
    """The pre-flight read as it went: what its calls did, the country whose rules the first
    row will want (None: not read, or not known), and the service's time it answered at."""

    tally: Tally = field(default_factory=Tally)
    country: str | None = None
    date: datetime | None = None  # the service's clock, from the answer's Date header


@dataclass(frozen=True, slots=True)
class Session:
    """The journal's run this session sends: its rows (those known unchanged already recorded),
    the PUTs earlier sessions sent (--resume), the sheet's headers, tonight's decision, and the
    pre-flight read (its calls, and the country its profile showed)."""

    run_id: int
    rows: Sequence[Row]
    sent_before: Mapping[int, tuple[Change, ...]]
    columns: Mapping[str, str]
    night: Night
    preflight: Preflight


async def run_job(
    options: RunOptions,
    env: Mapping[str, str],
    *,
    on_progress: Callable[[Progress], None] | None = None,
    on_started: Callable[[Path, int, str], None] | None = None,
    stop: Stop | None = None,
    force: bool = False,
    plan: ApprovedPlan | None = None,
    on_outcome: Sequence[Callable[[Outcome], None]] = (),
) -> RunResult:
    """Run the bulk update the options describe, or continue one (--resume); report written.

    env: the environment to read credentials and PC_BASE_URL from (os.environ in the CLI).
    on_started(out_dir, rows to send, target): called once the journal holds the run, before
    the first call; target is target_line's sentence (cloud, tenant, base URL).
    stop: set it to stop starting customers; SIGINT/SIGTERM set it while the run goes on
    (interrupt.py). force: with --resume, continue although the input changed (core/resume.py).
    plan: `pcbatch apply`'s approved plan, sent instead of the input sheet (options.input names
    the plan file). on_outcome: more outcome subscribers, told before the journal (the plan's
    ProfileRecorder: a row the journal holds as done has its profile kept).
    Raises PcbatchError only before anything was sent: exit 2 or 4, or 130 when interrupted
    before the run started.
    """
    stop = stop or Stop()
    with stop_on_signals(stop, grace=options.timeout):
        prepared = await prepare(options, env, stop, plan)
        options, out_dir = prepared.options, prepared.out_dir
        with RunLock(out_dir), Journal.open(out_dir) as journal:
            remove_leftovers(out_dir)  # report files a killed process was writing (locked)
            check_against_report(journal, out_dir)
            pacer = pacer_for(options)
            async with open_calls(options, prepared.base_url, prepared.tokens, pacer) as calls:
                session = await _begin(prepared, journal, calls, env, force)
                log.info("%s", prepared.target)  # before the first PUT: where this run writes
                if on_started is not None:
                    on_started(out_dir, len(session.rows), prepared.target)
                progress = () if on_progress is None else (on_progress,)
                ended = await _run_session(
                    prepared, session, journal, calls, stop, progress, on_outcome
                )
            return _finish(prepared, session, journal, ended, env)


async def _begin(
    prepared: Prepared, journal: Journal, calls: Calls, env: Mapping[str, str], force: bool
) -> Session:
    """The journal's run to send: a new one (tonight decided, then the pre-flight read) or,
    with --resume, the last one continued (core/resume.py decides which)."""
    options, out_dir = prepared.options, prepared.out_dir
    run_id: int | None = None
    pending: list[Row] = []
    if options.resume:
        last = journal.last_run()
        pending = journal.pending_rows(last.run_id) if last is not None else []
        run_id = choose_run(
            last,
            len(pending),
            prepared.digest,
            input_path=options.input,
            dry_run=options.dry_run,
            force=force,
            out_dir=out_dir,
            nightly=options.state is not None,
        )
    if run_id is None:
        log.info("no unfinished run of this input in %s: a new run", out_dir)
        sheet = prepared.sheet or load(options, prepared.plan)
        night = await plan_night(options, calls, prepared.tokens, prepared.base_url, sheet.rows)
    else:
        info = journal.run_info(run_id)
        began = info.options.get("nightly")
        # The state first: one that cannot be read ends the session before anything is sent.
        night = await plan_night(
            options,
            calls,
            prepared.tokens,
            prepared.base_url,
            pending,
            resumed=began if isinstance(began, Mapping) else {},
        )
    try:
        # No pre-flight read when the log's answers showed the settings right already, nor for
        # a plan (read from the same base URL: the apply command checks it; no GET per row).
        preflight = Preflight()
        if run_id is None:
            if night.window is None and prepared.plan is None:
                to_send = night.to_send(sheet.rows)
                preflight = await _preflight(calls, to_send, prepared.base_url, env, options.limit)
                night.keep_service_time(preflight.date, utc_now())
            cleaned = [{"row": c.row, "column": c.column, "what": c.reason} for c in sheet.cleaned]
            record = {**prepared.recorded_options, **night.summary(), "cleaned_cells": cleaned}
            run_id = journal.start_run(sheet, prepared.digest, record)
            rows, sent_before, columns = sheet.rows, {}, sheet.columns
            log.info(
                "run %d started: %d rows to send, %d rejected by validation; report in %s",
                run_id,
                len(sheet.rows),
                len(sheet.not_sent),
                out_dir,
            )
            log_not_sent(sheet.not_sent)  # every finished row has its line
        else:
            if prepared.plan is None:
                preflight = await _preflight(calls, pending, prepared.base_url, env, options.limit)
            journal.resume_run(run_id, prepared.recorded_options)
            rows, sent_before, columns = pending, journal.puts_sent(run_id), info.columns
            log.info("run %d resumed: %d rows to send; report in %s", run_id, len(rows), out_dir)
        for outcome in night.known_outcomes:  # known unchanged: journalled, no call
            journal.record(outcome)
            log_outcome(outcome)
    except BaseException:
        night.close()  # the state's run not begun: a night that ends here is no full run
        raise
    return Session(run_id, night.to_send(rows), sent_before, columns, night, preflight)


async def _run_session(
    prepared: Prepared,
    session: Session,
    journal: Journal,
    calls: Calls,
    stop: Stop,
    progress: Sequence[Callable[[Progress], None]],
    on_outcome: Sequence[Callable[[Outcome], None]] = (),
) -> PoolResult:
    """The session's rows through the pool; every outcome journalled as it lands, each PUT's
    changes just before it is sent; the job state learns from both."""
    options, night = prepared.options, session.night
    sink = JournalSink(journal, stop, session.preflight.tally)
    learner = night.learner
    # Each country's rules are fetched once per run, when a row of it first needs them; the
    # final answers an earlier session got are used again (no new fetch on --resume).
    known = {c: a for c, a in journal.country_rules(session.run_id).items() if a.final}
    on_fetched = [journal.record_rules] + ([learner.keep_rules] if learner else [])
    rules = RulesCache(known, on_fetched=on_fetched, kept=night.kept_rules)
    setup = Setup(
        options.retry_policy,
        dry_run=options.dry_run,
        validate_addresses=options.validate_addresses,
        checks_rules=True,
        columns=session.columns,
    )
    outcome = [*on_outcome, sink.record] + ([learner.on_outcome] if learner else []) + [log_outcome]
    known_profiles = night.known_profiles
    if prepared.plan is not None:  # apply: every row PUT onto the profile the plan read
        known_profiles = {p.row.number: p.known for p in prepared.plan.rows}
    subscribers = Subscribers(outcome=outcome, progress=progress, stats=[sink.checkpoint])
    pool = CustomerPool(
        session.rows,
        Context(calls, setup, rules, before_put=sink.before_put),
        options,
        subscribers,
        stop,
        sent_before=session.sent_before,
        known_profiles=known_profiles,
        first_country=session.preflight.country,
    )
    if learner is not None:
        learner.stop = stop  # a state that cannot be written stops the run as the journal does
        learner.begin()
    _warm_report()
    try:
        ended = await pool.run()
    finally:
        failed = night.close()
    if failed is not None and ended.stopped is None:  # the state failed as it closed
        ended = replace(ended, stopped=failed)
    return ended


def _finish(
    prepared: Prepared,
    session: Session,
    journal: Journal,
    ended: PoolResult,
    env: Mapping[str, str],
) -> RunResult:
    """The journal's run finished and the report written, whatever way the pool ended."""
    out_dir = prepared.out_dir
    # Every row of the run counts, those of earlier sessions too; none recorded: skipped.
    counts = journal.counts(session.run_id)
    stats = ended.stats.plus(session.preflight.tally)
    stopped = ended.stopped
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
    from batch.output.report import write_report  # warmed while the run went (_warm_report)

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


def _warm_report() -> None:
    """Import the report's writers (openpyxl: a third of a second) in a thread while the run's
    first calls are in flight, so that neither the first request nor the exit waits for it."""
    threading.Thread(
        target=importlib.import_module, args=("batch.output.report",), daemon=True
    ).start()


async def _preflight(
    calls: Calls, rows: Sequence[Row], base_url: str, env: Mapping[str, str], limit: int | None
) -> Preflight:
    """One GET of the first row's profile before anything is written (core/preflight.py),
    through the one call path (a 401 renews the token, a 429 waits its Retry-After): raises
    ConfigError (exit 2) when it shows a wrong setting rather than an outage. Returns what
    its calls did (summary.json counts them) and the country whose rules the row will want."""
    if not rows or limit == 0:
        return Preflight()
    row = rows[0]
    customer_id = row.customer_id
    tallies: list[Tally] = []
    answered = await calls.send(
        partial(calls.client.get_profile, customer_id),
        Call.PREFLIGHT,
        label="the pre-flight read",
        on_try=lambda reply, decision: tallies.append(tally_of(reply, decision)),
        customer_id=customer_id,
    )
    wrong = misconfiguration(answered.reply, base_url, credential_source(env))
    if wrong is not None:
        raise wrong
    reply = answered.reply
    country = country_after(reply.body, row) if 200 <= reply.status < 300 else None
    return Preflight(sum(tallies, Tally()), country, reply.date)
