"""The activity log as incremental runs read it: its records, its pages and who made them. Pure.

Partner Center's activity log (`GET /v1/auditrecords`, Partner Center docs develop/get-a-record-
of-partner-center-activity-by-user.md; its records develop/auditing-resources.md, "AuditRecord")
is read a page at a time; what the night makes of the records is incremental.py's.

- read_audit_page (incremental.py's rule 2): a page of the log -> records and the next page. A
  failed operation's record is skipped before anything else is looked at (it changed nothing;
  the service writes failed add_customer records without a customerId). A page that cannot be
  trusted otherwise (an item of a change without its customer or date, a next link without its
  token or leaving the REST root) is a `problem`: a gap, and the run falls back to a full one.
- profile_values: the billing profile a record's resourceNewValue carries.
- Identity, token_identity: who pcbatch signs in as, to tell its own writes among the records.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from batch.core.export_rows import NextPage, PageTrail, next_page
from batch.core.fields import UPDATABLE
from batch.core.json_read import claims_of, key_of

MAX_PAGES = 10_000  # 5 million records: a log longer than that is taken as a loop (a gap)
BILLING_PROFILE_UPDATE = "update_customer_billing_profile"
FAILED = "failed"  # operationStatus of an operation that did not happen (auditing-resources.md)
BILLING_PROFILE_OBJECT = "customerbillingprofile"  # Attributes.ObjectType, lower case
# Operations that change a customer a billing-profile job sends to (auditing-resources.md).
CHANGES = frozenset(
    {
        BILLING_PROFILE_UPDATE,
        "add_customer",
        "delete_customer",
        "remove_partner_customer_relationship",
    }
)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One record of the activity log, as far as incremental runs read it.

    new_values: the fields of the billing profile in resourceNewValue (None: not carried, or
    not a billing-profile update's).
    """

    customer_id: str
    operation_type: str
    operation_date: datetime
    status: str
    application_id: str | None = None
    user_principal_name: str | None = None
    new_values: Mapping[str, str | None] | None = None


@dataclass(frozen=True, slots=True)
class AuditPage:
    """The records of a page, its next page, and a problem that makes the log a gap."""

    records: tuple[AuditRecord, ...]
    next: NextPage | None
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class Identity:
    """Who pcbatch signs in as: the token's application id and user (either may be unknown)."""

    application_id: str | None = None
    user_principal_name: str | None = None

    def made(self, record: AuditRecord) -> bool:
        """True when the record names this identity as its maker."""
        mine, theirs = self.user_principal_name, record.user_principal_name
        if mine and theirs:
            return mine.lower() == theirs.lower() and record.application_id in (
                None,
                self.application_id,
            )
        return bool(self.application_id) and record.application_id == self.application_id


def read_audit_page(body: object, base_url: str, trail: PageTrail | None = None) -> AuditPage:
    """The records of one page of the log and its next page (rule 2).

    trail: the reading's PageTrail (export_rows): a repeated token or too many pages is a problem.
    """
    if not isinstance(body, Mapping) or not isinstance(body.get("items"), list):
        return AuditPage((), None, "the activity log answered without a list of items")
    records: list[AuditRecord] = []
    for item in body["items"]:
        if not isinstance(item, Mapping):
            return AuditPage((), None, "the activity log sent an item that is no record")
        status = str(item.get("operationStatus") or "")
        if status.lower() == FAILED:
            # First: a failed operation changed nothing, and the service writes some without
            # a customerId (failed add_customer records; Partner-Smart-Office's
            # AuditRecordConverter keeps only `OperationStatus == Succeeded` records with a
            # customerId, src/SmartOffice.Functions/ResourceConverters/AuditRecordConverter.cs).
            continue
        operation = item.get("operationType")
        if operation not in CHANGES:
            continue
        customer_id = item.get("customerId")
        when = _date(item.get("operationDate"))
        if not isinstance(customer_id, str) or not customer_id or when is None:
            return AuditPage((), None, f"a {operation} record without its customer or date")
        new_value = item.get("resourceNewValue") if operation == BILLING_PROFILE_UPDATE else None
        records.append(
            AuditRecord(
                customer_id=customer_id.lower(),
                operation_type=str(operation),
                operation_date=when,
                status=status,
                application_id=_text(item.get("applicationId")),
                user_principal_name=_text(item.get("userPrincipalName")),
                new_values=profile_values(new_value),
            )
        )
    following, problem = next_page(body, base_url, trail)
    if problem is not None:
        return AuditPage(
            (), None, f"the activity log's next-page link cannot be followed: {problem}"
        )
    return AuditPage(tuple(records), following)


def profile_values(new_value: object) -> dict[str, str | None] | None:
    """The billing-profile fields of a record's resourceNewValue, or None when it carries none.

    resourceNewValue is documented as a string (auditing-resources.md, "AuditRecord"): the
    resource as JSON, PascalCase with nulls written (the throttling guide's add_customer record
    carries its BillingProfile so); a decoded object is read too, keys in any case, a null, an
    empty or a missing field alike meaning no value. A document whose Attributes.ObjectType is
    not CustomerBillingProfile is no billing profile: None.
    """
    document: object = new_value
    if isinstance(new_value, str):
        try:
            document = json.loads(new_value)
        except ValueError:
            return None
    if not isinstance(document, Mapping):
        return None
    kind = key_of(key_of(document, "attributes"), "objectType")
    if kind is not None and str(kind).lower() != BILLING_PROFILE_OBJECT:
        return None
    values: dict[str, str | None] = {}
    for field in UPDATABLE:
        node: object = document
        for key in field.path:
            node = key_of(node, key)
        values[field.name] = None if node is None or node == "" else str(node)
    return values


def token_identity(access_token: str) -> Identity:
    """The application (`appid`, or `azp`) and user (`upn`) a JWT access token names; unknown
    parts None. Read, not verified: the service verifies it, this only tells records apart."""
    claims = claims_of(access_token)
    return Identity(
        _text(claims.get("appid")) or _text(claims.get("azp")), _text(claims.get("upn"))
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _date(value: object) -> datetime | None:
    """operationDate (`2020-09-02T23:26:19.7753934Z`: seven fractional digits) as UTC."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    head, dot, rest = text.partition(".")
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[:digits][:6].ljust(6, '0')}{rest[digits:]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
