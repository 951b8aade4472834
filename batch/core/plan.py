"""One row applied to one billing profile: (current resource, Row) -> Plan(new resource, changes).

Rules (CONTRACT.md, "The update of one customer"):

- Only the row's fields are touched; every other field stays exactly as the service sent it,
  unknown ones and `attributes` (with its etag) included.
- Values compare as exact strings: a change of case IS a change (unlike Set-PartnerCustomer).
- A None in the row clears the field: the new resource holds an explicit null, which means
  "no value" to a service that replaces the whole resource and to one that merges alike.
- A field the service sent as null equals a field it left out; clearing either is no change.
- A plan with no changes means no PUT (`unchanged`); applying a plan's row to its own resource
  again gives no changes (the plan is idempotent).

Pure: no I/O; the input mapping is never modified (the new resource shares untouched parts).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from batch.core.fields import BY_NAME, UPDATABLE
from batch.core.model import Change, Row

ADDRESS = "defaultAddress"


@dataclass(frozen=True, slots=True)
class Plan:
    """The resource to PUT and the fields that differ (in the contract's field order)."""

    resource: dict[str, object]
    changes: tuple[Change, ...]

    @property
    def address_changes(self) -> bool:
        """True when a field of defaultAddress changes (--validate-addresses checks those)."""
        return any(BY_NAME[c.field].path[0] == ADDRESS for c in self.changes)


def current_value(resource: Mapping[str, object], path: tuple[str, ...]) -> str | None:
    """The value at `path` as text, or None when absent or null (the two are equal)."""
    node: object = resource
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    if node is None:
        return None
    # The service sends strings; anything else is compared by its text so that a number the
    # row spells the same way is no change.
    return node if isinstance(node, str) else str(node)


def make_plan(current: Mapping[str, object], row: Row) -> Plan:
    """The resource with the row's values applied, and what changed; `current` is not modified."""
    resource = dict(current)
    copied: set[tuple[str, ...]] = set()  # nested objects already copied: `current` stays intact
    changes: list[Change] = []
    for field in UPDATABLE:
        if field.name not in row.values:
            continue
        after = row.values[field.name]
        before = current_value(current, field.path)
        if before == after:
            continue
        changes.append(Change(field.name, before, after))
        node = resource
        for depth, key in enumerate(field.path[:-1], start=1):
            if field.path[:depth] not in copied:
                inner = node.get(key)
                node[key] = dict(inner) if isinstance(inner, Mapping) else {}
                copied.add(field.path[:depth])
            child = node[key]
            assert isinstance(child, dict)  # made a dict just above
            node = child
        node[field.path[-1]] = after
    return Plan(resource, tuple(changes))
