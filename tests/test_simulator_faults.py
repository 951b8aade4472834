"""Faults over loopback: throttling, 5xx, dropped connections, hangs, a concurrent writer, seeds."""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp
import pytest

from batch.simulator import SimConfig
from batch.simulator.faults import Faults

PROFILE = "/v1/customers/{}/profiles/billing"


async def _edit(client, customer: str, **changes: str):
    """GET the profile, change top-level fields, PUT it back: the PUT's answer."""
    profile = (await client.get_profile(customer)).json
    profile.update(changes)
    return await client.put_profile(customer, profile, profile["attributes"]["etag"])


async def test_throttled_requests_get_429_with_retry_after_and_the_documented_body(
    make_sim, sim_client
):
    server = await make_sim(partner_rate=0.5, partner_burst=2)
    client = sim_client(server)
    customer = server.store.ids()[0]
    assert [(await client.get_profile(customer)).status for _ in range(2)] == [200, 200]
    answer = await client.get_profile(customer)
    assert answer.status == 429
    assert answer.headers["Retry-After"] == "2"
    assert answer.json == {
        "statusCode": 429,
        "message": "Rate limit is exceeded. Try again in 2 seconds.",
    }
    assert server.log[-1].fault == "throttled"
    assert server.log[-1].status == 429


async def test_a_throttled_put_is_not_applied(make_sim, sim_client):
    server = await make_sim(partner_rate=0.01, partner_burst=1)
    client = sim_client(server)
    customer = server.store.ids()[0]
    profile = (await client.get_profile(customer)).json
    before = server.store.profile(customer)
    profile["email"] = "throttled@example.com"
    answer = await client.put_profile(customer, profile, profile["attributes"]["etag"])
    assert answer.status == 429
    assert int(answer.headers["Retry-After"]) >= 1
    assert server.store.profile(customer) == before


async def test_the_customer_bucket_throttles_one_customer_and_spares_the_others(
    make_sim, sim_client
):
    server = await make_sim(customer_rate=0.25, customer_burst=1)
    client = sim_client(server)
    first, second = server.store.ids()[:2]
    assert (await client.get_profile(first)).status == 200
    throttled = await client.get_profile(first)
    assert throttled.status == 429
    assert throttled.headers["Retry-After"] == "4"
    assert (await client.get_profile(second)).status == 200


@pytest.mark.parametrize(
    ("knob", "status", "json_body"),
    [
        ("fail_500", 500, True),
        ("fail_502", 502, False),
        ("fail_503", 503, True),
        ("fail_504", 504, False),
    ],
)
async def test_server_faults_answer_their_status_and_apply_nothing(
    make_sim, sim_client, knob, status, json_body
):
    server = await make_sim()
    client = sim_client(server)
    customer = server.store.ids()[0]
    profile = (await client.get_profile(customer)).json
    before = server.store.profile(customer)
    setattr(server.config, knob, 1.0)
    profile["email"] = "fault@example.com"
    answer = await client.put_profile(customer, profile, profile["attributes"]["etag"])
    assert answer.status == status
    if json_body:
        assert answer.json["code"] == status
        assert answer.json["source"] == "PartnerFD"
    else:
        assert answer.headers["Content-Type"].startswith("text/html")
        assert f"{status}".encode() in answer.raw
    assert server.store.profile(customer) == before
    assert server.log[-1].fault == str(status)
    setattr(server.config, knob, 0.0)
    assert (
        await client.put_profile(customer, profile, profile["attributes"]["etag"])
    ).status == 200


async def test_a_connection_dropped_before_handling_applies_nothing(make_sim, sim_client):
    server = await make_sim()
    client = sim_client(server)
    customer = server.store.ids()[0]
    profile = (await client.get_profile(customer)).json
    before = server.store.profile(customer)
    server.config.drop_before = 1.0
    profile["email"] = "dropped@example.com"
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await client.put_profile(
            customer, profile, profile["attributes"]["etag"], headers={"MS-RequestId": "r-7"}
        )
    assert server.store.profile(customer) == before
    entry = server.log[-1]
    assert (entry.status, entry.fault, entry.committed, entry.request_id) == (
        0,
        "drop_before",
        False,
        "r-7",
    )
    server.config.drop_before = 0.0
    retried = await client.put_profile(customer, profile, profile["attributes"]["etag"])
    assert retried.status == 200


