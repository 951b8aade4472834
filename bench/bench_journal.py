"""The journal at migration size: 100,000 rows stored and read back, outcomes recorded. Not a test.

Usage: python bench/bench_journal.py [--rows 100000] [--outcomes 10000] [--puts 2000] [--dir DIR]

A run of N valid rows is started in a new journal (one transaction), its pending rows are read
back (what --resume does), then M outcomes are recorded one by one (each its own committed
transaction, as during a run), then P more customers as a run that changes them records them:
the PUT's record (committed with synchronous=FULL: on disk before the PUT is sent) then the
outcome, and every entry is read back (what the report does). Checks that every row comes back,
and prints one line per step with its wall seconds, the cost per customer of an outcome alone
and of a PUT's record with its outcome (the difference is what the synced PUT record costs),
then the journal's size. The journal goes to a temporary folder (or --dir, which should be on
the disk the runs' --out will be: a sync costs what that disk takes) that is removed afterwards.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from batch.core.model import Change, Outcome, Row, Sheet, Status
from batch.durable.journal import JOURNAL_NAME, Journal

T = TypeVar("T")
HEADERS = ("Customer ID", "Street", "City", "ZIP", "Country", "Phone")


def guid(n: int) -> str:
    return f"{n:08d}-0000-4000-8000-000000000000"


def sheet_of(rows: int) -> Sheet:
    """A validated sheet of `rows` valid rows, numbered from 2 as a spreadsheet shows them."""
    valid = tuple(
        Row(
            n,
            guid(n),
            {"address_line1": f"{n} Main Street", "city": "Redmond", "postal_code": "98052"},
            dict(
                zip(
                    HEADERS,
                    (guid(n), f"{n} Main Street", "Redmond", "98052", "US", ""),
                    strict=True,
                )
            ),
        )
        for n in range(2, rows + 2)
    )
    return Sheet(
        path="customers.xlsx",
        format="xlsx",
        sheet_name="Customers",
        headers=HEADERS,
        columns={"customer_id": "Customer ID", "address_line1": "Street", "city": "City"},
        unknown_headers=(),
        rows=valid,
        not_sent=(),
    )


def timed(what: str, step: Callable[[], T]) -> T:
    started = time.perf_counter()
    result = step()
    print(f"{what:<40} {time.perf_counter() - started:8.2f} s")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--outcomes", type=int, default=10_000)
    parser.add_argument("--puts", type=int, default=2_000)
    parser.add_argument("--dir", type=Path, default=None, help="where to put the journal")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="pcbatch-journal-", dir=args.dir))
    try:
        sheet = sheet_of(args.rows)
        with Journal.open(folder) as journal:
            run_id = timed(
                f"start a run of {args.rows:,} rows",
                lambda: journal.start_run(sheet, "ab" * 32, {"dry_run": False}),
            )
            info = journal.run_info(run_id)
            pending = timed("read the pending rows back", lambda: journal.pending_rows(run_id))
            assert info.rows == args.rows and len(pending) == args.rows, (info.rows, len(pending))

            def record() -> None:
                for row in pending[: args.outcomes]:
                    journal.record(Outcome(row.number, row.customer_id, Status.UPDATED))

            started = time.perf_counter()
            timed(f"record {args.outcomes:,} outcomes, one commit each", record)
            per_outcome = (time.perf_counter() - started) / max(args.outcomes, 1)
            changes = (Change("city", "Redmond", "Seattle"),)

            def put_and_record() -> None:
                for row in pending[args.outcomes : args.outcomes + args.puts]:
                    journal.record_put(row.number, changes, etag="W/etag")
                    journal.record(
                        Outcome(row.number, row.customer_id, Status.UPDATED, changes=changes)
                    )

            started = time.perf_counter()
            timed(f"record {args.puts:,} PUTs (synced) and outcomes", put_and_record)
            per_put = (time.perf_counter() - started) / max(args.puts, 1)
            print(f"{'per customer: an outcome alone':<40} {per_outcome * 1e3:8.3f} ms")
            print(f"{'per customer: a synced PUT + outcome':<40} {per_put * 1e3:8.3f} ms")
            entries = timed("read every entry back", lambda: sum(1 for _ in journal.entries()))
            assert entries == args.rows, entries
        size = sum(p.stat().st_size for p in folder.iterdir() if p.name.startswith(JOURNAL_NAME))
        print(f"{'journal size':<40} {size / 1e6:8.1f} MB")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
