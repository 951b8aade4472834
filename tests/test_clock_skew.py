"""A machine clock an hour ahead of the service's is detected from the `Date` of the log's
first answer, logged and answered with a full run (never a silent skip), and the state keeps
that night's times in the service's clock. Over loopback against the stand-in."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta

from batch.core.model import Row
from batch.core.options import RunOptions
from batch.durable.state import STATE_NAME
from batch.engine.calls import open_calls
from batch.engine.nightly import plan_night
from batch.engine.pacing import pacer_for
from batch.wire.credentials import provider_from_env
from tests.support import city_sheet, invoke


async def test_a_clock_an_hour_ahead_makes_the_night_full_and_the_state_keeps_service_time(
    make_sim, tmp_path, caplog
):
    sim = await make_sim(customers=3)
    ids = sim.store.ids()
    state = tmp_path / "state"
    sheet = city_sheet(tmp_path / "in.csv", ids)
    first = ["run", str(sheet), "--out", str(tmp_path / "n1"), "--state", str(state)]
    # The first night (a full run, this machine's clock right), through the CLI in a thread.
    done = await asyncio.to_thread(invoke, [*first, "--rate", "1000", "--no-progress"], sim)
    assert done.exit_code == 0, done.output

    ahead = timedelta(hours=1)
    options = RunOptions(input=sheet, state=state, incremental=True, rate=1000)
    tokens = provider_from_env({"PC_ACCESS_TOKEN": sim.token}, "global", sim.base_url)
    rows = [Row(2 + i, cid, {"city": f"Newtown {i}"}, {}) for i, cid in enumerate(ids)]
    async with open_calls(options, sim.base_url, tokens, pacer_for(options)) as calls:
        night = await plan_night(
            options,
            calls,
            tokens,
            sim.base_url,
            rows,
            clock=lambda: datetime.now(UTC) + ahead,
        )
    assert night.window is None  # a full run: no row vouched for without a call
    assert night.record is not None and night.record["mode"] == "full"
    assert "clock is 1:00:00 ahead of the service's" in str(night.record["reason"])
    assert any("ahead of the service's" in r.getMessage() for r in caplog.records)
    assert night.learner is not None
    night.learner.begin()
    night.close()
    with sqlite3.connect(state / STATE_NAME) as db:
        [started] = db.execute("SELECT max(started_at) FROM runs").fetchone()
    db.close()
    # Kept in the service's time, not an hour ahead: the next night's window misses nothing.
    assert abs(datetime.fromisoformat(started) - datetime.now(UTC)) < timedelta(minutes=1)
