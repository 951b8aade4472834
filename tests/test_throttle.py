"""throttle with a fake clock: AdaptiveRate (down at once on 429, back up to the ceiling) and
Spacing (one request every 1/rate seconds, never closer, nothing inside a Retry-After pause)."""

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batch.core.throttle import AdaptiveRate, Spacing


def answers(rate: AdaptiveRate, start: float, seconds: float, per_second: float) -> float:
    """Feed successful answers at `per_second` for `seconds`; returns the time at the end."""
    t = start
    step = 1.0 / per_second
    while t < start + seconds:
        rate.on_success(t)
        t += step
    return t


def test_a_run_that_is_never_throttled_stays_at_the_ceiling():
    rate = AdaptiveRate(10.0)
    answers(rate, 0.0, 30.0, 10.0)
    assert rate.rate == 10.0
    assert rate.minimum == 10.0


def test_a_429_drops_the_rate_at_once():
    rate = AdaptiveRate(10.0)
    assert rate.on_throttle(5.0) == pytest.approx(10.0 * rate.beta_blind)


def test_a_429_after_a_measured_spell_drops_just_under_what_went_through():
    rate = AdaptiveRate(10.0)
    t = answers(rate, 0.0, 5.0, 8.0)  # the service let 8/s through while 10/s were allowed
    assert rate.on_throttle(t) == pytest.approx(8.0 * rate.beta, rel=0.05)


def test_a_too_short_measurement_is_not_trusted():
    # the first half second of a run: the service's burst allowance makes 200/s look fine
    rate = AdaptiveRate(200.0)
    t = answers(rate, 0.0, 0.2, 200.0)
    assert rate.on_throttle(t) == pytest.approx(200.0 * rate.beta_blind)


def test_the_retry_after_pause_is_not_measured_as_a_low_rate():
    rate = AdaptiveRate(100.0)
    t = answers(rate, 0.0, 3.0, 50.0)
    rate.on_throttle(t, pause=10.0)
    t = answers(rate, t + 10.0, 3.0, 45.0)  # after the pause: 45/s go through
    assert rate.on_throttle(t) == pytest.approx(45.0 * rate.beta, rel=0.05)


def test_an_over_asked_ceiling_drops_below_what_actually_went_through():
    # --rate 200 against a service that lets 40/s through: one 429 must bring the rate under
    # 40, not to 140 (which would take five more 429s, each pausing every worker).
    rate = AdaptiveRate(200.0)
    t = answers(rate, 0.0, 3.0, 40.0)
    assert rate.on_throttle(t) < 40.0


def test_429s_for_requests_sent_before_the_drop_do_not_drop_it_again():
    rate = AdaptiveRate(100.0)
    first = rate.on_throttle(10.0, sent_at=9.95)
    for i in range(8):  # the rest of the burst that was in flight
        assert rate.on_throttle(10.01 + i / 1000, sent_at=9.96) == first


def test_a_429_for_a_request_sent_after_the_drop_drops_again():
    rate = AdaptiveRate(100.0)
    first = rate.on_throttle(10.0, sent_at=9.9)
    assert rate.on_throttle(12.0, sent_at=11.5) < first


def test_the_rate_climbs_back_to_the_ceiling_after_throttling_stops():
    rate = AdaptiveRate(20.0)
    rate.on_throttle(0.0)
    answers(rate, 0.1, 60.0, 20.0)
    assert rate.rate == 20.0
    assert rate.minimum == pytest.approx(20.0 * rate.beta_blind)


def test_the_climb_is_quick_at_first_then_flat_near_the_throttled_rate():
    rate = AdaptiveRate(1000.0)
    t = answers(rate, 0.0, 2.0, 50.0)
    rate.on_throttle(t)
    low = rate.rate
    answers(rate, t, 2.0, 50.0)
    after_2s = rate.rate
    assert after_2s > low
    # around the throttled rate the curve is flat: a second there adds little
    plateau_start = rate.rate
    answers(rate, t + 2.0, 1.0, 50.0)
    assert rate.rate - plateau_start < after_2s - low


def test_the_climb_waits_for_the_end_of_the_retry_after_pause():
    rate = AdaptiveRate(20.0)
    cut = rate.on_throttle(0.0, pause=30.0)
    answers(rate, 0.1, 29.0, 20.0)
    assert rate.rate == cut
    answers(rate, 31.0, 60.0, 20.0)
    assert rate.rate == 20.0


def test_the_rate_never_goes_below_the_floor():
    rate = AdaptiveRate(10.0, floor=0.5)
    for i in range(50):
        rate.on_throttle(float(i))
    assert rate.rate == 0.5
    assert rate.minimum == 0.5


def test_a_ceiling_below_the_floor_is_kept():
    rate = AdaptiveRate(0.2)
    rate.on_throttle(1.0)
    assert rate.rate == pytest.approx(0.2)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("inf"), float("nan")])
def test_a_ceiling_must_be_a_positive_number(bad):
    with pytest.raises(ValueError):
        AdaptiveRate(bad)


