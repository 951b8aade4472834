"""Loaded rows -> valid Rows and NotSent ones, each problem named by row and column. Pure.

Rules (README.md, "Values"):

- Cells are text, already trimmed (cells.py). A blank cell leaves its field alone; a fully blank
  row is dropped and not reported.
- The clear token (cells.is_clear) clears a field: the value becomes None. Clearing a required
  field (fields.Field.required) or the customer id is a problem.
- Any other Excel error value (`#REF!`, `#VALUE!`...) is a problem in any column.
- `customer_id` must be a GUID, any case, braces allowed; only `canonical_guid`'s lower-case output
  ever leaves this module, so text such as `../../v1/customers/<guid>` can never reach a URL.
- The address (address_checks.py): the country an ISO code, a US row's ZIP code, no whole address
  in the street cell, the house number joined into the street.
- Lengths are fields.py's, counted in UTF-16 code units as the .NET service counts them.
- Phone numbers and postal codes in scientific notation (`4.255551E+09`, what Excel writes to a
  csv for a long number) lost their digits before they reached us: a problem.
- The same customer (by canonical id) on several rows: identical rows (same values for every
  known field) -> the first counts, the others are `duplicate`; rows that differ -> every one
  of them `invalid`, naming the other rows (the first few) and the columns that differ.
- Invisible characters: zero-width ones are removed and no-break spaces made plain spaces in
  every value read (cells.clean_invisible); each such cell is listed in `cleaned`. A customer id
  that is still no GUID names the first character that does not belong in one.
- What the reader knows beyond a cell's text (cell_marks.CellMark): a formula's error value, a
  date where text belongs, a number format not rendered: each a problem naming the cell.
- Hidden rows (a filter, or hidden by hand) end `skipped` unchecked, unless the caller sends them.
- One field, one value: a cell holding a line break (Alt+Enter, or `_x000D_`, which is decoded
  first in every format) is a problem, saying where the second line goes.
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass, field

from batch.core.address_checks import address_problems, country_value
from batch.core.cell_marks import CellMark, formula_error_problem, mark_problem
from batch.core.cells import (
    clean_invisible,
    decode_escapes,
    describe_char,
    excel_error,
    is_clear,
)
from batch.core.fields import BY_NAME, CUSTOMER_ID, Field
from batch.core.ids import canonical_guid
from batch.core.model import NotSent, Problem, Row, Status

_SCIENTIFIC = re.compile(r"[+-]?[0-9]+([.,][0-9]+)?[eE][+-]?[0-9]+", re.ASCII)
_NUMBERS_ONLY = frozenset({"phone_number", "postal_code"})

_GUID_EXAMPLE = "0f8fad5b-d9cb-469f-a165-70867728950e"
_HEX = frozenset("0123456789abcdefABCDEF")
_GUID_CHARS = _HEX | frozenset("-{}")
_OTHERS_NAMED = 5  # rows of the same customer named in a message; the rest are counted
HIDDEN_REASON = "hidden in the sheet (by a filter or by hand): not sent; --include-hidden sends it"


def validate_rows(
    records: Iterable[tuple[int, Mapping[str, str]]],
    columns: Mapping[str, str],
    clear_token: str,
    *,
    marks: Mapping[int, Mapping[str, CellMark]] | None = None,
    hidden: Container[int] = (),
    cleaned: list[Problem] | None = None,
) -> tuple[list[Row], list[NotSent]]:
    """Checks loaded rows; returns the valid rows and the rejected ones, each in row order.

    records: (spreadsheet row number, {header: trimmed cell text}) for every header.
    columns: field name -> the header it is read from; must include `customer_id`.
    clear_token: the cell text that clears a field (default `#N/A`, cells.CLEAR_TOKEN).
    marks: row number -> header -> CellMark, for the cells the reader knows more about; looked
    up when the row is checked, so a streaming reader may fill it as it goes.
    hidden: row numbers hidden in the sheet; they end `skipped`, unchecked.
    cleaned: if given, gets one Problem (row, column, value, what was done) for every cell whose
    invisible characters were removed or replaced.
    """
    specs = [(BY_NAME[n], h) for n, h in columns.items() if n != CUSTOMER_ID]
    marks = {} if marks is None else marks
    cleaned = [] if cleaned is None else cleaned
    id_header = columns[CUSTOMER_ID]
    checked: list[_Checked] = []
    for number, cells in records:
        if not any(cells.values()):
            continue
        if number in hidden:
            id_text = cells.get(id_header, "")
            problem = Problem(number, id_header, id_text, HIDDEN_REASON)
            checked.append(_Checked(number, id_text, None, {}, cells, [problem], hidden=True))
            continue
        checked.append(
            _check(number, cells, id_header, specs, clear_token, marks.get(number), cleaned)
        )
    _mark_duplicates(checked, columns)
    rows: list[Row] = []
    rejected: list[NotSent] = []
    for c in checked:
        if c.hidden:
            rejected.append(NotSent(c.row, c.id_text, Status.SKIPPED, tuple(c.problems), c.raw))
        elif c.duplicate_of is not None:
            reason = f"same customer and values as row {c.duplicate_of}; only that row counts"
            problem = Problem(c.row, columns[CUSTOMER_ID], c.id_text, reason)
            rejected.append(NotSent(c.row, c.id_text, Status.DUPLICATE, (problem,), c.raw))
        elif c.problems or c.customer_id is None:
            problems = tuple(c.problems)
            rejected.append(NotSent(c.row, c.id_text, Status.INVALID, problems, c.raw))
        else:
            rows.append(Row(c.row, c.customer_id, c.values, c.raw))
    return rows, rejected


@dataclass(slots=True)
class _Checked:
    """One row after its own checks, before duplicates are looked at."""

    row: int
    id_text: str
    customer_id: str | None
    values: dict[str, str | None]
    raw: Mapping[str, str]
    problems: list[Problem] = field(default_factory=list)
    duplicate_of: int | None = None
    hidden: bool = False


def _check(
    number: int,
    cells: Mapping[str, str],
    id_header: str,
    specs: list[tuple[Field, str]],
    clear_token: str,
    marks: Mapping[str, CellMark] | None,
    cleaned: list[Problem],
) -> _Checked:
    """One row's own checks: customer id, every known cell, the address (address_checks.py)."""
    id_text = cells.get(id_header, "")
    customer_id, id_problem = _customer_id(number, id_header, id_text, clear_token, marks, cleaned)
    problems: list[Problem] = [] if id_problem is None else [id_problem]
    values: dict[str, str | None] = {}
    for spec, header in specs:
        text = cells.get(header, "")
        if not text:
            continue
        if "_x" in text:
            text = decode_escapes(text).strip()
        if marks or not text.isascii():  # the rare cells: invisible characters, marks
            text, mark = _clean_marked(number, header, text, marks, cleaned)
            if mark is not None:
                problems.append(
                    Problem(number, header, cells.get(header, ""), mark_problem(mark, clear_token))
                )
                continue
            if not text:
                continue
        if not text.isprintable() and _LINE_BREAK.search(text):  # isprintable: one C call
            problems.append(Problem(number, header, text, _line_break_problem(spec)))
            continue
        value, reason = _cell(spec, text, clear_token)
        if reason is None:
            values[spec.name] = value
        else:
            problems.append(Problem(number, header, text, reason))
    problems.extend(address_problems(number, values, cells, specs))
    return _Checked(number, id_text, customer_id, values, cells, problems)


