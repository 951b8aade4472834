"""`pcbatch validate --format json`: the problems as one JSON object on stdout, nothing on
stderr, the same exit codes as the table."""

import json

from click.testing import CliRunner

from batch.cli import cli

A = "0f8fad5b-d9cb-469f-a165-70867728950e"
ENV = {"PC_ACCESS_TOKEN": None, "PC_BASE_URL": None}


def validate(*args):
    return CliRunner().invoke(cli, ["validate", *map(str, args)], env=ENV)


def test_each_problem_has_row_column_value_problem_and_fix(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text(
        f"Customer ID,ZIP,Country,Notes\n{A},2134,US,x\nnot-a-guid,98052,US,\n", encoding="utf-8"
    )
    result = validate(path, "--format", "json")
    assert result.exit_code == 1
    assert result.stderr == ""
    report = json.loads(result.stdout)
    assert (report["rows"], report["valid"], report["invalid"]) == (2, 0, 2)
    assert report["exit_code"] == 1
    by_row = {p["row"]: p for p in report["problems"]}
    assert by_row[2]["column"] == "ZIP" and by_row[2]["value"] == "2134"
    assert by_row[2]["problem"].startswith("not a US ZIP code")
    assert "leading zero" in by_row[2]["fix"]
    assert (
        by_row[3]["column"] == "Customer ID" and by_row[3]["fix"] == "copy it from Partner Center"
    )
    assert any("Notes" in w for w in report["warnings"])  # the unknown column, in the object


def test_a_clean_sheet_exits_0_with_no_problems(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text(f"Customer ID,City\n{A},Redmond\n", encoding="utf-8")
    result = validate(path, "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["problems"] == []


def test_a_file_that_cannot_be_used_exits_2_with_one_json_error_line(tmp_path):
    result = validate(tmp_path / "missing.csv", "--format", "json")
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    error = json.loads(line)
    assert error["event"] == "error" and error["exit_code"] == 2
    assert result.stdout == ""
