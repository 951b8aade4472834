"""Each country's address rules for one run: fetched once, when the first row of it needs them.

    cache = RulesCache(known=journal.country_rules(run_id), on_fetched=journal.record_rules)
    answer = await cache.get("US", fetch)   # fetch(iso2) -> RulesAnswer, called once per run

Rows of other countries never wait for a fetch; rows of the same country wait for the one fetch
in flight (if the row fetching them is cut short, the next row of that country fetches them).
Every answer, rules or why there are none, is kept for the run and given to `on_fetched` (the
journal: --resume starts from them and the summary names the countries not checked). `kept`:
answers an earlier run of the job fetched (--incremental, state.py); a country found there is
not fetched, and its answer goes to `on_fetched` as if it had been.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from batch.core.country_rules import RulesAnswer


class RulesCache:
    """Country -> its RulesAnswer for one run; `known` maps what is known so far."""

    __slots__ = ("_fetching", "_kept", "_on_fetched", "known")

    def __init__(
        self,
        known: Mapping[str, RulesAnswer] | None = None,
        on_fetched: Callable[[RulesAnswer], None] | None = None,
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
            if self._on_fetched is not None:
                self._on_fetched(answer)
        finally:
            del self._fetching[iso2]
            done.set()
        return answer
