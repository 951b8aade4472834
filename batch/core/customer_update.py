"""One customer's update as a state machine: a frozen state, its next action, the next state.

No I/O here (python-hyper/h11's manner): the engine's driver (engine/update.py) asks
`next_action(state)` what to do, performs it, and hands the answer back to `after(state,
answer)`, which returns the next state; each try of a call is counted with `tried`. Steps
(README.md, "Usage: `pcbatch run`", what happens to each valid row):

    the state                               next action         its answer leads to
    finished                                Done(outcome)       -
    a read-back pause pending               Pause(seconds)      the pause done
    a PUT gave up after an unknown outcome  ReadProfile         LANDED: `updated`; else the
                                                                  PUT's own ending
    no profile to plan on                   ReadProfile         2xx: plan on it; else the row
                                                                  ends as retry.ending says
    planned (plan.step_after_get):
      RULES                                 FetchRules(iso2)    the answer kept; plan again
      VALIDATE                              CheckAddress        verified: plan again; a refusal
                                                                  ends `rejected`
      PUT                                   PutProfile          2xx `updated`; REFETCH: read
                                                                  again; READ_BACK: pause, read,
                                                                  then the same PUT again (its
                                                                  MS-RequestId and budgets);
                                                                  else its ending
      anything else                         Done(its status)

- A row given a KnownProfile (--incremental: the profile and etag an earlier run kept) plans on
  it without a GET when that leads straight to a PUT (or to the country rules first): If-Match
  makes a stale one a 412 and the profile is read. A known profile that ends the row another
  way (unchanged, invalid, to be validated) is not trusted for that: the profile is read.
- A row of a reviewed plan (`pcbatch apply`: a KnownProfile with `planned` changes, the
  profile and etag the plan read) is PUT onto that profile without a GET. Every read of its
  profile after that (a 412 or 400/2055, a read-back) checks the planned fields first
  (core/reviewed.moved_since_plan): when each still holds its planned before (or already its
  after), the planned values are applied onto the fresh profile, another writer's other fields
  kept; when one moved, the row ends `changed_since_plan`, nothing written, its message showing
  before, now and planned.
- A PUT whose outcome is unknown (no answer after sending, or 500/502/503/504) is read back
  first (retry.READ_BACK); when its budget runs out after an unknown outcome, the profile is
  read back once more: a PUT that landed is never reported `failed`.
- The same PUT is sent again (same MS-RequestId) only onto the same etag; a profile that moved
  makes it a new PUT (the journal records its changes first: `PutProfile.first`).

`after` works out which action an answer is to by asking `next_action` of the same state (or is
told it by the driver), so a state and an answer always meet the transition written for them.
The actions and answers themselves are core/update_events.py's values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace

from batch.core.country_rules import RulesAnswer
from batch.core.errors import AuthFailed, PcbatchError
from batch.core.incremental import PUT_ONTO_KNOWN
from batch.core.model import Change, KnownProfile, Outcome, Row, Status, Tally
from batch.core.plan import Next, Step, address_refusal, step_after_get
from batch.core.retry import Action, Call, Decision, Reply, RetryPolicy, Tries, ending, tally_of
from batch.core.reviewed import moved_message, moved_since_plan
from batch.core.update_events import (
    Answer,
    Answered,
    CheckAddress,
    Done,
    FetchRules,
    NextAction,
    Pause,
    Paused,
    PutProfile,
    ReadProfile,
    RulesReady,
)

# Added to the message of a row whose profile could not be read back after a PUT of unknown
# outcome: the journal holds that PUT's changes, and --resume reports them if they landed.
UNREAD_PUT = (
    "a PUT of this row whose outcome is unknown may have landed: pcbatch run --resume reads"
    " the profile again"
)
# The message of an applied plan's row: sent as planned with no GET, or onto a profile that
# had moved since the plan in fields the plan does not change.
AS_PLANNED = "sent onto the profile the plan read (it had not moved): no GET"
MERGED_ONTO_MOVED = (
    "the profile moved since the plan in other fields: the planned values were applied onto it"
)
CUT_SHORT = (
    "cut short by an immediate stop while in flight (a PUT may have been sent): "
    "pcbatch run --resume reads the profile again"
)


@dataclass(frozen=True, slots=True)
class Setup:
    """What every customer's update of a run shares: the flags the steps read.

    checks_rules: the merged address is checked against its country's rules (each update asks
    for them with FetchRules; the run's cache answers at once when it has them); columns:
    field -> the sheet's header, to name a field a row's address breaks the rules in.
    """

    policy: RetryPolicy
    dry_run: bool = False
    validate_addresses: bool = False
    checks_rules: bool = False
    columns: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Basis:
    """The profile the next step plans on, and whether it is a kept one (no GET)."""

    body: Mapping[str, object]
    etag: str | None
    known: bool = False


@dataclass(frozen=True, slots=True)
class SentPut:
    """A PUT to send again after its read-back: budgets, MS-RequestId, the etag it was onto."""

    tries: Tries
    request_id: str
    etag: str


@dataclass(frozen=True, slots=True)
class State:
    """Where one customer's update stands.

    basis: the profile to plan on (None: read it). landed: the changes of a PUT whose outcome
    is unknown. verified: the last address the service verified. again: a PUT to send again.
    rules: the country rules answers this update was given (FetchRules).
    pause: seconds to wait before the next read. reading_back: the ending of a PUT that gave up
    after an unknown outcome, unless the last read-back finds it landed. outcome: set when over.
    stop_reason: the run's credentials were refused (the run stops); refused: a credential-wide
    403 before any success refused this customer (core/stops.py counts them).
    Counters of its calls: tries (budgets; conflicts carry over), attempts and last (of the
    calls about the customer: not the country rules), tally, and etag/profile of the last 2xx.
    """

    row: Row
    setup: Setup
    known: KnownProfile | None = None
    basis: Basis | None = None
    landed: tuple[Change, ...] | None = None
    verified: Mapping[str, object] | None = None
    again: SentPut | None = None
    pause: float | None = None
    reading_back: Outcome | None = None
    rules: Mapping[str, RulesAnswer] = field(default_factory=dict)
    outcome: Outcome | None = None
    stop_reason: AuthFailed | None = None
    refused: AuthFailed | None = None
    tries: Tries = field(default_factory=Tries)
    attempts: int = 0
    tally: Tally = field(default_factory=Tally)
    last: Reply | None = None
    etag: str | None = None
    profile: Mapping[str, object] | None = None


def start(row: Row, setup: Setup, known: KnownProfile | None = None) -> State:
    """A customer's update before its first call. known: a kept profile to PUT onto."""
    state = State(row, setup, known)
    if known is None:
        return state
    on_known = _evolve(state, basis=Basis(known.body, known.etag, known=True))
    if _step(on_known).next in (Next.PUT, Next.RULES):
        return on_known
    return state  # it would end the row another way: read the profile instead


