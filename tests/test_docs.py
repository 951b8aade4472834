"""README.md, `--help` and `.ci/run` tell the same story as the code.

README.md is the interface users script against (commands, options, input columns, statuses,
report files, exit codes): these tests fail when the program and the README drift apart.
"""

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from batch.cli import cli
from batch.core import errors
from batch.core.fields import CUSTOMER_ID, FIELDS, HOUSE_NUMBER, normalise_header
from batch.core.model import Status

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
COMMANDS = ["run", "validate", "simulate", "login", "logout", "report", "demo", "export", "secret"]
# The README section that documents each command's options, by its heading.
SECTION_OF = {
    "run": "## Usage: `pcbatch run`",
    "validate": "### `pcbatch validate`",
    "simulate": "## Rehearse against the simulator",
    "login": "### `pcbatch login`, for a person",
    "logout": "### `pcbatch login`, for a person",
    "report": "## The report",
    "demo": "## Try it on the built-in simulator",
    "export": "## Export: `pcbatch export`, and the round trip",
    "secret": "### The client secret in the credential store",
}
# An option as the README writes it: `--name`, and not the start of a longer word.
OPTION = re.compile(r"--[a-z][a-z0-9-]*(?![\w-])")


def section(heading: str) -> str:
    """The README text under `heading`, up to the next heading of the same or a higher level."""
    level = heading.split(" ", 1)[0]
    start = README.index(f"\n{heading}\n") + 1
    ends = [README.find(f"\n{'#' * n} ", start + 1) for n in range(1, len(level) + 1)]
    return README[start : min([e for e in ends if e != -1], default=len(README))]


