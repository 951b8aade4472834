"""`pcbatch validate`: every problem by row and column, a count, and the documented exit codes."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import Workbook

from batch.cli import cli

A = "0f8fad5b-d9cb-469f-a165-70867728950e"
B = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
ROOT = Path(__file__).resolve().parent.parent
# Wide enough for one line per problem; no credentials, so nothing could be sent.
ENV = {"COLUMNS": "160", "FORCE_COLOR": None, "PC_ACCESS_TOKEN": None, "PC_BASE_URL": None}


def validate(*args, env=None):
    result = CliRunner().invoke(cli, ["validate", *map(str, args)], env={**ENV, **(env or {})})
    assert "Traceback" not in result.output
    return result


def sheet(path, rows, title="Customers"):
    book = Workbook()
    book.active.title = title
    for row in rows:
        book.active.append(row)
    book.save(path)
    return path


def lines(text):
    return [line.strip() for line in text.splitlines() if line.strip()]


def test_a_clean_sheet_prints_the_count_and_exits_0(tmp_path):
    path = sheet(tmp_path / "in.xlsx", [["Customer ID", "ZIP", "Country"], [A, "02134", "US"]])
    result = validate(path)
    assert result.exit_code == 0
    assert result.stdout == f'{path} (sheet "Customers"): 1 row: 1 valid, 0 invalid\n'
    assert result.stderr == ""


def test_every_problem_is_listed_by_row_column_and_value_and_the_exit_code_is_1(tmp_path):
    path = sheet(
        tmp_path / "in.xlsx",
        [
            ["Customer ID", "ZIP", "Country", "City"],
            [A, 2134, "US", "Boston"],
            ["not-a-guid", "75002", "FR", "#REF!"],
            [B, "75002", "FR", "Paris"],
        ],
    )
    result = validate(path)
    assert result.exit_code == 1
    header, rule, *rest = lines(result.stdout)
    assert header == "Row   Column        Value        Problem"
    assert set(rule) == {"─"}
    assert rest == [
        "2   ZIP           2134         not a US ZIP code (5 digits or ZIP+4 like 98052-6399); if"
        " the leading zero was lost, format the column as text or 00000",
        "3   Customer ID   not-a-guid   not a customer tenant id (a GUID like"
        " 0f8fad5b-d9cb-469f-a165-70867728950e, braces allowed); copy it from Partner Center",
        "3   City          #REF!        an Excel error value, not a value; fix the cell or its"
        " formula (to clear the field, type #N/A)",
        f'{path} (sheet "Customers"): 3 rows: 1 valid, 2 invalid',
    ]


def test_identical_duplicates_are_listed_but_do_not_fail_the_check(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text(f"Customer ID,City\n{A},Paris\n{A.upper()},Paris\n", encoding="utf-8")
    result = validate(path)
    assert result.exit_code == 0
    assert "same customer and values as row 2; only that row counts" in result.stdout
    assert result.stdout.endswith(
        f"{path}: 2 rows: 1 valid, 0 invalid, 1 duplicate (not sent twice)\n"
    )


def test_long_values_are_cut_in_the_table_and_kept_on_one_line(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text(f'Customer ID,Street\n{A},"Suite 1\n{"x" * 193}"\n', encoding="utf-8")
    result = validate(path)
    # The value, with its line break, is shown on one line and cut; the line break is the problem.
    assert f"2   Street   Suite 1 {'x' * 15}…   holds a line break" in result.stdout
    assert "x" * 16 not in result.stdout


def test_unknown_headers_get_one_warning_on_stderr(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text(f"Customer ID,Notes,Owner\n{A},vip,ana\n", encoding="utf-8")
    result = validate(path)
    assert result.exit_code == 0
    assert result.stderr == (
        'pcbatch: warning: column(s) "Notes", "Owner" match no field and are ignored'
        " (kept in failed.csv)\n"
    )


def test_a_custom_clear_token_clears_and_makes_na_an_error(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text(f"Customer ID,Address Line 2\n{A},CLEAR\n{B},#N/A\n", encoding="utf-8")
    result = validate(path, "--clear-token", "CLEAR")
    assert result.exit_code == 1
    assert result.stdout.endswith(f"{path}: 2 rows: 1 valid, 1 invalid\n")
    assert "3   Address Line 2   #N/A" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.xlsx"], "missing.xlsx: no such file"),
        (["in.xlsx", "--sheet", "April"], 'in.xlsx: no sheet named "April"; the sheets are'
         ' "Customers"'),
        (["nocolumn.csv"], "nocolumn.csv: no header row with a customer id column in the first"
         ' 20 rows (row 1 holds: "City"). Name that column one of: Customer ID, Customer Tenant'
         " ID, Tenant ID, Microsoft ID, or its Dutch, German, French, Spanish, Italian or"
         " Portuguese name (case, accents and punctuation are ignored), or say which column it"
         ' is with --map "Column=customer_id"'),
        (["in.xlsx", "--clear-token", ""], "--clear-token must not be blank: a blank cell"
         " already means 'keep'"),
    ],
)  # fmt: skip
def test_a_file_that_cannot_be_used_exits_2_with_one_message(tmp_path, args, message):
    sheet(tmp_path / "in.xlsx", [["Customer ID"], [A]])
    (tmp_path / "nocolumn.csv").write_text("City\nParis\n", encoding="utf-8")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        result = validate(*args)
    finally:
        os.chdir(cwd)
    assert result.exit_code == 2
    assert result.stderr == f"pcbatch: {message}\n"
    assert result.stdout == ""


def test_help_says_what_it_checks_and_shows_an_example():
    result = validate("--help")
    assert result.exit_code == 0
    assert "sends nothing and needs no credentials" in " ".join(result.stdout.split())
    assert "pcbatch validate customers.xlsx" in result.stdout


def test_the_readme_shows_the_actual_output_on_the_sample_sheet():
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        result = validate("samples/customers.xlsx", env={"COLUMNS": "100"})
    finally:
        os.chdir(cwd)
    assert result.exit_code == 1
    shown = "\n".join(line.rstrip() for line in result.output.splitlines())
    page = (ROOT / "docs" / "reference" / "input.md").read_text(encoding="utf-8")
    assert f"$ pcbatch validate samples/customers.xlsx  # exit 1\n{shown}\n```" in page


def test_python_m_batch_validate_runs_offline_without_credentials():
    env = {k: v for k, v in os.environ.items() if not k.startswith("PC_")}
    done = subprocess.run(
        [sys.executable, "-m", "batch", "validate", "samples/customers.csv"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stdout.rstrip().endswith(
        "samples/customers.csv: 17 rows: 10 valid, 6 invalid, 1 duplicate (not sent twice)"
    )


def test_map_ignore_column_and_include_hidden_change_what_validate_reads(tmp_path):
    book = Workbook()
    ws = book.active
    for row in [
        ["Klantnr", "Woonadres", "Opmerking"],
        [A, "Kerkstraat 7", "x"],
        [B, "Dorp 1", "y"],
    ]:
        ws.append(row)
    ws.row_dimensions[3].hidden = True
    path = tmp_path / "in.xlsx"
    book.save(path)

    refused = validate(path, "--map", "Klantnr=customer_id")
    assert refused.exit_code == 2
    assert 'column "Woonadres" (B) looks like address_line1' in refused.stderr

    args = [path, "--map", "Klantnr=customer_id", "--map", "Woonadres=address_line1"]
    hidden = validate(*args, "--ignore-column", "Opmerking")
    assert hidden.exit_code == 1
    assert "hidden in the sheet (by a filter or by hand)" in hidden.stdout
    assert lines(hidden.stdout)[-1].endswith(
        "2 rows: 1 valid, 0 invalid, 1 hidden (not sent; --include-hidden sends them)"
    )
    assert hidden.stderr == ""  # the ignored column gets no warning

    shown = validate(*args, "--ignore-column", "Opmerking", "--include-hidden")
    assert shown.exit_code == 0
    assert lines(shown.stdout)[-1].endswith("2 rows: 2 valid, 0 invalid")


def test_title_rows_and_cleaned_cells_are_said_on_stderr(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text(f"Klanten maart\n\nKlant-ID;Plaats\n{A};Den\u00a0Haag\n", encoding="utf-8")
    result = validate(path)
    assert result.exit_code == 0
    warnings = [line for line in lines(result.stderr) if line.startswith("pcbatch: warning:")]
    assert warnings == [
        "pcbatch: warning: the headers are in row 3 of the file; the row(s) above them are"
        " taken as a title and not read",
        "pcbatch: warning: invisible characters cleaned in 1 cell(s): row 4 Plaats: made no-break"
        " space (U+00A0) a plain space",
    ]
