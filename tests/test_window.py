"""window with a fake clock: the number of customers in flight follows Little's law at the rate,
grows while the window holds a run back, shrinks when the service queues or the partner is
throttled, and stays in [1, ceiling]."""

import heapq
import math
import random
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batch.core.throttle import Spacing
from batch.core.window import Window

Latency = Callable[[str, float, random.Random], float]


def lognormal(median: float = 0.4, sigma: float = 0.6, put: float = 2.0) -> Latency:
    """Calls lognormal around `median` seconds, PUTs `put` times as slow."""

    def latency(kind: str, at: float, rng: random.Random) -> float:
        return median * math.exp(sigma * rng.gauss()) * (put if kind == "PUT" else 1.0)

    return latency


def queueing(capacity: int, median: float = 0.4) -> Latency:
    """A service that slows down in proportion once more than `capacity` calls are in it."""
    ends: list[float] = []
    plain = lognormal(median)

    def latency(kind: str, at: float, rng: random.Random) -> float:
        ends[:] = [end for end in ends if end > at]
        took = plain(kind, at, rng) * max(1.0, (len(ends) + 1) / capacity)
        ends.append(at + took)
        return took

    return latency


@dataclass
class Model:
    """Customers (a GET, then a PUT) through one rate limiter at `rate`, as many as the window."""

    window: Window
    rate: float
    latency: Latency
    seed: int = 1
    answers: list[tuple[float, float]] = field(default_factory=list)  # (time, latency)
    sizes: list[tuple[float, int]] = field(default_factory=list)

    def run(self, seconds: float) -> "Model":
        rng = random.Random(self.seed)
        spacing = Spacing()
        events: list[tuple[float, int, str, float]] = []
        count = 0
        in_flight = 0

        def queue(at: float, what: str, took: float = 0.0) -> None:
            nonlocal count
            count += 1
            heapq.heappush(events, (at, count, what, took))

        def fill(now: float) -> None:
            nonlocal in_flight
            while in_flight < self.window.size:
                in_flight += 1
                queue(spacing.reserve(now, self.rate), "send GET")

        fill(0.0)
        while events:
            now, _, what, took = heapq.heappop(events)
            if now > seconds:
                break
            if what.startswith("send"):
                kind = what.split()[1]
                self.window.on_send(now)
                took = self.latency(kind, now, rng)
                queue(now + took, kind, took)
                continue
            self.answers.append((now, took))
            self.window.on_answer(now, took, self.rate, in_flight=in_flight)
            self.sizes.append((now, self.window.size))
            if what == "GET":
                queue(spacing.reserve(now, self.rate), "send PUT")
            else:
                in_flight -= 1
                fill(now)
        return self

    def throughput(self, after: float, until: float) -> float:
        return sum(after <= t < until for t, _ in self.answers) / (until - after)

    def little(self) -> float:
        """Customers Little's law says are needed: rate x the mean latency of a call."""
        return self.rate * statistics.mean(took for _, took in self.answers)

    def sizes_after(self, after: float) -> list[int]:
        return [size for t, size in self.sizes if t >= after]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_at_400_ms_and_rate_40_it_settles_near_littles_law_and_keeps_the_rate(seed):
    model = Model(Window(64), 40.0, lognormal(0.4, 0.6, put=2.0), seed).run(90.0)
    little = model.little()  # about 29 customers
    settled = model.sizes_after(20.0)
    assert little <= min(settled)
    assert max(settled) <= 1.5 * little + 2
    assert model.throughput(20.0, 90.0) >= 0.97 * 40


def test_it_reaches_the_rate_within_seconds_of_the_start():
    model = Model(Window(64), 40.0, lognormal(0.4, 0.6, put=2.0)).run(30.0)
    assert model.throughput(3.0, 30.0) >= 0.95 * 40


def test_today_s_fixed_window_of_8_reaches_a_quarter_of_the_rate():
    model = Model(Window(8, fixed=True), 40.0, lognormal(0.4, 0.6, put=2.0)).run(60.0)
    assert model.throughput(10.0, 60.0) < 0.35 * 40
    assert set(model.sizes_after(0.0)) == {8}


def test_it_never_goes_above_the_ceiling():
    model = Model(Window(16), 40.0, lognormal(0.4, 0.6, put=2.0)).run(60.0)
    assert max(model.sizes_after(0.0)) == 16
    assert model.sizes_after(10.0) == [16] * len(model.sizes_after(10.0))


def test_a_fast_service_at_a_huge_rate_gets_the_whole_ceiling():
    model = Model(Window(16), 1e6, lognormal(0.002, 0.2, put=1.0)).run(2.0)
    assert model.sizes_after(0.5)[-1] == 16


