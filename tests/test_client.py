"""client.Client over loopback against the stand-in: headers, BOM, errors, lost answers."""

import asyncio
import socket

import pytest

from batch import __version__
from batch.core.retry import Fault
from batch.simulator import SimConfig, run_simulator
from batch.wire.auth import StaticToken
from batch.wire.client import Client, new_request_id

UNKNOWN = "00000000-0000-4000-8000-000000000000"


def client_for(sim, timeout: float = 5.0, token: str | None = None) -> Client:
    return Client(sim.base_url, StaticToken(token or sim.token), timeout=timeout, connections=4)


async def test_a_get_sends_every_header_the_readme_lists():
    async with run_simulator(SimConfig(customers=1, seed=1)) as sim:
        cid = sim.store.ids()[0]
        async with client_for(sim) as client:
            request_id = new_request_id()
            reply = await client.get_profile(cid, request_id)
        (logged,) = sim.log
    assert reply.status == 200
    assert logged.request_id == request_id == reply.request_id
    assert logged.correlation_id == reply.correlation_id
    assert logged.application == f"pcbatch/{__version__}"
    assert logged.accept == "application/json"
    assert logged.contract_version == "v1"


async def test_a_body_with_a_byte_order_mark_is_read_with_its_etag():
    async with run_simulator(SimConfig(customers=1, seed=1, bom=True)) as sim:
        cid = sim.store.ids()[0]
        async with client_for(sim) as client:
            reply = await client.get_profile(cid, new_request_id())
        assert reply.body["defaultAddress"] == sim.store.profile(cid)["defaultAddress"]
        assert reply.etag == sim.store.profile(cid)["attributes"]["etag"]


async def test_each_call_gets_a_new_correlation_id():
    async with run_simulator(SimConfig(customers=1, seed=1)) as sim:
        cid = sim.store.ids()[0]
        async with client_for(sim) as client:
            request_id = new_request_id()
            first = await client.get_profile(cid, request_id)
            second = await client.get_profile(cid, request_id)
    assert first.correlation_id != second.correlation_id
    assert first.request_id == second.request_id == request_id


async def test_a_put_sends_the_etag_quoted_in_if_match_and_returns_the_new_etag():
    async with run_simulator(SimConfig(customers=1, seed=1)) as sim:
        cid = sim.store.ids()[0]
        async with client_for(sim) as client:
            got = await client.get_profile(cid, new_request_id())
            resource = dict(got.body)
            resource["email"] = "billing@example.com"
            put = await client.put_profile(cid, resource, got.etag, new_request_id())
        assert put.status == 200
        assert sim.log[-1].if_match == f'"{got.etag}"'
        assert put.etag != got.etag
        assert sim.store.profile(cid)["email"] == "billing@example.com"


@pytest.mark.parametrize("stale_status", [412, 400])
async def test_a_stale_etag_reads_as_stale_in_both_spellings(stale_status):
    async with run_simulator(SimConfig(customers=1, seed=1, stale_etag_status=stale_status)) as sim:
        cid = sim.store.ids()[0]
        async with client_for(sim) as client:
            got = await client.get_profile(cid, new_request_id())
            sim.store.put_direct(cid, {"email": "other@example.com"})
            put = await client.put_profile(cid, dict(got.body), got.etag, new_request_id())
    assert put.status == stale_status
    assert put.stale_etag


async def test_an_unknown_customer_is_a_404_with_the_service_code_and_description():
    async with run_simulator(SimConfig(customers=1, seed=1)) as sim, client_for(sim) as client:
        reply = await client.get_profile(UNKNOWN, new_request_id())
    assert reply.status == 404
    assert reply.error_code == "60003"
    assert "Tenant not found" in reply.message


async def test_a_429_carries_its_retry_after_in_seconds_and_its_message():
    config = SimConfig(customers=1, seed=1, partner_rate=0.01, partner_burst=1)
    async with run_simulator(config) as sim:
        cid = sim.store.ids()[0]
        async with client_for(sim) as client:
            await client.get_profile(cid, new_request_id())
            reply = await client.get_profile(cid, new_request_id())
    assert reply.status == 429
    assert reply.retry_after is not None and reply.retry_after >= 1
    assert reply.message.startswith("Rate limit is exceeded")
    assert reply.error_code is None


async def test_a_gateway_error_page_becomes_a_short_message():
    async with run_simulator(SimConfig(customers=1, seed=1, fail_502=1.0)) as sim:
        cid = sim.store.ids()[0]
        async with client_for(sim) as client:
            reply = await client.get_profile(cid, new_request_id())
    assert reply.status == 502
    assert reply.body == {}
    assert "502" in reply.message and len(reply.message) <= 200


async def test_an_answer_slower_than_the_timeout_is_a_timeout_fault():
    async with run_simulator(SimConfig(customers=1, seed=1, hang=1.0, hang_seconds=5)) as sim:
        cid = sim.store.ids()[0]
        async with client_for(sim, timeout=0.3) as client:
            reply = await client.get_profile(cid, new_request_id())
    assert (reply.status, reply.fault) == (0, Fault.TIMEOUT)


