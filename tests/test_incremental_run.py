"""`pcbatch run --incremental` against the stand-in over loopback: which rows cost no call, and
the fall back to a full run whenever the activity log cannot vouch for them."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import pytest
from click.testing import CliRunner

from batch.cli import cli
from batch.core.incremental import KNOWN_MESSAGE, PUT_ONTO_KNOWN
from batch.durable.state import STATE_NAME, JobState
from batch.simulator.auditlog import Logged, format_date
from tests.support import city_sheet, invoke, read_results, read_summary, rest

ROWS = 8


def _run(sim, tmp_path, name, sheet, *extra):
    out = tmp_path / name
    args = ["run", str(sheet), "--out", str(out), "--state", str(tmp_path / "state")]
    args += ["--rate", "1000"]  # the pace is not what these tests are about
    result = invoke([*args, "--incremental", "--no-progress", *extra], sim)
    return result, out


def _profile_calls(sim, since, method):
    """The customers whose profile got a `method` call since the `since`-th call, in order."""
    return [
        e.path.split("/")[3]
        for e in rest(sim)[since:]
        if e.method == method and e.path.endswith("/profiles/billing")
    ]


def _profile_gets(sim, since, *, preflight=True):
    """The customers whose profile was read since the `since`-th call, in order, without the
    run's one pre-flight read (the first row a full run sends, read once before anything is
    written; an incremental run's log read stands in for it)."""
    gets = _profile_calls(sim, since, "GET")
    if preflight:
        first = gets.pop(0)
        assert first in gets, gets  # that row was read again when its turn came
    return gets


def _city(sim, customer):
    return sim.store.stored(customer)["defaultAddress"]["city"]


def _age_state(tmp_path, days):
    """Move every run in the job's state `days` back, as if they had been that long ago."""
    with sqlite3.connect(tmp_path / "state" / STATE_NAME) as db:
        for run_id, started in db.execute("SELECT run_id, started_at FROM runs").fetchall():
            moved = datetime.fromisoformat(started) - timedelta(days=days)
            db.execute(
                "UPDATE runs SET started_at = ? WHERE run_id = ?", (moved.isoformat(), run_id)
            )


@pytest.fixture
def filled(make_sim_thread, tmp_path):
    """A stand-in and a job whose first night (a full run) wrote every row's city."""
    sim = make_sim_thread(customers=ROWS + 2)
    ids = sim.store.ids()[:ROWS]
    sheet = city_sheet(tmp_path / "night1.csv", ids)
    result, out = _run(sim, tmp_path, "night1", sheet)
    assert result.exit_code == 0, result.output
    nightly = read_summary(out)["nightly"]
    assert nightly["mode"] == "full" and "no earlier run" in nightly["reason"]
    assert {line["status"] for line in read_results(out)} == {"updated"}
    return sim, ids


def test_only_rows_the_log_cannot_vouch_for_are_sent(filled, tmp_path):
    sim, ids = filled
    # Night 2: the sheet moves customer 0 and adds a customer the state never saw; another
    # writer moves customer 1 (a field the sheet sets) and changes customer 2's phone (a field
    # it does not set: the record's new profile still holds the city the state knows).
    changed = [*ids, sim.store.ids()[ROWS]]
    lines = ["Customer ID,City"] + [f"{cid},Newtown {i}" for i, cid in enumerate(changed)]
    lines[1] = f"{ids[0]},Movedtown"
    sheet = tmp_path / "night2.csv"
    sheet.write_text("\n".join(lines) + "\n", encoding="utf-8")
    sim.write_as_other_writer(ids[1], {"defaultAddress": {"city": "Elsewhere"}})
    sim.write_as_other_writer(ids[2], {"defaultAddress": {"phoneNumber": "+1 555 0100"}})
    since = len(rest(sim))

    result, out = _run(sim, tmp_path, "night2", sheet)

    assert result.exit_code == 0, result.output
    nightly = read_summary(out)["nightly"]
    # pcbatch's own writes of night 1 are in the log too: they do not make this a full run.
    assert nightly["mode"] == "incremental", nightly
    assert nightly["changed_in_log"] == 1
    assert nightly["known_unchanged"] == ROWS - 2
    assert nightly["put_without_get"] == 1
    by_customer = {line["customer_id"]: line for line in read_results(out)}
    # Another writer's customer whose city moved and the customer the state never saw are
    # read; the changed row of a customer the log shows untouched is PUT onto the profile
    # night 1 kept; the phone change left the row's city as known: no call.
    read = {ids[1], changed[-1]}
    assert sorted(_profile_gets(sim, since, preflight=False)) == sorted(read)
    assert sorted(_profile_calls(sim, since, "PUT")) == sorted([ids[0], ids[1], changed[-1]])
    for customer, line in by_customer.items():
        sent = customer in read or customer == ids[0]
        assert (line["message"] == KNOWN_MESSAGE) == (not sent), line
    assert by_customer[ids[0]]["status"] == "updated"
    assert by_customer[ids[0]]["message"] == PUT_ONTO_KNOWN
    assert by_customer[ids[0]]["attempts"] == "1"
    assert by_customer[ids[1]]["status"] == "updated"  # the other writer's city put back
    assert by_customer[ids[2]]["status"] == "unchanged"
    assert sim.store.stored(ids[2])["defaultAddress"]["phoneNumber"] == "+1 555 0100"
    assert _city(sim, ids[0]) == "Movedtown"
    assert [_city(sim, cid) for cid in changed[1:]] == [
        f"Newtown {i}" for i in range(1, len(changed))
    ]


