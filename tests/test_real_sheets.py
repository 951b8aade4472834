"""Sheets as people hand them over, run against the stand-in over loopback: what is sent is
exactly what the person sees, and a sheet pcbatch cannot read surely sends nothing."""

import codecs
import re
import uuid
import zipfile

import pytest
from openpyxl import Workbook
from support import invoke, read_results, read_summary, rest

from batch.simulator import SimConfig

POSTAL = {"NL": "1012 AB", "DE": "10115", "FR": "75001", "US": "98052", "ES": "28013"}


@pytest.fixture
def sim(make_sim_thread):
    return make_sim_thread(SimConfig(customers=0, seed=1))


def customer(sim, country="NL", **address):
    """A customer of the stand-in with a known old profile; returns its id."""
    cid = str(uuid.UUID(int=len(sim.store) + 1, version=4))
    sim.store.add(
        cid,
        {
            "email": "old@example.com",
            "companyName": "Old Co",
            "defaultAddress": {
                "addressLine1": "Old Street 1",
                "city": "Oldtown",
                "postalCode": POSTAL[country],
                "country": country,
                "phoneNumber": "+31 20 123 4567",
                **address,
            },
        },
    )
    return cid


def address(sim, cid):
    return sim.store.profile(cid)["defaultAddress"]


def xlsx(path, rows, prepare=None):
    book = Workbook()
    ws = book.active
    ws.title = "Klanten"
    for row in rows:
        ws.append(row)
    if prepare:
        prepare(ws)
    book.save(path)
    return path


def patch(path, part, change):
    with zipfile.ZipFile(path) as old:
        parts = {name: old.read(name) for name in old.namelist()}
    before = parts[part].decode()
    parts[part] = change(before).encode()
    assert parts[part].decode() != before, "the patch did not apply"
    with zipfile.ZipFile(path, "w") as new:
        for name, data in parts.items():
            new.writestr(name, data)
    return path


def run(sim, tmp_path, path, *args):
    return invoke(["run", str(path), "--out", str(tmp_path / "out"), "--quiet", *args], sim)


# --- 1. headers in the users' languages, house numbers joined -----------------------------------


def test_a_dutch_sheet_with_a_house_number_column_sends_the_whole_new_address(sim, tmp_path):
    nl, de = customer(sim, "NL"), customer(sim, "DE")
    path = xlsx(
        tmp_path / "klanten.xlsx",
        [
            ["Klant-ID", "Straat", "Huisnummer", "Postcode", "Plaats", "Land", "Telefoon"],
            [nl, "Keizersgracht", "12", "1015 CS", "Amsterdam", "NL", "+31 20 555 0100"],
            [de, "Hauptstraße", "5a", "10117", "Berlin", "DE", None],
        ],
    )
    result = run(sim, tmp_path, path)
    assert result.exit_code == 0, result.output
    assert address(sim, nl) == {
        "addressLine1": "Keizersgracht 12",
        "city": "Amsterdam",
        "postalCode": "1015 CS",
        "country": "NL",
        "phoneNumber": "+31 20 555 0100",
    }
    assert (address(sim, de)["addressLine1"], address(sim, de)["city"]) == (
        "Hauptstraße 5a",
        "Berlin",
    )


def test_french_and_english_headers_and_a_number_first_country(sim, tmp_path):
    fr, us = customer(sim, "FR"), customer(sim, "US", state="WA")
    path = tmp_path / "clients.csv"
    path.write_text(
        "ID client;Numéro;Rue;Code postal;Ville;Pays;Courriel\n"
        f"{fr};10;rue de Rivoli;75004;Paris;FR;factures@exemple.fr\n"
        f"{us};1200;Main Street;98052;Redmond;US;billing@example.com\n",
        encoding="utf-8",
    )
    assert run(sim, tmp_path, path).exit_code == 0
    assert (address(sim, fr)["addressLine1"], address(sim, us)["addressLine1"]) == (
        "10 rue de Rivoli",
        "1200 Main Street",
    )
    assert sim.store.profile(fr)["email"] == "factures@exemple.fr"


