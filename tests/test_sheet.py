"""Loading real xlsx and csv files: values exactly as Excel shows them, and clear file errors."""

import hashlib
import math
import re
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from batch.core.errors import ConfigError, InputError
from batch.core.model import Problem, Row, Status
from batch.sheets.sheet import input_sha256, load_sheet

A = "0f8fad5b-d9cb-469f-a165-70867728950e"
B = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def xlsx(path, rows, formats=None, sheets=("Customers",)):
    """Writes rows (row 1 the headers) to the first of `sheets`; formats {(row, col): fmt}."""
    book = Workbook()
    book.active.title = sheets[0]
    for name in sheets[1:]:
        book.create_sheet(name)
    ws = book.active
    for row in rows:
        ws.append(row)
    for (r, c), fmt in (formats or {}).items():
        ws.cell(row=r, column=c).number_format = fmt
    book.save(path)
    return path


def patch(path, part, change):
    """Rewrites one XML part of an xlsx in place with change(text) -> text."""
    with zipfile.ZipFile(path) as old:
        parts = {name: old.read(name) for name in old.namelist()}
    before = parts[part].decode()
    after = change(before)
    assert after != before, "the patch did not apply"
    parts[part] = after.encode()
    with zipfile.ZipFile(path, "w") as new:
        for name, data in parts.items():
            new.writestr(name, data)
    return path


def saved_by_excel(path):
    """Drops openpyxl's `fullCalcOnLoad` mark, as Excel does when it saves the workbook."""
    return patch(path, "xl/workbook.xml", lambda xml: xml.replace(' fullCalcOnLoad="1"', ""))


def values(sheet):
    return {r.number: dict(r.values) for r in sheet.rows}


# --- xlsx values --------------------------------------------------------------------------------


def test_a_zip_stored_as_a_number_keeps_the_leading_zero_its_format_shows(tmp_path):
    path = xlsx(
        tmp_path / "in.xlsx",
        [["Customer ID", "ZIP", "Country"], [A, 2134, "US"], [B, 980526399, "US"]],
        formats={(2, 2): "00000", (3, 2): "00000-0000"},
    )
    assert values(load_sheet(path)) == {
        2: {"postal_code": "02134", "country": "US"},
        3: {"postal_code": "98052-6399", "country": "US"},
    }


def test_a_zip_stored_as_a_number_without_the_format_is_caught(tmp_path):
    path = xlsx(tmp_path / "in.xlsx", [["Customer ID", "ZIP", "Country"], [A, 2134, "US"]])
    sheet = load_sheet(path)
    assert sheet.rows == ()
    assert [(p.row, p.column, p.value) for p in sheet.not_sent[0].problems] == [(2, "ZIP", "2134")]


def test_a_phone_number_stored_as_a_number_reads_as_its_digits(tmp_path):
    path = xlsx(
        tmp_path / "in.xlsx",
        [["Customer ID", "Phone"], [A, 4255551234.0], [B, 4255551234]],
    )
    assert values(load_sheet(path)) == {
        2: {"phone_number": "4255551234"},
        3: {"phone_number": "4255551234"},
    }


def test_excel_error_cells_clear_with_na_and_invalidate_the_row_otherwise(tmp_path):
    path = xlsx(
        tmp_path / "in.xlsx",
        [["Customer ID", "Address Line 2", "City"], [A, "#N/A", "Paris"], [B, "x", "#REF!"]],
    )
    with zipfile.ZipFile(path) as z:  # openpyxl stores these as error cells, as Excel does
        assert len(re.findall(r't="e"', z.read("xl/worksheets/sheet1.xml").decode())) == 2
    sheet = load_sheet(path)
    assert values(sheet) == {2: {"address_line2": None, "city": "Paris"}}
    assert [(p.row, p.column, p.value) for p in sheet.not_sent[0].problems] == [
        (3, "City", "#REF!")
    ]