async def test_a_connection_dropped_after_commit_loses_the_answer_not_the_update(
    make_sim, sim_client
):
    server = await make_sim(drop_after_commit=1.0)
    client = sim_client(server)
    customer = server.store.ids()[0]
    profile = (await client.get_profile(customer)).json
    old_etag = profile["attributes"]["etag"]
    profile["email"] = "landed@example.com"
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await client.put_profile(customer, profile, old_etag)
    assert server.store.profile(customer)["email"] == "landed@example.com"
    assert server.store.etag(customer) != old_etag
    entry = server.log[-1]
    assert (entry.method, entry.status, entry.fault, entry.committed) == (
        "PUT",
        0,
        "drop_after_commit",
        True,
    )
    # The client's blind retry with the old etag meets a stale etag: a refetch shows it landed.
    assert (await client.put_profile(customer, profile, old_etag)).status == 412
    assert (await client.get_profile(customer)).json["email"] == "landed@example.com"


async def test_drop_after_commit_spares_puts_that_were_refused(make_sim, sim_client):
    server = await make_sim(drop_after_commit=1.0)
    client = sim_client(server)
    customer = server.store.ids()[0]
    profile = (await client.get_profile(customer)).json
    answer = await client.put_profile(customer, profile, "12345")
    assert answer.status == 412


async def test_a_hung_answer_outlasts_the_client_timeout_and_applies_nothing(make_sim, sim_client):
    server = await make_sim(hang_seconds=60.0)
    client = sim_client(server)
    customer = server.store.ids()[0]
    profile = (await client.get_profile(customer)).json
    before = server.store.profile(customer)
    server.config.hang = 1.0
    profile["email"] = "late@example.com"
    with pytest.raises(asyncio.TimeoutError):
        await client.put_profile(customer, profile, profile["attributes"]["etag"], timeout=0.2)
    assert server.store.profile(customer) == before
    server.config.hang = 0.0
    assert (await client.get_profile(customer)).status == 200


async def test_a_short_hang_is_answered_normally_once_it_ends(make_sim, sim_client):
    server = await make_sim(hang=1.0, hang_seconds=0.05)
    client = sim_client(server)
    answer = await client.get_profile(server.store.ids()[0])
    assert answer.status == 200
    assert server.log[-1].fault == "hang"


async def test_a_concurrent_writer_makes_the_next_put_stale_and_its_edits_stay(
    make_sim, sim_client
):
    server = await make_sim(concurrent_writer=1.0)
    client = sim_client(server)
    customer = server.store.ids()[0]
    profile = (await client.get_profile(customer)).json
    assert server.log[-1].fault == "concurrent_writer"
    edited = server.store.profile(customer)
    assert edited["email"] == "other-writer-1@example.com"
    assert edited["defaultAddress"]["addressLine2"] == "Edited by another writer (1)"
    assert edited["attributes"]["etag"] != profile["attributes"]["etag"]
    profile["companyName"] = "Mine Ltd"
    assert (
        await client.put_profile(customer, profile, profile["attributes"]["etag"])
    ).status == 412
    server.config.concurrent_writer = 0.0
    assert (await _edit(client, customer, companyName="Mine Ltd")).status == 200
    final = server.store.profile(customer)
    assert final["companyName"] == "Mine Ltd"
    assert final["email"] == "other-writer-1@example.com"


class Decided:
    """The stand-in's fault source, with an event set once it has decided a request's fault."""

    def __init__(self, server) -> None:
        self.inner, server.faults = server.faults, self
        self.arrived = asyncio.Event()

    def decide(self, config, method="GET"):
        self.arrived.set()
        return self.inner.decide(config, method)


def test_every_request_waits_the_latency_plus_a_share_of_the_jitter():
    faults = Faults(seed=1)
    delays = [faults.decide(SimConfig(latency_ms=50, jitter_ms=20)).delay_s for _ in range(200)]
    assert all(0.050 <= d <= 0.070 for d in delays)
    assert max(delays) - min(delays) > 0.015  # spread over the jitter, not a constant
    assert faults.decide(SimConfig(latency_ms=50)).delay_s == 0.050


