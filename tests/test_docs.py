"""The docs site (docs/), README.md, `--help` and `.ci/run` tell the same story as the code.

The docs are the interface users script against (commands, options, input columns, statuses,
report files, exit codes): these tests fail when the program and the docs drift apart.
tests/test_docs_shell.py runs the pages' shell blocks; the blocks it cannot run are checked here.
"""

import re
import shutil
import subprocess
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from batch.cli import cli
from batch.core import errors
from batch.core.fields import CUSTOMER_ID, FIELDS, HOUSE_NUMBER, normalise_header
from batch.core.model import Status
from tests.docsblocks import blocks, expanded, pages

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCS = ROOT / "docs"
COMMANDS = [
    "run",
    "validate",
    "simulate",
    "login",
    "logout",
    "report",
    "demo",
    "export",
    "secret",
    "plan",
    "apply",
]
# The docs page (and heading, None for the whole page) that documents each command's options.
SECTION_OF = {
    "run": ("reference/run.md", None),
    "validate": ("reference/input.md", "## `pcbatch validate`"),
    "simulate": ("howto/rehearse.md", None),
    "login": ("howto/sign-in.md", "## `pcbatch login`, for a person"),
    "logout": ("howto/sign-in.md", "## `pcbatch login`, for a person"),
    "report": ("reference/report.md", None),
    "demo": ("quickstart.md", "## Try it on the built-in simulator"),
    "export": ("howto/round-trip.md", None),
    "secret": ("howto/sign-in.md", "## The client secret in the credential store"),
    "plan": ("howto/reviewed-migration.md", None),
    "apply": ("howto/reviewed-migration.md", None),
}
# An option as the docs write it: `--name`, and not the start of a longer word.
OPTION = re.compile(r"--[a-z][a-z0-9-]*(?![\w-])")


def page(name: str) -> str:
    """The text of a docs page, snippets included."""
    return expanded(DOCS / name)


def section(heading: str | None, text: str = README) -> str:
    """The text under `heading`, up to the next heading of the same or a higher level (the whole
    text for None)."""
    if heading is None:
        return text
    level = heading.split(" ", 1)[0]
    start = text.index(f"\n{heading}\n") + 1
    ends = [text.find(f"\n{'#' * n} ", start + 1) for n in range(1, len(level) + 1)]
    return text[start : min([e for e in ends if e != -1], default=len(text))]


def documented_at(name: str) -> str:
    """Where a command's options are documented: its page, or the section of it."""
    where, heading = SECTION_OF[name]
    return section(heading, page(where))


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


def test_the_quick_start_gives_the_same_test_command():
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    command = next(line for line in ci_lines if line.startswith("python3 -m venv"))
    assert command in section("## Run the tests", page("quickstart.md"))


def test_readme_and_quick_start_give_the_demo_command_for_a_fresh_machine():
    demo = r"pip install \. && \S*pcbatch demo"
    assert re.search(demo, section("## Try it on the built-in simulator"))
    assert re.search(demo, section("## Try it on the built-in simulator", page("quickstart.md")))


def test_the_readme_stays_short_and_says_where_the_docs_are():
    assert len(README.splitlines()) < 120
    assert "mkdocs serve" in README
    linked = set(re.findall(r"\]\((docs/[^)#]+)", README))
    assert linked and all((ROOT / target).is_file() for target in linked), linked


def test_the_commands_table_lists_exactly_the_commands_pcbatch_has():
    rows = table_rows(page("reference/commands.md"), "command")
    listed = {name for row in rows for name in re.findall(r"`pcbatch (\w+)", row[0])}
    assert listed == set(cli.list_commands(click.Context(cli))) == set(COMMANDS)
    for row in rows:
        target = re.fullmatch(r"\[[^]]+\]\(([^)#]+)(#[^)]*)?\)", row[2])
        assert target, row[2]
        assert (DOCS / "reference" / target.group(1)).resolve().is_file(), row[2]


def test_the_version_option_of_pcbatch_itself_is_documented():
    assert help_options(cli) == {"--version"}
    assert "pcbatch --version" in page("reference/commands.md")
    result = CliRunner().invoke(cli, ["-V"])
    assert result.exit_code == 0 and result.output.startswith("pcbatch, version ")


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help_with_an_example_and_a_docs_mention(name):
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output
    assert f"pcbatch {name}" in documented_at(name)


@pytest.mark.parametrize("name", COMMANDS)
def test_every_option_in_help_is_documented_on_the_commands_page(name):
    documented = set(OPTION.findall(documented_at(name)))
    missing = sorted(help_options(_command(name)) - documented)
    assert missing == [], f"docs/{SECTION_OF[name]}: pcbatch {name} {missing} not named"


