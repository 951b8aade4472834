"""pool: the shared pace (no burst, a partner's 429 pauses everyone, a customer's only that
customer), the window of customers in flight, skipping, stopping, aborting."""

import asyncio
from random import Random

import pytest

from batch.core.customer_update import Setup
from batch.core.errors import AuthFailed, StoppedEarly
from batch.core.model import Row, Status
from batch.core.options import RunOptions
from batch.core.quota import QuotaReader, Scope
from batch.core.retry import Reply
from batch.core.stops import Stop
from batch.core.throttle import AdaptiveRate
from batch.core.window import Window
from batch.engine.calls import Calls
from batch.engine.pacing import Clock, Pacer, RateLimiter, pacer_for
from batch.engine.pool import CustomerPool, Subscribers
from batch.engine.update import Context
from batch.simulator import SimConfig, run_simulator
from batch.simulator.faults import throttled_once
from batch.wire.auth import StaticToken
from batch.wire.client import Client

FAST = {"backoff_base": 0.01, "backoff_cap": 0.02, "timeout": 2.0, "rate": 1000.0}


def rows_for(ids, **values):
    return [Row(number=i + 2, customer_id=cid, values=values, raw={}) for i, cid in enumerate(ids)]


async def pool(sim, rows, token=None, stop=None, on_progress=None, pacer=None, **options):
    outcomes = []
    opts = RunOptions(**{**FAST, **options})
    tokens = StaticToken(token or sim.token)
    progress = [] if on_progress is None else [on_progress]
    subscribers = Subscribers(outcome=[outcomes.append], progress=progress)
    async with Client(sim.base_url, tokens, timeout=opts.timeout, connections=4) as client:
        calls = Calls(client, pacer or pacer_for(opts), opts.retry_policy, Random(1))
        ctx = Context(calls, Setup(opts.retry_policy, dry_run=opts.dry_run))
        result = await CustomerPool(rows, ctx, opts, subscribers, stop or Stop()).run()
    return sorted(outcomes, key=lambda o: o.row), result


class FakeClock(Clock):
    """Time set by hand: sleep() moves it forward at once, so pacing is checked without waiting.

    One caller at a time: two callers sleeping at once would each move it.
    """

    def __init__(self) -> None:
        self.time = 0.0

    def now(self) -> float:
        return self.time

    async def sleep(self, seconds: float) -> None:
        self.time += seconds
        await asyncio.sleep(0)  # still a suspension point, as a real sleep is

    def advance(self, seconds: float) -> None:
        self.time += seconds


# The limiter's aiolimiter ceiling runs on the event loop's real clock: at 1000 requests/s its
# bucket (20) never holds back the few requests of a test, so what these see is the spacing.
CEILING = 1000.0


async def test_the_limiter_lets_no_burst_through_after_a_quiet_spell():
    clock = FakeClock()
    limiter = RateLimiter(CEILING, clock)
    limiter.set_rate(40.0)
    await limiter.acquire()
    clock.advance(60.0)  # a quiet spell: a token bucket would have filled up here

    sent = [await limiter.acquire() for _ in range(8)]

    # the first goes at once, then one every 1/rate: no two closer, whatever the quiet before
    assert sent == pytest.approx([60.0 + i / 40.0 for i in range(8)])


async def test_a_lower_rate_applies_to_the_next_call():
    clock = FakeClock()
    limiter = RateLimiter(CEILING, clock)
    sent = [await limiter.acquire() for _ in range(20)]
    limiter.set_rate(10.0)

    following = await limiter.acquire()

    assert following - sent[-1] == pytest.approx(1 / 10.0)
    assert sent[-1] - sent[-2] == pytest.approx(1 / CEILING)
    assert limiter.rate == 10.0


async def test_a_429_holds_the_next_call_until_its_retry_after_moment():
    clock = FakeClock()
    pacer = Pacer(AdaptiveRate(100.0), Window(64), clock)
    sent = await pacer.ready()
    clock.advance(0.5)  # the 429 comes back half a second later

    pacer.answered(Reply(429, {}), sent, 5.0)

    assert await pacer.ready() == pytest.approx(sent + 0.5 + 5.0)
    assert pacer.rate < 100.0