def _rules_fetched(sim, since=0):
    return [
        e.path.rsplit("/", 1)[1] for e in rest(sim)[since:] if "countryvalidationrules" in e.path
    ]


def test_country_rules_a_run_fetched_serve_the_incremental_nights_of_the_week(filled, tmp_path):
    sim, ids = filled
    fetched = _rules_fetched(sim)
    assert fetched  # night 1 fetched the rules of the countries it wrote to
    sheet = _changed_sheet(tmp_path, ids, ids[0], "Movedtown")
    sim.write_as_other_writer(ids[1], {"defaultAddress": {"city": "Elsewhere"}})
    since = len(rest(sim))
    result, out = _run(sim, tmp_path, "night2", sheet)
    assert result.exit_code == 0, result.output
    assert read_summary(out)["nightly"]["mode"] == "incremental"
    assert _rules_fetched(sim, since) == []  # the state's, fetched within a week
    statuses = {row["customer_id"]: row["status"] for row in read_results(out)}
    assert (statuses[ids[0]], statuses[ids[1]]) == ("updated", "updated")
    # A week later the kept rules are too old: fetched again (and kept anew).
    with sqlite3.connect(tmp_path / "state" / STATE_NAME) as db:
        db.execute(
            "UPDATE country_rules SET fetched_at = ?",
            ((datetime.now(UTC) - timedelta(days=8)).isoformat(),),
        )
    sheet = _changed_sheet(tmp_path, ids, ids[0], "Thirdtown")
    since = len(rest(sim))
    result, _ = _run(sim, tmp_path, "night3", sheet)
    assert result.exit_code == 0, result.output
    assert _rules_fetched(sim, since)


def test_a_row_whose_last_outcome_failed_is_sent_again(filled, tmp_path):
    sim, ids = filled
    # Forget customer 3 as a failed outcome does (core/incremental.learned): it is sent.
    with sqlite3.connect(tmp_path / "state" / STATE_NAME) as db:
        db.execute("DELETE FROM known WHERE customer_id = ?", (ids[3],))
    since = len(rest(sim))
    result, _ = _run(sim, tmp_path, "night2", tmp_path / "night1.csv")
    assert result.exit_code == 0, result.output
    assert _profile_gets(sim, since, preflight=False) == [ids[3]]


def _changed_sheet(tmp_path, ids, customer, city):
    lines = ["Customer ID,City"] + [
        f"{cid},{city if cid == customer else f'Newtown {i}'}" for i, cid in enumerate(ids)
    ]
    sheet = tmp_path / "night2.csv"
    sheet.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return sheet


