"""A row's address as its cells give it: the country code, the US ZIP rule, a whole address
typed into the street cell, the house number joined into the street. Pure.

Rules (README.md, "Values"; validate.py calls these for every row it checks):

- `country`: ISO 3166-1 alpha-2, any case, sent upper case. `postal_code` of a row whose country
  is the US or a territory with US ZIP codes (PR, VI, GU, AS, MP): 5 digits or ZIP+4. A row
  without a country cell keeps the profile's country, unknown offline, so its ZIP is not checked.
- One field, one value: a street cell that also holds the row's own postal code, or its city or
  a country name after a comma, is a whole address in one cell (`Nieuwe Gracht 9, 3512 LC
  Utrecht`), to be split.
- A house-number column is joined into address line 1 as the row's country writes addresses
  (fields.join_house_number); a number without a street, or without a known country, is a
  problem: never half an address.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from batch.core.fields import (
    BY_NAME,
    COUNTRY_NAMES,
    HOUSE_NUMBER,
    Field,
    join_house_number,
    normalise_header,
)
from batch.core.model import Problem

_US_ZIP = re.compile(r"[0-9]{5}(-[0-9]{4})?", re.ASCII)
_US_ZIP_COUNTRIES = frozenset({"US", "PR", "VI", "GU", "AS", "MP"})

# ISO 3166-1 alpha-2, officially assigned codes (249), as of 2024.
_ISO_CODES = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR
    BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ
    EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW
    GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY
    KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV
    MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY
    QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG
    TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM
    ZW
"""
ISO_COUNTRIES: frozenset[str] = frozenset(_ISO_CODES.split())
_COUNTRY_HINTS = {  # the codes people write instead
    "UK": "the United Kingdom is GB",
    "EL": "Greece is GR",
    "USA": "the United States is US",
}


def country_value(text: str) -> tuple[str | None, str | None]:
    """(the ISO code to send, None) for a country cell, or (None, why it is no country code)."""
    code = text.upper()
    return (code, None) if code in ISO_COUNTRIES else (None, _country_problem(code))


def address_problems(
    number: int,
    values: dict[str, str | None],
    cells: Mapping[str, str],
    specs: list[tuple[Field, str]],
) -> list[Problem]:
    """The row's address problems: a whole address in the street cell, a house number that
    cannot be joined (joined into address_line1 in place when it can), a US ZIP code that is not
    one. values: the row's checked values; specs: (field, header) of every column read."""
    problems: list[Problem] = []
    street = values.get("address_line1")
    if street:
        why = _whole_address(street, values)
        if why is not None:
            header = next(h for f, h in specs if f.name == "address_line1")
            problems.append(Problem(number, header, street, why))
    if HOUSE_NUMBER in values:
        problem = _join_house_number(number, values, cells, specs)
        if problem is not None:
            problems.append(problem)
    zip_reason = _zip_problem(values)
    if zip_reason is not None:
        header = next(h for f, h in specs if f.name == "postal_code")
        problems.append(Problem(number, header, cells[header], zip_reason))
    return problems


def _whole_address(street: str, values: Mapping[str, str | None]) -> str | None:
    """Why a street cell looks like a whole address (it holds the row's postal code, or its city
    or a country name after a comma), or None."""
    found: list[str] = []
    postal = (values.get("postal_code") or "").strip()
    squeezed = postal.replace(" ", "").casefold()
    # The cheap test first: a regular expression per row only when the digits are there at all.
    if len(squeezed) >= 4 and squeezed in street.replace(" ", "").casefold():
        spaced = r"\s*".join(re.escape(part) for part in postal.split())
        match = re.search(rf"(?<![\w-]){spaced}(?![\w-])", street, re.IGNORECASE)
        if match is not None and match.start() > 0:
            found.append(f'its postal code "{postal}"')
    later = (
        [normalise_header(p) for p in re.split(r"[,;]", street)[1:]]
        if "," in street or (";" in street)
        else []
    )
    city = normalise_header(values.get("city") or "")
    if city and any(city == p or p.endswith(city) for p in later):
        found.append(f'its city "{values.get("city")}"')
    if any(p in COUNTRY_NAMES for p in later):
        found.append("a country name")
    if not found:
        return None
    return (
        f"looks like a whole address in one cell (it holds {' and '.join(found)}); put only"
        " the street and number here, and the postal code, city and country in their own"
        " columns"
    )


def _join_house_number(
    number: int,
    values: dict[str, str | None],
    cells: Mapping[str, str],
    specs: list[tuple[Field, str]],
) -> Problem | None:
    """Joins the house number into address_line1 in place, or says why it cannot."""
    house = values.pop(HOUSE_NUMBER)
    header = next(h for f, h in specs if f.name == HOUSE_NUMBER)
    text = cells.get(header, "")
    if house is None:
        return Problem(number, header, text, "a house number cannot be cleared; clear the street")
    street = values.get("address_line1")
    if not street:
        street_header = next((h for f, h in specs if f.name == "address_line1"), "street")
        return Problem(
            number,
            header,
            text,
            f"a house number without a street ({street_header} is blank or cleared): fill in"
            " the street, or leave the number blank (half an address is never sent)",
        )
    country = values.get("country")
    if not country:
        return Problem(
            number,
            header,
            text,
            "a house number needs the row's country to be joined with the street (the order"
            " differs by country): fill in the Country column, or put the number in the street",
        )
    joined = join_house_number(street, house, country)
    if joined is None:
        return Problem(
            number,
            header,
            text,
            f"pcbatch does not know where {country} writes the house number; put it into the"
            " street column as it should appear",
        )
    limit = BY_NAME["address_line1"].max_len or 0
    if len(joined.encode("utf-16-le")) // 2 > limit:
        return Problem(
            number, header, text, f"street and number together exceed {limit} characters"
        )
    values["address_line1"] = joined
    return None


def _country_problem(code: str) -> str:
    """Why a country cell is not an ISO code, with the likely right one when we know it."""
    hint = _COUNTRY_HINTS.get(code, "two letters such as US, GB or DE")
    return f"not an ISO 3166-1 alpha-2 country code ({hint})"


def _zip_problem(values: Mapping[str, str | None]) -> str | None:
    """Why the row's postal code is not a US ZIP code, when the row sets a US country."""
    zip_code = values.get("postal_code")
    if not zip_code or values.get("country") not in _US_ZIP_COUNTRIES:
        return None
    if _US_ZIP.fullmatch(zip_code):
        return None
    reason = "not a US ZIP code (5 digits or ZIP+4 like 98052-6399)"
    if zip_code.isdigit() and len(zip_code) < 5:
        return reason + "; if the leading zero was lost, format the column as text or 00000"
    if zip_code.isdigit() and len(zip_code) == 9:
        return reason + "; write ZIP+4 with its hyphen, or format the column as 00000-0000"
    return reason
