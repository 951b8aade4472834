"""The report files of a run, rendered from its journal (README.md, "The report").

    results.csv    one line per input row, in row order: RESULT_COLUMNS
    results.xlsx   `Summary` first (what was run, against which tenant and cloud, when, how
                   long, how many rows changed / failed / need action; a chart coloured by
                   status; report_summary.py), `Needs action` (the rows to look at, why and
                   what to do), `Results` (the same rows as results.csv plus "City (before)"/
                   "City (after)" for the changed fields; report_xlsx.py), and `Countries not
                   checked` when some were; each prints on A4 and Letter (report_xlsx.py)
    summary.json   SUMMARY_KEYS
    failed.csv     rows whose status is not ok: the input's headers and values, then `error`
    undo-<run>.csv updated rows: customer_id and the values the changed fields held before;
                   one per run of the journal (undo-1.csv, undo-2.csv, ...), never replaced by
                   another run's
    undo.csv       the same as the last run's undo-<run>.csv

Rules:
- Rendered from the journal only, so `pcbatch report --out DIR` rebuilds the same files. A row
  with no outcome in the journal (its process died first) is reported `skipped`.
- Each file is written to a temporary name and renamed: a reader never sees half a file. Every
  file is 0600 in a 0700 --out (files.private_dir): the report holds customers' data.
- Formula injection: a text cell beginning (past any `'`) with `=`, `+`, `-`, `@`, tab or CR,
  full-width or after whitespace too (cells.runs_as_formula), gets a leading `'` in every csv
  (Excel's own escape); in xlsx it is stored as plain text with Excel's quote prefix (the value
  itself unchanged). failed.csv and undo.csv are read back by pcbatch: its loader drops that
  one `'` again (`unneutralise`), so `+1 425 555 0100` survives.
- CSVs are UTF-8 with a byte-order mark, so Excel shows accents right; pcbatch reads it too.
- xlsx is streamed (openpyxl write-only): 100,000 rows do not hold the workbook in memory.
  openpyxl's write-only sheets take freeze panes, filters, column widths, page setup and print
  titles before the first row, which is all the report needs, so no second xlsx library.
  Column widths come from the headers and what each column holds (a streamed sheet cannot
  measure its cells afterwards).
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import IO

from openpyxl import Workbook

from batch.core.cells import CLEAR_TOKEN, neutralise
from batch.core.errors import ConfigError
from batch.core.fields import CUSTOMER_ID, FIELDS, normalise_header
from batch.core.model import Outcome, Status
from batch.durable.files import atomic_write, check_target, private_dir
from batch.durable.journal import Entry, Journal, RunInfo
from batch.output.report_summary import countries_sheet, summary_sheet
from batch.output.report_xlsx import (
    RESULT_COLUMNS,
    needs_action_line,
    needs_action_sheet,
    results_line,
    results_sheet,
    xlsx_value,
)

__all__ = ["FILES", "NOT_RECORDED", "RESULT_COLUMNS", "SUMMARY_KEYS", "write_report", "xlsx_value"]

SUMMARY_KEYS = (
    "rows",
    "statuses",
    "requests",
    "throttled",
    "conflicts",
    "retries",
    "elapsed_s",
    "dry_run",
    "exit_code",
    "input",
    "started_at",
    "finished_at",
    "rate_final",
    "rate_min",
    "countries_not_checked",
    "nightly",
    "cleaned_cells",
    "rate_measured",
    "concurrency",
    "window_final",
    "window_mean",
    "window_max",
)
FILES = ("results.csv", "results.xlsx", "summary.json", "failed.csv", "undo.csv")
ERROR_COLUMN = "error"
NOT_RECORDED = "not attempted: the run stopped before this row (pcbatch run --resume continues it)"


def write_report(out_dir: Path, journal: Journal, run_id: int | None = None) -> Path:
    """Write every report file of a run (default: the journal's current or last) into out_dir.

    Returns out_dir. Reads the journal twice (counts first, then the rows), never all at once.
    """
    out_dir = Path(out_dir)
    private_dir(out_dir)
    info = journal.run_info(run_id) if run_id is not None else _last(journal)

    with journal.snapshot():  # both passes see the same journal, even while a run writes
        _write(out_dir, journal, info)
    return out_dir


def _write(out_dir: Path, journal: Journal, info: RunInfo) -> None:
    counts = Counter(journal.counts(info.run_id))
    by_status = journal.changed_fields(info.run_id)
    # Fields changed (or to change) by any row: xlsx columns; by updated rows: undo.csv columns.
    changed: set[str] = set().union(*by_status.values())
    undone = by_status.get(Status.UPDATED, set())
    change_fields = [f.name for f in FIELDS if f.name in changed]
    undo_fields = [f.name for f in FIELDS if f.name in undone]
    # Fields the model does not know (none today) still get columns, after the known ones.
    change_fields += sorted(changed - set(change_fields))
    undo_fields += sorted(undone - set(undo_fields))

    failed_headers = [h for h in info.headers if normalise_header(h) != ERROR_COLUMN]
    not_checked = {
        iso2: answer.why_not or ""
        for iso2, answer in journal.country_rules(info.run_id).items()
        if answer.rules is None
    }
    total = sum(counts.values())
    last = journal.last_run()
    is_last = last is not None and last.run_id == info.run_id
    with (
        _atomic(out_dir / "results.csv") as results_file,
        _atomic(out_dir / "failed.csv") as failed_file,
        _atomic(out_dir / undo_name(info.run_id)) as undo_file,
        _atomic(out_dir / "undo.csv") if is_last else nullcontext() as latest_undo_file,
    ):
        results = csv.writer(results_file)
        failed = csv.writer(failed_file)
        # The run's own undo file, and undo.csv too when it is the journal's last run.
        undo_files = [undo_file] if latest_undo_file is None else [undo_file, latest_undo_file]
        undos = [csv.writer(file) for file in undo_files]
        results.writerow(RESULT_COLUMNS)
        failed.writerow([neutralise(h) for h in [*failed_headers, ERROR_COLUMN]])
        for undo in undos:
            undo.writerow([CUSTOMER_ID, *undo_fields])
        check_target(out_dir / "results.xlsx")  # refused before its streamed sheets are begun
        book = Workbook(write_only=True)
        summary_sheet(book, info, counts, not_checked)  # first, so Excel opens on it
        need_action = sum(n for status, n in counts.items() if not status.ok)
        to_look_at = needs_action_sheet(book, need_action)
        sheet = results_sheet(book, change_fields, total)
        if not_checked:
            countries_sheet(book, not_checked)
        for entry in journal.entries(info.run_id):
            outcome = _outcome_of(entry)
            line = _result_line(entry, outcome)
            results.writerow([neutralise(v) if isinstance(v, str) else v for v in line])
            sheet.append(results_line(sheet, line, outcome, change_fields))
            if not outcome.status.ok:
                to_look_at.append(needs_action_line(to_look_at.sheet, outcome, str(line[1])))
                error = (
                    f"{outcome.status}: {outcome.message}" if outcome.message else outcome.status
                )
                values = [entry.raw.get(h, "") for h in failed_headers] + [str(error)]
                failed.writerow([neutralise(v) for v in values])
            if outcome.status is Status.UPDATED and outcome.changes:
                # Always the default token, whatever the run used: `pcbatch run undo.csv`
                # with no --clear-token must clear these fields, not write a custom token in.
                before = {c.field: c.before or CLEAR_TOKEN for c in outcome.changes}
                line = [neutralise(outcome.customer_id)]
                line += [neutralise(before.get(f, "")) for f in undo_fields]
                for undo in undos:
                    undo.writerow(line)
        _save(book, out_dir / "results.xlsx")

    with _atomic(out_dir / "summary.json", encoding="utf-8") as f:
        json.dump(summary(info, counts, not_checked), f, indent=2, ensure_ascii=False)
        f.write("\n")


def undo_name(run_id: int) -> str:
    """The undo file of one run: `undo-<run>.csv` (undo.csv is a copy of the last run's)."""
    return f"undo-{run_id}.csv"


def summary(
    info: RunInfo, counts: Counter[Status], not_checked: dict[str, str] | None = None
) -> dict[str, object]:
    """summary.json's content: SUMMARY_KEYS, every status counted (zeros included).

    not_checked: country -> why its rows' addresses were not checked against its rules (the
    service alone checked them).
    """
    return {
        "rows": sum(counts.values()),
        "statuses": {s.value: counts.get(s, 0) for s in Status},
        "requests": info.stats.requests,
        "throttled": info.stats.throttled,
        "conflicts": info.stats.conflicts,
        "retries": info.stats.retries,
        "elapsed_s": info.elapsed_s,
        "dry_run": bool(info.options.get("dry_run", False)),
        "exit_code": info.exit_code,
        "input": info.input_path,
        "started_at": info.started_at,
        "finished_at": info.finished_at,
        "rate_final": info.stats.rate_final,
        "rate_min": info.stats.rate_min,
        "countries_not_checked": dict(not_checked or {}),
        "nightly": info.options.get("nightly"),
        "cleaned_cells": info.options.get("cleaned_cells") or [],
        "rate_measured": _rounded(info.stats.rate_measured, 2),
        "concurrency": info.options.get("concurrency"),
        "window_final": info.stats.window_final,
        "window_mean": _rounded(info.stats.window_mean, 1),
        "window_max": info.stats.window_max,
    }


def _rounded(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def _last(journal: Journal) -> RunInfo:
    run_id = journal.run_id
    info = journal.run_info(run_id) if run_id is not None else journal.last_run()
    if info is None:
        raise ConfigError(f"the journal {journal.path} holds no run yet: nothing to report")
    return info


def _outcome_of(entry: Entry) -> Outcome:
    if entry.outcome is not None:
        return entry.outcome
    return Outcome(entry.row, entry.customer_id, Status.SKIPPED, message=NOT_RECORDED)


def _result_line(entry: Entry, o: Outcome) -> list[str | int]:
    # Rows not sent show the id as the sheet had it (it may not be a GUID at all).
    customer_id = o.customer_id if entry.kind == "valid" else entry.customer_id
    return [
        o.row,
        customer_id,
        o.status.value,
        o.attempts,
        o.conflicts,
        "" if o.http_status is None else o.http_status,
        o.error_code or "",
        o.message,
        o.changed_fields,
        o.request_id or "",
        o.correlation_id or "",
        o.duration_ms,
    ]


def _atomic(path: Path, encoding: str = "utf-8-sig") -> AbstractContextManager[IO[str]]:
    """A csv (or json) file written whole or not at all; newlines left to the csv module."""
    return atomic_write(path, encoding=encoding, newline="")


def _save(book: Workbook, path: Path) -> None:
    with atomic_write(path, binary=True) as file:
        book.save(file)
