"""Where credentials may go: each cloud's sign-in and Partner Center hosts, or the stand-in.

Rules (issue 28, point 3):
- A token or secret goes only to the cloud's sign-in host (the authority) and the cloud's
  Partner Center host, over https: SIGN_IN_HOSTS and PARTNER_CENTER_HOSTS, one allow-list per
  cloud (the hosts of options.CLOUDS, from Microsoft's "national clouds" and Partner Center
  REST endpoint pages). Any other non-loopback host is refused, whatever the credentials.
- A loopback host (127.0.0.0/8, ::1, localhost; http allowed) is the stand-in's, and only the
  stand-in's own credentials go there: its client id STAND_IN_CLIENT_ID (with the secret or
  refresh token it was started with), or a token it issued. A real app's credentials (a GUID
  client id, as every Entra app registration has, whatever its secret, certificate or refresh
  token) or a token from a real sign-in are never sent there: a mixture (real credentials, a
  stand-in's PC_AUTHORITY or PC_BASE_URL still exported) is refused before anything is sent,
  naming what to unset. A client id that is no GUID names no Entra app: it may go there.
- Telling a token apart: Entra ID issues JWTs (a JSON header, a payload, a signature); the
  stand-in's carry the key id STAND_IN_KEY_ID in their header. A JWT with any other key id is
  a real sign-in's. A string that is no JWT was issued by no sign-in (a test's "not-a-token"):
  it may go to the stand-in.

Pure: no I/O; the callers pass the URLs and the credentials' description.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
from urllib.parse import urlsplit

from batch.core.errors import ConfigError
from batch.core.ids import canonical_guid

STAND_IN_CLIENT_ID = "pcbatch-sim-client"  # the stand-in's app (simulator.config)
STAND_IN_KEY_ID = "pcbatch-simulator"  # the `kid` of every token the stand-in issues

# Microsoft Entra ID authority hosts per cloud ("National clouds", learn.microsoft.com).
SIGN_IN_HOSTS: dict[str, frozenset[str]] = {
    "global": frozenset({"login.microsoftonline.com"}),
    "usgov": frozenset({"login.microsoftonline.us"}),
    "china": frozenset({"login.chinacloudapi.cn"}),
}
# Partner Center REST roots per cloud (options.CLOUDS; "Partner Center REST API" endpoints).
PARTNER_CENTER_HOSTS: dict[str, frozenset[str]] = {
    "global": frozenset({"api.partnercenter.microsoft.com"}),
    "usgov": frozenset({"api.partnercenter.microsoft.com"}),
    "china": frozenset({"partner.partnercenterapi.microsoftonline.cn"}),
}


def is_loopback(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_allowed_host(where: str, shown: str, host: str, cloud: str, kind: str) -> None:
    """Raise ConfigError unless `host` is on the cloud's allow-list of `kind` ("sign-in" or
    "Partner Center") or a loopback host (the stand-in's: credentials checked later).

    where: the option or variable that named it; shown: its URL as it may be printed.
    """
    if is_loopback(host):
        return
    hosts = SIGN_IN_HOSTS if kind == "sign-in" else PARTNER_CENTER_HOSTS
    allowed = hosts.get(cloud, frozenset())
    if host.lower().rstrip(".") in allowed:
        return
    other = sorted(name for name, names in hosts.items() if host.lower() in names)
    hint = f" (it is the {other[0]} cloud's: add --cloud {other[0]})" if other else ""
    raise ConfigError(
        f"{where} {shown!r} is not a {kind} host of the {cloud} cloud{hint}: credentials go "
        f"only to {', '.join(sorted(allowed))} over https (or to a stand-in on loopback); "
        f"unset {where} or correct it"
    )


def is_real_app(client_id: str) -> bool:
    """True for a client id that may be a real Entra app's: a GUID (any case, braces)."""
    return canonical_guid(client_id) is not None


def is_real_token(token: str) -> bool:
    """True for a token from a real sign-in: a JWT whose header is not the stand-in's."""
    header = token.strip().split(".")[0]
    try:
        decoded = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except (ValueError, binascii.Error):
        return False
    if not isinstance(decoded, dict) or "alg" not in decoded:
        return False
    return decoded.get("kid") != STAND_IN_KEY_ID


def refuse_real_credentials_on_stand_in(real: str | None, url: str, where: str) -> None:
    """Raise ConfigError (exit 2) when real credentials would go to a loopback URL.

    real: what the credentials are, in words ("the app in PC_CLIENT_ID"), or None for the
    stand-in's own. url: where they would go; where: the option or variable naming it.
    """
    host = urlsplit(url).hostname or ""
    if real is None or not is_loopback(host):
        return
    raise ConfigError(
        f"{where} {url} is a stand-in on loopback, but the credentials are real ({real}): "
        f"nothing was sent. Unset {where} (left over from `pcbatch simulate`?) to reach "
        "Partner Center, or use the stand-in's own credentials with it"
    )
