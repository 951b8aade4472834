"""core/customer_update: one customer's update as a state machine, played by tables, no sockets.

Each case gives the answers the calls get, in order, and the actions the machine asks for: a
call's answer is what the one call path returns after its retries (its last Reply and the
Decision on it), so only the answers that end a call appear here.
"""

from dataclasses import replace

import pytest

from batch.core import customer_update as machine
from batch.core.country_rules import rules_answer
from batch.core.country_rules_data import PUBLISHED
from batch.core.customer_update import UNREAD_PUT, Setup
from batch.core.incremental import PUT_ONTO_KNOWN
from batch.core.model import Change, KnownProfile, Row, Status
from batch.core.options import RunOptions
from batch.core.retry import Action, Call, Decision, Reply, Tries
from batch.core.update_events import (
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

POLICY = RunOptions().retry_policy
CID = "0f8fad5b-d9cb-469f-a165-70867728950e"
ADDRESS = {"addressLine1": "1 Main St", "state": "WA", "postalCode": "98052", "country": "US"}
OLD = {"email": "a@example.com", "defaultAddress": {**ADDRESS, "city": "Oldtown"}}
NEW = {"email": "a@example.com", "defaultAddress": {**ADDRESS, "city": "Newtown"}}


def profile(body, etag="e1"):
    return {**body, "attributes": {"etag": etag}}


def ok(body=OLD, etag="e1"):
    reply = Reply(200, profile(body, etag), etag=etag)
    return Answered(reply, Decision(Action.DONE, Tries()), Tries())


def stale():
    decision = Decision(Action.REFETCH, Tries(conflict=1))
    return Answered(Reply(412, {}), decision, decision.tries)


def lost():  # a PUT whose answer was lost after sending: read it back first
    decision = Decision(Action.READ_BACK, Tries(fault=1), delay=0.5, same_request_id=True)
    return Answered(Reply(504, {}, request_id="r1"), decision, decision.tries, lost=True)


def lost_for_good():  # the PUT's fault budget spent, the last try's outcome unknown
    decision = Decision(Action.GIVE_UP, Tries(fault=6), status=Status.FAILED)
    return Answered(Reply(504, {}), decision, decision.tries, lost=True)


def not_found():
    decision = Decision(Action.GIVE_UP, Tries(), status=Status.NOT_FOUND)
    return Answered(Reply(404, {}, error_code="60003"), decision, Tries())


def server_down():
    decision = Decision(Action.GIVE_UP, Tries(fault=6), status=Status.FAILED)
    return Answered(Reply(503, {}), decision, decision.tries)


def verdict(status):
    return Answered(Reply(200, {"status": status}), Decision(Action.DONE, Tries()), Tries())


US_RULES = RulesReady(rules_answer("US", 200, PUBLISHED["US"], ""))


def play(answers, *, known=None, values=None, **flags):
    """Drive the machine as engine/update.py does, with `answers` in turn; returns the kinds of
    the actions it asked for and the outcome it ended with."""
    row = Row(2, CID, values or {"city": "Newtown"}, {})
    state = machine.start(row, Setup(POLICY, **flags), known)
    asked = []
    answers = list(answers)
    while True:
        action = machine.next_action(state)
        asked.append(type(action).__name__)
        if isinstance(action, Done):
            assert answers == [], "answers left over"
            return asked, action.outcome
        answer = answers.pop(0)
        if isinstance(answer, Answered):  # the budgets go on from the action's, as a call's do
            spent = answer.decision.tries
            tries = Tries(fault=spent.fault, conflict=action.tries.conflict + spent.conflict)
            answer = replace(answer, tries=tries)
            # each try counted, as the call path reports it
            call = {ReadProfile: Call.GET, PutProfile: Call.PUT, CheckAddress: Call.VALIDATE}
            state = machine.tried(state, answer.reply, answer.decision, call[type(action)])
        state = machine.after(state, answer)


CHANGED = (Change("city", "Oldtown", "Newtown"),)

CASES = {
    "read, put, updated": (
        [ok(), ok(NEW, "e2")],
        {},
        ["ReadProfile", "PutProfile", "Done"],
        Status.UPDATED,
    ),
    "already in place: no put": ([ok(NEW)], {}, ["ReadProfile", "Done"], Status.UNCHANGED),
    "stale etag: read again, re-apply": (
        [ok(), stale(), ok(OLD, "e3"), ok(NEW, "e4")],
        {},
        ["ReadProfile", "PutProfile", "ReadProfile", "PutProfile", "Done"],
        Status.UPDATED,
    ),
    "a lost put that landed: read back, no second put": (
        [ok(), lost(), Paused(), ok(NEW, "e2")],
        {},
        ["ReadProfile", "PutProfile", "Pause", "ReadProfile", "Done"],
        Status.UPDATED,
    ),
    "a lost put that did not land: the same put again": (
        [ok(), lost(), Paused(), ok(), ok(NEW, "e2")],
        {},
        ["ReadProfile", "PutProfile", "Pause", "ReadProfile", "PutProfile", "Done"],
        Status.UPDATED,
    ),
    "the put's budget spent, but it landed: updated, never failed": (
        [ok(), lost_for_good(), ok(NEW, "e2")],
        {},
        ["ReadProfile", "PutProfile", "ReadProfile", "Done"],
        Status.UPDATED,
    ),
    "the put's budget spent and it did not land: failed": (
        [ok(), lost_for_good(), ok()],
        {},
        ["ReadProfile", "PutProfile", "ReadProfile", "Done"],
        Status.FAILED,
    ),
    "unknown customer": ([not_found()], {}, ["ReadProfile", "Done"], Status.NOT_FOUND),
    "dry run: would update, no put": (
        [ok()],
        {"dry_run": True},
        ["ReadProfile", "Done"],
        Status.WOULD_UPDATE,
    ),
    "rules fetched, then the put": (
        [ok(), US_RULES, ok(NEW, "e2")],
        {"checks_rules": True},
        ["ReadProfile", "FetchRules", "PutProfile", "Done"],
        Status.UPDATED,
    ),
    "an address the rules refuse: invalid, nothing sent": (
        [ok(), US_RULES],
        {"checks_rules": True, "values": {"postal_code": "ABC"}},
        ["ReadProfile", "FetchRules", "Done"],
        Status.INVALID,
    ),
    "an address the service verifies, then the put": (
        [ok(), verdict("VerifiedShippable"), ok(NEW, "e2")],
        {"validate_addresses": True},
        ["ReadProfile", "CheckAddress", "PutProfile", "Done"],
        Status.UPDATED,
    ),
    "an address the service refuses: rejected": (
        [ok(), verdict("NotValidated")],
        {"validate_addresses": True},
        ["ReadProfile", "CheckAddress", "Done"],
        Status.REJECTED,
    ),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_each_answer_leads_to_the_next_action_and_the_outcome(case):
    answers, flags, actions, status = CASES[case]
    asked, outcome = play(answers, **flags)
    assert (asked, outcome.status) == (actions, status)


def test_an_updated_row_reports_its_changes_calls_and_etag():
    _, outcome = play([ok(), stale(), ok(OLD, "e3"), ok(NEW, "e4")])
    assert outcome.changes == CHANGED
    assert (outcome.attempts, outcome.conflicts, outcome.etag) == (4, 1, "e4")


def test_a_put_sent_again_after_its_read_back_keeps_its_request_id_and_budget():
    row = Row(2, CID, {"city": "Newtown"}, {})
    state = machine.start(row, Setup(POLICY))
    for answer in (ok(), lost(), Paused(), ok()):
        state = machine.after(state, answer)
    again = machine.next_action(state)
    assert isinstance(again, PutProfile)
    assert (again.request_id, again.tries.fault, again.first) == ("r1", 1, False)


def test_a_put_onto_a_profile_that_moved_since_its_read_back_is_a_new_put():
    row = Row(2, CID, {"city": "Newtown"}, {})
    state = machine.start(row, Setup(POLICY))
    for answer in (ok(), lost(), Paused(), ok(OLD, "e9")):  # another writer moved the etag
        state = machine.after(state, answer)
    again = machine.next_action(state)
    assert isinstance(again, PutProfile)
    assert (again.request_id, again.etag, again.first) == (None, "e9", True)


def test_a_read_back_that_fails_after_a_lost_put_says_the_put_may_have_landed():
    asked, outcome = play([ok(), lost(), Paused(), server_down()])
    assert asked[-1] == "Done"
    assert outcome.status is Status.FAILED
    assert outcome.message.endswith(UNREAD_PUT)


def test_a_kept_profile_is_put_onto_without_a_read():
    known = KnownProfile(profile(OLD, "k1"), "k1")
    asked, outcome = play([ok(NEW, "e2")], known=known)
    assert asked == ["PutProfile", "Done"]
    assert (outcome.status, outcome.message) == (Status.UPDATED, PUT_ONTO_KNOWN)


def test_a_kept_profile_gone_stale_is_read_and_the_row_reapplied():
    known = KnownProfile(profile(OLD, "k1"), "k1")
    asked, outcome = play([stale(), ok(OLD, "e3"), ok(NEW, "e4")], known=known)
    assert asked == ["PutProfile", "ReadProfile", "PutProfile", "Done"]
    assert (outcome.status, outcome.message) == (Status.UPDATED, "")


@pytest.mark.parametrize(
    ("known_body", "flags", "answers", "asked"),
    [
        # the kept profile says unchanged: not trusted for that, the profile is read
        (NEW, {}, [ok(NEW)], ["ReadProfile", "Done"]),
        # the kept profile breaks the rules: read before saying invalid
        (OLD, {"checks_rules": True, "values": {"postal_code": "ABC"}}, [US_RULES, ok()],
         ["FetchRules", "ReadProfile", "Done"]),
        # an address to validate: read first
        (OLD, {"validate_addresses": True}, [ok(), verdict("NotValidated")],
         ["ReadProfile", "CheckAddress", "Done"]),
    ],
)  # fmt: skip
def test_only_a_put_is_based_on_a_kept_profile(known_body, flags, answers, asked):
    known = KnownProfile(profile(known_body, "k1"), "k1")
    assert play(answers, known=known, **flags)[0] == asked


def test_an_answer_to_another_action_is_refused():
    state = machine.start(Row(2, CID, {"city": "Newtown"}, {}), Setup(POLICY))
    assert isinstance(machine.next_action(state), ReadProfile)
    with pytest.raises(ValueError, match="RulesReady is no answer to ReadProfile"):
        machine.after(state, US_RULES)


def test_a_country_rules_try_counts_in_the_tally_but_not_in_the_rows_attempts():
    state = machine.start(Row(2, CID, {"city": "Newtown"}, {}), Setup(POLICY))
    reply = Reply(200, PUBLISHED["US"])
    state = machine.tried(state, reply, Decision(Action.DONE, Tries()), Call.RULES)
    assert (state.tally.requests, state.attempts, state.last) == (1, 0, None)


def test_each_kind_of_action_is_one_of_the_machines():
    # The driver's match covers exactly these: a new kind would need a new case there.
    assert set(NextAction.__args__) == {
        ReadProfile,
        PutProfile,
        CheckAddress,
        FetchRules,
        Pause,
        Done,
    }


# A reviewed plan's row (`pcbatch apply`): PUT onto the planned profile, no GET; after a stale
# etag, the planned fields are judged on the fresh profile (core/reviewed.moved_since_plan).
PLANNED = KnownProfile(profile(OLD, "p1"), "p1", planned=CHANGED)
OTHER_WRITER = {**OLD, "email": "other@example.com"}  # moved in a field the plan leaves alone
MOVED = {**OLD, "defaultAddress": {**ADDRESS, "city": "Elsewhere"}}  # moved in a planned one
LANDED_ALREADY = NEW  # the planned value is there already (a PUT that landed before a crash)

PLAN_CASES = {
    "nothing moved: one put, no get": (
        [ok(NEW, "e2")],
        ["PutProfile", "Done"],
        Status.UPDATED,
        machine.AS_PLANNED,
    ),
    "moved in another field: read, planned values applied onto it": (
        [stale(), ok(OTHER_WRITER, "e3"), ok(NEW, "e4")],
        ["PutProfile", "ReadProfile", "PutProfile", "Done"],
        Status.UPDATED,
        machine.MERGED_ONTO_MOVED,
    ),
    "moved in a planned field: nothing written": (
        [stale(), ok(MOVED, "e3")],
        ["PutProfile", "ReadProfile", "Done"],
        Status.CHANGED_SINCE_PLAN,
        "changed since the plan, nothing written: city: planned 'Oldtown' -> 'Newtown', "
        "now 'Elsewhere'",
    ),
    "the planned value already there: no second put": (
        [stale(), ok(LANDED_ALREADY, "e3")],
        ["PutProfile", "ReadProfile", "Done"],
        Status.UNCHANGED,
        "",
    ),
}


@pytest.mark.parametrize("case", PLAN_CASES, ids=list(PLAN_CASES))
def test_a_planned_row_is_put_as_planned_or_ends_changed_since_plan(case):
    answers, actions, status, message = PLAN_CASES[case]
    asked, outcome = play(answers, known=PLANNED)
    assert (asked, outcome.status, outcome.message) == (actions, status, message)


def test_a_planned_row_moved_in_a_planned_field_reports_no_change_and_is_not_ok():
    _, outcome = play([stale(), ok(MOVED, "e3")], known=PLANNED)
    assert outcome.changes == ()
    assert not outcome.status.ok


def test_a_planned_row_read_back_after_a_lost_put_that_landed_is_updated():
    asked, outcome = play([lost(), Paused(), ok(NEW, "e2")], known=PLANNED)
    assert asked == ["PutProfile", "Pause", "ReadProfile", "Done"]
    assert (outcome.status, outcome.changes) == (Status.UPDATED, CHANGED)
