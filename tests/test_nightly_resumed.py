"""A full night killed (SIGKILL, a real process) and completed by --resume counts as a full
run in the job's state: the next night is an incremental one. Over loopback."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

from batch.durable.state import STATE_NAME
from tests.support import city_sheet, invoke, read_results, read_summary

CUSTOMERS = 12


def _args(tmp_path, sheet, out):
    state = tmp_path / "state"
    return ["run", str(sheet), "--out", str(out), "--state", str(state), "--no-progress"]


def test_a_killed_full_night_completed_by_resume_counts_as_a_full_run(make_sim_thread, tmp_path):
    sim = make_sim_thread(customers=CUSTOMERS, latency_ms=30)
    sheet = city_sheet(tmp_path / "in.csv", sim.store.ids())
    out = tmp_path / "night1"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PC_")}
    env.update(PC_BASE_URL=sim.base_url, PC_ACCESS_TOKEN=sim.token)
    args = [*_args(tmp_path, sheet, out), "--concurrency", "2"]
    killed = subprocess.Popen(
        [sys.executable, "-m", "batch", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while sum(e.committed for e in sim.log) < 3:
        assert killed.poll() is None and time.monotonic() < deadline, "no third PUT"
        time.sleep(0.002)
    killed.send_signal(signal.SIGKILL)
    killed.wait()

    resumed = invoke([*args, "--resume"], sim)

    assert resumed.exit_code == 0, resumed.output
    assert read_summary(out)["nightly"]["mode"] == "full"
    assert {line["status"] for line in read_results(out)} == {"updated"}
    with sqlite3.connect(tmp_path / "state" / STATE_NAME) as db:
        runs = db.execute("SELECT full, finished_at IS NOT NULL FROM runs").fetchall()
    db.close()
    assert runs == [(1, 1)]  # the killed night's run, finished by its --resume

    night2 = tmp_path / "night2"
    result = invoke([*_args(tmp_path, sheet, night2), "--incremental"], sim)
    assert result.exit_code == 0, result.output
    nightly = read_summary(night2)["nightly"]
    assert nightly["mode"] == "incremental", nightly
    # What the killed session did not save yet is read again (found unchanged); the rows the
    # resumed session learned need no call.
    assert 0 < nightly["known_unchanged"] < CUSTOMERS
    assert {line["status"] for line in read_results(night2)} == {"unchanged"}
