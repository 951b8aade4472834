"""The stand-in's harder answers over loopback: 409, a commit behind a 504, Retry-After on
faults, 403/20002 for one customer, and the SDKs' own request shape (etag in the body only)."""

from __future__ import annotations

import json

import aiohttp
import pytest

from batch.simulator import SimConfig

PROFILE = "/v1/customers/{}/profiles/billing"


async def _read_and_edit(client, customer: str, email: str) -> tuple[dict, str]:
    profile = (await client.get_profile(customer)).json
    profile["email"] = email
    return profile, profile["attributes"]["etag"]


async def test_a_put_meeting_409_gets_code_800064_and_nothing_is_applied(make_sim, sim_client):
    server = await make_sim(fail_409=1.0)
    client = sim_client(server)
    customer = server.store.ids()[0]
    profile, etag = await _read_and_edit(client, customer, "conflict@example.com")
    before = server.store.profile(customer)
    answer = await client.put_profile(customer, profile, etag)
    assert answer.status == 409
    assert answer.json["code"] == 800064
    assert "being processed by another request" in answer.json["description"]
    assert answer.json["source"] == "PartnerFD"
    assert "Retry-After" not in answer.headers  # only when retry_after_s is set
    assert server.store.profile(customer) == before
    assert (server.log[-1].fault, server.log[-1].committed) == ("409", False)
    assert (await client.get_profile(customer)).status == 200  # a GET never meets 409


async def test_commit_then_504_lands_the_put_and_answers_a_gateway_page(make_sim, sim_client):
    server = await make_sim(commit_then_504=1.0, retry_after_s=3)
    client = sim_client(server)
    customer = server.store.ids()[0]
    profile, etag = await _read_and_edit(client, customer, "landed@example.com")
    answer = await client.put_profile(customer, profile, etag)
    assert answer.status == 504
    assert answer.headers["Content-Type"].startswith("text/html")
    assert b"504 Gateway Timeout" in answer.raw
    assert "Retry-After" not in answer.headers  # the gateway timed out; no service asked
    assert server.store.profile(customer)["email"] == "landed@example.com"
    assert server.store.etag(customer) != etag
    assert (server.log[-1].fault, server.log[-1].committed) == ("commit_then_504", True)
    # The same PUT again meets a stale etag: the first one did land.
    server.config.commit_then_504 = 0.0
    assert (await client.put_profile(customer, profile, etag)).status == 412


async def test_a_refused_put_is_answered_normally_even_with_commit_then_504(make_sim, sim_client):
    server = await make_sim(commit_then_504=1.0)
    client = sim_client(server)
    customer = server.store.ids()[0]
    profile, _ = await _read_and_edit(client, customer, "x@example.com")
    assert (await client.put_profile(customer, profile, '"0"')).status == 412


@pytest.mark.parametrize(
    ("knob", "status"),
    [("fail_409", 409), ("fail_502", 502), ("fail_503", 503), ("fail_504", 504)],
)
async def test_retry_after_comes_with_the_fault_answers_when_set(
    make_sim, sim_client, knob, status
):
    server = await make_sim(retry_after_s=3, **{knob: 1.0})
    client = sim_client(server)
    customer = server.store.ids()[0]
    profile = server.store.profile(customer)
    answer = await client.put_profile(customer, profile, profile["attributes"]["etag"])
    assert answer.status == status
    assert answer.headers["Retry-After"] == "3"


async def test_a_500_carries_no_retry_after(make_sim, sim_client):
    server = await make_sim(retry_after_s=3, fail_500=1.0)
    answer = await sim_client(server).get_profile(server.store.ids()[0])
    assert answer.status == 500 and "Retry-After" not in answer.headers


async def test_one_customer_without_a_relationship_is_403_20002_and_the_others_are_served(
    make_sim, sim_client
):
    plain = SimConfig(customers=3, seed=1)
    server = await make_sim(plain)
    lost, kept = server.store.ids()[:2]
    server.config.no_relationship = lost
    client = sim_client(server)
    answer = await client.get_profile(lost)
    assert answer.status == 403
    assert answer.json == {
        "code": 20002,
        "description": f"The partner ID {server.config.tenant_id} has no commerce relationship"
        f" with the customer ID {lost}.",
        "data": [],
        "source": "PartnerFD",
    }
    assert server.log[-1].fault == "no_relationship"
    profile = server.store.profile(lost)
    assert (await client.put_profile(lost, profile, profile["attributes"]["etag"])).status == 403
    assert (await client.get_profile(kept)).status == 200


def test_no_relationship_must_be_a_customer_id():
    with pytest.raises(Exception, match="no_relationship must be a customer id"):
        SimConfig(no_relationship="Contoso").check()


def _sdk_body(profile: dict) -> dict:
    """The profile as the .NET SDK sends it: PascalCase, explicit nulls, the etag in Attributes."""
    address = profile["defaultAddress"]
    return {
        "Id": profile["id"],
        "FirstName": profile.get("firstName"),
        "LastName": profile.get("lastName"),
        "CompanyName": profile.get("companyName"),
        "Email": "sdk@example.com",
        "Culture": None,
        "Language": None,
        "DefaultAddress": {
            "Country": address["country"],
            "Region": None,
            "City": address["city"],
            "State": address.get("state"),
            "AddressLine1": address["addressLine1"],
            "AddressLine2": None,
            "PostalCode": address["postalCode"],
            "FirstName": None,
            "LastName": None,
            "PhoneNumber": address.get("phoneNumber"),
        },
        "Links": {"Self": {"Uri": "/customers/x/profiles/billing", "Method": "GET", "Headers": []}},
        "Attributes": {
            "Etag": profile["attributes"]["etag"],
            "ObjectType": "CustomerBillingProfile",
        },
    }


async def test_the_sdk_shape_is_accepted_when_if_match_is_not_required(make_sim, sim_client):
    server = await make_sim(require_if_match=False)
    client = sim_client(server)
    customer = server.store.ids()[0]
    profile = (await client.get_profile(customer)).json
    body = _sdk_body(profile)
    answer = await client.put_profile(customer, body, None)
    assert answer.status == 200, answer.json
    assert server.store.profile(customer)["email"] == "sdk@example.com"
    # The body's etag is checked: the same body again is stale now.
    assert (await client.put_profile(customer, body, None)).status == 412
    # A header wins over the body.
    fresh = (await client.get_profile(customer)).json
    stale_body = _sdk_body(fresh) | {"Attributes": {"Etag": "1"}}
    assert (
        await client.put_profile(customer, stale_body, fresh["attributes"]["etag"])
    ).status == 200


async def test_without_if_match_the_put_is_refused_when_it_is_required(sim, sim_client):
    client = sim_client(sim)
    customer = sim.store.ids()[0]
    body = _sdk_body((await client.get_profile(customer)).json)
    answer = await client.put_profile(customer, body, None)
    assert (answer.status, answer.json["code"]) == (400, 800002)


async def test_a_put_sent_with_expect_100_continue_is_applied(sim, sim_client):
    client = sim_client(sim)
    customer = sim.store.ids()[0]
    profile = (await client.get_profile(customer)).json
    body = _sdk_body(profile)
    async with (
        aiohttp.ClientSession() as session,
        session.put(
            sim.base_url + PROFILE.format(customer),
            data=json.dumps(body).encode(),
            headers={
                "Authorization": f"Bearer {sim.token}",
                "Content-Type": "application/json",
                "If-Match": f'"{profile["attributes"]["etag"]}"',
            },
            expect100=True,
        ) as response,
    ):
        assert response.status == 200, await response.text()
    assert sim.store.profile(customer)["email"] == "sdk@example.com"
