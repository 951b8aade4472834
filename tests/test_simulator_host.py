"""The stand-in answers only loopback Host headers on its own port, and has no fixed secret."""

import http.client
import os
import signal
import subprocess
import sys
import urllib.parse
import urllib.request

import pytest

from batch.simulator.config import SimConfig
from batch.simulator.server import SimulatorThread


def _get(sim, path, host, method="GET", body=None, headers=None):
    """(status, body) of one request to the stand-in with this Host header (None: none sent)."""
    port = int(sim.base_url.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.putrequest(method, path, skip_host=True)
        sent = {"Authorization": f"Bearer {sim.token}", **(headers or {})}
        if host is not None:
            sent["Host"] = host
        if body is not None:
            sent["Content-Length"] = str(len(body))
        for name, value in sent.items():
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        connection.close()


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1:{port}",
        "localhost:{port}",
        "LOCALHOST:{port}",
        "[::1]:{port}",
    ],
)
def test_loopback_hosts_on_its_port_are_answered(sim_thread, host):
    port = sim_thread.base_url.rsplit(":", 1)[1]
    customer = sim_thread.store.ids()[0]
    status, _ = _get(
        sim_thread, f"/v1/customers/{customer}/profiles/billing", host.format(port=port)
    )
    assert status == 200


@pytest.mark.parametrize(
    "host",
    [
        "rebound.example:{port}",  # DNS rebinding: a page's own name, now resolving to 127.0.0.1
        "rebound.example",
        "localhost.rebound.example:{port}",
        "127.0.0.1:{other}",
        "127.0.0.1",  # means port 80
        "user@127.0.0.1:{port}",
        "10.0.0.5:{port}",
        "",
    ],
)
def test_any_other_host_gets_421_and_no_customer_data(sim_thread, host):
    port = int(sim_thread.base_url.rsplit(":", 1)[1])
    customer = sim_thread.store.ids()[0]
    header = host.format(port=port, other=port + 1)
    status, text = _get(sim_thread, f"/v1/customers/{customer}/profiles/billing", header)
    assert status == 421
    assert "DNS rebinding" in text and f"127.0.0.1:{port}" in text
    assert customer not in text
    assert sim_thread.log[-1].fault == "foreign_host"


def test_a_rebound_token_request_gets_no_token_even_with_the_right_secret(sim_thread):
    config = sim_thread.config
    form = urllib.parse.urlencode(
        {
            "grant_type": "client_credentials",
            "client_id": config.client_id,
            "client_secret": config.client_secret,
            "scope": "https://api.partnercenter.microsoft.com/.default",
        }
    ).encode()
    issued = sim_thread.tokens.issued_access_tokens()
    path = f"/{config.tenant_id}/oauth2/v2.0/token"
    kind = {"Content-Type": "application/x-www-form-urlencoded"}
    status, text = _get(sim_thread, path, "rebound.example", "POST", form, kind)
    assert status == 421 and "access_token" not in text
    assert sim_thread.tokens.issued_access_tokens() == issued


def test_each_start_makes_its_own_client_secret_and_refresh_token_unless_given():
    with SimulatorThread(SimConfig()) as one, SimulatorThread(SimConfig()) as other:
        secrets = {one.config.client_secret, other.config.client_secret}
        refresh = {one.config.refresh_token, other.config.refresh_token}
    assert len(secrets) == 2 and all(len(s) > 30 for s in secrets)
    assert len(refresh) == 2 and all(len(s) > 30 for s in refresh)
    given = SimConfig(client_secret="chosen-secret", refresh_token="chosen-refresh")
    with SimulatorThread(given) as chosen:
        assert (chosen.config.client_secret, chosen.config.refresh_token) == (
            "chosen-secret",
            "chosen-refresh",
        )


def _restore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _banner(env):
    """(lines printed by `pcbatch simulate` up to its banner's end, the process)."""
    command = [sys.executable, "-m", "batch", "simulate", "--port", "0"]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=_restore_sigint,
    )
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith("Ctrl-C stops it"):
            break
    return lines, process


def test_simulate_prints_the_secret_it_made_up_and_it_signs_in():
    env = {k: v for k, v in os.environ.items() if not k.startswith("PCSIM_")}
    lines, process = _banner(env)
    try:
        values = dict(
            line.strip().split(": ", 1) for line in lines if line.startswith("  ") and ": " in line
        )
        secret = values["client secret"].split()[0]
        assert "random" in values["client secret"] and "refresh token" in values
        base_url = values["base URL"].strip()
        form = urllib.parse.urlencode(
            {
                "grant_type": "client_credentials",
                "client_id": "pcbatch-sim-client",
                "client_secret": secret,
            }
        ).encode()
        tenant = values["token endpoint"].split("/")[3]
        url = f"{base_url}/{tenant}/oauth2/v2.0/token"
        with urllib.request.urlopen(url, data=form, timeout=5) as response:
            assert response.status == 200
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
    assert process.returncode == 0


def test_simulate_does_not_print_a_secret_given_in_the_environment():
    env = {**os.environ, "PCSIM_CLIENT_SECRET": "given-secret-value", "PCSIM_REFRESH_TOKEN": "rt-7"}
    lines, process = _banner(env)
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=30)
    printed = "".join(lines)
    assert "given-secret-value" not in printed and "rt-7" not in printed
    assert "client secret:" not in printed
