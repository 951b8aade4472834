"""Throttling: token buckets per partner and per (partner, customer), as Partner Center keys them.

A bucket holds up to `burst` tokens and refills at `rate` tokens per second; a request takes one
token from every bucket it belongs to, or from none: a throttled request is not handled and does
not spend the tokens of the bucket that still had some. Trap: a full bucket lets `burst` requests
through at once, so the short-run rate can exceed `rate`.

Rates and bursts are read on every call (the config may change while serving); time comes from
the caller, so tests move the clock by hand.
"""

from __future__ import annotations

import math


class TokenBucket:
    """One bucket; starts full."""

    __slots__ = ("tokens", "updated")

    def __init__(self, burst: int, now: float) -> None:
        self.tokens: float = float(burst)
        self.updated: float = now

    def wait(self, now: float, rate: float, burst: int) -> float:
        """Refill up to now; seconds until one token is available (0.0 if one is)."""
        self.tokens = min(float(burst), self.tokens + (now - self.updated) * rate)
        self.updated = now
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / rate


class Buckets:
    """All buckets of a server. `rate=None` means unlimited (no bucket is kept)."""

    __slots__ = ("_customer", "_partner")

    def __init__(self) -> None:
        self._partner: dict[str, TokenBucket] = {}
        self._customer: dict[tuple[str, str], TokenBucket] = {}

    def take(
        self,
        now: float,
        partner: str,
        customer: str | None,
        partner_limit: tuple[float | None, int],
        customer_limit: tuple[float | None, int],
    ) -> float:
        """Take a token for one request: 0.0 if allowed, else seconds until it would be.

        partner_limit, customer_limit: (rate in requests/s or None, burst). A request without a
        customer (address validation) counts against the partner only.
        """
        taken: list[TokenBucket] = []
        longest = 0.0
        rate, burst = partner_limit
        if rate is not None:
            bucket = self._partner.get(partner)
            if bucket is None:
                bucket = self._partner[partner] = TokenBucket(burst, now)
            longest = max(longest, bucket.wait(now, rate, burst))
            taken.append(bucket)
        rate, burst = customer_limit
        if rate is not None and customer is not None:
            key = (partner, customer)
            bucket = self._customer.get(key)
            if bucket is None:
                bucket = self._customer[key] = TokenBucket(burst, now)
            longest = max(longest, bucket.wait(now, rate, burst))
            taken.append(bucket)
        if longest > 0.0:
            return longest
        for bucket in taken:
            bucket.tokens -= 1.0
        return 0.0


def retry_after(wait_s: float) -> int:
    """The Retry-After header's whole seconds for a wait: rounded up, at least 1."""
    return max(1, math.ceil(wait_s))
