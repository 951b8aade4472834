"""The stand-in's address rules by market: the documents it serves, and a PUT checked by them.

`GET /v1/countryvalidationrules/{iso2}` answers a CountryValidationRules object (REST docs "Get
address formatting rules by market", learn.microsoft.com/partner-center/developer/
get-market-specific-validation-data; properties in "Country information resources",
learn.microsoft.com/partner-center/developer/country-information-resources, and in the SDK
model Microsoft.Store.PartnerCenter.Models.CountryValidationRules.CountryValidationRules:
iso2Code, defaultCulture, isStateRequired, supportedStatesList, supportedLanguagesList,
supportedCulturesList, isPostalCodeRequired, postalCodeRegex, isCityRequired, isVatIdSupported,
taxIdFormat, taxIdSample, vatIdRegex, phoneNumberRegex, isTaxIdSupported, isTaxIdOptional,
countryCallingCodesList). The docs' own example still shows an older shape (`states: {value:
[...]}`, `attributes.objectType` "CountryInformation"); the live service answers the SDK's
property names with `attributes.objectType` "CountryValidationRules" (captured below).

market_rules.json holds, by upper-case iso2, the answers the service gave in public captures,
exactly as answered; a country never captured is left out (the stand-in then answers 404 and
checks no rules for it):
- US, GB, DE, CN: microsoft/Partner-Center-PowerShell, the recorded answers of its tests
  (test/PowerShell.Tests/SessionRecords/GetCountryValidationRules-{US,GB,DE,CN}.json). The US
  states are those of the REST docs' example too.
- PT: the live service's answer of 2021-12-15 in the debug output quoted in
  microsoft/Partner-Center-PowerShell issue 383 (with its `attributes`).

The check (the service refuses a profile whose address breaks its market's rules; which rule
wins when several break is not documented: state, then postal code, then city):
- state: required when isStateRequired; when supportedStatesList is not empty, the state must
  be one of it, compared without regard to case (inferred: .NET lookups are usually
  case-insensitive; not documented).
- postal code: required when isPostalCodeRequired; it must match postalCodeRegex, searched as
  .NET's Regex.IsMatch does (the published patterns are anchored with ^...$).
- city: required when isCityRequired.
A flag that is absent or null is false (a .NET bool's default). A document that is not an
object, names another country, or has a flag that is not a boolean or a state list that is not
a list of strings cannot be read: the stand-in checks nothing for that country then.

A broken rule is refused as Partner Center does: 400, code 27002 "A property has invalid data.",
`data` ["property_name:  StateInvalid - Details", "details:  <why>\\n"] (the shape of a real
answer quoted in microsoft/PartnerCenterPowerShellModule issue 82; its details were empty, the
stand-in's say what it checked).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

from batch.simulator.rules import Refusal

DATA_FILE = "market_rules.json"


@functools.cache
def _data_text() -> str:
    return resources.files("batch.simulator").joinpath(DATA_FILE).read_text(encoding="utf-8")


def published_documents() -> dict[str, object]:
    """The captured CountryValidationRules answers by upper-case iso2: a fresh copy each call."""
    documents: dict[str, object] = json.loads(_data_text())
    return documents


@dataclass(frozen=True, slots=True)
class MarketRules:
    """The parts of one country's CountryValidationRules that a PUT's address is checked by.

    states: the supported states, case-folded (empty: any state). postal_code: the published
    pattern compiled, or None when none is published or Python cannot compile it.
    """

    iso2: str
    state_required: bool
    states: frozenset[str]
    postal_code_required: bool
    postal_code_regex: str | None
    postal_code: re.Pattern[str] | None
    city_required: bool


def _flag(document: Mapping[str, object], key: str) -> bool | None:
    value = document.get(key)
    if value is None:
        return False
    return value if isinstance(value, bool) else None


def read_rules(document: object, iso2: str) -> MarketRules | None:
    """The rules in a served document for `iso2`, or None when it cannot be read (see above)."""
    if not isinstance(document, Mapping):
        return None
    code = document.get("iso2Code")
    if not isinstance(code, str) or code.strip().upper() != iso2.strip().upper():
        return None
    state_required = _flag(document, "isStateRequired")
    postal_code_required = _flag(document, "isPostalCodeRequired")
    city_required = _flag(document, "isCityRequired")
    states = document.get("supportedStatesList") or []
    regex = document.get("postalCodeRegex") or None
    if (
        state_required is None
        or postal_code_required is None
        or city_required is None
        or not isinstance(states, list)
        or not all(isinstance(state, str) for state in states)
        or not isinstance(regex, str | None)
    ):
        return None
    try:
        pattern = None if regex is None else re.compile(regex)
    except re.error:
        pattern = None
    return MarketRules(
        iso2=iso2.strip().upper(),
        state_required=state_required,
        states=frozenset(state.strip().casefold() for state in states if state.strip()),
        postal_code_required=postal_code_required,
        postal_code_regex=regex,
        postal_code=pattern,
        city_required=city_required,
    )


def _text(address: Mapping[str, object], key: str) -> str:
    value = address.get(key)
    return value.strip() if isinstance(value, str) else ""


def _broken_rule(address: Mapping[str, object], rules: MarketRules) -> tuple[str, str] | None:
    """(property, why) of the first rule the address breaks, or None when it keeps them all."""
    state = _text(address, "state")
    if not state and rules.state_required:
        return "State", f"a state is required in {rules.iso2}"
    if state and rules.states and state.casefold() not in rules.states:
        return "State", f"{state!r} is not in the supported states list of {rules.iso2}"
    postal = _text(address, "postalCode")
    if not postal and rules.postal_code_required:
        return "PostalCode", f"a postal code is required in {rules.iso2}"
    if postal and rules.postal_code is not None and not rules.postal_code.search(postal):
        return "PostalCode", f"{postal!r} does not match {rules.postal_code_regex}"
    if not _text(address, "city") and rules.city_required:
        return "City", f"a city is required in {rules.iso2}"
    return None


def check_market_rules(address: Mapping[str, object], rules: MarketRules) -> None:
    """Raise Refusal 400/27002 naming the first property of `address` that breaks `rules`.

    address: a profile's defaultAddress as stored (camelCase keys, no nulls): an absent field
    is an empty one.
    """
    broken = _broken_rule(address, rules)
    if broken is not None:
        name, why = broken
        raise Refusal(
            400,
            27002,
            "A property has invalid data.",
            (f"property_name:  {name}Invalid - Details", f"details:  {why}\n"),
        )
