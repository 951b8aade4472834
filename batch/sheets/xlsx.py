"""A streaming xlsx/xlsm reader: each worksheet row as the texts Excel shows. Used by sheet.py.

Why not openpyxl's cells: in read-only mode they take over 10 s for 100,000 rows of 16 columns
(bench/bench_load.py), a third of that goes to building objects per cell. Here expat streams the
sheet's XML through small handlers (_PartXml); xlsx_parts.py reads the workbook's small parts
(which part is which sheet, the shared strings, the styles) and xlsx_styles.py renders each
value with its number format.

A formula counts as the value saved with it; a formula saved without one, or with the
placeholder a program writes (openpyxl an empty value, XlsxWriter a 0: both mark the workbook
`fullCalcOnLoad`, "compute everything when opened"), is an InputError naming the cells. Each row
comes with what the text alone does not say (RowInfo): hidden (by a filter or by hand), and per
cell whether a formula produced an error value or Excel holds a date there. Merged ranges
(listed after the rows) are handed over once the sheet is read.

Speed: empty cells and rows (styled or not: a sheet formatted down to row 1,048,576) are cut out
of the XML by a regular expression before expat sees it, and the styles part is streamed.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from xml.parsers import expat

from batch.core.cell_marks import CellMark
from batch.core.cells import cell_text, decode_escapes
from batch.core.errors import InputError
from batch.sheets.rows import (
    RowInfo,
    RowTexts,
    SheetEntry,
    SheetRows,
    column_letters,
    mark_cell,
)
from batch.sheets.xlsx_parts import local_name, read_book, xml_true
from batch.sheets.xlsx_styles import Render, rendering, style_formats
from batch.sheets.zipcheck import MAX_CELL_CHARS, cell_too_long, check_parts

__all__ = ["RowInfo", "RowTexts", "SheetEntry", "SheetRows", "Workbook", "column_letters"]

_DAMAGED = (KeyError, ValueError, IndexError, SyntaxError, expat.ExpatError, EOFError, zlib.error)
_DIGITS = "0123456789"
_CHUNK = 1 << 16  # bytes fed to expat at a time; rows are handed on after each chunk
_TEXT_KINDS = ("str", "inlineStr")  # a formula's empty text result is a real result
_MAX_COLUMNS = 16384  # Excel's last column, XFD
_PLACEHOLDERS_NAMED = 5  # formula cells named in the refusal; the rest are counted
# An empty cell (`<c r="B7" s="3"/>`) or row (`<row r="7" s="2" customFormat="1"/>`, or one of
# empty cells only) with its own reference: nothing to read, and dropping it shifts no position
# (a writer gives every row and cell its reference, or none; those without one are kept).
_EMPTY = re.compile(
    rb'<((?:\w+:)?row)\s[^>]*?\br="[0-9]+"[^>]*>(?:\s*<(?:\w+:)?c\s[^>]*/>)*\s*</\1>'
    rb'|<(?:\w+:)?row\s[^>]*?\br="[0-9]+"[^>]*/>'
    rb'|<(?:\w+:)?c\s[^>]*?\br="[A-Z]+[0-9]+"[^>]*/>'
)


class Workbook:
    """An open xlsx/xlsm file: its worksheets' names and, for each, its rows of cell text.

    A context manager. Raises InputError for a file that is not a workbook or is damaged.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise InputError(
                f"{path}: not an Excel workbook ({exc}); open it in Excel and save it as .xlsx"
                " (a password-protected workbook must be saved without its password)"
            ) from exc
        try:
            check_parts(self._zip, path)  # sizes and ratios, before any part is inflated
            parts = read_book(self._zip, path)
            self._sheets, self._placeholders = parts.sheets, parts.placeholders
            self.sheets, self.active = parts.entries, parts.active
            formats = style_formats(self._zip, parts.styles, path) if parts.styles else []
            self._strings: list[str] = []
            self._rendering = rendering(formats, self._strings, parts.date1904)
            if parts.strings:
                for _ in self._parse(parts.strings, lambda kind, text, style: "", None):
                    pass  # the shared strings part has no rows; its strings land in _strings
        except (*_DAMAGED, zipfile.BadZipFile) as exc:
            self._zip.close()
            raise InputError(f"{path}: the workbook is damaged ({exc}); save it again") from exc
        except BaseException:
            self._zip.close()
            raise

    @property
    def sheet_names(self) -> tuple[str, ...]:
        """The worksheets' names in workbook order (chart sheets are left out)."""
        return tuple(self._sheets)

    # sheets: every worksheet (SheetEntry: name, visible or not); active: the name of the sheet
    # the workbook opens on (`workbookView activeTab`), None when that is no worksheet.

    def rows(self, name: str) -> SheetRows:
        """(row number, {column: text}, RowInfo or None) of every row with a value, streamed.

        Blank cells are absent; blank rows are skipped, so row numbers keep counting them.
        A hidden row comes with its RowInfo even when blank. Raises InputError, once the sheet
        is read, for formulas saved without a real result.
        """
        sheet = SheetRows(iter(()))
        sheet._rows = self._parse(self._sheets[name], self._rendering.render, sheet)
        return sheet

    def close(self) -> None:
        """Closes the file."""
        self._zip.close()

    def __enter__(self) -> Workbook:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _parse(self, part: str, render: Render, sheet: SheetRows | None) -> Iterator[RowTexts]:
        """Streams a sheet part's rows; for the shared-strings part (sheet None), fills _strings.

        The XML is fed to expat a chunk at a time, empty cells and rows cut out first.
        """
        reader = _PartXml(self, part, render, sheet)
        parser = expat.ParserCreate()  # no namespace processing: names keep their prefix
        parser.buffer_text = True  # one data call per text node, mostly
        parser.StartElementHandler, parser.EndElementHandler = reader.start, reader.end
        parser.CharacterDataHandler = reader.data
        done = reader.done
        try:
            with self._zip.open(part) as source:
                carry = b""
                while chunk := source.read(_CHUNK):
                    chunk = carry + chunk
                    cut = chunk.rfind(b">") + 1  # whole tags only: the rest waits for more
                    chunk, carry = chunk[:cut], chunk[cut:]
                    if b"/>" in chunk:  # else nothing worth cutting (an empty element)
                        chunk = _EMPTY.sub(b"", chunk)
                    parser.Parse(chunk, False)
                    yield from done
                    done.clear()
                parser.Parse(carry, True)
        except (*_DAMAGED, zipfile.BadZipFile) as exc:
            raise InputError(f"{self.path}: the sheet is damaged ({exc}); save it again") from exc
        yield from done
        if reader.placeholders:
            raise _placeholders_refused(self.path, reader.placeholders)


