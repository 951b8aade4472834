"""The worker pool: the window's customers in flight, one shared pace, the run's counters.

- Pacing (pacing.Pacer): every call of every worker, retries included, waits its turn there.
- The window (core/window.py, fed by the Pacer): --concurrency workers run, but a worker starts
  a customer only while fewer than the window's size are in flight; it waits for room on an
  event set whenever a customer ends or the window changes. A customer waiting its own
  Retry-After (its 429 read as its quota, not the partner's) takes no room meanwhile.
  --fixed-concurrency keeps the window at --concurrency.
- Counters: each customer's update returns the Tally of its calls; the pool alone adds them
  up into the run's RunStats (and shows the customers in flight's so far in the progress).
  Every STATS_EVERY customers done, `on_stats` gets the counters so far (the journal keeps
  them, so a process killed mid-run does not take its session's counters with it).
- Stopping (core/stops.py): the pool checks the Stop before starting each customer and sets it
  when a stop rule says so (the failure budget, --max-duration, several customers refused a
  credential-wide 403 with no success) or a customer's credentials were refused (a 401 after
  renewal); every row not started then ends `skipped`. Stop.now (a second signal, or the grace
  after the first running out) also cancels the customers in flight: they end `skipped` with a
  note that a PUT may have been sent.
- Rows past --limit end `skipped` without a call. Outcomes land in completion order through
  `on_outcome` (the journal sorts them back into row order).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from random import Random

from batch.core.errors import PcbatchError
from batch.core.model import Change, KnownProfile, Outcome, Row, RunStats, Status, Tally
from batch.core.options import RunOptions
from batch.core.resume import settle
from batch.core.stops import (
    RecentResults,
    Stop,
    credentials_refused,
    failure_budget_spent,
    max_duration_reached,
)
from batch.core.throttle import AdaptiveRate
from batch.core.time_left import TimeLeft
from batch.core.window import Window
from batch.engine.pacing import Pacer
from batch.engine.rules_cache import RulesCache
from batch.engine.update import Context, CustomerUpdate, Finished
from batch.wire.client import Client

log = logging.getLogger(__name__)

STATS_EVERY = 25  # customers done between two checkpoints of the counters (one journal write)

CUT_SHORT = (
    "cut short by an immediate stop while in flight (a PUT may have been sent): "
    "pcbatch run --resume reads the profile again"
)


@dataclass(frozen=True, slots=True)
class Progress:
    """What a progress bar shows, after each finished row.

    done counts every row that has its outcome, `skipped` ones included (past --limit, or not
    started after a stop); skipped says how many of those. rate: requests/s allowed now;
    measured_rate: requests/s sent of late (None at first); window: customers allowed in flight
    now; eta_s: seconds the rows left should take at the pace of late (None: not known yet, and
    after a stop); stopped: why the run stopped starting rows (None while it goes on).
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


@dataclass(frozen=True, slots=True)
class PoolResult:
    """Counters of the run, and why it stopped early (None when it ran to the end)."""

    stats: RunStats
    stopped: PcbatchError | None