def test_a_change_the_log_shows_late_makes_the_kept_etag_a_conflict_and_nothing_is_lost(
    filled, tmp_path
):
    sim, ids = filled
    # Another writer changes customer 0's phone; the log shows it only an hour later (longer
    # than the margin allows for), so tonight's run knows nothing of it and PUTs the sheet's
    # new city onto the profile night 1 kept, with night 1's etag.
    sim.config.audit_lag_s = 3600
    kept_etag = sim.store.etag(ids[0])
    sim.write_as_other_writer(ids[0], {"defaultAddress": {"phoneNumber": "+1 555 0100"}})
    sheet = _changed_sheet(tmp_path, ids, ids[0], "Movedtown")
    since = len(rest(sim))

    result, out = _run(sim, tmp_path, "night2", sheet)

    assert result.exit_code == 0, result.output
    assert read_summary(out)["nightly"]["changed_in_log"] == 0
    calls = [(e.method, e.status, e.if_match) for e in rest(sim)[since:] if e.customer_id]
    current = sim.store.etag(ids[0])
    assert calls[0] == ("PUT", 412, f'"{kept_etag}"'), calls  # the stale etag: refused
    assert [c[:2] for c in calls[1:]] == [("GET", 200), ("PUT", 200)], calls
    assert calls[2][2] != calls[0][2]  # sent again on the etag just read
    line = {row["customer_id"]: row for row in read_results(out)}[ids[0]]
    assert (line["status"], line["conflicts"]) == ("updated", "1")
    assert line["message"] == ""  # it was read after all
    stored = sim.store.stored(ids[0])["defaultAddress"]
    assert (stored["city"], stored["phoneNumber"]) == ("Movedtown", "+1 555 0100")
    assert current != kept_etag


def test_the_state_keeps_the_profile_each_answer_carried(filled, tmp_path):
    sim, ids = filled
    with JobState.open(tmp_path / "state") as state:
        profiles = state.profiles(ids)
    for customer in ids:
        kept = profiles[customer]
        assert kept.etag == sim.store.etag(customer)
        assert kept.body["defaultAddress"] == sim.store.stored(customer)["defaultAddress"]


def test_a_dry_run_reads_the_state_and_leaves_it_alone(filled, tmp_path):
    sim, ids = filled
    path = tmp_path / "state" / STATE_NAME
    before = path.read_bytes()
    sheet = _changed_sheet(tmp_path, ids, ids[0], "Movedtown")
    since = len(rest(sim))
    result, out = _run(sim, tmp_path, "dry", sheet, "--dry-run")
    assert result.exit_code == 0, result.output
    nightly = read_summary(out)["nightly"]
    assert (nightly["known_unchanged"], nightly["put_without_get"]) == (ROWS - 1, 0)
    # the changed row is read, as a dry run reads every row it would send
    assert _profile_calls(sim, since, "GET") == [ids[0]]
    assert {row["status"] for row in read_results(out)} == {"unchanged", "would_update"}
    assert path.read_bytes() == before


def _broken_page(sim, tmp_path):
    sim.audit.records.append(
        Logged(
            datetime.now(UTC),
            len(sim.audit.records),
            {"operationType": "update_customer_billing_profile", "operationStatus": "succeeded"},
        )
    )
    return (), "without its customer or date"


def _error_status(sim, tmp_path):
    sim.config.audit_status = 500
    return ("--max-attempts", "1"), "the activity log could not be read"


def _window_longer_than_the_service_keeps(sim, tmp_path):
    sim.config.audit_retention_days = 1
    _age_state(tmp_path, 2)
    return (), "the activity log could not be read"


def _state_older_than_the_log(sim, tmp_path):
    _age_state(tmp_path, 100)
    return (), "the activity log keeps 90 days"


def _full_every_due(sim, tmp_path):
    _age_state(tmp_path, 2)
    return ("--full-every", "2"), "a full run is due"


@pytest.mark.parametrize(
    "failure",
    [
        _broken_page,
        _error_status,
        _window_longer_than_the_service_keeps,
        _state_older_than_the_log,
        _full_every_due,
    ],
)
def test_whenever_the_log_cannot_vouch_the_run_is_full_and_says_why(filled, tmp_path, failure):
    sim, ids = filled
    extra, why = failure(sim, tmp_path)
    since = len(rest(sim))
    result, out = _run(sim, tmp_path, "night2", tmp_path / "night1.csv", *extra)
    assert result.exit_code == 0, result.output
    nightly = read_summary(out)["nightly"]
    assert nightly["mode"] == "full" and why in nightly["reason"], nightly
    assert f"a full run tonight: {nightly['reason']}" in result.output
    assert sorted(_profile_gets(sim, since)) == sorted(ids)
    assert {line["message"] for line in read_results(out)} == {""}


