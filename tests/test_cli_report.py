"""`pcbatch report --out DIR`: rebuilds the report files from the journal, with clear errors."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from batch.cli import cli
from batch.core.model import Change, Outcome, Row, RunStats, Sheet, Status
from batch.durable.journal import Journal
from batch.durable.lock import RunLock
from batch.output.report import FILES, SUMMARY_KEYS

ID = "0a0b0c0d-0000-4000-8000-000000000001"
ROOT = Path(__file__).parent.parent


def journal_with_a_run(out: Path, *, finished: bool = True) -> None:
    row = Row(2, ID, {"city": "Paris"}, {"customer_id": ID, "city": "Paris"})
    sheet = Sheet("in.csv", "csv", None, ("customer_id", "city"), {}, (), (row,), ())
    with Journal.open(out) as journal:
        journal.start_run(sheet, "00" * 32, {"dry_run": False})
        journal.record(
            Outcome(2, ID, Status.UPDATED, attempts=1, changes=(Change("city", "Lyon", "Paris"),))
        )
        if finished:
            journal.finish_run(RunStats(requests=2), 0)


def test_report_rebuilds_every_file_from_the_journal_alone(tmp_path):
    journal_with_a_run(tmp_path)

    result = CliRunner().invoke(cli, ["report", "--out", str(tmp_path)])

    assert result.exit_code == 0, result.output
    assert all((tmp_path / name).is_file() for name in FILES)
    assert f"report rebuilt in {tmp_path}" in result.output
    assert "run 1 of in.csv: 1 rows, finished" in result.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert (summary["statuses"]["updated"], summary["exit_code"]) == (1, 0)


def test_report_of_a_run_that_died_says_it_is_not_finished_and_can_be_resumed(tmp_path):
    journal_with_a_run(tmp_path, finished=False)

    result = CliRunner().invoke(cli, ["report", "--out", str(tmp_path)])

    assert result.exit_code == 0, result.output
    assert "not finished (resume it with --resume)" in result.output
    assert json.loads((tmp_path / "summary.json").read_text())["exit_code"] is None


def test_report_on_a_directory_without_a_journal_exits_2_with_a_message(tmp_path):
    result = CliRunner().invoke(cli, ["report", "--out", str(tmp_path)])

    assert result.exit_code == 2
    assert f"pcbatch: no journal in {tmp_path}" in result.output
    assert "Traceback" not in result.output
    assert not list(tmp_path.iterdir())  # nothing created


def test_report_on_an_empty_journal_exits_2(tmp_path):
    Journal.open(tmp_path).close()
    result = CliRunner().invoke(cli, ["report", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "holds no run yet" in result.output


def test_report_of_an_unknown_run_id_exits_2(tmp_path):
    journal_with_a_run(tmp_path)
    result = CliRunner().invoke(cli, ["report", "--out", str(tmp_path), "--run-id", "7"])
    assert result.exit_code == 2
    assert "no run 7" in result.output


def test_report_while_a_run_holds_the_out_directory_warns_that_it_is_a_snapshot(tmp_path):
    journal_with_a_run(tmp_path, finished=False)
    with RunLock(tmp_path):
        result = CliRunner().invoke(cli, ["report", "--out", str(tmp_path)])
    assert result.exit_code == 0
    assert "a run is still writing to" in result.output


def test_report_as_a_real_process_prints_one_line_and_no_traceback(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "batch", "report", "--out", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("pcbatch: no journal in")
    assert "Traceback" not in done.stderr


def test_report_help_has_an_example():
    result = CliRunner().invoke(cli, ["report", "--help"])
    assert result.exit_code == 0
    assert "pcbatch report --out reports/nightly" in result.output


def readme_section() -> str:
    text = (ROOT / "docs" / "reference" / "report.md").read_text(encoding="utf-8")
    found = re.search(r"^# The report.*", text, re.M | re.S)
    if found is None:
        pytest.fail("docs/reference/report.md has no '# The report' page")
    return found.group(0)


def test_readme_documents_every_report_file_and_summary_key():
    section = readme_section()
    for name in (*FILES, "pcbatch report --out"):
        assert name in section
    for key in SUMMARY_KEYS:
        assert f"`{key}`" in section
