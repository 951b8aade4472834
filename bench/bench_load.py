"""Load-and-validate speed: xlsx, ods and xls files through batch.sheets.sheet.load_sheet.

Usage: python bench/bench_load.py [--rows N] [--empty-rows N] [--regenerate]

Three workbooks, written once into bench/out/ and reused:
- valid: 100,000 rows of every input column of README.md's "Columns" (ZIP codes as numbers
  with a 00000 format, phone numbers as numbers, a few #N/A clears and ZIP codes without their
  format), by openpyxl, which writes every text as an inline string (slower to read than
  Excel's shared strings: the harder case);
- invalid: the same size, every row invalid, five ways in turn: no GUID, `UK` as a country, a ZIP
  that lost its leading zero, a `#REF!` city, and one customer on a fifth of the rows with other
  values each time (the case that used to cost quadratic time);
- empty: 100 data rows, then a million rows of 16 styled empty cells (a sheet formatted down
  to the bottom), written as XML directly, with a styles part of 20,000 cell formats.
- ods and xls: the valid workbook as LibreOffice saves it (soffice --headless --convert-to;
  skipped, saying so, when soffice is not installed). An .xls holds at most 65,536 rows, so
  LibreOffice keeps the first 65,535 data rows of it: the xls line says how many were read.
Each load runs in a fresh child process pinned to one CPU, so its peak RSS is the loader's own.
Prints one line per workbook: wall seconds, peak RSS, and the target (valid: 15 s and 600 MB;
invalid: at most 1.5x valid; empty: a few seconds).
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


def generate(path: Path, rows: int, invalid: bool = False) -> None:
    """Writes a realistic workbook of `rows` data rows (deterministic); `invalid`: every row
    invalid, five ways in turn (see the module's docstring)."""
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
        customer = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        city = rng.choice(["Boston", "Redmond", "Austin", "Denver"])
        country = "US"
        if invalid:
            kind = n % 5
            if kind == 0:
                customer = f"customer {n}"
            elif kind == 1:
                country = "UK"
            elif kind == 2:
                zip_cell = WriteOnlyCell(ws, value=2134)
            elif kind == 3:
                city = "#REF!"
            else:
                customer = "0f8fad5b-d9cb-469f-a165-70867728950e"
        ws.append(
            [
                customer,
                street,
                f"Suite {n % 500}" if n % 3 else None,
                None,
                city,
                rng.choice(["MA", "WA", "TX", "CO"]),
                zip_cell,
                country,
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


def generate_empty(path: Path, empty_rows: int) -> None:
    """100 valid rows, then `empty_rows` rows of 16 styled empty cells, and 20,000 styles."""
    import re
    import zipfile

    generate(path, 100)
    with zipfile.ZipFile(path) as old:
        parts = {name: old.read(name) for name in old.namelist()}
    letters = [chr(65 + i) for i in range(len(HEADERS))]
    empty = "".join(
        f'<row r="{r}" spans="1:16" s="1" customFormat="1">'
        + "".join(f'<c r="{c}{r}" s="1"/>' for c in letters)
        + "</row>"
        for r in range(102, 102 + empty_rows)
    ).encode()
    sheet = parts["xl/worksheets/sheet1.xml"]
    parts["xl/worksheets/sheet1.xml"] = sheet.replace(b"</sheetData>", empty + b"</sheetData>")
    styles = parts["xl/styles.xml"].decode()
    xfs = '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" applyAlignment="1"/>' * 20_000
    styles = re.sub(r"(<cellXfs[^>]*>)", lambda m: m.group(1) + xfs, styles, count=1)
    parts["xl/styles.xml"] = styles.encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as new:
        for name, data in parts.items():
            new.writestr(name, data)


def convert(source: Path, kind: str) -> Path | None:
    """`source` saved by LibreOffice as `kind` (ods, xls) beside it; None without soffice."""
    import shutil

    soffice = shutil.which("soffice")
    if soffice is None:
        return None
    subprocess.run(
        [soffice, "--headless", "--convert-to", kind, "--outdir", str(source.parent), str(source)],
        check=True,
        capture_output=True,
        timeout=1800,
    )
    return source.with_suffix(f".{kind}")


def measure(path: Path) -> dict[str, float]:
    """Loads the workbook once in this process; wall time and peak RSS."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    from batch.sheets.sheet import load_sheet

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


def measured(path: Path) -> dict[str, float]:
    """measure(path) in a fresh child process; a refused file is a line saying so (NaN times)."""
    child = subprocess.run(
        [sys.executable, __file__, "--measure", str(path)], capture_output=True, text=True
    )
    if child.returncode:
        last = (child.stderr.strip().splitlines() or ["(no output)"])[-1]
        print(f"bench_load: {path.name} could not be loaded: {last}")
        nan = float("nan")
        return {"wall_s": nan, "rss_mb": nan, "valid": 0, "rejected": 0}
    return json.loads(child.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--empty-rows", type=int, default=1_000_000)
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return
    books = {
        "valid": (OUT / f"load_{args.rows}.xlsx", lambda p: generate(p, args.rows)),
        "invalid": (OUT / f"load_{args.rows}_invalid.xlsx", lambda p: generate(p, args.rows, True)),
        "empty": (
            OUT / f"load_empty_{args.empty_rows}.xlsx",
            lambda p: generate_empty(p, args.empty_rows),
        ),
    }
    got: dict[str, dict[str, float]] = {}
    for name, (path, make) in books.items():
        if args.regenerate or not path.exists():
            make(path)
        got[name] = measured(path)
    for kind in ("ods", "xls"):
        path = books["valid"][0].with_suffix(f".{kind}")
        if args.regenerate or not path.exists():
            made = convert(books["valid"][0], kind)
            if made is None:
                print(f"bench_load {kind}: skipped, LibreOffice (soffice) is not installed")
                continue
        got[kind] = measured(path)
    valid, invalid, empty = got["valid"], got["invalid"], got["empty"]
    print(
        f"bench_load valid: {args.rows} rows x {len(HEADERS)} columns: {valid['wall_s']:.1f} s,"
        f" peak RSS {valid['rss_mb']:.0f} MB (target < 15 s, < 600 MB), one core;"
        f" {valid['valid']} valid, {valid['rejected']} rejected"
    )
    print(
        f"bench_load invalid: {args.rows} rows, every one invalid: {invalid['wall_s']:.1f} s,"
        f" peak RSS {invalid['rss_mb']:.0f} MB: {invalid['wall_s'] / valid['wall_s']:.2f}x the"
        f" valid sheet (target <= 1.5x); {invalid['valid']} valid, {invalid['rejected']} rejected"
    )
    print(
        f"bench_load empty: 100 rows then {args.empty_rows} rows of {len(HEADERS)} styled empty"
        f" cells: {empty['wall_s']:.1f} s, peak RSS {empty['rss_mb']:.0f} MB (target: a few"
        f" seconds); {empty['valid']} valid, {empty['rejected']} rejected"
    )
    for kind in ("ods", "xls"):
        if kind in got:
            figures = got[kind]
            rows = int(figures["valid"] + figures["rejected"])
            print(
                f"bench_load {kind}: the valid sheet as LibreOffice saves it, {rows} rows read:"
                f" {figures['wall_s']:.1f} s, peak RSS {figures['rss_mb']:.0f} MB"
                f" ({figures['wall_s'] / valid['wall_s']:.2f}x the xlsx; per row"
                f" {figures['wall_s'] / max(rows, 1) * 1e6:.0f} us vs"
                f" {valid['wall_s'] / args.rows * 1e6:.0f} us);"
                f" {figures['valid']} valid, {figures['rejected']} rejected"
            )


if __name__ == "__main__":
    main()
