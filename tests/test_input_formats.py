"""Every sheet a reseller is handed, read exactly as the person saw it, or refused with the fix.

The files under tests/data/ were written by the real programs (LibreOffice, openpyxl and
XlsxWriter; tests/data/make_fixtures.py says how). Each test runs `pcbatch run` (or `validate`)
against the stand-in over loopback and asserts the exact values it stored, or the refusal with
nothing sent.
"""

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import invoke, read_results, rest

from batch.core.errors import InputError
from batch.core.model import Sheet
from batch.sheets.sheet import load_sheet
from batch.simulator import SimConfig

DATA = Path(__file__).parent / "data"
POSTAL = {"NL": "1012 AB", "DE": "10115", "US": "98052", "CZ": "110 00"}


def guid(n):
    """The n-th customer id of the fixtures (as tests/data/make_fixtures.py writes them)."""
    return f"00000000-0000-4000-8000-{n:012d}"


@pytest.fixture
def sim(make_sim_thread):
    return make_sim_thread(SimConfig(customers=0, seed=1))


def customer(sim, n, country="NL"):
    """Customer guid(n) of the stand-in, with a known old profile; returns its id."""
    cid = guid(n)
    old = {"addressLine1": "Old Street 1", "city": "Oldtown", "postalCode": POSTAL[country]}
    state = {"state": "WA"} if country == "US" else {}
    sim.store.add(
        cid,
        {
            "email": "old@example.com",
            "companyName": "Old Co",
            "defaultAddress": {**old, "country": country, "phoneNumber": "+1 1", **state},
        },
    )
    return cid


def address(sim, cid):
    return sim.store.profile(cid)["defaultAddress"]


def run(sim, tmp_path, path, *args, out="out"):
    return invoke(["run", str(path), "--out", str(tmp_path / out), "--quiet", *args], sim)


def puts(sim):
    return [e for e in rest(sim) if e.method == "PUT"]


# --- 1, 4, 6: the visible sheet, number formats as shown; ods and xls as xlsx -----------------


@pytest.mark.parametrize("name", ["klanten.ods", "klanten.xls", "klanten_source.xlsx"])
def test_the_active_visible_sheet_is_read_with_its_formats_as_shown(sim, tmp_path, name):
    ids = [customer(sim, 1), customer(sim, 2, "DE"), customer(sim, 3), customer(sim, 4, "US")]
    result = invoke(["run", str(DATA / name), "--out", str(tmp_path / "out")], sim)
    assert result.exit_code == 1, result.output  # row 4 is hidden: skipped
    assert 'read sheet "Klanten"; the hidden sheet(s) "Oud" are not read' in result.stderr
    assert address(sim, ids[0]) == {
        "addressLine1": "Keizersgracht 12",  # not the hidden sheet's "Oude Straat 1"
        "city": "Amsterdam",
        "postalCode": "1015 CS",
        "country": "NL",
        "phoneNumber": "+31 20 555 0188",  # +00 00 000 0000, as Excel and LibreOffice show it
    }
    assert (address(sim, ids[1])["postalCode"], address(sim, ids[1])["phoneNumber"]) == (
        "10117",
        "(493) 012-3456",  # Excel's "Phone Number" format, its second section
    )
    assert (address(sim, ids[3])["postalCode"], address(sim, ids[3])["phoneNumber"]) == (
        "02134",  # 00000
        "555-1234",  # its first section: [<=9999999]###-####
    )
    assert address(sim, ids[2])["addressLine1"] == "Old Street 1"  # a hidden row
    statuses = [(line["row"], line["status"]) for line in read_results(tmp_path / "out")]
    assert statuses == [("2", "updated"), ("3", "updated"), ("4", "skipped"), ("5", "updated")]


@pytest.mark.parametrize("name", ["klanten.ods", "klanten.xls"])
def test_a_hidden_sheet_is_read_only_when_sheet_names_it_and_that_is_said(sim, tmp_path, name):
    cid = customer(sim, 1)
    result = invoke(
        ["run", str(DATA / name), "--sheet", "oud", "--out", str(tmp_path / "out")], sim
    )
    assert result.exit_code == 0, result.output
    assert 'sheet "Oud" is hidden in the workbook; it is read because --sheet names it' in (
        result.stderr
    )
    assert (address(sim, cid)["addressLine1"], address(sim, cid)["city"]) == (
        "Oude Straat 1",
        "Oudorp",
    )


