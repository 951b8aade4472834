"""One `pcbatch export`: list the customers, read each billing profile, stream the sheet. Read-only.

Order and promises:
- Every check that can fail without sending anything comes first (OUTPUT, base URL, the
  --customers sheet, credentials): those failures exit 2 and write no file.
- Customers come from the customer list (`GET /v1/customers?size=500`, then each page's
  links.next with its MS-ContinuationToken, until a page has none), or, with --customers, from
  a sheet's customer-id column (its order, each customer once, no list call).
- Up to --concurrency profiles are read at once (`GET .../profiles/billing`); rows are written
  in the customers' order as soon as they are ready, never more than a few windows ahead.
- Every call, list pages included, goes through the one call path (engine/calls.py: the --rate
  ceiling, the adaptive rate, a 429 read as one customer's quota or the partner's as a run reads
  it, retry.decide: 429 waits Retry-After, 5xx and lost answers back off, a 401 renews the token
  once), and the customers through the one pool (engine/pool.py). Only GETs: never a PUT.
- A customer whose profile cannot be read goes to the side file with its error; the others
  are written, and the export exits 1. A list page that cannot be read ends the listing (the
  customers read so far are written; exit 1). Credentials refused (a 401 after renewal, or a
  403 before any call succeeded) stop the export: exit 3. SIGINT/SIGTERM: exit 130. Either way
  the customers read until then are written.
- A file under OUTPUT's name is always a whole export: one that did not read every customer
  (the list failed part way, a stop, a signal) leaves the rows it read in NAME.partial.csv (or
  .xlsx, output/export_writer.partial_path) and says so; its stop message says to export
  again (export has no --resume). Temporary files an export killed mid-write left next to
  OUTPUT are removed when the next export of it starts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from batch.core.cells import CLEAR_TOKEN
from batch.core.errors import AuthFailed, InputError, PcbatchError
from batch.core.export_rows import (
    ExportRow,
    ListedCustomer,
    PageTrail,
    export_row,
    first_page_url,
    read_page,
)
from batch.core.ids import canonical_guid
from batch.core.model import RunStats, Tally
from batch.core.options import RunOptions, resolve_base_url
from batch.core.retry import Action, Call, Decision, Reply, describe, tally_of
from batch.core.stops import Stop
from batch.durable.files import remove_leftovers
from batch.engine.calls import Calls, open_calls
from batch.engine.interrupt import stop_on_signals
from batch.engine.pacing import pacer_for
from batch.engine.pool import work_through
from batch.output.export_writer import (
    ErrorsWriter,
    SheetWriter,
    check_output,
    errors_path,
    partial_path,
)
from batch.sheets.sheet import load_sheet
from batch.wire.credentials import provider_from_env

log = logging.getLogger(__name__)

WINDOW = 4  # rows read ahead of the one written next, per unit of --concurrency


@dataclass(frozen=True, slots=True)
class ExportProgress:
    """What a progress bar shows after each customer: done so far, of `total` when known."""

    done: int
    errors: int
    total: int | None
    rate: float
    throttled: int


@dataclass(frozen=True, slots=True)
class ExportResult:
    """How an export ended: its files (output: where its rows are, OUTPUT or its partial
    name), counts, exit code, and why it stopped early."""

    output: Path
    errors_file: Path | None
    exported: int
    errors: int
    blank_cells: int
    stats: RunStats
    exit_code: int
    stopped: PcbatchError | None


@dataclass(frozen=True, slots=True)
class _Read:
    """One customer's result: its row, or why it could not be read."""

    customer: ListedCustomer
    row: ExportRow | None = None
    status: str = ""
    reply: Reply | None = None
    message: str = ""