async def test_a_stop_that_cancels_a_call_as_its_timeout_fires_is_never_lost():
    # A stop cancels the customers in flight; the cancel must win even when it lands in the
    # same moment as the call's own timeout (it used to come back as a timeout fault, and the
    # customer retried instead of ending `skipped`). Cancels are aimed around the deadline; a
    # cancel that finds its call still running must end it.
    timeout = 0.2
    async with run_simulator(SimConfig(customers=1, seed=1, hang=1.0, hang_seconds=5)) as sim:
        cid = sim.store.ids()[0]
        async with client_for(sim, timeout=timeout) as client:
            loop = asyncio.get_running_loop()
            calls, in_flight = [], []

            def stop(call: asyncio.Future) -> None:
                in_flight.append(call.cancel())  # False: the call had ended already

            for step in range(-4, 5):
                deadline = loop.time() + timeout
                call = asyncio.ensure_future(client.get_profile(cid, new_request_id()))
                loop.call_at(deadline + step * 0.001, stop, call)
                calls.append(call)
            ended = await asyncio.gather(*calls, return_exceptions=True)
    lost = [
        e
        for e, cut in zip(ended, in_flight, strict=True)
        if cut and not isinstance(e, asyncio.CancelledError)
    ]
    assert lost == []
    assert any(in_flight)


async def test_a_dropped_connection_is_a_disconnect_fault():
    async with run_simulator(SimConfig(customers=1, seed=1, drop_before=1.0)) as sim:
        cid = sim.store.ids()[0]
        async with client_for(sim) as client:
            reply = await client.get_profile(cid, new_request_id())
    assert (reply.status, reply.fault) == (0, Fault.DISCONNECTED)


async def test_a_put_whose_answer_is_lost_is_reported_lost_not_silently_resent():
    # aiohttp would resend a PUT on a reused connection by itself; the engine must see the loss.
    async with run_simulator(SimConfig(customers=1, seed=1)) as sim:
        cid = sim.store.ids()[0]
        async with client_for(sim) as client:
            got = await client.get_profile(cid, new_request_id())  # the connection is reused
            sim.config.drop_after_commit = 1.0
            resource = dict(got.body)
            resource["email"] = "lost@example.com"
            reply = await client.put_profile(cid, resource, got.etag, new_request_id())
        puts = [r for r in sim.log if r.method == "PUT"]
        assert (reply.status, reply.fault) == (0, Fault.DISCONNECTED)
        assert len(puts) == 1 and puts[0].committed
        assert sim.store.profile(cid)["email"] == "lost@example.com"


async def test_nobody_listening_is_a_connect_fault():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = Client(f"http://127.0.0.1:{port}", StaticToken("t"), timeout=2, connections=1)
    async with client:
        reply = await client.get_profile(UNKNOWN, new_request_id())
    assert (reply.status, reply.fault) == (0, Fault.CONNECT)


@pytest.mark.parametrize(
    "bad_id",
    [
        "../../v1/customers/00000000-0000-4000-8000-000000000000",
        "00000000-0000-4000-8000-00000000000A",
        "00000000-0000-4000-8000-000000000000?x=1",
        "",
    ],
)
async def test_only_a_canonical_guid_ever_reaches_a_url(bad_id):
    async with run_simulator(SimConfig(customers=1, seed=1)) as sim:
        async with client_for(sim) as client:
            with pytest.raises(ValueError):
                await client.get_profile(bad_id, new_request_id())
        assert sim.log == []


async def test_a_refused_token_is_a_401_and_renewal_asks_the_provider():
    renewed = []

    class Tokens:
        def __init__(self, good):
            self.current = "not-a-valid-token"
            self.good = good

        async def token(self):
            return self.current

        async def renew(self, rejected):
            renewed.append(rejected)
            self.current = self.good
            return self.current

    async with run_simulator(SimConfig(customers=1, seed=1)) as sim:
        cid = sim.store.ids()[0]
        client = Client(sim.base_url, Tokens(sim.token), timeout=5, connections=1)
        async with client:
            first = await client.get_profile(cid, new_request_id())
            await client.renew_token()
            second = await client.get_profile(cid, new_request_id())
    assert (first.status, second.status) == (401, 200)
    assert renewed == ["not-a-valid-token"]


async def test_address_validation_returns_the_verdict_in_the_body():
    address = {
        "addressLine1": "1 Microsoft Way",
        "city": "Redmond",
        "state": "WA",
        "postalCode": "98052",
        "country": "US",
    }
    async with run_simulator(SimConfig(seed=1)) as sim, client_for(sim) as client:
        good = await client.validate_address(address, new_request_id())
        bad = await client.validate_address(
            {**address, "addressLine1": "UNKNOWN street"}, new_request_id()
        )
    assert (good.status, good.body["status"]) == (200, "VerifiedShippable")
    assert bad.body["status"] == "None"