def table_rows(text: str, first_header: str) -> list[list[str]]:
    """The rows of the Markdown table whose first header cell is `first_header`, as cells."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_header} |"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        inner = line.strip()[1:-1]  # a cell may be empty; `\|` is a pipe inside a cell
        rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", inner)])
    return rows


def _command(name: str) -> click.Command:
    command = cli.get_command(click.Context(cli), name)
    assert command is not None, f"pcbatch has no {name} command"
    return command


def help_options(command: click.Command) -> set[str]:
    """Every long option `--help` lists for the command (`--help` itself aside)."""
    return {
        opt
        for param in command.params
        if isinstance(param, click.Option)
        for opt in (*param.opts, *param.secondary_opts)
        if opt.startswith("--") and opt != "--help"
    }


def test_ci_runs_exactly_the_test_command_the_readme_gives():
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    command = next(line for line in ci_lines if line.startswith("python3 -m venv"))
    assert command in section("## Run the tests")


def test_readme_gives_the_demo_command_for_a_fresh_machine():
    assert re.search(
        r"pip install \. && \S*pcbatch demo", section("## Try it on the built-in simulator")
    )


def test_the_commands_table_lists_exactly_the_commands_pcbatch_has():
    rows = table_rows(section("## Commands"), "command")
    listed = {name for row in rows for name in re.findall(r"`pcbatch (\w+)", row[0])}
    assert listed == set(cli.list_commands(click.Context(cli))) == set(COMMANDS)
    headings = [line for line in README.splitlines() if line.startswith("#")]
    for row in rows:
        where = row[2][1:-1]  # "the heading", quoted
        assert any(where in heading for heading in headings), row[2]


def test_the_version_option_of_pcbatch_itself_is_documented():
    assert help_options(cli) == {"--version"}
    assert "pcbatch --version" in section("## Commands")


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help_with_an_example_and_a_readme_mention(name):
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output
    assert f"pcbatch {name}" in section(SECTION_OF[name])


@pytest.mark.parametrize("name", COMMANDS)
def test_every_option_in_help_is_documented_in_the_commands_section(name):
    documented = set(OPTION.findall(section(SECTION_OF[name])))
    missing = sorted(help_options(_command(name)) - documented)
    assert missing == [], f"README.md, {SECTION_OF[name]!r}: pcbatch {name} {missing} not named"


@pytest.mark.parametrize(
    ("name", "heading", "first_header"),
    [
        ("run", "### Options", "option"),
        ("simulate", "## Rehearse against the simulator", "setting"),
    ],
)
def test_every_option_of_a_readme_option_table_exists_in_help(name, heading, first_header):
    tabled = {
        o for row in table_rows(section(heading), first_header) for o in OPTION.findall(row[0])
    }
    assert tabled, f"no options found in the {heading!r} table"
    assert sorted(tabled - help_options(_command(name))) == []


def _readme_invocations() -> list[tuple[str, str]]:
    """(command, what follows it) for every `pcbatch COMMAND ...` in code in the README."""
    code = re.findall(r"```[^\n]*\n(.*?)```", README, re.S) + re.findall(r"`([^`\n]+)`", README)
    found = []
    for text in code:
        for line in text.splitlines():
            # a comment, another command or a redirection ends the invocation
            for match in re.finditer(r"\bpcbatch(?:\.exe)? (\w+)([^#|;&>]*)", line):
                found.append((match.group(1), match.group(2)))
    return found


def test_every_option_the_readme_passes_to_a_command_exists():
    invocations = [(name, rest) for name, rest in _readme_invocations() if name in COMMANDS]
    assert len({name for name, _ in invocations}) == len(COMMANDS)
    wrong = [
        (name, option)
        for name, rest in invocations
        for option in OPTION.findall(rest)
        if option not in help_options(_command(name)) | {"--help"}
    ]
    assert wrong == []


def test_the_statuses_table_lists_every_status_and_which_go_to_failed_csv():
    rows = table_rows(section("### Progress, statuses and exit codes"), "status")
    in_failed = {row[0].strip("`"): row[2] for row in rows}
    assert in_failed == {s.value: ("no" if s.ok else "yes") for s in Status}


def test_the_exit_code_table_of_run_matches_the_errors_and_help():
    rows = table_rows(section("### Progress, statuses and exit codes"), "exit code")
    codes = {int(row[0]) for row in rows}
    raised = {
        cls.exit_code
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.PcbatchError)
    }
    assert codes == {0, 1} | raised
    run_help = " ".join(CliRunner().invoke(cli, ["run", "--help"]).output.split())
    assert all(re.search(rf"\b{code}: ", run_help) for code in codes - {0}), run_help
    assert "Exit 0:" in run_help


def test_the_columns_table_gives_every_field_its_headers_and_place():
    rows = table_rows(section("### Columns"), "field")
    # field | English | Dutch | German | French | Spanish | Italian | Portuguese | place | rule
    documented = {row[0].strip("`"): row for row in rows}
    assert set(documented) == {f.name for f in FIELDS} | {HOUSE_NUMBER}
    for field in FIELDS:
        row = documented[field.name]
        place = "the URL" if field.name == CUSTOMER_ID else ".".join(field.path)
        assert row[8] == place, field.name
        names = [n for cell in row[1:8] for n in cell.split(", ") if n]
        assert names, field.name
        # Every name the README gives is one the loader knows for that field.
        unknown = [n for n in names if normalise_header(n) not in field.aliases]
        assert unknown == [], (field.name, unknown)


# Built in two parts so that this file does not name them itself.
OUTSIDE = ("CONTRACT" + ".md", "../" + "shared", "/work/" + "shared")
SHIPPED = ("batch", "tests", "bench", "docs", "jobs", "samples", ".ci")


def test_nothing_in_the_repository_refers_to_files_outside_it():
    files = [ROOT / "README.md", ROOT / "pyproject.toml"]
    for folder in SHIPPED:
        files += [
            p
            for p in (ROOT / folder).rglob("*")
            if p.is_file() and not {"out", "__pycache__"} & set(p.relative_to(ROOT).parts)
        ]
    mentions = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # binary files: workbooks, caches
        mentions += [f"{path.relative_to(ROOT)}: {word}" for word in OUTSIDE if word in text]
    assert mentions == []