def next_action(state: State) -> NextAction:
    """What to do now (see the module's table)."""
    if state.outcome is not None:
        return Done(state.outcome)
    if state.pause is not None:
        return Pause(state.pause)
    basis = state.basis
    if state.reading_back is not None or basis is None:
        return ReadProfile(state.tries.next_call())
    step = _step(state)
    if step.next is Next.RULES:
        assert step.country is not None
        return FetchRules(step.country)
    if basis.known and step.next is not Next.PUT:
        return ReadProfile(state.tries.next_call())  # only a PUT is based on a kept profile
    if step.next is Next.VALIDATE:
        return CheckAddress(step.address, state.tries.next_call())
    if step.next is not Next.PUT:
        assert step.status is not None  # every step but PUT, RULES, VALIDATE ends the row
        return Done(_outcome(state, step.status, message=step.message, changes=step.changes))
    plan = step.plan
    assert plan is not None and basis.etag is not None  # a PUT step has both
    again = state.again
    tries = again.tries if again is not None else state.tries.next_call()
    request_id = again.request_id if again is not None and again.etag == basis.etag else None
    return PutProfile(plan.resource, basis.etag, plan.changes, tries, request_id)


def after(state: State, answer: Answer, action: NextAction | None = None) -> State:
    """The state once `answer` came for the action next_action(state) asked for.

    action: that action, when the caller has it (the driver does: it is not worked out again).
    """
    action = action or next_action(state)
    match action, answer:
        case Pause(), Paused():
            return _evolve(state, pause=None)
        case FetchRules(country), RulesReady(found):
            return _evolve(state, rules={**state.rules, country: found})
        case ReadProfile(), Answered():
            return _after_read(_evolve(state, tries=answer.tries), answer)
        case CheckAddress(address), Answered():
            return _after_check(_evolve(state, tries=answer.tries), answer, address)
        case PutProfile(), Answered():
            return _after_put(_evolve(state, tries=answer.tries), answer, action)
    raise ValueError(f"{type(answer).__name__} is no answer to {type(action).__name__}")


def tried(state: State, reply: Reply, decision: Decision, call: Call) -> State:
    """The state once one try of `call` was answered: counted in its tally, attempts and last
    answer (not the country rules': no answer about the customer), and the profile's etag."""
    tally = state.tally + tally_of(reply, decision)
    if call is Call.RULES:
        return _evolve(state, tally=tally)
    etag, profile = state.etag, state.profile
    if 200 <= reply.status < 300 and reply.etag is not None and call is not Call.VALIDATE:
        etag, profile = reply.etag, reply.body
    return _evolve(
        state, tally=tally, attempts=state.attempts + 1, last=reply, etag=etag, profile=profile
    )


def failed(state: State, error: PcbatchError) -> Outcome:
    """The outcome of an update that could not go on (a token provider that cannot sign in)."""
    row = state.row
    return Outcome(row.number, row.customer_id, Status.FAILED, message=str(error), etag=state.etag)


def cut_short(state: State) -> Outcome:
    """The outcome of an update cancelled in flight (an immediate stop)."""
    row = state.row
    return Outcome(row.number, row.customer_id, Status.SKIPPED, message=CUT_SHORT, etag=state.etag)


