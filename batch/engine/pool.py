"""The one pool of workers (run and export), and the run's customers through it.

    await work_through(items, perform, pacer=pacer, stop=stop, workers=options.concurrency,
                       not_started=skip)            # export's customers, and CustomerPool's rows
    ended = await CustomerPool(rows, ctx, options, subscribers, stop).run()

The loop (work_through):
- `workers` tasks take items in turn; a worker starts one only while fewer than the Pacer's
  window are in flight (a customer waiting its own Retry-After, pacing.Pacer.waiting_alone,
  takes no room meanwhile) and `may_start()` agrees (the export's read-ahead); it waits for room
  on an event set whenever an item ends or the window changes.
- `perform(item)` does the item and hands its result on itself; it is cancelled by Stop.now (a
  second signal), and then owes its item an outcome before the cancel goes on.
- Once the Stop is set (or --max-duration reached, measured on the Pacer's clock) no item
  starts: a list's items each go to `not_started`, and after a cancel those left too; an
  asynchronous source (the export's customer list) is not read further.

The run's rows (CustomerPool):
- Each customer's update is update.drive, paced and retried by the one call path.
- Outcomes go to the subscribers in their order (the journal first, JournalSink: durable
  before progress; then the job state, the log: output/row_log.py), then the progress sees the
  counters. Every STATS_EVERY customers done, the stats subscribers get the counters so far
  (the journal keeps them, so a process killed mid-run does not take its session's counters
  with it).
- Counters live in one value (Counters): each customer's update returns the Tally of its calls;
  the pool adds them up (and shows the customers in flight's so far in the progress).
- Stopping (core/stops.py): the Stop is set when a stop rule says so (the failure budget,
  --max-duration, several customers refused a credential-wide 403 with no success) or a
  customer's credentials were refused (a 401 after renewal); every row not started then ends
  `skipped`. Stop.now (a second signal, or the grace after the first running out) also cancels
  the customers in flight: they end `skipped` with a note that a PUT may have been sent.
- Rows past --limit end `skipped` without a call. Outcomes land in completion order (the
  journal sorts them back into row order).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from batch.core import customer_update as machine
from batch.core.country_rules import RulesAnswer
from batch.core.errors import PcbatchError
from batch.core.model import Change, KnownProfile, Outcome, Row, RunStats, Status, Tally
from batch.core.options import RunOptions
from batch.core.resume import settle
from batch.core.retry import Decision, Reply, tally_of
from batch.core.stops import (
    RecentResults,
    Stop,
    credentials_refused,
    failure_budget_spent,
    max_duration_reached,
)
from batch.core.time_left import TimeLeft
from batch.durable.journal import Journal
from batch.engine.pacing import Pacer
from batch.engine.update import Context, Finished, Flight, drive, fetch_rules

log = logging.getLogger(__name__)

T = TypeVar("T")
STATS_EVERY = 25  # customers done between two checkpoints of the counters (one journal write)


async def work_through(
    items: Iterator[T] | AsyncIterator[T],
    perform: Callable[[T], Awaitable[None]],
    *,
    pacer: Pacer,
    stop: Stop,
    workers: int,
    not_started: Callable[[T], None],
    customer_of: Callable[[T], str | None] = lambda _: None,
    may_start: Callable[[], bool] | None = None,
    max_duration: float | None = None,
) -> None:
    """Perform every item (see the module's rules); returns when all have ended."""
    listing = isinstance(items, AsyncIterator)
    in_flight: dict[object, str | None] = {}  # one key per item in flight -> its customer
    room = asyncio.Event()
    taking = asyncio.Lock()  # an async generator serves one worker at a time
    clock = pacer.clock
    started = clock.now()

    def busy() -> int:  # items in flight that take room in the window
        return sum(c is None or not pacer.waiting_alone(c) for c in in_flight.values())

    def full() -> bool:
        return busy() >= pacer.window.size or (may_start is not None and not may_start())

    async def take() -> T | None:
        if not listing:
            assert isinstance(items, Iterator)
            return next(items, None)
        assert isinstance(items, AsyncIterator)
        async with taking:
            return await anext(items, None)

    async def worker() -> None:
        while True:
            while full() and not stop.is_set:
                room.clear()
                await room.wait()
            if stop.is_set and listing:
                return
            item = await take()
            if item is None:
                return
            reached = max_duration_reached(clock.now() - started, max_duration)
            if reached is not None:
                stop.set(reached)
            if stop.is_set:
                not_started(item)
                continue
            key = object()
            in_flight[key] = customer_of(item)
            try:
                await perform(item)
            finally:
                del in_flight[key]
                room.set()

    pacer.attach(busy, room.set)
    tasks: list[asyncio.Task[None]] = []

    def cancel() -> None:
        for task in tasks:
            task.cancel()  # a cancelled task ends alone: a TaskGroup lets the others run on

    stop.cancel = cancel
    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(max(workers, 1)):
                tasks.append(group.create_task(worker()))
    finally:
        stop.cancel = None
    if not listing:
        assert isinstance(items, Iterator)
        for item in items:  # left by workers cancelled by Stop.now
            not_started(item)


@dataclass(frozen=True, slots=True)
class Progress:
    """What a progress bar shows, after each finished row.

    done counts every row that has its outcome, `skipped` ones included (past --limit, or not
    started after a stop); skipped says how many of those. rate: requests/s allowed now;
    measured_rate: requests/s sent of late (None at first); window: customers allowed in flight
    now; eta_s: seconds the rows left should take at the pace of late (None: not known yet, and
    after a stop); stopped: why the run stopped starting rows (None while it goes on);
    statuses: how many of the done rows ended in each status (the report counts the same).
    """

    done: int
    total: int
    rate: float
    throttled: int
    conflicts: int
    skipped: int = 0
    stopped: str | None = None
    measured_rate: float | None = None
    window: int | None = None
    eta_s: float | None = None
    statuses: Mapping[Status, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Subscribers:
    """Who the pool tells, in order: each outcome (journal, job state, log), the progress after
    it, and the counters every STATS_EVERY customers (journal)."""

    outcome: Sequence[Callable[[Outcome], None]] = ()
    progress: Sequence[Callable[[Progress], None]] = ()
    stats: Sequence[Callable[[RunStats], None]] = ()


@dataclass(frozen=True, slots=True)
class PoolResult:
    """Counters of the run, and why it stopped early (None when it ran to the end)."""

    stats: RunStats
    stopped: PcbatchError | None


@dataclass(slots=True)
class Counters:
    """The pool's counters: rows done (skipped ones among them; each status's count), customers
    called, refused, the Tally of the customers done, and the recent results the failure budget
    judges."""

    done: int = 0
    skipped: int = 0
    statuses: Counter[Status] = field(default_factory=Counter)
    called: int = 0
    refused: int = 0
    tally: Tally = field(default_factory=Tally)
    recent: RecentResults = field(default_factory=RecentResults)


class CustomerPool:
    """One session's rows through the pool: `await CustomerPool(...).run()`.

    sent_before: for --resume, row -> changes of a PUT an earlier session sent (resume.settle).
    known_profiles: row -> the profile and etag to PUT it onto without a GET (--incremental).
    first_country: the country whose rules the first customers will want (the pre-flight read
    showed it): fetched as the pool starts, so that no customer waits for them after its GET.
    """

    def __init__(
        self,
        rows: Sequence[Row],
        ctx: Context,
        options: RunOptions,
        subscribers: Subscribers,
        stop: Stop,
        *,
        sent_before: Mapping[int, tuple[Change, ...]] | None = None,
        known_profiles: Mapping[int, KnownProfile] | None = None,
        first_country: str | None = None,
    ) -> None:
        self.rows = rows
        self.ctx = ctx
        self.options = options
        self.subscribers = subscribers
        self.stop = stop
        self.sent_before = sent_before or {}
        self.known_profiles = known_profiles or {}
        self.counters = Counters()
        self.limit = len(rows) if options.limit is None else min(options.limit, len(rows))
        self.flights: set[Flight] = set()
        self.time_left = TimeLeft()
        self.first_country = first_country
        self._prefetch: asyncio.Task[RulesAnswer] | None = None

    async def run(self) -> PoolResult:
        """Every row gets exactly one outcome; returns the counters and why it stopped."""
        rows, limit = self.rows, self.limit
        for row in rows[limit:]:
            self._land(_skipped(row, f"beyond --limit {self.options.limit}"))
        rules, country = self.ctx.country_rules, self.first_country
        if rules is not None and country is not None and limit > 0:
            # Not awaited: the customers of that country wait for it through the cache.
            self._prefetch = asyncio.create_task(rules.get(country, self._fetch_rules))
        await work_through(
            iter(rows[:limit]),
            self._perform,
            pacer=self.ctx.calls.pacer,
            stop=self.stop,
            workers=min(self.options.concurrency, max(limit, 1)),
            not_started=lambda row: self._land(_skipped(row, f"not started: {self.stop.reason}")),
            customer_of=lambda row: row.customer_id,
            max_duration=self.options.max_duration,
        )
        prefetch = self._prefetch
        if prefetch is not None and not prefetch.done():
            prefetch.cancel()  # every customer was cut short before its rules came
        elif prefetch is not None and not prefetch.cancelled() and prefetch.exception():
            # A fetch that could not be made (a sign-in that failed): the customers of that
            # country met the same and fetched again themselves; nothing more to say here.
            log.debug("the country rules fetched ahead failed: %s", prefetch.exception())
        return PoolResult(self.stats(), self.stop.reason)

    async def _fetch_rules(self, iso2: str) -> RulesAnswer:
        return (await fetch_rules(self.ctx.calls, iso2, self._count))[0]

    def _count(self, reply: Reply, decision: Decision) -> None:
        self.counters.tally += tally_of(reply, decision)

    def stats(self) -> RunStats:
        """The run's counters so far, the calls of the customers in flight included."""
        pacer = self.ctx.calls.pacer
        return RunStats.of(
            self._tally_so_far(),
            pacer.controller.rate,
            pacer.controller.minimum,
            rate_measured=pacer.rate_sent,
            window_final=pacer.window.size,
            window_mean=pacer.window_mean,
            window_max=pacer.window_max,
        )

    async def _perform(self, row: Row) -> None:
        flight = Flight(row, self.ctx.setup, self.known_profiles.get(row.number))
        self.flights.add(flight)
        try:
            ended = await drive(flight, self.ctx)
        except asyncio.CancelledError:  # Stop.now: its outcome is the note, then it ends
            self.flights.discard(flight)
            self.counters.tally += flight.state.tally  # what it did before it was cut short
            self._land(machine.cut_short(flight.state), called=True)
            raise
        self.flights.discard(flight)
        self._ended(ended)

    def _ended(self, ended: Finished) -> None:
        counters, stop = self.counters, self.stop
        if ended.stop_reason is not None:
            stop.set(ended.stop_reason)
        if ended.refused is not None:
            counters.refused += 1
            any_success = self.ctx.calls.any_success
            reason = credentials_refused(counters.refused, self.limit, any_success, ended.refused)
            if reason is not None:
                stop.set(reason)
        counters.tally += ended.tally
        outcome = ended.outcome
        self._land(settle(outcome, self.sent_before.get(outcome.row)), called=True)

    def _land(self, outcome: Outcome, *, called: bool = False) -> None:
        counters, stop, subscribers = self.counters, self.stop, self.subscribers
        for on_outcome in subscribers.outcome:
            on_outcome(outcome)
        counters.done += 1
        counters.skipped += outcome.status is Status.SKIPPED
        counters.statuses[outcome.status] += 1
        if called:
            self.time_left.on_row(self.ctx.calls.pacer.clock.now())
            counters.called += 1
            if subscribers.stats and counters.called % STATS_EVERY == 0:
                stats = self.stats()
                for on_stats in subscribers.stats:
                    on_stats(stats)
        if outcome.status is not Status.SKIPPED:
            counters.recent.add(outcome.status is Status.FAILED)
        if not stop.is_set:
            recent = counters.recent
            spent = failure_budget_spent(
                recent.finished, recent.failed, self.options.failure_budget
            )
            if spent is not None:
                stop.set(spent)
        if subscribers.progress:
            progress = self._progress()
            for on_progress in subscribers.progress:
                on_progress(progress)

    def _tally_so_far(self) -> Tally:
        return sum((flight.state.tally for flight in self.flights), self.counters.tally)

    def _progress(self) -> Progress:
        counters, pacer, stop = self.counters, self.ctx.calls.pacer, self.stop
        so_far = self._tally_so_far()
        total = len(self.rows)
        return Progress(
            counters.done,
            total,
            pacer.rate,
            so_far.throttled,
            so_far.conflicts,
            skipped=counters.skipped,
            stopped=None if stop.reason is None else str(stop.reason),
            measured_rate=pacer.measured_rate,
            window=pacer.window.size,
            eta_s=None if stop.is_set else self.time_left.estimate_s(total - counters.done),
            statuses=dict(counters.statuses),
        )


def _skipped(row: Row, why: str) -> Outcome:
    return Outcome(row.number, row.customer_id, Status.SKIPPED, message=why)


class JournalSink:
    """The journal as the pool's subscriber: each outcome committed before the row counts as
    done (durable before progress), each PUT's changes before it is sent, the counters every
    few customers. A journal that cannot be written stops the run (--resume re-plans the rows
    it did not record); one that cannot record a PUT keeps that PUT from being sent."""

    __slots__ = ("journal", "preflight", "stop")

    def __init__(self, journal: Journal, stop: Stop, preflight: Tally) -> None:
        self.journal = journal
        self.stop = stop
        self.preflight = preflight

    def before_put(self, row: Row, changes: tuple[Change, ...], etag: str) -> None:
        # Committed before the PUT is sent: after a crash, --resume knows it may have landed.
        # A journal that cannot be written raises here: the PUT is not sent, the run stops.
        self.journal.record_put(row.number, changes, etag=etag)

    def record(self, outcome: Outcome) -> None:
        try:
            self.journal.record(outcome)
        except PcbatchError as exc:  # disk full: stop; --resume re-plans unrecorded rows
            self.stop.set(exc)

    def checkpoint(self, stats: RunStats) -> None:
        # The session's counters so far: kept if the process is killed before the end.
        try:
            self.journal.record_stats(stats.plus(self.preflight))
        except PcbatchError as exc:
            self.stop.set(exc)