def test_a_fast_service_needs_few_customers_in_flight():
    model = Model(Window(64), 100.0, lognormal(0.03, 0.6, put=2.0)).run(30.0)
    assert max(model.sizes_after(5.0)) <= 1.5 * model.little() + 2 + 4
    assert model.throughput(5.0, 30.0) >= 0.97 * 100


def test_a_queueing_service_gets_a_smaller_window_than_the_ceiling():
    # The service holds 20 calls at full speed and slows down in proportion beyond that: its
    # throughput is capped near 28/s whatever the window, so 40/s is out of reach and the extra
    # customers would only queue inside it.
    adaptive = Model(Window(64), 40.0, queueing(20)).run(60.0)
    fixed = Model(Window(64, fixed=True), 40.0, queueing(20)).run(60.0)
    assert statistics.mean(adaptive.sizes_after(20.0)) < 0.85 * 64
    assert statistics.mean(t for _, t in adaptive.answers) < statistics.mean(
        t for _, t in fixed.answers
    )
    assert adaptive.throughput(20.0, 60.0) >= 0.95 * fixed.throughput(20.0, 60.0)


def below_the_rate(window: Window, start: float, seconds: float, latency: float) -> float:
    """10 requests/s sent and answered `latency` s later, 40/s allowed, the window full."""
    t = start
    while t < start + seconds:
        window.on_send(t)
        window.on_answer(t, latency, 40.0, in_flight=window.size)
        t += 0.1
    return t


def test_latency_climbing_below_the_rate_shrinks_the_window():
    window = Window(64, start=30)
    t = below_the_rate(window, 0.0, 12.0, 0.4)
    before = window.size
    below_the_rate(window, t, 3.0, 1.2)  # three times slower: the service is queueing
    assert window.size < 0.6 * before
    assert window.size >= 1


def test_a_steady_latency_below_the_rate_grows_the_window():
    window = Window(64, start=8)
    below_the_rate(window, 0.0, 8.0, 0.4)
    assert window.size > 8


def test_a_window_that_is_not_full_does_not_grow():
    window = Window(64, start=8)
    t = 0.0
    while t < 8.0:
        window.on_send(t)
        window.on_answer(t, 0.4, 40.0, in_flight=3)  # the sheet's last rows: 3 left
        t += 0.1
    assert window.size == 8


def test_a_partner_wide_429_shrinks_it_once_and_it_waits_out_the_pause():
    window = Window(64, start=40)
    window.on_throttle(10.0, pause_s=2.0)
    assert window.size == 32  # 40 * beta (0.8)
    for i in range(8):  # the rest of the burst, from requests already in flight
        window.on_throttle(10.01 + i / 1000, pause_s=2.0)
    assert window.size == 32
    below_the_rate(window, 10.1, 1.8, 0.4)  # the pause reads as a low rate: no growth
    assert window.size == 32


def test_a_fixed_window_stays_at_the_ceiling_whatever_happens():
    window = Window(12, fixed=True)
    below_the_rate(window, 0.0, 5.0, 1.0)
    window.on_throttle(5.0, pause_s=1.0)
    assert window.size == 12
    assert window.measured_rate == pytest.approx(10.0, rel=0.1)  # still measured, for display


def test_the_measured_rate_and_latency_are_there_for_the_progress_display():
    window = Window(64)
    assert (window.measured_rate, window.latency_s) == (None, None)
    below_the_rate(window, 0.0, 5.0, 0.5)
    assert window.measured_rate == pytest.approx(10.0, rel=0.1)
    assert window.latency_s == pytest.approx(0.5)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_a_ceiling_must_be_a_whole_number_of_customers(bad):
    with pytest.raises(ValueError):
        Window(bad)


steps = st.lists(
    st.tuples(
        st.sampled_from(["send", "answer", "429"]),
        st.floats(0.0, 2.0),  # time since the previous step
        st.floats(0.0, 10.0),  # latency, or pause
        st.floats(0.5, 500.0),  # allowed rate
        st.integers(0, 80),  # in flight
    ),
    max_size=120,
)


@given(st.integers(1, 100), st.integers(1, 100), st.booleans(), steps)
def test_the_size_stays_between_1_and_the_ceiling_whatever_happens(ceiling, start, fixed, events):
    window = Window(ceiling, start=start, fixed=fixed)
    t = 0.0
    for kind, gap, seconds, allowed, in_flight in events:
        t += gap
        if kind == "send":
            window.on_send(t)
        elif kind == "answer":
            window.on_answer(t, seconds, allowed, in_flight=in_flight, throttled=seconds > 9)
        else:
            window.on_throttle(t, pause_s=seconds)
        assert 1 <= window.size <= ceiling
        if fixed:
            assert window.size == ceiling
