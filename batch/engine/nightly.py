"""`pcbatch run --incremental`: tonight decided before the pool starts, as one value (Night).

The rules are core/incremental.py's; this module carries them out for one run
(docs/howto/nightly.md):

1. Open the job's state (--state DIR, durable/state.py) and choose tonight's window, or a full
   run and why (no earlier run, --full-every due, the state older than the log keeps).
2. Read the activity log (`GET /v1/auditrecords`) page by page, each call through the one call
   path (engine/calls.py). A page that cannot be read (an error answer after the retries, a
   broken page, a next link that cannot be followed, a refused window) makes the run a full
   one, saying why.
3. Rows the log and the state show unchanged end `unchanged` with no call (Night.known_outcomes,
   journalled like any outcome, their message saying so); a changed row of a customer the log
   shows untouched is PUT onto the profile and etag the state kept, without a GET
   (Night.known_profiles, If-Match guarding it); every other row goes to the pool.
4. Each outcome teaches the state (engine/learner.Learner, a subscriber of the pool;
   core/incremental.learned);
   a dry run leaves the state alone. A --resume session finishes the state's run of the night
   it continues (its start is in the journal's record, `state_run`): a killed full night
   completed by --resume counts as a full run.
5. A state that cannot be read or written (a full disk, a damaged file: durable/state.py's
   ConfigError) before the pool starts ends the run there, nothing sent; once the pool runs,
   the Learner stops using it and sets the Stop with that error (exit 2), as a journal that
   cannot be written does: the rows not started end `skipped`, the journal's run is finished
   and the report written (engine/run.py).

The run's summary.json carries what was decided (`nightly`), from the journal's run record.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial

from batch.core.activity_log import MAX_PAGES, AuditRecord, read_audit_page, token_identity
from batch.core.country_rules import RulesAnswer
from batch.core.errors import PcbatchError
from batch.core.export_rows import PageTrail
from batch.core.incremental import (
    KNOWN_MESSAGE,
    RULES_KEPT_FOR,
    FullRun,
    Window,
    changed_customers,
    choose_window,
    clock_skew,
    first_page_url,
    known_unchanged,
    log_lag,
    log_lagging,
    may_put_onto_known,
    request_windows,
    skewed,
)
from batch.core.model import KnownProfile, Outcome, Row, Status
from batch.core.options import RunOptions
from batch.core.retry import Action, Call, Reply, describe
from batch.durable.journal import utc_now
from batch.durable.state import JobState
from batch.engine.calls import Calls
from batch.engine.learner import Learner
from batch.wire.auth import TokenProvider

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Night:
    """Tonight, decided: what summary.json shows under `nightly` (None without --state), the
    log's window (None: a full run), the rows known unchanged (their outcomes, no call), the
    kept profiles to PUT onto (row -> profile), the kept country rules, and the Learner."""

    record: Mapping[str, object] | None = None
    window: Window | None = None
    known_outcomes: tuple[Outcome, ...] = ()
    known_profiles: Mapping[int, KnownProfile] = field(default_factory=dict)
    kept_rules: Mapping[str, RulesAnswer] = field(default_factory=dict)
    learner: Learner | None = None

    def to_send(self, rows: Sequence[Row]) -> Sequence[Row]:
        """The rows not known unchanged: the ones the run calls the service for."""
        if not self.known_outcomes:
            return rows
        vouched = {outcome.row for outcome in self.known_outcomes}
        return [row for row in rows if row.number not in vouched]

    def keep_service_time(self, service_date: datetime | None, here: datetime) -> None:
        """A full night's state times in the service's clock (the pre-flight read's `Date`)
        when this machine's is off by more than the allowance: the next night's window is
        compared with the log's operationDate. Logged; a right clock changes nothing."""
        skew = clock_skew(here, service_date)
        off = skewed(skew)
        learner = self.learner
        if off is None or skew is None or learner is None or not learner.learns:
            return
        log.warning("%s", off.reason)
        learner.shift(skew)
        started = learner.planned_start
        if isinstance(self.record, dict) and started is not None and "state_run" in self.record:
            self.record["state_run"] = started.isoformat()  # what --resume finds the run by

    def summary(self) -> dict[str, object]:
        """What the journal's run record keeps for summary.json's `nightly` (nothing when off)."""
        return {} if self.record is None else {"nightly": dict(self.record)}

    def close(self) -> PcbatchError | None:
        """Close the state (its learning committed); the state's error, if it had one."""
        if self.learner is None:
            return None
        self.learner.close()
        return self.learner.failure


async def plan_night(
    options: RunOptions,
    calls: Calls,
    tokens: TokenProvider,
    base_url: str,
    rows: Sequence[Row],
    *,
    resumed: Mapping[str, object] | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> Night:
    """Tonight's decision: the log read (or a full run, and why), the state's run begun.

    rows: the rows the run would send. resumed: for a --resume session, what the journal's run
    recorded of its night (`nightly`, {} when nothing): the session sends its pending rows as
    they are (the log is not read), teaches the state what its outcomes show, and finishes the
    state's run that night began. Raises ConfigError (exit 2) when the state cannot be read.
    """
    if options.state is None:
        return Night()
    learner = Learner(JobState.open(options.state), rows, learns=not options.dry_run, clock=clock)
    try:
        if resumed is not None:
            began = resumed.get("state_run")
            if isinstance(began, str):
                learner.plan(datetime.fromisoformat(began), full=None)
            record = {"mode": "resumed", "reason": "a resumed run sends its pending rows"}
            return Night(record, learner=learner)
        return await _decide(options, calls, tokens, base_url, rows, learner, clock)
    except BaseException:
        learner.close()
        raise


async def _decide(
    options: RunOptions,
    calls: Calls,
    tokens: TokenProvider,
    base_url: str,
    rows: Sequence[Row],
    learner: Learner,
    clock: Callable[[], datetime],
) -> Night:
    """A new night: its window of the log or a full run, the rows vouched for, its state run."""
    started = clock()
    choice: Window | FullRun = FullRun("--incremental not given: a full run")
    state = learner.state
    assert state is not None
    if options.incremental:
        choice = choose_window(
            started, state.last_run_start(), state.last_full_start(), options.full_every
        )
    log_requests, changed = 0, {}  # customer -> the record that shows it changed by others
    if isinstance(choice, Window):
        read = await _read_log(calls, base_url, choice, started, clock)
        log_requests = read.requests
        if read.skew is not None and skewed(read.skew) is not None:
            # Tonight's times as the service's clock tells them: the next night's window
            # and what the state knows "as of" must compare with the log's operationDate.
            skew = read.skew
            started -= skew
            learner.clock = lambda: clock() - skew
        if read.full is None:
            # The log's own times against this machine's record of its writes (rule 1).
            read = replace(read, full=log_lagging(log_lag(read.records, learner.known)))
        if read.full is None:
            me = token_identity(await tokens.token())
            changed = changed_customers(read.records, learner.known, me)
        if read.full is not None:
            choice = read.full
        else:
            learner.log_read_at = started  # the first page's time: later changes are next run's
    record: dict[str, object]
    if isinstance(choice, FullRun):
        level = logging.WARNING if options.incremental else logging.INFO
        log.log(level, "a full run tonight: %s", choice.reason)
        record = {"mode": "full", "reason": choice.reason}
        night = Night(record, learner=learner)
    else:
        log.info(
            "--incremental: the activity log since %s shows %d customers changed by others",
            choice.start.isoformat(timespec="seconds"),
            len(changed),
        )
        record = {
            "mode": "incremental",
            "reason": None,
            "window_start": choice.start.isoformat(timespec="seconds"),
            "changed_in_log": len(changed),
        }
        learner.kept_rules = state.kept_rules(started - RULES_KEPT_FOR)
        night = _vouch(record, choice, rows, changed, learner)
    record["log_requests"] = log_requests
    learner.plan(started, full=night.window is None)
    if learner.learns:
        record["state_run"] = started.isoformat()  # a --resume session finishes that run
    return night


def _vouch(
    record: dict[str, object],
    window: Window,
    rows: Sequence[Row],
    changed: Mapping[str, AuditRecord],
    learner: Learner,
) -> Night:
    """Which rows the log and the state show unchanged (core/incremental.known_unchanged), and
    which may be PUT onto the profile the state kept (not in a dry run: it reads what it
    would change)."""
    vouched: list[Outcome] = []
    onto_known: dict[str, int] = {}  # customer -> row, to PUT onto its kept profile
    for row in rows:
        known = learner.known.get(row.customer_id)
        if known is not None and known_unchanged(row, known, changed, window):
            vouched.append(
                Outcome(row.number, row.customer_id, Status.UNCHANGED, message=KNOWN_MESSAGE)
            )
            learner.confirm(row.customer_id)
        elif learner.learns and may_put_onto_known(row, known, changed, window):
            onto_known[row.customer_id] = row.number
    profiles: dict[int, KnownProfile] = {}
    if onto_known and learner.state is not None:
        for customer_id, profile in learner.state.profiles(onto_known).items():
            profiles[onto_known[customer_id]] = profile
    record["known_unchanged"] = len(vouched)
    record["put_without_get"] = len(profiles)
    log.info(
        "--incremental: %d rows known unchanged from the activity log (no call), %d to send"
        " (%d of them onto the profile the state kept, no GET)",
        len(vouched),
        len(rows) - len(vouched),
        len(profiles),
    )
    return Night(record, window, tuple(vouched), profiles, learner.kept_rules, learner)


@dataclass(frozen=True, slots=True)
class _LogRead:
    """The log's pages read: requests sent, the records, or why a full run."""

    requests: int
    records: Sequence[AuditRecord] = ()
    full: FullRun | None = None
    skew: timedelta | None = None  # this clock less the service's, from the first answer


async def _read_log(
    calls: Calls,
    base_url: str,
    window: Window,
    now: datetime,
    clock: Callable[[], datetime],
) -> _LogRead:
    """Every page of the log in the window: its records, or why a full run (a clock that
    differs from the service's by more than the allowance included)."""
    records: list[AuditRecord] = []
    answers: list[Reply] = []
    skew: timedelta | None = None

    # At most 30 days a request, each request paged (core/incremental.request_windows).
    for begin, _ in request_windows(window.start, now):
        url, continuation = first_page_url(base_url, begin), None
        trail = PageTrail(MAX_PAGES + 1)  # a repeated continuation token ends the reading
        for number in range(1, MAX_PAGES + 1):
            answered = await calls.send(
                partial(calls.client.list_audit_records, url, continuation=continuation),
                Call.LIST,
                label=f"page {number} of the activity log",
                on_try=lambda reply, _: answers.append(reply),
            )
            if answered.decision.action is not Action.DONE:
                why = f"the activity log could not be read: {describe(answered.reply)}"
                return _LogRead(len(answers), full=FullRun(why))
            if skew is None:
                skew = clock_skew(clock(), answered.reply.date)
                off = skewed(skew)
                if off is not None:
                    return _LogRead(len(answers), full=off, skew=skew)
            page = read_audit_page(answered.reply.body, base_url, trail)
            if page.problem is not None:
                problem = f"activity log, page {number}: {page.problem}"
                return _LogRead(len(answers), full=FullRun(problem))
            records.extend(page.records)
            if page.next is None:
                break
            url, continuation = page.next.url, page.next.continuation
        else:
            too_many = f"the activity log has more than {MAX_PAGES} pages"
            return _LogRead(len(answers), full=FullRun(too_many))
    return _LogRead(len(answers), records)
