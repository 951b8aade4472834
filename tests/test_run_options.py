"""options: the contract's defaults, the cloud table, base-URL safety, job file merging."""

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from batch.core.errors import ConfigError
from batch.core.options import (
    CLOUDS,
    RunOptions,
    default_out,
    is_loopback,
    merge_options,
    resolve_base_url,
)


def test_the_defaults_are_the_contract_ones():
    o = RunOptions()
    assert (o.cloud, o.concurrency, o.rate, o.max_attempts, o.timeout) == ("global", 8, 10.0, 6, 30)
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
    env = {"PC_BASE_URL": "https://env.example.com/"}
    assert resolve_base_url("https://flag.example.com", env, "global") == "https://flag.example.com"
    assert resolve_base_url(None, env, "china") == "https://env.example.com"


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