class _PartXml:
    """expat's handlers for one part: a sheet part's rows, handed on in `done` (the reader
    empties it), or the shared-strings part's strings, appended to the workbook's list.

    Handlers and the state of the row and cell being read, not a tree: an element object per
    cell doubles the time. A formula's result, a cell's marks and the sheet's own elements
    (hidden columns, merged ranges) have methods of their own, called for those only.
    """

    def __init__(self, book: Workbook, part: str, render: Render, sheet: SheetRows | None) -> None:
        self.path, self.part, self.sheet, self.strings = book.path, part, sheet, book._strings
        self.render = render
        _, self.date_styles, self.odd_styles = book._rendering
        self.all_placeholders = book._placeholders  # every saved result is one (read_book)
        self.local, self.columns = _LocalNames(), _Columns()
        self.done: list[RowTexts] = []
        self.placeholders: list[str] = []  # formula cells saved without a real result
        self.cells: dict[int, str] = {}  # the row being read's
        self.info: RowInfo | None = None
        self.number = self.column = 0
        self.kind, self.style = "n", ""  # the cell being read's type and style
        self.texts: list[str] = []
        self.has_value = self.grab = self.phonetic = self.formula = False

    def start(self, name: str, attrs: dict[str, str]) -> None:
        """An element opens."""
        tag = self.local[name]
        if tag == "c":
            ref = attrs.get("r")
            self.column = self.columns[ref.rstrip(_DIGITS)] if ref else self.column + 1
            self.kind, self.style = attrs.get("t", "n"), attrs.get("s", "")
            self.has_value = self.formula = False
        elif tag == "v":
            self.texts, self.has_value, self.grab = [], True, True
        elif tag == "is" or tag == "si":
            self.texts, self.has_value = [], True
        elif tag == "t":
            self.grab = not self.phonetic  # phonetic guides (rPh) are not part of the text
        elif tag == "rPh":
            self.phonetic = True
        elif tag == "f":
            self.formula = True
        elif tag == "row":
            r = attrs.get("r")
            self.number = int(r) if r else self.number + 1
            self.cells, self.column = {}, -1
            hidden = attrs.get("hidden")
            self.info = RowInfo(hidden=True) if hidden and xml_true(hidden) else None
        elif self.sheet is not None:
            _sheet_element(tag, attrs, self.sheet)

    def end(self, name: str) -> None:
        """An element closes: a cell's text is rendered, a row handed on."""
        tag = self.local[name]
        if tag == "v" or tag == "t":
            self.grab = False
        elif tag == "c":
            if self.formula:
                self._formula_cell()
            elif self.has_value:
                kind, style = self.kind, self.style
                text = self.render(kind, "".join(self.texts), style)
                if text:
                    self.cells[self.column] = text
                    if (style in self.date_styles and kind == "n") or kind == "d":
                        self._dated_cell(text)
                    elif kind == "n" and style in self.odd_styles:
                        self._odd_cell()
        elif tag == "row":
            if self.cells or self.info is not None:
                self.done.append((self.number, self.cells, self.info))
        elif tag == "si":
            self.strings.append(cell_text(decode_escapes("".join(self.texts))))
        elif tag == "rPh":
            self.phonetic = False

    def data(self, text: str) -> None:
        """Text: kept when it is a value's, refused past Excel's length of a cell."""
        if self.grab:
            texts = self.texts
            texts.append(text)
            long = len(text) > 4096 or not len(texts) & 63  # a cell over Excel's length?
            if long and sum(map(len, texts)) > MAX_CELL_CHARS:
                where = f"{self.part}, row {self.number} column {self.column + 1}"
                raise cell_too_long(self.path, where)

    def _formula_cell(self) -> None:
        """A formula's cell: its saved result, marked as an error value, a date or a number
        format rendered inexactly; a result saved as a placeholder is noted instead."""
        kind, style, column = self.kind, self.style, self.column
        if (
            self.all_placeholders
            or not self.has_value
            or (not self.texts and kind not in _TEXT_KINDS)
        ):
            # openpyxl saves `<v></v>`, XlsxWriter `<v>0</v>`: no result Excel computed.
            self.placeholders.append(f"{column_letters(column)}{self.number}")
            return
        text = self.render(kind, "".join(self.texts), style)
        if not text:
            return
        self.cells[column] = text
        if kind == "e":
            mark = CellMark(f"{column_letters(column)}{self.number}", True)
            self.info = mark_cell(self.info, column, mark)
        elif (style in self.date_styles and kind == "n") or kind == "d":
            self._dated_cell(text)
        elif kind == "n" and style in self.odd_styles:
            self._odd_cell()

    def _odd_cell(self) -> None:
        """The cell holds a number whose format number_format.number_shown cannot render exactly."""
        cell = f"{column_letters(self.column)}{self.number}"
        mark = CellMark(cell, number_format=self.odd_styles[self.style])
        self.info = mark_cell(self.info, self.column, mark)

    def _dated_cell(self, text: str) -> None:
        """The cell holds a date (or a time) with this text."""
        if self.kind == "n" and not _dated(text):
            return  # a number past 9999-12-31 in a date column shows as the number
        mark = CellMark(f"{column_letters(self.column)}{self.number}", date=True)
        self.info = mark_cell(self.info, self.column, mark)


