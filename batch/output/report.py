"""The report files of a run, rendered from its journal (README.md, "The report").

    results.csv    one line per input row, in row order: RESULT_COLUMNS
    results.xlsx   a `Summary` sheet first (what was run, against which tenant and cloud, when,
                   how long, how many rows changed / failed / need action; a chart coloured by
                   status), then `Results`: the same rows plus "City (before)"/"City (after)"
                   for the changed fields; frozen header, filters, status colours, printed
                   landscape one page wide with the header on every page
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
from datetime import datetime
from pathlib import Path
from typing import IO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.chart import BarChart, Reference
from openpyxl.chart.marker import DataPoint
from openpyxl.formatting.rule import CellIsRule
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from batch.core.cells import CLEAR_TOKEN, neutralise, runs_as_formula
from batch.core.errors import ConfigError
from batch.core.export_rows import EXPORT_FIELDS, EXPORT_HEADERS
from batch.core.fields import CUSTOMER_ID, FIELDS, normalise_header
from batch.core.model import Outcome, RunStats, Status
from batch.durable.files import atomic_write, private_dir
from batch.durable.journal import Entry, Journal, RunInfo

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
    Status.CHANGED_SINCE_PLAN: "D9B3FF",
}


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
        book = Workbook(write_only=True)
        _summary_sheet(book, info, counts, not_checked)  # first, so Excel opens on it
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


_BOLD = Font(bold=True)
_HEADER_FILL = _fill("D9E1F2")
_FIELD_HEADERS = dict(zip(EXPORT_FIELDS, EXPORT_HEADERS, strict=True))
# Widths (characters) of the result columns: what they hold, not their header, sets them.
_WIDTHS = {
    "row": 7,
    "customer_id": 38,
    "status": 14,
    "attempts": 10,
    "conflicts": 11,
    "http_status": 12,
    "error_code": 12,
    "message": 60,
    "changed_fields": 32,
    "request_id": 38,
    "correlation_id": 38,
    "duration_ms": 13,
}
_CHANGE_WIDTH = (18, 40)  # a before/after column: at least, at most
_DATE_TIME = "yyyy-mm-dd hh:mm:ss"
_DURATION = "[h]:mm:ss"


def change_headers(field: str) -> tuple[str, str]:
    """The Results sheet's headers for a changed field: `City (before)`, `City (after)`."""
    name = _FIELD_HEADERS.get(field, field)
    return f"{name} (before)", f"{name} (after)"


def _header_row(sheet: WriteOnlyWorksheet, names: list[str]) -> list[WriteOnlyCell]:
    cells = []
    for name in names:
        cell = WriteOnlyCell(sheet, name)
        cell.font = _BOLD
        cell.fill = _HEADER_FILL
        cells.append(cell)
    return cells


def _print_setup(sheet: WriteOnlyWorksheet, landscape: bool) -> None:
    """Printed one page wide (as many pages down as it takes), landscape or portrait."""
    sheet.page_setup.orientation = "landscape" if landscape else "portrait"
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0  # 0: no limit on the number of pages down
    sheet.sheet_properties.pageSetUpPr.fitToPage = True


def _results_sheet(book: Workbook, change_fields: list[str], rows: int) -> WriteOnlyWorksheet:
    sheet: WriteOnlyWorksheet = book.create_sheet("Results")
    headers = [*RESULT_COLUMNS]
    for name in change_fields:
        headers += change_headers(name)
    for i, name in enumerate(headers, start=1):
        least, most = _CHANGE_WIDTH
        width = _WIDTHS.get(name) or min(max(len(name) + 4, least), most)
        sheet.column_dimensions[get_column_letter(i)].width = max(width, len(name) + 4)
    sheet.freeze_panes = "C2"  # the header, and which row and customer, stay in view
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{rows + 1}"
    _print_setup(sheet, landscape=True)
    sheet.print_title_rows = "1:1"  # the header on every printed page
    # Status colours as conditional formats on the column, not a style per cell: as fast for
    # 100,000 rows as for 10 (styling every cell costs openpyxl more than writing it), and
    # the colour follows when someone edits a status.
    column = get_column_letter(RESULT_COLUMNS.index("status") + 1)
    for status, colour in _FILLS.items():
        sheet.conditional_formatting.add(
            f"{column}2:{column}{max(rows, 1) + 1}",
            CellIsRule(operator="equal", formula=[f'"{status.value}"'], fill=_fill(colour)),
        )
    sheet.append(_header_row(sheet, headers))
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


