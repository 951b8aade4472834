"""The aiohttp.web application: Partner Center's REST routes, then the login routes.

Before any route, hostguard.py answers 421 to a request whose Host is not loopback and this
server's port (DNS rebinding).

A REST request goes through these steps, in this order, and the first that answers ends it:
1. Authorization: a bearer token this server issued and that has not expired, else 401;
   with `forbidden` on, 403 code 900150 (the token is good, its rights are not).
2. Throttling: a customer's first request when it is one of `customer_429_once` (its own
   quota spent elsewhere), then the partner's bucket and the (partner, customer) bucket, else
   429 with `Retry-After: N` and the non-standard body `{"statusCode": 429, "message": ...}`.
3. Faults (faults.py): latency, then drop_before, hang or a 5xx; for a PUT, fail_409 (409, code
   800064). Fault answers 409/502/503/504 carry `Retry-After: retry_after_s` when it is set.
4. The route (handlers.py): GUID check (400, code 900118), the customer set as
   `no_relationship` (403, code 20002), unknown customer (404, code 60003), then the call. The
   customer list (GET /v1/customers, customers.py) counts against the partner's bucket only.
5. drop_after_commit: a PUT that committed has its connection closed instead of answered;
   commit_then_504: a PUT that committed is answered 504 with a gateway's HTML page.
Every answer echoes MS-RequestId and MS-CorrelationId (new ones when the request had none) and
every JSON body starts with a UTF-8 BOM when `bom` is on. Errors are
`{"code": <int>, "description", "data": [...], "source": "PartnerFD"}` (`data` names the property
of a 27002); 502 and 504 come as a gateway's HTML page, as a front door sends them. Unknown paths:
404, code 1000.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping
from email.utils import formatdate
from typing import TYPE_CHECKING

from aiohttp import web

from batch.simulator import faults, rules
from batch.simulator.buckets import retry_after
from batch.simulator.config import LoggedRequest
from batch.simulator.handlers import Call, Handler, Handlers
from batch.simulator.hostguard import host_guard
from batch.simulator.oauth import OAuthEndpoints
from batch.simulator.store import dumps

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


class Rest:
    """The REST routes of one Simulator: each request through the steps, then its handler."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.calls = Handlers(sim)

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
            return await self._serve(request, customer_id, self.calls.get_profile)
        if request.method == "PUT":
            return await self._serve(request, customer_id, self.calls.put_profile)
        return await self._serve(request, customer_id, _not_allowed)

    async def customer_list(self, request: web.Request) -> web.StreamResponse:
        """GET /v1/customers?size=N: the partner's customers, a page at a time (customers.py)."""
        handler = self.calls.customer_list if request.method == "GET" else _not_allowed
        return await self._serve(request, None, handler)

    async def validations(self, request: web.Request) -> web.StreamResponse:
        """POST /v1/validations/address."""
        handler = self.calls.validate_address if request.method == "POST" else _not_allowed
        return await self._serve(request, None, handler)

    async def country_rules(self, request: web.Request) -> web.StreamResponse:
        """GET /v1/countryvalidationrules/{iso2}."""
        handler = self.calls.country_rules if request.method == "GET" else _not_allowed
        return await self._serve(request, None, handler)

    async def audit_records(self, request: web.Request) -> web.StreamResponse:
        """GET /v1/auditrecords: the activity log, a page at a time (auditlog.py)."""
        handler = self.calls.audit_records if request.method == "GET" else _not_allowed
        return await self._serve(request, None, handler)

    async def unknown(self, request: web.Request) -> web.StreamResponse:
        """Any other /v1 path."""
        return await self._serve(request, None, _not_found)

    async def outside(self, request: web.Request) -> web.StreamResponse:
        """A path outside /v1 and the login endpoints: 404, code 1000, before any other check."""
        call = Call(None)
        try:
            return self._answer(call, 404, _not_found_body(request), _echo(request.headers))
        finally:
            self._log(request, call)

    async def _serve(
        self, request: web.Request, customer_id: str | None, handler: Handler
    ) -> web.StreamResponse:
        """One REST request through the module docstring's steps; the first that answers ends it."""
        sim = self.sim
        call = Call(customer_id)
        out = _echo(request.headers)
        profile = customer_id is not None and handler in (
            self.calls.get_profile,
            self.calls.put_profile,
        )
        if profile:
            sim.profiles_in_flight += 1
            sim.profiles_in_flight_max = max(sim.profiles_in_flight_max, sim.profiles_in_flight)
        try:
            refused = self._refused(request, call, out)
            if refused is not None:
                return refused
            decision = sim.faults.decide(sim.config, request.method)
            is_put = handler == self.calls.put_profile
            faulted = await self._faulted(request, call, decision, out, is_put=is_put)
            if faulted is not None:
                return faulted
            return await self._handled(request, call, decision, handler, out)
        finally:
            if profile:
                sim.profiles_in_flight -= 1
            self._log(request, call)

    def _refused(
        self, request: web.Request, call: Call, out: dict[str, str]
    ) -> web.Response | None:
        """Steps 1 and 2: the answer refusing the token, its rights or its rate; None to go on."""
        try:
            partner = self.sim.tokens.partner(request.headers.get("Authorization"))
        except rules.Refusal as refusal:
            out["WWW-Authenticate"] = "OAuth realm=urn:cpsvc:cpid:pcbatch-simulator"
            return self._answer(
                call, refusal.status, error_body(refusal.code, refusal.description), out
            )
        if self.sim.config.forbidden:
            return self._answer(call, 403, error_body(900150, _FORBIDDEN), out)
        return self._rate_limited(call, partner, out)

    def _rate_limited(self, call: Call, partner: str, out: dict[str, str]) -> web.Response | None:
        """Step 2: 429 when the customer's own quota or a bucket is spent, else None."""
        sim = self.sim
        config = sim.config
        customer_id = call.customer_id
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
        return None

    async def _faulted(
        self,
        request: web.Request,
        call: Call,
        decision: faults.Decision,
        out: dict[str, str],
        *,
        is_put: bool,
    ) -> web.StreamResponse | None:
        """Step 3: the latency, then the fault's answer (or dropped connection), else None."""
        hang_seconds = self.sim.config.hang_seconds  # the config the request started with
        call.delay_s = decision.delay_s
        if decision.delay_s > 0.0:
            await asyncio.sleep(decision.delay_s)
        if decision.before is not None:
            fault = decision.before
            call.fault = fault
            if fault == "drop_before":
                return _drop(request)
            if fault == "hang":
                await asyncio.sleep(hang_seconds)
                if request.transport is None or request.transport.is_closing():
                    return _drop(request)  # the client gave up: nothing is handled
            else:
                return self._fault(call, int(fault), out)
        if decision.conflict and is_put:
            call.fault = "409"
            return self._fault(call, 409, out)
        return None

    async def _handled(
        self,
        request: web.Request,
        call: Call,
        decision: faults.Decision,
        handler: Handler,
        out: dict[str, str],
    ) -> web.StreamResponse:
        """Steps 4 and 5: the handler's answer, unless a committed PUT is dropped or 504'd."""
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

    def _log(self, request: web.Request, call: Call) -> None:
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

    def _answer(self, call: Call, status: int, body: bytes, out: dict[str, str]) -> web.Response:
        call.status = status
        offset = self.sim.config.clock_offset_s
        if offset:  # a service whose clock is off (aiohttp writes the right time otherwise)
            out["Date"] = formatdate(time.time() + offset, usegmt=True)
        if self.sim.config.bom:
            body = BOM + body
        return web.Response(status=status, body=body, headers=out)

    def _throttled(self, call: Call, seconds: int, out: dict[str, str]) -> web.Response:
        """429 with Retry-After and the non-standard body Partner Center sends with it."""
        out["Retry-After"] = str(seconds)
        message = f"Rate limit is exceeded. Try again in {seconds} seconds."
        return self._answer(call, 429, dumps({"statusCode": 429, "message": message}), out)

    def _fault(
        self, call: Call, status: int, out: dict[str, str], *, retry_after: bool = True
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
    request: web.Request, call: Call, decision: faults.Decision
) -> tuple[int, bytes]:
    return 404, _not_found_body(request)


async def _not_allowed(
    request: web.Request, call: Call, decision: faults.Decision
) -> tuple[int, bytes]:
    return 405, error_body(405, f"Method {request.method} is not allowed on {request.path}")


def build_app(sim: Simulator) -> web.Application:
    """The application serving one Simulator; request bodies up to 1 MiB."""
    app = web.Application(client_max_size=1024 * 1024, middlewares=[host_guard(sim)])
    rest = Rest(sim)
    app.add_routes(rest.routes())
    app.add_routes(OAuthEndpoints(sim).routes())
    app.add_routes([web.route("*", "/{tail:.*}", rest.outside)])
    return app
