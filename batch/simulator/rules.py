"""What the service accepts: request bodies read case-insensitively, and profile validation.

Rules, from Microsoft's Partner Center documentation: "Update a customer's billing profile"
(learn.microsoft.com/partner-center/developer/update-a-customer-s-billing-profile: the PUT
example's PascalCase body with nulls), "Utility resources", Address
(learn.microsoft.com/partner-center/developer/utility-resources: lengths, the countries that
require a phone number) and "Partner Center REST and Graph error codes"
(learn.microsoft.com/partner-center/developer/error-codes: codes 3000, 800002, 600051):
- Request keys are matched case-insensitively (the docs' own PUT example is PascalCase with
  explicit nulls); null and "" mean "absent"; `links` and `attributes` are read-only and ignored.
  Unknown keys are kept, first letter lowered (as the service would serialise them).
- Every known field is a JSON string; anything else is refused (400, code 800002).
- A PUT may not change `id` or `defaultAddress.country` (400, code 3000).
- Required: defaultAddress with addressLine1, city, postalCode, country (400, code 3000).
- Lengths: addressLine1 1..200, addressLine2 <= 200, country exactly 2 letters, first/middle/last
  names <= 50, at the top level and in the address (400, code 3000).
- Postal codes must match the country's pattern where one is known (US 5 digits or ZIP+4, CA,
  GB, DE, NL, FR, and more below; 400, code 3000).
- A phone number is required in the countries the docs list (400, code 600051).
- The address must keep its country's published rules (market_rules.py: 400, code 27002).
Every problem of code 3000 is reported together, in one description.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

TOP_FIELDS = ("id", "firstName", "lastName", "email", "culture", "language", "companyName")
ADDRESS = "defaultAddress"
ADDRESS_FIELDS = (
    "id",
    "country",
    "region",
    "city",
    "state",
    "district",
    "addressLine1",
    "addressLine2",
    "addressLine3",
    "postalCode",
    "firstName",
    "middleName",
    "lastName",
    "emailAddress",
    "phoneNumber",
)
READ_ONLY = ("links", "attributes")
REQUIRED_ADDRESS = ("addressLine1", "city", "postalCode", "country")

# The documented spelling of each field, by its lower-case name (request keys are case-blind).
TOP_BY_LOWER = {name.lower(): name for name in (*TOP_FIELDS, ADDRESS, *READ_ONLY)}
ADDRESS_BY_LOWER = {name.lower(): name for name in ADDRESS_FIELDS}
_MAX_LEN = {
    "addressLine1": 200,
    "addressLine2": 200,
    "firstName": 50,
    "middleName": 50,
    "lastName": 50,
}

POSTAL_CODES: dict[str, re.Pattern[str]] = {
    country: re.compile(pattern, re.IGNORECASE)
    for country, pattern in {
        "US": r"\d{5}(-\d{4})?",
        "CA": r"[A-Z]\d[A-Z][ -]?\d[A-Z]\d",
        "GB": r"(GIR ?0AA|[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2})",
        "DE": r"\d{5}",
        "NL": r"[1-9]\d{3} ?[A-Z]{2}",
        "FR": r"\d{5}",
        "ES": r"\d{5}",
        "IT": r"\d{5}",
        "AU": r"\d{4}",
        "AT": r"\d{4}",
        "BE": r"\d{4}",
        "CH": r"\d{4}",
        "DK": r"\d{4}",
        "NO": r"\d{4}",
        "HU": r"\d{4}",
        "SE": r"\d{3} ?\d{2}",
        "PL": r"\d{2}-\d{3}",
        "JP": r"\d{3}-?\d{4}",
        "IN": r"\d{6}",
        "BR": r"\d{5}-?\d{3}",
        "UA": r"\d{5}",
        "RU": r"\d{6}",
        "KZ": r"\d{6}",
        "ZA": r"\d{4}",
        "MX": r"\d{5}",
        "IE": r"[A-Z\d]{3} ?[A-Z\d]{4}",
    }.items()
}

# "In customer profile, this property is mandatory" (utility-resources, Address.PhoneNumber).
# fmt: off
PHONE_REQUIRED = frozenset((
    "AM", "AZ", "BY", "HU", "KZ", "KG", "MD", "RU", "TJ", "UZ", "UA", "IN", "BR", "ZA", "PL",
    "AE", "SA", "TR", "TH", "VN", "MM", "IQ", "SS", "VE",
))
US_STATES = frozenset((
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN",
    "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH",
    "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT",
    "VT", "VA", "WA", "WV", "WI", "WY", "PR", "GU", "VI", "AS", "MP",
))
CA_PROVINCES = frozenset((
    "AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK", "YT",
))
# fmt: on


class Refusal(Exception):
    """The service refuses a request: HTTP status, Partner Center error code, description, data."""

    def __init__(
        self, status: int, code: int, description: str, data: tuple[str, ...] = ()
    ) -> None:
        super().__init__(description)
        self.status = status
        self.code = code
        self.description = description
        self.data = data


def _lower_first(key: str) -> str:
    return key[:1].lower() + key[1:]


def _text(value: object, where: str) -> str | None:
    """A known field's value: a string, or None for null/"" (absent)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Refusal(400, 800002, f"Invalid request input: {where} must be a JSON string.")
    return value


