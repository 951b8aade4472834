"""The worker pool: --concurrency customers in flight, one shared pace, counters, stopping.

- Pacing (Pacer): every call of every worker, retries included, passes one RateLimiter whose
  rate follows throttle.AdaptiveRate. Its pace is throttle.Spacing: one request every 1/rate s,
  at the rate of the moment, no burst even after a quiet spell (send times are reserved ahead,
  so the event loop's late timers do not slow it down). An aiolimiter limiter built once at the
  ceiling (--rate) holds the user's promise on its own, through aiolimiter's public API only;
  its bucket (2 requests, or 20 ms worth at high rates) is there so that it never holds back a
  request the spacing let go a timer tick late. A 429 pauses every worker until its
  Retry-After moment, not just the throttled one, and voids the send times reserved before it.
- Stopping (Stop): the pool checks the flag before starting each customer; whoever sets it
  (an auth abort, --max-duration, the failure budget, a signal handler) leaves the customers in
  flight to finish, and every row not started ends `skipped`. The first reason set wins.
  Stop.now (a second signal, or the grace after the first running out) also cancels the
  customers in flight: they end `skipped` with a note that a PUT may have been sent.
- Rows past --limit end `skipped` without a call. Outcomes land in completion order through
  `on_outcome` (the journal sorts them back into row order).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from random import Random

from aiolimiter import AsyncLimiter

from batch.client import Client
from batch.core.errors import AuthFailed, PcbatchError, StoppedEarly
from batch.core.model import Change, Outcome, Row, RunStats, Status
from batch.core.options import RunOptions
from batch.core.resume import settle
from batch.core.retry import Reply
from batch.core.stops import Stop
from batch.core.throttle import AdaptiveRate, Spacing
from batch.update import AuthAbort, Context, update_customer

log = logging.getLogger(__name__)

FAILURE_BUDGET_AFTER = 20  # customers finished before the failure budget is judged
CUT_SHORT = (
    "cut short by an immediate stop while in flight (a PUT may have been sent): "
    "pcbatch run --resume reads the profile again"
)
BURST_S = 0.02  # seconds of requests the ceiling limiter lets through at once (at least 2)


class RateLimiter:
    """At most `rate` requests per second for all callers together, with no burst above it.

    ceiling: requests/s (> 0), the most it ever allows; set_rate() moves the rate below it.
    acquire() returns the loop time the caller may send at. Trap: one instance per event loop.
    """

    def __init__(self, ceiling: float) -> None:
        self.ceiling = ceiling
        self._rate = ceiling
        self._spacing = Spacing()
        burst = burst_for(ceiling)
        self._cap = AsyncLimiter(burst, burst / ceiling)

    @property
    def rate(self) -> float:
        """Requests per second allowed now."""
        return self._rate

    def set_rate(self, rate: float) -> None:
        """Allow `rate` requests/s (at most the ceiling) from the next request on."""
        self._rate = min(rate, self.ceiling)

    def hold(self, until: float) -> None:
        """Let nothing through before loop time `until`; callers already waiting wait again."""
        self._spacing.hold(asyncio.get_running_loop().time(), until)

    async def acquire(self) -> float:
        """Wait for this caller's turn; returns the loop time it may send at (now)."""
        loop = asyncio.get_running_loop()
        spacing = self._spacing
        while True:
            generation = spacing.generation
            now = loop.time()
            at = spacing.reserve(now, self._rate)
            if at > now:
                await asyncio.sleep(at - now)
            await self._cap.acquire()
            # A hold (429) while this caller slept voids its turn: it was spaced for a rate the
            # service has just refused, and may fall inside the pause.
            if spacing.generation == generation:
                return loop.time()


def burst_for(rate: float) -> float:
    """The ceiling limiter's bucket for a rate: 2 requests, or 20 ms worth when that is more."""
    return max(2.0, rate * BURST_S)


