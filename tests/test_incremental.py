"""The pure rules of incremental runs (batch/core/incremental.py) and of reading the activity
log they decide from (batch/core/activity_log.py), case by case."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from batch.core.activity_log import AuditRecord, Identity, read_audit_page, token_identity
from batch.core.incremental import (
    MARGIN,
    MAX_REQUEST_SPAN,
    SKEW,
    FullRun,
    Known,
    Window,
    changed_customers,
    choose_window,
    first_page_url,
    known_unchanged,
    learned,
    log_lag,
    log_lagging,
    may_put_onto_known,
    request_windows,
)
from batch.core.model import KnownProfile, Outcome, Row, Status

NOW = datetime(2025, 3, 10, 2, 0, tzinfo=UTC)
LAST = NOW - timedelta(days=1)
C1 = "11111111-1111-4111-8111-111111111111"
C2 = "22222222-2222-4222-8222-222222222222"
ME = Identity("pcbatch-app")
BASE = "http://127.0.0.1:9"


def row(customer: str = C1, **values: str | None) -> Row:
    return Row(2, customer, values or {"city": "Oslo"}, {})


def record(
    customer: str = C1,
    at: datetime = LAST + timedelta(minutes=3),
    app: str | None = "pcbatch-app",
    new: dict | None = None,
    op: str = "update_customer_billing_profile",
    status: str = "succeeded",
) -> AuditRecord:
    return AuditRecord(customer, op, at, status, app, None, new)


@pytest.mark.parametrize(
    ("last_run", "last_full", "full_every", "expected"),
    [
        (None, None, None, "no earlier run"),
        (LAST, LAST, None, Window(LAST - MARGIN)),
        (LAST, NOW - timedelta(days=7), 7, "a full run is due"),
        (LAST, NOW - timedelta(days=6, hours=13), 7, "a full run is due"),  # 7th night, earlier
        (LAST, NOW - timedelta(days=6), 7, Window(LAST - MARGIN)),
        (NOW - timedelta(days=89), NOW - timedelta(days=89), None, "keeps 90 days"),
        (
            NOW - timedelta(days=30),
            NOW - timedelta(days=30),
            None,
            Window(NOW - timedelta(days=30) - MARGIN),
        ),
        (NOW + timedelta(hours=1), LAST, None, "clock went back"),
    ],
)
def test_the_window_or_a_full_run_and_why(last_run, last_full, full_every, expected):
    chosen = choose_window(NOW, last_run, last_full, full_every)
    if isinstance(expected, str):
        assert isinstance(chosen, FullRun)
        assert expected in chosen.reason
    else:
        assert chosen == expected


def test_the_log_is_asked_by_its_documented_start_date_only_with_the_page_size():
    url = first_page_url(BASE + "/", LAST - MARGIN)
    assert url == f"{BASE}/v1/auditrecords?startDate=2025-03-09&size=500"


MIDNIGHT = datetime(2025, 3, 9, tzinfo=UTC)


@pytest.mark.parametrize("days", [0, 1, 29, 30, 31, 45, 59, 60, 88.9])
def test_a_window_is_read_in_requests_of_at_most_30_days_that_cover_it(days):
    start = NOW - timedelta(days=days) - MARGIN
    windows = request_windows(start, NOW)
    begins = [begin for begin, _ in windows]
    assert begins[0] <= start and begins[0].time() == MIDNIGHT.time()  # asked by date
    assert all(end is not None for _, end in windows[:-1]) and windows[-1][1] is None
    # each request spans at most 30 days, the last one to now even by the service's clock
    spans = [(end or NOW + SKEW) - begin for begin, end in windows]
    assert all(span <= MAX_REQUEST_SPAN for span in spans), spans
    # and each starts before the one before it ends: nothing between them is left out
    assert all(later < end for (_, end), (later, _) in pairwise(windows) if end)
    if days < 29:
        assert len(windows) == 1
    if days >= 30:
        assert len(windows) >= 2


def test_a_window_of_30_days_or_less_is_one_request_with_only_its_start_date():
    assert request_windows(LAST - MARGIN, NOW) == [(MIDNIGHT, None)]
    (only,) = request_windows(NOW - timedelta(days=29, hours=1), NOW)
    assert only[1] is None
    assert len(request_windows(NOW - timedelta(days=45), NOW)) == 2


WROTE = Known(C1, {"city": "Oslo"}, LAST + timedelta(minutes=2), LAST + timedelta(minutes=2))
SAW = Known(C1, {"city": "Oslo"}, LAST + timedelta(minutes=2))


@pytest.mark.parametrize(
    ("rec", "known", "changed"),
    [
        # pcbatch's own PUT, as the state recorded it: not a change
        (record(), WROTE, False),
        (record(new={"city": "Oslo"}), WROTE, False),
        # the record's new value is not what pcbatch wrote: someone else's, or normalised
        (record(new={"city": "OSLO"}), WROTE, True),
        # same app, but far from the time pcbatch wrote: another job with the same app
        (record(at=LAST + timedelta(hours=2)), WROTE, True),
        # another application, at the very time pcbatch wrote
        (record(app="Partner Center Web"), WROTE, True),
        # the state has no write to match: a GET only
        (record(), SAW, True),
        # a change well before pcbatch's GET: the GET saw it
        (record(at=SAW.as_of - SKEW - timedelta(seconds=1), app="other"), SAW, False),
        # within the clock allowance of the GET: it may not have seen it
        (record(at=SAW.as_of - SKEW + timedelta(seconds=1), app="other"), SAW, True),
        # unknown customer: changed
        (record(), None, True),
        # failed operations change nothing; added and removed customers do
        (record(status="failed", app="other"), None, False),
        # a record whose new profile holds, in the fields the state knows, what it knows
        # changes nothing, whoever made it (an opaque token's own write, a repeat)
        (record(app=None, new={"city": "Oslo", "state": "x"}), SAW, False),
        (record(app="Partner Center Web", new={"city": "Oslo"}), WROTE, False),
        (record(app="Partner Center Web", new={"city": "Bergen"}), SAW, True),
        # a cleared field and a missing one are alike
        (record(app=None, new={"city": None}), Known(C1, {"city": None}, SAW.as_of), False),
        (record(op="delete_customer", app="other"), WROTE, True),
    ],
)
def test_a_record_is_a_change_unless_it_is_pcbatchs_own_write_or_already_seen(rec, known, changed):
    state = {} if known is None else {C1: known}
    assert (C1 in changed_customers([rec], state, ME)) is changed


def test_own_writes_are_told_by_user_when_the_token_names_one():
    me = Identity("shared-app", "ops@contoso.example")
    mine = AuditRecord(
        C1,
        "update_customer_billing_profile",
        WROTE.wrote_at,
        "succeeded",
        "shared-app",
        "ops@contoso.example",
    )
    theirs = AuditRecord(
        C1,
        "update_customer_billing_profile",
        WROTE.wrote_at,
        "succeeded",
        "shared-app",
        "someone@contoso.example",
    )
    assert changed_customers([mine], {C1: WROTE}, me) == {}
    assert C1 in changed_customers([theirs], {C1: WROTE}, me)


WINDOW = Window(LAST - MARGIN)


@pytest.mark.parametrize(
    ("the_row", "known", "changed", "skipped"),
    [
        (row(city="Oslo"), SAW, set(), True),
        (row(city=None), Known(C1, {"city": None}, SAW.as_of), set(), True),  # cleared stays so
        (row(city="Bergen"), SAW, set(), False),  # the sheet changed
        (row(city="Oslo", state="N"), SAW, set(), False),  # a field the state does not know
        (row(city="Oslo"), SAW, {C1}, False),  # the log shows a change
        # the log shows a change that left the row's field as the state knows it
        (row(city="Oslo"), SAW, {"Oslo"}, True),
        (row(city="Oslo"), SAW, {"Bergen"}, False),
        (row(city="Oslo"), None, set(), False),  # a customer the state does not know
        # known from before the window: a change since would not show in it
        (
            row(city="Oslo"),
            Known(C1, {"city": "Oslo"}, WINDOW.start - timedelta(hours=1)),
            set(),
            False,
        ),
    ],
)
def test_a_row_is_skipped_only_when_the_state_and_the_log_both_say_so(
    the_row, known, changed, skipped
):
    assert known_unchanged(the_row, known, _marks(changed), WINDOW) is skipped


def _marks(changed: set[str]) -> dict[str, AuditRecord]:
    """The log's changes: for a customer id, a record of it without a new value; for a city, a
    record of C1 whose new profile holds that city."""
    marks = {}
    for mark in changed:
        customer, new = (mark, None) if mark in (C1, C2) else (C1, {"city": mark})
        marks[customer] = record(customer, new=new)
    return marks


@pytest.mark.parametrize(
    ("status", "kept"),
    [
        (Status.UPDATED, "written"),
        (Status.UNCHANGED, "seen"),
        (Status.SKIPPED, "before"),
        (Status.WOULD_UPDATE, "before"),
        (Status.FAILED, None),
        (Status.NOT_FOUND, None),
        (Status.REJECTED, None),
    ],
)
def test_what_the_state_learns_from_each_outcome(status, kept):
    the_row = row(city="Oslo")
    answered = {"defaultAddress": {"city": "Oslo"}, "attributes": {"etag": "e2"}}
    outcome = Outcome(2, C1, status, etag="e2", profile=answered)
    before = Known(C1, {"city": "Old"}, LAST)
    after = learned(the_row, outcome, NOW, before)
    if kept is None:
        assert after is None
    elif kept == "before":
        assert after is before
    else:
        assert after is not None
        assert (after.values, after.as_of) == ({"city": "Oslo"}, NOW)
        assert after.wrote_at == (NOW if kept == "written" else None)
        assert after.profile == KnownProfile(answered, "e2")


@pytest.mark.parametrize(
    ("known", "changed", "may"),
    [
        (SAW, set(), True),
        (SAW, {C1}, False),  # another writer: always read
        (SAW, {"Bergen"}, False),  # another writer set the row's field: read
        # a change that left the row's field as the state knows it (its own last write): the
        # kept profile, If-Match guarding it
        (SAW, {"Oslo"}, True),
        (None, set(), False),  # the state does not know the customer
        # known from before the window: a change since would not show in it
        (Known(C1, {"city": "Oslo"}, WINDOW.start - timedelta(hours=1)), set(), False),
    ],
)
def test_a_changed_row_goes_onto_the_kept_profile_only_when_the_log_vouches_for_it(
    known, changed, may
):
    assert may_put_onto_known(row(city="Bergen"), known, _marks(changed), WINDOW) is may


def _page(items: list, next_link: dict | None = None) -> dict:
    links: dict = {"self": {"uri": "/v1/auditrecords?size=500", "method": "GET", "headers": []}}
    if next_link is not None:
        links["next"] = next_link
    return {"totalCount": len(items), "items": items, "links": links}


ITEM = {
    "customerId": C1.upper(),
    "applicationId": "pcbatch-app",
    "resourceType": "customer",
    "resourceNewValue": json.dumps({"DefaultAddress": {"City": "Oslo"}, "Email": "a@b.example"}),
    "operationType": "update_customer_billing_profile",
    "operationDate": "2025-03-09T02:03:04.1234567Z",
    "operationStatus": "succeeded",
}


def test_a_page_gives_its_change_records_and_its_next_page():
    other = {**ITEM, "operationType": "create_order", "customerId": C2}
    token = [{"key": "MS-ContinuationToken", "value": "t1"}]
    link = {"uri": "/v1/auditrecords?size=500&seekOperation=Next", "headers": token}
    page = read_audit_page(_page([ITEM, other], link), BASE)
    assert page.problem is None
    (rec,) = page.records
    assert rec.customer_id == C1
    assert rec.operation_date == datetime(2025, 3, 9, 2, 3, 4, 123456, tzinfo=UTC)
    assert rec.new_values is not None
    assert (rec.new_values["city"], rec.new_values["email"], rec.new_values["state"]) == (
        "Oslo",
        "a@b.example",
        None,
    )
    assert page.next is not None
    assert (page.next.url, page.next.continuation) == (
        f"{BASE}/v1/auditrecords?size=500&seekOperation=Next",
        "t1",
    )


def test_a_failed_record_is_skipped_before_anything_else_is_read():
    failed_add = {
        "resourceType": "customer",
        "operationType": "add_customer",
        "operationDate": "2025-03-09T02:03:04.1234567Z",
        "operationStatus": "Failed",
    }  # no customerId, as the service writes a customer creation that failed
    page = read_audit_page(_page([failed_add, {**ITEM, "operationStatus": "failed"}, ITEM]), BASE)
    assert page.problem is None
    assert [rec.customer_id for rec in page.records] == [C1]
    # a record without its customer that did not fail is still a gap
    assert read_audit_page(_page([{**failed_add, "operationStatus": "succeeded"}]), BASE).problem


@pytest.mark.parametrize(
    "new_value",
    [
        json.dumps({"DefaultAddress": {"City": "Oslo", "Region": None}, "Email": "a@b.example"}),
        {"defaultAddress": {"city": "Oslo"}, "email": "a@b.example"},  # an object, camelCase
        json.dumps(
            {
                "DEFAULTADDRESS": {"CITY": "Oslo", "State": ""},
                "Email": "a@b.example",
                "Attributes": {"Etag": "1", "ObjectType": "CustomerBillingProfile"},
            }
        ),
    ],
)
def test_a_records_new_profile_is_read_in_any_key_case_nulls_written_or_left_out(new_value):
    (rec,) = read_audit_page(_page([{**ITEM, "resourceNewValue": new_value}]), BASE).records
    assert rec.new_values is not None
    assert (rec.new_values["city"], rec.new_values["email"], rec.new_values["state"]) == (
        "Oslo",
        "a@b.example",
        None,
    )
    assert rec.new_values["region"] is None


def test_only_a_billing_profile_counts_as_a_records_new_profile():
    customer = json.dumps({"BillingProfile": {}, "Attributes": {"ObjectType": "Customer"}})
    other = {**ITEM, "resourceNewValue": customer}
    deleted = {**ITEM, "operationType": "delete_customer"}
    for item in (other, deleted, {**ITEM, "resourceNewValue": "not json"}):
        (rec,) = read_audit_page(_page([item]), BASE).records
        assert rec.new_values is None, item


@pytest.mark.parametrize(
    "body",
    [
        {"items": "nope"},
        [],
        _page([{**ITEM, "customerId": None}]),
        _page([{**ITEM, "operationDate": "yesterday"}]),
        _page(
            [ITEM],
            {
                "uri": "https://elsewhere.example/v1/auditrecords",
                "headers": [{"key": "MS-ContinuationToken", "value": "t"}],
            },
        ),
        _page([ITEM], {"uri": "/v1/auditrecords?seekOperation=Next", "headers": []}),
    ],
)
def test_a_page_that_cannot_be_trusted_is_a_gap(body):
    assert read_audit_page(body, BASE).problem is not None


def _jwt(claims: dict) -> str:
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"e30.{payload}.sig"


def test_the_identity_comes_from_the_signed_in_token():
    assert token_identity(_jwt({"appid": "a1", "upn": "u@x.example"})) == Identity(
        "a1", "u@x.example"
    )
    assert token_identity(_jwt({"azp": "a2"})) == Identity("a2", None)
    assert token_identity("not a token") == Identity()


OWN_PUT_AT = LAST + timedelta(minutes=3)  # when pcbatch's PUT of C1 was answered, by this clock
OWN_PUT = Known(C1, {"city": "Oslo"}, OWN_PUT_AT, wrote_at=OWN_PUT_AT)


@pytest.mark.parametrize(
    ("records", "lag"),
    [
        # the service committed a moment before the answer: on time
        (
            [record(at=OWN_PUT_AT - timedelta(seconds=1), new={"city": "Oslo"})],
            timedelta(seconds=1),
        ),
        # the log stamps seven minutes early
        (
            [record(at=OWN_PUT_AT - timedelta(minutes=7), new={"city": "Oslo"})],
            timedelta(minutes=7),
        ),
        # the nearest of two records with the written values counts (a repeat a day before)
        (
            [
                record(at=OWN_PUT_AT - timedelta(days=1), new={"city": "Oslo"}),
                record(at=OWN_PUT_AT - timedelta(minutes=2), new={"city": "Oslo"}),
            ],
            timedelta(minutes=2),
        ),
        # another writer's values, a failed record, a record without new values: no evidence
        ([record(at=OWN_PUT_AT - timedelta(hours=1), new={"city": "Bergen"})], None),
        ([record(at=OWN_PUT_AT - timedelta(hours=1), new={"city": "Oslo"}, status="failed")], None),
        ([record(at=OWN_PUT_AT - timedelta(hours=1))], None),
    ],
)
def test_the_logs_lag_is_read_off_pcbatchs_own_writes(records, lag):
    assert log_lag(records, {C1: OWN_PUT}) == lag


def test_a_log_lagging_beyond_the_allowance_makes_a_full_run_saying_which_way():
    assert log_lagging(None) is None
    assert log_lagging(SKEW) is None
    behind = log_lagging(timedelta(minutes=7))
    assert isinstance(behind, FullRun) and "0:07:00 behind" in behind.reason
    ahead = log_lagging(-timedelta(minutes=6))
    assert isinstance(ahead, FullRun) and "0:06:00 ahead of" in ahead.reason