async def run_pool(
    rows: Sequence[Row],
    client: Client,
    options: RunOptions,
    on_outcome: Callable[[Outcome], None],
    *,
    on_progress: Callable[[Progress], None] | None = None,
    stop: Stop | None = None,
    rng: Random | None = None,
    pacer: Pacer | None = None,
    sent_before: Mapping[int, tuple[Change, ...]] | None = None,
    before_put: Callable[[Row, tuple[Change, ...], str], None] | None = None,
    country_rules: RulesCache | None = None,
    columns: Mapping[str, str] | None = None,
    known_profiles: Mapping[int, KnownProfile] | None = None,
    on_stats: Callable[[RunStats], None] | None = None,
) -> PoolResult:
    """Update every row's customer; every row gets exactly one outcome through `on_outcome`.

    pacer: the shared pace; default a Pacer on AdaptiveRate(options.rate) with a Window of
    options.concurrency (fixed with options.fixed_concurrency). Its clock is also the one
    --max-duration is measured on; its window says how many customers may be in flight.
    sent_before: for --resume, row -> changes of a PUT an earlier session sent (resume.settle).
    before_put(row, changes, etag): called just before each PUT call is first sent (update.py's
    Context.before_put); the journal records its changes there, durably.
    on_outcome is called (the journal records) before the row counts as done in on_progress.
    country_rules: the run's country rules, checked on each row's merged address (None: none);
    columns: field -> the sheet's header, to name a field in a row's `invalid` message.
    known_profiles: row -> the profile and etag to PUT it onto without a GET (--incremental,
    update.CustomerUpdate's step 1).
    on_stats: given the run's counters so far every STATS_EVERY customers done (the ones in
    flight's calls included).
    """
    sent_before = sent_before or {}
    known_profiles = known_profiles or {}
    stop = stop or Stop()
    if pacer is None:
        window = Window(options.concurrency, fixed=options.fixed_concurrency)
        pacer = Pacer(AdaptiveRate(options.rate), window=window)
    ctx = Context(
        client=client,
        gate=pacer,
        policy=options.retry_policy,
        rng=rng or Random(),
        dry_run=options.dry_run,
        validate_addresses=options.validate_addresses,
        before_put=before_put,
        country_rules=country_rules,
        columns=columns,
    )
    total = len(rows)
    limit = total if options.limit is None else min(options.limit, total)
    done = 0
    skipped = 0
    recent = RecentResults()  # the failure budget judges the last customers finished
    refused = 0
    tally = Tally()  # of the customers done
    in_flight: set[CustomerUpdate] = set()
    clock = pacer.clock
    started = clock.now()
    time_left = TimeLeft()
    room = asyncio.Event()  # set when a customer ends or the window changes: look for room

    def busy() -> int:  # customers in flight that take room in the window
        return sum(not pacer.waiting_alone(u.row.customer_id) for u in in_flight)

    pacer.attach(busy, room.set)

    def stats_so_far() -> RunStats:
        return RunStats.of(
            sum((update.tally for update in in_flight), tally),
            pacer.controller.rate,
            pacer.controller.minimum,
            rate_measured=pacer.rate_sent,
            window_final=pacer.window.size,
            window_mean=pacer.window_mean,
            window_max=pacer.window_max,
        )

    called_rows = 0  # rows done whose customer was called

    def land(outcome: Outcome, *, called: bool = False) -> None:
        nonlocal done, skipped, called_rows
        on_outcome(outcome)
        done += 1
        skipped += outcome.status is Status.SKIPPED
        if called:
            time_left.on_row(clock.now())
            called_rows += 1
            if on_stats is not None and called_rows % STATS_EVERY == 0:
                on_stats(stats_so_far())
        if outcome.status is not Status.SKIPPED:
            recent.add(outcome.status is Status.FAILED)
            _log_outcome(outcome)
        if not stop.is_set:
            spent = failure_budget_spent(recent.finished, recent.failed, options.failure_budget)
            if spent is not None:
                stop.set(spent)
        if on_progress is not None:
            so_far = sum((update.tally for update in in_flight), tally)
            on_progress(
                Progress(
                    done,
                    total,
                    pacer.rate,
                    so_far.throttled,
                    so_far.conflicts,
                    skipped=skipped,
                    stopped=None if stop.reason is None else str(stop.reason),
                    measured_rate=pacer.measured_rate,
                    window=pacer.window.size,
                    eta_s=None if stop.is_set else time_left.estimate_s(total - done),
                )
            )

    for row in rows[limit:]:
        land(_skipped(row, f"beyond --limit {options.limit}"))
    queue = iter(rows[:limit])

    async def worker() -> None:
        nonlocal tally, refused
        while True:
            while busy() >= pacer.window.size and not stop.is_set:
                room.clear()
                await room.wait()
            row = next(queue, None)
            if row is None:
                return
            reached = max_duration_reached(clock.now() - started, options.max_duration)
            if reached is not None:
                stop.set(reached)
            if stop.is_set:
                land(_skipped(row, f"not started: {stop.reason}"))
                continue
            update = CustomerUpdate(row, ctx, known_profiles.get(row.number))
            in_flight.add(update)
            try:
                ended = await update.run()
            except asyncio.CancelledError:  # Stop.now: its outcome is the note, then it ends
                in_flight.discard(update)
                room.set()
                tally += update.tally  # what it did before it was cut short
                land(_skipped(row, CUT_SHORT, etag=update.etag), called=True)
                raise
            except PcbatchError as exc:  # e.g. a token provider that cannot sign in any more
                failed_row = Outcome(
                    row.number, row.customer_id, Status.FAILED, message=str(exc), etag=update.etag
                )
                ended = Finished(failed_row, update.tally, stop_reason=exc)
            in_flight.discard(update)
            room.set()
            if ended.stop_reason is not None:
                stop.set(ended.stop_reason)
            if ended.refused is not None:
                refused += 1
                reason = credentials_refused(refused, limit, ctx.any_success, ended.refused)
                if reason is not None:
                    stop.set(reason)
            tally += ended.tally
            land(settle(ended.outcome, sent_before.get(row.number)), called=True)

    workers: list[asyncio.Task[None]] = []

    def cancel_workers() -> None:
        for task in workers:
            task.cancel()  # a cancelled task ends alone: a TaskGroup lets the others run on

    stop.cancel = cancel_workers
    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(min(options.concurrency, max(limit, 1))):
                workers.append(group.create_task(worker()))
    finally:
        stop.cancel = None
    for row in queue:  # left by workers cancelled by Stop.now
        land(_skipped(row, f"not started: {stop.reason}"))
    return PoolResult(stats_so_far(), stop.reason)


def _skipped(row: Row, why: str, etag: str | None = None) -> Outcome:
    return Outcome(row.number, row.customer_id, Status.SKIPPED, message=why, etag=etag)


def _reason(message: str) -> str:
    """A row's message for its log line: the suggested addresses of an address refusal
    (core/plan.address_refusal) are cut off, so that no address reaches a log."""
    return message.split("; suggested: ", 1)[0]


def _log_outcome(outcome: Outcome) -> None:
    # Row, customer, status and reason: addresses and phone numbers stay out of logs.
    level = logging.INFO if outcome.status.ok else logging.WARNING
    if log.isEnabledFor(level):
        log.log(
            level,
            "row %d customer %s: %s",
            outcome.row,
            outcome.customer_id,
            outcome.status.value,
            extra={
                "row": outcome.row,
                "customer_id": outcome.customer_id,
                "status": outcome.status.value,
                "reason": _reason(outcome.message),
                "attempts": outcome.attempts,
                "http_status": outcome.http_status,
                "error_code": outcome.error_code,
            },
        )
