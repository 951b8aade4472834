"""files.atomic_write: a reader sees the old file or the new one, never half of one."""

import os
import stat

import pytest
from openpyxl import Workbook, load_workbook

from batch.durable.files import atomic_write


def test_a_write_that_fails_leaves_the_old_file_and_no_temporary_one(tmp_path):
    path = tmp_path / "summary.json"
    path.write_text("old\n", encoding="utf-8")
    with pytest.raises(RuntimeError), atomic_write(path) as file:
        file.write("half of the new")
        raise RuntimeError("the disk is full")
    assert path.read_text(encoding="utf-8") == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_text_is_written_in_the_encoding_and_newlines_given(tmp_path):
    path = tmp_path / "results.csv"
    with atomic_write(path, encoding="utf-8-sig", newline="") as file:
        file.write("row,city\r\n2,Zürich\r\n")
    assert path.read_bytes() == "\ufeffrow,city\r\n2,Zürich\r\n".encode()


def test_a_workbook_saves_through_it(tmp_path):
    path = tmp_path / "results.xlsx"
    book = Workbook(write_only=True)
    book.create_sheet("Results").append(["row", "status"])
    with atomic_write(path, binary=True) as file:
        book.save(file)
    assert list(load_workbook(path).active.values) == [("row", "status")]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_permissions_are_the_umask_default_or_the_ones_asked_for(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    with atomic_write(tmp_path / "report.csv") as file:
        file.write("x")
    with atomic_write(tmp_path / "token_cache.json", permissions=0o600) as file:
        file.write("{}")
    assert stat.S_IMODE((tmp_path / "report.csv").stat().st_mode) == 0o666 & ~umask
    assert stat.S_IMODE((tmp_path / "token_cache.json").stat().st_mode) == 0o600
