"""plan.make_plan: the row's fields onto the resource as received, nothing else touched."""

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batch.core.country_rules import RulesAnswer, shipped_rules
from batch.core.fields import UPDATABLE
from batch.core.model import Change, Row, Status
from batch.core.plan import (
    NO_ETAG,
    Next,
    address_refusal,
    current_value,
    make_plan,
    step_after_get,
)

CID = "0b6c1f4e-6f5a-4d0e-9a57-2f1c8e3d4b5a"


def profile() -> dict:
    return {
        "id": "profile-1",
        "firstName": "Ada",
        "lastName": "Lovelace",
        "email": "ada@example.com",
        "culture": "en-US",
        "companyName": "Analytical Engines",
        "defaultAddress": {
            "country": "US",
            "city": "Redmond",
            "state": "WA",
            "addressLine1": "1 Microsoft Way",
            "postalCode": "98052",
            "district": "King",  # a field our model does not know
        },
        "links": {"self": {"uri": "/customers/x/profiles/billing", "method": "GET"}},
        "attributes": {"etag": "-4242348048554929329", "objectType": "CustomerBillingProfile"},
    }


def row(**values) -> Row:
    return Row(number=2, customer_id=CID, values=values, raw={})


def test_a_new_city_changes_only_the_city():
    current = profile()
    plan = make_plan(current, row(city="Bellevue"))
    assert plan.changes == (Change("city", "Redmond", "Bellevue"),)
    expected = profile()
    expected["defaultAddress"]["city"] = "Bellevue"
    assert plan.resource == expected


def test_the_current_resource_is_not_modified():
    current = profile()
    before = copy.deepcopy(current)
    make_plan(current, row(city="Bellevue", email="new@example.com", address_line2=None))
    assert current == before


def test_unknown_fields_links_and_the_etag_survive():
    plan = make_plan(profile(), row(address_line1="2 Main St"))
    assert plan.resource["defaultAddress"]["district"] == "King"
    assert plan.resource["links"] == profile()["links"]
    assert plan.resource["attributes"]["etag"] == "-4242348048554929329"
    assert plan.resource["culture"] == "en-US"


def test_the_same_values_make_no_change_and_no_put():
    plan = make_plan(profile(), row(city="Redmond", postal_code="98052", email="ada@example.com"))
    assert plan.changes == ()


def test_a_change_of_case_is_a_change():
    plan = make_plan(profile(), row(city="REDMOND"))
    assert plan.changes == (Change("city", "Redmond", "REDMOND"),)


@pytest.mark.parametrize(
    ("current_line2", "present"),
    [(None, True), ("Suite 5", True), (None, False)],
)
def test_clearing_a_field_sends_null_and_is_no_change_when_already_empty(current_line2, present):
    current = profile()
    if present:
        current["defaultAddress"]["addressLine2"] = current_line2
    plan = make_plan(current, row(address_line2=None))
    if current_line2 is None:
        assert plan.changes == ()
    else:
        assert plan.changes == (Change("address_line2", "Suite 5", None),)
        assert plan.resource["defaultAddress"]["addressLine2"] is None


def test_a_value_for_a_field_the_service_left_out_is_added():
    plan = make_plan(profile(), row(phone_number="4255550100", region="Americas"))
    assert plan.changes == (
        Change("region", None, "Americas"),
        Change("phone_number", None, "4255550100"),
    )
    assert plan.resource["defaultAddress"]["phoneNumber"] == "4255550100"


def test_a_profile_without_an_address_gets_one():
    current = {"email": "a@example.com", "attributes": {"etag": "1"}}
    plan = make_plan(current, row(city="Oslo", country="NO"))
    assert plan.resource["defaultAddress"] == {"city": "Oslo", "country": "NO"}


def test_changes_come_in_the_documented_field_order():
    plan = make_plan(profile(), row(email="e@x.io", city="Kirkland", first_name="Grace"))
    assert [c.field for c in plan.changes] == ["city", "first_name", "email"]


