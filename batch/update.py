"""One customer's update: GET -> plan -> [validate the address] -> PUT, steered by retry.decide.

The steps (CONTRACT.md, "The update of one customer"):

1. GET the billing profile (its etag is in `attributes.etag`).
2. plan.make_plan applies the row onto it. No change: `unchanged`, no PUT (but see 5).
3. With --validate-addresses, a changed address is POSTed to /v1/validations/address first;
   a verdict other than VerifiedShippable or Verified ends the row `rejected`.
4. Dry run: `would_update`, no PUT. Else PUT the whole resource with If-Match; 200: `updated`.
   Context.before_put sees each PUT's changes first (run.py journals them: crash safety).
5. A stale etag (412, or 400 with code 2055): back to 1, re-applying the row onto what the
   other writer left. A PUT whose answer was lost (timeout, dropped connection) is sent again
   with the same MS-RequestId; if it had landed, the retry meets a stale etag, the refetch shows
   the row's values already there, and the row ends `updated` with the changes of that PUT.

Every HTTP call goes through the shared Gate (rate limit and 429 pauses) and retry.decide; a
401 renews the token once per call; a second 401, or a 403 before any call of the run has
succeeded, raises AuthAbort: the run stops (exit 3).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from random import Random
from typing import Protocol

from batch.client import Client, new_request_id
from batch.core.model import Change, Outcome, Row, RunStats, Status
from batch.core.plan import ADDRESS, make_plan
from batch.core.retry import (
    CREDENTIALS_REFUSED,
    Action,
    Decision,
    Reply,
    RetryPolicy,
    Tries,
    decide,
)

log = logging.getLogger(__name__)

VERIFIED = frozenset({"VerifiedShippable", "Verified"})
_ADDRESS_PARTS = ("addressLine1", "addressLine2", "city", "state", "postalCode", "country")


class Gate(Protocol):
    """The pacing every call of every worker shares (pacing.Pacer implements it)."""

    async def ready(self) -> float:
        """Wait for any 429 pause and for the rate limiter; returns the send time (monotonic)."""
        ...

    def answered(self, reply: Reply, sent_at: float, delay: float) -> None:
        """Tell the pacing how a call went: a 429 pauses every worker for `delay` seconds."""
        ...


@dataclass(slots=True)
class Context:
    """What every customer's update shares: wire, pacing, policy, counters, run-wide flags.

    any_success: set by the first 2xx of the run; a 403 before it means the credentials lack
    permissions (abort), a 403 after it is a refusal for that customer only.
    before_put(row, changes, etag): called once per PUT call (not per retry of it) just before
    it is first sent, with the changes it carries and its If-Match; run.py journals them there
    (it must be durable on return: --resume tells a PUT that landed before a crash by it).
    """

    client: Client
    gate: Gate
    policy: RetryPolicy
    stats: RunStats
    rng: Random = field(default_factory=Random)
    dry_run: bool = False
    validate_addresses: bool = False
    any_success: bool = False
    before_put: Callable[[Row, tuple[Change, ...], str], None] | None = None


class AuthAbort(Exception):
    """Credentials refused for the whole run; `outcome` is the row that found out."""

    def __init__(self, message: str, outcome: Outcome) -> None:
        super().__init__(message)
        self.outcome = outcome


async def update_customer(row: Row, ctx: Context) -> Outcome:
    """Bring one customer's billing profile to the row's values; never raises for a bad answer.

    Raises AuthAbort when the run's credentials are refused (see the module's rules).
    """
    return await _Customer(row, ctx).run()


class _Customer:
    """The state of one customer's update: counters, last call, conflict budget."""

    __slots__ = ("attempts", "ctx", "last", "row", "started", "tries")

    def __init__(self, row: Row, ctx: Context) -> None:
        self.row = row
        self.ctx = ctx
        self.attempts = 0
        self.tries = Tries()
        self.last: Reply | None = None
        self.started = time.monotonic()

    async def run(self) -> Outcome:
        client, row = self.ctx.client, self.row
        landed: tuple[Change, ...] | None = None  # the changes of a PUT whose answer was lost
        verified: Mapping[str, object] | None = None
        while True:
            reply, decision, _ = await self._call(
                partial(client.get_profile, row.customer_id), "GET"
            )
            if decision.action is not Action.DONE:
                return self._end(decision, reply, "GET")
            if reply.etag is None:
                return self._outcome(Status.FAILED, message="the profile came without an etag")
            plan = make_plan(reply.body, row)
            if not plan.changes:
                if landed is not None:
                    return self._outcome(Status.UPDATED, changes=landed)
                return self._outcome(Status.UNCHANGED)
            address = plan.resource.get(ADDRESS)
            if (
                self.ctx.validate_addresses
                and plan.address_changes
                and isinstance(address, Mapping)
                and address != verified
            ):
                refused = await self._validate(address, plan.changes)
                if refused is not None:
                    return refused
                verified = address
            if self.ctx.dry_run:
                return self._outcome(Status.WOULD_UPDATE, changes=plan.changes)
            if self.ctx.before_put is not None:
                self.ctx.before_put(row, plan.changes, reply.etag)
            reply, decision, lost = await self._call(
                partial(client.put_profile, row.customer_id, plan.resource, reply.etag), "PUT"
            )
            if lost:
                landed = plan.changes
            if decision.action is Action.DONE:
                return self._outcome(Status.UPDATED, changes=plan.changes)
            if decision.action is not Action.REFETCH:
                return self._end(decision, reply, "PUT")

    async def _validate(
        self, address: Mapping[str, object], changes: tuple[Change, ...]
    ) -> Outcome | None:
        """None when the service verifies the new address, else the row's `rejected` outcome."""
        send = partial(self.ctx.client.validate_address, address)
        reply, decision, _ = await self._call(send, "address validation")
        if decision.action is not Action.DONE:
            return self._end(decision, reply, "address validation", validating=True)
        verdict = reply.body.get("status")
        if verdict in VERIFIED:
            return None
        return self._outcome(
            Status.REJECTED, message=_refusal(verdict, reply.body), changes=changes
        )

    async def _call(
        self, send: Callable[[str], Awaitable[Reply]], what: str
    ) -> tuple[Reply, Decision, bool]:
        """One HTTP call (`what`, for the log), retried as decide() says; returns its last
        answer, the decision, and whether any try lost its answer after sending (it may have
        landed)."""
        ctx = self.ctx
        stats = ctx.stats
        tries = self.tries.next_call()
        request_id = new_request_id()
        lost = False
        while True:
            sent_at = await ctx.gate.ready()
            reply = await send(request_id)
            self.attempts += 1
            self.last = reply
            stats.requests += 1
            decision = decide(reply, tries, ctx.policy, ctx.rng)
            tries = decision.tries
            ctx.gate.answered(reply, sent_at, decision.delay)
            status = reply.status
            if 200 <= status < 300:
                ctx.any_success = True
            elif status == 429:
                stats.throttled += 1
            elif reply.may_have_landed:
                lost = True
            if reply.stale_etag:
                stats.conflicts += 1
            action = decision.action
            if action is Action.RETRY or action is Action.RENEW:
                stats.retries += 1
                if log.isEnabledFor(logging.DEBUG):
                    log.debug(
                        "row %d customer %s: %s answered %s (%s), %s in %.2fs",
                        self.row.number,
                        self.row.customer_id,
                        what,
                        status or reply.fault,
                        reply.error_code,
                        action,
                        decision.delay,
                    )
                if action is Action.RENEW:
                    await ctx.client.renew_token()
                elif status != 429:  # a 429's wait is the Gate's pause, shared by every worker
                    await asyncio.sleep(decision.delay)
                if not decision.same_request_id:
                    request_id = new_request_id()
                continue
            self.tries = tries
            return reply, decision, lost

    def _end(
        self, decision: Decision, reply: Reply, what: str, *, validating: bool = False
    ) -> Outcome:
        """The outcome of a call (`what`) that did not succeed; raises AuthAbort when the run
        must stop.

        The row that finds out the credentials are refused ends `rejected` (the service did
        refuse it), its message starting with CREDENTIALS_REFUSED: the journal keys on that
        mark to send it again on --resume, while a 403 refusing one customer after the run had
        succeeded is a final `rejected` like any other.
        """
        status = decision.status or Status.FAILED
        if validating and status is Status.NOT_FOUND:
            status = Status.REJECTED  # a 404 from the validation API is no verdict on the customer
        if decision.action is Action.ABORT:
            outcome = self._refused(reply)
            raise AuthAbort(
                f"Partner Center refused the credentials again after renewing them (401 on "
                f"row {self.row.number}, customer {self.row.customer_id}: {_describe(reply)}); "
                "check that the token is valid, not expired, and issued for "
                "https://api.partnercenter.microsoft.com, that the app is registered in Partner "
                "Center (Account settings > App management) and its Partner Center API "
                "permission has admin consent, and that the user has the Admin agent role",
                outcome,
            )
        if reply.status == 403 and not self.ctx.any_success:
            outcome = self._refused(reply)
            raise AuthAbort(
                f"Partner Center answered 403 Forbidden before any call of this run succeeded "
                f"(row {self.row.number}: {_describe(reply)}); the app or user lacks Partner "
                "Center permissions: check the app registration's Partner Center API permission "
                "and its admin consent, the app's registration in Partner Center (App management), "
                "and the user's Partner Center role (e.g. Admin agent)",
                outcome,
            )
        message = _describe(reply)
        if status is Status.FAILED:
            spent = _spent(decision.tries, self.ctx.policy.max_attempts, what)
            message = f"gave up after {spent}; last: {message}"
        return self._outcome(status, message=message)

    def _refused(self, reply: Reply) -> Outcome:
        """The outcome of the row that found the run's credentials refused (see _end)."""
        return self._outcome(Status.REJECTED, message=f"{CREDENTIALS_REFUSED}: {_describe(reply)}")

    def _outcome(
        self, status: Status, *, message: str = "", changes: tuple[Change, ...] = ()
    ) -> Outcome:
        last = self.last
        http_status = last.status if last is not None and last.status else None
        return Outcome(
            row=self.row.number,
            customer_id=self.row.customer_id,
            status=status,
            attempts=self.attempts,
            conflicts=self.tries.conflict,
            http_status=http_status,
            error_code=last.error_code if last is not None and not status.ok else None,
            message=message,
            changes=changes,
            request_id=last.request_id if last is not None else None,
            correlation_id=last.correlation_id if last is not None else None,
            duration_ms=round((time.monotonic() - self.started) * 1000),
        )


