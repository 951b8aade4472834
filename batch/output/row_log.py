"""The log line of every finished row, whatever became of it (docs/reference/statuses.md:
"every finished row is logged"): one message and the same fields (row, customer_id, status,
reason, attempts, http_status, error_code), so that with `--log-format json` a log shipper gets
one object per row of the sheet.

Only the row number, the customer id, the status, the reason and the call's figures are logged:
a problem's reason names the column, never the cell's value, and the suggested addresses of an
address refusal (core/plan.address_refusal) are cut off, so no address or phone number reaches a
log. A skipped row's line is at INFO: the line of the stop or of --limit already says why, so a
person watching the progress bar after Ctrl-C is not shown thousands of warnings.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from batch.core.model import NotSent, Outcome, Status

log = logging.getLogger("batch.rows")


def log_outcome(outcome: Outcome) -> None:
    """The line of a row that has its outcome (the pool's subscriber, and rows known unchanged)."""
    ok = outcome.status.ok or outcome.status is Status.SKIPPED
    reason = outcome.message.split("; suggested: ", 1)[0]
    _line(
        outcome.row,
        outcome.customer_id,
        outcome.status.value,
        ok,
        reason,
        outcome.attempts,
        outcome.http_status,
        outcome.error_code,
    )


def log_not_sent(rows: Iterable[NotSent]) -> None:
    """One line per row the sheet's validation kept back (a warning, but for a duplicate)."""
    for row in rows:
        _line(row.number, row.customer_id, row.status.value, row.status.ok, row.message)


def _line(
    row: int,
    customer_id: str,
    status: str,
    ok: bool,
    reason: str,
    attempts: int = 0,
    http_status: int | None = None,
    error_code: str | None = None,
) -> None:
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
                "http_status": http_status,
                "error_code": error_code,
            },
        )
