"""When a run stops starting customers: the Stop flag and the rules that set it.

Rules (README.md, "Options" and "Durable runs: journal, resume, lock, stops"):

- Failure budget: judged on the RECENT customers, the last FAILURE_WINDOW (50) that finished
  (`skipped` rows do not count; RecentResults keeps them). Once at least FAILURE_BUDGET_AFTER
  (20) finished, the run stops early (exit 75) as soon as more than `budget` of the recent ones
  (a share, 0 to 1) ended `failed`: an outage should not be hammered row after row, and one
  that begins after any amount of good work stops the run within a window (at the default 0.5,
  26 failures in a row). A budget of 1 never stops the run.
- --max-duration: no customer is started once the run has worked that many seconds; the rows
  not started end `skipped` and the run exits 75.
- Refused credentials: a 401 after renewing the token stops the run at once (retry.py, ABORT). A
  403 with a credential-wide code (retry.CREDENTIAL_WIDE_403) before any call of the run has
  succeeded refuses that row only (REFUSED); once CREDENTIALS_REFUSED_AFTER (3) customers, or
  every customer the run sends if fewer, were refused so with still no success, the run stops
  (exit 3). One customer's 403 may be its own (a missing relationship, a locked tenant); three
  in a row with nothing succeeding are the credentials.
- The pool checks the Stop before starting each customer; whoever sets it (an auth abort, the
  two rules above, a signal handler) leaves the customers in flight to finish. The first reason
  set wins.

Pure: no asyncio, no I/O. The rules take their inputs (counts, seconds) as arguments.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from batch.core.errors import AuthFailed, PcbatchError, StoppedEarly

FAILURE_BUDGET_AFTER = 20  # customers finished before the failure budget is judged
FAILURE_WINDOW = 50  # the failure budget judges the last this many finished customers


class RecentResults:
    """Whether each of the last `size` finished customers failed: a sliding window."""

    __slots__ = ("_failed", "failed")

    def __init__(self, size: int = FAILURE_WINDOW) -> None:
        self._failed: deque[bool] = deque(maxlen=size)
        self.failed = 0  # how many of the window failed

    def add(self, failed: bool) -> None:
        """One more finished customer; the oldest leaves a full window."""
        if len(self._failed) == self._failed.maxlen:
            self.failed -= self._failed[0]
        self._failed.append(failed)
        self.failed += failed

    @property
    def finished(self) -> int:
        """How many customers the window holds (up to its size)."""
        return len(self._failed)


CREDENTIALS_REFUSED_AFTER = 3  # customers refused a credential-wide 403 before the run stops


def failure_budget_spent(finished: int, failed: int, budget: float) -> StoppedEarly | None:
    """The reason to stop when `failed` of the `finished` recent customers spend the budget.

    finished: the recent customers (RecentResults.finished) that ended with a status other
    than `skipped`; failed: those `failed`. budget: the share of them allowed to fail
    (--failure-budget, 0 to 1). None: carry on.
    """
    if finished < FAILURE_BUDGET_AFTER or failed <= budget * finished:
        return None
    return StoppedEarly(
        f"{failed} of the last {finished} finished customers failed, more than the failure "
        f"budget of {budget:.0%}: stopped early (is the service down?); rerun later with "
        "--resume to continue"
    )


def max_duration_reached(elapsed: float, limit: float | None) -> StoppedEarly | None:
    """The reason to stop once `elapsed` seconds reach --max-duration `limit` (None: none)."""
    if limit is None or elapsed < limit:
        return None
    return StoppedEarly(
        f"--max-duration {limit:g} s reached: the rows not started were skipped; rerun with "
        "--resume to continue"
    )


def credentials_refused(
    refused: int, customers: int, any_success: bool, last: AuthFailed
) -> AuthFailed | None:
    """The reason to stop when `refused` customers met a credential-wide 403 and no call of the
    run succeeded, else None.

    customers: how many customers the run sends (a run of 2 stops once both were refused).
    last: the refusal of the latest such customer (retry.ending's), which says what to check.
    """
    if any_success or refused < min(CREDENTIALS_REFUSED_AFTER, max(customers, 1)):
        return None
    return AuthFailed(f"{refused} customers were refused alike and none succeeded: {last}")


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
