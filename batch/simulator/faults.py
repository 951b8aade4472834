"""Which fault, if any, a REST request meets: a pure decision from a seeded random source.

Every decision draws exactly six numbers, whatever the config says, so the same seed and the
same sequence of requests give the same faults even when a test changes probabilities between
requests. Precedence when several fire: drop_before, then hang, then a 5xx. The latency applies
to every request, faulty or not: latency_ms, times exp(latency_sigma * z) for a standard normal
z (a lognormal with latency_ms as its median: a service's calls are mostly near their usual
time with a tail into seconds), times put_latency_factor for a PUT, plus a uniform 0..jitter_ms.
z comes from a random source of its own, one draw per decision, so a latency setting never
shifts the fault sequence. drop_after_commit only matters to a PUT that commits;
concurrent_writer only to a GET of a billing profile. Faults never apply to the token endpoint,
and throttled or unauthenticated requests do not draw (they are answered before).

customer_429_once is decided per customer, not per request: whether a customer is one of the
share that meets a 429 depends on the seed and its id only (throttled_once), whatever the order
of requests.

The faults added later (fail_409, commit_then_504) draw two numbers per decision from a second
seeded source, so that the six above stay what they were for a given seed. fail_409 applies to a
PUT of a billing profile only (after drop_before, hang and a 5xx; nothing is applied);
commit_then_504 to a PUT that commits (drop_after_commit wins when both fire).
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass

from batch.simulator.config import SimConfig


@dataclass(frozen=True, slots=True)
class Decision:
    """What the stand-in does to one request.

    delay_s: seconds to wait before answering. before: "drop_before", "hang", "500", "502",
    "503", "504", or None (handle normally). drop_after_commit, concurrent_writer, conflict
    (a PUT answered 409), commit_then_504: see module.
    """

    delay_s: float
    before: str | None
    drop_after_commit: bool
    concurrent_writer: bool
    conflict: bool = False
    commit_then_504: bool = False


class Faults:
    """The seeded source of fault decisions for one server."""

    __slots__ = ("_latency", "_rng", "_rng_later")

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(f"pcbatch-sim/{seed}/faults")
        self._rng_later = random.Random(f"pcbatch-sim/{seed}/faults-later")
        self._latency = random.Random(f"pcbatch-sim/{seed}/latency")

    def decide(self, config: SimConfig, method: str = "GET") -> Decision:
        """Draw the fault of the next request (`method`: its HTTP method)."""
        rng = self._rng.random
        u_drop, u_hang, u_5xx, u_jitter, u_after, u_writer = (rng() for _ in range(6))
        u_409, u_504 = self._rng_later.random(), self._rng_later.random()
        z = self._latency.gauss()
        before: str | None = None
        if u_drop < config.drop_before:
            before = "drop_before"
        elif u_hang < config.hang:
            before = "hang"
        else:
            edge = 0.0
            for status, p in (
                ("500", config.fail_500),
                ("502", config.fail_502),
                ("503", config.fail_503),
                ("504", config.fail_504),
            ):
                edge += p
                if u_5xx < edge:
                    before = status
                    break
        delay_ms = latency_ms(config, method, z) + u_jitter * config.jitter_ms
        return Decision(
            delay_ms / 1000.0,
            before,
            u_after < config.drop_after_commit,
            u_writer < config.concurrent_writer,
            u_409 < config.fail_409,
            u_504 < config.commit_then_504,
        )


def latency_ms(config: SimConfig, method: str, z: float) -> float:
    """The latency of a request for a standard normal draw `z`, jitter aside (milliseconds).

    With latency_sigma 0 it is latency_ms (times put_latency_factor for a PUT) whatever z is.
    """
    latency = config.latency_ms * math.exp(config.latency_sigma * z)
    return latency * config.put_latency_factor if method == "PUT" else latency


def throttled_once(seed: int, customer_id: str, share: float) -> bool:
    """Whether `customer_id` is one of the `share` of customers whose first request meets a 429."""
    if share <= 0.0:
        return False
    digest = hashlib.blake2b(f"{seed}/{customer_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < share
