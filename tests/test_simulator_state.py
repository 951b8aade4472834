"""Seeding, customers files, state export, the request log, and how the stand-in is started."""

from __future__ import annotations

import collections
import json
import urllib.error
import urllib.request

import aiohttp
import pytest

from batch.core.errors import ConfigError
from batch.simulator import SimConfig, SimulatorThread, run_simulator

CUSTOMER = "0b6c7a2e-4f1d-4e8a-9c3b-5d2e1f0a9b8c"
PROFILE = {
    "firstName": "Zoë",
    "email": "zoe@example.com",
    "companyName": "Contoso GmbH",
    "vatNumber": "DE123",
    "defaultAddress": {
        "country": "DE",
        "city": "Köln",
        "addressLine1": "Hauptstraße 1",
        "postalCode": "50667",
    },
}


def _customers_file(tmp_path, customers: dict) -> object:
    path = tmp_path / "customers.json"
    path.write_text(json.dumps(customers, ensure_ascii=False), encoding="utf-8")
    return path


async def test_customers_are_loaded_from_a_file_as_given(tmp_path, make_sim):
    path = _customers_file(tmp_path, {CUSTOMER.upper(): PROFILE})
    server = await make_sim(customers=0, customers_file=path)
    assert server.store.ids() == [CUSTOMER]
    served = server.store.profile(CUSTOMER)
    assert served["defaultAddress"] == PROFILE["defaultAddress"]
    assert served["vatNumber"] == "DE123"
    assert served["attributes"]["objectType"] == "CustomerBillingProfile"
    assert "id" in served


async def test_file_customers_come_first_then_generated_ones(tmp_path, make_sim):
    path = _customers_file(tmp_path, {CUSTOMER: PROFILE})
    server = await make_sim(customers=5, customers_file=path)
    assert server.store.ids()[0] == CUSTOMER
    assert len(server.store.ids()) == 6


async def test_exported_state_loads_back_into_the_same_profiles(tmp_path, make_sim, sim_client):
    server = await make_sim(customers=30, seed=4)
    client = sim_client(server)
    customer = server.store.ids()[0]
    profile = (await client.get_profile(customer)).json
    profile["email"] = "changed@example.com"
    profile["unknownField"] = {"kept": True}
    assert (
        await client.put_profile(customer, profile, profile["attributes"]["etag"])
    ).status == 200
    path = tmp_path / "state.json"
    server.export_state(path)
    exported = json.loads(path.read_text(encoding="utf-8"))
    assert exported == server.store.export()
    assert exported[customer]["email"] == "changed@example.com"
    assert all("attributes" not in p and "links" not in p for p in exported.values())
    again = await make_sim(customers=0, customers_file=path)
    assert again.store.export() == server.store.export()
    assert again.store.ids() == server.store.ids()


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("[1, 2]", "must hold a JSON object"),
        ("{not json", "is not valid JSON"),
        ('{"customer-1": {}}', "'customer-1' is not a customer id"),
        (f'{{"{CUSTOMER}": [1]}}', "is not an object"),
        (f'{{"{CUSTOMER}": {{"email": 5}}}}', "email must be a JSON string"),
    ],
)
async def test_a_bad_customers_file_is_refused_with_a_message_naming_it(tmp_path, content, words):
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        async with run_simulator(SimConfig(customers_file=path)):
            pass
    assert str(path) in str(refused.value)
    assert words in str(refused.value)


async def test_a_missing_customers_file_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the customers file"):
        async with run_simulator(SimConfig(customers_file=tmp_path / "none.json")):
            pass


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "example.com", "::"])
async def test_only_loopback_addresses_are_served(host):
    with pytest.raises(ConfigError, match="loopback only"):
        async with run_simulator(SimConfig(), host=host):
            pass


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"fail_500": 1.5}, "fail_500 must be a probability"),
        ({"fail_500": 0.6, "fail_503": 0.6}, "add up to 1.2"),
        ({"stale_etag_status": 409}, "412 or 400"),
        ({"partner_rate": 0.0}, "partner_rate must be > 0"),
        ({"customer_burst": 0}, "customer_burst must be at least 1"),
        ({"token_lifetime_s": 0}, "token_lifetime_s"),
        ({"latency_sigma": -0.1}, "latency_sigma must not be negative"),
        ({"put_latency_factor": 0.0}, "put_latency_factor must be > 0"),
        ({"customer_429_once": 2.0}, "customer_429_once must be a probability"),
        ({"customer_429_retry_after": 0}, "customer_429_retry_after must be at least 1"),
    ],
)
async def test_settings_out_of_range_are_refused_by_name(changes, words):
    with pytest.raises(ConfigError, match=words):
        async with run_simulator(SimConfig(**changes)):
            pass


