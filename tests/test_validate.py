"""Rows -> valid Rows and NotSent ones: GUIDs, countries, US ZIP codes, lengths, duplicates."""

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batch.core.address_checks import ISO_COUNTRIES
from batch.core.fields import FIELDS, INPUT_FIELDS, field_for_header
from batch.core.ids import canonical_guid
from batch.core.model import Problem, Row, Status
from batch.core.validate import validate_rows

A = "0f8fad5b-d9cb-469f-a165-70867728950e"
B = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
COLUMNS = {
    "customer_id": "Customer ID",
    "address_line1": "Street",
    "address_line2": "Address Line 2",
    "city": "City",
    "postal_code": "ZIP",
    "country": "Country",
    "phone_number": "Phone",
    "first_name": "First Name",
}


def check(*rows, clear_token="#N/A", cleaned=None):
    """validate_rows over rows given as {header: text}, numbered from 2; missing cells blank."""
    headers = [*COLUMNS.values(), "Notes"]
    records = [(n, {h: row.get(h, "") for h in headers}) for n, row in enumerate(rows, start=2)]
    return validate_rows(records, COLUMNS, clear_token, cleaned=cleaned)


def problems(*rows, clear_token="#N/A"):
    _, rejected = check(*rows, clear_token=clear_token)
    return [p for r in rejected for p in r.problems]


# --- customer ids -------------------------------------------------------------------------------


@given(st.uuids(), st.booleans(), st.booleans(), st.sampled_from(["", " ", "\t"]))
def test_any_guid_spelling_becomes_canonical(u, braces, upper, space):
    text = str(u).upper() if upper else str(u)
    text = "{" + text + "}" if braces else text
    assert canonical_guid(space + text + space) == str(u)


@given(st.uuids(), st.text(min_size=1), st.booleans())
def test_a_guid_with_anything_around_it_is_not_a_customer_id(u, extra, before):
    extra = extra if extra.strip() else "/"  # spaces around are trimmed, as in every cell
    text = extra + str(u) if before else str(u) + extra
    assert canonical_guid(text) is None


@pytest.mark.parametrize(
    "text",
    [
        f"../../v1/customers/{A}",
        f"{A}/../{B}",
        f"{A}?x=1",
        f"{{{A}",
        f"{A}}}",
        A.replace("-", ""),
        f"urn:uuid:{A}",
        A[:-1] + "g",
        A[:-1] + "\uff41",  # a full-width letter is not a hex digit
        "",
    ],
)
def test_text_that_is_not_exactly_a_guid_never_becomes_a_customer_id(text):
    assert canonical_guid(text) is None
    rows, rejected = check({"Customer ID": text, "City": "Paris"})
    assert rows == []
    assert [r.status for r in rejected] == [Status.INVALID]


def test_a_path_in_the_customer_id_column_is_invalid_and_kept_as_the_sheet_had_it():
    rows, rejected = check({"Customer ID": f"../../v1/customers/{A}", "City": "Paris"})
    assert rows == []
    (bad,) = rejected
    assert (bad.number, bad.customer_id, bad.status) == (2, f"../../v1/customers/{A}", "invalid")
    assert bad.problems[0].column == "Customer ID"
    assert bad.problems[0].reason == (
        "not a customer tenant id (a GUID like 0f8fad5b-d9cb-469f-a165-70867728950e, braces"
        ' allowed); character 1 is "." (U+002E FULL STOP), which has no place in one; copy it'
        " from Partner Center"
    )


def test_a_valid_row_carries_the_canonical_id_and_only_its_non_blank_known_fields():
    rows, rejected = check(
        {"Customer ID": "{" + A.upper() + "}", "City": "Köln", "Country": "de", "Notes": "vip"}
    )
    assert rejected == []
    assert rows == [
        Row(
            number=2,
            customer_id=A,
            values={"city": "Köln", "country": "DE"},
            raw={
                "Customer ID": "{" + A.upper() + "}",
                "Street": "",
                "Address Line 2": "",
                "City": "Köln",
                "ZIP": "",
                "Country": "de",
                "Phone": "",
                "First Name": "",
                "Notes": "vip",
            },
        )
    ]


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        (
            "",
            "blank: every row needs the customer's tenant id (a GUID); fill it in or delete"
            " the row",
        ),
        ("#N/A", "the customer id cannot be cleared; fill in the customer's tenant id (a GUID)"),
        ("#REF!", "an Excel error value, not a customer id; fix the cell or its formula"),
    ],
)
def test_a_missing_customer_id_says_what_to_do(cell, reason):
    assert problems({"Customer ID": cell, "City": "Paris"}) == [
        Problem(2, "Customer ID", cell, reason)
    ]