def read_address(body: object, where: str = ADDRESS) -> dict[str, object]:
    """An Address from a request: canonical camelCase keys, no nulls, unknown keys kept."""
    if not isinstance(body, Mapping):
        raise Refusal(400, 800002, f"Invalid request input: {where} must be a JSON object.")
    address: dict[str, object] = {}
    for key, value in body.items():
        name = ADDRESS_BY_LOWER.get(str(key).lower())
        if name is not None:
            text = _text(value, f"{where}.{name}")
            if text is None:
                address.pop(name, None)
            else:
                address[name] = text
        elif value is not None:
            address[_lower_first(str(key))] = value
    return address


def read_profile(body: object) -> dict[str, object]:
    """A billing profile from a PUT body, stored form: as read_address, links/attributes gone."""
    if not isinstance(body, Mapping):
        raise Refusal(400, 800002, "Invalid request input: the body must be a JSON object.")
    profile: dict[str, object] = {}
    for key, value in body.items():
        name = TOP_BY_LOWER.get(str(key).lower())
        if name in READ_ONLY:
            continue
        if name == ADDRESS:
            if value is None:
                profile.pop(ADDRESS, None)
            else:
                profile[ADDRESS] = read_address(value)
        elif name is not None:
            text = _text(value, name)
            if text is None:
                profile.pop(name, None)
            else:
                profile[name] = text
        elif value is not None:
            profile[_lower_first(str(key))] = value
    return profile


def postal_code_ok(country: str, postal_code: str) -> bool:
    """True when the postal code fits the country's pattern (or none is known for it)."""
    pattern = POSTAL_CODES.get(country.upper())
    return pattern is None or pattern.fullmatch(postal_code.strip()) is not None


def address_problems(
    address: Mapping[str, object], where: str = ADDRESS, *, postal_code_patterns: bool = True
) -> list[str]:
    """Every code-3000 problem of an address: required fields, lengths, postal code.

    postal_code_patterns=False leaves the postal code's pattern to the country rules (27002).
    """
    problems = [f"{where}.{name} is required" for name in REQUIRED_ADDRESS if not address.get(name)]
    for name, limit in _MAX_LEN.items():
        value = address.get(name)
        if isinstance(value, str) and len(value) > limit:
            problems.append(f"{where}.{name} is {len(value)} characters long; at most {limit}")
    country = address.get("country")
    if isinstance(country, str) and not re.fullmatch(r"[A-Za-z]{2}", country):
        problems.append(f"{where}.country must be a 2-letter ISO country code, not {country!r}")
    postal = address.get("postalCode")
    if (
        postal_code_patterns
        and isinstance(country, str)
        and isinstance(postal, str)
        and not postal_code_ok(country, postal)
    ):
        problems.append(f"{where}.postalCode {postal!r} is not a valid postal code in {country}")
    return problems


def check_update(
    new: Mapping[str, object],
    current: Mapping[str, object],
    *,
    postal_code_patterns: bool = True,
) -> None:
    """Raise Refusal when the service would refuse to replace `current` by `new`.

    postal_code_patterns=False: see address_problems.
    """
    problems: list[str] = []
    if "id" in new and new["id"] != current.get("id"):
        problems.append(f"id cannot change (it is {current.get('id')!r})")
    address = new.get(ADDRESS)
    if not isinstance(address, Mapping):
        address = {}
        problems.append(f"{ADDRESS} is required")
    old_address = current.get(ADDRESS)
    old_country = old_address.get("country") if isinstance(old_address, Mapping) else None
    country = address.get("country")
    if (
        isinstance(old_country, str)
        and isinstance(country, str)
        and country.upper() != old_country.upper()
    ):
        problems.append(f"{ADDRESS}.country cannot change (it is {old_country!r})")
    if address:
        problems.extend(address_problems(address, postal_code_patterns=postal_code_patterns))
    for name in ("firstName", "lastName"):
        value = new.get(name)
        if isinstance(value, str) and len(value) > 50:
            problems.append(f"{name} is {len(value)} characters long; at most 50")
    if problems:
        raise Refusal(400, 3000, "Invalid property: " + "; ".join(problems) + ".")
    if str(country).upper() in PHONE_REQUIRED and not address.get("phoneNumber"):
        raise Refusal(
            400,
            600051,
            "Customer phone number is missing. billingProfile.defaultAddress.phoneNumber is not"
            f" provided; it is required for customers in {str(country).upper()}.",
        )
