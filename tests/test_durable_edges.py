"""The durable edges (points 3 and 6 of the hardening): an undo file per run, a lost or damaged
journal refused instead of started over, landed PUTs' undo values kept, every session counted,
and a disk that fills up ends in one line, exit 2."""

import csv
import os
import resource
import signal
import sqlite3
import subprocess
import sys
from dataclasses import replace

import pytest
from click.testing import CliRunner
from support import city_sheet, invoke, read_summary, rest

from batch.cli import cli
from batch.core.errors import ConfigError
from batch.core.model import Change, Outcome, Status
from batch.core.options import RunOptions
from batch.core.resume import settle
from batch.durable.journal import JOURNAL_NAME
from batch.engine.run import run_job

FAST = {"rate": 1000.0, "timeout": 2.0, "backoff_base": 0.001, "backoff_cap": 0.002}


def options(sim, sheet, out, **changes):
    return RunOptions(input=sheet, base_url=sim.base_url, out=out, **{**FAST, **changes})


def undo_rows(path):
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


async def test_each_run_keeps_its_own_undo_file_and_undo_csv_is_the_last(make_sim, tmp_path):
    sim = await make_sim(customers=3)
    ids, out, env = sim.store.ids(), tmp_path / "out", {"PC_ACCESS_TOKEN": sim.token}
    cities = {cid: sim.store.export()[cid]["defaultAddress"]["city"] for cid in ids}
    first = city_sheet(tmp_path / "first.csv", ids)
    assert (await run_job(options(sim, first, out), env)).exit_code == 0
    # Another input in the same --out: nothing to change, so its undo file has no rows.
    again = city_sheet(tmp_path / "again.csv", ids)
    again.write_text(first.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert (await run_job(options(sim, again, out), env)).exit_code == 0

    kept = undo_rows(out / "undo-1.csv")
    assert {r["customer_id"]: r["city"] for r in kept} == cities
    assert undo_rows(out / "undo-2.csv") == [] == undo_rows(out / "undo.csv")

    # Rebuilding an earlier run's report keeps its undo file and leaves undo.csv the last's.
    rebuilt = CliRunner().invoke(cli, ["report", "--out", str(out), "--run-id", "1"])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert undo_rows(out / "undo-1.csv") == kept and undo_rows(out / "undo.csv") == []


async def finished_run(make_sim, tmp_path):
    sim = await make_sim(customers=4)
    out = tmp_path / "out"
    sheet = city_sheet(tmp_path / "in.csv", sim.store.ids())
    assert (await run_job(options(sim, sheet, out), {"PC_ACCESS_TOKEN": sim.token})).exit_code == 0
    return sim, sheet, out


@pytest.mark.parametrize("resume", [True, False])
async def test_a_deleted_journal_is_refused_and_the_report_left_as_it_was(
    make_sim, tmp_path, resume
):
    sim, sheet, out = await finished_run(make_sim, tmp_path)
    report = {p.name: p.read_bytes() for p in out.iterdir() if p.suffix in (".csv", ".json")}
    for name in (JOURNAL_NAME, JOURNAL_NAME + "-wal", JOURNAL_NAME + "-shm"):
        (out / name).unlink(missing_ok=True)
    sent = len(rest(sim))
    with pytest.raises(ConfigError, match="its journal is gone") as caught:
        await run_job(options(sim, sheet, out, resume=resume), {"PC_ACCESS_TOKEN": sim.token})
    assert "restore journal.sqlite" in str(caught.value)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.name in report} == report
    assert not (out / JOURNAL_NAME).exists() and len(rest(sim)) == sent


async def test_a_journal_that_lost_outcomes_is_refused(make_sim, tmp_path):
    sim, sheet, out = await finished_run(make_sim, tmp_path)
    db = sqlite3.connect(out / JOURNAL_NAME)  # as a power cut losing the WAL would leave it
    db.execute("DELETE FROM outcomes WHERE row > 2")
    db.commit()
    db.close()
    with pytest.raises(ConfigError, match="has lost outcomes of run 1") as caught:
        await run_job(options(sim, sheet, out, resume=True), {"PC_ACCESS_TOKEN": sim.token})
    assert "shows 4 rows done of 4, the journal 1 of 4" in str(caught.value)
    assert read_summary(out)["statuses"]["updated"] == 4


