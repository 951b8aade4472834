"""The stand-in's activity log, GET /v1/auditrecords, over loopback."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from batch.simulator.config import DEFAULT_CLIENT_ID


def _today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


async def _put_city(sim, client, customer: str, city: str) -> None:
    profile = (await client.get_profile(customer)).json
    profile["defaultAddress"]["city"] = city
    answer = await client.put_profile(customer, profile, profile["attributes"]["etag"])
    assert answer.status == 200, answer.body


async def _log(client, query: str) -> dict:
    answer = await client.request("GET", f"/v1/auditrecords?{query}")
    assert answer.status == 200, answer.body
    return answer.json


async def test_a_committed_put_is_logged_with_the_tokens_app_and_the_new_profile(sim, sim_client):
    client = sim_client(sim)
    customer = sim.store.ids()[0]
    await _put_city(sim, client, customer, "Logtown")
    page = await _log(client, f"startDate={_today()}&endDate={_today()}&size=50")
    assert page["attributes"] == {"objectType": "Collection"}
    assert page["totalCount"] == 1
    (record,) = page["items"]
    assert record["operationType"] == "update_customer_billing_profile"
    assert record["resourceType"] == "customer"
    assert record["customerId"] == customer
    assert record["operationStatus"] == "succeeded"
    assert record["applicationId"] == DEFAULT_CLIENT_ID
    assert record["attributes"] == {"objectType": "AuditRecord"}
    new_value = json.loads(record["resourceNewValue"])
    assert new_value["DefaultAddress"]["City"] == "Logtown"
    assert new_value["Attributes"]["Etag"] == sim.store.etag(customer)
    when = datetime.fromisoformat(record["operationDate"].replace("0Z", "+00:00"))
    assert abs(when - datetime.now(UTC)) < timedelta(minutes=1)


async def test_a_refused_put_and_a_get_leave_no_record(sim, sim_client):
    client = sim_client(sim)
    customer = sim.store.ids()[0]
    profile = (await client.get_profile(customer)).json
    stale = await client.put_profile(customer, profile, '"1"')
    assert stale.status == 412
    assert (await _log(client, f"startDate={_today()}"))["items"] == []


async def test_another_writers_edit_is_logged_under_its_own_application(sim, sim_client):
    customer = sim.store.ids()[1]
    sim.write_as_other_writer(customer, {"defaultAddress": {"city": "Elsewhere"}})
    (record,) = (await _log(sim_client(sim), f"startDate={_today()}"))["items"]
    assert record["customerId"] == customer
    assert record["applicationId"] == sim.config.other_writer
    assert json.loads(record["resourceNewValue"])["DefaultAddress"]["City"] == "Elsewhere"


async def test_the_concurrent_writer_fault_shows_in_the_log(make_sim, sim_client):
    sim = await make_sim(concurrent_writer=1.0)
    client = sim_client(sim)
    customer = sim.store.ids()[0]
    assert (await client.get_profile(customer)).status == 200
    sim.config.concurrent_writer = 0.0
    (record,) = (await _log(client, f"startDate={_today()}"))["items"]
    assert (record["customerId"], record["applicationId"]) == (customer, sim.config.other_writer)


async def test_pages_come_newest_first_with_a_continuation_token(sim, sim_client):
    client = sim_client(sim)
    ids = sim.store.ids()[:5]
    for customer in ids:
        sim.write_as_other_writer(customer, {"email": "x@example.com"})
    seen: list[str] = []
    page = await _log(client, f"startDate={_today()}&size=2")
    while True:
        seen += [item["customerId"] for item in page["items"]]
        link = page["links"].get("next")
        if link is None:
            break
        assert "seekOperation=Next" in link["uri"]
        (header,) = link["headers"]
        assert header["key"] == "MS-ContinuationToken"
        answer = await client.request(
            "GET", link["uri"], headers={"MS-ContinuationToken": header["value"]}
        )
        assert answer.status == 200
        page = answer.json
    assert seen == list(reversed(ids))


async def test_a_lagging_log_shows_a_change_only_after_the_lag(make_sim, sim_client):
    sim = await make_sim(audit_lag_s=600.0)
    now = datetime.now(UTC)
    sim.audit.clock = lambda: now
    sim.write_as_other_writer(sim.store.ids()[0], {"email": "late@example.com"})
    client = sim_client(sim)
    assert (await _log(client, f"startDate={_today()}"))["items"] == []
    sim.audit.clock = lambda: now + timedelta(seconds=601)
    assert len((await _log(client, f"startDate={_today()}"))["items"]) == 1


async def test_the_window_is_respected_and_a_date_time_start_is_exact(sim, sim_client):
    now = datetime.now(UTC)
    sim.audit.clock = lambda: now - timedelta(days=3)
    sim.write_as_other_writer(sim.store.ids()[0], {"email": "old@example.com"})
    sim.audit.clock = lambda: now
    sim.write_as_other_writer(sim.store.ids()[1], {"email": "new@example.com"})
    client = sim_client(sim)
    two_days = (now - timedelta(days=2)).strftime("%Y-%m-%d")
    assert len((await _log(client, f"startDate={two_days}"))["items"]) == 1
    week = (now - timedelta(days=7)).strftime("%Y-%m-%d")
    assert len((await _log(client, f"startDate={week}"))["items"]) == 2
    yesterday = (now - timedelta(days=1)).strftime("%Y-%m-%d")
    assert (await _log(client, f"startDate={week}&endDate={yesterday}"))["totalCount"] == 1
    sim.audit.clock = lambda: now + timedelta(hours=2)
    sim.write_as_other_writer(sim.store.ids()[2], {"email": "later@example.com"})
    sim.audit.clock = lambda: now + timedelta(hours=3)
    exact = (now + timedelta(hours=1)).isoformat().replace("+", "%2B")
    (record,) = (await _log(client, f"startDate={exact}"))["items"]
    assert record["customerId"] == sim.store.ids()[2]


async def test_a_start_beyond_the_retention_or_a_bad_query_is_400(sim, sim_client):
    client = sim_client(sim)
    old = (datetime.now(UTC) - timedelta(days=91)).strftime("%Y-%m-%d")
    for query in (
        f"startDate={old}",
        "startDate=6/1/2017",
        f"startDate={_today()}&size=many",
        f"startDate={_today()}&endDate=2001-01-01",
        "seekOperation=Next",
    ):
        answer = await client.request("GET", f"/v1/auditrecords?{query}")
        assert answer.status == 400, query
        assert answer.json["code"] == 800002
    forged = await client.request(
        "GET", "/v1/auditrecords?seekOperation=Next", headers={"MS-ContinuationToken": "abc"}
    )
    assert forged.status == 400


async def test_audit_status_makes_the_log_unreadable_and_needs_a_token(make_sim, sim_client):
    sim = await make_sim(audit_status=503)
    client = sim_client(sim)
    assert (await client.request("GET", f"/v1/auditrecords?startDate={_today()}")).status == 503
    unsigned = await client.request("GET", "/v1/auditrecords", token=None)
    assert unsigned.status == 401


async def test_a_start_date_alone_serves_30_days_from_it_and_a_longer_span_is_400(sim, sim_client):
    now = datetime.now(UTC)
    for days_ago, customer in ((50, 0), (25, 1)):
        sim.audit.clock = lambda days_ago=days_ago: now - timedelta(days=days_ago)
        sim.write_as_other_writer(sim.store.ids()[customer], {"email": "x@example.com"})
    sim.audit.clock = lambda: now
    client = sim_client(sim)
    start = (now - timedelta(days=60)).strftime("%Y-%m-%d")
    # "the max window or ... today as the end date, whichever is less": days 60 to 30 back
    (record,) = (await _log(client, f"startDate={start}"))["items"]
    assert record["customerId"] == sim.store.ids()[0]
    end = (now - timedelta(days=20)).strftime("%Y-%m-%d")
    answer = await client.request("GET", f"/v1/auditrecords?startDate={start}&endDate={end}")
    assert answer.status == 400
    assert set(answer.json) == {"code", "description", "data", "source"}
    assert "30 days" in answer.json["description"]
    # 29 days back to the end of today: 30 days, served
    thirty = (now - timedelta(days=29)).strftime("%Y-%m-%d")
    (record,) = (await _log(client, f"startDate={thirty}&endDate={_today()}"))["items"]
    assert record["customerId"] == sim.store.ids()[1]


async def test_the_sdks_date_format_is_taken_exactly(sim, sim_client):
    now = datetime.now(UTC).replace(microsecond=0)
    sim.audit.clock = lambda: now - timedelta(hours=3)
    sim.write_as_other_writer(sim.store.ids()[0], {"email": "early@example.com"})
    sim.audit.clock = lambda: now - timedelta(hours=1)
    sim.write_as_other_writer(sim.store.ids()[1], {"email": "late@example.com"})
    sim.audit.clock = lambda: now
    since = (now - timedelta(hours=2)).strftime("%m/%d/%Y %H:%M:%S")  # InvariantCulture
    (record,) = (await _log(sim_client(sim), f"startDate={since}"))["items"]
    assert record["customerId"] == sim.store.ids()[1]


async def test_a_billing_update_carries_its_profile_as_the_service_writes_it(sim, sim_client):
    customer = sim.store.ids()[0]
    sim.write_as_other_writer(customer, {"defaultAddress": {"addressLine2": None}})
    (record,) = (await _log(sim_client(sim), f"startDate={_today()}"))["items"]
    new_value = json.loads(record["resourceNewValue"])
    # PascalCase, every field written, null when it has none (the add_customer record's shape)
    assert list(new_value)[:7] == [
        "Id",
        "FirstName",
        "LastName",
        "Email",
        "Culture",
        "Language",
        "CompanyName",
    ]
    address = new_value["DefaultAddress"]
    assert {"AddressLine2", "AddressLine3", "District", "MiddleName"} <= set(address)
    assert address["AddressLine2"] is None and address["AddressLine3"] is None
    assert address["City"] == sim.store.stored(customer)["defaultAddress"]["city"]
    assert new_value["Attributes"]["ObjectType"] == "CustomerBillingProfile"
    assert "Links" not in new_value


async def test_failed_add_customer_records_come_without_a_customer_when_asked(make_sim, sim_client):
    sim = await make_sim(audit_failed_add_customer=True)
    customer = sim.store.ids()[0]
    sim.write_as_other_writer(customer, {"email": "x@example.com"})
    update, failed = (await _log(sim_client(sim), f"startDate={_today()}"))["items"]
    assert (failed["operationType"], failed["operationStatus"]) == ("add_customer", "failed")
    assert "customerId" not in failed and failed["resourceType"] == "customer"
    assert (update["operationType"], update["customerId"]) == (
        "update_customer_billing_profile",
        customer,
    )


async def test_an_opaque_token_is_served_and_its_writes_logged_under_its_client(sim, sim_client):
    opaque = sim.issue_opaque_token()
    assert opaque.count(".") < 2  # no JWT: nothing in it names the app
    client = sim_client(sim)
    customer = sim.store.ids()[0]
    profile = (await client.get_profile(customer, token=opaque)).json
    answer = await client.put_profile(
        customer, profile, profile["attributes"]["etag"], token=opaque
    )
    assert answer.status == 200, answer.body
    (record,) = (await _log(client, f"startDate={_today()}"))["items"]
    assert record["applicationId"] == DEFAULT_CLIENT_ID
