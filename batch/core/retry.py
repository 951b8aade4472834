"""What to do with one answer from Partner Center: done, refetch, wait and retry, renew, or give up.

Rules (README.md, "Usage: `pcbatch run`", "What goes over the wire" and "Expiry, renewal and
refusals"), as a table on the answer:

    2xx                         DONE
    412, or 400 with code 2055  REFETCH (stale etag; GET again and re-apply)   budget: conflict
    429                         RETRY after Retry-After (2 s if absent)       budget: throttle
    409 500 502 503 504         RETRY after max(backoff, Retry-After), new     budget: fault
                                  MS-RequestId
    no answer (timeout, drop)   RETRY after backoff, SAME MS-RequestId         budget: fault
    a PUT's unknown outcome     READ_BACK: GET the profile first (it may hold  budget: fault
      (no answer after sending,   the row's values already), then the PUT
      or 500 502 503 504)         again with the SAME MS-RequestId
    the pre-flight read's        GIVE_UP at once: preflight.misconfiguration judges the answer
      fault, 409 or 5xx           (an outage is the rows' to retry, not the pre-flight's)
    401, first time on a call   RENEW the token, then send again
    401 again                   ABORT the run (exit 3); the row ends rejected
    403 with a credential-wide  REFUSED before any 2xx of the run (any_success False): the row
      code (CREDENTIAL_WIDE_403,  ends rejected, and --resume sends it again; several such
      or no code)                 customers and still no success stop the run (core/stops.py)
    404                         GIVE_UP not_found (rejected for the address validation: a 404
                                  there is no verdict on the customer)
    other 4xx (403 20002 too),  GIVE_UP rejected (the service's code and description)
      other statuses
    a budget spent              GIVE_UP failed

Who waits a RETRY's delay (Decision.waits): after a 429 the whole run's gate (pacing.Pacer holds
every worker, or this customer's next call, until Retry-After has passed); after a fault, this
call alone (its backoff).

The row that finds the credentials refused (ABORT) ends `rejected` with a message beginning
with CREDENTIALS_REFUSED, and is sent again by --resume (Outcome.retry_on_resume); so does a row
REFUSED (message beginning with RIGHTS_REFUSED). A 403 with any other code (20002: no commerce
relationship with this customer), or any 403 after the run has succeeded, refuses that customer
only, for good.

Each budget counts on its own against `max_attempts`: a call may meet 5 throttles, then 5
faults, and still succeed. Throttle and fault budgets belong to one HTTP call; the conflict
budget belongs to the customer (a refetch starts a new call but not a new conflict budget).
Backoff is exponential with full jitter: uniform(0, min(cap, base * 2**(n - 1))) before try n+1.

Pure: the random source is a parameter and time enters only as `now` in parse_retry_after.
The messages a row ends with are made here too (ending, describe).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from random import Random

from batch.core.errors import AuthFailed
from batch.core.model import Status, Tally

STALE_ETAG_CODE = "2055"  # "Etag is no longer valid": a 412 spelled as a 400
RETRYABLE_STATUSES = frozenset({409, 500, 502, 503, 504})
# A PUT answered one of these may have been committed behind it (a gateway timed out after the
# service wrote, as Partner Center's front door does): its outcome is unknown.
UNKNOWN_OUTCOME_STATUSES = frozenset({500, 502, 503, 504})
# 403 codes that refuse the credentials' rights, not one customer (Partner Center's error-code
# table, learn.microsoft.com "Partner Center REST and .NET API error codes", and SDK issues):
# 900150 "The supplied role does not have the rights to perform the requested operation",
# 900329 "This resource doesn't support application-only authentication", 900308 "Insufficient
# privileges", 2032 "Access denied". A 403 without a code is read the same way. Any other code
# (20002 "The partner ID ... has no commerce relationship with the customer ID ...") is about
# the one customer.
CREDENTIAL_WIDE_403 = frozenset({"900150", "900329", "900308", "2032"})
# How the message of the row whose call found the run's credentials refused (ABORT) begins.
CREDENTIALS_REFUSED = "not updated: the run's credentials were refused and the run stopped"
# How the message of a row REFUSED (a credential-wide 403 before any success) begins.
RIGHTS_REFUSED = (
    "not updated: Partner Center refused the run's credentials the rights to this call"
    " (pcbatch run --resume sends the row again)"
)


class Call(StrEnum):
    """Which HTTP call an answer is to (its value names it in logs and messages)."""

    GET = "GET"  # read the billing profile
    PUT = "PUT"  # write it back with If-Match
    VALIDATE = "address validation"  # POST /v1/validations/address
    RULES = "country rules GET"  # GET /v1/countryvalidationrules/{iso2}
    PREFLIGHT = "pre-flight GET"  # the first row's profile, read before anything is written
    LIST = "list GET"  # a page of the customer list or of the activity log


class Waits(StrEnum):
    """Who waits a RETRY's delay before the next try."""

    GATE = "gate"  # the run's gate (a 429): pacing.Pacer holds the calls its quota covers
    CALL = "call"  # this call alone (a fault's backoff)


