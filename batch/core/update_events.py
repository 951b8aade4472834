"""What one customer's update asks for and is given: the actions the state machine
(core/customer_update.py) names next, and the answers its driver (engine/update.py) hands back.

    ReadProfile | PutProfile | CheckAddress | FetchRules | Pause | Done      (NextAction)
    Answered | RulesReady | Paused                                          (Answer)

Frozen values, as h11's events are: a table test builds them by hand, the driver from the wire.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from batch.core.country_rules import RulesAnswer
from batch.core.model import Change, Outcome
from batch.core.retry import Decision, Reply, Tries

# The actions: what the driver performs next.


@dataclass(frozen=True, slots=True)
class ReadProfile:
    """GET the billing profile, starting the call with `tries`."""

    tries: Tries


@dataclass(frozen=True, slots=True)
class PutProfile:
    """PUT `resource` with If-Match `etag`. first: a new PUT, whose changes the journal records
    before it is sent; else the same PUT again, with `request_id` (after a read-back)."""

    resource: Mapping[str, object]
    etag: str
    changes: tuple[Change, ...]
    tries: Tries
    request_id: str | None

    @property
    def first(self) -> bool:
        return self.request_id is None


@dataclass(frozen=True, slots=True)
class CheckAddress:
    """POST the planned address to the address validation."""

    address: Mapping[str, object]
    tries: Tries


@dataclass(frozen=True, slots=True)
class FetchRules:
    """The country's rules (the run's RulesCache fetches them once)."""

    country: str


@dataclass(frozen=True, slots=True)
class Pause:
    """Wait `seconds` before reading back a PUT whose outcome is unknown."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Done:
    """The update is over: the row's outcome (duration_ms still 0: the driver times it)."""

    outcome: Outcome


NextAction = ReadProfile | PutProfile | CheckAddress | FetchRules | Pause | Done


# The answers: what the driver hands back.


@dataclass(frozen=True, slots=True)
class Answered:
    """One HTTP call as it ended: its last answer, the decision on it, the budgets it left, and
    whether any try lost its answer after it was sent (then it may have landed)."""

    reply: Reply
    decision: Decision
    tries: Tries
    lost: bool = False


@dataclass(frozen=True, slots=True)
class RulesReady:
    """The country's rules answer (rules, or why there are none)."""

    answer: RulesAnswer


@dataclass(frozen=True, slots=True)
class Paused:
    """The pause is over."""


Answer = Answered | RulesReady | Paused