def test_unicode_text_is_kept_and_trimmed(tmp_path):
    path = xlsx(
        tmp_path / "in.xlsx",
        [["Customer ID ", " City"], [f"  {A}\t", " Köln "], [B, "東京都 千代田区"]],
    )
    sheet = load_sheet(path)
    assert sheet.headers == ("Customer ID", "City")
    assert values(sheet) == {2: {"city": "Köln"}, 3: {"city": "東京都 千代田区"}}


def test_booleans_read_as_excel_shows_them_and_a_date_in_a_text_field_is_flagged(tmp_path):
    import datetime as dt

    path = xlsx(
        tmp_path / "in.xlsx",
        [["Customer ID", "Street", "City"], [A, True, "Lyon"], [B, "Rue 1", dt.date(2024, 3, 1)]],
    )
    sheet = load_sheet(path)
    assert values(sheet) == {2: {"address_line1": "TRUE", "city": "Lyon"}}
    [problem] = sheet.not_sent[0].problems
    assert (problem.row, problem.column, problem.value) == (3, "City", "2024-03-01")
    assert problem.reason.startswith("cell C3 holds a date where text belongs")


def test_a_number_past_excels_last_date_in_a_date_column_reads_as_the_number(tmp_path):
    path = xlsx(
        tmp_path / "in.xlsx",
        [["Customer ID", "Phone", "City"], [A, 4255551234, "Lyon"], [B, 4255551234, 45352]],
        formats={(2, 2): "mm/dd/yyyy", (3, 3): "mm/dd/yyyy"},
    )
    sheet = load_sheet(path)
    assert values(sheet) == {2: {"phone_number": "4255551234", "city": "Lyon"}}
    assert [(p.column, p.value) for p in sheet.not_sent[0].problems] == [("City", "2024-03-01")]


def test_blank_rows_are_dropped_and_row_numbers_are_the_spreadsheets(tmp_path):
    path = xlsx(
        tmp_path / "in.xlsx",
        [["Customer ID", "City"], [A, "Paris"], [None, None], [None, "   "], ["bad", "Lyon"]],
    )
    sheet = load_sheet(path)
    assert [r.number for r in sheet.rows] == [2]
    assert [r.number for r in sheet.not_sent] == [5]


def test_a_formula_counts_as_the_value_excel_saved_with_it(tmp_path):
    path = xlsx(
        tmp_path / "in.xlsx",
        [["Customer ID", "City", "ZIP"], [A, "placeholder", 1]],
        formats={(2, 3): "00000"},
    )

    def formulas(xml):
        xml = re.sub(
            r'<c r="B2"[^>]*>.*?</c>',
            '<c r="B2" t="str"><f>UPPER("paris")</f><v>PARIS</v></c>',
            xml,
        )
        return re.sub(r'(<c r="C2"[^>]*>)<v>1</v>', r"\1<f>2000+134</f><v>2134</v>", xml)

    patch(path, "xl/worksheets/sheet1.xml", formulas)
    saved_by_excel(path)
    assert values(load_sheet(path)) == {2: {"city": "PARIS", "postal_code": "02134"}}


def test_a_formula_saved_without_its_result_is_refused_naming_the_cell(tmp_path):
    path = saved_by_excel(xlsx(tmp_path / "in.xlsx", [["Customer ID", "City"], [A, "placeholder"]]))
    patch(
        path,
        "xl/worksheets/sheet1.xml",
        lambda xml: re.sub(r'<c r="B2"[^>]*>.*?</c>', '<c r="B2"><f>A1</f></c>', xml),
    )
    with pytest.raises(InputError) as caught:
        load_sheet(path)
    assert str(caught.value) == (
        f"{path}: formulas saved without the result Excel would show (the program that wrote"
        " the file did not compute them) in B2; open the file in Excel or LibreOffice and save"
        " it, or paste the values in place of the formulas"
    )


def test_formulas_openpyxl_saved_are_refused_naming_every_cell(tmp_path):
    # openpyxl writes `<f>..</f><v></v>` and marks the workbook fullCalcOnLoad="1".
    rows = [["Customer ID", "City", "Phone"]] + [[A, '=UPPER("x")', "=1+1"] for _ in range(4)]
    path = xlsx(tmp_path / "in.xlsx", rows)
    with pytest.raises(InputError) as caught:
        load_sheet(path)
    assert "in B2, C2, B3, C3, B4 and 3 more;" in str(caught.value)


