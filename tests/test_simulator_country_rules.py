"""The stand-in's country rules over loopback: the published answers, and PUTs refused by them."""

from __future__ import annotations

import json

import pytest

from batch.core.country_rules import parse_country_rules
from batch.simulator.market_rules import published_documents

PUBLISHED = published_documents()  # the stand-in's own captured answers

RULES = "/v1/countryvalidationrules/{}"
BOM = b"\xef\xbb\xbf"


# One customer per country with published rules, each with an address its country accepts.
CUSTOMERS = {
    "US": ("0f8fad5b-d9cb-469f-a165-70867728950e", "Redmond", "WA", "98052"),
    "DE": ("7c9e6679-7425-40de-944b-e07fc1f90ae7", "Berlin", None, "10115"),
    "GB": ("3f2504e0-4f89-41d3-9a0c-0305e82c3301", "London", None, "SW1A 1AA"),
    "CN": ("9b2f7a3e-1c4d-4e5f-8a6b-7c8d9e0f1a2b", "Beijing", "BJ", "100000"),
}


@pytest.fixture
async def sim(make_sim, tmp_path):
    """A stand-in holding the four customers of CUSTOMERS."""
    profiles = {}
    for country, (cid, city, state, postal) in CUSTOMERS.items():
        address = {"country": country, "addressLine1": "1 Main St", "city": city}
        address["postalCode"] = postal
        if state is not None:
            address["state"] = state
        profiles[cid] = {"companyName": f"{country} Ltd", "defaultAddress": address}
    path = tmp_path / "customers.json"
    path.write_text(json.dumps(profiles), encoding="utf-8")
    return await make_sim(customers=0, customers_file=path)


def _customer_in(sim, country: str) -> str:
    return CUSTOMERS[country][0]


async def _put_address(client, customer: str, **address: str | None):
    """GET the profile, change address fields (None removes one), PUT it back."""
    profile = (await client.get_profile(customer)).json
    for key, value in address.items():
        if value is None:
            profile["defaultAddress"].pop(key, None)
        else:
            profile["defaultAddress"][key] = value
    return await client.put_profile(customer, profile, profile["attributes"]["etag"])


@pytest.mark.parametrize("iso2", sorted(PUBLISHED))
async def test_the_published_rules_are_served_as_the_service_answers_them(sim, sim_client, iso2):
    answer = await sim_client(sim).request("GET", RULES.format(iso2.lower()))
    assert answer.status == 200
    assert answer.raw.startswith(BOM)
    assert answer.headers["Content-Type"].startswith("application/json")
    body = answer.json
    assert body["attributes"] == {"objectType": "CountryValidationRules"}
    assert {k: v for k, v in body.items() if k != "attributes"} == {
        k: v for k, v in PUBLISHED[iso2].items() if k != "attributes"
    }
    assert parse_country_rules(body, iso2) is not None


async def test_a_country_without_published_rules_is_404_in_the_error_shape(sim, sim_client):
    answer = await sim_client(sim).request("GET", RULES.format("FR"))
    assert answer.status == 404
    assert answer.json == {
        "code": 1000,
        "description": "No validation rules were found for the country/region FR",
        "data": [],
        "source": "PartnerFD",
    }


async def test_the_rules_route_needs_a_token_and_meets_faults_like_any_call(make_sim, sim_client):
    server = await make_sim(fail_503=1.0)
    client = sim_client(server)
    assert (await client.request("GET", RULES.format("US"), token=None)).status == 401
    assert (await client.request("GET", RULES.format("US"))).status == 503
    assert server.log[-1].path == "/v1/countryvalidationrules/US"
    assert (await client.request("POST", RULES.format("US"), json_body={})).status == 503
    server.config.fail_503 = 0.0
    assert (await client.request("POST", RULES.format("US"), json_body={})).status == 405


