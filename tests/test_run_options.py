"""options: the README's defaults, the cloud table, base-URL safety, job file merging, and the
option table that the flags of `run`, the job-file keys and RunOptions' checks are all made from."""

import json
import re
from dataclasses import fields
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from batch.cli import cli
from batch.cli.jobfile import load_job
from batch.core.errors import ConfigError
from batch.core.option_spec import Kind, OptionSpec
from batch.core.options import (
    CLOUDS,
    RUN_OPTIONS,
    RunOptions,
    default_out,
    is_loopback,
    merge_options,
    resolve_base_url,
)

RUN = cli.get_command(click.Context(cli), "run")
assert RUN is not None
FLAGS = {param.name: param for param in RUN.params if isinstance(param, click.Option)}


def test_the_defaults_are_the_readme_ones():
    o = RunOptions()
    assert (o.cloud, o.concurrency, o.rate, o.max_attempts, o.timeout) == (
        "global",
        64,
        10.0,
        6,
        30,
    )
    assert o.fixed_concurrency is False  # the window adapts below --concurrency
    assert (o.dry_run, o.validate_addresses, o.limit, o.max_duration) == (False, False, None, None)
    assert (o.failure_budget, o.clear_token, o.resume, o.log_format) == (0.5, "#N/A", False, "text")
    assert o.retry_policy.max_attempts == 6


@pytest.mark.parametrize(
    ("cloud", "base_url", "authority"),
    [
        ("global", "https://api.partnercenter.microsoft.com", "https://login.microsoftonline.com"),
        ("usgov", "https://api.partnercenter.microsoft.com", "https://login.microsoftonline.us"),
        (
            "china",
            "https://partner.partnercenterapi.microsoftonline.cn",
            "https://login.chinacloudapi.cn",
        ),
    ],
)
def test_each_cloud_picks_base_url_and_authority_together(cloud, base_url, authority):
    assert (CLOUDS[cloud].base_url, CLOUDS[cloud].authority) == (base_url, authority)
    assert resolve_base_url(None, {}, cloud) == base_url


def test_the_option_wins_over_the_environment_which_wins_over_the_cloud():
    env = {"PC_BASE_URL": "http://127.0.0.1:2/"}
    assert resolve_base_url("http://127.0.0.1:1", env, "global") == "http://127.0.0.1:1"
    assert resolve_base_url(None, env, "china") == "http://127.0.0.1:2"


@pytest.mark.parametrize(
    ("url", "cloud", "words"),
    [
        ("https://evil.example.com", "global", "not a Partner Center host of the global cloud"),
        ("https://api.partnercenter.microsoft.com.evil.example", "global", "not a Partner"),
        ("https://api.partnercenter.microsoft.com", "china", "it is the global cloud's"),
    ],
)
def test_a_base_url_off_the_clouds_allow_list_is_refused(url, cloud, words):
    with pytest.raises(ConfigError, match=re.escape(words)):
        resolve_base_url(url, {}, cloud)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8479", "http://localhost:1", "http://[::1]:80", "http://127.9.9.9"]
)
def test_plain_http_is_allowed_on_loopback(url):
    assert resolve_base_url(url, {}, "global") == url


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://api.partnercenter.microsoft.com", "non-loopback"),
        ("http://10.0.0.1", "non-loopback"),
        ("http://127.0.0.1.evil.example", "non-loopback"),
        ("ftp://127.0.0.1", "https://"),
        ("api.partnercenter.microsoft.com", "https://"),
        ("https://me:secret@api.example.com", "user name or password"),
        ("https://api.example.com/?x=1", "query"),
        ("https://api.example.com:99999", "not a URL"),
    ],
)
def test_unsafe_or_broken_base_urls_are_refused(url, words):
    with pytest.raises(ConfigError) as caught:
        resolve_base_url(url, {}, "global")
    assert words in str(caught.value)
    assert "secret" not in str(caught.value)


def test_a_refused_env_base_url_names_the_variable():
    with pytest.raises(ConfigError, match="PC_BASE_URL"):
        resolve_base_url(None, {"PC_BASE_URL": "http://example.com"}, "global")


def test_loopback_means_localhost_127_and_ipv6_one_only():
    assert is_loopback("localhost") and is_loopback("127.0.0.5") and is_loopback("::1")
    assert not is_loopback("example.com") and not is_loopback("192.168.1.1")


