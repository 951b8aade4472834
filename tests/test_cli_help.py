"""`pcbatch --help` and `pcbatch -V` answer at once: they load no command, nor aiohttp, pandas,
msal or openpyxl (the help lists each command by the summary batch/cli/__init__.py keeps)."""

import subprocess
import sys

import click
import pytest

from batch import __version__
from batch.cli import _COMMANDS, cli, summary

HEAVY = ("aiohttp", "pandas", "msal", "openpyxl", "batch.cli.run", "batch.simulator")


@pytest.mark.parametrize("flag", ["--help", "-V"])
def test_help_and_version_load_no_heavy_module_in_a_fresh_interpreter(flag):
    probe = (
        "import sys\n"
        f"sys.argv = ['pcbatch', {flag!r}]\n"
        "from batch.cli import main\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    code = exc.code\n"
        f"print('LOADED', [m for m in {HEAVY!r} if m in sys.modules], code)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.stdout.splitlines()[-1] == "LOADED [] 0", done.stdout + done.stderr
    if flag == "-V":
        assert done.stdout.startswith(f"pcbatch, version {__version__}")
    else:
        assert "Commands:" in done.stdout and "validate" in done.stdout


@pytest.mark.parametrize("name", sorted(_COMMANDS))
def test_the_listed_summary_is_the_first_sentence_of_the_commands_own_help(name):
    command = cli.get_command(click.Context(cli), name)
    assert command is not None
    assert summary(name) == command.get_short_help_str(limit=1000)
