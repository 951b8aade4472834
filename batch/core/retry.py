"""What to do with one answer from Partner Center: done, refetch, wait and retry, renew, or give up.

Rules (CONTRACT.md, "The update of one customer" and "Retries"), as a table on the answer:

    2xx                         DONE
    412, or 400 with code 2055  REFETCH (stale etag; GET again and re-apply)   budget: conflict
    429                         RETRY after Retry-After (2 s if absent)       budget: throttle
    500 502 503 504             RETRY after backoff, new MS-RequestId          budget: fault
    no answer (timeout, drop)   RETRY after backoff, SAME MS-RequestId         budget: fault
    401, first time on a call   RENEW the token, then send again
    401 again                   ABORT the run (exit 3)
    404                         GIVE_UP not_found
    other 4xx, other statuses   GIVE_UP rejected (the service's code and description)
    a budget spent              GIVE_UP failed

Each budget counts on its own against `max_attempts`: a call may meet 5 throttles, then 5
faults, and still succeed. Throttle and fault budgets belong to one HTTP call; the conflict
budget belongs to the customer (a refetch starts a new call but not a new conflict budget).
Backoff is exponential with full jitter: uniform(0, min(cap, base * 2**(n - 1))) before try n+1.

Pure: the random source is a parameter and time enters only as `now` in parse_retry_after.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC
from email.utils import parsedate_to_datetime
from enum import StrEnum
from random import Random

from batch.core.model import Status

STALE_ETAG_CODE = "2055"  # "Etag is no longer valid": a 412 spelled as a 400
RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})
# How the message of the row whose call found the run's credentials refused (ABORT, or a 403
# before any success) begins: the journal keys on it to send that row again on --resume.
CREDENTIALS_REFUSED = "not updated: the run's credentials were refused and the run stopped"


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
    request_id / correlation_id: the MS-RequestId and MS-CorrelationId this call sent.
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

    @property
    def stale_etag(self) -> bool:
        """True for 412, and for 400 with code 2055: both mean "refetch and re-apply"."""
        return self.status == 412 or (self.status == 400 and self.error_code == STALE_ETAG_CODE)

    @property
    def may_have_landed(self) -> bool:
        """True when no answer came after the request was sent (timeout, dropped connection):
        the service may have acted on it. A refused connection sent nothing."""
        return self.status == 0 and self.fault is not Fault.CONNECT


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try. Defaults are the contract's; times in seconds.

    max_attempts: 6 tries per call for each budget (throttle, fault, conflict) on its own.
    backoff_base: 0.5 s, the cap of the first backoff (full jitter: uniform(0, cap)).
    backoff_cap: 30 s, no backoff waits longer.
    retry_after_default: 2 s, the wait after a 429 that carries no Retry-After.
    retry_after_cap: 300 s, a longer Retry-After is cut to this (a bad header must not stall a run).
    """

    max_attempts: int = 6
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
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
    ABORT = "abort"  # credentials refused: the whole run stops (exit 3)


@dataclass(frozen=True, slots=True)
class Decision:
    """What decide() answers: the action, the budgets after this answer, and how to go on.

    delay: seconds to wait before the next try (RETRY); after a 429, its Retry-After always.
    same_request_id: send the next try with the same MS-RequestId (the answer was lost).
    status: the row's final status (GIVE_UP only).
    """

    action: Action
    tries: Tries
    delay: float = 0.0
    same_request_id: bool = False
    status: Status | None = None


def decide(reply: Reply, tries: Tries, policy: RetryPolicy, rng: Random) -> Decision:
    """What to do with one answer, given the tries so far; see the module's table."""
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
            return Decision(Action.GIVE_UP, spent, delay=wait, status=Status.FAILED)
        return Decision(Action.RETRY, spent, delay=wait)
    if status == 0 or status in RETRYABLE_STATUSES:
        spent = replace(tries, fault=tries.fault + 1)
        if spent.fault >= policy.max_attempts:
            return Decision(Action.GIVE_UP, spent, status=Status.FAILED)
        # The docs ask for the same MS-RequestId when a call timed out or lost its answer, so
        # the service can tell a retry from a new call; after a real answer it is reset.
        return Decision(
            Action.RETRY,
            spent,
            delay=policy.backoff(spent.fault, rng),
            same_request_id=reply.may_have_landed,
        )
    if status == 401:
        if tries.renew == 0:
            return Decision(Action.RENEW, replace(tries, renew=1))
        return Decision(Action.ABORT, tries)
    if status == 404:
        return Decision(Action.GIVE_UP, tries, status=Status.NOT_FOUND)
    return Decision(Action.GIVE_UP, tries, status=Status.REJECTED)


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
