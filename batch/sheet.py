"""Reads the input file (xlsx, xlsm or csv) into a validated Sheet: the entry point of input.

- xlsx/xlsm: xlsx.py streams the worksheet, every cell rendered by cells.cell_text with its
  number format, so `02134` stays `02134` (pandas' Excel reader drops number formats).
- csv: pandas, every field as text, UTF-8 with or without a byte-order mark. The separator is
  the one of `,` `;` or tab that the header line uses most (Excel writes `;` in some locales).
  The `'` that guards a value starting with `=`, `+`, `-` or `@` against formula injection
  (cells.neutralise: failed.csv, undo.csv) is dropped, so those files feed back unchanged.
- Row 1 holds the headers; row numbers are the spreadsheet's (blank rows still count). A column
  with a blank header is ignored. Two columns for one field, or two with the same header, are
  an error: which one was meant cannot be guessed.
- Every expected failure is an InputError naming the file and what to do; nothing here prints.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Literal

from batch.core.cells import CLEAR_TOKEN, cell_text, unneutralise
from batch.core.errors import ConfigError, InputError
from batch.core.fields import BY_NAME, CUSTOMER_ID, field_for_header
from batch.core.model import Sheet
from batch.core.validate import validate_rows
from batch.xlsx import Workbook, column_letters

XLSX_SUFFIXES = (".xlsx", ".xlsm")
CSV_SUFFIXES = (".csv",)
_SEPARATORS = (",", ";", "\t")
_Lines = Iterator[tuple[int, Mapping[int, str]]]  # (row number, {column index from 0: text})


def unknown_headers_warning(headers: tuple[str, ...]) -> str | None:
    """The one warning about columns that match no field (run keeps them in failed.csv)."""
    if not headers:
        return None
    names = ", ".join(f'"{h}"' for h in headers)
    return f"column(s) {names} match no field and are ignored (kept in failed.csv)"


def load_sheet(path: Path, sheet: str | None = None, clear_token: str = CLEAR_TOKEN) -> Sheet:
    """Reads and validates the input file: its valid rows and its rejected ones.

    sheet: the worksheet of an xlsx, by name (any case); default the first one. Not for csv.
    clear_token: the cell text that clears a field; default `#N/A` (also Excel's #N/A error).
    Raises InputError (exit 2) for a missing or unreadable file, an unknown format, an unknown
    sheet, no customer-id column or an ambiguous header row; ConfigError for a blank token.
    """
    if not clear_token.strip():
        raise ConfigError("--clear-token must not be blank: a blank cell already means 'keep'")
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in XLSX_SUFFIXES:
        return _load_xlsx(path, sheet, clear_token)
    if suffix in CSV_SUFFIXES:
        if sheet is not None:
            raise InputError(f"{path}: a csv file has no sheets; leave out --sheet")
        return _load_csv(path, clear_token)
    if suffix == ".xls":
        raise InputError(f"{path}: the old .xls format is not read; save it as .xlsx from Excel")
    raise InputError(
        f"{path}: unknown file type {suffix or '(none)'}; pcbatch reads .xlsx, .xlsm and .csv"
    )


def input_sha256(path: Path) -> str:
    """Hex SHA-256 of the file's bytes (the journal ties a run to its exact input)."""
    try:
        with Path(path).open("rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from exc


def _load_csv(path: Path, clear_token: str) -> Sheet:
    """A csv file, every field as text."""
    import pandas as pd  # here: `pcbatch --help` should not wait for pandas

    try:
        frame = pd.read_csv(
            path,
            sep=_separator(path),
            header=None,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,  # blank lines still count in row numbers
            encoding="utf-8-sig",
        )
    except pd.errors.EmptyDataError:
        lines: list[list[str]] = []
    except pd.errors.ParserError as exc:
        raise InputError(f"{path}: not a well-formed csv file ({exc}); check the quotes") from exc
    except UnicodeDecodeError as exc:
        raise _not_utf8(path, exc) from exc
    else:
        lines = frame.to_numpy(dtype=object).tolist()  # plain lists of str: no numpy past here
    # A `'` that report.py put before `=`, `+`, `-` or `@` in failed.csv/undo.csv comes off again.
    texts = (
        (n, {i: unneutralise(cell_text(v)) for i, v in enumerate(line)})
        for n, line in enumerate(lines, start=1)
    )
    return _build(path, "csv", None, texts, clear_token)


def _separator(path: Path) -> str:
    """The separator the header line uses most: `,` unless `;` or tab is more frequent."""
    try:
        with path.open(encoding="utf-8-sig") as f:
            first = f.readline()
    except UnicodeDecodeError as exc:
        raise _not_utf8(path, exc) from exc
    return max(_SEPARATORS, key=first.count)


def _not_utf8(path: Path, exc: UnicodeDecodeError) -> InputError:
    """The error for a csv in another encoding (Excel's plain "CSV" is Windows-1252)."""
    return InputError(
        f'{path}: not UTF-8 text ({exc.reason}); in Excel, save it as "CSV UTF-8 (Comma delimited)"'
    )


def _build(
    path: Path,
    file_format: Literal["csv", "xlsx"],
    sheet_name: str | None,
    lines: _Lines,
    clear_token: str,
) -> Sheet:
    """The Sheet from the file's rows: row 1 is the header row, the rest are data."""
    rows = iter(lines)
    number, first = next(rows, (1, {}))
    kept = [(i, h) for i, h in sorted(first.items()) if h] if number == 1 else []
    columns = _columns(path, kept)  # raises when row 1 is blank: it has no customer id column
    headers = tuple(h for _, h in kept)
    records = ((n, {h: cells.get(i, "") for i, h in kept}) for n, cells in rows)
    valid, rejected = validate_rows(records, columns, clear_token)
    known = set(columns.values())
    return Sheet(
        path=str(path),
        format=file_format,
        sheet_name=sheet_name,
        headers=headers,
        columns=columns,
        unknown_headers=tuple(h for h in headers if h not in known),
        rows=tuple(valid),
        not_sent=tuple(rejected),
    )


def _columns(path: Path, kept: list[tuple[int, str]]) -> dict[str, str]:
    """field -> header, in the sheet's column order; refuses ambiguous or id-less header rows."""
    columns: dict[str, str] = {}
    letters: dict[str, str] = {}
    for index, header in kept:
        letter = column_letters(index)
        if header in letters:
            raise InputError(
                f'{path}: two columns are named "{header}" ({letters[header]} and {letter});'
                " rename one of them"
            )
        letters[header] = letter
        field = field_for_header(header)
        if field is None:
            continue
        if field.name in columns:
            other = columns[field.name]
            raise InputError(
                f'{path}: columns "{other}" ({letters[other]}) and "{header}" ({letter}) both'
                f" hold {field.name}; keep one of them"
            )
        columns[field.name] = header
    if CUSTOMER_ID not in columns:
        found = ", ".join(f'"{h}"' for _, h in kept) or "none"
        aliases = ", ".join(BY_NAME[CUSTOMER_ID].aliases)
        raise InputError(
            f"{path}: no customer id column. Headers found in row 1: {found}. Name the column"
            f" one of: {aliases} (case, spaces and punctuation are ignored, e.g. Customer ID)"
        )
    return columns


def _load_xlsx(path: Path, sheet: str | None, clear_token: str) -> Sheet:
    """An xlsx/xlsm workbook's sheet (exact name first, then any case), or its first sheet."""
    with Workbook(path) as book:
        names = book.sheet_names
        if not names:
            raise InputError(f"{path}: the workbook has no worksheet")
        title = names[0]
        if sheet is not None:
            matches = [n for n in names if n == sheet] or [
                n for n in names if n.casefold() == sheet.casefold()
            ]
            if not matches:
                listed = ", ".join(f'"{n}"' for n in names)
                raise InputError(f'{path}: no sheet named "{sheet}"; the sheets are {listed}')
            title = matches[0]
        return _build(path, "xlsx", title, book.rows(title), clear_token)
