"""`pcbatch export` reads a customer's 429 as that customer's quota, as run does (one call
path, engine/calls.py): the other customers' reads go on during its Retry-After."""

from __future__ import annotations

from batch.core.options import RunOptions
from batch.engine.export import export_profiles
from batch.simulator.faults import throttled_once
from tests.support import rest

SEED, SHARE = 2, 0.02  # this seed throttles 3 of 100 customers once


async def test_customers_throttled_once_wait_alone_while_the_export_keeps_its_pace(
    make_sim, tmp_path
):
    sim = await make_sim(
        customers=100, seed=SEED, customer_429_once=SHARE, customer_429_retry_after=1
    )
    ids = sim.store.ids()
    throttled = {cid for cid in ids if throttled_once(SEED, cid, SHARE)}
    assert len(throttled) == 3
    options = RunOptions(rate=500, concurrency=4, backoff_base=0.01, backoff_cap=0.05, timeout=5)
    env = {"PC_ACCESS_TOKEN": sim.token, "PC_BASE_URL": sim.base_url}

    result = await export_profiles(options, tmp_path / "export.csv", env)

    assert result.exit_code == 0 and result.exported == len(ids)
    assert result.stats.throttled == len(throttled)
    assert result.stats.rate_min == 500  # the export's rate never dropped
    log = [(e.customer_id, e.status) for e in rest(sim) if e.customer_id]
    for customer in throttled:
        hit = log.index((customer, 429))
        retried = next(i for i in range(hit + 1, len(log)) if log[i][0] == customer)
        others_meanwhile = {cid for cid, _ in log[hit + 1 : retried]}
        # During its Retry-After (1 s) the other workers went on reading (a partner-wide
        # pause would have let none through).
        assert len(others_meanwhile - {customer}) >= 3, (customer, others_meanwhile)
