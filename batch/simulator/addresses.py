"""`POST /v1/validations/address` as answered since 2021-05: always 200, deterministic.

The answer is `{originalAddress, suggestedAddresses, status, validationMessage}` (the message only
when the address is not verified). The stand-in decides by these rules, in this order:

1. A required field (addressLine1, city, postalCode, country) is missing, the country is not two
   letters, addressLine1 contains "UNKNOWN" (any case), or a US/CA state is missing or not a
   state/province code -> `None`, no suggestions.
2. The postal code does not fit the country, but does once left-padded with zeros (a ZIP that
   lost its leading zero in Excel: `2134` -> `02134`) -> `StreetPartial`, one suggestion with the
   padded code.
3. The postal code does not fit the country otherwise -> `None`, no suggestions.
4. Otherwise the address is valid: `Verified` when addressLine1 is a post-office box
   ("PO Box", "P.O. Box"), else `VerifiedShippable`; one suggestion, the address tidied (trimmed,
   country and US/CA state upper case, CA/GB/NL postal codes upper case and spaced).
`validationMessage` names the invalid properties: "Address field invalid for property: 'City'".
"""

from __future__ import annotations

import re

from batch.simulator import rules

_PO_BOX = re.compile(r"\bP\.?\s*O\.?\s+BOX\b", re.IGNORECASE)
_PROPERTY = {
    "addressLine1": "AddressLine1",
    "city": "City",
    "postalCode": "PostalCode",
    "country": "Country",
    "state": "State",
}


def _message(properties: list[str]) -> str:
    return "Address field invalid for property: " + ", ".join(
        f"'{_PROPERTY[p]}'" for p in properties
    )


def _padded_postal_code(country: str, postal_code: str) -> str | None:
    """The postal code left-padded with zeros so that it fits the country, if that works."""
    if not postal_code.isdigit():
        return None
    for width in range(len(postal_code) + 1, 7):
        candidate = postal_code.zfill(width)
        if rules.postal_code_ok(country, candidate):
            return candidate
    return None


def _tidy_postal_code(country: str, postal_code: str) -> str:
    code = postal_code.strip().upper()
    compact = code.replace(" ", "").replace("-", "")
    if country == "CA" and len(compact) == 6:
        return f"{compact[:3]} {compact[3:]}"
    if country == "GB" and len(compact) >= 5:
        return f"{compact[:-3]} {compact[-3:]}"
    if country == "NL" and len(compact) == 6:
        return f"{compact[:4]} {compact[4:]}"
    return code


def tidy(address: dict[str, object]) -> dict[str, object]:
    """The address as a suggestion shows it: trimmed, codes upper case, postal code spaced."""
    result = {k: v.strip() if isinstance(v, str) else v for k, v in address.items()}
    country = str(result.get("country", "")).upper()
    result["country"] = country
    if country in ("US", "CA") and isinstance(result.get("state"), str):
        result["state"] = str(result["state"]).upper()
    if isinstance(result.get("postalCode"), str):
        result["postalCode"] = _tidy_postal_code(country, str(result["postalCode"]))
    return result


def _state_ok(country: str, state: object) -> bool:
    if country == "US":
        return isinstance(state, str) and state.strip().upper() in rules.US_STATES
    if country == "CA":
        return isinstance(state, str) and state.strip().upper() in rules.CA_PROVINCES
    return True


def validate_address(body: object) -> dict[str, object]:
    """The answer to one validation request (body: an Address, keys in any case).

    Raises rules.Refusal (400) only when the body is not an object or a field is not a string.
    """
    address = rules.read_address(body, "address")
    invalid = [name for name in rules.REQUIRED_ADDRESS if not address.get(name)]
    country = str(address.get("country", "")).strip().upper()
    if address.get("country") and not re.fullmatch(r"[A-Z]{2}", country):
        invalid.append("country")
    if "UNKNOWN" in str(address.get("addressLine1", "")).upper() and "addressLine1" not in invalid:
        invalid.append("addressLine1")
    if not _state_ok(country, address.get("state")):
        invalid.append("state")
    answer: dict[str, object] = {"originalAddress": address, "suggestedAddresses": []}
    postal = str(address.get("postalCode", "")).strip()
    if not invalid and not rules.postal_code_ok(country, postal):
        padded = _padded_postal_code(country, postal)
        if padded is not None:
            suggestion = tidy({**address, "postalCode": padded})
            answer.update(
                suggestedAddresses=[suggestion],
                status="StreetPartial",
                validationMessage=_message(["postalCode"]),
            )
            return answer
        invalid.append("postalCode")
    if invalid:
        answer.update(status="None", validationMessage=_message(invalid))
        return answer
    shippable = not _PO_BOX.search(str(address["addressLine1"]))
    answer.update(
        suggestedAddresses=[tidy(address)],
        status="VerifiedShippable" if shippable else "Verified",
    )
    return answer
