"""Time and peak memory of `pcbatch validate` on the security review's hostile files (issue 28).

Builds each file at the review's size in a temporary folder, runs `python -m batch validate` on
it in a child process, and prints wall time, peak resident memory (the child's ru_maxrss) and
the exit code. The aim is every file under 10 s and 300 MB with one clear line; prints only.

    python bench/bench_hostile.py
"""

from __future__ import annotations

import random
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import openpyxl

GUID = "00000000-0000-4000-8000-000000000001"


def base(path: Path) -> Path:
    book = openpyxl.Workbook()
    book.active.append(["Customer ID", "City"])
    book.active.append([GUID, "Newtown"])
    book.save(path)
    return path


def with_part(folder: Path, name: str, part: str, data: Callable[[bytes], bytes]) -> Path:
    source = base(folder / "base.xlsx")
    target = folder / name
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            body = old.read(info)
            new.writestr(info.filename, data(body) if info.filename == part else body)
    return target


def dense(body: bytes, megabytes: int = 20) -> bytes:
    """The part with `megabytes` MB of elements before its root's end tag, random enough to
    zip only a few times smaller (under the ratio limit: the part's own size limit must act)."""
    end = body.rindex(b"</")
    rng = random.Random(1)
    count = megabytes * 1_000_000 // 16
    elements = b"".join(b"<x a='%08x'/>" % rng.getrandbits(32) for _ in range(count))
    return body[:end] + elements + body[end:]


def entity_chain(body: bytes) -> bytes:
    chain = b"".join(b'<!ENTITY a%d "&a%d;&a%d;">' % (i, i - 1, i - 1) for i in range(1, 20_000))
    prolog = b'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY a0 "lol">' + chain + b"]>\n"
    return prolog + (body.split(b"?>", 1)[1] if body.startswith(b"<?xml") else body)


def files(folder: Path) -> dict[str, Path]:
    long_cell = folder / "long-cell.xlsx"
    book = openpyxl.Workbook()
    book.active.append(["Customer ID", "x" * 10])
    book.save(folder / "lc.xlsx")
    made = {
        "dense workbook.xml": with_part(folder, "wb.xlsx", "xl/workbook.xml", dense),
        "dense workbook.xml.rels": with_part(
            folder, "rels.xlsx", "xl/_rels/workbook.xml.rels", dense
        ),
        "dense styles.xml": with_part(folder, "styles.xlsx", "xl/styles.xml", dense),
        "entity chain (CVE-2024-8176)": with_part(
            folder, "chain.xlsx", "xl/workbook.xml", entity_chain
        ),
    }
    with zipfile.ZipFile(folder / "lc.xlsx") as old, zipfile.ZipFile(long_cell, "w", 8) as new:
        for info in old.infolist():
            body = old.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                body = body.replace(b"x" * 10, b"x" * 100_000_000)
            new.writestr(info.filename, body)
    made["100 MB header cell"] = long_cell
    wide = folder / "wide.csv"
    wide.write_text("Customer ID," + ",".join(["c"] * 300_000) + "\n", encoding="utf-8")
    made["csv of 300,000 columns"] = wide
    field = folder / "field.csv"
    field.write_text(f"Customer ID,City\n{GUID},{'x' * 200_000}\n", encoding="utf-8")
    made["csv field over 128 KiB"] = field
    return made


_CHILD = """
import resource, sys
from batch.cli import main
sys.argv = ["pcbatch", "validate", sys.argv[1]]
try:
    main()
except SystemExit as exit:
    code = exit.code if isinstance(exit.code, int) else 1
print("peak-kb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
sys.exit(code)
"""


def measure(path: Path) -> tuple[float, float, int, str]:
    """(seconds, peak MB of the validating process itself, exit code, first output line)."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path)], capture_output=True, text=True, timeout=600
    )
    seconds = time.perf_counter() - start
    output = (done.stdout + done.stderr).strip().splitlines()
    peak = next((int(x.split()[1]) for x in output if x.startswith("peak-kb")), 0) / 1024
    lines = [x for x in output if not x.startswith("peak-kb")]
    return seconds, peak, done.returncode, lines[0][:110] if lines else ""


def main() -> None:
    if sys.argv[1:2] == ["--make"]:  # in a child: the files' bytes never swell our own memory
        for name, path in files(Path(sys.argv[2])).items():
            print(f"{name}\t{path}")
        return
    with tempfile.TemporaryDirectory() as folder:
        made = subprocess.run(
            [sys.executable, __file__, "--make", folder], capture_output=True, text=True, check=True
        )
        for line in made.stdout.splitlines():
            name, path = line.split("\t")
            path = Path(path)
            size = path.stat().st_size / 1e6
            seconds, peak, code, line = measure(path)
            print(f"{name:32} {size:7.1f} MB  {seconds:6.2f} s  peak {peak:6.0f} MB  exit {code}")
            print(f"    {line}")


if __name__ == "__main__":
    main()
