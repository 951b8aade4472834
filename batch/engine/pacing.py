"""The pace every call of every worker shares: one rate limiter, the adaptive rate, 429 pauses.

- Every call, retries included, passes one RateLimiter whose rate follows throttle.AdaptiveRate.
  Its pace is throttle.Spacing: one request every 1/rate s, at the rate of the moment, no burst
  even after a quiet spell (send times are reserved ahead, so the event loop's late timers do
  not slow it down).
- An aiolimiter limiter built once at the ceiling (--rate) holds the user's promise on its own,
  through aiolimiter's public API only; its bucket (2 requests, or 20 ms worth at high rates) is
  there so that it never holds back a request the spacing let go a timer tick late.
- A 429 is read for whose quota it speaks (core/quota.py's QuotaReader). The partner's: it
  pauses every worker until its Retry-After moment, voids the send times reserved before it and
  drops the adaptive rate. One customer's (other customers' calls keep succeeding): only that
  customer's next call waits its Retry-After; the run keeps its pace.
- The window (core/window.py) is fed here: each send, each answer's latency (from the send to
  the answer, the limiter's wait excluded), partner-wide 429s. The pool lets a customer start
  only while fewer than `window.size` are in flight (`attach` tells the Pacer how many are).
- Time comes from a Clock: the running event loop's by default. A test gives a clock it sets
  itself (its `now` and `sleep`), so spacing and pauses are checked without waiting. The
  aiolimiter ceiling always runs on the event loop's own clock: it keeps the promise in real
  time whatever clock paces.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiolimiter import AsyncLimiter

from batch.core.options import RunOptions
from batch.core.quota import QuotaReader, Scope
from batch.core.retry import Reply
from batch.core.throttle import AdaptiveRate, Spacing
from batch.core.window import Window, start_for

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


def pacer_for(options: RunOptions, clock: Clock | None = None) -> Pacer:
    """The one Pacer of a command, made from its options: the adaptive rate under --rate, and a
    window of at most --concurrency customers in flight (fixed there with --fixed-concurrency),
    starting at one second's requests (window.start_for)."""
    start = start_for(options.rate)
    window = Window(options.concurrency, fixed=options.fixed_concurrency, start=start)
    return Pacer(AdaptiveRate(options.rate), window, clock)


class Pacer:
    """A command's pace, which every call waits at (calls.Calls.send): the shared limiter, the
    adaptive rate, 429 pauses, the window.

    A command makes its one Pacer with `pacer_for(options)`.
    window: customers allowed in flight; the pool gates on it.
    clock: where time is read and waited for (default: the event loop's); the pool reads the
    run's elapsed time (--max-duration) from it too, and a call's backoff waits on it.
    quota: tells a customer's 429 from the partner's (default: a QuotaReader()).
    """

    def __init__(
        self,
        controller: AdaptiveRate,
        window: Window,
        clock: Clock | None = None,
        *,
        quota: QuotaReader | None = None,
    ) -> None:
        self.controller = controller
        self.clock = clock or Clock()
        self.limiter = RateLimiter(controller.ceiling, self.clock)
        self.limiter.set_rate(controller.rate)
        self.window = window
        self.quota = quota or QuotaReader()
        self.window_max = self.window.size  #: the largest window of the run
        self._in_flight: Callable[[], int] | None = None
        self._on_resize: Callable[[], None] | None = None
        self._holds: dict[str, float] = {}  # customer -> clock time its next call may go
        self._sends = 0
        self._window_sum = 0  # of the window's size at each send (for its mean)
        self._first_send: float | None = None
        self._last_answer: float | None = None

    def attach(self, in_flight: Callable[[], int], on_resize: Callable[[], None]) -> None:
        """The pool's side: how many customers are in flight (waiting_alone ones not counted),
        and what to call when there is room for another (the window grew, or a customer began
        waiting its own Retry-After), to wake workers waiting for room."""
        self._in_flight = in_flight
        self._on_resize = on_resize

    def waiting_alone(self, customer_id: str) -> bool:
        """Whether the customer's quota was spent (its 429 read as its own) and it has not yet
        waited its Retry-After: it takes no room in the window meanwhile, as it sends nothing."""
        return customer_id in self._holds

    @property
    def rate(self) -> float:
        """Requests per second allowed now."""
        return self.controller.rate

    @property
    def measured_rate(self) -> float | None:
        """Requests per second sent over the window's last span (None: not measured yet)."""
        return self.window.measured_rate

    @property
    def window_mean(self) -> float | None:
        """The window's average size over the requests sent (None: nothing sent)."""
        return self._window_sum / self._sends if self._sends else None

    @property
    def rate_sent(self) -> float | None:
        """Requests per second from the first send to the last answer (None: too few)."""
        first, last = self._first_send, self._last_answer
        if first is None or last is None or last <= first or self._sends < 2:
            return None
        return self._sends / (last - first)

    async def ready(self, customer_id: str | None = None) -> float:
        """Wait for the customer's own Retry-After, any 429 pause and the limiter; returns the
        clock time the call is sent."""
        if customer_id is not None and customer_id in self._holds:
            try:
                wait = self._holds[customer_id] - self.clock.now()
                if wait > 0:
                    await self.clock.sleep(wait)
            finally:
                del self._holds[customer_id]
        sent = await self.limiter.acquire()
        window = self.window
        window.on_send(sent)
        self._sends += 1
        self._window_sum += window.size
        if self._first_send is None:
            self._first_send = sent
        return sent

    def answered(
        self, reply: Reply, sent_at: float, delay: float, customer_id: str | None = None
    ) -> None:
        """Feed an answer to the adaptive rate, the window and the quota reader.

        A 429 waits `delay` s: every worker when it is the partner's quota (or no customer is
        named), only this customer's next call when it is the customer's.
        """
        if reply.status == 0:
            return  # no answer says nothing about the rate
        now = self.clock.now()
        self._last_answer = now
        window = self.window
        size = window.size
        in_flight = self._in_flight() if self._in_flight is not None else None
        if reply.status == 429:
            scope = Scope.PARTNER
            if customer_id is not None:
                scope = self.quota.on_throttle(now, customer_id)
            if scope is Scope.CUSTOMER:
                assert customer_id is not None
                self._holds[customer_id] = now + delay
                window.on_answer(
                    now, now - sent_at, self.controller.rate, in_flight=in_flight, throttled=True
                )
                if self._on_resize is not None:
                    self._on_resize()  # it sends nothing while it waits: room for another
            else:
                self.limiter.hold(now + delay)
                rate = self.controller.on_throttle(now, sent_at=sent_at, pause=delay)
                self.limiter.set_rate(rate)
                window.on_throttle(now, delay)
        else:
            if customer_id is not None:
                self.quota.on_success(now, customer_id)
            rate = self.controller.on_success(now)
            self.limiter.set_rate(rate)
            window.on_answer(now, now - sent_at, rate, in_flight=in_flight)
        if window.size != size:
            self.window_max = max(self.window_max, window.size)
            if self._on_resize is not None:
                self._on_resize()
