"""Every shell block of the docs runs as printed (tests/docsblocks.py says how blocks are read).

Each page runs in a fresh folder holding a copy of the repository, as a new clone would, in
one bash: its blocks in order, so a page that starts the stand-in in the background and sets
its credentials is followed exactly as a reader pasting the blocks would. The page runs in a
network namespace of its own (`unshare -rn`, loopback only), so the stand-in's fixed port 8479
is free for every page and nothing can leave the machine.

Slow (every command starts a Python process): deselected by default; `.ci/run` runs it with
`pytest --docs-shell tests/test_docs_shell.py`.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docsblocks import ROOT, blocks, commands, missing_output, pages

pytestmark = pytest.mark.docs_shell
PAGE_TIMEOUT_S = 240
RUN_PAGES = [page for page in pages() if any(block.runs for block in blocks(page))]


def _netns_works() -> bool:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-rn", "ip", "link", "set", "lo", "up"], capture_output=True, check=False
    )
    return probe.returncode == 0


def _copy_of_the_repository(into: Path) -> None:
    """The repository's tracked files (a fresh clone's), as they are in the work tree now."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = ROOT / name
        if source.is_file():
            target = into / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def _script(page: Path, outputs: Path) -> tuple[str, list]:
    """The bash script that runs a page's blocks, and the commands whose output it keeps."""
    lines = ['cd "$(dirname "$0")"']
    shown = []
    for block in (b for b in blocks(page) if b.runs):
        for command in commands(block):
            index = len(shown)
            shown.append((block, command))
            lines.append(f"echo {shlex.quote(f'::: {block.where}: {command.text}')}")
            if command.background:
                lines.append(command.text)
                continue
            if command.shown is not None:
                lines.append(f"{{ {command.text}\n}} >{outputs}/{index}.txt 2>&1")
            else:
                lines.append(command.text)
            lines.append(
                f"rc=$?; if [ $rc -ne {command.exit_code} ]; then "
                f'echo "::: FAILED: exit $rc, not {command.exit_code}"; '
                f"kill $(jobs -p) 2>/dev/null; wait; exit 1; fi"
            )
    lines.append("kill $(jobs -p) 2>/dev/null; wait; exit 0")
    return "\n".join(lines) + "\n", shown


@pytest.mark.skipif(not _netns_works(), reason="needs `unshare -rn` for a loopback of its own")
@pytest.mark.parametrize("page", RUN_PAGES, ids=[str(p.relative_to(ROOT)) for p in RUN_PAGES])
def test_every_shell_block_of_the_page_runs_as_printed(page: Path, tmp_path: Path) -> None:
    folder, outputs = tmp_path / "clone", tmp_path / "outputs"
    folder.mkdir()
    outputs.mkdir()
    _copy_of_the_repository(folder)
    script, shown = _script(page, outputs)
    (folder / "page.sh").write_text(script)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PC_", "PCSIM_", "PCBATCH"))}
    env |= {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "home" / ".config"),
        "COLUMNS": "100",  # the pages show output 100 columns wide
    }
    process = subprocess.Popen(
        ["unshare", "-rn", "sh", "-c", 'ip link set lo up && exec bash "$0"', "page.sh"],
        cwd=folder,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        log, _ = process.communicate(timeout=PAGE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        log, _ = process.communicate()
        pytest.fail(f"{page.name} still running after {PAGE_TIMEOUT_S} s:\n{log[-4000:]}")
    assert process.returncode == 0, log[-6000:]
    for index, (block, command) in enumerate(shown):
        if command.shown is None or command.background:
            continue
        printed = (outputs / f"{index}.txt").read_text()
        lacking = missing_output(command.shown, printed)
        assert lacking is None, (
            f"{block.where}: `{command.text}` printed no line like {lacking!r}:\n{printed}"
        )