def _after_read(state: State, answered: Answered) -> State:
    decision, reply = answered.decision, answered.reply
    ending = state.reading_back
    if ending is not None:  # the last read-back of a PUT that gave up: did it land?
        if decision.action is Action.DONE:
            landed = _step(_evolve(state, basis=Basis(reply.body, reply.etag)))
            if landed.next is Next.LANDED:
                return _finish(state, _outcome(state, Status.UPDATED, changes=landed.changes))
        return _finish(state, ending)
    if decision.action is not Action.DONE:
        ended = _end(state, decision, reply, Call.GET)
        if state.landed is None:
            return ended
        assert ended.outcome is not None
        return _evolve(ended, outcome=replace(ended.outcome, message=_unread(ended.outcome)))
    planned = state.known.planned if state.known is not None else None
    if planned is not None:  # a reviewed plan's row: did a planned field move since?
        moved = moved_since_plan(reply.body, planned)
        if moved:
            outcome = _outcome(state, Status.CHANGED_SINCE_PLAN, message=moved_message(moved))
            return _finish(state, outcome)
    return _evolve(state, basis=Basis(reply.body, reply.etag))


def _after_check(state: State, answered: Answered, address: Mapping[str, object]) -> State:
    if answered.decision.action is not Action.DONE:
        return _end(state, answered.decision, answered.reply, Call.VALIDATE)
    refusal = address_refusal(answered.reply.body)
    if refusal is None:
        return _evolve(state, verified=address)
    changes = _step(state).changes
    return _finish(state, _outcome(state, Status.REJECTED, message=refusal, changes=changes))


def _after_put(state: State, answered: Answered, put: PutProfile) -> State:
    decision, reply = answered.decision, answered.reply
    landed = put.changes if answered.lost else state.landed
    state = _evolve(state, again=None, landed=landed)
    action = decision.action
    if action is Action.DONE:
        assert state.basis is not None
        message = _put_message(state)
        return _finish(state, _outcome(state, Status.UPDATED, message=message, changes=put.changes))
    if action is Action.READ_BACK:  # it may have landed: read it before sending it again
        again = SentPut(decision.tries, reply.request_id, put.etag)
        return _evolve(state, again=again, pause=decision.delay, basis=None)
    if action is Action.REFETCH:
        return _evolve(state, basis=None)
    ended = _end(state, decision, reply, Call.PUT)
    if landed is None or action is not Action.GIVE_UP:
        return ended
    return _evolve(ended, outcome=None, reading_back=ended.outcome, basis=None)


def _put_message(state: State) -> str:
    """An updated row's message: how its PUT was based (a kept profile, a plan's)."""
    assert state.basis is not None
    known = state.known
    planned = known is not None and known.planned is not None
    if state.basis.known:
        return AS_PLANNED if planned else PUT_ONTO_KNOWN
    moved = planned and known is not None and state.basis.etag != known.etag
    return MERGED_ONTO_MOVED if moved else ""


def _unread(outcome: Outcome) -> str:
    return f"{outcome.message}; {UNREAD_PUT}"


def _step(state: State) -> Step:
    basis = state.basis
    assert basis is not None
    setup = state.setup
    return step_after_get(
        basis.body,
        basis.etag,
        state.row,
        landed=state.landed,
        dry_run=setup.dry_run,
        validate_addresses=setup.validate_addresses,
        verified=state.verified,
        country_rules=state.rules if setup.checks_rules else None,
        columns=setup.columns,
    )


def _end(state: State, decision: Decision, reply: Reply, call: Call) -> State:
    """The row ends after a call that did not succeed (retry.ending); a refusal of the run's
    credentials is kept as the reason to stop the run."""
    row = state.row
    end = ending(reply, decision, state.setup.policy, call, row.number, row.customer_id)
    again = end.abort is not None or end.refused is not None
    outcome = _outcome(state, end.status, message=end.message, retry_on_resume=again)
    return _evolve(state, outcome=outcome, stop_reason=end.abort, refused=end.refused)


def _finish(state: State, outcome: Outcome) -> State:
    return _evolve(state, outcome=outcome, reading_back=None)


def _outcome(
    state: State,
    status: Status,
    *,
    message: str = "",
    changes: tuple[Change, ...] = (),
    retry_on_resume: bool = False,
) -> Outcome:
    last, row = state.last, state.row
    return Outcome(
        row=row.number,
        customer_id=row.customer_id,
        status=status,
        attempts=state.attempts,
        conflicts=state.tries.conflict,
        http_status=last.status if last is not None and last.status else None,
        error_code=last.error_code if last is not None and not status.ok else None,
        message=message,
        changes=changes,
        request_id=last.request_id if last is not None else None,
        correlation_id=last.correlation_id if last is not None else None,
        etag=state.etag,
        retry_on_resume=retry_on_resume,
        profile=state.profile,
    )


_STATE_FIELDS = tuple(f.name for f in fields(State))
_set = object.__setattr__


def _evolve(state: State, **changes: object) -> State:
    """dataclasses.replace for a State, in a third of its time (it runs some ten times per
    customer: the engine's hot path)."""
    new = object.__new__(State)
    for name in _STATE_FIELDS:
        _set(new, name, changes[name] if name in changes else getattr(state, name))
    return new
