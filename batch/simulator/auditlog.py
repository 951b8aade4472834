"""The partner's activity log: `GET /v1/auditrecords?startDate=...&endDate=...&size=N`.

As documented (Partner Center docs, develop/get-a-record-of-partner-center-activity-by-user.md,
"REST request" and its response example; develop/auditing-resources.md, "AuditRecord";
develop/api-throttling-guidance.md, "Example of activity log", which asks
`/v1/auditrecords?startDate=2020-09-02&endDate=2020-09-02&size=50` for one day):

    {"totalCount": 2,
     "items": [{"id": "<partner>_<customer>_<operation>_<ticks>", "partnerId", "customerId",
                "customerName", "userPrincipalName", "applicationId", "resourceType",
                "resourceNewValue": "<the new resource as a JSON string>",
                "operationType": "update_customer_billing_profile",
                "operationDate": "2020-09-02T23:26:19.7753934Z", "operationStatus": "succeeded",
                "customizedData": [{"key", "value"}], "attributes": {"objectType": "AuditRecord"}}],
     "links": {"self": {"uri": "/auditrecords?startDate=...&size=500", ...}},
     "attributes": {"objectType": "Collection"}}

- startDate and endDate are "yyyy-mm-dd"; without startDate the log starts 30 days before the
  request; "When the end date is omitted or set to null, the request returns the max window or
  uses today as the end date, whichever is less": a startDate alone reads 30 days from it, or
  to now. "Activity log data availability is limited to the previous 90 days. Requests with a
  start date greater than 90 days prior to the current date will receive a bad request
  exception (error code: 400) and an appropriate message."
- "This service only supports retrieving AuditRecord for the past 90 days and for a maximum of
  30 days" (REST reference, learn.microsoft.com/rest/api/partner-center/audit-operations/
  gets-audit-records): a startDate and endDate more than 30 days apart are answered 400.
- The .NET SDK sends its DateTime as `startDate.ToString(CultureInfo.InvariantCulture)`, that
  is `MM/dd/yyyy HH:mm:ss` (Source/PartnerSDK/AuditRecords/AuditRecordsCollection.cs): taken
  too, exactly, as UTC.
- A failed operation is logged with operationStatus "failed"; a failed add_customer has no
  customerId (no customer was made): Partner-Smart-Office filters the log on
  `OperationStatus == Succeeded && !string.IsNullOrEmpty(CustomerId)` for that reason
  (src/SmartOffice.Functions/ResourceConverters/AuditRecordConverter.cs, its PR #19).
- The .NET SDK returns the log as a SeekBasedResourceCollection<AuditRecord> walked by the same
  enumerator as the customer list (IAuditRecordsCollection.Query, learn.microsoft.com .NET API
  reference): paging here is the customer list's (customers.py): `links.next` with an
  `MS-ContinuationToken` header, asked for with `seekOperation=Next`.
- Both response examples list the newest record first; so does this log.
- `operationType` `update_customer_billing_profile`, `add_customer` and `delete_customer` are in
  the documented list; `resourceType` values include `customer`.

Not documented, decided here:
- A date-only endDate takes in the whole of that day (the throttling guide's one-day example
  gives the same date twice); a full ISO 8601 date-time is also taken, exactly (the docs' REST
  example `startDate=6/1/2017 12:00:00 AM`, an en-US date with AM/PM, is refused here).
  A date that is none of these, a start after the end, a bad size, seekOperation or token: 400,
  code 800002 ("Invalid request input"); a start more than `retention_days` back, and a span of
  more than 30 days: 400, code 800002 (the service's code for these is not documented).
- A billing-profile update is recorded with resourceType `customer` and resourceNewValue the
  new profile as the throttling guide's add_customer record carries its BillingProfile:
  PascalCase keys, every documented field written, null when it has no value, the address's
  too, then `Attributes: {"Etag", "ObjectType": "CustomerBillingProfile"}`; customizedData is
  empty. A failed add_customer (record_failed_add_customer) carries no resourceNewValue.
- Who: `applicationId` is the token's `appid`, `userPrincipalName` its `upn` when it has one
  (app-only tokens have none, and then the field is left out).
- A record is in the log `lag_s` seconds after the change (the service's log lags its writes
  by an amount the docs do not give); size is cut to 500 like the customer list's.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from batch.simulator.customers import (
    CONTINUATION_HEADER,
    MAX_PAGE_SIZE,
    invalid_input,
    page_size,
)

DEFAULT_DAYS = 30  # "the result set will default to 30 days prior to the request date"
MAX_DAYS = 30  # "for a maximum of 30 days" a request (REST reference)
SDK_DATE = "%m/%d/%Y %H:%M:%S"  # .NET's invariant culture DateTime, as the SDK sends it
# The billing profile's fields and its address's, in the order the add_customer record of
# develop/api-throttling-guidance.md writes them (nulls included).
_PROFILE_FIELDS = ("Id", "FirstName", "LastName", "Email", "Culture", "Language", "CompanyName")
_ADDRESS_FIELDS = (
    "Id",
    "Country",
    "Region",
    "City",
    "State",
    "District",
    "AddressLine1",
    "AddressLine2",
    "AddressLine3",
    "PostalCode",
    "FirstName",
    "LastName",
    "EmailAddress",
    "PhoneNumber",
    "MiddleName",
)
BILLING_PROFILE_UPDATE = "update_customer_billing_profile"
_TOKEN_PREFIX = "pcsim-audit:"
_TICKS_EPOCH = datetime(1, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Logged:
    """One record: when it happened, its order of arrival, and the record as served."""

    at: datetime
    seq: int
    record: Mapping[str, object]


class AuditLog:
    """Every operation the stand-in performed, oldest first; `clock` is the service's UTC time."""

    __slots__ = ("clock", "records")

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.records: list[Logged] = []

    def record_billing_update(
        self,
        *,
        partner_id: str,
        customer_id: str,
        profile: Mapping[str, object],
        etag: str,
        application_id: str | None,
        user_principal_name: str | None = None,
        at: datetime | None = None,
    ) -> Mapping[str, object]:
        """Log an `update_customer_billing_profile` of `customer_id` (profile: as stored)."""
        when = at or self.clock()
        new_value = {**_as_written(profile), "Attributes": _attributes(etag)}
        company = profile.get("companyName")
        record: dict[str, object] = {
            "id": f"{partner_id}_{customer_id}_updatecustomerbillingprofile_{_ticks(when)}",
            "partnerId": partner_id,
            "customerId": customer_id,
            "customerName": company if isinstance(company, str) else "",
        }
        if user_principal_name:
            record["userPrincipalName"] = user_principal_name
        if application_id:
            record["applicationId"] = application_id
        record.update(
            {
                "resourceType": "customer",
                "resourceNewValue": json.dumps(new_value, ensure_ascii=False),
                "operationType": BILLING_PROFILE_UPDATE,
                "operationDate": format_date(when),
                "operationStatus": "succeeded",
                "customizedData": [],
                "attributes": {"objectType": "AuditRecord"},
            }
        )
        self.records.append(Logged(when, len(self.records), record))
        return record

    def record_failed_add_customer(
        self,
        *,
        partner_id: str,
        application_id: str | None,
        user_principal_name: str | None = None,
        at: datetime | None = None,
    ) -> Mapping[str, object]:
        """Log an `add_customer` that failed: no customer was made, so no customerId."""
        when = at or self.clock()
        record: dict[str, object] = {
            "id": f"{partner_id}_addcustomer_{_ticks(when)}",
            "partnerId": partner_id,
        }
        if user_principal_name:
            record["userPrincipalName"] = user_principal_name
        if application_id:
            record["applicationId"] = application_id
        record.update(
            {
                "resourceType": "customer",
                "operationType": "add_customer",
                "operationDate": format_date(when),
                "operationStatus": "failed",
                "customizedData": [],
                "attributes": {"objectType": "AuditRecord"},
            }
        )
        self.records.append(Logged(when, len(self.records), record))
        return record

    def page(
        self,
        query: Mapping[str, str],
        continuation: str | None,
        *,
        lag_s: float = 0.0,
        retention_days: int = 90,
    ) -> dict[str, object]:
        """The page the query (and continuation header) asks for; rules.Refusal for a bad one."""
        now = self.clock()
        params = {key.lower(): value for key, value in query.items()}
        seek = params.get("seekoperation")
        if seek is not None:
            if seek.lower() != "next":
                raise invalid_input(f"seekOperation {seek!r} is not supported; use Next")
            if not continuation:
                raise invalid_input(f"seekOperation=Next needs the {CONTINUATION_HEADER} header")
            start, end, cutoff, offset, size = _read_token(continuation)
        else:
            size = page_size(params.get("size"))
            given_start = _date(params.get("startdate"), end_of_day=False)
            given_end = _date(params.get("enddate"), end_of_day=True)
            start = given_start or now - timedelta(days=DEFAULT_DAYS)
            # no endDate: "the max window or ... today as the end date, whichever is less"
            end = given_end or min(start + timedelta(days=MAX_DAYS), now)
            if start < now - timedelta(days=retention_days):
                raise invalid_input(
                    f"startDate {params.get('startdate')} is more than {retention_days} days"
                    " before the current date; activity log data is kept for"
                    f" {retention_days} days"
                )
            if start > end:
                raise invalid_input("startDate is after endDate")
            if end - start > timedelta(days=MAX_DAYS):
                raise invalid_input(
                    f"startDate {params.get('startdate')} and endDate {params.get('enddate')}"
                    f" are more than {MAX_DAYS} days apart; the activity log is served at most"
                    f" {MAX_DAYS} days a request"
                )
            cutoff, offset = now - timedelta(seconds=lag_s), 0
        chosen = [
            logged
            for logged in reversed(self.records)  # newest first, as the examples list them
            if start <= logged.at <= end and logged.at <= cutoff
        ]
        items = [logged.record for logged in chosen[offset : offset + size]]
        self_query = {key: value for key, value in query.items()}
        links: dict[str, object] = {"self": _link(self_query, [])}
        if offset + size < len(chosen):
            token = _token(start, end, cutoff, offset + size, size)
            links["next"] = _link(
                {"size": str(size), "seekOperation": "Next"},
                [{"key": CONTINUATION_HEADER, "value": token}],
            )
        return {
            "totalCount": len(items),
            "items": items,
            "links": links,
            "attributes": {"objectType": "Collection"},
        }


