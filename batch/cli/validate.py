"""`pcbatch validate`: every problem of a sheet, by row and column, before anything is sent.

Besides the loader's own checks, each valid row whose country cell is set is checked against
that country's address rules (batch/core/country_rules.py): the published rules pcbatch ships,
or with --online the rules Partner Center answers. A row is checked for the fields it sets (the
rest of the address is the profile's, known only online); a country whose rules are not at hand
is named on stderr with its row count, never silently passed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from batch.cli.options import SHEET_READING, table_options
from batch.core.country_rules import (
    ADDRESS_KEYS,
    CountryRules,
    check_address,
    shipped_countries,
    shipped_rules,
)
from batch.core.echo import printable
from batch.core.model import Problem, Row, Status

if TYPE_CHECKING:
    from batch.core.model import Sheet

_VALUE_WIDTH = 24  # characters of a cell shown in the problem table; longer ones end in "…"


@click.command()
@click.argument("input_file", metavar="INPUT", type=click.Path(path_type=Path, dir_okay=False))
@table_options((*SHEET_READING, "base_url", "cloud"))
@click.option(
    "--online",
    is_flag=True,
    help="Fetch each country's address rules from Partner Center (credentials, --base-url and "
    "--cloud as for `run`) instead of using the published rules pcbatch ships.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: a table for people; json: one JSON object on stdout (the counts, and every "
    "problem with row, column, value, problem and fix), warnings and notes in it too.",
)
@click.pass_context
def validate(
    ctx: click.Context,
    input_file: Path,
    sheet: str | None,
    clear_token: str,
    column_map: tuple[tuple[str, str], ...],
    ignore_columns: tuple[str, ...],
    include_hidden: bool,
    encoding: str | None,
    header_row: int | None,
    base_url: str | None,
    cloud: str,
    online: bool,
    output_format: str,
) -> None:
    """Check INPUT and list every problem by row and column.

    Reads the sheet exactly as `pcbatch run` would, sends nothing and needs no credentials.
    Each row's address is also checked against its country's rules (state, postal code, city)
    as Partner Center publishes them, for the countries whose rules pcbatch ships; countries
    it could not check are named on stderr. With --online the rules are fetched from Partner
    Center instead (credentials as for `run`; only the rules are read). Prints a table of the
    problems (row, column, value, what to do) and a count. Exit 0 when every row can be sent
    (identical duplicate rows are listed, and are not sent twice), 1 when some row is invalid
    or hidden (not sent), 2 when the file itself (or an option) cannot be used, 3 when
    --online credentials are refused.

    \b
    Example:
      pcbatch validate customers.xlsx
      pcbatch validate customers.xlsx --sheet "March updates" --clear-token CLEAR
      pcbatch validate klanten.csv --map "Klantnr=customer_id" --ignore-column Opmerking
      pcbatch validate customers.xlsx --online
      pcbatch validate customers.xlsx --format json
    """
    from batch.sheets.sheet import load_sheet, sheet_warnings

    loaded = load_sheet(
        input_file,
        sheet,
        clear_token,
        column_map=dict(column_map),
        ignore_columns=ignore_columns,
        include_hidden=include_hidden,
        encoding=encoding,
        header_row=header_row,
    )
    as_json = output_format == "json"
    warnings = sheet_warnings(loaded)
    for warning in [] if as_json else warnings:
        click.echo(f"pcbatch: warning: {printable(warning)}", err=True)
    countries = sorted({c for c in (_country(r) for r in loaded.rows) if c is not None})
    if online:
        found = _fetch_rules(countries, base_url, cloud)
    else:
        found = {c: Rules(shipped_rules(c), None) for c in countries}
    findings = _findings(loaded, _country_problems(loaded, found))
    notes = _notes(loaded.rows, found, online)
    for note in [] if as_json else notes:
        click.echo(f"pcbatch: note: {note}", err=True)
    if as_json:
        report = _json_report(input_file, loaded.sheet_name, findings, warnings, notes)
        click.echo(json.dumps(report, ensure_ascii=False))
    else:
        _print_findings(input_file, loaded.sheet_name, findings)
    ctx.exit(findings.exit_code)


@dataclass(frozen=True, slots=True)
class _Findings:
    """What validate found: every problem, by row, and how many rows end which way."""

    problems: list[Problem]
    total: int
    valid: int
    invalid: int  # by the loader's checks or by the country's rules
    duplicate: int  # identical to an earlier row: not sent twice
    hidden: int  # hidden in the sheet: not sent

    @property
    def exit_code(self) -> int:
        """1 when some row is invalid or hidden (not sent), else 0."""
        return 1 if self.invalid or self.hidden else 0


def _findings(loaded: Sheet, by_rules: Mapping[int, list[Problem]]) -> _Findings:
    """The loader's problems and the country rules' (by row number, rows with some) together."""
    problems = sorted(
        [p for rejected in loaded.not_sent for p in rejected.problems]
        + [p for row_problems in by_rules.values() for p in row_problems],
        key=lambda p: p.row,
    )
    invalid = [r for r in loaded.not_sent if r.status is Status.INVALID]
    hidden = sum(r.status is Status.SKIPPED for r in loaded.not_sent)
    return _Findings(
        problems,
        total=len(loaded.rows) + len(loaded.not_sent),
        valid=len(loaded.rows) - len(by_rules),
        invalid=len(invalid) + len(by_rules),
        duplicate=len(loaded.not_sent) - len(invalid) - hidden,
        hidden=hidden,
    )


def _json_report(
    input_file: Path,
    sheet_name: str | None,
    findings: _Findings,
    warnings: list[str],
    notes: list[str],
) -> dict[str, object]:
    """The one JSON object of `--format json`."""
    return {
        "input": str(input_file),
        "sheet": sheet_name,
        "rows": findings.total,
        "valid": findings.valid,
        "invalid": findings.invalid,
        "duplicate": findings.duplicate,
        "hidden": findings.hidden,
        "exit_code": findings.exit_code,
        "problems": [_problem_object(p) for p in findings.problems],
        "warnings": warnings,
        "notes": notes,
    }


def _print_findings(input_file: Path, sheet_name: str | None, findings: _Findings) -> None:
    """The table of problems (row, column, value, what to do), then the counts, for people."""
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(highlight=False)
    if findings.problems:
        table = Table(box=box.SIMPLE_HEAD)
        table.add_column("Row", justify="right", no_wrap=True)
        table.add_column("Column", no_wrap=True)
        table.add_column("Value", no_wrap=True)
        table.add_column("Problem", overflow="fold")  # fold: never cut an example GUID short
        for p in findings.problems:
            cells = (p.column, _cut(p.value), p.reason)
            table.add_row(str(p.row), *(Text(printable(text)) for text in cells))
        console.print(table)
    where = f'{input_file} (sheet "{sheet_name}")' if sheet_name else f"{input_file}"
    counts = f"{_rows(findings.total)}: {findings.valid} valid, {findings.invalid} invalid"
    if findings.duplicate:
        counts += f", {findings.duplicate} duplicate (not sent twice)"
    if findings.hidden:
        counts += f", {findings.hidden} hidden (not sent; --include-hidden sends them)"
    console.print(Text(printable(f"{where}: {counts}")), soft_wrap=True)


def _problem_object(problem: Problem) -> dict[str, object]:
    """A problem for `--format json`: its reason split at its first "; " into what is wrong
    and what to do (the messages are written so; `fix` is "" when a message gives none)."""
    wrong, _, fix = problem.reason.partition("; ")
    return {
        "row": problem.row,
        "column": problem.column,
        "value": problem.value,
        "problem": wrong,
        "fix": fix,
    }


@dataclass(frozen=True, slots=True)
class Rules:
    """A country's rules as validate got them: rules (None: not at hand) and, online, why not."""

    rules: CountryRules | None
    why_not: str | None


