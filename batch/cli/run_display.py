"""The progress display of a run (`pcbatch run`, and plan, apply and demo through run_watched).

One line naming where the run writes, then one rich progress bar fed by run_job's on_started and
on_progress; rich is imported only when a display is made, not for --help.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from batch.core.model import Status

if TYPE_CHECKING:
    from pathlib import Path

    from rich.console import Console
    from rich.progress import ProgressColumn

    from batch.engine.pool import Progress


def _clock(seconds: float | None) -> str:
    """Seconds as h:mm:ss; `-:--:--` when not known."""
    if seconds is None:
        return "-:--:--"
    whole = int(seconds + 0.5)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


WIDE = 140  # columns from which the rates, the window, 429s and conflicts are shown too


class RunDisplay:
    """The progress display of a run on a rich console: a line naming where the run writes,
    then one bar. At 80 columns: rows done of the rows to send and the time left first, the
    bar, the time elapsed, the rows updated (`would update` in a dry run) and failed so far;
    from WIDE columns on also the requests/s sent and allowed, the window, 429s, conflicts and
    the other statuses that need action. Rows skipped without a call (past --limit) leave the
    total. After a stop the bar says `stopped` and keeps counting the customers in flight as
    they finish, so that its last count is the report's; why it stopped is the run's closing
    error line (logged once, engine/run.py), not printed here again.
    """

    def __init__(self, console: Console, allowed_rate: float, *, dry_run: bool = False) -> None:
        from rich.progress import BarColumn
        from rich.progress import Progress as Bar

        self.console = console
        self.dry_run = dry_run
        self.wide = console.width >= WIDE
        # The texts never wrap: the bar (as wide as what is left) gives way first.
        columns = [
            _text_column("head"),
            _text_column("left"),
            BarColumn(bar_width=None),
            _elapsed_column(),
            _text_column("counts"),
        ]
        if self.wide:
            columns += [_text_column("speed"), _text_column("trouble")]
        self.bar = Bar(*columns, console=console, expand=True)
        self.task = self.bar.add_task(
            "rows",
            total=None,
            head="0/?",
            left=f"left {_clock(None)}",
            counts=self._counts({}),
            speed=self._speed(None, allowed_rate, None),
            trouble="",
        )
        self._total: int | None = None
        self._stopped = False

    @staticmethod
    def _speed(measured: float | None, allowed: float, window: int | None) -> str:
        sent = "-" if measured is None else f"{measured:.1f}"
        shown = f"{sent} req/s sent, {allowed:.1f} allowed"
        return shown if window is None else f"{shown}, window {window}"

    def _counts(self, statuses: Mapping[Status, int]) -> str:
        done = Status.WOULD_UPDATE if self.dry_run else Status.UPDATED
        name = done.value.replace("_", " ")
        return f"{name} {statuses.get(done, 0)} failed {statuses.get(Status.FAILED, 0)}"

    @staticmethod
    def _trouble(p: Progress) -> str:
        others = [
            f"{status.value} {p.statuses[status]}"
            for status in Status
            if not status.ok
            and status not in (Status.FAILED, Status.SKIPPED)
            and p.statuses.get(status)
        ]
        return "  ".join([f"429s {p.throttled}  conflicts {p.conflicts}", *others])

    def started(self, out_dir: Path, rows: int, target: str) -> None:
        """on_started of run_job: says where the run writes, and sets the total."""
        self.console.print(target, markup=False, highlight=False, soft_wrap=True)
        self._total = rows
        self.bar.update(self.task, total=rows, head=f"0/{rows}")

    def show(self, p: Progress) -> None:
        """on_progress of run_job."""
        sent = p.done - p.skipped
        if p.stopped is None:
            self._total = p.total - p.skipped  # rows past --limit are not part of the work
        self._stopped = p.stopped is not None
        total = "?" if self._total is None else self._total
        self.bar.update(
            self.task,
            completed=sent,
            total=self._total,
            head=f"stopped {sent}/{total}" if self._stopped else f"{sent}/{total}",
            left="" if self._stopped else f"left {_clock(p.eta_s)}",
            counts=self._counts(p.statuses),
            speed=self._speed(p.measured_rate, p.rate, p.window),
            trouble=self._trouble(p),
        )


def _text_column(name: str) -> ProgressColumn:
    """A column showing the task's field `name`, never wrapped."""
    from rich.progress import TextColumn
    from rich.table import Column

    return TextColumn(f"{{task.fields[{name}]}}", table_column=Column(no_wrap=True))


def _elapsed_column() -> ProgressColumn:
    """`elapsed h:mm:ss`, ticking between rows too (rich is imported here: not for --help)."""
    from rich.progress import ProgressColumn, Task
    from rich.table import Column
    from rich.text import Text

    class Elapsed(ProgressColumn):
        def render(self, task: Task) -> Text:
            return Text(f"elapsed {_clock(task.finished_time or task.elapsed or 0)}")

    return Elapsed(table_column=Column(no_wrap=True))
