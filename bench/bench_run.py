"""pcbatch run, the real CLI, against `pcbatch simulate` over loopback: one line per scenario.

Usage: python bench/bench_run.py [SCENARIO ...] [--customers N]    (default: all, in order)

Each scenario starts the stand-in as its own process (`python -m batch simulate --port 0`,
loaded with a customers file this script writes), then runs `python -m batch run` as another
process with the token in its environment, and reads its figures from the run's summary.json
and from the kernel (os.wait4: the client's own CPU time and peak RSS, the stand-in's excluded).
Every row changes addressLine2, so each customer costs exactly one GET and one PUT: the least
any tool needs, 2N calls. Scenarios (issue 7):

    steady    2,000 customers, stand-in 100 req/s + 30 ms latency, --rate 100:
              efficiency (2N/100 s) / elapsed >= 0.95, no 429
    adaptive  2,000 customers, stand-in 40 req/s + 30 ms latency, --rate 200 (over-asked 5x):
              efficiency against 40 req/s >= 0.90, 429s <= 3% of requests
    overhead  5,000 customers, stand-in without limit or latency, --rate 1e6:
              client CPU per customer <= 0.5 ms, customers/s; and, against the same
              stand-in, bench/floor_client.py: the same updates done with only the parts
              no pcbatch can skip, the figure the target is to be read against
    scale     100,000-row xlsx, stand-in without limit, --rate 1e6: client peak RSS <= 400 MB
    peer      the steady set-up, once with pcbatch and once as a PowerShell loop over
              Set-PartnerCustomer does it (one customer at a time, GET then PUT, one kept-alive
              connection), timed in the same invocation; the ratio of the two
    latency   (issue 16) 2,000 customers, stand-in 40 req/s, calls lognormal around 400 ms
              (sigma 0.6), PUTs twice as slow, --rate 40 and no --concurrency:
              efficiency (2N/40 s) / elapsed >= 0.90, no 429
    short     (issue 23) the latency set-up at 300 customers, a nightly run's size: whether a
              short run is at the quota from its first second: efficiency >= 0.85 (and the
              latency scenario's 2,000 customers: >= 0.95). Both print the ceiling no client
              can pass in that set-up (bench/quota_floor.py: 0.857 at 300, 0.975 at 2,000)
    chaos     (issue 16) 1,500 customers, stand-in 100 req/s + 30 ms latency, 1% of the
              customers throttled once (429, Retry-After 2 s) as if another integration had
              spent their quota, --rate 100: efficiency (2N/100 s) / elapsed >= 0.85

"elapsed" is the wall time of the whole `pcbatch run` process (start-up, reading the sheet,
the report included); `run` is summary.json's elapsed_s (from the journal's start to its end).
Timing is not a test: the figures go to bench/README.md. Not run by pytest.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quota_floor import ceiling

SCENARIOS = ("steady", "adaptive", "overhead", "scale", "peer", "latency", "short", "chaos")
CITIES = [("Boston", "MA", "02110"), ("Redmond", "WA", "98052"), ("Austin", "TX", "78701")]


def customers(n: int, seed: int = 1) -> dict[str, dict[str, object]]:
    """n valid US billing profiles, keyed by a deterministic customer GUID."""
    rng = random.Random(seed)
    out: dict[str, dict[str, object]] = {}
    for i in range(n):
        city, state, zip_code = rng.choice(CITIES)
        out[str(uuid.UUID(int=rng.getrandbits(128), version=4))] = {
            "firstName": "Ana",
            "lastName": "Lima",
            "email": f"billing{i}@example.com",
            "companyName": f"Contoso {i}",
            "defaultAddress": {
                "addressLine1": f"{rng.randint(1, 9999)} Main St",
                "city": city,
                "state": state,
                "postalCode": zip_code,
                "country": "US",
                "phoneNumber": f"617555{i % 10000:04d}",
            },
        }
    return out


def write_input(ids: list[str], path: Path, value: str) -> None:
    """The sheet: Customer ID + Address Line 2 = value, as csv or (by suffix) xlsx."""
    if path.suffix == ".xlsx":
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet("Customers")
        sheet.append(["Customer ID", "Address Line 2"])
        for cid in ids:
            sheet.append([cid, value])
        book.save(path)
        return
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["Customer ID", "Address Line 2"])
        writer.writerows([cid, value] for cid in ids)


@dataclass
class StandIn:
    base_url: str
    token: str


@contextmanager
def stand_in(work: Path, n: int, *flags: str) -> Iterator[tuple[StandIn, list[str]]]:
    """`pcbatch simulate` in its own process with n customers; yields it and their ids."""
    profiles = customers(n)
    file = work / f"customers_{n}.json"
    if not file.exists():
        file.write_text(json.dumps(profiles))
    argv = [sys.executable, "-m", "batch", "simulate", "--port", "0", "--seed", "1"]
    argv += ["--customers-file", str(file), *flags]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    base_url = token = ""
    for line in proc.stdout:
        if line.strip().startswith("base URL:"):
            base_url = line.split(":", 1)[1].strip()
        elif line.strip().startswith("access token:"):
            token = line.split(":", 1)[1].split()[0]
        elif "Ctrl-C stops it" in line:
            break
    try:
        if not (base_url and token):
            raise RuntimeError("the stand-in did not print its base URL and token")
        yield StandIn(base_url, token), list(profiles)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


@dataclass
class Run:
    wall_s: float
    cpu_s: float
    rss_mb: float
    exit_code: int
    summary: dict[str, object]

    @property
    def requests(self) -> int:
        return int(self.summary["requests"])  # type: ignore[call-overload]

    @property
    def throttled(self) -> int:
        return int(self.summary["throttled"])  # type: ignore[call-overload]


def pcbatch_run(sim: StandIn, sheet: Path, out: Path, *flags: str) -> Run:
    """`python -m batch run` in a child process; its wall time, CPU, peak RSS and summary."""
    env = {**os.environ, "PC_BASE_URL": sim.base_url, "PC_ACCESS_TOKEN": sim.token}
    argv = [sys.executable, "-m", "batch", "run", str(sheet), "--out", str(out), "--quiet"]
    started = time.perf_counter()
    with (out.parent / f"{out.name}.log").open("w") as log:
        proc = subprocess.Popen([*argv, *flags], env=env, stdout=log, stderr=log)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage, nobody else's
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    summary = json.loads((out / "summary.json").read_text())
    return Run(
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        rss_mb=usage.ru_maxrss / 1024,  # KiB on Linux
        exit_code=proc.returncode,
        summary=summary,
    )


def _updated(run: Run) -> str:
    statuses = run.summary["statuses"]
    assert isinstance(statuses, dict)
    return ", ".join(f"{k} {v}" for k, v in sorted(statuses.items()) if v)


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def steady(work: Path, n: int) -> Run:
    with stand_in(work, n, "--partner-rate", "100", "--latency-ms", "30") as (sim, ids):
        write_input(ids, work / "steady.csv", "Suite 100")
        run = pcbatch_run(sim, work / "steady.csv", work / "steady", "--rate", "100")
    ideal = 2 * n / 100
    eff = ideal / run.wall_s
    eff_run = ideal / float(run.summary["elapsed_s"])  # type: ignore[arg-type]
    ok = eff >= 0.95 and run.throttled == 0
    print(
        f"steady: {n} customers, stand-in 100 req/s + 30 ms, --rate 100: elapsed "
        f"{run.wall_s:.1f} s (ideal {ideal:.0f} s) efficiency {eff:.3f} (run {eff_run:.3f}), "
        f"{run.requests} requests, {run.throttled} 429s, rate final "
        f"{run.summary['rate_final']} min {run.summary['rate_min']}; [{_updated(run)}]; "
        f"target >= 0.95 and no 429: {_verdict(ok)}",
        flush=True,
    )
    return run


def adaptive(work: Path, n: int) -> None:
    with stand_in(work, n, "--partner-rate", "40", "--latency-ms", "30") as (sim, ids):
        write_input(ids, work / "adaptive.csv", "Suite 200")
        run = pcbatch_run(sim, work / "adaptive.csv", work / "adaptive", "--rate", "200")
    ideal = 2 * n / 40
    eff = ideal / run.wall_s
    eff_run = ideal / float(run.summary["elapsed_s"])  # type: ignore[arg-type]
    share = run.throttled / run.requests
    ok = eff >= 0.90 and share <= 0.03
    print(
        f"adaptive: {n} customers, stand-in 40 req/s + 30 ms, --rate 200: elapsed "
        f"{run.wall_s:.1f} s (ideal {ideal:.0f} s) efficiency {eff:.3f} (run {eff_run:.3f}), "
        f"{run.requests} requests, {run.throttled} 429s = {share:.1%}, rate final "
        f"{run.summary['rate_final']:.1f} min {run.summary['rate_min']:.1f}; [{_updated(run)}]; "
        f"target >= 0.90 and <= 3%: {_verdict(ok)}",
        flush=True,
    )


def latency(work: Path, n: int, name: str = "latency", target: float = 0.90) -> None:
    slow = ("--latency-ms", "400", "--latency-sigma", "0.6", "--put-latency-factor", "2")
    with stand_in(work, n, "--partner-rate", "40", *slow) as (sim, ids):
        write_input(ids, work / f"{name}.csv", "Suite 600")
        run = pcbatch_run(sim, work / f"{name}.csv", work / name, "--rate", "40")
    ideal = 2 * n / 40
    eff = ideal / run.wall_s
    eff_run = ideal / float(run.summary["elapsed_s"])  # type: ignore[arg-type]
    ok = eff >= target and run.throttled == 0
    best = ceiling(n)  # what a client with no start-up, no pre-flight and no exit could reach
    print(
        f"{name}: {n} customers, stand-in 40 req/s, calls lognormal 400 ms (sigma 0.6), PUTs "
        f"x2, --rate 40, no --concurrency: elapsed {run.wall_s:.1f} s (ideal {ideal:.0f} s) "
        f"efficiency {eff:.3f} (run {eff_run:.3f}; the best any client can reach "
        f"{best:.3f}, bench/quota_floor.py: pcbatch at {eff / best:.3f} of it), "
        f"{run.requests} requests, {run.throttled} 429s; {_window(run)}[{_updated(run)}]; "
        f"target >= {target:.2f} and no 429: {_verdict(ok)}",
        flush=True,
    )


def chaos(work: Path, n: int) -> None:
    once = ("--customer-429-once", "0.01", "--customer-429-retry-after", "2")
    with stand_in(work, n, "--partner-rate", "100", "--latency-ms", "30", *once) as (sim, ids):
        write_input(ids, work / "chaos.csv", "Suite 700")
        run = pcbatch_run(sim, work / "chaos.csv", work / "chaos", "--rate", "100")
    ideal = 2 * n / 100
    eff = ideal / run.wall_s
    eff_run = ideal / float(run.summary["elapsed_s"])  # type: ignore[arg-type]
    print(
        f"chaos: {n} customers, stand-in 100 req/s + 30 ms, 1% of customers throttled once "
        f"(Retry-After 2 s), --rate 100: elapsed {run.wall_s:.1f} s (ideal {ideal:.0f} s) "
        f"efficiency {eff:.3f} (run {eff_run:.3f}), {run.requests} requests, {run.throttled} "
        f"429s, rate final {run.summary['rate_final']:.1f} min {run.summary['rate_min']:.1f}; "
        f"{_window(run)}[{_updated(run)}]; target >= 0.85: {_verdict(eff >= 0.85)}",
        flush=True,
    )


def _window(run: Run) -> str:
    """The window and measured rate from summary.json, once the run reports them."""
    shown = [
        f"{key} {run.summary[key]}"
        for key in ("concurrency", "window_final", "window_max", "rate_measured")
        if key in run.summary
    ]
    return "; ".join(shown) + "; " if shown else ""


def overhead(work: Path, n: int) -> None:
    fast = ("--rate", "1000000", "--concurrency", "16")
    with stand_in(work, n) as (sim, ids):
        write_input(ids[:1], work / "one.csv", "Suite 301")
        base = pcbatch_run(sim, work / "one.csv", work / "overhead_one", *fast)
        write_input(ids, work / "overhead.csv", "Suite 300")
        run = pcbatch_run(sim, work / "overhead.csv", work / "overhead", *fast)
        write_input(ids, work / "floor.csv", "Suite 302")
        floor_cpu, floor = floor_run(sim, work / "floor.csv", work / "floor")
    per = run.cpu_s / n * 1000
    marginal = (run.cpu_s - base.cpu_s) / (n - 1) * 1000
    floor_per = floor_cpu / n * 1000
    print(
        f"overhead: {n} customers, stand-in without limit or latency, --rate 1e6 "
        f"--concurrency 16: elapsed {run.wall_s:.1f} s = {n / run.wall_s:.0f} customers/s, "
        f"client CPU {run.cpu_s:.2f} s = {per:.3f} ms per customer (a 1-customer run costs "
        f"{base.cpu_s:.2f} s: {marginal:.3f} ms per further customer), peak RSS "
        f"{run.rss_mb:.0f} MB; [{_updated(run)}]; target <= 0.5 ms: {_verdict(per <= 0.5)}; "
        f"the required parts alone (bench/floor_client.py, same stand-in): {floor_per:.3f} ms "
        f"per customer ({floor['put_200']} PUTs answered 200; CPU s by phase {floor['cpu_s']}), "
        f"pcbatch {per / floor_per:.2f}x that",
        flush=True,
    )


def floor_run(sim: StandIn, sheet: Path, out: Path) -> tuple[float, dict[str, Any]]:
    """bench/floor_client.py in a child process: its CPU seconds (kernel) and its JSON line."""
    env = {**os.environ, "PC_BASE_URL": sim.base_url, "PC_ACCESS_TOKEN": sim.token}
    script = Path(__file__).with_name("floor_client.py")
    proc = subprocess.Popen(
        [sys.executable, str(script), str(sheet), str(out)], env=env, stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    printed = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"bench/floor_client.py failed (status {status})")
    return usage.ru_utime + usage.ru_stime, json.loads(printed)


def scale(work: Path, n: int) -> None:
    fast = ("--rate", "1000000", "--concurrency", "32")
    with stand_in(work, n) as (sim, ids):
        write_input(ids, work / "scale.xlsx", "Suite 400")
        run = pcbatch_run(sim, work / "scale.xlsx", work / "scale", *fast)
    report = work / "scale" / "results.xlsx"
    print(
        f"scale: {n} rows (xlsx), stand-in without limit: elapsed {run.wall_s:.1f} s (run "
        f"{run.summary['elapsed_s']} s) = {n / run.wall_s:.0f} customers/s, client peak RSS "
        f"{run.rss_mb:.0f} MB, CPU {run.cpu_s:.1f} s, results.xlsx {report.stat().st_size >> 20}"
        f" MB (write-only); [{_updated(run)}]; target <= 400 MB: {_verdict(run.rss_mb <= 400)}",
        flush=True,
    )


async def _peer_loop(sim: StandIn, ids: list[str], value: str) -> dict[str, int]:
    """One customer at a time: GET, change addressLine2, PUT with If-Match; answers counted."""
    import aiohttp

    headers = {
        "Authorization": f"Bearer {sim.token}",
        "Accept": "application/json",
        "MS-Contract-Version": "v1",
    }
    counts: dict[str, int] = {}
    async with aiohttp.ClientSession() as session:  # one kept-alive connection, reused
        for cid in ids:
            url = f"{sim.base_url}/v1/customers/{cid}/profiles/billing"
            rid = {"MS-RequestId": str(uuid.uuid4()), "MS-CorrelationId": str(uuid.uuid4())}
            async with session.get(url, headers={**headers, **rid}) as response:
                body = json.loads((await response.read()).decode("utf-8-sig"))
                counts[f"GET {response.status}"] = counts.get(f"GET {response.status}", 0) + 1
            body["defaultAddress"]["addressLine2"] = value
            put = {
                **headers,
                "MS-RequestId": str(uuid.uuid4()),
                "MS-CorrelationId": str(uuid.uuid4()),
                "Content-Type": "application/json",
                "If-Match": f'"{body["attributes"]["etag"]}"',
            }
            async with session.put(url, data=json.dumps(body), headers=put) as response:
                await response.read()
                counts[f"PUT {response.status}"] = counts.get(f"PUT {response.status}", 0) + 1
    return counts


def peer(work: Path, n: int, ours: Run | None) -> None:
    if ours is None:
        ours = steady(work, n)
    with stand_in(work, n, "--partner-rate", "100", "--latency-ms", "30") as (sim, ids):
        started = time.perf_counter()
        counts = asyncio.run(_peer_loop(sim, ids, "Suite 500"))
        loop_s = time.perf_counter() - started
    shown = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    print(
        f"peer: {n} customers one at a time (GET then PUT), stand-in 100 req/s + 30 ms: "
        f"{loop_s:.1f} s ({2 * n / loop_s:.1f} req/s; {shown}); pcbatch --rate 100 in the same "
        f"invocation: {ours.wall_s:.1f} s; pcbatch is {loop_s / ours.wall_s:.2f}x faster",
        flush=True,
    )


def machine() -> str:
    """nproc, CPU model and Python version, for bench/README.md."""
    model = "unknown CPU"
    with Path("/proc/cpuinfo").open() as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"machine: {os.cpu_count()} CPUs ({model}), Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO", help=", ".join(SCENARIOS))
    parser.add_argument("--customers", type=int, help="override each scenario's N (a quick try)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder; print it")
    args = parser.parse_args()
    chosen = args.scenarios or list(SCENARIOS)
    unknown = sorted(set(chosen) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; pick from {', '.join(SCENARIOS)}")
    print(machine(), flush=True)
    work = Path(tempfile.mkdtemp(prefix="pcbatch-bench-"))
    ours: Run | None = None
    for name in chosen:
        if name == "steady":
            ours = steady(work, args.customers or 2_000)
        elif name == "adaptive":
            adaptive(work, args.customers or 2_000)
        elif name == "overhead":
            overhead(work, args.customers or 5_000)
        elif name == "scale":
            scale(work, args.customers or 100_000)
        elif name == "peer":
            peer(work, args.customers or 2_000, ours)
        elif name == "latency":
            latency(work, args.customers or 2_000, target=0.95)
        elif name == "short":
            latency(work, args.customers or 300, "short", target=0.85)
        elif name == "chaos":
            chaos(work, args.customers or 1_500)
    if args.keep:
        print(f"work folder: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
