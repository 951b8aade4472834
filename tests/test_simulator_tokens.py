"""The stand-in's login endpoints: grants, errors, OpenID discovery, and MSAL against them."""

from __future__ import annotations

import base64
import json
import urllib.request
from urllib.parse import urlsplit

import msal
import pytest
import requests

from batch.simulator.tokens import TokenIssuer

SCOPE_APP = "https://api.partnercenter.microsoft.com/.default"
SCOPE_USER = "https://api.partnercenter.microsoft.com/user_impersonation"


class Clock:
    """A clock for the stand-in's token issuer that moves only when a test moves it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _token(server, client, form: dict, tenant: str | None = None, **kwargs):
    path = f"/{tenant or server.config.tenant_id}/oauth2/v2.0/token"
    return await client.request("POST", path, data=form, token=None, **kwargs)


def _app_form(server, **changes) -> dict:
    form = {
        "grant_type": "client_credentials",
        "client_id": server.config.client_id,
        "client_secret": server.config.client_secret,
        "scope": SCOPE_APP,
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


def _oauth_error(answer, status: int, error: str) -> None:
    body = answer.json
    assert answer.status == status, body
    assert body["error"] == error
    assert body["error_description"].startswith("AADSTS")
    assert isinstance(body["error_codes"], list)


async def test_client_credentials_give_a_bearer_token_that_the_rest_api_accepts(sim, sim_client):
    client = sim_client(sim)
    answer = await _token(sim, client, _app_form(sim))
    assert answer.status == 200
    body = answer.json
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == int(sim.config.token_lifetime_s)
    assert body["ext_expires_in"] == body["expires_in"]
    assert "refresh_token" not in body
    rest = await client.get_profile(sim.store.ids()[0], token=body["access_token"])
    assert rest.status == 200


async def test_client_credentials_may_come_by_http_basic_and_on_the_v1_endpoint(sim, sim_client):
    client = sim_client(sim)
    pair = f"{sim.config.client_id}:{sim.config.client_secret}".encode()
    basic = {"Authorization": "Basic " + base64.b64encode(pair).decode()}
    form = _app_form(sim, client_id=None, client_secret=None, scope=None)
    form["resource"] = "https://api.partnercenter.microsoft.com"
    answer = await client.request(
        "POST", f"/{sim.config.tenant_id}/oauth2/token", data=form, headers=basic, token=None
    )
    assert answer.status == 200
    assert answer.json["resource"] == "https://api.partnercenter.microsoft.com"


@pytest.mark.parametrize(
    ("changes", "status", "error"),
    [
        ({"client_secret": "wrong"}, 401, "invalid_client"),
        ({"client_id": "someone-else"}, 401, "invalid_client"),
        ({"client_secret": None}, 401, "invalid_client"),
        ({"scope": SCOPE_USER}, 400, "invalid_scope"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
    ],
)
async def test_bad_client_credentials_get_entra_errors(sim, sim_client, changes, status, error):
    answer = await _token(sim, sim_client(sim), _app_form(sim, **changes))
    _oauth_error(answer, status, error)
    assert "access_token" not in answer.json


async def test_client_credentials_need_the_partner_tenant_not_common(sim, sim_client):
    answer = await _token(sim, sim_client(sim), _app_form(sim), tenant="common")
    _oauth_error(answer, 400, "invalid_request")


async def test_a_client_assertion_naming_the_client_is_accepted(sim, sim_client):
    claims = {"iss": sim.config.client_id, "sub": sim.config.client_id, "aud": "x"}
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    form = _app_form(sim, client_secret=None)
    form["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    form["client_assertion"] = f"e30.{payload}.c2ln"
    assert (await _token(sim, sim_client(sim), form)).status == 200


async def test_the_refresh_token_grant_answers_a_new_refresh_token_that_works_too(sim, sim_client):
    client = sim_client(sim)
    form = {
        "grant_type": "refresh_token",
        "client_id": sim.config.client_id,
        "refresh_token": sim.config.refresh_token,
        "scope": f"{SCOPE_USER} offline_access",
    }
    first = await _token(sim, client, form, tenant="organizations")
    assert first.status == 200
    renewed = first.json["refresh_token"]
    assert renewed != sim.config.refresh_token
    assert {"access_token", "id_token", "client_info", "expires_in"} <= set(first.json)
    second = await _token(sim, client, {**form, "refresh_token": renewed})
    assert second.status == 200
    bogus = await _token(sim, client, {**form, "refresh_token": "not-one-of-ours"})
    _oauth_error(bogus, 400, "invalid_grant")


async def test_the_device_code_flow_is_pending_once_then_approved(sim, sim_client):
    client = sim_client(sim)
    started = await client.request(
        "POST",
        "/organizations/oauth2/v2.0/devicecode",
        data={"client_id": sim.config.client_id, "scope": SCOPE_USER},
        token=None,
    )
    assert started.status == 200
    flow = started.json
    assert {"device_code", "user_code", "verification_uri", "interval", "message"} <= set(flow)
    poll = {
        "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
        "client_id": sim.config.client_id,
        "device_code": flow["device_code"],
    }
    _oauth_error(
        await _token(sim, client, poll, tenant="organizations"), 400, "authorization_pending"
    )
    approved = await _token(sim, client, poll, tenant="organizations")
    assert approved.status == 200
    assert {"access_token", "refresh_token", "id_token", "client_info"} <= set(approved.json)
    _oauth_error(await _token(sim, client, poll, tenant="organizations"), 400, "invalid_grant")


async def test_openid_configuration_points_back_at_the_simulator(sim, sim_client):
    client = sim_client(sim)
    tenant = sim.config.tenant_id
    answer = await client.request("GET", f"/{tenant}/v2.0/.well-known/openid-configuration")
    assert answer.status == 200
    config = answer.json
    host = urlsplit(sim.base_url).netloc
    for key, path in [
        ("token_endpoint", f"/{tenant}/oauth2/v2.0/token"),
        ("authorization_endpoint", f"/{tenant}/oauth2/v2.0/authorize"),
        ("device_authorization_endpoint", f"/{tenant}/oauth2/v2.0/devicecode"),
        ("issuer", f"/{tenant}/v2.0"),
    ]:
        assert config[key] == f"https://{host}{path}"
    unknown = await client.request("GET", "/not-our-tenant/v2.0/.well-known/openid-configuration")
    _oauth_error(unknown, 400, "invalid_tenant")


async def test_instance_discovery_names_the_tenants_openid_configuration(sim, sim_client):
    answer = await sim_client(sim).request(
        "GET",
        "/common/discovery/instance?api-version=1.1&authorization_endpoint="
        "https://login.microsoftonline.com/contoso.example/oauth2/v2.0/authorize",
    )
    assert answer.status == 200
    endpoint = answer.json["tenant_discovery_endpoint"]
    assert endpoint.endswith("/contoso.example/v2.0/.well-known/openid-configuration")


async def test_tokens_from_the_endpoint_expire_after_their_lifetime(make_sim, sim_client):
    server = await make_sim(token_lifetime_s=60)
    server.tokens = TokenIssuer(clock=(clock := Clock()))
    client = sim_client(server)
    token = (await _token(server, client, _app_form(server))).json["access_token"]
    assert (await client.get_profile(server.store.ids()[0], token=token)).status == 200
    clock.now += 60  # its lifetime is over
    answer = await client.get_profile(server.store.ids()[0], token=token)
    assert answer.status == 401
    assert "expired" in answer.json["description"]


async def test_token_requests_are_logged_without_their_secrets(sim, sim_client):
    client = sim_client(sim)
    await _token(sim, client, _app_form(sim), headers={"client-request-id": "cr-1"})
    await _token(sim, client, _app_form(sim, client_secret="wrong-secret-xyz"))
    entries = sim.log[-2:]
    assert [(e.method, e.status) for e in entries] == [("POST", 200), ("POST", 401)]
    assert entries[0].request_id == "cr-1"
    logged = repr(sim.log)
    for secret in (sim.config.client_secret, "wrong-secret-xyz", sim.config.refresh_token):
        assert secret not in logged


class _Loopback:
    """An MSAL http_client that sends every URL's path and query to the simulator instead."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()

    def _url(self, url: str) -> str:
        parts = urlsplit(url)
        return self.base_url + parts.path + (f"?{parts.query}" if parts.query else "")

    def get(self, url, params=None, headers=None, **kwargs):
        return self.session.get(self._url(url), params=params, headers=headers, timeout=10)

    def post(self, url, params=None, data=None, headers=None, **kwargs):
        return self.session.post(
            self._url(url), params=params, data=data, headers=headers, timeout=10
        )

    def close(self) -> None:
        self.session.close()


