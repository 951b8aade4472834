"""Starting and stopping the stand-in: in the caller's event loop, or in a thread of its own.

    async with run_simulator(SimConfig(customers=20, seed=1)) as sim:
        ...  # sim.base_url, sim.token, sim.store, sim.log

    with SimulatorThread(SimConfig(customers=20)) as sim:   # for sync code and subprocesses
        ...

It binds loopback addresses only (127.0.0.0/8, ::1, localhost): tokens and customer data never
cross a network. Port 0 picks a free port; `sim.base_url` tells which. It answers only requests
whose Host names a loopback address and its own port (hostguard.py: DNS rebinding). A config
without a client secret or refresh token gets random ones at start (written into `sim.config`).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
from collections.abc import AsyncIterator, Mapping, MutableSequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType

from aiohttp import web

from batch.core.errors import ConfigError
from batch.durable.files import atomic_write
from batch.simulator.app import build_app
from batch.simulator.auditlog import AuditLog
from batch.simulator.buckets import Buckets
from batch.simulator.config import LoggedRequest, SimConfig, is_loopback
from batch.simulator.faults import Faults
from batch.simulator.market_rules import MarketRules, published_documents, read_rules
from batch.simulator.seed import build_store
from batch.simulator.store import Store
from batch.simulator.tokens import TokenIssuer

# Seconds a stopping server waits for answers in flight (a hung one would otherwise hold it).
SHUTDOWN_TIMEOUT_S = 0.5


class Simulator:
    """A running stand-in: where it is, a token for it, and its state.

    base_url: "http://127.0.0.1:<port>", the REST root; the login endpoints are under it too.
    token: a bearer token issued at start, valid for config.token_lifetime_s.
    config: read on every request; a test may change it while serving.
    store: the profiles (profile(id), export(), put_direct(id, changes), ids()).
    log: every request, in the order answered (LoggedRequest); the container given, else a list.
      A long-running server passes a deque(maxlen=...) so that the log stays bounded.
    audit: the activity log (auditlog.py): every committed PUT, and another writer's edits.
    country_rules: what GET /v1/countryvalidationrules/{iso2} answers, by upper-case iso2: the
      stand-in's own captured answers (market_rules.json). A test may change it while serving:
      a document (any JSON value) is served as JSON, bytes as they are (after the BOM); a
      country not in it is 404. With config.country_rules on, a PUT is checked against the
      rules the stand-in reads from it (market_rules.read_rules).
    profiles_in_flight / profiles_in_flight_max: billing-profile requests being answered now,
      and the most ever at once (one customer has at most one call in flight: tests read the
      customers a client had in flight from it, counted where the service would count them).
    """

    def __init__(
        self, config: SimConfig, store: Store, log: MutableSequence[LoggedRequest] | None = None
    ) -> None:
        self.config = config
        self.store = store
        self.log: MutableSequence[LoggedRequest] = [] if log is None else log
        self.tokens = TokenIssuer()
        self.buckets = Buckets()
        self.faults = Faults(config.seed)
        self.writer_edits = 0  # edits made by the simulated concurrent writer so far
        self.profiles_in_flight = 0
        self.profiles_in_flight_max = 0
        # The log's operationDate: the service's clock, off by config.audit_offset_s when set.
        self.audit = AuditLog(
            lambda: datetime.now(UTC) + timedelta(seconds=self.config.audit_offset_s)
        )
        self.country_rules: dict[str, object] = published_documents()
        self._parsed: dict[str, tuple[object, MarketRules | None]] = {}
        self.throttled_once: set[str] = set()  # customers customer_429_once has answered 429
        self.base_url = ""
        self.token = ""

    def issue_token(self, lifetime_s: float | None = None) -> str:
        """A new bearer token for the configured partner (default lifetime: token_lifetime_s)."""
        lifetime = self.config.token_lifetime_s if lifetime_s is None else lifetime_s
        return self.tokens.issue(self.config.tenant_id, self.config.client_id, lifetime)

    def issue_opaque_token(self, lifetime_s: float | None = None) -> str:
        """A bearer token that is no JWT (a static token of another issuer's format): accepted
        like any issued one, and the activity log still names the configured client as its app
        (the service knows whom it issued a token to; the client cannot read it)."""
        lifetime = self.config.token_lifetime_s if lifetime_s is None else lifetime_s
        return self.tokens.issue_opaque(self.config.tenant_id, self.config.client_id, lifetime)

    def write_as_other_writer(self, customer_id: str, changes: Mapping[str, object]) -> str:
        """Another writer's edit (Store.put_direct), recorded in the activity log under
        config.other_writer as the service records any change; returns the new etag."""
        etag = self.store.put_direct(customer_id, changes)
        self.log_billing_update(customer_id, self.config.other_writer)
        return etag

    def log_billing_update(
        self, customer_id: str, application_id: str | None, user_principal_name: str | None = None
    ) -> None:
        """Record the customer's profile as it now is in the activity log; with
        audit_failed_add_customer on, a failed add_customer (no customerId) just before it."""
        if self.config.audit_failed_add_customer:
            self.audit.record_failed_add_customer(
                partner_id=self.config.tenant_id,
                application_id=application_id,
                user_principal_name=user_principal_name,
            )
        self.audit.record_billing_update(
            partner_id=self.config.tenant_id,
            customer_id=customer_id,
            profile=self.store.stored(customer_id),
            etag=self.store.etag(customer_id),
            application_id=application_id,
            user_principal_name=user_principal_name,
        )

    def rules_for(self, iso2: str) -> MarketRules | None:
        """The rules a PUT to an address in `iso2` is checked against (None: not checked)."""
        document = self.country_rules.get(iso2.upper())
        cached = self._parsed.get(iso2.upper())
        if cached is not None and cached[0] is document:
            return cached[1]
        rules = read_rules(document, iso2)
        self._parsed[iso2.upper()] = (document, rules)
        return rules

    def export_state(self, path: Path) -> None:
        """Write every profile as a customers file ({customer_id: profile}, UTF-8, indented)."""
        with atomic_write(path) as file:
            json.dump(self.store.export(), file, indent=2, ensure_ascii=False)
            file.write("\n")


@asynccontextmanager
async def run_simulator(
    config: SimConfig,
    host: str = "127.0.0.1",
    port: int = 0,
    log: MutableSequence[LoggedRequest] | None = None,
) -> AsyncIterator[Simulator]:
    """Serve a stand-in on host:port (0 = a free port) until the block ends.

    log: where requests are recorded (default: a new list, unbounded; see Simulator.log).

    Raises ConfigError for a non-loopback host, a bad setting, an unusable customers file or a
    port already in use.
    """
    if not is_loopback(host):
        raise ConfigError(
            f"the simulator serves loopback only (127.0.0.1, ::1, localhost), not {host!r}"
        )
    config.check()
    if not config.client_secret:
        config.client_secret = "sim-secret." + secrets.token_urlsafe(24)
    if not config.refresh_token:
        config.refresh_token = "sim-rt0." + secrets.token_urlsafe(32)
    sim = Simulator(config, build_store(config), log)
    runner = web.AppRunner(
        build_app(sim), access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT_S
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host.strip("[]"), port)
        try:
            await site.start()
        except OSError as exc:
            raise ConfigError(
                f"the simulator cannot listen on {host}:{port}: {exc.strerror or exc}"
            ) from exc
        bound = runner.addresses[0]
        shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
        sim.base_url = f"http://{shown}:{bound[1]}"
        sim.token = sim.issue_token()
        yield sim
    finally:
        await runner.cleanup()


class SimulatorThread:
    """The same server on its own event loop in a daemon thread (sync tests, subprocesses).

    `with SimulatorThread(config) as sim:` returns once the server listens; leaving the block
    stops it. Touch `sim.store` and `sim.log` from the test thread only to read, or while no
    request is in flight.
    """

    def __init__(
        self,
        config: SimConfig,
        host: str = "127.0.0.1",
        port: int = 0,
        log: MutableSequence[LoggedRequest] | None = None,
    ) -> None:
        self.config = config
        self.host = host
        self.port = port
        self.log = log
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._sim: Simulator | None = None
        self._error: BaseException | None = None

    def __enter__(self) -> Simulator:
        self._thread = threading.Thread(target=self._run, name="pcbatch-simulator", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error
        assert self._sim is not None
        return self._sim

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            async with run_simulator(self.config, self.host, self.port, self.log) as sim:
                self._sim = sim
                self._ready.set()
                await self._stop.wait()
        except BaseException as exc:  # handed to the thread that waits in __enter__
            self._error = exc
        finally:
            self._ready.set()
