"""What `--resume` continues, and how a PUT sent just before a crash is told apart afterwards.

Rules (README.md, "Durable runs: journal, resume, lock, stops", `--resume`):

- `--resume` continues the last run in --out's journal. The rows it sends are the ones not done
  yet: never recorded, or last `failed` or `skipped` (journal_reader.FINAL). A row that ended
  `updated`, `unchanged`, `invalid`, `duplicate`, `not_found` or `rejected` is never sent again.
- The rows come from the journal, as the input was read when the run started. An input file
  that changed since (another sha256) is refused, unless --force: then the journal's rows are
  sent and the file's edits are not used (feed the new file to a new run for those).
- No run in --out: a new run starts (every row is re-planned from a fresh GET, so this costs
  reads, never a second write), so a nightly job may keep `resume = true` from its first
  night. A dry run is continued only by a dry run, a real run only by a real one (a dry
  run's `would_update` rows count as done, so a real run continuing it would send nothing
  for them).
- The last run has nothing left to do: with the same input, nothing is sent and the report is
  written again; with another input, a new run starts in the same journal, so that a nightly
  job may keep `resume = true` in its job file. A job with a state (--state: it re-applies its
  sheet night after night, incremental.py) starts a new run with the same input too: tonight
  must put back what others changed since, even when the sheet did not change.
- A lost or damaged journal is never started over (lost_journal): a report in --out whose run
  the journal does not hold (the journal deleted, or a lost WAL took the run with it), or holds
  with fewer rows done than the report shows (a lost WAL took outcomes), refuses every run
  there, --resume or not (exit 2): starting over would report every row `unchanged`, with an
  empty undo file, over the correct report.
- A PUT sent by an earlier session may have landed without its outcome being recorded (a crash
  between the two). Its changes were journaled before it was sent (update.Context.before_put,
  wired to Journal.record_put by run.py). The row is re-planned from a fresh GET: when the
  profile already holds the row's values, that PUT landed, and the row ends `updated` with
  the changes it made (settle), not `unchanged`; no second PUT is sent either way. A row
  whose target field was edited in between gets a new PUT; its undo values stay those the
  service held before the first PUT (settle keeps that PUT's `before` of each field).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from batch.core.errors import ConfigError
from batch.core.model import Change, Outcome, RunInfo, Status

LANDED = "its PUT, sent before the run was interrupted, had landed (no second PUT was sent)"


def choose_run(
    last: RunInfo | None,
    pending: int,
    input_sha256: str,
    *,
    input_path: Path,
    dry_run: bool,
    force: bool,
    out_dir: Path,
    nightly: bool = False,
) -> int | None:
    """The run `--resume` continues (its id), or None to start a new run (see the rules).

    pending: how many of the last run's valid rows are not done. nightly: the job keeps a state
    (--state): a complete last run is followed by a new one, whatever the input. Raises
    ConfigError (exit 2) when --resume must refuse; the message says why and what to type
    instead.
    """
    if last is None:
        return None
    was_dry = bool(last.options.get("dry_run", False))
    if was_dry != dry_run:
        kind = "a dry run" if was_dry else "a real run (it sent PUTs)"
        fix = "add --dry-run" if was_dry else "leave out --dry-run"
        raise ConfigError(
            f"--resume: run {last.run_id} in {out_dir} was {kind}, and --resume continues it "
            f"only as such: {fix}, or give another --out to start a new run"
        )
    same_input = last.input_sha256 == input_sha256
    if pending == 0:
        return last.run_id if same_input and not nightly else None
    if not same_input and not force:
        raise ConfigError(
            f"--resume: {input_path} is not the file run {last.run_id} in {out_dir} started "
            f"with ({last.input_path}; sha256 {last.input_sha256[:12]}…, now "
            f"{input_sha256[:12]}…), and {pending} of its rows are not done yet. Add --force to "
            "send those rows as the journal holds them (the file's changes are not used), or "
            "leave out --resume to start a new run on the file as it is now"
        )
    return last.run_id


def settle(outcome: Outcome, sent: tuple[Change, ...] | None) -> Outcome:
    """A re-planned row's outcome, given the changes of a PUT an earlier session sent for it.

    `unchanged` after such a PUT means the PUT landed: `updated` with its changes (undo.csv
    then holds the values from before it). `updated` again (a field was edited between the two
    sessions): each field that PUT carried keeps its `before`, the value the service held before
    pcbatch first wrote it. Any other outcome is returned as it is.
    """
    if sent is None:
        return outcome
    if outcome.status is Status.UNCHANGED:
        return replace(outcome, status=Status.UPDATED, changes=sent, message=LANDED)
    if outcome.status is Status.UPDATED:
        first = {c.field: c.before for c in sent}
        kept = tuple(replace(c, before=first.get(c.field, c.before)) for c in outcome.changes)
        return replace(outcome, changes=kept)
    return outcome


def lost_journal(
    report: Mapping[str, object] | None,
    run: RunInfo | None,
    counts: Mapping[Status, int],
    *,
    journal_exists: bool,
    out_dir: Path,
) -> ConfigError | None:
    """Why the journal of out_dir cannot be trusted, as the error to refuse with, else None.

    report: summary.json of out_dir (None when there is none, or it is unreadable); run: the
    journal's run that report is of (same started_at), None when it holds none; counts: that
    run's statuses in the journal.
    """
    if report is None:
        return None
    started = report.get("started_at")
    fix = (
        "restore journal.sqlite (with its -wal file) from a backup, or leave this --out as "
        "it is and give another --out (a new run there reads every profile again)"
    )
    if not journal_exists or run is None:
        what = "is gone" if not journal_exists else "does not hold that run (its WAL was lost?)"
        return ConfigError(
            f"{out_dir} holds the report of a run started {started}, and its journal {what}: "
            f"starting over would replace that report and its undo rows. Nothing was done: {fix}"
        )
    statuses = report.get("statuses")
    shown = statuses if isinstance(statuses, Mapping) else {}
    done_shown = sum(int(n) for s, n in shown.items() if s in _OK_VALUES and isinstance(n, int))
    done_held = sum(n for s, n in counts.items() if s.ok)
    if done_held < done_shown or report.get("rows") != run.rows:
        return ConfigError(
            f"the journal of {out_dir} has lost outcomes of run {run.run_id}: its report shows "
            f"{done_shown} rows done of {report.get('rows')}, the journal {done_held} of "
            f"{run.rows} (a power cut that lost its WAL?). Nothing was done: {fix}"
        )
    return None


_OK_VALUES = frozenset(s.value for s in Status if s.ok)
