"""The report files, checked cell by cell, rendered from a journal."""

import csv
import json
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from batch.core.cells import neutralise, unneutralise
from batch.core.country_rules import RulesAnswer
from batch.core.fields import BY_NAME, field_for_header
from batch.core.model import Change, NotSent, Outcome, Problem, Row, RunStats, Sheet, Status
from batch.durable.journal import Journal
from batch.output.report import (
    FILES,
    NOT_RECORDED,
    RESULT_COLUMNS,
    write_report,
)
from batch.output.report_xlsx import PRINTABLE, READABLE_SCALE, column_inches
from batch.sheets.sheet import load_sheet

HEADERS = ("Customer ID", "Street", "City", "Phone", "Notes")
IDS = {n: f"{n:08d}-1111-4000-8000-000000000000" for n in range(2, 12)}


def raw(n: int, phone: str = "", notes: str = "") -> dict[str, str]:
    return {
        "Customer ID": IDS[n].upper(),
        "Street": f"{n} Main St",
        "City": "Springfield",
        "Phone": phone,
        "Notes": notes,
    }


def valid(n: int, **cells: str) -> Row:
    values = {"address_line1": f"{n} Main St", "city": "Springfield"}
    if cells.get("phone"):
        values["phone_number"] = cells["phone"]
    return Row(n, IDS[n], values, raw(n, **cells))


SHEET = Sheet(
    path="in/customers.csv",
    format="csv",
    sheet_name=None,
    headers=HEADERS,
    columns={
        "customer_id": "Customer ID",
        "address_line1": "Street",
        "city": "City",
        "phone_number": "Phone",
    },
    unknown_headers=("Notes",),
    rows=(
        valid(2, phone="+1 425 555 0100"),
        valid(3),
        valid(4, notes='=HYPERLINK("http://evil")'),
        valid(5),
        valid(6),
        valid(7),
        valid(8),
    ),
    not_sent=(
        NotSent(
            9,
            "=cmd|' /C calc'!A0",
            Status.INVALID,
            (Problem(9, "Customer ID", "=cmd", "not a GUID"),),
            {"Customer ID": "=cmd|' /C calc'!A0", "Street": "", "City": "", "Phone": "-"},
        ),
        NotSent(
            10,
            IDS[3],
            Status.DUPLICATE,
            (Problem(10, "Customer ID", IDS[3], "same as row 3"),),
            raw(3),
        ),
    ),
)

OUTCOMES = [
    Outcome(
        2,
        IDS[2],
        Status.UPDATED,
        attempts=2,
        conflicts=1,
        http_status=200,
        changes=(
            Change("address_line1", "1 Old Rd", "2 Main St"),
            Change("phone_number", None, "+1 425 555 0100"),
        ),
        request_id="req-2",
        correlation_id="corr-2",
        duration_ms=812,
    ),
    Outcome(3, IDS[3], Status.UNCHANGED, attempts=1, http_status=200, duration_ms=90),
    Outcome(
        4,
        IDS[4],
        Status.UPDATED,
        attempts=1,
        http_status=200,
        changes=(Change("city", "-Shelbyville", "Springfield"),),
    ),
    Outcome(5, IDS[5], Status.NOT_FOUND, attempts=1, http_status=404, message="no such customer"),
    Outcome(
        6,
        IDS[6],
        Status.REJECTED,
        attempts=1,
        http_status=400,
        error_code="60034",
        message="@invalid postal code",
    ),
    Outcome(7, IDS[7], Status.FAILED, attempts=6, http_status=503, message="service unavailable"),
    # row 8 never recorded: its process died first
]


@pytest.fixture
def report(tmp_path) -> Path:
    journal = Journal.open(tmp_path)
    journal.start_run(
        SHEET,
        "cd" * 32,
        {"dry_run": False, "clear_token": "#CLEAR", "access_token": "eyJSECRET", "concurrency": 64},
    )
    for outcome in reversed(OUTCOMES):  # finishing order is not row order
        journal.record(outcome)
    figures = {"rate_measured": 39.876, "window_final": 30, "window_mean": 27.66, "window_max": 36}
    journal.finish_run(RunStats(requests=21, throttled=3, conflicts=1, retries=4, **figures), 1)
    write_report(tmp_path, journal)
    journal.close()
    return tmp_path


