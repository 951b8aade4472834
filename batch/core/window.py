"""How many customers may be in flight (Window): sized from the measured latency and rate.

The rate limit, not the window, should be what holds a run back. By Little's law a service
answering in L seconds on average holds `rate * L` calls in flight at `rate` requests/s; each
customer has at most one call in flight (GET, then PUT), so that is also the number of customers
the run needs in flight. A fixed --concurrency 8 at 400 ms calls (800 ms PUTs) and --rate 40
reaches about a quarter of the rate. How the window moves (the shape of Netflix's
concurrency-limits Gradient2 and Envoy's adaptive concurrency filter, with the rate limiter as
the known bottleneck):

- It starts at `start` and is never below 1 nor above the ceiling (--concurrency, 64). A run's
  starts at `start_for(rate)`: one second's requests at the rate (at least 8), Little's law for
  calls of up to a second, so that nothing but the rate holds back the first requests; the
  first answers then size it (below).
- Rate: requests sent per second (on_send, as the rate limiter lets them go) over the last
  `span`: the longest of `span_s` (1 s), two round trips and `span_answers` (32) requests at the
  allowed rate. Measured >= `fill` (0.95) of the allowed rate means the limiter holds the pace.
- At the rate, the service has `rate * latency` calls in it whatever the window (the rest wait
  for the limiter), so the window moves half way to Little's law with headroom (before
  `warmup` answers not below the customers in flight: the first answers are mostly GETs,
  quicker than the PUTs that follow),
  `allowed * mean latency * headroom + slack` (1.25 and 2: room for the latency's spread, so the
  limiter nearly always has a customer waiting), up or down. It settles near that and not far
  above: about 38 customers at 40 requests/s and calls averaging 0.72 s (400 ms lognormal GETs,
  sigma 0.6, PUTs twice as slow), where Little's law says 29.
- Short of the rate, latency decides. Every answer's latency (send to answer: the wait for the
  limiter excluded) feeds a recent average (about the last 20 answers) and a long one (about
  the last 100), both of its logarithm so that a lognormal tail does not swing them. The base
  is the lowest long average, forgetting over `base_memory_s` (30 s: a service that slows down
  for good becomes the new normal). Recent above `tolerance` (1.5) times the base: the service
  is queueing, the window shrinks by `tolerance / ratio`, to no less than `shrink_floor` (0.75)
  of itself per round trip, and never below `latency_floor` (8, the old fixed default) for
  latency alone: the latency seen includes the client's own event loop, so a client busy with
  its CPU (a run with no rate limit) reads as a queueing service, and a window shrunk for that
  slows it down (with the floor, the bench's no-limit run at --concurrency 16 goes as fast
  adaptive as fixed). Above `rising` (1.25): it holds. Otherwise, if the window is full
  (the pool says how many are in flight), it is what holds the run back: before a whole span
  is measured it goes to Little's law with headroom at once (from the first answers: a short
  run is at the rate from its first second); after, it grows to `size * allowed / measured`, at
  most doubling per round trip; never to more than `growth_cap` (2) times Little's law with
  headroom (retries' back-off waits also take room, so more than Little's law can be needed).
  Latency is not trusted before `warmup` (100) answers (the first are mostly GETs).
- A partner-wide 429 (quota.py says which are) shrinks it by `beta` (0.8), once per round trip
  (the 429s of requests already in flight say nothing new), and it does not grow again until the
  Retry-After pause and one measuring span are over (the pause reads as a low rate).
- Decisions are taken at most once per round trip (the mean latency, at least `min_interval_s`):
  the effect of a change shows only after the answers it lets through.
- Fixed (`fixed=True`, for those who want --concurrency as the number in flight): the size is
  the ceiling, always; the measured rate and latency are still kept, for the progress display.

Pure: every event takes `now` (seconds on any monotonic clock); tests pass a fake clock.
"""

from __future__ import annotations

import math
from collections import deque

START = 8  # the start before anything is known, and the least start_for gives


def start_for(rate: float) -> int:
    """The window a run starts with at `rate` requests/s: one second's requests (at least
    START): until the first answers say how long a call takes, the rate limiter is what paces."""
    return max(START, math.ceil(min(rate, 1e6)))


