"""Writes the sheet fixtures of tests/test_input_formats.py, once, with the real programs.

Usage (from the repository root; needs LibreOffice, openpyxl and XlsxWriter):
    apt-get install -y libreoffice-calc && pip install XlsxWriter
    python tests/data/make_fixtures.py

The files are committed, so the tests need none of these programs. Writers:
- openpyxl: the source workbook klanten_source.xlsx (a hidden first sheet of old data, the
  visible active sheet, number formats, a hidden row and a hidden unmapped column), and the
  source of the csv files;
- LibreOffice (soffice --headless --convert-to): klanten.ods and klanten.xls from that source,
  and the csv files in Windows-1250, Mac Roman, DOS 850 and Windows-1252 (the filter's third
  token is the character set: 33 MS_1250, 2 APPLE_ROMAN, 4 IBM_850, 1 MS_1252);
  the Mac Roman one then gets CR line ends, as Excel for Mac's "CSV (Macintosh)" writes them
  (LibreOffice writes LF);
- XlsxWriter: group_header.xlsx (a merged "Customer" / "Billing address" row above the real
  headers), formats.xlsx (phone formats Excel shows with literal characters, a street with a
  line break, a whole address in one cell, a format that cannot be rendered exactly) and
  hidden_column.xlsx (a hidden Telefoon column).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def guid(n: int) -> str:
    """The n-th fixed customer id of the fixtures (tests/test_input_formats.py uses the same)."""
    return f"00000000-0000-4000-8000-{n:012d}"


def klanten_source(path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    old = book.active
    old.title = "Oud"
    old.append(["Klant-ID", "Straat", "Plaats"])
    old.append([guid(1), "Oude Straat 1", "Oudorp"])
    old.sheet_state = "hidden"
    sheet = book.create_sheet("Klanten")
    sheet.append(["Klant-ID", "Straat", "Postcode", "Plaats", "Land", "Telefoon", "Notities"])
    sheet.append([guid(1), "Keizersgracht 12", "1015 CS", "Amsterdam", "NL", 31205550188, "x"])
    sheet.append([guid(2), "Hauptstraße 5", 10117, "Berlin", "DE", 4930123456, "y"])
    sheet.append([guid(3), "Verborgen 3", "1000 AA", "Amsterdam", "NL", None, "hidden row"])
    sheet.append([guid(4), "Main Street 1", 2134, "Boston", "US", 5551234, "z"])
    sheet["F2"].number_format = "+00 00 000 0000"
    sheet["F3"].number_format = "[<=9999999]###-####;(###) ###-####"
    sheet["C3"].number_format = "00000"
    sheet["C5"].number_format = "00000"
    sheet["F5"].number_format = "[<=9999999]###-####;(###) ###-####"
    sheet.row_dimensions[4].hidden = True
    sheet.column_dimensions["G"].hidden = True
    book.active = 1
    book.save(path)


def csv_source(path: Path, street: str, city: str) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["Customer ID", "Street", "City"])
    sheet.append([guid(5), street, city])
    book.save(path)


def soffice(source: Path, target: str, out: Path) -> Path:
    subprocess.run(
        ["soffice", "--headless", "--convert-to", target, "--outdir", str(out), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return out / f"{source.stem}.{target.split(':')[0]}"


def group_header(path: Path) -> None:
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Customers")
    bold = book.add_format({"bold": True, "align": "center"})
    sheet.merge_range("A1:B1", "Customer", bold)
    sheet.merge_range("C1:E1", "Billing address", bold)
    sheet.write_row(1, 0, ["Customer ID", "Company", "Street", "Postal code", "City"])
    sheet.write_row(2, 0, [guid(6), "Nieuw BV", "Stationsplein 1", "3511 ED", "Utrecht"])
    book.close()


def formats(path: Path) -> None:
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Klanten")
    plus = book.add_format({"num_format": "+00 00 000 0000"})
    phone = book.add_format({"num_format": "[<=9999999]###-####;(###) ###-####"})
    escaped = book.add_format({"num_format": '\\T\\e\\l\\: 000 "/" 0000'})
    decimals = book.add_format({"num_format": "#,##0.00"})
    sheet.write_row(0, 0, ["Customer ID", "Address", "Postcode", "City", "Country", "Phone"])
    sheet.write_row(1, 0, [guid(7), "Keizersgracht 12", "1015 CS", "Amsterdam", "NL"])
    sheet.write_number(1, 5, 31205550188, plus)
    sheet.write_row(2, 0, [guid(8), "Main Street 1", "98052", "Redmond", "US"])
    sheet.write_number(2, 5, 4255551234, phone)
    sheet.write_row(3, 0, [guid(9), "Nieuwe Gracht 9, 3512 LC Utrecht", "3512 LC", "Utrecht"])
    sheet.write_row(4, 0, [guid(10), "Kerkstraat 1\nGebouw B", "1017 GA", "Amsterdam", "NL"])
    sheet.write_row(5, 0, [guid(11), "Damrak 1", "1012 LG", "Amsterdam", "NL"])
    sheet.write_number(5, 5, 2055501, decimals)
    sheet.write_row(6, 0, [guid(12), "Damrak 2", "1012 LG", "Amsterdam", "NL"])
    sheet.write_number(6, 5, 5551234, escaped)
    book.close()


def hidden_column(path: Path) -> None:
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Klanten")
    sheet.write_row(0, 0, ["Klant-ID", "Plaats", "Telefoon"])
    sheet.write_row(1, 0, [guid(13), "Delft", "+31 15 000 0000"])
    sheet.set_column("C:C", None, None, {"hidden": True})
    book.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as temp:
        work = Path(temp)
        source = work / "klanten.xlsx"
        klanten_source(source)
        shutil.copy(source, HERE / "klanten_source.xlsx")
        for kind in ("ods", "xls"):
            shutil.copy(soffice(source, kind, work / kind), HERE / f"klanten.{kind}")
        texts = {
            "cp1250": ("Náměstí Míru 5", "Praha", 33),
            "macroman": ("Königsallee 1", "Düsseldorf", 2),
            "cp850": ("Industriestraße 4", "Köln", 4),
            "cp1252": ("Hauptstraße 5", "Köln – Süd", 1),
        }
        for name, (street, city, charset) in texts.items():
            source = work / f"{name}.xlsx"
            csv_source(source, street, city)
            target = f"csv:Text - txt - csv (StarCalc):59,34,{charset}"
            data = soffice(source, target, work / name).read_bytes()
            if name == "macroman":
                data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r")
            (HERE / f"{name}.csv").write_bytes(data)
    group_header(HERE / "group_header.xlsx")
    formats(HERE / "formats.xlsx")
    hidden_column(HERE / "hidden_column.xlsx")


if __name__ == "__main__":
    main()
