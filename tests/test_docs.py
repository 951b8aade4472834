"""README.md, `--help` and `.ci/run` tell the same story as the code."""

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from batch.cli import cli

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
CONTRACT_COMMANDS = ["run", "validate", "simulate", "login", "logout", "report", "demo", "export"]


def test_ci_runs_exactly_the_test_command_the_readme_gives():
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    command = next(line for line in ci_lines if line.startswith("python3 -m venv"))
    readme_test = README.split("## Run the tests", 1)[1].split("\n## ", 1)[0]
    assert command in readme_test


def test_readme_gives_the_demo_command_for_a_fresh_machine():
    section = README.split("## Try it on the built-in simulator", 1)[1].split("\n## ", 1)[0]
    assert re.search(r"pip install \. && \S*pcbatch demo", section)


def _command(name: str) -> click.Command:
    command = cli.get_command(click.Context(cli), name)
    assert command is not None, f"pcbatch has no {name} command"
    return command


def test_every_contract_command_exists():
    assert set(CONTRACT_COMMANDS) <= set(cli.list_commands(click.Context(cli)))
    for name in CONTRACT_COMMANDS:
        _command(name)


@pytest.mark.parametrize("name", CONTRACT_COMMANDS)
def test_every_command_has_help_with_an_example_and_a_readme_mention(name):
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output
    assert f"pcbatch {name}" in README


@pytest.mark.parametrize("name", CONTRACT_COMMANDS)
def test_every_option_of_every_command_is_in_the_readme(name):
    options = [
        opt
        for param in _command(name).params
        if isinstance(param, click.Option)
        for opt in (*param.opts, *param.secondary_opts)
        if opt.startswith("--") and opt != "--help"
    ]
    # `--out` must not pass on `--output`: the option ends where the word does.
    missing = [o for o in options if not re.search(rf"{re.escape(o)}(?![\w-])", README)]
    assert missing == [], f"pcbatch {name}: README.md does not mention {missing}"
