"""The log line of a finished row that was never sent: invalid, duplicate, hidden (skipped) or
known unchanged from the activity log (docs/reference/statuses.md: "every finished row is
logged").

The rows the pool sends are logged by the pool with the same message and the same fields
(row, customer_id, status, reason, attempts, http_status, error_code), so that with
`--log-format json` a log shipper gets one object per row of the sheet, whatever became of it.
Only the row number, the customer id as the sheet had it, the status and the reason are
logged: a problem's reason names the column, never the cell's value, so no address or phone
number reaches a log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from batch.core.model import NotSent, Outcome, Status

log = logging.getLogger("batch.rows")


def log_not_sent(rows: Iterable[NotSent]) -> None:
    """One line per row the sheet's validation kept back (a warning, but for a duplicate)."""
    for row in rows:
        _line(row.number, row.customer_id, row.status.value, row.status.ok, row.message, 0)


def log_if_skipped(outcome: Outcome) -> None:
    """A skipped row's line (the pool logs the rows it sent, not the ones it never started):
    at INFO, since the line of the stop or of --limit already says why, so that a person
    watching the progress bar after Ctrl-C is not shown thousands of them."""
    if outcome.status is Status.SKIPPED:
        _line(outcome.row, outcome.customer_id, outcome.status.value, True, outcome.message, 0)


def logging_outcomes(record: Callable[[Outcome], None]) -> Callable[[Outcome], None]:
    """`record`, and a log line for each outcome it records (rows finished without a call)."""

    def record_and_log(outcome: Outcome) -> None:
        record(outcome)
        _line(
            outcome.row,
            outcome.customer_id,
            outcome.status.value,
            outcome.status.ok,
            outcome.message,
            outcome.attempts,
        )

    return record_and_log


def _line(row: int, customer_id: str, status: str, ok: bool, reason: str, attempts: int) -> None:
    level = logging.INFO if ok else logging.WARNING
    if log.isEnabledFor(level):
        log.log(
            level,
            "row %d customer %s: %s",
            row,
            customer_id,
            status,
            extra={
                "row": row,
                "customer_id": customer_id,
                "status": status,
                "reason": reason,
                "attempts": attempts,
                "http_status": None,
                "error_code": None,
            },
        )