async def test_the_limiter_can_never_be_set_above_its_ceiling():
    limiter = RateLimiter(CEILING, FakeClock())
    limiter.set_rate(5 * CEILING)
    assert limiter.rate == CEILING


class RecordingQuota(QuotaReader):
    """A QuotaReader that notes whose quota it read each 429 as."""

    def __init__(self):
        super().__init__()
        self.scopes = []

    def on_throttle(self, now, customer_id):
        scope = super().on_throttle(now, customer_id)
        self.scopes.append(scope)
        return scope


class RecordingPacer(Pacer):
    """A Pacer that notes every send and every 429 pause, in the order they happen: a pause
    names its customer when it was read as that customer's quota, else None (everyone's)."""

    def __init__(self, controller, clock=None, window=None):
        super().__init__(controller, window or Window(64), clock, quota=RecordingQuota())
        self.events = []

    async def ready(self, customer_id=None):
        sent = await super().ready(customer_id)
        self.events.append(("send", customer_id, sent, self._in_flight(), self.window.size))
        return sent

    def answered(self, reply: Reply, sent_at: float, delay: float, customer_id=None) -> None:
        super().answered(reply, sent_at, delay, customer_id)
        if reply.status == 429:
            whose = customer_id if self.quota.scopes[-1] is Scope.CUSTOMER else None
            self.events.append(("pause", whose, self.clock.now() + delay))


async def test_a_429_pauses_every_worker_until_its_retry_after_moment():
    pacer = RecordingPacer(AdaptiveRate(100.0))
    config = SimConfig(customers=6, seed=1, partner_rate=4.0, partner_burst=4)
    async with run_simulator(config) as sim:
        outcomes, result = await pool(
            sim, rows_for(sim.store.ids(), city="Springfield"), concurrency=4, pacer=pacer
        )
        throttled = [r for r in sim.log if r.status == 429]
    assert all(o.status is Status.UPDATED for o in outcomes)
    assert throttled and result.stats.throttled == len(throttled)
    assert Scope.PARTNER in pacer.quota.scopes
    pauses: dict[str | None, float] = {}
    for kind, whose, moment, *_ in pacer.events:
        if kind == "pause":
            pauses[whose] = max(pauses.get(whose, 0.0), moment)
        else:  # nobody sends while the partner's Retry-After runs, nor its customer's
            assert moment >= pauses.get(None, 0.0)
            assert moment >= pauses.get(whose, 0.0)
    assert result.stats.rate_min < 100.0


async def test_rows_past_the_limit_end_skipped_without_a_call():
    async with run_simulator(SimConfig(customers=5, seed=1)) as sim:
        ids = sim.store.ids()
        outcomes, _ = await pool(sim, rows_for(ids, city="Springfield"), limit=2)
        called = {r.customer_id for r in sim.log}
    assert [o.status for o in outcomes] == [Status.UPDATED] * 2 + [Status.SKIPPED] * 3
    assert called == set(ids[:2])
    assert all("--limit 2" in o.message for o in outcomes[2:])


async def test_a_stop_leaves_the_customers_not_started_skipped():
    stop = Stop()
    async with run_simulator(SimConfig(customers=5, seed=1)) as sim:
        ids = sim.store.ids()

        def progress(p):
            if p.done == 2:
                stop.set(StoppedEarly("enough for today"))

        outcomes, result = await pool(
            sim, rows_for(ids, city="Springfield"), stop=stop, on_progress=progress, concurrency=1
        )
        called = {r.customer_id for r in sim.log}
    assert [o.status for o in outcomes[:2]] == [Status.UPDATED] * 2
    assert {o.status for o in outcomes[2:]} == {Status.SKIPPED}
    assert called == set(ids[:2])
    assert isinstance(result.stopped, StoppedEarly)