def test_a_refused_token_is_still_exit_2_before_anything_is_written(filled, tmp_path):
    # The log's first page is the run's first call: refused, the run falls back to a full one,
    # whose pre-flight read tells the operator what to fix; nothing is written.
    sim, _ = filled
    since = len(rest(sim))
    args = ["run", str(tmp_path / "night1.csv"), "--out", str(tmp_path / "night2")]
    args += ["--state", str(tmp_path / "state"), "--incremental", "--no-progress"]
    env = {"PC_ACCESS_TOKEN": "not-the-token", "PC_BASE_URL": sim.base_url}
    result = CliRunner().invoke(cli, args, env=env, catch_exceptions=False)
    assert result.exit_code == 2, result.output
    assert "check the token in PC_ACCESS_TOKEN" in result.output
    assert {e.status for e in rest(sim)[since:]} == {401}
    assert "PUT" not in {e.method for e in rest(sim)[since:]}


def test_a_nightly_job_with_resume_reapplies_the_same_sheet_each_night(make_sim_thread, tmp_path):
    # jobs/nightly-billing.toml keeps `resume = true` with a fixed --out: a complete last run
    # of the same sheet must not end the night with nothing sent, or others' edits would stay.
    sim = make_sim_thread(customers=4)
    ids = sim.store.ids()
    sheet = city_sheet(tmp_path / "export.csv", ids)
    first, out = _run(sim, tmp_path, "nightly", sheet, "--resume")
    assert first.exit_code == 0, first.output
    sim.write_as_other_writer(ids[2], {"defaultAddress": {"city": "Elsewhere"}})

    second, _ = _run(sim, tmp_path, "nightly", sheet, "--resume")

    assert second.exit_code == 0, second.output
    summary = read_summary(out)
    assert summary["nightly"]["mode"] == "incremental", summary
    assert (out / "undo-2.csv").is_file()  # a second run of the journal, not the first again
    lines = {line["customer_id"]: line for line in read_results(out)}
    assert lines[ids[2]]["status"] == "updated"
    assert _city(sim, ids[2]) != "Elsewhere"


def _a_day_passes(sim, tmp_path, days=1):
    """Every time the job's state and the stand-in's log hold moves `days` back."""
    day = timedelta(days=days)
    with sqlite3.connect(tmp_path / "state" / STATE_NAME) as db:
        db.create_function("back", 1, lambda t: t and (datetime.fromisoformat(t) - day).isoformat())
        db.execute("UPDATE runs SET started_at = back(started_at), finished_at = back(finished_at)")
        db.execute("UPDATE known SET as_of = back(as_of), wrote_at = back(wrote_at)")
    sim.audit.records[:] = [
        Logged(e.at - day, e.seq, {**e.record, "operationDate": format_date(e.at - day)})
        for e in sim.audit.records
    ]


def _log_queries(sim, since):
    """The query strings of the activity-log requests since the `since`-th call, with status."""
    return [
        (parse_qs(e.query), e.status) for e in rest(sim)[since:] if e.path == "/v1/auditrecords"
    ]


def test_rows_known_unchanged_tonight_are_known_unchanged_tomorrow_too(filled, tmp_path):
    # Night 2 (a day after night 1) vouches for every row from the log and tells the state it
    # saw them as of tonight: night 3's window starts at night 2, and still needs no call.
    sim, _ = filled
    _a_day_passes(sim, tmp_path)
    for night in ("night2", "night3"):
        since = len(rest(sim))
        result, out = _run(sim, tmp_path, night, tmp_path / "night1.csv")
        assert result.exit_code == 0, result.output
        assert read_summary(out)["nightly"]["known_unchanged"] == ROWS, night
        assert _profile_calls(sim, since, "GET") == [], night


