"""The review workbook of a plan (review.xlsx): what a reviewer reads before approving a hash.

Sheets: Summary (when planned, the input's and the plan's sha256, where it will write, the
counts), Changes (one line per field to change: row, customer, field, before -> after), and Not
planned (each row the plan will not send, and why). Every sheet prints landscape, fitted to the
page's width, its header row repeated on every page; text that a spreadsheet would run as a
formula stays text (report.xlsx_value).
"""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from batch.core.reviewed import ApprovedPlan
from batch.durable.files import atomic_write
from batch.output.report_xlsx import header_row, set_widths, xlsx_value

_WIDTHS = {"Summary": (26, 80), "Changes": (8, 38, 18, 36, 36), "Not planned": (8, 38, 18, 80)}


def write_review(path: Path, plan: ApprovedPlan) -> Path:
    """Write the review workbook of `plan` at `path` (atomically, private); returns path."""
    book = Workbook(write_only=True)
    summary = _sheet(book, "Summary", ("what", "value"))
    source, target = plan.source, plan.target
    counts = {"customers to change": len(plan.rows)}
    counts["fields to change"] = sum(len(p.changes) for p in plan.rows)
    for skipped in plan.not_planned:
        key = f"rows not planned: {skipped.status}"
        counts[key] = counts.get(key, 0) + 1
    lines: list[tuple[str, object]] = [
        ("planned at (UTC)", plan.planned_at.isoformat(timespec="seconds")),
        ("plan sha256", plan.sha256),
        ("approve with", f"pcbatch apply PLAN_DIR --expect-plan {plan.sha256}"),
        ("input", str(source.get("path"))),
        ("input sha256", str(source.get("sha256"))),
        ("writes to", f"{target.get('base_url')} (cloud {target.get('cloud')}, tenant "
         f"{target.get('tenant') or 'unknown'})"),
        *counts.items(),
    ]  # fmt: skip
    for what, value in lines:
        summary.append([what, value if isinstance(value, int) else xlsx_value(summary, str(value))])
    changes = _sheet(book, "Changes", ("row", "customer_id", "field", "before", "after"))
    for planned in plan.rows:
        row = planned.row
        for change in planned.changes:
            changes.append(
                [
                    row.number,
                    row.customer_id,
                    change.field,
                    xlsx_value(changes, change.before),
                    xlsx_value(changes, change.after),
                ]
            )
    skipped_sheet = _sheet(book, "Not planned", ("row", "customer_id", "status", "why"))
    for skipped in plan.not_planned:
        skipped_sheet.append(
            [
                skipped.row,
                xlsx_value(skipped_sheet, skipped.customer_id),
                skipped.status,
                xlsx_value(skipped_sheet, skipped.message),
            ]
        )
    with atomic_write(path, binary=True) as file:
        book.save(file)
    return path


def _sheet(book: Workbook, title: str, headers: tuple[str, ...]) -> WriteOnlyWorksheet:
    """A write-only sheet set up to print: landscape, one page wide, its header row repeated."""
    sheet = book.create_sheet(title)
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0  # as many pages down as it takes
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_title_rows = "1:1"
    sheet.freeze_panes = "A2"
    set_widths(sheet, list(_WIDTHS[title]))
    sheet.append(header_row(sheet, list(headers)))
    return sheet