def _rest_status(server, token: str) -> int:
    customer = server.store.ids()[0]
    request = urllib.request.Request(
        f"{server.base_url}/v1/customers/{customer}/profiles/billing",
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status


def test_msal_client_credentials_work_against_the_simulator(sim_thread):
    config = sim_thread.config
    app = msal.ConfidentialClientApplication(
        config.client_id,
        client_credential=config.client_secret,
        authority=f"https://login.microsoftonline.com/{config.tenant_id}",
        http_client=_Loopback(sim_thread.base_url),
    )
    result = app.acquire_token_for_client(scopes=[SCOPE_APP])
    assert "access_token" in result, result
    assert _rest_status(sim_thread, result["access_token"]) == 200


def test_msal_device_flow_signs_in_and_renews_silently(make_sim_thread):
    server = make_sim_thread(token_lifetime_s=60)  # under MSAL's 5-minute margin: it renews
    app = msal.PublicClientApplication(
        server.config.client_id,
        authority="https://login.microsoftonline.com/organizations",
        http_client=_Loopback(server.base_url),
    )
    flow = app.initiate_device_flow(scopes=[SCOPE_USER])
    assert "user_code" in flow, flow
    result = app.acquire_token_by_device_flow(flow)
    assert "access_token" in result, result
    accounts = app.get_accounts()
    assert len(accounts) == 1
    renewed = app.acquire_token_silent([SCOPE_USER], account=accounts[0])
    assert renewed is not None
    assert renewed["access_token"] != result["access_token"]
    assert _rest_status(server, renewed["access_token"]) == 200


def test_msal_redeems_the_configured_refresh_token(sim_thread):
    app = msal.PublicClientApplication(
        sim_thread.config.client_id,
        authority=f"https://login.microsoftonline.com/{sim_thread.config.tenant_id}",
        http_client=_Loopback(sim_thread.base_url),
    )
    result = app.acquire_token_by_refresh_token(sim_thread.config.refresh_token, [SCOPE_USER])
    assert "access_token" in result, result
    assert _rest_status(sim_thread, result["access_token"]) == 200
