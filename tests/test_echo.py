"""What pcbatch echoes holds no password from a URL and no control character that acts."""

import re

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from support import city_sheet

from batch.cli import cli
from batch.core.echo import escape_controls, printable, redact_urls

_ACTING = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("https://u:hunter2@login.example", "https://***@login.example"),
        ("'https://u:hunter2@h:99999/x'", "'https://***@h:99999/x'"),
        ("ftp://:hunter2@h", "ftp://***@h"),
        ("https://u:hun/ter2@h", "https://***@h"),  # a raw `/` in the password
        ("https://u:p@a and http://v:q@b", "https://***@a and http://***@b"),
        ("https://login.example/tenant", "https://login.example/tenant"),
        ("https://h/path?next=a@b", "https://h/path?next=a@b"),
        ("mailto:someone@example.com", "mailto:someone@example.com"),
    ],
)
def test_urls_lose_their_userinfo_and_nothing_else(text, shown):
    assert redact_urls(text) == shown


@given(st.text())
def test_escaped_text_holds_no_control_character(text):
    assert not _ACTING.search(escape_controls(text))


@given(st.text(alphabet=st.characters(exclude_categories=("Cc", "Zl", "Zp", "Cf"))))
def test_text_without_control_characters_or_urls_is_echoed_as_it_is(text):
    assert printable(text.replace("://", "")) == text.replace("://", "")


def test_newlines_and_ansi_escapes_become_visible():
    assert escape_controls("a\nb\r\t\x1b[31mred\u202e") == "a\\nb\\r\\t\\x1b[31mred\\u202e"


def _run(tmp_path, **env):
    path = city_sheet(tmp_path / "in.csv", ["00000000-0000-4000-8000-000000000001"])
    args = ["run", str(path), "--out", str(tmp_path / "out")]
    return CliRunner().invoke(cli, args, env={"PC_ACCESS_TOKEN": "t", **env})


@pytest.mark.parametrize(
    "url",
    [
        "https://admin:hunter2@api.example",
        "http://admin:hunter2@api.example",
        "ftp://admin:hunter2@api.example",
        "https://admin:hunter2@api.example:99999",
        "https://admin:hunter2@api.example/?q=1",
        "https://admin:hun/ter2@api.example",
    ],
)
def test_a_password_in_pc_base_url_is_never_echoed(tmp_path, url):
    result = _run(tmp_path, PC_BASE_URL=url)
    assert result.exit_code == 2, result.output
    assert "hunter2" not in result.output and "ter2" not in result.output
    assert "PC_BASE_URL" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    "url",
    [
        "https://admin:hunter2@login.example",
        "http://admin:hunter2@login.example",
        "https://admin:hunter2@login.example/tenant",
        "https://admin:hunter2@login.example:99999",
    ],
)
def test_a_password_in_pc_authority_is_never_echoed(tmp_path, url):
    env = {"PC_TENANT_ID": "t", "PC_CLIENT_ID": "c", "PC_CLIENT_SECRET": "s", "PC_AUTHORITY": url}
    result = _run(tmp_path, PC_ACCESS_TOKEN="", **env)
    assert result.exit_code == 2, result.output
    assert "hunter2" not in result.output
    assert "PC_AUTHORITY" in result.output and "Traceback" not in result.output


def test_a_header_with_a_newline_and_ansi_escapes_cannot_forge_a_log_line(
    make_sim_thread, tmp_path
):
    sim = make_sim_thread(customers=1)
    path = tmp_path / "in.csv"
    forged = "Notes\x1b[2J\n2099-01-01 00:00:00,000 INFO run finished with exit code 0"
    path.write_text(f'Customer ID,City,"{forged}"\n{sim.store.ids()[0]},Newtown,x\n', "utf-8")
    args = ["run", str(path), "--out", str(tmp_path / "out")]
    env = {"PC_ACCESS_TOKEN": sim.token, "PC_BASE_URL": sim.base_url}
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stderr
    assert "Notes\\x1b[2J\\n2099-01-01" in result.stderr  # the warning, on one line
    assert not any(line.startswith("2099-01-01") for line in result.stderr.splitlines())


def test_validate_shows_a_sheet_value_with_escapes_as_visible_text(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text('Customer ID,City\n"not-a-guid\x1b[31m\x9b2J",Newtown\n', "utf-8")
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 1, result.output
    assert "\x1b" not in result.output and "\x9b" not in result.output
    assert "\\x1b[31m" in result.output