def read_csv(path: Path) -> list[list[str]]:
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # Excel needs the BOM for UTF-8
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f))


def by_row(lines: list[list[str]]) -> dict[str, dict[str, str]]:
    header, *rest = lines
    return {line[0]: dict(zip(header, line, strict=True)) for line in rest}


def test_results_csv_has_the_documented_columns_and_every_row_in_row_order(report):
    lines = read_csv(report / "results.csv")
    # README.md, "The report": these columns first and in this order
    assert lines[0] == [
        "row", "customer_id", "status", "attempts", "conflicts", "http_status", "error_code",
        "message", "changed_fields", "request_id", "correlation_id", "duration_ms",
    ]  # fmt: skip
    assert [line[0] for line in lines[1:]] == ["2", "3", "4", "5", "6", "7", "8", "9", "10"]
    rows = by_row(lines)
    assert rows["2"] == {
        "row": "2",
        "customer_id": IDS[2],
        "status": "updated",
        "attempts": "2",
        "conflicts": "1",
        "http_status": "200",
        "error_code": "",
        "message": "",
        "changed_fields": "address_line1;phone_number",
        "request_id": "req-2",
        "correlation_id": "corr-2",
        "duration_ms": "812",
    }
    assert (rows["6"]["status"], rows["6"]["error_code"]) == ("rejected", "60034")
    assert rows["10"]["status"] == "duplicate"


def test_a_row_the_journal_has_no_outcome_for_is_reported_skipped(report):
    row = by_row(read_csv(report / "results.csv"))["8"]
    assert (row["status"], row["message"]) == ("skipped", NOT_RECORDED)


def test_an_invalid_row_shows_its_customer_id_as_the_sheet_had_it_but_neutralised(report):
    row = by_row(read_csv(report / "results.csv"))["9"]
    assert row["customer_id"] == "'=cmd|' /C calc'!A0"
    assert row["message"] == "Customer ID: not a GUID"


def test_text_that_a_spreadsheet_would_run_is_neutralised_in_results_csv(report):
    rows = by_row(read_csv(report / "results.csv"))
    assert rows["6"]["message"] == "'@invalid postal code"


def test_summary_json_has_exactly_the_documented_keys_and_the_run_figures(report):
    summary = json.loads((report / "summary.json").read_text(encoding="utf-8"))
    # README.md, "The report": exactly these keys
    assert set(summary) == {
        "rows", "statuses", "requests", "throttled", "conflicts", "retries", "elapsed_s",
        "dry_run", "exit_code", "input", "started_at", "finished_at", "rate_final", "rate_min",
        "countries_not_checked",
        "nightly",
        "cleaned_cells",
        "rate_measured", "concurrency", "window_final", "window_mean", "window_max",
    }  # fmt: skip
    assert summary["rows"] == 9
    assert summary["statuses"] == {
        "updated": 2,
        "unchanged": 1,
        "would_update": 0,
        "duplicate": 1,
        "invalid": 1,
        "not_found": 1,
        "rejected": 1,
        "failed": 1,
        "skipped": 1,
        "changed_since_plan": 0,
    }
    assert (summary["requests"], summary["throttled"], summary["retries"]) == (21, 3, 4)
    assert (summary["dry_run"], summary["exit_code"]) == (False, 1)
    assert summary["input"] == "in/customers.csv"
    assert summary["started_at"].endswith("Z") and summary["finished_at"].endswith("Z")
    assert (summary["rate_final"], summary["rate_min"]) == (None, None)
    # the request rate measured and the window of customers in flight (issue 16)
    assert (summary["rate_measured"], summary["concurrency"]) == (39.88, 64)
    assert (summary["window_final"], summary["window_mean"], summary["window_max"]) == (
        30,
        27.7,
        36,
    )
    assert isinstance(summary["elapsed_s"], float)
    assert summary["countries_not_checked"] == {}