# --- cells --------------------------------------------------------------------------------------


def test_the_clear_token_clears_an_optional_field():
    rows, _ = check({"Customer ID": A, "Address Line 2": "#N/A", "Phone": "#n/a"})
    assert rows[0].values == {"address_line2": None, "phone_number": None}


def test_a_custom_clear_token_clears_and_then_na_is_an_error():
    rows, _ = check({"Customer ID": A, "Address Line 2": "CLEAR"}, clear_token="CLEAR")
    assert rows[0].values == {"address_line2": None}
    assert [
        p.column for p in problems({"Customer ID": A, "Phone": "#N/A"}, clear_token="CLEAR")
    ] == ["Phone"]


@pytest.mark.parametrize("header", ["Street", "City", "ZIP", "Country"])
def test_clearing_a_required_field_makes_the_row_invalid(header):
    assert problems({"Customer ID": A, header: "#N/A"}) == [
        Problem(
            2,
            header,
            "#N/A",
            "#N/A would clear a field Partner Center requires; leave the cell blank to keep the"
            " current value, or fill it in",
        )
    ]


@pytest.mark.parametrize("error", ["#REF!", "#VALUE!", "#DIV/0!", "#NAME?", "#NULL!", "#NUM!"])
def test_an_excel_error_value_makes_the_row_invalid(error):
    assert problems({"Customer ID": A, "City": error}) == [
        Problem(
            2,
            "City",
            error,
            "an Excel error value, not a value; fix the cell or its formula (to clear the field,"
            " type #N/A)",
        )
    ]


@given(st.sampled_from(sorted(ISO_COUNTRIES)), st.booleans())
def test_an_iso_country_in_any_case_is_sent_upper_case(code, lower):
    rows, _ = check({"Customer ID": A, "Country": code.lower() if lower else code})
    assert rows[0].values["country"] == code


@pytest.mark.parametrize(
    ("cell", "hint"),
    [
        ("UK", "the United Kingdom is GB"),
        ("USA", "the United States is US"),
        ("Germany", "two letters such as US, GB or DE"),
        ("XX", "two letters such as US, GB or DE"),
    ],
)
def test_a_country_that_is_not_an_iso_code_is_invalid_with_a_hint(cell, hint):
    assert problems({"Customer ID": A, "Country": cell}) == [
        Problem(2, "Country", cell, f"not an ISO 3166-1 alpha-2 country code ({hint})")
    ]


def test_a_four_digit_us_zip_is_invalid_and_the_message_says_how_to_keep_the_zero():
    (p,) = problems({"Customer ID": A, "ZIP": "2134", "Country": "US"})
    assert f'row {p.row}, column "{p.column}": "{p.value}" is {p.reason}' == (
        'row 2, column "ZIP": "2134" is not a US ZIP code (5 digits or ZIP+4 like 98052-6399);'
        " if the leading zero was lost, format the column as text or 00000"
    )


@pytest.mark.parametrize("zip_code", ["02134", "98052-6399"])
def test_five_digit_and_zip_plus_4_codes_are_valid_us_zip_codes(zip_code):
    rows, _ = check({"Customer ID": A, "ZIP": zip_code, "Country": "us"})
    assert rows[0].values["postal_code"] == zip_code


@pytest.mark.parametrize("zip_code", ["980526399", "9805", "98052 6399", "ABCDE", "98052-63"])
def test_other_us_zip_codes_are_invalid(zip_code):
    assert [p.column for p in problems({"Customer ID": A, "ZIP": zip_code, "Country": "US"})] == [
        "ZIP"
    ]


def test_a_puerto_rico_zip_that_lost_its_zeros_is_caught_too():
    assert [p.value for p in problems({"Customer ID": A, "ZIP": "601", "Country": "PR"})] == ["601"]