def _sheet_element(tag: str, attrs: dict[str, str], sheet: SheetRows) -> None:
    """A sheet's own element, outside its rows: a range of hidden columns, a merged range."""
    if tag == "col" and xml_true(attrs.get("hidden", "0")):
        low, high = int(attrs.get("min", "1")), int(attrs.get("max", "1"))
        sheet.hidden_columns.update(range(low - 1, min(high, _MAX_COLUMNS)))
    elif tag == "mergeCell":
        ref = attrs.get("ref", "")
        first, _, last = ref.partition(":")
        if last:
            sheet.merged.append((ref, _row_of(first), _row_of(last)))


def _placeholders_refused(path: Path, cells: list[str]) -> InputError:
    """The refusal of a sheet whose formula `cells` were saved without a real result."""
    named = ", ".join(cells[:_PLACEHOLDERS_NAMED])
    more = len(cells) - _PLACEHOLDERS_NAMED
    named += f" and {more} more" if more > 0 else ""
    return InputError(
        f"{path}: formulas saved without the result Excel would show (the program that"
        f" wrote the file did not compute them) in {named}; open the file in Excel or"
        " LibreOffice and save it, or paste the values in place of the formulas"
    )


class _LocalNames(dict[str, str]):
    """`{namespace}row` or `x:row` -> `row`, computed once per name: one dict lookup per element."""

    def __missing__(self, tag: str) -> str:
        self[tag] = name = local_name(tag)
        return name


def _dated(text: str) -> bool:
    """True when a date-formatted cell's text is a date (a number past 9999-12-31 is not)."""
    return (text[:4].isdigit() and text[4:5] == "-") or text[2:3] == ":"


def _row_of(ref: str) -> int:
    """`B12` -> 12 (`B` alone, a whole column: 0)."""
    digits = ref.lstrip("$ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz").replace("$", "")
    return int(digits) if digits.isdigit() else 0


class _Columns(dict[str, int]):
    """`AB` -> 27: 0-based column indexes by letters, each computed once."""

    def __missing__(self, letters: str) -> int:
        index = 0
        for char in letters.upper():
            index = index * 26 + ord(char) - 64
        self[letters] = index - 1
        return index - 1
