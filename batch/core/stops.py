"""When a run stops starting customers: the Stop flag and the rules that set it.

Pure: no asyncio, no I/O. The pool checks the flag before starting each customer; whoever sets
it (an auth abort, --max-duration, the failure budget, a signal handler) leaves the customers in
flight to finish. The first reason set wins.
"""

from __future__ import annotations

from collections.abc import Callable

from batch.core.errors import PcbatchError


class Stop:
    """A flag the pool checks before starting each customer; the first reason set wins."""

    __slots__ = ("cancel", "reason")

    def __init__(self) -> None:
        self.reason: PcbatchError | None = None
        self.cancel: Callable[[], None] | None = None  # set by run_pool while it runs

    def set(self, reason: PcbatchError) -> None:
        """Stop starting customers; `reason` becomes the run's error (and exit code)."""
        if self.reason is None:
            self.reason = reason

    def now(self, reason: PcbatchError) -> None:
        """Stop at once: as set(), and cancel the customers in flight (they end `skipped`)."""
        self.set(reason)
        if self.cancel is not None:
            self.cancel()

    @property
    def is_set(self) -> bool:
        """True once a reason has been set."""
        return self.reason is not None
