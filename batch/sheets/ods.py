"""An OpenDocument spreadsheet (.ods) reader: each row as the display text LibreOffice stored.

An ods is a zip of XML parts (OASIS OpenDocument 1.2, Part 1, section 9): content.xml holds
the sheets (`table:table`), their columns (`table:table-column`, with `table:visibility`
`collapse` or `filter` for a hidden one), rows (`table:table-row`, the same) and cells
(`table:table-cell`, `table:covered-table-cell` under a merged one). Each cell carries its value
(`office:value`, typed by `office:value-type`) and the text the program showed for it, as
paragraphs (`text:p`, one per line; `text:s` is spaces, `text:tab` a tab, `text:line-break` a
line break). That text is what the person saw, number formats applied: it is what is read.
Repeated rows and cells (`table:number-rows-repeated`, `table:number-columns-repeated`) are
expanded (empty ones only counted). A sheet is hidden when its table style says
`table:display="false"`; settings.xml names the active sheet (`ActiveTable`).

The XML is streamed by expat with small handlers; a document type declaration (the way to
entity expansion attacks) is refused, as no writer of ods puts one there.
"""

from __future__ import annotations

import html
import re
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from xml.parsers import expat

from batch.core.cell_marks import CellMark
from batch.core.cells import cell_text, excel_error
from batch.core.errors import InputError
from batch.sheets.rows import RowInfo, RowTexts, SheetEntry, SheetRows, column_letters, mark_cell
from batch.sheets.zipcheck import check_parts

_CHUNK = 1 << 16
_MAX_ROWS = 1_048_576  # the most rows a sheet has in LibreOffice (and Excel)
_MAX_COLUMNS = 16_384
_DAMAGED = (KeyError, ValueError, IndexError, expat.ExpatError, EOFError, zlib.error)
_TABLE = re.compile(rb"<table:table\s([^>]*)>")
_ATTRIBUTE = re.compile(rb'([\w:.-]+)="([^"]*)"')
_TABLE_STYLE = re.compile(
    rb'<style:style\s[^>]*style:name="([^"]*)"[^>]*style:family="table"[^>]*>(.*?)</style:style>',
    re.DOTALL,
)
_ACTIVE = re.compile(rb'config:name="ActiveTable"[^>]*>([^<]*)<')
_HIDDEN = ("collapse", "filter")


class DoctypeRefused(ValueError):
    """A document type declaration in a part: refused before any entity is declared."""


