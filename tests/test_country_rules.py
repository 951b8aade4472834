"""Country rules: the published answers parsed, odd answers refused, addresses checked."""

import pytest

from batch.core.country_rules import (
    AddressProblem,
    check_address,
    parse_country_rules,
    shipped_countries,
    shipped_rules,
)
from batch.core.country_rules_data import PUBLISHED

US = shipped_rules("US")
GOOD_US = {
    "addressLine1": "1 Microsoft Way",
    "city": "Redmond",
    "state": "WA",
    "postalCode": "98052",
}


def test_every_published_answer_is_shipped_and_parses_to_its_own_country():
    assert shipped_countries() == ("CN", "DE", "GB", "PT", "US")
    for iso2, document in PUBLISHED.items():
        rules = parse_country_rules(document, iso2)
        assert rules is not None and rules.iso2 == iso2
        assert rules.postal_code_pattern is not None  # every published regex compiles


def test_the_us_answer_reads_as_published():
    assert US is not None
    assert US.state_required and US.postal_code_required and US.city_required
    assert len(US.states) == 51 and "WA" in US.states and "DC" in US.states
    assert US.postal_code_regex == r"^\d{5}(-\d{4})?$"


def test_pascal_case_keys_and_the_docs_older_states_shape_are_read():
    rules = parse_country_rules(
        {
            "Iso2Code": "us",
            "IsStateRequired": True,
            "States": {"value": ["WA", "OR"]},
            "IsPostalCodeRequired": False,
        }
    )
    assert rules is not None
    assert (rules.iso2, rules.states, rules.postal_code_required) == ("US", ("WA", "OR"), False)
    assert rules.city_required is False  # absent: not required


@pytest.mark.parametrize(
    "body",
    [
        None,
        "<html>504</html>",
        [],
        {},
        {"iso2Code": "USA"},
        {"iso2Code": "US", "isStateRequired": "yes"},
        {"iso2Code": "US", "supportedStatesList": "WA,OR"},
        {"iso2Code": "US", "supportedStatesList": ["WA", 7]},
        {"iso2Code": "US", "postalCodeRegex": 5},
        {"iso2Code": "DE"},  # asked for US, answered for DE
    ],
)
def test_an_odd_answer_is_unusable_never_an_error(body):
    assert parse_country_rules(body, "US") is None


def test_a_regex_python_cannot_compile_is_dropped_and_the_rest_kept():
    rules = parse_country_rules(
        {"iso2Code": "ZZ", "isPostalCodeRequired": True, "postalCodeRegex": "^(?<x>[0-9]{4}$"}
    )
    assert rules is not None and rules.postal_code_pattern is None
    assert check_address({"postalCode": "anything"}, rules) == []
    assert [p.reason for p in check_address({}, rules)] == ["required in ZZ"]


def test_a_good_address_has_no_problem_and_states_are_compared_case_insensitively():
    assert check_address(GOOD_US, US) == []
    assert check_address({**GOOD_US, "state": "wa", "postalCode": "98052-6399"}, US) == []


@pytest.mark.parametrize(
    ("country", "address", "expected"),
    [
        ("US", {**GOOD_US, "state": ""}, [("state", "required in US; write one of AK, AL,")]),
        ("US", {**GOOD_US, "state": "ZZ"}, [("state", "not a state of US; write one of AK,")]),
        (
            "US",
            {**GOOD_US, "state": "Washington"},
            [("state", "US takes the state's code: write WA for Washington")],
        ),
        (
            "US",
            {**GOOD_US, "state": "new york"},
            [("state", "US takes the state's code: write NY for new york")],
        ),
        (
            "US",
            {**GOOD_US, "postalCode": "2134"},
            [("postal_code", "not a postal code of US")],
        ),
        ("US", {**GOOD_US, "city": " "}, [("city", "required in US")]),
        ("GB", {"city": "London", "postalCode": "12345"}, [("postal_code", "not a postal code")]),
        ("GB", {"city": "London", "postalCode": "sw1a 1aa"}, []),
        ("DE", {"city": "Berlin", "postalCode": "D-10115"}, [("postal_code", "not a postal")]),
        ("DE", {"city": "Dresden", "postalCode": "1067"}, [("postal_code", "not a postal code")]),
        ("DE", {"city": "Berlin", "postalCode": "10115", "state": "Berlin"}, []),
        ("CN", {"city": "Beijing", "postalCode": "100000"}, [("state", "required in CN")]),
        (
            "CN",
            {"city": "Beijing", "postalCode": "100000", "state": "Beijing"},
            [("state", "CN takes the state's code: write BJ for Beijing")],
        ),
        ("CN", {"city": "Beijing", "postalCode": "100000", "state": "bj"}, []),
        ("PT", {"city": "Lisboa", "postalCode": "1000-001"}, []),
        ("PT", {"city": "", "postalCode": ""}, [("postal_code", "required"), ("city", "required")]),
    ],
)
def test_each_rule_names_the_field_and_says_what_to_write(country, address, expected):
    problems = check_address(address, shipped_rules(country))
    assert [p.field for p in problems] == [field for field, _ in expected]
    for problem, (_, start) in zip(problems, expected, strict=True):
        assert problem.reason.startswith(start), problem.reason


@pytest.mark.parametrize(
    ("country", "postal", "hint"),
    [
        ("US", "2134", "a leading zero was probably lost: write 02134"),
        ("DE", "1067", "a leading zero was probably lost: write 01067"),
        ("DE", "D-10115", "write it without the prefix: 10115"),
        ("PT", "PT 1000-001", "write it without the prefix: 1000-001"),
    ],
)
def test_a_likely_slip_in_a_postal_code_gets_its_fix(country, postal, hint):
    (problem,) = check_address(
        {"city": "x", "state": "WA", "postalCode": postal}, shipped_rules(country)
    )
    assert problem.field == "postal_code" and problem.value == postal
    assert hint in problem.reason


def test_a_number_two_digits_short_is_not_called_a_lost_zero():
    (problem,) = check_address({**GOOD_US, "postalCode": "213"}, US)
    assert "leading zero" not in problem.reason


def test_a_name_is_only_suggested_when_the_list_holds_its_code():
    rules = parse_country_rules(
        {"iso2Code": "US", "isStateRequired": True, "supportedStatesList": ["OR"]}
    )
    (problem,) = check_address({"state": "Washington"}, rules, partial=True)
    assert problem.reason == "not a state of US; write one of OR"


def test_partial_checks_only_what_the_row_sets_and_a_cleared_field_counts_as_empty():
    assert check_address({"postalCode": "98052"}, US, partial=True) == []
    assert check_address({"state": None}, US, partial=True) == [
        AddressProblem("state", "", "required in US; write one of " + ", ".join(US.states))
    ]
    # Not partial: a merged profile without a state lacks one.
    assert [p.field for p in check_address({"postalCode": "98052", "city": "R"}, US)] == ["state"]


def test_a_country_without_a_state_list_accepts_any_state():
    assert (
        check_address({"city": "Berlin", "postalCode": "10115", "state": "BE"}, shipped_rules("DE"))
        == []
    )
