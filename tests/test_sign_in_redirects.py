"""Sign-in never follows a redirect: the secret goes to the login host and nowhere else.

The stand-in's token endpoint answers 307 to a second loopback server (`--token-redirect`), which
records every request it receives; pcbatch must refuse with one line and send it nothing.
"""

import asyncio
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from click.testing import CliRunner
from support import app_env, city_sheet, token_requests

from batch.cli import cli
from batch.core.errors import ConfigError
from batch.wire.credentials import provider_from_env


class Recorder(ThreadingHTTPServer):
    """A loopback HTTP server that answers 200 to everything and keeps what it was sent."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str, bytes]] = []
        super().__init__(("127.0.0.1", 0), _RecordingHandler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"


class _RecordingHandler(BaseHTTPRequestHandler):
    server: Recorder

    def _record(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.received.append((self.command, self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_POST = _record

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass


@pytest.fixture
def recorder():
    server = Recorder()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_the_redirect_fault_would_carry_the_secret_to_a_client_that_follows(
    make_sim_thread, recorder
):
    # The fault is real: a client that follows redirects (requests' default) re-sends the form.
    sim = make_sim_thread(token_redirect=f"{recorder.url}/elsewhere/token")
    form = {
        "grant_type": "client_credentials",
        "client_id": sim.config.client_id,
        "client_secret": sim.config.client_secret,
        "scope": "https://api.partnercenter.microsoft.com/.default",
    }
    url = f"{sim.base_url}/{sim.config.tenant_id}/oauth2/v2.0/token"
    assert requests.post(url, data=form, timeout=10).status_code == 200
    assert len(recorder.received) == 1
    assert sim.config.client_secret.encode() in recorder.received[0][2]


@pytest.mark.parametrize("flow", ["app-only secret", "app+user refresh token"])
def test_sign_in_refuses_a_redirect_and_sends_the_target_nothing(make_sim_thread, recorder, flow):
    sim = make_sim_thread(token_redirect=f"{recorder.url}/elsewhere/token")
    env = app_env(sim)
    if flow == "app+user refresh token":
        env = app_env(sim, PC_CLIENT_SECRET=None, PC_REFRESH_TOKEN=sim.config.refresh_token)
    provider = provider_from_env(env, "global")
    with pytest.raises(ConfigError) as caught:
        asyncio.run(provider.token())
    message = str(caught.value)
    assert f"307 redirecting to {recorder.url}" in message
    assert "never follows" in message and "PC_AUTHORITY" in message
    assert recorder.received == []
    assert [e.fault for e in token_requests(sim)] == ["token_redirect"]


def test_a_run_whose_login_server_redirects_exits_2_before_sending_anything(
    make_sim_thread, recorder, tmp_path
):
    sim = make_sim_thread(customers=2, token_redirect=f"{recorder.url}/token")
    env = {**app_env(sim), "PC_BASE_URL": sim.base_url}
    path = city_sheet(tmp_path / "in.csv", sim.store.ids())
    result = CliRunner().invoke(cli, ["run", str(path), "--out", str(tmp_path / "out")], env=env)
    assert result.exit_code == 2, result.output
    assert "never follows" in result.stderr and "Traceback" not in result.output
    assert env["PC_CLIENT_SECRET"] not in result.output
    assert recorder.received == []
    assert not [e for e in sim.log if e.path.startswith("/v1/")]


def test_the_stand_in_refuses_a_redirect_target_off_loopback(make_sim_thread):
    with pytest.raises(ConfigError, match="token_redirect must be an http:// URL on a loopback"):
        make_sim_thread(token_redirect="http://example.com/token")
