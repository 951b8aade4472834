"""Refuses hostile input files cheaply, before they are parsed: zip bombs, XML bombs, huge cells.

An xlsx is a zip of XML parts. A 400 KB file can hold shared strings that unzip to 180 MB and
take minutes and gigabytes to parse; this check reads only the zip's central directory (no
decompression) and refuses, naming the file and the part, when a part would unzip to more than
MAX_PART_BYTES, all of them to more than MAX_TOTAL_BYTES, or a part over RATIO_FLOOR_BYTES
would unzip to more than MAX_RATIO times its compressed size (Apache POI's default limit for
Office files: 100).

The sizes checked are the ones the directory declares, and they bind: Python's zipfile never
hands out more bytes of a part than its declared size (a part that inflates further fails its
CRC check), so a lying directory cannot get past this check either.

Issue 28, point 2 (each limit fits the part's job, so every hostile file ends in well under
10 s and 300 MB, bench/bench_hostile.py measures it):
- No DOCTYPE in any XML part (as defusedxml refuses them): entity declarations live only in a
  DOCTYPE, so no billion laughs, no external entity, no chain of declarations for expat's
  CVE-2024-8176 to crash on. Checked on each part's prolog (the text before its first
  element; at most MAX_PROLOG_BYTES), before any part is parsed.
- The parts read whole (the workbook, every .rels, the styles) are small: check_small_part
  refuses one over SMALL_PART_BYTES. Sheets and shared strings are streamed: MAX_PART_BYTES.
- A cell over MAX_CELL_CHARS (Excel's 32,767) is refused where it is read (cell_too_long),
  a header over MAX_HEADER_CHARS (check_headers), and a csv over Excel's limits (check_csv:
  more than MAX_COLUMNS columns, a field over MAX_CELL_CHARS, more than MAX_ROWS rows).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path

from batch.core.errors import InputError

MAX_PART_BYTES = 256 * 1024 * 1024  # one part unzipped; a 100,000-row sheet is about 60 MB
MAX_TOTAL_BYTES = 1024 * 1024 * 1024  # every part together
MAX_RATIO = 100  # unzipped bytes per zipped byte, for parts over RATIO_FLOOR_BYTES
RATIO_FLOOR_BYTES = 1024 * 1024  # smaller parts may compress as well as they like
SMALL_PART_BYTES = 8 * 1024 * 1024  # workbook, .rels, styles: Excel's are a few KB to 1 MB
MAX_PROLOG_BYTES = 64 * 1024  # text before a part's first element (declaration, comments)
# Excel's specifications and limits: a cell holds 32,767 characters; 16,384 columns (XFD) and
# 1,048,576 rows a sheet.
MAX_CELL_CHARS = 32_767
MAX_COLUMNS = 16_384
MAX_ROWS = 1_048_576
MAX_HEADER_CHARS = 255  # a header names a column: a few words
# The prolog's end: the first `<` that opens an element (not `<?`, `<!--` or `<!DOCTYPE`).
_ELEMENT = re.compile(rb"<[^?!]")


def check_parts(archive: zipfile.ZipFile, path: Path) -> None:
    """Raise InputError naming the file and the first part that is too big or too compressed."""
    total = 0
    for info in archive.infolist():
        size, packed = info.file_size, info.compress_size
        total += size
        if size > MAX_PART_BYTES:
            raise InputError(_too_big(path, info.filename, size))
        if size > RATIO_FLOOR_BYTES and size > MAX_RATIO * max(packed, 1):
            raise InputError(
                f"{path}: the part {info.filename} would unzip from {_mb(packed)} to "
                f"{_mb(size)} ({size // max(packed, 1)} times; at most {MAX_RATIO}): refused as "
                "a zip bomb; save the workbook again from Excel"
            )
        if total > MAX_TOTAL_BYTES:
            raise InputError(
                f"{path}: its parts would unzip to over {_mb(MAX_TOTAL_BYTES)} (at "
                f"{info.filename}): this is not a workbook pcbatch can use"
            )
        if info.filename.endswith(".rels"):
            check_small_part(archive, info.filename, path)
    for info in archive.infolist():
        if info.filename.endswith((".xml", ".rels")):
            _check_prolog(archive, info, path)


def _too_big(path: Path, part: str, size: int) -> str:
    """Why a part over MAX_PART_BYTES is refused, and what to do. A sheet that large has over
    400,000 rows of data, or (more often) cells formatted far below its data: a range
    formatted down to row 1,048,576 writes every styled empty cell."""
    said = f"{path}: the part {part} would unzip to {_mb(size)}, over the {_mb(MAX_PART_BYTES)}"
    if part.startswith("xl/worksheets/"):
        return (
            f"{said} pcbatch reads: its cells go on far below the data, or it holds over "
            "400,000 rows; delete the empty rows under the data (or copy the rows with data "
            "into a new workbook), or split the sheet"
        )
    return (
        f"{said} pcbatch reads: this is not a workbook it can use (split the sheet, or save it "
        "again from Excel)"
    )


def check_small_part(archive: zipfile.ZipFile, part: str, path: Path) -> None:
    """Raise InputError when `part`, one that is read whole, is over SMALL_PART_BYTES."""
    info = archive.NameToInfo.get(part)
    if info is not None and info.file_size > SMALL_PART_BYTES:
        raise InputError(
            f"{path}: the part {part} would unzip to {_mb(info.file_size)}, over the "
            f"{_mb(SMALL_PART_BYTES)} such a part ever needs: refused as an XML bomb; save the "
            "workbook again from Excel"
        )


def _check_prolog(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> None:
    """Raise InputError when the part declares a DOCTYPE (or its prolog never ends)."""
    with archive.open(info) as source:
        head = source.read(MAX_PROLOG_BYTES)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or head[1:2] == b"\0":
        head = head.decode("utf-16", errors="replace").encode("utf-8")
    found = _ELEMENT.search(head)
    prolog = head if found is None else head[: found.start()]
    if b"<!DOCTYPE" in prolog.upper():
        raise InputError(
            f"{path}: the part {info.filename} declares a DOCTYPE, which no workbook needs and "
            "XML bombs use: refused; save the workbook again from Excel"
        )
    if found is None and len(head) >= MAX_PROLOG_BYTES:
        raise InputError(
            f"{path}: the part {info.filename} has no element in its first "
            f"{MAX_PROLOG_BYTES // 1024} KB: refused; save the workbook again from Excel"
        )


def cell_too_long(path: Path, where: str) -> InputError:
    """The error for a cell over MAX_CELL_CHARS; where: `sheet part xl/..., cell B7`."""
    return InputError(
        f"{path}: {where} holds over {MAX_CELL_CHARS:,} characters, more than an Excel cell "
        "holds: not a sheet pcbatch reads; check the file"
    )


def check_headers(path: Path, headers: Iterable[tuple[str, str]]) -> None:
    """Raise InputError for a header (column letter, text) over MAX_HEADER_CHARS."""
    for letter, header in headers:
        if len(header) > MAX_HEADER_CHARS:
            raise InputError(
                f"{path}: the header of column {letter} is {len(header):,} characters long "
                f"(it begins {header[:40]!r}); a header names a column in at most "
                f"{MAX_HEADER_CHARS} characters: is the header row the right one?"
            )


def check_csv(path: Path, text: str, separator: str) -> None:
    """Raise InputError for a csv past Excel's limits: MAX_COLUMNS columns, MAX_CELL_CHARS in a
    field, MAX_ROWS rows; also a field the csv module cannot read (an unclosed quote)."""
    csv.field_size_limit(max(csv.field_size_limit(), MAX_CELL_CHARS + 1))
    reader = csv.reader(io.StringIO(text), delimiter=separator)
    try:
        for record in reader:
            if len(record) > MAX_COLUMNS:
                raise InputError(
                    f"{path}: line {reader.line_num} has {len(record):,} fields, more than "
                    f"Excel's {MAX_COLUMNS:,} columns: not a sheet pcbatch reads"
                )
            if reader.line_num > MAX_ROWS:
                raise InputError(f"{path}: more than Excel's {MAX_ROWS:,} rows: split the file")
            for index, field in enumerate(record):
                if len(field) > MAX_CELL_CHARS:
                    raise InputError(
                        f"{path}: line {reader.line_num}, field {index + 1} holds over "
                        f"{MAX_CELL_CHARS:,} characters, more than an Excel cell holds"
                    )
    except csv.Error as exc:
        raise InputError(
            f"{path}: line {reader.line_num}: {exc}; a field over {MAX_CELL_CHARS:,} "
            "characters, or a quote left open: check the quotes"
        ) from None


def _mb(size: int) -> str:
    """Bytes in megabytes for a message: `180.0 MB`, `0.4 MB`."""
    return f"{size / 1_000_000:.1f} MB"
