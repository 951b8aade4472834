"""Every knob of the stand-in, and the record of one request it served.

SimConfig is read on every request, so a test may change it while the server runs (turn faults
off, lower a rate). Probabilities are per request in [0, 1] (customer_429_once: per customer);
the four 5xx probabilities together must not exceed 1. Rates are requests per second; None
means unlimited.
"""

from __future__ import annotations

import ipaddress
import re
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from batch.core.errors import ConfigError

if TYPE_CHECKING:
    from aiohttp import web

# The identity the simulator's token endpoint accepts. Its client secret and refresh token have
# no fixed default: a server makes random ones at start unless given (server.run_simulator), so
# nobody who can reach a forgotten stand-in on the machine can sign in to it.
DEFAULT_TENANT_ID = "8f3c6a2e-0d4b-4e7a-9c51-2b7d9e4f6a10"
DEFAULT_CLIENT_ID = "pcbatch-sim-client"

# A customer id as the stand-in takes it: 8-4-4-4-12 lower-case hexadecimal digits, no braces,
# the form pcbatch puts in a URL. The service's own parser may take more spellings; the stand-in
# takes only this one, so that a client sending another is caught (400, code 900118 "Invalid
# Customer Id", handlers.py).
_CUSTOMER_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_PROBABILITIES = (
    "fail_500",
    "fail_502",
    "fail_503",
    "fail_504",
    "drop_before",
    "drop_after_commit",
    "hang",
    "concurrent_writer",
    "fail_409",
    "commit_then_504",
    "customer_429_once",
)