def format_date(when: datetime) -> str:
    """UTC with seven fractional digits, as operationDate is shown: 2020-09-02T23:26:19.7753934Z."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def _as_written(profile: Mapping[str, object]) -> dict[str, object]:
    """A stored (camelCase) profile as the service writes it into resourceNewValue: PascalCase,
    every documented field present (null when it has no value), other fields kept."""
    written: dict[str, object] = dict.fromkeys(_PROFILE_FIELDS)
    written["DefaultAddress"] = dict.fromkeys(_ADDRESS_FIELDS)
    for name, value in _pascal(profile).items():
        if name == "DefaultAddress" and isinstance(value, Mapping):
            written[name] = {**dict.fromkeys(_ADDRESS_FIELDS), **value}
        elif name not in ("Links", "Attributes"):
            written[name] = value
    return written


def _pascal(document: Mapping[str, object]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in document.items():
        name = key[:1].upper() + key[1:]
        result[name] = _pascal(value) if isinstance(value, Mapping) else value
    return result


def _attributes(etag: str) -> dict[str, str]:
    return {"Etag": etag, "ObjectType": "CustomerBillingProfile"}


def _ticks(when: datetime) -> int:
    """.NET ticks (100 ns since 0001-01-01), the last part of the documented record ids."""
    return (when - _TICKS_EPOCH) // timedelta(microseconds=1) * 10


def _date(text: str | None, *, end_of_day: bool) -> datetime | None:
    if text is None or not text.strip():
        return None
    value = text.strip()
    try:
        if len(value) == 10:
            day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
            return day + timedelta(days=1, microseconds=-1) if end_of_day else day
        if "/" in value:
            return datetime.strptime(value, SDK_DATE).replace(tzinfo=UTC)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise invalid_input(
            f"{text!r} is not a date (yyyy-mm-dd, or MM/dd/yyyy HH:mm:ss)"
        ) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _link(query: Mapping[str, str], headers: list[dict[str, str]]) -> dict[str, object]:
    return {"uri": f"/v1/auditrecords?{urlencode(query)}", "method": "GET", "headers": headers}


def _token(start: datetime, end: datetime, cutoff: datetime, offset: int, size: int) -> str:
    parts = [str(int(moment.timestamp() * 1_000_000)) for moment in (start, end, cutoff)]
    raw = f"{_TOKEN_PREFIX}{':'.join(parts)}:{offset}:{size}".encode()
    return base64.urlsafe_b64encode(raw).decode()


def _read_token(token: str) -> tuple[datetime, datetime, datetime, int, int]:
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
        if not text.startswith(_TOKEN_PREFIX):
            raise ValueError(text)
        start, end, cutoff, offset, size = (
            int(part) for part in text.removeprefix(_TOKEN_PREFIX).split(":")
        )
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise invalid_input(f"the {CONTINUATION_HEADER} is not one this service issued") from None
    if offset < 0 or not 0 < size <= MAX_PAGE_SIZE:
        raise invalid_input(f"the {CONTINUATION_HEADER} is not one this service issued")
    start_at, end_at, cutoff_at = (
        datetime.fromtimestamp(0, UTC) + timedelta(microseconds=value)
        for value in (start, end, cutoff)
    )
    return start_at, end_at, cutoff_at, offset, size