def test_a_night_45_days_after_the_last_reads_the_log_30_days_a_request(filled, tmp_path):
    # The job did not run for 45 days; another writer moved customer 3 on day 40. The window
    # is longer than the service serves in one request: read in two, nothing lost.
    sim, ids = filled
    _a_day_passes(sim, tmp_path, 40)
    sim.write_as_other_writer(ids[3], {"defaultAddress": {"city": "Elsewhere"}})
    _a_day_passes(sim, tmp_path, 5)
    since = len(rest(sim))

    result, out = _run(sim, tmp_path, "night2", tmp_path / "night1.csv")

    assert result.exit_code == 0, result.output
    nightly = read_summary(out)["nightly"]
    assert nightly["mode"] == "incremental", nightly
    assert (nightly["changed_in_log"], nightly["known_unchanged"]) == (1, ROWS - 1)
    queries = _log_queries(sim, since)
    assert len(queries) == nightly["log_requests"] == 2
    starts = [datetime.fromisoformat(query["startDate"][0]) for query, _ in queries]
    assert starts[1] - starts[0] == timedelta(days=29)  # one day of overlap
    for query, status in queries:
        assert status == 200 and "endDate" not in query, query
    assert _profile_gets(sim, since, preflight=False) == [ids[3]]
    assert _city(sim, ids[3]) == "Newtown 3"  # the other writer's city put back


def test_a_night_of_30_days_or_less_sends_only_its_start_date(filled, tmp_path):
    sim, _ = filled
    _a_day_passes(sim, tmp_path, 29)
    since = len(rest(sim))
    result, out = _run(sim, tmp_path, "night2", tmp_path / "night1.csv")
    assert result.exit_code == 0, result.output
    assert read_summary(out)["nightly"]["known_unchanged"] == ROWS
    ((query, status),) = _log_queries(sim, since)
    assert status == 200 and set(query) == {"startDate", "size"}, query


def test_failed_records_without_a_customer_do_not_make_the_night_a_full_run(filled, tmp_path):
    sim, ids = filled
    sim.config.audit_failed_add_customer = True  # one before each change the log records
    sim.audit.record_failed_add_customer(partner_id=sim.config.tenant_id, application_id=None)
    sim.write_as_other_writer(ids[4], {"defaultAddress": {"city": "Elsewhere"}})
    since = len(rest(sim))

    result, out = _run(sim, tmp_path, "night2", tmp_path / "night1.csv")

    assert result.exit_code == 0, result.output
    nightly = read_summary(out)["nightly"]
    assert nightly["mode"] == "incremental", nightly
    assert nightly["changed_in_log"] == 1
    assert _profile_gets(sim, since, preflight=False) == [ids[4]]
    assert _city(sim, ids[4]) == "Newtown 4"


def test_with_a_token_naming_no_identity_own_writes_are_told_by_their_content(
    make_sim_thread, tmp_path
):
    # A static PC_ACCESS_TOKEN that is no JWT: pcbatch cannot read who it is, so its own
    # writes in the log are told apart by the profile they carry.
    sim = make_sim_thread(customers=ROWS)
    sim.token = sim.issue_opaque_token()
    ids = sim.store.ids()
    first, _ = _run(sim, tmp_path, "night1", city_sheet(tmp_path / "night1.csv", ids))
    assert first.exit_code == 0, first.output
    _a_day_passes(sim, tmp_path)
    # Night 2: the sheet moves customer 0, another writer moves customer 1.
    sheet = _changed_sheet(tmp_path, ids, ids[0], "Movedtown")
    sim.write_as_other_writer(ids[1], {"defaultAddress": {"city": "Elsewhere"}})
    since = len(rest(sim))

    result, out = _run(sim, tmp_path, "night2", sheet)

    assert result.exit_code == 0, result.output
    nightly = read_summary(out)["nightly"]
    assert (nightly["mode"], nightly["changed_in_log"]) == ("incremental", 1), nightly
    assert nightly["known_unchanged"] == ROWS - 2
    # about one call per changed row: the log's page, a PUT onto the kept profile for the
    # sheet's change, a GET and a PUT for the other writer's
    calls = [(e.method, e.customer_id) for e in rest(sim)[since:]]
    assert calls.count(("GET", None)) == nightly["log_requests"] == 1
    assert sorted(c for c in calls if c[1]) == sorted(
        [("PUT", ids[0]), ("GET", ids[1]), ("PUT", ids[1])]
    )
    assert (_city(sim, ids[0]), _city(sim, ids[1])) == ("Movedtown", "Newtown 1")
