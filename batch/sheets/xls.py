"""An Excel 97-2003 workbook (.xls, BIFF8) reader, through xlrd: each row as Excel shows it.

xlrd reads the cells with their number formats when asked (`formatting_info=True`: the
formats, hidden rows and columns, merged ranges); number_format.number_shown renders each
number with its format exactly as for xlsx, and a format it cannot render exactly marks the
cell. xlrd tells a date by its format (`XL_CELL_DATE`); it is marked as for xlsx. An error
value cannot be told from one typed by hand in BIFF8 as xlrd reads it, so every error value is
taken as a formula's: it never clears a field (type the clear token as text to clear one). Sheet
visibility is xlrd's `visibility` (0 visible, 1 hidden, 2 very hidden) and the active sheet the
one with `sheet_visible` set (the one Excel shows when it opens the file).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from batch.core.cell_marks import CellMark
from batch.core.cells import cell_text
from batch.core.errors import InputError
from batch.core.number_format import format_renderable, number_shown
from batch.sheets.rows import (
    RowInfo,
    RowTexts,
    SheetEntry,
    SheetRows,
    Visibility,
    column_letters,
    mark_cell,
)

_VISIBILITY: dict[int, Visibility] = {0: "visible", 1: "hidden", 2: "veryHidden"}


class XlsBook:
    """An open .xls file: its sheets (visible or not), the active one, and each one's rows.

    A context manager. Raises InputError for a file xlrd cannot read.
    """

    def __init__(self, path: Path) -> None:
        import xlrd  # here: only an .xls needs it

        self.path = path
        try:
            self._book = xlrd.open_workbook(str(path), formatting_info=True, on_demand=False)
        except Exception as exc:  # xlrd raises many kinds on a damaged file: one refusal for all
            raise InputError(
                f"{path}: not an Excel 97-2003 workbook (.xls) that can be read"
                f" ({type(exc).__name__}: {exc}); open it in Excel or LibreOffice and save it"
                " as .xlsx"
            ) from exc
        sheets = self._book.sheets()
        self.sheets = tuple(
            SheetEntry(s.name, _VISIBILITY.get(s.visibility, "hidden")) for s in sheets
        )
        self.active: str | None = next((s.name for s in sheets if s.sheet_visible), None)

    def rows(self, name: str) -> SheetRows:
        """(row number, {column: text}, RowInfo or None) of every row with a value."""
        sheet = self._book.sheet_by_name(name)
        rows = SheetRows(iter(()))
        rows.hidden_columns = {c for c, info in sheet.colinfo_map.items() if info.hidden}
        rows.merged = [
            (f"{column_letters(c0)}{r0 + 1}:{column_letters(c1 - 1)}{r1}", r0 + 1, r1)
            for r0, r1, c0, c1 in sheet.merged_cells
        ]
        rows._rows = self._rows(sheet)
        return rows

    def _rows(self, sheet: Any) -> Iterator[RowTexts]:
        import xlrd

        book = self._book
        for r in range(sheet.nrows):
            cells: dict[int, str] = {}
            row_info = sheet.rowinfo_map.get(r)
            info = RowInfo(hidden=True) if row_info is not None and row_info.hidden else None
            for c, cell in enumerate(sheet.row(r)):
                kind, value = cell.ctype, cell.value
                ref = f"{column_letters(c)}{r + 1}"
                if kind in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
                    continue
                if kind == xlrd.XL_CELL_TEXT:
                    text = cell_text(value)
                elif kind == xlrd.XL_CELL_NUMBER:
                    number_format = book.format_map[book.xf_list[cell.xf_index].format_key]
                    code = number_format.format_str
                    shown = number_shown(value, code)
                    text = shown if shown is not None else cell_text(value)
                    if text and not format_renderable(code):
                        info = mark_cell(info, c, CellMark(ref, number_format=code))
                elif kind == xlrd.XL_CELL_DATE:
                    try:
                        text = cell_text(xlrd.xldate.xldate_as_datetime(value, book.datemode))
                    except (xlrd.xldate.XLDateError, OverflowError, ValueError):
                        text = cell_text(value)  # past Excel's dates: Excel shows #####
                    else:
                        info = mark_cell(info, c, CellMark(ref, date=True))
                elif kind == xlrd.XL_CELL_BOOLEAN:
                    text = cell_text(bool(value))
                else:  # XL_CELL_ERROR
                    text = xlrd.error_text_from_code.get(value, "#VALUE!")
                    info = mark_cell(info, c, CellMark(ref, formula_error=True))
                if text:
                    cells[c] = text
            if cells or info is not None:
                yield r + 1, cells, info

    def close(self) -> None:
        """Releases the workbook."""
        self._book.release_resources()

    def __enter__(self) -> XlsBook:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