class Fault(StrEnum):
    """Why a call has no answer: the request may or may not have reached the service."""

    TIMEOUT = "timeout"  # no answer within --timeout; it may still land
    DISCONNECTED = "disconnected"  # the connection dropped after sending; it may have landed
    CONNECT = "connect"  # no connection could be made; nothing was sent


@dataclass(frozen=True, slots=True)
class Reply:
    """One answer to one HTTP call as pcbatch values (client.py builds it; no aiohttp here).

    status: the HTTP status, or 0 when no answer came (then `fault` says why).
    body: the decoded JSON object ({} when there was none or it was not an object).
    etag: `attributes.etag` of the body (or the ETag header), unquoted.
    retry_after: seconds to wait, from Retry-After (either form); None when absent.
    error_code / message: from `{code, description}` or 429's `{statusCode, message}`.
    data: the error's `data` entries as text (e.g. "property_name: StateInvalid - ...").
    request_id / correlation_id: the MS-RequestId and MS-CorrelationId this call sent.
    date: the service's clock as its `Date` header gave it (UTC, whole seconds), or None.
    """

    status: int
    body: Mapping[str, object]
    etag: str | None = None
    retry_after: float | None = None
    error_code: str | None = None
    message: str = ""
    fault: Fault | None = None
    request_id: str = ""
    correlation_id: str = ""
    data: tuple[str, ...] = ()
    date: datetime | None = None

    @property
    def stale_etag(self) -> bool:
        """True for 412, and for 400 with code 2055: both mean "refetch and re-apply"."""
        return self.status == 412 or (self.status == 400 and self.error_code == STALE_ETAG_CODE)

    @property
    def may_have_landed(self) -> bool:
        """True when no answer came after the request was sent (timeout, dropped connection):
        the service may have acted on it. A refused connection sent nothing."""
        return self.status == 0 and self.fault is not Fault.CONNECT

    @property
    def credential_wide(self) -> bool:
        """True for a 403 that refuses the credentials' rights (CREDENTIAL_WIDE_403, or no
        code), not one customer."""
        return self.status == 403 and (
            self.error_code is None or self.error_code in CREDENTIAL_WIDE_403
        )


