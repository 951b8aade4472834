"""The billing profiles the stand-in serves, with their etags.

A profile is kept in its stored form: camelCase, no nulls, without `links` and `attributes`
(those are generated when it is served). The served JSON is cached per customer and rebuilt only
when the profile changes, so a GET costs a dict lookup. Etags are signed 64-bit integers written
as strings (as in the docs' examples), drawn from a seeded random source, new on every change.
Customer ids are canonical lower-case GUIDs (config.is_customer_id).
"""

from __future__ import annotations

import copy
import json
import random
import uuid
from collections.abc import Callable, Mapping

from batch.simulator import rules
from batch.simulator.market_rules import MarketRules, check_market_rules

OBJECT_TYPE = "CustomerBillingProfile"
_TOP_ORDER = {name: i for i, name in enumerate((*rules.TOP_FIELDS, rules.ADDRESS))}
_ADDRESS_ORDER = {name: i for i, name in enumerate(rules.ADDRESS_FIELDS)}


def dumps(value: object) -> bytes:
    """Compact UTF-8 JSON, as the service writes it (without the BOM, added when sent)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _ordered(profile: Mapping[str, object]) -> dict[str, object]:
    """Known fields in the docs' order, then unknown ones in the order they came."""
    top = dict(sorted(profile.items(), key=lambda kv: _TOP_ORDER.get(kv[0], len(_TOP_ORDER))))
    address = top.get(rules.ADDRESS)
    if isinstance(address, Mapping):
        top[rules.ADDRESS] = dict(
            sorted(address.items(), key=lambda kv: _ADDRESS_ORDER.get(kv[0], len(_ADDRESS_ORDER)))
        )
    return top


class Store:
    """Billing profiles by customer id; the only place that changes them or their etags."""

    __slots__ = ("_etags", "_profiles", "_rng", "_served")

    def __init__(self, seed: int = 0) -> None:
        self._profiles: dict[str, dict[str, object]] = {}
        self._etags: dict[str, str] = {}
        self._served: dict[str, bytes] = {}
        self._rng = random.Random(f"pcbatch-sim/{seed}/etags")

    def __len__(self) -> int:
        return len(self._profiles)

    def __contains__(self, customer_id: object) -> bool:
        return customer_id in self._profiles

    def ids(self) -> list[str]:
        """Every customer id, in the order they were added."""
        return list(self._profiles)

    def add(
        self, customer_id: str, profile: Mapping[str, object], *, canonical: bool = False
    ) -> None:
        """Load one customer (e.g. from a customers file); keys in any case, no validation.

        A profile without `id` gets one derived from the customer id, so exports round-trip.
        canonical=True trusts the profile to be in stored form already, with an id (generated
        customers: reading 100,000 of them again would double the start-up time); it is kept.
        """
        if canonical:
            self._commit(customer_id, dict(profile))
            return
        stored = rules.read_profile(profile)
        stored.setdefault("id", str(uuid.uuid5(uuid.NAMESPACE_URL, f"pcbatch-sim:{customer_id}")))
        self._commit(customer_id, _ordered(stored))

    def etag(self, customer_id: str) -> str:
        """The current etag of a customer's profile (KeyError if unknown)."""
        return self._etags[customer_id]

    def served(self, customer_id: str) -> bytes:
        """The profile as a GET serves it: JSON with links and attributes, without the BOM."""
        body = self._served.get(customer_id)
        if body is None:
            resource = dict(self._profiles[customer_id])
            resource["links"] = {
                "self": {
                    "uri": f"/customers/{customer_id}/profiles/billing",
                    "method": "GET",
                    "headers": [],
                }
            }
            resource["attributes"] = {"etag": self._etags[customer_id], "objectType": OBJECT_TYPE}
            body = self._served[customer_id] = dumps(resource)
        return body

    def stored(self, customer_id: str) -> Mapping[str, object]:
        """The profile in stored form (no links/attributes); not a copy: read it only."""
        return self._profiles[customer_id]

    def profile(self, customer_id: str) -> dict[str, object]:
        """The profile as served (camelCase, no nulls, with links and attributes); a copy."""
        result: dict[str, object] = json.loads(self.served(customer_id))
        return result

    def export(self) -> dict[str, dict[str, object]]:
        """{customer_id: profile} in the customers-file format (no links/attributes); copies."""
        return {cid: copy.deepcopy(p) for cid, p in self._profiles.items()}

    def replace(
        self,
        customer_id: str,
        body: object,
        country_rules: Callable[[str], MarketRules | None] | None = None,
    ) -> bytes:
        """Apply a PUT body (any key case) after the service's checks; the new served JSON.

        Raises rules.Refusal when the service would refuse it; nothing changes then. The etag
        check is the caller's (it depends on the configured answer). country_rules: the rules
        of a country, to check the address against (None: no country rules are checked).
        """
        current = self._profiles[customer_id]
        new = rules.read_profile(body)
        address = new.get(rules.ADDRESS)
        country = address.get("country") if isinstance(address, Mapping) else None
        found = None
        if country_rules is not None and isinstance(country, str):
            found = country_rules(country.upper())
        # A country with published rules has its postal code checked by them (27002), not by
        # the stand-in's own patterns (3000).
        rules.check_update(new, current, postal_code_patterns=found is None)
        new.setdefault("id", current.get("id"))
        assert isinstance(address, dict)  # check_update refused anything else
        address["country"] = str(address["country"]).upper()
        if found is not None:
            check_market_rules(address, found)
        self._commit(customer_id, _ordered(new))
        return self.served(customer_id)

    def put_direct(self, customer_id: str, changes: Mapping[str, object]) -> str:
        """Another writer's edit, bypassing validation; returns the new etag.

        changes: a partial profile, keys in any case; a nested defaultAddress is merged field by
        field; None removes a field. Raises KeyError for an unknown customer.
        """
        profile = copy.deepcopy(self._profiles[customer_id])
        for key, value in changes.items():
            name = rules.TOP_BY_LOWER.get(key.lower(), key)
            if name == rules.ADDRESS and isinstance(value, Mapping):
                address = profile.setdefault(rules.ADDRESS, {})
                assert isinstance(address, dict)
                for sub_key, sub_value in value.items():
                    sub_name = rules.ADDRESS_BY_LOWER.get(sub_key.lower(), sub_key)
                    if sub_value is None:
                        address.pop(sub_name, None)
                    else:
                        address[sub_name] = sub_value
            elif value is None:
                profile.pop(name, None)
            else:
                profile[name] = copy.deepcopy(value)
        self._commit(customer_id, _ordered(profile))
        return self._etags[customer_id]

    def _commit(self, customer_id: str, profile: dict[str, object]) -> None:
        previous = self._etags.get(customer_id)
        etag = previous
        while etag == previous:  # new on every change, even in the 1 in 2**64 case
            etag = str(self._rng.getrandbits(64) - 2**63)
        assert etag is not None
        self._profiles[customer_id] = profile
        self._etags[customer_id] = etag
        self._served.pop(customer_id, None)