@pytest.mark.parametrize(
    ("change", "option"),
    [
        ({"concurrency": 0}, "--concurrency"),
        ({"rate": 0.0}, "--rate"),
        ({"rate": float("inf")}, "--rate"),
        ({"max_attempts": 0}, "--max-attempts"),
        ({"timeout": -1.0}, "--timeout"),
        ({"limit": -1}, "--limit"),
        ({"max_duration": 0.0}, "--max-duration"),
        ({"failure_budget": 1.5}, "--failure-budget"),
        ({"cloud": "germany"}, "--cloud"),
        ({"log_format": "xml"}, "--log-format"),
        ({"clear_token": ""}, "--clear-token"),
    ],
)
def test_bad_values_are_refused_naming_the_option(change, option):
    with pytest.raises(ConfigError, match=option):
        RunOptions(**change)


def test_flags_given_on_the_command_line_win_over_the_job_file():
    job = {"input": Path("a.xlsx"), "rate": 3.0, "dry_run": False, "out": "reports/x"}
    options = merge_options(job, {"dry_run": True, "concurrency": 2})
    assert (options.rate, options.dry_run, options.concurrency) == (3.0, True, 2)
    assert options.out == Path("reports/x") and options.input == Path("a.xlsx")


def test_an_unknown_option_is_a_config_error():
    with pytest.raises(ConfigError, match="speed"):
        merge_options({"speed": 3}, {})


def test_the_options_record_is_json_safe_and_holds_no_credential():
    record = RunOptions(input=Path("in.xlsx"), out=Path("o")).as_record()
    assert json.loads(json.dumps(record))["input"] == "in.xlsx"
    assert not any("token" in key and key != "clear_token" for key in record)