def outcome_unknown(reply: Reply, call: Call) -> bool:
    """True when a PUT may have been committed although it did not answer 2xx: no answer after
    it was sent, or a 500/502/503/504 (a gateway may answer so after the service wrote)."""
    return call is Call.PUT and (reply.may_have_landed or reply.status in UNKNOWN_OUTCOME_STATUSES)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try; times in seconds. A run's comes from its options (RunOptions.retry_policy:
    the option table holds the defaults, README.md's "Options").

    max_attempts: tries per call for each budget (throttle, fault, conflict) on its own.
    backoff_base: the cap of the first backoff (full jitter: uniform(0, cap)).
    backoff_cap: no backoff waits longer.
    retry_after_default: 2 s, the wait after a 429 that carries no Retry-After.
    retry_after_cap: 300 s, a longer Retry-After is cut to this (a bad header must not stall a run).
    A Retry-After on a 409 or 5xx is honoured too: the wait is max(backoff, Retry-After).
    """

    max_attempts: int
    backoff_base: float
    backoff_cap: float
    retry_after_default: float = 2.0
    retry_after_cap: float = 300.0

    def backoff(self, n: int, rng: Random) -> float:
        """Seconds to wait after the n-th fault of a call (n >= 1): full jitter."""
        return rng.uniform(0.0, min(self.backoff_cap, self.backoff_base * 2.0 ** (n - 1)))


@dataclass(frozen=True, slots=True)
class Tries:
    """What a call (throttle, fault, renew) and its customer (conflict) have used so far."""

    throttle: int = 0
    fault: int = 0
    renew: int = 0
    conflict: int = 0

    def next_call(self) -> Tries:
        """The budgets of a new call for the same customer: only conflicts carry over."""
        return Tries(conflict=self.conflict)


class Action(StrEnum):
    """The next step after one answer."""

    DONE = "done"  # a 2xx: the caller reads the body
    REFETCH = "refetch"  # stale etag: GET again, re-apply the row, PUT again
    RETRY = "retry"  # wait `delay`, then send the same call again
    RENEW = "renew"  # renew the token, then send the same call again
    GIVE_UP = "give_up"  # the row ends with `status`
    ABORT = "abort"  # credentials refused: the whole run stops (exit 3), the row is `status`
    REFUSED = "refused"  # a credential-wide 403 before any success: row rejected, run counts
    READ_BACK = "read_back"  # a PUT's outcome is unknown: GET the profile, then maybe PUT again


@dataclass(frozen=True, slots=True)
class Decision:
    """What decide() answers: the action, the budgets after this answer, and how to go on.

    delay: seconds to wait before the next try (RETRY); after a 429, its Retry-After always.
    same_request_id: send the next try with the same MS-RequestId (the answer was lost).
    status: the row's final status (GIVE_UP and ABORT only).
    waits: who waits `delay` (the gate after a 429, this call after a fault).
    """

    action: Action
    tries: Tries
    delay: float = 0.0
    same_request_id: bool = False
    status: Status | None = None
    waits: Waits = Waits.CALL


def decide(
    reply: Reply,
    tries: Tries,
    policy: RetryPolicy,
    rng: Random,
    *,
    call: Call,
    any_success: bool,
) -> Decision:
    """What to do with one answer, given the tries so far; see the module's table.

    call: which call answered. any_success: whether any call of the run has had a 2xx answer
    before this one (a 403 before that aborts the run).
    """
    status = reply.status
    if 200 <= status < 300:
        return Decision(Action.DONE, tries)
    if reply.stale_etag:
        spent = replace(tries, conflict=tries.conflict + 1)
        if spent.conflict >= policy.max_attempts:
            return Decision(Action.GIVE_UP, spent, status=Status.FAILED)
        return Decision(Action.REFETCH, spent)
    if status == 429:
        spent = replace(tries, throttle=tries.throttle + 1)
        wait = policy.retry_after_default if reply.retry_after is None else reply.retry_after
        wait = min(max(wait, 0.0), policy.retry_after_cap)
        # Even a call that gives up passes its Retry-After on: the other workers wait it too.
        if spent.throttle >= policy.max_attempts:
            action = Action.GIVE_UP
            return Decision(action, spent, delay=wait, status=Status.FAILED, waits=Waits.GATE)
        return Decision(Action.RETRY, spent, delay=wait, waits=Waits.GATE)
    if call is Call.PREFLIGHT and (status == 0 or status in RETRYABLE_STATUSES):
        return Decision(Action.GIVE_UP, tries, status=Status.FAILED)
    if status == 0 or status in RETRYABLE_STATUSES:
        spent = replace(tries, fault=tries.fault + 1)
        if spent.fault >= policy.max_attempts:
            return Decision(Action.GIVE_UP, spent, status=Status.FAILED)
        delay = policy.backoff(spent.fault, rng)
        if reply.retry_after is not None:  # never sooner than the service asked
            delay = max(delay, min(reply.retry_after, policy.retry_after_cap))
        # The docs ask for the same MS-RequestId when a call timed out or lost its answer, so
        # the service can tell a retry from a new call; after a real answer it is reset, but
        # for a PUT whose outcome is unknown, which is read back first.
        if outcome_unknown(reply, call):
            return Decision(Action.READ_BACK, spent, delay=delay, same_request_id=True)
        return Decision(Action.RETRY, spent, delay=delay, same_request_id=reply.may_have_landed)
    if status == 401:
        if tries.renew == 0:
            return Decision(Action.RENEW, replace(tries, renew=1))
        return Decision(Action.ABORT, tries, status=Status.REJECTED)
    if reply.credential_wide and not any_success:
        return Decision(Action.REFUSED, tries, status=Status.REJECTED)
    if status == 404 and call is not Call.VALIDATE:
        return Decision(Action.GIVE_UP, tries, status=Status.NOT_FOUND)
    return Decision(Action.GIVE_UP, tries, status=Status.REJECTED)


_RETRIES = frozenset({Action.RETRY, Action.RENEW, Action.READ_BACK})


def tally_of(reply: Reply, decision: Decision) -> Tally:
    """What one answer adds to the run's counters (model.Tally)."""
    action = decision.action
    return Tally(
        requests=1,
        throttled=int(reply.status == 429),
        conflicts=int(reply.stale_etag),
        retries=int(action in _RETRIES),
    )


