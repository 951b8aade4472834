"""`pcbatch report`: rebuilds a run's report files from its journal."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="The --out directory of a run (it holds journal.sqlite).",
)
@click.option(
    "--run-id",
    type=click.IntRange(min=1),
    default=None,
    help="Which run of the journal to report (default: the last one).",
)
def report(out_dir: str, run_id: int | None) -> None:
    """Rebuild the report files of a run from its journal.

    Writes results.csv, results.xlsx, summary.json, failed.csv and undo-<run>.csv (undo.csv
    too for the journal's last run) into DIR again, from DIR/journal.sqlite alone: after a
    crash, or when a file was lost or edited. Rows the journal has no outcome for (the run died
    first) are reported `skipped`.

    \b
    Example:
      pcbatch report --out reports/nightly
    """
    # Imported here: the other commands need neither sqlite3 nor openpyxl to start.

    from batch.core.errors import ConfigError
    from batch.durable.journal import Journal
    from batch.durable.lock import current_holder
    from batch.output.report import FILES, write_report

    out = Path(out_dir)
    with Journal.open(out, create=False) as journal:
        info = journal.run_info(run_id) if run_id is not None else journal.last_run()
        if info is None:
            raise ConfigError(f"the journal in {out_dir} holds no run yet: nothing to report")
        write_report(out, journal, info.run_id)
        done = journal.run_info(info.run_id)
    holder = current_holder(out)
    if holder is not None:
        click.echo(
            f"pcbatch: a run is still writing to {out_dir} ({holder.describe()}): this report "
            "shows it so far, and the run rewrites it when it ends",
            err=True,
        )
    state = "finished" if done.finished_at else "not finished (resume it with --resume)"
    click.echo(f"run {done.run_id} of {done.input_path}: {done.rows} rows, {state}")
    click.echo(f"report rebuilt in {out_dir}: {', '.join(FILES)}")
