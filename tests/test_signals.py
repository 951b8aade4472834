"""SIGINT/SIGTERM: in-flight customers finish, the rest are skipped, exit 130; twice: at once.

The in-process tests raise the signal in the test process itself: run_job handles it while it
runs (and only then).
"""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import replace

from support import city_sheet, read_results

from batch.core.errors import Interrupted
from batch.core.options import RunOptions
from batch.pool import CUT_SHORT
from batch.run import run_job


def report(out):
    return {line["customer_id"]: line for line in read_results(out)}


FAST = {"rate": 1000.0, "backoff_base": 0.01, "backoff_cap": 0.02}


def options_for(sim, tmp_path, **changes):
    sheet = city_sheet(tmp_path / "in.csv", sim.store.ids())
    return RunOptions(input=sheet, base_url=sim.base_url, out=tmp_path / "out", **FAST, **changes)


def signal_soon(*delays, sig=signal.SIGINT):
    """An on_started callback that raises `sig` in this process after each delay (seconds)."""

    def started(out_dir, rows):
        loop = asyncio.get_running_loop()
        for delay in delays:
            loop.call_later(delay, signal.raise_signal, sig)

    return started


async def test_sigint_lets_customers_in_flight_finish_skips_the_rest_and_exits_130(
    make_sim, tmp_path
):
    sim = await make_sim(customers=12, latency_ms=50)
    options = options_for(sim, tmp_path, concurrency=2, timeout=5.0)

    def progress(p):
        if p.done == 2:
            signal.raise_signal(signal.SIGINT)

    result = await run_job(options, {"PC_ACCESS_TOKEN": sim.token}, on_progress=progress)

    assert result.exit_code == 130
    assert isinstance(result.stopped, Interrupted) and "SIGINT" in str(result.stopped)
    lines = report(tmp_path / "out")
    statuses = Counter(line["status"] for line in lines.values())
    assert set(statuses) == {"updated", "skipped"} and sum(statuses.values()) == 12
    called = {r.customer_id for r in sim.log}
    # every customer started was finished; every one skipped was never called
    assert called == {cid for cid, line in lines.items() if line["status"] == "updated"}
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["exit_code"] == 130


async def test_the_signal_handlers_in_place_before_the_run_are_put_back(make_sim, tmp_path):
    sim = await make_sim(customers=1)
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    await run_job(options_for(sim, tmp_path, timeout=2.0), {"PC_ACCESS_TOKEN": sim.token})
    assert {sig: signal.getsignal(sig) for sig in before} == before


async def test_customers_in_flight_get_timeout_seconds_then_are_cut_short(make_sim, tmp_path):
    # Every answer is held back 3 s, each try gives up after 0.3 s, and 10 tries are allowed:
    # without the bound the customers in flight would end `failed` after 3 s or more.
    sim = await make_sim(customers=5, hang=1.0, hang_seconds=3.0)
    options = options_for(sim, tmp_path, concurrency=2, timeout=0.3, max_attempts=10)

    result = await run_job(options, {"PC_ACCESS_TOKEN": sim.token}, on_started=signal_soon(0.1))

    assert result.exit_code == 130
    lines = report(tmp_path / "out")
    cut = [cid for cid, line in lines.items() if line["message"] == CUT_SHORT]
    assert len(cut) == 2  # the two in flight
    assert {line["status"] for line in lines.values()} == {"skipped"}


async def test_a_second_signal_stops_at_once_and_resume_finishes_the_run(make_sim, tmp_path):
    # Answers are held back 1.5 s and the grace is 10 s: had the second signal not cut them
    # short, the customers in flight would have ended `updated`.
    sim = await make_sim(customers=6, hang=1.0, hang_seconds=1.5)
    options = options_for(sim, tmp_path, concurrency=2, timeout=10.0)
    env = {"PC_ACCESS_TOKEN": sim.token}

    result = await run_job(options, env, on_started=signal_soon(0.1, 0.2, sig=signal.SIGTERM))

    assert result.exit_code == 130
    lines = report(tmp_path / "out")
    assert len(lines) == 6
    assert {line["status"] for line in lines.values()} == {"skipped"}
    assert sum(line["message"] == CUT_SHORT for line in lines.values()) == 2

    sim.config.hang = 0.0
    resumed = await run_job(replace(options, resume=True), env)

    assert resumed.exit_code == 0
    assert {line["status"] for line in report(tmp_path / "out").values()} == {"updated"}
    assert Counter(r.customer_id for r in sim.log if r.committed) == Counter(sim.store.ids())


class CountingFaults:
    """The stand-in's own fault source, counting the REST requests that reached it."""

    def __init__(self, inner):
        self.inner = inner
        self.arrived = 0

    def decide(self, config, method="GET"):
        self.arrived += 1
        return self.inner.decide(config, method)


def test_sigterm_twice_to_a_real_process_exits_130_with_every_row_reported(
    make_sim_thread, tmp_path
):
    sim = make_sim_thread(customers=8, hang=1.0, hang_seconds=30.0)
    sim.faults = arrivals = CountingFaults(sim.faults)
    sheet, out = city_sheet(tmp_path / "in.csv", sim.store.ids()), tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PC_")}
    env.update(PC_BASE_URL=sim.base_url, PC_ACCESS_TOKEN=sim.token)
    args = ["run", str(sheet), "--out", str(out), "--concurrency", "3", "--timeout", "60"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "batch", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while arrivals.arrived < 3:  # three customers in flight, their GETs held back 30 s
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)

    # 30 s is below both the 60 s grace and the 30 s hang: only the second SIGTERM ends the
    # process this soon.
    _, stderr = proc.communicate(timeout=30)

    assert proc.returncode == 130
    assert "Traceback" not in stderr
    lines = report(out)
    assert len(lines) == 8 and {line["status"] for line in lines.values()} == {"skipped"}
    assert sum(line["message"] == CUT_SHORT for line in lines.values()) == 3
