"""An estimate of a run's time left (TimeLeft): rows left / rows per second of late.

The rows per second are those of the last `span_s` (30 s) or the last `rows` (200) rows
finished, whichever is longer, so the estimate follows the pace of the moment (a window that
grew, a rate that dropped on 429s) without jumping with each row. Rows ended without a call
(past --limit, not started after a stop) are not fed: they take no time.

Pure: every event takes `now` (seconds on any monotonic clock); tests pass a fake clock.
"""

from __future__ import annotations

from collections import deque


class TimeLeft:
    """Rows finished of late, and the time the rows left should take at their pace."""

    __slots__ = ("_done", "rows", "span_s")

    def __init__(self, *, span_s: float = 30.0, rows: int = 200) -> None:
        self.span_s = span_s
        self.rows = rows
        self._done: deque[float] = deque()  # times rows finished at, oldest first

    def on_row(self, now: float) -> None:
        """A row finished at `now` (its customer was called)."""
        done = self._done
        done.append(now)
        while len(done) > self.rows and done[0] < now - self.span_s:
            done.popleft()

    def rows_per_s(self) -> float | None:
        """Rows finished per second of late; None before two rows, or with no time between."""
        done = self._done
        if len(done) < 2 or done[-1] <= done[0]:
            return None
        return (len(done) - 1) / (done[-1] - done[0])

    def estimate_s(self, left: int) -> float | None:
        """Seconds the `left` rows should take at the pace of late (0 when none is left)."""
        if left <= 0:
            return 0.0
        pace = self.rows_per_s()
        return None if pace is None else left / pace
