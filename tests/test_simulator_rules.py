"""The stand-in's pure parts: body reading, validation, address checks, buckets, faults, seeding."""

from __future__ import annotations

import copy
import math
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batch.simulator import SimConfig
from batch.simulator.addresses import validate_address
from batch.simulator.buckets import Buckets, TokenBucket, retry_after
from batch.simulator.faults import Faults, latency_ms, throttled_once
from batch.simulator.rules import Refusal, check_update, read_profile
from batch.simulator.seed import generate
from batch.simulator.store import Store

US = {
    "id": "p-1",
    "email": "a@example.com",
    "defaultAddress": {
        "country": "US",
        "city": "Redmond",
        "state": "WA",
        "addressLine1": "1 Microsoft Way",
        "postalCode": "98052",
    },
}


def _with_address(**changes: object) -> dict:
    profile = copy.deepcopy(US)
    for key, value in changes.items():
        if value is None:
            profile["defaultAddress"].pop(key, None)
        else:
            profile["defaultAddress"][key] = value
    return profile


def test_pascal_case_body_with_nulls_reads_as_camel_case_without_them():
    body = {
        "Id": "p-1",
        "FirstName": "Ana",
        "Email": None,
        "DefaultAddress": {"AddressLine1": "1 Main St", "Region": None, "POSTALCODE": "98052"},
        "Attributes": {"Etag": "1", "ObjectType": "CustomerBillingProfile"},
        "Links": {"Self": {"Uri": "/x"}},
    }
    assert read_profile(body) == {
        "id": "p-1",
        "firstName": "Ana",
        "defaultAddress": {"addressLine1": "1 Main St", "postalCode": "98052"},
    }


def test_unknown_fields_are_kept_with_their_values():
    profile = read_profile({"Vatid": "X1", "defaultAddress": {"District": "Mitte", "x": [1]}})
    assert profile == {"vatid": "X1", "defaultAddress": {"district": "Mitte", "x": [1]}}


def test_a_number_where_text_belongs_is_refused():
    with pytest.raises(Refusal) as refused:
        read_profile({"defaultAddress": {"phoneNumber": 4255551234}})
    assert (refused.value.status, refused.value.code) == (400, 800002)
    assert "defaultAddress.phoneNumber" in refused.value.description


@pytest.mark.parametrize(
    ("new", "code", "words"),
    [
        ({**US, "id": "p-2"}, 3000, "id cannot change"),
        (_with_address(country="CA"), 3000, "country cannot change"),
        (_with_address(addressLine1=None), 3000, "addressLine1 is required"),
        (_with_address(city=None, postalCode=None), 3000, "postalCode is required"),
        ({"id": "p-1"}, 3000, "defaultAddress is required"),
        (_with_address(addressLine1="x" * 201), 3000, "at most 200"),
        (_with_address(addressLine2="x" * 201), 3000, "at most 200"),
        (_with_address(firstName="x" * 51), 3000, "at most 50"),
        ({**US, "lastName": "x" * 51}, 3000, "at most 50"),
        (_with_address(postalCode="9805"), 3000, "not a valid postal code in US"),
        (_with_address(postalCode="98052-63"), 3000, "not a valid postal code in US"),
    ],
)
def test_updates_the_service_refuses(new, code, words):
    with pytest.raises(Refusal) as refused:
        check_update(new, US)
    assert refused.value.status == 400
    assert refused.value.code == code
    assert words in refused.value.description


@pytest.mark.parametrize(
    ("country", "postal_code"),
    [
        ("US", "98052"),
        ("US", "98052-6399"),
        ("CA", "K1A 0B1"),
        ("CA", "k1a0b1"),
        ("GB", "SW1A 1AA"),
        ("GB", "M1 1AE"),
        ("DE", "10115"),
        ("NL", "1012 AB"),
        ("FR", "75008"),
        ("BR", "01310-100"),
        ("JP", "100-0005"),
        ("XX", "anything at all"),
    ],
)
def test_valid_postal_codes_are_accepted(country, postal_code):
    old = _with_address(country=country, phoneNumber="+1 1")
    check_update(_with_address(country=country, postalCode=postal_code, phoneNumber="+1 1"), old)


@pytest.mark.parametrize(
    ("country", "postal_code"),
    [("CA", "123456"), ("GB", "12345"), ("DE", "1011"), ("NL", "0123 AB"), ("FR", "7500")],
)
def test_postal_codes_that_do_not_fit_the_country_are_refused(country, postal_code):
    old = _with_address(country=country)
    with pytest.raises(Refusal) as refused:
        check_update(_with_address(country=country, postalCode=postal_code), old)
    assert refused.value.code == 3000


@pytest.mark.parametrize(
    ("country", "postal_code"),
    [("AM", "0010"), ("AZ", "AZ1000"), ("BY", "220030"), ("HU", "1051"), ("KZ", "050000"),
     ("RU", "101000"), ("UA", "01001"), ("IN", "560001"), ("BR", "01310-100"), ("PL", "00-950")],
)  # fmt: skip
def test_a_phone_is_required_where_the_docs_say_so(country, postal_code):
    old = _with_address(country=country, postalCode=postal_code)
    with pytest.raises(Refusal) as refused:
        check_update(old, old)
    assert (refused.value.status, refused.value.code) == (400, 600051)
    check_update(_with_address(country=country, postalCode=postal_code, phoneNumber="+1 2"), old)