def test_address_changes_are_told_apart_from_contact_changes():
    assert make_plan(profile(), row(city="Kirkland")).address_changes
    assert not make_plan(profile(), row(email="e@x.io")).address_changes


def test_a_number_the_service_sends_equals_the_same_digits_in_the_sheet():
    current = profile()
    current["defaultAddress"]["postalCode"] = 98052
    assert current_value(current, ("defaultAddress", "postalCode")) == "98052"
    assert make_plan(current, row(postal_code="98052")).changes == ()


# --- properties ---------------------------------------------------------------------------------

# A small alphabet (case pairs, digits, accents, spaces) finds the same bugs as all of Unicode
# and spares the first run hypothesis' Unicode table build.
letters = st.text(alphabet="aAbB19 éÉ-", max_size=6)
texts = st.one_of(st.none(), letters)
field_names = [f.name for f in UPDATABLE]
rows = st.dictionaries(st.sampled_from(field_names), texts, max_size=len(field_names))
json_leaf = st.one_of(st.none(), letters, st.integers())
addresses = st.dictionaries(
    st.sampled_from(["city", "state", "postalCode", "addressLine2", "district", "phoneNumber"]),
    json_leaf,
    max_size=6,
)
resources = st.fixed_dictionaries(
    {"attributes": st.just({"etag": "7", "objectType": "CustomerBillingProfile"})},
    optional={
        "email": json_leaf,
        "companyName": json_leaf,
        "unknownThing": json_leaf,
        "defaultAddress": addresses,
    },
)


@given(resources, rows)
def test_applying_a_plan_twice_changes_nothing_the_second_time(resource, values):
    first = make_plan(resource, row(**values))
    assert make_plan(first.resource, row(**values)).changes == ()


@given(resources, rows)
def test_fields_the_row_does_not_name_are_untouched(resource, values):
    plan = make_plan(resource, row(**values))
    for field in UPDATABLE:
        if field.name not in values:
            assert current_value(plan.resource, field.path) == current_value(resource, field.path)
    assert plan.resource["attributes"] == resource["attributes"]
    for key in ("unknownThing",):
        assert plan.resource.get(key) == resource.get(key)
    for key, value in resource.get("defaultAddress", {}).items():
        if key == "district":
            assert plan.resource["defaultAddress"]["district"] == value


@given(resources, rows)
def test_the_row_values_are_what_the_new_resource_holds(resource, values):
    plan = make_plan(resource, row(**values))
    for field in UPDATABLE:
        if field.name in values:
            assert current_value(plan.resource, field.path) == values[field.name]
    changed = {c.field for c in plan.changes}
    for field in UPDATABLE:
        if field.name in values:
            differs = current_value(resource, field.path) != values[field.name]
            assert (field.name in changed) == differs


ETAG = "-4242348048554929329"
LANDED = (Change("city", "Redmond", "Bellevue"),)
MOVED = {"address_line1": "2 Main St", "city": "Bellevue"}  # an address change
HELD = {"city": "Redmond"}  # what the profile already holds


def step(values, *, etag=ETAG, landed=None, dry_run=False, validate=False, verified=None):
    return step_after_get(
        profile(),
        etag,
        row(**values),
        landed=landed,
        dry_run=dry_run,
        validate_addresses=validate,
        verified=verified,
    )


@pytest.mark.parametrize(
    ("values", "flags", "expected", "status"),
    [
        (MOVED, {"etag": None}, Next.FAIL, Status.FAILED),  # no If-Match to send
        (HELD, {}, Next.UNCHANGED, Status.UNCHANGED),
        (HELD, {"landed": LANDED}, Next.LANDED, Status.UPDATED),  # a lost PUT had landed
        (MOVED, {"validate": True}, Next.VALIDATE, None),
        (MOVED, {"validate": True, "dry_run": True}, Next.VALIDATE, None),  # checked in dry runs
        ({"email": "x@example.com"}, {"validate": True}, Next.PUT, None),  # not an address
        (MOVED, {"dry_run": True}, Next.WOULD_UPDATE, Status.WOULD_UPDATE),
        (MOVED, {}, Next.PUT, None),
        (MOVED, {"landed": LANDED}, Next.PUT, None),  # the row still differs: PUT again
    ],
)
def test_what_follows_a_get(values, flags, expected, status):
    found = step(values, **flags)
    assert found.next is expected
    assert found.status is status


