"""A job state that fails (a damaged page, a full disk) ends the night cleanly: exit 2, one
line saying what to do, the journal's run finished and tonight's report written; a state moved
aside makes the next night a full one. Over loopback against the stand-in."""

from __future__ import annotations

import os
import resource
import sqlite3
import subprocess
import sys

import pytest

from batch.durable.state import STATE_NAME
from tests.support import city_sheet, invoke, read_results, read_summary, rest

ROWS = 6


def _night(sim, tmp_path, name, sheet, *extra):
    out = tmp_path / name
    args = ["run", str(sheet), "--out", str(out), "--state", str(tmp_path / "state")]
    return invoke([*args, "--rate", "1000", "--no-progress", *extra], sim), out


@pytest.fixture
def first_night(make_sim_thread, tmp_path):
    """A stand-in and a job whose first night (a full run) left its state."""
    sim = make_sim_thread(customers=ROWS)
    sheet = city_sheet(tmp_path / "in.csv", sim.store.ids())
    result, _ = _night(sim, tmp_path, "night1", sheet)
    assert result.exit_code == 0, result.output
    return sim, sheet


def _zero_page_of(path, name):
    """Zero the first page of table or index `name` in the SQLite file (a bad sector)."""
    with sqlite3.connect(path) as db:
        [page_size] = db.execute("PRAGMA page_size").fetchone()
        [pageno] = db.execute("SELECT min(pageno) FROM dbstat WHERE name = ?", (name,)).fetchone()
    db.close()
    with path.open("r+b") as f:
        f.seek((pageno - 1) * page_size)
        f.write(bytes(page_size))


@pytest.mark.parametrize("damaged", ["known", "sqlite_autoindex_known_1"])
@pytest.mark.parametrize("incremental", [True, False])
def test_a_damaged_state_ends_the_night_before_anything_is_sent(
    first_night, tmp_path, damaged, incremental
):
    sim, sheet = first_night
    state = tmp_path / "state" / STATE_NAME
    _zero_page_of(state, damaged)
    sent = len(rest(sim))
    extra = ["--incremental"] if incremental else []

    result, out = _night(sim, tmp_path, "night2", sheet, *extra)

    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    [line] = [ln for ln in result.output.splitlines() if "job state" in ln]
    assert f"the job state {state} is damaged" in line and "move it aside" in line
    assert "the next night runs full" in line
    assert len(rest(sim)) == sent  # not one request: no PUT without its report
    assert not (out / "summary.json").exists()

    # Moved aside as the message says: the next night runs full, every row right.
    state.rename(state.with_name("damaged"))
    result, out = _night(sim, tmp_path, "night3", sheet, "--incremental")
    assert result.exit_code == 0, result.output
    nightly = read_summary(out)["nightly"]
    assert nightly["mode"] == "full" and "no earlier run" in nightly["reason"]
    assert {line["status"] for line in read_results(out)} == {"unchanged"}


def _padded(state, size):
    """Grow the state file to about `size` bytes with a table pcbatch never reads."""
    with sqlite3.connect(state) as db:
        db.execute("CREATE TABLE padding (blob BLOB)")
        db.execute("INSERT INTO padding VALUES (zeroblob(?))", (size,))
    db.close()


def test_a_state_on_a_full_disk_ends_the_night_with_its_report_and_exit_2(
    make_sim_thread, tmp_path
):
    # The state may not grow by a byte (RLIMIT_FSIZE in the run's process: the filesystem
    # is full for it); the journal and the report stay well below that size. Night 1 knew
    # one customer, so what night 2 learns of the others needs new pages.
    sim = make_sim_thread(customers=2 * ROWS)
    result, _ = _night(
        sim, tmp_path, "night1", city_sheet(tmp_path / "in.csv", sim.store.ids()[:1])
    )
    assert result.exit_code == 0, result.output
    state = tmp_path / "state" / STATE_NAME
    _padded(state, 2_000_000)
    limit = state.stat().st_size
    sheet = city_sheet(tmp_path / "in2.csv", sim.store.ids(), city="Oldtown")
    out = tmp_path / "night2"
    args = [str(sheet), "--out", str(out), "--state", str(state.parent), "--rate", "1000"]

    def full_disk():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = {**os.environ, "PC_ACCESS_TOKEN": sim.token, "PC_BASE_URL": sim.base_url}
    done = subprocess.run(
        [sys.executable, "-m", "batch", "run", *args, "--no-progress"],
        env=env,
        preexec_fn=full_disk,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    [line] = [ln for ln in done.stderr.splitlines() if "job state" in ln]
    assert f"the job state {state} cannot be written" in line and "free space" in line
    summary = read_summary(out)  # tonight's own report
    assert summary["exit_code"] == 2
    statuses = [line["status"] for line in read_results(out)]
    assert len(statuses) == 2 * ROWS
    assert statuses.count("updated") == sum(
        sim.store.stored(cid)["defaultAddress"]["city"].startswith("Oldtown")
        for cid in sim.store.ids()
    )