# The sheet's field for each address key the rules are about.
_FIELD_OF_KEY = {key: field for field, key in ADDRESS_KEYS.items()}


def _country(row: Row) -> str | None:
    country = row.values.get("country")
    return country.strip().upper() if country else None


def _country_problems(loaded: Sheet, found: Mapping[str, Rules]) -> dict[int, list[Problem]]:
    """Row number -> the problems its address has under its country's rules (rows with some)."""
    result: dict[int, list[Problem]] = {}
    for row in loaded.rows:
        country = _country(row)
        rules = found[country].rules if country is not None else None
        if rules is None:
            continue
        # Only the fields the row sets are known here (None: the row clears the field).
        address = {
            key: row.values[field] for field, key in ADDRESS_KEYS.items() if field in row.values
        }
        problems = [
            Problem(
                row.number,
                loaded.columns[p.field],
                row.raw.get(loaded.columns[p.field], p.value),
                p.reason,
            )
            for p in check_address(address, rules, partial=True)
        ]
        if problems:
            result[row.number] = problems
    return result


def _rows(n: int) -> str:
    return f"{n} row{'' if n == 1 else 's'}"


def _notes(rows: Iterable[Row], found: Mapping[str, Rules], online: bool) -> list[str]:
    """What could not be checked against country rules, per country, for stderr."""
    unchecked: dict[str, int] = {}
    without_country = 0
    for row in rows:
        country = _country(row)
        if country is None:
            if any(field in row.values for field in ADDRESS_KEYS):
                without_country += 1
        elif found[country].rules is None:
            unchecked[country] = unchecked.get(country, 0) + 1
    notes: list[str] = []
    offline = [f"{c} ({_rows(n)})" for c, n in sorted(unchecked.items()) if not found[c].why_not]
    if offline:
        notes.append(
            f"not checked against country rules offline: {', '.join(offline)}; pcbatch ships"
            f" the published rules of {', '.join(shipped_countries())} only (--online asks"
            " Partner Center)"
        )
    for country, n in sorted(unchecked.items()):
        why = found[country].why_not
        if why is not None:
            notes.append(f"{country} ({_rows(n)}): not checked against country rules: {why}")
    if without_country:
        notes.append(
            f"{_rows(without_country)} set a state, postal code or city but no country: their"
            " country is the profile's, so its rules are not checked here"
        )
    return notes


def _fetch_rules(countries: list[str], base_url: str | None, cloud: str) -> dict[str, Rules]:
    """Each country's rules as Partner Center answers them (engine.rules_cache.fetch_rules)."""
    if not countries:
        return {}
    import asyncio

    from batch.core.options import RunOptions
    from batch.engine.rules_cache import fetch_rules

    options = RunOptions(base_url=base_url, cloud=cloud)
    answers = asyncio.run(fetch_rules(countries, options, dict(os.environ)))
    return {country: Rules(a.rules, a.why_not) for country, a in answers.items()}


def _cut(text: str) -> str:
    """A cell's text for the table: on one line, at most _VALUE_WIDTH characters."""
    text = " ".join(text.split())
    return text if len(text) <= _VALUE_WIDTH else text[: _VALUE_WIDTH - 1] + "…"
