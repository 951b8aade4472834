"""A reviewed migration's plan as a value: its file's canonical bytes, the checks apply makes.

`pcbatch plan` writes what a dry run found into plan.json (engine/reviewed.py); `pcbatch apply`
performs exactly it (docs/howto/reviewed-migration.md). Rules:

- The plan file is canonical JSON (keys sorted, no spaces, UTF-8): the same plan is the same
  bytes, so its sha256 names it. The hash is printed and written beside it (plan.json.sha256,
  in `sha256sum` format) and shown in the review workbook; approving a plan is approving that
  hash.
- apply refuses, with exit 2 and nothing sent (read_plan): a file that is not a plan of this
  format; a plan whose bytes no longer have the hash written beside it (edited); a hash other
  than --expect-plan's; a plan older than --max-plan-age (default DEFAULT_MAX_AGE: an etag
  read then is likely stale, and what was reviewed no longer describes the service).
- Per planned customer the plan holds the row (its number, the customer, the sheet's cells),
  the changes (field, before, after) and the profile with its etag as the dry run read it.
  apply PUTs that profile with the planned values onto that etag (no GET). After a 412 the
  profile is read again, and each planned field is judged (moved_since_plan): holding its
  planned `before` or already its `after`, it has not moved; anything else has moved, and the
  row ends `changed_since_plan` with nothing written.

Pure: bytes and values in, values out; the clock is a parameter.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from batch.core.errors import ConfigError
from batch.core.fields import BY_NAME
from batch.core.model import Change, KnownProfile, Row
from batch.core.plan import current_value

PLAN_FORMAT = "pcbatch-plan/1"
PLAN_NAME = "plan.json"
HASH_NAME = "plan.json.sha256"
REVIEW_NAME = "review.xlsx"
DEFAULT_MAX_AGE = timedelta(hours=24)
DEFAULT_MAX_AGE_TEXT = "24h"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_HEX = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class PlannedRow:
    """One customer the plan changes: its row (values: the planned `after` of each change), the
    changes, and the profile with its etag as the dry run read them."""

    row: Row
    changes: tuple[Change, ...]
    profile: Mapping[str, object]
    etag: str

    @property
    def known(self) -> KnownProfile:
        """The profile to PUT onto without a GET, carrying the planned changes."""
        return KnownProfile(self.profile, self.etag, planned=self.changes)


@dataclass(frozen=True, slots=True)
class NotPlanned:
    """A row the plan will not send, and why (its dry-run status and message)."""

    row: int
    customer_id: str
    status: str
    message: str


@dataclass(frozen=True, slots=True)
class ApprovedPlan:
    """A plan file read and checked: what apply performs.

    sha256: the plan file's hash; planned_at: when the plan was made (UTC); source: the input
    file's path and sha256, its format and worksheet, its header row and field -> header map;
    target: the base URL, cloud and tenant the plan read from.
    """

    sha256: str
    planned_at: datetime
    source: Mapping[str, object]
    target: Mapping[str, object]
    rows: tuple[PlannedRow, ...]
    not_planned: tuple[NotPlanned, ...]

    @property
    def headers(self) -> tuple[str, ...]:
        return tuple(str(h) for h in _list(self.source.get("headers")))

    @property
    def columns(self) -> dict[str, str]:
        found = self.source.get("columns")
        return {str(k): str(v) for k, v in found.items()} if isinstance(found, Mapping) else {}


@dataclass(frozen=True, slots=True)
class Moved:
    """A planned field that no longer holds its planned value before nor after."""

    field: str
    before: str | None
    now: str | None
    after: str | None


def canonical(document: Mapping[str, object]) -> bytes:
    """The plan's bytes: JSON with sorted keys, no spaces, UTF-8, one newline at the end."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return (text + "\n").encode("utf-8")


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def hash_line(digest: str) -> str:
    """plan.json.sha256's text: `sha256sum -c plan.json.sha256` checks the plan with it."""
    return f"{digest}  {PLAN_NAME}\n"


def plan_document(
    *,
    planned_at: datetime,
    source: Mapping[str, object],
    target: Mapping[str, object],
    rows: Sequence[PlannedRow],
    not_planned: Sequence[NotPlanned],
) -> dict[str, object]:
    """The plan file's content (canonical() gives its bytes)."""
    counts: dict[str, int] = {"planned": len(rows)}
    for skipped in not_planned:
        counts[skipped.status] = counts.get(skipped.status, 0) + 1
    return {
        "format": PLAN_FORMAT,
        "planned_at": planned_at.astimezone(UTC).isoformat(timespec="seconds"),
        "source": dict(source),
        "target": dict(target),
        "counts": counts,
        "changes": [
            {
                "row": p.row.number,
                "customer_id": p.row.customer_id,
                "cells": dict(p.row.raw),
                "fields": [
                    {"field": c.field, "before": c.before, "after": c.after} for c in p.changes
                ],
                "etag": p.etag,
                "profile": dict(p.profile),
            }
            for p in rows
        ],
        "not_planned": [
            {"row": n.row, "customer_id": n.customer_id, "status": n.status, "message": n.message}
            for n in not_planned
        ],
    }


def parse_duration(text: str, option: str = "--max-plan-age") -> timedelta:
    """`90s`, `45m`, `24h`, `2d` (a bare number: seconds) as a timedelta above 0."""
    found = _DURATION.match(text)
    if found is None or float(found.group(1)) <= 0:
        raise ConfigError(f"{option} {text!r} is not valid: use a duration such as 90m, 24h or 2d")
    return timedelta(seconds=float(found.group(1)) * _UNITS[found.group(2)])