def test_failed_csv_holds_the_not_ok_rows_with_the_input_headers_values_and_error(report):
    lines = read_csv(report / "failed.csv")
    assert lines[0] == [*HEADERS, "error"]
    assert lines[1:] == [
        [IDS[5].upper(), "5 Main St", "Springfield", "", "", "not_found: no such customer"],
        [IDS[6].upper(), "6 Main St", "Springfield", "", "", "rejected: @invalid postal code"],
        [IDS[7].upper(), "7 Main St", "Springfield", "", "", "failed: service unavailable"],
        [IDS[8].upper(), "8 Main St", "Springfield", "", "", f"skipped: {NOT_RECORDED}"],
        ["'=cmd|' /C calc'!A0", "", "", "'-", "", "invalid: Customer ID: not a GUID"],
    ]


def test_undo_csv_puts_back_the_before_values_under_names_the_loader_knows(report):
    lines = read_csv(report / "undo.csv")
    assert lines == [
        ["customer_id", "address_line1", "city", "phone_number"],
        [IDS[2], "1 Old Rd", "", "#N/A"],  # phone was empty before: the default clear token
        [IDS[4], "", "'-Shelbyville", ""],
    ]
    assert [field_for_header(h) for h in lines[0]] == [BY_NAME[h] for h in lines[0]]


