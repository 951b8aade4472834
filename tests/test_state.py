"""The job's state file (batch/durable/state.py): runs and what is known, kept across opens."""

from __future__ import annotations

import os
import sqlite3
import stat
from datetime import UTC, datetime, timedelta

import pytest

from batch.core.errors import ConfigError
from batch.core.incremental import Known
from batch.core.model import KnownProfile
from batch.durable.state import STATE_NAME, JobState

T0 = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)
C1 = "11111111-1111-4111-8111-111111111111"
KEPT = KnownProfile({"defaultAddress": {"city": "Oslo", "addressLine1": "Ærøgade 1"}}, "-42")


def test_runs_and_known_customers_survive_reopening(tmp_path):
    with JobState.open(tmp_path / "state") as state:
        assert (state.last_run_start(), state.last_full_start(), state.known()) == (None, None, {})
        full = state.begin_run(T0, full=True)
        state.finish_run(full, T0 + timedelta(minutes=20))
        state.begin_run(T0 + timedelta(days=1), full=False)  # never finished (it died)
        state.save([Known(C1, {"city": "Oslo", "state": None}, T0, wrote_at=T0, profile=KEPT)])
    assert (tmp_path / "state" / STATE_NAME).is_file()
    with JobState.open(tmp_path / "state") as state:
        assert state.last_run_start() == T0 + timedelta(days=1)
        assert state.last_full_start() == T0
        assert state.known() == {C1: Known(C1, {"city": "Oslo", "state": None}, T0, T0)}
        assert state.profiles([C1, "someone-else"]) == {C1: KEPT}  # read only when asked for
        state.confirm([C1], T0 + timedelta(days=1))
        assert state.known()[C1].as_of == T0 + timedelta(days=1)
        assert state.profiles([C1]) == {C1: KEPT}  # a confirmation keeps what was known
        state.forget(C1)
        assert state.known() == {}


def test_an_unfinished_full_run_is_not_the_last_full_run(tmp_path):
    with JobState.open(tmp_path) as state:
        state.begin_run(T0, full=True)
        assert state.last_full_start() is None


def test_a_state_directory_that_cannot_be_made_is_one_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="--state"):
        JobState.open(blocker / "state")


def test_incremental_without_a_state_directory_is_refused_with_how_to_proceed():
    from batch.core.options import merge_options

    with pytest.raises(ConfigError, match="give --state DIR"):
        merge_options({}, {"incremental": True})


@pytest.mark.skipif(os.name != "posix", reason="POSIX modes")
def test_the_state_holds_customers_data_so_only_its_owner_may_read_it(tmp_path):
    old = os.umask(0o022)  # a usual umask: pcbatch must not rely on a strict one
    try:
        with JobState.open(tmp_path / "state"):
            pass
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "state" / STATE_NAME).stat().st_mode) == 0o600


@pytest.mark.skipif(os.name != "posix", reason="POSIX modes")
def test_a_state_directory_others_may_write_is_refused_with_what_to_do(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(ConfigError, match=r"--state .* may be written by other users.*chmod go-w"):
        JobState.open(shared)
    assert not (shared / STATE_NAME).exists()


def test_a_state_made_before_profiles_were_kept_gains_them(tmp_path):
    tmp_path.chmod(0o700)
    with sqlite3.connect(tmp_path / STATE_NAME) as db:
        db.execute(
            "CREATE TABLE known (customer_id TEXT PRIMARY KEY, field_values TEXT NOT NULL,"
            " as_of TEXT NOT NULL, wrote_at TEXT)"
        )
        db.execute(
            'INSERT INTO known VALUES (?, \'{"city": "Oslo"}\', ?, NULL)', (C1, T0.isoformat())
        )
    with JobState.open(tmp_path) as state:
        assert state.known() == {C1: Known(C1, {"city": "Oslo"}, T0)}
        state.save([Known(C1, {"city": "Oslo"}, T0, profile=KEPT)])
        assert state.profiles([C1]) == {C1: KEPT}
