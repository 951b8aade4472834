"""A nightly job, incremental against full: `pcbatch run --incremental` vs `pcbatch run` (issue 19).

Usage: python bench/bench_nightly.py [--customers N] [--rate R]     (default 10,000, --rate 100)

Two stand-ins with the same seed (SimulatorThread, in this process, over loopback; 30 ms per
answer) hold the same N customers. The real CLI (`python -m batch run`, a child process) runs:

1. night 1 on both: every row sets Address Line 2 = "Suite 1" (N GETs and N PUTs each, run
   fast); on stand-in A with --state, which fills the job's state (and leaves N own writes in
   the activity log, which night 2 must tell apart from others').
2. Between the nights, on both stand-ins alike: 1% of the rows change in the sheet ("Suite 2")
   and another writer changes 1% of other customers' Address Line 2 (a field the sheet sets,
   so pcbatch must put it back).
3. night 2 at --rate R: on A with --state --incremental, on B a plain full run.

Printed: calls (every REST request the stand-in answered, activity-log pages included) and
wall time of each night-2 run, their ratio against the target (incremental <= 3% of the full
run's calls), and whether every customer on both stand-ins ends with the sheet's value.
Timing is not a test: the figures go to bench/README.md. Not run by pytest.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from batch.simulator import SimConfig, Simulator, SimulatorThread

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
    with (
        tempfile.TemporaryDirectory(prefix="pcbatch-nightly-") as tmp,
        SimulatorThread(config) as a,
        SimulatorThread(SimConfig(customers=n, seed=7, latency_ms=30.0)) as b,
    ):
        work = Path(tmp)
        ids = a.store.ids()
        assert ids == b.store.ids()
        night1 = {cid: "Suite 1" for cid in ids}
        sheet1 = write_sheet(work / "night1.csv", night1)
        fast = ("--rate", "1e6", "--concurrency", "32")
        state = ("--state", str(work / "state"))
        calls, wall, _ = pcbatch_run(a, sheet1, work / "a1", *fast, *state, "--incremental")
        print(f"night 1 (fills the state): {n} customers, {calls} calls, {wall:.1f} s", flush=True)
        pcbatch_run(b, sheet1, work / "b1", *fast)

        rng = random.Random(19)
        picked = rng.sample(ids, 2 * max(1, round(n * SHARE)))
        in_sheet, by_other = picked[: len(picked) // 2], picked[len(picked) // 2 :]
        night2 = dict(night1) | {cid: "Suite 2" for cid in in_sheet}
        sheet2 = write_sheet(work / "night2.csv", night2)
        for sim in (a, b):
            for cid in by_other:
                sim.write_as_other_writer(cid, {"defaultAddress": {"addressLine2": "Other"}})

        rate = ("--rate", f"{args.rate:g}")
        inc_calls, inc_wall, inc = pcbatch_run(
            a, sheet2, work / "a2", *rate, *state, "--incremental"
        )
        full_calls, full_wall, full = pcbatch_run(b, sheet2, work / "b2", *rate)
        wrong = wrong_rows(a, night2) + wrong_rows(b, night2)

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
