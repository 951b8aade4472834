"""pool: the shared pace (no burst, 429 pauses everyone), skipping, stopping, aborting."""

import asyncio
from random import Random

from batch.auth import StaticToken
from batch.client import Client
from batch.core.errors import AuthFailed, StoppedEarly
from batch.core.model import Row, Status
from batch.core.options import RunOptions
from batch.core.retry import Reply
from batch.core.stops import Stop
from batch.core.throttle import AdaptiveRate
from batch.pool import Pacer, RateLimiter, burst_for, run_pool
from batch.simulator import SimConfig, run_simulator

FAST = {"backoff_base": 0.01, "backoff_cap": 0.02, "timeout": 2.0, "rate": 1000.0}


def rows_for(ids, **values):
    return [Row(number=i + 2, customer_id=cid, values=values, raw={}) for i, cid in enumerate(ids)]


async def pool(sim, rows, token=None, stop=None, on_progress=None, pacer=None, **options):
    outcomes = []
    opts = RunOptions(**{**FAST, **options})
    tokens = StaticToken(token or sim.token)
    async with Client(sim.base_url, tokens, timeout=opts.timeout, connections=4) as client:
        result = await run_pool(
            rows,
            client,
            opts,
            outcomes.append,
            stop=stop,
            on_progress=on_progress,
            rng=Random(1),
            pacer=pacer,
        )
    return sorted(outcomes, key=lambda o: o.row), result


async def test_the_limiter_lets_no_burst_through_after_a_quiet_spell():
    rate = 40.0
    limiter = RateLimiter(rate)
    await asyncio.sleep(0.2)  # a quiet spell: aiolimiter's usual bucket would fill up here
    loop = asyncio.get_running_loop()
    start = loop.time()
    for _ in range(8):
        await limiter.acquire()
    # a bucket of 2: the first two go at once, then one every 1/rate (an AsyncLimiter(40, 1)
    # would have let all 8 through at once)
    assert loop.time() - start >= 0.99 * (8 - burst_for(rate)) / rate


async def test_a_lower_rate_applies_to_the_next_call():
    limiter = RateLimiter(1000.0)
    loop = asyncio.get_running_loop()
    for _ in range(20):  # fill the 20 ms bucket
        await limiter.acquire()
    limiter.set_rate(10.0)
    start = loop.time()
    for _ in range(2):
        await limiter.acquire()
    assert loop.time() - start >= 0.09
    assert limiter.rate == 10.0


class RecordingPacer(Pacer):
    """A Pacer that notes every send and every 429 pause, in the order they happen."""

    def __init__(self, controller):
        super().__init__(controller)
        self.events = []

    async def ready(self):
        sent = await super().ready()
        self.events.append(("send", sent))
        return sent

    def answered(self, reply: Reply, sent_at: float, delay: float) -> None:
        super().answered(reply, sent_at, delay)
        if reply.status == 429:
            self.events.append(("pause", asyncio.get_running_loop().time() + delay))


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
    pause_until = 0.0
    for kind, moment in pacer.events:
        if kind == "pause":
            pause_until = max(pause_until, moment)
        else:
            assert moment >= pause_until  # nobody sends while a Retry-After runs
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
    async with run_simulator(SimConfig(customers=4, seed=1, latency_ms=40)) as sim:
        outcomes, result = await pool(
            sim, rows_for(sim.store.ids(), city="X"), max_duration=0.05, concurrency=1
        )
    assert isinstance(result.stopped, StoppedEarly)
    assert outcomes[0].status is Status.UPDATED
    assert {o.status for o in outcomes[1:]} == {Status.SKIPPED}


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
    pacer = Pacer(AdaptiveRate(10.0))
    sent = asyncio.get_running_loop().time()
    pacer.answered(Reply(429, {}), sent, 0.0)  # throttled: the rate drops and starts climbing
    throttled = pacer.rate
    state = slots_of(pacer.controller)
    assert throttled < 10.0

    for _ in range(20):
        pacer.answered(Reply(0, {}), sent, 0.0)

    assert pacer.rate == throttled
    assert pacer.limiter.rate == throttled
    assert slots_of(pacer.controller) == state  # no answer counted, no climb started
