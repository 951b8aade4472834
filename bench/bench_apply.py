"""A reviewed migration: `pcbatch plan` + `pcbatch apply` against a full `pcbatch run` (issue 26).

Usage: python bench/bench_apply.py [--customers N] [--rate R]     (default 10,000, --rate 100)

Two stand-ins with the same seed (SimulatorThread, in this process, over loopback; 30 ms per
answer) hold the same N customers; the sheet moves every customer to a new city. The real CLI
(`python -m batch ...`, a child process) runs:

- on B: `pcbatch run SHEET --rate R`, the full run (a GET and a PUT per customer);
- on A: `pcbatch plan SHEET` (fast: its rate is not measured), then other writers change 5% of
  the customers (half of them in the city, a planned field; half in the e-mail, a field the
  plan leaves alone), then `pcbatch apply PLAN_DIR --expect-plan SHA --rate R`, measured.

Printed: each measured command's calls (every REST request the stand-in answered) and wall
time; apply's calls per customer; its time against N/R (the limit at one call per customer);
rows wrong after apply (a customer moved in a planned field must keep the other writer's city,
every other one must hold the planned city, and every other writer's e-mail must be kept: 0 is
the only right answer); rows `changed_since_plan` against those moved in planned fields.
Timing is not a test: the figures go to bench/README.md. Not run by pytest.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from batch.simulator import SimConfig, Simulator, SimulatorThread

SHARE = 0.05


def rest_calls(sim: Simulator) -> int:
    return sum(1 for entry in sim.log if entry.path.startswith("/v1/"))


def pcbatch(sim: Simulator, log: Path, *argv: str) -> tuple[int, float, int]:
    """`python -m batch ARGV` in a child process: REST calls it made, wall time, exit code."""
    env = {**os.environ, "PC_BASE_URL": sim.base_url, "PC_ACCESS_TOKEN": sim.token}
    before = rest_calls(sim)
    started = time.perf_counter()
    with log.open("w") as f:
        code = subprocess.call([sys.executable, "-m", "batch", *argv, "--quiet"], env=env,
                               stdout=f, stderr=f)  # fmt: skip
    return rest_calls(sim) - before, time.perf_counter() - started, code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=100.0, help="the measured --rate")
    args = parser.parse_args()
    n, rate = args.customers, args.rate
    config = SimConfig(customers=n, seed=7, latency_ms=30.0)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; {n} customers, --rate {rate:g}, 30 ms per answer"
    )
    with (
        tempfile.TemporaryDirectory() as tmp,
        SimulatorThread(config) as a,
        SimulatorThread(config) as b,
    ):
        work = Path(tmp)
        ids = a.store.ids()
        planned = {cid: f"Benchtown {i}" for i, cid in enumerate(ids)}
        sheet = work / "in.csv"
        lines = ["Customer ID,City"] + [f"{cid},{city}" for cid, city in planned.items()]
        sheet.write_text("\n".join(lines) + "\n", encoding="utf-8")
        speed = ["--rate", str(rate)]

        full_calls, full_s, code = pcbatch(b, work / "full.log", "run", str(sheet),
                                           "--out", str(work / "full"), *speed)  # fmt: skip
        assert code == 0, f"full run: exit {code}"

        plan_dir = work / "plan"
        plan_calls, plan_s, code = pcbatch(a, work / "plan.log", "plan", str(sheet), "--out",
                                           str(plan_dir), "--rate", "2000")  # fmt: skip
        assert code == 0, f"plan: exit {code}"
        digest = (plan_dir / "plan.json.sha256").read_text().split()[0]

        movers = ids[:: round(1 / SHARE)][: round(n * SHARE)]
        in_planned = set(movers[::2])
        for cid in movers:
            if cid in in_planned:
                a.store.put_direct(cid, {"defaultAddress": {"city": f"Moved {cid[:8]}"}})
            else:
                a.store.put_direct(cid, {"email": f"other-{cid[:8]}@example.com"})

        apply_calls, apply_s, code = pcbatch(a, work / "apply.log", "apply", str(plan_dir),
                                             "--expect-plan", digest, *speed)  # fmt: skip
        assert code in (0, 1), f"apply: exit {code}"
        with (plan_dir / "applied" / "results.csv").open(encoding="utf-8-sig") as f:
            statuses = {line["customer_id"]: line["status"] for line in csv.DictReader(f)}
        wrong = 0
        for cid, city in planned.items():
            stored = a.store.stored(cid)
            now = stored["defaultAddress"]["city"]  # type: ignore[index]
            if cid in in_planned:
                wrong += now != f"Moved {cid[:8]}" or statuses[cid] != "changed_since_plan"
            else:
                wrong += now != city or statuses[cid] != "updated"
                if cid in movers:
                    wrong += stored.get("email") != f"other-{cid[:8]}@example.com"
        summary = json.loads((plan_dir / "applied" / "summary.json").read_text())
        changed_since = sum(1 for s in statuses.values() if s == "changed_since_plan")

    limit = n / rate
    print(f"full run:  {full_calls} calls, {full_s:.1f} s ({full_calls / n:.2f} per customer)")
    print(f"plan:      {plan_calls} calls, {plan_s:.1f} s (at --rate 2000, not measured)")
    print(
        f"apply:     {apply_calls} calls, {apply_s:.1f} s ({apply_calls / n:.3f} per customer;"
        f" {apply_calls / full_calls:.1%} of the full run's calls)"
    )
    print(f"N/R:       {limit:.1f} s; apply took {apply_s / limit:.1%} of it")
    print(f"moved:     {len(movers)} ({len(in_planned)} in planned fields)")
    print(f"changed_since_plan: {changed_since}; rows wrong after apply: {wrong}")
    print(f"apply's summary: requests {summary['requests']}, conflicts {summary['conflicts']}")


if __name__ == "__main__":
    main()
