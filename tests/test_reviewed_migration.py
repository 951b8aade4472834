"""`pcbatch plan` then `pcbatch apply`, over loopback: exactly what was approved lands.

- nothing moved between plan and apply: one PUT per customer, no GET (counted at the stand-in);
- another writer changed a field the plan leaves alone: that field kept, the planned ones land;
- another writer changed a planned field: nothing written, `changed_since_plan`, exit 1;
- an edited plan, a plan older than --max-plan-age, a wrong --expect-plan: exit 2, no call;
- a plan is never made over: a PLAN_DIR holding one is refused.
"""

import csv
import json
from datetime import UTC, datetime, timedelta

import pytest

from batch.core.reviewed import HASH_NAME, PLAN_NAME, REVIEW_NAME
from batch.engine.reviewed import write_plan
from tests.support import city_sheet, invoke, read_results

FAST = ["--rate", "500", "--concurrency", "4", "--quiet"]


def billing(sim, method):
    return [e for e in sim.log if e.method == method and e.path.endswith("/profiles/billing")]


def make_plan(sim, tmp_path, ids):
    sheet = city_sheet(tmp_path / "in.csv", ids)
    plan_dir = tmp_path / "plan"
    done = invoke(["plan", str(sheet), "--out", str(plan_dir), *FAST], sim)
    assert done.exit_code == 0, done.output
    digest = (plan_dir / HASH_NAME).read_text(encoding="utf-8").split()[0]
    assert f"sha256: {digest}" in done.output
    return plan_dir, digest


def apply(sim, plan_dir, *flags):
    return invoke(["apply", str(plan_dir), *flags, *FAST], sim)


def test_an_unmoved_plan_costs_one_put_per_customer_and_no_get(make_sim_thread, tmp_path):
    sim = make_sim_thread(customers=6, seed=3)
    ids = sim.store.ids()
    before = {cid: sim.store.profile(cid)["defaultAddress"]["city"] for cid in ids}
    plan_dir, digest = make_plan(sim, tmp_path, ids)
    assert not billing(sim, "PUT")  # the plan writes nothing
    sim.log.clear()

    done = apply(sim, plan_dir, "--expect-plan", digest)

    assert done.exit_code == 0, done.output
    assert sorted(e.customer_id for e in billing(sim, "PUT")) == sorted(ids)
    assert billing(sim, "GET") == []
    for i, cid in enumerate(ids):
        assert sim.store.profile(cid)["defaultAddress"]["city"] == f"Newtown {i}"
    out = plan_dir / "applied"
    assert {line["status"] for line in read_results(out)} == {"updated"}
    with (out / "undo.csv").open(encoding="utf-8-sig", newline="") as f:
        undo = {line["customer_id"]: line["city"] for line in csv.DictReader(f)}
    assert undo == before  # the values really replaced


def test_a_customer_moved_since_the_plan_keeps_others_fields_or_ends_changed_since_plan(
    make_sim_thread, tmp_path
):
    sim = make_sim_thread(customers=4, seed=3)
    ids = sim.store.ids()
    plan_dir, digest = make_plan(sim, tmp_path, ids)
    sim.store.put_direct(ids[0], {"email": "other.writer@example.com"})  # not planned
    sim.store.put_direct(ids[1], {"defaultAddress": {"city": "Elsewhere"}})  # planned
    sim.log.clear()

    done = apply(sim, plan_dir, "--expect-plan", digest)

    assert done.exit_code == 1, done.output
    kept = sim.store.profile(ids[0])
    assert (kept["email"], kept["defaultAddress"]["city"]) == (
        "other.writer@example.com",
        "Newtown 0",
    )
    assert sim.store.profile(ids[1])["defaultAddress"]["city"] == "Elsewhere"
    assert [e.customer_id for e in billing(sim, "PUT") if e.committed].count(ids[1]) == 0
    lines = {line["customer_id"]: line for line in read_results(plan_dir / "applied")}
    assert lines[ids[0]]["status"] == "updated"
    moved = lines[ids[1]]
    assert moved["status"] == "changed_since_plan"
    assert "planned" in moved["message"] and "now 'Elsewhere'" in moved["message"]
    assert {lines[c]["status"] for c in ids[2:]} == {"updated"}


