"""The stand-in decides on its own: with the client's address rule broken, it still refuses.

pcbatch checks each row's merged address against its country's rules and sends nothing for a
row that breaks them. Were the stand-in to share that check, a bug in it would pass every test.
Here the client's check is broken in-process (it finds no problem in any address), a real run
goes over loopback, and the stand-in's own rules (batch/simulator/market_rules.py) refuse the
PUT: the test that expects "invalid, nothing sent" fails, and no profile changes.
"""

import csv
import re
import sys

import pytest
from support import read_results, run_fast

import batch.core.country_rules as client_rules
from batch.core.country_rules_data import PUBLISHED as CLIENT_SHIPPED
from batch.simulator.market_rules import published_documents, read_rules

HEADERS = ["Customer ID", "Street", "City", "State", "ZIP", "Country"]

# (country, a valid address there as (city, postal code, state), the row's breaking change,
#  the property the service names)
BROKEN_ROWS = [
    ("US", ("Bellevue", "98004", "WA"), {"State": "ZZ"}, "StateInvalid"),
    ("DE", ("Berlin", "10115", None), {"ZIP": "1067"}, "PostalCodeInvalid"),
    ("CN", ("Beijing", "100000", "BJ"), {"State": "Springfield"}, "StateInvalid"),
]


@pytest.fixture
def client_rule_broken(monkeypatch):
    """The client's address check finds nothing wrong, wherever pcbatch bound it by name."""
    original = client_rules.check_address

    def finds_nothing(address, rules, *, partial=False):
        return []

    patched = []
    for name, module in list(sys.modules.items()):
        if name.startswith("batch.") and getattr(module, "check_address", None) is original:
            monkeypatch.setattr(module, "check_address", finds_nothing)
            patched.append(name)
    assert "batch.core.country_rules" in patched
    assert not any(name.startswith("batch.simulator") for name in patched)


async def _run_rows_breaking_their_rules(make_sim, tmp_path):
    """A run of one row per BROKEN_ROWS, each customer first given a valid address there."""
    sim = await make_sim(customers=len(BROKEN_ROWS), seed=3)
    ids = sim.store.ids()
    lines = []
    for cid, (country, (city, postal, state), change, _) in zip(ids, BROKEN_ROWS, strict=True):
        sim.store.put_direct(
            cid,
            {
                "defaultAddress": {
                    "country": country,
                    "city": city,
                    "postalCode": postal,
                    "state": state,
                    "addressLine1": "1 Old Road",
                }
            },
        )
        row = {"Customer ID": cid, "Street": "2 New Road", "City": city, "ZIP": postal}
        lines.append({**row, "State": state or "", "Country": country, **change})
    sheet = tmp_path / "in.csv"
    with sheet.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, HEADERS)
        writer.writeheader()
        writer.writerows(lines)
    before = {cid: sim.store.profile(cid) for cid in ids}
    out = tmp_path / "out"
    result = await run_fast(sim, sheet, out)
    return sim, ids, before, out, result


def _puts(sim):
    return [entry for entry in sim.log if entry.method == "PUT"]


def assert_the_client_caught_every_row(sim, out):
    """What the loopback tests of the client's rules expect: invalid, nothing sent."""
    assert [line["status"] for line in read_results(out)] == ["invalid"] * len(BROKEN_ROWS)
    assert _puts(sim) == []


async def test_with_the_client_rule_intact_the_rows_end_invalid_and_nothing_is_sent(
    make_sim, tmp_path
):
    sim, _, _, out, result = await _run_rows_breaking_their_rules(make_sim, tmp_path)
    assert result.exit_code == 1
    assert_the_client_caught_every_row(sim, out)


async def test_a_broken_client_rule_makes_the_loopback_test_fail_and_the_stand_in_refuses(
    client_rule_broken, make_sim, tmp_path
):
    sim, ids, before, out, result = await _run_rows_breaking_their_rules(make_sim, tmp_path)

    # The test that held above fails now: the rows went to the service.
    with pytest.raises(AssertionError):
        assert_the_client_caught_every_row(sim, out)
    assert {entry.customer_id for entry in _puts(sim)} == set(ids)

    # The stand-in held the line with its own rules: each PUT refused, no profile changed.
    assert result.exit_code == 1
    report = read_results(out)
    for line, (country, _, _, property_name) in zip(report, BROKEN_ROWS, strict=True):
        assert (line["status"], line["http_status"], line["error_code"]) == (
            "rejected",
            "400",
            "27002",
        ), (country, line)
        assert line["message"].startswith("HTTP 400 code 27002: A property has invalid data.")
        assert property_name in line["message"], (country, line["message"])
    assert not any(entry.committed for entry in _puts(sim))
    assert {cid: sim.store.profile(cid) for cid in ids} == before


