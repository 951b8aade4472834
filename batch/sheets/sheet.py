"""Reads the input file (xlsx, xlsm or csv) into a validated Sheet: the entry point of input.

- xlsx/xlsm: xlsx.py streams the worksheet, every cell rendered by cells.cell_text with its
  number format, so `02134` stays `02134` (pandas' Excel reader drops number formats). Rows
  hidden in the sheet end `skipped` unless include_hidden; a merged range over data rows is
  refused, naming it; formula errors and dates are marked for validate.py.
- csv (also .txt and .tsv, as Excel's "Unicode Text" is saved): pandas, every field as text.
  csvtext.py decides the encoding (UTF-8 with or without a byte-order mark, UTF-16 with one,
  Windows-1252 only when sure) and the separator (`sep=` first line, else the one of `,` `;` tab
  `|` used most). The `'` that guards a value starting with `=`, `+`, `-` or `@` against formula
  injection (cells.neutralise: failed.csv, undo.csv) is dropped, so those files feed back.
- The header row is the first of the first 20 rows that names a customer-id column (title rows
  above it are passed over; Sheet.header_row says which). Row numbers are the spreadsheet's.
  A column with a blank header is ignored. Two columns for one field, or two with the same
  header, are an error: which one was meant cannot be guessed.
- Columns: `column_map` (--map) names a column's field, `ignore_columns` (--ignore-column)
  leaves a column out; otherwise fields.py's aliases decide. An unknown column that looks like a
  field (fields.resembled_field) is refused: sending the street without the column that holds
  the new house number would write half an address.
- Every expected failure is an InputError naming the file and what to do; nothing here prints.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Literal

from batch.core.cells import CLEAR_TOKEN, cell_text, unneutralise
from batch.core.csvtext import CsvTextError, decode, detect_separator, split_sep_line
from batch.core.errors import ConfigError, InputError
from batch.core.fields import (
    CUSTOMER_ID,
    HEADER_NAMES,
    HOUSE_NUMBER,
    field_for_header,
    field_names,
    normalise_header,
    resembled_field,
)
from batch.core.model import Problem, Sheet
from batch.core.validate import CellMark, validate_rows
from batch.sheets.xlsx import RowInfo, SheetRows, Workbook, column_letters
from batch.sheets.zipcheck import check_csv, check_headers

XLSX_SUFFIXES = (".xlsx", ".xlsm")
CSV_SUFFIXES = (".csv", ".txt", ".tsv")
HEADER_SEARCH_ROWS = 20  # the header row is looked for in this many rows from the top
_Line = tuple[int, Mapping[int, str], RowInfo | None]  # (row number, {column: text}, info)


def unknown_headers_warning(headers: tuple[str, ...]) -> str | None:
    """The one warning about columns that match no field (run keeps them in failed.csv)."""
    if not headers:
        return None
    names = ", ".join(f'"{h}"' for h in headers)
    return f"column(s) {names} match no field and are ignored (kept in failed.csv)"


def cleaned_cells_warning(cleaned: tuple[Problem, ...]) -> str | None:
    """The one warning listing the cells whose invisible characters were removed."""
    if not cleaned:
        return None
    shown = "; ".join(f"row {p.row} {p.column}: {p.reason}" for p in cleaned[:10])
    more = f"; and {len(cleaned) - 10} more cells" if len(cleaned) > 10 else ""
    return f"invisible characters cleaned in {len(cleaned)} cell(s): {shown}{more}"


def sheet_warnings(sheet: Sheet) -> list[str]:
    """What a person should know about how the sheet was read (run logs it, validate prints it)."""
    warnings: list[str] = []
    if sheet.header_row > 1:
        where = f'sheet "{sheet.sheet_name}"' if sheet.sheet_name else "the file"
        warnings.append(
            f"the headers are in row {sheet.header_row} of {where}; the row(s) above them are"
            " taken as a title and not read"
        )
    for warning in (
        unknown_headers_warning(sheet.unknown_headers),
        cleaned_cells_warning(sheet.cleaned),
    ):
        if warning:
            warnings.append(warning)
    return warnings


def load_sheet(
    path: Path,
    sheet: str | None = None,
    clear_token: str = CLEAR_TOKEN,
    *,
    column_map: Mapping[str, str] | None = None,
    ignore_columns: Iterable[str] = (),
    include_hidden: bool = False,
) -> Sheet:
    """Reads and validates the input file: its valid rows and its rejected ones.

    sheet: the worksheet of an xlsx, by name (any case); default the first one. Not for csv.
    clear_token: the cell text that clears a field; default `#N/A` (also Excel's #N/A error
    typed into a cell, never one a formula produced).
    column_map: column header -> field name (`--map`), over the aliases.
    ignore_columns: headers of columns to leave out (`--ignore-column`): no warning, not sent.
    include_hidden: send rows hidden in the sheet too (`--include-hidden`).
    Raises InputError (exit 2) for a missing or unreadable file, an unknown format, an unknown
    sheet, no customer-id column, an ambiguous header row or a column that looks like a field
    but is not read; ConfigError for a blank token or a bad --map.
    """
    if not clear_token.strip():
        raise ConfigError("--clear-token must not be blank: a blank cell already means 'keep'")
    columns = _Choices(column_map or {}, tuple(ignore_columns))
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in XLSX_SUFFIXES:
        return _load_xlsx(path, sheet, clear_token, columns, include_hidden)
    if suffix in CSV_SUFFIXES:
        if sheet is not None:
            raise InputError(f"{path}: a csv file has no sheets; leave out --sheet")
        return _load_csv(path, clear_token, columns)
    if suffix == ".xls":
        raise InputError(f"{path}: the old .xls format is not read; save it as .xlsx from Excel")
    raise InputError(
        f"{path}: unknown file type {suffix or '(none)'}; pcbatch reads .xlsx, .xlsm and .csv"
        " (.txt and .tsv as csv)"
    )


def input_sha256(path: Path) -> str:
    """Hex SHA-256 of the file's bytes (the journal ties a run to its exact input)."""
    try:
        with Path(path).open("rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from exc


class _Choices:
    """The person's choices of columns: --map and --ignore-column, matched like headers."""

    def __init__(self, column_map: Mapping[str, str], ignore: tuple[str, ...]) -> None:
        known = field_names()
        for column, name in column_map.items():
            if name not in known:
                raise ConfigError(
                    f'--map "{column}={name}": {name} is no field; use one of: ' + ", ".join(known)
                )
        self.column_map = dict(column_map)
        self.ignore = ignore
        self._map = {normalise_header(c): n for c, n in column_map.items()}
        self._ignore = {normalise_header(c) for c in ignore}

    def field_of(self, header: str) -> tuple[str | None, bool]:
        """(field name or None, chosen by the person) for a header; ignored ones: (None, True)."""
        key = normalise_header(header)
        if header in self.column_map:
            return self.column_map[header], True
        if key in self._map:
            return self._map[key], True
        if header in self.ignore or key in self._ignore:
            return None, True
        field = field_for_header(header)
        return (field.name if field else None), False

    def unmatched(self, headers: Iterable[str]) -> list[str]:
        """The --map and --ignore-column names that match no header."""
        present = {normalise_header(h) for h in headers} | set(headers)
        return [
            c
            for c in (*self.column_map, *self.ignore)
            if c not in present and normalise_header(c) not in present
        ]


def _load_csv(path: Path, clear_token: str, choices: _Choices) -> Sheet:
    """A csv file, every field as text."""
    import io

    import pandas as pd  # here: `pcbatch --help` should not wait for pandas

    try:
        text, _encoding = decode(path.read_bytes())
        text, separator = split_sep_line(text)
        separator = separator or detect_separator(text)
        check_csv(path, text, separator)  # issue 28: Excel's limits, before pandas reads it
    except CsvTextError as exc:
        raise InputError(f"{path}: {exc}") from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from exc
    titles, title_lines = _csv_title_rows(text, separator, choices)
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
    except pd.errors.ParserError as exc:
        raise InputError(f"{path}: not a well-formed csv file ({exc}); check the quotes") from exc
    else:
        lines = frame.to_numpy(dtype=object).tolist()  # plain lists of str: no numpy past here
    # A `'` that report.py put before `=`, `+`, `-` or `@` in failed.csv/undo.csv comes off again.
    texts = (
        (n, {i: unneutralise(cell_text(v)) for i, v in enumerate(line)}, None)
        for n, line in enumerate(lines, start=titles + 1)
    )
    return _build(path, "csv", None, (), texts, clear_token, choices, include_hidden=True)


def _csv_title_rows(text: str, separator: str, choices: _Choices) -> tuple[int, int]:
    """(rows, physical lines) above a csv's header row: the rows before the first one, of the
    first HEADER_SEARCH_ROWS, that names a customer-id column; (0, 0) when none does."""
    import csv
    import io

    reader = csv.reader(io.StringIO(text), delimiter=separator)
    for index in range(HEADER_SEARCH_ROWS):
        lines_before = reader.line_num
        record = next(reader, None)
        if record is None:
            break
        if _names_customer_id(dict(enumerate(record)), choices):
            return index, lines_before
    return 0, 0


def _build(
    path: Path,
    file_format: Literal["csv", "xlsx"],
    sheet_name: str | None,
    other_sheets: tuple[str, ...],
    lines: Iterable[_Line],
    clear_token: str,
    choices: _Choices,
    *,
    include_hidden: bool,
) -> Sheet:
    """The Sheet from the file's rows: the header row (found near the top), then the data."""
    rows = iter(lines)
    top = list(itertools.islice(rows, HEADER_SEARCH_ROWS))
    header_at = next(
        (i for i, (_, cells, _) in enumerate(top) if _names_customer_id(cells, choices)), None
    )
    if header_at is None:
        first = top[0][1] if top else {}
        raise InputError(_no_header_row(path, sheet_name, other_sheets, first, choices))
    number, first, _ = top[header_at]
    kept = [(i, h) for i, h in sorted(first.items()) if h]
    check_headers(path, ((column_letters(i), h) for i, h in kept))  # issue 28
    columns = _columns(path, kept, choices)
    headers = tuple(h for _, h in kept)
    by_index = dict(kept)
    marks: dict[int, dict[str, CellMark]] = {}
    hidden: set[int] = set()

    def records() -> Iterator[tuple[int, dict[str, str]]]:
        for n, cells, info in itertools.chain(top[header_at + 1 :], rows):
            if info is not None:
                if info.hidden and not include_hidden:
                    hidden.add(n)
                if info.marks:
                    marks[n] = {by_index[i]: m for i, m in info.marks.items() if i in by_index}
            if cells:
                yield n, {h: cells.get(i, "") for i, h in kept}

    cleaned: list[Problem] = []
    valid, rejected = validate_rows(
        records(), columns, clear_token, marks=marks, hidden=hidden, cleaned=cleaned
    )
    if isinstance(lines, SheetRows):
        _refuse_merged_data(path, lines, number)
    known = set(columns.values())
    unknown = tuple(h for h in headers if h not in known and choices.field_of(h) == (None, False))
    return Sheet(
        path=str(path),
        format=file_format,
        sheet_name=sheet_name,
        headers=headers,
        columns=columns,
        unknown_headers=unknown,
        rows=tuple(valid),
        not_sent=tuple(rejected),
        header_row=number,
        cleaned=tuple(cleaned),
    )


def _names_customer_id(cells: Mapping[int, str], choices: _Choices) -> bool:
    """True when a row's cells include a header naming the customer id column."""
    return any(text and choices.field_of(text)[0] == CUSTOMER_ID for text in cells.values())


def _no_header_row(
    path: Path,
    sheet_name: str | None,
    other_sheets: tuple[str, ...],
    first: Mapping[int, str],
    choices: _Choices,
) -> str:
    """The refusal of a sheet without a header row, saying where one must be, and --sheet."""
    found = ", ".join(f'"{h}"' for _, h in sorted(first.items()) if h) or "none"
    aliases = ", ".join(HEADER_NAMES[CUSTOMER_ID][:4])
    where = f'{path} (sheet "{sheet_name}")' if sheet_name else f"{path}"
    message = (
        f"{where}: no header row with a customer id column in the first {HEADER_SEARCH_ROWS}"
        f" rows (row 1 holds: {found}). Name that column one of: {aliases}, or its Dutch,"
        " German, French, Spanish, Italian or Portuguese name (case, accents and punctuation"
        ' are ignored), or say which column it is with --map "Column=customer_id"'
    )
    if sheet_name is not None and len(other_sheets) > 1:
        listed = ", ".join(f'"{n}"' for n in other_sheets)
        message += f". The workbook's sheets are {listed}: choose one with --sheet NAME"
    unmatched = choices.unmatched(first.values())
    if unmatched:
        message += ". Not found: " + ", ".join(f'"{c}"' for c in unmatched)
    return message


def _columns(path: Path, kept: list[tuple[int, str]], choices: _Choices) -> dict[str, str]:
    """field -> header, in the sheet's column order; refuses ambiguous or unsure header rows."""
    unmatched = choices.unmatched(h for _, h in kept)
    if unmatched:
        names = ", ".join(f'"{c}"' for c in unmatched)
        found = ", ".join(f'"{h}"' for _, h in kept)
        raise InputError(
            f"{path}: --map/--ignore-column name(s) {names} match no column; the headers are"
            f" {found}"
        )
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
        name, chosen = choices.field_of(header)
        if name is None:
            like = None if chosen else resembled_field(header)
            if like is not None:
                raise InputError(
                    f'{path}: column "{header}" ({letter}) looks like {like} but matches no'
                    f" field, so it would not be sent; say what it holds with --map"
                    f' "{header}={like}" (or another field), or leave it out with'
                    f' --ignore-column "{header}"'
                )
            continue
        if name in columns:
            other = columns[name]
            raise InputError(
                f'{path}: columns "{other}" ({letters[other]}) and "{header}" ({letter}) both'
                f" hold {name}; keep one of them (or --ignore-column one)"
            )
        columns[name] = header
    if HOUSE_NUMBER in columns and "address_line1" not in columns:
        header = columns[HOUSE_NUMBER]
        raise InputError(
            f'{path}: column "{header}" holds house numbers but no column holds the street;'
            " a number alone is half an address: add the street column, or --ignore-column"
            f' "{header}"'
        )
    return columns


def _refuse_merged_data(path: Path, rows: SheetRows, header_row: int) -> None:
    """A merged range over several rows below the header: its value would be spread silently."""
    spread = [ref for ref, first, last in rows.merged if last > first and last > header_row]
    if spread:
        names = ", ".join(spread[:5]) + (f" and {len(spread) - 5} more" if len(spread) > 5 else "")
        raise InputError(
            f"{path}: merged cells {names} span several rows; Excel shows their value on each"
            " row but stores it in the first only: unmerge them and fill every row"
        )


def _load_xlsx(
    path: Path, sheet: str | None, clear_token: str, choices: _Choices, include_hidden: bool
) -> Sheet:
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
        return _build(
            path,
            "xlsx",
            title,
            names,
            book.rows(title),
            clear_token,
            choices,
            include_hidden=include_hidden,
        )
