"""The pace every call of every worker shares: one rate limiter, the adaptive rate, 429 pauses.

- Every call, retries included, passes one RateLimiter whose rate follows throttle.AdaptiveRate.
  Its pace is throttle.Spacing: one request every 1/rate s, at the rate of the moment, no burst
  even after a quiet spell (send times are reserved ahead, so the event loop's late timers do
  not slow it down).
- An aiolimiter limiter built once at the ceiling (--rate) holds the user's promise on its own,
  through aiolimiter's public API only; its bucket (2 requests, or 20 ms worth at high rates) is
  there so that it never holds back a request the spacing let go a timer tick late.
- A 429 pauses every worker until its Retry-After moment, not just the throttled one, and voids
  the send times reserved before it.
- Time comes from a Clock: the running event loop's by default. A test gives a clock it sets
  itself (its `now` and `sleep`), so spacing and pauses are checked without waiting. The
  aiolimiter ceiling always runs on the event loop's own clock: it keeps the promise in real
  time whatever clock paces.
"""

from __future__ import annotations

import asyncio

from aiolimiter import AsyncLimiter

from batch.core.retry import Reply
from batch.core.throttle import AdaptiveRate, Spacing

BURST_S = 0.02  # seconds of requests the ceiling limiter lets through at once (at least 2)


class Clock:
    """Where pacing reads the time and waits: the running event loop's clock (seconds).

    A test subclasses it to set the time by hand (see tests/test_pool.py's FakeClock).
    """

    def now(self) -> float:
        """The time now, in seconds (the loop's monotonic clock)."""
        return asyncio.get_running_loop().time()

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` (> 0) by this clock."""
        await asyncio.sleep(seconds)


class RateLimiter:
    """At most `rate` requests per second for all callers together, with no burst above it.

    ceiling: requests/s (> 0), the most it ever allows; set_rate() moves the rate below it.
    clock: where time is read and waited for (default: the event loop's).
    acquire() returns the clock time the caller may send at. Trap: one instance per event loop.
    """

    def __init__(self, ceiling: float, clock: Clock | None = None) -> None:
        self.ceiling = ceiling
        self.clock = clock or Clock()
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
        """Let nothing through before clock time `until`; callers already waiting wait again."""
        self._spacing.hold(self.clock.now(), until)

    async def acquire(self) -> float:
        """Wait for this caller's turn; returns the clock time it may send at (now)."""
        clock = self.clock
        spacing = self._spacing
        while True:
            generation = spacing.generation
            now = clock.now()
            at = spacing.reserve(now, self._rate)
            if at > now:
                await clock.sleep(at - now)
            await self._cap.acquire()
            # A hold (429) while this caller slept voids its turn: it was spaced for a rate the
            # service has just refused, and may fall inside the pause.
            if spacing.generation == generation:
                return clock.now()


def burst_for(rate: float) -> float:
    """The ceiling limiter's bucket for a rate: 2 requests, or 20 ms worth when that is more."""
    return max(2.0, rate * BURST_S)


class Pacer:
    """The Gate of update.py: the shared limiter, the adaptive rate and the 429 pause.

    clock: where time is read and waited for (default: the event loop's); the pool reads the
    run's elapsed time (--max-duration) from it too.
    """

    def __init__(self, controller: AdaptiveRate, clock: Clock | None = None) -> None:
        self.controller = controller
        self.clock = clock or Clock()
        self.limiter = RateLimiter(controller.ceiling, self.clock)
        self.limiter.set_rate(controller.rate)

    @property
    def rate(self) -> float:
        """Requests per second allowed now."""
        return self.controller.rate

    async def ready(self) -> float:
        """Wait for a 429 pause and the limiter; returns the clock time the call is sent."""
        return await self.limiter.acquire()

    def answered(self, reply: Reply, sent_at: float, delay: float) -> None:
        """Feed an answer to the adaptive rate; a 429 pauses every worker for `delay` s."""
        if reply.status == 0:
            return  # no answer says nothing about the rate
        now = self.clock.now()
        if reply.status == 429:
            self.limiter.hold(now + delay)
            rate = self.controller.on_throttle(now, sent_at=sent_at, pause=delay)
        else:
            rate = self.controller.on_success(now)
        self.limiter.set_rate(rate)
