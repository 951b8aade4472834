"""The worker pool: --concurrency customers in flight, one shared pace, counters, stopping.

- Pacing (Pacer): every call of every worker, retries included, passes one aiolimiter limiter
  whose rate follows throttle.AdaptiveRate. aiolimiter's bucket lets `max_rate` calls through at
  once after a quiet spell, so the usual AsyncLimiter(rate, 1) would send 2 x rate in the first
  second. RateLimiter's bucket holds 2 requests, or 20 ms worth at high rates (AsyncLimiter(b,
  b/rate)): just enough to absorb the event loop's timer granularity (epoll sleeps whole
  milliseconds; a bucket of 1 loses ~10% at 100/s), and never more than b above the rate over
  any window. A 429 pauses every worker until its Retry-After moment, not just the throttled one.
- Stopping (Stop): the pool checks the flag before starting each customer; whoever sets it
  (an auth abort, --max-duration, the failure budget, a signal handler) leaves the customers in
  flight to finish, and every row not started ends `skipped`. The first reason set wins.
- Rows past --limit end `skipped` without a call. Outcomes land in completion order through
  `on_outcome` (the journal sorts them back into row order).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from random import Random

from aiolimiter import AsyncLimiter

from batch.client import Client
from batch.errors import AuthFailed, PcbatchError, StoppedEarly
from batch.model import Outcome, Row, RunStats, Status
from batch.options import RunOptions
from batch.retry import Reply
from batch.throttle import AdaptiveRate
from batch.update import AuthAbort, Context, update_customer

log = logging.getLogger(__name__)

FAILURE_BUDGET_AFTER = 20  # customers finished before the failure budget is judged
BURST_S = 0.02  # seconds of requests the limiter may let through at once (at least 2)


class RateLimiter(AsyncLimiter):
    """An AsyncLimiter with (almost) no burst above the rate, whose rate can change in use.

    rate: requests per second. The bucket holds `burst_for(rate)` requests: 2, or 20 ms worth
    at rates above 100/s.
    """

    def __init__(self, rate: float) -> None:
        burst = burst_for(rate)
        super().__init__(burst, burst / rate)

    @property
    def rate(self) -> float:
        """Requests per second allowed now."""
        return self.max_rate / self.time_period

    def set_rate(self, rate: float) -> None:
        """Change the rate from now on; waiters are re-timed."""
        # Drain at the old rate up to now first, so the change does not apply to time past.
        self._leak()
        self.max_rate = burst_for(rate)
        # A smaller bucket is full at most: what was sent at the old rate is not owed at the new.
        self._level = min(self._level, self.max_rate)
        self.time_period = self.max_rate / rate
        self._rate_per_sec = rate
        self._wake_next()


def burst_for(rate: float) -> float:
    """The limiter's bucket size for a rate: 2 requests, or 20 ms worth when that is more."""
    return max(2.0, rate * BURST_S)


class Pacer:
    """The Gate of update.py: the shared limiter, the adaptive rate and the 429 pause."""

    def __init__(self, controller: AdaptiveRate) -> None:
        self.controller = controller
        self.limiter = RateLimiter(controller.rate)
        self._pause_until = 0.0  # loop time before which no call is sent

    @property
    def rate(self) -> float:
        """Requests per second allowed now."""
        return self.controller.rate

    async def ready(self) -> float:
        """Wait for a 429 pause and the limiter; returns the loop time the call is sent."""
        loop = asyncio.get_running_loop()
        while True:
            wait = self._pause_until - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            await self.limiter.acquire()
            # A pause may have begun while this call waited in the limiter's queue.
            if loop.time() >= self._pause_until:
                return loop.time()

    def answered(self, reply: Reply, sent_at: float, delay: float) -> None:
        """Feed an answer to the adaptive rate; a 429 pauses every worker for `delay` s."""
        if reply.status == 0:
            return  # no answer says nothing about the rate
        now = asyncio.get_running_loop().time()
        if reply.status == 429:
            self._pause_until = max(self._pause_until, now + delay)
            rate = self.controller.on_throttle(now, sent_at=sent_at, pause=delay)
        else:
            rate = self.controller.on_success(now)
        if rate != self.limiter.rate:
            self.limiter.set_rate(rate)


class Stop:
    """A flag the pool checks before starting each customer; the first reason set wins."""

    __slots__ = ("reason",)

    def __init__(self) -> None:
        self.reason: PcbatchError | None = None

    def set(self, reason: PcbatchError) -> None:
        """Stop starting customers; `reason` becomes the run's error (and exit code)."""
        if self.reason is None:
            self.reason = reason

    @property
    def is_set(self) -> bool:
        """True once a reason has been set."""
        return self.reason is not None


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
) -> PoolResult:
    """Update every row's customer; every row gets exactly one outcome through `on_outcome`.

    pacer: the shared pace; default a Pacer on AdaptiveRate(options.rate).
    """
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
                outcome = await update_customer(row, ctx)
            except AuthAbort as abort:
                stop.set(AuthFailed(str(abort)))
                outcome = abort.outcome
            except PcbatchError as exc:  # e.g. a token provider that cannot sign in any more
                stop.set(exc)
                outcome = Outcome(row.row, row.customer_id, Status.FAILED, message=str(exc))
            land(outcome)

    async with asyncio.TaskGroup() as group:
        for _ in range(min(options.concurrency, max(limit, 1))):
            group.create_task(worker())
    stats.rate_final = pacer.controller.rate
    stats.rate_min = pacer.controller.minimum
    return PoolResult(stats, stop.reason)


def _skipped(row: Row, why: str) -> Outcome:
    return Outcome(row=row.row, customer_id=row.customer_id, status=Status.SKIPPED, message=why)


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
