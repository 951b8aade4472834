"""The job's state file (batch/state.py): runs and what is known, kept across opens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from batch.core.errors import ConfigError
from batch.core.incremental import Known
from batch.state import STATE_NAME, JobState

T0 = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)
C1 = "11111111-1111-4111-8111-111111111111"


def test_runs_and_known_customers_survive_reopening(tmp_path):
    with JobState.open(tmp_path / "state") as state:
        assert (state.last_run_start(), state.last_full_start(), state.known()) == (None, None, {})
        full = state.begin_run(T0, full=True)
        state.finish_run(full, T0 + timedelta(minutes=20))
        state.begin_run(T0 + timedelta(days=1), full=False)  # never finished (it died)
        state.save([Known(C1, {"city": "Oslo", "state": None}, T0, wrote_at=T0)])
    assert (tmp_path / "state" / STATE_NAME).is_file()
    with JobState.open(tmp_path / "state") as state:
        assert state.last_run_start() == T0 + timedelta(days=1)
        assert state.last_full_start() == T0
        assert state.known() == {C1: Known(C1, {"city": "Oslo", "state": None}, T0, T0)}
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
