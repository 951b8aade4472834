"""Shared fixtures: the Partner Center stand-in on a free loopback port.

- `sim`: an async Simulator, 20 generated customers, seed 1.
- `sim_thread`: the same in a background thread, for sync tests and subprocess clients.
- `make_sim`: async factory, `sim = await make_sim(SimConfig(...))` or `await make_sim(hang=1.0)`
  (keyword changes apply to the default config); every server it starts stops at teardown.
- `make_sim_thread`: the same, sync, with SimulatorThread.
- `sim_client`: `client = sim_client(sim)`, a small aiohttp client for the simulator's own tests
  (sends the token and headers, strips the BOM, keeps the raw bytes).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass

import aiohttp
import pytest
from multidict import CIMultiDictProxy

from batch.simulator import SimConfig, Simulator, SimulatorThread, run_simulator

DEFAULT = SimConfig(customers=20, seed=1)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`pytest -n auto` starts two workers per core: most tests wait on loopback sockets,
    child processes and the stand-in's latency, not on the CPU (one worker per core kept the
    2 cores less than half busy)."""
    return 2 * len(os.sched_getaffinity(0))


def _config(config: SimConfig | None, changes: Mapping[str, object]) -> SimConfig:
    return dataclasses.replace(config or DEFAULT, **changes)


@pytest.fixture(autouse=True)
def _isolated_user_config(tmp_path_factory: pytest.TempPathFactory, monkeypatch) -> None:
    """No test sees the developer's own `pcbatch login` cache or PC_* credentials."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg-config")))
    monkeypatch.setenv("PCBATCH_TOKEN_CACHE", "file")  # never the developer's own keyring
    for name in (
        "PC_ACCESS_TOKEN",
        "PC_TENANT_ID",
        "PC_CLIENT_ID",
        "PC_CLIENT_SECRET",
        "PC_CLIENT_CERTIFICATE_PATH",
        "PC_CLIENT_CERTIFICATE_PASSWORD",
        "PC_REFRESH_TOKEN",
        "PC_AUTHORITY",
        "PC_BASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with run_simulator(dataclasses.replace(DEFAULT)) as server:
        yield server


@pytest.fixture
def sim_thread() -> Iterator[Simulator]:
    with SimulatorThread(dataclasses.replace(DEFAULT)) as server:
        yield server


@pytest.fixture
async def make_sim() -> AsyncIterator[Callable[..., Awaitable[Simulator]]]:
    async with contextlib.AsyncExitStack() as stack:

        async def start(config: SimConfig | None = None, **changes: object) -> Simulator:
            return await stack.enter_async_context(run_simulator(_config(config, changes)))

        yield start


@pytest.fixture
def make_sim_thread() -> Iterator[Callable[..., Simulator]]:
    with contextlib.ExitStack() as stack:

        def start(config: SimConfig | None = None, **changes: object) -> Simulator:
            return stack.enter_context(SimulatorThread(_config(config, changes)))

        yield start


@dataclass
class Answer:
    """One answer of the stand-in: status, headers, the raw body and the body decoded."""

    status: int
    headers: CIMultiDictProxy[str]
    raw: bytes

    @property
    def body(self) -> object:
        return json.loads(self.raw.decode("utf-8-sig")) if self.raw else None

    @property
    def json(self) -> dict:
        body = self.body
        assert isinstance(body, dict), body
        return body


class SimClient:
    """Requests against one simulator, with its token unless told otherwise."""

    def __init__(self, session: aiohttp.ClientSession, sim: Simulator) -> None:
        self.session = session
        self.sim = sim

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: object = None,
        data: bytes | Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        token: str | None = "default",
        timeout: float = 10.0,
    ) -> Answer:
        sent = {"Accept": "application/json"}
        if token == "default":
            token = self.sim.token
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        sent.update(headers or {})
        if json_body is not None:
            data = json.dumps(json_body).encode()
            sent.setdefault("Content-Type", "application/json")
        async with self.session.request(
            method,
            self.sim.base_url + path,
            data=data,
            headers=sent,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as response:
            return Answer(response.status, response.headers, await response.read())

    async def get_profile(self, customer_id: str, **kwargs: object) -> Answer:
        return await self.request("GET", f"/v1/customers/{customer_id}/profiles/billing", **kwargs)

    async def put_profile(
        self, customer_id: str, body: object, if_match: str | None, **kwargs: object
    ) -> Answer:
        headers = dict(kwargs.pop("headers", None) or {})  # type: ignore[call-overload]
        if if_match is not None:
            headers["If-Match"] = if_match
        return await self.request(
            "PUT",
            f"/v1/customers/{customer_id}/profiles/billing",
            json_body=body,
            headers=headers,
            **kwargs,
        )


@pytest.fixture
async def sim_client() -> AsyncIterator[Callable[[Simulator], SimClient]]:
    # force_close: every request on a fresh connection, so a dropped one cannot leak into the next
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        # aiohttp silently resends an idempotent request (GET, PUT) once when the server drops
        # the connection; these tests must see the drop itself. aiohttp's own test client turns
        # the resend off the same way (aiohttp/test_utils.py); there is no public switch.
        session._retry_connection = False
        yield lambda server: SimClient(session, server)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--docs-shell",
        action="store_true",
        help="run the docs pages' shell blocks (tests/test_docs_shell.py; slow, .ci/run runs it)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "docs_shell: runs the docs' shell blocks (--docs-shell)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leaves the slow docs_shell tests out unless --docs-shell asks for them."""
    if config.getoption("--docs-shell"):
        return
    kept = [item for item in items if item.get_closest_marker("docs_shell") is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept
