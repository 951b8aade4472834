"""A power cut cannot turn a landed PUT into `unchanged`: the record that a PUT is about to be
sent is on disk (synchronous=FULL, the WAL synced as it commits) before the PUT goes, so a
journal that lost every WAL frame written after that keeps it, and --resume reports the row
`updated` with its undo line. Over loopback against the stand-in."""

from __future__ import annotations

import csv
import shutil

from batch.core.model import Change, Row, Sheet
from batch.durable.journal import JOURNAL_NAME, Journal
from tests.support import after_requests, city_sheet, read_results, run_fast


def test_the_record_of_a_put_is_committed_with_its_wal_synced(tmp_path):
    customer = "0f8fad5b-d9cb-469f-a165-70867728950e"
    row = Row(2, customer, {"city": "New"}, {"Customer ID": customer, "City": "New"})
    sheet = Sheet("in.csv", "csv", None, ("Customer ID", "City"), {}, (), (row,), ())
    with Journal.open(tmp_path) as journal:
        journal.start_run(sheet, "sha", {})
        statements: list[str] = []
        journal._db.set_trace_callback(statements.append)  # what SQLite is told, in order
        journal.record_put(2, (Change("city", "Old", "New"),), etag="e")
    put = next(i for i, s in enumerate(statements) if s.startswith("INSERT INTO puts"))
    assert statements[put - 1] == "PRAGMA synchronous=FULL"
    assert statements[put + 1] == "PRAGMA synchronous=NORMAL"  # outcomes stay NORMAL


async def test_a_journal_that_lost_its_last_wal_frames_still_knows_the_put_landed(
    make_sim, tmp_path
):
    sim = await make_sim(customers=1)
    [customer] = sim.store.ids()
    sheet = city_sheet(tmp_path / "in.csv", [customer], city="Powertown")
    out, cut = tmp_path / "out", tmp_path / "cut"

    def power_cut() -> None:
        # The PUT has reached the service and will land. What a cut now leaves on disk: the
        # WAL as far as its last sync (the PUT's record); every frame after it is lost.
        cut.mkdir(mode=0o700)
        for name in (JOURNAL_NAME, JOURNAL_NAME + "-wal"):
            shutil.copy2(out / name, cut / name)

    after_requests(sim, 3, power_cut)  # the pre-flight read, the row's GET, its PUT
    first = await run_fast(sim, sheet, out)
    assert first.exit_code == 0
    assert sim.store.stored(customer)["defaultAddress"]["city"] == "Powertown 0"

    resumed = await run_fast(sim, sheet, cut, resume=True)

    assert resumed.exit_code == 0
    [line] = read_results(cut)
    assert line["status"] == "updated", line  # not `unchanged`: the PUT was ours
    with (cut / "undo.csv").open(encoding="utf-8-sig", newline="") as f:
        [undo] = list(csv.DictReader(f))
    assert undo["customer_id"] == customer and undo["city"] not in ("", "Powertown 0")
