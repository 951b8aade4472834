"""retry.decide: one answer -> the next step; a table, no sockets."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from random import Random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batch.core.model import Status, Tally
from batch.core.options import RunOptions
from batch.core.retry import (
    CREDENTIALS_REFUSED,
    RIGHTS_REFUSED,
    Action,
    Call,
    Fault,
    Reply,
    Tries,
    decide,
    describe,
    ending,
    parse_retry_after,
    tally_of,
)

POLICY = RunOptions().retry_policy
LATER = {"call": Call.PUT, "any_success": True}  # a PUT, in a run that has had a 2xx already
GET_LATER = {"call": Call.GET, "any_success": True}


def reply(status: int, **kw) -> Reply:
    return Reply(status, {}, **kw)


@pytest.mark.parametrize(
    ("answer", "action", "status"),
    [
        (reply(200), Action.DONE, None),
        (reply(201), Action.DONE, None),
        (reply(412), Action.REFETCH, None),
        (reply(400, error_code="2055"), Action.REFETCH, None),
        (reply(400, error_code="3000"), Action.GIVE_UP, Status.REJECTED),
        (reply(400, error_code="600051"), Action.GIVE_UP, Status.REJECTED),
        (reply(403, error_code="2032"), Action.GIVE_UP, Status.REJECTED),
        (reply(403, error_code="20002"), Action.GIVE_UP, Status.REJECTED),
        (reply(409, error_code="800064"), Action.RETRY, None),
        (reply(404), Action.GIVE_UP, Status.NOT_FOUND),
        (reply(429, retry_after=3.0), Action.RETRY, None),
        (reply(500), Action.RETRY, None),
        (reply(502), Action.RETRY, None),
        (reply(503), Action.RETRY, None),
        (reply(504), Action.RETRY, None),
        (reply(501), Action.GIVE_UP, Status.REJECTED),
        (reply(0, fault=Fault.TIMEOUT), Action.RETRY, None),
        (reply(0, fault=Fault.DISCONNECTED), Action.RETRY, None),
        (reply(0, fault=Fault.CONNECT), Action.RETRY, None),
        (reply(401), Action.RENEW, None),
    ],
)
def test_each_answer_leads_to_the_documented_next_step(answer, action, status):
    decision = decide(answer, Tries(), POLICY, Random(1), **GET_LATER)
    assert decision.action is action
    assert decision.status is status


@pytest.mark.parametrize(
    ("answer", "action"),
    [
        (reply(500), Action.READ_BACK),
        (reply(502), Action.READ_BACK),
        (reply(503), Action.READ_BACK),
        (reply(504), Action.READ_BACK),
        (reply(0, fault=Fault.TIMEOUT), Action.READ_BACK),
        (reply(0, fault=Fault.DISCONNECTED), Action.READ_BACK),
        (reply(0, fault=Fault.CONNECT), Action.RETRY),  # nothing was sent
        (reply(409, error_code="800064"), Action.RETRY),  # refused: nothing was applied
        (reply(429), Action.RETRY),
    ],
)
def test_a_put_whose_outcome_is_unknown_is_read_back_then_sent_with_the_same_request_id(
    answer, action
):
    decision = decide(answer, Tries(), POLICY, Random(1), **LATER)
    assert decision.action is action
    assert decision.same_request_id is (action is Action.READ_BACK)


@pytest.mark.parametrize("status", [409, 502, 503, 504])
def test_a_retry_after_on_a_retried_answer_is_never_waited_less(status):
    policy = replace(POLICY, backoff_base=0.5, backoff_cap=1.0)
    asked = reply(status, retry_after=3.0)
    assert decide(asked, Tries(), policy, Random(1), **GET_LATER).delay == 3.0
    # A backoff longer than the Retry-After wins: never sooner, but not shorter either.
    long_backoff = replace(POLICY, backoff_base=50.0, backoff_cap=50.0)
    waits = [
        decide(reply(status, retry_after=0.001), Tries(), long_backoff, Random(s), **GET_LATER)
        for s in range(5)
    ]
    assert all(w.delay >= 0.001 for w in waits) and max(w.delay for w in waits) > 1.0
    absurd = reply(status, retry_after=86400.0)
    assert decide(absurd, Tries(), policy, Random(1), **GET_LATER).delay == 300.0


def test_a_second_401_on_the_same_call_aborts_the_run():
    first = decide(reply(401), Tries(), POLICY, Random(1), **LATER)
    second = decide(reply(401), first.tries, POLICY, Random(1), **LATER)
    assert (first.action, second.action) == (Action.RENEW, Action.ABORT)


@pytest.mark.parametrize(
    ("call", "any_success", "action", "status"),
    [
        (Call.GET, False, Action.REFUSED, Status.REJECTED),  # the app may lack permissions
        (Call.VALIDATE, False, Action.REFUSED, Status.REJECTED),
        (Call.GET, True, Action.GIVE_UP, Status.REJECTED),  # this customer only, for good
        (Call.PUT, True, Action.GIVE_UP, Status.REJECTED),
    ],
)
@pytest.mark.parametrize("code", ["900150", "900329", "900308", "2032", None])
def test_a_credential_wide_403_is_counted_towards_a_stop_only_before_any_success(
    call, any_success, action, status, code
):
    answer = reply(403, error_code=code)
    decision = decide(answer, Tries(), POLICY, Random(1), call=call, any_success=any_success)
    assert (decision.action, decision.status) == (action, status)


@pytest.mark.parametrize("code", ["20002", "800002", "1"])
def test_a_403_with_a_per_customer_code_refuses_that_customer_even_before_any_success(code):
    answer = reply(403, error_code=code)
    decision = decide(answer, Tries(), POLICY, Random(1), call=Call.GET, any_success=False)
    assert (decision.action, decision.status) == (Action.GIVE_UP, Status.REJECTED)
    end = ending(answer, decision, POLICY, Call.GET, 2, "cid")
    assert end.abort is None and end.refused is None


def test_a_404_of_the_address_validation_is_no_verdict_on_the_customer():
    decision = decide(reply(404), Tries(), POLICY, Random(1), call=Call.VALIDATE, any_success=True)
    assert (decision.action, decision.status) == (Action.GIVE_UP, Status.REJECTED)


@pytest.mark.parametrize(
    ("answer", "tally"),
    [
        (reply(200), Tally(requests=1)),
        (reply(429), Tally(requests=1, throttled=1, retries=1)),
        (reply(412), Tally(requests=1, conflicts=1)),  # a refetch is a new call, no retry
        (reply(503), Tally(requests=1, retries=1)),
        (reply(401), Tally(requests=1, retries=1)),  # renewed, then sent again
        (reply(404), Tally(requests=1)),
    ],
)
def test_each_answer_counts_once_in_the_run_figures(answer, tally):
    assert tally_of(answer, decide(answer, Tries(), POLICY, Random(1), **LATER)) == tally


def test_ending_after_credentials_refused_marks_the_row_for_resume_and_stops_the_run():
    refused = reply(401, message="expired")
    first = decide(refused, Tries(), POLICY, Random(1), call=Call.GET, any_success=False)
    decision = decide(refused, first.tries, POLICY, Random(1), call=Call.GET, any_success=False)
    end = ending(refused, decision, POLICY, Call.GET, 7, "cid")
    assert end.status is Status.REJECTED
    assert end.message == f"{CREDENTIALS_REFUSED}: HTTP 401: expired"
    assert end.abort is not None and end.abort.exit_code == 3
    assert "row 7" in str(end.abort)


def test_ending_after_a_credential_wide_403_marks_the_row_and_gives_the_reason_to_count():
    refused = reply(403, error_code="900150", message="forbidden")
    decision = decide(refused, Tries(), POLICY, Random(1), call=Call.GET, any_success=False)
    end = ending(refused, decision, POLICY, Call.GET, 7, "cid")
    assert end.status is Status.REJECTED
    assert end.message == f"{RIGHTS_REFUSED}: HTTP 403 code 900150: forbidden"
    assert end.abort is None
    assert end.refused is not None and end.refused.exit_code == 3
    assert "row 7" in str(end.refused)


def test_the_error_data_entries_are_in_the_message():
    answer = reply(
        400,
        error_code="27002",
        message="A property has invalid data.",
        data=("property_name: StateInvalid - Details", "property_name: PostalCodeInvalid"),
    )
    assert describe(answer) == (
        "HTTP 400 code 27002: A property has invalid data. (property_name: StateInvalid -"
        " Details; property_name: PostalCodeInvalid)"
    )


def test_ending_after_a_spent_budget_names_the_budget_and_the_last_answer():
    policy = replace(POLICY, max_attempts=2)
    decision = decide(reply(503), Tries(fault=1), policy, Random(1), **LATER)
    end = ending(reply(503, message="down"), decision, policy, Call.PUT, 2, "cid")
    assert end.status is Status.FAILED and end.abort is None
    assert end.message == (
        "gave up after 2 tries of the PUT, each a server error or no answer; last: HTTP 503: down"
    )


def test_a_429_waits_exactly_its_retry_after():
    assert decide(reply(429, retry_after=7.0), Tries(), POLICY, Random(1), **LATER).delay == 7.0


def test_a_429_without_retry_after_waits_two_seconds():
    assert decide(reply(429), Tries(), POLICY, Random(1), **LATER).delay == 2.0


def test_an_absurd_retry_after_is_cut_to_the_policy_cap():
    assert (
        decide(reply(429, retry_after=86400.0), Tries(), POLICY, Random(1), **LATER).delay == 300.0
    )


def test_a_lost_answer_is_retried_with_the_same_request_id():
    for fault in (Fault.TIMEOUT, Fault.DISCONNECTED):
        assert decide(reply(0, fault=fault), Tries(), POLICY, Random(1), **LATER).same_request_id


def test_an_answered_fault_or_a_refused_connection_gets_a_new_request_id():
    assert not decide(reply(503), Tries(), POLICY, Random(1), **GET_LATER).same_request_id
    assert not decide(
        reply(0, fault=Fault.CONNECT), Tries(), POLICY, Random(1), **LATER
    ).same_request_id
    assert not decide(reply(429), Tries(), POLICY, Random(1), **LATER).same_request_id


@pytest.mark.parametrize(
    ("answer", "budget"),
    [
        (reply(429, retry_after=1.0), "throttle"),
        (reply(503), "fault"),
        (reply(0, fault=Fault.TIMEOUT), "fault"),
        (reply(412), "conflict"),
    ],
)
def test_each_budget_ends_failed_after_max_attempts_tries(answer, budget):
    policy = replace(POLICY, max_attempts=3)
    tries = Tries()
    actions = []
    for _ in range(3):
        decision = decide(answer, tries, policy, Random(1), **LATER)
        actions.append(decision.action)
        tries = decision.tries
    assert Action.GIVE_UP not in actions[:2]
    assert actions[2] is Action.GIVE_UP
    assert decision.status is Status.FAILED
    assert getattr(tries, budget) == 3


def test_budgets_are_counted_each_on_its_own():
    policy = replace(POLICY, max_attempts=3)
    tries = Tries(throttle=2, fault=0, conflict=2)
    assert decide(reply(503), tries, policy, Random(1), **GET_LATER).action is Action.RETRY
    assert (
        decide(reply(429), Tries(fault=2, conflict=2), policy, Random(1), **LATER).action
        is Action.RETRY
    )


def test_a_new_call_keeps_only_the_conflict_budget():
    assert Tries(throttle=4, fault=3, renew=1, conflict=2).next_call() == Tries(conflict=2)


def test_max_attempts_one_means_no_retry_at_all():
    policy = replace(POLICY, max_attempts=1)
    assert decide(reply(503), Tries(), policy, Random(1), **LATER).action is Action.GIVE_UP
    assert decide(reply(429), Tries(), policy, Random(1), **LATER).action is Action.GIVE_UP


@given(st.integers(1, 30), st.integers(0, 2**32))
def test_backoff_is_full_jitter_under_an_exponential_cap(n, seed):
    policy = replace(POLICY, backoff_base=0.5, backoff_cap=30.0)
    wait = policy.backoff(n, Random(seed))
    assert 0.0 <= wait <= min(30.0, 0.5 * 2 ** (n - 1))


def test_backoff_spreads_retries_instead_of_syncing_them():
    waits = {round(POLICY.backoff(3, Random(seed)), 6) for seed in range(20)}
    assert len(waits) == 20


@pytest.mark.parametrize(
    ("header", "expected"),
    [("57", 57.0), ("1.5", 1.5), (" 3 ", 3.0), ("-4", 0.0), (None, None), ("soon", None)],
)
def test_retry_after_in_seconds(header, expected):
    assert parse_retry_after(header, now=1_000_000.0) == expected


def test_retry_after_as_an_http_date_counts_from_now():
    now = datetime(2025, 1, 31, 12, 0, 0, tzinfo=UTC)
    header = format_datetime(now + timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(header, now.timestamp()) == 90.0


def test_a_retry_after_date_in_the_past_means_retry_now():
    now = datetime(2025, 1, 31, 12, 0, 0, tzinfo=UTC)
    header = format_datetime(now - timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(header, now.timestamp()) == 0.0


def test_a_non_finite_retry_after_is_ignored():
    assert parse_retry_after("nan", 0.0) is None
    assert parse_retry_after("inf", 0.0) is None


@pytest.mark.parametrize(
    ("answer", "landed"),
    [
        (reply(0, fault=Fault.TIMEOUT), True),
        (reply(0, fault=Fault.DISCONNECTED), True),
        (reply(0, fault=Fault.CONNECT), False),  # nothing was sent
        (reply(200), False),
        (reply(503), False),  # the service answered: it says what happened
    ],
)
def test_only_a_call_sent_without_an_answer_may_have_landed(answer, landed):
    assert answer.may_have_landed is landed
    retried = decide(answer, Tries(), POLICY, Random(1), **GET_LATER)
    assert retried.same_request_id is (landed and retried.action is Action.RETRY)
