"""engine/update.drive: one customer's GET -> plan -> PUT against the stand-in, over loopback."""

from random import Random

import pytest

from batch.core.customer_update import Setup
from batch.core.errors import AuthFailed
from batch.core.incremental import PUT_ONTO_KNOWN
from batch.core.model import Change, KnownProfile, Row, Status
from batch.core.retry import CREDENTIALS_REFUSED, RIGHTS_REFUSED, RetryPolicy
from batch.core.throttle import AdaptiveRate
from batch.core.window import Window
from batch.engine.calls import Calls
from batch.engine.pacing import Pacer
from batch.engine.update import Context, Flight, drive
from batch.simulator import SimConfig, run_simulator
from batch.simulator.rules import PHONE_REQUIRED
from batch.wire.auth import StaticToken
from batch.wire.client import Client

UNKNOWN = "00000000-0000-4000-8000-000000000000"
FAST = RetryPolicy(max_attempts=4, backoff_base=0.01, backoff_cap=0.02)


def context(
    client,
    gate,
    policy,
    rng=None,
    *,
    dry_run=False,
    validate_addresses=False,
    before_put=None,
    any_success=False,
) -> Context:
    """What a run's updates share, built as run.py builds it."""
    setup = Setup(policy, dry_run=dry_run, validate_addresses=validate_addresses)
    calls = Calls(client, gate, policy, rng or Random(1))
    calls.any_success = any_success
    return Context(calls, setup, before_put=before_put)


def pace(cls=Pacer) -> Pacer:
    return cls(AdaptiveRate(1000.0), Window(64))


async def run_update(the_row: Row, ctx: Context, known=None):
    return await drive(Flight(the_row, ctx.setup, known), ctx)


def row(cid: str, **values) -> Row:
    return Row(number=2, customer_id=cid, values=values, raw={})


async def finish(sim, the_row: Row, *, timeout=2.0, token=None, policy=FAST, known=None, **flags):
    """The customer's update as it ended (update.Finished); known: a KnownProfile to start
    from instead of a GET."""
    tokens = StaticToken(token or sim.token)
    async with Client(sim.base_url, tokens, timeout=timeout, connections=2) as client:
        ctx = context(client, pace(), policy, Random(1), **flags)
        return await run_update(the_row, ctx, known)


async def update(sim, the_row: Row, **options):
    """The row's outcome and the tally of its calls."""
    finished = await finish(sim, the_row, **options)
    assert finished.stop_reason is None
    return finished.outcome, finished.tally


def puts(sim):
    return [r for r in sim.log if r.method == "PUT"]


async def test_the_row_values_land_and_the_outcome_says_what_changed():
    async with run_simulator(SimConfig(customers=1, seed=1)) as sim:
        cid = sim.store.ids()[0]
        before = sim.store.profile(cid)
        outcome, _ = await update(sim, row(cid, city="Springfield", address_line2="Suite 9"))
        after = sim.store.profile(cid)
    assert outcome.status is Status.UPDATED
    assert outcome.changes == (
        Change("address_line2", before["defaultAddress"].get("addressLine2"), "Suite 9"),
        Change("city", before["defaultAddress"]["city"], "Springfield"),
    )
    assert after["defaultAddress"]["city"] == "Springfield"
    assert after["defaultAddress"]["addressLine2"] == "Suite 9"
    expected_rest = {k: v for k, v in before.items() if k not in ("defaultAddress", "attributes")}
    assert {k: v for k, v in after.items() if k not in ("defaultAddress", "attributes")} == (
        expected_rest
    )
    assert (outcome.attempts, outcome.http_status) == (2, 200)
    assert outcome.request_id == puts(sim)[0].request_id


async def test_a_row_already_in_place_ends_unchanged_without_a_put():
    async with run_simulator(SimConfig(customers=1, seed=1)) as sim:
        cid = sim.store.ids()[0]
        city = sim.store.profile(cid)["defaultAddress"]["city"]
        outcome, _ = await update(sim, row(cid, city=city))
        assert outcome.status is Status.UNCHANGED
        assert puts(sim) == []


