"""A streaming xlsx/xlsm reader: each worksheet row as the texts Excel shows. Used by sheet.py.

Why not openpyxl's cells: in read-only mode they take over 10 s for 100,000 rows of 16 columns
(bench/bench_load.py), a third of that goes to building objects per cell. Here expat streams the
sheet's XML through small handlers; openpyxl still supplies the built-in number formats and the
date rules, and cells.cell_text renders every value with its number format.

An xlsx is a zip of XML parts: _rels/.rels names the workbook part; the workbook lists the
sheets, and its .rels part maps each sheet to its part, and names the shared strings and the
styles. Names are matched without namespace or prefix, so Strict OOXML and `x:`-prefixed files
read like the others. A formula counts as the value saved with it; a formula saved without one
(a file written by a program and never opened in Excel) is an InputError naming the cell.
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

from batch.core.cells import cell_text
from batch.core.errors import InputError
from batch.zipcheck import check_parts

_PAST_LAST_DATE = 2958466  # day 2958465 is 9999-12-31, Excel's last date
_DAMAGED = (KeyError, ValueError, IndexError, SyntaxError, expat.ExpatError, EOFError, zlib.error)
_DIGITS = "0123456789"
_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_CHUNK = 1 << 16  # bytes fed to expat at a time; rows are handed on after each chunk

RowTexts = tuple[int, dict[int, str]]  # (row number, {0-based column: text}) of one row


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
            self._sheets, strings_part, styles_part, date1904 = self._workbook()
            self._formats = self._styles(styles_part) if styles_part else []
            self._strings: list[str] = []
            if strings_part:
                for _ in self._parse(strings_part, lambda kind, text, style: ""):
                    pass  # the shared strings part has no rows; its strings land in _strings
        except (*_DAMAGED, zipfile.BadZipFile) as exc:
            self._zip.close()
            raise InputError(f"{path}: the workbook is damaged ({exc}); save it again") from exc
        except BaseException:
            self._zip.close()
            raise
        self._render = self._renderer(date1904)

    @property
    def sheet_names(self) -> tuple[str, ...]:
        """The worksheets' names in workbook order (chart sheets are left out)."""
        return tuple(self._sheets)

    def rows(self, name: str) -> Iterator[RowTexts]:
        """(row number, {column: text}) of every row the sheet stores, in order, streamed.

        Blank cells are absent; rows the file does not store (blank ones) are skipped, so row
        numbers keep counting them.
        """
        return self._parse(self._sheets[name], self._render)

    def close(self) -> None:
        """Closes the file."""
        self._zip.close()

    def __enter__(self) -> Workbook:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _workbook(self) -> tuple[dict[str, str], str | None, str | None, bool]:
        """({worksheet name: part}, shared-strings part, styles part, 1904 date system)."""
        book = next((p for kind, p in self._rels("").values() if kind == "officeDocument"), "")
        rels = self._rels(book)
        sheets: dict[str, str] = {}
        date1904 = False
        for element in self._xml(book).iter():
            tag = _local(element.tag)
            if tag == "workbookPr":
                date1904 = element.get("date1904", "0").lower() in ("1", "true")
            elif tag == "sheet":
                rid = next((v for k, v in element.attrib.items() if _local(k) == "id"), "")
                kind, part = rels.get(rid, ("", ""))
                if kind == "worksheet":  # chart and dialog sheets hold no rows
                    sheets[element.get("name", "")] = part
        parts = {kind: part for kind, part in rels.values()}
        return sheets, parts.get("sharedStrings"), parts.get("styles"), date1904

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
        """The number format code of each cell style, by style index (a cell's `s`)."""
        from openpyxl.styles.numbers import BUILTIN_FORMATS

        custom: dict[int, str] = {}
        ids: list[int] = []
        for element in self._xml(part):
            tag = _local(element.tag)
            if tag == "numFmts":
                custom.update(
                    (int(f.get("numFmtId", "-1")), f.get("formatCode", "")) for f in element
                )
            elif tag == "cellXfs":
                ids = [int(xf.get("numFmtId", "0")) for xf in element]
        return [custom.get(i) or BUILTIN_FORMATS.get(i, "General") for i in ids]

    def _renderer(self, date1904: bool) -> Callable[[str, str, str], str]:
        """render(cell type, raw text, style index) -> the cell's text, for this workbook."""
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
            return cell_text(_unescape(text))  # inlineStr, str (formula text), e (error), d (ISO)

        return render

    def _parse(self, part: str, render: Callable[[str, str, str], str]) -> Iterator[RowTexts]:
        """Streams a sheet part's rows; for the shared-strings part, fills _strings instead.

        expat with small handlers, not a tree: an element object per cell doubles the time.
        """
        path, strings = self.path, self._strings
        local, columns = _LocalNames(), _Columns()
        done: list[RowTexts] = []
        cells: dict[int, str] = {}
        number = column = 0
        kind, style = "n", ""
        texts: list[str] = []
        has_value = grab = phonetic = formula = False

        def start(name: str, attrs: dict[str, str]) -> None:
            nonlocal cells, number, column, kind, style, texts, has_value, grab, phonetic, formula
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

        def end(name: str) -> None:
            nonlocal grab, phonetic
            tag = local[name]
            if tag == "v" or tag == "t":
                grab = False
            elif tag == "c":
                if has_value:
                    cells[column] = render(kind, "".join(texts), style)
                elif formula:
                    raise InputError(
                        f"{path}: cell {column_letters(column)}{number} holds a formula saved"
                        " without its result (the file was not saved by Excel); open it in"
                        " Excel and save it"
                    )
            elif tag == "row":
                done.append((number, cells))
            elif tag == "si":
                strings.append(cell_text(_unescape("".join(texts))))
            elif tag == "rPh":
                phonetic = False

        def data(text: str) -> None:
            if grab:
                texts.append(text)

        parser = expat.ParserCreate()  # no namespace processing: names keep their prefix
        parser.buffer_text = True  # one data call per text node, mostly
        parser.StartElementHandler, parser.EndElementHandler = start, end
        parser.CharacterDataHandler = data
        try:
            with self._zip.open(part) as source:
                while chunk := source.read(_CHUNK):
                    parser.Parse(chunk, False)
                    yield from done
                    done.clear()
                parser.Parse(b"", True)
        except (*_DAMAGED, zipfile.BadZipFile) as exc:
            raise InputError(f"{path}: the sheet is damaged ({exc}); save it again") from exc
        yield from done

    def _xml(self, part: str) -> ElementTree.Element:
        """A small part's parsed XML."""
        with self._zip.open(part) as source:
            return ElementTree.parse(source).getroot()


def column_letters(index: int) -> str:
    """0 -> `A`, 27 -> `AB`: a 0-based column's letters."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


class _LocalNames(dict[str, str]):
    """`{namespace}row` or `x:row` -> `row`, computed once per name: one dict lookup per element."""

    def __missing__(self, tag: str) -> str:
        self[tag] = name = _local(tag)
        return name


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


def _unescape(text: str) -> str:
    """Excel writes control characters as `_x000D_` (and `_` before such text as `_x005F_`)."""
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text) if "_x" in text else text
