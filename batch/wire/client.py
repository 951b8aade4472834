"""The wire: the only client-side module that imports aiohttp; it answers in pcbatch values.

One Client holds one aiohttp ClientSession whose connection pool is sized to the concurrency.
Every call sends (README.md, "What goes over the wire"):

    Authorization: Bearer <token>           from the TokenProvider, per call
    Accept: application/json
    MS-Contract-Version: v1
    MS-CorrelationId: <new uuid per call>
    MS-RequestId: <given by the caller>      the same on the retry of a call that lost its answer
    MS-PartnerCenter-Application: pcbatch/<version>
    Content-Type: application/json          PUT and POST
    If-Match: "<etag>"                       PUT
    MS-ContinuationToken: <token>            the customer list's next pages (links.next)

Answers become a `Reply`: bodies decoded as `utf-8-sig` (the service may prefix a BOM); errors
read from `{code, description, data, source}` and from 429's `{statusCode, message}`;
`Retry-After` read as seconds or an HTTP date. A call that gets no answer (timeout, dropped
connection, refused connection) is a Reply with status 0 and its `fault`; aiohttp's exceptions
never leave this module. Redirects are not followed (a token is not sent to another place).
Customer ids are checked again here: only a canonical lower-case GUID reaches a URL.

Server text is data (issue 28, point 4): an error's code, description and data entries have
their control characters, ANSI escapes and bidi overrides escaped (core.echo.escape_controls)
and are cut to MAX_TEXT characters here, where they enter pcbatch, so no terminal, log line,
JSON field or report gets them raw. An etag that could not go back in an If-Match header (a
control character, a quote, over MAX_ETAG characters) is no etag: the row fails saying so,
where aiohttp would otherwise raise on the PUT.

Answers are bounded (issue 28, point 5): each kind of call reads at most its LIMITS entry
(after decompression; a Content-Length over it is refused unread). A longer answer is not
read: the call is a Reply with Fault.DISCONNECTED ("it may have landed", as for a lost answer:
a PUT is checked by a refetch) whose message names the limit, so it is retried within
--max-attempts and then fails that row with that message, never filling the memory.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Self

import aiohttp

from batch import __version__
from batch.core.echo import escape_controls
from batch.core.export_rows import CONTINUATION_HEADER
from batch.core.ids import is_canonical_guid
from batch.core.json_read import key_of
from batch.core.retry import Fault, Reply, parse_retry_after
from batch.wire.auth import TokenProvider

APPLICATION = f"pcbatch/{__version__}"
MAX_TEXT = 500  # characters kept of a server's error text (Entra's and Partner Center's are short)
MAX_ETAG = 256  # the service's etags are a few dozen characters
# Bytes read of one answer, by kind of call: a billing profile is ~2 KB, a page of 500 customers
# ~1 MB, a page of the activity log holds each record's old and new resource.
LIMITS: dict[str, int] = {
    "profile": 1 << 20,
    "address": 1 << 20,
    "country rules": 4 << 20,
    "customer list": 16 << 20,
    "activity log": 32 << 20,
}
_CHUNK = 64 << 10
# RFC 9110 entity-tag characters (etagc, without obs-text): visible ASCII but `"`.
_ETAG_CHARS = re.compile(rf"[\x21\x23-\x7e]{{1,{MAX_ETAG}}}")
_EMPTY: Mapping[str, object] = {}
# One encoder for every body: json.dumps builds a new one per call when given options.
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def new_request_id() -> str:
    """A fresh MS-RequestId or MS-CorrelationId: a random version-4 GUID, as str(uuid.uuid4()).

    Built from os.urandom directly: 1.1 µs against uuid4's 2.6 µs, and every call makes one.
    """
    b = bytearray(os.urandom(16))
    b[6] = (b[6] & 0x0F) | 0x40  # version 4
    b[8] = (b[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class Client:
    """Partner Center calls over one shared session; use as `async with Client(...) as client`.

    base_url: REST root without trailing `/` (already checked by options.resolve_base_url).
    timeout: seconds for one call, connection and body included (--timeout).
    connections: size of the connection pool (--concurrency).
    """

    def __init__(
        self,
        base_url: str,
        tokens: TokenProvider,
        *,
        timeout: float,
        connections: int,
    ) -> None:
        self._root = base_url.rstrip("/")
        self._customers = self._root + "/v1/customers/"
        self._audit_records = self._root + "/v1/auditrecords?"
        self._validate = base_url.rstrip("/") + "/v1/validations/address"
        self._country_rules = base_url.rstrip("/") + "/v1/countryvalidationrules/"
        self._tokens = tokens
        self._timeout_s = timeout
        # The whole call is bounded by asyncio.timeout (in _call), not by aiohttp's total
        # timeout: aiohttp 3.14 enters its timer twice around one request, and when a stop
        # cancels a call at the moment that timer fires, the second exit turns the cancel into a
        # TimeoutError and the stop is lost (the customer retries instead of ending `skipped`).
        # aiohttp keeps only the connect bound, so a refused or silent host is still a CONNECT.
        self._timeout = aiohttp.ClientTimeout(total=None, connect=timeout, sock_connect=timeout)
        self._connections = connections
        self._base_headers = {
            "Accept": "application/json",
            "MS-Contract-Version": "v1",
            "MS-PartnerCenter-Application": APPLICATION,
        }
        self._session: aiohttp.ClientSession | None = None
        self._rejected: str | None = None  # the token a 401 refused last (for renew)

    async def __aenter__(self) -> Self:
        connector = aiohttp.TCPConnector(limit=self._connections, limit_per_host=self._connections)
        # trust_env stays off: proxies from the environment must not see a loopback stand-in's
        # traffic in tests, and a token goes where --base-url says and nowhere else.
        session = aiohttp.ClientSession(connector=connector, timeout=self._timeout)
        # aiohttp silently sends a GET or PUT again when a reused connection drops. A PUT
        # whose answer was lost may have landed: the engine must see that (to report the row
        # `updated` when the refetch shows its values) and pace the retry itself. No public
        # switch exists; this is the session's own flag (checked by test_client.py).
        if hasattr(session, "_retry_connection"):
            session._retry_connection = False
        self._session = session
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def get_profile(self, customer_id: str, request_id: str) -> Reply:
        """GET the customer's billing profile."""
        return await self._call("GET", self._profile_url(customer_id), request_id, kind="profile")

    async def put_profile(
        self, customer_id: str, resource: Mapping[str, object], etag: str, request_id: str
    ) -> Reply:
        """PUT the whole billing profile with If-Match set to `etag` (quoted)."""
        if_match = etag if etag.startswith('"') else f'"{etag}"'
        return await self._call(
            "PUT", self._profile_url(customer_id), request_id, resource, if_match, kind="profile"
        )

    async def validate_address(self, address: Mapping[str, object], request_id: str) -> Reply:
        """POST an address to /v1/validations/address; the verdict is in the body's `status`."""
        return await self._call("POST", self._validate, request_id, address, kind="address")

    async def list_customers(
        self, url: str, request_id: str, continuation: str | None = None
    ) -> Reply:
        """GET one page of the partner's customer list (export_rows.first_page_url for the
        first, then each page's links.next: its URL and MS-ContinuationToken).

        Only URLs under this client's REST root are called: the token goes nowhere else.
        """
        if not url.startswith(self._customers.removesuffix("/") + "?"):
            raise ValueError(f"not a customer-list URL of {self._root}: {url!r}")
        headers = None if continuation is None else {CONTINUATION_HEADER: continuation}
        return await self._call("GET", url, request_id, extra_headers=headers, kind="customer list")

    async def list_audit_records(
        self, url: str, request_id: str, continuation: str | None = None
    ) -> Reply:
        """GET one page of the partner's activity log (core/incremental.first_page_url for the
        first, then each page's links.next: its URL and MS-ContinuationToken). Partner Center
        docs: develop/get-a-record-of-partner-center-activity-by-user.md.

        Only URLs under this client's REST root are called: the token goes nowhere else.
        """
        if not url.startswith(self._audit_records):
            raise ValueError(f"not an activity-log URL of {self._root}: {url!r}")
        headers = None if continuation is None else {CONTINUATION_HEADER: continuation}
        return await self._call("GET", url, request_id, extra_headers=headers, kind="activity log")

    async def get_country_rules(self, iso2: str, request_id: str) -> Reply:
        """GET /v1/countryvalidationrules/{iso2}: a CountryValidationRules object in the body
        (REST docs "Get address formatting rules by market"); parse it with
        batch.core.country_rules.parse_country_rules."""
        if re.fullmatch(r"[A-Za-z]{2}", iso2) is None:
            raise ValueError(f"not a 2-letter country code: {iso2!r}")
        return await self._call(
            "GET", self._country_rules + iso2.upper(), request_id, kind="country rules"
        )

    async def renew_token(self) -> None:
        """After a 401: ask the provider for a token other than the refused one."""
        if self._rejected is not None:
            await self._tokens.renew(self._rejected)

    def _profile_url(self, customer_id: str) -> str:
        # The loader lets only canonical GUIDs through; checked again here because this is
        # where a bad id would address another resource (`../`, `?`, `#`).
        if not is_canonical_guid(customer_id):
            raise ValueError(f"not a canonical customer id: {customer_id!r}")
        return f"{self._customers}{customer_id}/profiles/billing"

    async def _call(
        self,
        method: str,
        url: str,
        request_id: str,
        payload: Mapping[str, object] | None = None,
        if_match: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
        *,
        kind: str,
    ) -> Reply:
        session = self._session
        if session is None:
            raise RuntimeError("Client used outside `async with`")
        token = await self._tokens.token()
        correlation_id = new_request_id()
        sent = self._base_headers.copy()
        if extra_headers is not None:
            sent.update(extra_headers)
        sent["Authorization"] = f"Bearer {token}"
        sent["MS-CorrelationId"] = correlation_id
        sent["MS-RequestId"] = request_id
        data = None
        if payload is not None:
            sent["Content-Type"] = "application/json"
            data = _ENCODE(payload).encode()
        if if_match is not None:
            sent["If-Match"] = if_match
        try:
            async with (
                asyncio.timeout(self._timeout_s),
                session.request(
                    method, url, data=data, headers=sent, allow_redirects=False
                ) as response,
            ):
                raw = await _bounded_body(response, LIMITS[kind])
                status = response.status
                retry_after = response.headers.get("Retry-After")
                header_etag = response.headers.get("ETag")
                date = _service_date(response.headers.get("Date"))
        except _TooLarge as exc:
            why = f"the answer is over {exc.limit >> 20} MiB, more than a {kind} holds: not read"
            return _lost(Fault.DISCONNECTED, why, request_id, correlation_id)
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError):
            return _lost(Fault.CONNECT, "could not connect", request_id, correlation_id)
        except TimeoutError:
            return _lost(Fault.TIMEOUT, "no answer in time", request_id, correlation_id)
        except aiohttp.ClientError as exc:
            why = f"connection lost ({type(exc).__name__})"
            return _lost(Fault.DISCONNECTED, why, request_id, correlation_id)
        if status == 401:
            self._rejected = token
        reply = _reply(status, raw, retry_after, header_etag, request_id, correlation_id)
        return replace(reply, date=date) if date is not None else reply