def test_results_xlsx_streams_the_same_rows_with_before_and_after_values(report):
    book = openpyxl.load_workbook(report / "results.xlsx")
    sheet = book["Results"]
    header = [c.value for c in sheet[1]]
    assert header == [
        *RESULT_COLUMNS,
        "Address Line 1 (before)",
        "Address Line 1 (after)",
        "City (before)",
        "City (after)",
        "Phone Number (before)",
        "Phone Number (after)",
    ]
    rows = {r[0].value: [c.value for c in r] for r in sheet.iter_rows(min_row=2)}
    assert list(rows) == [2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert rows[2][:12] == [2, IDS[2], "updated", 2, 1, 200, None, None,
                            "address_line1;phone_number", "req-2", "corr-2", 812]  # fmt: skip
    assert rows[2][12:] == ["1 Old Rd", "2 Main St", None, None, None, "+1 425 555 0100"]
    assert rows[4][14:16] == ["-Shelbyville", "Springfield"]


def test_results_xlsx_opens_on_the_summary_sheet(report):
    book = openpyxl.load_workbook(report / "results.xlsx")
    assert book.sheetnames == ["Summary", "Needs action", "Results"]
    assert book.active.title == "Summary"


def test_results_xlsx_keeps_the_header_in_view_filters_every_row_and_colours_statuses(report):
    sheet = openpyxl.load_workbook(report / "results.xlsx")["Results"]
    assert sheet.freeze_panes == "C2"  # the header row, and the row and customer columns
    assert sheet.auto_filter.ref == "A1:R10"
    assert all(c.font.bold for c in sheet[1])
    # Colours are conditional formats on the status column: one rule, one colour per status.
    rules = [(cf.sqref, rule) for cf in sheet.conditional_formatting for rule in cf.rules]
    assert {str(ref) for ref, _ in rules} == {"C2:C10"}
    assert all(rule.operator == "equal" for _, rule in rules)
    colours = {rule.formula[0].strip('"'): rule.dxf.fill.fgColor.rgb for _, rule in rules}
    assert set(colours) == {s.value for s in Status}
    assert len(set(colours.values())) == len(Status)


def test_results_xlsx_columns_are_wide_enough_for_their_headers(report):
    sheet = openpyxl.load_workbook(report / "results.xlsx")["Results"]
    for cell in sheet[1]:
        width = sheet.column_dimensions[cell.column_letter].width
        assert width >= len(cell.value) + 2, cell.value  # room for the filter button
    assert sheet.column_dimensions["B"].width >= 36  # a GUID


def printed_inches(sheet, last_column: str) -> float:
    """A sheet's columns A..last_column as printed at 100 %."""
    letters = [chr(c) for c in range(ord("A"), ord(last_column) + 1)]
    return sum(column_inches(sheet.column_dimensions[c].width) for c in letters)


def test_results_xlsx_prints_landscape_at_a_readable_scale_with_the_key_columns_on_every_page(
    report,
):
    sheet = openpyxl.load_workbook(report / "results.xlsx")["Results"]
    setup = sheet.page_setup
    assert setup.orientation == "landscape"
    assert setup.paperSize is None  # the printer's A4 or Letter
    # One page wide would print these 18 columns at ~40 %: a readable scale instead, pages
    # across then down, the header row and row / customer_id / status on every page.
    assert printed_inches(sheet, "R") * READABLE_SCALE / 100 > PRINTABLE["landscape"][0]
    assert not sheet.sheet_properties.pageSetUpPr.fitToPage
    assert setup.scale == READABLE_SCALE >= 75
    assert setup.pageOrder == "overThenDown"
    assert sheet.print_title_rows == "$1:$1"
    assert sheet.print_title_cols == "$A:$C"
    assert sheet.print_area == "'Results'!$A$1:$R$10"  # its cells, no blank page past them
    # the key columns and the widest column fit one page, with room to spare
    assert printed_inches(sheet, "C") + column_inches(60) < PRINTABLE["landscape"][0]
    assert "&P of &N" in sheet.oddFooter.center.text


def test_the_summary_prints_on_one_portrait_page_of_a4_or_letter_at_full_size(report):
    sheet = openpyxl.load_workbook(report / "results.xlsx")["Summary"]
    setup = sheet.page_setup
    assert setup.orientation == "portrait" and setup.paperSize is None
    assert sheet.sheet_properties.pageSetUpPr.fitToPage is True
    assert (setup.fitToWidth, setup.fitToHeight) == (1, 1)
    # fit never shrinks it sideways: its columns are narrower than A4's printable width,
    assert printed_inches(sheet, "C") <= PRINTABLE["portrait"][0]
    # and its lines (15 pt; the chart under the table) are shorter than Letter's printable page
    area = sheet.print_area
    assert area.startswith("'Summary'!$A$1:$C$")
    last = int(area.rsplit("$", 1)[1])
    heights = [sheet.row_dimensions[r].height or 15 for r in range(1, last + 1)]
    assert sum(heights) / 72 <= PRINTABLE["portrait"][1]
    assert (setup.scale or 100) == 100


def needs_action(report: Path) -> list[dict[str, object]]:
    sheet = openpyxl.load_workbook(report / "results.xlsx")["Needs action"]
    header, *lines = sheet.iter_rows(values_only=True)
    return [dict(zip(header, line, strict=True)) for line in lines]


def test_needs_action_holds_only_the_rows_to_look_at_with_why_and_what_to_do(report):
    lines = needs_action(report)
    assert list(lines[0]) == ["row", "customer_id", "status", "error_code", "message", "what to do"]
    assert [(line["row"], line["status"]) for line in lines] == [
        (5, "not_found"),
        (6, "rejected"),
        (7, "failed"),
        (8, "skipped"),
        (9, "invalid"),
    ]
    rejected = lines[1]
    assert (rejected["error_code"], rejected["message"]) == ("60034", "@invalid postal code")
    assert "failed.csv" in str(rejected["what to do"])
    assert "--resume" in str(lines[3]["what to do"])
    assert lines[4]["customer_id"] == "=cmd|' /C calc'!A0"  # as the sheet had it, as text


def test_needs_action_prints_one_page_wide_at_a_readable_size_its_long_text_wrapped(tmp_path):
    long = "the address does not match the country's rules: " * 6
    with Journal.open(tmp_path) as journal:
        journal.start_run(SHEET, "00" * 32, {})
        journal.record(Outcome(2, IDS[2], Status.REJECTED, message=long))
        journal.finish_run(RunStats(), 1)
        write_report(tmp_path, journal)
    sheet = openpyxl.load_workbook(tmp_path / "results.xlsx")["Needs action"]
    setup = sheet.page_setup
    assert setup.orientation == "landscape"
    assert (setup.fitToWidth, setup.fitToHeight) == (1, 0)
    assert sheet.sheet_properties.pageSetUpPr.fitToPage is True
    width = printed_inches(sheet, "F")
    assert width * READABLE_SCALE / 100 <= PRINTABLE["landscape"][0]  # fitting keeps >= 75 %
    assert sheet.print_title_rows == "$1:$1"
    message = sheet["E2"]
    assert message.alignment.wrap_text
    assert sheet.row_dimensions[2].height >= 15 * len(long) / (50 * 1.1)  # every line shows
    rules = [(str(cf.sqref), r) for cf in sheet.conditional_formatting for r in cf.rules]
    # the status column of its 8 lines (rows 3-8 never recorded: skipped; 9 invalid) coloured
    assert {ref for ref, _ in rules} == {"C2:C9"}
    assert len(rules) == len(Status)


def test_needs_action_of_a_run_with_nothing_to_act_on_says_so(tmp_path):
    with Journal.open(tmp_path) as journal:
        journal.start_run(SHEET, "00" * 32, {})
        for n in range(2, 9):
            journal.record(Outcome(n, IDS[n], Status.UNCHANGED))
        journal.finish_run(RunStats(), 0)
        write_report(tmp_path, journal)
    sheet = openpyxl.load_workbook(tmp_path / "results.xlsx")["Needs action"]
    # rows 9 and 10 of SHEET: invalid (needs action) and duplicate
    assert [line[0].value for line in sheet.iter_rows(min_row=2)] == [9]
    with Journal.open(tmp_path / "clean") as journal:
        journal.start_run(replace(SHEET, not_sent=()), "00" * 32, {})
        for n in range(2, 9):
            journal.record(Outcome(n, IDS[n], Status.UNCHANGED))
        journal.finish_run(RunStats(), 0)
        write_report(tmp_path / "clean", journal)
    sheet = openpyxl.load_workbook(tmp_path / "clean" / "results.xlsx")["Needs action"]
    assert [[c.value for c in line] for line in sheet.iter_rows(min_row=2)] == [
        [None, "No row needs action.", None, None, None, None][: sheet.max_column]
    ]


def test_countries_not_checked_get_their_own_sheet_and_a_short_line_on_the_summary(tmp_path):
    why = "Partner Center publishes no rules for it (404)"
    countries = [f"X{c}" for c in "ABCDEFGHIJKLMNOPQRST"]
    with Journal.open(tmp_path) as journal:
        journal.start_run(SHEET, "00" * 32, {})
        for iso2 in countries:
            journal.record_rules(RulesAnswer(iso2, None, why))
        journal.finish_run(RunStats(), 1)
        write_report(tmp_path, journal)
    book = openpyxl.load_workbook(tmp_path / "results.xlsx")
    assert book.sheetnames[-1] == "Countries not checked"
    figure = summary_sheet(tmp_path)["Countries not checked (rules)"].value
    assert figure == "20 countries: see the sheet “Countries not checked”"
    sheet = book["Countries not checked"]
    assert [(r[0].value, r[1].value) for r in sheet.iter_rows(min_row=2)] == [
        (iso2, why) for iso2 in countries
    ]
    assert sheet.page_setup.orientation == "portrait"
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert summary["countries_not_checked"] == dict.fromkeys(countries, why)


def summary_sheet(report: Path) -> dict[str, object]:
    """The Summary sheet's label -> value pairs (column A -> column B)."""
    sheet = openpyxl.load_workbook(report / "results.xlsx")["Summary"]
    figures = {}
    for label, value, *_ in sheet.iter_rows(min_row=4):
        if label.value == "Status":  # the table of statuses begins
            break
        if label.value:
            figures[label.value] = value
    return figures


def test_the_summary_sheet_starts_with_a_headline_a_manager_reads_at_a_glance(report):
    sheet = openpyxl.load_workbook(report / "results.xlsx")["Summary"]
    assert sheet["A1"].value == "pcbatch run: billing profiles from in/customers.csv"
    assert sheet["A2"].value == "9 rows: 2 changed, 1 failed, 5 need action (failed.csv)."
    figures = summary_sheet(report)
    assert figures["Rows changed"].value == 2
    assert figures["Rows failed"].value == 1
    assert figures["Rows that need action"].value == 5
    assert figures["Exit code"].value == "1: finished; some rows need action (failed.csv)"
    assert figures["Cloud"].value == "global"
    assert figures["Tenant"].value == "unknown"  # this journal's run recorded none
    assert (figures["Requests sent"].value, figures["Throttled (429 answers)"].value) == (21, 3)
    assert not any("_" in str(label) for label in figures)  # words, not `elapsed_s`


def test_the_summary_sheet_gives_times_as_excel_date_times_in_utc(report):
    figures = summary_sheet(report)
    summary = json.loads((report / "summary.json").read_text(encoding="utf-8"))
    started = figures["Started (UTC)"]
    assert started.is_date and started.number_format == "yyyy-mm-dd hh:mm:ss"
    expected = datetime.fromisoformat(summary["started_at"].replace("Z", "+00:00"))
    assert abs((started.value - expected.replace(tzinfo=None)).total_seconds()) < 0.001
    assert figures["Finished (UTC)"].is_date
    working = figures["Working time (h:mm:ss)"]
    assert working.number_format == "[h]:mm:ss"


def test_the_summary_sheet_rounds_rates(tmp_path):
    with Journal.open(tmp_path) as journal:
        journal.start_run(SHEET, "00" * 32, {"tenant": "contoso-tid", "cloud": "usgov"})
        journal.finish_run(RunStats(requests=5, rate_final=45.4796163540238, rate_min=12.3456), 1)
        write_report(tmp_path, journal)
    figures = summary_sheet(tmp_path)
    assert figures["Rate at the end (requests/s)"].value == 45.5
    assert figures["Lowest rate (requests/s)"].value == 12.3
    assert (figures["Tenant"].value, figures["Cloud"].value) == ("contoso-tid", "usgov")


def test_the_summary_sheet_counts_every_status_and_charts_them_in_their_colours(report):
    sheet = openpyxl.load_workbook(report / "results.xlsx")["Summary"]
    start = next(r[0].row for r in sheet.iter_rows() if r[0].value == "Status")
    assert [c.value for c in sheet[start]] == ["Status", "What it means", "Rows"]
    # the count in a cell of its own, after the meaning: never read into it ("8the profile")
    counts = {
        sheet.cell(r, 1).value: sheet.cell(r, 3).value
        for r in range(start + 1, start + 1 + len(Status))
    }
    assert counts == {
        s.value: n for s, n in zip(Status, [2, 1, 0, 1, 1, 1, 1, 1, 1, 0], strict=True)
    }
    assert sheet.cell(start + 1, 2).value == "the profile was changed"
    assert len(sheet._charts) == 1
    chart = sheet._charts[0]
    assert chart.title is not None
    (series,) = chart.series
    fills = {p.idx: p.graphicalProperties.solidFill for p in series.dPt}
    bar_colours = {i: f.srgbClr for i, f in fills.items()}
    status_colours = [
        sheet.cell(start + 1 + i, 1).fill.fgColor.rgb[-6:] for i in range(len(Status))
    ]
    assert [bar_colours[i] for i in range(len(Status))] == status_colours
    assert len(set(status_colours)) == len(Status)


def test_results_xlsx_stores_formula_like_text_as_text_with_excels_quote_prefix(report):
    sheet = openpyxl.load_workbook(report / "results.xlsx")["Results"]
    cell = next(r[1] for r in sheet.iter_rows(min_row=2) if r[0].value == 9)
    assert (cell.value, cell.data_type, cell.quotePrefix) == ("=cmd|' /C calc'!A0", "s", True)
    phone = next(r[17] for r in sheet.iter_rows(min_row=2) if r[0].value == 2)
    assert (phone.value, phone.data_type, phone.quotePrefix) == ("+1 425 555 0100", "s", True)


def test_no_credential_reaches_any_report_file(report):
    for name in FILES:
        assert b"eyJSECRET" not in (report / name).read_bytes()


def test_rebuilding_the_report_gives_the_same_files_and_leaves_no_temporary_ones(report):
    before = {n: (report / n).read_bytes() for n in FILES if n != "results.xlsx"}
    with Journal.open(report) as journal:
        write_report(report, journal)
    assert {n: (report / n).read_bytes() for n in before} == before
    assert not [p.name for p in report.iterdir() if p.name.endswith(".tmp")]


def test_a_dry_run_reports_planned_changes_and_has_nothing_to_undo(tmp_path):
    sheet = Sheet("in.csv", "csv", None, HEADERS, SHEET.columns, ("Notes",), (valid(2),), ())
    with Journal.open(tmp_path) as journal:
        journal.start_run(sheet, "00" * 32, {"dry_run": True})
        journal.record(
            Outcome(2, IDS[2], Status.WOULD_UPDATE, changes=(Change("city", "Old", "New"),))
        )
        journal.finish_run(RunStats(), 0)
        write_report(tmp_path, journal)
    assert json.loads((tmp_path / "summary.json").read_text())["dry_run"] is True
    assert read_csv(tmp_path / "undo.csv") == [["customer_id"]]
    assert read_csv(tmp_path / "failed.csv") == [[*HEADERS, "error"]]
    sheet_xlsx = openpyxl.load_workbook(tmp_path / "results.xlsx")["Results"]
    assert [c.value for c in sheet_xlsx[2]][12:] == ["Old", "New"]


def test_failed_csv_fed_back_keeps_a_single_error_column(tmp_path):
    headers = ("customer_id", "city", "error")
    row = Row(2, IDS[2], {"city": "X"}, {"customer_id": IDS[2], "city": "X", "error": "old"})
    sheet = Sheet("failed.csv", "csv", None, headers, {}, ("error",), (row,), ())
    with Journal.open(tmp_path) as journal:
        journal.start_run(sheet, "00" * 32, {})
        journal.record(Outcome(2, IDS[2], Status.FAILED, message="timeout"))
        write_report(tmp_path, journal)
    assert read_csv(tmp_path / "failed.csv") == [
        ["customer_id", "city", "error"],
        [IDS[2], "X", "failed: timeout"],
    ]


def test_failed_csv_read_back_gives_the_input_values_exactly(report):
    lines = read_csv(report / "failed.csv")
    restored = [[unneutralise(v) for v in line] for line in lines]
    header, *rows = restored
    assert header == [*HEADERS, "error"]
    assert dict(zip(header, rows[-1], strict=True))["Customer ID"] == "=cmd|' /C calc'!A0"
    assert dict(zip(header, rows[-1], strict=True))["Phone"] == "-"


def test_failed_and_undo_csv_load_as_pcbatch_input(report):
    failed = load_sheet(report / "failed.csv")
    assert [r.customer_id for r in failed.rows] == [IDS[5], IDS[6], IDS[7], IDS[8]]
    assert failed.unknown_headers == ("Notes", "error")
    assert [r.number for r in failed.not_sent] == [6]  # the invalid id is invalid again
    undo = load_sheet(report / "undo.csv")  # the run used #CLEAR; undo.csv needs no flag
    first = undo.rows[0]
    assert (first.customer_id, dict(first.values)) == (
        IDS[2],
        {"address_line1": "1 Old Rd", "phone_number": None},
    )


def test_a_phone_number_survives_the_round_trip_through_undo_csv(report):
    undo = load_sheet(report / "undo.csv")
    assert dict(undo.rows[1].values) == {"city": "-Shelbyville"}


@given(st.text())
def test_unneutralise_gives_back_exactly_what_neutralise_was_given(text):
    assert unneutralise(neutralise(text)) == text


@given(st.text())
def test_neutralised_text_never_begins_with_a_formula_character(text):
    assert not neutralise(text).startswith(("=", "+", "-", "@", "\t", "\r"))


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+1 425 555 0100", "'+1 425 555 0100"),
        ("-5", "'-5"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("'=1", "''=1"),
        ("'s-Hertogenbosch", "'s-Hertogenbosch"),
        ("1 Main St", "1 Main St"),
        ("", ""),
    ],
)
def test_neutralise_table(text, written):
    assert neutralise(text) == written
