"""SIGINT/SIGTERM: in-flight customers finish, the rest are skipped, exit 130; twice: at once.

The in-process tests raise the signal in the test process itself: run_job handles it while it
runs (and only then).
"""

import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import replace

from support import after_requests, city_sheet, read_results

from batch.core.customer_update import CUT_SHORT
from batch.core.errors import Interrupted
from batch.core.options import RunOptions
from batch.engine.run import run_job


def report(out):
    return {line["customer_id"]: line for line in read_results(out)}


FAST = {"rate": 1000.0, "backoff_base": 0.01, "backoff_cap": 0.02}
# What the run logs when it has handled the first SIGINT or SIGTERM.
FIRST_SIGNAL_LINE = "starting no more customers"


def options_for(sim, tmp_path, **changes):
    sheet = city_sheet(tmp_path / "in.csv", sim.store.ids())
    return RunOptions(input=sheet, base_url=sim.base_url, out=tmp_path / "out", **FAST, **changes)


class InFlight:
    """Calls `action` once, when requests of `customers` different customers have reached the
    stand-in (wrapping its rate buckets, which see every REST request and its customer first)."""

    def __init__(self, sim, customers: int, action: Callable[[], None]) -> None:
        self.inner, sim.buckets = sim.buckets, self
        self.customers = customers
        self.action: Callable[[], None] | None = action
        self.seen: set[str] = set()

    def take(self, now, partner, customer, *limits):
        if customer is not None:
            self.seen.add(customer)
        if self.action is not None and len(self.seen) >= self.customers:
            action, self.action = self.action, None
            action()
        return self.inner.take(now, partner, customer, *limits)


class OnFirstSignal(logging.Handler):
    """Calls `action` when the run logs that it handled the first signal."""

    def __init__(self, action: Callable[[], None]) -> None:
        super().__init__()
        self.action = action

    def emit(self, record: logging.LogRecord) -> None:
        if FIRST_SIGNAL_LINE in record.getMessage():
            self.action()


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
    called = {r.customer_id for r in sim.log if r.customer_id}  # not the country rules' GETs
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
    # Every answer is a 503, retried after at most 0.02 s, 500 tries allowed: without the bound
    # the customers in flight would go on for seconds and end `failed`. (The answers come at
    # once: a try that times out at the moment the grace ends can lose the stop, an aiohttp
    # race outside what this test is about.)
    sim = await make_sim(customers=5, fail_503=1.0)
    options = options_for(sim, tmp_path, concurrency=2, timeout=0.5, max_attempts=500)
    # The signal comes once both customers are in flight, however slowly they got there.
    InFlight(sim, 2, lambda: signal.raise_signal(signal.SIGINT))

    result = await run_job(options, {"PC_ACCESS_TOKEN": sim.token})

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
    # The first SIGTERM once both customers are in flight, the second once the first is handled.
    InFlight(sim, 2, lambda: signal.raise_signal(signal.SIGTERM))
    second = OnFirstSignal(lambda: signal.raise_signal(signal.SIGTERM))
    logging.getLogger("batch.engine.interrupt").addHandler(second)
    try:
        result = await run_job(options, env)
    finally:
        logging.getLogger("batch.engine.interrupt").removeHandler(second)

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


def test_sigterm_twice_to_a_real_process_exits_130_with_every_row_reported(
    make_sim_thread, tmp_path
):
    sim = make_sim_thread(customers=8, hang=0.0, hang_seconds=30.0)
    # The pre-flight read is answered; then three customers in flight, their GETs held 30 s.
    after_requests(sim, 1, lambda: setattr(sim.config, "hang", 1.0))
    in_flight = threading.Event()
    InFlight(sim, 3, in_flight.set)
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
    lines: queue.Queue[str] = queue.Queue()

    def read_stderr() -> None:
        for line in proc.stderr:
            lines.put(line)

    reader = threading.Thread(target=read_stderr)
    reader.start()
    try:
        assert in_flight.wait(30), "the customers never reached the stand-in"
        proc.send_signal(signal.SIGTERM)
        # Two signals sent before the process handles the first would merge into one: the
        # second goes only once the process says it handled the first.
        seen: list[str] = []
        while FIRST_SIGNAL_LINE not in (seen[-1] if seen else ""):
            seen.append(lines.get(timeout=30))
        proc.send_signal(signal.SIGTERM)
        # 30 s is below both the 60 s grace and the 30 s hang: only the second SIGTERM ends the
        # process this soon.
        proc.wait(timeout=30)
    finally:
        proc.kill()
        reader.join()
    stderr = "".join(seen) + "".join(lines.queue)

    assert proc.returncode == 130
    assert "Traceback" not in stderr
    lines = report(out)
    assert len(lines) == 8 and {line["status"] for line in lines.values()} == {"skipped"}
    assert sum(line["message"] == CUT_SHORT for line in lines.values()) == 3
