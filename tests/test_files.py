"""files.atomic_write, the one writer: a reader sees the old file or the new one, never half of
one; 0600, never through a link, never over another user's file."""

import os
import stat

import pytest
from openpyxl import Workbook, load_workbook

from batch.core.errors import ConfigError
from batch.durable.files import atomic_write, make_dirs, open_private


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
def test_every_file_is_0600_and_missing_folders_0700_whatever_the_umask(tmp_path):
    umask = os.umask(0o002)
    try:
        make_dirs(tmp_path / "a" / "b")
        with atomic_write(tmp_path / "a" / "b" / "report.csv") as file:
            file.write("x")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "a" / "b" / "report.csv").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "a" / "b").stat().st_mode) == 0o700


@pytest.mark.skipif(os.name != "posix", reason="symlinks")
def test_a_symlink_at_the_target_is_refused_and_what_it_points_to_untouched(tmp_path):
    victim = tmp_path / "bashrc"
    victim.write_text("keep", encoding="utf-8")
    (tmp_path / "customers.csv").symlink_to(victim)
    with (
        pytest.raises(ConfigError, match="symbolic link"),
        atomic_write(tmp_path / "customers.csv") as file,
    ):
        file.write("stolen")
    assert victim.read_text(encoding="utf-8") == "keep"
    assert (tmp_path / "customers.csv").is_symlink()


@pytest.mark.skipif(os.name != "posix", reason="symlinks")
def test_a_link_planted_at_a_guessable_temporary_name_is_never_followed(tmp_path):
    victim = tmp_path / "bashrc"
    victim.write_text("keep", encoding="utf-8")
    for guess in (".customers.csv.tmp", "customers.csv.tmp", ".customers.csv"):
        (tmp_path / guess).symlink_to(victim)
    with atomic_write(tmp_path / "customers.csv") as file:
        file.write("rows")
    assert victim.read_text(encoding="utf-8") == "keep"
    assert (tmp_path / "customers.csv").read_text(encoding="utf-8") == "rows"


def test_a_folder_at_the_target_is_refused(tmp_path):
    (tmp_path / "summary.json").mkdir()
    with (
        pytest.raises(ConfigError, match="not a regular file"),
        atomic_write(tmp_path / "summary.json"),
    ):
        pass


def test_an_existing_file_of_ones_own_is_replaced_and_becomes_0600(tmp_path):
    path = tmp_path / "state.json"
    path.write_text("old", encoding="utf-8")
    path.chmod(0o666)
    with atomic_write(path) as file:
        file.write("new")
    assert path.read_text(encoding="utf-8") == "new"
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_lock_or_journal_file_of_another_kind_is_refused_by_open_private(tmp_path):
    fifo = tmp_path / "pcbatch.lock"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="not a regular file"):
        open_private(fifo, os.O_RDWR | os.O_CREAT | os.O_NONBLOCK)
