"""A country's address rules as Partner Center publishes them, and an address checked against them.

`GET /v1/countryvalidationrules/{iso2}` answers a CountryValidationRules object (REST docs
"Get address formatting rules by market" and "Country information resources"): whether a
state, a postal code and a city are required, the list of accepted states, and the postal code's
regular expression. The service refuses a billing profile that breaks them (400, code 27002
"A property has invalid data.", with e.g. "property_name:  StateInvalid - Details" in `data`),
so pcbatch checks them first and sends nothing for such a row.

    rules = parse_country_rules(answer_body, "US")      # None when the answer is unusable
    for problem in check_address(merged_address, rules):
        ...  # problem.field ("state" | "postal_code" | "city"), problem.value, problem.reason

The check, per field of the address (camelCase keys, as in the profile's `defaultAddress`):
- state: required when `isStateRequired`; when the list is not empty, the state must be in it,
  compared case-insensitively. Where the list has codes and the person wrote a name ("Washington"),
  the reason names the code to write ("WA").
- postal code: required when `isPostalCodeRequired`; when a regex is published, it must match
  (searched as .NET's Regex.IsMatch does; the published patterns are anchored). A number that
  matches once a 0 is put in front gets "a leading zero was probably lost".
- city: required when `isCityRequired`.
With partial=True (offline, a sheet row alone) a key that is absent is unknown and not checked;
a key present with None or "" is a field the row clears.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from batch.core.country_rules_data import PUBLISHED, STATE_NAMES

# The address fields the rules are about: input field name -> key in `defaultAddress`.
STATE, POSTAL_CODE, CITY = "state", "postal_code", "city"
ADDRESS_KEYS = {STATE: "state", POSTAL_CODE: "postalCode", CITY: "city"}
# States listed in a required-state message at most; longer lists are cut with "...".
_LISTED_STATES = 60
_PREFIXED = re.compile(r"[A-Za-z]{1,3}[- ]+(.+)")


@dataclass(frozen=True, slots=True)
class CountryRules:
    """The address rules of one country (the parts of CountryValidationRules pcbatch uses).

    states: the supported states as the service lists them (may be empty: any state).
    postal_code_regex: the published pattern's text; postal_code_pattern: it compiled, or None
    when none is published (or Python cannot compile it: then the service alone checks it).
    """

    iso2: str
    state_required: bool
    states: tuple[str, ...]
    postal_code_required: bool
    postal_code_regex: str | None
    postal_code_pattern: re.Pattern[str] | None
    city_required: bool
    phone_number_regex: str | None = None


@dataclass(frozen=True, slots=True)
class AddressProblem:
    """One way an address breaks its country's rules: field (input field name), value, reason."""

    field: str
    value: str
    reason: str


def _lower_keys(body: Mapping[object, object]) -> dict[str, object]:
    return {str(key).casefold(): value for key, value in body.items()}


def _flag(body: Mapping[str, object], key: str) -> bool | None:
    """A boolean property: absent or null is False; anything but a bool is None (unusable)."""
    value = body.get(key)
    if value is None:
        return False
    return value if isinstance(value, bool) else None


def _strings(value: object) -> tuple[str, ...] | None:
    """A list of strings (the docs' older `{"value": [...]}` shape too); None if it is not one."""
    if value is None:
        return ()
    if isinstance(value, Mapping):
        value = _lower_keys(value).get("value")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None
    return tuple(v.strip() for v in value if v.strip())


def parse_country_rules(body: object, iso2: str | None = None) -> CountryRules | None:
    """The rules in a CountryValidationRules answer; None when it cannot be used.

    Keys are matched case-insensitively (camelCase as answered, PascalCase as the SDKs name
    them). Unusable: not a JSON object, no 2-letter iso2Code (or another country than `iso2`),
    a flag that is not a boolean, a state list that is not a list of strings, or a regex that
    is not a string. A missing flag is False; a regex Python cannot compile is dropped.
    """
    if not isinstance(body, Mapping):
        return None
    doc = _lower_keys(body)
    code = doc.get("iso2code")
    if not isinstance(code, str) or not re.fullmatch(r"[A-Za-z]{2}", code.strip()):
        return None
    code = code.strip().upper()
    if iso2 is not None and code != iso2.strip().upper():
        return None
    state_required = _flag(doc, "isstaterequired")
    postal_required = _flag(doc, "ispostalcoderequired")
    city_required = _flag(doc, "iscityrequired")
    states = _strings(doc.get("supportedstateslist", doc.get("states")))
    regex = doc.get("postalcoderegex")
    phone = doc.get("phonenumberregex")
    if (
        state_required is None
        or postal_required is None
        or city_required is None
        or states is None
        or not isinstance(regex, str | None)
        or not isinstance(phone, str | None)
    ):
        return None
    regex = regex or None
    pattern: re.Pattern[str] | None = None
    if regex is not None:
        try:
            pattern = re.compile(regex)
        except re.error:
            pattern = None
    return CountryRules(
        code,
        state_required,
        states,
        postal_required,
        regex,
        pattern,
        city_required,
        phone or None,
    )


