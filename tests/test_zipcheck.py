"""A zip bomb posing as an xlsx is refused before parsing, in bounded memory, with one line."""

import tracemalloc
import zipfile

import openpyxl
import pytest
from click.testing import CliRunner

from batch.cli import cli
from batch.core.errors import InputError
from batch.sheets.sheet import load_sheet
from batch.sheets.zipcheck import MAX_RATIO, check_parts

GUID = "00000000-0000-4000-8000-000000000001"


def _workbook(path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Customer ID", "City"])
    sheet.append([GUID, "Newtown"])
    book.save(path)
    return path


def _with_part(source, target, name, write):
    """A copy of the xlsx `source` whose part `name` is written by write(file) instead."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            if info.filename != name:
                new.writestr(info, old.read(info))
        with new.open(name, "w", force_zip64=True) as part:
            write(part)
    return target


def _strings_bomb(part, megabytes=180):
    """Shared strings of `megabytes` MB: one string repeated, so it zips to a few hundred KB."""
    chunk = b"<si><t>" + b"A" * 1000 + b"</t></si>"
    part.write(b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">')
    for _ in range(megabytes * 1_000_000 // len(chunk)):
        part.write(chunk)
    part.write(b"</sst>")


@pytest.fixture(scope="module")
def bomb(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bomb")
    plain = _workbook(folder / "plain.xlsx")
    return _with_part(plain, folder / "bomb.xlsx", "xl/sharedStrings.xml", _strings_bomb)


def test_the_bomb_is_small_on_disk_and_huge_unzipped(bomb):
    assert bomb.stat().st_size < 1_000_000
    with zipfile.ZipFile(bomb) as archive:
        assert archive.getinfo("xl/sharedStrings.xml").file_size > 179_000_000


def test_a_shared_strings_bomb_is_refused_before_parsing_in_bounded_memory(bomb):
    tracemalloc.start()
    try:
        with pytest.raises(InputError) as caught:
            load_sheet(bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    message = str(caught.value)
    assert str(bomb) in message and "xl/sharedStrings.xml" in message
    assert "zip bomb" in message and "\n" not in message
    assert peak < 10_000_000  # nothing was inflated: the 180 MB part was never read


def test_validate_refuses_it_with_one_line_and_exit_2(bomb):
    result = CliRunner().invoke(cli, ["validate", str(bomb)])
    assert result.exit_code == 2
    assert "xl/sharedStrings.xml" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_part_that_compresses_well_but_stays_small_is_read(tmp_path):
    # Excel's own parts compress 10-50 times; under a megabyte the ratio is not judged at all.
    plain = _workbook(tmp_path / "plain.xlsx")
    path = _with_part(
        plain,
        tmp_path / "padded.xlsx",
        "docProps/custom.xml",
        lambda part: part.write(b"<x>" + b" " * 900_000 + b"</x>"),
    )
    assert [row.customer_id for row in load_sheet(path).rows] == [GUID]


def test_the_ratio_limit_applies_just_above_it(tmp_path):
    with zipfile.ZipFile(tmp_path / "a.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("dense.xml", b"<x>" + b"0" * 5_000_000 + b"</x>")
    with zipfile.ZipFile(tmp_path / "a.zip") as archive:
        info = archive.getinfo("dense.xml")
        assert info.file_size > MAX_RATIO * info.compress_size
        with pytest.raises(InputError, match=r"dense\.xml would unzip from"):
            check_parts(archive, tmp_path / "a.zip")


def test_a_sheet_formatted_far_below_its_data_is_refused_saying_how_to_mend_it(
    tmp_path, monkeypatch
):
    # A range formatted down the sheet writes every styled empty cell: a million rows of them
    # unzip to some 400 MB, over the limit. The limit is lowered here so that a small file
    # shows the same refusal.
    monkeypatch.setattr("batch.sheets.zipcheck.MAX_PART_BYTES", 200_000)
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Customer ID", "City"])
    sheet.append([GUID, "Newtown"])
    bold = openpyxl.styles.Font(bold=True)
    for row in sheet.iter_rows(min_row=3, max_row=6_000, max_col=4):
        for cell in row:
            cell.font = bold
    path = tmp_path / "formatted.xlsx"
    book.save(path)

    result = CliRunner().invoke(cli, ["validate", str(path)])

    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output
    assert "formatted.xlsx: the part xl/worksheets/sheet1.xml would unzip to" in lines[0]
    assert "delete the empty rows under the data" in lines[0]
