"""throttle.AdaptiveRate with a fake clock: down at once on 429, back up to the ceiling."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batch.throttle import AdaptiveRate


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
    assert rate.on_throttle(5.0) == pytest.approx(7.0)
    assert rate.throttles == 1


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
    assert rate.throttles == 9


def test_a_429_for_a_request_sent_after_the_drop_drops_again():
    rate = AdaptiveRate(100.0)
    first = rate.on_throttle(10.0, sent_at=9.9)
    assert rate.on_throttle(12.0, sent_at=11.5) < first


def test_the_rate_climbs_back_to_the_ceiling_after_throttling_stops():
    rate = AdaptiveRate(20.0)
    rate.on_throttle(0.0)
    answers(rate, 0.1, 60.0, 20.0)
    assert rate.rate == 20.0
    assert rate.minimum == pytest.approx(14.0)


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
