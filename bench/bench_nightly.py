"""A nightly job, incremental against full: `pcbatch run --incremental` vs `pcbatch run` (issue 19).

Usage: python bench/bench_nightly.py [--customers N] [--rate R]     (default 10,000, --rate 100)

Two stand-ins with the same seed (SimulatorThread, in this process, over loopback; 30 ms per
answer) hold the same N customers. The real CLI (`python -m batch run`, a child process) runs
five nights of one job, on stand-in A with --state --incremental, on B plain full runs:

0. the first night: every row sets Address Line 2 = "Suite 0" (N GETs and N PUTs, run fast);
   it fills A's job state and leaves N own writes in A's activity log.
1. a usual night (run fast): 1% of the rows change in the sheet and another writer changes
   Address Line 2 (a field the sheet sets, so pcbatch must put it back) of 1% other customers.
2. a measured night, at --rate R: the same again, other customers.
3. a measured night, the same again, signed in with a static token that is no JWT (as a
   PC_ACCESS_TOKEN from elsewhere may be; issue 25): pcbatch cannot read who it is, and tells
   its own writes in the log by the profile they carry.
4. a measured night 45 days after night 3, the static token still, the other writer's edits on
   day 40: the window is longer than the 30 days the service serves a request.

The nights are a day apart, as a nightly job's are, and the other writer works in the middle
of the day: the bench moves every time A's job state and A's activity log hold back (`age`)
by half a day before and after the other writer's edits, and by a day more after the first
night. So the measured night's window (from night 1's start, less the margin) holds what a
real one does: night 1's own writes and the other writer's edits since, not the first night's
N writes, which a real job reads only on its second night.

Printed, for each measured night: calls (every REST request the stand-in answered,
activity-log pages included) and wall time on each, the incremental run's calls per changed
row, their ratio against the target (incremental <= 3% of the full run's calls), and the rows
not at the sheet's value afterwards on either stand-in (rows wrong: 0 is the only right
answer).
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


def pcbatch_run(
    sim: Simulator, sheet: Path, out: Path, *flags: str, token: str | None = None
) -> tuple[int, float, dict]:
    """`python -m batch run` in a child process: REST calls it made, wall time, summary."""
    env = {**os.environ, "PC_BASE_URL": sim.base_url, "PC_ACCESS_TOKEN": token or sim.token}
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


def age(sim: Simulator, state_dir: Path, hours: float) -> None:
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
    parser.add_argument(
        "--rate", type=float, default=100.0, help="the --rate of the measured nights (2 to 4)"
    )
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
        measured: list[str] = []
        for night in range(5):
            opaque = night >= 3
            tokens = (a.issue_opaque_token(), b.issue_opaque_token()) if opaque else (None, None)
            if night == 0:
                sheet = {cid: "Suite 0" for cid in ids}
                in_sheet, by_other = [], []
            else:
                picked = rng.sample(untouched, 2 * max(1, round(n * SHARE)))
                untouched = [cid for cid in untouched if cid not in set(picked)]
                in_sheet, by_other = picked[: len(picked) // 2], picked[len(picked) // 2 :]
                sheet |= {cid: f"Suite {night}" for cid in in_sheet}
                before, after = (40 * 24, 5 * 24) if night == 4 else (12, 12)
                age(a, state_dir, before)  # midday (night 4: day 40 of 45)
                for sim in (a, b):
                    for cid in by_other:
                        sim.write_as_other_writer(
                            cid, {"defaultAddress": {"addressLine2": "Other"}}
                        )
                age(a, state_dir, after)  # the next night
            path = write_sheet(work / f"night{night}.csv", sheet)
            pace = fast if night < 2 else ("--rate", f"{args.rate:g}")
            inc_calls, inc_wall, inc = pcbatch_run(
                a, path, work / f"a{night}", *pace, *job, token=tokens[0]
            )
            full_calls, full_wall, full = pcbatch_run(
                b, path, work / f"b{night}", *pace, token=tokens[1]
            )
            wrong = wrong_rows(a, sheet) + wrong_rows(b, sheet)
            print(
                f"night {night}: incremental {inc_calls} calls, {inc_wall:.1f} s "
                f"({inc['nightly']['mode']}); full {full_calls} calls, {full_wall:.1f} s; "
                f"rows wrong {wrong}",
                flush=True,
            )
            if night == 0:
                age(a, state_dir, 24)
            if night < 2:
                continue
            changed = len(in_sheet) + len(by_other)
            share = inc_calls / full_calls
            what = {
                2: "a usual night",
                3: "a static token that is no JWT",
                4: "45 days after night 3, the static token",
            }[night]
            measured.append(
                f"night {night} ({what}), {n} customers, {len(in_sheet)} changed in the sheet,"
                f" {len(by_other)} by another writer, --rate {args.rate:g}, stand-in 30 ms per"
                f" answer:\n"
                f"  full:        {full_calls} calls, {full_wall:.1f} s, statuses "
                f"{ {k: v for k, v in full['statuses'].items() if v} }\n"
                f"  incremental: {inc_calls} calls ({inc['nightly']['log_requests']} activity-log"
                f" pages), {inc_calls / changed:.2f} calls per changed row, {inc_wall:.1f} s,"
                f" statuses { {k: v for k, v in inc['statuses'].items() if v} },"
                f" nightly {inc['nightly']}\n"
                f"  incremental / full: {share:.2%} of the calls, {inc_wall / full_wall:.1%} of"
                f" the time; target <= 3%: {'met' if share <= 0.03 else 'MISSED'}; rows not at"
                f" the sheet's value afterwards: {wrong}"
            )
    print("\n".join(measured), flush=True)


if __name__ == "__main__":
    main()
