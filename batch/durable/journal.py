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

Here: opening the file and the writes. The reads (a run's record, its entries, the rows
--resume sends again, the report's counts) are JournalReader's, in journal_reader.py, which
Journal extends; the tables and the row <-> value conversions are in journal_schema.py.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from batch.core.country_rules import RulesAnswer
from batch.core.errors import ConfigError
from batch.core.model import Change, Entry, Outcome, RunInfo, RunStats, Sheet
from batch.core.option_spec import is_secret_key
from batch.durable.files import open_private, private_dir
from batch.durable.journal_reader import JournalReader
from batch.durable.journal_schema import (
    INSERT_OUTCOME,
    INSERT_PUT,
    SCHEMA_VERSION,
    changes_json,
    outcome_params,
    to_json,
    upgrade,
)

__all__ = ["JOURNAL_NAME", "Entry", "Journal", "RunInfo", "iso", "utc_now"]

JOURNAL_NAME = "journal.sqlite"


def utc_now() -> datetime:
    """The journal's default clock: aware UTC now."""
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """`2024-05-01T12:00:00.123Z`: UTC, milliseconds."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Journal(JournalReader):
    """The SQLite journal of one --out directory; one writer (the engine), any number of readers.

    Use `Journal.open(out_dir)`; `start_run` (or `resume_run`) sets the run that `record` and
    `finish_run` write to. Safe to call from one thread at a time (a lock serialises calls).
    """

    def __init__(self, db: sqlite3.Connection, path: Path, clock: Callable[[], datetime]) -> None:
        super().__init__(db, path)
        self._clock = clock
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
