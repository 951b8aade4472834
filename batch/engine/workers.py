"""The one pool of workers, for `run` (pool.py) and `export` alike: items in, the window's worth
in flight, one Stop.

    await work_through(items, perform, pacer=pacer, stop=stop, workers=options.concurrency,
                       not_started=skip)

- `workers` tasks take items in turn; a worker starts one only while fewer than the Pacer's
  window are in flight (a customer waiting its own Retry-After, pacing.Pacer.waiting_alone,
  takes no room meanwhile) and `may_start()` agrees (the export's read-ahead); it waits for room
  on an event set whenever an item ends or the window changes.
- `perform(item)` does the item and hands its result on itself; it is cancelled by Stop.now (a
  second signal), and then owes its item an outcome before the cancel goes on.
- Once the Stop is set (or --max-duration reached, measured on the Pacer's clock) no item
  starts: a list's items each go to `not_started`, and after a cancel those left too; an
  asynchronous source (the export's customer list) is not read further.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TypeVar

from batch.core.stops import Stop, max_duration_reached
from batch.engine.pacing import Pacer

T = TypeVar("T")


async def work_through(
    items: Iterator[T] | AsyncIterator[T],
    perform: Callable[[T], Awaitable[None]],
    *,
    pacer: Pacer,
    stop: Stop,
    workers: int,
    not_started: Callable[[T], None],
    customer_of: Callable[[T], str | None] = lambda _: None,
    may_start: Callable[[], bool] | None = None,
    max_duration: float | None = None,
) -> None:
    """Perform every item (see the module's rules); returns when all have ended."""
    listing = isinstance(items, AsyncIterator)
    in_flight: dict[object, str | None] = {}  # one key per item in flight -> its customer
    room = asyncio.Event()
    taking = asyncio.Lock()  # an async generator serves one worker at a time
    clock = pacer.clock
    started = clock.now()

    def busy() -> int:  # items in flight that take room in the window
        return sum(c is None or not pacer.waiting_alone(c) for c in in_flight.values())

    def full() -> bool:
        return busy() >= pacer.window.size or (may_start is not None and not may_start())

    async def take() -> T | None:
        if not listing:
            assert isinstance(items, Iterator)
            return next(items, None)
        assert isinstance(items, AsyncIterator)
        async with taking:
            return await anext(items, None)

    async def worker() -> None:
        while True:
            while full() and not stop.is_set:
                room.clear()
                await room.wait()
            if stop.is_set and listing:
                return
            item = await take()
            if item is None:
                return
            reached = max_duration_reached(clock.now() - started, max_duration)
            if reached is not None:
                stop.set(reached)
            if stop.is_set:
                not_started(item)
                continue
            key = object()
            in_flight[key] = customer_of(item)
            try:
                await perform(item)
            finally:
                del in_flight[key]
                room.set()

    pacer.attach(busy, room.set)
    tasks: list[asyncio.Task[None]] = []

    def cancel() -> None:
        for task in tasks:
            task.cancel()  # a cancelled task ends alone: a TaskGroup lets the others run on

    stop.cancel = cancel
    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(max(workers, 1)):
                tasks.append(group.create_task(worker()))
    finally:
        stop.cancel = None
    if not listing:
        assert isinstance(items, Iterator)
        for item in items:  # left by workers cancelled by Stop.now
            not_started(item)