class OdsBook:
    """An open .ods file: its sheets (visible or not), the active one, and each one's rows.

    A context manager. Raises InputError for a file that is not an ods or is damaged.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise InputError(
                f"{path}: not an OpenDocument spreadsheet ({exc}); open it in LibreOffice Calc"
                " and save it as .ods or .xlsx (without a password)"
            ) from exc
        try:
            check_parts(self._zip, path)
            if "content.xml" not in self._zip.NameToInfo:
                raise InputError(
                    f"{path}: no content.xml: not an OpenDocument spreadsheet, or saved with a"
                    " password; save it again without one"
                )
            self.sheets, self.active = self._tables()
        except (*_DAMAGED, zipfile.BadZipFile) as exc:
            self._zip.close()
            raise InputError(f"{path}: the spreadsheet is damaged ({exc}); save it again") from exc
        except BaseException:
            self._zip.close()
            raise

    def _tables(self) -> tuple[tuple[SheetEntry, ...], str | None]:
        """The sheets and their visibility, from the table start tags and table styles."""
        hidden_styles: set[str] = set()
        entries: list[SheetEntry] = []
        head = bytearray()  # the automatic styles come before the body
        in_head = True
        with self._zip.open("content.xml") as source:
            carry = b""
            while chunk := source.read(_CHUNK):
                chunk = carry + chunk
                if in_head:
                    head += chunk
                    if b"<office:body" in head:
                        in_head = False
                        for name, body in _TABLE_STYLE.findall(bytes(head)):
                            if b'table:display="false"' in body:
                                hidden_styles.add(html.unescape(name.decode()))
                        head.clear()
                cut = chunk.rfind(b">") + 1
                for match in _TABLE.finditer(chunk, 0, cut):
                    attrs = {
                        k.decode(): html.unescape(v.decode())
                        for k, v in _ATTRIBUTE.findall(match[1])
                    }
                    style = attrs.get("table:style-name", "")
                    visibility = "hidden" if style in hidden_styles else "visible"
                    entries.append(SheetEntry(attrs.get("table:name", ""), visibility))
                carry = chunk[cut:]
        active = None
        if "settings.xml" in self._zip.NameToInfo:
            found = _ACTIVE.search(self._zip.read("settings.xml"))
            active = html.unescape(found[1].decode()) if found else None
        return tuple(entries), active

    def rows(self, name: str) -> SheetRows:
        """(row number, {column: text}, RowInfo or None) of every row with a value, streamed."""
        sheet = SheetRows(iter(()))
        sheet._rows = self._parse(name, sheet)
        return sheet

    def close(self) -> None:
        """Closes the file."""
        self._zip.close()

    def __enter__(self) -> OdsBook:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _parse(self, wanted: str, sheet: SheetRows) -> Iterator[RowTexts]:
        """Streams the rows of the table named `wanted`."""
        done: list[RowTexts] = []
        state = _TableState(wanted, sheet, done)
        parser = expat.ParserCreate()
        parser.buffer_text = True
        parser.StartElementHandler = state.start
        parser.EndElementHandler = state.end
        parser.CharacterDataHandler = state.data
        parser.StartDoctypeDeclHandler = _refuse_doctype
        try:
            with self._zip.open("content.xml") as source:
                while chunk := source.read(_CHUNK):
                    parser.Parse(chunk, False)
                    yield from done
                    done.clear()
                    if state.finished:
                        break
                else:
                    parser.Parse(b"", True)
        except DoctypeRefused as exc:
            raise InputError(
                f"{self.path}: content.xml declares a document type, which no spreadsheet"
                " program writes; it is not read"
            ) from exc
        except (*_DAMAGED, zipfile.BadZipFile) as exc:
            raise InputError(f"{self.path}: the sheet is damaged ({exc}); save it again") from exc
        yield from done


def _refuse_doctype(*_args: object) -> None:
    raise DoctypeRefused("DOCTYPE")


class _TableState:
    """The handlers' state while one table of content.xml is read."""

    def __init__(self, wanted: str, sheet: SheetRows, done: list[RowTexts]) -> None:
        self.wanted, self.sheet, self.done = wanted, sheet, done
        self.inside = self.finished = False
        self.depth = 0  # nesting of tables inside the wanted one (none in practice)
        self.columns_seen = 0
        self.number = 0  # the last row number used
        self.cells: dict[int, str] = {}
        self.info: RowInfo | None = None
        self.row_repeat = 1
        self.column = 0
        self.cell_repeat = 1
        self.cell_attrs: dict[str, str] | None = None
        self.paragraphs: list[list[str]] = []
        self.in_text = 0  # depth of text:p (text:h) elements being read
        self.in_note = 0  # depth of office:annotation: a comment, not the cell's text

    def start(self, name: str, attrs: dict[str, str]) -> None:
        if name == "table:table":
            if self.inside:
                self.depth += 1
            elif attrs.get("table:name") == self.wanted and not self.finished:
                self.inside = True
            return
        if not self.inside or self.depth:
            return
        if name in ("table:table-cell", "table:covered-table-cell"):
            self.cell_attrs = attrs
            self.cell_repeat = _count(attrs.get("table:number-columns-repeated"))
            self.paragraphs = []
            spanned = _count(attrs.get("table:number-rows-spanned"))
            across = _count(attrs.get("table:number-columns-spanned"))
            if name == "table:table-cell" and (spanned > 1 or across > 1):
                first = f"{column_letters(self.column)}{self.number}"
                last = f"{column_letters(self.column + across - 1)}{self.number + spanned - 1}"
                self.sheet.merged.append(
                    (f"{first}:{last}", self.number, self.number + spanned - 1)
                )
        elif name == "office:annotation":
            self.in_note += 1
        elif self.in_note:
            return
        elif name in ("text:p", "text:h"):
            if self.cell_attrs is not None and not self.in_text:
                self.paragraphs.append([])
            self.in_text += 1
        elif self.in_text and self.paragraphs:
            if name == "text:s":
                self.paragraphs[-1].append(" " * _count(attrs.get("text:c")))
            elif name == "text:tab":
                self.paragraphs[-1].append("\t")
            elif name == "text:line-break":
                self.paragraphs[-1].append("\n")
        elif name == "table:table-row":
            self.number += 1
            self.row_repeat = min(_count(attrs.get("table:number-rows-repeated")), _MAX_ROWS)
            self.cells, self.column = {}, 0
            hidden = attrs.get("table:visibility") in _HIDDEN
            self.info = RowInfo(hidden=True) if hidden else None
        elif name == "table:table-column":
            repeat = min(_count(attrs.get("table:number-columns-repeated")), _MAX_COLUMNS)
            if attrs.get("table:visibility") in _HIDDEN:
                first = self.columns_seen
                self.sheet.hidden_columns.update(range(first, min(first + repeat, _MAX_COLUMNS)))
            self.columns_seen += repeat

    def end(self, name: str) -> None:
        if name == "table:table" and self.inside:
            if self.depth:
                self.depth -= 1
            else:
                self.inside, self.finished = False, True
            return
        if not self.inside or self.depth:
            return
        if name == "office:annotation":
            self.in_note -= 1
        elif self.in_note:
            return
        elif name in ("text:p", "text:h"):
            self.in_text -= 1
        elif name in ("table:table-cell", "table:covered-table-cell"):
            self._end_cell()
        elif name == "table:table-row":
            if self.cells or self.info is not None:
                for offset in range(self.row_repeat):
                    info = self.info
                    if offset and info is not None:
                        info = RowInfo(info.hidden, dict(info.marks))
                    self.done.append((self.number + offset, dict(self.cells), info))
            self.number += self.row_repeat - 1

    def data(self, text: str) -> None:
        if self.in_text and not self.in_note and self.paragraphs:
            self.paragraphs[-1].append(text)

    def _end_cell(self) -> None:
        attrs = self.cell_attrs or {}
        text = cell_text("\n".join("".join(p) for p in self.paragraphs))
        repeat = min(self.cell_repeat, _MAX_COLUMNS - self.column)
        if text:
            kind = attrs.get("office:value-type", "")
            for column in range(self.column, self.column + max(repeat, 0)):
                self.cells[column] = text
                cell = f"{column_letters(column)}{self.number}"
                if kind in ("date", "time"):
                    self.info = mark_cell(self.info, column, CellMark(cell, date=True))
                elif attrs.get("calcext:value-type") == "error" or (
                    "table:formula" in attrs and excel_error(text)
                ):
                    self.info = mark_cell(self.info, column, CellMark(cell, formula_error=True))
        self.column += max(self.cell_repeat, 1)
        self.cell_attrs = None
        self.paragraphs = []


def _count(value: str | None) -> int:
    """A repeat or span count attribute; 1 when absent or not a number."""
    if value is None or not value.isdigit():
        return 1
    return max(int(value), 1)
