"""The report files of a run, rendered from its journal (README.md, "The report").

    results.csv    one line per input row, in row order: RESULT_COLUMNS
    results.xlsx   the same plus before/after of the changed fields; frozen header, filters,
                   status colours; a `Summary` sheet with counts and a bar chart
    summary.json   SUMMARY_KEYS
    failed.csv     rows whose status is not ok: the input's headers and values, then `error`
    undo.csv       updated rows: customer_id and the values the changed fields held before

Rules:
- Rendered from the journal only, so `pcbatch report --out DIR` rebuilds the same files. A row
  with no outcome in the journal (its process died first) is reported `skipped`.
- Each file is written to a temporary name and renamed: a reader never sees half a file.
- Formula injection: a text cell beginning (past any `'`) with `=`, `+`, `-`, `@`, tab or CR,
  full-width or after whitespace too (cells.runs_as_formula), gets a leading `'` in every csv
  (Excel's own escape); in xlsx it is stored as plain text with Excel's quote prefix (the value
  itself unchanged). failed.csv and undo.csv are read back by pcbatch: its loader drops that
  one `'` again (`unneutralise`), so `+1 425 555 0100` survives.
- CSVs are UTF-8 with a byte-order mark, so Excel shows accents right; pcbatch reads it too.
- xlsx is streamed (openpyxl write-only): 100,000 rows do not hold the workbook in memory.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from contextlib import AbstractContextManager
from pathlib import Path
from typing import IO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.chart import BarChart, Reference
from openpyxl.formatting.rule import CellIsRule
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from batch.core.cells import CLEAR_TOKEN, neutralise, runs_as_formula
from batch.core.errors import ConfigError
from batch.core.fields import CUSTOMER_ID, FIELDS, normalise_header
from batch.core.model import Outcome, Status
from batch.files import atomic_write
from batch.journal import Entry, Journal, RunInfo

RESULT_COLUMNS = (
    "row",
    "customer_id",
    "status",
    "attempts",
    "conflicts",
    "http_status",
    "error_code",
    "message",
    "changed_fields",
    "request_id",
    "correlation_id",
    "duration_ms",
)
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
    "rate_measured",
    "concurrency",
    "window_final",
    "window_mean",
    "window_max",
)
FILES = ("results.csv", "results.xlsx", "summary.json", "failed.csv", "undo.csv")
ERROR_COLUMN = "error"
NOT_RECORDED = "not attempted: the run stopped before this row (pcbatch run --resume continues it)"

_XLSX_MAX = 32767  # characters in one Excel cell
_FILLS = {
    Status.UPDATED: "C6EFCE",
    Status.UNCHANGED: "E7E6E6",
    Status.WOULD_UPDATE: "DDEBF7",
    Status.DUPLICATE: "EDEDED",
    Status.INVALID: "F8CBAD",
    Status.NOT_FOUND: "FFEB9C",
    Status.REJECTED: "F4B084",
    Status.FAILED: "FFC7CE",
    Status.SKIPPED: "FFE699",
}


def write_report(out_dir: Path, journal: Journal, run_id: int | None = None) -> Path:
    """Write every report file of a run (default: the journal's current or last) into out_dir.

    Returns out_dir. Reads the journal twice (counts first, then the rows), never all at once.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
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
    total = sum(counts.values())
    with (
        _atomic(out_dir / "results.csv") as results_file,
        _atomic(out_dir / "failed.csv") as failed_file,
        _atomic(out_dir / "undo.csv") as undo_file,
    ):
        results = csv.writer(results_file)
        failed = csv.writer(failed_file)
        undo = csv.writer(undo_file)
        results.writerow(RESULT_COLUMNS)
        failed.writerow([neutralise(h) for h in [*failed_headers, ERROR_COLUMN]])
        undo.writerow([CUSTOMER_ID, *undo_fields])
        book = Workbook(write_only=True)
        sheet = _results_sheet(book, change_fields, total)
        for entry in journal.entries(info.run_id):
            outcome = _outcome_of(entry)
            line = _result_line(entry, outcome)
            results.writerow([neutralise(v) if isinstance(v, str) else v for v in line])
            sheet.append(_xlsx_line(sheet, line, outcome, change_fields))
            if not outcome.status.ok:
                error = (
                    f"{outcome.status}: {outcome.message}" if outcome.message else outcome.status
                )
                values = [entry.raw.get(h, "") for h in failed_headers] + [str(error)]
                failed.writerow([neutralise(v) for v in values])
            if outcome.status is Status.UPDATED and outcome.changes:
                # Always the default token, whatever the run used: `pcbatch run undo.csv`
                # with no --clear-token must clear these fields, not write a custom token in.
                before = {c.field: c.before or CLEAR_TOKEN for c in outcome.changes}
                undo.writerow(
                    [neutralise(outcome.customer_id)]
                    + [neutralise(before.get(f, "")) for f in undo_fields]
                )
        _summary_sheet(book, info, counts)
        _save(book, out_dir / "results.xlsx")

    with _atomic(out_dir / "summary.json", encoding="utf-8") as f:
        json.dump(summary(info, counts), f, indent=2, ensure_ascii=False)
        f.write("\n")


def summary(info: RunInfo, counts: Counter[Status]) -> dict[str, object]:
    """summary.json's content: SUMMARY_KEYS, every status counted (zeros included)."""
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
        "rate_measured": _rounded(info.stats.rate_measured, 2),
        "concurrency": info.options.get("concurrency"),
        "window_final": info.stats.window_final,
        "window_mean": _rounded(info.stats.window_mean, 1),
        "window_max": info.stats.window_max,
    }


