"""What the job state learns from a night (--state): each outcome a subscriber of the pool, each
country's rules kept for the week, the state's run begun as the pool starts and finished at the
end; every error of the state kept as the run's stop reason, as the journal's are (the pool never
sees a raw SQLite error). A dry run learns nothing. engine/nightly.py makes one for each night.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import suppress
from datetime import datetime, timedelta

from batch.core.country_rules import RulesAnswer
from batch.core.errors import PcbatchError
from batch.core.incremental import Known, confirmed_as_of, learned
from batch.core.model import Outcome, Row
from batch.core.stops import Stop
from batch.durable.state import JobState

SAVE_EVERY = 500  # outcomes the state learns before it commits them (and at the end)


class Learner:
    """What the job state learns from tonight's outcomes and rules (not in a dry run), and the
    state's run: `on_outcome` and `keep_rules` are subscribers; `close` commits and closes.

    A state error (PcbatchError) is never raised to the pool: the first one is kept in
    `failure`, sets `stop` (when the run gave one) and the state is closed and left alone.
    """

    __slots__ = (
        "_confirmed",
        "_forgotten",
        "_learned",
        "_planned",
        "_rows",
        "_state_run",
        "clock",
        "failure",
        "kept_rules",
        "known",
        "learns",
        "log_read_at",
        "state",
        "stop",
    )

    def __init__(
        self,
        state: JobState,
        rows: Sequence[Row],
        *,
        learns: bool,
        clock: Callable[[], datetime],
    ) -> None:
        self.state: JobState | None = state
        self.learns = learns
        self.clock = clock
        self.known: dict[str, Known] = state.known()
        self.kept_rules: dict[str, RulesAnswer] = {}
        self.log_read_at: datetime | None = None
        self._rows = {row.number: row for row in rows}
        self._state_run: int | None = None
        self._planned: tuple[datetime, bool | None] | None = None
        self._learned: list[Known] = []
        self._confirmed: list[str] = []  # customers known unchanged tonight
        self._forgotten: list[str] = []
        self.failure: PcbatchError | None = None
        self.stop: Stop | None = None

    def plan(self, started: datetime, *, full: bool | None) -> None:
        """Tonight's state run, to begin as the pool starts (begin): a new one started at
        `started` (its key, the journal keeps it), or (full None) for a --resume session the
        one begun at `started`, which this session finishes (when the state still has it: a
        state moved aside since has not)."""
        self._planned = (started, full)

    def shift(self, skew: timedelta) -> None:
        """Keep tonight's times in the service's clock: this machine's is `skew` ahead."""
        clock = self.clock
        self.clock = lambda: clock() - skew
        if self._planned is not None:
            started, full = self._planned
            self._planned = (started - skew, full)

    @property
    def planned_start(self) -> datetime | None:
        return None if self._planned is None else self._planned[0]

    def begin(self) -> None:
        """Begin (or find) the planned state run; nothing is begun for a run that ends before
        its pool starts, so such a run never counts as a full one."""
        if not self.learns or self.state is None or self._planned is None:
            return
        started, full = self._planned
        try:
            if full is None:
                self._state_run = self.state.run_started_at(started)
            else:
                self._state_run = self.state.begin_run(started, full=full)
        except PcbatchError as exc:
            self._failed(exc)

    def confirm(self, customer_id: str) -> None:
        if self.learns:
            self._confirmed.append(customer_id)

    def on_outcome(self, outcome: Outcome) -> None:
        """The state learns what the outcome shows of its customer (core/incremental.learned)."""
        row = self._rows.get(outcome.row)
        if not self.learns or row is None or self.state is None:
            return
        before = self.known.get(row.customer_id)
        after = learned(row, outcome, self.clock(), before)
        if after is None:
            self._forgotten.append(row.customer_id)
        elif after is not before:
            self._learned.append(after)
        if len(self._learned) + len(self._forgotten) >= SAVE_EVERY:
            try:
                self._save()
            except PcbatchError as exc:
                self._failed(exc)

    def keep_rules(self, answer: RulesAnswer) -> None:
        """The state keeps a final rules answer fetched tonight (not one it kept already)."""
        fetched = self.kept_rules.get(answer.iso2) is not answer
        if self.learns and fetched and answer.final and self.state is not None:
            try:
                self.state.keep_rules(answer, self.clock())
            except PcbatchError as exc:
                self._failed(exc)

    def close(self) -> None:
        """Commit what the state learned, mark the state's run finished, close the state."""
        if self.state is None:
            return
        try:
            if self.learns:
                self._save()
                if self._state_run is not None:
                    self.state.finish_run(self._state_run, self.clock())
            self.state.close()
            self.state = None
        except PcbatchError as exc:
            self._failed(exc)

    def _failed(self, exc: PcbatchError) -> None:
        """The state cannot be used: keep why, stop the run, close it (quietly: it is broken),
        learn nothing more. What it committed before stays (each save is one transaction)."""
        if self.failure is None:
            self.failure = exc
        if self.stop is not None:
            self.stop.set(exc)
        if self.state is not None:
            with suppress(PcbatchError):  # a second error of it: the first says what to do
                self.state.close()
        self.state = None
        self._learned, self._forgotten, self._confirmed = [], [], []

    def _save(self) -> None:
        assert self.state is not None
        if self._confirmed and self.log_read_at is not None:
            self.state.confirm(self._confirmed, confirmed_as_of(self.log_read_at))
        self.state.save(self._learned)
        for customer_id in self._forgotten:
            self.state.forget(customer_id)
        self._learned, self._forgotten, self._confirmed = [], [], []
