"""Values passed between the stages of a run: frozen, slotted, free of pandas and I/O.

Sheet -> Row | NotSent -> (update) -> Outcome (+ Tally) -> journal -> report.

Field names are pcbatch's own (`customer_id`, `address_line1`, ...; see fields.py). In a Row,
`values` maps a field to its new text, or to None when the cell held the clear token.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Literal


class Status(StrEnum):
    """What happened to one reported row (README.md, "Progress, statuses and exit codes")."""

    UPDATED = "updated"
    UNCHANGED = "unchanged"
    WOULD_UPDATE = "would_update"
    DUPLICATE = "duplicate"
    INVALID = "invalid"
    NOT_FOUND = "not_found"
    REJECTED = "rejected"
    FAILED = "failed"
    SKIPPED = "skipped"
    CHANGED_SINCE_PLAN = "changed_since_plan"

    @property
    def ok(self) -> bool:
        """True for the statuses that leave the exit code at 0 and stay out of failed.csv."""
        return self in _OK


_OK = frozenset({Status.UPDATED, Status.UNCHANGED, Status.WOULD_UPDATE, Status.DUPLICATE})


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason a row is invalid: where (row, column as the sheet names it), what, and why."""

    row: int
    column: str
    value: str
    reason: str


@dataclass(frozen=True, slots=True)
class Row:
    """A valid row, ready to be planned against the customer's current profile.

    number: the spreadsheet's row number (first data row is 2).
    customer_id: canonical lower-case GUID; the only form that ever reaches a URL.
    values: field -> new text, or None to clear the field (non-blank cells only).
    raw: the input's own header -> cell text as loaded, for failed.csv.
    """

    number: int
    customer_id: str
    values: Mapping[str, str | None]
    raw: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class NotSent:
    """A row that is not sent: `invalid` (with problems), `duplicate` of an earlier row, or
    `skipped` because it is hidden in the sheet.

    customer_id is as the sheet had it (it may not be a GUID at all).
    """

    number: int
    customer_id: str
    status: Literal[Status.INVALID, Status.DUPLICATE, Status.SKIPPED]
    problems: tuple[Problem, ...]
    raw: Mapping[str, str]

    @property
    def message(self) -> str:
        """The problems as one line for the report."""
        return "; ".join(f"{p.column}: {p.reason}" for p in self.problems)


