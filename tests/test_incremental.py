"""The pure rules of incremental runs (batch/core/incremental.py), case by case."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from batch.core.incremental import (
    MARGIN,
    SKEW,
    AuditRecord,
    FullRun,
    Identity,
    Known,
    Window,
    changed_customers,
    choose_window,
    first_page_url,
    known_unchanged,
    learned,
    may_put_onto_known,
    read_audit_page,
    token_identity,
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


def test_the_log_is_asked_by_documented_dates_with_the_page_size():
    url = first_page_url(BASE + "/", LAST - MARGIN, NOW)
    assert url == f"{BASE}/v1/auditrecords?startDate=2025-03-09&endDate=2025-03-10&size=500"


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
    marks = {customer: record(customer) for customer in changed}
    assert known_unchanged(the_row, known, marks, WINDOW) is skipped


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
        (None, set(), False),  # the state does not know the customer
        # known from before the window: a change since would not show in it
        (Known(C1, {"city": "Oslo"}, WINDOW.start - timedelta(hours=1)), set(), False),
    ],
)
def test_a_changed_row_goes_onto_the_kept_profile_only_when_the_log_vouches_for_it(
    known, changed, may
):
    marks = {customer: record(customer) for customer in changed}
    assert may_put_onto_known(row(city="Bergen"), known, marks, WINDOW) is may


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
