"""The formula guard: full-width forms and leading whitespace never run, and round trips hold."""

import csv

import openpyxl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from batch.core.cells import clean_invisible, neutralise, runs_as_formula, unneutralise
from batch.core.model import Change, Outcome, Row, Sheet, Status
from batch.durable.journal import Journal
from batch.output.report import write_report
from batch.sheets.sheet import load_sheet

SNEAKY = [
    '＝HYPERLINK("http://evil")',  # full-width equals sign
    "＋1 425 555 0100",
    "－5",
    "＠SUM(A1)",
    "﹦1+1",  # small form
    " =1+1",
    "\u3000=1+1",  # ideographic space
    "\n@SUM(A1)",
    "\xa0-2+3",
    "\t=1",
]
IDS = [f"{n:08d}-2222-4000-8000-000000000000" for n in range(len(SNEAKY))]


@pytest.mark.parametrize("text", SNEAKY)
def test_full_width_and_indented_formulas_get_the_quote(text):
    assert runs_as_formula(text)
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize("text", ["1 Main St", "'s-Hertogenbosch", "Ｍain St", " 1 Main", ""])
def test_plain_text_is_left_alone(text):
    assert neutralise(text) == text == unneutralise(text)


@given(st.text())
def test_neutralise_then_unneutralise_gives_back_any_text(text):
    assert unneutralise(neutralise(text)) == text


@given(st.text())
def test_neutralised_text_never_runs(text):
    assert not runs_as_formula(neutralise(text))


def _read(path):
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f))


@pytest.fixture
def report(tmp_path):
    """A report whose failed and updated rows hold the sneaky values, as input and as before."""
    headers = ("Customer ID", "City")
    rows = tuple(
        Row(n + 2, IDS[n], {"city": "Springfield"}, {"Customer ID": IDS[n], "City": text})
        for n, text in enumerate(SNEAKY)
    )
    sheet = Sheet(
        "in.csv", "csv", None, headers, {"customer_id": "Customer ID", "city": "City"}, (), rows, ()
    )
    with Journal.open(tmp_path) as journal:
        journal.start_run(sheet, "00" * 32, {})
        for n, text in enumerate(SNEAKY):
            if n % 2:
                journal.record(Outcome(n + 2, IDS[n], Status.FAILED, message="timeout"))
            else:
                change = Change("city", text, "Springfield")
                journal.record(Outcome(n + 2, IDS[n], Status.UPDATED, changes=(change,)))
        write_report(tmp_path, journal)
    return tmp_path


def test_no_csv_cell_of_the_report_runs_as_a_formula(report):
    for name in ("failed.csv", "undo.csv", "results.csv"):
        for line in _read(report / name):
            assert not any(runs_as_formula(cell) for cell in line), (name, line)


def test_xlsx_keeps_them_as_text_cells(report):
    sheet = openpyxl.load_workbook(report / "results.xlsx")["Results"]
    befores = [row[12] for row in sheet.iter_rows(min_row=2, values_only=False)]
    for cell in befores:
        if cell.value is not None:
            assert cell.data_type == "s" and cell.value in SNEAKY


def test_failed_csv_fed_back_loads_the_original_values(report):
    failed = load_sheet(report / "failed.csv")
    cities = {row.raw["City"] for row in (*failed.rows, *failed.not_sent)}
    assert cities == {text for n, text in enumerate(SNEAKY) if n % 2}


def test_undo_csv_fed_back_loads_the_values_the_service_held(report):
    undo = load_sheet(report / "undo.csv")
    cities = {dict(row.values).get("city") for row in undo.rows}
    # The loader makes no-break spaces plain and trims them as it does every value (README,
    # "Values"): what comes back is what a person would type, and never a formula.
    held = {clean_invisible(text)[0] for n, text in enumerate(SNEAKY) if not n % 2}
    assert cities == held