# What each status means, for a reader of the Summary sheet (README.md, "Progress, statuses").
_MEANINGS = {
    Status.UPDATED: "the profile was changed",
    Status.UNCHANGED: "already held the values: nothing sent",
    Status.WOULD_UPDATE: "dry run: would be changed",
    Status.DUPLICATE: "repeats an earlier row: sent once",
    Status.INVALID: "needs action: the row is wrong in the sheet",
    Status.NOT_FOUND: "needs action: no such customer",
    Status.REJECTED: "needs action: Partner Center refused it",
    Status.FAILED: "needs action: no answer after every attempt",
    Status.SKIPPED: "needs action: not attempted (run again with --resume)",
    Status.CHANGED_SINCE_PLAN: "needs action: moved since the plan was made; nothing written",
}
_EXIT_MEANINGS = {
    0: "every row done",
    1: "finished; some rows need action (failed.csv)",
    3: "stopped: credentials refused",
    75: "stopped early (time limit or failure budget); --resume continues",
    130: "interrupted; --resume continues",
}


def _utc(text: str | None) -> datetime | None:
    """A journal time (`2024-05-01T12:00:00.123Z`) as Excel wants it: naive, in UTC."""
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)


def headline(info: RunInfo, counts: Counter[Status]) -> str:
    """One sentence saying how the run went, for the top of the Summary sheet."""
    rows = sum(counts.values())
    need_action = sum(n for status, n in counts.items() if not status.ok)
    if info.options.get("dry_run"):
        done = f"{counts.get(Status.WOULD_UPDATE, 0)} would change (dry run, nothing written)"
    else:
        done = f"{counts.get(Status.UPDATED, 0)} changed"
    failed = counts.get(Status.FAILED, 0)
    action = f"{need_action} need action (failed.csv)" if need_action else "none needs action"
    return f"{rows} rows: {done}, {failed} failed, {action}."


def _window_text(stats: RunStats) -> str:
    """The window's mean and largest size, in words."""
    if stats.window_mean is None:
        return "not measured"
    return f"{stats.window_mean:.1f} on average, {stats.window_max} at most"


def _nightly_text(nightly: object) -> str:
    """What a run did with the job's state (summary.json's `nightly`), in words."""
    if not isinstance(nightly, dict):
        return "not used"
    text = str(nightly.get("mode"))
    if nightly.get("reason"):
        text += f" ({nightly['reason']})"
    if nightly.get("known_unchanged"):
        text += f"; {nightly['known_unchanged']} rows known unchanged from the activity log"
    return text


