"""What a reader knows about a cell beyond its text (CellMark), and why a marked cell is no value.

The readers (sheets/) mark the cells whose text alone would mislead; validate.py refuses each
marked cell with mark_problem's reason. Pure. Rules (README.md, "Values"):

- An error value a formula produced never clears a field (a failed lookup is no decision to
  clear), even when it is the clear token; the problem names the cell.
- A date where text belongs (a postal code or street Excel turned into a date) is a problem,
  naming the cell.
- A number shown with a format pcbatch cannot render exactly (CellMark.number_format) is a
  problem naming the format: the plain number is not what the person saw.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CellMark:
    """What the reader knows about a cell beyond its text: where it is, and what made it.

    cell: its reference, e.g. `C7`. formula_error: an error value computed by a formula.
    date: Excel holds a date there (the text is its ISO form).
    number_format: a number shown with a format pcbatch cannot render exactly (the text is
    the plain number, which the person did not see): the format's code.
    """

    cell: str
    formula_error: bool = False
    date: bool = False
    number_format: str | None = None


def mark_problem(mark: CellMark, clear_token: str) -> str:
    """Why a marked cell is no value: a formula's error, a date, a format not rendered."""
    if mark.formula_error:
        return formula_error_problem(mark, clear_token)
    if mark.date:
        return _date_problem(mark)
    return (
        f'cell {mark.cell} shows a number with the format "{mark.number_format}", which pcbatch'
        " cannot render exactly as Excel shows it (it depends on the language settings or the"
        " column width); format the column as text and type the value as it should be sent"
    )


def formula_error_problem(mark: CellMark, clear_token: str) -> str:
    """Why an error value a formula produced is no value (and never clears a field)."""
    return (
        f"cell {mark.cell}: its formula gives an Excel error value (a lookup that found nothing?),"
        f" which never clears a field; fix the formula, or type {clear_token} as text to clear it"
    )


def _date_problem(mark: CellMark) -> str:
    """Why a date cannot stand where text belongs."""
    return (
        f"cell {mark.cell} holds a date where text belongs (Excel turned what was typed into a"
        " date); format the column as text and type the value again"
    )
