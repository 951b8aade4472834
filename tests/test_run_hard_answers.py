"""A whole run against the stand-in's harder answers: country rules fetched once and checked on
each row's merged address, 403s for one customer or for the credentials, PUTs committed behind a
lost answer, 409 and Retry-After, and the etag sent both as If-Match and in the body."""

import csv

from support import read_results, read_summary, run_fast

from batch.core.retry import RIGHTS_REFUSED
from batch.durable.journal import Journal

HEADERS = ["Customer ID", "Street", "City", "State", "ZIP", "Country"]
RULES = "/v1/countryvalidationrules/"


def write_sheet(path, lines):
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, HEADERS)
        writer.writeheader()
        writer.writerows(lines)
    return path


def address(cid, country, city, zip_code, state=""):
    return {
        "Customer ID": cid,
        "Street": "1 Main Street",
        "City": city,
        "State": state,
        "ZIP": zip_code,
        "Country": country,
    }


def move_to(sim, cid, country, city, zip_code, state=None):
    """Put the customer in `country` with a valid address there (the service lets no PUT
    change a profile's country)."""
    sim.store.put_direct(
        cid,
        {
            "defaultAddress": {
                "country": country,
                "city": city,
                "postalCode": zip_code,
                "state": state,
                "addressLine1": "1 Old Road",
            }
        },
    )


def rules_calls(sim):
    return sorted(r.path.removeprefix(RULES) for r in sim.log if r.path.startswith(RULES))


def puts_of(sim, cid):
    return [r for r in sim.log if r.method == "PUT" and r.customer_id == cid]


def by_row(out):
    return {int(line["row"]): line for line in read_results(out)}


async def test_rows_breaking_their_countrys_rules_end_invalid_naming_the_column_and_send_nothing(
    make_sim, tmp_path
):
    sim = await make_sim(customers=6, seed=1)
    ids = sim.store.ids()
    for cid in (ids[0], ids[3], ids[4]):
        move_to(sim, cid, "US", "Bellevue", "98004", "WA")
    move_to(sim, ids[1], "DE", "Berlin", "10115")
    move_to(sim, ids[2], "GB", "London", "SW1A 1AA")
    move_to(sim, ids[5], "FR", "Lyon", "69004")
    lines = [
        address(ids[0], "US", "Seattle", "98052", "Washington"),
        address(ids[1], "DE", "Dresden", "1067"),
        address(ids[2], "GB", "London", "12345"),
        address(ids[3], "US", "Seattle", "98052", "WA"),
        address(ids[4], "US", "Redmond", "98052", "wa"),
        {"Customer ID": ids[5], "City": "Nantes"},  # stays in FR, which publishes no rules
    ]
    out = tmp_path / "out"
    result = await run_fast(sim, write_sheet(tmp_path / "in.csv", lines), out)

    assert result.exit_code == 1
    report = by_row(out)
    assert [report[n]["status"] for n in range(2, 8)] == ["invalid"] * 3 + ["updated"] * 3
    assert report[2]["message"] == "State: US takes the state's code: write WA for Washington"
    assert report[3]["message"].startswith("ZIP: not a postal code of DE")
    assert "a leading zero was probably lost: write 01067" in report[3]["message"]
    assert report[4]["message"].startswith("ZIP: not a postal code of GB")
    assert all(puts_of(sim, cid) == [] for cid in ids[:3])  # nothing sent for them
    # Once per country for the whole run, although four workers met US rows at once.
    assert rules_calls(sim) == ["DE", "FR", "GB", "US"]
    assert read_summary(out)["countries_not_checked"] == {
        "FR": "Partner Center publishes no rules for it (404)"
    }
    with (out / "failed.csv").open(encoding="utf-8-sig") as f:
        assert "invalid: State: US takes the state's code" in f.read()