# The CountryValidationRules properties (REST docs "Country information resources"; the SDK's
# Microsoft.Store.PartnerCenter.Models.CountryValidationRules.CountryValidationRules), camelCase
# as the service answers them, plus the attributes every resource has.
DOCUMENTED_PROPERTIES = {
    "iso2Code",
    "defaultCulture",
    "isStateRequired",
    "supportedStatesList",
    "supportedLanguagesList",
    "supportedCulturesList",
    "isPostalCodeRequired",
    "postalCodeRegex",
    "isCityRequired",
    "isVatIdSupported",
    "taxIdFormat",
    "taxIdSample",
    "vatIdRegex",
    "phoneNumberRegex",
    "isTaxIdSupported",
    "isTaxIdOptional",
    "countryCallingCodesList",
    "attributes",
}
FLAGS = ("isStateRequired", "isPostalCodeRequired", "isCityRequired", "isVatIdSupported")
LISTS = ("supportedStatesList", "supportedLanguagesList", "supportedCulturesList")

# Postal codes from the same sources' requests and from the countries' own formats.
POSTAL_CODES = {
    "US": (["98052", "98052-6399"], ["9805", "980521"]),
    "DE": (["10115"], ["1067", "D-10115"]),
    "CN": (["100000"], ["10000"]),
    "PT": (["1200-168", "1200"], ["1200168", "120-168"]),
}


@pytest.mark.parametrize("iso2", sorted(POSTAL_CODES))
async def test_the_rules_answer_of_a_country_has_the_documented_shape(make_sim, sim_client, iso2):
    sim = await make_sim(customers=0)
    answer = await sim_client(sim).request("GET", f"/v1/countryvalidationrules/{iso2.lower()}")
    assert answer.status == 200
    body = answer.json
    assert set(body) <= DOCUMENTED_PROPERTIES, set(body) - DOCUMENTED_PROPERTIES
    assert body["iso2Code"] == iso2
    assert body["attributes"] == {"objectType": "CountryValidationRules"}
    assert all(isinstance(body[flag], bool) for flag in FLAGS)
    assert all(isinstance(body[key], list) for key in LISTS)
    assert all(isinstance(item, str) for key in LISTS for item in body[key])
    # "If a state/province is required, returns the full list for that country/region."
    assert bool(body["supportedStatesList"]) == body["isStateRequired"]
    pattern = re.compile(body["postalCodeRegex"])
    good, bad = POSTAL_CODES[iso2]
    assert [code for code in good if not pattern.search(code)] == []
    assert [code for code in bad if pattern.search(code)] == []


def test_the_clients_shipped_rules_agree_with_the_answers_the_stand_in_serves():
    # Both come from the same public captures, each transcribed on its own: a slip in either
    # copy shows here (the stand-in's is the one the service's answers were checked against).
    assert published_documents() == CLIENT_SHIPPED


@pytest.mark.parametrize(
    "document",
    [
        "odd",
        ["not", "an", "object"],
        {"iso2Code": "GB", "isStateRequired": True},  # another country's answer
        {"iso2Code": "US", "isStateRequired": "yes"},
        {"iso2Code": "US", "supportedStatesList": "WA"},
        {"iso2Code": "US", "supportedStatesList": [1, 2]},
        {"iso2Code": "US", "postalCodeRegex": 5},
    ],
)
def test_a_rules_document_the_stand_in_cannot_read_checks_nothing(document):
    assert read_rules(document, "US") is None


def test_absent_flags_are_false_and_states_compare_without_case():
    rules = read_rules({"iso2Code": "us", "supportedStatesList": ["WA", " OR "]}, "US")
    assert rules is not None
    assert (rules.state_required, rules.postal_code_required, rules.city_required) == (
        False,
        False,
        False,
    )
    assert rules.states == {"wa", "or"}
