"""--resume: rows not done are sent, rows done are never sent again, refusals say what to do."""

import csv
import json
import re
import sqlite3
from dataclasses import replace

import pytest
from support import after_requests, invoke

from batch.core.errors import ConfigError
from batch.core.model import Change, RunStats
from batch.core.options import RunOptions
from batch.core.resume import LANDED, choose_run
from batch.durable.journal import JOURNAL_NAME, Journal, RunInfo
from batch.engine.run import run_job

UNKNOWN = "00000000-0000-4000-8000-00000000beef"
FAST = {"rate": 500.0, "concurrency": 2, "timeout": 2.0, "backoff_base": 0.01, "backoff_cap": 0.05}


def write_sheet(path, lines):
    """A csv of (customer id, city[, e-mail]) lines; the e-mail is billing<i>@ unless given."""
    text = ["Customer ID,City,Email"]
    for i, (cid, city, *email) in enumerate(lines):
        text.append(f"{cid},{city},{email[0] if email else f'billing{i}@example.com'}")
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    return path


def moves(ids):
    return [(cid, f"Newtown {i}") for i, cid in enumerate(ids)]


def run_args(sheet, out, *extra):
    return ["run", str(sheet), "--out", str(out), "--rate", "500", "--concurrency", "2", *extra]


def results(out):
    with (out / "results.csv").open(encoding="utf-8-sig", newline="") as f:
        lines = list(csv.DictReader(f))
    rows = [int(line["row"]) for line in lines]
    assert len(rows) == len(set(rows)), "a row is reported twice"
    return {int(line["row"]): line for line in lines}


def statuses(out):
    return {row: line["status"] for row, line in results(out).items()}


def customers_called(sim, since=0):
    return {r.customer_id for r in sim.log[since:] if r.customer_id}


def test_a_canary_then_resume_sends_only_the_rows_the_canary_left(make_sim_thread, tmp_path):
    sim = make_sim_thread(customers=6)
    ids = sim.store.ids()
    sheet, out = write_sheet(tmp_path / "in.csv", moves(ids)), tmp_path / "out"

    canary = invoke(run_args(sheet, out, "--limit", "2"), sim)
    assert canary.exit_code == 1, canary.output  # the rows past --limit are `skipped`
    before = len(sim.log)
    resumed = invoke(run_args(sheet, out, "--resume"), sim)

    assert resumed.exit_code == 0, resumed.output
    assert customers_called(sim, before) == set(ids[2:])
    assert set(statuses(out).values()) == {"updated"}
    assert json.loads((out / "summary.json").read_text())["exit_code"] == 0
    with Journal.open(out, create=False) as journal:
        info = journal.last_run()
    assert (info.run_id, info.sessions) == (1, 2)


def test_rows_done_in_any_way_are_never_sent_again(make_sim_thread, tmp_path):
    sim = make_sim_thread(customers=5)
    ids = sim.store.ids()
    held = sim.store.profile(ids[2])
    lines = [
        (ids[0], "Newtown"),  # row 2: updated
        (ids[1], "Newtown"),  # row 3: updated
        (ids[2], held["defaultAddress"]["city"], held["email"]),  # row 4: unchanged
        (UNKNOWN, "Newtown"),  # row 5: not_found
        ("not-a-guid", "Newtown"),  # row 6: invalid
        (ids[0], "Newtown"),  # row 7: duplicate of row 2 (its e-mail differs: see below)
        (ids[3], "Newtown"),  # row 8: skipped by --limit
        (ids[4], "Newtown"),  # row 9: skipped by --limit
    ]
    sheet = write_sheet(tmp_path / "in.csv", lines)
    text = sheet.read_text().splitlines()
    text[6] = text[1]  # row 7 identical to row 2: a duplicate
    sheet.write_text("\n".join(text) + "\n")
    out = tmp_path / "out"

    first = invoke(run_args(sheet, out, "--limit", "4"), sim)
    assert statuses(out) == {2: "updated", 3: "updated", 4: "unchanged", 5: "not_found",
                             6: "invalid", 7: "duplicate", 8: "skipped", 9: "skipped"}  # fmt: skip
    before = len(sim.log)
    resumed = invoke(run_args(sheet, out, "--resume"), sim)

    assert first.exit_code == resumed.exit_code == 1  # not_found and invalid stay as they are
    assert customers_called(sim, before) == {ids[3], ids[4]}
    assert statuses(out) == {2: "updated", 3: "updated", 4: "unchanged", 5: "not_found",
                             6: "invalid", 7: "duplicate", 8: "updated", 9: "updated"}  # fmt: skip