@pytest.mark.parametrize("stale_status", [412, 400])
async def test_a_writer_that_never_stops_exhausts_the_conflict_budget_then_theirs_survive(
    stale_status,
):
    config = SimConfig(customers=1, seed=1, stale_etag_status=stale_status, concurrent_writer=1.0)
    async with run_simulator(config) as sim:
        cid = sim.store.ids()[0]
        outcome, stats = await update(
            sim,
            row(cid, city="Springfield"),
            policy=RetryPolicy(max_attempts=6, backoff_base=0.01, backoff_cap=30.0),
        )
        # the writer edits right after every GET: the row cannot land
        assert outcome.status is Status.FAILED
        assert outcome.conflicts == 6
        sim.config.concurrent_writer = 0.0
        writer_email = sim.store.profile(cid)["email"]
        writer_line2 = sim.store.profile(cid)["defaultAddress"]["addressLine2"]
        landed, _ = await update(sim, row(cid, city="Springfield"))
        final = sim.store.profile(cid)
    assert stats.conflicts == 6
    assert landed.status is Status.UPDATED
    assert final["email"] == writer_email
    assert final["defaultAddress"]["addressLine2"] == writer_line2
    assert final["defaultAddress"]["city"] == "Springfield"


@pytest.mark.parametrize("stale_status", [412, 400])
async def test_one_conflict_is_refetched_and_both_writers_edits_survive(stale_status):
    config = SimConfig(customers=1, seed=1, stale_etag_status=stale_status)
    async with run_simulator(config) as sim:
        cid = sim.store.ids()[0]
        async with Client(sim.base_url, StaticToken(sim.token), timeout=2, connections=2) as c:

            class WriterAfterFirstGet(Pacer):
                calls = 0

                async def ready(self, customer_id=None):
                    sent = await super().ready(customer_id)
                    WriterAfterFirstGet.calls += 1
                    if WriterAfterFirstGet.calls == 2:  # between our GET and our PUT
                        sim.store.put_direct(cid, {"email": "other@example.com"})
                    return sent

            ctx = context(c, pace(WriterAfterFirstGet), FAST)
            outcome = (await run_update(row(cid, city="Springfield"), ctx)).outcome
        final = sim.store.profile(cid)
        statuses = [r.status for r in sim.log]
    assert outcome.status is Status.UPDATED
    assert outcome.conflicts == 1
    assert statuses == [200, stale_status, 200, 200]
    assert final["email"] == "other@example.com"
    assert final["defaultAddress"]["city"] == "Springfield"


async def test_a_put_lost_after_commit_ends_updated_with_one_committed_put():
    async with run_simulator(SimConfig(customers=1, seed=1, drop_after_commit=1.0)) as sim:
        cid = sim.store.ids()[0]
        old_city = sim.store.profile(cid)["defaultAddress"]["city"]
        outcome, _ = await update(sim, row(cid, city="Springfield"))
        sent = puts(sim)
        methods = [r.method for r in sim.log]
    assert outcome.status is Status.UPDATED
    assert outcome.changes == (Change("city", old_city, "Springfield"),)
    # read back before any retry: the profile holds the row's values, so no second write
    assert methods == ["GET", "PUT", "GET"]
    assert [p.committed for p in sent] == [True]
    assert sent[0].fault == "drop_after_commit"


class Scripted(Pacer):
    """A pace that sets the stand-in's faults before each call: script[n] for the n-th call
    (a dict of SimConfig knobs; every knob named anywhere is off on the calls that omit it)."""

    def __init__(self, sim, script):
        super().__init__(AdaptiveRate(1000.0), Window(64))
        self.sim, self.script, self.calls = sim, script, 0

    async def ready(self, customer_id=None):
        knobs = {k for step in self.script for k in step}
        step = self.script[self.calls] if self.calls < len(self.script) else {}
        for knob in knobs:
            setattr(self.sim.config, knob, step.get(knob, 0.0))
        self.calls += 1
        return await super().ready(customer_id)


async def scripted_update(sim, the_row, script, policy):
    tokens = StaticToken(sim.token)
    async with Client(sim.base_url, tokens, timeout=2, connections=2) as client:
        ctx = context(client, Scripted(sim, script), policy, Random(1))
        return await run_update(the_row, ctx)


@pytest.mark.parametrize("fault", ["commit_then_504", "drop_after_commit"])
async def test_a_put_that_landed_behind_a_lost_answer_is_read_back_not_written_again(fault):
    # The PUT lands, its answer is lost; the read-back meets two 500s first, then shows it.
    async with run_simulator(SimConfig(customers=1, seed=1)) as sim:
        cid = sim.store.ids()[0]
        old_city = sim.store.profile(cid)["defaultAddress"]["city"]
        script = [{}, {fault: 1.0}, {"fail_500": 1.0}, {"fail_500": 1.0}, {}]
        finished = await scripted_update(sim, row(cid, city="Springfield"), script, FAST)
        log = [(r.method, r.status) for r in sim.log]
        final_city = sim.store.profile(cid)["defaultAddress"]["city"]
    outcome = finished.outcome
    assert outcome.status is Status.UPDATED
    assert outcome.changes == (Change("city", old_city, "Springfield"),)
    assert final_city == "Springfield"
    lost = 504 if fault == "commit_then_504" else 0
    assert log == [("GET", 200), ("PUT", lost), ("GET", 500), ("GET", 500), ("GET", 200)]


