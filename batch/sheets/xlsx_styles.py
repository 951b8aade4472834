"""An xlsx workbook's cell styles: each style's number format, and a cell's text by them.

openpyxl supplies the built-in number formats and the date rules; cells.cell_text renders
every value with its number format, so `02134` stays `02134`. Used by xlsx.py.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple
from xml.etree import ElementTree

from batch.core.cells import cell_text, decode_escapes
from batch.core.number_format import format_renderable
from batch.sheets.xlsx_parts import local_name
from batch.sheets.zipcheck import check_small_part

_PAST_LAST_DATE = 2958466  # day 2958465 is 9999-12-31, Excel's last date
Render = Callable[[str, str, str], str]  # render(cell type, raw text, style index) -> its text


def style_formats(book_zip: zipfile.ZipFile, part: str, path: Path) -> list[str]:
    """The number format code of each cell style, by style index (a cell's `s`).

    Streamed: a styles part of a million cell formats is never held as a tree.
    """
    from openpyxl.styles.numbers import BUILTIN_FORMATS

    custom: dict[int, str] = {}
    ids: list[int] = []
    in_cell_xfs = False
    check_small_part(book_zip, part, path)
    with book_zip.open(part) as source:
        for event, element in ElementTree.iterparse(source, events=("start", "end")):
            tag = local_name(element.tag)
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


class Rendering(NamedTuple):
    """How a workbook's cells read: render(cell type, raw text, style index) -> the cell's
    text; the style indexes (as in `s`) of date and time formats; {style index: number format}
    of the formats number_format.number_shown cannot render exactly."""

    render: Render
    date_styles: frozenset[str]
    odd_styles: dict[str, str]


def rendering(formats: list[str], strings: list[str], date1904: bool) -> Rendering:
    """The Rendering of a workbook's cells by their styles' `formats` and its shared `strings`
    (filled later is fine: render reads the list when called)."""
    from openpyxl.styles.numbers import is_date_format, is_timedelta_format

    kinds = ["t" if is_timedelta_format(f) else "d" if is_date_format(f) else "" for f in formats]
    date_styles = {str(i) for i, k in enumerate(kinds) if k}
    if "0" in date_styles:
        date_styles.add("")  # a cell without `s` has style 0
    odd = {str(i): f for i, f in enumerate(formats) if not kinds[i] and not format_renderable(f)}
    if "0" in odd:
        odd[""] = odd["0"]
    return Rendering(_renderer(formats, kinds, strings, date1904), frozenset(date_styles), odd)


def _renderer(formats: list[str], kinds: list[str], strings: list[str], date1904: bool) -> Render:
    """render(cell type, raw text, style index) -> the cell's text; `kinds`: per style, `d`
    for a date format, `t` for a duration, "" for the others."""
    from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, from_excel

    epoch = CALENDAR_MAC_1904 if date1904 else CALENDAR_WINDOWS_1900

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

    return render
