"""The pre-flight read: one GET before the first write tells a wrong setting from an outage.

Rules (README.md, "Progress, statuses and exit codes"), on the answer to the first row's GET:

    no answer, could not connect        exit 2: no request reached the service (refused
      (refused, DNS, TLS)                 connection, unknown host, TLS failure): names host
                                          and port
    404 with a code other than 60003    exit 2: the path is wrong (code 1000 "Not found" is
      ("Tenant not found")                what a base URL with `/v1` too many gets): names the
                                          base URL
    401 (after one renewal)             exit 2: the token is refused before anything was
                                          written: names where the credentials came from
    anything else                       the run goes on: a 2xx, an unknown customer (60003:
                                          that row ends `not_found`, exit 1), throttling, a
                                          server error or a timeout (an outage: the retries and
                                          the failure budget handle it, exit 75), a 403 (the
                                          run's own rules, retry.py: exit 3 when it is the
                                          credentials'); a token refused later in the run is
                                          exit 3

Only the first call of a run is judged this way: once a request has reached the service, a
refused connection is an outage (75), and a 404 is one customer's (1).

Pure: the answer comes in as a Reply.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from batch.core.errors import ConfigError
from batch.core.retry import Fault, Reply

# The code Partner Center answers for a customer id it does not know (REST docs, "Partner
# Center REST error codes": 60003 "Tenant not found"); code 1000 is a plain "Not found".
CUSTOMER_NOT_FOUND_CODE = "60003"


def misconfiguration(reply: Reply, base_url: str, credentials: str) -> ConfigError | None:
    """The setting to fix when the first GET of a run got `reply`, else None (go on).

    credentials: where the run's credentials came from, in words (credentials.credential_source)."""
    if reply.status == 0 and reply.fault is Fault.CONNECT:
        parts = urlsplit(base_url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return ConfigError(
            f"no request reached the service at {parts.hostname}:{port} ({reply.message}: "
            "connection refused, unknown host or TLS failure): check --base-url or "
            "PC_BASE_URL, the network and proxy; nothing was sent"
        )
    if reply.status == 404 and reply.error_code != CUSTOMER_NOT_FOUND_CODE:
        code = f" code {reply.error_code}" if reply.error_code else ""
        return ConfigError(
            f"the service answered 404{code} to the first customer's billing profile: the "
            f"path is wrong, check the base URL {base_url} (it must not end in /v1: pcbatch "
            "adds /v1/customers/...); nothing was sent"
        )
    if reply.status == 401:
        return ConfigError(
            f"the service refused the token on the first call, even renewed (HTTP 401"
            f"{f' code {reply.error_code}' if reply.error_code else ''}): check {credentials} "
            "(expired, for another tenant or cloud, or not issued for "
            "https://api.partnercenter.microsoft.com); nothing was sent"
        )
    return None
