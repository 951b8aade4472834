"""`pcbatch run --job FILE.toml`: options from the job file, flags typed on the command line win."""

import json

from click.testing import CliRunner
from support import city_sheet, invoke

from batch.cli import cli
from batch.durable.journal import Journal


def options_of_last_run(out):
    with Journal.open(out, create=False) as journal:
        return dict(journal.last_run().options)


def test_flags_typed_on_the_command_line_win_and_flags_left_out_do_not(make_sim_thread, tmp_path):
    sim = make_sim_thread(customers=2)
    city_sheet(tmp_path / "jobs" / "in.csv", sim.store.ids())
    job = tmp_path / "jobs" / "nightly.toml"
    job.write_text(
        'input = "in.csv"\nout = "../reports/nightly"\nrate = 123.0\nconcurrency = 2\n'
        'failure_budget = 0.2\nmax_attempts = 3\nclear_token = "CLEAR"\n'
    )

    result = invoke(["run", "--job", str(job), "--concurrency", "3", "--max-attempts", "6"], sim)

    assert result.exit_code == 0, result.output
    used = options_of_last_run(tmp_path / "reports" / "nightly")
    # typed: the flag's value, even when it equals the default (6)
    assert (used["concurrency"], used["max_attempts"]) == (3, 6)
    # not typed: the job file's value, not the flag's default (10, 0.5, #N/A)
    assert (used["rate"], used["failure_budget"], used["clear_token"]) == (123.0, 0.2, "CLEAR")
    assert used["job"] == str(job)


def test_input_typed_on_the_command_line_wins_over_the_job_files(make_sim_thread, tmp_path):
    sim = make_sim_thread(customers=2)
    ids = sim.store.ids()
    city_sheet(tmp_path / "from-job.csv", ids, city="Jobtown")
    typed = city_sheet(tmp_path / "typed.csv", ids[:1], city="Typedtown")
    job = tmp_path / "job.toml"
    job.write_text('input = "from-job.csv"\nout = "out"\n')

    result = invoke(["run", str(typed), "--job", str(job)], sim)

    assert result.exit_code == 0, result.output
    assert sim.store.profile(ids[0])["defaultAddress"]["city"] == "Typedtown 0"
    assert {r.customer_id for r in sim.log if r.customer_id} == {ids[0]}


def test_a_job_file_works_from_any_working_directory(make_sim_thread, tmp_path, monkeypatch):
    sim = make_sim_thread(customers=1)
    city_sheet(tmp_path / "jobs" / "in.csv", sim.store.ids())
    (tmp_path / "jobs" / "job.toml").write_text('input = "in.csv"\nout = "out"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    result = invoke(["run", "--job", str(tmp_path / "jobs" / "job.toml")], sim)

    assert result.exit_code == 0, result.output
    assert (tmp_path / "jobs" / "out" / "results.csv").is_file()
    assert list(elsewhere.iterdir()) == []


def test_a_nightly_job_with_resume_true_continues_the_night_that_stopped(make_sim_thread, tmp_path):
    sim = make_sim_thread(customers=8, latency_ms=50)
    city_sheet(tmp_path / "in.csv", sim.store.ids())
    job = tmp_path / "nightly.toml"
    job.write_text('input = "in.csv"\nout = "out"\nresume = true\nconcurrency = 1\n')

    stopped = invoke(["run", "--job", str(job), "--max-duration", "0.15"], sim)  # first night
    assert stopped.exit_code == 75, stopped.output
    next_night = invoke(["run", "--job", str(job)], sim)

    assert next_night.exit_code == 0, next_night.output
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["statuses"]["updated"] == 8
    with Journal.open(tmp_path / "out", create=False) as journal:
        info = journal.last_run()
    assert (info.run_id, info.sessions) == (1, 2)


def test_force_is_a_command_line_flag_only(tmp_path):
    job = tmp_path / "job.toml"
    job.write_text('input = "in.csv"\nforce = true\n')
    result = CliRunner().invoke(cli, ["run", "--job", str(job)])
    assert result.exit_code == 2
    assert "`force` is not a run option" in result.stderr
