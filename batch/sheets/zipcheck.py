"""Refuses a zip bomb before any of its parts is parsed: every part's size and ratio, up front.

An xlsx is a zip of XML parts. A 400 KB file can hold shared strings that unzip to 180 MB and
take minutes and gigabytes to parse; this check reads only the zip's central directory (no
decompression) and refuses, naming the file and the part, when a part would unzip to more than
MAX_PART_BYTES, all of them to more than MAX_TOTAL_BYTES, or a part over RATIO_FLOOR_BYTES
would unzip to more than MAX_RATIO times its compressed size (Apache POI's default limit for
Office files: 100).

The sizes checked are the ones the directory declares, and they bind: Python's zipfile never
hands out more bytes of a part than its declared size (a part that inflates further fails its
CRC check), so a lying directory cannot get past this check either.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from batch.core.errors import InputError

MAX_PART_BYTES = 256 * 1024 * 1024  # one part unzipped; a 100,000-row sheet is about 60 MB
MAX_TOTAL_BYTES = 1024 * 1024 * 1024  # every part together
MAX_RATIO = 100  # unzipped bytes per zipped byte, for parts over RATIO_FLOOR_BYTES
RATIO_FLOOR_BYTES = 1024 * 1024  # smaller parts may compress as well as they like


def check_parts(archive: zipfile.ZipFile, path: Path) -> None:
    """Raise InputError naming the file and the first part that is too big or too compressed."""
    total = 0
    for info in archive.infolist():
        size, packed = info.file_size, info.compress_size
        total += size
        if size > MAX_PART_BYTES:
            raise InputError(
                f"{path}: the part {info.filename} would unzip to {_mb(size)}, over the "
                f"{_mb(MAX_PART_BYTES)} pcbatch reads: this is not a workbook it can use "
                "(split the sheet, or save it again from Excel)"
            )
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


def _mb(size: int) -> str:
    """Bytes in megabytes for a message: `180.0 MB`, `0.4 MB`."""
    return f"{size / 1_000_000:.1f} MB"