@pytest.mark.parametrize("damage", ["pages", "header"])
def test_a_damaged_journal_is_one_line_and_exit_2_never_a_traceback(
    make_sim_thread, tmp_path, damage
):
    sim = make_sim_thread(customers=4)
    out = tmp_path / "out"
    sheet = city_sheet(tmp_path / "in.csv", sim.store.ids())
    args = ["run", str(sheet), "--out", str(out), "--resume", "--quiet"]
    assert invoke(args, sim).exit_code == 0
    path = out / JOURNAL_NAME
    data = bytearray(path.read_bytes())
    if damage == "pages":
        data[4096 + 100 : 4096 * 3] = os.urandom(4096 * 2 - 100)
    else:
        data[:100] = b"x" * 100
    path.write_bytes(bytes(data))
    env = {"PC_ACCESS_TOKEN": sim.token, "PC_BASE_URL": sim.base_url}
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    message = result.output.strip().splitlines()
    assert len(message) == 1 and str(path) in message[0], message
    assert "Traceback" not in result.output


def test_a_resumed_row_keeps_the_befores_of_the_put_that_landed():
    # Crash after a PUT moved the city Oldtown -> Newtown; someone edited it to Elsewhere; the
    # resumed row PUTs Newtown again: its undo value is still Oldtown, as before pcbatch wrote.
    sent = (Change("city", "Oldtown", "Newtown"),)
    again = Outcome(2, "c", Status.UPDATED, changes=(Change("city", "Elsewhere", "Newtown"),))
    assert settle(again, sent).changes == sent
    landed = Outcome(2, "c", Status.UNCHANGED)
    assert settle(landed, sent).status is Status.UPDATED and settle(landed, sent).changes == sent
    other = replace(again, changes=(Change("email", "a@x.test", "b@x.test"),))
    assert settle(other, sent).changes == other.changes  # a field the first PUT did not carry


async def test_summary_adds_up_every_session_of_a_run(make_sim, tmp_path):
    sim = await make_sim(customers=6)
    out, env = tmp_path / "out", {"PC_ACCESS_TOKEN": sim.token}
    sheet = city_sheet(tmp_path / "in.csv", sim.store.ids())
    first = await run_job(options(sim, sheet, out, limit=3), env)
    assert first.exit_code == 1  # rows past --limit are skipped
    second = await run_job(options(sim, sheet, out, resume=True), env)
    assert second.exit_code == 0
    summary = read_summary(out)
    assert summary["statuses"]["updated"] == 6
    assert summary["requests"] == len(rest(sim))  # both sessions, pre-flight reads included


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="POSIX file-size limit")
@pytest.mark.parametrize("limit", [0, 20_000, 150_000])  # the lock, the journal, mid-run
def test_a_full_disk_is_one_line_and_exit_2(make_sim_thread, tmp_path, limit):
    sim = make_sim_thread(customers=30)
    sheet = city_sheet(tmp_path / "in.csv", sim.store.ids())
    out = tmp_path / "out"

    def small_disk():
        # Writes past `limit` bytes fail (EFBIG) as on a full disk, instead of killing us.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = {k: v for k, v in os.environ.items() if not k.startswith("PC_")}
    env.update(PC_BASE_URL=sim.base_url, PC_ACCESS_TOKEN=sim.token, PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run(
        [sys.executable, "-m", "batch", "run", str(sheet), "--out", str(out), "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=small_disk,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    # Besides the rows not recorded and the run's closing line (its exit code and counts, for a
    # scheduler), the failure is one line.
    errors = [
        line
        for line in lines
        if " WARNING row " not in line and "run finished with exit code" not in line
    ]
    assert len(errors) == 1 and "cannot be written" in errors[0], done.stderr