async def test_a_put_that_lands_on_its_last_try_is_updated_not_failed():
    # PUT 503 (not landed) -> read back (not there) -> the same PUT again lands behind a 504,
    # the last try: the profile is read back once more, and the row is `updated`.
    async with run_simulator(SimConfig(customers=1, seed=1)) as sim:
        cid = sim.store.ids()[0]
        old_city = sim.store.profile(cid)["defaultAddress"]["city"]
        script = [{}, {"fail_503": 1.0}, {}, {"commit_then_504": 1.0}, {}]
        two_tries = RetryPolicy(max_attempts=2, backoff_base=0.01, backoff_cap=0.02)
        finished = await scripted_update(sim, row(cid, city="Springfield"), script, two_tries)
        log = [(r.method, r.status, r.committed) for r in sim.log]
    outcome = finished.outcome
    assert outcome.status is Status.UPDATED
    assert outcome.changes == (Change("city", old_city, "Springfield"),)
    assert log == [
        ("GET", 200, False),
        ("PUT", 503, False),
        ("GET", 200, False),
        ("PUT", 504, True),
        ("GET", 200, False),
    ]


async def test_a_put_that_never_landed_ends_failed_after_the_last_read_back():
    async with run_simulator(SimConfig(customers=1, seed=1)) as sim:
        cid = sim.store.ids()[0]
        script = [{}, {"fail_503": 1.0}, {}, {"fail_503": 1.0}, {}]
        two_tries = RetryPolicy(max_attempts=2, backoff_base=0.01, backoff_cap=0.02)
        finished = await scripted_update(sim, row(cid, city="Springfield"), script, two_tries)
        methods = [r.method for r in sim.log]
    outcome = finished.outcome
    assert outcome.status is Status.FAILED
    assert methods == ["GET", "PUT", "GET", "PUT", "GET"]
    assert outcome.http_status == 503  # the PUT's answer, not the read-back's
    assert outcome.message.startswith("gave up after 2 tries of the PUT")


async def test_a_put_answered_5xx_is_read_back_then_sent_again_with_the_same_request_id():
    async with run_simulator(SimConfig(customers=1, seed=1)) as sim:
        cid = sim.store.ids()[0]
        announced = []

        def fail_the_next_put(the_row, changes, etag):
            announced.append(etag)
            sim.config.fail_503 = 1.0

        class HealAfterTheFirstPut(Pacer):
            async def ready(self, customer_id=None):
                if puts(sim):
                    sim.config.fail_503 = 0.0
                return await super().ready(customer_id)

        tokens = StaticToken(sim.token)
        async with Client(sim.base_url, tokens, timeout=2, connections=2) as client:
            ctx = context(
                client,
                pace(HealAfterTheFirstPut),
                FAST,
                Random(1),
                before_put=fail_the_next_put,
            )
            finished = await run_update(row(cid, city="Springfield"), ctx)
        log = [(r.method, r.status, r.request_id) for r in sim.log]
    assert finished.outcome.status is Status.UPDATED
    assert [(m, s) for m, s, _ in log] == [("GET", 200), ("PUT", 503), ("GET", 200), ("PUT", 200)]
    assert log[1][2] == log[3][2]  # the same PUT again: the same MS-RequestId
    assert len(announced) == 1  # one PUT call, announced once


async def test_server_errors_are_retried_with_new_request_ids_until_the_row_lands():
    async with run_simulator(SimConfig(customers=1, seed=3, fail_503=0.5)) as sim:
        cid = sim.store.ids()[0]
        outcome, stats = await update(
            sim,
            row(cid, city="Springfield"),
            policy=RetryPolicy(max_attempts=10, backoff_base=0.01, backoff_cap=30.0),
        )
        failed = [r for r in sim.log if r.status == 503]
        after_failure = [sim.log[i + 1] for i, r in enumerate(sim.log[:-1]) if r.status == 503]
    assert outcome.status is Status.UPDATED
    assert failed and stats.retries == len(failed)
    assert all(a.request_id != b.request_id for a, b in zip(failed, after_failure, strict=True))