def test_xlsxwriters_placeholder_zero_is_never_sent(tmp_path):
    # XlsxWriter saves `<f>..</f><v>0</v>` and `calcPr calcId="124519" fullCalcOnLoad="1"`.
    path = xlsx(tmp_path / "in.xlsx", [["Customer ID", "Phone"], [A, "x"]])
    patch(
        path,
        "xl/worksheets/sheet1.xml",
        lambda xml: re.sub(r'<c r="B2"[^>]*>.*?</c>', '<c r="B2"><f>A9*2</f><v>0</v></c>', xml),
    )
    with pytest.raises(InputError, match=r"did not compute them\) in B2;"):
        load_sheet(path)


def test_a_workbook_that_records_a_wrong_size_still_loads_every_row(tmp_path):
    rows = [["Customer ID", "City"], [A, "Paris"], [B, "Lyon"]]
    path = xlsx(tmp_path / "in.xlsx", rows)
    patch(path, "xl/worksheets/sheet1.xml", lambda xml: xml.replace('ref="A1:B3"', 'ref="A1"'))
    assert values(load_sheet(path)) == {2: {"city": "Paris"}, 3: {"city": "Lyon"}}


MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
OFFICE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def handmade(path, sheet_xml, strings_xml, date1904=False):
    """A workbook as Excel saves it: shared strings, styles, `x:` prefixed tags, a chart sheet."""
    parts = {
        "_rels/.rels": f'<Relationships xmlns="{RELS}"><Relationship Id="rId1"'
        f' Type="{OFFICE}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<x:workbook xmlns:x="{MAIN}" xmlns:r="{OFFICE}"><x:workbookPr'
        f' date1904="{int(date1904)}"/><x:sheets><x:sheet name="Chart" sheetId="2" r:id="rId9"/>'
        '<x:sheet name="Data" sheetId="1" r:id="rId1"/></x:sheets></x:workbook>',
        "xl/_rels/workbook.xml.rels": f'<Relationships xmlns="{RELS}">'
        f'<Relationship Id="rId1" Type="{OFFICE}/worksheet" Target="/xl/worksheets/s1.xml"/>'
        f'<Relationship Id="rId9" Type="{OFFICE}/chartsheet" Target="chartsheets/c1.xml"/>'
        f'<Relationship Id="rId2" Type="{OFFICE}/sharedStrings" Target="sharedStrings.xml"/>'
        f'<Relationship Id="rId3" Type="{OFFICE}/styles" Target="styles.xml"/>'
        "</Relationships>",
        "xl/styles.xml": f'<x:styleSheet xmlns:x="{MAIN}"><x:numFmts count="1"><x:numFmt'
        ' numFmtId="164" formatCode="00000"/></x:numFmts><x:cellXfs count="3">'
        '<x:xf numFmtId="0"/><x:xf numFmtId="164"/><x:xf numFmtId="14"/></x:cellXfs>'
        "</x:styleSheet>",
        "xl/sharedStrings.xml": f'<x:sst xmlns:x="{MAIN}">{strings_xml}</x:sst>',
        "xl/worksheets/s1.xml": f'<x:worksheet xmlns:x="{MAIN}"><x:sheetData>{sheet_xml}'
        "</x:sheetData></x:worksheet>",
    }
    with zipfile.ZipFile(path, "w") as z:
        for name, text in parts.items():
            z.writestr(name, text)
    return path


