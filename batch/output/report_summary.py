"""results.xlsx's Summary sheet (what was run and how it went, for a manager; one printed
page, portrait) and, when some country's rules could not be checked, its own sheet listing
them (a list that long would shrink the Summary's page).

Layout: A the label (or a status), B its value (or what the status means), C the status's
row count: a number never sits next to a text it could be read into ("8the profile was
changed"); every text cell wraps inside its column. Widths sum to PRINTABLE's portrait width.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.chart import BarChart, Reference
from openpyxl.chart.marker import DataPoint
from openpyxl.styles import Alignment, Font
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from batch.core.model import RunStats, Status
from batch.durable.journal import RunInfo
from batch.output.report_xlsx import (
    BOLD,
    FILLS,
    Lines,
    fill,
    header_row,
    print_setup,
    set_widths,
    text_cell,
    xlsx_value,
)

COUNTRIES_SHEET = "Countries not checked"
SUMMARY_WIDTHS = [34, 50, 8]  # label or status; value or meaning; rows
_CHART_ROWS = 8  # rows of the sheet the chart covers (4 cm at 15 pt a row)
_DATE_TIME = "yyyy-mm-dd hh:mm:ss"
_DURATION = "[h]:mm:ss"

# What each status means, for a reader of the Summary sheet (docs/reference/statuses.md).
MEANINGS = {
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


def _rounded(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


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


def _countries_text(not_checked: dict[str, str]) -> str:
    if not not_checked:
        return "none"
    return f"{len(not_checked)} countries: see the sheet “{COUNTRIES_SHEET}”"


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
        ("Conflicts (changed meanwhile)", stats.conflicts, "#,##0"),
        ("Retries", stats.retries, "#,##0"),
        ("Rate at the end (requests/s)", _rounded(stats.rate_final), "0.0"),
        ("Lowest rate (requests/s)", _rounded(stats.rate_min), "0.0"),
        ("Requests/s sent (measured)", _rounded(stats.rate_measured), "0.0"),
        ("Customers in flight (mean, most)", _window_text(stats), ""),
        ("Nightly run (--state)", _nightly_text(options.get("nightly")), ""),
        ("Countries not checked (rules)", _countries_text(not_checked), ""),
    ]


_LEFT_WRAPPED = Alignment(horizontal="left", vertical="top", wrap_text=True)
_TOP_WRAPPED = Alignment(vertical="top", wrap_text=True)


def summary_sheet(
    book: Workbook, info: RunInfo, counts: Counter[Status], not_checked: dict[str, str]
) -> None:
    """The Summary sheet: title, headline, the figures, every status counted and charted."""
    sheet: WriteOnlyWorksheet = book.create_sheet("Summary")
    set_widths(sheet, SUMMARY_WIDTHS)
    dry = bool(info.options.get("dry_run"))
    title = f"pcbatch {'dry run' if dry else 'run'}: billing profiles from {info.input_path}"
    figures = _summary_figures(info, counts, not_checked)
    # title, headline, figures, a blank line, the status table, a line, the chart
    last_line = 2 + len(figures) + 1 + 1 + len(Status) + 1 + _CHART_ROWS
    # Before the first line: a streamed sheet writes its page properties ahead of its rows.
    print_setup(sheet, SUMMARY_WIDTHS, last_line, "portrait", one_page=True)
    lines = Lines(sheet, SUMMARY_WIDTHS)
    for text, size in ((title, 14), (headline(info, counts), 12)):
        cell = text_cell(sheet, text, _TOP_WRAPPED)
        cell.font = Font(name="Calibri", bold=True, size=size)
        # merged across the page: the width of the three columns, at this font's size
        lines.append([cell], [sum(SUMMARY_WIDTHS) * 11 / size], line_pt=size * 1.35)
    sheet.merged_cells.add("A1:C1")  # a long input path wraps inside the page
    sheet.merged_cells.add("A2:C2")
    for label, value, number_format in figures:
        cell = text_cell(sheet, value, _LEFT_WRAPPED)
        if number_format and not isinstance(value, str):
            cell.number_format = number_format
        label_cell = WriteOnlyCell(sheet, label)
        label_cell.font, label_cell.alignment = BOLD, _TOP_WRAPPED
        lines.append([label_cell, cell])
    lines.append([])
    first = lines.count + 1  # the status table's header row
    lines.append(header_row(sheet, ["Status", "What it means", "Rows"]))
    for status in Status:
        label = WriteOnlyCell(sheet, status.value)
        label.fill = fill(FILLS.get(status, "FFFFFF"))
        count = WriteOnlyCell(sheet, counts.get(status, 0))
        count.number_format = "#,##0"
        lines.append([label, MEANINGS.get(status, ""), count])
    last = first + len(Status)
    _chart(sheet, first, last)


def _chart(sheet: WriteOnlyWorksheet, first: int, last: int) -> None:
    """A bar for each status (the table's rows first..last), in its colour, under the table."""
    chart = BarChart()
    chart.type = "bar"
    chart.title = "Rows by status"
    chart.legend = None
    chart.add_data(Reference(sheet, min_col=3, min_row=first, max_row=last), titles_from_data=True)
    chart.set_categories(Reference(sheet, min_col=1, min_row=first + 1, max_row=last))
    series = chart.series[0]
    for index, status in enumerate(Status):  # each bar in its status's colour
        point = DataPoint(idx=index)
        point.graphicalProperties.solidFill = FILLS.get(status, "FFFFFF")
        point.graphicalProperties.line.solidFill = "7F7F7F"
        series.dPt.append(point)
    chart.y_axis.title = "rows"
    chart.x_axis.scaling.orientation = "maxMin"  # statuses top to bottom, as in the table
    chart.height, chart.width = 4, 16  # cm: within the page's width and _CHART_ROWS
    sheet.add_chart(chart, f"A{last + 2}")


def countries_sheet(book: Workbook, not_checked: dict[str, str]) -> None:
    """Every country whose rows' addresses pcbatch could not check against its rules, and why
    (the service alone checked them)."""
    sheet: WriteOnlyWorksheet = book.create_sheet(COUNTRIES_SHEET)
    widths = [10, 80]
    set_widths(sheet, widths)
    print_setup(sheet, widths, len(not_checked) + 1, "portrait")
    lines = Lines(sheet, widths)
    lines.append(header_row(sheet, ["Country", "Why its rules were not checked"]))
    for iso2, why in not_checked.items():
        lines.append([xlsx_value(sheet, iso2), text_cell(sheet, why, _TOP_WRAPPED)])
