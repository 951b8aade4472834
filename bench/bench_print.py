"""results.xlsx on paper: a 1,000-row report printed to PDF by LibreOffice, on A4 and Letter.

Usage: python bench/bench_print.py [--rows 1000] [--keep DIR]

A journal of N rows is made (bench_journal's sheet; a third `updated` with three changed
fields, the rest spread over the other statuses with messages of the service's length; 30
countries whose rules were not checked, the ~900 characters that once shrank the Summary to
1 pt), its report written, then results.xlsx printed with LibreOffice headless (`soffice
--convert-to pdf`) once for each paper: the file names no paper (the printer's is used), so
the bench writes a copy naming A4 (paperSize 9) and one naming Letter (1).

Prints, for each paper and sheet: the pages, the page size (mm), the size most of its text
is drawn in (pt) with its scale of the 11 pt the sheet is written in, and the smallest size
(the Summary's chart labels are 10 pt); then how many pages are blank. The sheet of a page
is read from its footer ("<sheet>, page N of M"). Needs soffice
(`apt-get install libreoffice-calc`) and pypdf (`pip install -e '.[bench]'`); --keep DIR
keeps the PDFs (look at a page: `pdftoppm -png -r 60 -f 2 -l 2 DIR/A4.pdf page`).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_journal import guid, sheet_of

from batch.core.country_rules import RulesAnswer
from batch.core.model import Change, Outcome, RunStats, Status
from batch.durable.journal import Journal
from batch.output.report import write_report

PAPERS = {"A4": 9, "Letter": 1}  # ECMA-376 paperSize codes
WRITTEN_PT = 11.0  # the sheets' font (Calibri 11)
OTHERS = [s for s in Status if s is not Status.UPDATED]
MESSAGES = {
    Status.REJECTED: "The postal code is not valid for the country: use the format NNNNN",
    Status.NOT_FOUND: "Customer not found in this partner's tenant (404)",
    Status.FAILED: "service unavailable (503) after 6 attempts over 2 min 10 s",
    Status.INVALID: "Postal Code: 'ABC' is not a postal code of US (5 digits, or 5+4)",
    Status.SKIPPED: "not started: interrupted by SIGINT; rerun with --resume to continue",
}
FOOTER = re.compile(r"(.+), page (\d+) of (\d+)")


def outcome(n: int) -> Outcome:
    if n % 3 == 0:
        changes = (
            Change("address_line1", f"{n} Old Road", f"{n} Main Street"),
            Change("city", "Bellevue", "Redmond"),
            Change("phone_number", None, f"+1 425 555 {n % 10000:04d}"),
        )
        return Outcome(n, guid(n), Status.UPDATED, attempts=2, http_status=200, changes=changes)
    status = OTHERS[n % len(OTHERS)]
    message = MESSAGES.get(status, "")
    return Outcome(n, guid(n), status, attempts=1, http_status=400, message=message)


def prepare(folder: Path, rows: int) -> None:
    with Journal.open(folder) as journal:
        journal.start_run(sheet_of(rows), "00" * 32, {"tenant": "bench", "cloud": "global"})
        for iso2 in [f"{a}{b}" for a in "KQX" for b in "ABCDEFGHIJ"]:
            journal.record_rules(
                RulesAnswer(iso2, None, "Partner Center publishes no rules for it (404)")
            )
        for n in range(2, rows + 2):
            journal.record(outcome(n))
        journal.finish_run(RunStats(requests=2 * rows, rate_final=45.48, rate_min=12.3), 1)
        write_report(folder, journal)


def with_paper(xlsx: Path, target: Path, paper: int) -> None:
    """A copy of xlsx whose every sheet names the paper (attribute added to <pageSetup>)."""
    with zipfile.ZipFile(xlsx) as source, zipfile.ZipFile(target, "w") as copy:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename.startswith("xl/worksheets/sheet"):
                data = data.replace(b"<pageSetup ", f'<pageSetup paperSize="{paper}" '.encode())
            copy.writestr(item, data)


def font_sizes(page: object) -> Counter[float]:
    """Characters drawn in each font size (pt: Tf size times the text matrix), footer aside."""
    sizes: Counter[float] = Counter()

    def visit(text: str, cm: list[float], tm: list[float], font: object, size: float) -> None:
        if text.strip() and not FOOTER.search(text) and "page" not in text:
            drawn = abs(size * tm[3] * cm[3]) or abs(size * tm[0] * cm[0])
            sizes[round(drawn, 1)] += len(text.strip())

    page.extract_text(visitor_text=visit)  # type: ignore[attr-defined]
    return sizes


def measure(pdf: Path) -> None:
    """Per sheet: pages, page size, the size most text is drawn in and the smallest."""
    from pypdf import PdfReader

    reader = PdfReader(pdf)
    pages: dict[str, int] = Counter()
    paper: dict[str, tuple[float, float]] = {}
    sizes: dict[str, Counter[float]] = defaultdict(Counter)
    blank = 0
    for page in reader.pages:
        text = page.extract_text() or ""
        found = FOOTER.search(text)
        name = found.group(1).strip() if found else "(no footer)"
        lines = [line for line in text.splitlines() if line.strip() and not FOOTER.search(line)]
        blank += not lines
        box = page.mediabox
        paper[name] = (float(box.width) * 25.4 / 72, float(box.height) * 25.4 / 72)
        pages[name] += 1
        sizes[name] += font_sizes(page)
    for name, count in pages.items():
        width, height = paper[name]
        body = sizes[name].most_common(1)[0][0] if sizes[name] else 0.0
        smallest = min(sizes[name], default=0.0)
        print(
            f"  {name:22} {count:4} pages  {width:.0f} x {height:.0f} mm  text {body:.1f} pt"
            f" ({body / WRITTEN_PT:.0%} of {WRITTEN_PT:g}), smallest {smallest:.1f} pt"
        )
    print(f"  blank pages: {blank} of {len(reader.pages)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--keep", type=Path, help="keep the report and PDFs in this folder")
    args = parser.parse_args()
    soffice = shutil.which("soffice")
    if soffice is None:
        sys.exit("soffice not found: apt-get install libreoffice-calc, then run this again")
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-print-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        prepare(folder, args.rows)
        for paper, code in PAPERS.items():
            copy = folder / f"{paper}.xlsx"
            with_paper(folder / "results.xlsx", copy, code)
            profile = (folder / "lo-profile").resolve().as_uri()  # no clash with a user's
            subprocess.run(
                [soffice, f"-env:UserInstallation={profile}", "--headless", "--convert-to",
                 "pdf", "--outdir", str(folder), str(copy)],
                check=True, capture_output=True, timeout=600,
            )  # fmt: skip
            print(f"{paper}, {args.rows:,} rows:")
            measure(folder / f"{paper}.pdf")
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