async def test_a_resumed_run_uses_the_rules_its_journal_holds_without_fetching_them_again(
    make_sim, tmp_path
):
    sim = await make_sim(customers=3, seed=1)
    ids = sim.store.ids()
    for cid in ids:
        move_to(sim, cid, "US", "Bellevue", "98004", "WA")
    lines = [address(cid, "US", "Seattle", "98052", "WA") for cid in ids]
    sheet, out = write_sheet(tmp_path / "in.csv", lines), tmp_path / "out"
    first = await run_fast(sim, sheet, out, limit=1)
    assert first.exit_code == 1 and rules_calls(sim) == ["US"]

    sim.log.clear()
    resumed = await run_fast(sim, sheet, out, resume=True)

    assert resumed.exit_code == 0
    assert rules_calls(sim) == []
    assert {line["status"] for line in read_results(out)} == {"updated"}
    with Journal.open(out, create=False) as journal:
        assert list(journal.country_rules()) == ["US"]


async def test_an_unreadable_rules_answer_leaves_the_country_to_the_service_and_its_data_is_shown(
    make_sim, tmp_path
):
    sim = await make_sim(customers=2, seed=1)
    ids = sim.store.ids()
    for cid in ids:
        move_to(sim, cid, "US", "Bellevue", "98004", "WA")
    # The rules endpoint answers nonsense for US, but the service still enforces US rules.
    us_rules = sim.rules_for("US")
    sim.country_rules["US"] = b"<html>maintenance</html>"
    sim.rules_for = lambda iso2: us_rules if iso2.upper() == "US" else None
    lines = [
        address(ids[0], "US", "Seattle", "98052", "ZZ"),
        address(ids[1], "US", "Seattle", "98052", "WA"),
    ]
    out = tmp_path / "out"
    result = await run_fast(sim, write_sheet(tmp_path / "in.csv", lines), out)

    assert result.exit_code == 1
    report = by_row(out)
    assert (report[2]["status"], report[2]["http_status"], report[2]["error_code"]) == (
        "rejected",
        "400",
        "27002",
    )
    # The service's `data` entries name the property.
    assert report[2]["message"].startswith("HTTP 400 code 27002: A property has invalid data. (")
    assert "StateInvalid" in report[2]["message"]
    assert report[3]["status"] == "updated"
    assert read_summary(out)["countries_not_checked"] == {
        "US": "Partner Center's answer could not be read as country rules"
    }


async def test_a_customer_without_a_relationship_is_rejected_and_the_run_goes_on(
    make_sim, tmp_path
):
    sim = await make_sim(customers=4, seed=1)
    ids = sim.store.ids()
    sim.config.no_relationship = ids[0]
    lines = [{"Customer ID": cid, "City": f"Town {i}"} for i, cid in enumerate(ids)]
    out = tmp_path / "out"
    result = await run_fast(sim, write_sheet(tmp_path / "in.csv", lines), out, concurrency=1)

    assert result.exit_code == 1  # not 3: one customer's relationship is not the credentials
    report = by_row(out)
    assert (report[2]["status"], report[2]["http_status"], report[2]["error_code"]) == (
        "rejected",
        "403",
        "20002",
    )
    assert "has no commerce relationship with the customer ID" in report[2]["message"]
    assert [report[n]["status"] for n in (3, 4, 5)] == ["updated"] * 3


async def test_credentials_refused_for_several_customers_with_no_success_stop_the_run(
    make_sim, tmp_path
):
    sim = await make_sim(customers=5, seed=1, forbidden=True)
    lines = [{"Customer ID": cid, "City": "X"} for cid in sim.store.ids()]
    out = tmp_path / "out"
    result = await run_fast(sim, write_sheet(tmp_path / "in.csv", lines), out, concurrency=1)

    assert result.exit_code == 3
    assert "3 customers were refused alike and none succeeded" in str(result.stopped)
    report = by_row(out)
    assert [report[n]["status"] for n in range(2, 7)] == ["rejected"] * 3 + ["skipped"] * 2
    assert all(report[n]["message"].startswith(RIGHTS_REFUSED) for n in (2, 3, 4))
    with Journal.open(out, create=False) as journal:  # --resume sends all five again
        assert len(journal.pending_rows(1)) == 5


