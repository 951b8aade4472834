"""README.md, `--help` and `.ci/run` tell the same story as the code."""

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from batch.cli import cli

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
CONTRACT_COMMANDS = ["run", "validate", "simulate", "login", "logout", "report", "demo"]


def test_ci_runs_exactly_the_test_command_the_readme_gives():
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    command = next(line for line in ci_lines if line.startswith("python3 -m venv"))
    readme_test = README.split("## Run the tests", 1)[1]
    assert command in readme_test


def test_readme_gives_the_demo_command_for_a_fresh_machine():
    section = README.split("## Try it on the built-in simulator", 1)[1].split("\n## ", 1)[0]
    assert re.search(r"pip install \. && \S*pcbatch demo", section)


def test_every_contract_command_exists():
    assert set(CONTRACT_COMMANDS) <= set(cli.commands)


@pytest.mark.parametrize("name", CONTRACT_COMMANDS)
def test_every_command_has_help_with_an_example_and_a_readme_mention(name):
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output
    assert f"pcbatch {name}" in README


def test_every_run_option_is_documented_in_the_readme():
    command = cli.commands["run"]
    flags = [
        opt
        for param in command.params
        if isinstance(param, click.Option)
        for opt in param.opts
        if opt.startswith("--") and opt != "--help"
    ]
    missing = [flag for flag in flags if flag not in README]
    assert not missing, f"run options not in README.md: {missing}"
