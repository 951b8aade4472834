"""Which fault, if any, a REST request meets: a pure decision from a seeded random source.

Every decision draws exactly six numbers, whatever the config says, so the same seed and the
same sequence of requests give the same faults even when a test changes probabilities between
requests. Precedence when several fire: drop_before, then hang, then a 5xx. The latency
(latency_ms plus a uniform 0..jitter_ms) applies to every request, faulty or not.
drop_after_commit only matters to a PUT that commits; concurrent_writer only to a GET of a billing
profile. Faults never apply to the token endpoint, and throttled or unauthenticated requests do
not draw (they are answered before).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from batch.simulator.config import SimConfig


@dataclass(frozen=True, slots=True)
class Decision:
    """What the stand-in does to one request.

    delay_s: seconds to wait before answering. before: "drop_before", "hang", "500", "502",
    "503", "504", or None (handle normally). drop_after_commit, concurrent_writer: see module.
    """

    delay_s: float
    before: str | None
    drop_after_commit: bool
    concurrent_writer: bool


class Faults:
    """The seeded source of fault decisions for one server."""

    __slots__ = ("_rng",)

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(f"pcbatch-sim/{seed}/faults")

    def decide(self, config: SimConfig) -> Decision:
        """Draw the fault of the next request."""
        rng = self._rng.random
        u_drop, u_hang, u_5xx, u_jitter, u_after, u_writer = (rng() for _ in range(6))
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
        delay_ms = config.latency_ms + u_jitter * config.jitter_ms
        return Decision(
            delay_ms / 1000.0,
            before,
            u_after < config.drop_after_commit,
            u_writer < config.concurrent_writer,
        )