def read_plan(
    data: bytes,
    hash_text: str | None,
    *,
    where: str,
    now: datetime,
    max_age: timedelta = DEFAULT_MAX_AGE,
    expect: str | None = None,
) -> ApprovedPlan:
    """The plan in `data` (the bytes of `where`), checked as the module's rules say.

    hash_text: plan.json.sha256's text (None: the file is missing). Raises ConfigError (exit 2)
    naming the file and what to do when the plan must be refused.
    """
    digest = sha256_of(data)
    if expect is not None:
        _check_expected(digest, expect, where)
    _check_hash_file(digest, hash_text, where)
    plan = _parse_plan(data, digest, where)
    age = now - plan.planned_at
    if age > max_age:
        raise ConfigError(
            f"{where} was planned {_age_text(age)} ago ({plan.planned_at.isoformat()}), more than "
            f"--max-plan-age {_age_text(max_age)}: its etags and the reviewed values are likely "
            "stale; nothing was sent. Make a new plan, or give a longer --max-plan-age"
        )
    return plan


def _check_expected(digest: str, expect: str, where: str) -> None:
    """Refuses an --expect-plan that is no sha256, and a plan whose sha256 is not that one."""
    wanted = expect.strip().lower()
    if not _HEX.match(wanted):
        raise ConfigError(
            f"--expect-plan {expect!r} is not a sha256: give the 64 hex digits "
            f"`pcbatch plan` printed (they are in {HASH_NAME} beside the plan)"
        )
    if wanted != digest:
        raise ConfigError(
            f"{where} is not the approved plan: its sha256 is {digest}, --expect-plan "
            f"says {wanted}; nothing was sent. Apply the plan that was approved, or have "
            "this one reviewed"
        )


def _check_hash_file(digest: str, hash_text: str | None, where: str) -> None:
    """Refuses a plan without plan.json.sha256 beside it, or whose bytes no longer have its hash."""
    written = (hash_text or "").split()
    if not written:
        raise ConfigError(
            f"{where}: {HASH_NAME} beside it is missing; nothing was sent. Make the plan "
            "again with `pcbatch plan`"
        )
    if written[0].lower() != digest:
        raise ConfigError(
            f"{where} was changed after it was planned: its sha256 is {digest}, {HASH_NAME} "
            f"says {written[0]}; nothing was sent. A plan is never edited: make a new one "
            "with `pcbatch plan` and have it reviewed"
        )


def _parse_plan(data: bytes, digest: str, where: str) -> ApprovedPlan:
    """The plan file's bytes as an ApprovedPlan; refuses what is no complete plan of this format."""
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"{where} is not a plan ({exc}); nothing was sent") from None
    if not isinstance(document, dict) or document.get("format") != PLAN_FORMAT:
        raise ConfigError(f"{where} is not a {PLAN_FORMAT} plan; nothing was sent")
    try:
        return ApprovedPlan(
            digest,
            datetime.fromisoformat(str(document["planned_at"])),
            dict(document["source"]),
            dict(document["target"]),
            tuple(_planned_row(c) for c in document["changes"]),
            tuple(
                NotPlanned(
                    int(n["row"]), str(n["customer_id"]), str(n["status"]), str(n["message"])
                )
                for n in document["not_planned"]
            ),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{where} is not a complete plan ({exc!r}); nothing was sent") from None


def moved_since_plan(current: Mapping[str, object], planned: Sequence[Change]) -> tuple[Moved, ...]:
    """The planned fields of `current` that hold neither their planned before nor after."""
    moved = []
    for change in planned:
        now = current_value(current, BY_NAME[change.field].path)
        if now != change.before and now != change.after:
            moved.append(Moved(change.field, change.before, now, change.after))
    return tuple(moved)


def moved_message(moved: Sequence[Moved]) -> str:
    """The `changed_since_plan` row's message: each moved field's before, now and planned."""
    parts = [
        f"{m.field}: planned {_shown(m.before)} -> {_shown(m.after)}, now {_shown(m.now)}"
        for m in moved
    ]
    return "changed since the plan, nothing written: " + "; ".join(parts)


def _shown(value: str | None) -> str:
    return "(empty)" if value is None else repr(value)


def _age_text(age: timedelta) -> str:
    seconds = age.total_seconds()
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f}".removesuffix(".0") + "h"
    return f"{seconds / 86400:.1f}".removesuffix(".0") + "d"


def _planned_row(entry: Mapping[str, object]) -> PlannedRow:
    changes = tuple(
        Change(str(f["field"]), _text(f["before"]), _text(f["after"]))
        for f in _list(entry["fields"])
    )
    unknown = [c.field for c in changes if c.field not in BY_NAME]
    if unknown:
        raise ValueError(f"unknown field {unknown[0]!r}")
    cells = entry["cells"]
    profile = entry["profile"]
    if not isinstance(cells, Mapping) or not isinstance(profile, Mapping):
        raise TypeError("cells and profile must be objects")
    row = Row(
        int(str(entry["row"])),
        str(entry["customer_id"]),
        {c.field: c.after for c in changes},
        {str(k): str(v) for k, v in cells.items()},
    )
    return PlannedRow(row, changes, dict(profile), str(entry["etag"]))


def _list(value: object) -> list[object]:
    if not isinstance(value, list):
        raise TypeError("a list was expected")
    return value


def _text(value: object) -> str | None:
    return None if value is None else str(value)