def _customer_id(
    number: int,
    id_header: str,
    id_text: str,
    clear_token: str,
    marks: Mapping[str, CellMark] | None,
    cleaned: list[Problem],
) -> tuple[str | None, Problem | None]:
    """(the canonical GUID of the customer id cell, None), or (None, why it is none)."""
    id_clean, done = clean_invisible(id_text)
    if done is not None:
        cleaned.append(Problem(number, id_header, id_text, done))
    customer_id = canonical_guid(id_clean)
    if customer_id is not None:
        return customer_id, None
    mark = marks.get(id_header) if marks else None
    if mark is not None and mark.formula_error:
        reason = formula_error_problem(mark, clear_token)
    else:
        reason = _id_problem(id_clean, clear_token)
    return None, Problem(number, id_header, id_text, reason)


def _clean_marked(
    number: int,
    header: str,
    text: str,
    marks: Mapping[str, CellMark] | None,
    cleaned: list[Problem],
) -> tuple[str, CellMark | None]:
    """(the cell's text without invisible characters, its mark when it makes a problem)."""
    clean, done = clean_invisible(text)
    if done is not None:
        cleaned.append(Problem(number, header, text, done))
    mark = marks.get(header) if marks else None
    if mark is not None and (mark.formula_error or mark.date or mark.number_format):
        return clean, mark
    return clean, None


