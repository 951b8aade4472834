"""Credentials go only where they belong (issue 28, point 3): a real app's secret or a real
sign-in's token never reaches a stand-in on loopback, nor a host off the cloud's allow-list; a
job file others may write is refused. Each refusal happens before anything is sent: the
stand-in's request log stays empty."""

import base64
import json
import os

import pytest
import requests
from click.testing import CliRunner

from batch.cli import cli
from batch.core.destinations import STAND_IN_CLIENT_ID, STAND_IN_KEY_ID, is_real_token
from batch.simulator.config import DEFAULT_CLIENT_ID
from batch.wire.authority import Authority, LoginHttp
from tests.support import app_env, city_sheet

REAL_APP = "3f1b6a7e-2c4d-4e5f-8a9b-0c1d2e3f4a5b"  # a GUID: a real Entra app's client id


def jwt(kid):
    """A JWT-shaped token with the given key id (a real sign-in's is Entra's key id)."""

    def part(value):
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'typ': 'JWT', 'alg': 'RS256', 'kid': kid})}.{part({'tid': 't'})}.c2ln"


def pcbatch(args, env):
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=False)


def run_args(sim, tmp_path, *more):
    sheet = city_sheet(tmp_path / "in.csv", sim.store.ids())
    return ["run", str(sheet), "--out", str(tmp_path / "out"), *more]


def test_the_stand_ins_own_client_id_and_tokens_are_known_as_its_own(sim_thread):
    assert DEFAULT_CLIENT_ID == STAND_IN_CLIENT_ID
    assert not is_real_token(sim_thread.token)
    assert (
        STAND_IN_KEY_ID in base64.urlsafe_b64decode(sim_thread.token.split(".")[0] + "==").decode()
    )
    assert is_real_token(jwt("Entra-key-1"))
    assert not is_real_token("not-a-token")


def test_a_real_apps_secret_with_a_stand_ins_authority_still_exported_is_refused(
    make_sim_thread, tmp_path
):
    sim = make_sim_thread(customers=1)
    env = app_env(sim, PC_CLIENT_ID=REAL_APP, PC_CLIENT_SECRET="real-secret-value")
    result = pcbatch(run_args(sim, tmp_path), env)
    assert result.exit_code == 2, result.output
    assert "Unset PC_AUTHORITY" in result.stderr and "Traceback" not in result.output
    assert "real-secret-value" not in result.output
    assert sim.log == []  # nothing sent: no token request, no REST call


def test_a_real_apps_secret_with_a_stand_ins_base_url_is_refused_before_signing_in(
    make_sim_thread, tmp_path
):
    sim = make_sim_thread(customers=1)
    env = app_env(sim, PC_CLIENT_ID=REAL_APP, PC_AUTHORITY=None, PC_BASE_URL=sim.base_url)
    result = pcbatch(run_args(sim, tmp_path), env)
    assert result.exit_code == 2, result.output
    assert f"PC_BASE_URL {sim.base_url} is a stand-in on loopback" in result.stderr
    assert "Unset PC_BASE_URL" in result.stderr
    assert sim.log == []


def test_a_real_sign_ins_token_is_never_sent_to_the_stand_in(make_sim_thread, tmp_path):
    sim = make_sim_thread(customers=1)
    env = {"PC_ACCESS_TOKEN": jwt("Entra-key-1"), "PC_BASE_URL": sim.base_url}
    for command in (run_args(sim, tmp_path), ["export", str(tmp_path / "x.csv")]):
        result = pcbatch(command, env)
        assert result.exit_code == 2, result.output
        assert "the token in PC_ACCESS_TOKEN is a real sign-in's" in result.stderr
    assert sim.log == []


def test_a_real_apps_token_goes_nowhere_through_a_base_url_option_on_loopback(
    make_sim_thread, tmp_path
):
    sim = make_sim_thread(customers=1)
    env = {"PC_ACCESS_TOKEN": jwt("Entra-key-1")}
    result = pcbatch(run_args(sim, tmp_path, "--base-url", sim.base_url), env)
    assert result.exit_code == 2
    assert "Unset --base-url" in result.stderr and sim.log == []


