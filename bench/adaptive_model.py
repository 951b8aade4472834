"""The adaptive rate against a model of a throttling service, in simulated time: for tuning.

Usage: python bench/adaptive_model.py [--beta B] [--beta-blind B] [--c C]

The real throttle.AdaptiveRate and throttle.Spacing drive 8 workers (30 ms answers) against a
token bucket like the stand-in's (rate s, burst 20, 429 with Retry-After = the wait rounded up
to whole seconds, at least 1; a 429 pauses every worker for it, as pool.Pacer does). No sockets,
no sleeping: a run of 4,000 calls takes a fraction of a second, so settings can be compared in
bulk before `bench_run.py adaptive` measures the real thing (they agree to 2%: 116.9 s in the
model against 117.0 s measured for the first version, 106.7 s against 108.8 s for this one).
Prints one line per service: efficiency against s (calls / s / elapsed; above 1 on short runs,
where the service's burst allowance is a large share of the calls) and 429s. Not a test.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import math

from batch.core.throttle import AdaptiveRate, Spacing

SERVICES = (  # (service rate/s, burst, --rate, what it stands for)
    (40.0, 20, 200.0, "bench adaptive: 40/s, --rate 200"),
    (100.0, 20, 100.0, "bench steady: 100/s, --rate 100"),
    (40.0, 20, 1000.0, "over-asked 25x: 40/s, --rate 1000"),
    (40.0, 2, 1000.0, "no burst allowance: 40/s burst 2, --rate 1000"),
    (5.0, 20, 10.0, "the default --rate 10 against 5/s"),
)


def simulate(
    s: float, burst: int, ceiling: float, calls: int = 4000, workers: int = 8, **settings: float
) -> tuple[float, int, int]:
    """(elapsed s, requests, 429s) for `calls` successful calls against the modelled service."""
    rate = AdaptiveRate(ceiling, **settings)
    spacing = Spacing()
    tokens, filled = float(burst), 0.0
    events: list[tuple[float, int, str, int, tuple[object, ...]]] = []
    order = itertools.count()
    done = requests = throttled = 0
    now = 0.0

    def ask(worker: int, at: float) -> None:
        when = spacing.reserve(at, rate.rate)
        heapq.heappush(events, (when, next(order), "send", worker, (spacing.generation,)))

    for worker in range(workers):
        ask(worker, 0.0)
    while events and done < calls:
        now, _, kind, worker, data = heapq.heappop(events)
        if kind == "send":
            if data[0] != spacing.generation:  # a 429 voided this turn: ask again
                ask(worker, now)
                continue
            requests += 1
            tokens, filled = min(burst, tokens + (now - filled) * s), now
            wait = 0
            if tokens >= 1.0:
                tokens -= 1.0
            else:
                wait = max(1, math.ceil((1.0 - tokens) / s))
            heapq.heappush(events, (now + 0.03, next(order), "answer", worker, (wait, now)))
            continue
        wait, sent = data
        assert isinstance(wait, int) and isinstance(sent, float)
        if wait:
            throttled += 1
            spacing.hold(now, now + wait)
            rate.on_throttle(now, sent_at=sent, pause=wait)
        else:
            done += 1
            rate.on_success(now)
        ask(worker, now)
    return now, requests, throttled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--beta", type=float)
    parser.add_argument("--beta-blind", type=float)
    parser.add_argument("--c", type=float)
    args = parser.parse_args()
    settings = {k: v for k, v in vars(args).items() if v is not None}
    print(f"AdaptiveRate settings: {settings or 'the defaults'}")
    for s, burst, ceiling, what in SERVICES:
        calls = 4000 if s >= 40 else 400
        elapsed, requests, throttled = simulate(s, burst, ceiling, calls, **settings)
        print(
            f"  {what}: efficiency {calls / s / elapsed:.3f}, {throttled} 429s "
            f"= {throttled / requests:.1%} of {requests} requests"
        )


if __name__ == "__main__":
    main()
