"""results.xlsx's row sheets and what every sheet of it shares: cells, colours, print setup.

    Needs action   the rows someone must look at (every status that is not ok: invalid,
                   not_found, rejected, failed, skipped), with the columns that say why and
                   what to do; printed landscape, one page wide (about 90 %)
    Results        every row: RESULT_COLUMNS, then "City (before)"/"City (after)" for the
                   changed fields; frozen header, filters, status colours; printed landscape
                   at READABLE_SCALE, pages across then down, the header row and the key
                   columns (row, customer_id, status) repeated on every page

Rules of the print setup (docs/reference/report.md, "Printing results.xlsx"):
- No paper size is written: the printer's own (A4 or Letter) is used, and every layout is
  measured against the printable area both share (PRINTABLE), the narrower width (A4's) and
  the shorter height (Letter's).
- Fit to one page wide only where that keeps at least READABLE_SCALE; a sheet too wide for
  that (Results: ~2,000 px of columns) prints at READABLE_SCALE across several pages, its key
  columns repeated (print titles), so that no text shrinks to 2.6 pt.
- Every sheet has a print area of exactly its cells (no blank page past them) and a footer
  naming the sheet and the page.
- A streamed sheet cannot measure its cells afterwards: widths come from what each column
  holds, and long text wraps (Needs action) or has its own sheet (Summary's countries).
"""

from __future__ import annotations

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.formatting.rule import CellIsRule
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from batch.core.cells import runs_as_formula
from batch.core.export_rows import EXPORT_FIELDS, EXPORT_HEADERS
from batch.core.model import Outcome, Status

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
NEEDS_ACTION_COLUMNS = ("row", "customer_id", "status", "error_code", "message", "what to do")
KEY_COLUMNS = "A:C"  # row, customer_id, status: repeated on every printed page of Results
READABLE_SCALE = 75  # per cent: Calibri 11 prints at 8.25 pt, still read without a lens

# Inches. A4 is 8.27 x 11.69, Letter 8.5 x 11: a layout within the narrower width and the
# shorter height prints on both.
MARGINS = {"left": 0.5, "right": 0.5, "top": 0.5, "bottom": 0.5, "header": 0.25, "footer": 0.25}
PRINTABLE = {"portrait": (8.27 - 1.0, 11.0 - 1.0), "landscape": (11.0 - 1.0, 8.27 - 1.0)}

_XLSX_MAX = 32767  # characters in one Excel cell
FILLS = {
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
# What to do about a row of each status that is not ok (docs/reference/statuses.md).
NEXT_STEPS = {
    Status.INVALID: "fix the cell the message names, then run failed.csv",
    Status.NOT_FOUND: "check the customer id: is it a customer of this tenant?",
    Status.REJECTED: "fix the value Partner Center refused, then run failed.csv",
    Status.FAILED: "run failed.csv again later: no answer after every attempt",
    Status.SKIPPED: "not attempted: run again with --resume",
    Status.CHANGED_SINCE_PLAN: "moved since the plan: review it, plan again for those rows",
}
BOLD = Font(name="Calibri", size=11, bold=True)  # named: without, LibreOffice picks a serif
WRAP = Alignment(wrap_text=True)
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
    "what to do": 34,
}
_NEEDS_ACTION_WIDTHS = {"status": 12, "message": 50}  # narrower: they wrap there
_CHANGE_WIDTH = (18, 40)  # a before/after column: at least, at most


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


def text_cell(
    sheet: WriteOnlyWorksheet, value: str | float | None, alignment: Alignment | None = None
) -> Cell:
    """xlsx_value's value as a cell, to be styled (aligned here)."""
    value = xlsx_value(sheet, value)
    cell = value if isinstance(value, Cell) else WriteOnlyCell(sheet, value)
    if alignment is not None:
        cell.alignment = alignment
    return cell


def fill(colour: str) -> PatternFill:
    return PatternFill(fill_type="solid", start_color=colour, end_color=colour)


_HEADER_FILL = fill("D9E1F2")