async def test_credentials_refused_abort_the_run_and_skip_the_rest():
    async with run_simulator(SimConfig(customers=4, seed=1)) as sim:
        outcomes, result = await pool(
            sim, rows_for(sim.store.ids(), city="X"), token="bogus", concurrency=1
        )
    assert isinstance(result.stopped, AuthFailed)
    assert result.stopped.exit_code == 3
    assert outcomes[0].status is Status.REJECTED
    assert {o.status for o in outcomes[1:]} == {Status.SKIPPED}


async def test_a_run_of_failures_spends_the_failure_budget_and_stops_early():
    config = SimConfig(customers=30, seed=1, fail_500=1.0)
    async with run_simulator(config) as sim:
        outcomes, result = await pool(
            sim, rows_for(sim.store.ids(), city="X"), max_attempts=1, concurrency=1
        )
    assert isinstance(result.stopped, StoppedEarly)
    statuses = [o.status for o in outcomes]
    assert statuses[:20] == [Status.FAILED] * 20
    assert set(statuses[21:]) == {Status.SKIPPED}


async def test_max_duration_stops_starting_customers():
    clock = FakeClock()  # the run's time: a minute passes with every customer done

    def a_minute_per_customer(progress):
        clock.advance(60.0)

    async with run_simulator(SimConfig(customers=4, seed=1)) as sim:
        outcomes, result = await pool(
            sim,
            rows_for(sim.store.ids(), city="X"),
            max_duration=90.0,
            concurrency=1,
            pacer=Pacer(AdaptiveRate(CEILING), Window(64), clock),
            on_progress=a_minute_per_customer,
        )
        called = {r.customer_id for r in sim.log}
    assert isinstance(result.stopped, StoppedEarly)
    assert "--max-duration 90 s reached" in str(result.stopped)
    # started at 0 s and at 60 s; at 120 s the limit of 90 s had passed
    assert [o.status for o in outcomes] == [Status.UPDATED] * 2 + [Status.SKIPPED] * 2
    assert called == {o.customer_id for o in outcomes[:2]}


async def test_progress_counts_every_row_once():
    seen = []
    async with run_simulator(SimConfig(customers=5, seed=1)) as sim:
        await pool(sim, rows_for(sim.store.ids(), city="X"), limit=3, on_progress=seen.append)
    assert [p.done for p in seen] == [1, 2, 3, 4, 5]
    assert {p.total for p in seen} == {5}


async def test_the_adaptive_rate_is_recorded_in_the_stats():
    async with run_simulator(SimConfig(customers=2, seed=1)) as sim:
        _, result = await pool(sim, rows_for(sim.store.ids(), city="X"), rate=25.0)
    assert (result.stats.rate_final, result.stats.rate_min) == (25.0, 25.0)  # never throttled


def slots_of(obj):
    return {name: getattr(obj, name) for name in type(obj).__slots__}


async def test_a_pacer_ignores_calls_that_got_no_answer():
    pacer = Pacer(AdaptiveRate(10.0), Window(64))
    sent = pacer.clock.now()
    pacer.answered(Reply(429, {}), sent, 0.0)  # throttled: the rate drops and starts climbing
    throttled = pacer.rate
    state = slots_of(pacer.controller)
    assert throttled < 10.0

    for _ in range(20):
        pacer.answered(Reply(0, {}), sent, 0.0)

    assert pacer.rate == throttled
    assert pacer.limiter.rate == throttled
    assert slots_of(pacer.controller) == state  # no answer counted, no climb started


async def test_progress_gives_the_measured_rate_the_time_left_and_where_a_stop_came():
    clock = FakeClock()  # a minute passes with every customer done
    stop = Stop()
    seen = []

    def progress(p):
        seen.append(p)
        clock.advance(60.0)
        if p.done == 3:
            stop.set(StoppedEarly("enough for today"))

    async with run_simulator(SimConfig(customers=6, seed=1)) as sim:
        await pool(
            sim,
            rows_for(sim.store.ids(), city="X"),
            concurrency=1,
            stop=stop,
            pacer=Pacer(AdaptiveRate(CEILING), Window(64), clock),
            on_progress=progress,
        )
    first, second = seen[0], seen[1]
    assert first.measured_rate is None  # nothing measured yet on the run's clock
    assert first.window is not None  # the window in use is shown from the first row
    assert (second.skipped, second.stopped) == (0, None)
    last = seen[-1]
    assert (last.done, last.skipped) == (6, 3)
    assert last.stopped == "enough for today"
    assert last.eta_s is None


