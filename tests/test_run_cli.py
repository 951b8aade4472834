"""`pcbatch run` as a user types it: exit codes, messages, logs, job files, no secret anywhere."""

import csv
import json
import re

import click
import pytest
from click.testing import CliRunner

from batch.cli import cli
from batch.durable.lock import RunLock

UNKNOWN = "00000000-0000-4000-8000-00000000beef"


def sheet(tmp_path, ids, extra=()):
    path = tmp_path / "in.csv"
    lines = ["Customer ID,City,Email,Notes"]
    lines += [f"{cid},Newtown {i},billing{i}@example.com,note {i}" for i, cid in enumerate(ids)]
    lines += list(extra)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def invoke(args, sim=None, token=None, **env):
    variables = {
        "PC_ACCESS_TOKEN": token or (sim.token if sim else None),
        "PC_BASE_URL": sim.base_url if sim else None,
        "PC_TENANT_ID": None,
        "PC_CLIENT_ID": None,
        "PC_CLIENT_SECRET": None,
        "PC_REFRESH_TOKEN": None,
        "PC_CLIENT_CERTIFICATE_PATH": None,
        **env,
    }
    return CliRunner().invoke(cli, args, env=variables, catch_exceptions=False)


def test_a_clean_run_exits_0_and_prints_the_summary_and_the_report_path(make_sim_thread, tmp_path):
    sim = make_sim_thread(customers=3)
    out = tmp_path / "out"
    result = invoke(["run", str(sheet(tmp_path, sim.store.ids())), "--out", str(out)], sim)
    assert result.exit_code == 0, result.output
    assert re.search(r"updated\s+│?\s*3", result.stdout)
    assert f"report: {out}" in result.stdout
    assert {p.name for p in out.iterdir()} >= {
        "results.csv",
        "results.xlsx",
        "summary.json",
        "failed.csv",
        "undo.csv",
    }
    assert "Traceback" not in result.output


def test_json_logs_carry_rows_ids_and_statuses_but_no_address_or_token(make_sim_thread, tmp_path):
    sim = make_sim_thread(customers=2)
    ids = sim.store.ids()
    args = ["run", str(sheet(tmp_path, ids)), "--out", str(tmp_path / "o"), "--log-format", "json"]
    result = invoke(args, sim)
    assert result.exit_code == 0
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    rows = [line for line in lines if "status" in line]
    assert sorted((r["row"], r["customer_id"], r["status"]) for r in rows) == [
        (2, ids[0], "updated"),
        (3, ids[1], "updated"),
    ]
    assert "Newtown" not in result.stderr and "billing0@" not in result.stderr
    assert sim.token not in result.output


def test_the_token_appears_in_no_output_and_no_report_file(make_sim_thread, tmp_path):
    sim = make_sim_thread(customers=2)
    out = tmp_path / "out"
    result = invoke(["run", str(sheet(tmp_path, sim.store.ids(), [f"{UNKNOWN},X,,"])),
                     "--out", str(out)], sim)  # fmt: skip
    assert result.exit_code == 1
    assert sim.token not in result.output
    for path in out.iterdir():
        assert sim.token.encode() not in path.read_bytes(), path.name


def test_no_credentials_exit_2_naming_the_variables_and_nothing_is_sent(make_sim_thread, tmp_path):
    sim = make_sim_thread(customers=1)
    args = ["run", str(sheet(tmp_path, sim.store.ids())), "--out", str(tmp_path / "o")]
    result = invoke(args, sim, PC_ACCESS_TOKEN=None)
    assert result.exit_code == 2
    assert "PC_ACCESS_TOKEN" in result.stderr and "PC_CLIENT_ID" in result.stderr
    assert "Traceback" not in result.output
    assert sim.log == []
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://partner.example.com", "plain http://"),
        ("ftp://127.0.0.1", "https://"),
        ("https://user:pw@api.example.com", "user name or password"),
    ],
)
def test_an_unsafe_base_url_is_refused_with_exit_2(tmp_path, url, words):
    path = sheet(tmp_path, [UNKNOWN])
    result = invoke(["run", str(path), "--base-url", url], token="t")
    assert result.exit_code == 2
    assert words in result.stderr
    assert "pw" not in result.stderr.replace(words, "")


