"""A run before anything is sent: every check in the order the docs promise, the sheet (or an
approved plan's rows), sign-in. `prepare(...)` gives the Prepared value run.py starts from.

Order: the input named, --resume's --out, the base URL, an --out that is not private
(files.private_dir), a run already holding --out (exit 4 at once), a report in --out whose
journal is lost (core/resume.lost_journal), the input file, credentials: those failures exit 2
or 4, send nothing and leave no journal behind.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from batch.core.errors import ConfigError
from batch.core.model import Sheet
from batch.core.options import RunOptions, default_out, resolve_base_url
from batch.core.resume import lost_journal
from batch.core.reviewed import ApprovedPlan
from batch.core.stops import Stop
from batch.durable.files import private_dir
from batch.durable.journal import JOURNAL_NAME, Journal
from batch.durable.lock import check_free
from batch.sheets.sheet import input_sha256, load_sheet, sheet_warnings
from batch.wire.auth import TokenProvider, tenant_of
from batch.wire.credentials import provider_from_env

log = logging.getLogger("batch.engine.run")


@dataclass(frozen=True, slots=True)
class Prepared:
    """A run checked and signed in, nothing sent yet: its options (with --out), where it
    writes, the input's hash, the sheet (None: --resume sends the journal's rows), and what the
    journal records of the options."""

    options: RunOptions
    base_url: str
    digest: str
    tokens: TokenProvider
    sheet: Sheet | None
    target: str
    recorded_options: Mapping[str, object]
    plan: ApprovedPlan | None = None

    @property
    def out_dir(self) -> Path:
        assert self.options.out is not None
        return self.options.out


async def prepare(
    options: RunOptions, env: Mapping[str, str], stop: Stop, plan: ApprovedPlan | None = None
) -> Prepared:
    """Every check that sends nothing, in the order the docs promise; the sheet (or the
    plan's rows); sign-in."""
    if options.input is None:
        raise ConfigError("no input file: give INPUT, or `input = ...` in the --job file")
    if options.resume and options.out is None:
        raise ConfigError(
            "--resume continues a run in its --out directory: give --out DIR, the directory "
            "of the run to continue"
        )
    base_url = resolve_base_url(options.base_url, env, options.cloud)
    out_dir = options.out or default_out(datetime.now(UTC))
    options = replace(options, out=out_dir)
    private_dir(out_dir, create=False)  # exit 2: another user's, or others may write to it
    check_free(out_dir)  # exit 4 at once, before reading the sheet or signing in
    if not (out_dir / JOURNAL_NAME).is_file():
        # A report without its journal: the journal was lost; never start over on it.
        lost = lost_journal(_report_of(out_dir), None, {}, journal_exists=False, out_dir=out_dir)
        if lost is not None:
            raise lost
        if options.resume:
            # Nothing to continue: start the run. Every row is re-planned from a fresh GET, so
            # a mistyped --out costs reads, never a second write, and a nightly job file may
            # keep `resume = true` from its very first night.
            log.info("--resume: no run in %s yet: a new run starts", out_dir)
            options = replace(options, resume=False)
    # a missing input is named before missing credentials
    digest = plan.sha256 if plan is not None else input_sha256(options.input)
    tokens = provider_from_env(env, options.cloud, base_url)
    # --resume sends the rows as the journal holds them: the sheet is read for a new run only.
    sheet = None if options.resume else load(options, plan)
    tenant = None
    if sheet is None or sheet.rows:
        # Sign in before the journal: credentials the login server refuses end the run here
        # (ConfigError, exit 2, nothing sent) instead of failing the first rows one by one.
        tenant = tenant_of(await tokens.token())
    target = target_line(options.cloud, tenant, base_url, dry_run=options.dry_run)
    recorded = {**options.as_record(), "base_url": base_url, "tenant": tenant}
    if stop.reason is not None:
        raise stop.reason  # a signal came before the run started: nothing was sent
    return Prepared(options, base_url, digest, tokens, sheet, target, recorded, plan)


def target_line(cloud: str, tenant: str | None, base_url: str, *, dry_run: bool) -> str:
    """The sentence said before the first write: which cloud, tenant (from the token's `tid`
    claim, or `unknown`) and base URL the run is about to change."""
    doing = "dry run (reads only) against" if dry_run else "writing to"
    return f"{doing} cloud {cloud}, tenant {tenant or 'unknown'}, base URL {base_url}"


def _report_of(out_dir: Path) -> Mapping[str, object] | None:
    """out_dir's summary.json, or None when there is none (or it cannot be read)."""
    try:
        found = json.loads((out_dir / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def check_against_report(journal: Journal, out_dir: Path) -> None:
    """Raise ConfigError (exit 2) when out_dir's report shows more than its journal holds."""
    report = _report_of(out_dir)
    if report is None:
        return
    run = journal.run_started_at(str(report.get("started_at")))
    counts = journal.counts(run.run_id) if run is not None else {}
    lost = lost_journal(report, run, counts, journal_exists=True, out_dir=out_dir)
    if lost is not None:
        raise lost


def load(options: RunOptions, plan: ApprovedPlan | None = None) -> Sheet:
    """The input sheet, read and validated; warnings for columns that match no field, for title
    rows above the header row and for cells whose invisible characters were cleaned. With a
    plan: the plan's rows instead (apply)."""
    assert options.input is not None
    if plan is not None:
        from batch.engine.reviewed import plan_sheet

        return plan_sheet(plan, options.input)
    sheet = load_sheet(
        options.input,
        options.sheet,
        options.clear_token,
        column_map=dict(options.column_map),
        ignore_columns=options.ignore_columns,
        include_hidden=options.include_hidden,
        encoding=options.encoding,
        header_row=options.header_row,
    )
    for warning in sheet_warnings(sheet):
        log.warning("%s", warning)
    return sheet
