"""What `pcbatch export` reads and writes, as values: customer-list pages in, sheet rows out. Pure.

Pages of `GET /v1/customers?size=N` (documented shape: items with `id` and `companyProfile`;
`links.next` with `uri`, `method` and `headers: [{key: MS-ContinuationToken, value}]`, asked for
with `seekOperation=Next`; Partner Center docs develop/get-a-list-of-customers.md and the paged
examples of develop/get-invoice-line-items.md) become a CustomerPage. A next link is followed
only to the REST root the export talks to: a bearer token never goes anywhere else.

A next link is data from the service, so it is checked before it is followed (issue 28, point 5):
its URI must be printable ASCII without dot segments (`..`), its continuation token a header
value (visible ASCII, at most MAX_TOKEN characters), and, given a PageTrail (one per listing),
its token must be new and the page within the trail's limit (MAX_PAGES): a service that goes in
circles or never ends makes a problem, never an endless listing. The activity log's pages
(activity_log.read_audit_page) are read by the same next_page.

A billing profile becomes one row under EXPORT_HEADERS (the headers `pcbatch run` reads, one per
field it can write; id, etag and the other read-only parts are no columns). A cell is written
only when pcbatch reads it back as exactly the profile's text, checked with the loader's own
rules (cells.cell_text, validate.validate_rows): leading zeros, `+` and non-Latin text pass as
they are. A value the sheet cannot carry (spaces at its ends, a clear token or Excel error
spelling, a lower-case country code, a ZIP the US rule refuses, a length over the field's, a
control character, more than a cell holds) is left blank, which `pcbatch run` reads as "keep":
the row still ends `unchanged`, and ExportRow.left_blank says which cells and why.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from batch.core.cells import CLEAR_TOKEN, cell_text
from batch.core.echo import escape_controls
from batch.core.fields import CUSTOMER_ID, FIELDS, UPDATABLE, Field
from batch.core.ids import canonical_guid
from batch.core.plan import current_value
from batch.core.validate import validate_rows

MAX_PAGE_SIZE = 500  # customers per page; Partner-Center-PowerShell GetPartnerCustomer.cs
CONTINUATION_HEADER = "MS-ContinuationToken"
MAX_PAGES = 10_000  # pages of one listing: 5 million customers at 500 a page; more is a loop
MAX_TOKEN = 4096  # characters of a continuation token (the service's are a few hundred)
_HEADER_VALUE = re.compile(rf"[\x21-\x7e][\x20-\x7e]{{0,{MAX_TOKEN - 1}}}")
_URI_CHARS = re.compile(r"[\x21-\x7e]{1,2048}")
CELL_MAX = 32767  # characters an Excel cell holds
# Characters an xlsx cannot store (XML 1.0 forbids them); openpyxl's ILLEGAL_CHARACTERS_RE.
_ILLEGAL = re.compile(r"[\000-\010\013\014\016-\037]")

# field -> header, in the order the export writes them: who, then the address, then the phone.
_HEADERS: dict[str, str] = {
    CUSTOMER_ID: "Customer ID",
    "company_name": "Company Name",
    "first_name": "First Name",
    "last_name": "Last Name",
    "email": "Email",
    "address_first_name": "Address First Name",
    "address_last_name": "Address Last Name",
    "address_line1": "Address Line 1",
    "address_line2": "Address Line 2",
    "address_line3": "Address Line 3",
    "city": "City",
    "state": "State",
    "postal_code": "Postal Code",
    "country": "Country",
    "region": "Region",
    "phone_number": "Phone Number",
}
EXPORT_FIELDS: tuple[str, ...] = tuple(_HEADERS)
EXPORT_HEADERS: tuple[str, ...] = tuple(_HEADERS.values())
_BY_NAME: dict[str, Field] = {f.name: f for f in FIELDS}
assert set(EXPORT_FIELDS) == {CUSTOMER_ID, *(f.name for f in UPDATABLE)}


@dataclass(frozen=True, slots=True)
class ListedCustomer:
    """One item of the customer list: its id (canonical GUID, or None with `raw_id` as sent)."""

    customer_id: str | None
    raw_id: str
    company: str


@dataclass(frozen=True, slots=True)
class NextPage:
    """Where the next page is: an absolute URL under the REST root, and the token to send."""

    url: str
    continuation: str


class PageTrail:
    """The next links one listing has followed: refuses a token seen before, and page limit+1.

    One per listing (`trail = PageTrail()`, then `read_page(body, base, trail)` per page). Pure,
    but it remembers: the tokens so far (at most `limit` of them).
    """

    __slots__ = ("_tokens", "limit", "pages")

    def __init__(self, limit: int = MAX_PAGES) -> None:
        self.limit = limit
        self.pages = 1  # the first page needs no link
        self._tokens: set[str] = set()

    def follow(self, page: NextPage) -> str | None:
        """Record that `page` is fetched next; why it must not be, or None."""
        if page.continuation in self._tokens:
            return (
                f"the service sent a continuation token it had sent before, after {self.pages} "
                "pages: it is going in circles"
            )
        if self.pages >= self.limit:
            return f"the list goes on past {self.limit} pages: taken as a loop"
        self._tokens.add(page.continuation)
        self.pages += 1
        return None


@dataclass(frozen=True, slots=True)
class CustomerPage:
    """One page of the customer list; `problem` says why its next link cannot be followed."""

    customers: tuple[ListedCustomer, ...]
    next: NextPage | None
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class ExportRow:
    """One customer's cells under EXPORT_HEADERS, and the cells left blank: (header, why)."""

    cells: tuple[str, ...]
    left_blank: tuple[tuple[str, str], ...]


