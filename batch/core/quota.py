"""Whose quota a 429 speaks for (QuotaReader): one customer's, or the whole partner's.

Partner Center keys some quotas per partner and some per partner and customer, and the
partner's other integrations (provisioning, billing) spend the same quotas
(api-throttling-guidance.md: "per Partner Tenant ID" or "per Partner Tenant ID per Customer
Tenant ID"). A 429 does not say which. What the answers around it say:

- Calls for other customers keep succeeding and the 429s are few and on one or two customers:
  that customer's quota is spent. It waits its Retry-After (and counts as a throttle); the run
  keeps its pace. Scope.CUSTOMER.
- 429s across `spread` (4) or more customers among the last `recent` (64) answers, or 429s for
  `share` (a quarter) or more of them, or no other customer's call succeeding among them
  (every call throttled, or one customer in flight: nothing to compare with): the partner's
  quota. The rate drops and every worker waits, as throttle.AdaptiveRate and the Retry-After
  pause do. Scope.PARTNER.

Only answers of the last `horizon_s` (10 s) count: an old success says nothing about the quota
now. When in doubt it answers PARTNER, today's safe reading: slowing down for a customer's 429
costs pace, ignoring the partner's costs more 429s.

Numbers, from a model of the two cases (answers at 100/s, customers in flight answered in
random order): with 1% of customers throttled once, 0 to 2 of 10 to 16 429s per 1,500
customers were read as the partner's (3%: a quarter; 8%: three quarters, where the 429s really
are spread over many customers). `spread` was 3 then; the bench's chaos run (1%, 1,500
customers) met three throttled customers among 18 in a row, read as the partner's (the run
fell to 0.81 of the quota): at 1%, three of the 32 customers in 64 answers happen in about one
run in four, four in about one in sixty. Against a partner quota of 40/s (a bucket of 20) sent
42, 44, 50 or 200 requests/s, the first three 429s are read as customers' and every later one
as the partner's: three 429s more than reading every 429 as the partner's.

Pure: every event takes `now` (seconds on any monotonic clock); tests pass a fake clock.
"""

from __future__ import annotations

import enum
from collections import deque


class Scope(enum.Enum):
    """Whose quota a 429 was about."""

    CUSTOMER = "customer"  #: one customer's: it waits its Retry-After, the run keeps its pace
    PARTNER = "partner"  #: the partner's: the rate drops and every worker waits


class QuotaReader:
    """The last answers of a run, to tell a customer's 429 from the partner's.

    recent: 64 answers looked back at; horizon_s: 10 s, the oldest answer that counts.
    spread: 4 customers with a 429 among them make it the partner's quota.
    share: 0.25 of them throttled makes it the partner's quota.
    """

    __slots__ = ("_answers", "horizon_s", "share", "spread")

    def __init__(
        self, *, recent: int = 64, horizon_s: float = 10.0, spread: int = 4, share: float = 0.25
    ) -> None:
        if recent < 1 or spread < 1:
            raise ValueError("recent and spread must be at least 1")
        self.horizon_s = horizon_s
        self.spread = spread
        self.share = share
        self._answers: deque[tuple[float, str, bool]] = deque(maxlen=recent)

    def on_success(self, now: float, customer_id: str) -> None:
        """An answer other than 429 came back at `now` for `customer_id`."""
        self._answers.append((now, customer_id, False))

    def on_throttle(self, now: float, customer_id: str) -> Scope:
        """A 429 came back at `now` for `customer_id`: whose quota it is about."""
        self._answers.append((now, customer_id, True))
        since = now - self.horizon_s
        answers = [(who, throttled) for at, who, throttled in self._answers if at >= since]
        throttled = {who for who, hit in answers if hit}
        hits = sum(hit for _, hit in answers)
        others_ok = any(not hit and who != customer_id for who, hit in answers)
        if not others_ok or len(throttled) >= self.spread or hits >= self.share * len(answers):
            return Scope.PARTNER
        return Scope.CUSTOMER