def test_other_countries_postal_codes_are_not_held_to_the_us_rule():
    rows, _ = check({"Customer ID": A, "ZIP": "SW1A 2AA", "Country": "GB"})
    assert rows[0].values["postal_code"] == "SW1A 2AA"


def test_a_zip_without_a_country_cell_is_not_checked_offline():
    rows, _ = check({"Customer ID": A, "ZIP": "2134"})
    assert rows[0].values == {"postal_code": "2134"}


@pytest.mark.parametrize("header", ["Phone", "ZIP"])
def test_a_number_in_scientific_notation_lost_its_digits_and_is_invalid(header):
    (p,) = problems({"Customer ID": A, header: "4.255551E+09"})
    assert p.reason.startswith("a number in scientific notation: its digits were lost")


def test_a_value_longer_than_the_field_allows_is_invalid_and_one_at_the_limit_is_not():
    rows, _ = check({"Customer ID": A, "Street": "x" * 200, "First Name": "y" * 50})
    assert rows[0].values["address_line1"] == "x" * 200
    assert problems({"Customer ID": A, "Street": "x" * 201}) == [
        Problem(
            2,
            "Street",
            "x" * 201,
            "201 characters long; Partner Center takes at most 200: shorten it",
        )
    ]


def test_lengths_count_as_the_service_counts_them_in_utf16_units():
    name = "😀" * 26  # 26 characters, 52 UTF-16 units
    assert [p.reason for p in problems({"Customer ID": A, "First Name": name})] == [
        "52 characters long; Partner Center takes at most 50: shorten it"
    ]


def test_every_problem_of_a_row_is_reported_not_just_the_first():
    found = problems({"Customer ID": "nope", "City": "#REF!", "Country": "UK"})
    assert [p.column for p in found] == ["Customer ID", "City", "Country"]


# --- rows and duplicates ------------------------------------------------------------------------


def test_fully_blank_rows_are_dropped_and_later_rows_keep_their_numbers():
    rows, rejected = check({}, {"Customer ID": A, "City": "Paris"}, {}, {"Customer ID": "x"})
    assert [r.number for r in rows] == [3]
    assert [r.number for r in rejected] == [5]


def test_identical_rows_of_one_customer_send_the_first_and_mark_the_others_duplicate():
    same = {"Customer ID": A, "City": "Paris", "Country": "FR"}
    spelled = {**same, "Customer ID": "{" + A.upper() + "}", "Country": "fr", "Notes": "again"}
    rows, rejected = check(same, spelled, same)
    assert [r.number for r in rows] == [2]
    assert [(r.number, r.status, r.customer_id) for r in rejected] == [
        (3, Status.DUPLICATE, "{" + A.upper() + "}"),
        (4, Status.DUPLICATE, A),
    ]
    assert rejected[0].problems == (
        Problem(
            3,
            "Customer ID",
            "{" + A.upper() + "}",
            "same customer and values as row 2; only that row counts",
        ),
    )


def test_rows_of_one_customer_that_differ_are_all_invalid_naming_each_other():
    rows, rejected = check(
        {"Customer ID": A, "City": "Paris", "ZIP": "75002"},
        {"Customer ID": B, "City": "Lyon"},
        {"Customer ID": A, "City": "Lyon", "ZIP": "75002"},
        {"Customer ID": A.upper(), "City": "Paris"},
    )
    assert [r.number for r in rows] == [3]
    assert [(r.number, r.status) for r in rejected] == [
        (2, "invalid"),
        (4, "invalid"),
        (5, "invalid"),
    ]
    reason = (
        "the same customer is on rows {} with other values (in City, ZIP);"
        " keep one row per customer"
    )
    assert [r.problems[-1].reason for r in rejected] == [
        reason.format("4, 5"),
        reason.format("2, 5"),
        reason.format("2, 4"),
    ]


def test_a_row_that_clears_a_field_differs_from_one_that_leaves_it_blank():
    _, rejected = check(
        {"Customer ID": A, "Address Line 2": "#N/A"}, {"Customer ID": A, "Address Line 2": ""}
    )
    assert [r.status for r in rejected] == ["invalid", "invalid"]


# --- headers ------------------------------------------------------------------------------------


