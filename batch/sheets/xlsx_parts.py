"""The small parts of an xlsx/xlsm package that say how to read its sheets. Used by xlsx.py.

An xlsx is a zip of XML parts: _rels/.rels names the workbook part; the workbook lists the
sheets, and its .rels part maps each sheet to its part, and names the shared strings and the
styles. Names are matched without namespace or prefix, so Strict OOXML and `x:`-prefixed files
read like the others. Each part read here is read whole, so each must be small (zipcheck.py).
"""

from __future__ import annotations

import posixpath
import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

from batch.sheets.rows import SheetEntry
from batch.sheets.zipcheck import check_small_part


@dataclass(frozen=True, slots=True)
class BookParts:
    """What the workbook part and its relationships say.

    sheets: {worksheet name: its part}; strings, styles: the shared-strings and styles parts;
    date1904: the 1904 date system; placeholders: the saved formula results are placeholders;
    entries: every worksheet (name, visible or not); active: the name of the sheet the workbook
    opens on (`workbookView activeTab`), None when that is no worksheet.
    """

    sheets: dict[str, str]
    strings: str | None
    styles: str | None
    date1904: bool
    placeholders: bool
    entries: tuple[SheetEntry, ...]
    active: str | None


def read_book(book_zip: zipfile.ZipFile, path: Path) -> BookParts:
    """The workbook's sheets, parts and settings.

    A `sheet`'s `state` is `hidden` or `veryHidden` for a tab the person does not see;
    `workbookView activeTab` is the 0-based position, among all sheets (chart sheets too),
    of the one Excel opens on (ECMA-376 Part 1, 18.2.19 and 18.2.30).

    The 1904 system holds when any `workbookPr` says so (Excel for Mac may write a second
    one in an extension). `calcPr fullCalcOnLoad="1"` is how openpyxl and XlsxWriter mark a
    workbook whose formulas they could not compute: the saved results are placeholders
    (XlsxWriter's own test of `_write_calc_pr` expects `<calcPr calcId="124519"
    fullCalcOnLoad="1"/>`; openpyxl writes the same). Excel drops the mark when it saves.
    """
    top = relationships(book_zip, path, "")
    book = next((p for kind, p in top.values() if kind == "officeDocument"), "")
    rels = relationships(book_zip, path, book)
    sheets: dict[str, str] = {}
    entries: list[SheetEntry] = []
    every_sheet: list[str | None] = []  # names by position; None for a chart sheet
    active_tab = 0
    date1904 = placeholders = False
    for element in small_xml(book_zip, path, book).iter():
        tag = local_name(element.tag)
        if tag == "workbookView" and element.get("activeTab", "").isdigit():
            active_tab = active_tab or int(element.get("activeTab", "0"))
        elif tag == "workbookPr":
            date1904 = date1904 or xml_true(element.get("date1904", "0"))
        elif tag == "calcPr":
            placeholders = xml_true(element.get("fullCalcOnLoad", "0"))
        elif tag == "sheet":
            rid = next((v for k, v in element.attrib.items() if local_name(k) == "id"), "")
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
    return BookParts(
        sheets,
        parts.get("sharedStrings"),
        parts.get("styles"),
        date1904,
        placeholders,
        tuple(entries),
        active,
    )


def relationships(book_zip: zipfile.ZipFile, path: Path, part: str) -> dict[str, tuple[str, str]]:
    """A part's relationships: id -> (kind such as `worksheet`, target part's path)."""
    folder, name = posixpath.split(part)
    rels_part = posixpath.join(folder, "_rels", f"{name}.rels")
    if rels_part not in book_zip.NameToInfo:
        return {}
    found: dict[str, tuple[str, str]] = {}
    for rel in small_xml(book_zip, path, rels_part):
        target = rel.get("Target", "")
        if rel.get("TargetMode") == "External":
            continue
        if target.startswith("/"):
            target = target[1:]
        else:
            target = posixpath.normpath(posixpath.join(folder, target))
        found[rel.get("Id", "")] = (rel.get("Type", "").rpartition("/")[2], target)
    return found


def small_xml(book_zip: zipfile.ZipFile, path: Path, part: str) -> ElementTree.Element:
    """A small part's parsed XML."""
    check_small_part(book_zip, part, path)  # read whole, so it must be small
    with book_zip.open(part) as source:
        return ElementTree.parse(source).getroot()


def local_name(tag: str) -> str:
    """An XML name without its namespace (`{uri}row`) or prefix (`x:row`)."""
    return tag.rpartition("}")[2].rpartition(":")[2]


def xml_true(value: str) -> bool:
    """An XML boolean attribute: `1` or `true`."""
    return value.strip().lower() in ("1", "true")