class Pacer:
    """The Gate of update.py: the shared limiter, the adaptive rate and the 429 pause."""

    def __init__(self, controller: AdaptiveRate) -> None:
        self.controller = controller
        self.limiter = RateLimiter(controller.ceiling)
        self.limiter.set_rate(controller.rate)

    @property
    def rate(self) -> float:
        """Requests per second allowed now."""
        return self.controller.rate

    async def ready(self) -> float:
        """Wait for a 429 pause and the limiter; returns the loop time the call is sent."""
        return await self.limiter.acquire()

    def answered(self, reply: Reply, sent_at: float, delay: float) -> None:
        """Feed an answer to the adaptive rate; a 429 pauses every worker for `delay` s."""
        if reply.status == 0:
            return  # no answer says nothing about the rate
        now = asyncio.get_running_loop().time()
        if reply.status == 429:
            self.limiter.hold(now + delay)
            rate = self.controller.on_throttle(now, sent_at=sent_at, pause=delay)
        else:
            rate = self.controller.on_success(now)
        self.limiter.set_rate(rate)


@dataclass(frozen=True, slots=True)
class Progress:
    """What a progress bar shows, after each finished row."""

    done: int
    total: int
    rate: float
    throttled: int
    conflicts: int


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
) -> PoolResult:
    """Update every row's customer; every row gets exactly one outcome through `on_outcome`.

    pacer: the shared pace; default a Pacer on AdaptiveRate(options.rate).
    sent_before: for --resume, row -> changes of a PUT an earlier session sent (resume.settle).
    before_put(row, changes, etag): called just before each PUT call is first sent (update.py's
    Context.before_put); the journal records its changes there, durably.
    on_outcome is called (the journal records) before the row counts as done in on_progress.
    """
    sent_before = sent_before or {}
    stop = stop or Stop()
    stats = RunStats()
    pacer = pacer or Pacer(AdaptiveRate(options.rate))
    ctx = Context(
        client=client,
        gate=pacer,
        policy=options.retry_policy,
        stats=stats,
        rng=rng or Random(),
        dry_run=options.dry_run,
        validate_addresses=options.validate_addresses,
        before_put=before_put,
    )
    total = len(rows)
    limit = total if options.limit is None else min(options.limit, total)
    done = 0
    finished = failed = 0
    started = time.monotonic()

    def land(outcome: Outcome) -> None:
        nonlocal done, finished, failed
        on_outcome(outcome)
        done += 1
        if outcome.status is not Status.SKIPPED:
            finished += 1
            failed += outcome.status is Status.FAILED
            _log_outcome(outcome)
        if (
            finished >= FAILURE_BUDGET_AFTER
            and failed > options.failure_budget * finished
            and not stop.is_set
        ):
            stop.set(
                StoppedEarly(
                    f"{failed} of {finished} finished customers failed, more than the failure "
                    f"budget of {options.failure_budget:.0%}: stopped early (is the service "
                    "down?); rerun later with --resume to continue"
                )
            )
        if on_progress is not None:
            on_progress(Progress(done, total, pacer.rate, stats.throttled, stats.conflicts))

    for row in rows[limit:]:
        land(_skipped(row, f"beyond --limit {options.limit}"))
    queue = iter(rows[:limit])

    async def worker() -> None:
        for row in queue:
            limit_s = options.max_duration
            if limit_s is not None and time.monotonic() - started >= limit_s:
                stop.set(
                    StoppedEarly(
                        f"--max-duration {limit_s:g} s reached: the rows not started were "
                        "skipped; rerun with --resume to continue"
                    )
                )
            if stop.is_set:
                land(_skipped(row, f"not started: {stop.reason}"))
                continue
            try:
                outcome = settle(await update_customer(row, ctx), sent_before.get(row.number))
            except asyncio.CancelledError:  # Stop.now: its outcome is the note, then it ends
                land(_skipped(row, CUT_SHORT))
                raise
            except AuthAbort as abort:
                stop.set(AuthFailed(str(abort)))
                outcome = abort.outcome
            except PcbatchError as exc:  # e.g. a token provider that cannot sign in any more
                stop.set(exc)
                outcome = Outcome(row.number, row.customer_id, Status.FAILED, message=str(exc))
            land(outcome)

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
    stats.rate_final = pacer.controller.rate
    stats.rate_min = pacer.controller.minimum
    return PoolResult(stats, stop.reason)


def _skipped(row: Row, why: str) -> Outcome:
    return Outcome(row=row.number, customer_id=row.customer_id, status=Status.SKIPPED, message=why)


def _log_outcome(outcome: Outcome) -> None:
    # Row, customer and status only: addresses and phone numbers stay out of logs.
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
                "attempts": outcome.attempts,
                "http_status": outcome.http_status,
                "error_code": outcome.error_code,
            },
        )
