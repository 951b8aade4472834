"""Whole runs signed in with app credentials: tokens that expire, get revoked, or stop working.

Each test runs `run_job` against the stand-in, whose token endpoint issues the tokens, and
counts the token requests in its log.
"""

import pytest
from support import after_requests, app_env, city_sheet, read_results, rest, token_requests

from batch.core.errors import ConfigError
from batch.core.options import RunOptions
from batch.engine.run import run_job


def options(sim, tmp_path, **changes):
    values = {
        "input": city_sheet(tmp_path / "in.csv", sim.store.ids()),
        "base_url": sim.base_url,
        "out": tmp_path / "out",
        "concurrency": 4,
        "rate": 20.0,
        "timeout": 5.0,
        **changes,
    }
    return RunOptions(**values)


def statuses(out):
    return [r["status"] for r in read_results(out)]


async def test_tokens_that_expire_every_second_are_renewed_and_every_row_lands(make_sim, tmp_path):
    sim = await make_sim(customers=12, token_lifetime_s=1.0)
    result = await run_job(options(sim, tmp_path, rate=10.0), app_env(sim))  # about 2.4 s
    assert result.exit_code == 0
    assert statuses(tmp_path / "out") == ["updated"] * 12
    assert len(token_requests(sim)) >= 2


async def test_tokens_revoked_mid_run_are_renewed_once_and_the_run_carries_on(make_sim, tmp_path):
    sim = await make_sim(customers=12)
    after_requests(sim, 6, sim.tokens.revoke_all)
    result = await run_job(options(sim, tmp_path), app_env(sim))
    assert result.exit_code == 0
    assert statuses(tmp_path / "out") == ["updated"] * 12
    assert any(e.status == 401 for e in rest(sim))
    assert len(token_requests(sim)) == 2  # the first token, and one renewal for every worker


async def test_a_401_after_renewal_aborts_the_run_with_exit_3_and_a_complete_report(
    make_sim, tmp_path
):
    sim = await make_sim(customers=12)

    def withdraw():
        sim.tokens.access_withdrawn = True

    after_requests(sim, 5, withdraw)  # the pre-flight GET, then 2 customers (GET+PUT)
    result = await run_job(options(sim, tmp_path, concurrency=1, rate=10.0), app_env(sim))
    assert result.exit_code == 3
    assert "refused the credentials again after renewing them" in str(result.stopped)
    found = statuses(tmp_path / "out")
    assert found.count("updated") == 2 and found.count("rejected") == 1
    assert found.count("skipped") == 9
    assert len(token_requests(sim)) == 2


async def test_refused_app_credentials_stop_the_run_before_its_journal(make_sim, tmp_path):
    sim = await make_sim(customers=3)
    env = {**app_env(sim), "PC_CLIENT_SECRET": "not-the-secret"}
    with pytest.raises(ConfigError, match="invalid_client") as caught:
        await run_job(options(sim, tmp_path), env)
    assert "not-the-secret" not in str(caught.value)
    assert not (tmp_path / "out").exists()
    assert rest(sim) == []


async def test_a_403_on_the_first_customers_aborts_with_exit_3_and_no_update(make_sim, tmp_path):
    sim = await make_sim(customers=30, forbidden=True)
    result = await run_job(options(sim, tmp_path, concurrency=2), app_env(sim))
    assert result.exit_code == 3
    assert "lacks Partner Center permissions" in str(result.stopped)
    assert "3 customers were refused alike" in str(result.stopped)
    found = statuses(tmp_path / "out")
    assert len(found) == 30 and set(found) == {"rejected", "skipped"}
    # Stopped once 3 customers were refused alike (one more may be in flight then), not one
    # failure per row.
    assert found.count("skipped") >= 26
    assert not any(e.method == "PUT" for e in rest(sim))


async def test_a_403_after_the_run_has_succeeded_refuses_only_that_customer(make_sim, tmp_path):
    sim = await make_sim(customers=6)

    def forbid():
        sim.config.forbidden = True

    after_requests(sim, 5, forbid)  # the pre-flight GET, then 2 customers (GET+PUT)
    result = await run_job(options(sim, tmp_path, concurrency=1, rate=20.0), app_env(sim))
    assert result.exit_code == 1
    found = statuses(tmp_path / "out")
    assert found[:2] == ["updated", "updated"]
    assert found[2:] == ["rejected"] * 4
