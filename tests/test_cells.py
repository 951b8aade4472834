"""One cell -> the text Excel shows: numbers, number formats, error values, the clear token."""

import datetime as dt
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batch.core.cells import EXCEL_ERRORS, cell_text, excel_error, is_clear
from batch.core.number_format import format_renderable, number_shown


@given(st.integers(0, 10**15))
def test_whole_numbers_render_without_decimals(n):
    assert cell_text(float(n)) == str(n)
    assert cell_text(n) == str(n)


@given(st.integers(0, 99_999))
def test_a_zip_code_formatted_00000_keeps_its_leading_zeros(n):
    assert cell_text(float(n), "00000") == f"{n:05d}"
    assert cell_text(n, "00000") == f"{n:05d}"


@given(st.integers(0, 999_999_999))
def test_a_zip_plus_4_format_puts_the_hyphen_where_excel_shows_it(n):
    digits = f"{n:09d}"
    assert cell_text(n, "00000-0000") == f"{digits[:5]}-{digits[5:]}"


@given(st.floats(min_value=-1e15, max_value=1e15, allow_nan=False))
def test_a_number_never_renders_with_an_exponent_and_reads_back_as_excel_keeps_it(x):
    text = cell_text(x)
    assert "e" not in text.lower()
    assert float(text) == float(f"{x:.15g}")


@given(st.text())
def test_text_comes_back_trimmed_and_otherwise_unchanged(text):
    assert cell_text(text) == text.strip()


@given(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(),
        st.datetimes(),
        st.dates(),
        st.times(),
    ),
    st.sampled_from([None, "General", "00000", "0.00", "#,##0", "@", "(###) ###-####"]),
)
def test_every_cell_becomes_a_plain_str(value, number_format):
    text = cell_text(value, number_format)
    assert type(text) is str
    assert text != "nan"


@pytest.mark.parametrize(
    ("value", "number_format", "shown"),
    [
        (4255551234.0, None, "4255551234"),
        (4255551234, "(###) ###-####", "(425) 555-1234"),
        (5551234, "###-####", "555-1234"),
        (2134, '"ZIP "00000', "ZIP 02134"),
        (2134, "[Blue]00000", "02134"),
        (2134, "\\#00000", "#02134"),
        (-2134, "00000", "-02134"),
        (2134.5, "00000", "02135"),  # Excel rounds half away from zero
        (0, "00000", "00000"),
        (0, "###", ""),  # `#` shows no insignificant zero, so Excel shows nothing
        (123456, "0000", "123456"),  # more digits than placeholders: all are shown
        (0.1 + 0.2, None, "0.3"),  # Excel keeps 15 significant digits
        (1e-7, None, "0.0000001"),
        (1e20, None, "100000000000000000000"),
        (12.5, "0.00", "12.5"),  # cell_text falls back to General; number_shown gives None
        (1234, "#,##0", "1234"),
        (5551234, "[<=9999999]###-####;(###) ###-####", "555-1234"),  # Excel's Phone Number
        (4255551234, "[<=9999999]###-####;(###) ###-####", "(425) 555-1234"),
        (2134, "00000;-00000", "02134"),
        (-2134, "00000;(00000)", "(02134)"),  # a negative section shows its own sign
        (0, '0;-0;"none"', "none"),  # the zero section
        (31205550188, "+00 00 000 0000", "+31 20 555 0188"),  # literal + and spaces
        (31205550188, "\\+00\\ 00", "+312055501 88"),  # escapes
        (5, "[$€-407] 0", "€ 5"),  # a currency symbol tag
        (7, "0_)", "7"),  # `_)`: a space, trimmed
        (5, "0%", "500%"),
        (12, 'General" kg"', "12 kg"),
        (True, None, "TRUE"),
        (False, None, "FALSE"),
        (None, "00000", ""),
        ("  Köln \u00a0", None, "Köln"),
        (dt.datetime(2024, 3, 1), None, "2024-03-01"),
        (dt.datetime(2024, 3, 1, 9, 30), None, "2024-03-01T09:30:00"),
        (dt.date(2024, 3, 1), None, "2024-03-01"),
        (dt.time(9, 30), None, "09:30:00"),
        (math.nan, None, ""),
        (math.inf, None, "#NUM!"),
    ],
)
def test_a_cell_reads_as_excel_shows_it(value, number_format, shown):
    assert cell_text(value, number_format) == shown


@pytest.mark.parametrize(
    "number_format",
    ["0.00", "#,##0", "0.0E+00", "# ?/?", "0/0", "* 0", "[h]:mm", "@;0.00", "0;0.00"],
)
def test_a_format_that_depends_on_language_or_width_is_not_rendered(number_format):
    assert number_shown(1234, number_format) is None
    assert not format_renderable(number_format)


def test_a_negative_number_under_a_conditional_format_is_not_guessed():
    assert number_shown(-5, "[<=9999999]###-####;(###) ###-####") is None


@pytest.mark.parametrize("error", sorted(EXCEL_ERRORS))
def test_every_excel_error_value_is_recognised_in_any_case(error):
    assert excel_error(error) == error
    assert excel_error(error.lower()) == error


@pytest.mark.parametrize("text", ["", "#", "#1", "#hashtag", "N/A", "#N/A!", "REF!", "Suite #5"])
def test_text_that_only_looks_like_an_error_is_not_one(text):
    assert excel_error(text) is None


def test_the_default_clear_token_matches_excels_na_typed_or_as_error_in_any_case():
    assert is_clear("#N/A", "#N/A")
    assert is_clear("#n/a", "#N/A")
    assert not is_clear("N/A", "#N/A")
    assert not is_clear("#REF!", "#N/A")


def test_a_custom_clear_token_matches_exactly_and_na_no_longer_clears():
    assert is_clear("CLEAR", "CLEAR")
    assert not is_clear("clear", "CLEAR")
    assert not is_clear("#N/A", "CLEAR")
