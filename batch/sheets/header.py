"""Which row of a sheet is its header, and which column is which field.

The header row: of the rows near the top that name a customer id, the one naming the most fields
(or --header-row); refused, naming both rows, when another is a close call. Columns: headers
matched to fields as `--map` and `--ignore-column` say, else by the fields' header names; a
column that maps to a field but is hidden is refused unless --include-hidden. Every refusal is
one InputError (or ConfigError) naming the file, the sheet, the row or column, and the fix.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

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
from batch.sheets.rows import column_letters

HEADER_SEARCH_ROWS = 20  # the header row is looked for in this many rows from the top


class ColumnChoices:
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


def fields_named(cells: Mapping[int, str], choices: ColumnChoices) -> set[str]:
    """The fields a row's cells name when read as headers."""
    return {name for text in cells.values() if text and (name := choices.field_of(text)[0])}


def header_index(
    path: Path,
    sheet_name: str | None,
    top: list[tuple[int, Mapping[int, str]]],
    header_row: int | None,
    choices: ColumnChoices,
) -> int | None:
    """The position in `top` of the header row; None when no row names a customer id.

    With --header-row, that row (it must name a customer id). Otherwise the row naming a
    customer id that names the most fields. Refused (InputError) when another row names about
    as many fields (one fewer or more, two at least), or a row below it names two or more
    fields it does not: which row holds the headers is then a guess, and a wrong one drops a
    column silently.
    """
    where = f'{path} (sheet "{sheet_name}")' if sheet_name else f"{path}"
    named = [fields_named(cells, choices) for _, cells in top]
    if header_row is not None:
        at = next((i for i, (n, _) in enumerate(top) if n == header_row), None)
        if at is None or CUSTOMER_ID not in named[at]:
            held = (
                ", ".join(f'"{h}"' for _, h in sorted(top[at][1].items()) if h)
                if at is not None
                else ""
            )
            raise InputError(
                f"{where}: --header-row {header_row}: that row names no customer id"
                f" column (it holds: {held or 'nothing'}); give the row that holds the headers"
            )
        return at
    candidates = [i for i, fields in enumerate(named) if CUSTOMER_ID in fields]
    if not candidates:
        return None
    best = max(candidates, key=lambda i: (len(named[i]), -i))
    for i, fields in enumerate(named):
        if i == best or len(fields) < 2:
            continue
        close = len(fields) >= len(named[best]) - 1
        dropped = sorted(fields - named[best]) if i > best else []
        if close or len(dropped) >= 2:
            a, b = sorted((best, i))
            raise InputError(
                f"{where}: rows {top[a][0]} and {top[b][0]} both look like the header row (row"
                f" {top[a][0]} names {_listed(named[a])}; row {top[b][0]} names"
                f" {_listed(named[b])}); say which one holds the headers with --header-row"
                f" {top[b][0]} (or --header-row {top[a][0]})"
            )
    return best


def _listed(fields: set[str]) -> str:
    return ", ".join(sorted(fields))


def refuse_hidden_columns(
    path: Path,
    sheet_name: str | None,
    kept: list[tuple[int, str]],
    hidden_columns: set[int],
    choices: ColumnChoices,
) -> None:
    """A hidden column that maps to a field: what it holds would be sent though nobody sees it."""
    hidden = [(i, h) for i, h in kept if i in hidden_columns and choices.field_of(h)[0]]
    if not hidden:
        return
    where = f'{path} (sheet "{sheet_name}")' if sheet_name else f"{path}"
    names = ", ".join(f'"{h}" ({column_letters(i)})' for i, h in hidden)
    first = hidden[0][1]
    raise InputError(
        f"{where}: column(s) {names} are hidden in the sheet, so nobody sees what they would"
        f' send; unhide and check them, leave them out with --ignore-column "{first}", or'
        " send them as they are with --include-hidden"
    )


def no_header_row(
    path: Path,
    sheet_name: str | None,
    other_sheets: tuple[str, ...],
    first: Mapping[int, str],
    choices: ColumnChoices,
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


def columns_of(path: Path, kept: list[tuple[int, str]], choices: ColumnChoices) -> dict[str, str]:
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
