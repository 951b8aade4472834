"""The best efficiency any client could reach in bench_run.py's latency scenarios: a model.

Usage: python bench/quota_floor.py [--customers N ...] [--draws D]

bench_run.py's `latency` and `short` scenarios measure (2N / rate) / elapsed: the ideal is every
request at the quota from the first instant to the last. But each customer's PUT must wait for
its GET's answer, and the run ends with the last answer, not the last request: with calls
lognormal around 400 ms (sigma 0.6) and PUTs twice as slow, the answers still out when the last
request goes take about 2.4 s. This model plays a client with nothing else in its way: no
start-up, no pre-flight read, no report, a window as large as it likes, one request exactly every
1/rate s, a customer's PUT sent at the first free slot after its GET's answer (before any new
GET: the order that ends soonest), latencies drawn as the stand-in draws them
(simulator/faults.latency_ms). Its median efficiency over `draws` random runs is the ceiling a
real client's figure is to be read against: pcbatch's figure is below it by its start-up (the
interpreter and imports, the sheet, the pre-flight round trip) and its exit. Not a test.
"""

from __future__ import annotations

import argparse
import heapq
import random
import statistics

from batch.simulator.config import SimConfig
from batch.simulator.faults import latency_ms

# bench_run.py's latency set-up: stand-in 40 req/s, --rate 40, lognormal 400 ms, sigma 0.6, PUT x2
LATENCY = SimConfig(latency_ms=400.0, latency_sigma=0.6, put_latency_factor=2.0)
RATE = 40.0


def best_elapsed(customers: int, rate: float, config: SimConfig, rng: random.Random) -> float:
    """Seconds from the first request to the last answer for the ideal client (see above)."""
    slot = 1.0 / rate
    gets_left = customers
    puts_ready: list[float] = []  # heap: times at which a customer's GET has been answered
    now = last_answer = 0.0
    while gets_left or puts_ready:
        if puts_ready and puts_ready[0] <= now:
            heapq.heappop(puts_ready)
            last_answer = max(last_answer, now + latency_ms(config, "PUT", rng.gauss()) / 1000)
        elif gets_left:
            gets_left -= 1
            heapq.heappush(puts_ready, now + latency_ms(config, "GET", rng.gauss()) / 1000)
        else:
            now = puts_ready[0]  # nothing to send until the next GET's answer
            continue
        now += slot
    return last_answer


def ceiling(customers: int, draws: int = 201, rate: float = RATE, seed: int = 1) -> float:
    """The ideal client's median efficiency, (2N / rate) / elapsed, over `draws` runs."""
    rng = random.Random(seed)
    runs = [best_elapsed(customers, rate, LATENCY, rng) for _ in range(draws)]
    return 2 * customers / rate / statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[300, 2_000])
    parser.add_argument("--draws", type=int, default=201)
    args = parser.parse_args()
    for n in args.customers:
        best = ceiling(n, args.draws)
        print(
            f"{n} customers at {RATE:g} req/s, calls lognormal 400 ms (sigma 0.6), PUTs x2: "
            f"the best any client can reach is efficiency {best:.3f} (ideal {2 * n / RATE:g} s, "
            f"median of {args.draws} draws); with 0.5 s of start-up and exit, "
            f"{2 * n / RATE / (2 * n / RATE / best + 0.5):.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
