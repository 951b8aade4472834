"""A nightly job, incremental against full: `pcbatch run --incremental` vs `pcbatch run` (issue 19).

Usage: python bench/bench_nightly.py [--customers N] [--rate R]     (default 10,000, --rate 100)

Two stand-ins with the same seed (SimulatorThread, in this process, over loopback; 30 ms per
answer) hold the same N customers. The real CLI (`python -m batch run`, a child process) runs
three nights of one job, on stand-in A with --state --incremental, on B plain full runs:

0. the first night: every row sets Address Line 2 = "Suite 0" (N GETs and N PUTs, run fast);
   it fills A's job state and leaves N own writes in A's activity log.
1. a usual night (run fast): 1% of the rows change in the sheet and another writer changes
   Address Line 2 (a field the sheet sets, so pcbatch must put it back) of 1% other customers.
2. the measured night, at --rate R: the same again, other customers.

The nights are a day apart, as a nightly job's are, and the other writer works in the middle
of the day: the bench moves every time A's job state and A's activity log hold back (`age`)
by half a day before and after the other writer's edits, and by a day more after the first
night. So the measured night's window (from night 1's start, less the margin) holds what a
real one does: night 1's own writes and the other writer's edits since, not the first night's
N writes, which a real job reads only on its second night.

Printed: calls (every REST request the stand-in answered, activity-log pages included) and
wall time of night 2 on each, their ratio against the target (incremental <= 3% of the full
run's calls), and whether every customer on both stand-ins ends with the sheet's value.
Timing is not a test: the figures go to bench/README.md. Not run by pytest.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from batch.durable.state import STATE_NAME
from batch.simulator import SimConfig, Simulator, SimulatorThread
from batch.simulator.auditlog import Logged, format_date

SHARE = 0.01


def write_sheet(path: Path, values: dict[str, str]) -> Path:
    lines = ["Customer ID,Address Line 2"] + [f"{cid},{value}" for cid, value in values.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def rest_calls(sim: Simulator) -> int:
    return sum(1 for entry in sim.log if entry.path.startswith("/v1/"))


def pcbatch_run(sim: Simulator, sheet: Path, out: Path, *flags: str) -> tuple[int, float, dict]:
    """`python -m batch run` in a child process: REST calls it made, wall time, summary."""
    env = {**os.environ, "PC_BASE_URL": sim.base_url, "PC_ACCESS_TOKEN": sim.token}
    argv = [sys.executable, "-m", "batch", "run", str(sheet), "--out", str(out), "--quiet"]
    before = rest_calls(sim)
    started = time.perf_counter()
    with (out.parent / f"{out.name}.log").open("w") as log:
        code = subprocess.call([*argv, *flags], env=env, stdout=log, stderr=log)
    wall = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"{out.name}: exit {code}; see {out.parent / out.name}.log")
    summary = json.loads((out / "summary.json").read_text())
    return rest_calls(sim) - before, wall, summary


def age(sim: Simulator, state_dir: Path, hours: int) -> None:
    """Move every time in the job's state and the stand-in's activity log `hours` back, as if
    it had all happened that much earlier (the stand-in is idle between runs)."""
    delta = timedelta(hours=hours)
    sim.audit.records[:] = [
        Logged(e.at - delta, e.seq, {**e.record, "operationDate": format_date(e.at - delta)})
        for e in sim.audit.records
    ]

    def back(text: str | None) -> str | None:
        return None if text is None else (datetime.fromisoformat(text) - delta).isoformat()

    with sqlite3.connect(state_dir / STATE_NAME) as db:
        db.create_function("back", 1, back)
        db.execute("UPDATE runs SET started_at = back(started_at), finished_at = back(finished_at)")
        db.execute("UPDATE known SET as_of = back(as_of), wrote_at = back(wrote_at)")


def wrong_rows(sim: Simulator, wanted: dict[str, str]) -> int:
    return sum(
        1
        for cid, value in wanted.items()
        if sim.store.stored(cid)["defaultAddress"].get("addressLine2") != value  # type: ignore[union-attr]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=100.0, help="night 2's --rate")
    args = parser.parse_args()
    n = args.customers
    config = SimConfig(customers=n, seed=7, latency_ms=30.0)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {platform.system()} {platform.release()}",
        flush=True,
    )
    rng = random.Random(19)
    with (
        tempfile.TemporaryDirectory(prefix="pcbatch-nightly-") as tmp,
        SimulatorThread(config) as a,
        SimulatorThread(SimConfig(customers=n, seed=7, latency_ms=30.0)) as b,
    ):
        work = Path(tmp)
        ids = a.store.ids()
        assert ids == b.store.ids()
        fast = ("--rate", "1e6", "--concurrency", "32")
        state_dir = work / "state"
        job = ("--state", str(state_dir), "--incremental")
        untouched = list(ids)  # customers no night has changed yet (in the sheet or by others)
        sheet: dict[str, str] = {}
        for night in range(3):
            if night == 0:
                sheet = {cid: "Suite 0" for cid in ids}
                in_sheet, by_other = [], []
            else:
                picked = rng.sample(untouched, 2 * max(1, round(n * SHARE)))
                untouched = [cid for cid in untouched if cid not in set(picked)]
                in_sheet, by_other = picked[: len(picked) // 2], picked[len(picked) // 2 :]
                sheet |= {cid: f"Suite {night}" for cid in in_sheet}
                age(a, state_dir, 12)  # midday: the other writer's edits
                for sim in (a, b):
                    for cid in by_other:
                        sim.write_as_other_writer(
                            cid, {"defaultAddress": {"addressLine2": "Other"}}
                        )
                age(a, state_dir, 12)  # the next night
            path = write_sheet(work / f"night{night}.csv", sheet)
            pace = fast if night < 2 else ("--rate", f"{args.rate:g}")
            inc_calls, inc_wall, inc = pcbatch_run(a, path, work / f"a{night}", *pace, *job)
            full_calls, full_wall, full = pcbatch_run(b, path, work / f"b{night}", *pace)
            print(
                f"night {night}: incremental {inc_calls} calls, {inc_wall:.1f} s "
                f"({inc['nightly']['mode']}); full {full_calls} calls, {full_wall:.1f} s",
                flush=True,
            )
            if night == 0:
                age(a, state_dir, 24)
        wrong = wrong_rows(a, sheet) + wrong_rows(b, sheet)

    share = inc_calls / full_calls
    print(
        f"night 2, {n} customers, {len(in_sheet)} changed in the sheet, {len(by_other)} by "
        f"another writer, --rate {args.rate:g}, stand-in 30 ms per answer:\n"
        f"  full:        {full_calls} calls, {full_wall:.1f} s, statuses "
        f"{ {k: v for k, v in full['statuses'].items() if v} }\n"
        f"  incremental: {inc_calls} calls ({inc['nightly']['log_requests']} activity-log "
        f"pages), {inc_wall:.1f} s, statuses "
        f"{ {k: v for k, v in inc['statuses'].items() if v} }, nightly {inc['nightly']}\n"
        f"  incremental / full: {share:.2%} of the calls, {inc_wall / full_wall:.1%} of the "
        f"time; target <= 3%: {'met' if share <= 0.03 else 'MISSED'}; rows not at the "
        f"sheet's value afterwards: {wrong}",
        flush=True,
    )


if __name__ == "__main__":
    main()
