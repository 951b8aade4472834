"""What each REST call does once app.py's pipeline has let it through to its route.

A handler is called with the request, the Call being logged and the fault Decision, and answers
(status, body), or raises rules.Refusal for an error answer. A customer's billing profile is
checked first: GUID (400, code 900118), the customer set as `no_relationship` (403, code 20002),
unknown customer (404, code 60003).

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

GET /v1/customers: the partner's customers, a page at a time (customers.py). POST
/v1/validations/address: addresses.py.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

from aiohttp import web

from batch.simulator import addresses, auditlog, customers, faults, rules
from batch.simulator.config import is_customer_id
from batch.simulator.store import dumps
from batch.simulator.tokens import jwt_claims

if TYPE_CHECKING:
    from batch.simulator.server import Simulator

_NO_RELATIONSHIP = "The partner ID {0} has no commerce relationship with the customer ID {1}."
_COUNTRY_RULES_OBJECT = {"objectType": "CountryValidationRules"}


class Call:
    """What the log records about one REST request while it is being answered."""

    __slots__ = ("body_etag", "committed", "customer_id", "delay_s", "fault", "status")

    def __init__(self, customer_id: str | None) -> None:
        self.customer_id = customer_id
        self.status = 0
        self.committed = False
        self.fault: str | None = None
        self.delay_s = 0.0
        self.body_etag: str | None = None  # a PUT body's attributes.etag, for the log


Handler = Callable[[web.Request, Call, faults.Decision], Awaitable[tuple[int, bytes]]]


class Handlers:
    """The REST calls of one Simulator, each a Handler."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    def _customer(self, call: Call) -> str:
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

    async def get_profile(
        self, request: web.Request, call: Call, decision: faults.Decision
    ) -> tuple[int, bytes]:
        """GET of a customer's billing profile (and the concurrent_writer fault's edit)."""
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

    async def put_profile(
        self, request: web.Request, call: Call, decision: faults.Decision
    ) -> tuple[int, bytes]:
        """PUT of a customer's billing profile, checked against its etag (module docstring)."""
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
        self._log_update(request, customer_id)
        return 200, body

    def _log_update(self, request: web.Request, customer_id: str) -> None:
        """Record a committed PUT in the activity log with who made it.

        The service logs every change with who made it (auditlog.py): the token's app and user
        (an opaque token's app is the client it was issued to).
        """
        token = _bearer(request.headers.get("Authorization"))
        claims = jwt_claims(token)
        upn, appid = claims.get("upn"), claims.get("appid")
        self.sim.log_billing_update(
            customer_id,
            appid if isinstance(appid, str) else self.sim.tokens.client_of(token),
            upn if isinstance(upn, str) else None,
        )

    async def audit_records(
        self, request: web.Request, call: Call, decision: faults.Decision
    ) -> tuple[int, bytes]:
        """GET /v1/auditrecords: a page of the activity log (auditlog.py)."""
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

    async def customer_list(
        self, request: web.Request, call: Call, decision: faults.Decision
    ) -> tuple[int, bytes]:
        """GET /v1/customers: a page of the partner's customers (customers.py)."""
        continuation = request.headers.get(customers.CONTINUATION_HEADER)
        return 200, dumps(customers.customers_page(self.sim.store, request.query, continuation))

    async def country_rules(
        self, request: web.Request, call: Call, decision: faults.Decision
    ) -> tuple[int, bytes]:
        """GET /v1/countryvalidationrules/{iso2}: the rules published for the country."""
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

    async def validate_address(
        self, request: web.Request, call: Call, decision: faults.Decision
    ) -> tuple[int, bytes]:
        """POST /v1/validations/address (addresses.py)."""
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
