"""The whole job (sheet -> journal -> pool -> report) against the stand-in, fault by fault.

Each test runs `run_job` on a real csv, then compares the stand-in's final state with what every
row asked for, and the report files with both.
"""

import csv
import json

import pytest
from support import after_requests, run_fast

from batch.core.options import RunOptions
from batch.engine.run import run_job
from batch.simulator.rules import PHONE_REQUIRED

UNKNOWN = "00000000-0000-4000-8000-00000000dead"
HEADERS = ["Customer ID", "Street", "City", "ZIP", "Email", "Notes"]
FIELD_OF = {"Street": "address_line1", "City": "city", "ZIP": "postal_code", "Email": "email"}
PATH_OF = {
    "address_line1": ("defaultAddress", "addressLine1"),
    "city": ("defaultAddress", "city"),
    "postal_code": ("defaultAddress", "postalCode"),
    "email": ("email",),
}


def write_sheet(path, lines):
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, HEADERS)
        writer.writeheader()
        for line in lines:
            writer.writerow(line)
    return path


def new_values(ids, n=None):
    """Rows that move each customer to another city and e-mail (postal code kept valid)."""
    return [
        {
            "Customer ID": cid,
            "City": f"Newtown {i}",
            "Email": f"billing{i}@example.com",
            "Notes": "x",
        }
        for i, cid in enumerate(ids[:n])
    ]


def value_at(profile, path):
    node = profile
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node


def assert_landed(before, after, lines, *, writer_fields=()):
    """Every row's named fields hold its values; nothing else moved (but the other writer's)."""
    for line in lines:
        cid = line["Customer ID"]
        for header, field in FIELD_OF.items():
            path = PATH_OF[field]
            if line.get(header):
                assert value_at(after[cid], path) == line[header], (cid, field)
        old, new = before[cid], after[cid]
        for key in set(old) | set(new):
            if key in ("attributes", "defaultAddress", *writer_fields):
                continue
            if key in {PATH_OF[FIELD_OF[h]][0] for h in FIELD_OF if line.get(h)}:
                continue
            assert old.get(key) == new.get(key), (cid, key)


def results(out):
    with (out / "results.csv").open(encoding="utf-8-sig", newline="") as f:
        return {int(r["row"]): r for r in csv.DictReader(f)}


def summary(out):
    return json.loads((out / "summary.json").read_text(encoding="utf-8"))


def profile_calls(sim):
    """The billing-profile calls the stand-in answered (not the country rules' GETs)."""
    return [r for r in sim.log if r.customer_id is not None]


async def test_plain_updates_land_and_the_report_says_so(make_sim, tmp_path):
    sim = await make_sim(customers=6)
    ids = sim.store.ids()
    before = sim.store.export()
    lines = new_values(ids)
    result = await run_fast(sim, write_sheet(tmp_path / "in.csv", lines), tmp_path / "out")
    assert_landed(before, sim.store.export(), lines)
    assert result.exit_code == 0
    report = results(tmp_path / "out")
    assert {r["status"] for r in report.values()} == {"updated"}
    assert report[2]["changed_fields"] == "city;email"
    assert summary(tmp_path / "out")["exit_code"] == 0
    with (tmp_path / "out" / "undo.csv").open(encoding="utf-8-sig") as f:
        undo = {r["customer_id"]: r for r in csv.DictReader(f)}
    assert undo[ids[0]]["city"] == before[ids[0]]["defaultAddress"]["city"]


async def test_rows_already_in_place_send_no_put(make_sim, tmp_path):
    sim = await make_sim(customers=4)
    ids = sim.store.ids()
    same = [
        {"Customer ID": cid, "City": sim.store.profile(cid)["defaultAddress"]["city"]}
        for cid in ids[:2]
    ]
    lines = same + new_values(ids[2:])
    result = await run_fast(sim, write_sheet(tmp_path / "in.csv", lines), tmp_path / "out")
    puts = {r.customer_id for r in sim.log if r.method == "PUT"}
    assert puts == set(ids[2:])
    assert [r["status"] for r in results(tmp_path / "out").values()] == ["unchanged"] * 2 + [
        "updated"
    ] * 2
    assert result.exit_code == 0


