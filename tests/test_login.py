"""`pcbatch login` / `logout` as a person uses them, and runs that sign in with the token cache.

The stand-in's device-code endpoint approves a sign-in on its second poll, so a login takes
about a second; XDG_CONFIG_HOME points into tmp_path, so no test touches the real config dir.
"""

import json
import os
import re
import stat

import pytest
from click.testing import CliRunner
from support import city_sheet, rest

from batch.cli import cli
from batch.core.errors import ConfigError
from batch.wire.auth import RenewingToken
from batch.wire.credentials import provider_from_env
from batch.wire.login import Login, cache_path, cached_provider, config_dir, write_cache


def env_for(sim, tmp_path, **more):
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config"), "PC_AUTHORITY": sim.base_url}
    env.update(PC_BASE_URL=sim.base_url)
    return {**env, **more}


def pcbatch(args, env):
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=False)


def login(sim, env, *more):
    result = pcbatch(["login", "--client-id", sim.config.client_id, *more], env)
    assert result.exit_code == 0, result.output
    return result


def run(sim, tmp_path, env, *more):
    path = city_sheet(tmp_path / "in.csv", sim.store.ids())
    return pcbatch(["run", str(path), "--out", str(tmp_path / "out"), *more], env)


def cache_file(tmp_path):
    return tmp_path / "config" / "pcbatch" / "token_cache.json"


def test_login_prints_the_code_and_keeps_a_cache_only_its_owner_can_read(make_sim_thread, tmp_path):
    sim = make_sim_thread(customers=2)
    result = login(sim, env_for(sim, tmp_path))
    assert re.search(r"https://microsoft\.com/devicelogin .*code [0-9A-F]{8}", result.stderr)
    assert "Signed in as admin@pcbatch-sim.example" in result.stdout
    path = cache_file(tmp_path)
    assert str(path) in result.stdout
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert saved["client_id"] == sim.config.client_id and saved["tenant"] == "organizations"
    assert [e.path.rsplit("/", 1)[-1] for e in sim.log if e.method == "POST"] == [
        "devicecode",
        "token",  # pending: the person has not signed in yet
        "token",
    ]


def test_a_run_after_login_signs_in_with_the_cache_alone(make_sim_thread, tmp_path):
    sim = make_sim_thread(customers=3)
    env = env_for(sim, tmp_path)
    login(sim, env, "--tenant", sim.config.tenant_id)
    before = json.loads(cache_file(tmp_path).read_text(encoding="utf-8"))["msal"]
    result = run(sim, tmp_path, env)
    assert result.exit_code == 0, result.output
    assert re.search(r"updated\s+│?\s*3", result.stdout)
    assert all(e.status == 200 for e in rest(sim) if e.path.startswith("/v1/customers/"))
    after = json.loads(cache_file(tmp_path).read_text(encoding="utf-8"))["msal"]
    assert after != before  # the rotated refresh token was kept for the next run
    assert stat.S_IMODE(cache_file(tmp_path).stat().st_mode) == 0o600


def test_logout_removes_the_cache_and_runs_then_ask_for_credentials(make_sim_thread, tmp_path):
    sim = make_sim_thread(customers=1)
    env = env_for(sim, tmp_path)
    login(sim, env)
    result = pcbatch(["logout"], env)
    assert result.exit_code == 0
    assert f"Signed out: removed {cache_file(tmp_path)}" in result.stdout
    assert not cache_file(tmp_path).exists()
    refused = run(sim, tmp_path, env)
    assert refused.exit_code == 2
    assert "pcbatch login" in refused.stderr and "Traceback" not in refused.output
    again = pcbatch(["logout"], env)
    assert again.exit_code == 0 and "Not signed in" in again.stdout


def test_login_without_a_client_id_says_how_to_give_one(make_sim_thread, tmp_path):
    sim = make_sim_thread()
    result = pcbatch(["login"], env_for(sim, tmp_path))
    assert result.exit_code == 2
    assert "--client-id" in result.stderr and "PC_CLIENT_ID" in result.stderr


def test_login_takes_the_client_id_and_tenant_from_the_environment(make_sim_thread, tmp_path):
    sim = make_sim_thread()
    env = env_for(sim, tmp_path, PC_CLIENT_ID=sim.config.client_id, PC_TENANT_ID="organizations")
    result = pcbatch(["login"], env)
    assert result.exit_code == 0, result.output
    assert "tenant organizations" in result.stdout