def test_a_changed_input_is_refused_and_force_sends_the_rows_the_journal_holds(
    make_sim_thread, tmp_path
):
    sim = make_sim_thread(customers=3)
    ids = sim.store.ids()
    sheet, out = write_sheet(tmp_path / "in.csv", moves(ids)), tmp_path / "out"
    invoke(run_args(sheet, out, "--limit", "1"), sim)
    write_sheet(sheet, [*moves(ids)[:2], (ids[2], "Edited later")])
    before = len(sim.log)

    refused = invoke(run_args(sheet, out, "--resume"), sim)

    assert refused.exit_code == 2
    assert str(sheet) in refused.stderr and "--force" in refused.stderr
    assert "2 of its rows are not done" in refused.stderr
    assert "Traceback" not in refused.output
    assert len(sim.log) == before  # nothing sent

    forced = invoke(run_args(sheet, out, "--resume", "--force"), sim)

    assert forced.exit_code == 0, forced.output
    assert sim.store.profile(ids[2])["defaultAddress"]["city"] == "Newtown 2"  # the journal's
    assert set(statuses(out).values()) == {"updated"}


def test_resume_with_no_previous_run_starts_the_run(make_sim_thread, tmp_path):
    sim = make_sim_thread(customers=2)
    sheet, out = write_sheet(tmp_path / "in.csv", moves(sim.store.ids())), tmp_path / "first"

    result = invoke(run_args(sheet, out, "--resume"), sim)

    assert result.exit_code == 0, result.output
    assert set(statuses(out).values()) == {"updated"}
    assert "Traceback" not in result.output


def test_resume_without_out_exits_2_asking_for_it(make_sim_thread, tmp_path):
    sim = make_sim_thread(customers=1)
    sheet = write_sheet(tmp_path / "in.csv", moves(sim.store.ids()))
    result = invoke(["run", str(sheet), "--resume"], sim)
    assert result.exit_code == 2
    assert "give --out DIR" in result.stderr
    assert sim.log == []


def test_a_dry_run_is_not_continued_by_a_real_run(make_sim_thread, tmp_path):
    sim = make_sim_thread(customers=2)
    sheet, out = write_sheet(tmp_path / "in.csv", moves(sim.store.ids())), tmp_path / "out"
    invoke(run_args(sheet, out, "--dry-run", "--limit", "1"), sim)
    before = len(sim.log)

    result = invoke(run_args(sheet, out, "--resume"), sim)

    assert result.exit_code == 2
    assert "was a dry run" in result.stderr and "--dry-run" in result.stderr
    assert len(sim.log) == before


def test_resuming_a_finished_run_of_the_same_file_sends_nothing(make_sim_thread, tmp_path):
    sim = make_sim_thread(customers=3)
    sheet, out = write_sheet(tmp_path / "in.csv", moves(sim.store.ids())), tmp_path / "out"
    invoke(run_args(sheet, out), sim)
    before = len(sim.log)

    result = invoke(run_args(sheet, out, "--resume"), sim)

    assert result.exit_code == 0, result.output
    assert len(sim.log) == before
    assert set(statuses(out).values()) == {"updated"}


def test_a_finished_run_and_a_new_file_start_a_new_run_under_resume(make_sim_thread, tmp_path):
    sim = make_sim_thread(customers=3)
    ids = sim.store.ids()
    out = tmp_path / "out"
    invoke(run_args(write_sheet(tmp_path / "monday.csv", moves(ids)), out), sim)

    tuesday = write_sheet(tmp_path / "tuesday.csv", [(ids[0], "Tuesdayville")])
    result = invoke(run_args(tuesday, out, "--resume"), sim)

    assert result.exit_code == 0, result.output
    assert sim.store.profile(ids[0])["defaultAddress"]["city"] == "Tuesdayville"
    assert statuses(out) == {2: "updated"}
    with Journal.open(out, create=False) as journal:
        assert journal.last_run().run_id == 2


async def test_a_put_that_landed_before_the_crash_ends_updated_without_a_second_put(
    make_sim, tmp_path
):
    sim = await make_sim(customers=2)
    ids = sim.store.ids()
    old = {cid: sim.store.profile(cid) for cid in ids}
    sheet, out = write_sheet(tmp_path / "in.csv", moves(ids)), tmp_path / "out"
    env = {"PC_ACCESS_TOKEN": sim.token}
    options = RunOptions(input=sheet, base_url=sim.base_url, out=out, **FAST)
    await run_job(replace(options, limit=0), env)  # a run in the journal, nothing sent yet
    # A session that journaled both PUTs, then died: the first had landed, the second had not.
    with Journal.open(out) as journal:
        journal.resume_run(1, options.as_record())
        for i, cid in enumerate(ids):
            changes = (
                Change("city", old[cid]["defaultAddress"]["city"], f"Newtown {i}"),
                Change("email", old[cid]["email"], f"billing{i}@example.com"),
            )
            journal.record_put(i + 2, changes, etag=sim.store.etag(cid))
    sim.store.put_direct(
        ids[0], {"defaultAddress": {"city": "Newtown 0"}, "email": "billing0@example.com"}
    )
    before = len(sim.log)

    result = await run_job(replace(options, resume=True), env)

    assert result.exit_code == 0
    puts = [r.customer_id for r in sim.log[before:] if r.method == "PUT"]
    assert puts == [ids[1]]  # the landed one got no second PUT
    report = results(out)
    assert (report[2]["status"], report[2]["changed_fields"]) == ("updated", "city;email")
    assert report[2]["message"] == LANDED
    assert (report[3]["status"], report[3]["message"]) == ("updated", "")
    with (out / "undo.csv").open(encoding="utf-8-sig") as f:
        undo = {line["customer_id"]: line for line in csv.DictReader(f)}
    # undo.csv can put back what the PUT whose answer was never recorded replaced
    assert undo[ids[0]]["city"] == old[ids[0]]["defaultAddress"]["city"]
    assert undo[ids[0]]["email"] == old[ids[0]]["email"]


