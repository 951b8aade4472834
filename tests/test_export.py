"""`pcbatch export` over loopback: the paged list, the exact round trip, faults, errors, no PUT."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from batch.cli import cli
from batch.core.cells import neutralise, unneutralise
from batch.core.export_rows import EXPORT_HEADERS
from batch.core.options import RunOptions
from batch.engine.export import export_profiles
from tests.support import invoke, read_results, rest

US = {"addressLine1": "1 Main St", "city": "Boston", "state": "MA", "country": "US"}
TRICKY = {
    # leading zero, + phone, a company name a spreadsheet would run, an absent e-mail
    "0f8fad5b-d9cb-469f-a165-70867728950e": {
        "companyName": "=SUM(A1:A9)",
        "firstName": "Ann",
        "defaultAddress": {**US, "postalCode": "02134", "phoneNumber": "+1 617 555 0100"},
    },
    # non-Latin text, a name starting with `'` then `=`, `-` and `@` starts
    "1c9b2f3e-8a7d-4e6f-9b0a-2d3c4e5f6a7b": {
        "companyName": "'=株式会社 山田",
        "firstName": "Ελένη",
        "lastName": "-Παπαδοπούλου",
        "email": "@eleni@example.com",
        "defaultAddress": {
            "addressLine1": "شارع الملك فهد 12",
            "city": "Αθήνα",
            "postalCode": "105 57",
            "country": "GR",
            "phoneNumber": "+30 21 0000 0000",
        },
    },
    # values no cell can carry: left blank, which a run reads as "keep"
    "2d4e6f80-1a2b-4c3d-8e9f-0a1b2c3d4e5f": {
        "companyName": " Spaces Ltd ",
        "defaultAddress": {
            **US,
            "addressLine2": "#N/A",
            "postalCode": "2134",
            "country": "us",
        },
    },
}


@pytest.fixture
def customers_file(tmp_path):
    path = tmp_path / "customers.json"
    path.write_text(json.dumps(TRICKY, ensure_ascii=False), encoding="utf-8")
    return path


def _puts(sim):
    return [e for e in rest(sim) if e.method == "PUT"]


def _sheet_rows(path):
    """The cells as a person sees them: a csv's formula guard (`'` before `=`, `+`...) dropped."""
    if path.suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as f:
            return [[unneutralise(cell) for cell in line] for line in csv.reader(f)]
    book = load_workbook(path, read_only=True)
    width = len(EXPORT_HEADERS)  # read-only openpyxl drops a row's trailing blank cells
    rows = book.active.iter_rows(values_only=True)
    return [["" if v is None else v for v in (*row, *[None] * (width - len(row)))] for row in rows]


async def test_the_customer_list_comes_in_pages_of_at_most_500(make_sim, sim_client):
    sim = await make_sim(customers=1203)
    client = sim_client(sim)
    seen, page_sizes, headers = [], [], {}
    path = "/v1/customers?size=1000"
    while True:
        page = (await client.request("GET", path, headers=headers)).json
        seen += [item["id"] for item in page["items"]]
        page_sizes.append(len(page["items"]))
        item = page["items"][0]
        assert item["companyProfile"]["tenantId"] == item["id"]
        assert item["attributes"] == {"objectType": "Customer"}
        assert page["attributes"] == {"objectType": "Collection"}
        link = page["links"].get("next")
        if link is None:
            break
        assert "seekOperation=Next" in link["uri"]
        [header] = link["headers"]
        assert header["key"] == "MS-ContinuationToken"
        path, headers = link["uri"], {header["key"]: header["value"]}
    assert page_sizes == [500, 500, 203]
    assert seen == sim.store.ids()


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/v1/customers?size=5&seekOperation=Next", {}),
        ("/v1/customers?size=5&seekOperation=Next", {"MS-ContinuationToken": "forged"}),
        ("/v1/customers?size=five", {}),
    ],
)
async def test_a_bad_page_request_is_400_invalid_request_input(sim, sim_client, path, headers):
    answer = await sim_client(sim).request("GET", path, headers=headers)
    assert answer.status == 400
    assert answer.json["code"] == 800002


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_the_export_runs_back_unchanged_and_sends_no_put(
    make_sim_thread, customers_file, tmp_path, suffix
):
    sim = make_sim_thread(customers=25, seed=3, customers_file=customers_file)
    output = tmp_path / f"export{suffix}"
    result = invoke(["export", str(output), "--rate", "1000", "--quiet"], sim)
    assert result.exit_code == 0, result.output
    assert "exported 28 customers" in result.output
    assert not (tmp_path / "export-errors.csv").exists()
    rows = _sheet_rows(output)
    assert tuple(rows[0]) == EXPORT_HEADERS
    assert [r[0] for r in rows[1:]] == sim.store.ids()  # the customer list's order
    by_id = {r[0]: dict(zip(EXPORT_HEADERS, r, strict=True)) for r in rows[1:]}
    first = by_id["0f8fad5b-d9cb-469f-a165-70867728950e"]
    assert first["Postal Code"] == "02134" and first["Phone Number"] == "+1 617 555 0100"
    assert first["Email"] == ""
    second = by_id["1c9b2f3e-8a7d-4e6f-9b0a-2d3c4e5f6a7b"]
    assert second["Company Name"] == "'=株式会社 山田" and second["Last Name"] == "-Παπαδοπούλου"
    assert by_id["0f8fad5b-d9cb-469f-a165-70867728950e"]["Company Name"] == "=SUM(A1:A9)"
    blanked = by_id["2d4e6f80-1a2b-4c3d-8e9f-0a1b2c3d4e5f"]
    assert blanked["Company Name"] == blanked["Postal Code"] == blanked["Country"] == ""

    out = tmp_path / "dry"
    result = invoke(
        ["run", str(output), "--dry-run", "--out", str(out), "--quiet", "--rate", "1000"], sim
    )
    assert result.exit_code == 0, result.output
    assert {line["status"] for line in read_results(out)} == {"unchanged"}
    assert len(read_results(out)) == 28
    assert _puts(sim) == []


def test_an_edited_export_runs_and_undo_puts_it_back(make_sim_thread, customers_file, tmp_path):
    sim = make_sim_thread(customers=5, seed=4, customers_file=customers_file)
    output = tmp_path / "export.csv"
    assert invoke(["export", str(output), "--quiet", "--rate", "1000"], sim).exit_code == 0
    before = sim.store.export()
    rows = _sheet_rows(output)
    city = EXPORT_HEADERS.index("City")
    rows[1][city] = "Cambridge"
    with output.open("w", encoding="utf-8-sig", newline="") as f:
        csv.writer(f).writerows([[neutralise(cell) for cell in row] for row in rows])
    out = tmp_path / "full"
    result = invoke(["run", str(output), "--out", str(out), "--quiet", "--rate", "1000"], sim)
    assert result.exit_code == 0, result.output
    statuses = [line["status"] for line in read_results(out)]
    assert statuses.count("updated") == 1 and statuses.count("unchanged") == len(statuses) - 1
    assert sim.store.profile(rows[1][0])["defaultAddress"]["city"] == "Cambridge"
    result = invoke(["run", str(out / "undo.csv"), "--out", str(tmp_path / "undo"), "--quiet"], sim)
    assert result.exit_code == 0, result.output
    after = sim.store.export()
    assert after == before


async def test_the_export_survives_throttling_and_faults(make_sim, tmp_path):
    sim = await make_sim(
        customers=30, seed=5, partner_rate=150.0, partner_burst=10, fail_503=0.15, drop_before=0.15
    )
    options = RunOptions(
        rate=500, concurrency=8, max_attempts=12, backoff_base=0.01, backoff_cap=0.05, timeout=5
    )
    env = {"PC_ACCESS_TOKEN": sim.token, "PC_BASE_URL": sim.base_url}
    result = await export_profiles(options, tmp_path / "export.csv", env)
    assert result.exit_code == 0
    assert result.exported == 30
    assert result.stats.throttled > 0 and result.stats.retries > result.stats.throttled
    faults = {e.fault for e in rest(sim)}
    assert "throttled" in faults and faults & {"503", "drop_before"}
    assert _puts(sim) == []
    rows = _sheet_rows(tmp_path / "export.csv")
    assert [r[0] for r in rows[1:]] == sim.store.ids()


def test_customers_from_a_sheet_are_exported_and_an_unknown_one_goes_to_the_side_file(
    make_sim_thread, tmp_path
):
    sim = make_sim_thread(customers=6, seed=6)
    ids = sim.store.ids()
    unknown = "99999999-9999-4999-8999-999999999999"
    wanted = tmp_path / "wanted.csv"
    wanted.write_text(
        f"Customer ID,City\n{ids[4].upper()},x\n{unknown},\n{{{ids[1]}}},#REF!\n{ids[4]},y\n",
        encoding="utf-8",
    )
    output = tmp_path / "some.xlsx"
    result = invoke(["export", str(output), "--customers", str(wanted), "--quiet"], sim)
    assert result.exit_code == 1, result.output
    assert [r[0] for r in _sheet_rows(output)[1:]] == [ids[4], ids[1]]
    with (tmp_path / "some-errors.csv").open(encoding="utf-8-sig", newline="") as f:
        [error] = list(csv.DictReader(f))
    assert error["customer_id"] == unknown
    assert error["status"] == "not_found" and error["http_status"] == "404"
    assert not any(e.path == "/v1/customers" for e in rest(sim))  # no list call needed


def test_a_customers_sheet_with_a_bad_id_is_refused_before_anything_is_sent(
    make_sim_thread, tmp_path
):
    sim = make_sim_thread(customers=2)
    wanted = tmp_path / "wanted.csv"
    wanted.write_text("Customer ID\nnot-a-guid\n", encoding="utf-8")
    result = invoke(["export", str(tmp_path / "x.csv"), "--customers", str(wanted)], sim)
    assert result.exit_code == 2
    assert "row 2, column Customer ID" in result.output
    assert "Traceback" not in result.output
    assert rest(sim) == [] and not (tmp_path / "x.csv").exists()


def test_an_existing_output_is_not_written_over_without_overwrite(make_sim_thread, tmp_path):
    sim = make_sim_thread(customers=2)
    output = tmp_path / "edited.xlsx"
    output.write_bytes(b"my edits")
    result = invoke(["export", str(output)], sim)
    assert result.exit_code == 2 and "--overwrite" in result.output
    assert output.read_bytes() == b"my edits" and rest(sim) == []
    assert invoke(["export", str(output), "--overwrite", "--quiet"], sim).exit_code == 0
    assert len(_sheet_rows(output)) == 3


def test_refused_credentials_stop_the_export_with_exit_3(make_sim_thread, tmp_path):
    sim = make_sim_thread(customers=3, forbidden=True)
    result = invoke(["export", str(tmp_path / "x.csv"), "--quiet"], sim)
    assert result.exit_code == 3, result.output
    assert "refused the credentials" in result.output
    assert len(rest(sim)) == 1  # the first list page; nothing after it


def test_export_help_has_an_example_and_the_options_it_shares_with_run():
    result = CliRunner().invoke(cli, ["export", "--help"])
    assert result.exit_code == 0 and "Example" in result.output
    for flag in ("--customers", "--overwrite", "--base-url", "--rate", "--concurrency"):
        assert flag in result.output
    names = {p.name for p in cli.get_command(click.Context(cli), "export").params}
    assert not names & {"dry_run", "out", "resume", "validate_addresses", "limit"}


def test_simulate_write_sheet_gives_a_rehearsal_sheet_that_runs_back_unchanged(tmp_path):
    sheet = tmp_path / "rehearsal.csv"
    command = [sys.executable, "-m", "batch", "simulate", "--port", "0", "--customers", "4"]
    process = subprocess.Popen(
        [*command, "--seed", "2", "--write-sheet", str(sheet)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        values = {}
        for line in process.stdout:
            if line.startswith("  ") and ": " in line:
                key, value = line.strip().split(":", 1)
                values[key] = value.strip()
            if line.startswith("Ctrl-C stops it"):
                break
        env = {
            "PC_BASE_URL": values["base URL"],
            "PC_ACCESS_TOKEN": values["access token"].split()[0],
        }
        out = tmp_path / "dry"
        result = CliRunner().invoke(
            cli, ["run", str(sheet), "--dry-run", "--out", str(out), "--quiet"], env=env
        )
        assert result.exit_code == 0, result.output
        assert [line["status"] for line in read_results(out)] == ["unchanged"] * 4
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert f"Sheet of 4 customers written to {sheet}" in stderr
    assert "Traceback" not in stderr


def test_simulate_refuses_a_write_sheet_it_cannot_write_before_serving(tmp_path):
    result = CliRunner().invoke(
        cli, ["simulate", "--port", "0", "--write-sheet", str(tmp_path / "x.txt")]
    )
    assert result.exit_code == 2 and ".xlsx or .csv" in result.output
    assert "Ctrl-C stops it" not in result.output
