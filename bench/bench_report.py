"""The report at migration size: every report file of a 100,000-row run written. Not a test.

Usage: python bench/bench_report.py [--rows 100000] [--dir DIR]

A journal of N valid rows is made (bench_journal's sheet), each row given an outcome (a third
`updated` with two changed fields, the rest spread over the other statuses), then the report
(results.csv/xlsx, summary.json, failed.csv, undo.csv) is written in a fresh process, so that
its peak RSS is the report's own. Prints the journal set-up's seconds, then the report's wall
seconds, peak RSS and the size of results.xlsx. The folder (or --dir) is removed afterwards.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_journal import guid, sheet_of

from batch.core.model import Change, Outcome, RunStats, Status
from batch.durable.journal import Journal
from batch.output.report import write_report

OTHERS = [s for s in Status if s is not Status.UPDATED]


def outcome(n: int) -> Outcome:
    if n % 3 == 0:
        changes = (
            Change("address_line1", f"{n} Old Road", f"{n} Main Street"),
            Change("city", "Bellevue", "Redmond"),
        )
        return Outcome(n, guid(n), Status.UPDATED, attempts=2, http_status=200, changes=changes)
    status = OTHERS[n % len(OTHERS)]
    return Outcome(n, guid(n), status, attempts=1, http_status=200, message=f"row {n}")


def prepare(folder: Path, rows: int) -> None:
    with Journal.open(folder) as journal:
        journal.start_run(sheet_of(rows), "00" * 32, {"tenant": "bench", "cloud": "global"})
        for n in range(2, rows + 2):
            journal.record(outcome(n))
        journal.finish_run(RunStats(requests=2 * rows, rate_final=45.48, rate_min=12.3), 1)


def report(folder: Path) -> None:
    """Child process: write the report, print wall seconds and peak RSS."""
    began = time.perf_counter()
    with Journal.open(folder) as journal:
        write_report(folder, journal)
    seconds = time.perf_counter() - began
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    size_mb = (folder / "results.xlsx").stat().st_size / 1e6
    print(f"report: {seconds:.1f} s, peak RSS {peak_mb:.0f} MB, results.xlsx {size_mb:.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--dir", type=Path)
    parser.add_argument("--report-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.report_only is not None:
        report(args.report_only)
        return
    folder = args.dir or Path(tempfile.mkdtemp(prefix="bench-report-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        began = time.perf_counter()
        prepare(folder, args.rows)
        print(f"journal of {args.rows:,} rows with outcomes: {time.perf_counter() - began:.1f} s")
        subprocess.run([sys.executable, __file__, "--report-only", str(folder)], check=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