_LINE_BREAK = re.compile(r"[\r\n\v\f\x85\u2028\u2029]")
_NEXT_LINE = {"address_line1": "Address Line 2", "address_line2": "Address Line 3"}


def _line_break_problem(spec: Field) -> str:
    """Why a cell with a line break is no value, and where its second line goes."""
    where = _NEXT_LINE.get(spec.name)
    advice = f"put the second line in its own {where} column" if where else "write it on one line"
    return (
        "holds a line break (Alt+Enter, or text pasted from an e-mail or a CRM), which the"
        f" billing profile cannot show; {advice}"
    )


def _id_problem(text: str, clear_token: str) -> str:
    """Why a customer id cell is not a GUID, and what to do."""
    if not text:
        return (
            "blank: every row needs the customer's tenant id (a GUID); fill it in or delete the row"
        )
    if is_clear(text, clear_token):
        return "the customer id cannot be cleared; fill in the customer's tenant id (a GUID)"
    if excel_error(text):
        return "an Excel error value, not a customer id; fix the cell or its formula"
    reason = f"not a customer tenant id (a GUID like {_GUID_EXAMPLE}, braces allowed)"
    bad = next((c for c in text if c not in _GUID_CHARS), None)
    hex_digits = sum(c in _HEX for c in text)
    if bad is not None and hex_digits >= 28:  # a GUID with a stray character: name it
        where = text.index(bad) + 1
        reason += f"; character {where} is {describe_char(bad)}, which has no place in one"
    return reason + "; copy it from Partner Center"


def _cell(spec: Field, text: str, clear_token: str) -> tuple[str | None, str | None]:
    """(value to send, None) for a good non-blank cell, or (None, reason) for a bad one."""
    if text[0] == "#" or text == clear_token:  # one cheap test keeps the common case fast
        if is_clear(text, clear_token):
            if spec.required:
                return None, (
                    f"{clear_token} would clear a field Partner Center requires;"
                    " leave the cell blank to keep the current value, or fill it in"
                )
            return None, None
        error = excel_error(text)
        if error is not None:
            return None, (
                f"an Excel error value, not a value; fix the cell or its formula"
                f" (to clear the field, type {clear_token})"
            )
    if spec.name == "country":
        return country_value(text)
    if spec.name in _NUMBERS_ONLY and _SCIENTIFIC.fullmatch(text):
        return None, (
            "a number in scientific notation: its digits were lost when the file was saved;"
            " type the full number, with the column formatted as text"
        )
    # .NET counts UTF-16 code units, at most two per character: short text needs no counting.
    if spec.max_len is not None and len(text) * 2 > spec.max_len:
        length = len(text.encode("utf-16-le")) // 2
        if length > spec.max_len:
            return None, (
                f"{length} characters long; Partner Center takes at most {spec.max_len}: shorten it"
            )
    return text, None


def _mark_duplicates(checked: list[_Checked], columns: Mapping[str, str]) -> None:
    """Marks later identical rows of a customer `duplicate_of` the first; differing rows invalid."""
    by_customer: dict[str, list[_Checked]] = {}
    for c in checked:
        if c.customer_id is not None:
            by_customer.setdefault(c.customer_id, []).append(c)
    for group in by_customer.values():
        if len(group) == 1:
            continue
        contents = [_content(c, columns) for c in group]
        if all(content == contents[0] for content in contents):
            for c in group[1:]:
                c.duplicate_of = group[0].row
            continue
        differing = ", ".join(
            header
            for name, header in columns.items()
            if len({content.get(name, "") for content in contents}) > 1
        )
        rows = [c.row for c in group]
        for c in group:
            # At most _OTHERS_NAMED rows named: 100,000 rows of one customer stay linear.
            others = [str(r) for r in rows[: _OTHERS_NAMED + 1] if r != c.row][:_OTHERS_NAMED]
            more = len(rows) - 1 - len(others)
            where = f"row {others[0]}" if len(others) == 1 else f"rows {', '.join(others)}"
            if more:
                where += f" and {more} more"
            reason = (
                f"the same customer is on {where} with other values (in {differing});"
                " keep one row per customer"
            )
            c.problems.append(Problem(c.row, columns[CUSTOMER_ID], c.id_text, reason))


def _content(c: _Checked, columns: Mapping[str, str]) -> dict[str, str | None]:
    """What a row asks for, to compare rows: each field's value, or its text when invalid."""
    return {
        name: c.values[name] if name in c.values else c.raw.get(header, "")
        for name, header in columns.items()
        if name != CUSTOMER_ID and c.raw.get(header)
    }
