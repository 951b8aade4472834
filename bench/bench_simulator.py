"""How fast the stand-in serves: 100,000 customers, GET + PUT pairs over loopback, faults off.

The server runs in this process (request log on, as always); the client runs in another process
(its own core), so the figures are the server's. Prints one line: requests/s on the wall clock,
and requests per second of the server's own CPU time (what one core sustains even when the
client is the bottleneck). The target is >= 2,000 req/s on one core. Not a test.

    python bench/bench_simulator.py [--customers 100000] [--seconds 5] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import random
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor

import aiohttp

from batch.simulator import SimConfig, run_simulator


async def _drive(base_url: str, token: str, ids: list[str], seconds: float, concurrency: int):
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    statuses: Counter[str] = Counter()
    deadline = time.monotonic() + seconds
    rng = random.Random(1)

    async def worker(session: aiohttp.ClientSession) -> None:
        while time.monotonic() < deadline:
            customer = rng.choice(ids)
            url = f"{base_url}/v1/customers/{customer}/profiles/billing"
            async with session.get(url, headers=headers) as response:
                body = json.loads((await response.read()).decode("utf-8-sig"))
                statuses[f"GET {response.status}"] += 1
            body["defaultAddress"]["addressLine2"] = f"Bench {rng.randrange(10**6)}"
            put_headers = {**headers, "If-Match": f'"{body["attributes"]["etag"]}"'}
            data = json.dumps(body).encode()
            put_headers["Content-Type"] = "application/json"
            async with session.put(url, data=data, headers=put_headers) as response:
                await response.read()
                statuses[f"PUT {response.status}"] += 1

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.monotonic()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        elapsed = time.monotonic() - started
    return dict(statuses), elapsed


def drive(base_url: str, token: str, ids: list[str], seconds: float, concurrency: int):
    """The client, in its own process: (status counts, elapsed seconds)."""
    return asyncio.run(_drive(base_url, token, ids, seconds, concurrency))


async def main(customers: int, seconds: float, concurrency: int) -> None:
    started = time.perf_counter()
    config = SimConfig(customers=customers, seed=1)
    async with run_simulator(config) as sim:
        startup = time.perf_counter() - started
        ids = random.Random(2).sample(sim.store.ids(), min(10_000, customers))
        loop = asyncio.get_running_loop()
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(1, mp_context=spawn) as pool:
            # warm the client process up before measuring
            await loop.run_in_executor(pool, drive, sim.base_url, sim.token, ids[:10], 0.2, 2)
            cpu_before = time.process_time()
            statuses, elapsed = await loop.run_in_executor(
                pool, drive, sim.base_url, sim.token, ids, seconds, concurrency
            )
            cpu = time.process_time() - cpu_before
    total = sum(statuses.values())
    shown = ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items()))
    print(
        f"simulator: {len(sim.store)} customers (startup {startup:.1f} s), {total} requests in"
        f" {elapsed:.1f} s = {total / elapsed:.0f} req/s wall, server CPU {cpu:.2f} s ="
        f" {total / cpu:.0f} req/s per core ({shown})"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    asyncio.run(main(args.customers, args.seconds, args.concurrency))
