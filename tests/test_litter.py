"""No litter, no short files: temporary files a killed process left are removed on the next
start, and an export that did not finish leaves nothing under its final name. Over loopback."""

from __future__ import annotations

import signal

from batch.core.options import RunOptions
from batch.engine.export import export_profiles
from tests.support import city_sheet, invoke, read_results


def test_report_files_a_killed_run_was_writing_are_removed_when_the_next_starts(
    make_sim_thread, tmp_path
):
    sim = make_sim_thread(customers=3)
    sheet = city_sheet(tmp_path / "in.csv", sim.store.ids())
    out = tmp_path / "out"
    args = ["run", str(sheet), "--out", str(out), "--rate", "1000", "--no-progress"]
    assert invoke(args, sim).exit_code == 0
    # What a SIGKILL while the report was written leaves (atomic_write's temporary names).
    left = [out / ".results.csv.k2j4h5g6.tmp", out / ".summary.json.a1b2c3d4.tmp"]
    for path in left:
        path.write_bytes(b"")
    mine = out / "notes.tmp"  # not one of pcbatch's: left alone
    mine.write_text("keep", encoding="utf-8")

    result = invoke([*args, "--resume"], sim)

    assert result.exit_code == 0, result.output
    assert not any(path.exists() for path in left)
    assert mine.read_text(encoding="utf-8") == "keep"
    assert [p.name for p in out.iterdir() if p.name.endswith(".tmp")] == ["notes.tmp"]
    assert len(read_results(out)) == 3


async def test_an_interrupted_export_leaves_its_rows_under_a_partial_name_only(make_sim, tmp_path):
    sim = await make_sim(customers=40, latency_ms=5)
    output = tmp_path / "export.csv"
    leftover = tmp_path / ".export.csv.zz99yy88.tmp"  # an earlier export killed mid-write
    leftover.write_bytes(b"Customer ID\n")
    options = RunOptions(rate=500, concurrency=2, timeout=2)
    env = {"PC_ACCESS_TOKEN": sim.token, "PC_BASE_URL": sim.base_url}

    def interrupt(progress) -> None:
        if progress.done == 5:
            signal.raise_signal(signal.SIGTERM)

    result = await export_profiles(options, output, env, on_progress=interrupt)

    assert result.exit_code == 130
    assert "--resume" not in str(result.stopped)  # export has no --resume
    assert "export again" in str(result.stopped)
    assert not output.exists()  # never a short file under the final name
    partial = tmp_path / "export.partial.csv"
    assert result.output == partial
    lines = partial.read_text(encoding="utf-8-sig").splitlines()
    assert 5 <= len(lines) - 1 == result.exported < 40
    assert not leftover.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.partial.csv"]