def test_a_house_number_without_its_street_or_country_is_refused_row_by_row(sim, tmp_path):
    a, b = customer(sim, "NL"), customer(sim, "NL")
    path = tmp_path / "in.csv"
    path.write_text(
        f"Klant-ID,Straat,Huisnummer,Land\n{a},,12,NL\n{b},Dorpsstraat,3,\n", encoding="utf-8"
    )
    result = run(sim, tmp_path, path)
    assert result.exit_code == 1
    lines = read_results(tmp_path / "out")
    assert [line["status"] for line in lines] == ["invalid", "invalid"]
    assert "a house number without a street" in lines[0]["message"]
    assert "needs the row's country" in lines[1]["message"]
    assert [e for e in rest(sim) if e.method == "PUT"] == []


def test_map_names_a_column_and_a_job_files_columns_table_does_the_same(sim, tmp_path):
    cid = customer(sim, "NL")
    path = tmp_path / "in.csv"
    path.write_text(f"Klantnr,Woonadres,Notities\n{cid},Kerkstraat 7,bel eerst\n", "utf-8")
    result = run(
        sim, tmp_path, path, "--map", "Klantnr=customer_id", "--map", "woonadres=address_line1"
    )
    assert result.exit_code == 0, result.output
    assert address(sim, cid)["addressLine1"] == "Kerkstraat 7"

    job = tmp_path / "job.toml"
    job.write_text(
        'input = "in.csv"\nout = "out2"\n[columns]\n"Klantnr" = "customer_id"\n'
        '"Woonadres" = "address_line1"\n'
    )
    path.write_text(f"Klantnr,Woonadres\n{cid},Kerkstraat 9\n", "utf-8")
    assert invoke(["run", "--job", str(job), "--quiet"], sim).exit_code == 0
    assert address(sim, cid)["addressLine1"] == "Kerkstraat 9"


# --- 2. never half an address -------------------------------------------------------------------


def test_an_unknown_address_like_column_is_refused_before_anything_is_sent(sim, tmp_path):
    cid = customer(sim, "DE")
    path = xlsx(
        tmp_path / "in.xlsx",
        [["Kunden-ID", "Rechnungsadresse", "PLZ", "Ort"], [cid, "Neue Str. 1", "10117", "Berlin"]],
    )
    result = run(sim, tmp_path, path)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f'pcbatch: {path}: column "Rechnungsadresse" (B) looks like address_line1 but matches'
        " no field, so it would not be sent; say what it holds with --map"
        ' "Rechnungsadresse=address_line1" (or another field), or leave it out with'
        ' --ignore-column "Rechnungsadresse"'
    ]
    assert rest(sim) == []
    assert address(sim, cid)["postalCode"] == "10115"  # not the new postcode alone

    result = run(sim, tmp_path, path, "--ignore-column", "Rechnungsadresse")
    assert result.exit_code == 0, result.output
    assert (address(sim, cid)["postalCode"], address(sim, cid)["addressLine1"]) == (
        "10117",
        "Old Street 1",
    )


# --- 3. formula errors never clear; placeholders refused ----------------------------------------


def test_a_failed_lookup_never_clears_while_typed_na_does(sim, tmp_path):
    a, b = customer(sim, "NL"), customer(sim, "NL")
    path = xlsx(
        tmp_path / "in.xlsx",
        [["Customer ID", "Phone", "Company Name"], [a, "x", "#N/A"], [b, "x", "New Co"]],
    )

    def lookups(xml):
        # B2: VLOOKUP found nothing (an error computed by a formula); B3: #N/A typed by hand
        # (Excel stores it as an error constant, no formula). Saved by Excel: no placeholder mark.
        xml = re.sub(
            r'<c r="B2"[^>]*>.*?</c>',
            '<c r="B2" t="e"><f>VLOOKUP(A2,Phones!A:B,2,FALSE)</f><v>#N/A</v></c>',
            xml,
        )
        return re.sub(r'<c r="B3"[^>]*>.*?</c>', '<c r="B3" t="e"><v>#N/A</v></c>', xml)

    patch(path, "xl/worksheets/sheet1.xml", lookups)
    patch(path, "xl/workbook.xml", lambda xml: xml.replace(' fullCalcOnLoad="1"', ""))
    result = run(sim, tmp_path, path)
    assert result.exit_code == 1
    first, second = read_results(tmp_path / "out")
    assert first["status"] == "invalid"
    assert first["message"].startswith("Phone: cell B2: its formula gives an Excel error value")
    assert address(sim, a)["phoneNumber"] == "+31 20 123 4567"
    assert sim.store.profile(a)["companyName"] == "Old Co"  # nothing of the row was sent
    assert second["status"] == "updated"
    assert "phoneNumber" not in address(sim, b)
    assert sim.store.profile(b)["companyName"] == "New Co"