def test_the_review_workbook_prints_well_and_names_the_plans_hash(make_sim_thread, tmp_path):
    from openpyxl import load_workbook

    sim = make_sim_thread(customers=3, seed=3)
    plan_dir, digest = make_plan(sim, tmp_path, sim.store.ids())
    book = load_workbook(plan_dir / REVIEW_NAME)
    assert book.sheetnames == ["Summary", "Changes", "Not planned"]
    changes = book["Changes"]
    assert changes.page_setup.orientation == "landscape"
    assert changes.print_title_rows == "$1:$1"
    assert changes.sheet_properties.pageSetUpPr.fitToPage
    assert changes.max_row == 1 + 3  # one line per field changed
    summary = {row[0]: row[1] for row in book["Summary"].iter_rows(values_only=True)}
    assert summary["plan sha256"] == digest
    document = json.loads((plan_dir / PLAN_NAME).read_text(encoding="utf-8"))
    assert summary["input sha256"] == document["source"]["sha256"]


@pytest.mark.parametrize("refusal", ["edited", "stale", "wrong_hash", "no_hash_file"])
def test_a_plan_that_is_not_the_approved_one_is_refused_and_nothing_sent(
    make_sim_thread, tmp_path, refusal
):
    sim = make_sim_thread(customers=3, seed=3)
    plan_dir, digest = make_plan(sim, tmp_path, sim.store.ids())
    plan = plan_dir / PLAN_NAME
    flags = ["--expect-plan", digest]
    if refusal == "edited":
        plan.chmod(0o600)
        plan.write_bytes(plan.read_bytes().replace(b"Newtown 1", b"Newtown X"))
        flags = []
        said = "was changed after it was planned"
    elif refusal == "stale":
        for name in (PLAN_NAME, HASH_NAME):
            (plan_dir / name).unlink()
        old = write_plan(plan_dir, clock=datetime.now(UTC) - timedelta(hours=25))
        flags = ["--expect-plan", old.sha256]
        said = "more than --max-plan-age 24h"
    elif refusal == "wrong_hash":
        flags = ["--expect-plan", "0" * 64]
        said = "is not the approved plan"
    else:
        (plan_dir / HASH_NAME).unlink()
        flags = []
        said = f"{HASH_NAME} beside it is missing"
    sim.log.clear()

    done = apply(sim, plan_dir, *flags)

    assert done.exit_code == 2, done.output
    assert said in done.output and "nothing was sent" in done.output
    assert [e for e in sim.log if e.path.startswith("/v1/")] == []
    assert not (plan_dir / "applied").exists()


def test_a_plan_dir_that_holds_a_plan_is_never_planned_over(make_sim_thread, tmp_path):
    sim = make_sim_thread(customers=2, seed=3)
    plan_dir, _ = make_plan(sim, tmp_path, sim.store.ids())
    written = (plan_dir / PLAN_NAME).read_bytes()
    done = invoke(["plan", str(tmp_path / "in.csv"), "--out", str(plan_dir), *FAST], sim)
    assert done.exit_code == 2
    assert "holds a plan already" in done.output
    assert (plan_dir / PLAN_NAME).read_bytes() == written


def test_an_apply_killed_mid_way_is_finished_by_resume_with_one_landed_put_each(
    make_sim_thread, tmp_path
):
    import os
    import signal
    import subprocess
    import sys
    import time
    from collections import Counter

    customers = 24
    sim = make_sim_thread(customers=customers, seed=7)
    ids = sim.store.ids()
    plan_dir, digest = make_plan(sim, tmp_path, ids)
    sim.config.latency_ms = 40  # an apply that lasts long enough to be killed half way
    sim.config.drop_after_commit = 0.1  # and some PUTs whose answer is lost after landing

    def start(*flags):
        env = {k: v for k, v in os.environ.items() if not k.startswith("PC_")}
        env.update(PC_BASE_URL=sim.base_url, PC_ACCESS_TOKEN=sim.token)
        log = (tmp_path / f"stderr-{time.monotonic_ns()}.txt").open("w")
        command = [sys.executable, "-m", "batch", "apply", str(plan_dir), *flags]
        command += ["--rate", "300", "--concurrency", "4", "--timeout", "5", "--quiet"]
        return subprocess.Popen(command, env=env, stdout=log, stderr=log)

    def committed():
        return Counter(e.customer_id for e in sim.log if e.committed)

    run = start("--expect-plan", digest)
    deadline = time.monotonic() + 30
    while len(committed()) < customers // 2:
        assert run.poll() is None, "the apply ended before half of its PUTs"
        assert time.monotonic() < deadline, "no half of the PUTs within 30 s"
        time.sleep(0.002)
    run.send_signal(signal.SIGKILL)
    run.wait()

    resumed = start("--resume")
    assert resumed.wait(timeout=60) == 0
    assert committed() == Counter(ids)  # every customer exactly one landed PUT
    for i, cid in enumerate(ids):
        assert sim.store.profile(cid)["defaultAddress"]["city"] == f"Newtown {i}"
    lines = read_results(plan_dir / "applied")
    assert len(lines) == customers
    assert {line["status"] for line in lines} == {"updated"}
