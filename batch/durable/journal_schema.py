"""The journal's tables, and the conversion of their rows to and from pcbatch values.

Tables (journal.py says how they are used):

    runs      one per run: the input (path, sha256, headers) and the run's options
    sessions  one per process that worked on a run (the first, then each --resume)
    rows      every input row of a run: valid (with its planned values), invalid, duplicate
    outcomes  appended as each row ends; a row's outcome is its latest (highest id)
    puts      appended just before each PUT is sent: the changes it carries (schema 2), so
              that --resume can tell a PUT that landed before a crash from a profile that
              already held the row's values
    country_rules  one per country a run needed rules for: the service's answer (schema 4), so
              that --resume needs no new fetch and the summary says which were not checked

Versions: `PRAGMA user_version`. 1: runs, sessions, rows, outcomes. 2: adds `puts`. 3: adds
`outcomes.retry_on_resume`. 4: adds `country_rules`. Every statement of SCHEMA is `IF NOT
EXISTS`, so running it adds the missing tables to any older journal; `upgrade` then adds the
missing columns.
Times are UTC ISO 8601 text (`2025-01-31T02:00:00.000Z`); structured values are compact JSON.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from typing import Any

from batch.core.model import Change, Outcome, RunStats, Status, Tally
from batch.core.retry import CREDENTIALS_REFUSED

SCHEMA_VERSION = 4

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    input_path TEXT NOT NULL,
    input_sha256 TEXT NOT NULL,
    format TEXT NOT NULL,
    sheet_name TEXT,
    headers TEXT NOT NULL,          -- JSON list, the input's own header row
    columns TEXT NOT NULL,          -- JSON object, field -> header
    unknown_headers TEXT NOT NULL,  -- JSON list
    options TEXT NOT NULL,          -- JSON object, secrets dropped
    started_at TEXT NOT NULL,
    finished_at TEXT,
    exit_code INTEGER
);
CREATE TABLE IF NOT EXISTS sessions (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    n INTEGER NOT NULL,
    pid INTEGER NOT NULL,
    options TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    exit_code INTEGER,
    stats TEXT,                     -- JSON of RunStats for this session
    PRIMARY KEY (run_id, n)
);
CREATE TABLE IF NOT EXISTS rows (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    row INTEGER NOT NULL,
    customer_id TEXT NOT NULL,      -- canonical for valid rows, as the sheet had it otherwise
    kind TEXT NOT NULL,             -- valid | invalid | duplicate
    raw TEXT NOT NULL,              -- JSON object, header -> cell text (failed.csv)
    planned TEXT,                   -- JSON object, field -> text or null (valid rows only)
    PRIMARY KEY (run_id, row)
);
CREATE TABLE IF NOT EXISTS outcomes (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL,
    row INTEGER NOT NULL,
    customer_id TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    conflicts INTEGER NOT NULL,
    http_status INTEGER,
    error_code TEXT,
    message TEXT NOT NULL,
    changes TEXT NOT NULL,          -- JSON list of {field, before, after}
    request_id TEXT,
    correlation_id TEXT,
    duration_ms INTEGER NOT NULL,
    etag TEXT,                      -- the profile's, in the last successful answer
    retry_on_resume INTEGER NOT NULL DEFAULT 0,  -- 1: --resume sends the row again (schema 3)
    session INTEGER NOT NULL,       -- sessions.n of the process that recorded it
    recorded_at TEXT NOT NULL,
    FOREIGN KEY (run_id, row) REFERENCES rows(run_id, row)
);
CREATE INDEX IF NOT EXISTS outcomes_by_row ON outcomes(run_id, row, id);
CREATE TABLE IF NOT EXISTS puts (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL,
    row INTEGER NOT NULL,
    changes TEXT NOT NULL,          -- JSON list of {field, before, after}
    etag TEXT,                      -- the If-Match it is sent with
    session INTEGER NOT NULL,
    recorded_at TEXT NOT NULL,
    FOREIGN KEY (run_id, row) REFERENCES rows(run_id, row)
);
CREATE INDEX IF NOT EXISTS puts_by_row ON puts(run_id, row, id);
CREATE TABLE IF NOT EXISTS country_rules (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    iso2 TEXT NOT NULL,
    document TEXT,                  -- JSON of the rules answer; NULL when there are no rules
    why_not TEXT,                   -- why the service alone checks the country; NULL with rules
    final INTEGER NOT NULL,         -- 0: a failure (no answer, retries spent) --resume asks again
    session INTEGER NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (run_id, iso2)
);
"""

