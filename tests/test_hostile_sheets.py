"""Hostile spreadsheets (issue 28, point 2) are refused quickly with one clear line: a DOCTYPE in
any part, parts read whole that are too big, cells and headers too long, csv files past Excel's
limits. Each file is generated here, small enough to keep the suite quick; bench/bench_hostile.py
builds the review's full-size ones and measures time and peak memory."""

import zipfile

import openpyxl
import pytest
from click.testing import CliRunner

from batch.cli import cli
from batch.sheets.zipcheck import MAX_CELL_CHARS, MAX_COLUMNS, SMALL_PART_BYTES

GUID = "00000000-0000-4000-8000-000000000001"
ENTITY_CHAIN = (
    b'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY a0 "lol">'
    + b"".join(b'<!ENTITY a%d "&a%d;&a%d;">' % (i, i - 1, i - 1) for i in range(1, 30))
    + b"]>\n"
)


def workbook(path, header="City", city="Newtown"):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Customer ID", header])
    sheet.append([GUID, city])
    book.save(path)
    return path


def replaced(tmp_path, name, data, stored=False):
    """The base workbook with its part `name` replaced by `data`."""
    source = workbook(tmp_path / "base.xlsx")
    target = tmp_path / "hostile.xlsx"
    kind = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", kind) as new:
        for info in old.infolist():
            new.writestr(info.filename, data if info.filename == name else old.read(info))
    return target


def validate(path):
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and len(lines[0]) < 600, lines
    return lines[0]


@pytest.mark.parametrize(
    "part",
    ["xl/workbook.xml", "xl/_rels/workbook.xml.rels", "xl/styles.xml", "xl/worksheets/sheet1.xml"],
)
def test_a_doctype_in_any_part_is_refused_before_parsing(tmp_path, part):
    original = zipfile.ZipFile(workbook(tmp_path / "b.xlsx")).read(part)
    body = original.split(b"?>", 1)[1] if original.startswith(b"<?xml") else original
    line = validate(replaced(tmp_path, part, ENTITY_CHAIN + body))
    assert f"the part {part} declares a DOCTYPE" in line


@pytest.mark.parametrize("part", ["xl/workbook.xml", "xl/_rels/workbook.xml.rels", "xl/styles.xml"])
def test_a_part_read_whole_over_its_small_limit_is_refused(tmp_path, part):
    original = zipfile.ZipFile(workbook(tmp_path / "b.xlsx")).read(part)
    # A dense part: the original with a long comment-free padding element before its end.
    root_end = original.rindex(b"</")
    padding = b"<x a='" + b"y" * (SMALL_PART_BYTES + 1) + b"'/>"
    data = original[:root_end] + padding + original[root_end:]
    line = validate(replaced(tmp_path, part, data, stored=True))
    assert part in line and ("XML bomb" in line or "zip bomb" in line)


def test_a_cell_longer_than_an_excel_cell_holds_is_refused(tmp_path):
    path = workbook(tmp_path / "long.xlsx", city="x" * 10)
    part = "xl/worksheets/sheet1.xml"  # openpyxl writes inline strings: the same text handler
    data = zipfile.ZipFile(path).read(part).replace(b"x" * 10, b"x" * (MAX_CELL_CHARS + 10))
    line = validate(replaced(tmp_path, part, data))
    assert "holds over 32,767 characters" in line and "row 2 column 2" in line


def test_a_header_of_hundreds_of_characters_is_refused_naming_its_column(tmp_path):
    line = validate(workbook(tmp_path / "h.xlsx", header="H" * 300))
    assert "the header of column B is 300 characters long" in line


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Customer ID," + ",".join(["x"] * MAX_COLUMNS) + "\n", "more than Excel's 16,384 columns"),
        (f"Customer ID,City\n{GUID},{'x' * (MAX_CELL_CHARS + 1)}\n", "holds over 32,767"),
        (f"Customer ID,City\n{GUID},{'x' * 200_000}\n", "32,767 characters"),
        (f'Customer ID,City\n{GUID},"{"x" * 200_000}\n', "32,767 characters"),
    ],
    ids=["columns", "long-field", "past-csv-module-limit", "unclosed-quote"],
)
def test_a_csv_past_excels_limits_is_refused_with_one_line(tmp_path, text, words):
    path = tmp_path / "in.csv"
    path.write_text(text, encoding="utf-8")
    assert words in validate(path)


def test_an_ordinary_workbook_still_reads(tmp_path):
    result = CliRunner().invoke(cli, ["validate", str(workbook(tmp_path / "ok.xlsx"))])
    assert result.exit_code == 0, result.output
