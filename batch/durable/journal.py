"""The run journal: one SQLite file per --out directory, the single source of a run's truth.

Rules:
- `out_dir/journal.sqlite`, WAL mode, `synchronous=NORMAL`: a committed outcome survives the
  process being killed (SIGKILL); only a power cut may lose the last few, and --resume re-plans
  those from a fresh GET, which is idempotent. The record of a PUT about to be sent
  (`record_put`) is committed with `synchronous=FULL`: on disk before the PUT is sent, with
  every commit before it, so a power cut never loses a PUT that may have landed (--resume then
  reports its row `updated`, with its undo line).
- `start_run` stores the run and EVERY input row (valid and rejected) in one transaction, then
  the outcomes of rejected rows. `record` is one transaction per outcome: committed on return.
- Outcomes are appended, never updated: a row's outcome is its latest one (highest id), so the
  history of a row across a crash and a resume stays readable.
- A run has one session per process that worked on it (the first run, then each resume); the
  summary adds the sessions' counters together.
- `record_put` is called just before each PUT is sent (one transaction, committed on return):
  after a crash, `puts_sent` tells --resume which rows had a PUT that may have landed.
- `record_rules` keeps each country's rules answer of a run (one transaction); `country_rules`
  gives them back to --resume (the final ones: no new fetch) and to the report.
- No secret is stored: option keys that look like credentials are dropped (see jobfile.py).

The tables and the row <-> value conversions are in journal_schema.py.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from batch.core.country_rules import RulesAnswer, kept_answer
from batch.core.errors import ConfigError
from batch.core.model import Change, Entry, Outcome, Row, RunInfo, RunStats, Sheet, Status
from batch.core.option_spec import is_secret_key
from batch.durable.files import open_private, private_dir
from batch.durable.journal_schema import (
    INSERT_OUTCOME,
    INSERT_PUT,
    LATEST,
    OUTCOME_COLUMNS,
    SCHEMA_VERSION,
    add_sessions,
    changes_from_json,
    changes_json,
    outcome_from_row,
    outcome_params,
    to_json,
    upgrade,
)

__all__ = ["FINAL", "JOURNAL_NAME", "Entry", "Journal", "RunInfo", "iso", "utc_now"]

JOURNAL_NAME = "journal.sqlite"

# A row with one of these latest outcomes is done: --resume never sends it again. `not_found`
# and `rejected` are the service's definitive answer to this row's data (fix the row and feed
# failed.csv back instead); `failed` (attempts exhausted, outage) and `skipped` are re-planned.
FINAL: frozenset[Status] = frozenset(Status) - {Status.FAILED, Status.SKIPPED}
# ... except the one `rejected` row whose call found the run's credentials refused (exit 3):
# that refusal says nothing about the row, so once they are fixed --resume asks again. Its
# outcome says so (Outcome.retry_on_resume, stored in outcomes.retry_on_resume); a 403 refusing
# one customer after the run had succeeded is final like any other `rejected`.


def utc_now() -> datetime:
    """The journal's default clock: aware UTC now."""
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """`2024-05-01T12:00:00.123Z`: UTC, milliseconds."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Journal:
    """The SQLite journal of one --out directory; one writer (the engine), any number of readers.

    Use `Journal.open(out_dir)`; `start_run` (or `resume_run`) sets the run that `record` and
    `finish_run` write to. Safe to call from one thread at a time (a lock serialises calls).
    """

    def __init__(self, db: sqlite3.Connection, path: Path, clock: Callable[[], datetime]) -> None:
        self._db = db
        self._path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._run_id: int | None = None
        self._session: int | None = None

    @classmethod
    def open(
        cls, out_dir: Path, *, create: bool = True, clock: Callable[[], datetime] = utc_now
    ) -> Journal:
        """Open (creating out_dir and the file unless create=False) out_dir/journal.sqlite.

        Raises ConfigError (exit 2) when create=False and there is no journal, or when the file
        is not a pcbatch journal.
        """
        path = Path(out_dir) / JOURNAL_NAME
        if not create and not path.is_file():
            raise ConfigError(
                f"no journal in {out_dir} (looked for {path}): give the --out directory of a "
                "pcbatch run"
            )
        existed = path.is_file() and path.stat().st_size > 0
        if create:
            private_dir(path.parent)
        # 0600 and never through a symlink; SQLite gives its -wal and -shm files the mode of
        # the database file, and those are checked the same way when they are there already.
        for part, flags in ((path, os.O_CREAT * create), *((p, 0) for p in _companions(path))):
            if flags or os.path.lexists(part):
                os.close(open_private(part, os.O_RDWR | flags))
        # check_same_thread=False: the engine may record from a worker thread; self._lock
        # serialises every use of the connection. isolation_level=None: we say BEGIN ourselves.
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise ConfigError(
                    f"{path} was written by a newer pcbatch (journal schema {version}); "
                    "upgrade pcbatch or use another --out"
                )
            # A new file, or one of an older schema: upgrade only adds what is missing. A
            # journal already at this version is opened without a write (readers too).
            if version < SCHEMA_VERSION:
                upgrade(db)
            if existed:
                _check(db, path)
        except sqlite3.DatabaseError as exc:
            db.close()
            if cannot_write(exc):
                raise ConfigError(
                    f"the journal {path} cannot be written ({exc}): free space on its disk or "
                    "fix the permissions of --out"
                ) from exc
            raise ConfigError(
                f"{path} is not a pcbatch journal ({exc}); use another --out or remove the file"
            ) from exc
        except BaseException:
            db.close()
            raise
        return cls(db, path, clock)

    @property
    def path(self) -> Path:
        """Where the journal file is."""
        return self._path

    @property
    def run_id(self) -> int | None:
        """The run that `record` writes to, once start_run or resume_run was called."""
        return self._run_id

    def start_run(self, sheet: Sheet, input_sha256: str, options: Mapping[str, object]) -> int:
        """Record a new run, every input row, and the outcomes of rejected rows; return its id.

        options: the run options (RunOptions as a mapping); keys that look like secrets are
        dropped. One transaction: 100,000 rows take about a second.
        """
        now = iso(self._clock())
        safe = _safe_options(options)
        valid = [
            (r.number, r.customer_id, "valid", to_json(dict(r.raw)), to_json(dict(r.values)))
            for r in sheet.rows
        ]
        rejected = [
            (r.number, r.customer_id, r.status.value, to_json(dict(r.raw)), None)
            for r in sheet.not_sent
        ]
        rejected_outcomes = [
            Outcome(r.number, r.customer_id, r.status, message=r.message) for r in sheet.not_sent
        ]
        with self._lock, self._writing(), self._transaction():
            run_id = self._db.execute(
                "INSERT INTO runs (input_path, input_sha256, format, sheet_name, headers,"
                " columns, unknown_headers, options, started_at) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    sheet.path,
                    input_sha256,
                    sheet.format,
                    sheet.sheet_name,
                    to_json(list(sheet.headers)),
                    to_json(dict(sheet.columns)),
                    to_json(list(sheet.unknown_headers)),
                    to_json(safe),
                    now,
                ),
            ).lastrowid
            assert run_id is not None
            self._db.executemany(
                f"INSERT INTO rows (run_id, row, customer_id, kind, raw, planned)"
                f" VALUES ({run_id},?,?,?,?,?)",
                valid + rejected,
            )
            self._begin_session(run_id, safe, now)
            self._db.executemany(
                INSERT_OUTCOME, [outcome_params(run_id, o, 1, now) for o in rejected_outcomes]
            )
        return run_id

    def resume_run(self, run_id: int, options: Mapping[str, object]) -> None:
        """Continue run_id in a new session: clears its end, and `record` writes to it again.

        The caller checks the input's sha256 against `last_run()` first (refuse or --force).
        """
        now = iso(self._clock())
        with self._lock, self._writing(), self._transaction():
            self._db.execute(
                "UPDATE runs SET finished_at = NULL, exit_code = NULL WHERE id = ?", (run_id,)
            )
            self._begin_session(run_id, _safe_options(options), now)

    def record(self, outcome: Outcome) -> None:
        """Append one row's outcome to the current run; committed (durable) on return.

        A row that is not in the run is a bug (sqlite3.IntegrityError).
        """
        run_id = self._current()
        params = outcome_params(run_id, outcome, self._session or 0, iso(self._clock()))
        with self._lock, self._writing():
            # Autocommit: the INSERT is its own transaction, committed before execute returns.
            self._db.execute(INSERT_OUTCOME, params)

    def record_put(self, row: int, changes: Sequence[Change], *, etag: str | None = None) -> None:
        """Note that a PUT carrying `changes` is about to be sent for row; durable on return.

        Call it before sending: if the process dies before the row's outcome is recorded,
        `puts_sent` tells --resume that the profile may hold the row's values because of us.
        etag: the If-Match the PUT is sent with, for the record only.
        """
        run_id = self._current()
        params = (run_id, row, changes_json(changes), etag, self._session or 0)
        with self._lock, self._writing():
            # On disk before the PUT goes: synchronous=FULL syncs the WAL as this commits (and
            # every frame before it), so a power cut cannot lose the record of a PUT that may
            # land; the other commits stay NORMAL (bench/bench_journal.py measures the cost).
            self._db.execute("PRAGMA synchronous=FULL")
            try:
                self._db.execute(INSERT_PUT, (*params, iso(self._clock())))
            finally:
                self._db.execute("PRAGMA synchronous=NORMAL")

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

    def record_rules(self, answer: RulesAnswer) -> None:
        """Keep a country's rules answer for the current run (the latest replaces an earlier)."""
        run_id = self._current()
        document = None if answer.document is None else to_json(dict(answer.document))
        params = (run_id, answer.iso2, document, answer.why_not, int(answer.final))
        with self._lock, self._writing():
            self._db.execute(
                "INSERT OR REPLACE INTO country_rules (run_id, iso2, document, why_not, final,"
                " session, recorded_at) VALUES (?,?,?,?,?,?,?)",
                (*params, self._session or 0, iso(self._clock())),
            )

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

    def record_stats(self, stats: RunStats) -> None:
        """The current session's counters so far (finish_run writes the final ones): a session
        whose process dies keeps those of its last checkpoint."""
        run_id = self._current()
        with self._lock, self._writing():
            self._db.execute(
                "UPDATE sessions SET stats = ? WHERE run_id = ? AND n = ?",
                (to_json(asdict(stats)), run_id, self._session),
            )

    def finish_run(self, stats: RunStats, exit_code: int) -> None:
        """Close the current session: its counters, the run's end time and exit code."""
        run_id = self._current()
        now = iso(self._clock())
        with self._lock, self._writing(), self._transaction():
            self._db.execute(
                "UPDATE sessions SET finished_at = ?, exit_code = ?, stats = ?"
                " WHERE run_id = ? AND n = ?",
                (now, exit_code, to_json(asdict(stats)), run_id, self._session),
            )
            self._db.execute(
                "UPDATE runs SET finished_at = ?, exit_code = ? WHERE id = ?",
                (now, exit_code, run_id),
            )

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

    def close(self) -> None:
        """Close the connection (the WAL is checkpointed into the main file)."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _begin_session(self, run_id: int, options: Mapping[str, object], now: str) -> None:
        n = self._db.execute(
            "SELECT coalesce(max(n), 0) + 1 FROM sessions WHERE run_id = ?", (run_id,)
        ).fetchone()[0]
        self._db.execute(
            "INSERT INTO sessions (run_id, n, pid, options, started_at) VALUES (?,?,?,?,?)",
            (run_id, n, os.getpid(), to_json(dict(options)), now),
        )
        self._run_id, self._session = run_id, n

    def _current(self) -> int:
        if self._run_id is None:
            raise RuntimeError("Journal: call start_run or resume_run before recording")
        return self._run_id

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

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """SQLite's write errors (disk full, read-only, damaged file) as one ConfigError."""
        try:
            yield
        except sqlite3.IntegrityError:
            raise  # a bug, not the disk
        except sqlite3.Error as exc:
            raise ConfigError(
                f"the journal {self._path} cannot be written ({exc}): free space or fix the "
                "permissions of its directory, then pcbatch run --resume continues the run"
            ) from exc

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")


def cannot_write(exc: sqlite3.Error) -> bool:
    """True for SQLite's errors of a disk that is full or cannot be written (not of the file)."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    return name.startswith(("SQLITE_IOERR", "SQLITE_FULL", "SQLITE_CANTOPEN", "SQLITE_READONLY"))


def _companions(path: Path) -> tuple[Path, Path]:
    """The WAL and shared-memory files SQLite keeps next to the journal."""
    return path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")


def _check(db: sqlite3.Connection, path: Path) -> None:
    """Raise ConfigError (exit 2) when SQLite finds the journal damaged (PRAGMA quick_check)."""
    found = [row[0] for row in db.execute("PRAGMA quick_check(5)")]
    if found != ["ok"]:
        raise ConfigError(
            f"the journal {path} is damaged ({'; '.join(found)}): it cannot say which rows "
            "were sent. Restore it from a backup, or check the customers by hand and start a "
            "new run in another --out (its undo files and report are still in this one)"
        )


def _safe_options(options: Mapping[str, object]) -> dict[str, object]:
    return {k: v for k, v in options.items() if not is_secret_key(str(k))}
