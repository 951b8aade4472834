"""A csv file (also .txt and .tsv, as Excel's "Unicode Text" is saved) as rows of text, as a
workbook reader hands them to sheet.py.

csvtext.py decides the encoding (UTF-8 with or without a byte-order mark, UTF-16 with one,
Windows-1252 only when sure) and the separator (`sep=` first line, else the one of `,` `;` tab
`|` used most); pandas reads the fields, every one as text. The rows above the header row (a
title) are found as for a workbook and skipped before pandas reads. The `'` that guards a value
starting with `=`, `+`, `-` or `@` against formula injection (cells.neutralise: failed.csv,
undo.csv) is dropped, so those files feed back.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from batch.core.cells import cell_text, unneutralise
from batch.core.csvtext import (
    CsvTextError,
    decode,
    detect_separator,
    normalise_line_ends,
    split_sep_line,
)
from batch.core.errors import InputError
from batch.sheets.header import HEADER_SEARCH_ROWS, ColumnChoices, header_index
from batch.sheets.rows import RowTexts
from batch.sheets.zipcheck import check_csv


def csv_rows(
    path: Path, encoding: str | None, header_row: int | None, choices: ColumnChoices
) -> Iterator[RowTexts]:
    """A csv file's rows from its header row (--header-row, else found as for a workbook) on,
    every field as text. Raises InputError for a file that cannot be read or decoded, or is
    not well-formed csv."""
    import csv
    import io

    import pandas as pd  # here: `pcbatch --help` should not wait for pandas

    try:
        text, _encoding = decode(path.read_bytes(), encoding)
        text, separator = split_sep_line(normalise_line_ends(text))
        separator = separator or detect_separator(text)
        check_csv(path, text, separator)  # Excel's limits, before pandas reads it
    except CsvTextError as exc:
        raise InputError(f"{path}: {exc}") from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from exc
    try:
        titles, title_lines = _title_rows(path, text, separator, header_row, choices)
    except csv.Error as exc:
        raise InputError(f"{path}: not a well-formed csv file ({exc}); check the quotes") from exc
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=separator,
            skiprows=title_lines,  # pandas wants as many fields on every line as on the first
            header=None,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,  # blank lines still count in row numbers
        )
    except pd.errors.EmptyDataError:
        lines: list[list[str]] = []
    except (pd.errors.ParserError, ValueError, OverflowError) as exc:
        raise InputError(f"{path}: not a well-formed csv file ({exc}); check the quotes") from exc
    else:
        lines = frame.to_numpy(dtype=object).tolist()  # plain lists of str: no numpy past here
    # A `'` that report.py put before `=`, `+`, `-` or `@` in failed.csv/undo.csv comes off again.
    return (
        (n, {i: unneutralise(cell_text(v)) for i, v in enumerate(line)}, None)
        for n, line in enumerate(lines, start=titles + 1)
    )


def _title_rows(
    path: Path, text: str, separator: str, header_row: int | None, choices: ColumnChoices
) -> tuple[int, int]:
    """(rows, physical lines) above a csv's header row (chosen as for a workbook); (0, 0) when
    no row of the first HEADER_SEARCH_ROWS names a customer id (the refusal comes later)."""
    import csv
    import io

    reader = csv.reader(io.StringIO(text), delimiter=separator)
    top: list[tuple[int, dict[int, str]]] = []
    lines: list[int] = []
    while len(top) < HEADER_SEARCH_ROWS or (header_row is not None and len(top) < header_row):
        lines.append(reader.line_num)
        record = next(reader, None)
        if record is None:
            break
        top.append((len(top) + 1, {i: cell_text(v) for i, v in enumerate(record)}))
    try:
        index = header_index(path, None, top, header_row, choices)
    except InputError:
        return 0, 0  # the same refusal is made by sheet.py, from the same rows
    return (index, lines[index]) if index is not None else (0, 0)