@dataclass(frozen=True, slots=True)
class RulesAnswer:
    """What the rules endpoint answered a run for one country: its rules, or why there are none.

    document: the answer's body when it held rules (the journal keeps it, so --resume reads
    them again without a call). final: False for a failure worth asking again (no answer,
    a server error, retries spent); a 404 or an unreadable answer is final.
    """

    iso2: str
    rules: CountryRules | None
    why_not: str | None = None
    final: bool = True
    document: Mapping[str, object] | None = None


def rules_answer(iso2: str, status: int, body: Mapping[str, object], message: str) -> RulesAnswer:
    """The rules in an answer of `GET /v1/countryvalidationrules/{iso2}`, or why there are none
    (then the service alone checks that country's addresses)."""
    iso2 = iso2.strip().upper()
    if status == 200:
        rules = parse_country_rules(body, iso2)
        if rules is not None:
            return RulesAnswer(iso2, rules, document=body)
        return RulesAnswer(iso2, None, "Partner Center's answer could not be read as country rules")
    if status == 404:
        return RulesAnswer(iso2, None, "Partner Center publishes no rules for it (404)")
    what = f"HTTP {status}" if status else "no answer"
    why = f"the rules could not be fetched ({what}: {message})" if message else what
    return RulesAnswer(iso2, None, why, final=False)


def kept_answer(
    iso2: str, document: Mapping[str, object] | None, why_not: str | None, final: bool = True
) -> RulesAnswer:
    """A rules answer as the journal or the job's state kept it (its document, or why none)."""
    rules = None if document is None else parse_country_rules(document, iso2)
    if document is not None and rules is None:
        why_not = "Partner Center's answer could not be read as country rules"
    return RulesAnswer(iso2, rules, why_not, final, document)


_SHIPPED: dict[str, CountryRules] = {}
for _iso2, _document in PUBLISHED.items():
    _rules = parse_country_rules(_document, _iso2)
    assert _rules is not None, _iso2  # the shipped documents are parseable (tested too)
    _SHIPPED[_iso2] = _rules


def shipped_rules(iso2: str) -> CountryRules | None:
    """The published rules pcbatch ships for a country, or None when it ships none."""
    return _SHIPPED.get(iso2.strip().upper())


def shipped_countries() -> tuple[str, ...]:
    """The countries whose rules pcbatch ships, sorted."""
    return tuple(sorted(_SHIPPED))


def check_address(
    address: Mapping[str, object], rules: CountryRules, *, partial: bool = False
) -> list[AddressProblem]:
    """Every way `address` (camelCase keys) breaks `rules`, in the order state, postal code, city.

    partial: absent keys are unknown and not checked (a sheet row checked offline); otherwise
    an absent key is an empty field (a merged profile, which the service sends without nulls).
    """
    problems: list[AddressProblem] = []
    for field, check in ((STATE, _state), (POSTAL_CODE, _postal_code), (CITY, _city)):
        key = ADDRESS_KEYS[field]
        if partial and key not in address:
            continue
        raw = address.get(key)
        value = raw.strip() if isinstance(raw, str) else ""
        reason = check(value, rules)
        if reason is not None:
            problems.append(AddressProblem(field, value, reason))
    return problems


def _state(value: str, rules: CountryRules) -> str | None:
    states = rules.states
    if not value:
        if not rules.state_required:
            return None
        if not states:
            return f"required in {rules.iso2}"
        return f"required in {rules.iso2}; write one of {_listed(states)}"
    if not states or value.casefold() in {s.casefold() for s in states}:
        return None
    code = STATE_NAMES.get(rules.iso2, {}).get(value.casefold())
    if code is not None and code.casefold() in {s.casefold() for s in states}:
        return f"{rules.iso2} takes the state's code: write {code} for {value}"
    return f"not a state of {rules.iso2}; write one of {_listed(states)}"


def _listed(states: tuple[str, ...]) -> str:
    shown = ", ".join(states[:_LISTED_STATES])
    return shown + (", ..." if len(states) > _LISTED_STATES else "")


def _postal_code(value: str, rules: CountryRules) -> str | None:
    if not value:
        return f"required in {rules.iso2}" if rules.postal_code_required else None
    pattern = rules.postal_code_pattern
    if pattern is None or pattern.search(value):
        return None
    reason = (
        f"not a postal code of {rules.iso2} (the service's pattern is {rules.postal_code_regex})"
    )
    if value.isascii() and value.isdigit() and pattern.search("0" + value):
        return (
            f"{reason}; a leading zero was probably lost: write 0{value}, and format the column"
            " as text so that it stays"
        )
    prefixed = _PREFIXED.fullmatch(value)
    if prefixed is not None and pattern.search(prefixed.group(1)):
        return f"{reason}; write it without the prefix: {prefixed.group(1)}"
    if value != value.upper() and pattern.search(value.upper()):
        return f"{reason}; write it in capitals: {value.upper()}"
    return reason


def _city(value: str, rules: CountryRules) -> str | None:
    if not value and rules.city_required:
        return f"required in {rules.iso2}"
    return None