def test_country_may_be_sent_in_another_case():
    check_update(_with_address(country="us"), US)


@pytest.mark.parametrize(
    ("address", "status", "suggested_postal_code", "message"),
    [
        (
            {"addressLine1": "1 Main St", "city": "Boston", "state": "MA", "postalCode": "02134"},
            "VerifiedShippable",
            "02134",
            None,
        ),
        (
            {"addressLine1": "PO Box 12", "city": "Boston", "state": "ma", "postalCode": "02134"},
            "Verified",
            "02134",
            None,
        ),
        (
            {"addressLine1": "1 Main St", "city": "Boston", "state": "MA", "postalCode": "2134"},
            "StreetPartial",
            "02134",
            "Address field invalid for property: 'PostalCode'",
        ),
        (
            {"addressLine1": "1 Main St", "city": "Boston", "state": "MA", "postalCode": "ABC"},
            "None",
            None,
            "Address field invalid for property: 'PostalCode'",
        ),
        (
            {
                "addressLine1": "UNKNOWN road",
                "city": "Boston",
                "state": "MA",
                "postalCode": "02134",
            },
            "None",
            None,
            "Address field invalid for property: 'AddressLine1'",
        ),
        (
            {"addressLine1": "1 Main St", "state": "ZZ", "postalCode": "02134"},
            "None",
            None,
            "Address field invalid for property: 'City', 'State'",
        ),
    ],
)
def test_address_validation_follows_the_documented_rule(
    address, status, suggested_postal_code, message
):
    answer = validate_address({**{k.upper(): v for k, v in address.items()}, "Country": "us"})
    assert answer["status"] == status
    assert answer["originalAddress"] == {**address, "country": "us"}
    suggestions = answer["suggestedAddresses"]
    if suggested_postal_code is None:
        assert suggestions == []
    else:
        assert [s["postalCode"] for s in suggestions] == [suggested_postal_code]
        assert suggestions[0]["country"] == "US"
    assert answer.get("validationMessage") == message


def test_address_suggestions_tidy_postal_codes():
    answer = validate_address(
        {"addressLine1": "1 A St", "city": "Ottawa", "state": "on", "postalCode": "k1a0b1",
         "country": "CA"}
    )  # fmt: skip
    assert answer["status"] == "VerifiedShippable"
    assert answer["suggestedAddresses"][0]["postalCode"] == "K1A 0B1"
    assert answer["suggestedAddresses"][0]["state"] == "ON"