async def test_latency_holds_the_answer_back_and_does_not_change_it(make_sim, sim_client):
    server = await make_sim(latency_ms=600_000)  # ten minutes: longer than any test run
    client = sim_client(server)
    customer = server.store.ids()[0]
    decided = Decided(server)
    held = asyncio.create_task(client.get_profile(customer))
    await decided.arrived.wait()
    assert not held.done()  # the request arrived; its answer waits out the latency
    held.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await held
    server.config.latency_ms, server.config.jitter_ms = 1.0, 1.0
    late = await client.get_profile(customer)
    server.config.latency_ms = server.config.jitter_ms = 0.0
    assert late.status == 200
    assert late.json == (await client.get_profile(customer)).json


async def test_puts_are_held_the_put_factor_times_longer_than_gets(make_sim, sim_client):
    server = await make_sim(latency_ms=2, put_latency_factor=2.5)
    client = sim_client(server)
    customer = server.store.ids()[0]
    assert (await _edit(client, customer, companyName="Slow Writes Ltd")).status == 200
    assert [(entry.method, entry.delay_s) for entry in server.log] == [
        ("GET", pytest.approx(0.002)),
        ("PUT", pytest.approx(0.005)),
    ]


async def test_a_lognormal_latency_varies_from_call_to_call_and_repeats_with_the_seed(
    make_sim, sim_client
):
    slow = SimConfig(customers=4, latency_ms=1, latency_sigma=0.6)
    delays = []
    for _ in range(2):
        server = await make_sim(slow)
        client = sim_client(server)
        for customer in server.store.ids():
            assert (await client.get_profile(customer)).status == 200
        delays.append([entry.delay_s for entry in server.log])
    assert delays[0] == delays[1]
    assert len(set(delays[0])) == 4


async def test_429_once_throttles_a_customers_first_call_only_and_spares_the_others(
    make_sim, sim_client
):
    server = await make_sim(customers=40, seed=3, customer_429_once=0.1)
    client = sim_client(server)
    ids = server.store.ids()
    first = [(await client.get_profile(customer)).status for customer in ids]
    throttled = [c for c, status in zip(ids, first, strict=True) if status == 429]
    assert 0 < len(throttled) < 12
    answer = await client.get_profile(throttled[0])  # its second call goes through
    assert answer.status == 200
    assert [(await client.get_profile(c)).status for c in ids] == [200] * len(ids)
    refused = [entry for entry in server.log if entry.status == 429]
    assert {entry.customer_id for entry in refused} == set(throttled)
    assert {entry.fault for entry in refused} == {"throttled_once"}


async def test_429_once_answers_its_retry_after_in_the_documented_shape(make_sim, sim_client):
    server = await make_sim(customer_429_once=1.0, customer_429_retry_after=2)
    answer = await sim_client(server).get_profile(server.store.ids()[0])
    assert answer.status == 429
    assert answer.headers["Retry-After"] == "2"
    assert answer.json == {
        "statusCode": 429,
        "message": "Rate limit is exceeded. Try again in 2 seconds.",
    }


async def _statuses(server, client, requests: int) -> list[tuple[int, str | None]]:
    customer = server.store.ids()[0]
    for _ in range(requests):
        with contextlib.suppress(aiohttp.ClientConnectionError):
            await client.get_profile(customer)
    return [(entry.status, entry.fault) for entry in server.log]


async def test_the_same_seed_gives_the_same_customers_and_the_same_faults(make_sim, sim_client):
    noisy = SimConfig(
        customers=10, fail_500=0.2, fail_503=0.2, drop_before=0.2, concurrent_writer=0.2
    )
    a = await make_sim(noisy, seed=11)
    b = await make_sim(noisy, seed=11)
    c = await make_sim(noisy, seed=12)
    assert a.store.export() == b.store.export()
    assert a.store.ids() != c.store.ids()
    first = await _statuses(a, sim_client(a), 40)
    assert first == await _statuses(b, sim_client(b), 40)
    assert first != await _statuses(c, sim_client(c), 40)
    assert {fault for _, fault in first} >= {None, "500", "503", "drop_before", "concurrent_writer"}


async def test_faults_never_touch_the_token_endpoint(make_sim, sim_client):
    server = await make_sim(fail_500=1.0, drop_before=1.0, partner_rate=0.01, partner_burst=1)
    form = {
        "grant_type": "client_credentials",
        "client_id": server.config.client_id,
        "client_secret": server.config.client_secret,
        "scope": "https://api.partnercenter.microsoft.com/.default",
    }
    client = sim_client(server)
    for _ in range(3):
        answer = await client.request(
            "POST", f"/{server.config.tenant_id}/oauth2/v2.0/token", data=form, token=None
        )
        assert answer.status == 200
