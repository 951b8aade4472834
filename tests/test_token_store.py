"""Where `pcbatch login` keeps its token cache: an encrypted store where the platform has one.

The choice is a pure function (tested as a table). On this machine (Linux without libsecret) the
real probe picks the 0600 file and says so in the log. The encrypted path runs end to end with a
plain-file persistence standing in for the keyring (the only part that cannot run here).
"""

import json
import logging
import stat

import pytest
from click.testing import CliRunner
from msal_extensions import FilePersistence
from support import city_sheet

from batch.cli import cli
from batch.wire import login as login_module
from batch.wire import token_store
from batch.wire.token_store import choose_store, libsecret_usable


@pytest.mark.parametrize(
    ("platform", "libsecret", "forced", "kind"),
    [
        ("win32", False, "", "dpapi"),
        ("darwin", False, "", "keychain"),
        ("linux", True, "", "libsecret"),
        ("linux", False, "", "file"),
        ("freebsd14", True, "", "file"),
        ("cygwin", False, "", "file"),
        ("linux", True, "file", "file"),
        ("win32", False, "FILE", "file"),
        ("darwin", False, "auto", "keychain"),
    ],
)
def test_the_store_is_chosen_by_platform_probe_and_override(platform, libsecret, forced, kind):
    assert choose_store(platform, libsecret, forced) == kind


def _env(sim, tmp_path, **more):
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config"), "PC_AUTHORITY": sim.base_url}
    return {**env, "PC_BASE_URL": sim.base_url, **more}


def _pcbatch(args, env):
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=False)


@pytest.fixture
def fresh_log(monkeypatch):
    monkeypatch.setattr(token_store, "_logged", set())


@pytest.mark.skipif(libsecret_usable(), reason="this machine has a working libsecret")
def test_linux_without_libsecret_falls_back_to_the_0600_file_and_logs_it(
    make_sim_thread, tmp_path, caplog, fresh_log
):
    sim = make_sim_thread(customers=1)
    env = _env(sim, tmp_path, PCBATCH_TOKEN_CACHE="")  # auto: the real probe
    with caplog.at_level(logging.INFO, logger="batch"):
        result = _pcbatch(["login", "--client-id", sim.config.client_id], env)
    assert result.exit_code == 0, result.output
    path = tmp_path / "config" / "pcbatch" / "token_cache.json"
    assert f"Token cache: {path} (readable by you only; no encrypted store here)" in result.stdout
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert "token cache: a file readable by you only (no encrypted store on linux" in caplog.text


def test_pcbatch_token_cache_file_picks_the_file_and_says_why(tmp_path, caplog, fresh_log):
    with caplog.at_level(logging.INFO, logger="batch"):
        kind = token_store.store_kind({"PCBATCH_TOKEN_CACHE": "file"}, platform="darwin")
    assert kind == "file"
    assert "PCBATCH_TOKEN_CACHE=file" in caplog.text


@pytest.fixture
def keyring(monkeypatch, tmp_path):
    """A 'libsecret' store whose keyring is a plain file, so the encrypted path runs here."""
    vault = tmp_path / "keyring" / "secret.txt"
    monkeypatch.setattr(token_store, "choose_store", lambda *args: "libsecret")
    monkeypatch.setattr(login_module, "persistence", lambda kind, folder: FilePersistence(vault))
    return vault


def test_an_encrypted_store_holds_the_sign_in_and_no_cache_file_is_written(
    make_sim_thread, tmp_path, keyring
):
    sim = make_sim_thread(customers=2)
    env = _env(sim, tmp_path, PCBATCH_TOKEN_CACHE="")
    result = _pcbatch(["login", "--client-id", sim.config.client_id], env)
    assert result.exit_code == 0, result.output
    assert "Token cache: the Secret Service keyring through libsecret" in result.stdout
    folder = tmp_path / "config" / "pcbatch"
    assert not (folder / "token_cache.json").exists()
    assert (folder / "token_cache.libsecret").exists()  # the marker: something is stored
    stored = json.loads(keyring.read_text(encoding="utf-8"))
    assert stored["client_id"] == sim.config.client_id and stored["msal"]

    path = city_sheet(tmp_path / "in.csv", sim.store.ids())
    ran = _pcbatch(["run", str(path), "--out", str(tmp_path / "out")], env)
    assert ran.exit_code == 0, ran.output
    assert json.loads(keyring.read_text(encoding="utf-8"))["msal"] != stored["msal"]  # rotated

    out = _pcbatch(["logout"], env)
    assert out.exit_code == 0 and "Signed out" in out.stdout
    assert not (folder / "token_cache.libsecret").exists()
    assert keyring.read_text(encoding="utf-8") == ""  # the refresh token is gone from the store
    again = _pcbatch(["run", str(path), "--out", str(tmp_path / "out2")], env)
    assert again.exit_code == 2 and "no complete set of credentials" in again.output