def _rounded(value: float | None, digits: int) -> float | None:
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


def xlsx_value(sheet: WriteOnlyWorksheet, value: str | float | None) -> object:
    """A value for a write-only xlsx cell: numbers as numbers, text as text that never runs
    (the report and `pcbatch export` write every cell through it)."""
    if not isinstance(value, str):
        return value
    text = ILLEGAL_CHARACTERS_RE.sub("\N{REPLACEMENT CHARACTER}", value)[:_XLSX_MAX]
    if not runs_as_formula(text):
        return text or None
    # openpyxl would store `=...` as a formula: force a text cell with Excel's quote prefix,
    # which is what typing `'=...` in Excel produces; the value stays exact.
    cell = WriteOnlyCell(sheet, text)
    cell.data_type = "s"
    cell.quotePrefix = True
    return cell


def _fill(colour: str) -> PatternFill:
    return PatternFill(fill_type="solid", start_color=colour, end_color=colour)


def _results_sheet(book: Workbook, change_fields: list[str], rows: int) -> WriteOnlyWorksheet:
    sheet: WriteOnlyWorksheet = book.create_sheet("Results")
    headers = [*RESULT_COLUMNS]
    for name in change_fields:
        headers += [f"{name} before", f"{name} after"]
    widths = {"customer_id": 38, "message": 50, "request_id": 38, "correlation_id": 38}
    for i, name in enumerate(headers, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = widths.get(name, 16)
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{rows + 1}"
    # Status colours as conditional formats on the column, not a style per cell: as fast for
    # 100,000 rows as for 10 (styling every cell costs openpyxl more than writing it), and
    # the colour follows when someone edits a status.
    column = get_column_letter(RESULT_COLUMNS.index("status") + 1)
    for status, colour in _FILLS.items():
        sheet.conditional_formatting.add(
            f"{column}2:{column}{max(rows, 1) + 1}",
            CellIsRule(operator="equal", formula=[f'"{status.value}"'], fill=_fill(colour)),
        )
    bold = Font(bold=True)
    header_cells = []
    for name in headers:
        cell = WriteOnlyCell(sheet, name)
        cell.font = bold
        header_cells.append(cell)
    sheet.append(header_cells)
    return sheet


def _xlsx_line(
    sheet: WriteOnlyWorksheet, line: list[str | int], o: Outcome, change_fields: list[str]
) -> list[object]:
    values = [xlsx_value(sheet, v) for v in line]
    changes = {c.field: c for c in o.changes}
    for name in change_fields:
        c = changes.get(name)
        values += [xlsx_value(sheet, c.before), xlsx_value(sheet, c.after)] if c else [None, None]
    return values


def _summary_sheet(book: Workbook, info: RunInfo, counts: Counter[Status]) -> None:
    sheet: WriteOnlyWorksheet = book.create_sheet("Summary")
    sheet.column_dimensions["A"].width = 16
    sheet.column_dimensions["B"].width = 28
    bold = Font(bold=True)
    heads = [WriteOnlyCell(sheet, "status"), WriteOnlyCell(sheet, "rows")]
    for cell in heads:
        cell.font = bold
    sheet.append(heads)
    for status in Status:
        label = WriteOnlyCell(sheet, status.value)
        label.fill = _fill(_FILLS[status])
        sheet.append([label, counts.get(status, 0)])
    sheet.append([])
    for key, value in summary(info, counts).items():
        if key != "statuses":
            sheet.append([xlsx_value(sheet, key), xlsx_value(sheet, value)])  # type: ignore[arg-type]

    chart = BarChart()
    chart.type = "bar"
    chart.title = "Rows by status"
    chart.legend = None
    last = 1 + len(Status)
    chart.add_data(Reference(sheet, min_col=2, min_row=1, max_row=last), titles_from_data=True)
    chart.set_categories(Reference(sheet, min_col=1, min_row=2, max_row=last))
    chart.height, chart.width = 8, 16  # cm
    sheet.add_chart(chart, "D2")