def test_a_workbook_saved_by_excel_reads_shared_strings_styles_and_dates(tmp_path):
    strings = (
        "<x:si><x:t>Customer ID</x:t></x:si>"
        "<x:si><x:t>City</x:t></x:si>"
        "<x:si><x:t>ZIP</x:t></x:si>"
        "<x:si><x:r><x:rPr><x:b/></x:rPr><x:t>San </x:t></x:r><x:r><x:t>José</x:t></x:r></x:si>"
        f"<x:si><x:t>{A}</x:t></x:si>"
        "<x:si><x:t>Tōkyō</x:t><x:rPh sb='0' eb='2'><x:t>トウキョウ</x:t></x:rPh></x:si>"
        "<x:si><x:t>Street</x:t></x:si>"
        "<x:si><x:t>Line_x000D_</x:t></x:si>"
        "<x:si><x:t>a_x005F_x0041_b</x:t></x:si>"
    )
    sheet_xml = (
        '<x:row r="1"><x:c r="A1" t="s"><x:v>0</x:v></x:c><x:c r="B1" t="s"><x:v>1</x:v></x:c>'
        '<x:c r="C1" t="s"><x:v>2</x:v></x:c><x:c r="E1" t="s"><x:v>6</x:v></x:c></x:row>'
        '<x:row r="3"><x:c r="A3" t="s"><x:v>4</x:v></x:c><x:c r="B3" t="s"><x:v>3</x:v></x:c>'
        '<x:c r="C3" s="1"><x:v>2134</x:v></x:c><x:c r="E3" t="s"><x:v>7</x:v></x:c></x:row>'
        f'<x:row r="4"><x:c r="A4" t="inlineStr"><x:is><x:t>{B}</x:t></x:is></x:c>'
        '<x:c r="B4" t="s"><x:v>5</x:v></x:c><x:c r="C4" s="2"><x:v>45352</x:v></x:c>'
        '<x:c r="E4" t="s"><x:v>8</x:v></x:c></x:row>'
    )
    sheet = load_sheet(handmade(tmp_path / "excel.xlsx", sheet_xml, strings))
    assert (sheet.sheet_name, sheet.headers) == ("Data", ("Customer ID", "City", "ZIP", "Street"))
    assert values(sheet) == {
        3: {"city": "San José", "postal_code": "02134", "address_line1": "Line"}
    }
    # A date where a postal code belongs (Excel turned it into one): flagged, naming the cell.
    [problem] = sheet.not_sent[0].problems
    assert (problem.row, problem.column, problem.value) == (4, "ZIP", "2024-03-01")
    assert "cell C4 holds a date" in problem.reason


def test_the_1904_date_system_is_honoured(tmp_path):
    strings = "<x:si><x:t>Customer ID</x:t></x:si><x:si><x:t>City</x:t></x:si>"
    sheet_xml = (
        '<x:row r="1"><x:c r="A1" t="s"><x:v>0</x:v></x:c><x:c r="B1" t="s"><x:v>1</x:v></x:c>'
        f'</x:row><x:row r="2"><x:c r="A2" t="str"><x:v>{A}</x:v></x:c><x:c r="B2" s="2">'
        "<x:v>1</x:v></x:c></x:row>"
    )
    sheet = load_sheet(handmade(tmp_path / "mac.xlsx", sheet_xml, strings, date1904=True))
    # day 1 in 1900 is 1900-01-01; a date in a text field is flagged with the date it shows
    assert [p.value for p in sheet.not_sent[0].problems] == ["1904-01-02"]


# --- xlsx structure and file errors -------------------------------------------------------------


def test_the_first_sheet_is_read_unless_one_is_named_in_any_case(tmp_path):
    book = Workbook()
    book.active.title = "Notes"
    book.active.append(["nothing here"])
    march = book.create_sheet("March")
    march.append(["Customer ID", "City"])
    march.append([A, "Paris"])
    book.save(tmp_path / "in.xlsx")
    assert load_sheet(tmp_path / "in.xlsx", "march").sheet_name == "March"
    with pytest.raises(InputError) as caught:
        load_sheet(tmp_path / "in.xlsx")
    assert str(caught.value).startswith(
        f'{tmp_path / "in.xlsx"} (sheet "Notes"): no header row with a customer id column in'
        ' the first 20 rows (row 1 holds: "nothing here")'
    )
    assert str(caught.value).endswith(
        'The workbook\'s sheets are "Notes", "March": choose one with --sheet NAME'
    )


