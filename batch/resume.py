"""A Client that keeps the last etag seen per customer, for the journal's record of an outcome."""

from __future__ import annotations

from collections.abc import Mapping

from batch.auth import TokenProvider
from batch.client import Client
from batch.core.retry import Reply


class EtagClient(Client):
    """A Client that keeps the last etag seen per customer, for the record of its outcome.

    `etag_of(customer_id)` gives it; `forget(customer_id)` drops it once the outcome is
    recorded. (Each PUT's changes are journaled through update.Context.before_put.)
    """

    def __init__(
        self, base_url: str, tokens: TokenProvider, *, timeout: float, connections: int
    ) -> None:
        super().__init__(base_url, tokens, timeout=timeout, connections=connections)
        self._etags: dict[str, str] = {}

    async def get_profile(self, customer_id: str, request_id: str) -> Reply:
        """GET the profile, remembering its etag."""
        reply = await super().get_profile(customer_id, request_id)
        self._seen(customer_id, reply)
        return reply

    async def put_profile(
        self, customer_id: str, resource: Mapping[str, object], etag: str, request_id: str
    ) -> Reply:
        """PUT the profile, remembering the etag it answers with."""
        reply = await super().put_profile(customer_id, resource, etag, request_id)
        self._seen(customer_id, reply)
        return reply

    def etag_of(self, customer_id: str) -> str | None:
        """The etag of the customer's profile in the last successful answer, if any."""
        return self._etags.get(customer_id)

    def forget(self, customer_id: str) -> None:
        """Drop the etag kept for a customer whose outcome is recorded."""
        self._etags.pop(customer_id, None)

    def _seen(self, customer_id: str, reply: Reply) -> None:
        if 200 <= reply.status < 300 and reply.etag is not None:
            self._etags[customer_id] = reply.etag