def test_a_missing_input_file_exits_2_before_anything_is_sent(make_sim_thread, tmp_path):
    sim = make_sim_thread(customers=1)
    result = invoke(["run", str(tmp_path / "nope.xlsx"), "--out", str(tmp_path / "o")], sim)
    assert result.exit_code == 2
    assert "nope.xlsx" in result.stderr and "Traceback" not in result.output
    assert sim.log == []


def test_a_missing_input_file_is_named_before_missing_credentials(make_sim_thread, tmp_path):
    sim = make_sim_thread(customers=1)
    args = ["run", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "o")]
    result = invoke(args, sim, PC_ACCESS_TOKEN=None)
    assert result.exit_code == 2
    assert "nope.csv: cannot be read" in result.stderr
    assert "PC_ACCESS_TOKEN" not in result.stderr


def test_unknown_columns_are_warned_about_once(make_sim_thread, tmp_path):
    sim = make_sim_thread(customers=1)
    result = invoke(["run", str(sheet(tmp_path, sim.store.ids())), "--out", str(tmp_path / "o")],
                    sim)  # fmt: skip
    assert result.stderr.count('"Notes"') == 1


def test_an_out_dir_locked_by_another_run_exits_4_and_sends_nothing(make_sim_thread, tmp_path):
    sim = make_sim_thread(customers=1)
    out = tmp_path / "out"
    with RunLock(out):
        result = invoke(["run", str(sheet(tmp_path, sim.store.ids())), "--out", str(out)], sim)
    assert result.exit_code == 4
    assert "another pcbatch run" in result.stderr
    assert sim.log == []


def test_a_job_file_gives_the_options_and_flags_win(make_sim_thread, tmp_path):
    sim = make_sim_thread(customers=2)
    sheet(tmp_path, sim.store.ids())
    job = tmp_path / "job.toml"
    job.write_text('input = "in.csv"\nout = "reports/job"\ndry_run = false\nrate = 200.0\n')
    result = invoke(["run", "--job", str(job), "--dry-run"], sim)
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "reports" / "job" / "summary.json").read_text())
    assert summary["dry_run"] is True
    assert summary["statuses"]["would_update"] == 2
    assert {r.method for r in sim.log} == {"GET"}


def test_failed_csv_fed_back_retries_just_those_rows(make_sim_thread, tmp_path):
    sim = make_sim_thread(customers=3)
    ids = sim.store.ids()
    template = sim.store.profile(ids[2])
    first = invoke(["run", str(sheet(tmp_path, [*ids[:2], UNKNOWN])), "--out",
                    str(tmp_path / "first")], sim)  # fmt: skip
    assert first.exit_code == 1
    failed = tmp_path / "first" / "failed.csv"
    with failed.open(encoding="utf-8-sig") as f:
        assert [r["Customer ID"] for r in csv.DictReader(f)] == [UNKNOWN]
    # the customer now exists (say, the tenant id was fixed in Partner Center)
    sim.store.add(UNKNOWN, {k: v for k, v in template.items() if k not in ("links", "attributes")})
    before = len(sim.log)
    again = invoke(["run", str(failed), "--out", str(tmp_path / "again")], sim)
    assert again.exit_code == 0, again.output
    assert {r.customer_id for r in sim.log[before:] if r.customer_id} == {UNKNOWN}
    assert sim.store.profile(UNKNOWN)["defaultAddress"]["city"] == "Newtown 2"


def test_run_help_lists_every_documented_option():
    result = CliRunner().invoke(cli, ["run", "--help"])
    assert result.exit_code == 0
    for option in [
        "--sheet", "--base-url", "--cloud", "--concurrency", "--rate", "--max-attempts",
        "--timeout", "--dry-run", "--validate-addresses", "--limit", "--max-duration",
        "--failure-budget", "--out", "--clear-token", "--resume", "--log-format", "--quiet",
        "--no-progress", "--job",
    ]:  # fmt: skip
        assert option in result.output
    assert "Example" in result.output


def test_every_run_option_is_documented_in_the_readme():
    from pathlib import Path

    docs = Path(__file__).parent.parent / "docs" / "reference"
    usage = (docs / "run.md").read_text(encoding="utf-8")
    run = cli.get_command(click.Context(cli), "run")
    options = [p for p in run.params if p.name != "input_path"]
    for param in options:
        for flag in param.opts:
            assert f"`{flag}" in usage, flag
