"""`pcbatch demo`: the sample sheet against the in-process stand-in, with no set-up at all."""

import json
import os
import re
import subprocess
import sys

from click.testing import CliRunner

from batch.cli import cli

CREDENTIALS = ("PC_ACCESS_TOKEN", "PC_BASE_URL", "PC_TENANT_ID", "PC_CLIENT_ID", "PC_REFRESH_TOKEN")


def test_the_demo_runs_the_sample_sheet_to_the_end_and_exits_0(tmp_path):
    out = tmp_path / "demo"
    result = CliRunner().invoke(
        cli, ["demo", "--out", str(out)], env=dict.fromkeys(CREDENTIALS), catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert f"report: {out}" in result.stdout
    assert "deliberate mistakes" in result.stdout
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    statuses = summary["statuses"]
    # the sample shows a mix: most rows updated, one already right, one unknown customer,
    # and the invalid rows the sheet holds on purpose
    assert statuses["updated"] >= 3
    assert statuses["unchanged"] >= 1
    assert statuses["not_found"] >= 1
    assert statuses["invalid"] >= 1
    assert summary["exit_code"] == 1  # the job's own code: some rows need a look


def test_python_m_batch_demo_works_from_any_folder(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in CREDENTIALS}
    done = subprocess.run(
        [sys.executable, "-m", "batch", "demo", "--out", "here"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert (tmp_path / "here" / "results.xlsx").is_file()


def test_demo_help_says_what_it_does_with_an_example():
    result = CliRunner().invoke(cli, ["demo", "--help"])
    assert result.exit_code == 0
    assert "stand-in" in result.output and "Example" in result.output


def test_the_demo_without_out_reports_into_a_demo_timestamp_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        cli, ["demo"], env=dict.fromkeys(CREDENTIALS), catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    made = [p.name for p in (tmp_path / "reports").iterdir()]
    assert len(made) == 1 and re.fullmatch(r"demo-\d{8}T\d{6}Z", made[0])
    assert (tmp_path / "reports" / made[0] / "summary.json").is_file()