@dataclass(frozen=True, slots=True)
class Ending:
    """How a row ends after a call that did not succeed: its status and report message.

    abort: for the row that found the run's credentials refused, the reason to stop the run
    (exit 3); that row is sent again by --resume. None otherwise.
    refused: for a row REFUSED (a credential-wide 403 before any success), the reason to stop
    the run once several customers are refused alike (core/stops.py); sent again by --resume.
    """

    status: Status
    message: str
    abort: AuthFailed | None = None
    refused: AuthFailed | None = None


def ending(
    reply: Reply, decision: Decision, policy: RetryPolicy, call: Call, row: int, customer_id: str
) -> Ending:
    """How row `row` (customer `customer_id`) ends after `call` answered `reply` and decide()
    said `decision` (GIVE_UP or ABORT; anything but DONE is read as giving up)."""
    if decision.action is Action.ABORT:
        refused = f"{CREDENTIALS_REFUSED}: {describe(reply)}"
        return Ending(Status.REJECTED, refused, _abort(reply, row, customer_id))
    if decision.action is Action.REFUSED:
        message = f"{RIGHTS_REFUSED}: {describe(reply)}"
        return Ending(Status.REJECTED, message, refused=_abort(reply, row, customer_id))
    status = decision.status or Status.FAILED
    message = describe(reply)
    if status is Status.FAILED:
        message = (
            f"gave up after {_spent(decision.tries, policy.max_attempts, call)}; last: {message}"
        )
    return Ending(status, message)


def _abort(reply: Reply, row: int, customer_id: str) -> AuthFailed:
    """The run's error when the credentials were refused: what happened and what to check."""
    if reply.status == 401:
        return AuthFailed(
            f"Partner Center refused the credentials again after renewing them (401 on "
            f"row {row}, customer {customer_id}: {describe(reply)}); "
            "check that the token is valid, not expired, and issued for "
            "https://api.partnercenter.microsoft.com, that the app is registered in Partner "
            "Center (Account settings > App management) and its Partner Center API "
            "permission has admin consent, and that the user has the Admin agent role"
        )
    return AuthFailed(
        f"Partner Center answered 403 Forbidden before any call of this run succeeded "
        f"(row {row}: {describe(reply)}); the app or user lacks Partner "
        "Center permissions: check the app registration's Partner Center API permission "
        "and its admin consent, the app's registration in Partner Center (App management), "
        "and the user's Partner Center role (e.g. Admin agent)"
    )


def _spent(tries: Tries, max_attempts: int, call: Call) -> str:
    """The budget a call gave up on, in words: the one that reached max_attempts.

    Counts the tries of the failing call only (the customer's GET before a failing PUT is not
    one of them), except conflicts, whose budget belongs to the customer.
    """
    if tries.conflict >= max_attempts:
        return f"{tries.conflict} stale-etag conflicts for this customer"
    if tries.throttle >= max_attempts:
        return f"{tries.throttle} tries of the {call}, each throttled (429)"
    return f"{tries.fault} tries of the {call}, each a server error or no answer"


def describe(reply: Reply) -> str:
    """An answer in a few words for the report: status, code, description."""
    if reply.status == 0:
        return reply.message or str(reply.fault)
    code = f" code {reply.error_code}" if reply.error_code else ""
    text = f": {reply.message}" if reply.message else ""
    data = f" ({'; '.join(reply.data)})" if reply.data else ""
    return f"HTTP {reply.status}{code}{text}{data}"


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Retry-After as seconds from `now` (epoch seconds): `57`, `1.5` or an HTTP date.

    None when absent or unreadable (the policy's default applies); never negative.
    """
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; one with `-0000` comes back naive
        when = when.replace(tzinfo=UTC)
    return max(when.timestamp() - now, 0.0)