def _summary_figures(
    info: RunInfo, counts: Counter[Status], not_checked: dict[str, str]
) -> list[tuple[str, object, str]]:
    """(label, value, number format) of every figure on the Summary sheet, in order."""
    options = info.options
    dry = bool(options.get("dry_run"))
    exit_code = info.exit_code
    if exit_code is None:
        outcome = "did not end (the process died): pcbatch run --resume continues it"
    else:
        outcome = f"{exit_code}: {_EXIT_MEANINGS.get(exit_code, 'nothing sent')}"
    changed = Status.WOULD_UPDATE if dry else Status.UPDATED
    stats = info.stats
    return [
        ("Input file", info.input_path, ""),
        ("Tenant", str(options.get("tenant") or "unknown"), ""),
        ("Cloud", str(options.get("cloud") or "global"), ""),
        ("Base URL", str(options.get("base_url") or "the cloud's"), ""),
        ("Dry run", "yes: nothing was written" if dry else "no", ""),
        ("Started (UTC)", _utc(info.started_at), _DATE_TIME),
        ("Finished (UTC)", _utc(info.finished_at) or "not finished", _DATE_TIME),
        ("Working time (h:mm:ss)", info.elapsed_s / 86400, _DURATION),
        ("Rows", sum(counts.values()), "#,##0"),
        ("Rows that would change" if dry else "Rows changed", counts.get(changed, 0), "#,##0"),
        ("Rows failed", counts.get(Status.FAILED, 0), "#,##0"),
        ("Rows that need action", sum(n for s, n in counts.items() if not s.ok), "#,##0"),
        ("Exit code", outcome, ""),
        ("Requests sent", stats.requests, "#,##0"),
        ("Throttled (429 answers)", stats.throttled, "#,##0"),
        ("Conflicts (profile changed meanwhile)", stats.conflicts, "#,##0"),
        ("Retries", stats.retries, "#,##0"),
        ("Rate at the end (requests/s)", _rounded(stats.rate_final), "0.0"),
        ("Lowest rate (requests/s)", _rounded(stats.rate_min), "0.0"),
        ("Requests/s sent (measured)", _rounded(stats.rate_measured), "0.0"),
        ("Customers in flight (window: mean, most)", _window_text(stats), ""),
        ("Nightly run (--state)", _nightly_text(options.get("nightly")), ""),
        (
            "Countries not checked against their rules",
            "; ".join(f"{iso2}: {why}" for iso2, why in not_checked.items()) or "none",
            "",
        ),
    ]


def _summary_sheet(
    book: Workbook, info: RunInfo, counts: Counter[Status], not_checked: dict[str, str]
) -> None:
    sheet: WriteOnlyWorksheet = book.create_sheet("Summary")
    sheet.column_dimensions["A"].width = 38
    sheet.column_dimensions["B"].width = 44
    sheet.column_dimensions["C"].width = 54
    _print_setup(sheet, landscape=False)
    dry = bool(info.options.get("dry_run"))
    title = WriteOnlyCell(
        sheet,
        f"pcbatch {'dry run' if dry else 'run'}: billing profiles from {info.input_path}",
    )
    title.font = Font(bold=True, size=14)
    sheet.append([title])
    head = WriteOnlyCell(sheet, headline(info, counts))
    head.font = Font(bold=True, size=12)
    sheet.append([head])
    sheet.append([])
    left = Alignment(horizontal="left")
    for label, value, number_format in _summary_figures(info, counts, not_checked):
        guarded = xlsx_value(sheet, value) if isinstance(value, str) else value
        cell = guarded if isinstance(guarded, Cell) else WriteOnlyCell(sheet, guarded)
        if number_format and not isinstance(value, str):
            cell.number_format = number_format
        cell.alignment = left
        label_cell = WriteOnlyCell(sheet, label)
        label_cell.font = _BOLD
        sheet.append([label_cell, cell])
    sheet.append([])
    first = (
        3 + len(_summary_figures(info, counts, not_checked)) + 2
    )  # the status table's header row
    sheet.append(_header_row(sheet, ["Status", "Rows", "What it means"]))
    for status in Status:
        label = WriteOnlyCell(sheet, status.value)
        label.fill = _fill(_FILLS[status])
        sheet.append([label, counts.get(status, 0), _MEANINGS[status]])

    chart = BarChart()
    chart.type = "bar"
    chart.title = "Rows by status"
    chart.legend = None
    last = first + len(Status)
    chart.add_data(Reference(sheet, min_col=2, min_row=first, max_row=last), titles_from_data=True)
    chart.set_categories(Reference(sheet, min_col=1, min_row=first + 1, max_row=last))
    series = chart.series[0]
    for index, status in enumerate(Status):  # each bar in its status's colour
        point = DataPoint(idx=index)
        point.graphicalProperties.solidFill = _FILLS[status]
        point.graphicalProperties.line.solidFill = "7F7F7F"
        series.dPt.append(point)
    chart.y_axis.title = "rows"
    chart.x_axis.scaling.orientation = "maxMin"  # statuses top to bottom, as in the table
    chart.height, chart.width = 9, 16  # cm
    sheet.add_chart(chart, f"A{last + 2}")
