"""Each country's address rules for one run: fetched once, when the first row of it needs them.

    cache = RulesCache(known=journal.country_rules(run_id), on_fetched=[journal.record_rules])
    answer = await cache.get("US", fetch)   # fetch(iso2) -> RulesAnswer, called once per run

Rows of other countries never wait for a fetch; rows of the same country wait for the one fetch
in flight (if the row fetching them is cut short, the next row of that country fetches them).
Every answer, rules or why there are none, is kept for the run and given to each of
`on_fetched` (the journal: --resume starts from them and the summary names the countries not
checked; the job state, which keeps the final ones for the week's incremental runs). `kept`:
answers an earlier run of the job fetched (--incremental, state.py); a country found there is
not fetched, and its answer goes to `on_fetched` as if it had been.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial

from batch.core.country_rules import RulesAnswer, rules_answer
from batch.core.errors import AuthFailed
from batch.core.options import RunOptions, resolve_base_url
from batch.core.retry import Action, Call, describe
from batch.engine.calls import open_calls
from batch.engine.pacing import pacer_for
from batch.wire.credentials import provider_from_env


class RulesCache:
    """Country -> its RulesAnswer for one run; `known` maps what is known so far."""

    __slots__ = ("_fetching", "_kept", "_on_fetched", "known")

    def __init__(
        self,
        known: Mapping[str, RulesAnswer] | None = None,
        on_fetched: Sequence[Callable[[RulesAnswer], None]] = (),
        kept: Mapping[str, RulesAnswer] | None = None,
    ) -> None:
        self.known: dict[str, RulesAnswer] = dict(known or {})
        self._fetching: dict[str, asyncio.Event] = {}
        self._on_fetched = on_fetched
        self._kept = kept or {}

    async def get(self, iso2: str, fetch: Callable[[str], Awaitable[RulesAnswer]]) -> RulesAnswer:
        """The country's answer: known, awaited from the fetch in flight, or fetched now."""
        while True:
            answer = self.known.get(iso2)
            if answer is not None:
                return answer
            in_flight = self._fetching.get(iso2)
            if in_flight is None:
                break
            await in_flight.wait()
        done = self._fetching[iso2] = asyncio.Event()
        try:
            answer = self._kept.get(iso2) or await fetch(iso2)
            self.known[iso2] = answer
            for on_fetched in self._on_fetched:
                on_fetched(answer)
        finally:
            del self._fetching[iso2]
            done.set()
        return answer


async def fetch_rules(
    countries: Sequence[str], options: RunOptions, env: Mapping[str, str]
) -> dict[str, RulesAnswer]:
    """Each country's rules as Partner Center answers them (`pcbatch validate --online`),
    through the one call path: paced, a 429 waiting its Retry-After, faults retried, a 401
    renewing the token. Raises AuthFailed when the credentials are refused."""
    base_url = resolve_base_url(options.base_url, env, options.cloud)
    tokens = provider_from_env(env, options.cloud, base_url)
    found: dict[str, RulesAnswer] = {}
    async with open_calls(options, base_url, tokens, pacer_for(options)) as calls:
        for country in countries:
            send = partial(calls.client.get_country_rules, country)
            answered = await calls.send(send, Call.RULES, label=f"country rules of {country}")
            reply = answered.reply
            if answered.decision.action in (Action.ABORT, Action.REFUSED):
                raise AuthFailed(
                    f"--online: Partner Center refused the credentials ({describe(reply)}); "
                    "check them with `pcbatch login` or the PC_* variables"
                )
            found[country] = rules_answer(country, reply.status, reply.body, reply.message)
    return found
