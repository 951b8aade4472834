"""What every workbook reader hands sheet.py: its sheets (visible or not, which one is active)
and each sheet's rows as the texts the person sees, with what the texts alone do not say."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal, Protocol

from batch.core.cell_marks import CellMark

Visibility = Literal["visible", "hidden", "veryHidden"]


@dataclass(slots=True)
class RowInfo:
    """What a row's texts do not say: hidden in the sheet, and marks by 0-based column."""

    hidden: bool = False
    marks: dict[int, CellMark] = field(default_factory=dict)


RowTexts = tuple[int, dict[int, str], RowInfo | None]  # (row number, {column: text}, info)


@dataclass(frozen=True, slots=True)
class SheetEntry:
    """One worksheet of a workbook: its name and whether the person sees its tab.

    `veryHidden` (xlsx, xls) is hidden so that only a macro can show it again.
    """

    name: str
    visibility: Visibility = "visible"


class SheetRows:
    """The rows of one worksheet, streamed.

    merged: the merged ranges (`B3:B5`) with the first and last row each spans; a reader may
    fill it only once the rows have all been read (xlsx lists them after the rows).
    hidden_columns: 0-based indexes of the columns hidden in the sheet; known before the first
    row is handed over (every format states its columns before its rows).
    """

    def __init__(self, rows: Iterator[RowTexts]) -> None:
        self._rows = rows
        self.merged: list[tuple[str, int, int]] = []
        self.hidden_columns: set[int] = set()

    def __iter__(self) -> Iterator[RowTexts]:
        return self._rows


def column_letters(index: int) -> str:
    """0 -> `A`, 27 -> `AB`: a 0-based column's letters."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def mark_cell(info: RowInfo | None, column: int, mark: CellMark) -> RowInfo:
    """The row's info with `mark` on a cell (a new RowInfo when the row had none)."""
    info = info or RowInfo()
    info.marks[column] = mark
    return info


class Book(Protocol):
    """What sheet.py needs of an open workbook, whatever its format (a context manager)."""

    @property
    def sheets(self) -> tuple[SheetEntry, ...]: ...

    @property
    def active(self) -> str | None: ...

    def rows(self, name: str) -> SheetRows: ...

    def __enter__(self) -> Book: ...

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...