def test_a_bucket_lets_a_burst_through_then_one_request_per_interval():
    buckets = Buckets()
    limits = ((2.0, 3), (None, 1))
    assert [buckets.take(0.0, "p", "c", *limits) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take(0.0, "p", "c", *limits) == pytest.approx(0.5)
    assert buckets.take(0.5, "p", "c", *limits) == 0.0
    assert buckets.take(0.5, "p", "c", *limits) == pytest.approx(0.5)


def test_a_customer_bucket_throttles_one_customer_but_not_the_others():
    buckets = Buckets()
    limits = ((None, 1), (1.0, 1))
    assert buckets.take(0.0, "p", "a", *limits) == 0.0
    assert buckets.take(0.0, "p", "a", *limits) == pytest.approx(1.0)
    assert buckets.take(0.0, "p", "b", *limits) == 0.0


def test_a_throttled_request_spends_no_token_of_the_other_bucket():
    buckets = Buckets()
    limits = ((1.0, 2), (1.0, 1))
    assert buckets.take(0.0, "p", "a", *limits) == 0.0
    assert buckets.take(0.0, "p", "a", *limits) > 0.0  # customer a is empty, partner still has 1
    assert buckets.take(0.0, "p", "b", *limits) == 0.0  # ... which b gets


def test_a_bucket_never_holds_more_than_its_burst():
    bucket = TokenBucket(2, now=0.0)
    assert bucket.wait(1000.0, rate=1.0, burst=2) == 0.0
    assert bucket.tokens == 2.0


@pytest.mark.parametrize(("wait", "seconds"), [(0.01, 1), (1.0, 1), (1.2, 2), (56.5, 57)])
def test_retry_after_is_whole_seconds_rounded_up_and_at_least_one(wait, seconds):
    assert retry_after(wait) == seconds


def test_the_same_seed_gives_the_same_fault_sequence():
    config = SimConfig(fail_500=0.2, fail_503=0.2, drop_before=0.1, hang=0.1, jitter_ms=50)
    first = [Faults(7).decide(config) for _ in range(1)]
    a, b, c = Faults(7), Faults(7), Faults(8)
    run_a = [a.decide(config) for _ in range(200)]
    assert run_a == [b.decide(config) for _ in range(200)]
    assert run_a != [c.decide(config) for _ in range(200)]
    assert run_a[0] == first[0]
    kinds = {d.before for d in run_a}
    assert {"500", "503", "drop_before", "hang", None} <= kinds


def test_changing_probabilities_does_not_shift_the_random_sequence():
    quiet, noisy = SimConfig(), SimConfig(fail_500=1.0)
    a, b = Faults(3), Faults(3)
    for _ in range(5):
        a.decide(quiet)
        b.decide(noisy)
    assert a.decide(SimConfig(jitter_ms=10)) == b.decide(SimConfig(jitter_ms=10))


def test_latency_is_the_fixed_part_plus_at_most_the_jitter():
    faults = Faults(2)
    config = SimConfig(latency_ms=100, jitter_ms=50)
    delays = [faults.decide(config).delay_s for _ in range(500)]
    assert all(0.1 <= d <= 0.15 for d in delays)
    assert min(delays) < 0.105
    assert max(delays) > 0.145


def test_a_lognormal_latency_has_the_median_and_spread_asked_for():
    faults = Faults(4)
    config = SimConfig(latency_ms=400, latency_sigma=0.6)
    delays = [faults.decide(config).delay_s for _ in range(4000)]
    logs = [math.log(d) for d in delays]
    assert statistics.median(delays) == pytest.approx(0.4, rel=0.05)
    assert statistics.stdev(logs) == pytest.approx(0.6, rel=0.05)
    assert max(delays) > 1.5  # a tail into seconds, as a real service has
    assert min(delays) > 0.0


def test_puts_wait_the_put_factor_times_as_long_as_gets():
    config = SimConfig(latency_ms=400, latency_sigma=0.6, put_latency_factor=2.0)
    faults = Faults(6)
    puts = [faults.decide(config, "PUT").delay_s for _ in range(4000)]
    assert statistics.median(puts) == pytest.approx(0.8, rel=0.05)
    for z in (-1.0, 0.0, 2.5):
        assert latency_ms(config, "PUT", z) == pytest.approx(2 * latency_ms(config, "GET", z))


def test_without_a_spread_the_latency_is_fixed_whatever_the_draw():
    config = SimConfig(latency_ms=30, put_latency_factor=3.0)
    assert {latency_ms(config, "GET", z) for z in (-3.0, 0.0, 3.0)} == {30.0}
    assert latency_ms(config, "PUT", 1.0) == 90.0


def test_a_latency_setting_does_not_shift_the_fault_sequence():
    noisy = SimConfig(fail_500=0.3, drop_before=0.2)
    slow = SimConfig(fail_500=0.3, drop_before=0.2, latency_ms=400, latency_sigma=0.6)
    a, b = Faults(9), Faults(9)
    assert [a.decide(noisy).before for _ in range(200)] == [
        b.decide(slow, "PUT").before for _ in range(200)
    ]


def test_429_once_picks_the_share_of_customers_asked_for_by_seed_and_id_only():
    ids = [f"{i:08x}-0000-4000-8000-000000000000" for i in range(20_000)]
    picked = [c for c in ids if throttled_once(1, c, 0.01)]
    assert 160 < len(picked) < 240
    assert picked == [c for c in reversed(ids) if throttled_once(1, c, 0.01)][::-1]
    assert picked != [c for c in ids if throttled_once(2, c, 0.01)]
    assert not any(throttled_once(1, c, 0.0) for c in ids)
    assert all(throttled_once(1, c, 1.0) for c in ids[:100])


def test_fault_probabilities_are_honoured_roughly():
    faults = Faults(1)
    config = SimConfig(fail_502=0.5)
    hits = sum(faults.decide(config).before == "502" for _ in range(2000))
    assert 800 < hits < 1200


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32))
def test_generated_customers_pass_the_services_own_checks(seed):
    for profile in generate(30, seed).values():
        check_update(profile, profile)
        assert validate_address(profile["defaultAddress"])["status"] in (
            "VerifiedShippable",
            "Verified",
        )


def test_generation_is_repeatable_and_varied():
    first, again, other = generate(200, 5), generate(200, 5), generate(200, 6)
    assert first == again
    assert first != other
    assert len({p["defaultAddress"]["country"] for p in first.values()}) >= 15
    assert len(first) == 200


def test_etags_are_signed_64_bit_integers_new_on_every_change():
    store = Store(seed=1)
    store.add("c", US)
    seen = {store.etag("c")}
    for n in range(50):
        store.put_direct("c", {"email": f"{n}@example.com"})
        etag = store.etag("c")
        assert -(2**63) <= int(etag) < 2**63
        assert etag not in seen
        seen.add(etag)
    assert any(int(e) < 0 for e in seen)


def test_another_writer_merges_address_fields_and_none_removes_them():
    store = Store()
    store.add("c", US)
    store.put_direct(
        "c", {"Email": None, "defaultAddress": {"AddressLine2": "Floor 2", "state": None}}
    )
    profile = store.profile("c")
    assert "email" not in profile
    assert profile["defaultAddress"]["addressLine2"] == "Floor 2"
    assert "state" not in profile["defaultAddress"]
    assert profile["defaultAddress"]["city"] == "Redmond"
