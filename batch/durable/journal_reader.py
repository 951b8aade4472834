"""The read side of the run journal: what the report, --resume and the summary ask of it.

`JournalReader` holds the connection and answers from it: a run's record with its sessions'
counters added together (`run_info`, `last_run`, `run_started_at`), every row with its latest
outcome (`entries`), the rows --resume sends again (`pending_rows`, see FINAL) and the PUTs that
may have landed (`puts_sent`), the report's counts (`counts`, `changed_fields`) and the rules
answers a run kept (`country_rules`). A run given as None is the one being written (after
start_run or resume_run), else the last. `Journal` (journal.py) opens the file and adds the
writes; the tables and the row <-> value conversions are in journal_schema.py.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from batch.core.country_rules import RulesAnswer, kept_answer
from batch.core.errors import ConfigError
from batch.core.model import Change, Entry, Row, RunInfo, Status
from batch.durable.journal_schema import (
    LATEST,
    OUTCOME_COLUMNS,
    add_sessions,
    changes_from_json,
    outcome_from_row,
)

__all__ = ["FINAL", "JournalReader"]


# A row with one of these latest outcomes is done: --resume never sends it again. `not_found`
# and `rejected` are the service's definitive answer to this row's data (fix the row and feed
# failed.csv back instead); `failed` (attempts exhausted, outage) and `skipped` are re-planned.
FINAL: frozenset[Status] = frozenset(Status) - {Status.FAILED, Status.SKIPPED}
# ... except the one `rejected` row whose call found the run's credentials refused (exit 3):
# that refusal says nothing about the row, so once they are fixed --resume asks again. Its
# outcome says so (Outcome.retry_on_resume, stored in outcomes.retry_on_resume); a 403 refusing
# one customer after the run had succeeded is final like any other `rejected`.


class JournalReader:
    """The queries of one journal's connection; `Journal` is the one to open (it writes too).

    Safe to call from one thread at a time (a lock serialises calls).
    """

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self._db = db
        self._path = path
        self._lock = threading.Lock()
        # The run being written, set by Journal.start_run / resume_run: the default run here.
        self._run_id: int | None = None

    def puts_sent(self, run_id: int) -> dict[int, tuple[Change, ...]]:
        """Row -> the changes of the latest PUT sent for it in any session of the run.

        A PUT whose answer never came (a crash, a lost connection) may have landed: a row
        re-planned by --resume that finds nothing to change then ended `updated` with these
        changes, not `unchanged`.
        """
        with self._lock:
            cursor = self._db.execute(
                "SELECT row, changes FROM puts p WHERE run_id = ? AND id ="
                " (SELECT max(id) FROM puts WHERE run_id = p.run_id AND row = p.row)",
                (run_id,),
            )
            return {row: changes_from_json(changes) for row, changes in cursor}

    def country_rules(self, run_id: int | None = None) -> dict[str, RulesAnswer]:
        """Country -> the rules answer the run got for it (default: the current or last run)."""
        run_id = self._resolve(run_id)
        with self._lock:
            cursor = self._db.execute(
                "SELECT iso2, document, why_not, final FROM country_rules WHERE run_id = ?"
                " ORDER BY iso2",
                (run_id,),
            )
            found: dict[str, RulesAnswer] = {}
            for iso2, document, why_not, final in cursor:
                body = None if document is None else json.loads(document)
                found[iso2] = kept_answer(iso2, body, why_not, bool(final))
            return found

    def entries(self, run_id: int | None = None) -> Iterator[Entry]:
        """Every input row of a run with its latest outcome, in row order; streams.

        Holds a read snapshot while iterated: exhaust or close the iterator before writing.
        """
        run_id = self._resolve(run_id)
        cursor = self._db.execute(
            f"SELECT r.row, r.customer_id, r.kind, r.raw, o.id, {OUTCOME_COLUMNS}"
            f" FROM rows r LEFT JOIN outcomes o ON {LATEST}"
            " WHERE r.run_id = ? ORDER BY r.row",
            (run_id,),
        )
        try:
            for row, customer_id, kind, raw, outcome_id, *rest in cursor:
                yield Entry(
                    row=row,
                    customer_id=customer_id,
                    kind=kind,
                    raw=json.loads(raw),
                    outcome=None if outcome_id is None else outcome_from_row(rest),
                )
        finally:
            cursor.close()

    def counts(self, run_id: int | None = None) -> dict[Status, int]:
        """Status -> rows, over every input row's latest outcome (default: the last run); a
        row never recorded counts as `skipped`. Statuses no row has are left out.
        """
        run_id = self._resolve(run_id)
        with self._lock:
            cursor = self._db.execute(
                "SELECT o.status, count(*) FROM rows r"
                f" LEFT JOIN outcomes o ON {LATEST} WHERE r.run_id = ? GROUP BY 1",
                (run_id,),
            )
            counts: dict[Status, int] = {}
            for status, rows in cursor:
                key = Status.SKIPPED if status is None else Status(status)
                counts[key] = counts.get(key, 0) + rows
            return counts

    def changed_fields(self, run_id: int | None = None) -> dict[Status, set[str]]:
        """Status -> the fields changed by rows whose latest outcome has it (default: the last
        run); statuses whose rows changed nothing are left out.

        Grouped in SQLite (json_each over each outcome's changes): no row is decoded here.
        """
        run_id = self._resolve(run_id)
        with self._lock:
            cursor = self._db.execute(
                "SELECT DISTINCT o.status, json_extract(c.value, '$.field') FROM rows r"
                f" JOIN outcomes o ON {LATEST}, json_each(o.changes) c WHERE r.run_id = ?",
                (run_id,),
            )
            fields: dict[Status, set[str]] = {}
            for status, name in cursor:
                fields.setdefault(Status(status), set()).add(name)
            return fields

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads inside see one consistent state of the journal (a read transaction)."""
        self._db.execute("BEGIN")
        try:
            yield
        finally:
            self._db.execute("COMMIT")

    def pending_rows(self, run_id: int) -> list[Row]:
        """Valid rows not yet done, in row order: never recorded, or last `failed`/`skipped`.

        What --resume sends again (see FINAL for why not_found/rejected are done, and the
        `rejected` that is not: the row that found the credentials refused, retry_on_resume).
        """
        final = sorted(s.value for s in FINAL)
        with self._lock:
            cursor = self._db.execute(
                "SELECT r.row, r.customer_id, r.planned, r.raw FROM rows r"
                f" LEFT JOIN outcomes o ON {LATEST} WHERE r.run_id = ? AND r.kind = 'valid'"
                f" AND (o.id IS NULL OR o.status NOT IN ({','.join('?' * len(final))})"
                "  OR o.retry_on_resume)"
                " ORDER BY r.row",
                (run_id, *final),
            )
            return [
                Row(number=row, customer_id=cid, values=json.loads(planned), raw=json.loads(raw))
                for row, cid, planned, raw in cursor
            ]

    def run_started_at(self, started_at: str) -> RunInfo | None:
        """The run that started at `started_at` (as summary.json has it), or None."""
        with self._lock:
            found = self._db.execute(
                "SELECT max(id) FROM runs WHERE started_at = ?", (started_at,)
            ).fetchone()[0]
        return None if found is None else self.run_info(found)

    def last_run(self) -> RunInfo | None:
        """The most recent run, or None in a fresh journal."""
        with self._lock:
            found = self._db.execute("SELECT max(id) FROM runs").fetchone()[0]
        return None if found is None else self.run_info(found)

    def run_info(self, run_id: int) -> RunInfo:
        """One run's record; ConfigError (exit 2) when the journal has no such run."""
        with self._lock:
            run = self._db.execute(
                "SELECT id, input_path, input_sha256, format, sheet_name, headers, columns,"
                " unknown_headers, options, started_at, finished_at, exit_code"
                " FROM runs WHERE id = ?",
                (run_id,),
            ).fetchone()
            if run is None:
                last = self._db.execute("SELECT max(id) FROM runs").fetchone()[0]
                raise ConfigError(
                    f"the journal {self._path} has no run {run_id}"
                    + (f" (its runs are 1 to {last})" if last else " (it holds no run yet)")
                )
            # A session whose process died has no end: it counts until its last outcome.
            sessions = self._db.execute(
                "SELECT started_at, coalesce(finished_at, (SELECT max(recorded_at) FROM outcomes"
                " WHERE run_id = s.run_id AND session = s.n)), stats FROM sessions s"
                " WHERE run_id = ? ORDER BY n",
                (run_id,),
            ).fetchall()
            rows = self._db.execute(
                "SELECT count(*) FROM rows WHERE run_id = ?", (run_id,)
            ).fetchone()[0]
        stats, elapsed = add_sessions(sessions)
        run_id, path, sha, fmt, sheet_name, headers, columns, unknown, options, *end = run
        return RunInfo(
            run_id, path, sha, fmt, sheet_name,
            headers=tuple(json.loads(headers)),
            columns=json.loads(columns),
            unknown_headers=tuple(json.loads(unknown)),
            options=json.loads(options),
            started_at=end[0],
            finished_at=end[1],
            exit_code=end[2],
            sessions=len(sessions),
            rows=rows,
            stats=stats,
            elapsed_s=elapsed,
        )  # fmt: skip

    def _resolve(self, run_id: int | None) -> int:
        if run_id is not None:
            return run_id
        if self._run_id is not None:
            return self._run_id
        with self._lock:
            found = self._db.execute("SELECT max(id) FROM runs").fetchone()[0]
        if found is None:
            raise ConfigError(f"the journal {self._path} holds no run yet")
        return int(found)
