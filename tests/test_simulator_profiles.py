"""Billing profiles over loopback: shape, headers, etags, validation, errors, authentication."""

from __future__ import annotations

import asyncio
import copy
import json
import re

import pytest

from batch.simulator.tokens import TokenIssuer

BOM = b"\xef\xbb\xbf"
ERROR_KEYS = {"code", "description", "data", "source"}


class Clock:
    """A clock for the stand-in's token issuer that moves only when a test moves it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _no_nulls(value: object) -> bool:
    if isinstance(value, dict):
        return all(v is not None and _no_nulls(v) for v in value.values())
    if isinstance(value, list):
        return all(_no_nulls(v) for v in value)
    return True


def _error(answer, status: int, code: int) -> dict:
    body = answer.json
    assert answer.status == status, body
    assert set(body) == ERROR_KEYS
    assert body["code"] == code
    assert body["data"] == []
    assert body["source"] == "PartnerFD"
    assert isinstance(body["description"], str)
    assert body["description"]
    return body


async def test_a_profile_is_served_camel_case_without_nulls_with_etag_and_links(sim, sim_client):
    customer = sim.store.ids()[0]
    answer = await sim_client(sim).get_profile(customer)
    assert answer.status == 200
    profile = answer.json
    assert {"id", "email", "companyName", "defaultAddress", "links", "attributes"} <= set(profile)
    assert {"country", "city", "addressLine1", "postalCode"} <= set(profile["defaultAddress"])
    assert _no_nulls(profile)
    assert profile["links"]["self"]["uri"] == f"/customers/{customer}/profiles/billing"
    assert profile["attributes"]["objectType"] == "CustomerBillingProfile"
    assert re.fullmatch(r"-?\d+", profile["attributes"]["etag"])
    assert -(2**63) <= int(profile["attributes"]["etag"]) < 2**63
    assert profile == sim.store.profile(customer)


async def test_every_json_body_starts_with_a_bom_that_plain_utf8_json_rejects(sim, sim_client):
    answer = await sim_client(sim).get_profile(sim.store.ids()[0])
    assert answer.raw.startswith(BOM)
    assert answer.headers["Content-Type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        json.loads(answer.raw.decode("utf-8"))
    missing = await sim_client(sim).get_profile("00000000-0000-4000-8000-000000000000")
    assert missing.raw.startswith(BOM)


async def test_the_bom_can_be_turned_off(make_sim, sim_client):
    server = await make_sim(bom=False)
    answer = await sim_client(server).get_profile(server.store.ids()[0])
    assert answer.raw.startswith(b"{")


async def test_request_and_correlation_ids_are_echoed_or_made_up(sim, sim_client):
    client = sim_client(sim)
    customer = sim.store.ids()[0]
    ids = {"MS-RequestId": "5c8a8a4e-0000-4000-8000-000000000001", "MS-CorrelationId": "c-1"}
    answer = await client.get_profile(customer, headers=ids)
    assert answer.headers["MS-RequestId"] == ids["MS-RequestId"]
    assert answer.headers["MS-CorrelationId"] == "c-1"
    unauthenticated = await client.get_profile(customer, headers=ids, token=None)
    assert unauthenticated.headers["MS-RequestId"] == ids["MS-RequestId"]
    bare = await client.get_profile(customer)
    assert re.fullmatch(r"[0-9a-f-]{36}", bare.headers["MS-RequestId"])


async def test_a_put_replaces_the_profile_and_answers_it_with_a_new_etag(sim, sim_client):
    client = sim_client(sim)
    customer = sim.store.ids()[0]
    profile = (await client.get_profile(customer)).json
    etag = profile["attributes"]["etag"]
    profile["defaultAddress"]["city"] = "Springfield"
    answer = await client.put_profile(customer, profile, f'"{etag}"')
    assert answer.status == 200
    assert answer.raw.startswith(BOM)
    assert answer.json["defaultAddress"]["city"] == "Springfield"
    assert answer.json["attributes"]["etag"] != etag
    assert answer.json == sim.store.profile(customer)


async def test_if_match_may_be_sent_without_quotes(sim, sim_client):
    client = sim_client(sim)
    customer = sim.store.ids()[1]
    profile = (await client.get_profile(customer)).json
    profile["email"] = "billing@example.com"
    answer = await client.put_profile(customer, profile, profile["attributes"]["etag"])
    assert answer.status == 200
    assert sim.store.profile(customer)["email"] == "billing@example.com"


async def test_a_pascal_case_body_with_explicit_nulls_is_understood(sim, sim_client):
    client = sim_client(sim)
    customer = sim.store.ids()[2]
    current = (await client.get_profile(customer)).json
    address = current["defaultAddress"]
    body = {
        "Id": current["id"],
        "FirstName": "Ana",
        "LastName": None,
        "Email": "ana@example.com",
        "CompanyName": current["companyName"],
        "DefaultAddress": {
            "Country": address["country"],
            "Region": None,
            "City": address["city"],
            "State": address.get("state"),
            "AddressLine1": address["addressLine1"],
            "AddressLine2": None,
            "PostalCode": address["postalCode"],
            "PhoneNumber": address.get("phoneNumber"),
        },
        "Links": {"Self": {"Uri": "/customers/x/profiles/billing", "Method": "GET"}},
        "Attributes": {
            "Etag": current["attributes"]["etag"],
            "ObjectType": "CustomerBillingProfile",
        },
    }
    answer = await client.put_profile(customer, body, current["attributes"]["etag"])
    assert answer.status == 200, answer.json
    stored = sim.store.profile(customer)
    assert stored["firstName"] == "Ana"
    assert "lastName" not in stored
    assert "region" not in stored["defaultAddress"]
    assert _no_nulls(stored)
    assert stored["links"]["self"]["uri"] == f"/customers/{customer}/profiles/billing"


async def test_unknown_fields_sent_back_are_kept(sim, sim_client):
    client = sim_client(sim)
    customer = sim.store.ids()[3]
    profile = (await client.get_profile(customer)).json
    profile["vatNumber"] = "NL123"
    profile["defaultAddress"]["district"] = "Centrum"
    profile["defaultAddress"]["deliveryNotes"] = {"dock": 4}
    answer = await client.put_profile(customer, profile, profile["attributes"]["etag"])
    assert answer.status == 200
    again = (await client.get_profile(customer)).json
    assert again["vatNumber"] == "NL123"
    assert again["defaultAddress"]["district"] == "Centrum"
    assert again["defaultAddress"]["deliveryNotes"] == {"dock": 4}
    assert sim.store.export()[customer]["vatNumber"] == "NL123"


async def test_a_put_without_if_match_is_refused_and_not_applied(sim, sim_client):
    client = sim_client(sim)
    customer = sim.store.ids()[0]
    before = sim.store.profile(customer)
    changed = copy.deepcopy(before)
    changed["email"] = "x@example.com"
    body = _error(await client.put_profile(customer, changed, None), 400, 800002)
    assert "If-Match" in body["description"]
    _error(await client.put_profile(customer, changed, "*"), 400, 800002)
    assert sim.store.profile(customer) == before


@pytest.mark.parametrize(("mode", "status", "code"), [(412, 412, 412), (400, 400, 2055)])
async def test_a_stale_etag_is_refused_as_configured_and_never_applied(
    make_sim, sim_client, mode, status, code
):
    server = await make_sim(stale_etag_status=mode)
    client = sim_client(server)
    customer = server.store.ids()[0]
    profile = (await client.get_profile(customer)).json
    server.store.put_direct(customer, {"companyName": "Renamed by someone else"})
    after_other_writer = server.store.profile(customer)
    profile["email"] = "mine@example.com"
    body = _error(
        await client.put_profile(customer, profile, profile["attributes"]["etag"]), status, code
    )
    if mode == 400:
        assert body["description"] == "Etag is no longer valid"
    assert server.store.profile(customer) == after_other_writer
    assert not any(entry.committed for entry in server.log)


async def _held_put(sim, customer: str, etag: str, body: bytes):
    """A raw PUT whose headers are sent and handled up to the body; send the body with .write."""
    host, port = sim.base_url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    head = (
        f"PUT /v1/customers/{customer}/profiles/billing HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\nAuthorization: Bearer {sim.token}\r\n"
        f'If-Match: "{etag}"\r\nContent-Type: application/json\r\n'
        f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"
    )
    writer.write(head.encode())
    await writer.drain()
    # The server says "100 Continue" as its handler starts: the PUT is in flight, body awaited.
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 100")
    return reader, writer


async def _answer_of(reader, writer) -> tuple[int, dict]:
    raw = await reader.read()
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body.decode("utf-8-sig"))


@pytest.mark.parametrize(("mode", "status", "code"), [(412, 412, 412), (400, 400, 2055)])
async def test_of_two_puts_with_the_same_etag_only_one_commits_even_when_they_overlap(
    make_sim, sim_client, mode, status, code
):
    server = await make_sim(stale_etag_status=mode)
    client = sim_client(server)
    customer = server.store.ids()[0]
    profile = (await client.get_profile(customer)).json
    etag = profile["attributes"]["etag"]
    slow = dict(profile, email="slow@example.com")
    reader, writer = await _held_put(server, customer, etag, json.dumps(slow).encode())
    fast = dict(profile, email="fast@example.com")
    assert (await client.put_profile(customer, fast, etag)).status == 200
    writer.write(json.dumps(slow).encode())
    answer_status, body = await _answer_of(reader, writer)
    assert answer_status == status, body
    assert body["code"] == code
    assert server.store.profile(customer)["email"] == "fast@example.com"
    assert [entry.committed for entry in server.log if entry.method == "PUT"] == [True, False]


async def test_a_stale_etag_is_answered_even_when_the_body_is_not_json(sim, sim_client):
    client = sim_client(sim)
    customer = sim.store.ids()[0]
    profile = (await client.get_profile(customer)).json
    sim.store.put_direct(customer, {"companyName": "Renamed by someone else"})
    answer = await client.request(
        "PUT",
        f"/v1/customers/{customer}/profiles/billing",
        data=b"{not json",
        headers={"If-Match": profile["attributes"]["etag"], "Content-Type": "application/json"},
    )
    _error(answer, 412, 412)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda p: p.update(id="5d1a6b55-0000-4000-8000-000000000000"), 3000),
        (lambda p: p["defaultAddress"].update(country="ZZ"), 3000),
        (lambda p: p["defaultAddress"].pop("addressLine1"), 3000),
        (lambda p: p["defaultAddress"].update(city=""), 3000),
        (lambda p: p["defaultAddress"].update(addressLine2="x" * 201), 3000),
        (lambda p: p.update(firstName="x" * 51), 3000),
        (lambda p: p["defaultAddress"].update(postalCode="1234"), 3000),
        (lambda p: p["defaultAddress"].pop("phoneNumber"), 600051),
    ],
)
async def test_invalid_updates_are_refused_with_the_services_codes(
    make_sim, sim_client, change, code
):
    server = await make_sim(customers=0)
    customer = "7a1e3d0c-2b4f-4c6a-8e9d-0f1a2b3c4d5e"
    server.store.add(
        customer,
        {
            "email": "a@example.com",
            "defaultAddress": {
                "country": "US",
                "city": "Redmond",
                "state": "WA",
                "addressLine1": "1 Microsoft Way",
                "postalCode": "98052",
                "phoneNumber": "+1 425 555 0100",
            },
        },
    )
    server.store.put_direct(customer, {"defaultAddress": {"country": "RU", "postalCode": "101000"}})
    client = sim_client(server)
    profile = (await client.get_profile(customer)).json
    before = copy.deepcopy(profile)
    change(profile)
    _error(await client.put_profile(customer, profile, profile["attributes"]["etag"]), 400, code)
    assert server.store.profile(customer) == before


async def test_a_body_that_is_not_json_is_refused(sim, sim_client):
    customer = sim.store.ids()[0]
    etag = sim.store.etag(customer)
    answer = await sim_client(sim).request(
        "PUT",
        f"/v1/customers/{customer}/profiles/billing",
        data=b"{not json",
        headers={"If-Match": etag, "Content-Type": "application/json"},
    )
    _error(answer, 400, 800002)


async def test_a_body_with_a_bom_is_accepted(sim, sim_client):
    client = sim_client(sim)
    customer = sim.store.ids()[0]
    profile = (await client.get_profile(customer)).json
    answer = await client.request(
        "PUT",
        f"/v1/customers/{customer}/profiles/billing",
        data=BOM + json.dumps(profile).encode(),
        headers={"If-Match": profile["attributes"]["etag"], "Content-Type": "application/json"},
    )
    assert answer.status == 200


async def test_unknown_customers_are_404_and_ids_that_are_not_guids_400(sim, sim_client):
    client = sim_client(sim)
    _error(await client.get_profile("5d1a6b55-0000-4000-8000-000000000000"), 404, 60003)
    _error(await client.get_profile("not-a-guid"), 400, 900118)
    _error(await client.get_profile("'; DROP TABLE customers; --"), 400, 900118)


async def test_customer_ids_in_upper_case_find_the_customer(sim, sim_client):
    customer = sim.store.ids()[0]
    assert (await sim_client(sim).get_profile(customer.upper())).status == 200


async def test_any_other_path_is_404_in_the_standard_shape(sim, sim_client):
    client = sim_client(sim)
    _error(await client.request("GET", "/v1/invoices"), 404, 1000)
    _error(await client.request("GET", "/v2/anything"), 404, 1000)
    customer = sim.store.ids()[0]
    answer = await client.request("DELETE", f"/v1/customers/{customer}/profiles/billing")
    _error(answer, 405, 405)


@pytest.mark.parametrize("path", ["/v2/anything", "/v1/invoices", "/"])
async def test_an_unknown_path_echoes_the_request_and_correlation_ids(sim, sim_client, path):
    ids = {"MS-RequestId": "rq-unknown-path", "MS-CorrelationId": "cr-unknown-path"}
    answer = await sim_client(sim).request("GET", path, headers=ids)
    _error(answer, 404, 1000)
    assert {name: answer.headers.get(name) for name in ids} == ids
    assert answer.headers["Content-Type"].startswith("application/json")
    assert sim.log[-1].request_id == "rq-unknown-path"
    without = await sim_client(sim).request("GET", path, token=None)
    assert without.headers["MS-RequestId"] and without.headers["MS-CorrelationId"]


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer not-a-token-we-issued", "Basic dXNlcjpwYXNz", "Bearer "],
)
async def test_missing_or_unknown_tokens_are_401(sim, sim_client, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    answer = await sim_client(sim).get_profile(sim.store.ids()[0], token=None, headers=headers)
    body = _error(answer, 401, 800001 if authorization is None else 400)
    assert "WWW-Authenticate" in answer.headers
    assert "token" in body["description"].lower()


async def test_an_expired_token_is_401_and_a_fresh_one_works(sim, sim_client):
    sim.tokens = TokenIssuer(clock=(clock := Clock()))
    client = sim_client(sim)
    customer = sim.store.ids()[0]
    short = sim.issue_token(lifetime_s=60)
    assert (await client.get_profile(customer, token=short)).status == 200
    clock.now += 60  # its lifetime is over
    body = _error(await client.get_profile(customer, token=short), 401, 400)
    assert "expired" in body["description"]
    assert (await client.get_profile(customer, token=sim.issue_token())).status == 200


async def test_address_validation_answers_200_with_the_verdict_in_the_body(sim, sim_client):
    client = sim_client(sim)
    good = {"AddressLine1": "1 Microsoft Way", "City": "Redmond", "State": "WA",
            "PostalCode": "98052", "Country": "US"}  # fmt: skip
    answer = await client.request("POST", "/v1/validations/address", json_body=good)
    assert answer.status == 200
    assert answer.raw.startswith(BOM)
    assert answer.json["status"] == "VerifiedShippable"
    assert answer.json["originalAddress"]["postalCode"] == "98052"
    assert len(answer.json["suggestedAddresses"]) == 1
    bad = {**good, "AddressLine1": "Unknown street 1", "PostalCode": "9805"}
    refused = await client.request("POST", "/v1/validations/address", json_body=bad)
    assert refused.status == 200
    assert refused.json["status"] == "None"
    assert refused.json["suggestedAddresses"] == []
    assert "'AddressLine1'" in refused.json["validationMessage"]
    _error(await client.request("POST", "/v1/validations/address", json_body=[1]), 400, 800002)
