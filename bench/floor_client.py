"""The least client pcbatch's required parts make: what the overhead scenario compares against.

Usage: python bench/floor_client.py SHEET.csv OUT_DIR      (PC_BASE_URL, PC_ACCESS_TOKEN set)

It does, for the same sheet and stand-in as `bench_run.py overhead`, only what no pcbatch can
skip, with the libraries the product is built on (pandas, openpyxl, aiohttp, SQLite):

- import pandas, openpyxl and aiohttp; read the csv with pandas, every field as text;
- per customer, 16 in flight over one aiohttp session: GET the billing profile, set
  addressLine2, PUT it with If-Match and the headers pcbatch sends (two new GUIDs per call,
  made as pcbatch makes them);
- per customer, two SQLite statements, each its own transaction in a WAL journal with
  synchronous=NORMAL: one before the PUT is sent, one with the outcome (the journal's rule);
- at the end, results.csv and a write-only results.xlsx with the same 14 cells per row.

No validation, planning, retries, pacing, progress, logging, undo.csv, failed.csv or summary:
pcbatch's own work is the difference between its figure and this one. It prints one JSON line
(rows, PUTs answered 200, seconds of CPU by phase); bench_run.py reads the CPU from the kernel.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import sqlite3
import sys
import time
from pathlib import Path

started = time.process_time()
import aiohttp  # noqa: E402  (imports are part of what is measured)
import pandas as pd  # noqa: E402
from openpyxl import Workbook  # noqa: E402

from batch.wire.client import new_request_id  # noqa: E402  (the fastest GUIDs: pcbatch's own)

CONCURRENCY = 16


async def update_all(rows: list[list[str]], db: sqlite3.Connection) -> list[list[object]]:
    base_url, token = os.environ["PC_BASE_URL"], os.environ["PC_ACCESS_TOKEN"]
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json",
        "MS-Contract-Version": "v1",
        "MS-PartnerCenter-Application": "floor/1",
    }
    results: list[list[object]] = []
    queue = list(enumerate(rows, start=2))
    queue.reverse()
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one(number: int, customer_id: str, value: str) -> None:
            url = f"{base_url}/v1/customers/{customer_id}/profiles/billing"
            get_ids = {"MS-RequestId": new_request_id(), "MS-CorrelationId": new_request_id()}
            async with session.get(url, headers={**headers, **get_ids}) as response:
                profile = json.loads((await response.read()).decode("utf-8-sig"))
            address = profile["defaultAddress"]
            before = address.get("addressLine2")
            address["addressLine2"] = value
            etag = profile["attributes"]["etag"]
            change = json.dumps([{"field": "address_line2", "before": before, "after": value}])
            db.execute("INSERT INTO puts VALUES (?, ?, ?)", (number, change, etag))
            put_ids = {"MS-RequestId": new_request_id(), "MS-CorrelationId": new_request_id()}
            put = {
                **headers,
                **put_ids,
                "Content-Type": "application/json",
                "If-Match": f'"{etag}"',
            }
            body = json.dumps(profile, ensure_ascii=False).encode()
            async with session.put(url, data=body, headers=put) as response:
                json.loads((await response.read()).decode("utf-8-sig"))
                status = response.status
            outcome = (number, customer_id, status, change)
            db.execute("INSERT INTO outcomes VALUES (?, ?, ?, ?)", outcome)
            results.append([
                number, customer_id, "updated" if status == 200 else "failed", 1, 0, status, None,
                None, "address_line2", put_ids["MS-RequestId"], put_ids["MS-CorrelationId"], 0,
                before, value,
            ])  # fmt: skip

        async def worker() -> None:
            while queue:
                number, (customer_id, value) = queue.pop()
                await one(number, customer_id, value)

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return results


def main() -> None:
    sheet, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    imported = time.process_time()
    frame = pd.read_csv(sheet, dtype=str, keep_default_na=False, na_filter=False)
    rows = frame.to_numpy(dtype=object).tolist()
    db = sqlite3.connect(out / "journal.sqlite", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE puts (row INTEGER, changes TEXT, etag TEXT)")
    db.execute("CREATE TABLE outcomes (row INTEGER, customer_id TEXT, status INT, changes TEXT)")
    loaded = time.process_time()
    results = asyncio.run(update_all(rows, db))
    updated = time.process_time()
    with (out / "results.csv").open("w", newline="", encoding="utf-8-sig") as f:
        csv.writer(f).writerows(results)
    book = Workbook(write_only=True)
    sheet_out = book.create_sheet("Results")
    for line in results:
        sheet_out.append(line)
    book.save(out / "results.xlsx")
    db.close()
    done = time.process_time()
    print(json.dumps({
        "rows": len(rows),
        "put_200": sum(1 for line in results if line[5] == 200),
        "cpu_s": {"imports": round(imported - started, 3), "read": round(loaded - imported, 3),
                  "calls": round(updated - loaded, 3), "report": round(done - updated, 3)},
    }))  # fmt: skip


if __name__ == "__main__":
    main()
