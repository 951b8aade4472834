"""The adaptive request rate (AdaptiveRate), and when each request may go at it (Spacing).

AdaptiveRate: down at once on a 429, back up towards the --rate ceiling. How it works (the
shape of AWS's "adaptive" retry mode, which uses CUBIC, tuned for a service whose 429 makes
every worker wait a Retry-After: each 429 costs that pause, so fewer of them is the goal):

- It starts at the ceiling (the user's --rate): a run that is never throttled never slows.
- On a 429 the rate drops multiplicatively. What went through is measured from the end of the
  last Retry-After pause to this 429 (answers other than 429 per second; the pause itself is
  left out, as the service's rounded-up Retry-After would read as a low rate). Over at least
  `window_s` and `window_answers`, the measurement is trusted: the rate drops to `beta` (0.8)
  times the lower of it and the allowed rate, so an over-asked --rate 200 against a service
  allowing 40/s lands just under 40. A shorter one (the first seconds of a run, where the
  service's burst allowance hides its rate) is not: the rate halves (`beta_blind`).
- A 429 for a request sent before the last drop says nothing new about the drop: it is counted
  but does not drop the rate again (a burst of in-flight 429s would otherwise cut it to the floor).
- While answers come back, the rate climbs along CUBIC's curve
  `w(t) = c * (t - k)**3 + w_max`, `k = cbrt(w_max * (1 - beta) / c)`: back towards the rate
  that went through, flat around it, then probing above it; never above the ceiling. `t`
  counts from the end of the Retry-After pause, so a long pause does not come back at full
  speed. `c` is small (0.01): a billing-profile quota does not move from minute to minute, and
  a slow probe means few 429s.
- Recovery is bounded: while answers keep coming, the rate is back at the ceiling at most
  `pause + cbrt(w_max * (1 - beta) / c) + cbrt((ceiling - w_max) / c)` seconds after a 429,
  within `pause + cbrt(50 * ceiling) + cbrt(100 * ceiling)` s with the defaults (7.9 + 10 = 18 s
  for --rate 10; 21.5 + 27.1 = 49 s for --rate 200).

Spacing: one request every 1/rate seconds, never closer, at the rate of the moment (GCRA's
virtual scheduling with no burst tolerance). Each request reserves its send time in advance,
so a late wake-up of the event loop delays that one request and not the ones after it: the
average rate is the allowed rate, without the slack a leaky bucket needs to absorb late timers.

Pure: every event takes `now` (seconds on any monotonic clock); tests pass a fake clock.
"""

from __future__ import annotations

import math


class AdaptiveRate:
    """The current allowed request rate (requests/second), driven by answers and 429s.

    ceiling: the --rate option, requests/s (> 0); the rate never goes above it.
    beta: 0.8, the share kept after a 429 of the rate measured to go through.
    beta_blind: 0.5, the share of the allowed rate kept after a 429 with no trusted measurement.
    c: 0.01, CUBIC's scaling constant in requests/s per s**3 (how fast it climbs back).
    floor: 0.5 requests/s (or the ceiling, if lower); the rate never goes below it.
    window_s, window_answers: 1 s and 8 answers, the least a measurement must span to be trusted.
    """

    __slots__ = (
        "_answers",
        "_epoch",
        "_k",
        "_last_cut",
        "_since",
        "_w_max",
        "beta",
        "beta_blind",
        "c",
        "ceiling",
        "floor",
        "minimum",
        "rate",
        "window_answers",
        "window_s",
    )

    def __init__(
        self,
        ceiling: float,
        *,
        beta: float = 0.8,
        beta_blind: float = 0.5,
        c: float = 0.01,
        floor: float = 0.5,
        window_s: float = 1.0,
        window_answers: int = 8,
    ) -> None:
        if not (ceiling > 0 and math.isfinite(ceiling)):
            raise ValueError(f"ceiling must be a positive number of requests/s, not {ceiling!r}")
        self.ceiling = float(ceiling)
        self.beta = beta
        self.beta_blind = beta_blind
        self.c = c
        self.floor = min(floor, self.ceiling)
        self.window_s = window_s
        self.window_answers = window_answers
        self.rate = self.ceiling  #: requests/s allowed now
        self.minimum = self.ceiling  #: the lowest rate allowed so far in this run
        self._w_max = self.ceiling  # the rate that went through when last throttled
        self._k = 0.0  # seconds from the epoch until the curve is back at _w_max
        self._epoch = -math.inf  # when the climb starts: the end of the last Retry-After pause
        self._last_cut = -math.inf  # when the rate was last dropped
        self._since: float | None = None  # start of the measurement: a pause's end, or 1st answer
        self._answers = 0  # answers other than 429 since then

    def on_throttle(self, now: float, *, sent_at: float | None = None, pause: float = 0.0) -> float:
        """A 429 came back at `now` for a request sent at `sent_at`; returns the new rate.

        pause: the Retry-After every worker now waits (seconds); the climb starts after it.
        """
        if sent_at is not None and sent_at <= self._last_cut:
            return self.rate  # sent at the old rate: the drop already accounts for it
        through = self.rate
        beta = self.beta_blind
        if self._since is not None:
            window = now - self._since
            if window >= self.window_s and self._answers >= self.window_answers:
                through = min(through, self._answers / window)
                beta = self.beta
        self._w_max = through
        self._k = math.cbrt(self._w_max * (1.0 - beta) / self.c)
        self._last_cut = now
        self._epoch = now + max(pause, 0.0)
        self._set(through * beta)
        self._since = self._epoch  # measure from the end of the pause
        self._answers = 0
        return self.rate

    def on_success(self, now: float) -> float:
        """An answer other than 429 came back at `now`; returns the new rate."""
        if self._since is None:
            self._since = now
        if now >= self._since:
            self._answers += 1
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


class Spacing:
    """Send times one `1/rate` apart at least, never before a Retry-After pause ends.

    reserve(now, rate) gives the later of `now` and the previous send time plus 1/rate (the
    rate of this moment, so a change applies to the very next request). After a quiet spell
    the first request goes at once and the next 1/rate later: no burst, ever. Over any window
    of W seconds at a steady rate, at most W * rate + 1 send times fall inside it.
    hold(now, until) starts a pause: no send time before `until`, and every time reserved
    after `now` is void (`generation` changes; the holder asks again), since it was spaced for
    a rate the 429 just refuted.
    """

    __slots__ = ("_last", "_not_before", "generation")

    def __init__(self) -> None:
        self._last = -math.inf  # the latest send time handed out
        self._not_before = -math.inf  # the end of the last pause
        self.generation = 0  #: changes on every hold()

    def reserve(self, now: float, rate: float) -> float:
        """Reserve the send time of a request asked for at `now`; returns it (>= now).

        rate: requests/s (> 0) allowed now.
        """
        at = self._last + 1.0 / rate
        if at < now:
            at = now
        if at < self._not_before:
            at = self._not_before
        self._last = at
        return at

    def hold(self, now: float, until: float) -> None:
        """At `now`, a pause: nothing goes before `until`; reservations made so far are void."""
        if until > self._not_before:
            self._not_before = until
        # Times up to `now` were used; later ones are void and will be asked for again. Spacing
        # from `now` keeps 1/rate after the last request sent even when the pause is 0 s.
        if self._last > now:
            self._last = now
        self.generation += 1
