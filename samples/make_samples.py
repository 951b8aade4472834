"""Writes the sample input and the stand-in's seed: customers.xlsx, customers.csv, customers.json.

Usage: python samples/make_samples.py   (writes next to this file; the outputs are committed)

The sheet is what an operations person would hand over: human headers, a `Notes` column pcbatch
does not know, a ZIP code stored as a number with a 00000 format, a phone number stored as a
number, a `#N/A` that clears a field, and deliberate mistakes that `pcbatch validate` explains.
customers.csv holds the same cells as Excel shows them (UTF-8 with a byte-order mark, as Excel's
"CSV UTF-8" writes). customers.json seeds `pcbatch demo`'s stand-in so that the run shows a mix:
most rows `updated`, one `unchanged`, one `not_found`, the mistakes `invalid`, one `duplicate`.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font

HERE = Path(__file__).resolve().parent
HEADERS = (
    "Customer ID",
    "Street",
    "Address Line 2",
    "City",
    "State",
    "ZIP",
    "Country",
    "Phone",
    "Email",
    "Notes",
)
ZIP, PHONE = HEADERS.index("ZIP"), HEADERS.index("Phone")

BOSTON = "3f2b8c1e-6d4a-4b7e-9c21-5a8e0f7d2b64"
REDMOND = "8d0e4a7b-1c3f-4e92-b6a8-2f5c9d1e7a30"
LONDON = "c4a91f2d-7e5b-4c08-8a3d-6b1e2f9c0d57"
KOLN = "1e7c3a9b-5f2d-4a86-b0c4-9d8e7f6a5b12"
PARIS = "6b5a4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d"
TORONTO = "a2d4f6b8-0c1e-4f3a-8b5d-7c9e1a3b5d70"
TOKYO = "f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b"
AMSTERDAM = "b7c8d9e0-f1a2-4b3c-8d4e-5f6a7b8c9d0e"
BENGALURU = "3c4d5e6f-7a8b-4c9d-a0e1-f2a3b4c5d6e7"
NEW_YORK = "5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f"
SYDNEY = "9e8d7c6b-5a4f-4e3d-9c2b-1a0f9e8d7c6b"  # a valid id the stand-in does not know
PROVIDENCE = "2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d"
DUBLIN = "7f6e5d4c-3b2a-4190-8f7e-6d5c4b3a2f10"
AUSTIN = "0d1c2b3a-4f5e-4d6c-8b7a-9f8e7d6c5b4a"

# One sheet row per tuple, in HEADERS order. A ZIP or phone given as an int is stored as a
# number (the ZIP with the 00000 format when the tuple's last item says so).
ROWS: tuple[tuple[object, ...], ...] = (
    (BOSTON, "100 Summer St", "Floor 12", "Boston", "MA", 2134, "US", 6175550142,
     "ap@northwind.example", "ZIP is a number formatted 00000; phone is a number", True),
    (REDMOND, "1 Microsoft Way", "", "Redmond", "WA", "98052-6399", "US", "+1 425 555 0100",
     "billing@contoso.example", "ZIP+4 typed as text", False),
    (LONDON, "10 Downing St", "", "London", "", "SW1A 2AA", "GB", "+44 20 7946 0958",
     "accounts@fabrikam.example", "", False),
    (KOLN, "Hauptstraße 5", "", "Köln", "", "50667", "de", "+49 221 555 0199",
     "rechnung@adatum.example", "country in lower case is fine", False),
    (PARIS, "12 Rue de la Paix", "", "Paris", "", "75002", "FR", "+33 1 55 55 01 02",
     "factures@tailspin.example", "already up to date: ends unchanged", False),
    ("{" + TORONTO.upper() + "}", "200 Bay St", "Suite 3400", "Toronto", "ON", "M5J 2J2",
     "CA", "+1 416 555 0144", "ap@woodgrove.example", "id with braces, upper case", False),
    (TOKYO, "1-1 Marunouchi", "", "Chiyoda-ku", "Tokyo", "100-0005", "JP", "+81 3 5555 0123",
     "seikyu@litware.example", "", False),
    (AMSTERDAM, "Herengracht 182", "", "Amsterdam", "", "1016 BR", "NL", "+31 20 555 0133",
     "", "", False),
    (BENGALURU, "26 MG Road", "3rd Floor", "Bengaluru", "Karnataka", 560001, "IN",
     "+91 80 5555 0101", "", "PIN code stored as a plain number", False),
    (NEW_YORK, "350 Fifth Ave", "#N/A", "New York", "NY", 10118, "US", "+1 212 555 0175",
     "", "#N/A clears Address Line 2", True),
    (SYDNEY, "1 Macquarie St", "", "Sydney", "NSW", "2000", "AU", "+61 2 5550 1234",
     "accounts@proseware.example", "not a customer of this partner: ends not_found", False),
    ("4a1b-77c2-9d0e", "5 Main St", "", "Springfield", "IL", "62701", "US", "",
     "", "mistake: truncated customer id", False),
    (PROVIDENCE, "75 Fountain St", "", "Providence", "RI", 2903, "US", "+1 401 555 0168",
     "", "mistake: ZIP lost its leading zero (no 00000 format)", False),
    (DUBLIN, "1 Grand Canal Sq", "", "Dublin", "", "D02 P820", "UK", "+353 1 555 0111",
     "", "mistake: UK is not an ISO code (GB is, and Dublin is in IE)", False),
    (REDMOND, "1 Microsoft Way", "", "Redmond", "WA", "98052-6399", "US", "+1 425 555 0100",
     "billing@contoso.example", "same as row 3: ends duplicate", False),
    (KOLN, "Domkloster 4", "", "Köln", "", "50667", "DE", "+49 221 555 0199",
     "rechnung@adatum.example", "mistake: row 5 has another street for this customer", False),
    (AUSTIN, "500 W 2nd St", "", "#REF!", "TX", "78701", "US", "+1 512 555 0190",
     "", "mistake: a broken formula (#REF!) in City", False),
)  # fmt: skip

# What the stand-in holds before the demo: the customers of the sheet's valid ids but SYDNEY.
BEFORE: dict[str, dict[str, str]] = {
    BOSTON: {"addressLine1": "1 Old Colony Rd", "city": "Boston", "state": "MA",
             "postalCode": "02110", "country": "US", "phoneNumber": "6175550100",
             "company": "Northwind Traders", "email": "billing@northwind.example"},
    REDMOND: {"addressLine1": "15010 NE 36th St", "city": "Redmond", "state": "WA",
              "postalCode": "98052", "country": "US", "phoneNumber": "+1 425 555 0199",
              "company": "Contoso Ltd", "email": "billing@contoso.example"},
    LONDON: {"addressLine1": "1 Canada Sq", "city": "London", "postalCode": "E14 5AB",
             "country": "GB", "phoneNumber": "+44 20 7946 0000", "company": "Fabrikam Ltd",
             "email": "accounts@fabrikam.example"},
    KOLN: {"addressLine1": "Hohe Str. 1", "city": "Köln", "postalCode": "50667",
           "country": "DE", "phoneNumber": "+49 221 555 0199", "company": "Adatum GmbH",
           "email": "rechnung@adatum.example"},
    PARIS: {"addressLine1": "12 Rue de la Paix", "city": "Paris", "postalCode": "75002",
            "country": "FR", "phoneNumber": "+33 1 55 55 01 02", "company": "Tailspin SARL",
            "email": "factures@tailspin.example"},
    TORONTO: {"addressLine1": "100 King St W", "city": "Toronto", "state": "ON",
              "postalCode": "M5X 1A9", "country": "CA", "phoneNumber": "+1 416 555 0144",
              "company": "Woodgrove Bank", "email": "ap@woodgrove.example"},
    TOKYO: {"addressLine1": "2-7-2 Marunouchi", "city": "Chiyoda-ku", "state": "Tokyo",
            "postalCode": "100-7090", "country": "JP", "phoneNumber": "+81 3 5555 0123",
            "company": "Litware KK", "email": "seikyu@litware.example"},
    AMSTERDAM: {"addressLine1": "Prinsengracht 263", "city": "Amsterdam",
                "postalCode": "1016 GV", "country": "NL", "phoneNumber": "+31 20 555 0133",
                "company": "Margie's Travel BV", "email": "finance@margies.example"},
    BENGALURU: {"addressLine1": "1 Residency Rd", "city": "Bengaluru", "state": "Karnataka",
                "postalCode": "560025", "country": "IN", "phoneNumber": "+91 80 5555 0101",
                "company": "Trey Research Pvt Ltd", "email": "accounts@treyresearch.example"},
    NEW_YORK: {"addressLine1": "350 Fifth Ave", "addressLine2": "Suite 5000",
               "city": "New York", "state": "NY", "postalCode": "10118", "country": "US",
               "phoneNumber": "+1 212 555 0100", "company": "Blue Yonder Airlines",
               "email": "ap@blueyonder.example"},
    PROVIDENCE: {"addressLine1": "1 Citizens Plz", "city": "Providence", "state": "RI",
                 "postalCode": "02903", "country": "US", "phoneNumber": "+1 401 555 0100",
                 "company": "Coho Winery", "email": "billing@coho.example"},
    DUBLIN: {"addressLine1": "1 Grand Canal Sq", "city": "Dublin", "postalCode": "D02 P820",
             "country": "IE", "phoneNumber": "+353 1 555 0111", "company": "Humongous Ltd",
             "email": "accounts@humongous.example"},
    AUSTIN: {"addressLine1": "500 W 2nd St", "city": "Austin", "state": "TX",
             "postalCode": "78701", "country": "US", "phoneNumber": "+1 512 555 0190",
             "company": "Lucerne Publishing", "email": "ap@lucerne.example"},
}  # fmt: skip
ADDRESS_KEYS = ("addressLine1", "addressLine2", "city", "state", "postalCode", "country")


def shown(value: object, zero_padded: bool) -> str:
    """A cell as Excel shows it (what the csv holds)."""
    if isinstance(value, int):
        return f"{value:05d}" if zero_padded else str(value)
    return str(value)


def write_xlsx(path: Path) -> None:
    """The sheet as Excel would save it: numbers stay numbers, #N/A and #REF! are error cells."""
    book = Workbook()
    ws = book.active
    assert ws is not None
    ws.title = "Customers"
    ws.append(HEADERS)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for *cells, zero_padded in ROWS:
        ws.append([v if v != "" else None for v in cells])
        if zero_padded:
            ws.cell(row=ws.max_row, column=ZIP + 1).number_format = "00000"
    ws.freeze_panes = "A2"
    for letter, width in zip("ABCDEFGHIJ", (40, 20, 16, 12, 7, 11, 8, 18, 28, 52), strict=True):
        ws.column_dimensions[letter].width = width
    book.save(path)


def write_csv(path: Path) -> None:
    """The same cells as text, UTF-8 with a byte-order mark."""
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADERS)
        for *cells, zero_padded in ROWS:
            writer.writerow([shown(v, zero_padded) for v in cells])


def profile(before: dict[str, str]) -> dict[str, object]:
    """A billing profile in the API's camelCase shape."""
    company = before["company"]
    first, last = ("Alex", "Kim") if len(company) % 2 else ("Sam", "Rivera")
    address: dict[str, str] = {k: before[k] for k in ADDRESS_KEYS if k in before}
    address |= {"firstName": first, "lastName": last, "phoneNumber": before["phoneNumber"]}
    return {
        "firstName": first,
        "lastName": last,
        "email": before["email"],
        "culture": "en-US",
        "language": "en",
        "companyName": company,
        "defaultAddress": address,
    }


def write_json(path: Path) -> None:
    """The stand-in's seed {customer_tenant_id: profile}."""
    seed = {customer: profile(before) for customer, before in BEFORE.items()}
    path.write_text(json.dumps(seed, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def main() -> None:
    write_xlsx(HERE / "customers.xlsx")
    write_csv(HERE / "customers.csv")
    write_json(HERE / "customers.json")


if __name__ == "__main__":
    main()
