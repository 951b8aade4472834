"""The files of `pcbatch export`: the sheet (xlsx or csv) and its side file of errors, streamed.

- The sheet: row 1 holds export_rows.EXPORT_HEADERS, then one row per customer, appended as they
  come (openpyxl write-only for xlsx, the csv module for csv), so a partner with 100,000
  customers never has them all in memory. It is streamed into files.atomic_write's temporary
  file (a random name, 0600, never through a link) and renamed when closed: a reader never sees
  half a file, a failed export leaves no file that looks whole, and another user who can write
  the folder cannot make the export land anywhere else.
- Every cell is text. In a csv, text beginning (past any `'`) with `=`, `+`, `-`, `@`, tab or CR
  gets a leading `'` (cells.neutralise; pcbatch's csv loader drops it again); in an xlsx it is a
  text cell with Excel's quote prefix, its value unchanged. csv files are UTF-8 with a BOM, as
  the report's are, so Excel shows accents right.
- The side file (`<OUTPUT stem>-errors.csv` beside OUTPUT) lists each customer that could not be
  exported, with ERROR_COLUMNS; it is written the same way (0600, temporary name, renamed when
  the export ends, even one that stops early: the errors so far are true), only when there was
  an error; an old one from an earlier export of the same OUTPUT is removed when the export
  starts (removing a link never touches what it points to).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Mapping
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

from openpyxl import Workbook
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from batch.core.cells import neutralise
from batch.core.errors import ConfigError
from batch.core.export_rows import EXPORT_HEADERS, export_row
from batch.durable.files import atomic_write, check_target
from batch.output.report_xlsx import header_row, set_widths, xlsx_value

SUFFIXES = (".xlsx", ".csv")
SHEET_TITLE = "Customers"
ERROR_COLUMNS = ("customer_id", "company", "status", "http_status", "error_code", "message")


def errors_path(output: Path) -> Path:
    """The side file of an export: `customers.xlsx` -> `customers-errors.csv`, same folder."""
    return output.with_name(f"{output.stem}-errors.csv")


def partial_path(output: Path) -> Path:
    """Where an export that did not finish leaves the rows it read: `NAME.partial.csv` (.xlsx)."""
    return output.with_name(f"{output.stem}.partial{output.suffix}")


def check_output(output: Path, overwrite: bool) -> None:
    """Refuse an OUTPUT that cannot be written, before anything is sent (ConfigError, exit 2)."""
    if output.suffix.lower() not in SUFFIXES:
        raise ConfigError(
            f"{output}: the sheet is written as .xlsx or .csv; name the file customers.xlsx "
            "or customers.csv"
        )
    if not output.parent.is_dir():
        raise ConfigError(f"{output}: the folder {output.parent} does not exist; create it first")
    check_target(output)  # a symbolic link or another user's file: never written over
    check_target(errors_path(output))
    if output.exists() and not overwrite:
        raise ConfigError(
            f"{output} exists; pcbatch export does not write over a sheet that may hold edits: "
            "pick another name, or add --overwrite"
        )
    if not os.access(output.parent, os.W_OK):
        raise ConfigError(f"{output}: cannot write in {output.parent} (permission denied)")


class SheetWriter:
    """Appends rows under EXPORT_HEADERS to an xlsx or csv file; `with SheetWriter(path) as w`.

    The file appears under its name only when the block ends without an exception, and when
    `finished` is False (the export did not read every customer) under partial_path(path)
    instead: a file under the sheet's own name is always a whole export.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.finished = True
        self.rows = 0
        self._stack = ExitStack()
        self._xlsx = path.suffix.lower() == ".xlsx"
        self._file: IO[str] | None = None
        self._book: Workbook | None = None
        self._sheet: WriteOnlyWorksheet | None = None
        self._writer: Any = None  # csv.writer's type is private to the csv module

    def __enter__(self) -> Self:
        if self._xlsx:
            self._book = Workbook(write_only=True)
            sheet: WriteOnlyWorksheet = self._book.create_sheet(SHEET_TITLE)
            set_widths(sheet, [38.0] + [20.0] * (len(EXPORT_HEADERS) - 1))
            sheet.freeze_panes = "A2"
            sheet.append(header_row(sheet, list(EXPORT_HEADERS)))
            self._sheet = sheet
        else:
            self._file = self._stack.enter_context(
                atomic_write(self.path, encoding="utf-8-sig", newline="", redirect=self.written_to)
            )
            self._writer = csv.writer(self._file)
            self._writer.writerow(EXPORT_HEADERS)
        return self

    def written_to(self) -> Path:
        """Where the rows go when the block ends: the sheet's name, or its partial one."""
        return self.path if self.finished else partial_path(self.path)

    def append(self, cells: tuple[str, ...]) -> None:
        """One customer's row, cells in EXPORT_HEADERS order ("" for a blank cell)."""
        if self._sheet is not None:
            self._sheet.append([xlsx_value(self._sheet, text) for text in cells])
        else:
            self._writer.writerow([neutralise(text) for text in cells])
        self.rows += 1

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._book is not None and exc_type is None:
            with atomic_write(self.written_to(), binary=True) as file:
                self._book.save(file)
        # The csv's temporary file: renamed over path, or removed when the block raised.
        self._stack.__exit__(exc_type, exc, tb)


class ErrorsWriter:
    """The side file: one line per customer not exported; created at the first line only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines = 0
        self._file: IO[str] | None = None
        self._writer: Any = None  # csv.writer's type is private to the csv module
        self._stack = ExitStack()
        check_target(path)
        path.unlink(missing_ok=True)  # an earlier export's errors must not pass for this one's

    def __enter__(self) -> Self:
        return self

    def append(
        self,
        customer_id: str,
        company: str,
        status: str,
        http_status: int | None,
        error_code: str | None,
        message: str,
    ) -> None:
        """One customer that could not be exported, and why."""
        if self._file is None:
            self._file = self._stack.enter_context(
                atomic_write(self.path, encoding="utf-8-sig", newline="")
            )
            self._writer = csv.writer(self._file)
            self._writer.writerow(ERROR_COLUMNS)
        line = [customer_id, company, status, "" if http_status is None else str(http_status)]
        line += [error_code or "", message]
        self._writer.writerow([neutralise(text) for text in line])
        self.lines += 1

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Committed even when the export stopped early: each line so far is a true error.
        self._stack.__exit__(None, None, None)


def write_sheet(path: Path, profiles: Iterable[tuple[str, Mapping[str, object]]]) -> int:
    """The export sheet of (customer id, billing profile) pairs, as `pcbatch export` writes it;
    returns the number of rows. For `pcbatch simulate --write-sheet`, which knows the profiles.
    """
    with SheetWriter(path) as sheet:
        for customer_id, profile in profiles:
            sheet.append(export_row(customer_id, profile).cells)
    return sheet.rows
