"""Job files: every run option from TOML, typed and checked; credentials refused."""

from pathlib import Path

import pytest

from batch.cli.jobfile import load_job
from batch.core.errors import ConfigError
from batch.core.option_spec import is_secret_key
from batch.core.options import RUN_OPTIONS, RunOptions, merge_options

JOBS = sorted((Path(__file__).parent.parent / "jobs").glob("*.toml"))


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "job.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("job", JOBS, ids=[p.name for p in JOBS])
def test_every_example_in_jobs_loads_and_makes_valid_run_options(job):
    options = load_job(job)
    assert options
    assert isinstance(merge_options(options, {}), RunOptions)


def test_the_examples_promised_in_the_docs_exist():
    assert {p.name for p in JOBS} >= {"nightly-billing.toml", "migration.toml"}


def test_every_run_option_is_a_job_file_key():
    run_options = set(RunOptions.__dataclass_fields__) - {"job"}
    assert set(RUN_OPTIONS) == run_options


def test_a_job_file_gives_typed_options_with_paths_from_its_own_folder(tmp_path):
    path = write(
        tmp_path,
        """
        input = "in/customers.xlsx"
        out = "/var/lib/pcbatch/out"
        sheet = "Profiles"
        cloud = "usgov"
        concurrency = 4
        rate = 2
        max-attempts = 5
        timeout = 12.5
        dry_run = true
        validate_addresses = false
        limit = 50
        max_duration = 10800
        failure_budget = 0.25
        clear_token = "#CLEAR"
        resume = true
        log_format = "json"
        quiet = true
        """,
    )

    options = load_job(path)

    assert options == {
        "input": tmp_path / "in" / "customers.xlsx",
        "out": Path("/var/lib/pcbatch/out"),
        "sheet": "Profiles",
        "cloud": "usgov",
        "concurrency": 4,
        "rate": 2.0,
        "max_attempts": 5,
        "timeout": 12.5,
        "dry_run": True,
        "validate_addresses": False,
        "limit": 50,
        "max_duration": 10800.0,
        "failure_budget": 0.25,
        "clear_token": "#CLEAR",
        "resume": True,
        "log_format": "json",
        "quiet": True,
    }
    assert isinstance(options["rate"], float)


def test_flags_given_on_the_command_line_win_over_the_job_file(tmp_path):
    job = load_job(write(tmp_path, "rate = 2.0\nconcurrency = 4\n"))
    options = merge_options(job, {"rate": 9.0})
    assert (options.rate, options.concurrency) == (9.0, 4)


def test_an_unknown_key_names_the_file_the_key_a_suggestion_and_the_allowed_keys(tmp_path):
    path = write(tmp_path, "max_duraton = 60\n")
    with pytest.raises(ConfigError) as error:
        load_job(path)
    message = str(error.value)
    assert str(path) in message
    assert "`max_duraton` is not a run option" in message
    assert "did you mean `max_duration`?" in message
    assert "allowed keys: input, sheet, base_url" in message


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('rate = "fast"', "a number greater than 0"),
        ("rate = 0", "a number greater than 0"),
        ("rate = true", "a number greater than 0"),
        ("rate = inf", "a number greater than 0"),
        ("max_duration = nan", "a number greater than 0"),
        ("concurrency = 2.5", "a whole number at least 1"),
        ("concurrency = 0", "a whole number at least 1"),
        ("concurrency = true", "a whole number at least 1"),
        ('dry_run = "yes"', "true or false"),
        ("quiet = 1", "true or false"),
        ('cloud = "mars"', 'one of "global", "usgov", "china"'),
        ('log_format = "xml"', 'one of "text", "json"'),
        ("failure_budget = 1.5", "a number at least 0 and at most 1"),
        ("limit = -1", "a whole number at least 0"),
        ('clear_token = ""', "a non-empty string"),
        ("input = 42", "a path, as a string"),
        ("sheet = [1, 2]", "a non-empty string"),
    ],
)
def test_a_wrong_type_or_value_names_the_key_and_what_is_allowed(tmp_path, line, expected):
    path = write(tmp_path, line + "\n")
    key = line.split(" ")[0]
    with pytest.raises(ConfigError) as error:
        load_job(path)
    message = str(error.value)
    assert f"job file {path}, key `{key}`" in message
    assert f"expected {expected}" in message


