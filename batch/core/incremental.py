"""Incremental runs: which rows the activity log shows unchanged, so they need no call. Pure.

A nightly job re-applies the same sheet; Partner Center's activity log (`GET /v1/auditrecords`,
Partner Center docs develop/get-a-record-of-partner-center-activity-by-user.md) records every
`update_customer_billing_profile` with its customer, time and who made it, and Microsoft's
throttling guide (develop/api-throttling-guidance.md) asks partners to read it instead of
scanning collections. With the job's state (what pcbatch last saw or wrote, per customer) that
tells which rows are known unchanged without asking the service.

The rules, in order:

1. choose_window: a full run (and why) when there is no earlier run in the state, when
   --full-every says it is due, or when the window would start further back than the log keeps
   (90 days, docs; the state is then older than the log). Else the log is read from the last
   run's start minus MARGIN to now, in requests of at most 30 days each (request_windows,
   first_page_url), every request paged.
2. read_audit_page (activity_log.py): a page of the log -> records and the next page; a page
   that cannot be trusted is a `problem`: a gap, and the run falls back to a full one.
3. changed_customers: every customer a record names as changed (billing profile updated,
   customer added, deleted or its relationship removed), except records that change nothing
   the state knows (changes_nothing: the billing profile the record carries has, in every field
   the state knows, the value the state knows, whoever wrote it), pcbatch's own writes
   told by the signed-in identity (is_own_write) and changes the state already saw
   (seen_already).
4. known_unchanged: a row is known unchanged when its customer is not changed (or its newest
   change leaves the fields the row sets as the state knows them: changes_nothing), the state
   knows the customer as of a time the window covers, and every value the row sets equals the
   value the state knows for that field.
5. may_put_onto_known: a row that is not known unchanged, whose customer is not changed (as in
   rule 4) and
   whose profile and etag the state kept as of a time the window covers, is PUT onto that
   profile with that etag, without a GET (update.py). The docs say etags are temporary and not to be
   stored (develop/test-and-debug.md, "Troubleshooting tips"): here a kept etag is only ever an
   If-Match, so one that is no longer the profile's costs a 412 (or 400/2055) and the profile
   is read as in any conflict; nothing is written onto a profile that moved. A customer the log
   shows changed by another writer in a field the job sets is always read first; one whose
   change left those fields alone (changes_nothing) is PUT onto the kept profile, which If-Match
   guards: most such records are pcbatch's own last write, whose answer the state kept.
   Everything else is sent as in a full run.
6. learned: what the state knows after a row's outcome.

Time allowances (decided here; the docs give no figures for either):
- SKEW, 5 minutes: the service's clock (operationDate) and this machine's may differ this much.
- LOG_LAG, 10 minutes: a change may show in the log this long after it was made.
  A skew beyond it, measured from the `Date` of the log's first answer (clock_skew), makes the
  night a full one (skewed) and the state keeps that night's times in the service's clock.
- MARGIN = SKEW + LOG_LAG = 15 minutes: the window starts this long before the last run did, so
  a change made while the last run read the log (or just before, still lagging) is read now.
A change that shows in the log later than LOG_LAG can be missed for one night; --full-every
catches what the log does not show.

Country rules (`GET /v1/countryvalidationrules/{iso2}`, fetched once per run when a row of the
country is to be PUT) are kept in the state too: an incremental run uses the final answers a
run fetched within RULES_KEPT_FOR (7 days, decided here: the rules are states lists and
postal-code patterns, which change seldom; the service checks every PUT against its own rules
anyway, code 27002) instead of fetching them again. A full run always fetches them afresh.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from batch.core.activity_log import FAILED, AuditRecord, Identity
from batch.core.model import KnownProfile, Outcome, Row, Status

SKEW = timedelta(minutes=5)
LOG_LAG = timedelta(minutes=10)
MARGIN = SKEW + LOG_LAG
# "activity log data availability is limited to the previous 90 days" (docs); the log is asked
# by date (yyyy-mm-dd), so a window may start up to a day before its start time: one day less.
RETENTION = timedelta(days=90)
USABLE_RETENTION = RETENTION - timedelta(days=1)
# "This service only supports retrieving AuditRecord for the past 90 days and for a maximum of
# 30 days" (REST reference, learn.microsoft.com/rest/api/partner-center/audit-operations/
# gets-audit-records); "When the end date is omitted or set to null, the request returns the
# max window or uses today as the end date, whichever is less" (docs, develop/get-a-record-of-
# partner-center-activity-by-user.md, "URI parameter"). Microsoft's own readers ask a longer
# span 30 days at a time, each request with a startDate only, each paged: the PowerShell
# module's Get-PartnerAuditRecord (src/PowerShell/Commands/GetPartnerAuditRecord.cs, ChunkDate
# with QueryAsync(date)) and the Partner-Smart-Office sample (src/SmartOffice.Functions/
# Environments.cs, GetAuditRecordsAsyc). pcbatch does the same, one day of overlap between
# requests (REQUEST_STEP), so a window the service counts a little short loses nothing.
MAX_REQUEST_SPAN = timedelta(days=30)
REQUEST_STEP = MAX_REQUEST_SPAN - timedelta(days=1)
PAGE_SIZE = 500
# --full-every N: a run more than N days less half a day after the last full run is full, so a
# job that starts a little earlier each night still has its full run on the Nth night.
FULL_EVERY_SLACK = timedelta(hours=12)
RULES_KEPT_FOR = timedelta(days=7)
KNOWN_MESSAGE = "known unchanged from the activity log: no call made"
PUT_ONTO_KNOWN = (
    "sent onto the profile the job's state kept (the activity log shows no change since): no GET"
)


@dataclass(frozen=True, slots=True)
class Known:
    """What the state knows of one customer's billing profile.

    values: field -> text (None: no value) for the fields pcbatch last saw or wrote.
    as_of: when that was known (this machine's clock, UTC).
    wrote_at: when pcbatch's own PUT of these values was answered, else None.
    profile: the whole profile and its etag as that answer carried them, to keep (None: none;
    JobState.known leaves the kept ones out, JobState.profiles reads the few a run needs).
    """

    customer_id: str
    values: Mapping[str, str | None]
    as_of: datetime
    wrote_at: datetime | None = None
    profile: KnownProfile | None = None


@dataclass(frozen=True, slots=True)
class Window:
    """Read the log from `start` (this machine's clock, UTC) to now."""

    start: datetime


@dataclass(frozen=True, slots=True)
class FullRun:
    """No incremental run tonight; `reason` says why (it goes into the log and summary)."""

    reason: str


def choose_window(
    now: datetime,
    last_run_start: datetime | None,
    last_full_start: datetime | None,
    full_every_days: int | None,
) -> Window | FullRun:
    """Tonight's window of the log, or a full run and why (rule 1)."""
    if last_run_start is None or last_full_start is None:
        return FullRun("no earlier run of this job in its state: a full run first")
    if full_every_days is not None:
        since = now - last_full_start
        if since > timedelta(days=full_every_days) - FULL_EVERY_SLACK:
            return FullRun(
                f"a full run is due: the last one started {since.days} days ago"
                f" (full_every = {full_every_days})"
            )
    start = last_run_start - MARGIN
    if now - start > USABLE_RETENTION:
        return FullRun(
            f"the last run started {(now - last_run_start).days} days ago: the activity log"
            f" keeps {RETENTION.days} days, so it cannot tell what changed since"
        )
    if start > now + SKEW:
        return FullRun("the last run started after now: this machine's clock went back")
    return Window(start)


def clock_skew(here: datetime, service_date: datetime | None) -> timedelta | None:
    """How far this machine's clock is ahead of the service's (negative: behind), from an
    answer's `Date` (whole seconds) and this clock when the answer came; None without one."""
    return None if service_date is None else here - service_date


def _past_allowance(offset: timedelta | None) -> timedelta | None:
    """How far `offset` is off, in whole seconds, when that is more than SKEW (else None).

    Cut down to whole seconds: a Date header has whole seconds, so a clock ahead reads up to
    a second more (never 1:00:01 said for a clock an hour ahead)."""
    if offset is None or abs(offset) <= SKEW:
        return None
    return timedelta(seconds=int(abs(offset).total_seconds()))


def skewed(skew: timedelta | None) -> FullRun | None:
    """A full run when this machine's clock and the service's differ by more than SKEW: the
    windows and "known as of" compare this clock with the log's operationDate, so a skew
    beyond the allowance could skip a change; never silently (rule 1)."""
    by = _past_allowance(skew)
    if by is None:
        return None
    ahead = "ahead of" if skew > timedelta(0) else "behind"
    return FullRun(
        f"this machine's clock is {by} {ahead} the service's (its Date header), more"
        f" than the {SKEW} allowed: fix the clock (NTP); the state keeps the service's time"
    )


def request_windows(start: datetime, now: datetime) -> list[tuple[datetime, datetime | None]]:
    """The requests that read the log from `start` to `now`: (start, end) of each, oldest first.

    Each starts at a UTC midnight (the log is asked by date, yyyy-mm-dd) and spans at most
    MAX_REQUEST_SPAN; `end` is where the service ends a request that another follows (the
    documented max window: it is not sent), None for the last one, which ends now. A request
    is the last when it reaches now even by the service's clock (SKEW ahead of this one); the
    next starts REQUEST_STEP after the one before, one day of overlap.
    """
    begin = datetime.combine(start.astimezone(UTC).date(), datetime.min.time(), UTC)
    windows: list[tuple[datetime, datetime | None]] = []
    while now + SKEW > begin + MAX_REQUEST_SPAN:
        windows.append((begin, begin + MAX_REQUEST_SPAN))
        begin += REQUEST_STEP
    windows.append((begin, None))
    return windows


def first_page_url(base_url: str, begin: datetime) -> str:
    """The first page of one request of the log (request_windows): its startDate only.

    No endDate: the service then ends the request at the max window or now, whichever is less
    (docs, see MAX_REQUEST_SPAN), as Microsoft's own readers ask it; a date-only endDate of
    today could be read as the start of today, and lose today's changes.
    """
    root = base_url.rstrip("/")
    day = begin.astimezone(UTC).strftime("%Y-%m-%d")
    return f"{root}/v1/auditrecords?startDate={day}&size={PAGE_SIZE}"


def changes_nothing(record: AuditRecord, known: Known | None, fields: Iterable[str]) -> bool:
    """True when the record carries the billing profile it wrote and that profile has, in each
    of `fields` (the fields a row sets), the value the state knows: whoever made it (pcbatch
    itself, with a token whose identity it cannot read, or another writer repeating the same
    values), it changed nothing for that row. A record without a new value: False (rule 3).
    """
    if known is None or record.new_values is None:
        return False
    names = list(fields)
    return bool(names) and all(
        name in known.values and record.new_values.get(name) == known.values[name] for name in names
    )


def is_own_write(record: AuditRecord, known: Known | None, me: Identity) -> bool:
    """True when the record is pcbatch's own PUT that the state recorded: made by the signed-in
    identity, within SKEW of the time the state says it wrote, and carrying (when it carries
    one) the values the state says it wrote."""
    if known is None or known.wrote_at is None or not me.made(record):
        return False
    if abs(record.operation_date - known.wrote_at) > SKEW:
        return False
    if record.new_values is None:
        return True
    return all(record.new_values.get(name) == value for name, value in known.values.items())


def seen_already(record: AuditRecord, known: Known | None) -> bool:
    """True when the state learned the profile more than SKEW after the record's change: what it
    knows already includes it."""
    return known is not None and record.operation_date < known.as_of - SKEW


def log_lag(records: Iterable[AuditRecord], state: Mapping[str, Known]) -> timedelta | None:
    """How far the log's operationDate runs behind this machine's clock, read off pcbatch's own
    writes (rule 1): for each customer the state says pcbatch wrote, the record carrying the
    values it wrote that lies nearest that time; the median of (wrote_at - operationDate) over
    those customers. None: no such record (nothing to compare)."""
    nearest: dict[str, timedelta] = {}
    for record in records:
        known = state.get(record.customer_id)
        if known is None or known.wrote_at is None or record.status.lower() == FAILED:
            continue
        if not changes_nothing(record, known, known.values):
            continue  # not the values pcbatch wrote
        lag = known.wrote_at - record.operation_date
        best = nearest.get(record.customer_id)
        if best is None or abs(lag) < abs(best):
            nearest[record.customer_id] = lag
    if not nearest:
        return None
    lags = sorted(nearest.values())
    return lags[len(lags) // 2]


def log_lagging(lag: timedelta | None) -> FullRun | None:
    """A full run when the log's times and this machine's differ by more than SKEW: a change
    stamped before what the state knows "as of" would be taken as seen already (rule 1)."""
    by = _past_allowance(lag)
    if by is None:
        return None
    early = "behind" if lag > timedelta(0) else "ahead of"
    return FullRun(
        f"the activity log's times run {by} {early} this machine's record of pcbatch's own"
        f" writes, more than the {SKEW} allowed: a change could be taken as one already seen"
    )


def changed_customers(
    records: Iterable[AuditRecord], state: Mapping[str, Known], me: Identity
) -> dict[str, AuditRecord]:
    """customer -> the newest record that changed it; records that change nothing the state
    knows, own writes and seen changes left out (rule 3)."""
    changed: dict[str, AuditRecord] = {}
    for record in records:
        if record.status.lower() == FAILED:
            continue  # a failed operation changed nothing
        known = state.get(record.customer_id)
        if known is not None and changes_nothing(record, known, known.values):
            continue  # nothing the state knows (the fields the job's rows set) changed
        if is_own_write(record, known, me) or seen_already(record, known):
            continue
        newest = changed.get(record.customer_id)
        if newest is None or record.operation_date > newest.operation_date:
            changed[record.customer_id] = record
    return changed


def known_unchanged(
    row: Row, known: Known | None, changed: Mapping[str, AuditRecord], window: Window
) -> bool:
    """True when the row needs no call (rule 4)."""
    if known is None or _changes_row(row, known, changed):
        return False
    if known.as_of - SKEW < window.start:
        return False  # known from before the window: a change since would not be in it
    return all(
        name in known.values and known.values[name] == value for name, value in row.values.items()
    )


def may_put_onto_known(
    row: Row, known: Known | None, changed: Mapping[str, AuditRecord], window: Window
) -> bool:
    """True when the row may be PUT onto the profile the state kept of its customer (if it
    kept one), without a GET; False: read it first (rule 5)."""
    if known is None or _changes_row(row, known, changed):
        return False
    return known.as_of - SKEW >= window.start


def learned(row: Row, outcome: Outcome, at: datetime, known: Known | None) -> Known | None:
    """What the state knows of the row's customer after its outcome (rule 6).

    updated: the row's values, written now; unchanged after a GET: the row's values, seen now
    (only the row's fields: the others were not compared); both keep the profile and etag of
    the last answer. skipped, would_update: as before; anything else (failed, not found,
    rejected): nothing, the next run asks the service.
    """
    profile = None
    if outcome.profile is not None and outcome.etag is not None:
        profile = KnownProfile(outcome.profile, outcome.etag)
    if outcome.status is Status.UPDATED:
        return Known(row.customer_id, dict(row.values), at, wrote_at=at, profile=profile)
    if outcome.status is Status.UNCHANGED:
        return Known(row.customer_id, dict(row.values), at, profile=profile)
    if outcome.status in (Status.SKIPPED, Status.WOULD_UPDATE):
        return known
    return None


def confirmed_as_of(log_read_at: datetime) -> datetime:
    """When the state knows a row known unchanged as of: the log's read, less LOG_LAG (a change
    the log did not show yet is read by the next run's window)."""
    return log_read_at - LOG_LAG


def _changes_row(row: Row, known: Known, changed: Mapping[str, AuditRecord]) -> bool:
    """True when the log shows the row's customer changed in a field the row sets."""
    record = changed.get(row.customer_id)
    return record is not None and not changes_nothing(record, known, row.values)