@dataclass
class SimConfig:
    """Every setting of the stand-in; each is also a flag of `pcbatch simulate`.

    Defaults give a well-behaved server: no faults, no throttling, a one-hour token, a BOM on
    every JSON body (as the real service sends). `seed` makes customer generation and every fault
    decision repeatable: the same seed and the same sequence of requests give the same answers.
    """

    customers: int = 0  # N generated customers (varied valid addresses, many countries)
    customers_file: Path | None = None  # JSON {customer_tenant_id: profile(camelCase)}
    seed: int = 0
    stale_etag_status: int = 412  # 412, or 400 (answered with code 2055 "Etag is no longer valid")
    partner_rate: float | None = None  # requests/s for the whole partner (None = unlimited)
    partner_burst: int = 20  # bucket size: requests allowed at once after a quiet spell
    customer_rate: float | None = None  # requests/s per (partner, customer)
    customer_burst: int = 5
    customer_429_once: float = 0.0  # share of customers whose first request is answered 429
    customer_429_retry_after: int = 2  # the Retry-After (seconds) of that 429
    latency_ms: float = 0.0  # added to every REST answer; the median when latency_sigma > 0
    latency_sigma: float = 0.0  # spread of a lognormal latency (sigma of its log); 0 = fixed
    put_latency_factor: float = 1.0  # a PUT's latency is this many times a GET's
    jitter_ms: float = 0.0  # plus a uniform random 0..jitter_ms
    fail_500: float = 0.0
    fail_502: float = 0.0
    fail_503: float = 0.0
    fail_504: float = 0.0
    drop_before: float = 0.0  # connection closed before handling: nothing applied
    drop_after_commit: float = 0.0  # per successful PUT: committed, then connection closed
    hang: float = 0.0  # the answer waits hang_seconds first
    hang_seconds: float = 120.0
    clock_offset_s: float = 0.0  # the service's clock against the real one, in its Date headers
    audit_offset_s: float = 0.0  # the activity log's operationDate against the service's clock
    concurrent_writer: float = 0.0  # per billing-profile GET: another writer edits it right after
    token_lifetime_s: float = 3600.0
    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = ""  # "": a random one, made when the server starts
    tenant_id: str = DEFAULT_TENANT_ID
    refresh_token: str = ""  # "": a random one, made when the server starts
    token_redirect: str = ""  # a loopback http:// URL: every token request is answered 307 to it
    bom: bool = True  # prefix every JSON body with a UTF-8 byte-order mark
    forbidden: bool = False  # every REST call 403, code 900150: the app lacks PC permissions
    fail_409: float = 0.0  # per PUT: 409, code 800064 "being processed by another request"
    commit_then_504: float = 0.0  # per successful PUT: committed, then a gateway's 504 page
    retry_after_s: int | None = None  # Retry-After sent with fault answers 409/502/503/504
    no_relationship: str | None = None  # this customer answers 403, code 20002
    require_if_match: bool = True  # a PUT without If-Match is refused (else the body's etag)
    country_rules: bool = True  # refuse PUTs that break the published country rules (27002)
    audit_lag_s: float = 0.0  # a change shows in GET /v1/auditrecords this many seconds later
    audit_status: int | None = None  # every GET /v1/auditrecords answered with this status
    audit_retention_days: int = 90  # the activity log refuses a startDate further back (400)
    audit_failed_add_customer: bool = False  # a failed add_customer (no customerId) per change
    other_writer: str = "Partner Center Web"  # applicationId the log gives another writer's edits

    def check(self) -> None:
        """Raise ConfigError naming every setting that is out of range."""
        problems: list[str] = []
        for name in _PROBABILITIES:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                problems.append(f"{name} must be a probability between 0 and 1, not {value}")
        total_5xx = self.fail_500 + self.fail_502 + self.fail_503 + self.fail_504
        if total_5xx > 1.0 + 1e-9:
            problems.append(f"fail_500..fail_504 add up to {total_5xx:g}; at most 1")
        if self.stale_etag_status not in (400, 412):
            problems.append(f"stale_etag_status must be 412 or 400, not {self.stale_etag_status}")
        for name in ("partner_rate", "customer_rate"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                problems.append(f"{name} must be > 0 requests/s (leave it unset for unlimited)")
        for name in ("partner_burst", "customer_burst"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be at least 1")
        for name in ("latency_ms", "latency_sigma", "jitter_ms", "hang_seconds", "customers"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must not be negative")
        if self.retry_after_s is not None and self.retry_after_s < 0:
            problems.append("retry_after_s must not be negative")
        if self.no_relationship is not None and not is_customer_id(self.no_relationship):
            problems.append(
                f"no_relationship must be a customer id (a lower-case GUID), not"
                f" {self.no_relationship!r}"
            )
        if self.audit_lag_s < 0:
            problems.append("audit_lag_s must not be negative")
        if self.audit_status is not None and not 400 <= self.audit_status <= 599:
            problems.append(f"audit_status must be an HTTP error status, not {self.audit_status}")
        if self.audit_retention_days < 1:
            problems.append("audit_retention_days must be at least 1")
        if self.put_latency_factor <= 0:
            problems.append("put_latency_factor must be > 0")
        if self.customer_429_retry_after < 1:
            problems.append("customer_429_retry_after must be at least 1 second")
        if self.token_lifetime_s <= 0:
            problems.append("token_lifetime_s must be > 0 seconds")
        if self.token_redirect and not _loopback_http(self.token_redirect):
            problems.append("token_redirect must be an http:// URL on a loopback host")
        if problems:
            raise ConfigError("simulator settings: " + "; ".join(problems))


def is_customer_id(text: str) -> bool:
    """True for a customer id as the stand-in takes it: a lower-case GUID without braces."""
    return _CUSTOMER_ID.fullmatch(text) is not None


def is_loopback(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1 (brackets allowed): where the stand-in may be."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _loopback_http(url: str) -> bool:
    """True for an http:// URL whose host is loopback (the stand-in never points elsewhere)."""
    try:
        parts = urlsplit(url)
        return parts.scheme == "http" and is_loopback(parts.hostname or "")
    except ValueError:
        return False


SETTINGS: tuple[str, ...] = tuple(f.name for f in fields(SimConfig))

# Settings that are secrets in spirit: read from these environment variables, never from argv.
FROM_ENVIRONMENT = {"client_secret": "PCSIM_CLIENT_SECRET", "refresh_token": "PCSIM_REFRESH_TOKEN"}

# The --help text of each setting of `pcbatch simulate` (units included).
HELP: dict[str, str] = {
    "customers": "Generate N customers with varied, valid addresses in 20 countries.",
    "customers_file": "Load customers from a JSON file {customer_tenant_id: profile} (as "
    "--state-out writes); generated customers come after them.",
    "seed": "Seed of customer generation, etags and every fault decision: same seed, same run.",
    "stale_etag_status": "Answer to a PUT with a stale If-Match: 412, or 400 with code 2055 "
    '"Etag is no longer valid".',
    "partner_rate": "Throttle the partner at this many requests/s (429 + Retry-After); "
    "unlimited when not given.",
    "partner_burst": "Requests the partner may send at once after a quiet spell.",
    "customer_rate": "Throttle each customer at this many requests/s; unlimited when not given.",
    "customer_burst": "Requests one customer may receive at once after a quiet spell.",
    "customer_429_once": "Share of customers (0..1) whose first request is answered 429, as "
    "when another integration of the partner has spent that customer's quota; calls for the "
    "other customers go on.",
    "customer_429_retry_after": "Retry-After seconds of a --customer-429-once answer.",
    "latency_ms": "Milliseconds added to every REST answer: the median when --latency-sigma "
    "is above 0.",
    "latency_sigma": "Spread of a lognormal latency around --latency-ms (the sigma of its "
    "logarithm, e.g. 0.6); 0 keeps the latency fixed.",
    "put_latency_factor": "A PUT waits this many times a GET's latency (e.g. 2: writes are "
    "slower).",
    "jitter_ms": "Plus a random 0..N milliseconds.",
    "fail_500": "Probability (0..1) that a REST request is answered 500.",
    "fail_502": "Probability that a REST request is answered 502 (a gateway's HTML page).",
    "fail_503": "Probability that a REST request is answered 503.",
    "fail_504": "Probability that a REST request is answered 504 (a gateway's HTML page).",
    "drop_before": "Probability that the connection is closed before the request is handled.",
    "drop_after_commit": "Probability that a successful PUT is committed and then its "
    "connection closed (the answer is lost, the update is not).",
    "hang": "Probability that the answer is held back --hang-seconds (then handled, if the "
    "client is still there).",
    "hang_seconds": "Seconds a hung answer is held back.",
    "clock_offset_s": "Seconds the service's clock is ahead (or, negative, behind) the real "
    "one: the Date header of its answers.",
    "audit_offset_s": "Seconds the activity log's operationDate runs ahead (or, negative, "
    "behind) the service's own clock.",
    "concurrent_writer": "Probability that, right after a GET of a billing profile, another "
    "writer edits its email and addressLine2 (the client's PUT then meets a stale etag).",
    "token_lifetime_s": "Seconds an issued bearer token stays valid.",
    "client_id": "Client id the token endpoint accepts.",
    "client_secret": "Client secret the token endpoint accepts (from $PCSIM_CLIENT_SECRET only; "
    "random at each start when unset, and then printed).",
    "tenant_id": "Partner tenant id: the token endpoint's tenant.",
    "refresh_token": "Refresh token the token endpoint accepts (from $PCSIM_REFRESH_TOKEN only; "
    "random at each start when unset, and then printed).",
    "token_redirect": "Answer every token request with 307 Temporary Redirect to this loopback "
    "http:// URL, as a hijacked login server would (a client must not follow it).",
    "bom": "Start every JSON body with a UTF-8 byte-order mark, as Partner Center does.",
    "forbidden": "Answer every REST call 403 with code 900150, as Partner Center does when the "
    "app or user lacks Partner Center permissions (valid token, wrong rights).",
    "fail_409": "Probability that a PUT is answered 409 with code 800064 (the customer is being "
    "processed by another request); nothing is applied.",
    "commit_then_504": "Probability that a successful PUT is committed and then answered 504 "
    "with a gateway's HTML page (the update landed, the answer says it did not).",
    "retry_after_s": "Send Retry-After: N (seconds) with the fault answers 409, 502, 503 and "
    "504; none when not given.",
    "no_relationship": "Answer every call about this customer id 403 with code 20002 (the "
    "partner has no commerce relationship with the customer).",
    "require_if_match": "Refuse a PUT without If-Match (400, code 800002); with "
    "--no-require-if-match the etag may come in the body's Attributes.Etag, as the SDKs send it.",
    "country_rules": "Refuse a PUT whose address breaks its country's published rules (400, "
    'code 27002 "A property has invalid data.", the property named in data).',
    "audit_lag_s": "Seconds after a change before it shows in the activity log "
    "(GET /v1/auditrecords).",
    "audit_status": "Answer every GET /v1/auditrecords with this HTTP error status (the activity "
    "log unreadable).",
    "audit_retention_days": "Days of activity log kept: an earlier startDate is answered 400.",
    "audit_failed_add_customer": "Log a failed add_customer record without customerId (a "
    "customer creation that failed, as the service records it) before every billing-profile "
    "change the activity log records.",
    "other_writer": "The applicationId the activity log records for another writer's edits "
    "(--concurrent-writer's).",
}


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    """One request the stand-in received, as tests assert the client's conduct from it.

    at: time.monotonic() when the answer (or the drop) happened.
    status: the HTTP status sent, or 0 when the connection was closed without an answer
      (drop_before, drop_after_commit, a hang the client gave up on).
    customer_id: the URL's customer (lower case) for billing-profile calls, else None.
    request_id: the MS-RequestId header, else client-request-id (what MSAL sends to login).
    committed: a PUT that changed the store (True even when its answer was then dropped).
    fault: what the stand-in did on purpose: "409", "500", "502", "503", "504", "drop_before",
      "drop_after_commit", "commit_then_504", "hang", "throttled", "concurrent_writer" (the GET
      after which another writer edited the profile), "no_relationship", "foreign_host" (a Host
      header other than this server's loopback address: answered 421), "token_redirect" (a token
      request answered 307), or None.
    delay_s: the latency the stand-in added before answering (latency and jitter; a hang's
      extra wait not included), as faults.py drew it: tests check the latency's shape from it
      without timing anything.
    Token-endpoint calls are logged too; their form (secrets) never is.
    """

    at: float
    method: str
    path: str
    status: int
    customer_id: str | None
    committed: bool
    request_id: str | None
    correlation_id: str | None
    if_match: str | None
    application: str | None
    fault: str | None
    accept: str | None = None  # the Accept header
    contract_version: str | None = None  # the MS-Contract-Version header
    delay_s: float = 0.0
    body_etag: str | None = None  # a PUT body's attributes.etag (any key case), unquoted
    query: str = ""  # the query string as sent (the activity log's dates, a page size)

    @classmethod
    def of(
        cls,
        request: web.Request,
        status: int,
        *,
        customer_id: str | None = None,
        committed: bool = False,
        fault: str | None = None,
        delay_s: float = 0.0,
        body_etag: str | None = None,
    ) -> LoggedRequest:
        """The record of `request` answered with `status` (0: closed unanswered), stamped now."""
        headers = request.headers
        return cls(
            time.monotonic(),
            request.method,
            request.path,
            status,
            customer_id,
            committed,
            headers.get("MS-RequestId") or headers.get("client-request-id"),
            headers.get("MS-CorrelationId"),
            headers.get("If-Match"),
            headers.get("MS-PartnerCenter-Application"),
            fault,
            headers.get("Accept"),
            headers.get("MS-Contract-Version"),
            delay_s,
            body_etag,
            request.query_string,
        )
