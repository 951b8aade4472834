"""A job's state across runs: one SQLite file in the --state directory (`state = ...` in a job).

It belongs to the job, not to one run's --out: each night's run reads what the earlier nights
left and adds what it learned. Three tables:

    runs(run_id, started_at, full, finished_at)   every run that used the state (not dry runs)
    known(customer_id, field_values, as_of, wrote_at, profile, etag)
        what pcbatch last saw (GET) or wrote (PUT) of each customer's billing profile, for the
        fields its rows set, and the whole profile and etag of that answer (a changed row is
        PUT onto them without a GET; core/incremental.py, Known, put_onto_known and learned)

    country_rules(iso2, document, why_not, fetched_at)
        each country's final rules answer (`GET /v1/countryvalidationrules/{iso2}`) as a run
        fetched it: an incremental run uses it instead of fetching again while it is younger
        than core/incremental.RULES_KEPT_FOR

Times are UTC ISO 8601 text. Each write commits at once: a run that dies keeps what it learned.

The state is checked when opened (PRAGMA quick_check), and every SQLite error of it, at any
point (opening, reading, saving, closing), is one ConfigError (exit 2) saying what to do: free
space (a full disk), or move the file aside (damaged: the next night then runs full, having
no earlier run). The engine ends the night on it as on a journal that cannot be written: the
journal's run finished and the report written (engine/nightly.Learner, engine/run.py).
The state holds customers' billing profiles (names, addresses, e-mail): its directory is made
private (0700) and the file 0600, as a run's --out and journal are.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import wraps
from pathlib import Path
from types import TracebackType
from typing import Concatenate, ParamSpec, Self, TypeVar

from batch.core.country_rules import RulesAnswer, kept_answer
from batch.core.errors import ConfigError
from batch.core.incremental import Known
from batch.core.model import KnownProfile
from batch.durable.files import open_private, private_dir
from batch.durable.journal import cannot_write

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
    wrote_at TEXT,
    profile TEXT,
    etag TEXT
);
CREATE TABLE IF NOT EXISTS country_rules (
    iso2 TEXT PRIMARY KEY,
    document TEXT,
    why_not TEXT,
    fetched_at TEXT NOT NULL
);
"""
_BATCH = 500  # customer ids per query (SQLite allows 999 bound values in older builds)
# Columns added since the state's first version: a state made before gains them, empty.
_ADDED = {"profile": "TEXT", "etag": "TEXT"}


_P = ParamSpec("_P")
_R = TypeVar("_R")


def state_error(path: Path, exc: Exception) -> ConfigError:
    """A state's SQLite error as the one line that says what to do (exit 2)."""
    if isinstance(exc, sqlite3.Error) and cannot_write(exc):
        return ConfigError(
            f"the job state {path} cannot be written ({exc}): free space on its disk, then run "
            "again (--resume continues tonight's run); or move the file aside: the next night "
            "then runs full"
        )
    return ConfigError(
        f"the job state {path} is damaged ({exc}): move it aside (mv {path} {path}.damaged) "
        "and run again (--resume continues tonight's run): with no earlier run in the state, "
        "the next night runs full"
    )