@given(
    st.sampled_from([(f, a) for f in FIELDS for a in f.aliases]),
    st.lists(st.sampled_from([" ", "_", "-", ".", "#", "/", "(", ")"]), max_size=3),
    st.randoms(use_true_random=False),
)
def test_a_header_matches_its_field_whatever_its_case_spaces_and_punctuation(pair, noise, rnd):
    field, alias = pair
    chars = [c.upper() if rnd.random() < 0.5 else c for c in alias]
    for mark in noise:
        chars.insert(rnd.randrange(len(chars) + 1), mark)
    assert field_for_header("".join(chars)) is field


@given(st.text(alphabet=string.ascii_letters + " _-", min_size=1))
def test_a_header_is_known_only_when_its_letters_spell_an_alias(header):
    found = field_for_header(header)
    letters = "".join(c for c in header.lower() if c.isalnum())
    aliases = {a: f for f in INPUT_FIELDS for a in f.aliases}
    assert found is aliases.get(letters)


# --- marks from the reader, hidden rows, invisible characters, house numbers --------------------


def test_a_formula_error_never_clears_and_a_typed_one_does():
    from batch.core.cell_marks import CellMark

    records = [(2, {"Customer ID": A, "Phone": "#N/A"}), (3, {"Customer ID": B, "Phone": "#N/A"})]
    columns = {"customer_id": "Customer ID", "phone_number": "Phone"}
    marks = {2: {"Phone": CellMark("B2", formula_error=True)}}
    rows, [rejected] = validate_rows(records, columns, "#N/A", marks=marks)
    assert [(r.number, dict(r.values)) for r in rows] == [(3, {"phone_number": None})]
    assert rejected.problems[0].reason.startswith("cell B2: its formula gives an Excel error")


def test_hidden_rows_end_skipped_unchecked_and_count_in_no_duplicate():
    records = [(2, {"Customer ID": A, "City": "X"}), (3, {"Customer ID": A, "City": "Y"})]
    rows, [hidden] = validate_rows(records, {"customer_id": "Customer ID", "city": "City"}, "#N/A",
                                   hidden={3})  # fmt: skip
    assert [r.number for r in rows] == [2]
    assert (hidden.number, hidden.status) == (3, Status.SKIPPED)


def test_invisible_characters_are_cleaned_in_every_value_and_listed():
    cleaned = []
    rows, _ = check(
        {"Customer ID": "\ufeff" + A, "Street": "Main\u00a0St\u200b", "City": "\u200b"},
        cleaned=cleaned,
    )
    assert dict(rows[0].values) == {"address_line1": "Main St"}  # a city of nothing stays blank
    assert [(p.column, p.reason) for p in cleaned] == [
        ("Customer ID", "removed zero-width no-break space (byte-order mark) (U+FEFF)"),
        ("Street", "made no-break space (U+00A0) a plain space; removed zero-width space (U+200B)"),
        ("City", "removed zero-width space (U+200B)"),
    ]


def test_a_house_number_joins_the_street_only_with_both_and_a_known_country():
    columns = {
        "customer_id": "ID",
        "address_line1": "Straat",
        "house_number": "Nr",
        "country": "Land",
    }
    records = [
        (2, {"ID": A, "Straat": "Dorpsstraat", "Nr": "3", "Land": "nl"}),
        (3, {"ID": B, "Straat": "Main St", "Nr": "3", "Land": "JP"}),
        (4, {"ID": A.replace("0f", "1f"), "Straat": "Dorpsstraat", "Nr": "", "Land": "NL"}),
    ]
    rows, [japan] = validate_rows(records, columns, "#N/A")
    assert [dict(r.values) for r in rows] == [
        {"address_line1": "Dorpsstraat 3", "country": "NL"},
        {"address_line1": "Dorpsstraat", "country": "NL"},
    ]
    assert "does not know where JP writes the house number" in japan.message


def test_many_rows_of_one_customer_name_a_few_others_and_count_the_rest():
    rows, rejected = check(*({"Customer ID": A, "City": f"City {n}"} for n in range(8)))
    assert rows == []
    assert (
        rejected[0]
        .problems[0]
        .reason.startswith(
            "the same customer is on rows 3, 4, 5, 6, 7 and 2 more with other values (in City)"
        )
    )
