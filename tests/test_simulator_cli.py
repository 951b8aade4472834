"""`pcbatch simulate`: its --help documents every setting, it refuses what it must, it serves."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from batch.cli import cli
from batch.simulator.config import FROM_ENVIRONMENT, SETTINGS


def test_simulate_help_documents_every_setting():
    result = CliRunner().invoke(cli, ["simulate", "--help"], terminal_width=200)
    assert result.exit_code == 0
    for name in SETTINGS:
        expected = FROM_ENVIRONMENT.get(name) or "--" + name.replace("_", "-")
        assert expected in result.output, name
    for flag in ("--host", "--port", "--state-out", "--no-bom", "Example:"):
        assert flag in result.output
    assert "sim-client-secret" not in result.output  # the secret's default is not advertised


def test_the_readme_section_documents_every_setting():
    page = Path(__file__).parents[1] / "docs" / "howto" / "rehearse.md"
    section = page.read_text(encoding="utf-8").split("\n## ", 1)[0]
    for name in SETTINGS:
        expected = FROM_ENVIRONMENT.get(name) or "--" + name.replace("_", "-")
        assert expected in section, name


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--host", "0.0.0.0"], "loopback only"),
        (["--host", "192.168.1.10"], "loopback only"),
        (["--fail-500", "2"], "fail_500 must be a probability"),
        (["--partner-rate", "-1"], "partner_rate must be > 0"),
    ],
)
def test_simulate_refuses_bad_options_with_a_message_and_exit_2(args, words):
    result = CliRunner().invoke(cli, ["simulate", "--port", "0", *args])
    assert result.exit_code == 2
    assert words in result.output
    assert "Traceback" not in result.output


def _restore_sigint() -> None:
    # A shell may start tests with SIGINT ignored; the child must feel Ctrl-C as a person's would.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_simulate_serves_until_ctrl_c_and_then_writes_the_state(tmp_path):
    state = tmp_path / "after.json"
    env = {**os.environ, "PCSIM_CLIENT_SECRET": "from-the-environment"}
    command = [sys.executable, "-m", "batch", "simulate", "--port", "0", "--customers", "3"]
    command += ["--seed", "2", "--state-out", str(state)]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=_restore_sigint,
    )
    try:
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Ctrl-C stops it"):
                break
        printed = "".join(lines)
        values = dict(
            line.strip().split(":", 1) for line in lines if line.startswith("  ") and ": " in line
        )
        base_url = values["base URL"].strip()
        token = values["access token"].split()[0]
        assert f"PC_BASE_URL={base_url} PC_ACCESS_TOKEN={token} pcbatch run" in printed
        customer = values["customers"].strip().split(", ")[0]
        request = urllib.request.Request(
            f"{base_url}/v1/customers/{customer}/profiles/billing",
            headers={"Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200
        form = urllib.parse.urlencode(
            {
                "grant_type": "client_credentials",
                "client_id": "pcbatch-sim-client",
                "client_secret": "from-the-environment",
            }
        ).encode()
        tenant = values["token endpoint"].split("/")[3]
        with urllib.request.urlopen(
            f"{base_url}/{tenant}/oauth2/v2.0/token", data=form, timeout=5
        ) as response:
            assert response.status == 200
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0
    assert "Traceback" not in stderr
    assert f"written to {state}" in stderr
    saved = json.loads(state.read_text(encoding="utf-8"))
    assert customer in saved
    assert len(saved) == 3


@pytest.mark.parametrize("where", ["missing/after.json", "a-file/after.json"])
def test_simulate_refuses_a_state_out_it_could_not_write_before_serving(tmp_path, where):
    (tmp_path / "a-file").write_text("not a folder", encoding="utf-8")
    state = tmp_path / where
    result = CliRunner().invoke(cli, ["simulate", "--port", "0", "--state-out", str(state)])
    assert result.exit_code == 2
    assert "--state-out" in result.output
    assert "does not exist" in result.output
    assert "Traceback" not in result.output
    assert "Ctrl-C stops it" not in result.output  # refused before serving


def _start(state: Path) -> subprocess.Popen[str]:
    """`pcbatch simulate --state-out state` in a child, once its banner is printed."""
    command = [sys.executable, "-m", "batch", "simulate", "--port", "0", "--customers", "2"]
    process = subprocess.Popen(
        [*command, "--state-out", str(state)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_restore_sigint,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("Ctrl-C stops it"):
            break
    return process


def test_a_sigterm_as_soon_as_the_banner_shows_still_writes_the_state(tmp_path):
    state = tmp_path / "after.json"
    process = _start(state)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert f"written to {state}" in stderr
    assert len(json.loads(state.read_text(encoding="utf-8"))) == 2


def test_a_state_out_that_becomes_unwritable_is_reported_without_a_traceback(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    process = _start(folder / "after.json")
    folder.rmdir()
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 2, stderr
    assert f"cannot write the simulator's state to {folder / 'after.json'}" in stderr
    assert "Traceback" not in stderr