def _guarded(
    method: Callable[Concatenate[JobState, _P], _R],
) -> Callable[Concatenate[JobState, _P], _R]:
    """The method's SQLite errors (and values a damaged file gives back) as state_error."""

    @wraps(method)
    def guarded(self: JobState, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(self, *args, **kwargs)
        except (sqlite3.Error, ValueError) as exc:
            raise state_error(self.path, exc) from exc

    return guarded


class JobState:
    """`with JobState.open(directory) as state:`; see the module for what it keeps."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._db = connection
        self.path = path

    @classmethod
    def open(cls, directory: Path) -> JobState:
        """Open (or create) the state in `directory`, checked (quick_check); ConfigError when it
        cannot be opened, written or is damaged."""
        path = directory / STATE_NAME
        private_dir(directory, option="--state")
        try:
            os.close(open_private(path, os.O_RDWR | os.O_CREAT))
        except OSError as exc:
            raise ConfigError(
                f"--state {directory}: the job's state cannot be opened: {exc}"
            ) from None
        connection = sqlite3.connect(path, isolation_level=None)
        try:
            _check_and_prepare(connection)
        except sqlite3.Error as exc:
            connection.close()
            raise state_error(path, exc) from exc
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

    @_guarded
    def close(self) -> None:
        """Close the store (every write is already committed)."""
        self._db.close()

    @_guarded
    def last_run_start(self) -> datetime | None:
        """When the last run that used this state started (finished or not)."""
        found = self._db.execute("SELECT max(started_at) FROM runs").fetchone()[0]
        return datetime.fromisoformat(found) if found else None

    @_guarded
    def last_full_start(self) -> datetime | None:
        """When the last full run that finished started."""
        found = self._db.execute(
            "SELECT max(started_at) FROM runs WHERE full = 1 AND finished_at IS NOT NULL"
        ).fetchone()[0]
        return datetime.fromisoformat(found) if found else None

    @_guarded
    def begin_run(self, started_at: datetime, *, full: bool) -> int:
        """Record a run's start; its id."""
        cursor = self._db.execute(
            "INSERT INTO runs (started_at, full) VALUES (?, ?)", (started_at.isoformat(), full)
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    @_guarded
    def run_started_at(self, started_at: datetime) -> int | None:
        """The run that started at `started_at` (as begin_run was given it), or None."""
        found = self._db.execute(
            "SELECT max(run_id) FROM runs WHERE started_at = ?", (started_at.isoformat(),)
        ).fetchone()[0]
        return None if found is None else int(found)

    @_guarded
    def finish_run(self, run_id: int, finished_at: datetime) -> None:
        """Record that the run ended."""
        self._db.execute(
            "UPDATE runs SET finished_at = ? WHERE run_id = ?", (finished_at.isoformat(), run_id)
        )

    @_guarded
    def known(self) -> dict[str, Known]:
        """customer -> what the state knows of it, without the kept profiles (profiles reads
        those: a run needs a few, and 100,000 parsed profiles would take some 360 MB)."""
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

    @_guarded
    def profiles(self, customer_ids: Iterable[str]) -> dict[str, KnownProfile]:
        """customer -> the profile and etag kept of it, for those of `customer_ids` it has."""
        found: dict[str, KnownProfile] = {}
        wanted = list(customer_ids)
        for start in range(0, len(wanted), _BATCH):
            batch = wanted[start : start + _BATCH]
            marks = ",".join("?" * len(batch))
            for customer_id, profile, etag in self._db.execute(
                f"SELECT customer_id, profile, etag FROM known WHERE customer_id IN ({marks})"
                " AND profile IS NOT NULL AND etag IS NOT NULL",
                batch,
            ):
                found[customer_id] = KnownProfile(json.loads(profile), etag)
        return found

    @_guarded
    def confirm(self, customer_ids: Iterable[str], as_of: datetime) -> None:
        """The state knows these customers as of `as_of` now (rows known unchanged tonight);
        what it knows of them stays."""
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                "UPDATE known SET as_of = ? WHERE customer_id = ?",
                [(as_of.isoformat(), customer_id) for customer_id in customer_ids],
            )

    @_guarded
    def save(self, entries: Iterable[Known]) -> None:
        """Keep these customers' entries (replacing what was known of them)."""
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR REPLACE INTO known"
                " (customer_id, field_values, as_of, wrote_at, profile, etag)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        entry.customer_id,
                        json.dumps(dict(entry.values), ensure_ascii=False, sort_keys=True),
                        entry.as_of.isoformat(),
                        entry.wrote_at.isoformat() if entry.wrote_at else None,
                        _profile_json(entry.profile),
                        entry.profile.etag if entry.profile else None,
                    )
                    for entry in entries
                ],
            )

    @_guarded
    def kept_rules(self, since: datetime) -> dict[str, RulesAnswer]:
        """Country -> the rules answer a run fetched at `since` or later."""
        return {
            iso2: kept_answer(iso2, None if document is None else json.loads(document), why_not)
            for iso2, document, why_not in self._db.execute(
                "SELECT iso2, document, why_not FROM country_rules WHERE fetched_at >= ?",
                (since.isoformat(),),
            )
        }

    @_guarded
    def keep_rules(self, answer: RulesAnswer, fetched_at: datetime) -> None:
        """Keep a country's final rules answer (replacing an older one)."""
        document = None if answer.document is None else json.dumps(dict(answer.document))
        self._db.execute(
            "INSERT OR REPLACE INTO country_rules VALUES (?, ?, ?, ?)",
            (answer.iso2, document, answer.why_not, fetched_at.isoformat()),
        )

    @_guarded
    def forget(self, customer_id: str) -> None:
        """Know nothing of this customer any more: its next row is sent."""
        self._db.execute("DELETE FROM known WHERE customer_id = ?", (customer_id,))


def _check_and_prepare(connection: sqlite3.Connection) -> None:
    """quick_check (a damaged page raises), then the tables and the columns added since."""
    found = [row[0] for row in connection.execute("PRAGMA quick_check(5)")]
    if found != ["ok"]:
        raise sqlite3.DatabaseError("; ".join(found))
    connection.executescript(_SCHEMA)
    have = {row[1] for row in connection.execute("PRAGMA table_info(known)")}
    for column, kind in _ADDED.items():
        if column not in have:
            connection.execute(f"ALTER TABLE known ADD COLUMN {column} {kind}")


def _profile_json(profile: KnownProfile | None) -> str | None:
    if profile is None:
        return None
    return json.dumps(dict(profile.body), ensure_ascii=False, separators=(",", ":"))
