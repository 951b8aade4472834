"""No secret and no token in any output: argv, --help, stdout, stderr, report files, journal.

The runs here sign in for real at the stand-in's token endpoint with one-second tokens, so each
run renews its token several times; every token the stand-in issued is then looked for.
"""

import os
import re
import secrets
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from batch.cli import cli

UNKNOWN = "00000000-0000-4000-8000-00000000f00d"


def sheet(tmp_path, ids):
    path = tmp_path / "in.csv"
    rows = [f"{cid},Newtown {i},+1 425 555 01{i:02}" for i, cid in enumerate(ids)]
    rows += [f"{UNKNOWN},Nowhere,", "not-a-guid,Somewhere,"]
    path.write_text("Customer ID,City,Phone\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def clean_env(tmp_path, **credentials):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PC_", "PCSIM_"))}
    return {**env, "XDG_CONFIG_HOME": str(tmp_path / "config"), **credentials}


def every_output(proc, out_dir):
    yield "stdout", proc.stdout
    yield "stderr", proc.stderr
    for path in sorted(out_dir.rglob("*")):
        if path.is_file():  # the report files and the journal (sqlite, its WAL and lock)
            yield str(path.relative_to(out_dir)), path.read_bytes()


def leaks_of(sim, *given):
    tokens = [*sim.tokens.issued_access_tokens(), *sim.tokens.issued_refresh_tokens()]
    # A token's last part is random: 16 characters from either end of it give away a token
    # that was cut short too.
    tails = [token.rsplit(".", 1)[-1] for token in tokens]
    return [*given, *tokens, *(t[:16] for t in tails), *(t[-16:] for t in tails)]


@pytest.mark.parametrize("flow", ["app-only", "app+user"])
def test_no_secret_or_token_appears_in_any_output_of_a_run(make_sim_thread, tmp_path, flow):
    sim = make_sim_thread(customers=12, token_lifetime_s=1.0, seed=5)
    secret = "client-secret-" + secrets.token_hex(12)
    sim.config.client_secret = secret  # read on every request
    config = sim.config
    credentials = {
        "PC_TENANT_ID": config.tenant_id,
        "PC_CLIENT_ID": config.client_id,
        "PC_CLIENT_SECRET": secret,
        "PC_AUTHORITY": sim.base_url,
        "PC_BASE_URL": sim.base_url,
    }
    if flow == "app+user":
        credentials["PC_REFRESH_TOKEN"] = config.refresh_token
    out = tmp_path / "out"
    args = ["run", str(sheet(tmp_path, sim.store.ids())), "--out", str(out), "--rate", "10"]
    proc = subprocess.run(
        [sys.executable, "-m", "batch", *args, "--log-format", "json"],
        env=clean_env(tmp_path, **credentials),
        capture_output=True,
        timeout=90,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr.decode()  # the unknown and the invalid row
    renewals = [e for e in sim.log if e.method == "POST" and e.path.endswith("/token")]
    assert len(renewals) >= 2, "the run was expected to outlive its first token"
    assert b'"status": "updated"' in proc.stderr
    leaks = leaks_of(sim, secret, config.refresh_token)
    looked_at = []
    for name, data in every_output(proc, out):
        looked_at.append(name)
        for leak in leaks:
            assert leak.encode() not in data, f"a secret or token in {name}"
    assert {"stdout", "stderr", "results.csv", "results.xlsx", "journal.sqlite"} <= set(looked_at)


def test_refused_credentials_print_a_message_without_the_secret(make_sim_thread, tmp_path):
    sim = make_sim_thread(customers=1)
    env = {
        "PC_ACCESS_TOKEN": None,
        "PC_TENANT_ID": sim.config.tenant_id,
        "PC_CLIENT_ID": sim.config.client_id,
        "PC_CLIENT_SECRET": "wrong-secret-" + secrets.token_hex(8),
        "PC_AUTHORITY": sim.base_url,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    path = sheet(tmp_path, sim.store.ids())
    args = ["run", str(path), "--base-url", sim.base_url, "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == 2
    assert "invalid_client" in result.stderr and "Traceback" not in result.output
    assert env["PC_CLIENT_SECRET"] not in result.output


def test_help_shows_no_value_of_any_credential_variable(tmp_path):
    values = {
        "PC_ACCESS_TOKEN": "access-token-value-1",
        "PC_CLIENT_SECRET": "client-secret-value-2",
        "PC_REFRESH_TOKEN": "refresh-token-value-3",
        "PC_CLIENT_CERTIFICATE_PASSWORD": "cert-password-value-4",
        "PCSIM_CLIENT_SECRET": "sim-secret-value-5",
        "PCSIM_REFRESH_TOKEN": "sim-refresh-value-6",
    }
    runner = CliRunner()
    names = cli.list_commands(click.Context(cli))
    assert "run" in names and "login" in names
    for name in ["", *names]:
        result = runner.invoke(cli, [name, "--help"] if name else ["--help"], env=values)
        assert result.exit_code == 0, (name, result.output)
        for value in values.values():
            assert value not in result.output, name


def test_no_option_of_any_command_takes_a_secret():
    secretive = re.compile(r"secret|password|passphrase|refresh|access_token|certificate|bearer")
    context = click.Context(cli)
    commands = {name: cli.get_command(context, name) for name in cli.list_commands(context)}
    assert len(commands) == 11  # `secret set` reads its value at a hidden prompt
    for name, command in commands.items():
        for param in command.params:
            assert not secretive.search(param.name or ""), (name, param.name)