async def test_a_customers_429_holds_that_customer_only_and_the_partners_every_worker():
    clock = FakeClock()
    pacer = Pacer(AdaptiveRate(100.0), Window(64), clock)
    for i in range(8):  # other customers' calls succeeding
        sent = await pacer.ready(f"c{i}")
        pacer.answered(Reply(200, {}), sent, 0.0, f"c{i}")
    sent = await pacer.ready("mine")
    throttled_at = clock.now()
    pacer.answered(Reply(429, {}), sent, 5.0, "mine")  # its own quota: only it waits

    other = await pacer.ready("c0")
    assert other < throttled_at + 1.0  # the others go on at the rate
    assert pacer.rate == 100.0  # and the rate stays
    assert await pacer.ready("mine") >= throttled_at + 5.0  # it waits its Retry-After

    alone = Pacer(AdaptiveRate(100.0), Window(64), FakeClock())
    sent = await alone.ready("mine")
    throttled_at = alone.clock.now()
    alone.answered(Reply(429, {}), sent, 5.0, "mine")  # no other customer's call succeeding

    assert await alone.ready("c0") >= throttled_at + 5.0  # the partner's: everyone waits
    assert alone.rate < 100.0


class SteppedWindow(Window):
    """A window of 2 customers for the first 20 answers, then of 5."""

    def __init__(self):
        super().__init__(8)
        self.answers = 0

    @property
    def size(self):
        return 2 if self.answers < 20 else 5

    def on_answer(self, now, latency_s, allowed_rate, *, in_flight=None, throttled=False):
        self.answers += 1
        return self.size


async def test_customers_in_flight_follow_the_window_as_it_changes():
    pacer = RecordingPacer(AdaptiveRate(CEILING), FakeClock(), window=SteppedWindow())
    async with run_simulator(SimConfig(customers=30, seed=1, latency_ms=5)) as sim:
        outcomes, _ = await pool(
            sim, rows_for(sim.store.ids(), city="X"), concurrency=8, pacer=pacer
        )
    assert all(o.status is Status.UPDATED for o in outcomes)
    sends = [(in_flight, size) for kind, _, _, in_flight, size in pacer.events if kind == "send"]
    assert all(in_flight <= size for in_flight, size in sends)  # never more than the window
    assert max(n for n, size in sends if size == 2) == 2  # 8 workers, but 2 in flight
    assert max(n for n, size in sends if size == 5) == 5  # the room it grew to is used


async def test_a_customer_throttled_once_waits_alone_while_the_others_keep_their_pace():
    config = SimConfig(customers=30, seed=5, customer_429_once=0.05, customer_429_retry_after=1)
    async with run_simulator(config) as sim:
        ids = sim.store.ids()
        throttled = {cid for cid in ids if throttled_once(5, cid, 0.05)}
        outcomes, result = await pool(sim, rows_for(ids, city="X"), concurrency=4)
        log = [(r.customer_id, r.status) for r in sim.log if r.customer_id]
    assert len(throttled) == 1  # this seed throttles one customer of 30
    [mine] = throttled
    assert all(o.status is Status.UPDATED for o in outcomes)
    assert result.stats.throttled == 1
    assert result.stats.rate_min == FAST["rate"]  # the run's rate never dropped
    hit = log.index((mine, 429))
    retried = next(i for i in range(hit + 1, len(log)) if log[i][0] == mine)
    others_meanwhile = [cid for cid, _ in log[hit + 1 : retried]]
    # During its Retry-After (1 s) the other customers' calls went on: each of the 3 other
    # workers sent at least one (a partner-wide pause would have let none through).
    assert len(set(others_meanwhile)) >= 3
