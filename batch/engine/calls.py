"""The one call path: every request pcbatch sends goes through `Calls.send`.

    async with open_calls(options, base_url, tokens, pacer) as calls:   # one Client a command
        answered = await calls.send(calls.client.get_profile, Call.GET, label="...")

Each try waits its turn at the Pacer (the --rate ceiling, the adaptive rate, 429 pauses and the
window), is decided by retry.decide (the one table of answers), and is told back to the Pacer.
Then, as the Decision says: RENEW renews the token and sends again; RETRY waits its delay, by
the gate after a 429 (Retry-After: every worker, or this customer's next call, pacing.Pacer) or
by this call alone after a fault (its backoff), and sends again with the same MS-RequestId only
when the answer was lost. Profile reads and writes, the pre-flight read, country rules (run and
`validate --online`), the customer list, the activity log and the address validation all come
this way: nothing else builds a Client or retries a call.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from random import Random

from batch.core.options import RunOptions
from batch.core.retry import (
    Action,
    Call,
    Decision,
    Reply,
    RetryPolicy,
    Tries,
    Waits,
    decide,
    outcome_unknown,
)
from batch.core.update_events import Answered
from batch.engine.pacing import Pacer
from batch.wire.auth import TokenProvider
from batch.wire.client import Client, new_request_id

log = logging.getLogger(__name__)

OnTry = Callable[[Reply, Decision], None]


class Calls:
    """One command's wire, pace and retry policy.

    any_success: set by the first 2xx of the command; retry.decide reads it (a 403 before it
    refuses the credentials, after it one customer).
    """

    __slots__ = ("any_success", "client", "pacer", "policy", "rng")

    def __init__(
        self, client: Client, pacer: Pacer, policy: RetryPolicy, rng: Random | None = None
    ) -> None:
        self.client = client
        self.pacer = pacer
        self.policy = policy
        self.rng = rng or Random()
        self.any_success = False

    async def send(
        self,
        send: Callable[[str], Awaitable[Reply]],
        call: Call,
        tries: Tries | None = None,
        *,
        label: str,
        on_try: OnTry | None = None,
        request_id: str | None = None,
        customer_id: str | None = None,
    ) -> Answered:
        """Send one call (`send(request_id)`) until retry.decide says anything but RETRY or RENEW.

        tries: the budgets to go on with (default a new call's); on_try(reply, decision) sees
        each answer as it comes (the caller counts there); label names the call in debug logs;
        request_id: the MS-RequestId of the first try (the same PUT again after a read-back),
        default a new one; customer_id: whose call it is (the Pacer tells its 429s from the
        partner's). `lost` in the answer: a try's outcome was unknown (it may have landed).
        """
        tries = tries or Tries()
        request_id = request_id or new_request_id()
        pacer, lost = self.pacer, False
        while True:
            sent_at = await pacer.ready(customer_id)
            reply = await send(request_id)
            decision = decide(
                reply, tries, self.policy, self.rng, call=call, any_success=self.any_success
            )
            if on_try is not None:
                on_try(reply, decision)
            tries = decision.tries
            pacer.answered(reply, sent_at, decision.delay, customer_id)
            status = reply.status
            if 200 <= status < 300:
                self.any_success = True
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
                await self.client.renew_token()
            elif decision.waits is Waits.CALL and decision.delay > 0:
                await pacer.clock.sleep(decision.delay)
            if not decision.same_request_id:
                request_id = new_request_id()


@asynccontextmanager
async def open_calls(
    options: RunOptions,
    base_url: str,
    tokens: TokenProvider,
    pacer: Pacer,
    *,
    rng: Random | None = None,
) -> AsyncIterator[Calls]:
    """The command's one Client behind its Calls: a connection for each of --concurrency
    customers, and one for the calls of the run as a whole (a country's rules fetched ahead)."""
    async with Client(
        base_url, tokens, timeout=options.timeout, connections=options.concurrency + 1
    ) as client:
        yield Calls(client, pacer, options.retry_policy, rng)
