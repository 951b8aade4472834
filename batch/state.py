"""A job's state across runs: one SQLite file in the --state directory (`state = ...` in a job).

It belongs to the job, not to one run's --out: each night's run reads what the earlier nights
left and adds what it learned. Two tables:

    runs(run_id, started_at, full, finished_at)   every run that used the state (not dry runs)
    known(customer_id, field_values, as_of, wrote_at)
        what pcbatch last saw (GET) or wrote (PUT) of each customer's billing profile, for the
        fields its rows set (core/incremental.py, Known and learned)

Times are UTC ISO 8601 text. Each write commits at once: a run that dies keeps what it learned.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Self

from batch.core.errors import ConfigError
from batch.core.incremental import Known

STATE_NAME = "pcbatch-state.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY,
    started_at TEXT NOT NULL,
    full INTEGER NOT NULL,
    finished_at TEXT
);
CREATE TABLE IF NOT EXISTS known (
    customer_id TEXT PRIMARY KEY,
    field_values TEXT NOT NULL,
    as_of TEXT NOT NULL,
    wrote_at TEXT
);
"""


class JobState:
    """`with JobState.open(directory) as state:`; see the module for what it keeps."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._db = connection
        self.path = path

    @classmethod
    def open(cls, directory: Path) -> JobState:
        """Open (or create) the state in `directory`; ConfigError when it cannot be."""
        path = directory / STATE_NAME
        try:
            directory.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(path, isolation_level=None)
            connection.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(
                f"--state {directory}: the job's state cannot be opened: {exc}"
            ) from None
        return cls(connection, path)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the store (every write is already committed)."""
        self._db.close()

    def last_run_start(self) -> datetime | None:
        """When the last run that used this state started (finished or not)."""
        found = self._db.execute("SELECT max(started_at) FROM runs").fetchone()[0]
        return datetime.fromisoformat(found) if found else None

    def last_full_start(self) -> datetime | None:
        """When the last full run that finished started."""
        found = self._db.execute(
            "SELECT max(started_at) FROM runs WHERE full = 1 AND finished_at IS NOT NULL"
        ).fetchone()[0]
        return datetime.fromisoformat(found) if found else None

    def begin_run(self, started_at: datetime, *, full: bool) -> int:
        """Record a run's start; its id."""
        cursor = self._db.execute(
            "INSERT INTO runs (started_at, full) VALUES (?, ?)", (started_at.isoformat(), full)
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def finish_run(self, run_id: int, finished_at: datetime) -> None:
        """Record that the run ended."""
        self._db.execute(
            "UPDATE runs SET finished_at = ? WHERE run_id = ?", (finished_at.isoformat(), run_id)
        )

    def known(self) -> dict[str, Known]:
        """customer -> what the state knows of it."""
        return {
            customer_id: Known(
                customer_id,
                json.loads(values),
                datetime.fromisoformat(as_of),
                datetime.fromisoformat(wrote_at) if wrote_at else None,
            )
            for customer_id, values, as_of, wrote_at in self._db.execute(
                "SELECT customer_id, field_values, as_of, wrote_at FROM known"
            )
        }

    def save(self, entries: Iterable[Known]) -> None:
        """Keep these customers' entries (replacing what was known of them)."""
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR REPLACE INTO known VALUES (?, ?, ?, ?)",
                [
                    (
                        entry.customer_id,
                        json.dumps(dict(entry.values), ensure_ascii=False, sort_keys=True),
                        entry.as_of.isoformat(),
                        entry.wrote_at.isoformat() if entry.wrote_at else None,
                    )
                    for entry in entries
                ],
            )

    def forget(self, customer_id: str) -> None:
        """Know nothing of this customer any more: its next row is sent."""
        self._db.execute("DELETE FROM known WHERE customer_id = ?", (customer_id,))