class Window:
    """The number of customers allowed in flight, adaptive in [1, ceiling] or fixed at it.

    ceiling: --concurrency (>= 1), the most ever in flight; the size when `fixed`.
    start: 8, the size before anything is measured (at most the ceiling).
    fill: 0.95, the share of the allowed rate under which the window is what holds a run back.
    headroom, slack: 1.25 and 2 customers: the size at the rate is allowed * latency * headroom
      + slack.
    tolerance: 1.5, short-term latency over long-term latency above which the window shrinks.
    rising: 1.25, the same ratio above which it does not grow.
    shrink_floor: 0.75, the least share kept by one shrink for rising latency.
    beta: 0.8, the share kept on a partner-wide 429.
    span_s: 1 s, the shortest span the request rate is measured over.
    min_interval_s: 0.05 s, the shortest time between two decisions.
    warmup: 100 answers before latency is trusted to shrink or stop the window.
    latency_floor: 8, the least a shrink for rising latency leaves (a smaller window stays).
    """

    __slots__ = (
        "_allowed",
        "_base",
        "_decided",
        "_first",
        "_hold_until",
        "_last_cut",
        "_long",
        "_mean",
        "_n",
        "_next",
        "_sent",
        "_short",
        "_size",
        "base_memory_s",
        "beta",
        "ceiling",
        "fill",
        "fixed",
        "growth_cap",
        "headroom",
        "latency_floor",
        "measured_rate",
        "min_interval_s",
        "rising",
        "shrink_floor",
        "slack",
        "span_answers",
        "span_s",
        "tolerance",
        "warmup",
    )

    def __init__(
        self,
        ceiling: int,
        *,
        fixed: bool = False,
        start: int = START,
        fill: float = 0.95,
        headroom: float = 1.25,
        slack: float = 2.0,
        tolerance: float = 1.5,
        rising: float = 1.25,
        shrink_floor: float = 0.75,
        beta: float = 0.8,
        span_s: float = 1.0,
        span_answers: int = 32,
        growth_cap: float = 2.0,
        min_interval_s: float = 0.05,
        warmup: int = 100,
        base_memory_s: float = 30.0,
        latency_floor: int = 8,
    ) -> None:
        if isinstance(ceiling, bool) or not isinstance(ceiling, int) or ceiling < 1:
            raise ValueError(f"ceiling must be a whole number of customers >= 1, not {ceiling!r}")
        self.ceiling = ceiling
        self.fixed = fixed
        self.fill = fill
        self.headroom = headroom
        self.slack = slack
        self.tolerance = tolerance
        self.rising = rising
        self.shrink_floor = shrink_floor
        self.beta = beta
        self.span_s = span_s
        self.span_answers = span_answers
        self.growth_cap = growth_cap
        self._allowed = math.inf  # the allowed rate last fed, requests/s
        self.min_interval_s = min_interval_s
        self.warmup = warmup
        self.base_memory_s = base_memory_s
        self.latency_floor = latency_floor
        self.measured_rate: float | None = None  #: answers/s over the last span; None at first
        self._size = float(ceiling if fixed else min(max(start, 1), ceiling))
        self._base: float | None = None  # the no-queueing log(latency), once warm
        self._decided = -math.inf  # the last decision's time
        self._sent: deque[float] = deque()  # send times within the last span
        self._first: float | None = None  # the first send time
        self._n = 0  # latencies seen
        self._short = 0.0  # averages of log(latency)
        self._long = 0.0
        self._mean = 0.0  # average latency, seconds
        self._next = -math.inf  # no decision before this time
        self._last_cut = -math.inf  # the last shrink for a 429
        self._hold_until = -math.inf  # no growth before this time

    @property
    def size(self) -> int:
        """Customers allowed in flight now (1..ceiling)."""
        return max(1, min(self.ceiling, math.floor(self._size + 0.5)))

    @property
    def latency_s(self) -> float | None:
        """The average latency of a call (seconds), None before the first answer."""
        return self._mean if self._n else None

    def target(self, allowed_rate: float) -> float:
        """Little's law with headroom: customers needed in flight at `allowed_rate` requests/s."""
        return allowed_rate * self._mean * self.headroom + self.slack

    def on_answer(
        self,
        now: float,
        latency_s: float,
        allowed_rate: float,
        *,
        in_flight: int | None = None,
        throttled: bool = False,
    ) -> int:
        """An answer came back at `now`, `latency_s` after it was sent; returns the new size.

        allowed_rate: requests/s the rate limiter allows now (the adaptive rate).
        in_flight: customers in flight when it came back (None: take the window as full); a
          window that is not full does not grow, as more room would not be used.
        throttled: a 429 (its latency, without the service's work, is not kept).
        """
        self._allowed = allowed_rate
        if not throttled:
            self._learn(max(latency_s, 1e-6))
        if self.fixed or now < self._next or self._n == 0:
            return self.size
        since, self._next = now - self._decided, now + max(self.min_interval_s, self._mean)
        self._decided = now
        warm = self._n >= self.warmup
        if warm:
            # The base: the lowest long average, forgetting over base_memory_s (a service that
            # slows down for good becomes the new normal; one queueing because of us does not
            # in the few seconds the window takes to back off).
            base = self._long if self._base is None else min(self._base, self._long)
            self._base = base + (self._long - base) * min(1.0, since / self.base_memory_s)
        measured = self.measured_rate
        target = self.target(allowed_rate)
        if measured is not None and measured >= self.fill * allowed_rate:
            # At the rate the limiter holds the pace: the service has rate * latency calls in
            # it whatever the window, so the window follows Little's law, up or down; before
            # it is warm, not below the customers in flight (the first answers are mostly
            # GETs, quicker than the PUTs that follow: a cut would stall the start).
            if not warm and in_flight is not None:
                target = max(target, float(in_flight))
            self._set(self._size + (target - self._size) / 2.0)
            return self.size
        ratio = math.exp(self._short - self._base) if self._base is not None else 1.0
        if ratio > self.tolerance:  # short of the rate and latency climbing: it is queueing
            shrunk = self._size * max(self.shrink_floor, self.tolerance / ratio)
            self._set(max(shrunk, min(self._size, self.latency_floor)))
        elif (
            now >= self._hold_until
            and ratio <= self.rising
            and (in_flight is None or in_flight >= self.size)  # full: more room would be used
        ):
            cap = max(self._size, self.growth_cap * target)
            if measured is None:
                # Until a whole span is measured, Little's law is the best guess of the need:
                # the window goes there at once from the first answers (a short run is at the
                # rate from its first second, not after doubling up from `start`).
                self._set(min(cap, max(self._size + 1.0, target)))
            else:
                wanted = self._size * allowed_rate / max(measured, 1e-9)
                self._set(min(2.0 * self._size, cap, max(self._size + 1.0, wanted)))
        return self.size

    def on_send(self, now: float) -> None:
        """A request was sent at `now` (the rate limiter let it go): counted in the rate."""
        if self._first is None:
            self._first = now
        sent = self._sent
        sent.append(now)
        span = self._span()
        while sent[0] <= now - span:
            sent.popleft()
        self.measured_rate = len(sent) / span if now - self._first >= span else None

    def on_throttle(self, now: float, pause_s: float = 0.0) -> int:
        """A partner-wide 429 at `now`; every worker waits `pause_s` s. Returns the new size."""
        self._hold_until = max(self._hold_until, now + max(pause_s, 0.0) + self._span())
        if self.fixed or now - self._last_cut < max(self._mean, self.min_interval_s):
            return self.size
        self._last_cut = now
        self._set(self._size * self.beta)
        return self.size

    def _learn(self, latency_s: float) -> None:
        """Add a latency to the averages; the first ones weigh as much as in a plain mean."""
        self._n += 1
        n = self._n
        log = math.log(latency_s)
        short, long, mean = max(1 / n, 0.05), max(1 / n, 0.01), max(1 / n, 0.02)
        self._short += short * (log - self._short)
        self._long += long * (log - self._long)
        self._mean += mean * (latency_s - self._mean)

    def _span(self) -> float:
        return max(self.span_s, 2.0 * self._mean, self.span_answers / self._allowed)

    def _set(self, size: float) -> None:
        self._size = min(float(self.ceiling), max(1.0, size))
