"""The aiohttp.web application: Partner Center's REST routes, then the login routes.

Before any route: a request whose Host header is not a loopback address with this server's port
(`127.0.0.1:PORT`, `localhost:PORT`, `[::1]:PORT`) is answered 421 with a plain-text reason and
handled no further: a web page whose host name re-resolves to 127.0.0.1 (DNS rebinding) cannot
talk to the stand-in through a person's browser.

A REST request goes through these steps, in this order, and the first that answers ends it:
1. Authorization: a bearer token this server issued and that has not expired, else 401;
   with `forbidden` on, 403 code 900150 (the token is good, its rights are not).
2. Throttling: a customer's first request when it is one of `customer_429_once` (its own
   quota spent elsewhere), then the partner's bucket and the (partner, customer) bucket, else
   429 with `Retry-After: N` and the non-standard body `{"statusCode": 429, "message": ...}`.
3. Faults (faults.py): latency, then drop_before, hang or a 5xx; for a PUT, fail_409 (409, code
   800064). Fault answers 409/502/503/504 carry `Retry-After: retry_after_s` when it is set.
4. The route: GUID check (400, code 900118), the customer set as `no_relationship` (403, code
   20002), unknown customer (404, code 60003), then the call. The customer list
   (GET /v1/customers, customers.py) counts against the partner's bucket only.
5. drop_after_commit: a PUT that committed has its connection closed instead of answered;
   commit_then_504: a PUT that committed is answered 504 with a gateway's HTML page.
Every answer echoes MS-RequestId and MS-CorrelationId (new ones when the request had none) and
every JSON body starts with a UTF-8 BOM when `bom` is on. Errors are
`{"code": <int>, "description", "data": [...], "source": "PartnerFD"}` (`data` names the property
of a 27002); 502 and 504 come as a gateway's HTML page, as a front door sends them. Unknown paths:
404, code 1000.

PUT: `If-Match` (quoted or not, `W/` ignored) is required: missing or `*` is 400, code 800002.
With `require_if_match` off, a PUT without it is checked against the etag in the body's
`attributes.etag` (any key case: the .NET SDK sends `"Attributes": {"Etag": ...}` and no header),
and one with neither is applied unchecked. A stale etag is 412 (code 412) or 400 with code 2055
"Etag is no longer valid", per `stale_etag_status`; either way nothing is applied. The body is
read first, then the etag is checked (a stale one is answered even when the body is bad), then
the body parsed and applied, with no await in between: of two PUTs sent with the same etag,
exactly one commits. `Expect: 100-continue` is answered by aiohttp before the body is read.

GET /v1/auditrecords: the activity log (auditlog.py); a committed PUT is recorded with the
token's `appid` (and `upn`; an opaque token: the client it was issued to), another writer's edit
(Simulator.write_as_other_writer, the concurrent_writer fault) under config.other_writer; with
audit_failed_add_customer on, each is preceded by a failed add_customer record without
customerId; with audit_status set, every call is answered that status.

GET /v1/countryvalidationrules/{iso2}: the CountryValidationRules object the service publishes
for the country (Simulator.country_rules), `attributes.objectType` "CountryValidationRules"
added as a live answer has it; a country without one is 404, code 1000 "No validation rules were
found for the country/region XX" (the text New-PartnerCustomer reported, PowerShell docs issue
147).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from email.utils import formatdate
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from aiohttp import web

from batch.simulator import addresses, auditlog, customers, faults, rules
from batch.simulator.buckets import retry_after
from batch.simulator.config import LoggedRequest, is_customer_id, is_loopback
from batch.simulator.oauth import OAuthEndpoints
from batch.simulator.store import dumps
from batch.simulator.tokens import jwt_claims

if TYPE_CHECKING:
    from batch.simulator.server import Simulator

BOM = b"\xef\xbb\xbf"
JSON_TYPE = "application/json; charset=utf-8"
_GATEWAY_PAGE = (
    "<html><head><title>{status} {reason}</title></head><body><h1>{status} {reason}</h1>"
    "<p>The gateway did not receive a timely or valid response from the upstream server.</p>"
    "</body></html>"
)
_REASONS = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


_FORBIDDEN = "The supplied role does not have the rights to perform the requested operation"


def error_body(code: int, description: str, data: tuple[str, ...] = ()) -> bytes:
    """The standard Partner Center error body (without the BOM)."""
    return dumps(
        {"code": code, "description": description, "data": list(data), "source": "PartnerFD"}
    )


# 409: the status is documented ("409: Conflict, error code", error-codes.md); the code and text
# are those reported from the live service (pcbatch issue 17), not found in the docs' table.
_CONFLICT_CODE = 800064
_CONFLICT = "The customer is being processed by another request. Please retry later."
_NO_RELATIONSHIP = "The partner ID {0} has no commerce relationship with the customer ID {1}."
_COUNTRY_RULES_OBJECT = {"objectType": "CountryValidationRules"}


class _Call:
    """What the log records about one REST request while it is being answered."""

    __slots__ = ("body_etag", "committed", "customer_id", "delay_s", "fault", "status")

    def __init__(self, customer_id: str | None) -> None:
        self.customer_id = customer_id
        self.status = 0
        self.committed = False
        self.fault: str | None = None
        self.delay_s = 0.0
        self.body_etag: str | None = None  # a PUT body's attributes.etag, for the log


Handler = Callable[[web.Request, _Call, faults.Decision], Awaitable[tuple[int, bytes]]]


class Rest:
    """The REST handlers of one Simulator."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    def routes(self) -> list[web.RouteDef]:
        """REST routes; every other /v1 path answers 404 in the standard shape."""
        return [
            web.route("*", "/v1/customers", self.customer_list),
            web.route("*", "/v1/customers/{customer_id}/profiles/billing", self.billing),
            web.route("*", "/v1/validations/address", self.validations),
            web.route("*", "/v1/countryvalidationrules/{iso2}", self.country_rules),
            web.route("*", "/v1/auditrecords", self.audit_records),
            web.route("*", "/v1/{tail:.*}", self.unknown),
        ]

    async def billing(self, request: web.Request) -> web.StreamResponse:
        """GET and PUT of a customer's billing profile."""
        customer_id = request.match_info["customer_id"].lower()
        if request.method == "GET":
            return await self._serve(request, customer_id, self._get)
        if request.method == "PUT":
            return await self._serve(request, customer_id, self._put)
        return await self._serve(request, customer_id, _not_allowed)

    async def customer_list(self, request: web.Request) -> web.StreamResponse:
        """GET /v1/customers?size=N: the partner's customers, a page at a time (customers.py)."""
        handler = self._list if request.method == "GET" else _not_allowed
        return await self._serve(request, None, handler)

    async def validations(self, request: web.Request) -> web.StreamResponse:
        """POST /v1/validations/address."""
        handler = self._validate if request.method == "POST" else _not_allowed
        return await self._serve(request, None, handler)

    async def country_rules(self, request: web.Request) -> web.StreamResponse:
        """GET /v1/countryvalidationrules/{iso2}."""
        handler = self._country_rules if request.method == "GET" else _not_allowed
        return await self._serve(request, None, handler)

    async def audit_records(self, request: web.Request) -> web.StreamResponse:
        """GET /v1/auditrecords: the activity log, a page at a time (auditlog.py)."""
        handler = self._audit if request.method == "GET" else _not_allowed
        return await self._serve(request, None, handler)

    async def unknown(self, request: web.Request) -> web.StreamResponse:
        """Any other /v1 path."""
        return await self._serve(request, None, _not_found)

    async def outside(self, request: web.Request) -> web.StreamResponse:
        """A path outside /v1 and the login endpoints: 404, code 1000, before any other check."""
        call = _Call(None)
        try:
            return self._answer(call, 404, _not_found_body(request), _echo(request.headers))
        finally:
            self._log(request, call)

    async def _serve(
        self, request: web.Request, customer_id: str | None, handler: Handler
    ) -> web.StreamResponse:
        sim = self.sim
        config = sim.config
        headers = request.headers
        call = _Call(customer_id)
        out = _echo(headers)
        profile = customer_id is not None and handler in (self._get, self._put)
        if profile:
            sim.profiles_in_flight += 1
            sim.profiles_in_flight_max = max(sim.profiles_in_flight_max, sim.profiles_in_flight)
        try:
            try:
                partner = sim.tokens.partner(headers.get("Authorization"))
            except rules.Refusal as refusal:
                out["WWW-Authenticate"] = "OAuth realm=urn:cpsvc:cpid:pcbatch-simulator"
                return self._answer(
                    call, refusal.status, error_body(refusal.code, refusal.description), out
                )
            if config.forbidden:
                return self._answer(call, 403, error_body(900150, _FORBIDDEN), out)
            if (
                customer_id is not None
                and customer_id not in sim.throttled_once
                and faults.throttled_once(config.seed, customer_id, config.customer_429_once)
            ):
                # Partner Center keys some quotas per partner and customer, and the partner's
                # other integrations spend them too (api-throttling-guidance.md): this customer's
                # quota is spent, the others' are not. Answered before the buckets: no token spent.
                sim.throttled_once.add(customer_id)
                call.fault = "throttled_once"
                return self._throttled(call, config.customer_429_retry_after, out)
            wait = sim.buckets.take(
                time.monotonic(),
                partner,
                customer_id,
                (config.partner_rate, config.partner_burst),
                (config.customer_rate, config.customer_burst),
            )
            if wait > 0.0:
                call.fault = "throttled"
                return self._throttled(call, retry_after(wait), out)
            decision = sim.faults.decide(config, request.method)
            call.delay_s = decision.delay_s
            if decision.delay_s > 0.0:
                await asyncio.sleep(decision.delay_s)
            if decision.before is not None:
                fault = decision.before
                call.fault = fault
                if fault == "drop_before":
                    return _drop(request)
                if fault == "hang":
                    await asyncio.sleep(config.hang_seconds)
                    if request.transport is None or request.transport.is_closing():
                        return _drop(request)  # the client gave up: nothing is handled
                else:
                    return self._fault(call, int(fault), out)
            if decision.conflict and handler == self._put:
                call.fault = "409"
                return self._fault(call, 409, out)
            try:
                status, body = await handler(request, call, decision)
            except rules.Refusal as refusal:
                status = refusal.status
                body = error_body(refusal.code, refusal.description, refusal.data)
            if call.committed and decision.drop_after_commit:
                call.fault = "drop_after_commit"
                return _drop(request)
            if call.committed and decision.commit_then_504:
                call.fault = "commit_then_504"
                return self._fault(call, 504, out, retry_after=False)
            return self._answer(call, status, body, out)
        finally:
            if profile:
                sim.profiles_in_flight -= 1
            self._log(request, call)

    def _log(self, request: web.Request, call: _Call) -> None:
        self.sim.log.append(
            LoggedRequest.of(
                request,
                call.status,
                customer_id=call.customer_id,
                committed=call.committed,
                fault=call.fault,
                delay_s=call.delay_s,
                body_etag=call.body_etag,
            )
        )

    def _answer(self, call: _Call, status: int, body: bytes, out: dict[str, str]) -> web.Response:
        call.status = status
        offset = self.sim.config.clock_offset_s
        if offset:  # a service whose clock is off (aiohttp writes the right time otherwise)
            out["Date"] = formatdate(time.time() + offset, usegmt=True)
        if self.sim.config.bom:
            body = BOM + body
        return web.Response(status=status, body=body, headers=out)

    def _throttled(self, call: _Call, seconds: int, out: dict[str, str]) -> web.Response:
        """429 with Retry-After and the non-standard body Partner Center sends with it."""
        out["Retry-After"] = str(seconds)
        message = f"Rate limit is exceeded. Try again in {seconds} seconds."
        return self._answer(call, 429, dumps({"statusCode": 429, "message": message}), out)

    def _fault(
        self, call: _Call, status: int, out: dict[str, str], *, retry_after: bool = True
    ) -> web.Response:
        seconds = self.sim.config.retry_after_s
        if retry_after and seconds is not None and status in (409, 502, 503, 504):
            out["Retry-After"] = str(seconds)
        if status == 409:
            return self._answer(call, 409, error_body(_CONFLICT_CODE, _CONFLICT), out)
        reason = _REASONS[status]
        if status in (502, 504):
            out["Content-Type"] = "text/html; charset=utf-8"
            call.status = status
            page = _GATEWAY_PAGE.format(status=status, reason=reason).encode()
            return web.Response(status=status, body=page, headers=out)
        return self._answer(call, status, error_body(status, f"{reason}. Please retry later."), out)

    def _customer(self, call: _Call) -> str:
        customer_id = call.customer_id or ""
        if not is_customer_id(customer_id):
            raise rules.Refusal(400, 900118, "Invalid Customer Id")
        config = self.sim.config
        if customer_id == config.no_relationship:
            call.fault = "no_relationship"
            raise rules.Refusal(403, 20002, _NO_RELATIONSHIP.format(config.tenant_id, customer_id))
        if customer_id not in self.sim.store:
            raise rules.Refusal(
                404, 60003, f"Tenant not found: no customer {customer_id} for this partner."
            )
        return customer_id

    async def _get(
        self, request: web.Request, call: _Call, decision: faults.Decision
    ) -> tuple[int, bytes]:
        customer_id = self._customer(call)
        store = self.sim.store
        body = store.served(customer_id)
        if decision.concurrent_writer:
            # The other writer lands between this GET and the client's PUT: the etag just
            # served goes stale, and the edit touches fields a billing-address job leaves alone.
            self.sim.writer_edits += 1
            n = self.sim.writer_edits
            self.sim.write_as_other_writer(
                customer_id,
                {
                    "email": f"other-writer-{n}@example.com",
                    "defaultAddress": {"addressLine2": f"Edited by another writer ({n})"},
                },
            )
            call.fault = "concurrent_writer"
        return 200, body

    async def _put(
        self, request: web.Request, call: _Call, decision: faults.Decision
    ) -> tuple[int, bytes]:
        customer_id = self._customer(call)
        store = self.sim.store
        # The only await: from here to the commit nothing else runs, so the etag checked below
        # is still the current one when the profile is replaced (no lost update).
        raw = await request.read()
        config = self.sim.config
        with contextlib.suppress(UnicodeDecodeError, ValueError):  # refused below if bad
            call.body_etag = _body_etag(json.loads(raw.decode("utf-8-sig")))
        if_match = _etag_of(request.headers.get("If-Match"))
        document: object = None
        if if_match is None and not config.require_if_match:
            document = _json(raw)
            if_match = _body_etag(document)
            if if_match is None:
                if_match = store.etag(customer_id)  # no etag anywhere: applied unchecked
        if if_match is None or if_match == "*":
            raise rules.Refusal(
                400,
                800002,
                "Invalid request input: the If-Match header is required; send the etag of the"
                ' profile you last read, e.g. If-Match: "<attributes.etag>".',
            )
        if if_match != store.etag(customer_id):
            if self.sim.config.stale_etag_status == 400:
                raise rules.Refusal(400, 2055, "Etag is no longer valid")
            raise rules.Refusal(
                412,
                412,
                "Precondition failed: the etag in If-Match is not the profile's current etag;"
                " read the profile again.",
            )
        if document is None:
            document = _json(raw)
        rules_for = self.sim.rules_for if config.country_rules else None
        body = store.replace(customer_id, document, rules_for)
        call.committed = True
        # The service logs every change with who made it (auditlog.py): the token's app and user
        # (an opaque token's app is the client it was issued to).
        token = _bearer(request.headers.get("Authorization"))
        claims = jwt_claims(token)
        upn, appid = claims.get("upn"), claims.get("appid")
        self.sim.log_billing_update(
            customer_id,
            appid if isinstance(appid, str) else self.sim.tokens.client_of(token),
            upn if isinstance(upn, str) else None,
        )
        return 200, body

    async def _audit(
        self, request: web.Request, call: _Call, decision: faults.Decision
    ) -> tuple[int, bytes]:
        config = self.sim.config
        if config.audit_status is not None:
            status = config.audit_status
            raise rules.Refusal(status, status, "The activity log is not available right now.")
        continuation = request.headers.get(auditlog.CONTINUATION_HEADER)
        page = self.sim.audit.page(
            request.query,
            continuation,
            lag_s=config.audit_lag_s,
            retention_days=config.audit_retention_days,
        )
        return 200, dumps(page)

    async def _list(
        self, request: web.Request, call: _Call, decision: faults.Decision
    ) -> tuple[int, bytes]:
        continuation = request.headers.get(customers.CONTINUATION_HEADER)
        return 200, dumps(customers.customers_page(self.sim.store, request.query, continuation))

    async def _country_rules(
        self, request: web.Request, call: _Call, decision: faults.Decision
    ) -> tuple[int, bytes]:
        iso2 = request.match_info["iso2"]
        document = self.sim.country_rules.get(iso2.upper())
        if document is None:
            raise rules.Refusal(
                404, 1000, f"No validation rules were found for the country/region {iso2}"
            )
        if isinstance(document, bytes):
            return 200, document
        if isinstance(document, dict) and "attributes" not in document:
            document = {**document, "attributes": _COUNTRY_RULES_OBJECT}
        return 200, dumps(document)

    async def _validate(
        self, request: web.Request, call: _Call, decision: faults.Decision
    ) -> tuple[int, bytes]:
        document = _json(await request.read())
        return 200, dumps(addresses.validate_address(document))


