"""Stops for schedulers: --max-duration and the failure budget (exit 75), the lock (exit 4)."""

import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import replace

import pytest
from click.testing import CliRunner
from support import city_sheet, read_results, read_summary

from batch.cli import cli
from batch.core.errors import AuthFailed, StoppedEarly
from batch.core.options import RunOptions
from batch.core.stops import (
    FAILURE_BUDGET_AFTER,
    FAILURE_WINDOW,
    RecentResults,
    credentials_refused,
    failure_budget_spent,
    max_duration_reached,
)
from batch.durable.journal import Journal
from batch.durable.lock import LOCK_NAME
from batch.engine.run import run_job

FAST = {"rate": 1000.0, "timeout": 2.0, "backoff_base": 0.001, "backoff_cap": 0.002}


@pytest.mark.parametrize(
    ("finished", "failed", "budget", "stops"),
    [
        (FAILURE_BUDGET_AFTER - 1, FAILURE_BUDGET_AFTER - 1, 0.0, False),  # too few to judge
        (FAILURE_BUDGET_AFTER, 10, 0.5, False),  # exactly the budget is still within it
        (FAILURE_BUDGET_AFTER, 11, 0.5, True),
        (100, 6, 0.05, True),
        (100, 100, 1.0, False),  # a budget of 1 never stops the run
        (FAILURE_BUDGET_AFTER, 1, 0.0, True),
        (FAILURE_BUDGET_AFTER, 0, 0.0, False),
    ],
)
def test_the_failure_budget_is_spent_by_more_failures_than_its_share(
    finished, failed, budget, stops
):
    reason = failure_budget_spent(finished, failed, budget)
    assert (reason is not None) is stops
    if stops:
        assert isinstance(reason, StoppedEarly) and reason.exit_code == 75
        assert f"{failed} of the last {finished} finished customers failed" in str(reason)
        assert "--resume" in str(reason)


def _failures_until_stopped(good_before: int, budget: float) -> int | None:
    """Feed `good_before` good customers, then failures: how many failures until the stop."""
    recent = RecentResults()
    for _ in range(good_before):
        recent.add(False)
        assert failure_budget_spent(recent.finished, recent.failed, budget) is None
    for failures in range(1, 10 * FAILURE_WINDOW):
        recent.add(True)
        if failure_budget_spent(recent.finished, recent.failed, budget) is not None:
            return failures
    return None


@pytest.mark.parametrize("good_before", [0, 10, 150, 5_000, 100_000])
def test_an_outage_after_any_amount_of_good_work_stops_within_a_window(good_before):
    failures = _failures_until_stopped(good_before, 0.5)
    assert failures is not None
    # Once the window is full of good results, 26 failures of the last 50 spend a 50% budget.
    assert failures <= FAILURE_WINDOW // 2 + 1
    if good_before >= FAILURE_WINDOW:
        assert failures == FAILURE_WINDOW // 2 + 1


def test_the_window_forgets_old_failures():
    recent = RecentResults()
    for _ in range(FAILURE_WINDOW):
        recent.add(True)
    for _ in range(FAILURE_WINDOW):
        recent.add(False)
    assert (recent.finished, recent.failed) == (FAILURE_WINDOW, 0)
    assert _failures_until_stopped(0, 1.0) is None  # a budget of 1 never stops the run


@pytest.mark.parametrize(
    ("elapsed", "limit", "stops"),
    [(0.0, None, False), (1e9, None, False), (9.99, 10.0, False), (10.0, 10.0, True)],
)
def test_max_duration_is_reached_when_the_elapsed_seconds_get_to_it(elapsed, limit, stops):
    reason = max_duration_reached(elapsed, limit)
    assert (reason is not None) is stops
    if stops:
        assert isinstance(reason, StoppedEarly)
        assert str(reason).startswith("--max-duration 10 s reached")


def options_for(sim, tmp_path, **changes):
    sheet = city_sheet(tmp_path / "in.csv", sim.store.ids())
    return RunOptions(input=sheet, base_url=sim.base_url, out=tmp_path / "out", **FAST, **changes)


def committed(sim):
    return Counter(r.customer_id for r in sim.log if r.committed)


async def test_an_outage_stops_the_run_within_a_few_dozen_customers_and_resume_finishes(
    make_sim, tmp_path
):
    sim = await make_sim(customers=150, fail_503=1.0)
    options = options_for(sim, tmp_path, concurrency=8, max_attempts=2)
    env = {"PC_ACCESS_TOKEN": sim.token}

    stopped = await run_job(options, env)

    touched = {r.customer_id for r in sim.log}
    assert stopped.exit_code == 75
    assert "failure budget" in str(stopped.stopped)
    assert len(touched) <= FAILURE_BUDGET_AFTER + options.concurrency  # not the whole sheet
    lines = read_results(tmp_path / "out")
    assert len(lines) == 150
    assert Counter(line["status"] for line in lines) == {
        "failed": len(touched),
        "skipped": 150 - len(touched),
    }
    assert read_summary(tmp_path / "out")["exit_code"] == 75

    sim.config.fail_503 = 0.0  # the outage is over
    resumed = await run_job(replace(options, resume=True), env)

    assert resumed.exit_code == 0
    assert {line["status"] for line in read_results(tmp_path / "out")} == {"updated"}
    assert committed(sim) == Counter(sim.store.ids())  # one PUT each, the failed ones included