async def test_a_test_can_make_the_rules_answer_odd(sim, sim_client):
    client = sim_client(sim)
    sim.country_rules["US"] = b"<html>upstream error</html>"
    answer = await client.request("GET", RULES.format("US"))
    assert answer.raw.removeprefix(BOM) == b"<html>upstream error</html>"
    sim.country_rules["US"] = ["not", "an", "object"]
    assert (await client.request("GET", RULES.format("US"))).body == ["not", "an", "object"]
    del sim.country_rules["US"]
    assert (await client.request("GET", RULES.format("US"))).status == 404


@pytest.mark.parametrize(
    ("country", "address", "data"),
    [
        ("US", {"state": None}, "property_name:  StateInvalid - Details"),
        ("US", {"state": "ZZ"}, "property_name:  StateInvalid - Details"),
        ("US", {"state": "Washington"}, "property_name:  StateInvalid - Details"),
        ("DE", {"postalCode": "D-10115"}, "property_name:  PostalCodeInvalid - Details"),
        ("DE", {"postalCode": "1067"}, "property_name:  PostalCodeInvalid - Details"),
        ("GB", {"postalCode": "12345"}, "property_name:  PostalCodeInvalid - Details"),
    ],
)
async def test_a_put_breaking_the_country_rules_is_400_27002_naming_the_property(
    sim, sim_client, country, address, data
):
    client = sim_client(sim)
    customer = _customer_in(sim, country)
    before = sim.store.profile(customer)
    answer = await _put_address(client, customer, **address)
    assert answer.status == 400
    body = answer.json
    assert (body["code"], body["description"], body["source"]) == (
        27002,
        "A property has invalid data.",
        "PartnerFD",
    )
    assert body["data"][0] == data
    assert body["data"][1].startswith("details:  ")
    assert sim.store.profile(customer) == before
    assert not sim.log[-1].committed


async def test_the_details_name_the_refused_value_and_the_rule_it_breaks(sim, sim_client):
    # The service's own details were empty in the one captured answer; the stand-in's say what
    # it checked. Advice on what to write instead is the client's job, not the service's.
    customer = _customer_in(sim, "US")
    answer = await _put_address(sim_client(sim), customer, state="Washington")
    assert answer.json["data"][1] == (
        "details:  'Washington' is not in the supported states list of US\n"
    )
    answer = await _put_address(sim_client(sim), _customer_in(sim, "DE"), postalCode="1067")
    assert answer.json["data"][1] == "details:  '1067' does not match ^[0-9]{5,5}$\n"


async def test_a_lower_case_state_in_the_list_is_accepted(sim, sim_client):
    customer = _customer_in(sim, "US")
    answer = await _put_address(sim_client(sim), customer, state="wa")
    assert answer.status == 200, answer.json
    assert sim.store.profile(customer)["defaultAddress"]["state"] == "wa"


async def test_a_cn_address_needs_a_province_from_the_list(sim, sim_client):
    client = sim_client(sim)
    customer = _customer_in(sim, "CN")
    refused = await _put_address(client, customer, state=None)
    assert refused.status == 400
    assert refused.json["data"][0] == "property_name:  StateInvalid - Details"
    assert (await _put_address(client, customer, state="SH")).status == 200


async def test_with_country_rules_off_the_put_is_checked_by_the_older_rules_only(sim, sim_client):
    sim.config.country_rules = False
    client = sim_client(sim)
    customer = _customer_in(sim, "US")
    assert (await _put_address(client, customer, state="ZZ")).status == 200
    refused = await _put_address(client, customer, postalCode="2134")
    assert refused.status == 400 and refused.json["code"] == 3000


async def test_changed_rules_are_enforced_at_once(sim, sim_client):
    client = sim_client(sim)
    customer = _customer_in(sim, "US")
    state = sim.store.profile(customer)["defaultAddress"]["state"]
    sim.country_rules["US"] = {**PUBLISHED["US"], "supportedStatesList": ["OR"]}
    refused = await _put_address(client, customer, state=state)
    assert refused.status == 400 and refused.json["code"] == 27002
    sim.country_rules["US"] = "odd"  # an unusable answer: the country is not checked
    assert (await _put_address(client, customer, state="ZZ")).status == 200