class _TooLarge(Exception):
    """An answer longer than its kind's limit (LIMITS)."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


async def _bounded_body(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The body, read in chunks; _TooLarge as soon as it (or its Content-Length) passes limit."""
    if response.content_length is not None and response.content_length > limit:
        raise _TooLarge(limit)
    body = bytearray()
    async for chunk in response.content.iter_chunked(_CHUNK):
        body += chunk
        if len(body) > limit:
            raise _TooLarge(limit)
    return bytes(body)


def _lost(fault: Fault, message: str, request_id: str, correlation_id: str) -> Reply:
    """A call that got no answer."""
    return Reply(
        0,
        _EMPTY,
        fault=fault,
        message=message,
        request_id=request_id,
        correlation_id=correlation_id,
    )


def _reply(
    status: int,
    raw: bytes,
    retry_after: str | None,
    header_etag: str | None,
    request_id: str,
    correlation_id: str,
) -> Reply:
    """An answer's parts as a Reply: body, etag, error code and text, Retry-After in seconds."""
    body, text = _decode(raw)
    etag = _etag(body, header_etag)
    code: str | None = None
    message = ""
    data: tuple[str, ...] = ()
    if status >= 300:
        code, message = _error(body, text, status)
        data = _error_data(body)
    return Reply(
        status,
        body,
        etag=etag,
        retry_after=parse_retry_after(retry_after, time.time()),
        error_code=code,
        message=message,
        request_id=request_id,
        correlation_id=correlation_id,
        data=data,
    )