def first_page_url(base_url: str, size: int = MAX_PAGE_SIZE) -> str:
    """`{base}/v1/customers?size=N`, N cut to MAX_PAGE_SIZE."""
    return f"{base_url.rstrip('/')}/v1/customers?size={min(max(size, 1), MAX_PAGE_SIZE)}"


def read_page(
    body: Mapping[str, object], base_url: str, trail: PageTrail | None = None
) -> CustomerPage:
    """The customers of a page, in the service's order, and its next page if there is one.

    trail: the listing's PageTrail, which refuses a repeated token or one page too many.
    """
    items = body.get("items")
    customers: list[ListedCustomer] = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, Mapping):
            continue
        raw_id = str(item.get("id") or "")
        profile = item.get("companyProfile")
        company = profile.get("companyName") if isinstance(profile, Mapping) else None
        customers.append(
            ListedCustomer(
                canonical_guid(raw_id), raw_id, company if isinstance(company, str) else ""
            )
        )
    following, problem = next_page(body, base_url, trail)
    return CustomerPage(tuple(customers), following, problem)


def next_page(
    body: Mapping[str, object], base_url: str, trail: PageTrail | None = None
) -> tuple[NextPage | None, str | None]:
    """A paged answer's next page (links.next: its URI under `base_url`, with its
    MS-ContinuationToken header), or None at the last page; with why a next link that is
    there cannot be followed (then the listing is not complete). trail: see PageTrail."""
    links = body.get("links")
    link = links.get("next") if isinstance(links, Mapping) else None
    if not isinstance(link, Mapping):
        return None, None
    token = _continuation(link.get("headers"))
    url = _resolve(base_url, link.get("uri"))
    if token is None:
        return None, f"the page's links.next has no {CONTINUATION_HEADER} header"
    if not _HEADER_VALUE.fullmatch(token):
        return None, (
            f"the page's {CONTINUATION_HEADER} is not a header value (control characters, or "
            f"over {MAX_TOKEN} characters)"
        )
    if url is None:
        shown = escape_controls(str(link.get("uri"))[:200])
        return None, f"the page's links.next {shown!r} does not point under {base_url}"
    following = NextPage(url, token)
    problem = None if trail is None else trail.follow(following)
    return (None, problem) if problem else (following, None)