events = st.lists(
    st.tuples(st.booleans(), st.floats(0.0, 5.0), st.floats(0.0, 3.0)), min_size=1, max_size=60
)


@given(st.floats(0.1, 500.0), events)
def test_the_rate_stays_between_floor_and_ceiling_whatever_happens(ceiling, steps):
    rate = AdaptiveRate(ceiling)
    t = 0.0
    for throttled, gap, pause in steps:
        t += gap
        if throttled:
            rate.on_throttle(t, sent_at=t - 0.01, pause=pause)
        else:
            rate.on_success(t)
        assert rate.floor <= rate.rate <= ceiling
        assert rate.minimum <= rate.rate


@given(st.floats(1.0, 1000.0), st.floats(0.0, 60.0), st.floats(0.05, 1.0), st.floats(0.0, 5.0))
def test_the_rate_is_back_at_the_ceiling_within_the_documented_bound(
    ceiling, pause, share, measured_for
):
    # whatever went through before the 429 (a share of the ceiling, measured or not)
    rate = AdaptiveRate(ceiling)
    t = answers(rate, 0.0, measured_for, ceiling * share) if measured_for else 0.0
    rate.on_throttle(t, pause=pause)
    bound = pause + math.cbrt(50 * ceiling) + math.cbrt(100 * ceiling)
    step = 0.05
    answers(rate, t + step, bound + step, 1 / step)
    assert rate.rate == ceiling


@given(st.floats(0.5, 500.0), events)
def test_a_429_for_a_request_sent_after_the_last_cut_cuts_the_rate_by_a_fifth_or_more(
    ceiling, steps
):
    rate = AdaptiveRate(ceiling)
    t, last_cut = 0.0, -math.inf
    for throttled, gap, pause in steps:
        t += gap
        if throttled:
            sent = t - 0.01
            before = rate.rate
            after = rate.on_throttle(t, sent_at=sent, pause=pause)
            if sent > last_cut:
                assert after <= max(rate.floor, 0.8 * before) + 1e-9
                last_cut = t
            else:  # sent before the cut: already accounted for
                assert after == before
        else:
            rate.on_success(t)


def test_the_first_request_after_a_quiet_spell_goes_at_once_and_the_next_after_1_over_rate():
    spacing = Spacing()
    assert spacing.reserve(100.0, 10.0) == 100.0
    assert spacing.reserve(100.0, 10.0) == pytest.approx(100.1)
    assert spacing.reserve(100.0, 10.0) == pytest.approx(100.2)
    assert spacing.reserve(500.0, 10.0) == 500.0  # quiet again: no credit saved up


def test_a_lower_rate_spaces_the_very_next_request():
    spacing = Spacing()
    spacing.reserve(0.0, 1000.0)
    assert spacing.reserve(0.0, 2.0) == pytest.approx(0.5)


def test_nothing_is_sent_inside_a_retry_after_pause_and_earlier_turns_are_void():
    spacing = Spacing()
    first = spacing.reserve(0.0, 10.0)
    queued = spacing.reserve(0.0, 10.0)
    generation = spacing.generation
    spacing.hold(0.05, 2.0)
    assert spacing.generation != generation  # `queued` must ask again
    assert (first, queued) == (0.0, pytest.approx(0.1))
    assert spacing.reserve(0.06, 5.0) == 2.0
    assert spacing.reserve(0.06, 5.0) == pytest.approx(2.2)


def test_a_pause_of_zero_still_spaces_the_next_request_from_the_last_one_sent():
    spacing = Spacing()
    spacing.reserve(0.0, 10.0)
    spacing.hold(0.0, 0.0)
    assert spacing.reserve(0.0, 10.0) >= 0.1 - 1e-12


asks = st.lists(
    st.one_of(
        st.tuples(st.just("ask"), st.floats(0.0, 0.5), st.floats(0.5, 200.0)),
        st.tuples(st.just("hold"), st.floats(0.0, 0.5), st.floats(0.0, 3.0)),
    ),
    min_size=1,
    max_size=80,
)


@given(asks)
def test_send_times_are_never_closer_than_1_over_the_rate_and_never_inside_a_pause(steps):
    spacing = Spacing()
    t = 0.0
    turns = []  # (send time, rate, step number)
    holds = []  # (at, until, step number)
    for n, (kind, gap, value) in enumerate(steps):
        t += gap
        if kind == "ask":
            at = spacing.reserve(t, value)
            assert at >= t
            turns.append((at, value, n))
        else:
            spacing.hold(t, t + value)
            holds.append((t, t + value, n))
    # A turn is used unless a hold came after it was given and before its time (the Pacer
    # then asks again).
    used = sorted(
        (at, rate, n) for at, rate, n in turns if not any(m > n and h < at for h, _, m in holds)
    )
    for (before, _, _), (after, rate, _) in itertools.pairwise(used):
        assert after - before >= 1 / rate - 1e-9
    for at, _, n in used:
        for _, until, m in holds:
            if m < n:
                assert at >= until - 1e-12