@dataclass(frozen=True, slots=True)
class Sheet:
    """A loaded and validated input file.

    headers: the input's own header row, in order (failed.csv writes them back).
    columns: field -> header it was read from.
    unknown_headers: headers that map to no field (kept in failed.csv, warned about once).
    rows: the valid rows, in row order; not_sent: invalid, duplicate and hidden rows, in order.
    header_row: the row holding the headers (title rows above it are passed over).
    cleaned: the cells whose invisible characters were removed (row, column, value, what).
    notes: what the person should know about how it was read (a hidden sheet read because
    --sheet names it, hidden sheets passed over); warned about once.
    """

    path: str
    format: Literal["csv", "xlsx", "ods", "xls"]
    sheet_name: str | None
    headers: tuple[str, ...]
    columns: Mapping[str, str]
    unknown_headers: tuple[str, ...]
    rows: tuple[Row, ...]
    not_sent: tuple[NotSent, ...]
    header_row: int = 1
    cleaned: tuple[Problem, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Change:
    """One field the update changed (or, in a dry run, would change)."""

    field: str
    before: str | None
    after: str | None


@dataclass(frozen=True, slots=True)
class KnownProfile:
    """A customer's billing profile as an earlier answer carried it, with its etag: an update
    may PUT onto it with If-Match instead of reading it first (a stale etag is a 412 and the
    profile is read again; incremental.py, update.py).

    planned: the changes a reviewed plan approved (`pcbatch apply`, core/reviewed.py), None
    otherwise: every read of the profile then checks that each planned field still holds its
    planned `before` (or already its `after`); one that moved ends the row
    `changed_since_plan`, nothing written (customer_update.py).
    """

    body: Mapping[str, object]
    etag: str
    planned: tuple[Change, ...] | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one reported row; the journal stores it and the report renders it.

    etag: the profile's etag in the last successful answer for the customer (the journal keeps
    it for the record; None when no call succeeded).
    profile: the billing profile that answer carried (the job's state keeps it for
    --incremental, incremental.py; the journal does not; None when no call succeeded).
    retry_on_resume: True for the one `rejected` row whose call found the run's credentials
    refused: that says nothing about the row, so --resume sends it again.
    """

    row: int
    customer_id: str
    status: Status
    attempts: int = 0
    conflicts: int = 0
    http_status: int | None = None
    error_code: str | None = None
    message: str = ""
    changes: tuple[Change, ...] = ()
    request_id: str | None = None
    correlation_id: str | None = None
    duration_ms: int = 0
    etag: str | None = None
    retry_on_resume: bool = False
    profile: Mapping[str, object] | None = field(default=None, compare=False, repr=False)

    @property
    def changed_fields(self) -> str:
        """Field names, `;`-separated, as results.csv writes them."""
        return ";".join(c.field for c in self.changes)


@dataclass(frozen=True, slots=True)
class Tally:
    """What HTTP calls did, counted for summary.json; tallies add up with `+`.

    requests: tries sent (retries included); throttled: 429 answers; conflicts: stale-etag
    answers (412, or 400 with code 2055); retries: tries followed by another try of the same
    call (after a wait, or after renewing the token).
    """

    requests: int = 0
    throttled: int = 0
    conflicts: int = 0
    retries: int = 0

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            self.requests + other.requests,
            self.throttled + other.throttled,
            self.conflicts + other.conflicts,
            self.retries + other.retries,
        )


@dataclass(frozen=True, slots=True)
class RunStats:
    """A session's or a run's figures for summary.json: its calls' Tally, the adaptive rate, the
    rate measured and the window of customers in flight.

    rate_final: requests/s in use at the end; rate_min: the lowest it went (None: not known).
    rate_measured: requests/s sent, from the first request to the last answer.
    window_final: customers allowed in flight at the end; window_mean: on average over the
    requests sent; window_max: the most.
    """

    requests: int = 0
    throttled: int = 0
    conflicts: int = 0
    retries: int = 0
    rate_final: float | None = None
    rate_min: float | None = None
    rate_measured: float | None = None
    window_final: int | None = None
    window_mean: float | None = None
    window_max: int | None = None

    @classmethod
    def of(
        cls,
        tally: Tally,
        rate_final: float | None,
        rate_min: float | None,
        *,
        rate_measured: float | None = None,
        window_final: int | None = None,
        window_mean: float | None = None,
        window_max: int | None = None,
    ) -> RunStats:
        """The figures of a tally, the rates and the window."""
        return cls(
            tally.requests,
            tally.throttled,
            tally.conflicts,
            tally.retries,
            rate_final,
            rate_min,
            rate_measured,
            window_final,
            window_mean,
            window_max,
        )

    def plus(self, tally: Tally) -> RunStats:
        """These figures with the calls of `tally` added (the pre-flight read's)."""
        return replace(
            self,
            requests=self.requests + tally.requests,
            throttled=self.throttled + tally.throttled,
            conflicts=self.conflicts + tally.conflicts,
            retries=self.retries + tally.retries,
        )


@dataclass(frozen=True, slots=True)
class RunInfo:
    """One run as the journal knows it, with its sessions' counters added together.

    finished_at/exit_code are None while the run is going on, or when its process died.
    elapsed_s: the sessions' working time added (a session that died counts until its last
    recorded outcome). stats.rate_final is the last session's, stats.rate_min the lowest.
    """

    run_id: int
    input_path: str
    input_sha256: str
    format: str
    sheet_name: str | None
    headers: tuple[str, ...]
    columns: Mapping[str, str]
    unknown_headers: tuple[str, ...]
    options: Mapping[str, object]
    started_at: str
    finished_at: str | None
    exit_code: int | None
    sessions: int
    rows: int
    stats: RunStats
    elapsed_s: float


@dataclass(frozen=True, slots=True)
class Entry:
    """One input row of a run with its latest outcome (None: never recorded)."""

    row: int
    customer_id: str
    kind: str  # valid | invalid | duplicate
    raw: Mapping[str, str]
    outcome: Outcome | None
