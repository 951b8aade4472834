"""Bearer tokens: the TokenProvider protocol, StaticToken and RenewingToken.

Which provider a run gets from its environment is credentials.py's.

Rules every provider keeps:
- `token()` is cheap and may be called before every request (cache inside the provider).
- `renew(rejected)` is called after a 401 with the token that was refused; when another caller
  has renewed already (the current token differs from `rejected`) it returns the current token
  without a new request, so 32 workers meeting one expiry cause one renewal, not 32.
- A token never appears in a repr, a log line or an exception message.

RenewingToken (every signed-in flow) renews a token min(5 min, 20% of its lifetime) before it
expires, with one fetch that all callers share; they go on with the current token meanwhile
and wait only in the last half of that margin. A failed renewal keeps a token that is still
valid (and tries again within RETRY_S); otherwise the first failure is a ConfigError (exit 2:
nothing was sent with it yet) and a later one AuthFailed (exit 3).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from batch.core.errors import AuthFailed, ConfigError
from batch.core.json_read import claims_of

log = logging.getLogger(__name__)

RENEW_EARLY_S = 300.0  # renew at most this many seconds before expiry...
RENEW_EARLY_SHARE = 0.2  # ...or at this share of the lifetime before it, whichever is less
RETRY_S = 30.0  # after a failed early renewal, try again within this many seconds


_TENANT = re.compile(r"[0-9A-Za-z][0-9A-Za-z.-]{0,253}")


def tenant_of(token: str) -> str | None:
    """The tenant a bearer token is for: its `tid` claim, read without verifying the token
    (only Partner Center checks it; this is for showing where a run writes). None when the
    token is not a JWT or has no such claim. The token itself is never logged or kept.
    """
    tenant = claims_of(token).get("tid")
    # Shown in logs: only a plain tenant id or domain, never arbitrary text from the token.
    return tenant if isinstance(tenant, str) and _TENANT.fullmatch(tenant) else None


class TokenProvider(Protocol):
    """Gives the bearer token for the next request, and a fresh one after a 401."""

    async def token(self) -> str:
        """The token to send now."""
        ...

    async def renew(self, rejected: str) -> str:
        """A token other than `rejected` if one can be had, else `rejected` itself."""
        ...


class StaticToken:
    """A bearer token used as it is (PC_ACCESS_TOKEN); it cannot be renewed."""

    __slots__ = ("_token",)

    def __init__(self, token: str) -> None:
        self._token = token

    async def token(self) -> str:
        """The token, as given."""
        return self._token

    async def renew(self, rejected: str) -> str:
        """The same token: a static token has no way to renew (a second 401 ends the run)."""
        return self._token

    def __repr__(self) -> str:
        return "StaticToken(<hidden>)"


class SignInError(Exception):
    """No token could be had from the login server; the message is for people, without secrets."""


@dataclass(frozen=True, slots=True)
class Grant:
    """A token from the login server and its lifetime in seconds (counted from the request)."""

    token: str = field(repr=False)
    lifetime_s: float


def renew_at(obtained_at: float, lifetime_s: float) -> float:
    """When to renew a token obtained at `obtained_at` (seconds) that lives `lifetime_s`.

    min(5 min, 20% of the lifetime) before it expires: a one-hour token at 55 min, a 2 s one at
    1.6 s.
    """
    return obtained_at + lifetime_s - min(RENEW_EARLY_S, RENEW_EARLY_SHARE * lifetime_s)


class RenewingToken:
    """A TokenProvider over a sync fetch (run in a thread): cached, renewed early, one at a time.

    fetch: returns a new Grant on every call, or raises SignInError.
    what: the credentials in words for messages, e.g. "app-only credentials (PC_TENANT_ID, ...)".
    clock: seconds, monotonic; a test may move it by hand.
    """

    __slots__ = (
        "_clock",
        "_expires_at",
        "_failure",
        "_fetch",
        "_inflight",
        "_renew_at",
        "_token",
        "what",
    )

    def __init__(
        self, fetch: Callable[[], Grant], what: str, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._fetch = fetch
        self.what = what
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0
        self._renew_at = 0.0
        self._failure: AuthFailed | None = None
        self._inflight: asyncio.Future[str] | None = None

    async def token(self) -> str:
        """The current token; a due one is renewed behind the callers' backs while it is good.

        Callers wait for a renewal only before the first token, or when less than half of the
        early margin is left (see renew_at): a slow login server does not stall the workers.
        """
        token = self._token
        now = self._clock()
        if token is not None and now < self._renew_at:
            return token
        if token is not None and now < (self._renew_at + self._expires_at) / 2:
            self._start()
            return token
        return await self._shared()

    async def renew(self, rejected: str) -> str:
        """A token other than `rejected`: the current one if another caller renewed already.

        Raises AuthFailed (or ConfigError before any token) when no new token can be had.
        """
        if self._token is not None and self._token != rejected:
            return self._token
        token = await self._shared()
        if token == rejected:  # the renewal failed and kept the token that was refused
            raise self._failure or AuthFailed(f"could not renew the token for {self.what}")
        return token

    async def _shared(self) -> str:
        # Callers that arrive while a fetch runs wait for it and share its token or its error.
        return await asyncio.shield(self._start())

    def _start(self) -> asyncio.Future[str]:
        """The fetch in flight, started now if there is none."""
        if self._inflight is None:
            task = asyncio.ensure_future(self._renewed())
            # A renewal nobody waits for may fail: the next caller meets its error anyway.
            task.add_done_callback(lambda done: done.cancelled() or done.exception())
            self._inflight = task
        return self._inflight

    async def _renewed(self) -> str:
        try:
            started = self._clock()
            if self._token is None:
                log.info("signing in with %s", self.what)
            try:
                grant = await asyncio.to_thread(self._fetch)
            except SignInError as exc:
                return self._failed(str(exc))
            self._token = grant.token
            self._expires_at = started + grant.lifetime_s
            self._renew_at = renew_at(started, grant.lifetime_s)
            self._failure = None
            log.debug("token for %s valid for %.0f s", self.what, grant.lifetime_s)
            return grant.token
        finally:
            self._inflight = None

    def _failed(self, message: str) -> str:
        """Keep a still-valid token after a failed renewal, or raise for people to act on."""
        if self._token is None:
            raise ConfigError(f"could not sign in with {self.what}: {message}")
        self._failure = AuthFailed(f"could not renew the token of {self.what}: {message}")
        now = self._clock()
        left = self._expires_at - now
        if left <= 0:
            raise self._failure
        self._renew_at = now + min(RETRY_S, left / 2)
        log.warning(
            "could not renew the token yet (%s); the current one stays valid for %.0f s",
            message,
            left,
        )
        return self._token

    def __repr__(self) -> str:
        return f"RenewingToken({self.what}, <token hidden>)"