async def test_failures_within_the_budget_let_the_run_finish(make_sim, tmp_path):
    # One try per call and one customer at a time: the same seed fails the same customers.
    sim = await make_sim(customers=40, seed=5, fail_500=0.12)
    options = options_for(sim, tmp_path, concurrency=1, max_attempts=1)

    result = await run_job(options, {"PC_ACCESS_TOKEN": sim.token})

    counts = Counter(line["status"] for line in read_results(tmp_path / "out"))
    assert 0 < counts["failed"] <= 0.5 * 40
    assert result.exit_code == 1
    assert counts["skipped"] == 0


async def test_the_same_failures_spend_a_smaller_budget_and_stop_early(make_sim, tmp_path):
    sim = await make_sim(customers=40, seed=5, fail_500=0.12)
    options = options_for(sim, tmp_path, concurrency=1, max_attempts=1, failure_budget=0.05)

    result = await run_job(options, {"PC_ACCESS_TOKEN": sim.token})

    counts = Counter(line["status"] for line in read_results(tmp_path / "out"))
    assert result.exit_code == 75
    assert counts["skipped"] > 0
    finished = 40 - counts["skipped"]
    assert finished >= FAILURE_BUDGET_AFTER and counts["failed"] > 0.05 * finished


async def test_a_failure_budget_of_one_never_stops_the_run(make_sim, tmp_path):
    sim = await make_sim(customers=25, fail_503=1.0)
    options = options_for(sim, tmp_path, concurrency=4, max_attempts=1, failure_budget=1.0)
    result = await run_job(options, {"PC_ACCESS_TOKEN": sim.token})
    assert result.exit_code == 1
    assert {line["status"] for line in read_results(tmp_path / "out")} == {"failed"}


async def test_the_budget_is_not_judged_before_twenty_customers_finished(make_sim, tmp_path):
    sim = await make_sim(customers=FAILURE_BUDGET_AFTER - 1, fail_503=1.0)
    options = options_for(sim, tmp_path, concurrency=1, max_attempts=1, failure_budget=0.0)
    result = await run_job(options, {"PC_ACCESS_TOKEN": sim.token})
    assert result.exit_code == 1
    assert {line["status"] for line in read_results(tmp_path / "out")} == {"failed"}


async def test_max_duration_skips_the_rest_with_exit_75_and_resume_finishes(make_sim, tmp_path):
    # A customer takes two calls of 100 ms one after the other: within 0.5 s, at most three
    # of the six; the first starts even on a machine that stalls (up to 0.5 s) meanwhile.
    sim = await make_sim(customers=6, latency_ms=100)
    options = options_for(sim, tmp_path, concurrency=1, max_duration=0.5)
    env = {"PC_ACCESS_TOKEN": sim.token}

    stopped = await run_job(options, env)

    assert stopped.exit_code == 75
    assert "--max-duration" in str(stopped.stopped)
    counts = Counter(line["status"] for line in read_results(tmp_path / "out"))
    assert counts["updated"] >= 1 and counts["skipped"] >= 1
    assert counts["updated"] + counts["skipped"] == 6
    assert read_summary(tmp_path / "out")["exit_code"] == 75

    resumed = await run_job(replace(options, resume=True, max_duration=None), env)

    assert resumed.exit_code == 0
    assert {line["status"] for line in read_results(tmp_path / "out")} == {"updated"}
    assert committed(sim) == Counter(sim.store.ids())


def test_a_second_run_on_the_same_out_exits_4_at_once_naming_the_first(make_sim_thread, tmp_path):
    sim = make_sim_thread(customers=20, latency_ms=200)
    sheet, out = city_sheet(tmp_path / "in.csv", sim.store.ids()), tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PC_")}
    env.update(PC_BASE_URL=sim.base_url, PC_ACCESS_TOKEN=sim.token)
    args = ["run", str(sheet), "--out", str(out), "--concurrency", "1", "--quiet"]
    first = subprocess.Popen(
        [sys.executable, "-m", "batch", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        lock = out / LOCK_NAME
        deadline = time.monotonic() + 30
        while not (lock.is_file() and lock.read_text()) and first.poll() is None:
            assert time.monotonic() < deadline, "the first run never took the lock"
            time.sleep(0.01)

        second = CliRunner().invoke(
            cli, args, env={"PC_BASE_URL": sim.base_url, "PC_ACCESS_TOKEN": sim.token}
        )

        assert second.exit_code == 4
        assert f"pid {first.pid}" in second.stderr and "started 20" in second.stderr
        assert "nothing was done" in second.stderr
    finally:
        first.terminate()
        assert first.wait(timeout=30) == 130  # SIGTERM: the first run stops cleanly
    with Journal.open(out, create=False) as journal:
        info = journal.last_run()
    assert (info.run_id, info.sessions) == (1, 1)  # the refused run wrote nothing


@pytest.mark.parametrize(
    ("refused", "customers", "any_success", "stops"),
    [
        (1, 100, False, False),  # one customer's 403 may be its own
        (2, 100, False, False),
        (3, 100, False, True),  # three alike and nothing succeeded: the credentials
        (3, 100, True, False),  # the credentials work for others: these customers only
        (1, 1, False, True),  # a run of one customer: it is all there is
        (2, 2, False, True),
    ],
)
def test_credential_wide_403s_stop_the_run_only_on_several_customers_and_no_success(
    refused, customers, any_success, stops
):
    last = AuthFailed("the app lacks Partner Center permissions")
    reason = credentials_refused(refused, customers, any_success, last)
    assert (reason is not None) is stops
    if reason is not None:
        assert reason.exit_code == 3 and "lacks Partner Center permissions" in str(reason)
