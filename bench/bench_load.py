"""Load-and-validate speed: a 100,000-row xlsx through batch.sheet.load_sheet, on one core.

Usage: python bench/bench_load.py [--rows N] [--regenerate]

The workbook (every input column of README.md's "Columns"; ZIP codes as numbers with a 00000
format, phone numbers as numbers, a few #N/A clears and ZIP codes without their format) is
written by openpyxl once into bench/out/ and reused. openpyxl writes every text as an inline
string, which is slower to read than Excel's shared strings: the figure is the harder case. The
load runs in a fresh child process pinned to one CPU, so its peak RSS is the loader's alone.
Prints one line: rows, wall seconds, peak RSS in MB, and the target (15 s, 600 MB).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
import uuid
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"
HEADERS = [
    "Customer ID",
    "Street",
    "Address Line 2",
    "Address Line 3",
    "City",
    "State",
    "ZIP",
    "Country",
    "Region",
    "Phone",
    "Contact First Name",
    "Contact Last Name",
    "First Name",
    "Last Name",
    "Email",
    "Company",
]


def generate(path: Path, rows: int) -> None:
    """Writes a realistic workbook of `rows` data rows (deterministic)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    rng = random.Random(3)
    book = Workbook(write_only=True)
    ws = book.create_sheet("Customers")
    ws.append(HEADERS)
    for n in range(rows):
        zip_cell = WriteOnlyCell(ws, value=rng.randint(501, 99950))
        if n % 5000 != 4:  # every 5000th ZIP lost its format: 4 digits or fewer, invalid
            zip_cell.number_format = "00000"
        street = f"{rng.randint(1, 9999)} {rng.choice(['Main', 'Oak', 'Pine', 'Elm'])} St"
        ws.append(
            [
                str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                street,
                f"Suite {n % 500}" if n % 3 else None,
                None,
                rng.choice(["Boston", "Redmond", "Austin", "Denver"]),
                rng.choice(["MA", "WA", "TX", "CO"]),
                zip_cell,
                "US",
                None,
                rng.randint(2_000_000_000, 9_999_999_999),
                "Ana",
                "Lima",
                "Bo",
                "Chen",
                f"billing{n}@example.com",
                "#N/A" if n % 1000 == 7 else f"Contoso {n}",
            ]
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)


def measure(path: Path) -> dict[str, float]:
    """Loads the workbook once in this process; wall time and peak RSS."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    from batch.sheet import load_sheet

    start = time.perf_counter()
    sheet = load_sheet(path)
    wall = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {
        "wall_s": wall,
        "rss_mb": peak_kb / 1024,
        "valid": len(sheet.rows),
        "rejected": len(sheet.not_sent),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return
    path = OUT / f"load_{args.rows}.xlsx"
    if args.regenerate or not path.exists():
        generate(path, args.rows)
    child = subprocess.run(
        [sys.executable, __file__, "--measure", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    got = json.loads(child.stdout)
    print(
        f"bench_load: {args.rows} rows x {len(HEADERS)} columns: {got['wall_s']:.1f} s,"
        f" peak RSS {got['rss_mb']:.0f} MB (target < 15 s, < 600 MB), one core;"
        f" {got['valid']} valid, {got['rejected']} rejected"
    )


if __name__ == "__main__":
    main()