async def test_each_outcome_is_committed_before_the_row_is_reported_done(make_sim, tmp_path):
    sim = await make_sim(customers=6)
    lines = [*moves(sim.store.ids()), ("not-a-guid", "X")]
    sheet, out = write_sheet(tmp_path / "in.csv", lines), tmp_path / "out"
    seen = []

    def progress(p):
        # Another connection, as another process would read it: only committed rows count.
        db = sqlite3.connect(f"file:{out / JOURNAL_NAME}?mode=ro", uri=True)
        recorded = db.execute("SELECT count(*) FROM outcomes").fetchone()[0]
        db.close()
        seen.append((p.done, recorded))

    options = RunOptions(input=sheet, base_url=sim.base_url, out=out, **FAST)
    await run_job(options, {"PC_ACCESS_TOKEN": sim.token}, on_progress=progress)

    assert [done for done, _ in seen] == [1, 2, 3, 4, 5, 6]
    assert all(recorded == done + 1 for done, recorded in seen)  # + the invalid row's


async def test_each_outcome_keeps_the_etag_the_profile_had_after_it(make_sim, tmp_path):
    sim = await make_sim(customers=2)
    sheet, out = write_sheet(tmp_path / "in.csv", moves(sim.store.ids())), tmp_path / "out"
    options = RunOptions(input=sheet, base_url=sim.base_url, out=out, **FAST)
    await run_job(options, {"PC_ACCESS_TOKEN": sim.token})
    db = sqlite3.connect(out / JOURNAL_NAME)
    etags = dict(db.execute("SELECT customer_id, etag FROM outcomes"))
    db.close()
    assert etags == {cid: sim.store.etag(cid) for cid in sim.store.ids()}


def test_after_credentials_were_refused_resume_sends_every_row_not_done(make_sim_thread, tmp_path):
    sim = make_sim_thread(customers=3)
    sheet, out = write_sheet(tmp_path / "in.csv", moves(sim.store.ids())), tmp_path / "out"
    args = [*run_args(sheet, out), "--concurrency", "1"]

    def withdraw():  # right after the pre-flight read: the token stops working mid-run
        sim.tokens.access_withdrawn = True

    after_requests(sim, 1, withdraw)
    refused = invoke(args, sim)
    assert refused.exit_code == 3
    assert statuses(out) == {2: "rejected", 3: "skipped", 4: "skipped"}

    sim.tokens.access_withdrawn = False
    resumed = invoke([*args, "--resume"], sim)  # with a working token again

    assert resumed.exit_code == 0, resumed.output
    assert set(statuses(out).values()) == {"updated"}


def last_run(dry_run=False, sha="a" * 64):
    return RunInfo(7, "in.csv", sha, "csv", None, ("Customer ID",), {}, (), {"dry_run": dry_run},
                   "2025-01-31T01:15:00.000Z", None, None, 1, 10, RunStats(), 0.0)  # fmt: skip


@pytest.mark.parametrize(
    ("last", "pending", "sha", "dry_run", "force", "expected"),
    [
        (last_run(), 3, "a" * 64, False, False, 7),  # unfinished, same file: continue
        (last_run(), 0, "a" * 64, False, False, 7),  # complete, same file: nothing to send
        (last_run(), 0, "b" * 64, False, False, None),  # complete, new file: a new run
        (last_run(), 3, "b" * 64, False, True, 7),  # unfinished, new file, --force: continue
        (last_run(), 3, "b" * 64, False, False, "--force"),  # unfinished, new file: refused
        (None, 0, "a" * 64, False, False, None),  # nothing in --out yet: a new run
        (last_run(dry_run=True), 3, "a" * 64, False, False, "add --dry-run"),
        (last_run(dry_run=False), 0, "b" * 64, True, False, "leave out --dry-run"),
    ],
)
def test_what_resume_continues(last, pending, sha, dry_run, force, expected, tmp_path):
    def choose():
        return choose_run(last, pending, sha, input_path=tmp_path / "in.csv", dry_run=dry_run,
                          force=force, out_dir=tmp_path)  # fmt: skip

    if isinstance(expected, str):
        with pytest.raises(ConfigError, match=re.escape(expected)):
            choose()
    else:
        assert choose() == expected


@pytest.mark.parametrize(
    ("pending", "expected"),
    [
        (0, None),  # complete, same file: a job with a state re-applies it (a new run)
        (3, 7),  # unfinished: continued, as any job's
    ],
)
def test_a_nightly_job_reapplies_an_unchanged_sheet_once_its_last_run_is_complete(
    pending, expected, tmp_path
):
    chosen = choose_run(
        last_run(),
        pending,
        "a" * 64,
        input_path=tmp_path / "in.csv",
        dry_run=False,
        force=False,
        out_dir=tmp_path,
        nightly=True,
    )
    assert chosen == expected
