"""Where MSAL signs in: the authority, and the one http client that reaches it.

Rules:
- Authority: the cloud's login host (options.CLOUDS) + `/<tenant>`; `PC_AUTHORITY` replaces the
  host. It must be https, except on a loopback host: `PC_AUTHORITY=http://127.0.0.1:8479` (the
  stand-in) makes MSAL see `https://127.0.0.1:8479/<tenant>` (MSAL accepts https authorities
  only) and gives MSAL, through its documented `http_client` parameter, a client that sends that
  host's requests over plain http and refuses every other host. MSAL's internals are not touched.
- No login request follows a redirect (that client sends every request with
  allow_redirects=False and refuses a 3xx answer): a secret is sent to the authority's host only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from batch.core.destinations import check_allowed_host
from batch.core.echo import redact_urls
from batch.core.errors import ConfigError
from batch.core.options import CLOUDS, is_loopback

LOGIN_TIMEOUT_S = 30.0  # seconds for one request to the login server


@dataclass(frozen=True, slots=True)
class Authority:
    """Where MSAL signs in.

    root: the https authority host MSAL is given, e.g. https://login.microsoftonline.com.
    loopback: for a stand-in on loopback, the plain-http root that `root` stands for.
    explicit: set by PC_AUTHORITY (then MSAL's instance discovery is off: the host is trusted).
    """

    root: str
    loopback: str | None = None
    explicit: bool = False

    def url(self, tenant: str) -> str:
        """The authority URL for a tenant (id, domain, `organizations`)."""
        return f"{self.root}/{tenant}"


def resolve_authority(env: Mapping[str, str], cloud: str) -> Authority:
    """$PC_AUTHORITY, else the cloud's login host. Raises ConfigError for a URL not allowed.

    https only, except http on a loopback host; no user, password, path, query or fragment.
    """
    given = env.get("PC_AUTHORITY", "").strip()
    if not given:
        return Authority(CLOUDS[cloud].authority)
    shown = redact_urls(given)  # a password inside the URL is never echoed
    try:
        parts = urlsplit(given)
        host = parts.hostname
        parts.port  # noqa: B018 (reading it validates the port)
    except ValueError as exc:
        raise ConfigError(f"PC_AUTHORITY {shown!r} is not a URL ({exc})") from None
    if parts.scheme not in ("https", "http") or not host:
        raise ConfigError(
            f"PC_AUTHORITY {shown!r} must be the https:// URL of a login host, e.g. "
            "https://login.microsoftonline.us"
        )
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        raise ConfigError(
            f"PC_AUTHORITY {shown!r} must not carry a user, password, query or fragment"
        )
    if parts.path.strip("/"):
        raise ConfigError(
            f"PC_AUTHORITY {shown!r} must be the login host alone, without a tenant: the tenant "
            "comes from PC_TENANT_ID (or --tenant)"
        )
    netloc = parts.netloc.lower()
    if parts.scheme == "http":
        if not is_loopback(host):
            raise ConfigError(
                f"PC_AUTHORITY {shown!r} uses plain http:// on a non-loopback host; secrets must "
                "not cross a network in clear: use https:// (http:// is for a loopback stand-in)"
            )
        return Authority(f"https://{netloc}", loopback=f"http://{netloc}", explicit=True)
    check_allowed_host("PC_AUTHORITY", shown, host, cloud, "sign-in")
    return Authority(f"https://{netloc}", explicit=True)


class LoginHttp:
    """The http_client MSAL is given: requests with a timeout; a loopback stand-in over http.

    For Authority(loopback=...) every URL on the https placeholder host goes to the loopback
    root over plain http, and any other host is refused (nothing leaves the machine). Otherwise
    every request must go to the authority's own host over https: a token endpoint that the
    discovery document puts anywhere else is refused, so the secret goes to the sign-in host
    the allow-list admitted and nowhere else.
    """

    def __init__(self, authority: Authority, timeout: float = LOGIN_TIMEOUT_S) -> None:
        self._session = requests.Session()
        self._timeout = timeout
        self._authority = authority
        if authority.loopback:
            self._session.trust_env = False  # no proxy from the environment for loopback

    def _url(self, url: str) -> str:
        root, loopback = self._authority.root, self._authority.loopback
        if url == root or url.startswith(root + "/"):
            return url if loopback is None else loopback + url[len(root) :]
        raise requests.ConnectionError(
            f"refused to send a login request to {urlsplit(redact_urls(url)).netloc}: only "
            f"{loopback or root}, the authority's own host, gets them (a discovery document "
            "naming another host is not followed)"
        )

    def get(self, url: str, params: Any = None, headers: Any = None, **kwargs: Any) -> Any:
        """GET, as requests does, but never following a redirect (see _unredirected)."""
        kwargs.setdefault("timeout", self._timeout)
        kwargs["allow_redirects"] = False
        return _unredirected(
            self._session.get(self._url(url), params=params, headers=headers, **kwargs)
        )

    def post(
        self, url: str, params: Any = None, data: Any = None, headers: Any = None, **kwargs: Any
    ) -> Any:
        """POST, as requests does, but never following a redirect (see _unredirected)."""
        kwargs.setdefault("timeout", self._timeout)
        kwargs["allow_redirects"] = False
        return _unredirected(
            self._session.post(self._url(url), params=params, data=data, headers=headers, **kwargs)
        )

    def close(self) -> None:
        """Close the connections."""
        self._session.close()


class LoginRedirected(requests.RequestException):
    """The login server answered a redirect, which pcbatch never follows."""


def _unredirected(response: requests.Response) -> requests.Response:
    """The response, unless it is a redirect: then LoginRedirected, naming where it pointed.

    A token request carries the client secret (or a refresh token): following a 307/308 would
    send it again to whatever host the answer names. Entra's login hosts never redirect their
    token, device-code or discovery endpoints, so a redirect means a wrong or hijacked host.
    """
    if not response.is_redirect:
        return response
    target = urlsplit(redact_urls(response.headers.get("Location", "")))
    where = f"{target.scheme}://{target.netloc}" if target.netloc else "another address"
    response.close()
    raise LoginRedirected(
        f"answered {response.status_code} redirecting to {where}; pcbatch never follows a "
        "login server's redirects, so no secret was sent there: check PC_AUTHORITY (and --cloud)"
    )