async def export_profiles(
    options: RunOptions,
    output: Path,
    env: Mapping[str, str],
    *,
    customers_sheet: Path | None = None,
    overwrite: bool = False,
    on_progress: Callable[[ExportProgress], None] | None = None,
    stop: Stop | None = None,
) -> ExportResult:
    """Export the billing profiles to `output` (xlsx or csv); see the module's rules.

    options: run's options; export uses base_url, cloud, concurrency, rate, max_attempts,
    timeout and sheet (the worksheet of customers_sheet). env: where credentials come from.
    Raises PcbatchError only before anything was sent (exit 2).
    """
    stop = stop or Stop()
    check_output(output, overwrite)
    base_url = resolve_base_url(options.base_url, env, options.cloud)
    chosen = None if customers_sheet is None else read_customer_ids(customers_sheet, options.sheet)
    tokens = provider_from_env(env, options.cloud, base_url)
    await tokens.token()  # refused credentials end here: exit 2, nothing sent
    # An earlier export of this OUTPUT that was killed left its temporary files: removed.
    names = (output.name, errors_path(output).name, partial_path(output).name)
    remove_leftovers(output.parent, names)
    again = "export again to read every customer"
    with stop_on_signals(stop, grace=options.timeout, again=again):
        async with open_calls(options, base_url, tokens, pacer_for(options)) as calls:
            with SheetWriter(output) as sheet, ErrorsWriter(errors_path(output)) as errors:
                export = _Export(calls, base_url, options, stop, sheet, errors, on_progress)
                if chosen is not None:
                    export.total = len(chosen)
                await export.write(_given(chosen) if chosen is not None else export.listed())
                sheet.finished = not export.list_failed and stop.reason is None
    controller = calls.pacer.controller
    stats = RunStats.of(export.tally, controller.rate, controller.minimum)
    if not sheet.finished:
        log.warning(
            "the export did not finish: the %d customers read are in %s, not in %s",
            sheet.rows,
            sheet.written_to(),
            output,
        )
    if stop.reason is not None:
        log.error("%s", stop.reason)
        exit_code = stop.reason.exit_code
    else:
        exit_code = 1 if errors.lines or export.list_failed else 0
    return ExportResult(
        output=sheet.written_to(),
        errors_file=errors.path if errors.lines else None,
        exported=sheet.rows,
        errors=errors.lines,
        blank_cells=export.blank_cells,
        stats=stats,
        exit_code=exit_code,
        stopped=stop.reason,
    )


def read_customer_ids(path: Path, sheet_name: str | None) -> list[str]:
    """The customer ids of a sheet's customer-id column, in its order, each once.

    Other columns are not looked at. Raises InputError naming the row and column of a cell
    that is not a customer id (blank included): nothing is sent then.
    """
    sheet = load_sheet(path, sheet_name, CLEAR_TOKEN)
    header = sheet.columns["customer_id"]
    numbered = [(row.number, row.customer_id) for row in sheet.rows]
    for not_sent in sheet.not_sent:
        customer_id = canonical_guid(not_sent.customer_id)
        if customer_id is None:
            raise InputError(
                f"{path}: row {not_sent.number}, column {header}: {not_sent.customer_id!r} is "
                "not a customer id (a GUID); fix the cell or delete the row"
            )
        numbered.append((not_sent.number, customer_id))
    return list(dict.fromkeys(customer_id for _, customer_id in sorted(numbered)))


async def _given(ids: list[str]) -> AsyncGenerator[ListedCustomer]:
    for customer_id in ids:
        yield ListedCustomer(customer_id, customer_id, "")


