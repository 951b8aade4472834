"""export_rows: pages of the customer list read, profiles made into rows that read back exactly."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batch.core.export_rows import (
    EXPORT_FIELDS,
    EXPORT_HEADERS,
    MAX_PAGE_SIZE,
    export_row,
    first_page_url,
    read_page,
)
from batch.core.fields import field_for_header
from batch.core.validate import validate_rows

CID = "0f8fad5b-d9cb-469f-a165-70867728950e"
BASE = "https://api.partnercenter.microsoft.com"


def _cells(row) -> dict[str, str]:
    return dict(zip(EXPORT_FIELDS, row.cells, strict=True))


def _read_back(row) -> dict[str, str | None]:
    """The row as `pcbatch run`'s validation reads it: field -> value, blank cells absent."""
    record = {h: c for h, c in zip(EXPORT_HEADERS, row.cells, strict=True)}
    columns = {f: h for f, h in zip(EXPORT_FIELDS, EXPORT_HEADERS, strict=True)}
    rows, rejected = validate_rows([(2, record)], columns, "#N/A")
    assert rejected == []
    return dict(rows[0].values)


def test_every_header_is_one_run_reads_for_its_field():
    assert [field_for_header(h).name for h in EXPORT_HEADERS] == list(EXPORT_FIELDS)
    assert "id" not in EXPORT_FIELDS and "etag" not in " ".join(EXPORT_HEADERS).lower()


def test_a_profile_becomes_cells_that_read_back_as_the_same_text():
    profile = {
        "id": "a3f1",
        "companyName": "=Contoso Ltd",
        "firstName": "Ærøskøbing",
        "lastName": "山田",
        "email": "a@example.com",
        "defaultAddress": {
            "addressLine1": "1 Main St",
            "city": "Boston",
            "state": "MA",
            "postalCode": "02134",
            "country": "US",
            "phoneNumber": "+1 425 555 0100",
        },
        "attributes": {"etag": "-42", "objectType": "CustomerBillingProfile"},
    }
    row = export_row(CID, profile)
    assert row.left_blank == ()
    cells = _cells(row)
    assert cells["postal_code"] == "02134"
    assert cells["company_name"] == "=Contoso Ltd"
    assert cells["address_line2"] == ""  # absent stays blank: read as "keep"
    assert _read_back(row) == {k: v for k, v in cells.items() if v and k != "customer_id"}


@pytest.mark.parametrize(
    ("address", "field", "why"),
    [
        ({"city": " Boston "}, "city", "spaces"),
        ({"addressLine2": "#N/A"}, "address_line2", "another value"),
        ({"addressLine2": "#REF!"}, "address_line2", "refuse"),
        ({"country": "us"}, "country", "another value"),
        ({"postalCode": "2134"}, "postal_code", "US ZIP"),
        ({"phoneNumber": "4.255551E+09"}, "phone_number", "scientific"),
        ({"addressLine1": "x" * 201}, "address_line1", "200"),
        ({"city": "Bos\x07ton"}, "city", "control character"),
    ],
)
def test_a_value_no_cell_can_carry_is_left_blank_with_the_reason(address, field, why):
    base = {"addressLine1": "1 Main St", "city": "Boston", "postalCode": "02134", "country": "US"}
    row = export_row(CID, {"defaultAddress": {**base, **address}})
    header = EXPORT_HEADERS[EXPORT_FIELDS.index(field)]
    assert [h for h, _ in row.left_blank] == [header]
    assert why in row.left_blank[0][1]
    assert _cells(row)[field] == ""
    assert field not in _read_back(row)  # blank: the run keeps the service's value


@given(st.text(min_size=1, max_size=40))
def test_any_company_name_is_written_exactly_or_left_blank(name):
    row = export_row(CID, {"companyName": name})
    cell = _cells(row)["company_name"]
    if cell:
        assert _read_back(row)["company_name"] == name
    else:
        assert row.left_blank and row.left_blank[0][0] == "Company Name"


def test_the_first_page_asks_for_at_most_500():
    assert first_page_url(BASE + "/", 40) == f"{BASE}/v1/customers?size=40"
    assert first_page_url(BASE, 10_000).endswith(f"size={MAX_PAGE_SIZE}")


def _page(next_link):
    body = {
        "totalCount": 2,
        "items": [
            {"id": CID.upper(), "companyProfile": {"tenantId": CID, "companyName": "Contoso"}},
            {"id": "not-a-guid", "companyProfile": {}},
        ],
        "links": {"self": {"uri": "/v1/customers?size=2", "method": "GET", "headers": []}},
        "attributes": {"objectType": "Collection"},
    }
    if next_link is not None:
        body["links"]["next"] = next_link
    return body


def _next(uri, token="tok"):
    return {
        "uri": uri,
        "method": "GET",
        "headers": [{"key": "MS-ContinuationToken", "value": token}],
    }


def test_a_page_gives_its_customers_in_order_and_the_next_link_with_its_token():
    page = read_page(_page(_next("/v1/customers?size=2&seekOperation=Next")), BASE)
    assert [(c.customer_id, c.raw_id, c.company) for c in page.customers] == [
        (CID, CID.upper(), "Contoso"),
        (None, "not-a-guid", ""),
    ]
    assert page.next is not None
    assert page.next.url == f"{BASE}/v1/customers?size=2&seekOperation=Next"
    assert page.next.continuation == "tok"
    assert read_page(_page(None), BASE).next is None


@pytest.mark.parametrize(
    ("uri", "url"),
    [
        ("/customers?seekOperation=Next", f"{BASE}/v1/customers?seekOperation=Next"),
        (f"{BASE}/v1/customers?seekOperation=Next", f"{BASE}/v1/customers?seekOperation=Next"),
        ("https://evil.example/v1/customers?seekOperation=Next", None),
        ("http://api.partnercenter.microsoft.com/v1/customers", None),
        ("customers?x", None),
    ],
)
def test_a_next_link_is_followed_only_under_the_rest_root(uri, url):
    page = read_page(_page(_next(uri)), BASE)
    if url is None:
        assert page.next is None and "does not point under" in page.problem
    else:
        assert page.next.url == url


def test_a_next_link_without_its_continuation_header_is_a_problem():
    page = read_page(_page({"uri": "/v1/customers?seekOperation=Next", "headers": []}), BASE)
    assert page.next is None
    assert "MS-ContinuationToken" in page.problem