def test_an_unknown_sheet_is_refused_listing_the_sheets_there_are(tmp_path):
    path = xlsx(tmp_path / "in.xlsx", [["Customer ID"]], sheets=("Customers", "Old"))
    with pytest.raises(InputError) as caught:
        load_sheet(path, "April")
    assert str(caught.value) == f'{path}: no sheet named "April"; the sheets are "Customers", "Old"'


def test_a_sheet_without_a_customer_id_column_is_refused_listing_headers_and_aliases(tmp_path):
    path = xlsx(tmp_path / "in.xlsx", [["Tenant", "City"], [A, "Paris"]])
    with pytest.raises(InputError) as caught:
        load_sheet(path)
    assert str(caught.value) == (
        f'{path} (sheet "Customers"): no header row with a customer id column in the first 20'
        ' rows (row 1 holds: "Tenant", "City"). Name that column one of: Customer ID, Customer'
        " Tenant ID, Tenant ID, Microsoft ID, or its Dutch, German, French, Spanish, Italian or"
        " Portuguese name (case, accents and punctuation are ignored), or say which column it"
        ' is with --map "Column=customer_id"'
    )


def test_unknown_headers_are_kept_and_listed_and_blank_header_columns_ignored(tmp_path):
    path = xlsx(
        tmp_path / "in.xlsx",
        [["Customer ID", "Notes", None, "Reseller"], [A, "call first", "stray", "Contoso"]],
    )
    sheet = load_sheet(path)
    assert sheet.unknown_headers == ("Notes", "Reseller")
    assert sheet.columns == {"customer_id": "Customer ID"}
    assert sheet.rows[0].raw == {"Customer ID": A, "Notes": "call first", "Reseller": "Contoso"}


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        (["Customer ID", "ZIP", "Postal Code"], 'columns "ZIP" (B) and "Postal Code" (C) both hold'
         " postal_code; keep one of them (or --ignore-column one)"),
        (["Customer ID", "Notes", "City", "Notes"], 'two columns are named "Notes" (B and D);'
         " rename one of them"),
    ],
)  # fmt: skip
def test_an_ambiguous_header_row_is_refused(tmp_path, headers, message):
    path = xlsx(tmp_path / "in.xlsx", [headers])
    with pytest.raises(InputError) as caught:
        load_sheet(path)
    assert str(caught.value).startswith(f"{path}: {message}")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("in.xlsx", b"not a zip", "not an Excel workbook (File is not a zip file); open it in"
         " Excel and save it as .xlsx (a password-protected workbook must be saved without its"
         " password)"),
        ("in.xls", b"\xd0\xcf\x11\xe0", "not an Excel 97-2003 workbook (.xls) that can be read"),
        ("in.pdf", b"Customer ID\n", "unknown file type .pdf; pcbatch reads .xlsx, .xlsm, .ods,"
         " .xls and .csv (.txt and .tsv as csv)"),
        ("in.csv", "Customer ID,City\nx,Москва\n".encode("cp1251"), 'not UTF-8 text (invalid'
         " continuation byte); read as Windows-1252 it would not be sure text (3 accented"
         " letters in a row on line 2), so it is not guessed. It reads as Windows-1251 text"
         " (`Москва`): if that is right, say so with --encoding windows-1251; or in Excel,"
         ' save it as "CSV UTF-8 (Comma delimited)"'),
    ],
)  # fmt: skip
def test_a_file_that_cannot_be_read_is_refused_saying_what_to_do(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError) as caught:
        load_sheet(path)
    assert str(caught.value).startswith(f"{path}: {message}")