def wrapped_lines(value: object, width: float) -> int:
    """The lines a cell takes in a column of `width` characters: text that wraps takes one per
    ~1.1 width of characters (Calibri's letters are narrower than the digit a width counts)."""
    if not isinstance(value, Cell) or not value.alignment.wrap_text:
        return 1
    if not isinstance(value.value, str):
        return 1
    per_line = max(int(width * 1.1), 1)
    return sum(max(-(-len(part) // per_line), 1) for part in value.value.split("\n"))


class Lines:
    """Appends lines to a streamed sheet, each as tall as its wrapped text: a streamed sheet
    cannot be measured afterwards, and LibreOffice keeps a row's height as the file says.

    widths: the sheet's column widths (characters); count: the lines appended so far.
    """

    def __init__(self, sheet: WriteOnlyWorksheet, widths: list[float]) -> None:
        self.sheet = sheet
        self.widths = widths
        self.count = 0

    def append(
        self, values: list[object], widths: list[float] | None = None, line_pt: float = 15.0
    ) -> None:
        """One line; widths: of its cells when they span columns (a merged title)."""
        self.count += 1
        spans = widths or self.widths
        lines = max((wrapped_lines(v, w) for v, w in zip(values, spans, strict=False)), default=1)
        dimensions = self.sheet.row_dimensions
        if lines > 1 or line_pt != 15.0:
            dimensions[self.count].height = line_pt * lines
        self.sheet.append(values)
        dimensions.pop(self.count, None)  # written: 100,000 lines hold no heights in memory


def column_inches(width: float) -> float:
    """A column's printed width at 100 %: Excel's pixels for `width` characters of the default
    font (7 px a character and 5 px of padding, Calibri 11), at 96 px an inch."""
    return (width * 7 + 5) / 96


def change_headers(field: str) -> tuple[str, str]:
    """The Results sheet's headers for a changed field: `City (before)`, `City (after)`."""
    name = _FIELD_HEADERS.get(field, field)
    return f"{name} (before)", f"{name} (after)"


def header_row(sheet: WriteOnlyWorksheet, names: list[str]) -> list[WriteOnlyCell]:
    cells = []
    for name in names:
        cell = WriteOnlyCell(sheet, name)
        cell.font = BOLD
        cell.fill = _HEADER_FILL
        cells.append(cell)
    return cells


def set_widths(sheet: WriteOnlyWorksheet, widths: list[float]) -> None:
    for i, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = width


def print_setup(
    sheet: WriteOnlyWorksheet,
    widths: list[float],
    last_row: int,
    orientation: str,
    *,
    one_page: bool = False,
) -> None:
    """Print the sheet's cells A1 to its last column and last_row on the printer's paper.
    Call it before the sheet's first line: a streamed sheet writes its page properties first.

    Fit to one page wide when that keeps READABLE_SCALE (one_page: and one page tall, for the
    Summary); else READABLE_SCALE, pages across then down, the header row and KEY_COLUMNS on
    every page.
    """
    setup = sheet.page_setup
    setup.orientation = orientation
    for side, inches in MARGINS.items():
        setattr(sheet.page_margins, side, inches)
    sheet.print_area = f"A1:{get_column_letter(len(widths))}{max(last_row, 1)}"
    sheet.oddFooter.center.text = "&A, page &P of &N"  # the sheet's name, the page
    page_width = PRINTABLE[orientation][0]
    if sum(column_inches(w) for w in widths) * READABLE_SCALE / 100 <= page_width:
        setup.fitToWidth = 1
        setup.fitToHeight = 1 if one_page else 0  # 0: as many pages down as it takes
        sheet.sheet_properties.pageSetUpPr.fitToPage = True
    else:
        setup.scale = READABLE_SCALE
        setup.pageOrder = "overThenDown"  # a row's pages follow each other
        sheet.print_title_cols = KEY_COLUMNS
    sheet.print_title_rows = "1:1"  # the header on every printed page


def status_colours(sheet: WriteOnlyWorksheet, column: str, rows: int) -> None:
    """Each status's colour on the status column's `rows` cells, as conditional formats."""
    for status, colour in FILLS.items():
        sheet.conditional_formatting.add(
            f"{column}2:{column}{max(rows, 1) + 1}",
            CellIsRule(operator="equal", formula=[f'"{status.value}"'], fill=fill(colour)),
        )


def results_sheet(book: Workbook, change_fields: list[str], rows: int) -> WriteOnlyWorksheet:
    """The Results sheet, its header written: rows lines follow (results_line)."""
    sheet: WriteOnlyWorksheet = book.create_sheet("Results")
    headers = [*RESULT_COLUMNS]
    for name in change_fields:
        headers += change_headers(name)
    least, most = _CHANGE_WIDTH
    widths = [
        max(_WIDTHS.get(name) or min(max(len(name) + 4, least), most), len(name) + 4)
        for name in headers
    ]
    set_widths(sheet, widths)
    sheet.freeze_panes = "C2"  # the header, and which row and customer, stay in view
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{rows + 1}"
    print_setup(sheet, widths, rows + 1, "landscape")
    # Status colours as conditional formats on the column, not a style per cell: as fast for
    # 100,000 rows as for 10 (styling every cell costs openpyxl more than writing it), and
    # the colour follows when someone edits a status.
    status_colours(sheet, get_column_letter(RESULT_COLUMNS.index("status") + 1), rows)
    sheet.append(header_row(sheet, headers))
    return sheet


def results_line(
    sheet: WriteOnlyWorksheet, line: list[str | int], o: Outcome, change_fields: list[str]
) -> list[object]:
    """One Results line: results.csv's values, then each changed field's before and after."""
    values = [xlsx_value(sheet, v) for v in line]
    changes = {c.field: c for c in o.changes}
    for name in change_fields:
        c = changes.get(name)
        values += [xlsx_value(sheet, c.before), xlsx_value(sheet, c.after)] if c else [None, None]
    return values


def needs_action_sheet(book: Workbook, rows: int) -> Lines:
    """The Needs action sheet, its header written: `rows` lines follow (needs_action_line),
    or, when there are none, one line saying so."""
    sheet: WriteOnlyWorksheet = book.create_sheet("Needs action")
    widths = [_NEEDS_ACTION_WIDTHS.get(n) or _WIDTHS[n] for n in NEEDS_ACTION_COLUMNS]
    set_widths(sheet, widths)
    sheet.freeze_panes = "A2"
    if rows:
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(widths))}{rows + 1}"
    print_setup(sheet, widths, max(rows, 1) + 1, "landscape")
    status_colours(sheet, get_column_letter(NEEDS_ACTION_COLUMNS.index("status") + 1), rows)
    lines = Lines(sheet, widths)
    lines.append(header_row(sheet, list(NEEDS_ACTION_COLUMNS)))
    if not rows:
        lines.append([None, "No row needs action."])
    return lines


def needs_action_line(sheet: WriteOnlyWorksheet, o: Outcome, customer_id: str) -> list[object]:
    """One Needs action line: where the row is, its status (coloured by status_colours), why,
    what to do.

    The message and the next step wrap in their cells (a row grows taller, never wider)."""
    values: list[object] = [o.row, xlsx_value(sheet, customer_id), o.status.value]
    values.append(xlsx_value(sheet, o.error_code or None))
    for text in (o.message, NEXT_STEPS.get(o.status, "see the message")):
        values.append(text_cell(sheet, text, WRAP))
    return values