def _json(raw: bytes) -> object:
    """A request body as JSON (a BOM allowed), else Refusal 400 with code 800002."""
    try:
        return json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise rules.Refusal(
            400, 800002, "Invalid request input: the body is not UTF-8 JSON."
        ) from exc


def _body_etag(document: object) -> str | None:
    """The etag in a PUT body's attributes.etag, any key case (as the .NET SDK sends it)."""
    if not isinstance(document, Mapping):
        return None
    for key, attributes in document.items():
        if str(key).lower() == "attributes" and isinstance(attributes, Mapping):
            for name, value in attributes.items():
                if str(name).lower() == "etag" and isinstance(value, str | int):
                    return _etag_of(str(value))
    return None


def _etag_of(header: str | None) -> str | None:
    """The etag in an If-Match header: quotes and a weak `W/` prefix removed; None if empty."""
    if header is None:
        return None
    value = header.strip()
    if value[:2] in ("W/", "w/"):
        value = value[2:]
    value = value.strip().strip('"').strip()
    return value or None


def _bearer(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _drop(request: web.Request) -> web.Response:
    """Close the connection without an answer: the client sees a disconnect, not a status."""
    if request.transport is not None:
        request.transport.close()
    return web.Response(status=499)  # never sent: the transport is already closing


def _echo(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers every answer starts with: JSON, and the request's ids (new ones if none)."""
    return {
        "Content-Type": JSON_TYPE,
        "MS-RequestId": headers.get("MS-RequestId") or str(uuid.uuid4()),
        "MS-CorrelationId": headers.get("MS-CorrelationId") or str(uuid.uuid4()),
    }


def _not_found_body(request: web.Request) -> bytes:
    return error_body(1000, f"Not found: {request.method} {request.path}")


async def _not_found(
    request: web.Request, call: _Call, decision: faults.Decision
) -> tuple[int, bytes]:
    return 404, _not_found_body(request)


async def _not_allowed(
    request: web.Request, call: _Call, decision: faults.Decision
) -> tuple[int, bytes]:
    return 405, error_body(405, f"Method {request.method} is not allowed on {request.path}")


def _local_port(request: web.Request) -> int | None:
    """The port this request reached (None when the connection is gone)."""
    transport = request.transport
    sockname = transport.get_extra_info("sockname") if transport is not None else None
    return sockname[1] if isinstance(sockname, tuple) and len(sockname) >= 2 else None


def loopback_host(host: str | None, port: int | None) -> bool:
    """True when a Host header names a loopback address (or localhost) and `port`, nothing else.

    A Host without a port means port 80, as HTTP says.
    """
    if not host or port is None:
        return False
    try:
        parts = urlsplit(f"//{host}")
        given = parts.port or 80
    except ValueError:
        return False
    if parts.username is not None or parts.path or parts.query or parts.fragment:
        return False
    return is_loopback(parts.hostname or "") and given == port


def _host_guard(sim: Simulator) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def guard(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        port = _local_port(request)
        host = request.headers.get("Host")
        if loopback_host(host, port):
            return await handler(request)
        sim.log.append(LoggedRequest.of(request, 421, fault="foreign_host"))
        text = (
            f"421 Misdirected Request: the pcbatch simulator answers only requests addressed to "
            f"a loopback address and its port (127.0.0.1:{port}, localhost:{port}, "
            f"[::1]:{port}), not to Host {host!r}: a name that resolves to 127.0.0.1 is refused "
            "on purpose (DNS rebinding)\n"
        )
        return web.Response(status=421, text=text)

    return guard


def build_app(sim: Simulator) -> web.Application:
    """The application serving one Simulator; request bodies up to 1 MiB."""
    app = web.Application(client_max_size=1024 * 1024, middlewares=[_host_guard(sim)])
    rest = Rest(sim)
    app.add_routes(rest.routes())
    app.add_routes(OAuthEndpoints(sim).routes())
    app.add_routes([web.route("*", "/{tail:.*}", rest.outside)])
    return app