def test_a_sheet_written_by_a_program_with_uncomputed_formulas_is_refused(sim, tmp_path):
    cid = customer(sim, "NL")
    path = xlsx(tmp_path / "in.xlsx", [["Customer ID", "City"], [cid, '=PROPER("delft")']])
    result = run(sim, tmp_path, path)
    assert result.exit_code == 2
    assert "formulas saved without the result Excel would show" in result.stderr
    assert "in B2;" in result.stderr
    assert rest(sim) == []


# --- 4. what is sent is what the person sees ----------------------------------------------------


def test_rows_hidden_by_a_filter_or_by_hand_are_skipped_unless_included(sim, tmp_path):
    ids = [customer(sim, "NL") for _ in range(3)]

    def hide(ws):
        ws.auto_filter.ref = "A1:B4"
        ws.row_dimensions[3].hidden = True  # filtered out
        ws.row_dimensions[4].hidden = True  # hidden by hand

    rows = [["Customer ID", "City"]] + [[cid, f"Stad {i}"] for i, cid in enumerate(ids)]
    path = xlsx(tmp_path / "in.xlsx", rows, hide)
    result = run(sim, tmp_path, path)
    assert result.exit_code == 1
    statuses = [(line["row"], line["status"]) for line in read_results(tmp_path / "out")]
    assert statuses == [("2", "updated"), ("3", "skipped"), ("4", "skipped")]
    assert "hidden in the sheet" in read_results(tmp_path / "out")[1]["message"]
    assert [address(sim, cid)["city"] for cid in ids] == ["Stad 0", "Oldtown", "Oldtown"]
    assert {e.customer_id for e in rest(sim) if e.customer_id} == {ids[0]}

    result = invoke(
        ["run", str(path), "--out", str(tmp_path / "all"), "--quiet", "--include-hidden"], sim
    )
    assert result.exit_code == 0
    assert [address(sim, cid)["city"] for cid in ids] == ["Stad 0", "Stad 1", "Stad 2"]


def test_a_merged_range_over_data_rows_is_refused_naming_it(sim, tmp_path):
    a, b = customer(sim, "NL"), customer(sim, "NL")
    rows = [["Customer ID", "City"], [a, "Delft"], [b, None]]
    path = xlsx(tmp_path / "in.xlsx", rows, lambda ws: ws.merge_cells("B2:B3"))
    result = run(sim, tmp_path, path)
    assert result.exit_code == 2
    assert "merged cells B2:B3 span several rows" in result.stderr
    assert rest(sim) == []


def test_title_rows_above_the_headers_are_passed_over_and_said(sim, tmp_path):
    cid = customer(sim, "NL")
    rows = [["Adreswijzigingen maart"], [], ["Klant-ID", "Plaats"], [cid, "Leiden"]]
    path = xlsx(tmp_path / "in.xlsx", rows)
    result = invoke(["run", str(path), "--out", str(tmp_path / "out")], sim)
    assert result.exit_code == 0, result.output
    assert 'the headers are in row 3 of sheet "Klanten"' in result.stderr
    assert address(sim, cid)["city"] == "Leiden"
    assert [line["row"] for line in read_results(tmp_path / "out")] == ["4"]