def test_a_hidden_column_that_maps_to_a_field_is_refused_with_the_ways_on(sim, tmp_path):
    cid = customer(sim, 13)
    path = DATA / "hidden_column.xlsx"
    result = run(sim, tmp_path, path)
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f'pcbatch: {path} (sheet "Klanten"): column(s) "Telefoon" (C) are hidden in the sheet,'
        " so nobody sees what they would send; unhide and check them, leave them out with"
        ' --ignore-column "Telefoon", or send them as they are with --include-hidden'
    )
    assert rest(sim) == []
    assert run(sim, tmp_path, path, "--ignore-column", "Telefoon", out="a").exit_code == 0
    assert (address(sim, cid)["city"], address(sim, cid)["phoneNumber"]) == ("Delft", "+1 1")
    assert run(sim, tmp_path, path, "--include-hidden", out="b").exit_code == 0
    assert address(sim, cid)["phoneNumber"] == "+31 15 000 0000"


# --- 3, 4: one field one value; formats that cannot be rendered -------------------------------


def test_formats_line_breaks_and_whole_addresses_as_validate_and_run_see_them(sim, tmp_path):
    ids = {n: customer(sim, n, "US" if n == 8 else "NL") for n in (7, 8, 9, 10, 11, 12)}
    path = DATA / "formats.xlsx"  # written by XlsxWriter
    shown = invoke(["validate", str(path)], sim)
    assert shown.exit_code == 1
    table = " ".join(shown.stdout.split())
    assert (
        "4 Address Nieuwe Gracht 9, 3512 L… looks like a whole address in one cell (it holds"
        ' its postal code "3512 LC" and its city "Utrecht"); put only the street and number'
        " here, and the postal code, city and country in their own columns"
    ) in table
    assert (
        "5 Address Kerkstraat 1 Gebouw B holds a line break (Alt+Enter, or text pasted from an"
        " e-mail or a CRM), which the billing profile cannot show; put the second line in its"
        " own Address Line 2 column"
    ) in table
    assert '6 Phone 2055501 cell F6 shows a number with the format "#,##0.00"' in table
    assert table.endswith(f'{path} (sheet "Klanten"): 6 rows: 3 valid, 3 invalid')

    result = run(sim, tmp_path, path)
    assert result.exit_code == 1
    assert address(sim, ids[7])["phoneNumber"] == "+31 20 555 0188"
    assert address(sim, ids[8])["phoneNumber"] == "(425) 555-1234"
    assert address(sim, ids[12])["phoneNumber"] == "Tel: 555 / 1234"  # escapes and quotes
    sent = {e.customer_id for e in puts(sim)}
    assert sent == {ids[7], ids[8], ids[12]}


def test_an_escaped_line_break_in_a_csv_is_decoded_and_refused(sim, tmp_path):
    cid = customer(sim, 1)
    path = tmp_path / "in.csv"
    path.write_text(f"Customer ID,Street\n{cid},Kerkstraat 1_x000D_ Gebouw B\n", "utf-8")
    result = run(sim, tmp_path, path)
    assert result.exit_code == 1
    [line] = read_results(tmp_path / "out")
    assert line["status"] == "invalid"
    assert "holds a line break" in line["message"]
    assert puts(sim) == []


# --- 2: the header row --------------------------------------------------------------------------


def test_a_group_row_above_the_headers_is_passed_over_and_no_field_dropped(sim, tmp_path):
    cid = customer(sim, 6)
    result = invoke(["run", str(DATA / "group_header.xlsx"), "--out", str(tmp_path / "o")], sim)
    assert result.exit_code == 0, result.output
    assert 'the headers are in row 2 of sheet "Customers"' in result.stderr
    assert sim.store.profile(cid)["companyName"] == "Nieuw BV"
    assert address(sim, cid) | {"phoneNumber": None} == {
        "addressLine1": "Stationsplein 1",
        "postalCode": "3511 ED",
        "city": "Utrecht",
        "country": "NL",
        "phoneNumber": None,
    }


def test_two_rows_that_could_each_be_the_header_are_refused_until_header_row_says(sim, tmp_path):
    cid = customer(sim, 1)
    path = tmp_path / "in.csv"
    # Row 1 names the customer id ("Customer") and the street; row 2 names the street, postal
    # code and city, its id column under a name that is no alias: taking row 1 would drop two.
    path.write_text(
        "Customer,Street,,\nKlantnr,Straat,Postcode,Plaats\n"
        f"{cid},Kerkstraat 7,1017 GA,Amsterdam\n",
        encoding="utf-8",
    )
    result = run(sim, tmp_path, path)
    assert result.exit_code == 2
    assert "rows 1 and 2 both look like the header row" in result.stderr
    assert "--header-row 2" in result.stderr
    assert rest(sim) == []
    result = run(sim, tmp_path, path, "--header-row", "2", "--map", "Klantnr=customer_id", out="o2")
    assert result.exit_code == 0, result.output
    assert (address(sim, cid)["postalCode"], address(sim, cid)["city"]) == ("1017 GA", "Amsterdam")


