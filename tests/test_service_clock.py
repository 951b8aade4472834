"""A full night keeps the job state's times in the service's clock when this machine's is off:
the pre-flight read's `Date` says the service's time, so the next night's window (compared with
the log's operationDate) misses no edit. Through the CLI, over loopback."""

import sqlite3
from datetime import UTC, datetime, timedelta

from support import city_sheet, invoke, read_results, read_summary

from batch.durable.state import STATE_NAME


def state_runs(state):
    with sqlite3.connect(state / STATE_NAME) as db:
        found = [datetime.fromisoformat(s) for (s,) in db.execute("SELECT started_at FROM runs")]
    db.close()
    return found


def night(sim, tmp_path, name, *flags, city=None):
    """`pcbatch run` of the job (its state in tmp_path/state), its report in tmp_path/name."""
    sheet = city_sheet(tmp_path / f"{name}.csv", sim.store.ids(), city=city or name)
    args = ["run", str(sheet), "--out", str(tmp_path / name), "--state", str(tmp_path / "state")]
    return invoke([*args, *flags, "--rate", "1000", "--no-progress"], sim)


def test_a_full_night_on_a_clock_an_hour_ahead_keeps_the_services_time(make_sim_thread, tmp_path):
    # The service's clock an hour behind this machine's: this machine is an hour ahead.
    sim = make_sim_thread(customers=3, clock_offset_s=-3600.0)
    done = night(sim, tmp_path, "Newtown")
    assert done.exit_code == 0, done.output
    assert "ahead of the service's" in done.stderr
    [started] = state_runs(tmp_path / "state")
    service_now = datetime.now(UTC) - timedelta(hours=1)
    assert abs(started - service_now) < timedelta(minutes=2)


def test_a_right_clock_keeps_its_own_time_and_says_nothing(make_sim_thread, tmp_path):
    sim = make_sim_thread(customers=3)
    done = night(sim, tmp_path, "Newtown")
    assert done.exit_code == 0, done.output
    assert "service's" not in done.stderr
    [started] = state_runs(tmp_path / "state")
    assert abs(started - datetime.now(UTC)) < timedelta(minutes=2)


def test_an_activity_log_stamped_seven_minutes_early_makes_the_next_night_full(
    make_sim_thread, tmp_path
):
    # The service's Date is right, but its log stamps operations 7 minutes early: another
    # writer's edit made after pcbatch read a profile would look older than what the state
    # knows "as of", and be skipped. pcbatch's own writes of the night before show it.
    sim = make_sim_thread(customers=3, audit_offset_s=-420.0)
    first = night(sim, tmp_path, "Newtown")
    assert first.exit_code == 0, first.output
    second = night(sim, tmp_path, "second", "--incremental", city="Newtown")
    assert second.exit_code == 0, second.output
    nightly = read_summary(tmp_path / "second")["nightly"]
    assert nightly["mode"] == "full"
    assert "the activity log's times run 0:07:00 behind" in nightly["reason"]
    # Every row read again: nothing vouched for by the log.
    assert {line["status"] for line in read_results(tmp_path / "second")} == {"unchanged"}


def test_a_log_on_time_lets_the_next_night_be_incremental(make_sim_thread, tmp_path):
    sim = make_sim_thread(customers=3)
    assert night(sim, tmp_path, "Newtown").exit_code == 0
    second = night(sim, tmp_path, "second", "--incremental", city="Newtown")
    assert second.exit_code == 0, second.output
    assert read_summary(tmp_path / "second")["nightly"]["mode"] == "incremental"