def test_an_address_the_service_verified_is_not_checked_again():
    first = step(MOVED, validate=True)
    assert step(MOVED, validate=True, verified=first.address).next is Next.PUT
    assert step(MOVED, validate=True, dry_run=True, verified=first.address).next is (
        Next.WOULD_UPDATE
    )


def test_each_step_reports_the_changes_of_its_outcome():
    assert step(HELD).changes == ()
    assert step(HELD, landed=LANDED).changes == LANDED  # undo.csv can put them back
    assert step(MOVED, dry_run=True).changes == make_plan(profile(), row(**MOVED)).changes
    failed = step(MOVED, etag=None)
    assert (failed.message, failed.plan) == (NO_ETAG, None)


def test_the_put_step_carries_the_planned_resource_and_the_address_to_check():
    put = step(MOVED)
    assert put.plan == make_plan(profile(), row(**MOVED))
    assert put.address["addressLine1"] == "2 Main St"


@pytest.mark.parametrize("verdict", ["VerifiedShippable", "Verified"])
def test_a_verified_address_lets_the_update_go_on(verdict):
    assert address_refusal({"status": verdict}) is None


def test_an_address_not_verified_is_refused_with_its_message_and_suggestions():
    verdict = {
        "status": "StreetPartial",
        "validationMessage": "Street number missing",
        "suggestedAddresses": [
            {"addressLine1": "1 Main St", "city": "Boston", "postalCode": "02134", "country": "US"},
            {"addressLine1": "", "city": ""},  # nothing to show: left out
        ],
    }
    assert address_refusal(verdict) == (
        "address not verified (StreetPartial); Street number missing; "
        "suggested: 1 Main St, Boston, 02134, US"
    )
    assert address_refusal({}) == "address not verified (None)"


def _step(the_row: Row, rules: dict, **flags):
    options = {"landed": None, "dry_run": False, "validate_addresses": False, "verified": None}
    return step_after_get(profile(), "1", the_row, country_rules=rules, **{**options, **flags})


US = RulesAnswer("US", shipped_rules("US"))


def test_a_change_in_a_country_without_rules_yet_asks_for_them_first():
    step = _step(row(city="Bellevue"), {})
    assert (step.next, step.country) == (Next.RULES, "US")


def test_a_merged_address_breaking_the_rules_is_invalid_naming_the_sheets_column():
    step = _step(row(state="Washington"), {"US": US}, columns={"state": "Province/State"})
    assert step.next is Next.INVALID and step.status is Status.INVALID
    assert step.message == "Province/State: US takes the state's code: write WA for Washington"
    assert step.changes == ()  # nothing is sent, nothing reported as changed


def test_a_field_the_sheet_has_no_column_for_is_named_as_the_profiles():
    current = profile()
    del current["defaultAddress"]["state"]  # the profile lacks the state the US requires
    step = step_after_get(
        current, "1", row(city="Bellevue"), landed=None, dry_run=True,
        validate_addresses=False, verified=None, country_rules={"US": US},
    )  # fmt: skip
    assert step.next is Next.INVALID
    assert step.message.startswith("state (the profile's; no column in the sheet): required in US")


@pytest.mark.parametrize(
    "answer", [RulesAnswer("US", None, "HTTP 404"), RulesAnswer("US", None, "no answer", False)]
)
def test_a_country_without_usable_rules_is_left_to_the_service(answer):
    assert _step(row(state="ZZ"), {"US": answer}).next is Next.PUT


def test_no_rules_are_asked_for_when_nothing_changes_or_none_are_checked():
    assert _step(row(city="Redmond"), {}).next is Next.UNCHANGED
    assert _step(row(city="Bellevue"), None).next is Next.PUT