def test_the_default_out_dir_is_a_utc_timestamp_under_reports():
    local = datetime(2025, 1, 31, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert default_out(local) == Path("reports/20250201T043000Z")
    assert default_out(datetime(2025, 1, 1, tzinfo=UTC)) == Path("reports/20250101T000000Z")


def test_every_run_option_but_job_is_one_entry_of_the_option_table():
    assert list(RUN_OPTIONS) == [f.name for f in fields(RunOptions) if f.name != "job"]
    assert all(getattr(RunOptions(), spec.name) == spec.default for spec in RUN_OPTIONS.values())


def test_the_flags_of_run_are_the_table_entries_with_a_flag_plus_job_and_force():
    made = {name for name, spec in RUN_OPTIONS.items() if spec.flag}
    assert set(FLAGS) == made | {"job", "force"}
    assert {name for name, spec in RUN_OPTIONS.items() if not spec.flag} == {
        "input",  # the INPUT argument
        "backoff_base",
        "backoff_cap",
    }
    for name in made:
        spec, flag = RUN_OPTIONS[name], FLAGS[name]
        assert flag.opts == [spec.flag_name]
        assert flag.default == spec.default
        assert flag.help is not None and flag.help.startswith(spec.help)
    assert FLAGS["resume"].secondary_opts == ["--no-resume"]


def _toml(spec: OptionSpec, value: object) -> str:
    key = spec.key
    if spec.kind is Kind.COLUMN_MAP:  # a table
        assert isinstance(value, tuple)
        return f"[{key}]\n" + "".join(f"{json.dumps(k)} = {json.dumps(v)}\n" for k, v in value)
    if spec.kind is Kind.NAMES:
        assert isinstance(value, tuple)
        return f"{key} = {json.dumps(list(value))}\n"
    return f"{key} = {json.dumps(value) if isinstance(value, bool | str) else repr(value)}\n"


@pytest.mark.parametrize("name", [n for n, s in RUN_OPTIONS.items() if s.default is not None])
def test_every_table_entry_is_a_job_file_key_taking_its_default(tmp_path, name):
    spec = RUN_OPTIONS[name]
    path = tmp_path / "job.toml"
    path.write_text(_toml(spec, spec.default), encoding="utf-8")
    assert load_job(path) == {name: spec.default}


def test_repeatable_options_given_on_the_command_line_add_to_the_job_files():
    job = {"column_map": (("Klantnr", "customer_id"), ("Nr", "house_number"))}
    job |= {"ignore_columns": ("Notes",)}
    given = {"column_map": (("Nr", "address_line2"),), "ignore_columns": ("Opmerking", "Notes")}
    options = merge_options(job, given)
    assert options.column_map == (("Klantnr", "customer_id"), ("Nr", "address_line2"))
    assert options.ignore_columns == ("Notes", "Opmerking")


def _bounds(outside: bool) -> list[tuple[str, float, float]]:
    """(option, value, bound): a value just outside (or just inside) each bound of the table."""
    cases = []
    for spec in RUN_OPTIONS.values():
        step = 1 if spec.kind is Kind.INT else 0.5
        if spec.low is not None:
            inward = step if spec.low_open else 0
            value = spec.low - (step - inward) if outside else spec.low + inward
            cases.append((spec.name, value, spec.low))
        if spec.high is not None:
            cases.append((spec.name, spec.high + step if outside else spec.high, spec.high))
    return cases


def _names(bound: float) -> re.Pattern[str]:
    """The bound as a number of its own (0 in "x>0." or "between 0 and 1", not in "-0.5")."""
    return re.compile(rf"(?<![\d.]){bound:g}(?!\d|\.\d)")


@pytest.mark.parametrize(("name", "value", "bound"), _bounds(outside=True))
def test_a_value_just_outside_a_bound_is_refused_by_flag_job_file_and_options_alike(
    tmp_path, name, value, bound
):
    spec = RUN_OPTIONS[name]
    with pytest.raises(ConfigError) as made:
        RunOptions(**{name: value})
    assert str(made.value).startswith(f"{spec.label} {value!r} is not valid: use ")
    assert _names(bound).search(str(made.value))

    path = tmp_path / "job.toml"
    path.write_text(f"{name} = {value!r}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as loaded:
        load_job(path)
    assert f"key `{name}`: {value!r} is not allowed; expected" in str(loaded.value)
    assert _names(bound).search(str(loaded.value).split("expected")[1])

    if spec.flag:
        result = CliRunner().invoke(cli, ["run", spec.flag_name, str(value)])
        assert result.exit_code == 2
        assert f"Invalid value for '{spec.flag_name}'" in result.output
        assert _names(bound).search(result.output.split("range")[1])


@pytest.mark.parametrize(("name", "value", "bound"), _bounds(outside=False))
def test_a_value_at_or_just_inside_a_bound_is_taken_by_flag_job_file_and_options_alike(
    tmp_path, name, value, bound
):
    spec = RUN_OPTIONS[name]
    assert getattr(RunOptions(**{name: value}), name) == value
    path = tmp_path / "job.toml"
    path.write_text(f"{name} = {value!r}\n", encoding="utf-8")
    assert load_job(path) == {name: value}
    if spec.flag:
        flag = FLAGS[name]
        assert flag.type.convert(str(value), flag, None) == value


@pytest.mark.parametrize("name", [n for n, s in RUN_OPTIONS.items() if s.kind is Kind.CHOICE])
def test_a_value_outside_the_choices_is_refused_by_flag_job_file_and_options_alike(tmp_path, name):
    spec = RUN_OPTIONS[name]
    with pytest.raises(ConfigError, match=f"^{spec.label} 'mars' is not valid: use "):
        RunOptions(**{name: "mars"})
    path = tmp_path / "job.toml"
    path.write_text(f'{name} = "mars"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as loaded:
        load_job(path)
    result = CliRunner().invoke(cli, ["run", spec.flag_name, "mars"])
    assert result.exit_code == 2
    for choice in spec.choices:
        assert f'"{choice}"' in str(loaded.value)
        assert f"'{choice}'" in result.output


def test_a_new_option_declared_in_the_table_is_checked_from_its_declaration():
    spec = OptionSpec(
        "retries", Kind.INT, 3, "Tries.", low=1, high=9, wanted="a number from 1 to 9"
    )
    assert (spec.flag_name, spec.label, spec.expected) == (
        "--retries",
        "--retries",
        "a whole number at least 1 and at most 9",
    )
    assert [spec.allows(v) for v in (0, 1, 9, 10, 2.0, True, None)] == [
        False, True, True, False, False, False, False,
    ]  # fmt: skip
    assert spec.from_toml(9) == 9
    with pytest.raises(ValueError, match="at most 9"):
        spec.from_toml(10)