@pytest.mark.parametrize("stale_status", [412, 400])
async def test_a_concurrent_writer_keeps_their_edits_and_every_row_lands(
    make_sim, tmp_path, stale_status
):
    sim = await make_sim(customers=8, concurrent_writer=0.5, stale_etag_status=stale_status)
    ids = sim.store.ids()
    before = sim.store.export()
    lines = [{"Customer ID": cid, "City": f"Conflictville {i}"} for i, cid in enumerate(ids)]
    # A writer after every other GET: 6 in a row for one of 8 customers is no rarity (the
    # order of the workers' calls varies), so the conflict budget is wider than the default.
    sheet = write_sheet(tmp_path / "in.csv", lines)
    result = await run_fast(sim, sheet, tmp_path / "out", max_attempts=16)
    after = sim.store.export()
    assert result.exit_code == 0
    assert_landed(before, after, lines, writer_fields=("email",))
    edited = {r.customer_id for r in sim.log if r.fault == "concurrent_writer"}
    assert edited
    for cid in edited:  # the other writer's fields survive our PUT
        assert after[cid]["email"].startswith("other-writer-")
        assert after[cid]["defaultAddress"]["addressLine2"].startswith("Edited by another writer")
    assert summary(tmp_path / "out")["conflicts"] > 0
    assert sum(int(r["conflicts"]) for r in results(tmp_path / "out").values()) > 0


async def test_a_429_storm_still_lands_every_row_and_honours_retry_after(make_sim, tmp_path):
    sim = await make_sim(customers=6, partner_rate=10.0, partner_burst=4)
    ids = sim.store.ids()
    before = sim.store.export()
    lines = new_values(ids)
    result = await run_fast(
        sim, write_sheet(tmp_path / "in.csv", lines), tmp_path / "out", rate=100.0
    )
    assert result.exit_code == 0
    assert_landed(before, sim.store.export(), lines)
    throttled = [r for r in sim.log if r.status == 429]
    assert throttled and summary(tmp_path / "out")["throttled"] == len(throttled)
    for hit in throttled:  # the throttled call came back no sooner than Retry-After (>= 1 s)
        later = [r for r in sim.log if r.customer_id == hit.customer_id and r.at > hit.at]
        assert later and later[0].at - hit.at >= 1.0
    assert summary(tmp_path / "out")["rate_min"] < 100.0


async def test_server_errors_and_drops_before_commit_are_retried_until_every_row_lands(
    make_sim, tmp_path
):
    sim = await make_sim(customers=8, fail_500=0.1, fail_503=0.1, fail_504=0.1, drop_before=0.15)
    ids = sim.store.ids()
    before = sim.store.export()
    lines = new_values(ids)
    # 4 in 10 calls fail: 20 tries per call make a row that runs out of them a one-in-10^8
    # event (with 10, the seeded stand-in's fault sequence gave one customer ten PUT faults in
    # a row in some interleavings: a test of luck, not of retries).
    result = await run_fast(
        sim, write_sheet(tmp_path / "in.csv", lines), tmp_path / "out", max_attempts=20
    )
    assert result.exit_code == 0
    assert_landed(before, sim.store.export(), lines)
    assert {r.fault for r in sim.log} >= {"drop_before"}
    assert summary(tmp_path / "out")["retries"] > 0


async def test_puts_lost_after_commit_end_updated_with_one_committed_put_each(make_sim, tmp_path):
    sim = await make_sim(customers=5, drop_after_commit=1.0)
    ids = sim.store.ids()
    before = sim.store.export()
    lines = new_values(ids)
    result = await run_fast(sim, write_sheet(tmp_path / "in.csv", lines), tmp_path / "out")
    assert result.exit_code == 0
    assert_landed(before, sim.store.export(), lines)
    report = results(tmp_path / "out")
    assert {r["status"] for r in report.values()} == {"updated"}
    assert all(r["changed_fields"] == "city;email" for r in report.values())
    for cid in ids:
        puts = [r for r in sim.log if r.method == "PUT" and r.customer_id == cid]
        # read back before any retry: the values are there, so no second write
        assert [p.committed for p in puts] == [True]
        calls = [r.method for r in sim.log if r.customer_id == cid]
        preflight = ["GET"] if cid == ids[0] else []  # the one read before the first write
        assert calls == [*preflight, "GET", "PUT", "GET"]


async def test_a_server_slower_than_the_timeout_is_retried_and_the_rows_land(make_sim, tmp_path):
    sim = await make_sim(customers=4, hang=0.3, hang_seconds=1.0)
    ids = sim.store.ids()
    before = sim.store.export()
    lines = new_values(ids)
    result = await run_fast(
        sim, write_sheet(tmp_path / "in.csv", lines), tmp_path / "out", timeout=0.2, max_attempts=8
    )
    assert result.exit_code == 0
    assert_landed(before, sim.store.export(), lines)


async def test_unknown_customers_end_not_found_and_go_to_failed_csv(make_sim, tmp_path):
    sim = await make_sim(customers=2)
    ids = sim.store.ids()
    lines = [*new_values(ids), {"Customer ID": UNKNOWN, "City": "Nowhere", "Notes": "keep"}]
    result = await run_fast(sim, write_sheet(tmp_path / "in.csv", lines), tmp_path / "out")
    assert result.exit_code == 1
    report = results(tmp_path / "out")
    assert (report[4]["status"], report[4]["http_status"]) == ("not_found", "404")
    with (tmp_path / "out" / "failed.csv").open(encoding="utf-8-sig") as f:
        failed = list(csv.DictReader(f))
    assert [(r["Customer ID"], r["Notes"]) for r in failed] == [(UNKNOWN, "keep")]