class _Export:
    """The state of one export: the call path, the writers, counters, and the run-wide flags.

    Results come back in completion order; `_pending` holds those ahead of the next one to
    write (never more than WINDOW * --concurrency customers are taken ahead of it).
    """

    def __init__(
        self,
        calls: Calls,
        base_url: str,
        options: RunOptions,
        stop: Stop,
        sheet: SheetWriter,
        errors: ErrorsWriter,
        on_progress: Callable[[ExportProgress], None] | None,
    ) -> None:
        self.calls = calls
        self.base_url = base_url
        self.concurrency = options.concurrency
        self.stop = stop
        self.sheet = sheet
        self.errors = errors
        self.on_progress = on_progress
        self.tally = Tally()
        self.list_failed = False
        self.blank_cells = 0
        self.total: int | None = None
        self._taken = 0  # customers taken from the source, numbered from 0
        self._written = 0  # customers written (rows or errors): the next one to write
        self._pending: dict[int, _Read] = {}

    async def listed(self) -> AsyncGenerator[ListedCustomer]:
        """The partner's customers, page after page, until a page has no next link."""
        url, continuation, number = first_page_url(self.base_url), None, 1
        client = self.calls.client
        trail = PageTrail()  # a repeated token or endless pages end the listing
        while not self.stop.is_set:
            reply, decision = await self._call(
                partial(client.list_customers, url, continuation=continuation),
                Call.LIST,
                f"page {number} of the customer list",
            )
            if decision.action is not Action.DONE:
                self.list_failed = True
                log.error(
                    "page %d of the customer list could not be read (%s): the customers after "
                    "it are not in the export",
                    number,
                    describe(reply),
                )
                return
            page = read_page(reply.body, self.base_url, trail)
            for customer in page.customers:
                yield customer
            if page.problem is not None:
                self.list_failed = True
                log.error(
                    "customer list, page %d: %s; the listing stops there", number, page.problem
                )
            if page.next is None:
                return
            url, continuation, number = page.next.url, page.next.continuation, number + 1

    async def write(self, source: AsyncGenerator[ListedCustomer]) -> None:
        """Read every customer's profile through the pool, writing in the customers' order."""
        try:
            await work_through(
                self._numbered(source),
                self._perform,
                pacer=self.calls.pacer,
                stop=self.stop,
                workers=self.concurrency,
                not_started=self._not_started,
                customer_of=lambda item: item[1].customer_id,
                may_start=lambda: self._taken - self._written < WINDOW * self.concurrency,
            )
        finally:
            await source.aclose()

    async def _numbered(
        self, source: AsyncIterator[ListedCustomer]
    ) -> AsyncGenerator[tuple[int, ListedCustomer]]:
        async for customer in source:
            number, self._taken = self._taken, self._taken + 1
            yield number, customer

    async def _perform(self, item: tuple[int, ListedCustomer]) -> None:
        number, customer = item
        try:
            result = await self._read(customer)
        except asyncio.CancelledError:
            self._ended(
                number, _Read(customer, status="skipped", message="not read: stopped at once")
            )
            raise
        self._ended(number, result)

    def _not_started(self, item: tuple[int, ListedCustomer]) -> None:
        number, customer = item
        why = f"not read: {self.stop.reason}"
        self._ended(number, _Read(customer, status="skipped", message=why))

    def _ended(self, number: int, result: _Read) -> None:
        """Keep the result; write every result now next in order."""
        self._pending[number] = result
        while self._written in self._pending:
            self._land(self._pending.pop(self._written))
            self._written += 1
            if self.on_progress is not None:
                progress = ExportProgress(
                    self._written,
                    self.errors.lines,
                    self.total,
                    self.calls.pacer.rate,
                    self.tally.throttled,
                )
                self.on_progress(progress)

    def _land(self, result: _Read) -> None:
        sheet, errors = self.sheet, self.errors
        customer = result.customer
        if result.row is not None:
            sheet.append(result.row.cells)
            for header, why in result.row.left_blank:
                self.blank_cells += 1
                # Which cell and why, never the value: addresses stay out of logs.
                log.warning(
                    "customer %s: %s left blank (keeps the value on a run): %s",
                    customer.customer_id,
                    header,
                    why,
                )
            return
        reply = result.reply
        errors.append(
            customer.customer_id or customer.raw_id,
            customer.company,
            result.status,
            reply.status if reply is not None and reply.status else None,
            reply.error_code if reply is not None else None,
            result.message,
        )
        log.warning(
            "customer %s: not exported: %s", customer.customer_id or customer.raw_id, result.message
        )

    async def _read(self, customer: ListedCustomer) -> _Read:
        """One customer's billing profile as its row, or why it could not be read."""
        customer_id = customer.customer_id
        if customer_id is None:
            return _Read(
                customer,
                status="rejected",
                message=f"the customer list gave {customer.raw_id!r}, which is not a customer id",
            )
        reply, decision = await self._call(
            partial(self.calls.client.get_profile, customer_id),
            Call.GET,
            f"billing profile of {customer_id}",
            customer_id=customer_id,
        )
        if decision.action is Action.DONE:
            return _Read(customer, row=export_row(customer_id, reply.body))
        status = decision.status.value if decision.status is not None else "failed"
        return _Read(customer, status=status, reply=reply, message=describe(reply))

    async def _call(
        self,
        send: Callable[[str], Awaitable[Reply]],
        call: Call,
        what: str,
        *,
        customer_id: str | None = None,
    ) -> tuple[Reply, Decision]:
        """One GET through the one call path; sets the Stop when the credentials are refused."""
        answered = await self.calls.send(
            send, call, label=what, on_try=self._count, customer_id=customer_id
        )
        reply, decision = answered.reply, answered.decision
        # A credential-wide 403 before anything succeeded (REFUSED) is on the customer list
        # itself: the credentials, not one customer.
        if decision.action is Action.ABORT or decision.action is Action.REFUSED:
            self.stop.set(
                AuthFailed(
                    f"Partner Center refused the credentials ({what}: {describe(reply)}); "
                    "check that the token is valid and issued for "
                    "https://api.partnercenter.microsoft.com, and that the app or user has "
                    "Partner Center permissions (e.g. the Admin agent role)"
                )
            )
        return reply, decision

    def _count(self, reply: Reply, decision: Decision) -> None:
        self.tally += tally_of(reply, decision)
