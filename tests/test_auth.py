"""batch.wire.auth: which credentials a run uses, and how a token is cached, shared and renewed.

RenewingToken is driven here by a plain fetch function and a clock moved by hand; the same
provider against the stand-in's real token endpoint is in test_auth_msal.py.
"""

import asyncio
import logging
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batch.core.errors import AuthFailed, ConfigError
from batch.wire.auth import (
    Grant,
    RenewingToken,
    SignInError,
    StaticToken,
    renew_at,
)
from batch.wire.credentials import provider_from_env

APP_ONLY = {"PC_TENANT_ID": "contoso.example", "PC_CLIENT_ID": "app-id", "PC_CLIENT_SECRET": "s3"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Fetches:
    """A fetch function handing out token-1, token-2, ...; `fail` makes the next ones fail."""

    def __init__(self, lifetime_s: float = 3600.0) -> None:
        self.calls = 0
        self.lifetime_s = lifetime_s
        self.fail: str | None = None
        self.hold: threading.Event | None = None  # set: a login server that hangs until set

    def __call__(self) -> Grant:
        self.calls += 1
        if self.hold is not None:
            self.hold.wait(10)
        if self.fail:
            raise SignInError(self.fail)
        return Grant(f"token-{self.calls}", self.lifetime_s)


async def settled(provider: RenewingToken) -> None:
    """Wait for a renewal started behind the callers' backs to land (its error, if any, too)."""
    if provider._inflight is not None:
        await asyncio.wait([provider._inflight])


def renewing(lifetime_s: float = 3600.0) -> tuple[RenewingToken, Fetches, Clock]:
    fetches, clock = Fetches(lifetime_s), Clock()
    return RenewingToken(fetches, "test credentials", clock=clock), fetches, clock


@pytest.mark.parametrize(
    ("lifetime_s", "renewed_after_s"),
    [(3600, 3300), (7200, 6900), (600, 480), (60, 48), (2, 1.6)],
)
def test_tokens_are_renewed_five_minutes_early_or_at_80_percent_of_a_short_life(
    lifetime_s, renewed_after_s
):
    assert renew_at(100.0, lifetime_s) == pytest.approx(100.0 + renewed_after_s)


@given(st.floats(0.001, 10**6), st.floats(0, 10**6))
def test_a_token_is_always_renewed_before_it_expires_and_never_before_it_is_had(life, start):
    assert start < renew_at(start, life) < start + life


async def test_pc_access_token_is_used_as_it_is():
    provider = provider_from_env({"PC_ACCESS_TOKEN": " abc.def "}, "global")
    assert isinstance(provider, StaticToken)
    assert await provider.token() == "abc.def"
    assert await provider.renew("abc.def") == "abc.def"  # nothing to renew it with


def test_a_static_token_never_shows_in_its_repr():
    assert "abc" not in repr(StaticToken("abc.def"))


def test_no_credentials_name_every_variable_to_set_and_pcbatch_login(tmp_path):
    with pytest.raises(ConfigError) as caught:
        provider_from_env({"XDG_CONFIG_HOME": str(tmp_path)}, "global")
    message = str(caught.value)
    for name in ("PC_ACCESS_TOKEN", "PC_TENANT_ID", "PC_CLIENT_ID", "PC_CLIENT_SECRET"):
        assert name in message
    assert "PC_CLIENT_CERTIFICATE_PATH" in message and "PC_REFRESH_TOKEN" in message
    assert "pcbatch login" in message


@pytest.mark.parametrize(
    ("env", "found", "missing"),
    [
        ({"PC_CLIENT_ID": "app", "PC_CLIENT_SECRET": "s3cr3t"}, "PC_CLIENT_ID, PC_CLIENT_SECRET",
         "missing PC_TENANT_ID for app-only"),
        ({"PC_TENANT_ID": "t", "PC_REFRESH_TOKEN": "s3cr3t"}, "PC_REFRESH_TOKEN, PC_TENANT_ID",
         "missing PC_CLIENT_ID for app+user"),
        ({"PC_CLIENT_CERTIFICATE_PATH": "s3cr3t.pem"}, "PC_CLIENT_CERTIFICATE_PATH",
         "missing PC_TENANT_ID, PC_CLIENT_ID for app-only"),
    ],
)  # fmt: skip
def test_an_incomplete_set_names_what_was_found_and_what_is_missing_but_no_value(
    tmp_path, env, found, missing
):
    with pytest.raises(ConfigError) as caught:
        provider_from_env({**env, "XDG_CONFIG_HOME": str(tmp_path)}, "global")
    assert f"found only {found}; {missing}" in str(caught.value)
    assert "s3cr3t" not in str(caught.value)


def test_app_credentials_give_a_renewing_provider_that_hides_the_secret():
    provider = provider_from_env(APP_ONLY, "usgov")
    assert isinstance(provider, RenewingToken)
    shown = repr(provider)
    assert "app-only" in shown and "login.microsoftonline.us" in shown
    assert "s3" not in shown.replace("PC_CLIENT_SECRET", "")


def test_a_refresh_token_makes_it_app_user_even_with_a_secret():
    env = {**APP_ONLY, "PC_REFRESH_TOKEN": "rt-value"}
    provider = provider_from_env(env, "china")
    assert "app+user" in repr(provider) and "login.chinacloudapi.cn" in repr(provider)
    assert "rt-value" not in repr(provider)


def test_a_secret_and_a_certificate_together_are_ambiguous():
    env = {**APP_ONLY, "PC_CLIENT_CERTIFICATE_PATH": "/nowhere.pem"}
    with pytest.raises(ConfigError, match="set only one"):
        provider_from_env(env, "global")


async def test_32_workers_asking_at_once_cause_one_fetch():
    provider, fetches, _ = renewing()
    tokens = await asyncio.gather(*(provider.token() for _ in range(32)))
    assert set(tokens) == {"token-1"}
    assert fetches.calls == 1


async def test_the_token_is_reused_until_it_is_due_then_renewed_once_behind_the_scenes():
    provider, fetches, clock = renewing(lifetime_s=2.0)
    assert await provider.token() == "token-1"
    clock.now += 1.5
    assert await provider.token() == "token-1"
    clock.now += 0.2  # 1.7 s: past 80% of the 2 s lifetime, still good: no one waits
    assert await asyncio.gather(*(provider.token() for _ in range(8))) == ["token-1"] * 8
    clock.now += 0.15  # 1.85 s: too close to expiry to send it: wait for the renewal
    assert await asyncio.gather(*(provider.token() for _ in range(8))) == ["token-2"] * 8
    assert fetches.calls == 2


async def test_a_slow_login_server_does_not_stall_workers_while_the_token_is_good():
    provider, fetches, clock = renewing(lifetime_s=3600.0)
    await provider.token()
    fetches.hold = threading.Event()
    clock.now += 3400  # due, 200 s left
    assert await asyncio.wait_for(provider.token(), 5) == "token-1"
    assert await asyncio.wait_for(provider.token(), 5) == "token-1"
    fetches.hold.set()
    clock.now += 100  # 100 s left, under half the margin: callers wait for the renewal now
    assert await provider.token() == "token-2"
    assert fetches.calls == 2


async def test_a_401_renews_once_however_many_workers_saw_it():
    provider, fetches, _ = renewing()
    refused = await provider.token()
    renewed = await asyncio.gather(*(provider.renew(refused) for _ in range(32)))
    assert set(renewed) == {"token-2"}
    assert await provider.renew(refused) == "token-2"  # a late 401 of the old token: no fetch
    assert fetches.calls == 2


async def test_refused_credentials_at_the_start_are_a_configuration_error():
    provider, fetches, _ = renewing()
    fetches.fail = "the login server answered invalid_client"
    with pytest.raises(ConfigError, match=r"could not sign in with test credentials: .*invalid"):
        await asyncio.gather(*(provider.token() for _ in range(8)))
    assert fetches.calls == 1  # the waiting workers shared the one failure


async def test_a_failed_early_renewal_keeps_the_valid_token_and_tries_again(caplog):
    provider, fetches, clock = renewing(lifetime_s=3600.0)
    await provider.token()
    clock.now += 3400  # due (after 55 min), 200 s left
    fetches.fail = "could not reach the login server"
    with caplog.at_level(logging.WARNING, logger="batch.wire.auth"):
        assert await provider.token() == "token-1"
        await settled(provider)  # the renewal it started behind the scenes
    assert "stays valid for 200 s" in caplog.text
    assert await provider.token() == "token-1"  # no new attempt right away
    assert fetches.calls == 2
    fetches.fail = None
    clock.now += 30
    assert await provider.token() == "token-1"  # starts the next try; 170 s left
    await settled(provider)
    assert await provider.token() == "token-3"


async def test_a_renewal_that_fails_after_expiry_or_a_401_aborts_the_run():
    provider, fetches, clock = renewing(lifetime_s=60.0)
    refused = await provider.token()
    fetches.fail = "the login server answered invalid_grant"
    with pytest.raises(AuthFailed, match=r"could not renew .*invalid_grant"):
        await provider.renew(refused)
    clock.now += 61
    with pytest.raises(AuthFailed):
        await provider.token()


def test_a_renewing_provider_shows_no_token_in_its_repr():
    provider, _, _ = renewing()
    asyncio.run(provider.token())
    assert "token-1" not in repr(provider)
    assert "token-1" not in repr(Grant("token-1", 5.0))
