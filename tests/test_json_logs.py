"""`--log-format json`: every line on stderr is one JSON object, errors and the end included."""

import json

from click.testing import CliRunner

from batch.cli import cli
from batch.wire.auth import tenant_of

UNKNOWN = "00000000-0000-4000-8000-00000000beef"


def invoke(args, sim=None):
    env = {
        "PC_ACCESS_TOKEN": sim.token if sim else None,
        "PC_BASE_URL": sim.base_url if sim else None,
    }
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=False)


def json_lines(stderr: str) -> list[dict]:
    lines = stderr.splitlines()
    assert lines, "nothing on stderr"
    return [json.loads(line) for line in lines]  # every line, not only the ones that parse


def sheet(tmp_path, ids):
    path = tmp_path / "in.csv"
    rows = [f"{cid},Newtown {i}" for i, cid in enumerate(ids)]
    path.write_text("\n".join(["Customer ID,City", *rows]) + "\n", encoding="utf-8")
    return path


def test_row_lines_carry_status_and_reason_and_a_closing_event_the_counts(
    make_sim_thread, tmp_path
):
    sim = make_sim_thread(customers=2)
    out = tmp_path / "o"
    args = ["run", str(sheet(tmp_path, [*sim.store.ids(), UNKNOWN])), "--out", str(out)]
    result = invoke([*args, "--log-format", "json"], sim)
    assert result.exit_code == 1
    lines = json_lines(result.stderr)
    rows = {line["row"]: line for line in lines if "row" in line}
    assert {n: r["status"] for n, r in rows.items()} == {2: "updated", 3: "updated", 4: "not_found"}
    assert rows[4]["reason"]  # why it is not found, as the service said
    assert rows[2]["reason"] == ""
    closing = lines[-1]
    assert closing["event"] == "finished"
    assert closing["exit_code"] == 1
    assert closing["report"] == str(out)
    assert closing["statuses"]["updated"] == 2 and closing["statuses"]["not_found"] == 1
    assert sum(closing["statuses"].values()) == closing["rows"] == 3


def test_before_the_first_write_a_line_names_the_cloud_the_tenant_and_the_base_url(
    make_sim_thread, tmp_path
):
    sim = make_sim_thread(customers=1)
    args = ["run", str(sheet(tmp_path, sim.store.ids())), "--out", str(tmp_path / "o")]
    lines = json_lines(invoke([*args, "--log-format", "json"], sim).stderr)
    tenant = tenant_of(sim.token)
    assert tenant  # the stand-in's tokens carry a `tid`, as Entra's do
    target = f"writing to cloud global, tenant {tenant}, base URL {sim.base_url}"
    messages = [line["message"] for line in lines]
    first_row = next(i for i, line in enumerate(lines) if "row" in line)
    assert messages.index(target) < first_row
    assert sim.token not in " ".join(messages)


def test_quiet_json_logs_still_end_with_the_closing_event(make_sim_thread, tmp_path):
    sim = make_sim_thread(customers=1)
    args = ["run", str(sheet(tmp_path, sim.store.ids())), "--out", str(tmp_path / "o")]
    result = invoke([*args, "--log-format", "json", "--quiet"], sim)
    assert result.exit_code == 0
    (closing,) = json_lines(result.stderr)
    assert (closing["event"], closing["exit_code"]) == ("finished", 0)


def test_an_exit_2_error_is_a_json_line_too(tmp_path):
    result = invoke(["run", str(tmp_path / "missing.xlsx"), "--log-format", "json"])
    assert result.exit_code == 2
    (line,) = json_lines(result.stderr)
    assert (line["event"], line["level"], line["exit_code"]) == ("error", "error", 2)
    assert "missing.xlsx" in line["message"]


def test_a_usage_error_is_a_json_line_when_json_is_asked_for(tmp_path):
    result = invoke(["run", "in.csv", "--rate", "fast", "--log-format=json"])
    assert result.exit_code == 2
    (line,) = json_lines(result.stderr)
    assert line["event"] == "error" and "fast" in line["message"]


def test_a_job_file_asking_for_json_gets_its_own_error_as_json(tmp_path):
    job = tmp_path / "job.toml"
    job.write_text('log_format = "json"\ninput = "in.csv"\nrat = 2\n', encoding="utf-8")
    result = invoke(["run", "--job", str(job)])
    assert result.exit_code == 2
    (line,) = json_lines(result.stderr)
    assert "`rat`" in line["message"] and line["exit_code"] == 2


def test_without_json_an_error_stays_one_plain_line(tmp_path):
    result = invoke(["run", str(tmp_path / "missing.xlsx")])
    assert result.exit_code == 2
    assert result.stderr.startswith("pcbatch: ") and len(result.stderr.splitlines()) == 1


def test_the_tenant_is_read_from_the_token_without_verifying_it():
    assert tenant_of("not a jwt") is None
    assert tenant_of("e30.e30.x") is None  # {} claims
    # header {"alg":"none"}, payload {"tid":"contoso-tid"}
    assert tenant_of("eyJhbGciOiJub25lIn0.eyJ0aWQiOiJjb250b3NvLXRpZCJ9.sig") == "contoso-tid"
    # a tid that is no tenant id (a line break, a colour code) is not shown at all
    assert tenant_of("e30.eyJ0aWQiOiJhXG5iIn0.sig") is None


def test_every_row_of_the_sheet_has_a_line_and_stdout_is_one_json_object(make_sim_thread, tmp_path):
    sim = make_sim_thread(customers=2)
    first, second = sim.store.ids()
    path = tmp_path / "in.csv"
    path.write_text(
        "Customer ID,City\n"
        f"{first},Newtown\n"  # row 2: updated
        f"{first},Newtown\n"  # row 3: duplicate of row 2, never sent
        "not-a-guid,Oldtown\n"  # row 4: invalid, never sent
        f"{second},Newtown\n",  # row 5: past --limit, skipped
        encoding="utf-8",
    )
    args = ["run", str(path), "--out", str(tmp_path / "o"), "--limit", "1"]
    result = invoke([*args, "--log-format", "json"], sim)
    assert result.exit_code == 1
    rows = {line["row"]: line for line in json_lines(result.stderr) if "row" in line}
    assert {n: r["status"] for n, r in rows.items()} == {
        2: "updated",
        3: "duplicate",
        4: "invalid",
        5: "skipped",
    }
    assert rows[4]["customer_id"] == "not-a-guid" and "Customer ID" in rows[4]["reason"]
    assert "Oldtown" not in result.stderr  # a problem names its column, not the cell's value
    (summary,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert summary["event"] == "summary" and summary["exit_code"] == 1
    assert summary["statuses"]["duplicate"] == summary["statuses"]["invalid"] == 1
    assert summary["rows"] == 4
