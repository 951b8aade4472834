"""`pcbatch plan`: a dry run whose findings become a plan file to review and approve by hash."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from batch.cli.options import (
    CALLING,
    RUN_OWN,
    SHEET_READING,
    given_on_command_line,
    table_options,
)
from batch.cli.run import console_for, log_finished, print_summary, run_watched, summary_object
from batch.core.errors import ConfigError
from batch.core.options import RunOptions, merge_options
from batch.core.reviewed import HASH_NAME, PLAN_NAME, REVIEW_NAME

if TYPE_CHECKING:
    from batch.core.reviewed import ApprovedPlan
    from batch.engine.run import RunResult

# The options of `run` that make sense for a plan: how to read the sheet, where and how fast
# to read the profiles, and the run's own (--out is PLAN_DIR).
PLAN_OPTIONS = (*SHEET_READING, *CALLING, "validate_addresses", "limit", *RUN_OWN)


@click.command("plan")
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@table_options(PLAN_OPTIONS)
@click.pass_context
def plan(ctx: click.Context, input_path: Path, **flags: object) -> None:
    """Plan a reviewed migration: what INPUT would change, written to --out as a plan file.

    A dry run (GETs only, country rules checked; nothing is written to Partner Center) whose
    findings become PLAN_DIR/plan.json: per customer the fields to set with their values
    before and after, and the profile and etag as read; each row not to be sent, and why. Its
    sha256 is printed and written beside it (plan.json.sha256); review.xlsx shows the changes
    before -> after for the reviewer. A plan is never changed once written: `pcbatch apply
    PLAN_DIR --expect-plan SHA256` performs exactly it. Exit 0: planned, every row ok; 1:
    planned, some rows will not be sent (failed.csv); 2: nothing planned (bad input or
    options, or PLAN_DIR holds a plan already); 75/130: stopped, --resume continues.

    \b
    Example:
      pcbatch plan customers.xlsx --out plans/move
      pcbatch apply plans/move --expect-plan 3f2a...
    """
    options = _plan_options(ctx, input_path, flags)
    assert options.out is not None

    from batch.durable.files import private_dir
    from batch.engine.reviewed import check_no_plan, write_plan

    check_no_plan(options.out)  # a plan is immutable: refused before anything is read
    private_dir(options.out)
    result = _recorded_dry_run(options, options.out)
    log_finished(result)
    if result.stopped is not None:
        print_summary(result, options.log_format)
        click.echo(
            f"no plan was written: the dry run stopped ({result.stopped}); the same command "
            "with --resume continues it",
            err=True,
        )
        ctx.exit(result.exit_code)
    _print_plan(result, write_plan(options.out), options.out, options.log_format)
    ctx.exit(result.exit_code)


def _plan_options(ctx: click.Context, input_path: Path, flags: dict[str, object]) -> RunOptions:
    """The dry run's options: those given on the command line; ConfigError without --out."""
    given = given_on_command_line(ctx, flags)
    if given.get("out") is None:
        raise ConfigError("pcbatch plan needs --out PLAN_DIR: the folder the plan is written to")
    return merge_options({}, {**given, "input": input_path, "dry_run": True})


def _recorded_dry_run(options: RunOptions, plan_dir: Path) -> RunResult:
    """The dry run, each profile it reads recorded in PLAN_DIR for write_plan."""
    from batch.engine.reviewed import ProfileRecorder

    console = console_for(options)
    recorder = ProfileRecorder(plan_dir)
    try:
        return asyncio.run(
            run_watched(options, dict(os.environ), console, on_outcome=[recorder.on_outcome])
        )
    finally:
        recorder.close()


def _print_plan(result: RunResult, made: ApprovedPlan, where: Path, log_format: str) -> None:
    """The dry run's summary and the plan written: its file, sha256, review sheet and the
    command that applies it (one JSON object with --log-format json)."""
    if log_format == "json":
        found = summary_object(result)
        found.update(
            event="plan",
            plan=str(where / PLAN_NAME),
            sha256=made.sha256,
            review=str(where / REVIEW_NAME),
            planned=len(made.rows),
            not_planned=len(made.not_planned),
        )
        click.echo(json.dumps(found, ensure_ascii=False))
    else:
        print_summary(result)
        click.echo(f"plan: {where / PLAN_NAME} ({len(made.rows)} customers to change)")
        click.echo(f"sha256: {made.sha256} (in {where / HASH_NAME})")
        click.echo(f"review: {where / REVIEW_NAME}")
        click.echo(f"apply it: pcbatch apply {where} --expect-plan {made.sha256}")
