"""A full night keeps the job state's times in the service's clock when this machine's is off:
the pre-flight read's `Date` says the service's time, so the next night's window (compared with
the log's operationDate) misses no edit. Through the CLI, over loopback."""

import sqlite3
from datetime import UTC, datetime, timedelta

from support import city_sheet, invoke

from batch.durable.state import STATE_NAME


def state_runs(state):
    with sqlite3.connect(state / STATE_NAME) as db:
        found = [datetime.fromisoformat(s) for (s,) in db.execute("SELECT started_at FROM runs")]
    db.close()
    return found


def night(sim, tmp_path, name):
    sheet = city_sheet(tmp_path / f"{name}.csv", sim.store.ids(), city=name)
    args = ["run", str(sheet), "--out", str(tmp_path / name), "--state", str(tmp_path / "state")]
    return invoke([*args, "--rate", "1000", "--no-progress"], sim)


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