def _service_date(header: str | None) -> datetime | None:
    """The `Date` header (RFC 9110 section 6.6.1: an HTTP-date, which every origin server with
    a clock sends) as aware UTC, or None when absent or unreadable."""
    if not header:
        return None
    try:
        moment = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _decode(raw: bytes) -> tuple[Mapping[str, object], str]:
    """(JSON object or {}, the text) of a body that may begin with a UTF-8 BOM."""
    text = raw.decode("utf-8-sig", errors="replace")
    if not text.strip():
        return _EMPTY, ""
    try:
        body = json.loads(text)
    except ValueError:
        return _EMPTY, text
    return (body if isinstance(body, dict) else _EMPTY), text


def _etag(body: Mapping[str, object], header: str | None) -> str | None:
    """The answer's etag, or None when it has none that could go back in an If-Match."""
    found: str | None = None
    attributes = key_of(body, "attributes")
    if isinstance(attributes, Mapping):
        etag = key_of(attributes, "etag")
        if etag is not None:
            found = str(etag)
    if found is None and header:
        found = header.removeprefix("W/").strip('"')
    return found if found is not None and _ETAG_CHARS.fullmatch(found) else None


def _text(value: object) -> str:
    """Server text made data: controls escaped, at most MAX_TEXT characters."""
    return escape_controls(str(value)[: MAX_TEXT * 2])[:MAX_TEXT]


def _error(body: Mapping[str, object], text: str, status: int) -> tuple[str | None, str]:
    """(code, description) of an error answer; 429's shape has a message and no code."""
    code = key_of(body, "code")
    description = key_of(body, "description") or key_of(body, "message")
    if description is None:
        description = " ".join(text[: MAX_TEXT * 4].split())[:200] or f"HTTP {status}"
    return (None if code is None else _text(code)), _text(description)


def _error_data(body: Mapping[str, object]) -> tuple[str, ...]:
    """The error's `data` entries as text: what a 400/27002 "A property has invalid data." says
    about which property (e.g. "property_name: StateInvalid - Details", as the NETSDK's
    ApiFault.ErrorData and the PowerShell module show it). Objects come as compact JSON."""
    data = key_of(body, "data")
    if not isinstance(data, list):
        return ()
    entries = (entry if isinstance(entry, str) else _ENCODE(entry) for entry in data[:20])
    return tuple(text for text in (_text(" ".join(e.split())[:300]) for e in entries) if text)