# The latest outcome of each row: the highest id wins, so a later record replaces an earlier one.
LATEST = "o.id = (SELECT max(id) FROM outcomes WHERE run_id = r.run_id AND row = r.row)"
OUTCOME_COLUMNS = (
    "o.row, o.customer_id, o.status, o.attempts, o.conflicts, o.http_status, o.error_code,"
    " o.message, o.changes, o.request_id, o.correlation_id, o.duration_ms, o.etag,"
    " o.retry_on_resume"
)
INSERT_OUTCOME = (
    "INSERT INTO outcomes (run_id, row, customer_id, status, attempts, conflicts, http_status,"
    " error_code, message, changes, request_id, correlation_id, duration_ms, etag,"
    " retry_on_resume, session, recorded_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
INSERT_PUT = (
    "INSERT INTO puts (run_id, row, changes, etag, session, recorded_at) VALUES (?,?,?,?,?,?)"
)


def upgrade(db: sqlite3.Connection) -> None:
    """Bring a journal of any older schema to SCHEMA_VERSION in place (a new file: create it).

    Schema 4 adds the country_rules table (SCHEMA creates it). Schema 3 adds
    outcomes.retry_on_resume. Before it, the row that found the credentials
    refused was told by its message, beginning with CREDENTIALS_REFUSED: such rows get 1, so
    --resume still sends them again. The columns are added in one write transaction, so two
    processes opening the same old journal at once add them once.
    """
    db.executescript(SCHEMA)  # the missing tables; IF NOT EXISTS makes it safe to repeat
    db.execute("BEGIN IMMEDIATE")
    try:
        columns = {row[1] for row in db.execute("PRAGMA table_info(outcomes)")}
        if "retry_on_resume" not in columns:
            db.execute("ALTER TABLE outcomes ADD COLUMN retry_on_resume INTEGER NOT NULL DEFAULT 0")
            db.execute(
                "UPDATE outcomes SET retry_on_resume = 1"
                " WHERE status = ? AND substr(message, 1, ?) = ?",
                (Status.REJECTED.value, len(CREDENTIALS_REFUSED), CREDENTIALS_REFUSED),
            )
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _plain(value: object) -> object:
    if isinstance(value, Enum):
        return value.value
    return str(value)


# One encoder for every value: json.dumps builds a new one per call when given options, and
# the journal encodes twice per customer (the PUT's changes, then the outcome's).
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_plain).encode


def to_json(value: object) -> str:
    """Compact JSON, non-ASCII kept; Paths, enums and the like as the text a user would type."""
    return _ENCODE(value)


def changes_json(changes: Sequence[Change]) -> str:
    """The `changes` column: a JSON list of {field, before, after}."""
    return to_json([{"field": c.field, "before": c.before, "after": c.after} for c in changes])


def changes_from_json(text: str) -> tuple[Change, ...]:
    """The inverse of changes_json."""
    return tuple(Change(c["field"], c["before"], c["after"]) for c in json.loads(text))


def outcome_from_row(values: Sequence[Any]) -> Outcome:
    """An Outcome from the OUTCOME_COLUMNS of one result row."""
    (row, customer_id, status, attempts, conflicts, http_status, error_code, message, changes,
     request_id, correlation_id, duration_ms, etag, retry_on_resume) = values  # fmt: skip
    return Outcome(
        row=row,
        customer_id=customer_id,
        status=Status(status),
        attempts=attempts,
        conflicts=conflicts,
        http_status=http_status,
        error_code=error_code,
        message=message,
        changes=changes_from_json(changes),
        request_id=request_id,
        correlation_id=correlation_id,
        duration_ms=duration_ms,
        etag=etag,
        retry_on_resume=bool(retry_on_resume),
    )


def outcome_params(run_id: int, o: Outcome, session: int, now: str) -> tuple[object, ...]:
    """The parameters of INSERT_OUTCOME for one outcome."""
    return (run_id, o.row, o.customer_id, Status(o.status).value, o.attempts, o.conflicts,
            o.http_status, o.error_code, o.message, changes_json(o.changes), o.request_id,
            o.correlation_id, o.duration_ms, o.etag, int(o.retry_on_resume), session,
            now)  # fmt: skip


def add_sessions(sessions: list[tuple[str, str | None, str | None]]) -> tuple[RunStats, float]:
    """Counters added over sessions (started_at, end, stats JSON); and the seconds worked.

    rate_final and window_final are the last known, rate_min the lowest, window_max the highest;
    rate_measured and window_mean are over every session's requests (sessions recorded before
    they were kept count for neither). A session with no end counts no time.
    """
    tally = Tally()
    rate_final: float | None = None
    rate_min: float | None = None
    window_final: int | None = None
    window_max: int | None = None
    measured_requests = sending_s = 0.0  # of the sessions with a measured rate
    window_requests = window_sum = 0.0  # of the sessions with a mean window
    elapsed = 0.0
    for started, end, stats_json in sessions:
        if end is not None:
            elapsed += max(
                0.0, (datetime.fromisoformat(end) - datetime.fromisoformat(started)).total_seconds()
            )
        if stats_json is None:
            continue  # its process died before the first checkpoint (pool.STATS_EVERY)
        s = json.loads(stats_json)
        tally += Tally(s["requests"], s["throttled"], s["conflicts"], s["retries"])
        if s["rate_final"] is not None:
            rate_final = s["rate_final"]
        if s["rate_min"] is not None:
            rate_min = s["rate_min"] if rate_min is None else min(rate_min, s["rate_min"])
        if s.get("rate_measured"):
            measured_requests += s["requests"]
            sending_s += s["requests"] / s["rate_measured"]
        if s.get("window_final") is not None:
            window_final = s["window_final"]
        if s.get("window_max") is not None:
            window_max = max(window_max or 0, s["window_max"])
        if s.get("window_mean") is not None:
            window_requests += s["requests"]
            window_sum += s["requests"] * s["window_mean"]
    stats = RunStats.of(
        tally,
        rate_final,
        rate_min,
        rate_measured=measured_requests / sending_s if sending_s else None,
        window_final=window_final,
        window_mean=window_sum / window_requests if window_requests else None,
        window_max=window_max,
    )
    return stats, round(elapsed, 3)
