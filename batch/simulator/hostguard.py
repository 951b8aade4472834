"""The check before any route: only requests addressed to the stand-in on loopback are answered.

A request whose Host header is not a loopback address with this server's port
(`127.0.0.1:PORT`, `localhost:PORT`, `[::1]:PORT`) is answered 421 with a plain-text reason and
handled no further: a web page whose host name re-resolves to 127.0.0.1 (DNS rebinding) cannot
talk to the stand-in through a person's browser.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from aiohttp import web

from batch.simulator.config import LoggedRequest, is_loopback

if TYPE_CHECKING:
    from batch.simulator.server import Simulator


def _local_port(request: web.Request) -> int | None:
    """The port this request reached (None when the connection is gone)."""
    transport = request.transport
    sockname = transport.get_extra_info("sockname") if transport is not None else None
    return sockname[1] if isinstance(sockname, tuple) and len(sockname) >= 2 else None


def loopback_host(host: str | None, port: int | None) -> bool:
    """True when a Host header names a loopback address (or localhost) and `port`, nothing else.

    A Host without a port means port 80, as HTTP says.
    """
    if not host or port is None:
        return False
    try:
        parts = urlsplit(f"//{host}")
        given = parts.port or 80
    except ValueError:
        return False
    if parts.username is not None or parts.path or parts.query or parts.fragment:
        return False
    return is_loopback(parts.hostname or "") and given == port


def host_guard(sim: Simulator) -> Callable[..., Awaitable[web.StreamResponse]]:
    """The aiohttp middleware answering 421 to a request not addressed to loopback and its port."""

    @web.middleware
    async def guard(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        port = _local_port(request)
        host = request.headers.get("Host")
        if loopback_host(host, port):
            return await handler(request)
        sim.log.append(LoggedRequest.of(request, 421, fault="foreign_host"))
        text = (
            f"421 Misdirected Request: the pcbatch simulator answers only requests addressed to "
            f"a loopback address and its port (127.0.0.1:{port}, localhost:{port}, "
            f"[::1]:{port}), not to Host {host!r}: a name that resolves to 127.0.0.1 is refused "
            "on purpose (DNS rebinding)\n"
        )
        return web.Response(status=421, text=text)

    return guard
