"""One row applied to one billing profile, and the step that follows each GET of it.

make_plan: (current resource, Row) -> Plan(new resource, changes). Rules (README.md, "Usage:
`pcbatch run`", what happens to each valid row):

- Only the row's fields are touched; every other field stays exactly as the service sent it,
  unknown ones and `attributes` (with its etag) included.
- Values compare as exact strings: a change of case IS a change (unlike Set-PartnerCustomer).
- A None in the row clears the field: the new resource holds an explicit null, which means
  "no value" to a service that replaces the whole resource and to one that merges alike.
- A field the service sent as null equals a field it left out; clearing either is no change.
- A plan with no changes means no PUT (`unchanged`); applying a plan's row to its own resource
  again gives no changes (the plan is idempotent).

step_after_get: what the update of one customer does after each GET, in this order:

    the answer has no etag              FAIL (the row ends `failed`)
    nothing to change                   UNCHANGED, or LANDED (`updated`) when a PUT of this
                                          customer lost its answer: it had landed
    the merged address's country has    RULES: fetch them (once per run), then step again
      no rules answer yet (a run that
      checks country rules)
    the merged address breaks them      INVALID (the row ends `invalid`, the field named as
                                          the sheet names it; nothing is sent)
    an address change to check first    VALIDATE (--validate-addresses, once per new address);
                                          a verdict other than VERIFIED ends the row `rejected`
    a dry run                           WOULD_UPDATE
    otherwise                           PUT the plan's resource with If-Match: the GET's etag

Pure: no I/O; the input mapping is never modified (the new resource shares untouched parts).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from batch.core.country_rules import ADDRESS_KEYS, RulesAnswer, check_address
from batch.core.fields import BY_NAME, UPDATABLE
from batch.core.model import Change, Row, Status

ADDRESS = "defaultAddress"
NO_ETAG = "the profile came without an etag"
# The address validation verdicts that let the update go on (anything else: `rejected`).
VERIFIED = frozenset({"VerifiedShippable", "Verified"})
_ADDRESS_PARTS = ("addressLine1", "addressLine2", "city", "state", "postalCode", "country")


@dataclass(frozen=True, slots=True)
class Plan:
    """The resource to PUT and the fields that differ (in README.md's "Columns" order)."""

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


class Next(StrEnum):
    """What the update of a customer does after a GET (see the module's table)."""

    FAIL = "fail"
    UNCHANGED = "unchanged"
    LANDED = "landed"
    RULES = "rules"
    INVALID = "invalid"
    VALIDATE = "validate"
    WOULD_UPDATE = "would_update"
    PUT = "put"


_FINAL = {
    Next.FAIL: Status.FAILED,
    Next.UNCHANGED: Status.UNCHANGED,
    Next.LANDED: Status.UPDATED,
    Next.INVALID: Status.INVALID,
    Next.WOULD_UPDATE: Status.WOULD_UPDATE,
}


@dataclass(frozen=True, slots=True)
class Step:
    """The step after a GET: `next`, the plan it acts on (None for FAIL), and for a step that
    ends the row, the changes and message its outcome reports."""

    next: Next
    plan: Plan | None = None
    changes: tuple[Change, ...] = ()
    message: str = ""
    country: str | None = None  # RULES: the country whose rules are wanted

    @property
    def status(self) -> Status | None:
        """The row's final status when this step ends it (FAIL, UNCHANGED, LANDED, INVALID,
        WOULD_UPDATE)."""
        return _FINAL.get(self.next)

    @property
    def address(self) -> Mapping[str, object]:
        """The planned defaultAddress (the one VALIDATE checks); {} when there is none."""
        address = self.plan.resource.get(ADDRESS) if self.plan is not None else None
        return address if isinstance(address, Mapping) else {}


def step_after_get(
    current: Mapping[str, object],
    etag: str | None,
    row: Row,
    *,
    landed: tuple[Change, ...] | None,
    dry_run: bool,
    validate_addresses: bool,
    verified: Mapping[str, object] | None,
    country_rules: Mapping[str, RulesAnswer] | None = None,
    columns: Mapping[str, str] | None = None,
) -> Step:
    """What to do after a GET answered `current` with `etag` (see the module's table).

    landed: the changes of a PUT of this customer whose answer was lost (None when none was).
    verified: the last address the service verified for this customer (not checked again).
    country_rules: country -> its rules answer, as known so far; None: no rules are checked.
    columns: field -> the sheet's header, to name a field in an INVALID step's message.
    """
    if etag is None:
        return Step(Next.FAIL, message=NO_ETAG)
    plan = make_plan(current, row)
    if not plan.changes:
        if landed is not None:
            return Step(Next.LANDED, plan, landed)
        return Step(Next.UNCHANGED, plan)
    address = plan.resource.get(ADDRESS)
    if country_rules is not None and isinstance(address, Mapping):
        country = address_country(address)
        if country is not None:
            answer = country_rules.get(country)
            if answer is None:
                return Step(Next.RULES, plan, plan.changes, country=country)
            if answer.rules is not None:
                problems = check_address(address, answer.rules)
                if problems:
                    named = columns or {}
                    message = "; ".join(
                        f"{named.get(p.field) or _unnamed(p.field)}: {p.reason}" for p in problems
                    )
                    return Step(Next.INVALID, plan, message=message)
    if (
        validate_addresses
        and plan.address_changes
        and isinstance(address, Mapping)
        and address != verified
    ):
        return Step(Next.VALIDATE, plan, plan.changes)
    if dry_run:
        return Step(Next.WOULD_UPDATE, plan, plan.changes)
    return Step(Next.PUT, plan, plan.changes)


def country_after(current: Mapping[str, object], row: Row) -> str | None:
    """The country of the address the row would leave on the profile `current` (the row's own,
    or the profile's when the row sets none): the country rules it will be checked against."""
    address = make_plan(current, row).resource.get(ADDRESS)
    return address_country(address) if isinstance(address, Mapping) else None


def address_country(address: Mapping[str, object]) -> str | None:
    """The address's 2-letter country in capitals, or None when it has no such country."""
    country = address.get("country")
    if not isinstance(country, str):
        return None
    country = country.strip().upper()
    return country if len(country) == 2 and country.isascii() and country.isalpha() else None


def _unnamed(field: str) -> str:
    """A field of the merged address that the sheet has no column for: the profile's value."""
    return f"{ADDRESS_KEYS[field]} (the profile's; no column in the sheet)"


def address_refusal(verdict: Mapping[str, object]) -> str | None:
    """None when the address validation's answer lets the update go on, else the row's
    `rejected` message: the verdict, its message and its suggested addresses, on one line."""
    status = verdict.get("status")
    if status in VERIFIED:
        return None
    parts = [f"address not verified ({status})"]
    note = verdict.get("validationMessage")
    if note:
        parts.append(str(note))
    suggested = verdict.get("suggestedAddresses")
    if isinstance(suggested, list) and suggested:
        lines = [_one_line(a) for a in suggested if isinstance(a, Mapping)]
        parts.append("suggested: " + " | ".join(line for line in lines if line))
    return "; ".join(parts)


def _one_line(address: Mapping[str, object]) -> str:
    return ", ".join(str(address[k]) for k in _ADDRESS_PARTS if address.get(k))