async def test_a_server_that_keeps_failing_ends_failed_after_max_attempts():
    async with run_simulator(SimConfig(customers=1, seed=1, fail_500=1.0)) as sim:
        cid = sim.store.ids()[0]
        outcome, _ = await update(sim, row(cid, city="Springfield"))
    assert outcome.status is Status.FAILED
    assert outcome.attempts == 4
    assert outcome.http_status == 500
    assert "gave up after 4 tries" in outcome.message


async def test_a_put_that_keeps_failing_reports_the_tries_of_that_put_not_the_get():
    async with run_simulator(SimConfig(customers=1, seed=1)) as sim:
        cid = sim.store.ids()[0]

        def break_the_server(row, changes, etag):  # after the GET, before the PUT
            sim.config.fail_409 = 1.0  # refused, so nothing landed: no read-back

        outcome, _ = await update(sim, row(cid, city="Springfield"), before_put=break_the_server)
        methods = [r.method for r in sim.log]
    assert methods == ["GET"] + ["PUT"] * 4
    assert outcome.status is Status.FAILED
    assert outcome.attempts == 5
    assert outcome.message.startswith("gave up after 4 tries of the PUT")


async def test_each_put_call_is_announced_once_with_its_changes_and_if_match_before_it_is_sent():
    async with run_simulator(SimConfig(customers=1, seed=1, fail_503=0.5)) as sim:
        cid = sim.store.ids()[0]
        etag = sim.store.etag(cid)
        old_city = sim.store.profile(cid)["defaultAddress"]["city"]
        seen = []

        def before_put(the_row, changes, if_match):
            seen.append((the_row.number, changes, if_match, len(puts(sim))))

        outcome, _ = await update(
            sim,
            row(cid, city="Springfield"),
            before_put=before_put,
            policy=RetryPolicy(max_attempts=20, backoff_base=0.01, backoff_cap=0.02),
        )
        sent = puts(sim)
    assert outcome.status is Status.UPDATED
    assert len(sent) > 1  # retried after 503s, with one announcement for the whole call
    assert seen == [(2, (Change("city", old_city, "Springfield"),), etag, 0)]


async def test_a_dry_run_announces_no_put():
    async with run_simulator(SimConfig(customers=1, seed=1)) as sim:
        cid = sim.store.ids()[0]
        seen = []
        outcome, _ = await update(
            sim, row(cid, city="Springfield"), dry_run=True, before_put=lambda *a: seen.append(a)
        )
    assert outcome.status is Status.WOULD_UPDATE
    assert seen == []