async def test_a_run_of_two_customers_both_refused_stops_with_exit_3(make_sim, tmp_path):
    sim = await make_sim(customers=2, seed=1, forbidden=True)
    lines = [{"Customer ID": cid, "City": "X"} for cid in sim.store.ids()]
    result = await run_fast(sim, write_sheet(tmp_path / "in.csv", lines), tmp_path / "out")
    assert result.exit_code == 3


async def test_puts_committed_behind_a_gateway_504_end_updated_with_their_undo_values(
    make_sim, tmp_path
):
    sim = await make_sim(customers=3, seed=1, commit_then_504=1.0)
    ids = sim.store.ids()
    old = {cid: sim.store.profile(cid)["defaultAddress"]["city"] for cid in ids}
    lines = [{"Customer ID": cid, "City": f"Town {i}"} for i, cid in enumerate(ids)]
    out = tmp_path / "out"
    result = await run_fast(sim, write_sheet(tmp_path / "in.csv", lines), out)

    assert result.exit_code == 0
    assert {line["status"] for line in read_results(out)} == {"updated"}
    for cid in ids:
        assert [p.status for p in puts_of(sim, cid)] == [504]  # never a second write
    with (out / "undo.csv").open(encoding="utf-8-sig", newline="") as f:
        undo = {line["customer_id"]: line["city"] for line in csv.DictReader(f)}
    assert undo == old


async def test_puts_whose_answers_were_lost_amid_server_errors_are_never_reported_failed(
    make_sim, tmp_path
):
    # Every PUT that commits loses its answer, and half of all calls meet a 500 first.
    sim = await make_sim(customers=6, seed=4, drop_after_commit=1.0, fail_500=0.5)
    ids = sim.store.ids()
    old = {cid: sim.store.profile(cid)["defaultAddress"]["city"] for cid in ids}
    lines = [{"Customer ID": cid, "City": f"Town {i}"} for i, cid in enumerate(ids)]
    out = tmp_path / "out"
    result = await run_fast(sim, write_sheet(tmp_path / "in.csv", lines), out, max_attempts=12)

    assert result.exit_code == 0
    assert {line["status"] for line in read_results(out)} == {"updated"}
    for cid in ids:
        assert sum(p.committed for p in puts_of(sim, cid)) == 1
        assert sim.store.profile(cid)["defaultAddress"]["city"].startswith("Town ")
    with (out / "undo.csv").open(encoding="utf-8-sig", newline="") as f:
        undo = {line["customer_id"]: line["city"] for line in csv.DictReader(f)}
    assert undo == old


async def test_a_409_is_retried_until_the_row_lands(make_sim, tmp_path):
    sim = await make_sim(customers=4, seed=2, fail_409=0.5)
    lines = [{"Customer ID": cid, "City": f"Town {i}"} for i, cid in enumerate(sim.store.ids())]
    out = tmp_path / "out"
    result = await run_fast(sim, write_sheet(tmp_path / "in.csv", lines), out, max_attempts=12)

    assert result.exit_code == 0
    assert {line["status"] for line in read_results(out)} == {"updated"}
    assert any(r.status == 409 for r in sim.log)
    assert read_summary(out)["retries"] >= sum(r.status == 409 for r in sim.log)


async def test_the_etag_goes_both_as_if_match_and_in_the_body_when_if_match_is_optional(
    make_sim, tmp_path
):
    sim = await make_sim(customers=2, seed=1, require_if_match=False)
    ids = sim.store.ids()
    etags = {cid: sim.store.etag(cid) for cid in ids}
    lines = [{"Customer ID": cid, "City": f"Town {i}"} for i, cid in enumerate(ids)]
    result = await run_fast(sim, write_sheet(tmp_path / "in.csv", lines), tmp_path / "out")

    assert result.exit_code == 0
    for cid in ids:
        (put,) = puts_of(sim, cid)
        assert put.if_match == f'"{etags[cid]}"'
        assert put.body_etag == etags[cid]