def _continuation(headers: object) -> str | None:
    if not isinstance(headers, list):
        return None
    for header in headers:
        if (
            isinstance(header, Mapping)
            and str(header.get("key", "")).lower() == "ms-continuationtoken"
        ):
            value = header.get("value")
            return str(value) if value else None
    return None


def _resolve(base_url: str, uri: object) -> str | None:
    """The absolute URL of a link's `uri`, or None when it leaves the REST root.

    The docs show both `/v1/customers?size=40` (the customer list's self link) and
    `/invoices/...` (paged invoice items) as link uris: a path without the `/v1` prefix is taken
    as relative to `/v1`. An absolute URL must name the REST root's scheme, host and port.
    """
    if not isinstance(uri, str) or not _URI_CHARS.fullmatch(uri):
        return None  # blank, too long, or with spaces or control characters (CRLF)
    path = urlsplit(uri).path
    if any(segment in (".", "..") for segment in unquote(path).split("/")):
        return None  # `/v1/../elsewhere` leaves the REST root once resolved
    root = base_url.rstrip("/")
    parts = urlsplit(uri)
    if parts.scheme or parts.netloc:
        base = urlsplit(root)
        if (parts.scheme, parts.netloc) != (base.scheme, base.netloc):
            return None
        if not parts.path.startswith(base.path.rstrip("/") + "/v1/"):
            return None
        return uri
    if not uri.startswith("/"):
        return None
    return root + (uri if uri.startswith("/v1/") else "/v1" + uri)


def export_row(customer_id: str, profile: Mapping[str, object]) -> ExportRow:
    """The sheet row of one customer's billing profile (see the module's rules)."""
    cells: dict[str, str] = {CUSTOMER_ID: customer_id}
    blank: dict[str, str] = {}
    for name in EXPORT_FIELDS[1:]:
        value = current_value(profile, _BY_NAME[name].path) or ""
        if not value:
            continue  # a blank cell: `pcbatch run` keeps the field as it is (absent stays absent)
        why = _unwritable(value)
        if why is None:
            cells[name] = value
        else:
            blank[name] = why
    # Read the row back as `pcbatch run` would; a cell that does not come back as it went in
    # is left blank, until the row reads back clean (each pass blanks at least one cell).
    while True:
        wrong = _read_back(cells)
        if not wrong:
            break
        for name, why in wrong.items():
            del cells[name]
            blank[name] = why
    return ExportRow(
        tuple(cells.get(name, "") for name in EXPORT_FIELDS),
        tuple((_HEADERS[name], blank[name]) for name in EXPORT_FIELDS if name in blank),
    )


def _unwritable(value: str) -> str | None:
    """Why a value cannot be a cell at all, or None."""
    if value != cell_text(value):
        return "spaces at its start or end, which a cell loses"
    if _ILLEGAL.search(value):
        return "a control character, which a sheet cannot hold"
    if len(value) > CELL_MAX:
        return f"longer than the {CELL_MAX} characters a cell holds"
    return None


def _read_back(cells: Mapping[str, str]) -> dict[str, str]:
    """field -> why, for the cells `pcbatch run` would not read back as exactly their text."""
    columns = {name: _HEADERS[name] for name in cells}
    by_header = {_HEADERS[name]: name for name in cells}
    record = {_HEADERS[name]: text for name, text in cells.items()}
    rows, rejected = validate_rows([(2, record)], columns, CLEAR_TOKEN)
    wrong: dict[str, str] = {}
    for not_sent in rejected:
        for problem in not_sent.problems:
            name = by_header.get(problem.column)
            if name is None or name == CUSTOMER_ID:
                raise ValueError(f"not a customer id: {cells.get(CUSTOMER_ID)!r}")
            wrong[name] = f"pcbatch run would refuse it: {problem.reason}"
    for row in rows:
        for name, text in cells.items():
            if name != CUSTOMER_ID and row.values.get(name) != text:
                wrong[name] = "pcbatch run would read it as another value"
    return wrong