# --- 5. csv as Excel and ERPs write it ----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data"),
    [
        # Excel's plain "CSV" in a Dutch/German/French locale: Windows-1252 and `;`
        ("excel.csv", "Kunden-ID;Straße;Ort\n{cid};Hauptstraße 5;Köln – Süd\n".encode("cp1252")),
        # Excel's "Unicode Text": UTF-16 with its byte-order mark, tabs, saved as .txt
        (
            "unicode.txt",
            codecs.BOM_UTF16_LE
            + "Kunden-ID\tStraße\tOrt\r\n{cid}\tHauptstraße 5\tKöln – Süd\r\n".encode("utf-16-le"),
        ),
        # a `sep=` first line, as Excel writes it for the other locale
        ("sep.csv", "sep=;\nKunden-ID;Straße;Ort\n{cid};Hauptstraße 5;Köln – Süd\n".encode()),
        # an ERP export with `|`
        ("erp.csv", "Kunden-ID|Straße|Ort\n{cid}|Hauptstraße 5|Köln – Süd\n".encode()),
        # Excel's "CSV UTF-8": with a byte-order mark
        (
            "utf8.csv",
            codecs.BOM_UTF8 + "Kunden-ID,Straße,Ort\n{cid},Hauptstraße 5,Köln – Süd\n".encode(),
        ),
    ],
)
def test_every_csv_variant_sends_exactly_its_text(sim, tmp_path, name, data):
    cid = customer(sim, "DE")
    path = tmp_path / name
    path.write_bytes(data.replace(b"{cid}", cid.encode()).replace(
        "{cid}".encode("utf-16-le"), cid.encode("utf-16-le")))  # fmt: skip
    result = run(sim, tmp_path, path)
    assert result.exit_code == 0, result.output
    assert (address(sim, cid)["addressLine1"], address(sim, cid)["city"]) == (
        "Hauptstraße 5",
        "Köln – Süd",
    )


def test_a_csv_whose_encoding_is_unsure_is_refused_with_nothing_sent(sim, tmp_path):
    cid = customer(sim, "DE")
    path = tmp_path / "in.csv"
    path.write_bytes(f"Customer ID;City\n{cid};Москва\n".encode("cp1251"))
    result = run(sim, tmp_path, path)
    assert result.exit_code == 2
    assert "so it is not guessed" in result.stderr
    assert rest(sim) == []


# --- 6. invisible characters, GUIDs, the 1904 date system ---------------------------------------


def test_zero_width_and_no_break_spaces_are_cleaned_and_reported(sim, tmp_path):
    cid = customer(sim, "NL")
    path = xlsx(
        tmp_path / "in.xlsx",
        [
            ["Customer ID", "Street", "City"],
            [cid + "\u200b", "Kerk\u00a0straat\u00a07", "Delft\u200b"],
        ],
    )
    result = invoke(["run", str(path), "--out", str(tmp_path / "out")], sim)
    assert result.exit_code == 0, result.output
    assert (address(sim, cid)["addressLine1"], address(sim, cid)["city"]) == (
        "Kerk straat 7",
        "Delft",
    )
    assert "invisible characters cleaned in 3 cell(s)" in result.stderr
    assert "row 2 Street: made no-break space (U+00A0) a plain space" in result.stderr
    # The report says it too, cell by cell.
    cleaned = read_summary(tmp_path / "out")["cleaned_cells"]
    assert [(c["row"], c["column"]) for c in cleaned] == [
        (2, "Customer ID"),
        (2, "Street"),
        (2, "City"),
    ]
    assert cleaned[1]["what"] == "made no-break space (U+00A0) a plain space"


def test_a_guid_with_a_stray_character_names_it():
    from batch.core.validate import validate_rows

    bad = "0f8fad5b-d9cb-469f-a165\u201370867728950e"  # an en dash where a hyphen belongs
    _, [rejected] = validate_rows(
        [(2, {"Customer ID": bad})], {"customer_id": "Customer ID"}, "#N/A"
    )
    assert 'character 24 is "–" (U+2013 EN DASH)' in rejected.problems[0].reason