async def test_a_refused_update_ends_rejected_with_the_service_code(make_sim, tmp_path):
    sim = await make_sim(customers=60)
    cid = next(
        c
        for c in sim.store.ids()
        if sim.store.profile(c)["defaultAddress"]["country"] in PHONE_REQUIRED
    )
    sheet = tmp_path / "in.csv"
    sheet.write_text(f"Customer ID,Phone\n{cid},#N/A\n", encoding="utf-8")
    result = await run_fast(sim, sheet, tmp_path / "out")
    assert result.exit_code == 1
    line = results(tmp_path / "out")[2]
    assert (line["status"], line["http_status"], line["error_code"]) == (
        "rejected",
        "400",
        "600051",
    )
    assert sim.store.profile(cid)["defaultAddress"].get("phoneNumber")


async def test_a_dry_run_reports_what_would_change_and_sends_no_put(make_sim, tmp_path):
    sim = await make_sim(customers=4)
    before = sim.store.export()
    lines = new_values(sim.store.ids())
    result = await run_fast(
        sim, write_sheet(tmp_path / "in.csv", lines), tmp_path / "out", dry_run=True
    )
    assert result.exit_code == 0
    # the pre-flight read, then each row's
    assert [r.method for r in profile_calls(sim)] == ["GET"] * 5
    countries = {p["defaultAddress"]["country"] for p in before.values()}
    rules = [r.path for r in sim.log if r.path.startswith("/v1/countryvalidationrules/")]
    assert sorted(rules) == sorted(f"/v1/countryvalidationrules/{c}" for c in countries)
    assert sim.store.export() == before
    assert {r["status"] for r in results(tmp_path / "out").values()} == {"would_update"}
    assert summary(tmp_path / "out")["dry_run"] is True


async def test_a_run_where_every_row_fails_exits_1_with_every_row_failed(make_sim, tmp_path):
    sim = await make_sim(customers=3, fail_500=1.0)
    lines = new_values(sim.store.ids())
    result = await run_fast(
        sim, write_sheet(tmp_path / "in.csv", lines), tmp_path / "out", max_attempts=2
    )
    assert result.exit_code == 1
    assert {r["status"] for r in results(tmp_path / "out").values()} == {"failed"}
    assert summary(tmp_path / "out")["exit_code"] == 1


async def test_refused_credentials_abort_with_exit_3_and_a_complete_report(make_sim, tmp_path):
    sim = await make_sim(customers=3)
    lines = new_values(sim.store.ids())
    opts = RunOptions(
        input=write_sheet(tmp_path / "in.csv", lines),
        base_url=sim.base_url,
        out=tmp_path / "out",
        concurrency=1,
        rate=500.0,
    )

    def withdraw():  # right after the pre-flight read: the token stops working mid-run
        sim.tokens.access_withdrawn = True

    after_requests(sim, 1, withdraw)
    result = await run_job(opts, {"PC_ACCESS_TOKEN": sim.token})
    assert result.exit_code == 3
    statuses = [r["status"] for r in results(tmp_path / "out").values()]
    assert statuses == ["rejected", "skipped", "skipped"]
    assert summary(tmp_path / "out")["exit_code"] == 3
    for path in (tmp_path / "out").iterdir():
        if path.suffix in (".csv", ".json"):
            assert sim.token not in path.read_text(encoding="utf-8-sig")


async def test_invalid_rows_are_reported_and_nothing_is_sent_for_them(make_sim, tmp_path):
    sim = await make_sim(customers=1)
    cid = sim.store.ids()[0]
    lines = [{"Customer ID": "../../v1/customers", "City": "X"}, *new_values([cid])]
    result = await run_fast(sim, write_sheet(tmp_path / "in.csv", lines), tmp_path / "out")
    assert result.exit_code == 1
    report = results(tmp_path / "out")
    assert (report[2]["status"], report[3]["status"]) == ("invalid", "updated")
    assert {r.customer_id for r in profile_calls(sim)} == {cid}


async def test_a_canary_limit_updates_only_the_first_rows(make_sim, tmp_path):
    sim = await make_sim(customers=5)
    ids = sim.store.ids()
    lines = new_values(ids)
    result = await run_fast(sim, write_sheet(tmp_path / "in.csv", lines), tmp_path / "out", limit=2)
    assert result.exit_code == 1  # skipped rows are not ok: they still need a run
    statuses = [r["status"] for r in results(tmp_path / "out").values()]
    assert statuses == ["updated"] * 2 + ["skipped"] * 3
    assert {r.customer_id for r in profile_calls(sim)} == set(ids[:2])