async def test_a_port_in_use_is_refused_with_a_message(sim):
    port = int(sim.base_url.rsplit(":", 1)[1])
    with pytest.raises(ConfigError, match="cannot listen"):
        async with run_simulator(SimConfig(), port=port):
            pass


async def test_the_log_records_the_headers_that_show_a_clients_conduct(sim, sim_client):
    client = sim_client(sim)
    customer = sim.store.ids()[0]
    headers = {
        "MS-RequestId": "11111111-1111-4111-8111-111111111111",
        "MS-CorrelationId": "22222222-2222-4222-8222-222222222222",
        "MS-PartnerCenter-Application": "pcbatch/0.1.0",
    }
    profile = (await client.get_profile(customer, headers=headers)).json
    etag = profile["attributes"]["etag"]
    await client.put_profile(customer, profile, f'"{etag}"', headers=headers)
    get, put = sim.log[-2:]
    assert (get.method, get.status, get.customer_id, get.committed, get.if_match) == (
        "GET",
        200,
        customer,
        False,
        None,
    )
    assert (put.method, put.status, put.committed, put.if_match) == ("PUT", 200, True, f'"{etag}"')
    for entry in (get, put):
        assert entry.path == f"/v1/customers/{customer}/profiles/billing"
        assert entry.request_id == headers["MS-RequestId"]
        assert entry.correlation_id == headers["MS-CorrelationId"]
        assert entry.application == "pcbatch/0.1.0"
        assert entry.fault is None
    assert get.at <= put.at


async def test_the_log_shows_a_retry_after_a_drop_reusing_its_request_id(make_sim, sim_client):
    server = await make_sim(drop_before=1.0)
    client = sim_client(server)
    customer = server.store.ids()[0]
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await client.get_profile(customer, headers={"MS-RequestId": "same-id"})
    server.config.drop_before = 0.0
    await client.get_profile(customer, headers={"MS-RequestId": "same-id"})
    assert [(e.request_id, e.status, e.fault) for e in server.log] == [
        ("same-id", 0, "drop_before"),
        ("same-id", 200, None),
    ]


def test_the_threaded_simulator_serves_synchronous_clients(sim_thread):
    customer = sim_thread.store.ids()[0]
    request = urllib.request.Request(
        f"{sim_thread.base_url}/v1/customers/{customer}/profiles/billing",
        headers={"Authorization": f"Bearer {sim_thread.token}"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        body = json.loads(response.read().decode("utf-8-sig"))
    assert body["attributes"]["etag"] == sim_thread.store.etag(customer)
    assert sim_thread.log[-1].status == 200


def test_the_threaded_simulator_reports_a_start_failure_to_the_caller():
    with pytest.raises(ConfigError, match="loopback only"), SimulatorThread(SimConfig(), "0.0.0.0"):
        pass


def test_make_sim_thread_applies_keyword_changes(make_sim_thread):
    server = make_sim_thread(customers=3, stale_etag_status=400)
    assert len(server.store.ids()) == 3
    customer = server.store.ids()[0]
    stale = server.store.etag(customer)
    server.store.put_direct(customer, {"companyName": "Renamed by someone else"})
    request = urllib.request.Request(
        f"{server.base_url}/v1/customers/{customer}/profiles/billing",
        data=json.dumps(server.store.profile(customer)).encode(),
        method="PUT",
        headers={"Authorization": f"Bearer {server.token}", "If-Match": f'"{stale}"'},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 400
    assert json.loads(refused.value.read().decode("utf-8-sig"))["code"] == 2055


async def test_the_log_is_the_container_given_so_a_bounded_one_keeps_the_latest(sim_client):
    log: collections.deque = collections.deque(maxlen=3)
    async with run_simulator(SimConfig(customers=2), log=log) as server:
        assert server.log is log
        client = sim_client(server)
        for _ in range(5):
            await client.get_profile(server.store.ids()[0], headers={"MS-RequestId": "r"})
        await client.request("GET", "/elsewhere", headers={"MS-RequestId": "last"})
    assert len(log) == 3
    assert [entry.request_id for entry in log] == ["r", "r", "last"]


def test_the_threaded_simulator_records_into_the_container_given():
    log: collections.deque = collections.deque(maxlen=1)
    with SimulatorThread(SimConfig(customers=1), log=log) as server:
        assert server.log is log
        for request_id in ("first", "second"):
            request = urllib.request.Request(
                f"{server.base_url}/v1/customers/{server.store.ids()[0]}/profiles/billing",
                headers={"Authorization": f"Bearer {server.token}", "MS-RequestId": request_id},
            )
            with urllib.request.urlopen(request, timeout=5):
                pass
    assert [entry.request_id for entry in log] == ["second"]