def test_a_damaged_workbook_is_an_input_error(tmp_path):
    path = xlsx(tmp_path / "in.xlsx", [["Customer ID"], [A]])
    patch(path, "xl/worksheets/sheet1.xml", lambda xml: xml[: len(xml) // 2])
    with pytest.raises(InputError, match="the sheet is damaged"):
        load_sheet(path)


def test_a_missing_file_and_a_sheet_of_a_csv_are_refused(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_sheet(tmp_path / "nope.xlsx")
    (tmp_path / "in.csv").write_text("Customer ID\n", encoding="utf-8")
    with pytest.raises(InputError, match="a csv file has no sheets; leave out --sheet"):
        load_sheet(tmp_path / "in.csv", "Sheet1")


def test_a_blank_clear_token_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="--clear-token must not be blank"):
        load_sheet(tmp_path / "in.csv", clear_token=" ")


# --- csv ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig"])
def test_a_csv_reads_with_or_without_a_byte_order_mark(tmp_path, encoding):
    path = tmp_path / "in.csv"
    text = f"Customer ID,ZIP,Country,Phone\n{A},02134,US,4255551234\n{B},#N/A,FR,\n"
    path.write_text(text, encoding=encoding)
    sheet = load_sheet(path)
    assert sheet.headers == ("Customer ID", "ZIP", "Country", "Phone")
    assert values(sheet) == {
        2: {"postal_code": "02134", "country": "US", "phone_number": "4255551234"},
    }
    assert sheet.not_sent[0].problems[0] == Problem(
        3,
        "ZIP",
        "#N/A",
        "#N/A would clear a field Partner Center requires; leave the cell blank to keep the"
        " current value, or fill it in",
    )


def test_a_csv_separated_by_semicolons_as_some_excel_locales_save_it_reads_too(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text(f"Customer ID;City;Street\n{A};Köln;Hohe Str. 1, Hof\n", encoding="utf-8")
    assert values(load_sheet(path)) == {2: {"city": "Köln", "address_line1": "Hohe Str. 1, Hof"}}


def test_csv_blank_lines_count_in_row_numbers_and_quoted_newlines_do_not(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text(
        f'Customer ID,Street\n{A},"1 Main St\nBuilding 2"\n\n,\n{B},2 High St\n', encoding="utf-8"
    )
    sheet = load_sheet(path)
    assert [(r.number, r.values["address_line1"]) for r in sheet.rows] == [(5, "2 High St")]
    # The quoted line break stays in its cell (row 2), which is invalid for it (one field,
    # one line), not a row of its own.
    [broken] = sheet.not_sent
    assert (broken.number, broken.problems[0].value) == (2, "1 Main St\nBuilding 2")
    assert "holds a line break" in broken.problems[0].reason


def test_a_malformed_or_empty_csv_is_an_input_error(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text(f"Customer ID,City\n{A},Paris,extra\n", encoding="utf-8")
    with pytest.raises(InputError, match="not a well-formed csv file"):
        load_sheet(path)
    path.write_text("", encoding="utf-8")
    with pytest.raises(InputError, match=r"row 1 holds: none"):
        load_sheet(path)


def test_the_quote_that_guards_a_formula_in_failed_csv_comes_off_when_read_back(tmp_path):
    path = tmp_path / "failed.csv"
    path.write_text(f"Customer ID,Phone,City\n{A},'+1 425 555 0100,'s-Hertogenbosch\n", "utf-8")
    assert values(load_sheet(path)) == {
        2: {"phone_number": "+1 425 555 0100", "city": "'s-Hertogenbosch"}
    }


# --- what leaves the loader ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["customers.xlsx", "customers.csv"])
def test_nothing_but_plain_str_and_none_leaves_the_loader(name):
    sheet = load_sheet(SAMPLES / name)
    for row in [*sheet.rows, *sheet.not_sent]:
        assert type(row.number) is int
        assert type(row.customer_id) is str
        assert all(type(k) is str and type(v) is str for k, v in row.raw.items())
    for row in sheet.rows:
        assert all(type(k) is str and (v is None or type(v) is str) for k, v in row.values.items())
        assert not any(isinstance(v, float) and math.isnan(v) for v in row.values.values())
    for rejected in sheet.not_sent:
        assert all(type(p.value) is str and type(p.row) is int for p in rejected.problems)


def test_the_sample_xlsx_and_csv_load_to_the_same_rows():
    from_xlsx, from_csv = (
        load_sheet(SAMPLES / "customers.xlsx"),
        load_sheet(SAMPLES / "customers.csv"),
    )
    assert from_xlsx.rows == from_csv.rows
    assert from_xlsx.not_sent == from_csv.not_sent
    assert (from_xlsx.format, from_csv.format) == ("xlsx", "csv")
    assert [r.status for r in from_xlsx.not_sent].count(Status.DUPLICATE) == 1
    assert isinstance(from_xlsx.rows[0], Row)


def test_the_input_hash_is_the_sha256_of_the_files_bytes(tmp_path):
    path = tmp_path / "in.csv"
    path.write_bytes(b"Customer ID\n")
    assert input_sha256(path) == hashlib.sha256(b"Customer ID\n").hexdigest()
    with pytest.raises(InputError):
        input_sha256(tmp_path / "missing.csv")


# --- sheets other programs write ----------------------------------------------------------------


def libreoffice(path, sheet_xml, workbook_pr='<workbookPr date1904="false"/>', merge=""):
    """A workbook as LibreOffice saves it: no prefixes, `true`/`false` booleans, inline parts."""
    parts = {
        "_rels/.rels": f'<Relationships xmlns="{RELS}"><Relationship Id="rId1"'
        f' Type="{OFFICE}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<workbook xmlns="{MAIN}" xmlns:r="{OFFICE}">{workbook_pr}<sheets>'
        '<sheet name="Blad1" sheetId="1" state="visible" r:id="rId2"/></sheets>'
        '<calcPr iterateCount="100" refMode="A1" iterate="false" iterateDelta="0.001"/>'
        "</workbook>",
        "xl/_rels/workbook.xml.rels": f'<Relationships xmlns="{RELS}">'
        f'<Relationship Id="rId2" Type="{OFFICE}/worksheet" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId1" Type="{OFFICE}/styles" Target="styles.xml"/></Relationships>',
        "xl/styles.xml": f'<styleSheet xmlns="{MAIN}"><cellXfs count="2"><xf numFmtId="0"/>'
        '<xf numFmtId="14"/></cellXfs></styleSheet>',
        "xl/worksheets/sheet1.xml": f'<worksheet xmlns="{MAIN}"><sheetData>{sheet_xml}'
        f"</sheetData>{merge}</worksheet>",
    }
    with zipfile.ZipFile(path, "w") as z:
        for name, text in parts.items():
            z.writestr(name, text)
    return path


def cells(row, *values):
    """`<row>` of inline strings A, B, C... (None: no cell)."""
    out = "".join(
        f'<c r="{chr(65 + i)}{row}" t="inlineStr"><is><t>{v}</t></is></c>'
        for i, v in enumerate(values)
        if v is not None
    )
    return out


def test_a_libreoffice_sheet_reads_hidden_rows_formula_errors_and_typed_errors(tmp_path):
    sheet_xml = (
        f'<row r="1">{cells(1, "Customer ID", "City", "Phone")}</row>'
        f'<row r="2">{cells(2, A, "Delft")}<c r="C2" t="e"><f>VLOOKUP(A2;$Tel.A:B;2;0)</f>'
        "<v>#N/A</v></c></row>"
        f'<row r="3" hidden="true">{cells(3, B, "Gouda")}</row>'
        f'<row r="4">{cells(4, B.replace("7c", "8c"), "Ede", "#N/A")}</row>'
    )
    path = libreoffice(tmp_path / "lo.xlsx", sheet_xml)
    sheet = load_sheet(path)
    statuses = [(r.number, r.status) for r in sheet.not_sent]
    assert statuses == [(2, Status.INVALID), (3, Status.SKIPPED)]
    assert "cell C2: its formula gives an Excel error value" in sheet.not_sent[0].message
    assert values(sheet) == {4: {"city": "Ede", "phone_number": None}}  # typed text clears
    assert values(load_sheet(path, include_hidden=True))[3] == {"city": "Gouda"}


def test_the_1904_date_system_holds_when_an_extension_repeats_workbookpr(tmp_path):
    # Excel for Mac writes a second workbookPr (without date1904) in an extension list.
    workbook_pr = (
        '<workbookPr date1904="1"/><extLst><ext uri="{x}"><mx:workbookPr'
        ' xmlns:mx="http://schemas.microsoft.com/office/mac/excel/2008/main"/></ext></extLst>'
    )
    sheet_xml = (
        f'<row r="1">{cells(1, "Customer ID", "City")}</row>'
        f'<row r="2">{cells(2, A)}<c r="B2" s="1"><v>1</v></c></row>'
    )
    sheet = load_sheet(libreoffice(tmp_path / "mac.xlsx", sheet_xml, workbook_pr))
    assert [p.value for p in sheet.not_sent[0].problems] == ["1904-01-02"]


def test_a_merged_title_above_the_headers_is_fine_but_merged_data_rows_are_refused(tmp_path):
    sheet_xml = (
        f'<row r="1">{cells(1, "Update")}</row>'
        f'<row r="2">{cells(2, "Customer ID", "City")}</row>'
        f'<row r="3">{cells(3, A, "Delft")}</row><row r="4">{cells(4, B)}</row>'
    )
    title = '<mergeCells count="1"><mergeCell ref="A1:B1"/></mergeCells>'
    sheet = load_sheet(libreoffice(tmp_path / "ok.xlsx", sheet_xml, merge=title))
    assert (sheet.header_row, values(sheet)) == (2, {3: {"city": "Delft"}, 4: {}})
    spread = '<mergeCells count="2"><mergeCell ref="A1:B1"/><mergeCell ref="B3:B4"/></mergeCells>'
    with pytest.raises(InputError, match="merged cells B3:B4 span several rows"):
        load_sheet(libreoffice(tmp_path / "bad.xlsx", sheet_xml, merge=spread))


def test_a_million_styled_empty_rows_read_as_none(tmp_path):
    # Only correctness here (speed: bench/bench_load.py): cells and rows with nothing in them
    # are cut out before parsing, and the rows after them keep their numbers and columns.
    empty = "".join(
        f'<row r="{r}" s="1" customFormat="1"><c r="A{r}" s="1"/><c r="B{r}" s="1"/></row>'
        for r in range(3, 2003)
    )
    sheet_xml = (
        f'<row r="1">{cells(1, "Customer ID", "City")}</row>'
        f'<row r="2">{cells(2, A, "Delft")}</row>{empty}'
        f'<row r="2003"><c r="A2003" s="1"/>{cells(2003, None, "Ede")}</row>'
    )
    sheet = load_sheet(libreoffice(tmp_path / "styled.xlsx", sheet_xml))
    assert values(sheet) == {2: {"city": "Delft"}}
    assert [(r.number, r.raw) for r in sheet.not_sent] == [
        (2003, {"Customer ID": "", "City": "Ede"})
    ]


def test_a_map_to_no_field_is_refused_naming_the_fields(tmp_path):
    path = xlsx(tmp_path / "in.xlsx", [["Klantnr"], [A]])
    message = '--map "Klantnr=klant": klant is no field; use one of: customer_id'
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_sheet(path, column_map={"Klantnr": "klant"})


def test_a_map_without_a_field_is_refused_saying_how_to_write_it():
    from batch.core.options import RUN_OPTIONS

    with pytest.raises(ValueError, match=re.escape('--map "nofield" is not valid: use "Column')):
        RUN_OPTIONS["column_map"].from_command_line("nofield")


def test_a_map_or_ignore_naming_no_column_is_refused_listing_the_headers(tmp_path):
    path = xlsx(tmp_path / "in.xlsx", [["Customer ID", "City"], [A, "Delft"]])
    with pytest.raises(InputError) as caught:
        load_sheet(path, ignore_columns=["Notes"])
    assert str(caught.value) == (
        f'{path}: --map/--ignore-column name(s) "Notes" match no column; the headers are'
        ' "Customer ID", "City"'
    )
