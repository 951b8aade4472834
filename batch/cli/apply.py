"""`pcbatch apply`: perform a reviewed plan exactly, one PUT per customer whose profile did not
move, and refuse a plan that was edited, is too old, or is not the approved one."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import click

from batch.cli.options import CALLING, RUN_OWN, given_on_command_line, table_options
from batch.cli.run import console_for, log_finished, print_summary, run_watched
from batch.core.errors import ConfigError
from batch.core.options import merge_options, resolve_base_url
from batch.core.reviewed import DEFAULT_MAX_AGE_TEXT, PLAN_NAME, parse_duration

# The options of `run` that make sense for applying a plan: where and how fast to write, and
# the run's own. How the sheet is read, --limit and --dry-run are the plan's business.
APPLY_OPTIONS = (*CALLING, *RUN_OWN)


@click.command("apply")
@click.argument("plan_dir", metavar="PLAN_DIR", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--expect-plan",
    metavar="SHA256",
    help="The approved plan's sha256 (`pcbatch plan` printed it): any other plan is refused.",
)
@click.option(
    "--max-plan-age",
    metavar="DURATION",
    default=DEFAULT_MAX_AGE_TEXT,
    show_default=True,
    help="Refuse a plan older than this (90m, 24h, 2d): its etags and values are likely stale.",
)
@table_options(APPLY_OPTIONS)
@click.pass_context
def apply(
    ctx: click.Context,
    plan_dir: Path,
    expect_plan: str | None,
    max_plan_age: str,
    **flags: object,
) -> None:
    """Apply a reviewed plan: exactly the changes `pcbatch plan` wrote in PLAN_DIR.

    Each planned customer's profile is PUT as planned, with the etag the plan read as If-Match
    and no GET: one call per customer whose profile did not move. After a 412 the profile is
    read: when every planned field still holds its planned value before, the planned values
    are applied onto it (others' changes to other fields kept); when one moved, the row ends
    `changed_since_plan` and nothing is written to it. Refused with exit 2 and nothing sent:
    a plan edited since it was written, one older than --max-plan-age, one whose sha256 is not
    --expect-plan, or a base URL other than the plan's. The report, journal, undo.csv and
    --resume are those of `pcbatch run`; --out defaults to PLAN_DIR/applied. Exit codes as
    `pcbatch run`'s (1: some row not ok, `changed_since_plan` included).

    \b
    Example:
      pcbatch apply plans/move --expect-plan 3f2a...
      pcbatch apply plans/move --resume
    """
    from batch.engine.reviewed import APPLIED_NAME, load_plan

    given = given_on_command_line(ctx, flags)
    env = dict(os.environ)
    approved = load_plan(plan_dir, expect=expect_plan, max_age=parse_duration(max_plan_age))
    given.setdefault("out", plan_dir / APPLIED_NAME)
    options = merge_options({}, {**given, "input": plan_dir / PLAN_NAME})
    planned_url = approved.target.get("base_url")
    base_url = resolve_base_url(options.base_url, env, options.cloud)
    if planned_url is not None and base_url != planned_url:
        raise ConfigError(
            f"{plan_dir / PLAN_NAME} was planned against {planned_url}, not {base_url}; "
            "nothing was sent. Apply it with the plan's base URL, or make a plan against this one"
        )
    console = console_for(options)
    result = asyncio.run(run_watched(options, env, console, plan=approved))
    log_finished(result)
    print_summary(result, options.log_format)
    ctx.exit(result.exit_code)
