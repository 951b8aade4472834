"""The code blocks of the docs pages, and how each one is checked.

Every fenced block of a page under docs/ (and of README.md) is one of:
- `sh`: commands run in order, in one shell per page, each expected to exit 0, or with the code
  its trailing comment gives (`pcbatch run ... --dry-run   # exit 1: some rows need a look`);
- `console`: `$ COMMAND` lines, each followed by the output it shows; the command runs like a
  `sh` line, and every output line shown must appear, in order, in what it printed (stdout and
  stderr together, spaces collapsed; `...` stands for any text);
- any other language (`text`, `toml`, `python`, `powershell`, `bat`, `ini`, `cron`): not run.
A `<!-- check: ... -->` comment on the line before a fence says how a block is checked instead:
- `not run: REASON`: a `sh`/`console` block that cannot run here (the reason says why and what
  checks it instead, e.g. `.ci/run` for the test command);
- `installed`: a `sh` block whose `python3 -m venv ... && pip install ... &&` part the harness
  leaves out, the tests' own environment being that install; the rest runs;
- `file PATH`: the block is the content of the file PATH (a systemd unit, a shell script, a
  crontab line, a PowerShell or batch script), checked by its kind (tests/test_docs.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SNIPPETS = DOCS / ".snippets"
SNIPPET = re.compile(r'^--8<-- "([^"]+)"$', re.M)
RUNNABLE = ("sh", "console")
CHECK = re.compile(r"^<!-- check: (.*?) -->$")
EXPECTED_EXIT = re.compile(r"#\s*exit (\d+)\b")
INSTALL = re.compile(r"^python3 -m venv \.venv && \. \.venv/bin/activate && pip install [^&]*&& ")


@dataclass(frozen=True, slots=True)
class Block:
    """One fenced block: where it is, its language, its text and the check comment above it."""

    page: Path
    line: int  # 1-based line of the opening fence
    lang: str
    text: str
    check: str | None

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def runs(self) -> bool:
        return self.lang in RUNNABLE and not (self.check or "").startswith(("not run", "file "))


@dataclass(frozen=True, slots=True)
class Command:
    """One command of a runnable block: its text, the exit code expected, the output shown."""

    text: str
    exit_code: int
    shown: tuple[str, ...] | None  # None: a `sh` line, whose output is not compared
    background: bool


def pages() -> list[Path]:
    """Every docs page, in file order (docs/.snippets holds parts of pages, not pages)."""
    return sorted(p for p in DOCS.rglob("*.md") if not p.is_relative_to(SNIPPETS))


def expanded(page: Path) -> str:
    """The page's text with each `--8<-- "NAME"` line replaced by docs/.snippets/NAME (or NAME), as
    mkdocs' snippets extension renders it."""

    def snippet(match: re.Match[str]) -> str:
        # mkdocs.yml's base_path: docs/.snippets, then the repository's root
        found = [base / match.group(1) for base in (SNIPPETS, ROOT)]
        path = next(p for p in found if p.is_file())
        return path.read_text(encoding="utf-8").rstrip("\n")

    return SNIPPET.sub(snippet, page.read_text(encoding="utf-8"))


def blocks(page: Path) -> list[Block]:
    """The fenced blocks of a page (snippets included), in order."""
    lines = expanded(page).splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        fence = re.match(r"^(`{3,})(\S*)", lines[i])
        if fence is None:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith(fence.group(1)))
        before = next((lines[k] for k in range(i - 1, -1, -1) if lines[k].strip()), "")
        check = CHECK.match(before.strip())
        found.append(
            Block(
                page=page,
                line=i + 1,
                lang=fence.group(2),
                text="\n".join(lines[i + 1 : end]),
                check=check.group(1) if check else None,
            )
        )
        i = end + 1
    return found


def _logical_lines(text: str) -> list[str]:
    """The lines of a shell text with `\\`-continued lines joined (newlines kept)."""
    joined: list[str] = []
    pending = ""
    for line in text.splitlines():
        pending = f"{pending}\n{line}" if pending else line
        if not line.endswith("\\"):
            joined.append(pending)
            pending = ""
    if pending:
        joined.append(pending)
    return joined


def _command(text: str, shown: tuple[str, ...] | None, check: str | None) -> Command:
    expected = EXPECTED_EXIT.search(text)
    if check == "installed":
        text = INSTALL.sub("", text)
    bare = text.split(" #", 1)[0].rstrip()
    return Command(
        text=text,
        exit_code=int(expected.group(1)) if expected else 0,
        shown=shown,
        background=bare.endswith("&") and not bare.endswith("&&"),
    )


def commands(block: Block) -> list[Command]:
    """The commands of a runnable block, in order."""
    if block.lang == "sh":
        return [
            _command(line, None, block.check)
            for line in _logical_lines(block.text)
            if line.strip() and not line.lstrip().startswith("#")
        ]
    found: list[Command] = []
    current: str | None = None
    shown: list[str] = []
    for line in block.text.splitlines():
        if line.startswith("$ "):
            if current is not None:
                found.append(_command(current, tuple(shown), block.check))
            current, shown = line[2:], []
        else:
            shown.append(line)
    if current is not None:
        found.append(_command(current, tuple(shown), block.check))
    return found


def _normal(line: str) -> str:
    return " ".join(line.split())


def missing_output(shown: tuple[str, ...], printed: str) -> str | None:
    """The first line shown that the output lacks (in order), or None when all are there."""
    lines = [_normal(line) for line in printed.splitlines()]
    at = 0
    for want in shown:
        want = _normal(want)
        if not want or want == "...":
            continue
        pattern = re.compile(".*".join(re.escape(part.strip()) for part in want.split("...")))
        while at < len(lines) and not pattern.fullmatch(lines[at]):
            at += 1
        if at == len(lines):
            return want
        at += 1
    return None
