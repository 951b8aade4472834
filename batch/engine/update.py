"""One customer's update: GET -> plan -> [validate the address] -> PUT, steered by pure decisions.

The steps (README.md, "Usage: `pcbatch run`", what happens to each valid row):

1. GET the billing profile (its etag is in `attributes.etag`). A row given a KnownProfile (the
   profile and etag an earlier run kept, --incremental) starts from it instead, without the
   GET, when it leads straight to a PUT: If-Match makes a stale one a 412 (or 400/2055), and
   step 5 reads the profile as usual. A known profile that would end the row another way
   (unchanged, invalid, to be validated) is not trusted for that: the profile is read.
2. plan.step_after_get says what follows: `unchanged` (no PUT), fetch the merged address's
   country rules (once per run, RulesCache), `invalid` when the address breaks them (nothing
   sent), validate the address, a dry run's `would_update`, or a PUT of the plan with If-Match.
3. With --validate-addresses, a changed address is POSTed to /v1/validations/address first;
   a verdict other than VerifiedShippable or Verified ends the row `rejected`.
4. PUT the whole resource with If-Match; 200: `updated`. Context.before_put sees each PUT's
   changes first (run.py journals them: crash safety).
5. A stale etag (412, or 400 with code 2055): back to 1, re-applying the row onto what the
   other writer left.
6. A PUT whose outcome is unknown (no answer after sending, or 500/502/503/504: a gateway may
   answer so after the service wrote) is read back first (retry.READ_BACK): a GET that shows
   the row's values ends the row `updated` with the changes of that PUT, and nothing is sent
   again; otherwise the PUT is sent again with the same MS-RequestId, its fault budget going
   on. When that budget runs out after an unknown outcome, the profile is read back once more:
   a PUT that landed is never reported `failed`.

Every HTTP call goes through the shared Gate (rate limit and 429 pauses) and retry.decide,
which holds every answer rule (renewing the token on a 401, aborting the run when the
credentials are refused); this module only carries out what they say.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from random import Random
from typing import Protocol

from batch.core.country_rules import RulesAnswer, rules_answer
from batch.core.errors import AuthFailed, PcbatchError
from batch.core.incremental import PUT_ONTO_KNOWN
from batch.core.model import Change, KnownProfile, Outcome, Row, Status, Tally
from batch.core.plan import Next, Step, address_refusal, step_after_get
from batch.core.retry import (
    Action,
    Call,
    Decision,
    Reply,
    RetryPolicy,
    Tries,
    decide,
    ending,
    outcome_unknown,
    tally_of,
)
from batch.engine.rules_cache import RulesCache
from batch.wire.client import Client, new_request_id

log = logging.getLogger(__name__)

# Added to the message of a row whose profile could not be read back after a PUT of unknown
# outcome: the journal holds that PUT's changes, and --resume reports them if they landed.
UNREAD_PUT = (
    "a PUT of this row whose outcome is unknown may have landed: pcbatch run --resume reads"
    " the profile again"
)


class Gate(Protocol):
    """The pacing every call of every worker shares (pacing.Pacer implements it)."""

    async def ready(self, customer_id: str | None = None) -> float:
        """Wait for any 429 pause (the customer's own, or every worker's) and for the rate
        limiter; returns the send time."""
        ...

    def answered(
        self, reply: Reply, sent_at: float, delay: float, customer_id: str | None = None
    ) -> None:
        """Tell the pacing how a call for `customer_id` (None: no customer's) went, answered
        now after being sent at `sent_at`: a 429 makes the customer, or every worker, wait
        `delay` seconds."""
        ...


@dataclass(slots=True)
class Context:
    """What every customer's update shares: wire, pacing, policy, run-wide flags.

    any_success: set by the first 2xx of the run; retry.decide reads it (a 403 before it aborts
    the run, a 403 after it refuses that customer only).
    before_put(row, changes, etag): called once per PUT call (not per retry of it) just before
    it is first sent, with the changes it carries and its If-Match; run.py journals them there
    (it must be durable on return: --resume tells a PUT that landed before a crash by it).
    country_rules: the run's country rules (None: none are checked); columns: field -> the
    sheet's header, to name a field a row's address breaks the rules in.
    """

    client: Client
    gate: Gate
    policy: RetryPolicy
    rng: Random = field(default_factory=Random)
    dry_run: bool = False
    validate_addresses: bool = False
    any_success: bool = False
    before_put: Callable[[Row, tuple[Change, ...], str], None] | None = None
    country_rules: RulesCache | None = None
    columns: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Answered:
    """One HTTP call as it ended: its last answer, the decision on it, the budgets it left, and
    whether any try lost its answer after it was sent (then it may have landed)."""

    reply: Reply
    decision: Decision
    tries: Tries
    lost: bool


async def call_with_retries(
    ctx: Context,
    send: Callable[[str], Awaitable[Reply]],
    call: Call,
    tries: Tries,
    *,
    label: str,
    on_try: Callable[[Reply, Decision], None],
    request_id: str | None = None,
    customer_id: str | None = None,
) -> Answered:
    """Send one call (`send(request_id)`) until retry.decide says anything but RETRY or RENEW.

    Every try waits for the shared Gate and tells it how the answer went; on_try(reply,
    decision) sees each answer as it comes (the caller counts there). A retry waits the
    decision's delay (a 429's wait is the Gate's: the customer's or every worker's) and keeps the
    MS-RequestId only when the answer was lost. `label` names the call in debug logs;
    `customer_id` the customer it is for (the Gate tells its 429s from the partner's).
    request_id: the MS-RequestId of the first try (a PUT sent again after a read-back);
    default a new one. `lost` in the answer: a try's outcome was unknown (retry.outcome_unknown).
    """
    request_id = request_id or new_request_id()
    lost = False
    while True:
        sent_at = await ctx.gate.ready(customer_id)
        reply = await send(request_id)
        decision = decide(reply, tries, ctx.policy, ctx.rng, call=call, any_success=ctx.any_success)
        on_try(reply, decision)
        tries = decision.tries
        ctx.gate.answered(reply, sent_at, decision.delay, customer_id)
        status = reply.status
        if 200 <= status < 300:
            ctx.any_success = True
        elif reply.may_have_landed or outcome_unknown(reply, call):
            lost = True
        action = decision.action
        if action is not Action.RETRY and action is not Action.RENEW:
            return Answered(reply, decision, tries, lost)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s answered %s (%s), %s in %.2fs",
                label,
                status or reply.fault,
                reply.error_code,
                action,
                decision.delay,
            )
        if action is Action.RENEW:
            await ctx.client.renew_token()
        elif status != 429:
            await asyncio.sleep(decision.delay)
        if not decision.same_request_id:
            request_id = new_request_id()


@dataclass(frozen=True, slots=True)
class Finished:
    """One customer's update as it ended.

    outcome: the row's outcome; tally: what its calls did (the pool adds it to the run's);
    stop_reason: why the whole run must stop (its credentials were refused), else None.
    refused: a credential-wide 403 before any success refused this customer (the pool stops
    the run once several are, core/stops.py), else None.
    """

    outcome: Outcome
    tally: Tally
    stop_reason: PcbatchError | None = None
    refused: AuthFailed | None = None


class CustomerUpdate:
    """The update of one customer: `await CustomerUpdate(row, ctx).run()`.

    run() never raises for a bad answer: every answer ends in an Outcome. While it runs, `tally`
    and `etag` hold what its calls did so far; the pool reads them when the update is cut short
    (cancelled, or a token provider that cannot sign in any more). known: the profile to PUT
    onto without reading it first (step 1), else None.
    """

    __slots__ = (
        "attempts",
        "ctx",
        "etag",
        "known",
        "last",
        "profile",
        "refused",
        "row",
        "started",
        "stop_reason",
        "tally",
        "tries",
    )

    def __init__(self, row: Row, ctx: Context, known: KnownProfile | None = None) -> None:
        self.row = row
        self.ctx = ctx
        self.known = known
        self.attempts = 0
        self.tries = Tries()
        self.tally = Tally()
        self.etag: str | None = None  # of the profile, in the last 2xx GET or PUT answer
        self.profile: Mapping[str, object] | None = None  # that answer's profile
        self.last: Reply | None = None
        self.stop_reason: AuthFailed | None = None  # set when its credentials were refused
        self.refused: AuthFailed | None = None  # set by a credential-wide 403 (REFUSED)
        self.started = time.monotonic()

    async def run(self) -> Finished:
        """Bring the customer's billing profile to the row's values (see the module's steps)."""
        outcome = await self._update()
        return Finished(outcome, self.tally, self.stop_reason, self.refused)

    async def _update(self) -> Outcome:
        ctx, row = self.ctx, self.row
        client = ctx.client
        landed: tuple[Change, ...] | None = None  # the changes of a PUT whose outcome is unknown
        verified: Mapping[str, object] | None = None
        put_tries: Tries | None = None  # a PUT's budgets, going on after a read-back
        put_request_id: str | None = None  # its MS-RequestId, kept after a read-back
        put_etag: str | None = None  # its If-Match: the same PUT again only on the same etag
        known, self.known = self.known, None  # step 1: used for the first PUT only
        while True:
            from_known = known is not None and self._known_leads_to_put(known)
            if known is not None and from_known:
                body, etag = known.body, known.etag
                known = None
            else:
                reply, decision, _ = await self._call(
                    partial(client.get_profile, row.customer_id), Call.GET
                )
                if decision.action is not Action.DONE:
                    ended = self._end(decision, reply, Call.GET)
                    if landed is None:
                        return ended
                    return replace(ended, message=f"{ended.message}; {UNREAD_PUT}")
                body, etag = reply.body, reply.etag
                known = None
            step = self._step(body, etag, landed, verified)
            if step.next is Next.RULES:
                assert step.country is not None and ctx.country_rules is not None
                await ctx.country_rules.get(step.country, self._fetch_rules)
                step = self._step(body, etag, landed, verified)
            if from_known and step.next is not Next.PUT:
                continue  # only a PUT is based on a kept profile: anything else reads it
            if step.next is Next.VALIDATE:
                refused = await self._validate(step.address, step.changes)
                if refused is not None:
                    return refused
                verified = step.address
                step = self._step(body, etag, landed, verified)
            if step.next is not Next.PUT:
                assert step.status is not None  # every step but PUT, RULES, VALIDATE ends the row
                return self._outcome(step.status, message=step.message, changes=step.changes)
            plan = step.plan
            assert plan is not None and etag is not None  # a PUT step has both
            if put_request_id is not None and etag != put_etag:
                put_request_id = None  # the profile moved since: a new PUT, not the same again
            if ctx.before_put is not None and put_request_id is None:
                ctx.before_put(row, plan.changes, etag)
            reply, decision, lost = await self._call(
                partial(client.put_profile, row.customer_id, plan.resource, etag),
                Call.PUT,
                tries=put_tries,
                request_id=put_request_id,
            )
            put_tries = put_request_id = None
            if lost:
                landed = plan.changes
            action = decision.action
            if action is Action.DONE:
                message = PUT_ONTO_KNOWN if from_known else ""
                return self._outcome(Status.UPDATED, message=message, changes=plan.changes)
            if action is Action.READ_BACK:  # it may have landed: read it before sending again
                put_tries, put_request_id, put_etag = decision.tries, reply.request_id, etag
                await asyncio.sleep(decision.delay)
                continue
            if action is Action.REFETCH:
                continue
            ended = self._end(decision, reply, Call.PUT)
            if landed is None or action is not Action.GIVE_UP:
                return ended
            return await self._read_back(landed, verified) or ended

    async def _read_back(
        self, landed: tuple[Change, ...], verified: Mapping[str, object] | None
    ) -> Outcome | None:
        """After a PUT whose outcome was unknown ran out of tries: `updated` if the profile holds
        the row's values (that PUT landed), else None (the row ends as the PUT did)."""
        send = partial(self.ctx.client.get_profile, self.row.customer_id)
        reply, decision, _ = await self._call(send, Call.GET)
        if decision.action is not Action.DONE:
            return None
        step = self._step(reply.body, reply.etag, landed, verified)
        if step.next is not Next.LANDED:
            return None
        return self._outcome(Status.UPDATED, changes=step.changes)

    async def _fetch_rules(self, iso2: str) -> RulesAnswer:
        """The country's rules from the service, through the shared pace and retries."""
        send = partial(self.ctx.client.get_country_rules, iso2)
        reply, _, _ = await self._call(send, Call.RULES, keep_last=False)
        return rules_answer(iso2, reply.status, reply.body, reply.message)

    def _known_leads_to_put(self, known: KnownProfile) -> bool:
        """True when the row's plan on the known profile is a PUT, or may be one once its
        country's rules are known: only a PUT is safe to base on it, If-Match guarding it. A
        row whose address the service is to validate first is read, as is one the rules then
        find invalid (step 1)."""
        step = self._step(known.body, known.etag, None, None)
        return step.next in (Next.PUT, Next.RULES)

    def _step(
        self,
        body: Mapping[str, object],
        etag: str | None,
        landed: tuple[Change, ...] | None,
        verified: Mapping[str, object] | None,
    ) -> Step:
        ctx = self.ctx
        rules = ctx.country_rules
        return step_after_get(
            body,
            etag,
            self.row,
            landed=landed,
            dry_run=ctx.dry_run,
            validate_addresses=ctx.validate_addresses,
            verified=verified,
            country_rules=None if rules is None else rules.known,
            columns=ctx.columns,
        )

    async def _validate(
        self, address: Mapping[str, object], changes: tuple[Change, ...]
    ) -> Outcome | None:
        """None when the service verifies the new address, else the row's outcome."""
        send = partial(self.ctx.client.validate_address, address)
        reply, decision, _ = await self._call(send, Call.VALIDATE)
        if decision.action is not Action.DONE:
            return self._end(decision, reply, Call.VALIDATE)
        refusal = address_refusal(reply.body)
        if refusal is None:
            return None
        return self._outcome(Status.REJECTED, message=refusal, changes=changes)

    async def _call(
        self,
        send: Callable[[str], Awaitable[Reply]],
        call: Call,
        *,
        tries: Tries | None = None,
        request_id: str | None = None,
        keep_last: bool = True,
    ) -> tuple[Reply, Decision, bool]:
        """One HTTP call, retried as decide() says (call_with_retries); returns its last answer,
        the decision, and whether any try's outcome was unknown (it may have landed).

        tries: the budgets to go on with (a PUT after a read-back); default a new call's.
        keep_last: False for a call whose answer the row's outcome must not report nor count
        in its attempts (the country rules: a 404 there is no answer about the customer).
        """

        def counted(reply: Reply, decision: Decision) -> None:
            self.tally += tally_of(reply, decision)
            if not keep_last:
                return
            self.attempts += 1
            self.last = reply
            if 200 <= reply.status < 300 and reply.etag is not None and call is not Call.VALIDATE:
                self.etag = reply.etag
                self.profile = reply.body

        label = f"row {self.row.number} customer {self.row.customer_id}: {call}"
        answered = await call_with_retries(
            self.ctx,
            send,
            call,
            tries or self.tries.next_call(),
            label=label,
            on_try=counted,
            request_id=request_id,
            customer_id=self.row.customer_id,
        )
        self.tries = answered.tries
        return answered.reply, answered.decision, answered.lost

    def _end(self, decision: Decision, reply: Reply, call: Call) -> Outcome:
        """The outcome of a call that did not succeed (retry.ending); when it found the run's
        credentials refused, `stop_reason` holds the reason to stop the run."""
        end = ending(reply, decision, self.ctx.policy, call, self.row.number, self.row.customer_id)
        self.stop_reason = end.abort
        self.refused = end.refused
        again = end.abort is not None or end.refused is not None
        return self._outcome(end.status, message=end.message, retry_on_resume=again)

    def _outcome(
        self,
        status: Status,
        *,
        message: str = "",
        changes: tuple[Change, ...] = (),
        retry_on_resume: bool = False,
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
            etag=self.etag,
            retry_on_resume=retry_on_resume,
            profile=self.profile,
        )
