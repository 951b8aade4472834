"""The input columns: header aliases, where each field lands in the resource, and its limits.

Headers are matched after lower-casing and dropping every character that is not a letter or
digit (`Postal Code`, `postal_code` and `POSTALCODE` are one header). The table is README.md's,
section "Columns"; a field's `path` is its place in the billing-profile JSON (camelCase, as the
service answers). Lengths are the documented ones (utility-resources "Address"); the docs give no
length for city, state, postal code, region, phone, e-mail or company name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Field:
    """One input column: its name (README, the report), header aliases, JSON path, limits."""

    name: str
    aliases: tuple[str, ...]
    path: tuple[str, ...]
    max_len: int | None = None
    required: bool = False  # the service refuses a profile without it: clearing it is invalid


CUSTOMER_ID = "customer_id"

FIELDS: tuple[Field, ...] = (
    Field(
        CUSTOMER_ID,
        ("customerid", "customertenantid", "tenantid", "microsoftid", "customer"),
        (),
    ),
    Field(
        "address_line1",
        ("addressline1", "address1", "street", "streetaddress"),
        ("defaultAddress", "addressLine1"),
        max_len=200,
        required=True,
    ),
    Field(
        "address_line2",
        ("addressline2", "address2"),
        ("defaultAddress", "addressLine2"),
        max_len=200,
    ),
    Field("address_line3", ("addressline3", "address3"), ("defaultAddress", "addressLine3")),
    Field("city", ("city", "town"), ("defaultAddress", "city"), required=True),
    Field("state", ("state", "province", "stateprovince"), ("defaultAddress", "state")),
    Field(
        "postal_code",
        ("postalcode", "zip", "zipcode", "postcode"),
        ("defaultAddress", "postalCode"),
        required=True,
    ),
    Field(
        "country",
        ("country", "countrycode"),
        ("defaultAddress", "country"),
        required=True,
    ),
    Field("region", ("region",), ("defaultAddress", "region")),
    Field(
        "phone_number",
        ("phone", "phonenumber", "telephone"),
        ("defaultAddress", "phoneNumber"),
    ),
    Field(
        "address_first_name",
        ("addressfirstname", "contactfirstname"),
        ("defaultAddress", "firstName"),
        max_len=50,
    ),
    Field(
        "address_last_name",
        ("addresslastname", "contactlastname"),
        ("defaultAddress", "lastName"),
        max_len=50,
    ),
    Field("first_name", ("firstname",), ("firstName",), max_len=50),
    Field("last_name", ("lastname",), ("lastName",), max_len=50),
    Field("email", ("email", "emailaddress"), ("email",)),
    Field("company_name", ("companyname", "company"), ("companyName",)),
)

BY_NAME: dict[str, Field] = {f.name: f for f in FIELDS}
UPDATABLE: tuple[Field, ...] = tuple(f for f in FIELDS if f.path)
_BY_ALIAS: dict[str, Field] = {alias: f for f in FIELDS for alias in f.aliases}
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def normalise_header(header: str) -> str:
    """`Postal Code ` -> `postalcode`: lower case, letters and digits only."""
    return _NOT_ALNUM.sub("", header.casefold())


def field_for_header(header: str) -> Field | None:
    """The field a header names, or None for an unknown header."""
    return _BY_ALIAS.get(normalise_header(header))