def test_the_stand_ins_own_app_still_signs_in_at_its_loopback_authority(make_sim_thread, tmp_path):
    sim = make_sim_thread(customers=2)
    result = pcbatch(run_args(sim, tmp_path), {**app_env(sim), "PC_BASE_URL": sim.base_url})
    assert result.exit_code == 0, result.output


def test_pcbatch_login_of_a_real_app_at_a_stand_in_is_refused(make_sim_thread, tmp_path):
    sim = make_sim_thread()
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config"), "PC_AUTHORITY": sim.base_url}
    result = pcbatch(["login", "--client-id", REAL_APP], env)
    assert result.exit_code == 2
    assert "Unset PC_AUTHORITY" in result.stderr and sim.log == []


@pytest.mark.parametrize(
    ("variable", "url", "words"),
    [
        ("PC_BASE_URL", "https://pc.evil.example", "not a Partner Center host of the global cloud"),
        ("PC_AUTHORITY", "https://login.evil.example", "not a sign-in host of the global cloud"),
    ],
)
def test_a_host_off_the_clouds_allow_list_is_refused(
    make_sim_thread, tmp_path, variable, url, words
):
    sim = make_sim_thread(customers=1)
    env = {**app_env(sim, PC_CLIENT_ID=REAL_APP, PC_AUTHORITY=None), variable: url}
    result = pcbatch(run_args(sim, tmp_path), env)
    assert result.exit_code == 2, result.output
    assert words in result.stderr and f"unset {variable}" in result.stderr


def test_a_token_endpoint_off_the_authoritys_host_is_never_called():
    http = LoginHttp(Authority("https://login.microsoftonline.com"))
    with pytest.raises(requests.ConnectionError, match=r"only https://login\.microsoftonline\.com"):
        http.post("https://token.evil.example/t/oauth2/v2.0/token", data={"client_secret": "s"})
    with pytest.raises(requests.ConnectionError, match="the authority's own host"):
        http.get("https://login.microsoftonline.com.evil.example/t/v2.0/.well-known/x")


@pytest.mark.skipif(os.name != "posix", reason="POSIX modes")
@pytest.mark.parametrize("loose", [0o666, 0o664, 0o646])
def test_a_job_file_others_may_write_is_refused_like_ssh_refuses_its_config(
    sim_thread, tmp_path, loose
):
    job = tmp_path / "nightly.toml"
    job.write_text(f'base_url = "{sim_thread.base_url}"\n', encoding="utf-8")
    job.chmod(loose)
    sheet = city_sheet(tmp_path / "in.csv", sim_thread.store.ids())
    env = {"PC_ACCESS_TOKEN": sim_thread.token}
    result = pcbatch(["run", str(sheet), "--job", str(job)], env)
    assert result.exit_code == 2
    assert "may be written by other users" in result.stderr and f"chmod go-w {job}" in result.stderr
    assert sim_thread.log == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0, reason="chown needs root")
def test_a_job_file_of_another_user_is_refused(sim_thread, tmp_path):
    job = tmp_path / "nightly.toml"
    job.write_text("rate = 1.0\n", encoding="utf-8")
    os.chown(job, 65534, 65534)
    sheet = city_sheet(tmp_path / "in.csv", sim_thread.store.ids())
    result = pcbatch(["run", str(sheet), "--job", str(job)], {"PC_ACCESS_TOKEN": sim_thread.token})
    assert result.exit_code == 2
    assert "belongs to another user (uid 65534)" in result.stderr


def test_a_job_file_nested_too_deep_is_one_clear_line(tmp_path):
    job = tmp_path / "deep.toml"
    job.write_text("a = " + "[" * 50_000 + "]" * 50_000 + "\n", encoding="utf-8")
    result = pcbatch(["run", str(tmp_path / "x.csv"), "--job", str(job)], {})
    assert result.exit_code == 2
    assert "Traceback" not in result.output and str(job) in result.stderr