# --- 5: csv bytes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "encoding", "named", "street", "city"),
    [
        ("cp1250.csv", "windows-1250", "`Námìstí`", "Náměstí Míru 5", "Praha"),
        ("macroman.csv", "mac-roman", "as Mac Roman `Düsseldorf`", "Königsallee 1", "Düsseldorf"),
        ("cp850.csv", "cp850", "as DOS 850 `Industriestraße`", "Industriestraße 4", "Köln"),
    ],
)
def test_a_csv_in_another_code_page_is_refused_naming_a_word_until_encoding_says(
    sim, tmp_path, name, encoding, named, street, city
):
    cid = customer(sim, 5, "DE")
    path = DATA / name  # written by LibreOffice in that code page (Mac Roman: with CR line ends)
    result = run(sim, tmp_path, path)
    assert result.exit_code == 2
    assert named in result.stderr
    assert f"--encoding {encoding}" in result.stderr
    assert rest(sim) == []
    result = run(sim, tmp_path, path, "--encoding", encoding, out="o2")
    assert result.exit_code == 0, result.output
    assert (address(sim, cid)["addressLine1"], address(sim, cid)["city"]) == (street, city)


def test_a_western_csv_that_no_other_code_page_reads_otherwise_needs_no_flag(sim, tmp_path):
    cid = customer(sim, 5, "DE")
    assert run(sim, tmp_path, DATA / "cp1252.csv").exit_code == 0
    assert (address(sim, cid)["addressLine1"], address(sim, cid)["city"]) == (
        "Hauptstraße 5",
        "Köln – Süd",
    )


def test_an_encoding_in_a_job_file_reads_the_csv_so(sim, tmp_path):
    cid = customer(sim, 5, "DE")
    shutil.copy(DATA / "cp1250.csv", tmp_path / "in.csv")
    job = tmp_path / "job.toml"
    job.write_text('input = "in.csv"\nout = "out"\nencoding = "cp1250"\n', encoding="utf-8")
    assert invoke(["run", "--job", str(job), "--quiet"], sim).exit_code == 0
    assert address(sim, cid)["addressLine1"] == "Náměstí Míru 5"


@pytest.mark.parametrize("ending", ["\r", "\n", "\r\n"])
def test_cr_lf_and_crlf_line_ends_all_read(tmp_path, ending):
    path = tmp_path / "in.csv"
    path.write_bytes(ending.join(["Customer ID;City", f"{guid(1)};Delft", ""]).encode())
    assert [(r.number, r.values) for r in load_sheet(path).rows] == [(2, {"city": "Delft"})]


_TEMP = Path(tempfile.mkdtemp(prefix="pcbatch-bytes-"))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.binary(max_size=300),
        st.binary(max_size=300).map(lambda b: b"Customer ID,City,Street\r" + b),
        st.lists(st.sampled_from([b",", b";", b'"', b"\r", b"\n", b"\xe9", b"\x00", b"a"]))
        .map(b"".join)
        .map(lambda b: b"sep=,\nCustomer ID,City\n" + b),
    )
)
def test_any_bytes_give_a_sheet_or_an_input_error_never_another_exception(data):
    path = _TEMP / "in.csv"
    path.write_bytes(data)
    try:
        assert isinstance(load_sheet(path), Sheet)
    except InputError as exc:
        assert str(exc).startswith(str(path))


# --- 6: formats that are refused with the steps to go on ----------------------------------------


@pytest.mark.parametrize(
    ("name", "steps"),
    [
        ("in.xlsb", 'choose File > Save As, pick "Excel Workbook (*.xlsx)" as the type, save'),
        ("in.numbers", 'choose File > Export To > Excel..., keep "One per sheet", choose Save'),
    ],
)
def test_xlsb_and_numbers_are_refused_with_the_steps_to_save_as_xlsx(sim, tmp_path, name, steps):
    path = tmp_path / name
    path.write_bytes(b"PK\x03\x04")
    result = run(sim, tmp_path, path)
    assert result.exit_code == 2
    assert steps in result.stderr
    assert "give pcbatch the .xlsx file" in result.stderr
    assert rest(sim) == []


def test_validate_takes_encoding_and_header_row_as_run_does(tmp_path):
    from click.testing import CliRunner

    from batch.cli import cli

    path = tmp_path / "in.csv"
    path.write_bytes(
        "Adreswijzigingen\nKlant-ID;Straat;Plaats\n".encode("cp1250")
        + f"{guid(1)};Náměstí Míru 5;Praha\n".encode("cp1250")
    )
    refused = CliRunner().invoke(cli, ["validate", str(path)])
    assert refused.exit_code == 2
    assert "as Windows-1250 `Náměstí`" in refused.stderr
    args = ["validate", str(path), "--encoding", "windows-1250", "--header-row", "2"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith(f"{path}: 1 row: 1 valid, 0 invalid\n")