class RequestIdsNoted(Client):
    """The Client, noting the MS-RequestId each GET is sent with (the stand-in logs a call only
    once it is answered, and a hung one is answered when its hang is over)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.request_ids: list[str] = []

    async def get_profile(self, customer_id: str, request_id: str):
        self.request_ids.append(request_id)
        return await super().get_profile(customer_id, request_id)


async def test_a_server_slower_than_the_timeout_ends_failed_with_the_same_request_id():
    # Every answer is held back for an hour: the client gives up on each long before.
    config = SimConfig(customers=1, seed=1, hang=1.0, hang_seconds=3600.0)
    async with run_simulator(config) as sim:
        cid = sim.store.ids()[0]
        tokens = StaticToken(sim.token)
        async with RequestIdsNoted(sim.base_url, tokens, timeout=0.1, connections=2) as client:
            ctx = context(client, pace(), RetryPolicy(2, 0.01, 30.0), Random(1))
            finished = await run_update(row(cid, city="Springfield"), ctx)
    outcome = finished.outcome
    assert outcome.status is Status.FAILED
    assert outcome.http_status is None
    assert outcome.message.startswith("gave up after 2 tries of the GET")
    assert "no answer in time" in outcome.message
    ids = client.request_ids
    assert len(ids) == 2 and len(set(ids)) == 1
    assert outcome.request_id == ids[0]


async def test_an_unknown_customer_ends_not_found():
    async with run_simulator(SimConfig(customers=1, seed=1)) as sim:
        outcome, _ = await update(sim, row(UNKNOWN, city="Springfield"))
    assert outcome.status is Status.NOT_FOUND
    assert (outcome.http_status, outcome.error_code) == (404, "60003")


async def test_a_refused_update_ends_rejected_with_the_service_code():
    async with run_simulator(SimConfig(customers=60, seed=1)) as sim:
        cid = next(
            c
            for c in sim.store.ids()
            if sim.store.profile(c)["defaultAddress"]["country"] in PHONE_REQUIRED
        )
        outcome, _ = await update(sim, row(cid, phone_number=None))
    assert outcome.status is Status.REJECTED
    assert (outcome.http_status, outcome.error_code) == (400, "600051")
    assert "phone" in outcome.message


async def test_a_dry_run_reads_and_plans_but_sends_no_put():
    async with run_simulator(SimConfig(customers=1, seed=1)) as sim:
        cid = sim.store.ids()[0]
        before = sim.store.profile(cid)
        outcome, _ = await update(sim, row(cid, city="Springfield"), dry_run=True)
        assert outcome.status is Status.WOULD_UPDATE
        assert outcome.changes[0].after == "Springfield"
        assert puts(sim) == []
        assert sim.store.profile(cid) == before


async def test_a_refused_address_ends_rejected_with_the_suggestions():
    async with run_simulator(SimConfig(customers=1, seed=1)) as sim:
        cid = sim.store.ids()[0]
        outcome, _ = await update(
            sim, row(cid, address_line1="UNKNOWN road 1"), validate_addresses=True
        )
        assert outcome.status is Status.REJECTED
        assert outcome.message.startswith("address not verified (None)")
        assert puts(sim) == []


async def test_a_zip_that_lost_its_zero_is_refused_with_the_padded_suggestion():
    async with run_simulator(SimConfig(customers=30, seed=1)) as sim:
        cid = next(
            c for c in sim.store.ids() if sim.store.profile(c)["defaultAddress"]["country"] == "US"
        )
        outcome, _ = await update(
            sim, row(cid, postal_code="2134", state="MA"), validate_addresses=True, dry_run=True
        )
    assert outcome.status is Status.REJECTED
    assert "StreetPartial" in outcome.message and "02134" in outcome.message


async def test_a_verified_address_is_checked_once_then_put():
    async with run_simulator(SimConfig(customers=1, seed=1)) as sim:
        cid = sim.store.ids()[0]
        outcome, _ = await update(sim, row(cid, address_line2="Floor 3"), validate_addresses=True)
        methods = [r.method for r in sim.log]
    assert outcome.status is Status.UPDATED
    assert methods == ["GET", "POST", "PUT"]


async def test_a_dry_run_with_validation_checks_the_address_but_sends_no_put():
    async with run_simulator(SimConfig(customers=1, seed=1)) as sim:
        cid = sim.store.ids()[0]
        outcome, _ = await update(
            sim, row(cid, address_line2="Floor 3"), validate_addresses=True, dry_run=True
        )
        methods = [r.method for r in sim.log]
    assert outcome.status is Status.WOULD_UPDATE
    assert methods == ["GET", "POST"]


async def test_a_contact_change_needs_no_address_validation():
    async with run_simulator(SimConfig(customers=1, seed=1)) as sim:
        cid = sim.store.ids()[0]
        await update(sim, row(cid, email="new@example.com"), validate_addresses=True)
        assert [r.method for r in sim.log] == ["GET", "PUT"]


async def test_a_token_refused_twice_aborts_the_run():
    async with run_simulator(SimConfig(customers=1, seed=1)) as sim:
        cid = sim.store.ids()[0]
        finished = await finish(sim, row(cid, city="Springfield"), token="expired-or-bogus")
        assert [r.status for r in sim.log] == [401, 401]
    reason = finished.stop_reason
    assert isinstance(reason, AuthFailed) and reason.exit_code == 3
    assert finished.outcome.status is Status.REJECTED
    assert finished.outcome.retry_on_resume  # --resume sends it
    assert finished.outcome.message.startswith(CREDENTIALS_REFUSED)
    assert "401" in str(reason)
    assert "expired-or-bogus" not in str(reason)


async def test_a_403_after_the_run_has_succeeded_refuses_that_customer_for_good():
    async with run_simulator(SimConfig(customers=1, seed=1, forbidden=True)) as sim:
        cid = sim.store.ids()[0]
        outcome, _ = await update(sim, row(cid, city="Springfield"), any_success=True)
    assert outcome.status is Status.REJECTED
    assert outcome.http_status == 403
    assert not outcome.retry_on_resume  # final: --resume leaves it
    assert not outcome.message.startswith(CREDENTIALS_REFUSED)


async def test_a_credential_wide_403_before_any_success_refuses_the_row_and_marks_it_for_resume():
    async with run_simulator(SimConfig(customers=1, seed=1, forbidden=True)) as sim:
        cid = sim.store.ids()[0]
        finished = await finish(sim, row(cid, city="Springfield"))
    assert finished.stop_reason is None  # one customer alone does not stop the run
    assert isinstance(finished.refused, AuthFailed)
    assert "lacks Partner Center permissions" in str(finished.refused)
    assert finished.outcome.status is Status.REJECTED
    assert finished.outcome.retry_on_resume
    assert finished.outcome.message.startswith(RIGHTS_REFUSED)
    assert "code 900150" in finished.outcome.message


async def test_a_customer_without_a_relationship_is_rejected_with_its_code_and_nothing_stops():
    async with run_simulator(SimConfig(customers=1, seed=1)) as sim:
        cid = sim.store.ids()[0]
        sim.config.no_relationship = cid
        finished = await finish(sim, row(cid, city="Springfield"))
    assert finished.stop_reason is None and finished.refused is None
    outcome = finished.outcome
    assert (outcome.status, outcome.http_status, outcome.error_code) == (
        Status.REJECTED,
        403,
        "20002",
    )
    assert "no commerce relationship" in outcome.message
    assert not outcome.retry_on_resume


@pytest.mark.parametrize(("knob", "call"), [("fail_503", 0), ("fail_409", 1)])
async def test_a_retry_after_on_a_503_or_409_is_never_waited_less(knob, call):
    # The backoff is tiny (FAST); the service asks for 1 s: the next try comes no sooner.
    async with run_simulator(SimConfig(customers=1, seed=1, retry_after_s=1)) as sim:
        cid = sim.store.ids()[0]
        script = [{knob: 1.0} if n == call else {} for n in range(call + 2)]
        finished = await scripted_update(sim, row(cid, city="Springfield"), script, FAST)
        answered = [(r.status, r.at) for r in sim.log]
    assert finished.outcome.status is Status.UPDATED
    status, asked_at = answered[call]
    assert status == (503 if knob == "fail_503" else 409)
    assert answered[call + 1][1] - asked_at >= 1.0


def _kept(sim, cid):
    return KnownProfile(sim.store.profile(cid), sim.store.etag(cid))


async def test_a_kept_profile_leads_straight_to_one_put_with_its_etag():
    async with run_simulator(SimConfig(customers=1, seed=1)) as sim:
        cid = sim.store.ids()[0]
        kept = _kept(sim, cid)
        outcome, _ = await update(sim, row(cid, city="Springfield"), known=kept)
        calls = [(r.method, r.status, r.if_match) for r in sim.log if r.customer_id]
        assert calls == [("PUT", 200, f'"{kept.etag}"')]
        assert (outcome.status, outcome.message, outcome.attempts) == (
            Status.UPDATED,
            PUT_ONTO_KNOWN,
            1,
        )
        assert outcome.profile == sim.store.profile(cid)  # what the state keeps next
        assert outcome.etag == sim.store.etag(cid) != kept.etag


async def test_a_kept_profile_never_ends_a_row_without_reading_it():
    # The kept profile already holds the row's city: that says nothing of the service's
    # profile now, so the row is read (and found changed by someone, here: put back).
    async with run_simulator(SimConfig(customers=1, seed=1)) as sim:
        cid = sim.store.ids()[0]
        kept = _kept(sim, cid)
        wanted = kept.body["defaultAddress"]["city"]
        sim.store.put_direct(cid, {"defaultAddress": {"city": "Elsewhere"}})
        outcome, _ = await update(sim, row(cid, city=wanted), known=kept)
        calls = [(r.method, r.status) for r in sim.log if r.customer_id]
        assert calls == [("GET", 200), ("PUT", 200)]
        assert (outcome.status, outcome.message) == (Status.UPDATED, "")
        assert sim.store.profile(cid)["defaultAddress"]["city"] == wanted


async def test_a_row_to_validate_is_read_before_its_address_is_checked():
    async with run_simulator(SimConfig(customers=1, seed=1)) as sim:
        cid = sim.store.ids()[0]
        kept = _kept(sim, cid)
        outcome, _ = await update(
            sim, row(cid, city="Springfield"), known=kept, validate_addresses=True
        )
        calls = [r.method for r in sim.log if r.customer_id]
        assert calls[0] == "GET"
        assert outcome.message != PUT_ONTO_KNOWN