@pytest.mark.parametrize(
    ("name", "heading", "first_header"),
    [
        ("run", "reference/run.md", "option"),
        ("simulate", "howto/rehearse.md", "setting"),
    ],
)
def test_every_option_of_a_docs_option_table_exists_in_help(name, heading, first_header):
    tabled = {o for row in table_rows(page(heading), first_header) for o in OPTION.findall(row[0])}
    assert tabled, f"no options found in the {heading!r} table"
    assert sorted(tabled - help_options(_command(name))) == []


def _readme_invocations() -> list[tuple[str, str]]:
    """(command, what follows it) for every `pcbatch COMMAND ...` in code in the README and
    the docs."""
    texts = [README] + [expanded(p) for p in pages()]
    code = [c for text in texts for c in re.findall(r"```[^\n]*\n(.*?)```", text, re.S)]
    code += [c for text in texts for c in re.findall(r"`([^`\n]+)`", text)]
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
    rows = table_rows(page("reference/statuses.md"), "status")
    in_failed = {row[0].strip("`"): row[2] for row in rows}
    assert in_failed == {s.value: ("no" if s.ok else "yes") for s in Status}


def test_the_exit_code_table_of_run_matches_the_errors_and_help():
    rows = table_rows(section("## `pcbatch run`", page("reference/exit-codes.md")), "exit code")
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
    rows = table_rows(section("## Columns", page("reference/input.md")), "field")
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
    files = [ROOT / name for name in ("README.md", "pyproject.toml", "mkdocs.yml", "CHANGELOG.md")]
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


# --- Blocks that cannot run here: each is marked (tests/docsblocks.py) and checked another way.

KNOWN_LANGUAGES = {"sh", "console", "text", "toml", "python", "powershell", "bat", "ini", "cron"}
ALL_BLOCKS = [block for p in pages() for block in blocks(p)]


def _file_blocks(suffix: str) -> list:
    return [
        b for b in ALL_BLOCKS if (b.check or "").startswith("file ") and b.check.endswith(suffix)
    ]


def test_every_block_of_the_docs_is_run_or_says_how_it_is_checked():
    unknown = [b.where for b in ALL_BLOCKS if b.lang not in KNOWN_LANGUAGES]
    assert unknown == [], "a fence without a known language"
    checks = [b.check for b in ALL_BLOCKS if b.check]
    assert all(
        c == "installed" or c == "windows" or c.startswith("file /") or c.startswith("not run: ")
        for c in checks
    ), checks
    # A block that is not run says why (a reason after "not run:" of some length).
    assert all(len(c) > len("not run: ") + 20 for c in checks if c.startswith("not run"))
    assert sum(b.runs for b in ALL_BLOCKS) >= 15


def test_the_systemd_units_of_the_docs_are_two_files_that_systemd_accepts(tmp_path):
    units = _file_blocks((".service", ".timer"))
    assert sorted(Path(b.check).suffix for b in units) == [".service", ".timer"]
    paths = []
    for block in units:
        path = tmp_path / Path(block.check[len("file ") :]).name
        path.write_text(block.text + "\n")
        paths.append(str(path))
        sections = re.findall(r"^\[(\w+)\]$", block.text, re.M)
        assert sections[0] == "Unit" and len(sections) == len(set(sections)), block.where
    if shutil.which("systemd-analyze") is None:  # a structural check only
        return
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *paths], capture_output=True, text=True
    )
    # The documented install path does not exist on this machine; any other complaint counts.
    complaints = [
        line
        for line in (done.stdout + done.stderr).splitlines()
        if line.strip() and not re.search(r"Command /opt/pcbatch/\S+ is not executable", line)
    ]
    assert complaints == []


def test_the_shell_scripts_of_the_docs_parse(tmp_path):
    scripts = _file_blocks(".sh")
    assert scripts
    for block in scripts:
        assert block.text.startswith("#!/bin/sh\n"), block.where
        done = subprocess.run(["sh", "-n"], input=block.text, capture_output=True, text=True)
        assert done.returncode == 0, (block.where, done.stderr)


def test_the_crontab_line_runs_the_script_the_docs_give():
    (cron,) = _file_blocks("/etc/cron.d/pcbatch")
    entries = [line for line in cron.text.splitlines() if line and not line.startswith("#")]
    assert len(entries) == 1
    *when, user, command = entries[0].split(None, 6)
    assert len(when) == 5 and user == "pcbatch"
    assert any(b.check == f"file {command}" for b in _file_blocks(".sh")), command


def test_the_windows_blocks_name_files_the_repository_has():
    windows = [b for b in ALL_BLOCKS if b.check == "windows"]
    assert {b.lang for b in windows} == {"powershell", "bat"}
    for block in windows:
        for name in re.findall(r"jobs\\([\w.-]+)", block.text):
            assert (ROOT / "jobs" / name).is_file(), (block.where, name)
        # the program, as a path (`.venv\Scripts\pcbatch demo`) or a line's first word
        for name in re.findall(r"(?:\\|^)pcbatch (\w+)", block.text, re.M):
            assert name in COMMANDS, (block.where, name)
