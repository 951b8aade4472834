"""SIGINT and SIGTERM during a run: stop starting customers, then, if need be, stop at once.

Rules (README.md, "Durable runs: journal, resume, lock, stops"; exit code 130 in "Progress,
statuses and exit codes"):

- The first SIGINT or SIGTERM sets the run's Stop (Interrupted, exit 130): no customer is
  started any more, the ones in flight finish, every row not started ends `skipped`, and the
  report is written.
- Customers in flight get `grace` seconds (--timeout) to finish; then, or at a second signal,
  the pool stops at once (Stop.now): they are cancelled and end `skipped` with a note that a
  PUT may have been sent. The journal stays consistent either way, and --resume re-reads them.
- The handlers are installed on the running event loop for the block only; the previous ones
  are put back after it. Where signals cannot be handled (not the main thread), nothing is
  installed. Where the loop cannot take them (Windows), plain signal handlers hand the signal
  over to the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

from batch.core.errors import Interrupted
from batch.core.stops import Stop

log = logging.getLogger(__name__)

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Interrupts:
    """Counts the signals of one run and acts on the Stop."""

    def __init__(
        self, stop: Stop, grace: float, loop: asyncio.AbstractEventLoop, again: str
    ) -> None:
        self.again = again
        self.stop = stop
        self.grace = grace
        self.loop = loop
        self.count = 0
        self.timer: asyncio.TimerHandle | None = None

    def __call__(self, signum: int) -> None:
        self.count += 1
        name = signal.Signals(signum).name
        if self.count == 1:
            log.warning(
                "%s: starting no more customers; the ones in flight get %g s to finish (send "
                "%s again to stop at once)",
                name,
                self.grace,
                name,
            )
            self.stop.set(
                Interrupted(
                    f"interrupted by {name}: no customer was started after it and the rest "
                    f"were skipped; {self.again}"
                )
            )
            grace = f"--timeout of {self.grace:g} s over"
            self.timer = self.loop.call_later(self.grace, self._at_once, grace)
        else:
            self._at_once(f"a second {name}")

    def _at_once(self, why: str) -> None:
        log.warning("%s: stopping at once; the customers in flight end `skipped`", why)
        self.stop.now(
            Interrupted(
                f"interrupted and stopped at once ({why}): the customers in flight were cut "
                f"short; {self.again}"
            )
        )

    def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()


@contextlib.contextmanager
def stop_on_signals(
    stop: Stop, grace: float, again: str = "rerun with --resume to continue"
) -> Iterator[None]:
    """While in the block, SIGINT/SIGTERM stop the run through `stop` (see the module's rules).

    grace: seconds the customers in flight get after the first signal (the run's --timeout).
    again: what the stop message says to do next (a command that exists for the caller).
    Call it from a coroutine running on the event loop of the run.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()
    interrupts = _Interrupts(stop, grace, loop, again)
    restore: list[Callable[[], None]] = []
    try:
        for sig in SIGNALS:
            restore.append(_install(loop, sig, interrupts))
        yield
    finally:
        interrupts.close()
        for undo in reversed(restore):
            undo()


def _install(
    loop: asyncio.AbstractEventLoop, sig: signal.Signals, handler: Callable[[int], None]
) -> Callable[[], None]:
    """Route `sig` to handler(sig) on the loop; returns what puts the previous handler back."""
    previous = signal.getsignal(sig)
    try:
        loop.add_signal_handler(sig, handler, sig)
    except NotImplementedError:  # pragma: no cover - Windows' event loops

        def on_signal(signum: int, frame: Any) -> None:
            loop.call_soon_threadsafe(handler, signum)

        signal.signal(sig, on_signal)
        return lambda: signal.signal(sig, previous or signal.SIG_DFL)

    def undo() -> None:
        loop.remove_signal_handler(sig)
        # remove_signal_handler leaves the default action; the previous one may be another
        # (asyncio.run's own SIGINT handler, for one). None: it was not set from Python.
        if previous is not None:
            signal.signal(sig, previous)

    return undo
