"""quota with a fake clock: a 429 on one customer while the others succeed is that customer's;
429s across customers, for a large share of calls, or for every call are the partner's."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batch.core.quota import QuotaReader, Scope


def successes(reader: QuotaReader, start: float, count: int, per_second: float = 100.0) -> float:
    """`count` answers other than 429, each for a new customer; returns the time after them."""
    t = start
    for i in range(count):
        reader.on_success(t, f"ok-{start}-{i}")
        t += 1.0 / per_second
    return t


def test_one_customer_throttled_while_the_others_succeed_is_that_customers_quota():
    reader = QuotaReader()
    t = successes(reader, 0.0, 50)
    assert reader.on_throttle(t, "c-1") is Scope.CUSTOMER


def test_the_same_customer_throttled_again_is_still_its_own_quota():
    reader = QuotaReader()
    t = successes(reader, 0.0, 50)
    assert reader.on_throttle(t, "c-1") is Scope.CUSTOMER
    t = successes(reader, t, 20)
    assert reader.on_throttle(t, "c-1") is Scope.CUSTOMER


def test_429s_across_four_customers_are_the_partners_quota():
    reader = QuotaReader()
    t = successes(reader, 0.0, 50)
    assert reader.on_throttle(t, "c-1") is Scope.CUSTOMER
    assert reader.on_throttle(t + 0.05, "c-2") is Scope.CUSTOMER
    assert reader.on_throttle(t + 0.1, "c-3") is Scope.CUSTOMER
    assert reader.on_throttle(t + 0.15, "c-4") is Scope.PARTNER


def test_three_customers_throttled_close_together_among_many_successes_are_their_own():
    # the bench's chaos run: customers 308, 317 and 326 of 1,500 throttled once (1%)
    reader = QuotaReader()
    t = successes(reader, 0.0, 40)
    for name in ("c-308", "c-317", "c-326"):
        assert reader.on_throttle(t, name) is Scope.CUSTOMER
        t = successes(reader, t, 17)


def test_a_quarter_of_recent_calls_throttled_is_the_partners_quota():
    reader = QuotaReader(spread=100)  # the share alone decides here
    t = successes(reader, 0.0, 6)
    assert reader.on_throttle(t, "c-1") is Scope.CUSTOMER  # 1 in 7
    assert reader.on_throttle(t, "c-2") is Scope.PARTNER  # 2 in 8


def test_every_call_throttled_is_the_partners_quota():
    reader = QuotaReader()
    assert reader.on_throttle(0.0, "c-1") is Scope.PARTNER  # nothing to compare with


def test_a_single_customer_in_flight_cannot_tell_and_reads_the_partners_quota():
    reader = QuotaReader()
    for i in range(30):
        reader.on_success(i * 0.1, "only")
    assert reader.on_throttle(3.0, "only") is Scope.PARTNER


def test_successes_older_than_the_horizon_say_nothing_about_the_quota_now():
    reader = QuotaReader(horizon_s=10.0)
    t = successes(reader, 0.0, 50)
    assert reader.on_throttle(t + 11.0, "c-1") is Scope.PARTNER


def test_429s_that_left_the_recent_answers_no_longer_count():
    reader = QuotaReader(recent=64)
    t = successes(reader, 0.0, 60)
    reader.on_throttle(t, "c-1")
    reader.on_throttle(t, "c-2")
    t = successes(reader, t, 64)  # both pushed out
    assert reader.on_throttle(t, "c-3") is Scope.CUSTOMER


def test_one_percent_of_customers_throttled_once_rarely_slows_the_run():
    # 100 answers/s, 50 customers/s, one in 100 throttled on its first call: the chaos run
    reader = QuotaReader()
    t, partner, throttled = 0.0, 0, 0
    for customer in range(1500):
        for call in range(2):
            t += 0.01
            name = f"c-{customer}"
            if call == 0 and customer % 100 == 37:
                throttled += 1
                partner += reader.on_throttle(t, name) is Scope.PARTNER
            else:
                reader.on_success(t, name)
    assert throttled == 15
    assert partner == 0


def test_a_rate_above_the_partners_quota_is_read_as_the_partners_after_three_429s():
    # sent 50/s against a bucket of 40/s (20 at once): every fifth request is refused
    reader = QuotaReader()
    tokens, scopes = 20.0, []
    for i in range(500):
        t = i / 50
        tokens = min(20.0, tokens + 40.0 / 50)
        if tokens >= 1.0:
            tokens -= 1.0
            reader.on_success(t, f"c-{i // 2}")
        else:
            scopes.append(reader.on_throttle(t, f"c-{i // 2}"))
    assert scopes[:3] == [Scope.CUSTOMER] * 3
    assert set(scopes[3:]) == {Scope.PARTNER}


@pytest.mark.parametrize("bad", [{"recent": 0}, {"spread": 0}])
def test_sizes_must_be_at_least_one(bad):
    with pytest.raises(ValueError):
        QuotaReader(**bad)


answers = st.lists(st.tuples(st.integers(0, 5), st.booleans()), min_size=1, max_size=100)


@given(answers)
def test_a_429_is_never_the_customers_when_no_other_customer_succeeded(steps):
    reader = QuotaReader()
    seen_ok: set[int] = set()
    for i, (customer, throttled) in enumerate(steps):
        t = i * 0.01
        if throttled:
            scope = reader.on_throttle(t, f"c-{customer}")
            if not seen_ok - {customer}:
                assert scope is Scope.PARTNER
        else:
            reader.on_success(t, f"c-{customer}")
            seen_ok.add(customer)