@pytest.mark.parametrize(
    "line",
    [
        'access_token = "eyJ0eXAi"',
        'client_secret = "s3cr3t"',
        'PC_CLIENT_SECRET = "s3cr3t"',
        'password = "hunter2"',
        'refresh-token = "0.AAA"',
        'client_certificate_path = "/keys/pc.pem"',
        '[credentials]\nclient_id = "x"',
    ],
)
def test_credentials_are_refused_with_a_pointer_to_the_environment(tmp_path, line):
    with pytest.raises(ConfigError) as error:
        load_job(write(tmp_path, line + "\n"))
    message = str(error.value)
    assert "credentials are never read from a job file" in message
    assert "environment" in message
    assert "s3cr3t" not in message and "hunter2" not in message and "eyJ0" not in message


def test_the_clear_token_is_an_option_not_a_credential():
    assert not is_secret_key("clear_token")
    assert not is_secret_key("clear-token")
    assert is_secret_key("api_key")
    assert is_secret_key("AccessToken")


def test_a_key_given_with_both_spellings_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="set twice"):
        load_job(write(tmp_path, "max_duration = 60\nmax-duration = 90\n"))


def test_malformed_toml_names_the_file_and_the_line(tmp_path):
    path = write(tmp_path, "rate = 2.0\nconcurrency = \n")
    with pytest.raises(ConfigError, match=r"job\.toml is not valid TOML: .*line 2"):
        load_job(path)


def test_a_missing_job_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"job file .*nope\.toml not found"):
        load_job(tmp_path / "nope.toml")


def test_a_job_file_saved_with_a_byte_order_mark_loads(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_text("rate = 3.0\n", encoding="utf-8-sig")
    assert load_job(path) == {"rate": 3.0}


def test_a_columns_table_maps_headers_and_names_only_known_fields(tmp_path):
    path = write(
        tmp_path,
        'ignore_columns = ["Notes"]\ninclude_hidden = true\n'
        '[columns]\n"Klantnr" = "customer_id"\n"Nr" = "house_number"\n',
    )
    assert load_job(path) == {
        "ignore_columns": ("Notes",),
        "include_hidden": True,
        "column_map": (("Klantnr", "customer_id"), ("Nr", "house_number")),
    }
    with pytest.raises(ConfigError, match=r"key `columns`: .* expected a table of"):
        load_job(write(tmp_path, '[columns]\n"Klantnr" = "klant"\n'))


@pytest.mark.parametrize(
    "written", ["'reports\\nightly'", '"reports\\\\nightly"', "'reports/nightly'"]
)
def test_a_windows_style_relative_path_means_the_same_folder_on_every_system(tmp_path, written):
    # 'single quotes': a TOML literal string, where \ is a plain character, as Windows writes it
    path = write(tmp_path, f"input = '..\\inbox\\customers.xlsx'\nout = {written}\n")
    options = load_job(path)
    assert options["out"] == tmp_path / "reports" / "nightly"
    assert options["input"] == tmp_path / ".." / "inbox" / "customers.xlsx"


def test_the_windows_example_names_windows_paths_and_loads_here_too():
    job = Path(__file__).parent.parent / "jobs" / "nightly-billing-windows.toml"
    text = job.read_text(encoding="utf-8")
    assert "C:\\pcbatch\\" in text
    options = load_job(job)
    assert options["out"].parts[-3:] == ("pcbatch", "reports", "nightly-billing")
    assert options["state"].parts[-3:] == ("pcbatch", "state", "nightly-billing")
    assert (options["incremental"], options["full_every"]) == (True, 7)