def _spent(tries: Tries, max_attempts: int, what: str) -> str:
    """The budget a call gave up on, in words: the one that reached max_attempts.

    Counts the tries of the failing call only (the customer's GET before a failing PUT is not
    one of them), except conflicts, whose budget belongs to the customer.
    """
    if tries.conflict >= max_attempts:
        return f"{tries.conflict} stale-etag conflicts for this customer"
    if tries.throttle >= max_attempts:
        return f"{tries.throttle} tries of the {what}, each throttled (429)"
    return f"{tries.fault} tries of the {what}, each a server error or no answer"


def _describe(reply: Reply) -> str:
    """An answer in a few words for the report: status, code, description."""
    if reply.status == 0:
        return reply.message or str(reply.fault)
    code = f" code {reply.error_code}" if reply.error_code else ""
    text = f": {reply.message}" if reply.message else ""
    return f"HTTP {reply.status}{code}{text}"


def _refusal(verdict: object, body: Mapping[str, object]) -> str:
    """The validation API's verdict, its message and its suggested addresses, on one line."""
    parts = [f"address not verified ({verdict})"]
    note = body.get("validationMessage")
    if note:
        parts.append(str(note))
    suggested = body.get("suggestedAddresses")
    if isinstance(suggested, list) and suggested:
        lines = [_one_line(a) for a in suggested if isinstance(a, Mapping)]
        parts.append("suggested: " + " | ".join(line for line in lines if line))
    return "; ".join(parts)


def _one_line(address: Mapping[str, object]) -> str:
    return ", ".join(str(address[k]) for k in _ADDRESS_PARTS if address.get(k))
