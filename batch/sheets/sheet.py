"""Reads the input file (xlsx, xlsm, ods, xls or csv) into a validated Sheet: the entry point.

- The sheet the person sees: without --sheet, the workbook's active sheet (the one it opens on)
  when it is visible, else its first visible one; a hidden sheet only when --sheet names it,
  and then a warning says so. A column hidden in the sheet that maps to a field is refused
  (its values would be sent though nobody sees them) unless include_hidden.
- ods: ods.py reads the display text LibreOffice stores with each cell; xls: xls.py reads BIFF8
  through xlrd with its number formats, rendered as for xlsx. .xlsb and .numbers are refused
  with the steps to save them as .xlsx.
- xlsx/xlsm: xlsx.py streams the worksheet, every cell rendered by cells.cell_text with its
  number format, so `02134` stays `02134` (pandas' Excel reader drops number formats). Rows
  hidden in the sheet end `skipped` unless include_hidden; a merged range over data rows is
  refused, naming it; formula errors and dates are marked for validate.py.
- csv (also .txt and .tsv, as Excel's "Unicode Text" is saved): csvsheet.py, every field as
  text through pandas; csvtext.py decides the encoding (UTF-8 with or without a byte-order mark,
  UTF-16 with one, Windows-1252 only when sure) and the separator (`sep=` first line, else the
  one of `,` `;` tab `|` used most). The `'` that guards a value starting with `=`, `+`, `-` or
  `@` against formula injection (cells.neutralise: failed.csv, undo.csv) is dropped, so those
  files feed back.
- The header row, among the first 20 rows, is the one naming a customer-id column that names the
  most fields (title rows and a group row above it, such as a merged "Customer" / "Billing
  address" row, are passed over; Sheet.header_row says which). Two rows that name about as
  many fields, or a later row naming fields the chosen one does not, are refused with both
  rows named and `--header-row N` to choose. Row numbers are the spreadsheet's.
  A column with a blank header is ignored. Two columns for one field, or two with the same
  header, are an error: which one was meant cannot be guessed.
- Columns: `column_map` (--map) names a column's field, `ignore_columns` (--ignore-column)
  leaves a column out; otherwise fields.py's aliases decide. An unknown column that looks like a
  field (fields.resembled_field) is refused: sending the street without the column that holds
  the new house number would write half an address.
- Every expected failure is an InputError naming the file and what to do; nothing here prints.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from batch.core.cell_marks import CellMark
from batch.core.cells import CLEAR_TOKEN
from batch.core.errors import ConfigError, InputError
from batch.core.model import Problem, Sheet
from batch.core.validate import validate_rows
from batch.sheets.csvsheet import csv_rows
from batch.sheets.header import (
    HEADER_SEARCH_ROWS,
    ColumnChoices,
    columns_of,
    header_index,
    no_header_row,
    refuse_hidden_columns,
)
from batch.sheets.rows import Book, RowInfo, SheetRows, column_letters
from batch.sheets.xlsx import Workbook
from batch.sheets.zipcheck import check_headers

XLSX_SUFFIXES = (".xlsx", ".xlsm")
WORKBOOK_SUFFIXES = (*XLSX_SUFFIXES, ".ods", ".xls")
CSV_SUFFIXES = (".csv", ".txt", ".tsv")
# Formats read by nothing pcbatch can rely on: the exact steps to a file it reads.
SAVE_AS_XLSX = {
    ".xlsb": (
        "an Excel binary workbook (.xlsb) is not read; open it in Excel, choose File > Save As,"
        ' pick "Excel Workbook (*.xlsx)" as the type, save, and give pcbatch the .xlsx file'
    ),
    ".numbers": (
        "a Numbers file is not read; open it in Numbers, choose File > Export To > Excel...,"
        ' keep "One per sheet", choose Save, and give pcbatch the .xlsx file'
    ),
}
_FILE_FORMATS: dict[str, Literal["xlsx", "ods", "xls"]] = {
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".ods": "ods",
    ".xls": "xls",
}
_Line = tuple[int, Mapping[int, str], RowInfo | None]  # (row number, {column: text}, info)


def unknown_headers_warning(headers: tuple[str, ...]) -> str | None:
    """The one warning about columns that match no field (run keeps them in failed.csv)."""
    if not headers:
        return None
    names = ", ".join(f'"{h}"' for h in headers)
    return f"column(s) {names} match no field and are ignored (kept in failed.csv)"


def cleaned_cells_warning(cleaned: tuple[Problem, ...]) -> str | None:
    """The one warning listing the cells whose invisible characters were removed."""
    if not cleaned:
        return None
    shown = "; ".join(f"row {p.row} {p.column}: {p.reason}" for p in cleaned[:10])
    more = f"; and {len(cleaned) - 10} more cells" if len(cleaned) > 10 else ""
    return f"invisible characters cleaned in {len(cleaned)} cell(s): {shown}{more}"


def sheet_warnings(sheet: Sheet) -> list[str]:
    """What a person should know about how the sheet was read (run logs it, validate prints it)."""
    warnings: list[str] = list(sheet.notes)
    if sheet.header_row > 1:
        where = f'sheet "{sheet.sheet_name}"' if sheet.sheet_name else "the file"
        warnings.append(
            f"the headers are in row {sheet.header_row} of {where}; the row(s) above them are"
            " taken as a title and not read"
        )
    for warning in (
        unknown_headers_warning(sheet.unknown_headers),
        cleaned_cells_warning(sheet.cleaned),
    ):
        if warning:
            warnings.append(warning)
    return warnings


@dataclass(frozen=True, slots=True)
class _Reading:
    """How the person asked for the sheet to be read (the options of load_sheet)."""

    clear_token: str
    choices: ColumnChoices
    include_hidden: bool
    header_row: int | None


def load_sheet(
    path: Path,
    sheet: str | None = None,
    clear_token: str = CLEAR_TOKEN,
    *,
    column_map: Mapping[str, str] | None = None,
    ignore_columns: Iterable[str] = (),
    include_hidden: bool = False,
    encoding: str | None = None,
    header_row: int | None = None,
) -> Sheet:
    """Reads and validates the input file: its valid rows and its rejected ones.

    sheet: the worksheet of a workbook, by name (any case); default the active one when it is
    visible, else the first visible one. Not for csv.
    clear_token: the cell text that clears a field; default `#N/A` (also Excel's #N/A error
    typed into a cell, never one a formula produced).
    column_map: column header -> field name (`--map`), over the aliases.
    ignore_columns: headers of columns to leave out (`--ignore-column`): no warning, not sent.
    include_hidden: send rows hidden in the sheet too, and read hidden columns (`--include-hidden`).
    encoding: a csv file's encoding as the person names it (`--encoding`); default: decided
    from the bytes (csvtext.py). Not for workbooks.
    header_row: the row that holds the headers (`--header-row`); default: found (see above).
    Raises InputError (exit 2) for a missing or unreadable file, an unknown format, an unknown
    sheet, no customer-id column, an ambiguous header row, a hidden column that maps to a field
    or a column that looks like a field but is not read; ConfigError for a blank token or a
    bad --map.
    """
    if not clear_token.strip():
        raise ConfigError("--clear-token must not be blank: a blank cell already means 'keep'")
    reading = _Reading(
        clear_token,
        ColumnChoices(column_map or {}, tuple(ignore_columns)),
        include_hidden,
        header_row,
    )
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in SAVE_AS_XLSX:
        raise InputError(f"{path}: {SAVE_AS_XLSX[suffix]}")
    if suffix in CSV_SUFFIXES:
        if sheet is not None:
            raise InputError(f"{path}: a csv file has no sheets; leave out --sheet")
        rows = csv_rows(path, encoding, reading.header_row, reading.choices)
        return _build(path, "csv", None, (), rows, reading, ())
    if suffix not in WORKBOOK_SUFFIXES:
        raise InputError(
            f"{path}: unknown file type {suffix or '(none)'}; pcbatch reads .xlsx, .xlsm, .ods,"
            " .xls and .csv (.txt and .tsv as csv)"
        )
    if encoding is not None:
        raise InputError(f"{path}: --encoding is for csv files; a workbook says its own")
    return _load_workbook(path, suffix, sheet, reading)


def input_sha256(path: Path) -> str:
    """Hex SHA-256 of the file's bytes (the journal ties a run to its exact input)."""
    try:
        with Path(path).open("rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from exc


def _build(
    path: Path,
    file_format: Literal["csv", "xlsx", "ods", "xls"],
    sheet_name: str | None,
    other_sheets: tuple[str, ...],
    lines: Iterable[_Line],
    reading: _Reading,
    notes: tuple[str, ...],
) -> Sheet:
    """The Sheet from the file's rows: the header row (found near the top), then the data."""
    choices = reading.choices
    rows = iter(lines)
    top, header_at = _find_header(path, sheet_name, other_sheets, rows, reading)
    number, first, _ = top[header_at]
    kept = [(i, h) for i, h in sorted(first.items()) if h]
    check_headers(path, ((column_letters(i), h) for i, h in kept))
    columns = columns_of(path, kept, choices)
    if isinstance(lines, SheetRows) and not reading.include_hidden:
        refuse_hidden_columns(path, sheet_name, kept, lines.hidden_columns, choices)
    marks: dict[int, dict[str, CellMark]] = {}
    hidden: set[int] = set()
    cleaned: list[Problem] = []
    data = itertools.chain(top[header_at + 1 :], rows)
    records = _records(data, kept, reading.include_hidden, marks, hidden)
    valid, rejected = validate_rows(
        records, columns, reading.clear_token, marks=marks, hidden=hidden, cleaned=cleaned
    )
    if isinstance(lines, SheetRows):
        _refuse_merged_data(path, lines, number)
    headers = tuple(h for _, h in kept)
    known = set(columns.values())
    unknown = tuple(h for h in headers if h not in known and choices.field_of(h) == (None, False))
    return Sheet(
        path=str(path),
        format=file_format,
        sheet_name=sheet_name,
        headers=headers,
        columns=columns,
        unknown_headers=unknown,
        rows=tuple(valid),
        not_sent=tuple(rejected),
        header_row=number,
        cleaned=tuple(cleaned),
        notes=notes,
    )


def _find_header(
    path: Path,
    sheet_name: str | None,
    other_sheets: tuple[str, ...],
    rows: Iterator[_Line],
    reading: _Reading,
) -> tuple[list[_Line], int]:
    """(the rows read from the top, the header row's position among them). The header row is
    looked for in the first HEADER_SEARCH_ROWS rows, or down to --header-row when that is
    further down; InputError when no row names a customer id."""
    top = list(itertools.islice(rows, HEADER_SEARCH_ROWS))
    if reading.header_row is not None:
        while top and top[-1][0] < reading.header_row and (line := next(rows, None)):
            top.append(line)
    top_cells = [(n, c) for n, c, _ in top]
    header_at = header_index(path, sheet_name, top_cells, reading.header_row, reading.choices)
    if header_at is None:
        first = top[0][1] if top else {}
        raise InputError(no_header_row(path, sheet_name, other_sheets, first, reading.choices))
    return top, header_at


def _records(
    lines: Iterable[_Line],
    kept: list[tuple[int, str]],
    include_hidden: bool,
    marks: dict[int, dict[str, CellMark]],
    hidden: set[int],
) -> Iterator[tuple[int, dict[str, str]]]:
    """The data rows with a value, as {header: text} of the `kept` (column, header)s; fills
    `marks` (by row, by header) and `hidden` (the rows hidden in the sheet, unless
    include_hidden) as they are read."""
    by_index = dict(kept)
    for n, cells, info in lines:
        if info is not None:
            if info.hidden and not include_hidden:
                hidden.add(n)
            if info.marks:
                marks[n] = {by_index[i]: m for i, m in info.marks.items() if i in by_index}
        if cells:
            yield n, {h: cells.get(i, "") for i, h in kept}


def _refuse_merged_data(path: Path, rows: SheetRows, header_row: int) -> None:
    """A merged range over several rows below the header: its value would be spread silently."""
    spread = [ref for ref, first, last in rows.merged if last > first and last > header_row]
    if spread:
        names = ", ".join(spread[:5]) + (f" and {len(spread) - 5} more" if len(spread) > 5 else "")
        raise InputError(
            f"{path}: merged cells {names} span several rows; Excel shows their value on each"
            " row but stores it in the first only: unmerge them and fill every row"
        )


def _load_workbook(path: Path, suffix: str, wanted: str | None, reading: _Reading) -> Sheet:
    """A workbook's sheet: the one --sheet names (exact name first, then any case), else the
    active one when it is visible, else the first visible one."""
    file_format = _FILE_FORMATS[suffix]
    with _open_book(path, file_format) as book:
        entries = book.sheets
        if not entries:
            raise InputError(f"{path}: the workbook has no worksheet")
        visible = tuple(e.name for e in entries if e.visibility == "visible")
        notes: list[str] = []
        if wanted is not None:
            names = [e.name for e in entries]
            matches = [n for n in names if n == wanted] or [
                n for n in names if n.casefold() == wanted.casefold()
            ]
            if not matches:
                listed = ", ".join(f'"{n}"' for n in names)
                raise InputError(f'{path}: no sheet named "{wanted}"; the sheets are {listed}')
            title = matches[0]
            if title not in visible:
                notes.append(
                    f'sheet "{title}" is hidden in the workbook; it is read because --sheet'
                    " names it"
                )
        else:
            if not visible:
                raise InputError(
                    f"{path}: every sheet of the workbook is hidden; unhide the one to read, or"
                    " name it with --sheet NAME"
                )
            title = book.active if book.active in visible else visible[0]
            skipped = [e.name for e in entries if e.visibility != "visible"]
            if skipped:
                listed = ", ".join(f'"{n}"' for n in skipped)
                notes.append(
                    f'read sheet "{title}"; the hidden sheet(s) {listed} are not read'
                    " (--sheet NAME reads one)"
                )
        return _build(path, file_format, title, visible, book.rows(title), reading, tuple(notes))


def _open_book(path: Path, file_format: str) -> Book:
    """The reader of a workbook format, opened."""
    if file_format == "ods":
        from batch.sheets.ods import OdsBook

        return OdsBook(path)
    if file_format == "xls":
        from batch.sheets.xls import XlsBook

        return XlsBook(path)
    return Workbook(path)
