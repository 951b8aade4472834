"""The adaptive request rate: down at once on a 429, back up towards the --rate ceiling.

How it works (the shape of AWS's "adaptive" retry mode, which uses CUBIC):

- It starts at the ceiling (the user's --rate): a run that is never throttled never slows.
- On a 429 the rate drops multiplicatively: to `beta` times the rate that was actually going
  through (the measured answer rate when that is lower than the allowed one, so an over-asked
  ceiling of 200/s against a service allowing 40/s drops below 40 in one step, not in five).
  The measurement restarts after each Retry-After pause, so a pause is not read as a low rate.
- A 429 for a request sent before the last drop says nothing new about the drop: it is counted
  but does not drop the rate again (a burst of in-flight 429s would otherwise cut it to the floor).
- While answers come back, the rate climbs along CUBIC's curve
  `w(t) = c * (t - k)**3 + w_max`, `k = cbrt(w_max * (1 - beta) / c)`: quickly back to just
  under the rate that was throttled, flat around it, then probing above it; never above the
  ceiling. `t` counts from the end of the Retry-After pause, not from the 429, so a long pause
  does not come back at full speed.

Pure: every event takes `now` (seconds on any monotonic clock); tests pass a fake clock.
"""

from __future__ import annotations

import math


class AdaptiveRate:
    """The current allowed request rate (requests/second), driven by answers and 429s.

    ceiling: the --rate option, requests/s (> 0); the rate never goes above it.
    beta: 0.7, the share of the rate kept after a 429 (multiplicative decrease).
    c: 0.4, CUBIC's scaling constant in requests/s per s**3 (how fast it climbs back).
    floor: 0.5 requests/s (or the ceiling, if lower); the rate never goes below it.
    bucket_s: 0.5 s, the window of the answer-rate measurement (smoothed, weight `smooth`).
    """

    __slots__ = (
        "_bucket_count",
        "_bucket_start",
        "_epoch",
        "_k",
        "_last_cut",
        "_measured",
        "_w_max",
        "beta",
        "bucket_s",
        "c",
        "ceiling",
        "floor",
        "minimum",
        "rate",
        "smooth",
        "throttles",
    )

    def __init__(
        self,
        ceiling: float,
        *,
        beta: float = 0.7,
        c: float = 0.4,
        floor: float = 0.5,
        bucket_s: float = 0.5,
        smooth: float = 0.8,
    ) -> None:
        if not (ceiling > 0 and math.isfinite(ceiling)):
            raise ValueError(f"ceiling must be a positive number of requests/s, not {ceiling!r}")
        self.ceiling = float(ceiling)
        self.beta = beta
        self.c = c
        self.floor = min(floor, self.ceiling)
        self.bucket_s = bucket_s
        self.smooth = smooth
        self.rate = self.ceiling  #: requests/s allowed now
        self.minimum = self.ceiling  #: the lowest rate allowed so far in this run
        self.throttles = 0  #: 429s seen
        self._w_max = self.ceiling  # the rate that was throttled last
        self._k = 0.0  # seconds from the epoch until the curve is back at _w_max
        self._epoch = -math.inf  # when the climb starts: the end of the last Retry-After pause
        self._last_cut = -math.inf  # when the rate was last dropped
        self._measured = 0.0  # smoothed answers/s
        self._bucket_start: float | None = None
        self._bucket_count = 0

    def on_throttle(self, now: float, *, sent_at: float | None = None, pause: float = 0.0) -> float:
        """A 429 came back at `now` for a request sent at `sent_at`; returns the new rate.

        pause: the Retry-After every worker now waits (seconds); the climb starts after it.
        """
        self.throttles += 1
        self._measure(now)
        if sent_at is not None and sent_at <= self._last_cut:
            return self.rate  # sent at the old rate: the drop already accounts for it
        through = self.rate
        if 0.0 < self._measured < through:
            through = self._measured
        self._w_max = through
        self._k = math.cbrt(self._w_max * (1.0 - self.beta) / self.c)
        self._last_cut = now
        self._epoch = now + max(pause, 0.0)
        self._set(through * self.beta)
        # Measure afresh after the pause: a window that spans it would read the pause as a
        # low rate, and the next drop would start from that.
        self._measured = 0.0
        self._bucket_start = None
        self._bucket_count = 0
        return self.rate

    def on_success(self, now: float) -> float:
        """An answer other than 429 came back at `now`; returns the new rate."""
        self._measure(now)
        if self.rate >= self.ceiling or now <= self._epoch:
            return self.rate
        t = now - self._epoch
        target = self.c * (t - self._k) ** 3 + self._w_max
        if target > self.rate:
            self._set(target)
        return self.rate

    def _set(self, rate: float) -> None:
        self.rate = min(self.ceiling, max(self.floor, rate))
        self.minimum = min(self.minimum, self.rate)

    def _measure(self, now: float) -> None:
        # Answers per second, counted in buckets of bucket_s and smoothed: cheap per answer.
        if now < self._epoch:
            return  # answers to calls sent before a pause say nothing about the new rate
        if self._bucket_start is None:
            self._bucket_start = now
        elapsed = now - self._bucket_start
        if elapsed >= self.bucket_s:
            current = self._bucket_count / elapsed
            if self._measured == 0.0:  # the first window: nothing to smooth with yet
                self._measured = current
            else:
                self._measured = self.smooth * current + (1.0 - self.smooth) * self._measured
            self._bucket_start = now
            self._bucket_count = 0
        self._bucket_count += 1
