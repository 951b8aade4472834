"""A streaming xlsx/xlsm reader: each worksheet row as the texts Excel shows. Used by sheet.py.

Why not openpyxl's cells: in read-only mode they take over 10 s for 100,000 rows of 16 columns
(bench/bench_load.py), a third of that goes to building objects per cell. Here expat streams the
sheet's XML through small handlers; openpyxl still supplies the built-in number formats and the
date rules, and cells.cell_text renders every value with its number format.

An xlsx is a zip of XML parts: _rels/.rels names the workbook part; the workbook lists the
sheets, and its .rels part maps each sheet to its part, and names the shared strings and the
styles. Names are matched without namespace or prefix, so Strict OOXML and `x:`-prefixed files
read like the others. A formula counts as the value saved with it; a formula saved without one,
or with the placeholder a program writes (openpyxl an empty value, XlsxWriter a 0: both mark
the workbook `fullCalcOnLoad`, "compute everything when opened"), is an InputError naming the
cells. Each row comes with what the text alone does not say (RowInfo): hidden (by a filter or
by hand), and per cell whether a formula produced an error value or Excel holds a date there.
Merged ranges (listed after the rows) are handed over once the sheet is read.

Speed: empty cells and rows (styled or not: a sheet formatted down to row 1,048,576) are cut out
of the XML by a regular expression before expat sees it, and the styles part is streamed.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from xml.etree import ElementTree
from xml.parsers import expat

from batch.core.cell_marks import CellMark
from batch.core.cells import cell_text, decode_escapes
from batch.core.errors import InputError
from batch.core.number_format import format_renderable
from batch.sheets.rows import (
    RowInfo,
    RowTexts,
    SheetEntry,
    SheetRows,
    column_letters,
    mark_cell,
)
from batch.sheets.zipcheck import MAX_CELL_CHARS, cell_too_long, check_parts, check_small_part

__all__ = ["RowInfo", "RowTexts", "SheetEntry", "SheetRows", "Workbook", "column_letters"]

_PAST_LAST_DATE = 2958466  # day 2958465 is 9999-12-31, Excel's last date
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
            found = self._workbook()
            self._sheets, strings_part, styles_part, date1904, self._placeholders = found[:5]
            self.sheets, self.active = found[5], found[6]
            self._formats = self._styles(styles_part) if styles_part else []
            self._strings: list[str] = []
            self._render, self._date_styles, self._odd_styles = self._renderer(date1904)
            if strings_part:
                for _ in self._parse(strings_part, lambda kind, text, style: "", None):
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
        sheet._rows = self._parse(self._sheets[name], self._render, sheet)
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

    def _workbook(
        self,
    ) -> tuple[
        dict[str, str], str | None, str | None, bool, bool, tuple[SheetEntry, ...], str | None
    ]:
        """({worksheet name: part}, shared-strings part, styles part, 1904 date system,
        formula results are placeholders, the worksheets and their visibility, the active one).

        A `sheet`'s `state` is `hidden` or `veryHidden` for a tab the person does not see;
        `workbookView activeTab` is the 0-based position, among all sheets (chart sheets too),
        of the one Excel opens on (ECMA-376 Part 1, 18.2.19 and 18.2.30).

        The 1904 system holds when any `workbookPr` says so (Excel for Mac may write a second
        one in an extension). `calcPr fullCalcOnLoad="1"` is how openpyxl and XlsxWriter mark a
        workbook whose formulas they could not compute: the saved results are placeholders
        (XlsxWriter's own test of `_write_calc_pr` expects `<calcPr calcId="124519"
        fullCalcOnLoad="1"/>`; openpyxl writes the same). Excel drops the mark when it saves.
        """
        book = next((p for kind, p in self._rels("").values() if kind == "officeDocument"), "")
        rels = self._rels(book)
        sheets: dict[str, str] = {}
        entries: list[SheetEntry] = []
        every_sheet: list[str | None] = []  # names by position; None for a chart sheet
        active_tab = 0
        date1904 = placeholders = False
        for element in self._xml(book).iter():
            tag = _local(element.tag)
            if tag == "workbookView" and element.get("activeTab", "").isdigit():
                active_tab = active_tab or int(element.get("activeTab", "0"))
            elif tag == "workbookPr":
                date1904 = date1904 or _true(element.get("date1904", "0"))
            elif tag == "calcPr":
                placeholders = _true(element.get("fullCalcOnLoad", "0"))
            elif tag == "sheet":
                rid = next((v for k, v in element.attrib.items() if _local(k) == "id"), "")
                kind, part = rels.get(rid, ("", ""))
                name = element.get("name", "")
                every_sheet.append(name if kind == "worksheet" else None)
                if kind == "worksheet":  # chart and dialog sheets hold no rows
                    sheets[name] = part
                    state = element.get("state", "visible")
                    visibility = state if state in ("hidden", "veryHidden") else "visible"
                    entries.append(SheetEntry(name, visibility))  # type: ignore[arg-type]
        parts = {kind: part for kind, part in rels.values()}
        active = every_sheet[active_tab] if active_tab < len(every_sheet) else None
        return (
            sheets,
            parts.get("sharedStrings"),
            parts.get("styles"),
            date1904,
            placeholders,
            tuple(entries),
            active,
        )

    def _rels(self, part: str) -> dict[str, tuple[str, str]]:
        """A part's relationships: id -> (kind such as `worksheet`, target part's path)."""
        folder, name = posixpath.split(part)
        rels_part = posixpath.join(folder, "_rels", f"{name}.rels")
        if rels_part not in self._zip.NameToInfo:
            return {}
        found: dict[str, tuple[str, str]] = {}
        for rel in self._xml(rels_part):
            target = rel.get("Target", "")
            if rel.get("TargetMode") == "External":
                continue
            if target.startswith("/"):
                target = target[1:]
            else:
                target = posixpath.normpath(posixpath.join(folder, target))
            found[rel.get("Id", "")] = (rel.get("Type", "").rpartition("/")[2], target)
        return found

    def _styles(self, part: str) -> list[str]:
        """The number format code of each cell style, by style index (a cell's `s`).

        Streamed: a styles part of a million cell formats is never held as a tree.
        """
        from openpyxl.styles.numbers import BUILTIN_FORMATS

        custom: dict[int, str] = {}
        ids: list[int] = []
        in_cell_xfs = False
        check_small_part(self._zip, part, self.path)
        with self._zip.open(part) as source:
            for event, element in ElementTree.iterparse(source, events=("start", "end")):
                tag = _local(element.tag)
                if tag == "cellXfs":
                    in_cell_xfs = event == "start"
                elif event == "start":
                    continue
                elif tag == "numFmt":
                    custom[int(element.get("numFmtId", "-1"))] = element.get("formatCode", "")
                elif tag == "xf" and in_cell_xfs:
                    ids.append(int(element.get("numFmtId", "0")))
                if event == "end":
                    element.clear()
        return [custom.get(i) or BUILTIN_FORMATS.get(i, "General") for i in ids]

    def _renderer(
        self, date1904: bool
    ) -> tuple[Callable[[str, str, str], str], frozenset[str], dict[str, str]]:
        """(render(cell type, raw text, style index) -> the cell's text, the style indexes
        (as in `s`) of date and time formats, {style index: number format} of the formats
        number_format.number_shown cannot render exactly), for this workbook."""
        from openpyxl.styles.numbers import is_date_format, is_timedelta_format
        from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, from_excel

        epoch = CALENDAR_MAC_1904 if date1904 else CALENDAR_WINDOWS_1900
        formats, strings = self._formats, self._strings
        kinds = [
            "t" if is_timedelta_format(f) else "d" if is_date_format(f) else "" for f in formats
        ]

        def render(kind: str, text: str, style_index: str) -> str:
            if not text:  # `<v/>`: nothing saved, a blank cell
                return ""
            if kind == "s":
                return strings[int(text)]
            if kind == "n":
                style = int(style_index) if style_index else 0
                number = float(text)
                if style >= len(formats):
                    return cell_text(number)
                # A date or a duration: Excel stores both as day counts. A number past the last
                # date Excel can show (9999-12-31), e.g. a phone in a Date column, is shown by
                # Excel as ##### and by pcbatch as the plain number.
                if kinds[style] and 0 <= number < _PAST_LAST_DATE:
                    return cell_text(from_excel(number, epoch, timedelta=kinds[style] == "t"))
                return cell_text(number, formats[style])
            if kind == "b":
                return cell_text(text == "1")
            # inlineStr, str (formula text), e (error), d (ISO)
            return cell_text(decode_escapes(text))

        date_styles = {str(i) for i, k in enumerate(kinds) if k}
        if "0" in date_styles:
            date_styles.add("")  # a cell without `s` has style 0
        odd = {
            str(i): f for i, f in enumerate(formats) if not kinds[i] and not format_renderable(f)
        }
        if "0" in odd:
            odd[""] = odd["0"]
        return render, frozenset(date_styles), odd

    def _parse(
        self, part: str, render: Callable[[str, str, str], str], sheet: SheetRows | None
    ) -> Iterator[RowTexts]:
        """Streams a sheet part's rows; for the shared-strings part (sheet None), fills _strings.

        expat with small handlers, not a tree: an element object per cell doubles the time.
        """
        path, strings = self.path, self._strings
        date_styles, all_placeholders = self._date_styles, self._placeholders
        odd_styles = self._odd_styles
        local, columns = _LocalNames(), _Columns()
        done: list[RowTexts] = []
        cells: dict[int, str] = {}
        info: RowInfo | None = None
        placeholders: list[str] = []
        number = column = 0
        kind, style = "n", ""
        texts: list[str] = []
        has_value = grab = phonetic = formula = False

        def start(name: str, attrs: dict[str, str]) -> None:
            nonlocal cells, number, column, kind, style, texts, has_value, grab, phonetic, formula
            nonlocal info
            tag = local[name]
            if tag == "c":
                ref = attrs.get("r")
                column = columns[ref.rstrip(_DIGITS)] if ref else column + 1
                kind, style = attrs.get("t", "n"), attrs.get("s", "")
                has_value = formula = False
            elif tag == "v":
                texts, has_value, grab = [], True, True
            elif tag == "is" or tag == "si":
                texts, has_value = [], True
            elif tag == "t":
                grab = not phonetic  # phonetic guides (rPh) are not part of the text
            elif tag == "rPh":
                phonetic = True
            elif tag == "f":
                formula = True
            elif tag == "row":
                r = attrs.get("r")
                number = int(r) if r else number + 1
                cells, column = {}, -1
                hidden = attrs.get("hidden")
                info = RowInfo(hidden=True) if hidden and _true(hidden) else None
            elif tag == "col" and sheet is not None and _true(attrs.get("hidden", "0")):
                low, high = int(attrs.get("min", "1")), int(attrs.get("max", "1"))
                sheet.hidden_columns.update(range(low - 1, min(high, _MAX_COLUMNS)))
            elif tag == "mergeCell" and sheet is not None:
                ref = attrs.get("ref", "")
                first, _, last = ref.partition(":")
                if last:
                    sheet.merged.append((ref, _row_of(first), _row_of(last)))

        def end(name: str) -> None:
            nonlocal grab, phonetic, info
            tag = local[name]
            if tag == "v" or tag == "t":
                grab = False
            elif tag == "c":
                if formula:
                    info = formula_cell(info)
                elif has_value:
                    text = render(kind, "".join(texts), style)
                    if text:
                        cells[column] = text
                        if (style in date_styles and kind == "n") or kind == "d":
                            info = dated_cell(info, text)
                        elif kind == "n" and style in odd_styles:
                            info = odd_cell(info)
            elif tag == "row":
                if cells or info is not None:
                    done.append((number, cells, info))
            elif tag == "si":
                strings.append(cell_text(decode_escapes("".join(texts))))
            elif tag == "rPh":
                phonetic = False

        def data(text: str) -> None:
            if grab:
                texts.append(text)
                long = len(text) > 4096 or not len(texts) & 63  # a cell over Excel's length?
                if long and sum(map(len, texts)) > MAX_CELL_CHARS:
                    raise cell_too_long(path, f"{part}, row {number} column {column + 1}")

        def formula_cell(info: RowInfo | None) -> RowInfo | None:
            if all_placeholders or not has_value or (not texts and kind not in _TEXT_KINDS):
                # openpyxl saves `<v></v>`, XlsxWriter `<v>0</v>`: no result Excel computed.
                placeholders.append(f"{column_letters(column)}{number}")
                return info
            text = render(kind, "".join(texts), style)
            if not text:
                return info
            cells[column] = text
            if kind == "e":
                info = info or RowInfo()
                info.marks[column] = CellMark(f"{column_letters(column)}{number}", True)
                return info
            if (style in date_styles and kind == "n") or kind == "d":
                return dated_cell(info, text)
            if kind == "n" and style in odd_styles:
                return odd_cell(info)
            return info

        def odd_cell(info: RowInfo | None) -> RowInfo:
            cell = f"{column_letters(column)}{number}"
            return mark_cell(info, column, CellMark(cell, number_format=odd_styles[style]))

        def dated_cell(info: RowInfo | None, text: str) -> RowInfo | None:
            if kind == "n" and not _dated(text):
                return info  # a number past 9999-12-31 in a date column shows as the number
            info = info or RowInfo()
            info.marks[column] = CellMark(f"{column_letters(column)}{number}", date=True)
            return info

        parser = expat.ParserCreate()  # no namespace processing: names keep their prefix
        parser.buffer_text = True  # one data call per text node, mostly
        parser.StartElementHandler, parser.EndElementHandler = start, end
        parser.CharacterDataHandler = data
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
            raise InputError(f"{path}: the sheet is damaged ({exc}); save it again") from exc
        yield from done
        if placeholders:
            named = ", ".join(placeholders[:_PLACEHOLDERS_NAMED])
            more = len(placeholders) - _PLACEHOLDERS_NAMED
            named += f" and {more} more" if more > 0 else ""
            raise InputError(
                f"{path}: formulas saved without the result Excel would show (the program that"
                f" wrote the file did not compute them) in {named}; open the file in Excel or"
                " LibreOffice and save it, or paste the values in place of the formulas"
            )

    def _xml(self, part: str) -> ElementTree.Element:
        """A small part's parsed XML."""
        check_small_part(self._zip, part, self.path)  # read whole, so it must be small
        with self._zip.open(part) as source:
            return ElementTree.parse(source).getroot()


class _LocalNames(dict[str, str]):
    """`{namespace}row` or `x:row` -> `row`, computed once per name: one dict lookup per element."""

    def __missing__(self, tag: str) -> str:
        self[tag] = name = _local(tag)
        return name


def _dated(text: str) -> bool:
    """True when a date-formatted cell's text is a date (a number past 9999-12-31 is not)."""
    return (text[:4].isdigit() and text[4:5] == "-") or text[2:3] == ":"


def _true(value: str) -> bool:
    """An XML boolean attribute: `1` or `true`."""
    return value.strip().lower() in ("1", "true")


def _row_of(ref: str) -> int:
    """`B12` -> 12 (`B` alone, a whole column: 0)."""
    digits = ref.lstrip("$ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz").replace("$", "")
    return int(digits) if digits.isdigit() else 0


def _local(tag: str) -> str:
    """An XML name without its namespace (`{uri}row`) or prefix (`x:row`)."""
    return tag.rpartition("}")[2].rpartition(":")[2]


class _Columns(dict[str, int]):
    """`AB` -> 27: 0-based column indexes by letters, each computed once."""

    def __missing__(self, letters: str) -> int:
        index = 0
        for char in letters.upper():
            index = index * 26 + ord(char) - 64
        self[letters] = index - 1
        return index - 1
