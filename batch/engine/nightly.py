"""`pcbatch run --incremental`: read the activity log first, send only the rows it cannot vouch for.

The rules are core/incremental.py's; this module carries them out for one run (README.md,
"Nightly runs"):

1. Open the job's state (--state DIR, state.py) and choose tonight's window, or a full run and
   why (no earlier run, --full-every due, the state older than the log keeps).
2. Read the activity log (`GET /v1/auditrecords`) page by page, each call through the run's
   pacing and retries (update.call_with_retries, as the export lists customers). A page that
   cannot be read (an error answer after the retries, a broken page, a next link that cannot
   be followed, a refused window) makes the run a full one, saying why.
3. Rows the log and the state show unchanged end `unchanged` with no call, journalled like any
   outcome, their message saying so; a changed row of a customer the log shows untouched is
   PUT onto the profile and etag the state kept, without a GET (`known_profiles`, If-Match
   guarding it); every other row goes to the pool as in a full run.
4. Each outcome teaches the state (core/incremental.learned); a dry run leaves the state alone.

The run's summary.json carries what was decided (`nightly`), from the journal's run record.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial

from batch.core.country_rules import RulesAnswer
from batch.core.export_rows import PageTrail
from batch.core.incremental import (
    KNOWN_MESSAGE,
    MAX_PAGES,
    RULES_KEPT_FOR,
    AuditRecord,
    FullRun,
    Known,
    Window,
    changed_customers,
    choose_window,
    confirmed_as_of,
    first_page_url,
    known_unchanged,
    learned,
    may_put_onto_known,
    read_audit_page,
    token_identity,
)
from batch.core.model import KnownProfile, Outcome, Row, Status
from batch.core.options import RunOptions
from batch.core.retry import Action, Call, Decision, Reply, Tries, describe
from batch.core.throttle import AdaptiveRate
from batch.durable.state import JobState
from batch.engine.pacing import Pacer
from batch.engine.update import Context, call_with_retries
from batch.wire.auth import TokenProvider
from batch.wire.client import Client

log = logging.getLogger(__name__)

SAVE_EVERY = 500  # outcomes the state learns before it commits them (and at the end)


def utc_now() -> datetime:
    return datetime.now(UTC)


class Nightly:
    """One run's use of the job state; a run without --incremental gets one that does nothing
    but hold the pacing (`Nightly.off`).

    pacer: the run's pacing, shared by the log's pages and the pool's calls.
    record: what summary.json shows under `nightly` (None without --incremental).
    known_profiles: row -> the profile and etag to PUT it onto without a GET (not in a dry
    run: it reads what it would change).
    kept_rules: country -> the rules answer an earlier run fetched (incremental runs only;
    core/incremental.RULES_KEPT_FOR).
    """

    def __init__(
        self,
        pacer: Pacer,
        state: JobState | None = None,
        *,
        learns: bool = False,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.pacer = pacer
        self.state = state
        self.learns = learns and state is not None
        self.clock = clock
        self.record: dict[str, object] | None = None
        self.known: dict[str, Known] = {}
        self.window: Window | None = None
        self.changed: dict[str, AuditRecord] = {}
        self.log_read_at: datetime | None = None
        self._state_run: int | None = None
        self._rows: dict[int, Row] = {}
        self._vouched: list[Row] = []
        self.known_profiles: dict[int, KnownProfile] = {}
        self.kept_rules: dict[str, RulesAnswer] = {}
        self._learned: list[Known] = []
        self._confirmed: list[str] = []  # customers known unchanged tonight
        self._forgotten: list[str] = []

    @classmethod
    def off(cls, options: RunOptions) -> Nightly:
        return cls(Pacer(AdaptiveRate(options.rate)))

    @classmethod
    async def start(
        cls,
        options: RunOptions,
        base_url: str,
        tokens: TokenProvider,
        rows: Sequence[Row],
        *,
        resumed: bool = False,
        clock: Callable[[], datetime] = utc_now,
    ) -> Nightly:
        """Tonight's decision: the log read (or a full run, and why), the state's run begun.

        rows: the rows the run would send. resumed: a --resume session sends its pending rows
        as they are (the log is not read); it still teaches the state what its outcomes show.
        """
        if options.state is None:
            return cls.off(options)
        state = JobState.open(options.state)
        nightly = cls(
            Pacer(AdaptiveRate(options.rate)), state, learns=not options.dry_run, clock=clock
        )
        nightly.known = state.known()
        if resumed:
            nightly.record = {"mode": "resumed", "reason": "a resumed run sends its pending rows"}
            nightly._rows = {row.number: row for row in rows}
            return nightly
        started = clock()
        choice: Window | FullRun = FullRun("--incremental not given: a full run")
        if options.incremental:
            choice = choose_window(
                started, state.last_run_start(), state.last_full_start(), options.full_every
            )
        log_requests = 0
        if isinstance(choice, Window):
            read = await nightly._read_log(options, base_url, tokens, choice, started)
            log_requests = read.requests
            if read.full is None:
                nightly.window = choice
            choice = read.full or choice
        if isinstance(choice, FullRun):
            log.log(
                logging.WARNING if options.incremental else logging.INFO,
                "a full run tonight: %s",
                choice.reason,
            )
            nightly.record = {"mode": "full", "reason": choice.reason}
        else:
            log.info(
                "--incremental: the activity log since %s shows %d customers changed by others",
                choice.start.isoformat(timespec="seconds"),
                len(nightly.changed),
            )
            nightly.record = {
                "mode": "incremental",
                "reason": None,
                "window_start": choice.start.isoformat(timespec="seconds"),
                "changed_in_log": len(nightly.changed),
            }
        nightly.record["log_requests"] = log_requests
        if nightly.window is not None:
            nightly.kept_rules = state.kept_rules(started - RULES_KEPT_FOR)
        nightly._vouch(rows)
        if nightly.learns:
            nightly._state_run = state.begin_run(started, full=nightly.window is None)
        return nightly

    def summary(self) -> dict[str, object]:
        """What the journal's run record keeps for summary.json's `nightly` (nothing when off)."""
        return {} if self.record is None else {"nightly": self.record}

    def journal_known(
        self, rows: Sequence[Row], on_outcome: Callable[[Outcome], None]
    ) -> Sequence[Row]:
        """Record `unchanged` (no call) for the rows known unchanged; the rows left to send."""
        for row in self._vouched:
            on_outcome(
                Outcome(row.number, row.customer_id, Status.UNCHANGED, message=KNOWN_MESSAGE)
            )
        return self.to_send(rows)

    def to_send(self, rows: Sequence[Row]) -> Sequence[Row]:
        """The rows not known unchanged: the ones the run calls the service for."""
        if not self._vouched:
            return rows
        vouched = {row.number for row in self._vouched}
        return [row for row in rows if row.number not in vouched]

    def _vouch(self, rows: Sequence[Row]) -> None:
        """Which rows the log and the state show unchanged (core/incremental.known_unchanged)."""
        self._rows = {row.number: row for row in rows}
        window, read_at = self.window, self.log_read_at
        if window is None or read_at is None:
            return
        onto_known: dict[str, int] = {}  # customer -> row, to PUT onto its kept profile
        for row in rows:
            known = self.known.get(row.customer_id)
            if known is not None and known_unchanged(row, known, self.changed, window):
                self._vouched.append(row)
                if self.learns:
                    self._confirmed.append(row.customer_id)
            # learns: not a dry run (which reads every row it would send)
            elif self.learns and may_put_onto_known(row, known, self.changed, window):
                onto_known[row.customer_id] = row.number
        if onto_known and self.state is not None:
            for customer_id, profile in self.state.profiles(onto_known).items():
                self.known_profiles[onto_known[customer_id]] = profile
        if self.record is not None:
            self.record["known_unchanged"] = len(self._vouched)
            self.record["put_without_get"] = len(self.known_profiles)
        log.info(
            "--incremental: %d rows known unchanged from the activity log (no call), %d to send"
            " (%d of them onto the profile the state kept, no GET)",
            len(self._vouched),
            len(rows) - len(self._vouched),
            len(self.known_profiles),
        )

    def learning(self, on_outcome: Callable[[Outcome], None]) -> Callable[[Outcome], None]:
        """on_outcome, then the state learns what the outcome shows (not in a dry run)."""
        if not self.learns:
            return on_outcome

        def record(outcome: Outcome) -> None:
            on_outcome(outcome)
            row = self._rows.get(outcome.row)
            if row is None:
                return
            before = self.known.get(row.customer_id)
            after = learned(row, outcome, self.clock(), before)
            if after is None:
                self._forgotten.append(row.customer_id)
            elif after is not before:
                self._learned.append(after)
            if len(self._learned) + len(self._forgotten) >= SAVE_EVERY:
                self._save()

        return record

    def keeping_rules(
        self, on_fetched: Callable[[RulesAnswer], None]
    ) -> Callable[[RulesAnswer], None]:
        """on_fetched, then the state keeps a final answer fetched now (not in a dry run)."""
        if not self.learns:
            return on_fetched

        def keep(answer: RulesAnswer) -> None:
            on_fetched(answer)
            fetched = self.kept_rules.get(answer.iso2) is not answer
            if fetched and answer.final and self.state is not None:
                self.state.keep_rules(answer, self.clock())

        return keep

    def finish(self) -> None:
        """Commit what the state learned, mark the state's run finished, close the state."""
        if self.state is None:
            return
        if self.learns:
            self._save()
            if self._state_run is not None:
                self.state.finish_run(self._state_run, self.clock())
        self.state.close()
        self.state = None

    def _save(self) -> None:
        assert self.state is not None
        if self._confirmed and self.log_read_at is not None:
            self.state.confirm(self._confirmed, confirmed_as_of(self.log_read_at))
        self.state.save(self._learned)
        for customer_id in self._forgotten:
            self.state.forget(customer_id)
        self._learned, self._forgotten, self._confirmed = [], [], []

    async def _read_log(
        self,
        options: RunOptions,
        base_url: str,
        tokens: TokenProvider,
        window: Window,
        now: datetime,
    ) -> _LogRead:
        """Every page of the log in the window: the changed customers, or why a full run."""
        records: list[AuditRecord] = []
        requests = 0

        def counted(reply: Reply, decision: Decision) -> None:
            nonlocal requests
            requests += 1

        url, continuation = first_page_url(base_url, window.start, now), None
        trail = PageTrail(MAX_PAGES + 1)  # issue 28: a repeated token ends the reading
        async with Client(base_url, tokens, timeout=options.timeout, connections=1) as client:
            ctx = Context(client=client, gate=self.pacer, policy=options.retry_policy)
            for number in range(1, MAX_PAGES + 1):
                answered = await call_with_retries(
                    ctx,
                    partial(client.list_audit_records, url, continuation=continuation),
                    Call.GET,
                    Tries(),
                    label=f"page {number} of the activity log",
                    on_try=counted,
                )
                if answered.decision.action is not Action.DONE:
                    why = describe(answered.reply)
                    return _LogRead(requests, f"the activity log could not be read: {why}")
                page = read_audit_page(answered.reply.body, base_url, trail)
                if page.problem is not None:
                    return _LogRead(requests, f"activity log, page {number}: {page.problem}")
                records.extend(page.records)
                if page.next is None:
                    break
                url, continuation = page.next.url, page.next.continuation
            else:
                return _LogRead(requests, f"the activity log has more than {MAX_PAGES} pages")
        self.log_read_at = now  # the first page's time: later changes are the next run's
        me = token_identity(await tokens.token())
        self.changed = changed_customers(records, self.known, me)
        return _LogRead(requests, None)


class _LogRead:
    __slots__ = ("full", "requests")

    def __init__(self, requests: int, why: str | None) -> None:
        self.requests = requests
        self.full = None if why is None else FullRun(why)
