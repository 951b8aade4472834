"""A reviewed migration's files: the profiles a plan's dry run read, the plan, the approved plan.

    recorder = ProfileRecorder(plan_dir)       # a subscriber of the plan's dry run (run_job)
    write_plan(plan_dir)                        # after it: plan.json, its sha256, review.xlsx
    plan = load_plan(plan_dir, expect=..., max_age=...)   # apply: checked, or ConfigError

The rules of the plan file and of apply's refusals are core/reviewed.py's; this module reads
and writes the files (through durable/files.py: private, atomic) and turns a plan into the
Sheet and the kept profiles run_job sends (run.py reads `plan` instead of the input sheet).

- The dry run's profiles go to profiles.jsonl as each outcome lands, before the journal records
  it (the recorder is the pool's first outcome subscriber): a row the journal holds as done has
  its profile on disk, so `pcbatch plan --resume` after a crash loses none.
- The plan is written once: a PLAN_DIR that holds plan.json already is refused (a plan is
  immutable: make a new one elsewhere); plan.json is made read-only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from batch.core.errors import ConfigError
from batch.core.model import Outcome, Row, Sheet, Status
from batch.core.reviewed import (
    DEFAULT_MAX_AGE,
    HASH_NAME,
    PLAN_NAME,
    REVIEW_NAME,
    ApprovedPlan,
    NotPlanned,
    PlannedRow,
    canonical,
    hash_line,
    plan_document,
    read_plan,
    sha256_of,
)
from batch.durable.files import atomic_write, open_private
from batch.durable.journal import Journal

PROFILES_NAME = "profiles.jsonl"
APPLIED_NAME = "applied"  # apply's default --out, inside PLAN_DIR
NO_PROFILE = "its profile was not kept by the dry run: make the plan again"


class ProfileRecorder:
    """The plan's dry run as the pool's first outcome subscriber: each `would_update` row's
    profile and etag appended to PLAN_DIR/profiles.jsonl (one write per row, so a killed
    process loses none the journal holds)."""

    __slots__ = ("_fd",)

    def __init__(self, plan_dir: Path) -> None:
        self._fd: int | None = None
        self._open(plan_dir)

    def _open(self, plan_dir: Path) -> None:
        plan_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._fd = open_private(plan_dir / PROFILES_NAME, os.O_WRONLY | os.O_CREAT | os.O_APPEND)

    def on_outcome(self, outcome: Outcome) -> None:
        if outcome.status is not Status.WOULD_UPDATE or outcome.profile is None:
            return
        if self._fd is None or outcome.etag is None:
            return
        line = {"row": outcome.row, "etag": outcome.etag, "profile": dict(outcome.profile)}
        os.write(self._fd, (json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8"))

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def check_no_plan(plan_dir: Path) -> None:
    """Refuse (exit 2) a PLAN_DIR that holds a plan already: a plan is never made over."""
    if (plan_dir / PLAN_NAME).exists():
        raise ConfigError(
            f"{plan_dir} holds a plan already ({PLAN_NAME}); a plan is never changed once "
            "made: give another --out for a new plan, or `pcbatch apply` this one"
        )


def write_plan(plan_dir: Path, *, clock: datetime | None = None) -> ApprovedPlan:
    """plan.json (canonical, read-only), plan.json.sha256 and review.xlsx from the dry run's
    journal and profiles in plan_dir; returns the plan as apply will read it."""
    check_no_plan(plan_dir)
    profiles = _profiles(plan_dir / PROFILES_NAME)
    with Journal.open(plan_dir) as journal:
        info = journal.last_run()
        if info is None:
            raise ConfigError(f"{plan_dir} holds no dry run to make a plan of")
        planned: list[PlannedRow] = []
        not_planned: list[NotPlanned] = []
        for entry in journal.entries(info.run_id):
            outcome = entry.outcome
            status = outcome.status if outcome is not None else Status.SKIPPED
            message = outcome.message if outcome is not None else "not attempted"
            kept = profiles.get(entry.row)
            if status is Status.WOULD_UPDATE and outcome is not None:
                if kept is None:
                    skipped = NotPlanned(entry.row, entry.customer_id, "skipped", NO_PROFILE)
                    not_planned.append(skipped)
                    continue
                etag, profile = kept
                values = {c.field: c.after for c in outcome.changes}
                row = Row(entry.row, entry.customer_id, values, entry.raw)
                planned.append(PlannedRow(row, outcome.changes, profile, etag))
            else:
                not_planned.append(NotPlanned(entry.row, entry.customer_id, status.value, message))
    options = info.options
    started = datetime.fromisoformat(info.started_at.replace("Z", "+00:00"))
    document = plan_document(
        planned_at=clock or started,
        source={
            "path": info.input_path,
            "sha256": info.input_sha256,
            "format": info.format,
            "sheet_name": info.sheet_name,
            "headers": list(info.headers),
            "columns": dict(info.columns),
        },
        target={
            "base_url": options.get("base_url"),
            "cloud": options.get("cloud"),
            "tenant": options.get("tenant"),
        },
        rows=planned,
        not_planned=not_planned,
    )
    data = canonical(document)
    digest = sha256_of(data)
    with atomic_write(plan_dir / PLAN_NAME, binary=True) as f:
        f.write(data)
    os.chmod(plan_dir / PLAN_NAME, 0o400)
    with atomic_write(plan_dir / HASH_NAME) as f:
        f.write(hash_line(digest))
    plan = read_plan(data, hash_line(digest), where=str(plan_dir / PLAN_NAME), now=clock or started)
    from batch.output.review import write_review

    write_review(plan_dir / REVIEW_NAME, plan)
    return plan


def load_plan(
    plan_dir: Path,
    *,
    expect: str | None = None,
    max_age: timedelta = DEFAULT_MAX_AGE,
    now: datetime | None = None,
) -> ApprovedPlan:
    """PLAN_DIR's plan, checked (core/reviewed.read_plan): ConfigError (exit 2) when refused."""
    path = plan_dir / PLAN_NAME
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"{plan_dir} holds no plan ({PLAN_NAME}): make one with `pcbatch plan INPUT --out "
            f"{plan_dir}`"
        ) from None
    try:
        hash_text: str | None = (plan_dir / HASH_NAME).read_text(encoding="utf-8")
    except FileNotFoundError:
        hash_text = None
    return read_plan(
        data,
        hash_text,
        where=str(path),
        now=now or datetime.now(UTC),
        max_age=max_age,
        expect=expect,
    )


def plan_sheet(plan: ApprovedPlan, path: Path) -> Sheet:
    """The plan as the sheet apply's run sends: one row per planned customer, its values the
    planned `after`s (nothing else of the sheet is sent)."""
    source = plan.source
    kind = str(source.get("format") or "csv")
    return Sheet(
        path=str(path),
        format=kind if kind in ("csv", "xlsx", "ods", "xls") else "csv",  # type: ignore[arg-type]
        sheet_name=None if source.get("sheet_name") is None else str(source["sheet_name"]),
        headers=plan.headers,
        columns=plan.columns,
        unknown_headers=(),
        rows=tuple(p.row for p in plan.rows),
        not_sent=(),
    )


def _profiles(path: Path) -> Mapping[int, tuple[str, Mapping[str, object]]]:
    """row -> (etag, profile) from profiles.jsonl; the last line of a row wins (a re-read)."""
    found: dict[int, tuple[str, Mapping[str, object]]] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return found
    for line in text.splitlines():
        try:
            item = json.loads(line)
            found[int(item["row"])] = (str(item["etag"]), dict(item["profile"]))
        except (ValueError, KeyError, TypeError):
            continue  # a line cut short by a crash: that row's profile counts as not kept
    return found