def test_a_refused_sign_in_exits_3_and_stores_nothing(make_sim_thread, tmp_path):
    sim = make_sim_thread()
    result = pcbatch(["login", "--client-id", "not-a-registered-app"], env_for(sim, tmp_path))
    assert result.exit_code == 3
    assert "sign-in failed" in result.stderr and "unauthorized_client" in result.stderr
    assert "Traceback" not in result.output
    assert not cache_file(tmp_path).exists()


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_a_token_cache_others_may_read_is_not_used(make_sim_thread, tmp_path):
    sim = make_sim_thread(customers=1)
    env = env_for(sim, tmp_path)
    login(sim, env)
    cache_file(tmp_path).chmod(0o644)
    result = run(sim, tmp_path, env)
    assert result.exit_code == 2
    assert "may be read by others (mode 644" in result.stderr
    assert rest(sim) == []


def test_a_cache_made_for_another_cloud_is_refused(make_sim_thread, tmp_path):
    sim = make_sim_thread(customers=1)
    env = env_for(sim, tmp_path)
    login(sim, env)  # --cloud global, the default
    result = run(sim, tmp_path, env, "--cloud", "usgov")
    assert result.exit_code == 2
    assert "pcbatch login --cloud usgov" in result.stderr


def test_a_cache_from_another_login_server_is_refused(make_sim_thread, tmp_path):
    sim = make_sim_thread(customers=1)
    login(sim, env_for(sim, tmp_path))
    elsewhere = env_for(sim, tmp_path, PC_AUTHORITY="http://127.0.0.1:9")
    result = run(sim, tmp_path, elsewhere)
    assert result.exit_code == 2
    assert "PC_AUTHORITY is http://127.0.0.1:9" in result.stderr
    same = env_for(sim, tmp_path, PC_AUTHORITY=sim.base_url + "/")  # the same, spelled otherwise
    assert run(sim, tmp_path, same).exit_code == 0


def signed_in(tmp_path, authority=None):
    """The env of a machine where `pcbatch login` signed in (cache written, no request made)."""
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config")}
    login = Login("app-id", "contoso.example", "global", authority, "admin@contoso.example")
    write_cache(cache_path(env), login, "{}")
    return env


@pytest.mark.parametrize(
    ("app", "missing"),
    [
        ({"PC_CLIENT_ID": "app-id", "PC_CLIENT_SECRET": "s3cr3t"}, "missing PC_TENANT_ID"),
        ({"PC_TENANT_ID": "t", "PC_REFRESH_TOKEN": "s3cr3t"}, "missing PC_CLIENT_ID"),
        ({"PC_CLIENT_CERTIFICATE_PATH": "app.pem"}, "missing PC_TENANT_ID, PC_CLIENT_ID"),
    ],
)
def test_an_incomplete_app_set_is_refused_even_after_login(tmp_path, app, missing):
    with pytest.raises(ConfigError, match=missing) as caught:
        provider_from_env({**signed_in(tmp_path), **app}, "global")
    assert "s3cr3t" not in str(caught.value)


def test_a_tenant_and_client_id_alone_still_sign_in_with_the_login_cache(tmp_path):
    env = {**signed_in(tmp_path), "PC_TENANT_ID": "contoso.example", "PC_CLIENT_ID": "app-id"}
    provider = provider_from_env(env, "global")
    assert isinstance(provider, RenewingToken) and "token cache" in provider.what


@pytest.mark.parametrize(
    "given", ["https://login.microsoftonline.com", "https://LOGIN.microsoftonline.com/"]
)
def test_pc_authority_naming_the_clouds_own_login_host_keeps_a_cache_made_without_it(
    tmp_path, given
):
    env = {**signed_in(tmp_path, authority=None), "PC_AUTHORITY": given}
    assert cached_provider(env, "global") is not None
    elsewhere = {**env, "PC_AUTHORITY": "http://127.0.0.1:9"}
    with pytest.raises(ConfigError, match=r"PC_AUTHORITY is http://127\.0\.0\.1:9"):
        cached_provider(elsewhere, "global")


def test_a_damaged_cache_says_to_sign_in_again(make_sim_thread, tmp_path):
    sim = make_sim_thread(customers=1)
    path = cache_file(tmp_path)
    path.parent.mkdir(parents=True, mode=0o700)
    path.write_text("{not json", encoding="utf-8")
    path.chmod(0o600)
    result = run(sim, tmp_path, env_for(sim, tmp_path))
    assert result.exit_code == 2
    assert "damaged" in result.stderr and "pcbatch logout" in result.stderr


@pytest.mark.skipif(os.name != "posix", reason="XDG paths are POSIX")
@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"XDG_CONFIG_HOME": "/x/cfg", "HOME": "/home/u"}, "/x/cfg/pcbatch"),
        ({"XDG_CONFIG_HOME": "relative/cfg", "HOME": "/home/u"}, "/home/u/.config/pcbatch"),
        ({"XDG_CONFIG_HOME": "", "HOME": "/home/u"}, "/home/u/.config/pcbatch"),
    ],
)
def test_the_cache_lives_in_the_users_config_dir(env, expected):
    assert str(config_dir(env)) == expected
    assert cache_path(env).name == "token_cache.json"
