"""The partner's customer list, one page at a time: `GET /v1/customers?size=N`.

As documented (Partner Center docs, develop/get-a-list-of-customers.md: "GET {baseURL}/v1/
customers?size={size}", and its response example):

    {"totalCount": 2,
     "items": [{"id": "<customer tenant id>",
                "companyProfile": {"tenantId", "domain", "companyName",
                                   "attributes": {"objectType": "CustomerCompanyProfile"}},
                "relationshipToPartner": "reseller",
                "attributes": {"objectType": "Customer"}}, ...],
     "links": {"self": {"uri": "/v1/customers?size=40", "method": "GET", "headers": []}},
     "attributes": {"objectType": "Collection"}}

Paging: a page that is not the last carries `links.next` as the docs' paged collections show it
(develop/get-invoice-line-items.md examples): `{"uri": ...&seekOperation=Next, "method": "GET",
"headers": [{"key": "MS-ContinuationToken", "value": <token>}]}`. The next page is asked for by
sending that header with `seekOperation=Next` (the .NET SDK's CustomerCollectionOperations
.QueryAsync and PartnerSdkConfiguration.json, GetCustomers: parameter `seekOperation`, header
`MS-ContinuationToken`). At most 500 customers come in one page: "The maximum number of customers
returned by the Partner Center API in a single call is 500" (Partner-Center-PowerShell,
src/PowerShell/Commands/GetPartnerCustomer.cs); a larger `size` is cut to 500.

Not documented, decided here: a missing or non-positive `size` means 500; a `size` that is not a
whole number, a `seekOperation` other than Next, or a token this server did not issue is 400
with code 800002 ("Invalid request input"); `totalCount` is the number of items on the page;
customers come in the order the store holds them; the token is opaque to clients.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from urllib.parse import urlencode

from batch.simulator import rules
from batch.simulator.store import Store

MAX_PAGE_SIZE = 500
CONTINUATION_HEADER = "MS-ContinuationToken"
_TOKEN_PREFIX = "pcsim-customers:"


def customers_page(store: Store, query: Mapping[str, str], continuation: str | None) -> dict:
    """The page of the customer list the query (and continuation header) asks for.

    query: the request's query parameters; names in any case (the docs spell both
    `seekOperation` and `seekoperation`). Raises rules.Refusal (400, 800002) for a bad one.
    """
    params = {key.lower(): value for key, value in query.items()}
    size = page_size(params.get("size"))
    seek = params.get("seekoperation")
    start = 0
    if seek is not None:
        if seek.lower() != "next":
            raise invalid_input(f"seekOperation {seek!r} is not supported; use Next")
        if not continuation:
            raise invalid_input(f"seekOperation=Next needs the {CONTINUATION_HEADER} header")
        start, size = _read_token(continuation)
    ids = store.ids()
    chosen = ids[start : start + size]
    self_query = {"size": str(size)} if seek is None else {"size": str(size), "seekOperation": seek}
    page: dict[str, object] = {
        "totalCount": len(chosen),
        "items": [_customer(store, customer_id) for customer_id in chosen],
        "links": {"self": _link(self_query, [])},
        "attributes": {"objectType": "Collection"},
    }
    end = start + len(chosen)
    if end < len(ids):
        token = [{"key": CONTINUATION_HEADER, "value": _token(end, size)}]
        links = page["links"]
        assert isinstance(links, dict)
        links["next"] = _link({"size": str(size), "seekOperation": "Next"}, token)
    return page


def company_domain(company: str) -> str:
    """The default domain the list shows: `<letters of the company name>.onmicrosoft.com`."""
    name = "".join(ch for ch in company.lower() if ch.isascii() and ch.isalnum())
    return f"{name or 'customer'}.onmicrosoft.com"


def _customer(store: Store, customer_id: str) -> dict[str, object]:
    profile = store.stored(customer_id)
    company = profile.get("companyName")
    company_text = company if isinstance(company, str) else ""
    return {
        "id": customer_id,
        "companyProfile": {
            "tenantId": customer_id,
            "domain": company_domain(company_text),
            "companyName": company_text,
            "attributes": {"objectType": "CustomerCompanyProfile"},
        },
        "relationshipToPartner": "reseller",
        "attributes": {"objectType": "Customer"},
    }


def _link(query: Mapping[str, str], headers: list[dict[str, str]]) -> dict[str, object]:
    return {"uri": f"/v1/customers?{urlencode(query)}", "method": "GET", "headers": headers}


def page_size(text: str | None) -> int:
    """A paged list's `size` query: at most MAX_PAGE_SIZE, that when absent or not above 0."""
    if text is None:
        return MAX_PAGE_SIZE
    try:
        size = int(text)
    except ValueError:
        raise invalid_input(f"size {text!r} is not a whole number") from None
    return MAX_PAGE_SIZE if size <= 0 else min(size, MAX_PAGE_SIZE)


def _token(start: int, size: int) -> str:
    raw = f"{_TOKEN_PREFIX}{start}:{size}".encode()
    return base64.urlsafe_b64encode(raw).decode()


def _read_token(token: str) -> tuple[int, int]:
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
        if not text.startswith(_TOKEN_PREFIX):
            raise ValueError(text)
        start, size = (int(part) for part in text.removeprefix(_TOKEN_PREFIX).split(":"))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise invalid_input(f"the {CONTINUATION_HEADER} is not one this service issued") from None
    if start < 0 or not 0 < size <= MAX_PAGE_SIZE:
        raise invalid_input(f"the {CONTINUATION_HEADER} is not one this service issued")
    return start, size


def invalid_input(why: str) -> rules.Refusal:
    """The service's 400 for a query it cannot read (code 800002)."""
    return rules.Refusal(400, 800002, f"Invalid request input: {why}.")
