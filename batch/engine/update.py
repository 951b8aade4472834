"""One customer's update, carried out: the actions core/customer_update.py decides, performed.

    ended = await drive(flight, ctx)      # flight.state: where the update stands, at every step

Every HTTP call goes through the one call path (calls.Calls: pacing, the retry table, token
renewal, Retry-After); each try's answer is counted into the state (customer_update.tried) and
the whole call's answer moves it on (customer_update.after). A new PUT's changes go to
`before_put` first (the journal records them durably: --resume tells a PUT that landed before a
crash by it).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from functools import partial

from batch.core import customer_update as machine
from batch.core.country_rules import RulesAnswer, rules_answer
from batch.core.customer_update import Setup, State
from batch.core.errors import AuthFailed, PcbatchError
from batch.core.model import Change, KnownProfile, Outcome, Row, Tally
from batch.core.retry import Call, Decision, Reply, Tries
from batch.core.update_events import (
    Answer,
    Answered,
    CheckAddress,
    Done,
    FetchRules,
    Pause,
    Paused,
    PutProfile,
    ReadProfile,
    RulesReady,
)
from batch.engine.calls import Calls
from batch.engine.rules_cache import RulesCache

BeforePut = Callable[[Row, tuple[Change, ...], str], None]


@dataclass(frozen=True, slots=True)
class Context:
    """What every customer's update of a run shares: the call path, the steps' flags, the
    run's country rules (None: none are checked), and where a new PUT's changes go first."""

    calls: Calls
    setup: Setup
    country_rules: RulesCache | None = None
    before_put: BeforePut | None = None


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


class Flight:
    """One customer in flight: its row and the state its update has reached (read by the pool
    for the counters so far, and for the outcome of an update cut short)."""

    __slots__ = ("started", "state")

    def __init__(self, row: Row, setup: Setup, known: KnownProfile | None = None) -> None:
        self.state: State = machine.start(row, setup, known)
        self.started = time.monotonic()

    @property
    def row(self) -> Row:
        return self.state.row

    def finished(self, outcome: Outcome, stop_reason: PcbatchError | None = None) -> Finished:
        """Its Finished, timed, with `outcome` (default: the state's own)."""
        state = self.state
        duration_ms = round((time.monotonic() - self.started) * 1000)
        return Finished(
            replace(outcome, duration_ms=duration_ms),
            state.tally,
            stop_reason if stop_reason is not None else state.stop_reason,
            state.refused,
        )


async def drive(flight: Flight, ctx: Context) -> Finished:
    """Bring the customer's billing profile to the row's values (core/customer_update.py).

    Never raises for a bad answer: every answer ends in an Outcome. A PcbatchError (a token
    provider that cannot sign in any more) ends the row `failed` and stops the run.
    """
    try:
        while True:
            action = machine.next_action(flight.state)
            if isinstance(action, Done):
                return flight.finished(action.outcome)
            answer = await _perform(action, flight, ctx)  # its tries counted meanwhile
            flight.state = machine.after(flight.state, answer, action)
    except PcbatchError as exc:
        return flight.finished(machine.failed(flight.state, exc), stop_reason=exc)


async def _perform(
    action: ReadProfile | PutProfile | CheckAddress | FetchRules | Pause,
    flight: Flight,
    ctx: Context,
) -> Answer:
    client = ctx.calls.client
    customer_id = flight.row.customer_id
    match action:
        case ReadProfile(tries):
            return await _call(
                flight, ctx, partial(client.get_profile, customer_id), Call.GET, tries
            )
        case PutProfile(resource, etag, changes, tries, request_id):
            if action.first and ctx.before_put is not None:
                ctx.before_put(flight.row, changes, etag)
            send = partial(client.put_profile, customer_id, resource, etag)
            return await _call(flight, ctx, send, Call.PUT, tries, request_id=request_id)
        case CheckAddress(address, tries):
            send = partial(client.validate_address, address)
            return await _call(flight, ctx, send, Call.VALIDATE, tries)
        case FetchRules(country):
            assert ctx.country_rules is not None  # no rules are asked for without the cache
            return RulesReady(await ctx.country_rules.get(country, partial(_rules, flight, ctx)))
        case Pause(seconds):
            if seconds > 0:
                await ctx.calls.pacer.clock.sleep(seconds)
            return Paused()


async def _call(
    flight: Flight,
    ctx: Context,
    send: Callable[[str], Awaitable[Reply]],
    call: Call,
    tries: Tries,
    *,
    request_id: str | None = None,
) -> Answered:
    def counted(reply: Reply, decision: Decision) -> None:
        flight.state = machine.tried(flight.state, reply, decision, call)

    row = flight.row
    return await ctx.calls.send(
        send,
        call,
        tries,
        label=f"row {row.number} customer {row.customer_id}: {call}",
        on_try=counted,
        request_id=request_id,
        customer_id=row.customer_id,
    )


async def _rules(flight: Flight, ctx: Context, iso2: str) -> RulesAnswer:
    """The country's rules from the service (RulesCache calls it once per run and country)."""

    def counted(reply: Reply, decision: Decision) -> None:
        flight.state = machine.tried(flight.state, reply, decision, Call.RULES)

    tries = flight.state.tries.next_call()
    answer, answered = await fetch_rules(ctx.calls, iso2, counted, tries)
    flight.state = replace(flight.state, tries=answered.tries)
    return answer


async def fetch_rules(
    calls: Calls, iso2: str, on_try: Callable[[Reply, Decision], None], tries: Tries | None = None
) -> tuple[RulesAnswer, Answered]:
    """A country's rules answer (`GET /v1/countryvalidationrules/{iso2}`) through the one call
    path, and the call's answer; on_try sees each try (its caller counts there)."""
    send = partial(calls.client.get_country_rules, iso2)
    label = f"country rules of {iso2}"
    answered = await calls.send(send, Call.RULES, tries, label=label, on_try=on_try)
    reply = answered.reply
    return rules_answer(iso2, reply.status, reply.body, reply.message), answered
