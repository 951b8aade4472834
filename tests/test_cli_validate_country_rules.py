"""`pcbatch validate` against country rules: offline with the shipped ones, --online with the
stand-in's answers; what could not be checked is said per country."""

from click.testing import CliRunner

from batch.cli import cli
from batch.core.country_rules_data import PUBLISHED

A = "0f8fad5b-d9cb-469f-a165-70867728950e"
B = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
C = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
D = "9b2f7a3e-1c4d-4e5f-8a6b-7c8d9e0f1a2b"
ENV = {"COLUMNS": "200", "FORCE_COLOR": None, "PC_ACCESS_TOKEN": None, "PC_BASE_URL": None}


def validate(*args, env=None):
    result = CliRunner().invoke(cli, ["validate", *map(str, args)], env={**ENV, **(env or {})})
    assert "Traceback" not in result.output
    return result


def table_rows(stdout):
    """Each problem line of the table, its runs of spaces made one."""
    found = []
    for line in stdout.splitlines():
        parts = line.split()
        if parts and parts[0].isdigit():
            found.append(" ".join(parts))
    return found


def csv(tmp_path, text):
    path = tmp_path / "in.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_rows_breaking_the_published_rules_are_invalid_with_the_field_named(tmp_path):
    path = csv(
        tmp_path,
        "Customer ID,State,Postal Code,Country\n"
        f"{A},Washington,98052,US\n"
        f"{B},,D-10115,DE\n"
        f"{C},ZZ,02134,us\n"
        f"{D},,SW1A 1AA,GB\n",
    )
    result = validate(path)
    assert result.exit_code == 1
    rows = table_rows(result.stdout)
    assert rows[0].startswith("2 State Washington US takes the state's code: write WA")
    assert rows[1].startswith("3 Postal Code D-10115 not a postal code of DE")
    assert "write it without the prefix: 10115" in rows[1]
    assert rows[2].startswith("4 State ZZ not a state of US; write one of AK,")
    assert len(rows) == 3
    assert result.stdout.endswith(f"{path}: 4 rows: 1 valid, 3 invalid\n")
    assert result.stderr == ""  # every country was checked


def test_a_lost_leading_zero_is_named(tmp_path):
    path = csv(tmp_path, f"Customer ID,Postal Code,Country,City\n{A},1067,DE,Dresden\n")
    result = validate(path)
    assert result.exit_code == 1
    assert "a leading zero was probably lost: write 01067" in " ".join(result.stdout.split())


def test_a_cleared_state_where_one_is_required_is_invalid(tmp_path):
    path = csv(tmp_path, f"Customer ID,State,Country\n{A},#N/A,US\n")
    result = validate(path)
    assert result.exit_code == 1
    assert table_rows(result.stdout)[0].startswith("2 State #N/A required in US")


def test_fields_the_row_leaves_alone_are_not_judged_offline(tmp_path):
    path = csv(tmp_path, f"Customer ID,City,Country\n{A},Redmond,US\n")
    result = validate(path)
    assert result.exit_code == 0
    assert result.stderr == ""


def test_countries_without_shipped_rules_and_rows_without_country_are_named(tmp_path):
    path = csv(
        tmp_path,
        "Customer ID,Postal Code,Country\n"
        f"{A},75002,FR\n"
        f"{B},75003,FR\n"
        f"{C},100-0001,JP\n"
        f"{D},98052,\n",
    )
    result = validate(path)
    assert result.exit_code == 0
    assert result.stderr == (
        "pcbatch: note: not checked against country rules offline: FR (2 rows), JP (1 row);"
        " pcbatch ships the published rules of CN, DE, GB, PT, US only (--online asks Partner"
        " Center)\n"
        "pcbatch: note: 1 row set a state, postal code or city but no country: their country is"
        " the profile's, so its rules are not checked here\n"
    )


def test_online_uses_the_rules_partner_center_answers(sim_thread, tmp_path):
    path = csv(
        tmp_path,
        f"Customer ID,State,Postal Code,Country\n{A},OR,97201,US\n{B},,75002,FR\n{C},,10115,DE\n",
    )
    sim_thread.country_rules["US"] = {**PUBLISHED["US"], "supportedStatesList": ["WA"]}
    sim_thread.country_rules["DE"] = b"<html>busy</html>"
    env = {"PC_ACCESS_TOKEN": sim_thread.token, "PC_BASE_URL": sim_thread.base_url}
    result = validate(path, "--online", env=env)
    assert result.exit_code == 1
    (row,) = table_rows(result.stdout)
    assert row.startswith("2 State OR not a state of US; write one of WA")
    assert result.stderr == (
        "pcbatch: note: DE (1 row): not checked against country rules: Partner Center's answer"
        " could not be read as country rules\n"
        "pcbatch: note: FR (1 row): not checked against country rules: Partner Center publishes"
        " no rules for it (404)\n"
    )
    paths = [e.path for e in sim_thread.log if e.path.startswith("/v1/")]
    assert sorted(paths) == [f"/v1/countryvalidationrules/{c}" for c in ("DE", "FR", "US")]


def test_online_with_refused_credentials_exits_3_and_says_so(sim_thread, tmp_path):
    path = csv(tmp_path, f"Customer ID,Country\n{A},US\n")
    env = {"PC_ACCESS_TOKEN": "not-a-token", "PC_BASE_URL": sim_thread.base_url}
    result = validate(path, "--online", env=env)
    assert result.exit_code == 3
    assert "--online: Partner Center refused the credentials (HTTP 401" in result.stderr


def test_online_without_credentials_exits_2_before_sending(tmp_path):
    path = csv(tmp_path, f"Customer ID,Country\n{A},US\n")
    result = validate(path, "--online")
    assert result.exit_code == 2
    assert result.stderr.startswith("pcbatch: ")
