"""Crashes that really crash: `pcbatch run` in a subprocess, killed, then resumed.

Each test starts `python -m batch run` against the stand-in (latency so that a run lasts a
second or two, and some 503s and dropped connections), kills it at one point, runs the same
command with --resume, and checks what users rely on:

- the stand-in's final state is what every row asked for;
- no customer got a second committed PUT: the row values change once, so a PUT after the row's
  `updated` was journaled would show up as a second one (there is no other writer);
- the journal has one `updated` per row, and the final report lists every row exactly once.
"""

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter

import pytest

from batch.core.resume import LANDED
from batch.durable.journal import JOURNAL_NAME
from batch.engine.pool import STATS_EVERY
from tests.support import rest

CUSTOMERS = 24
FAULTS = {
    "latency_ms": 40,
    "jitter_ms": 40,
    "fail_503": 0.05,
    "drop_before": 0.05,
    "drop_after_commit": 0.05,
}
JOB = """\
input = "in.csv"
out = "out"
rate = 300.0
concurrency = 4
timeout = 5.0
max_attempts = 10
backoff_base = 0.02
backoff_cap = 0.1
log_format = "json"
"""


def prepare(sim, tmp_path):
    """The sheet (a new city and e-mail for every customer) and the job file; returns rows."""
    ids = sim.store.ids()
    wanted = {cid: (f"Crashtown {i}", f"crash{i}@example.com") for i, cid in enumerate(ids)}
    lines = ["Customer ID,City,Email"] + [f"{cid},{c},{e}" for cid, (c, e) in wanted.items()]
    (tmp_path / "in.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "job.toml").write_text(JOB, encoding="utf-8")
    return wanted


def start(sim, tmp_path, *flags):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PC_")}
    env.update(PC_BASE_URL=sim.base_url, PC_ACCESS_TOKEN=sim.token)
    log = (tmp_path / f"stderr-{time.monotonic_ns()}.txt").open("w")
    command = [sys.executable, "-m", "batch", "run", "--job", str(tmp_path / "job.toml"), *flags]
    return subprocess.Popen(command, env=env, stdout=log, stderr=log)


def wait_for(proc, condition, what):
    deadline = time.monotonic() + 30
    while not condition():
        assert proc.poll() is None, f"the run ended before {what}"
        assert time.monotonic() < deadline, f"no {what} within 30 s"
        time.sleep(0.002)


def committed(sim):
    return Counter(r.customer_id for r in sim.log if r.committed)


def journal_rows(tmp_path, sql):
    db = sqlite3.connect(tmp_path / "out" / JOURNAL_NAME)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def report(tmp_path):
    with (tmp_path / "out" / "results.csv").open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def resume_and_check(sim, tmp_path, wanted):
    """Resume with the faults still on; then every promise of the module docstring."""
    resumed = start(sim, tmp_path, "--resume")
    assert resumed.wait(timeout=60) == 0
    lines = report(tmp_path)
    assert sorted(int(line["row"]) for line in lines) == list(range(2, CUSTOMERS + 2))
    assert {line["status"] for line in lines} == {"updated"}
    for cid, (city, email) in wanted.items():
        profile = sim.store.profile(cid)
        assert (profile["defaultAddress"]["city"], profile["email"]) == (city, email), cid
    assert committed(sim) == Counter(list(wanted))  # exactly one committed PUT per customer
    per_row = journal_rows(
        tmp_path, "SELECT row, count(*) FROM outcomes WHERE status = 'updated' GROUP BY row"
    )
    assert dict(per_row) == {row: 1 for row in range(2, CUSTOMERS + 2)}
    return lines


@pytest.mark.parametrize("point", ["before_the_first_put", "mid_run"])
def test_a_run_killed_at_any_point_is_finished_by_resume(make_sim_thread, tmp_path, point):
    sim = make_sim_thread(customers=CUSTOMERS, seed=7, **FAULTS)
    wanted = prepare(sim, tmp_path)
    run = start(sim, tmp_path)
    if point == "before_the_first_put":
        wait_for(run, lambda: any(r.method == "GET" for r in sim.log), "first GET")
    else:
        wait_for(run, lambda: len(committed(sim)) >= CUSTOMERS // 2, "half of the PUTs")
    run.send_signal(signal.SIGKILL)
    run.wait()

    resume_and_check(sim, tmp_path, wanted)  # the dead run's lock is taken over


def test_a_run_killed_between_a_puts_commit_and_its_journal_write_ends_updated(
    make_sim_thread, tmp_path
):
    # Every committed PUT loses its answer: the client retries it (same MS-RequestId), meets
    # a stale etag and reads the profile again before the row's outcome is journaled, which
    # leaves hundreds of milliseconds between the commit and the journal write at this latency.
    sim = make_sim_thread(customers=CUSTOMERS, seed=7, latency_ms=150, drop_after_commit=1.0)
    wanted = prepare(sim, tmp_path)
    before = {cid: sim.store.profile(cid) for cid in wanted}
    run = start(sim, tmp_path)
    wait_for(run, lambda: committed(sim), "committed PUT")
    run.send_signal(signal.SIGKILL)
    run.wait()
    landed = set(committed(sim))
    unrecorded = {cid for (cid,) in journal_rows(tmp_path, "SELECT customer_id FROM puts p"
                  " JOIN rows r ON r.run_id = p.run_id AND r.row = p.row")}  # fmt: skip
    assert not journal_rows(tmp_path, "SELECT * FROM outcomes")  # killed before any outcome
    assert landed <= unrecorded  # each PUT's changes were journaled before it was sent

    sim.config.drop_after_commit = 0.0
    lines = resume_and_check(sim, tmp_path, wanted)

    by_customer = {line["customer_id"]: line for line in lines}
    for cid in landed:
        assert by_customer[cid]["message"] == LANDED
        assert by_customer[cid]["changed_fields"] == "city;email"
    with (tmp_path / "out" / "undo.csv").open(encoding="utf-8-sig") as f:
        undo = {line["customer_id"]: line for line in csv.DictReader(f)}
    assert {cid: undo[cid]["city"] for cid in wanted} == {
        cid: before[cid]["defaultAddress"]["city"] for cid in wanted
    }


def test_sigterm_finishes_the_customers_in_flight_exits_130_and_resume_finishes(
    make_sim_thread, tmp_path
):
    sim = make_sim_thread(customers=CUSTOMERS, seed=7, **FAULTS)
    wanted = prepare(sim, tmp_path)
    run = start(sim, tmp_path)
    wait_for(run, lambda: len(committed(sim)) >= CUSTOMERS // 4, "a quarter of the PUTs")
    run.send_signal(signal.SIGTERM)

    assert run.wait(timeout=60) == 130
    lines = report(tmp_path)
    assert sorted(int(line["row"]) for line in lines) == list(range(2, CUSTOMERS + 2))
    statuses = Counter(line["status"] for line in lines)
    assert set(statuses) == {"updated", "skipped"}
    called = {r.customer_id for r in sim.log}
    skipped = {line["customer_id"] for line in lines if line["status"] == "skipped"}
    assert not called & skipped  # in flight means finished: a skipped customer was never called
    assert not any("Traceback" in p.read_text() for p in tmp_path.glob("stderr-*.txt"))

    resume_and_check(sim, tmp_path, wanted)


def test_a_killed_sessions_counters_survive_to_its_last_checkpoint(make_sim_thread, tmp_path):
    # A process killed mid-run cannot write its counters at the end: the pool hands them to
    # the journal every STATS_EVERY customers, so summary.json still counts that session.
    sim = make_sim_thread(customers=2 * STATS_EVERY + 10, seed=7, latency_ms=40)
    prepare(sim, tmp_path)
    run = start(sim, tmp_path)
    journal = tmp_path / "out" / JOURNAL_NAME

    def past_a_checkpoint():
        if not journal.exists():
            return False
        try:
            found = journal_rows(tmp_path, "SELECT count(*) FROM sessions WHERE stats IS NOT NULL")
        except sqlite3.DatabaseError:  # the journal is being made: no tables yet
            return False
        return found[0][0] > 0

    wait_for(run, past_a_checkpoint, "a checkpoint of the counters")
    run.send_signal(signal.SIGKILL)
    run.wait()
    killed = len(rest(sim))
    (first,) = journal_rows(tmp_path, "SELECT stats FROM sessions WHERE n = 1")
    checkpointed = json.loads(first[0])["requests"]
    assert STATS_EVERY <= checkpointed <= killed  # a GET per customer done, at least

    resumed = start(sim, tmp_path, "--resume")
    assert resumed.wait(timeout=60) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    (second,) = journal_rows(tmp_path, "SELECT stats FROM sessions WHERE n = 2")
    assert summary["requests"] == checkpointed + json.loads(second[0])["requests"]
    assert summary["requests"] <= len(rest(sim))  # never more than were sent
