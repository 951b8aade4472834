"""`pcbatch secret set` keeps the client secret in the system's credential store, and a run with
PCBATCH_SECRET=keyring signs in with it (issue 28, point 7). The store is keyring's; here an
in-memory keyring backend stands in for Windows Credential Manager."""

import keyring
import pytest
from click.testing import CliRunner
from keyring.backend import KeyringBackend

from batch.cli import cli
from tests.support import app_env, city_sheet, token_requests


class MemoryKeyring(KeyringBackend):
    priority = 1

    def __init__(self):
        super().__init__()
        self.entries = {}

    def get_password(self, service, username):
        return self.entries.get((service, username))

    def set_password(self, service, username, password):
        self.entries[(service, username)] = password

    def delete_password(self, service, username):
        del self.entries[(service, username)]


@pytest.fixture
def store():
    previous = keyring.get_keyring()
    memory = MemoryKeyring()
    keyring.set_keyring(memory)
    yield memory
    keyring.set_keyring(previous)


def pcbatch(args, env=None, given=None):
    return CliRunner().invoke(cli, args, env=env or {}, input=given, catch_exceptions=False)


def test_a_stored_secret_signs_a_run_in_without_any_secret_variable(
    make_sim_thread, tmp_path, store
):
    sim = make_sim_thread(customers=2)
    secret = sim.config.client_secret
    result = pcbatch(["secret", "set"], given=f"{secret}\n{secret}\n")
    assert result.exit_code == 0, result.output
    assert store.entries == {("pcbatch", "PC_CLIENT_SECRET"): secret}
    assert secret not in result.output
    sheet = city_sheet(tmp_path / "in.csv", sim.store.ids())
    env = {**app_env(sim, PC_CLIENT_SECRET=None), "PC_BASE_URL": sim.base_url}
    env["PCBATCH_SECRET"] = "keyring"
    result = pcbatch(["run", str(sheet), "--out", str(tmp_path / "out")], env)
    assert result.exit_code == 0, result.output
    assert len(token_requests(sim)) >= 1


def test_keyring_asked_for_with_nothing_stored_says_to_store_it(make_sim_thread, tmp_path, store):
    sim = make_sim_thread(customers=1)
    sheet = city_sheet(tmp_path / "in.csv", sim.store.ids())
    env = {**app_env(sim, PC_CLIENT_SECRET=None), "PCBATCH_SECRET": "keyring"}
    result = pcbatch(["run", str(sheet), "--out", str(tmp_path / "out")], env)
    assert result.exit_code == 2
    assert "pcbatch secret set" in result.output and sim.log == []


def test_secret_delete_removes_it(store):
    store.set_password("pcbatch", "PC_CLIENT_SECRET", "s")
    assert "Removed PC_CLIENT_SECRET" in pcbatch(["secret", "delete"]).output
    assert store.entries == {}
    assert "No PC_CLIENT_SECRET was stored" in pcbatch(["secret", "delete"]).output
